//! A child process's output, read as it comes on a thread of its own and passed on to ours by
//! whole lines on another, its end kept for what we say about the child's end.
//!
//! QEMU writes a firmware's semihosting prints (`hprintln!` to its stdout, `heprintln!` to its
//! stderr) from the guest's CPU thread. A pipe read only after QEMU had ended filled at 64 KiB, and
//! QEMU, the guest with it, waited on it: a firmware printing much stopped, and the recording with
//! it. Passed on by whole lines, QEMU's output and `record`'s own messages on the same stderr do
//! not cut into each other's lines (a semihosting print comes in pieces, one per formatted part).
//!
//! Reading and passing on are two threads so that a stderr that does not take what it is given
//! (a pager not read on) neither stalls the child nor hides its end: what it said last is kept as
//! it is read, and what stderr cannot take beyond [`HELD_AT_MOST`] is counted and said.

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How much of a line is held back waiting for its end: a child writing without newlines is
/// passed on in pieces of this size.
const LONGEST_LINE: usize = 4 << 10;

/// How much output read is held for a stderr that has not taken it yet; what comes beyond it is
/// left out and counted, the count said in its place once stderr takes again.
const HELD_AT_MOST: usize = 1 << 20;

/// The longest [`OutputTap::finish`] waits, however the tap moves (a child's child writing on
/// without end to the pipe it inherited).
const FINISH_AT_MOST: Duration = Duration::from_secs(30);

/// Where a tap passes a child's output on to: a writer, on which the tap also says what it left
/// out, in a line of its own.
pub trait TapOutput: Write {
    /// Writes `line`, a whole line of the tap's own, on a row of its own. `childs_line_open`: the
    /// child's last piece written did not end its line. Ours (`stdout::ChildStderr`) knows
    /// better: a line of `record`'s written since has already put the cursor on a row of its own.
    fn own_line(&mut self, line: &str, childs_line_open: bool) -> std::io::Result<()> {
        match childs_line_open {
            true => self.write_all(format!("\n{line}").as_bytes()),
            false => self.write_all(line.as_bytes()),
        }
    }
}

impl TapOutput for crate::stdout::ChildStderr {
    fn own_line(&mut self, line: &str, _: bool) -> std::io::Result<()> {
        crate::stdout::err(format_args!("{line}"));
        Ok(())
    }
}

/// The reading of a child's output and its passing on, each on a thread of its own.
pub struct OutputTap {
    shared: Arc<Shared>,
}

/// What a finished tap leaves.
pub struct TapEnd {
    /// The last bytes the child wrote (all of them read, when the child has ended).
    pub kept: String,
    /// Bytes read and neither passed on nor said to be left out when the tap was given up, and
    /// not being written either.
    pub not_passed_on: u64,
    /// Bytes being written when the tap was given up: what becomes of them is up to the writer
    /// (a stderr not read) and the time left before our process ends.
    pub being_written: u64,
}

/// What the reading and the passing-on threads share with the tap.
struct Shared {
    state: Mutex<TapState>,
    /// Notified at each move of either thread.
    moved: Condvar,
    keep: usize,
    line_start: &'static [u8],
}

/// Where the reading and the passing on are.
#[derive(Default)]
struct TapState {
    /// The last bytes read: at most twice `keep`, trimmed to `keep` when they reach it, so that
    /// each byte is moved once.
    end: Vec<u8>,
    /// Whole lines read and not yet passed on, one entry per read.
    lines: VecDeque<Vec<u8>>,
    /// The bytes in `lines` and in those taken from it not yet written.
    held: usize,
    /// Bytes read and left out since stderr last took lines, their count not yet said.
    left_out: u64,
    /// The child's end of the pipe is closed: nothing more comes.
    read_all: bool,
    /// Everything read has been passed on (or left out and said).
    passed_on_all: bool,
    /// Reads and writes made so far: a tap still moving is waited for.
    moves: u64,
    /// Bytes read so far.
    read: u64,
    /// Bytes read and passed on, or left out and said to be.
    passed_on: u64,
    /// Bytes read that the write under way passes on.
    being_written: u64,
    /// [`OutputTap::finish`] waited no longer: the passing on stops after the write it is in,
    /// so that what it said was not passed on stays true.
    given_up: bool,
}

impl OutputTap {
    /// Starts reading `from`, passing what comes on to `to` (ours: `stdout::ChildStderr`), each
    /// line opening with `line_start` (on a terminal, what erases a progress line the cursor may
    /// be on), and keeping its last `keep` bytes.
    pub fn start(
        from: impl Read + Send + 'static,
        to: impl TapOutput + Send + 'static,
        keep: usize,
        line_start: &'static [u8],
    ) -> Self {
        let shared = Arc::new(Shared {
            state: Mutex::default(),
            moved: Condvar::new(),
            keep,
            line_start,
        });
        let reading = Arc::clone(&shared);
        std::thread::spawn(move || reading.read(from));
        let passing_on = Arc::clone(&shared);
        std::thread::spawn(move || passing_on.pass_on(to));
        OutputTap { shared }
    }

    /// What the child wrote last (the bytes kept), once everything it wrote has been passed on:
    /// its end closes the pipe. Waits as long as the tap moves on (our stderr read slowly), up to
    /// [`FINISH_AT_MOST`], and gives up after `stalled` without a move (a process the child
    /// started holding the pipe open, our stderr not read at all): then it is what was read so
    /// far, the child's last words whenever the child has ended, with the count of what was not
    /// passed on.
    pub fn finish(self, stalled: Duration) -> TapEnd {
        let started = Instant::now();
        let mut state = self.shared.state();
        let (mut moves, mut last_move) = (state.moves, started);
        while !state.passed_on_all {
            let wait = stalled
                .saturating_sub(last_move.elapsed())
                .min(FINISH_AT_MOST.saturating_sub(started.elapsed()));
            if wait.is_zero() {
                break;
            }
            state = match self.shared.moved.wait_timeout(state, wait) {
                Ok((state, _)) => state,
                Err(poisoned) => poisoned.into_inner().0,
            };
            if state.moves != moves {
                (moves, last_move) = (state.moves, Instant::now());
            }
        }
        state.given_up = !state.passed_on_all;
        self.shared.moved.notify_all();
        let end = &state.end[state.end.len().saturating_sub(self.shared.keep)..];
        TapEnd {
            kept: String::from_utf8_lossy(end).into_owned(),
            not_passed_on: state.read - state.passed_on - state.being_written,
            being_written: state.being_written,
        }
    }
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, TapState> {
        // Neither thread panics holding the lock; were one to, what it left is still the best
        // account of the child's output there is.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Reads `from` to its end, keeping its last bytes and holding its whole lines (a line
    /// longer than [`LONGEST_LINE`] in pieces; what is left at the end as it is) for
    /// [`Shared::pass_on`]. Never waits on anything but the child: it must never wait on its pipe.
    fn read(&self, mut from: impl Read) {
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
            pending.extend_from_slice(data);
            let whole = match pending.iter().rposition(|&b| b == b'\n') {
                Some(last) => last + 1,
                None if pending.len() >= LONGEST_LINE => pending.len(),
                None => 0,
            };
            let lines: Vec<u8> = pending.drain(..whole).collect();
            let mut state = self.state();
            state.read += n as u64;
            state.keep_end(data, self.keep);
            state.hold(lines);
            state.moves += 1;
            drop(state);
            self.moved.notify_all();
        }
        let mut state = self.state();
        state.hold(pending);
        state.read_all = true;
        state.moves += 1;
        drop(state);
        self.moved.notify_all();
    }

    /// Writes the lines held to `to` as they come, until everything read has been or the tap is
    /// given up. A failing `to` (our stderr closed) is passed over: the lines are as good as
    /// passed on.
    fn pass_on(&self, mut to: impl TapOutput) {
        let mut at_line_start = true;
        loop {
            let mut state = self.state();
            while state.lines.is_empty()
                && state.left_out == 0
                && !state.read_all
                && !state.given_up
            {
                state = self
                    .moved
                    .wait(state)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
            }
            if state.given_up {
                return;
            }
            if state.lines.is_empty() && state.left_out == 0 {
                state.passed_on_all = true;
                state.moves += 1;
                drop(state);
                self.moved.notify_all();
                return;
            }
            let lines = std::mem::take(&mut state.lines);
            let left_out = std::mem::take(&mut state.left_out);
            drop(state);
            // Still held until written: the lines taken and those read meanwhile are at most
            // [`HELD_AT_MOST`] together.
            for piece in lines {
                if !self.write(&mut to, &mut at_line_start, Passes::Lines(&piece)) {
                    return;
                }
            }
            let passes = Passes::CountOfLeftOut(left_out);
            if left_out > 0 && !self.write(&mut to, &mut at_line_start, passes) {
                return;
            }
        }
    }

    /// One write, so that another thread's line (ours are written whole, stderr locked) does not
    /// land between `line_start` and the line; `line_start` only where a line starts, or it would
    /// erase the start of a long line passed on in pieces. False when the tap was given up:
    /// nothing more is to be written.
    fn write(&self, to: &mut impl TapOutput, at_line_start: &mut bool, passes: Passes) -> bool {
        // The bytes read it accounts for, and those of them it shows: what is left out is not
        // shown whether or not its count is.
        let (accounts_for, shows) = match passes {
            Passes::Lines(lines) => (lines.len() as u64, lines.len()),
            Passes::CountOfLeftOut(left_out) => (left_out, 0),
        };
        let mut state = self.state();
        if state.given_up {
            return false;
        }
        state.being_written = shows as u64;
        drop(state);
        let result = match passes {
            Passes::Lines(lines) if *at_line_start && !self.line_start.is_empty() => {
                to.write_all(&[self.line_start, lines].concat())
            }
            Passes::Lines(lines) => to.write_all(lines),
            Passes::CountOfLeftOut(left_out) => to.own_line(
                &format!(
                    "gotrace: {left_out} bytes of output left out here: stderr did not take \
                     them as fast as they came\n"
                ),
                !*at_line_start,
            ),
        };
        let _ = result.and_then(|()| to.flush());
        *at_line_start = match passes {
            Passes::Lines(lines) => lines.ends_with(b"\n"),
            Passes::CountOfLeftOut(_) => true,
        };
        let mut state = self.state();
        state.moves += 1;
        state.passed_on += accounts_for;
        state.being_written = 0;
        // Lines are held until written: see [`TapState::held`].
        state.held -= shows;
        drop(state);
        self.moved.notify_all();
        true
    }
}

/// What a write passes on of the bytes read.
#[derive(Clone, Copy)]
enum Passes<'a> {
    /// These lines, written as they are.
    Lines(&'a [u8]),
    /// This many bytes left out, by saying so in a line of the tap's own.
    CountOfLeftOut(u64),
}

impl TapState {
    fn keep_end(&mut self, data: &[u8], keep: usize) {
        self.end.extend_from_slice(data);
        if self.end.len() > 2 * keep {
            self.end.drain(..self.end.len() - keep);
        }
    }

    /// Holds `lines` for stderr, or counts them left out when stderr has not taken what is held.
    fn hold(&mut self, lines: Vec<u8>) {
        if lines.is_empty() {
            return;
        }
        match self.left_out == 0 && self.held + lines.len() <= HELD_AT_MOST {
            true => {
                self.held += lines.len();
                self.lines.push_back(lines);
            }
            false => self.left_out += lines.len() as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};
    use std::sync::mpsc;

    impl TapOutput for std::io::Sink {}

    /// A writer that records each write it is given, where a test can see them.
    #[derive(Clone, Default)]
    struct Writes(Arc<Mutex<Vec<Vec<u8>>>>);

    impl TapOutput for Writes {}

    impl Write for Writes {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Writes {
        fn taken(&self) -> Vec<Vec<u8>> {
            self.0.lock().unwrap().clone()
        }
    }

    #[test]
    fn the_count_of_what_was_left_out_opens_no_blank_row_after_a_line_of_ours() {
        use crate::stdout::tests::{stderr_of, writes_here};
        use crate::stdout::{errln, ChildStderr};
        // After a child's line left open, a line of `record`'s had already put the cursor on a
        // row of its own, and the count started another: a blank row showed above it.
        if !writes_here() {
            assert_eq!(
                stderr_of("record::output_tap::tests::the_count_of_what_was_left_out_opens_no_blank_row_after_a_line_of_ours"),
                "a child's line\nthe tap's, after it\nanother child's line\nours\n\
                 the tap's, after ours\n"
            );
            return;
        }
        ChildStderr.write_all(b"a child's line").unwrap();
        ChildStderr.own_line("the tap's, after it\n", true).unwrap();
        ChildStderr.write_all(b"another child's line").unwrap();
        errln!("ours");
        ChildStderr
            .own_line("the tap's, after ours\n", true)
            .unwrap();
    }

    /// A reader giving its pieces one read at a time, as a pipe gives what was written.
    struct Pieces(VecDeque<&'static [u8]>);

    impl Read for Pieces {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let Some(piece) = self.0.pop_front() else {
                return Ok(0);
            };
            buf[..piece.len()].copy_from_slice(piece);
            Ok(piece.len())
        }
    }

    fn pieces(pieces: &[&'static [u8]]) -> Pieces {
        Pieces(pieces.iter().copied().collect())
    }

    /// The writes `pieces` are passed on in, and the last `keep` bytes of them.
    fn passed_on(pieces: Pieces, keep: usize, line_start: &'static [u8]) -> (Vec<Vec<u8>>, String) {
        let writes = Writes::default();
        let end = OutputTap::start(pieces, writes.clone(), keep, line_start)
            .finish(Duration::from_secs(5));
        assert_eq!(end.not_passed_on, 0);
        (writes.taken(), end.kept)
    }

    #[test]
    fn lines_are_passed_on_whole_and_the_end_kept() {
        let (writes, kept) = passed_on(
            pieces(&[b"x = ", b"5\ny", b" = 6\nz = 7\n", b"tail"]),
            9,
            b"",
        );
        assert_eq!(writes, [b"x = 5\n".as_slice(), b"y = 6\nz = 7\n", b"tail"]);
        assert_eq!(kept, " = 7\ntail");
    }

    #[test]
    fn each_line_opens_with_the_line_start_and_only_a_line() {
        // On a terminal, QEMU's lines were glued onto the end of record's progress line; and a
        // line longer than is held back, passed on in pieces, had each piece erased by the next.
        let long: &'static [u8] = vec![b'a'; LONGEST_LINE].leak();
        let (writes, _) = passed_on(
            pieces(&[b"x = ", b"5\n", long, b"b\n", b"y\n"]),
            0,
            b"\r\x1b[2K",
        );
        let long_start = [b"\r\x1b[2K".as_slice(), long].concat();
        assert_eq!(
            writes,
            [
                b"\r\x1b[2Kx = 5\n".as_slice(),
                &long_start,
                b"b\n",
                b"\r\x1b[2Ky\n"
            ]
        );
    }

    #[test]
    fn a_line_without_end_is_passed_on_in_pieces() {
        let text: Vec<u8> = (0..200_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        let chunks = Pieces(text.clone().leak().chunks(4096).collect());
        let (writes, _) = passed_on(chunks, 0, b"");
        assert_eq!(writes.concat(), text);
        assert!(writes.iter().all(|w| w.len() <= LONGEST_LINE + 4096));
    }

    /// A writer taking a millisecond for each write (our stderr read slowly), counting bytes.
    struct Slow(Arc<Mutex<u64>>);

    impl TapOutput for Slow {}

    impl Write for Slow {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            std::thread::sleep(Duration::from_millis(1));
            *self.0.lock().unwrap() += buf.len() as u64;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_tap_passing_on_slowly_is_waited_for_to_the_end() {
        // 1000 lines, a millisecond each: a second of passing on, half the wait for a move. Only
        // a wait for a tap that has stopped moving gives up; an end waited for a second at most
        // lost the output still in the pipe (a review helper's slow reader).
        let lines: &'static [u8] = b"line\n".repeat(1000).leak();
        let mut pieces = Pieces(lines.chunks(5).collect());
        pieces.0.push_back(b"end\n");
        let written = Arc::default();
        let tap = OutputTap::start(pieces, Slow(Arc::clone(&written)), 4, b"");
        assert_eq!(tap.finish(Duration::from_secs(2)).kept, "end\n");
        assert_eq!(*written.lock().unwrap(), 1000 * 5 + 4);
    }

    /// A writer that takes nothing until it is let go (a stderr piped to a pager not read on).
    struct Blocked(Mutex<mpsc::Receiver<()>>, Writes);

    impl TapOutput for Blocked {}

    impl Write for Blocked {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let _ = self.0.lock().unwrap().recv();
            self.1.write(buf)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn blocked() -> (Blocked, Writes, mpsc::Sender<()>) {
        let (let_go, wait) = mpsc::channel();
        let writes = Writes::default();
        (Blocked(Mutex::new(wait), writes.clone()), writes, let_go)
    }

    #[test]
    fn a_stderr_taking_nothing_does_not_hide_the_childs_last_words() {
        // The thread reading the pipe wrote too: stuck in a write, it read nothing more, and
        // "terminating on signal" went unseen (a QEMU told to end taken for the firmware's exit).
        let (to, writes, let_go) = blocked();
        let said: &'static [u8] = b"qemu-system-arm: terminating on signal 15\n";
        let tap = OutputTap::start(pieces(&[b"boot\n", said]), to, said.len(), b"");
        wait_for(|| tap.shared.state().read_all);
        let end = tap.finish(Duration::from_millis(200));
        assert_eq!(end.kept.as_bytes(), said);
        // Given up, nothing was passed on, and that is what it says: the first line being
        // written, unless the writing had not begun. Let go, that write ends and nothing follows
        // it, or more would be shown than it says.
        assert!([0, 5].contains(&end.being_written), "{}", end.being_written);
        assert_eq!(
            end.not_passed_on + end.being_written,
            (b"boot\n".len() + said.len()) as u64
        );
        drop(let_go);
        std::thread::sleep(Duration::from_millis(100));
        assert!(writes.taken().len() <= 1, "{:?}", writes.taken());
    }

    #[test]
    fn output_a_stderr_cannot_take_is_left_out_counted_and_said() {
        let line: &'static [u8] = [[b'x'; 1023].as_slice(), b"\n"].concat().leak();
        let total = 3 * HELD_AT_MOST;
        let (to, writes, let_go) = blocked();
        let tap = OutputTap::start(Pieces(vec![line; total / line.len()].into()), to, 0, b"");
        wait_for(|| tap.shared.state().read_all);
        assert!(tap.shared.state().held <= HELD_AT_MOST);
        drop(let_go);
        assert_eq!(tap.finish(Duration::from_secs(5)).not_passed_on, 0);
        // Lines before each stretch left out, and the count of the stretch after them: how the
        // reading and the passing on met decides how many, not how much in all.
        let (said, lines): (Vec<_>, Vec<_>) = writes
            .taken()
            .into_iter()
            .partition(|w| w.starts_with(b"gotrace: "));
        let left_out: usize = said
            .iter()
            .map(|said| {
                let said = String::from_utf8_lossy(said);
                said.strip_prefix("gotrace: ")
                    .and_then(|s| s.split(' ').next())
                    .and_then(|n| n.parse::<usize>().ok())
                    .unwrap_or_else(|| panic!("not a count of what was left out: {said}"))
            })
            .sum();
        assert!(left_out >= HELD_AT_MOST, "{said:?}");
        assert_eq!(lines.concat().len() + left_out, total);
        assert!(lines.iter().all(|w| w.as_slice() == line));
    }

    /// A reader giving what it is sent, a send a read, until the sender is dropped.
    struct Fed(mpsc::Receiver<Vec<u8>>);

    impl Read for Fed {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let Ok(piece) = self.0.recv() else {
                return Ok(0);
            };
            buf[..piece.len()].copy_from_slice(&piece);
            Ok(piece.len())
        }
    }

    fn wait_for(done: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !done() {
            assert!(Instant::now() < deadline, "waited 20 s");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn what_is_held_for_stderr_is_at_most_its_bound_while_it_writes() {
        // Held was counted from the lines waiting only: while stderr wrote the 1 MiB it had
        // taken, another was held, 2 MiB in all (a review helper's).
        let line = [[b'x'; 1023].as_slice(), b"\n"].concat();
        let (feed, fed) = mpsc::channel();
        let (to, writes, one_write) = blocked();
        let tap = OutputTap::start(Fed(fed), to, 0, b"");
        let feed_lines = |lines: usize| {
            for _ in 0..lines {
                feed.send(line.clone()).unwrap();
            }
        };
        let in_memory = |sent: usize, left_out_taken: u64| {
            let state = tap.shared.state();
            sent as u64 - writes.taken().concat().len() as u64 - state.left_out - left_out_taken
        };
        // The first line being written, stderr taking nothing: 1 MiB held, the rest left out.
        feed_lines(1);
        wait_for(|| tap.shared.state().being_written > 0);
        feed_lines(1100);
        wait_for(|| tap.shared.state().read == 1101 * 1024);
        let left_out_first = tap.shared.state().left_out;
        assert!(left_out_first > 0);
        assert!(in_memory(1101 * 1024, 0) <= HELD_AT_MOST as u64);
        // One write taken, the lines held and the count are taken to be written next: while
        // they are, as much again comes.
        one_write.send(()).unwrap();
        wait_for(|| {
            let state = tap.shared.state();
            state.lines.is_empty() && state.left_out == 0 && state.being_written > 0
        });
        feed_lines(1100);
        wait_for(|| tap.shared.state().read == 2201 * 1024);
        let held = in_memory(2201 * 1024, left_out_first);
        assert!(held <= HELD_AT_MOST as u64, "{held} bytes held");
    }

    #[test]
    fn what_was_left_out_is_not_shown_though_its_count_is_being_written() {
        // Given up while the count was being written, the bytes it counts were said to be
        // "being written" (a review helper's): only the count is.
        let line: &'static [u8] = [[b'x'; 1023].as_slice(), b"\n"].concat().leak();
        let lines = 2 * HELD_AT_MOST / line.len();
        let (to, writes, one_write) = blocked();
        let tap = OutputTap::start(Pieces(vec![line; lines].into()), to, 0, b"");
        wait_for(|| tap.shared.state().read_all);
        let held_lines = HELD_AT_MOST / line.len();
        for _ in 0..held_lines {
            one_write.send(()).unwrap();
        }
        // All lines written, the count (or the first of two) comes next.
        wait_for(|| tap.shared.state().passed_on == HELD_AT_MOST as u64);
        // Into the write of the count, which stderr does not take.
        std::thread::sleep(Duration::from_millis(50));
        let end = tap.finish(Duration::from_millis(100));
        assert_eq!(end.being_written, 0);
        assert_eq!(end.not_passed_on, HELD_AT_MOST as u64);
        assert_eq!(writes.taken().len(), held_lines);
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
        let tap = OutputTap::start(child.stderr.take().unwrap(), std::io::sink(), 100, b"");
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "the child stalled on its stderr");
            std::thread::sleep(Duration::from_millis(10));
        };
        assert_eq!(status.code(), Some(3));
        let text = tap.finish(Duration::from_secs(5)).kept;
        assert!(text.ends_with("xxx\nlast line\n"), "{text:.40}");
        assert_eq!(text.len(), 100);
    }
}
