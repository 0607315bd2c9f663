//! `gotrace events FILE`: the validated event stream, one event per line in Go's
//! `Event.String()` form, the same lines as `go tool trace -d=parsed FILE`.
//!
//! An invalid trace is printed up to the last event before the error, then the error (Go's
//! message plus where it happened) goes to stderr and the exit code is 1. A trace in the format
//! before Go 1.22's is not read (exit 2).

use std::process::ExitCode;

use gotrace_decoder::input::Input;
use gotrace_decoder::Reader;

use crate::input::{in_text, older_format, print_events, FileArgs, Source};

pub fn run(args: FileArgs) -> anyhow::Result<ExitCode> {
    let open = |input: Input<Source>| {
        // A trace given as text names lines in its errors, not offsets of its conversion.
        let lines = input.lines().cloned();
        match Reader::new(input) {
            Err(error) => match error.older_format() {
                Some(minor) => Err(older_format(&args.file, minor)),
                None => Ok(Err(in_text(error, lines.as_ref()))),
            },
            Ok(reader) => Ok(Ok((reader, lines))),
        }
    };
    print_events(
        &args.file,
        open,
        |_| None,
        |(reader, lines)| {
            reader
                .read_event()
                .map_err(|error| in_text(error, lines.as_ref()))
        },
    )
}
