//! `gotrace dump FILE`: the trace in Go's raw text form, one event per line.
//!
//! The event lines are those of `go tool trace -d=wire FILE`, after a `Trace Go1.N` header line
//! that makes the output a text trace which converts back to the same bytes.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use gotrace_decoder::raw::{Event, ReadError, Reader};

use crate::input::{print_events, EventStream};

/// Print the raw events of a trace (binary, text or .test) in Go's text form.
#[derive(clap::Args)]
pub struct Args {
    file: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    print_events(&args.file, Reader::new)
}

impl<R: Read> EventStream for Reader<R> {
    type Event = Event;
    type Error = ReadError;

    fn header(&self) -> Option<String> {
        Some(format!("Trace Go1.{}", self.version().minor()))
    }

    fn next_event(&mut self) -> Result<Option<Event>, ReadError> {
        self.read_event()
    }
}
