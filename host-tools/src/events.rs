//! `gotrace events FILE`: the validated event stream, one event per line in Go's
//! `Event.String()` form, the same lines as `go tool trace -d=parsed FILE`.
//!
//! An invalid trace is printed up to the last event before the error, then the error (Go's
//! message plus where it happened) goes to stderr and the exit code is 1.

use std::process::ExitCode;

use gotrace_decoder::Reader;

use crate::input::{print_events, FileArgs};

pub fn run(args: FileArgs) -> anyhow::Result<ExitCode> {
    print_events(&args.file, Reader::new, |_| None, Reader::read_event)
}
