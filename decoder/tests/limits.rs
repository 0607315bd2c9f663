//! Go's limits at their edges: a trace at each limit is read, one a unit past it is refused with
//! Go's message. The limits are Go's batch payload (64 KiB), string (1 KiB) and stack (128
//! frames), and a generation's one frequency, which may be 0 (Go's checks are of the factor it
//! makes of it, which is then infinite, not 0: only a generation without any is refused). Go's
//! vectors hold none of these edges. Each trace is also compared with Go's parser, which must
//! print the same events and stop with the same error.

mod support;

use gotrace_wire::{EventType as T, MAX_BATCH_SIZE, MAX_EVENT_TRAILER_DATA_SIZE};
use support::{batch_bytes, event, string_entry};

const NO_M: u64 = u64::MAX;
const MAX_FRAMES: u64 = gotrace_wire::MAX_FRAMES_PER_STACK;

/// A Go 1.22 trace of one generation: the strings `strings` (IDs from 1; string 1 names the
/// stack's function and file), an event batch (a running P and goroutine, which create a
/// goroutine with stack 1), a batch of `frequencies` and one stack of `frames` frames.
///
/// The strings come first: Go takes an error reading any later batch for one reading the next
/// generation's first, ends the generation before it, and reports first what the generation
/// lacks without it.
fn trace(frequencies: &[u64], frames: u64, strings: &[Vec<u8>]) -> Vec<u8> {
    let mut out = b"go 1.22 trace\0\0\0".to_vec();
    out.extend(strings_batch(strings));
    let events = [
        event(T::PROC_STATUS.0, &[1, 0, 1]),
        event(T::GO_STATUS.0, &[1, 1, 0, 2]),
        event(T::GO_CREATE.0, &[1, 2, 1, 0]),
    ]
    .concat();
    out.extend(batch_bytes(1, 0, 10, &events));
    let frequencies: Vec<u8> = frequencies
        .iter()
        .flat_map(|&f| event(T::FREQUENCY.0, &[f]))
        .collect();
    out.extend(batch_bytes(1, NO_M, 0, &frequencies));
    let mut stack = vec![frames];
    for frame in 0..frames {
        stack.extend([0x1000 + frame, 1, 1, frame + 1]);
    }
    let stacks = [
        vec![T::STACKS.0],
        event(T::STACK.0, &[&[1][..], &stack].concat()),
    ]
    .concat();
    out.extend(batch_bytes(1, NO_M, 0, &stacks));
    out
}

/// A batch of the strings `strings`, with IDs from 1.
fn strings_batch(strings: &[Vec<u8>]) -> Vec<u8> {
    let mut payload = vec![T::STRINGS.0];
    for (id, string) in (1..).zip(strings) {
        payload.extend(string_entry(id, string));
    }
    batch_bytes(1, NO_M, 0, &payload)
}

/// Strings that fill a strings batch's payload to exactly `size` bytes: as many of the largest
/// strings as fit, then one that takes up the rest.
fn strings_filling(size: usize) -> Vec<Vec<u8>> {
    let largest = MAX_EVENT_TRAILER_DATA_SIZE as usize;
    let mut strings = vec![b"main.main".to_vec()];
    // The batch's header byte, and each string's entry around its bytes.
    let entries = |strings: &[Vec<u8>]| -> usize {
        1 + (1..)
            .zip(strings)
            .map(|(id, s)| string_entry(id, s).len())
            .sum::<usize>()
    };
    while entries(&strings) + string_entry(strings.len() as u64 + 1, &vec![b'x'; largest]).len()
        <= size
    {
        strings.push(vec![b'x'; largest]);
    }
    let left = size - entries(&strings);
    // The last entry takes its bytes, its type and ID (a byte each, with fewer than 128 strings)
    // and its length's varint (one byte or two).
    let id = strings.len() as u64 + 1;
    let last = (0..left)
        .rev()
        .find(|&len| string_entry(id, &vec![b'y'; len]).len() == left)
        .unwrap_or_else(|| panic!("no string fills the last {left} bytes"));
    strings.push(vec![b'y'; last]);
    assert_eq!(entries(&strings), size);
    strings
}

fn main_strings() -> Vec<Vec<u8>> {
    vec![b"main.main".to_vec()]
}

/// Each edge: its name, its trace, and Go's error for it (none: read whole).
fn edges() -> Vec<(&'static str, Vec<u8>, Option<&'static str>)> {
    let frequency = |frequencies: &[u64]| trace(frequencies, 1, &main_strings());
    let string = |len: usize| {
        let strings = [b"main.main".to_vec(), vec![b's'; len]];
        trace(&[15_625_000], 1, &strings)
    };
    let stack = |frames: u64| trace(&[15_625_000], frames, &main_strings());
    let batch = |size: usize| trace(&[15_625_000], 1, &strings_filling(size));
    let (largest_string, largest_batch) = (
        MAX_EVENT_TRAILER_DATA_SIZE as usize,
        MAX_BATCH_SIZE as usize,
    );
    let multiple = Some("found multiple frequency events");
    vec![
        ("frequency", frequency(&[15_625_000]), None),
        ("frequency-0", frequency(&[0]), None),
        (
            "no-frequency",
            frequency(&[]),
            Some("no frequency event found"),
        ),
        // A frequency of 0 is one all the same.
        (
            "frequency-0-then-set",
            frequency(&[0, 15_625_000]),
            multiple,
        ),
        (
            "frequency-set-then-0",
            frequency(&[15_625_000, 0]),
            multiple,
        ),
        ("string-at-limit", string(largest_string), None),
        (
            "string-past-limit",
            string(largest_string + 1),
            Some("invalid string size 1025, maximum is 1024"),
        ),
        ("stack-at-limit", stack(MAX_FRAMES), None),
        (
            "stack-past-limit",
            stack(MAX_FRAMES + 1),
            Some("invalid stack size 129, maximum is 128"),
        ),
        ("batch-at-limit", batch(largest_batch), None),
        (
            "batch-past-limit",
            batch(largest_batch + 1),
            Some("invalid batch size 65537, maximum is 65536"),
        ),
    ]
}

#[test]
fn traces_at_gos_limits_are_read_and_past_them_refused() {
    for (name, trace, expected) in edges() {
        let ours = support::run_ours(&trace).error.map(|e| e.go_message());
        assert_eq!(ours.as_deref(), expected, "{name}");
    }
}

#[test]
fn traces_at_gos_limits_read_as_go_reads_them() {
    let edges: Vec<(&str, Vec<u8>)> = edges()
        .into_iter()
        .map(|(name, trace, _)| (name, trace))
        .collect();
    support::assert_like_go("traces_at_gos_limits_read_as_go_reads_them", &edges);
}

/// An error in a table names the entry it was read at: here the second string, past the limit.
#[test]
fn a_table_error_names_the_entry_it_was_read_at() {
    let strings = [
        b"main.main".to_vec(),
        vec![b's'; MAX_EVENT_TRAILER_DATA_SIZE as usize + 1],
    ];
    let trace = trace(&[15_625_000], 1, &strings);
    let error = support::run_ours(&trace).error.expect("refused");
    let at = error.location().event_offset.expect("an event offset") as usize;
    let entry = string_entry(2, &strings[1]);
    assert_eq!(trace.get(at..at + entry.len()), Some(&entry[..]), "{error}");
}
