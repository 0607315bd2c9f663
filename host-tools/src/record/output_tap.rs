//! A child process's output, read as it comes on a thread of its own and passed on to ours by
//! whole lines, its start kept for what we say about the child's end.
//!
//! QEMU writes a firmware's semihosting prints (`hprintln!` to its stdout, `heprintln!` to its
//! stderr) from the guest's CPU thread. A pipe read only after QEMU had ended filled at 64 KiB, and
//! QEMU, the guest with it, waited on it: a firmware printing much stopped, and the recording with
//! it. Passed on by whole lines, QEMU's output and `record`'s own messages on the same stderr do
//! not cut into each other's lines (a semihosting print comes in pieces, one per formatted part).

use std::io::{ErrorKind, Read, Write};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

/// How much of a line is held back waiting for its end: a child writing without newlines is
/// passed on in pieces of this size.
const LONGEST_LINE: usize = 4 << 10;

/// The reading of one of a child's outputs, on a thread of its own.
pub struct OutputTap {
    kept: Receiver<Vec<u8>>,
    /// What was kept, once received.
    text: Option<String>,
}

impl OutputTap {
    /// Starts reading `from`, passing what comes on to `to` (ours: `std::io::stderr()`) and keeping
    /// its first `keep` bytes.
    pub fn start(
        from: impl Read + Send + 'static,
        mut to: impl Write + Send + 'static,
        keep: usize,
    ) -> Self {
        let (send, kept) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = send.send(pass_on(from, &mut to, keep));
        });
        OutputTap { kept, text: None }
    }

    /// What the child wrote there (the bytes kept), once it has ended: its end closes the pipe.
    /// Waits `time` at most for the rest to be read (a process the child started may hold the pipe
    /// open after it: then what came is not known here, and it is empty).
    pub fn text(&mut self, time: Duration) -> &str {
        if self.text.is_none() {
            let kept = self.kept.recv_timeout(time).unwrap_or_default();
            self.text = Some(String::from_utf8_lossy(&kept).into_owned());
        }
        self.text.as_deref().unwrap_or_default()
    }
}

/// Copies `from` to `to` until its end, by whole lines (a line longer than [`LONGEST_LINE`] in
/// pieces; what is left at the end as it is), keeping the first `keep` bytes. A failing `to` (our
/// stderr closed) does not stop the reading: the child must never wait on its pipe.
fn pass_on(mut from: impl Read, to: &mut impl Write, keep: usize) -> Vec<u8> {
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
        let data = chunk.get(..n).unwrap_or_default();
        let room = keep.saturating_sub(kept.len());
        kept.extend_from_slice(data.get(..room.min(n)).unwrap_or_default());
        pending.extend_from_slice(data);
        let whole = match pending.iter().rposition(|&b| b == b'\n') {
            Some(last) => last + 1,
            None if pending.len() >= LONGEST_LINE => pending.len(),
            None => continue,
        };
        let _ = to.write_all(&pending[..whole]).and_then(|()| to.flush());
        pending.drain(..whole);
    }
    let _ = to.write_all(&pending).and_then(|()| to.flush());
    kept
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

    #[test]
    fn lines_are_passed_on_whole_and_the_start_kept() {
        let pieces = Pieces(vec![b"x = ", b"5\ny", b" = 6\nz = 7\n", b"tail"]);
        let mut to = Writes(Vec::new());
        let kept = pass_on(pieces, &mut to, 6);
        let writes: Vec<&[u8]> = to.0.iter().map(Vec::as_slice).collect();
        assert_eq!(writes, [b"x = 5\n".as_slice(), b"y = 6\nz = 7\n", b"tail"]);
        assert_eq!(kept, b"x = 5\n");
    }

    #[test]
    fn a_line_without_end_is_passed_on_in_pieces() {
        let text: Vec<u8> = (0..200_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        let mut to = Writes(Vec::new());
        pass_on(&text[..], &mut to, 0);
        assert_eq!(to.0.concat(), text);
        assert!(to.0.iter().all(|w| w.len() <= LONGEST_LINE + 4096));
    }

    #[test]
    fn a_child_writing_more_than_a_pipe_holds_is_not_stalled() {
        // 1 MiB on stderr, far beyond the pipe's 64 KiB, then a message and an exit status: the
        // child ends without anyone waiting on it to, and its first line is kept.
        let mut child = Command::new("sh")
            .args([
                "-c",
                "echo first line >&2; head -c 1048576 /dev/zero | tr '\\0' x >&2; exit 3",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut tap = OutputTap::start(child.stderr.take().unwrap(), std::io::sink(), 100);
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "the child stalled on its stderr");
            std::thread::sleep(Duration::from_millis(10));
        };
        assert_eq!(status.code(), Some(3));
        let text = tap.text(Duration::from_secs(5));
        assert!(text.starts_with("first line\nxxx"), "{text:.40}");
        assert_eq!(text.len(), 100);
    }
}
