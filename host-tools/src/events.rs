//! `gotrace events FILE`: the validated event stream, one event per line in Go's
//! `Event.String()` form, the same lines as `go tool trace -d=parsed FILE`.
//!
//! An invalid trace is printed up to the last event before the error, then the error (Go's
//! message plus where it happened) goes to stderr and the exit code is 1. A trace in the format
//! before Go 1.22's is not read (exit 2).

use std::process::ExitCode;

use crate::input::{next_event, print_events, validating_reader, FileArgs};

pub fn run(args: FileArgs) -> anyhow::Result<ExitCode> {
    print_events(
        &args.file,
        |input| validating_reader(&args.file, input),
        |_| None,
        next_event,
    )
}
