//! The reader over what a live recording comes through rather than a file: a pipe fed in small
//! writes, a stream that returns a few bytes at a time and is sometimes interrupted, and a
//! stream that fails (a probe unplugged, a socket reset), whose failure the caller must be able
//! to tell from a trace that is broken or cut short.

mod support;

use std::io::{self, Read, Write};

use gotrace_decoder::{Error, Reader};
use support::{batch_text, tables_text, to_binary, trace_text, Batch};

/// The thread that makes a task in generation 1.
const MAKER: Batch = Batch {
    gen: 1,
    m: 3,
    time: 2,
    events: &[
        "ProcStatus dt=2 p=1 pstatus=1",
        "GoStatus dt=2 g=7 m=3 gstatus=2",
        "GoCreate dt=3 new_g=8 new_stack=0 stack=0",
        "GoStop dt=4 reason_string=0 stack=0",
        "ProcStop dt=1",
    ],
};
/// The thread that runs it, on the P the maker let go of.
const RUNNER: Batch = Batch {
    gen: 1,
    m: 4,
    time: 40,
    events: &["ProcStart dt=1 p=1 p_seq=1", "GoStart dt=2 g=8 g_seq=1"],
};
/// Generation 2: the task ends.
const ENDING: Batch = Batch {
    gen: 2,
    m: 4,
    time: 90,
    events: &["ProcStatus dt=1 p=1 pstatus=1", "GoDestroy dt=5"],
};

/// Two generations of two threads: a task made by one thread and run by the other, over several
/// batches, so that a stream can fail in the file header, a batch header and inside a batch.
fn trace() -> Vec<u8> {
    to_binary(&trace_text(&[MAKER, RUNNER, ENDING]))
}

/// The same trace with generation 1's tables first and the runner's batch before the maker's:
/// a stream that fails in the maker's batch leaves a generation that has its frequency but fails
/// to advance (the runner's P has no status), the verdict Go gives, forgetting the failure.
fn trace_failing_to_advance_where_cut() -> Vec<u8> {
    let text = [
        "Trace Go1.22\n".to_owned(),
        tables_text(1, &[], &[]),
        batch_text(&RUNNER),
        batch_text(&MAKER),
        batch_text(&ENDING),
        tables_text(2, &[], &[]),
    ]
    .concat();
    to_binary(&text)
}

/// Every event's Go form, or the error that ended the trace.
fn read_all(stream: impl Read) -> Result<Vec<String>, Error> {
    let mut reader = Reader::new(stream)?;
    let mut events = Vec::new();
    while let Some(event) = reader.read_event()? {
        events.push(event.to_string());
    }
    Ok(events)
}

/// Hands out one byte per read, and every third read is interrupted instead (a signal).
struct Dribble<'a> {
    bytes: &'a [u8],
    reads: usize,
}

impl Read for Dribble<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reads += 1;
        if self.reads.is_multiple_of(3) {
            return Err(io::ErrorKind::Interrupted.into());
        }
        let n = buf.len().min(1);
        self.bytes.read(&mut buf[..n])
    }
}

#[test]
fn a_trace_dribbled_and_interrupted_reads_as_the_whole_file() {
    let trace = trace();
    let whole = read_all(&trace[..]).expect("the trace is valid");
    assert!(whole.len() > 8, "{whole:?}");
    let dribbled = read_all(Dribble {
        bytes: &trace,
        reads: 0,
    });
    assert_eq!(dribbled.expect("read a byte at a time"), whole);
}

#[test]
fn a_trace_through_a_pipe_in_small_writes_reads_as_the_whole_file() {
    let trace = trace();
    let whole = read_all(&trace[..]).expect("the trace is valid");
    let (pipe_out, mut pipe_in) = io::pipe().expect("a pipe");
    let writer = std::thread::spawn(move || {
        for piece in trace.chunks(5) {
            pipe_in.write_all(piece).expect("writing to the pipe");
        }
    });
    // The reader on a thread of its own, as a recording tool would run it.
    let reader = std::thread::spawn(move || read_all(pipe_out));
    writer.join().expect("the writer");
    let piped = reader.join().expect("the reader");
    assert_eq!(piped.expect("read from the pipe"), whole);
}

/// Gives the first `good` bytes of a trace, then fails as a reset connection does.
struct FailingAfter<'a> {
    bytes: &'a [u8],
    good: usize,
}

impl Read for FailingAfter<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.good == 0 {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "probe unplugged",
            ));
        }
        let n = buf.len().min(self.good);
        let n = self.bytes.read(&mut buf[..n])?;
        self.good -= n;
        Ok(n)
    }
}

/// Wherever the stream fails, in the file header, a batch header or a batch's payload, the
/// error says so through its source: the stream's `io::Error`, kind and all. Go's message is
/// kept (a payload cut short by a failure reads "failed to read full batch", as in Go, and a
/// generation cut short may fail to advance), so the source is what tells a broken connection
/// from a trace that is broken or cut short.
#[test]
fn a_failing_stream_is_the_source_of_the_error_wherever_it_fails() {
    let mut missing = Vec::new();
    let mut failed_to_advance = 0;
    let traces = [trace(), trace_failing_to_advance_where_cut()];
    for trace in &traces {
        for good in 0..trace.len() {
            let error = read_all(FailingAfter { bytes: trace, good })
                .expect_err("the stream fails before its end");
            if error.go_message().contains("failed to advance") {
                failed_to_advance += 1;
            }
            let kind = std::error::Error::source(&error)
                .and_then(|source| source.downcast_ref::<io::Error>())
                .map(io::Error::kind);
            if kind != Some(io::ErrorKind::ConnectionReset) {
                missing.push(format!("after {good} bytes: {error} (source: {kind:?})"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "{} of {} failures lost the stream's error:\n{}",
        missing.len(),
        traces.iter().map(Vec::len).sum::<usize>(),
        missing.join("\n")
    );
    assert!(failed_to_advance > 0, "no cut failed to advance");
}
