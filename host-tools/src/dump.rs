//! `gotrace dump FILE`: the trace in Go's raw text form, one event per line.
//!
//! The event lines are those of `go tool trace -d=wire FILE`, after a `Trace Go1.N` header line
//! that makes the output a text trace which converts back to the same bytes.

use std::process::ExitCode;

use gotrace_decoder::raw::Reader;

use crate::input::{print_events, FileArgs};

pub fn run(args: FileArgs) -> anyhow::Result<ExitCode> {
    print_events(
        &args.file,
        Reader::new,
        |reader| Some(format!("Trace Go1.{}", reader.version().minor())),
        Reader::read_event,
    )
}
