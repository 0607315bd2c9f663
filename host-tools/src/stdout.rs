//! Lines on stdout and stderr that never panic. `println!` panics when stdout fails ("failed
//! printing to stdout: Broken pipe" under `gotrace validate *.trace | head -1`, "No space left on
//! device" into a full disk); in `record` that panic would end the recording and lose its
//! trace. Here the first failure is kept, the lines after it are counted instead of written, and
//! each command decides what the failure means to it: `validate` keeps its verdict's exit code
//! when the reader went away and says "writing to stdout" otherwise, `record` goes on recording
//! and reports what was not shown.

use std::fmt::Arguments;
use std::io::{self, IsTerminal, Write};
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
    // On a terminal the two share the screen: a line longer than stdout's buffer (1 KiB) goes
    // out in several writes, and a line of QEMU's passed on to stderr meanwhile (`ChildStderr`
    // takes stderr's lock) landed between them. Only there: a stderr piped to a reader that does
    // not read would otherwise hold up stdout too.
    let _screen =
        (io::stdout().is_terminal() && io::stderr().is_terminal()).then(|| io::stderr().lock());
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
/// 101), and there is nowhere left to say anything. Ours starts on a row of its own (see
/// [`to_own_row`]).
pub fn err(text: Arguments<'_>) {
    let mut stderr = io::stderr().lock();
    to_own_row(&mut stderr);
    let _ = stderr.write_fmt(text);
}

/// What erases the terminal row the cursor is on and returns it to the row's start: the
/// progress line drawn there, or nothing.
pub const ERASE_ROW: &[u8] = b"\r\x1b[2K";

/// The progress line (see `record::progress`) over the row the cursor is on, unless a child's
/// line on stderr is open: drawn, it would erase the row that line is on. False when not
/// written.
pub fn progress_line(text: Arguments<'_>) -> bool {
    let mut stderr = io::stderr().lock();
    if CHILD_LINE_OPEN.load(Ordering::Relaxed) {
        return false;
    }
    let _ = stderr
        .write_all(ERASE_ROW)
        .and_then(|()| stderr.write_fmt(text))
        .and_then(|()| stderr.flush());
    true
}

/// On a terminal, puts the cursor on a row of its own (see [`to_own_row`]) for lines on stdout
/// to come: they share the screen with stderr.
pub fn make_room_for_stdout() {
    let mut stderr = io::stderr().lock();
    if stderr.is_terminal() {
        to_own_row(&mut stderr);
    }
}

/// Puts the cursor at the start of a row of its own for a line of ours: after a child's line
/// left open, on the next row; on a terminal, over the progress line, erased (at the start of
/// an empty row, the erase does nothing).
fn to_own_row(stderr: &mut io::StderrLock<'_>) {
    let _ = match CURSOR_ON_CHILD_LINE.swap(false, Ordering::Relaxed) {
        true => stderr.write_all(b"\n"),
        false if stderr.is_terminal() => stderr.write_all(ERASE_ROW),
        false => Ok(()),
    };
}

/// The last of a child's output passed on to our stderr left its line open (a line passed on in
/// pieces). Set and read with stderr locked, as is the next.
static CHILD_LINE_OPEN: AtomicBool = AtomicBool::new(false);

/// The cursor is at the end of that open line: none of our lines has been written since.
static CURSOR_ON_CHILD_LINE: AtomicBool = AtomicBool::new(false);

/// Our stderr as a child's output is passed on to it (QEMU's: `record::output_tap`), each write
/// noting whether it left a line open.
pub struct ChildStderr;

impl Write for ChildStderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut stderr = io::stderr().lock();
        let written = stderr.write(buf)?;
        if let Some(&last) = buf.get(..written).and_then(<[u8]>::last) {
            note_child_line(last);
        }
        Ok(written)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        let mut stderr = io::stderr().lock();
        stderr.write_all(buf)?;
        if let Some(&last) = buf.last() {
            note_child_line(last);
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

/// Notes, stderr locked, whether the child's write ending in `last` left its line open.
fn note_child_line(last: u8) {
    let open = last != b'\n';
    CHILD_LINE_OPEN.store(open, Ordering::Relaxed);
    CURSOR_ON_CHILD_LINE.store(open, Ordering::Relaxed);
}

/// `eprintln!` through [`err`]: never panics.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::stdout::err(format_args!("{}\n", format_args!($($arg)*)))
    };
}
pub(crate) use errln;

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::process::Command;

    /// Set in the process [`stderr_of`] starts, where the test writes and the parent asserts.
    const WRITES_HERE: &str = "GOTRACE_TEST_WRITES_HERE";

    /// Whether this process is the one where a test writes to stderr.
    pub(crate) fn writes_here() -> bool {
        std::env::var_os(WRITES_HERE).is_some()
    }

    /// What the test `name` writes to stderr, run again in a process of its own: ours is the
    /// real stderr, which the test harness does not capture (where it would have come between
    /// the harness's lines), and a pipe there, not a terminal.
    pub(crate) fn stderr_of(name: &str) -> String {
        let output = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", name, "--nocapture", "--test-threads=1"])
            .env(WRITES_HERE, "1")
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stderr).unwrap()
    }

    #[test]
    fn a_childs_line_left_open_is_not_drawn_over_nor_written_onto() {
        if !writes_here() {
            assert_eq!(
                stderr_of(
                    "stdout::tests::a_childs_line_left_open_is_not_drawn_over_nor_written_onto"
                ),
                "a child's line, passed on in pieces\nand ours, on a line of its own\n\
                 the rest of the child's line\n\r\x1b[2Ka progress line"
            );
            return;
        }
        let cursor_on_child_line = || CURSOR_ON_CHILD_LINE.load(Ordering::Relaxed);
        ChildStderr
            .write_all(b"a child's line, passed on in pieces")
            .unwrap();
        assert!(cursor_on_child_line());
        assert!(!progress_line(format_args!(
            "a progress line, erasing the child's"
        )));
        errln!("and ours, on a line of its own");
        assert!(!cursor_on_child_line());
        // Its line still open, on a row of its own now: still not drawn over.
        assert!(!progress_line(format_args!(
            "a progress line, erasing the child's"
        )));
        ChildStderr
            .write_all(b"the rest of the child's line\n")
            .unwrap();
        assert!(progress_line(format_args!("a progress line")));
    }
}
