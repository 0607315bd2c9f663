//! `gotrace events FILE`: the validated event stream, one event per line in Go's
//! `Event.String()` form, the same lines as `go tool trace -d=parsed FILE`.
//!
//! An invalid trace is printed up to the last event before the error, then the error (Go's
//! message plus where it happened) goes to stderr and the exit code is 1.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use gotrace_decoder::{Error, Event, Reader};

use crate::input::{print_events, EventStream};

/// Print the validated events of a trace (binary, text or .test), as `go tool trace -d=parsed`.
#[derive(clap::Args)]
pub struct Args {
    file: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    print_events(&args.file, Reader::new)
}

impl<R: Read> EventStream for Reader<R> {
    type Event = Event;
    type Error = Error;

    fn header(&self) -> Option<String> {
        None
    }

    fn next_event(&mut self) -> Result<Option<Event>, Error> {
        self.read_event()
    }
}
