//! Opening a trace file in any of its forms, and printing its events the way `go tool trace -d`
//! does, for every subcommand that reads one.

use std::cell::RefCell;
use std::fmt::Display;
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::rc::Rc;

use crate::stdout::errln;
use anyhow::Context;
use gotrace_decoder::input::{Input, InputError};
use gotrace_decoder::Reader;

/// A trace's bytes: a file, or standard input for the path `-`.
pub type Source = BufReader<Box<dyn Read>>;

/// What opening a file gave: a readable trace, or the reason the file is not one.
pub enum Opened {
    /// The trace, and what will hold the I/O error should a read of it fail later.
    Trace(Input<Source>, ReadFailure),
    /// The file was read but is not a trace in any form (for example text with a bad line).
    NotATrace(InputError),
}

/// Opens `path` (`-`: standard input, as Unix tools read it) and recognises its form. Errors are
/// I/O errors only.
pub fn open(path: &Path) -> anyhow::Result<Opened> {
    let bytes: Box<dyn Read> = if path == Path::new("-") {
        Box::new(io::stdin().lock())
    } else {
        Box::new(File::open(path).map_err(|e| anyhow::anyhow!("opening {}: {e}", path.display()))?)
    };
    let failure = ReadFailure::default();
    let watched = Watched {
        inner: bytes,
        failure: failure.clone(),
    };
    match Input::new(BufReader::new(Box::new(watched) as Box<dyn Read>)) {
        Ok(input) => Ok(Opened::Trace(input, failure)),
        Err(InputError::Io(e)) => Err(anyhow::anyhow!("reading {}: {e}", path.display())),
        Err(e) => Ok(Opened::NotATrace(e)),
    }
}

/// The first I/O error of a trace's reads after it was opened. The decoder reports such an error
/// as the trace does a cut: in the middle of a batch "failed to read full batch", between
/// generations Go's verdict on the generation read so far ("no frequency event found"), where
/// the file was not invalid but could not be read to its end (a socket reset, a disk's EIO):
/// no verdict, exit 2, as for a file that cannot be opened.
#[derive(Clone, Default)]
pub struct ReadFailure(Rc<RefCell<Option<io::Error>>>);

impl ReadFailure {
    /// `reading FILE: ...` when a read of `file` failed.
    pub fn check(&self, file: &Path) -> anyhow::Result<()> {
        match self.0.borrow_mut().take() {
            Some(error) => Err(anyhow::anyhow!("reading {}: {error}", file.display())),
            None => Ok(()),
        }
    }
}

/// A trace's bytes, its first I/O error noted in a [`ReadFailure`].
struct Watched {
    inner: Box<dyn Read>,
    failure: ReadFailure,
}

impl Read for Watched {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf);
        if let Err(error) = &read {
            let mut failure = self.failure.0.borrow_mut();
            // Interrupted is retried by the reader: no failure.
            if error.kind() != io::ErrorKind::Interrupted && failure.is_none() {
                *failure = Some(io::Error::new(error.kind(), error.to_string()));
            }
        }
        read
    }
}

/// The one argument of the subcommands that print a trace's events.
#[derive(clap::Args)]
pub struct FileArgs {
    /// The trace: binary `.trace`, Go's text form, or a Go `.test` file; `-` reads standard
    /// input.
    pub file: PathBuf,
}

/// Why a trace of Go 1.`minor` in the format before Go 1.22's (see
/// [`gotrace_decoder::Error::older_format`]) gets no verdict: an error of the command (exit 2),
/// not of the trace, which Go's parser reads.
pub fn older_format(file: &Path, minor: u32) -> anyhow::Error {
    anyhow::anyhow!(
        "{}: a Go 1.{minor} trace, in the format before Go 1.22's, which gotrace does not read: only the format of Go 1.22 and later (go tool trace reads this one, converting it to the current events)",
        file.display()
    )
}

/// A validating reader of an input, which explains its errors ([`Input::explain`]).
pub type Validating = Reader<Input<Source>>;

/// The validating reader of `file`'s `input`: a trace in the format before Go 1.22's is refused
/// (`Err`); any other error is the trace's (`Ok(Err)`). Only a binary input's header can be
/// refused here: a text input's is written by its conversion.
pub fn validating_reader(
    file: &Path,
    input: Input<Source>,
) -> anyhow::Result<Result<Validating, gotrace_decoder::Error>> {
    match Reader::new(input) {
        Ok(reader) => Ok(Ok(reader)),
        Err(error) => match error.older_format() {
            Some(minor) => Err(older_format(file, minor)),
            None => Ok(Err(error)),
        },
    }
}

/// The next validated event of `reader`, its error explained by its input ([`Input::explain`]:
/// named by line for a text input); at the end, the input finished ([`Input::finish`]: a text's
/// lines after where the reader stopped converted too).
pub fn next_event(
    reader: &mut Validating,
) -> Result<Option<gotrace_decoder::Event>, gotrace_decoder::Error> {
    match reader.read_event() {
        Ok(None) => reader.get_mut().finish().map(|()| None),
        read => read.map_err(|error| reader.get_ref().explain(error)),
    }
}

/// Prints every event of `file` on stdout, one per line, after the stream's `header` line if it
/// has one. As `go tool trace -d` does, a trace that cannot be read to the end is printed up to
/// the failure, then the error goes to stderr: exit 1 (exit 2 when a read failed, see
/// [`ReadFailure`]). One function for every reader (the raw
/// reader, the validating reader): each passes how to open it (an `Err` when the trace is one it
/// cannot judge, an `Ok(Err)` when it is invalid) and how to read its next event.
pub fn print_events<S, E: Line, Error: Display>(
    file: &Path,
    open_stream: impl FnOnce(Input<Source>) -> anyhow::Result<Result<S, Error>>,
    header: impl FnOnce(&S) -> Option<String>,
    mut next_event: impl FnMut(&mut S) -> Result<Option<E>, Error>,
) -> anyhow::Result<ExitCode> {
    let (input, read_failure) = match open(file)? {
        Opened::Trace(input, failure) => (input, failure),
        Opened::NotATrace(error) => {
            errln!("{}: {error}", file.display());
            return Ok(ExitCode::FAILURE);
        }
    };
    let invalid = |error: &dyn Display| {
        // A read that failed is why the trace looked cut: no verdict.
        read_failure.check(file)?;
        errln!("{}: {error}", file.display());
        Ok(ExitCode::FAILURE)
    };
    let mut stream = match open_stream(input)? {
        Ok(stream) => stream,
        Err(error) => return invalid(&error),
    };
    let failure = with_stdout(|out| {
        if let Some(header) = header(&stream) {
            writeln!(out, "{header}")?;
        }
        loop {
            match next_event(&mut stream) {
                Ok(Some(event)) => event.write_line(out)?,
                Ok(None) => return Ok(None),
                Err(error) => return Ok(Some(error)),
            }
        }
    })
    .context("writing to stdout")?;
    match failure.flatten() {
        Some(error) => invalid(&error),
        None => {
            read_failure.check(file)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// An event as a command prints it: one line (or, with a stack, several).
pub trait Line {
    fn write_line(&self, out: &mut dyn Write) -> io::Result<()>;
}

/// `dump`'s line: the raw event in Go's text form, which quotes every string.
impl Line for gotrace_decoder::raw::Event {
    fn write_line(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "{self}")
    }
}

/// `events`' line: Go's `Event.String()` byte for byte, a stack frame's name not UTF-8 too.
impl Line for gotrace_decoder::Event {
    fn write_line(&self, out: &mut dyn Write) -> io::Result<()> {
        let mut line = Vec::with_capacity(128);
        self.write_go(&mut line);
        line.push(b'\n');
        out.write_all(&line)
    }
}

/// Runs `write` against a buffered stdout; a closed pipe (`gotrace dump | head`) ends the output
/// quietly instead of being an error.
fn with_stdout<T>(write: impl FnOnce(&mut dyn Write) -> io::Result<T>) -> io::Result<Option<T>> {
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let result = write(&mut out).and_then(|t| out.flush().map(|()| t));
    match result {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(None),
        Err(e) => Err(e),
    }
}
