//! Lines on stdout and stderr that never panic. `println!` panics when stdout fails ("failed
//! printing to stdout: Broken pipe" under `gotrace validate *.trace | head -1`, "No space left on
//! device" into a full disk); in `record` that panic would end the recording and lose its
//! trace. Here the first failure is kept, the lines after it are counted instead of written, and
//! each command decides what the failure means to it: `validate` keeps its verdict's exit code
//! when the reader went away and says "writing to stdout" otherwise, `record` goes on recording
//! and reports what was not shown.

use std::fmt::Arguments;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
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
/// 101), and there is nowhere left to say anything. A child's line left open there is ended
/// first, so that ours is not glued onto it.
pub fn err(text: Arguments<'_>) {
    let mut stderr = io::stderr().lock();
    if CHILD_LINE_OPEN.swap(false, Ordering::Relaxed) {
        let _ = stderr.write_all(b"\n");
    }
    let _ = stderr.write_fmt(text);
}

/// The child output passed on to our stderr last left its line open (a line passed on in
/// pieces): set and read with stderr locked.
static CHILD_LINE_OPEN: AtomicBool = AtomicBool::new(false);

/// Whether a child's line on our stderr is still open: the progress line, which erases the
/// screen row it is drawn on, waits for its end.
pub fn child_line_open() -> bool {
    CHILD_LINE_OPEN.load(Ordering::Relaxed)
}

/// Our stderr as a child's output is passed on to it (QEMU's: `record::output_tap`), each write
/// noting whether it left a line open.
pub struct ChildStderr;

impl Write for ChildStderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut stderr = io::stderr().lock();
        let written = stderr.write(buf)?;
        if let Some(&last) = buf.get(..written).and_then(<[u8]>::last) {
            CHILD_LINE_OPEN.store(last != b'\n', Ordering::Relaxed);
        }
        Ok(written)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        let mut stderr = io::stderr().lock();
        stderr.write_all(buf)?;
        if let Some(&last) = buf.last() {
            CHILD_LINE_OPEN.store(last != b'\n', Ordering::Relaxed);
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_line_after_a_childs_line_left_open_starts_on_its_own() {
        // Held (the lock is reentrant): no other test's line comes between.
        let _stderr = io::stderr().lock();
        ChildStderr
            .write_all(b"a child's line, passed on in pieces")
            .unwrap();
        assert!(child_line_open());
        errln!("and ours, on a line of its own");
        assert!(!child_line_open());
        ChildStderr.write_all(b"a child's whole line\n").unwrap();
        assert!(!child_line_open());
    }
}
