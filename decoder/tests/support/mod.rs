//! Shared by the integration tests: Go's vectors, traces written in Go's text form, and running
//! a trace through our reader and through Go's (`go tool trace -d=parsed`).

#![allow(dead_code)] // Each test file uses its own part of this module.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use gotrace_decoder::{raw, Error, Reader};
use gotrace_go_oracle::{Go, Mode, TraceOutput};
use gotrace_wire::varint;

/// Go's conformance vectors of every format version we read (Go 1.22, 1.23, 1.25):
/// (file name, contents).
pub fn vectors(go: &Go) -> Vec<(String, String)> {
    let vectors: Vec<(String, String)> = go
        .conformance_vectors()
        .expect("listing Go's vectors")
        .into_iter()
        .filter_map(|path| {
            let name = path.file_name()?.to_str()?.to_owned();
            let ours = ["go122-", "go123-", "go125-", "go126-"];
            ours.iter().any(|p| name.starts_with(p)).then(|| {
                let text = std::fs::read_to_string(&path).expect("reading a vector");
                (name, text)
            })
        })
        .collect();
    let go122 = vectors
        .iter()
        .filter(|(n, _)| n.starts_with("go122-"))
        .count();
    assert!(go122 >= 20, "expected Go's 20 go122 vectors, found {go122}");
    vectors
}

/// The binary form of a trace in Go's text form.
pub fn to_binary(text: &str) -> Vec<u8> {
    raw::text_to_binary(text.as_bytes()).expect("the text form converts to binary")
}

/// What our reader made of a trace: every event's `Display` on its own line, as
/// `go tool trace -d=parsed` prints them, and the error that ended it, if any.
pub struct Outcome {
    pub printed: String,
    pub error: Option<Error>,
}

pub fn run_ours(bytes: &[u8]) -> Outcome {
    let mut printed = String::new();
    let mut reader = match Reader::new(bytes) {
        Ok(reader) => reader,
        Err(error) => {
            return Outcome {
                printed,
                error: Some(error),
            }
        }
    };
    loop {
        match reader.read_event() {
            Ok(Some(event)) => {
                printed.push_str(&event.to_string());
                printed.push('\n');
            }
            Ok(None) => {
                return Outcome {
                    printed,
                    error: None,
                }
            }
            Err(error) => {
                return Outcome {
                    printed,
                    error: Some(error),
                }
            }
        }
    }
}

/// Runs Go's parser on `bytes` (written to a scratch file named after `name`).
pub fn run_go(go: &Go, name: &str, bytes: &[u8]) -> TraceOutput {
    // A directory of its own for each call: tests run in parallel, and one that removed a
    // shared directory made another's write fail.
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, Ordering::Relaxed);
    let dir: PathBuf = gotrace_go_oracle::scratch_dir().join(format!("go-{call}"));
    std::fs::create_dir_all(&dir).expect("creating a scratch directory");
    let file = dir.join(format!("{name}.trace"));
    std::fs::write(&file, bytes).expect("writing a scratch trace");
    let output = go
        .trace(Mode::Parsed, &file)
        .expect("running go tool trace");
    let _ = std::fs::remove_file(&file);
    let _ = std::fs::remove_dir(&dir);
    output
}

/// Checks that we print exactly Go's events and stop with Go's error (its first line: Go's
/// "failed to advance" dumps list its maps in random order). Returns the number of lines
/// compared, or a description of the first difference.
pub fn compare_with_go(go: &Go, name: &str, bytes: &[u8]) -> Result<usize, String> {
    let ours = run_ours(bytes);
    let theirs = run_go(go, name, bytes);
    if ours.printed != theirs.stdout {
        let line = ours
            .printed
            .lines()
            .zip(theirs.stdout.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| {
                ours.printed
                    .lines()
                    .count()
                    .min(theirs.stdout.lines().count())
            });
        return Err(format!(
            "{name}: events differ from line {}:\n  ours: {:?}\n  Go's: {:?}",
            line + 1,
            ours.printed.lines().nth(line),
            theirs.stdout.lines().nth(line)
        ));
    }
    let first = |s: &str| s.lines().next().unwrap_or_default().to_owned();
    let our_error = ours.error.as_ref().map(|e| first(&e.go_message()));
    let go_error = theirs.error.as_deref().map(first);
    if our_error != go_error {
        return Err(format!(
            "{name}: verdicts differ:\n  ours: {:?}\n  Go's: {:?}",
            ours.error.map(|e| e.to_string()),
            theirs.error
        ));
    }
    Ok(theirs.stdout.lines().count())
}

/// For a test that needs Go: every named trace prints like Go and stops with Go's error.
pub fn assert_like_go(test: &str, traces: &[(&str, Vec<u8>)]) {
    let Some(go) = gotrace_go_oracle::require_go(test) else {
        return;
    };
    let differences: Vec<String> = traces
        .iter()
        .filter_map(|(name, bytes)| compare_with_go(&go, name, bytes).err())
        .collect();
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

/// A trace written by hand in Go's text form, with the verdict Go gives it.
pub struct Case {
    pub name: &'static str,
    pub text: String,
    /// `None`: accepted; `Some(message)`: rejected with exactly this Go message (first line).
    pub error: Option<&'static str>,
}

/// Each case gets its verdict from us: accepted, or rejected with exactly its message.
pub fn assert_verdicts(cases: &[Case]) {
    for case in cases {
        let outcome = run_ours(&to_binary(&case.text));
        let message = outcome
            .error
            .as_ref()
            .map(|e| e.go_message().lines().next().unwrap_or_default().to_owned());
        assert_eq!(
            message.as_deref(),
            case.error,
            "{}: our verdict (full error: {:?})",
            case.name,
            outcome.error.map(|e| e.to_string())
        );
    }
}

/// For a test that needs Go: each case prints like Go and stops with Go's error.
pub fn assert_cases_like_go(test: &str, cases: &[Case]) {
    let traces: Vec<(&str, Vec<u8>)> = cases
        .iter()
        .map(|case| (case.name, to_binary(&case.text)))
        .collect();
    assert_like_go(test, &traces);
}

/// One batch of a trace written by hand: generation, thread, base time and event lines in Go's
/// text form (timed events only; their encoded size is computed).
pub struct Batch<'a> {
    pub gen: u64,
    pub m: i64,
    pub time: u64,
    pub events: &'a [&'a str],
}

/// Generation 1's first batch in many hand-written traces: thread 0 runs goroutine 1 on P 0 and
/// enters a syscall (P sequence 1).
pub const THREAD_0_ENTERS_A_SYSCALL: Batch<'static> = Batch {
    gen: 1,
    m: 0,
    time: 1,
    events: &[
        "ProcStatus dt=1 p=0 pstatus=1",
        "GoStatus dt=1 g=1 m=0 gstatus=2",
        "GoSyscallBegin dt=1 p_seq=1 stack=0",
    ],
};

/// A whole trace in Go's text form from hand-written batches. Each generation gets the
/// frequency (15.625 MHz, 64 ns per tick), stack and string batches it needs, after its own.
pub fn trace_text(batches: &[Batch<'_>]) -> String {
    let mut text = String::from("Trace Go1.22\n");
    let mut gens: Vec<u64> = Vec::new();
    for (i, batch) in batches.iter().enumerate() {
        text.push_str(&batch_text(batch));
        let last_of_gen = batches.get(i + 1).is_none_or(|next| next.gen != batch.gen);
        if last_of_gen && !gens.contains(&batch.gen) {
            gens.push(batch.gen);
            text.push_str(&tables_text(batch.gen, &[], &[]));
        }
    }
    text
}

/// One hand-written batch in Go's text form, its header's size computed.
pub fn batch_text(batch: &Batch<'_>) -> String {
    let size: usize = batch.events.iter().map(|line| encoded_size(line)).sum();
    let mut text = format!(
        "EventBatch gen={} m={} time={} size={size}\n",
        batch.gen, batch.m as u64, batch.time
    );
    for line in batch.events {
        text.push_str(line);
        text.push('\n');
    }
    text
}

/// The frequency (15.625 MHz), stack table and string table of generation `gen`: `strings` are
/// IDs 1, 2, ..., and `stacks` (each one frame: its PC and its function's string ID) are
/// stacks 1, 2, ...
pub fn tables_text(gen: u64, strings: &[&str], stacks: &[(u64, u64)]) -> String {
    let len = varint::encoded_len;
    let (mut string_table, mut string_size) = (String::new(), 1);
    for (id, s) in (1u64..).zip(strings) {
        string_table.push_str(&format!("String id={id}\n\tdata={s:?}\n"));
        string_size += 1 + len(id) + len(s.len() as u64) + s.len();
    }
    let (mut stack_table, mut stack_size) = (String::new(), 1);
    for (id, &(pc, func)) in (1u64..).zip(stacks) {
        stack_table.push_str(&format!(
            "Stack id={id} nframes=1\n\tpc={pc} func={func} file={func} line=1\n"
        ));
        stack_size += 1 + len(id) + len(1) + len(pc) + 2 * len(func) + len(1);
    }
    format!(
        "EventBatch gen={gen} m=18446744073709551615 time=0 size=5\nFrequency freq=15625000\n\
         EventBatch gen={gen} m=18446744073709551615 time=0 size={stack_size}\nStacks\n\
         {stack_table}\
         EventBatch gen={gen} m=18446744073709551615 time=0 size={string_size}\nStrings\n\
         {string_table}"
    )
}

/// The wire size of a timed event line: its type byte and its varint arguments.
fn encoded_size(line: &str) -> usize {
    1 + line
        .split_whitespace()
        .skip(1)
        .map(|arg| {
            let value = arg
                .split_once('=')
                .and_then(|(_, v)| v.parse::<u64>().ok())
                .unwrap_or_else(|| panic!("bad argument {arg:?} in {line:?}"));
            varint::encoded_len(value)
        })
        .sum::<usize>()
}

/// The wire form of one event: its type byte and varint arguments.
pub fn event(typ: u8, args: &[u64]) -> Vec<u8> {
    let mut out = vec![typ];
    for &arg in args {
        let mut buf = [0; varint::MAX_LEN];
        let n = varint::encode(arg, &mut buf);
        out.extend_from_slice(&buf[..n]);
    }
    out
}

/// A string table entry: `String id` and its data.
pub fn string_entry(id: u64, data: &[u8]) -> Vec<u8> {
    let mut out = event(gotrace_wire::EventType::STRING.0, &[id, data.len() as u64]);
    out.extend_from_slice(data);
    out
}

/// A whole batch: `EventBatch gen m time size` and its payload.
pub fn batch_bytes(gen: u64, m: u64, time: u64, payload: &[u8]) -> Vec<u8> {
    let mut out = event(
        gotrace_wire::EventType::EVENT_BATCH.0,
        &[gen, m, time, payload.len() as u64],
    );
    out.extend_from_slice(payload);
    out
}
