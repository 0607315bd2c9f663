//! `gotrace dump FILE`: the trace in Go's raw text form, one event per line.
//!
//! The event lines are those of `go tool trace -d=wire FILE`, after a `Trace Go1.N` header line
//! that makes the output a text trace which converts back to the same bytes (a batch size padded
//! to 10 bytes, as Go's runtime writes it, in its shortest form). A trace in the
//! format before Go 1.22's is not read (exit 2).

use std::process::ExitCode;

use gotrace_decoder::raw::{ReadError, Reader};

use crate::input::{older_format, print_events, FileArgs};

pub fn run(args: FileArgs) -> anyhow::Result<ExitCode> {
    print_events(
        &args.file,
        |input| match Reader::new(input) {
            Err(ReadError::OlderFormat(minor)) => Err(older_format(&args.file, minor)),
            reader => Ok(reader.map_err(anyhow::Error::from)),
        },
        |reader| Some(format!("Trace Go1.{}", reader.version().minor())),
        |reader| match reader.read_event() {
            // A text's lines after where the reader stopped are converted too.
            Ok(None) => reader.get_mut().finish().map(|()| None).map_err(Into::into),
            Ok(event) => Ok(event),
            // A text input's line that does not convert is the error, not the read it stopped.
            Err(error) => Err(match reader.get_ref().conversion_failure() {
                Some(failure) => anyhow::anyhow!(failure),
                None => error.into(),
            }),
        },
    )
}
