//! Valid traces built to make the validating reader keep much more than they cost in bytes:
//! state that outlives its generation (open regions, open tasks), each entry a few bytes of
//! trace naming a string of up to 1 KiB. The name's length must not multiply the state (Go shares
//! a name among the regions and tasks that use it): the same trace with a 1 KiB name needs
//! hardly more heap than with a 1-byte one, and either stays within a small multiple of its size
//! (an entry's few dozen bytes of state against its five to eight bytes of trace, in containers
//! that grow by doubling).

use gotrace_decoder::raw::{Event, Writer};
use gotrace_decoder::Reader;
use gotrace_tests::generate::{ev, write_batch};
use gotrace_tests::heap::{self, CountingAllocator};
use gotrace_wire::{go_status, proc_status, EventType, Version, NO_THREAD};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Held by each test while it builds and reads its traces (see [`assert_names_are_shared`]).
static MEASURING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The name, string 1 of every generation.
const NAME: u64 = 1;

/// `generations` generations of thread 1 running goroutine 1 on P 0, each with `per_generation`
/// of the events `make` gives (told how many it gave before), all of them naming [`NAME`], a
/// string of `name_len` bytes.
fn trace(
    generations: u64,
    per_generation: u64,
    name_len: usize,
    make: impl Fn(u64) -> Event,
) -> Vec<u8> {
    let mut w = Writer::new(Vec::new(), Version::Go122).unwrap();
    let mut made = 0;
    for gen in 1..=generations {
        let time = gen * 1_000_000;
        write_batch(
            &mut w,
            gen,
            NO_THREAD,
            time,
            &[ev(EventType::FREQUENCY, vec![1 << 30])],
        );
        let mut name = ev(EventType::STRING, vec![NAME]);
        name.data = vec![b'n'; name_len];
        write_batch(
            &mut w,
            gen,
            NO_THREAD,
            time,
            &[ev(EventType::STRINGS, vec![]), name],
        );
        let mut batch = vec![
            ev(EventType::PROC_STATUS, vec![1, 0, proc_status::RUNNING]),
            ev(EventType::GO_STATUS, vec![1, 1, 1, go_status::RUNNING]),
        ];
        for _ in 0..per_generation {
            batch.push(make(made));
            made += 1;
            if batch.len() == 8000 {
                write_batch(&mut w, gen, 1, time, &batch);
                batch.clear();
            }
        }
        write_batch(&mut w, gen, 1, time, &batch);
    }
    w.into_inner()
}

/// Reads `input` to its end; returns its events and the heap it needed at most.
fn read(input: &[u8]) -> (usize, usize) {
    let before = heap::live();
    heap::reset_peak();
    let mut reader = Reader::new(input).expect("the header reads");
    let mut events = 0;
    while reader.read_event().expect("the trace is valid").is_some() {
        events += 1;
    }
    (events, heap::peak() - before)
}

/// Reads the trace `trace` makes with a 1-byte name and with a 1 KiB one (the longest a string
/// may be), `events` events besides the `Sync` of each generation, and checks their heap.
fn assert_names_are_shared(what: &str, events: usize, trace: impl Fn(usize) -> Vec<u8>) {
    // The heap is counted for the whole process: a test building or reading its trace beside
    // another's read (the harness runs them in parallel) was counted in that read's peak.
    let _alone = MEASURING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut peaks = Vec::new();
    for name_len in [1, 1 << 10] {
        let input = trace(name_len);
        let (read_events, peak) = read(&input);
        assert!(read_events > events, "{what}: every event is read");
        let budget = (1 << 20) + 32 * input.len();
        assert!(
            peak <= budget,
            "{what}, a name of {name_len} bytes: {} bytes of trace needed {peak} bytes of heap, \
             over the budget of {budget}",
            input.len()
        );
        peaks.push(peak);
    }
    // Each generation's string table holds the name once, and so may the state it leaves.
    let allowed = peaks[0] + (64 << 10);
    assert!(
        peaks[1] <= allowed,
        "{what}: a name of 1 KiB needed {} bytes of heap, of 1 byte {}",
        peaks[1],
        peaks[0]
    );
}

#[test]
fn regions_left_open_across_generations_keep_one_copy_of_their_name() {
    let (generations, regions) = (4, 20_000);
    let events = (generations * (regions + 2)) as usize;
    assert_names_are_shared("open regions", events, |name_len| {
        trace(generations, regions, name_len, |_| {
            ev(EventType::USER_REGION_BEGIN, vec![1, 0, NAME, 0])
        })
    });
}

#[test]
fn tasks_left_open_across_generations_keep_one_copy_of_their_name() {
    let (generations, tasks) = (4, 20_000);
    let events = (generations * (tasks + 2)) as usize;
    assert_names_are_shared("open tasks", events, |name_len| {
        trace(generations, tasks, name_len, |made| {
            ev(EventType::USER_TASK_BEGIN, vec![1, made + 1, 0, NAME, 0])
        })
    });
}
