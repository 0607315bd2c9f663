//! Lines on stdout and stderr that never panic. `println!` panics when stdout fails ("failed
//! printing to stdout: Broken pipe" under `gotrace validate *.trace | head -1`, "No space left on
//! device" into a full disk); in `record` that panic would end the recording and lose its
//! trace. Here the first failure is kept, the lines after it are counted instead of written, and
//! each command decides what the failure means to it: `validate` keeps its verdict's exit code
//! when the reader went away and says "writing to stdout" otherwise, `record` goes on recording
//! and reports what was not shown.

use std::fmt::Arguments;
use std::io::{self, Write};
use std::sync::{Mutex, PoisonError};

/// The first failure of stdout, and how many lines were not written since (that one included).
struct Failed {
    error: io::Error,
    unshown: u64,
}

static FAILED: Mutex<Option<Failed>> = Mutex::new(None);

/// Writes one line on stdout, or counts it when stdout has failed.
pub fn line(text: Arguments<'_>) {
    let mut failed = FAILED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(failed) = failed.as_mut() {
        failed.unshown += 1;
        return;
    }
    let mut out = io::stdout().lock();
    // Flushed at each line as `println!` does (a line-buffered stdout): a log line shows when the
    // firmware writes it.
    if let Err(error) = out
        .write_fmt(format_args!("{text}\n"))
        .and_then(|()| out.flush())
    {
        *failed = Some(Failed { error, unshown: 1 });
    }
}

/// `println!` through [`line()`]: never panics.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::stdout::line(format_args!($($arg)*))
    };
}
pub(crate) use outln;

/// How stdout failed.
pub struct Failure {
    /// The reader closed the pipe (`| head`): it wanted no more.
    pub closed: bool,
    pub error: String,
    /// Lines not shown, the one that failed included.
    pub unshown: u64,
}

/// Whether stdout failed, and how.
pub fn failure() -> Option<Failure> {
    let failed = FAILED.lock().unwrap_or_else(PoisonError::into_inner);
    failed.as_ref().map(|f| Failure {
        closed: f.error.kind() == io::ErrorKind::BrokenPipe,
        error: f.error.to_string(),
        unshown: f.unshown,
    })
}

/// An error when stdout failed other than by its reader closing the pipe (`| head -1` wants no
/// more lines, which is no failure of the command): lines that nobody saw were lost.
pub fn check() -> anyhow::Result<()> {
    match failure() {
        Some(failure) if !failure.closed => anyhow::bail!(
            "writing to stdout: {} (lines not shown: {})",
            failure.error,
            failure.unshown
        ),
        _ => Ok(()),
    }
}

/// Writes to stderr, a failure ignored: `eprintln!` panics when stderr is gone too
/// (`gotrace record ... 2>&1 | head -1` would turn a finished recording's exit 0 into a panic's
/// 101), and there is nowhere left to say anything.
pub fn err(text: Arguments<'_>) {
    let _ = io::stderr().lock().write_fmt(text);
}

/// `eprintln!` through [`err`]: never panics.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::stdout::err(format_args!("{}\n", format_args!($($arg)*)))
    };
}
pub(crate) use errln;

/// `eprint!` through [`err`]: never panics.
macro_rules! errprint {
    ($($arg:tt)*) => {
        $crate::stdout::err(format_args!($($arg)*))
    };
}
pub(crate) use errprint;
