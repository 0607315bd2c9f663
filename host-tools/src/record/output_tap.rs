//! A child process's output, read as it comes on a thread of its own and passed on to ours by
//! whole lines, its end kept for what we say about the child's end.
//!
//! QEMU writes a firmware's semihosting prints (`hprintln!` to its stdout, `heprintln!` to its
//! stderr) from the guest's CPU thread. A pipe read only after QEMU had ended filled at 64 KiB, and
//! QEMU, the guest with it, waited on it: a firmware printing much stopped, and the recording with
//! it. Passed on by whole lines, QEMU's output and `record`'s own messages on the same stderr do
//! not cut into each other's lines (a semihosting print comes in pieces, one per formatted part).

use std::io::{ErrorKind, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

/// How much of a line is held back waiting for its end: a child writing without newlines is
/// passed on in pieces of this size.
const LONGEST_LINE: usize = 4 << 10;

/// The reading of a child's output, on a thread of its own.
pub struct OutputTap {
    done: Receiver<Vec<u8>>,
    /// Reads and writes made so far: a tap still moving is waited for.
    moves: Arc<AtomicU64>,
    /// What was kept, once the tap is done.
    text: Option<String>,
}

impl OutputTap {
    /// Starts reading `from`, passing what comes on to `to` (ours: `std::io::stderr()`), each
    /// write of lines opening with `line_start` (on a terminal, what erases a progress line the
    /// cursor may be on), and keeping its last `keep` bytes.
    pub fn start(
        from: impl Read + Send + 'static,
        mut to: impl Write + Send + 'static,
        keep: usize,
        line_start: &'static [u8],
    ) -> Self {
        let (send, done) = mpsc::channel();
        let moves = Arc::new(AtomicU64::new(0));
        let tap = Tap {
            keep,
            line_start,
            moves: Arc::clone(&moves),
        };
        std::thread::spawn(move || {
            let _ = send.send(tap.pass_on(from, &mut to));
        });
        OutputTap {
            done,
            moves,
            text: None,
        }
    }

    /// What the child wrote last (the bytes kept), once everything it wrote has been passed on:
    /// its end closes the pipe. Waits as long as the tap moves on (our stderr read slowly), and
    /// gives up after `stalled` without a move (a process the child started holding the pipe
    /// open, our stderr not read at all): then what came is not known here, and it is empty.
    pub fn finish(&mut self, stalled: Duration) -> &str {
        if self.text.is_none() {
            let mut moves = self.moves.load(Ordering::Relaxed);
            let kept = loop {
                match self.done.recv_timeout(stalled) {
                    Ok(kept) => break kept,
                    Err(RecvTimeoutError::Timeout) => {
                        let now = self.moves.load(Ordering::Relaxed);
                        if now == moves {
                            break Vec::new();
                        }
                        moves = now;
                    }
                    Err(RecvTimeoutError::Disconnected) => break Vec::new(),
                }
            };
            self.text = Some(String::from_utf8_lossy(&kept).into_owned());
        }
        self.text.as_deref().unwrap_or_default()
    }
}

/// How a tap passes its child's output on.
struct Tap {
    keep: usize,
    line_start: &'static [u8],
    moves: Arc<AtomicU64>,
}

impl Tap {
    /// Copies `from` to `to` until its end, by whole lines (a line longer than [`LONGEST_LINE`]
    /// in pieces; what is left at the end as it is), keeping the last `keep` bytes. A failing
    /// `to` (our stderr closed) does not stop the reading: the child must never wait on its pipe.
    fn pass_on(&self, mut from: impl Read, to: &mut impl Write) -> Vec<u8> {
        let mut kept = Vec::new();
        let mut pending = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = match from.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => break,
            };
            self.moved();
            let data = chunk.get(..n).unwrap_or_default();
            kept.extend_from_slice(data);
            // Trimmed only once it holds twice what is kept, so that each byte is moved once.
            if kept.len() > 2 * self.keep {
                kept.drain(..kept.len() - self.keep);
            }
            pending.extend_from_slice(data);
            let whole = match pending.iter().rposition(|&b| b == b'\n') {
                Some(last) => last + 1,
                None if pending.len() >= LONGEST_LINE => pending.len(),
                None => continue,
            };
            self.write(to, &pending[..whole]);
            pending.drain(..whole);
        }
        if !pending.is_empty() {
            self.write(to, &pending);
        }
        kept.drain(..kept.len().saturating_sub(self.keep));
        kept
    }

    /// One write, so that another thread's line (ours are written whole, stderr locked) does not
    /// land between `line_start` and the lines.
    fn write(&self, to: &mut impl Write, lines: &[u8]) {
        let whole = [self.line_start, lines].concat();
        let _ = to.write_all(&whole).and_then(|()| to.flush());
        self.moved();
    }

    fn moved(&self) {
        self.moves.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};
    use std::time::Instant;

    /// A writer that records each write it is given.
    struct Writes(Vec<Vec<u8>>);

    impl Write for Writes {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A reader giving its pieces one read at a time, as a pipe gives what was written.
    struct Pieces(Vec<&'static [u8]>);

    impl Read for Pieces {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0.is_empty() {
                return Ok(0);
            }
            let piece = self.0.remove(0);
            buf[..piece.len()].copy_from_slice(piece);
            Ok(piece.len())
        }
    }

    fn tap(keep: usize, line_start: &'static [u8]) -> Tap {
        Tap {
            keep,
            line_start,
            moves: Arc::default(),
        }
    }

    #[test]
    fn lines_are_passed_on_whole_and_the_end_kept() {
        let pieces = Pieces(vec![b"x = ", b"5\ny", b" = 6\nz = 7\n", b"tail"]);
        let mut to = Writes(Vec::new());
        let kept = tap(9, b"").pass_on(pieces, &mut to);
        let writes: Vec<&[u8]> = to.0.iter().map(Vec::as_slice).collect();
        assert_eq!(writes, [b"x = 5\n".as_slice(), b"y = 6\nz = 7\n", b"tail"]);
        assert_eq!(kept, b" = 7\ntail");
    }

    #[test]
    fn each_write_of_lines_opens_with_the_line_start() {
        // On a terminal, QEMU's lines were glued onto the end of record's progress line.
        let pieces = Pieces(vec![b"x = ", b"5\n", b"y\n"]);
        let mut to = Writes(Vec::new());
        tap(0, b"\r\x1b[2K").pass_on(pieces, &mut to);
        let writes: Vec<&[u8]> = to.0.iter().map(Vec::as_slice).collect();
        assert_eq!(writes, [b"\r\x1b[2Kx = 5\n".as_slice(), b"\r\x1b[2Ky\n"]);
    }

    #[test]
    fn a_line_without_end_is_passed_on_in_pieces() {
        let text: Vec<u8> = (0..200_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        let mut to = Writes(Vec::new());
        tap(0, b"").pass_on(&text[..], &mut to);
        assert_eq!(to.0.concat(), text);
        assert!(to.0.iter().all(|w| w.len() <= LONGEST_LINE + 4096));
    }

    /// A writer taking a millisecond for each write (our stderr read slowly), counting bytes.
    struct Slow(Arc<AtomicU64>);

    impl Write for Slow {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            std::thread::sleep(Duration::from_millis(1));
            self.0.fetch_add(buf.len() as u64, Ordering::Relaxed);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_tap_passing_on_slowly_is_waited_for_to_the_end() {
        // 1000 lines, a millisecond each: a second of passing on, twenty times the wait for a
        // move. Only a wait for a tap that has stopped moving gives up; an end waited for a
        // second at most lost the output still in the pipe (a review helper's slow reader).
        let lines: &'static [u8] = b"line\n".repeat(1000).leak();
        let mut pieces = Pieces(lines.chunks(5).collect());
        pieces.0.push(b"end\n");
        let written = Arc::new(AtomicU64::new(0));
        let mut tap = OutputTap::start(pieces, Slow(Arc::clone(&written)), 4, b"");
        assert_eq!(tap.finish(Duration::from_millis(50)), "end\n");
        assert_eq!(written.load(Ordering::Relaxed), 1000 * 5 + 4);
    }

    #[test]
    fn a_child_writing_more_than_a_pipe_holds_is_not_stalled() {
        // 1 MiB on stderr, far beyond the pipe's 64 KiB, then a message and an exit status: the
        // child ends without anyone waiting on it to, and its last line is kept.
        let mut child = Command::new("sh")
            .args([
                "-c",
                "head -c 1048576 /dev/zero | tr '\\0' x >&2; printf '\\nlast line\\n' >&2; exit 3",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut tap = OutputTap::start(child.stderr.take().unwrap(), std::io::sink(), 100, b"");
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "the child stalled on its stderr");
            std::thread::sleep(Duration::from_millis(10));
        };
        assert_eq!(status.code(), Some(3));
        let text = tap.finish(Duration::from_secs(5));
        assert!(text.ends_with("xxx\nlast line\n"), "{text:.40}");
        assert_eq!(text.len(), 100);
    }
}
