//! A child process's standard error, passed on to ours as it comes, its start kept for what we
//! say about the child's end.
//!
//! Read only after the child had ended, the pipe fills at 64 KiB and the child stalls in its next
//! write: QEMU writes a firmware's `heprintln!` (semihosting's stderr) to its own, so a firmware
//! printing much there stopped, and the recording with it. Passed on as it comes, what the
//! firmware prints there shows when it prints it, as its `hprintln!` does (QEMU's stdout is ours).

use std::io::{ErrorKind, Read, Write};
use std::process::ChildStderr;
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

/// How much of the start is kept: QEMU's messages about its end (a fatal error's first paragraph,
/// "terminating on signal") with room to spare; the rest is only passed on.
const KEPT: usize = 64 << 10;

/// The reading of one child's stderr, on a thread of its own.
pub struct StderrTap {
    kept: Receiver<Vec<u8>>,
    /// What was kept, once received.
    text: Option<String>,
}

impl StderrTap {
    /// Starts reading `stderr`, passing what comes on to `to` (ours: `std::io::stderr()`).
    pub fn start(stderr: ChildStderr, mut to: impl Write + Send + 'static) -> Self {
        let (send, kept) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = send.send(pass_on(stderr, &mut to));
        });
        StderrTap { kept, text: None }
    }

    /// What the child wrote on its stderr (its first [`KEPT`] bytes), once it has ended: its end
    /// closes the pipe. Waits `time` at most for the rest to be read (a process the child started
    /// may hold the pipe open after it: then what came so far is not known here, and it is empty).
    pub fn text(&mut self, time: Duration) -> &str {
        if self.text.is_none() {
            let kept = self.kept.recv_timeout(time).unwrap_or_default();
            self.text = Some(String::from_utf8_lossy(&kept).into_owned());
        }
        self.text.as_deref().unwrap_or_default()
    }
}

/// Copies `from` to `to` until its end, keeping the first [`KEPT`] bytes. A failing `to` (our
/// stderr closed) does not stop the reading: the child must never wait on its pipe.
fn pass_on(mut from: impl Read, to: &mut impl Write) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = match from.read(&mut chunk) {
            Ok(0) => return kept,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return kept,
        };
        let data = chunk.get(..n).unwrap_or_default();
        let _ = to.write_all(data).and_then(|()| to.flush());
        let room = KEPT.saturating_sub(kept.len());
        kept.extend_from_slice(data.get(..room.min(n)).unwrap_or_default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};
    use std::time::Instant;

    #[test]
    fn everything_is_passed_on_and_the_start_kept() {
        let text: Vec<u8> = (0..200_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        let mut passed = Vec::new();
        let kept = pass_on(&text[..], &mut passed);
        assert_eq!(passed, text);
        assert_eq!(kept, text[..KEPT]);
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
        let mut tap = StderrTap::start(child.stderr.take().unwrap(), std::io::sink());
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
        assert_eq!(text.len(), KEPT);
    }
}
