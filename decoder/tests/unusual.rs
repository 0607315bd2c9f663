//! Traces built byte by byte with what the vectors lack: CPU samples (with equal times and
//! stack 0), experimental events and batches, quoting of odd strings, stacks on transitions, an
//! event naming a stack that does not exist, ranges and a long region name across generations,
//! coroutine switches.
//! Our events must be Go's, byte for byte, and our error Go's.

mod support;

use gotrace_wire::EventType as T;
use support::{batch_bytes, event, string_entry};

const NO_M: u64 = u64::MAX;

fn header(minor: u32) -> Vec<u8> {
    format!("go 1.{minor} trace\0\0\0").into_bytes()
}

/// Frequency, one two-frame stack, and five strings (one with quotes, a control character and
/// a zero-width space, one with invalid UTF-8).
fn tables(gen: u64) -> Vec<u8> {
    let mut out = batch_bytes(gen, NO_M, 0, &event(T::FREQUENCY.0, &[15_625_000]));
    let mut stacks = vec![T::STACKS.0];
    stacks.extend(event(
        T::STACK.0,
        &[1, 2, 0x1234, 1, 2, 10, 0x1235, 3, 2, 11],
    ));
    out.extend(batch_bytes(gen, NO_M, 0, &stacks));
    let mut strings = vec![T::STRINGS.0];
    strings.extend(string_entry(1, b"main.main"));
    strings.extend(string_entry(2, b"/x/main.go"));
    strings.extend(string_entry(3, "héllo \"q\" \x01 \u{200b}".as_bytes()));
    strings.extend(string_entry(4, b"cat"));
    strings.extend(string_entry(5, b"\xff\xfe bad utf8"));
    strings.extend(string_entry(6, LONG_NAME));
    out.extend(batch_bytes(gen, NO_M, 0, &strings));
    out
}

/// A region name longer than the ones kept inline once their generation ends (40 bytes).
const LONG_NAME: &[u8] = b"a region name longer than thirty bytes..";

/// A trace of Go 1.`minor` with one generation: `batches` (each its M, base time and payload),
/// then [`tables`].
fn one_generation(minor: u32, batches: &[(u64, u64, Vec<u8>)]) -> Vec<u8> {
    let mut trace = header(minor);
    for (m, time, payload) in batches {
        trace.extend(batch_bytes(1, *m, *time, payload));
    }
    trace.extend(tables(1));
    trace
}

/// Two generations of goroutine 1 running on P 0, each with its tables: `first` in generation 1,
/// `second` in generation 2.
fn two_generations(first: &[Vec<u8>], second: &[Vec<u8>]) -> Vec<u8> {
    two_generations_with_samples(first, &[], second)
}

/// As [`two_generations`], with CPU samples in the first generation.
fn two_generations_with_samples(
    first: &[Vec<u8>],
    samples: &[Vec<u8>],
    second: &[Vec<u8>],
) -> Vec<u8> {
    let running = [
        event(T::PROC_STATUS.0, &[1, 0, 1]),
        event(T::GO_STATUS.0, &[1, 1, 0, 2]),
    ];
    let mut trace = header(22);
    trace.extend(batch_bytes(
        1,
        0,
        10,
        &[&running[..], first].concat().concat(),
    ));
    if !samples.is_empty() {
        let batch = [vec![T::CPU_SAMPLES.0], samples.concat()].concat();
        trace.extend(batch_bytes(1, NO_M, 0, &batch));
    }
    trace.extend(tables(1));
    trace.extend(batch_bytes(
        2,
        0,
        100,
        &[&running[..], second].concat().concat(),
    ));
    trace.extend(tables(2));
    trace
}

/// A region with a long name begun in one generation and ended in the next: the end's name, a
/// string of the next generation, is compared with the begin's bytes, kept past its generation.
fn long_region_name_across_generations() -> Vec<u8> {
    two_generations(
        &[event(T::USER_REGION_BEGIN.0, &[1, 0, 6, 0])],
        &[event(T::USER_REGION_END.0, &[1, 0, 6, 0])],
    )
}

/// A mark assist stated active twice in the first generation: Go's message gives the range as
/// `{type description}`.
fn active_range_twice_in_first_generation() -> Vec<u8> {
    two_generations(
        &[
            event(T::GC_MARK_ASSIST_ACTIVE.0, &[1, 1]),
            event(T::GC_MARK_ASSIST_ACTIVE.0, &[1, 1]),
        ],
        &[],
    )
}

/// A mark assist stated active in the second generation while only a stop-the-world (its reason
/// string 3) is in flight on the goroutine: Go's message names the range by its begin event and
/// lists the ranges in flight.
fn active_range_missing_in_a_later_generation() -> Vec<u8> {
    two_generations(
        &[event(T::STW_BEGIN.0, &[1, 3, 0])],
        &[event(T::GC_MARK_ASSIST_ACTIVE.0, &[1, 1])],
    )
}

/// Coroutine switches (Go 1.23): goroutine 1, running, hands over to goroutine 2, stated waiting
/// with `next_status`, at sequence number `next_seq`; goroutine 2 hands back to 1, and 1 hands
/// over to 2 again, ending as it does; goroutine 2 then stops, running.
fn coroutine_switches(next_status: u64, next_seq: u64) -> Vec<u8> {
    let events: Vec<Vec<u8>> = vec![
        event(T::PROC_STATUS.0, &[1, 0, 1]),
        event(T::GO_STATUS.0, &[1, 1, 0, 2]),
        event(T::GO_STATUS.0, &[1, 2, NO_M, next_status]),
        event(T::GO_SWITCH.0, &[1, 2, next_seq]),
        event(T::GO_SWITCH.0, &[1, 1, 1]),
        event(T::GO_SWITCH_DESTROY.0, &[1, 2, 2]),
        event(T::GO_STOP.0, &[1, 0, 0]),
    ];
    one_generation(23, &[(0, 10, events.concat())])
}

/// GC cycles and a sweep across a generation boundary: a cycle first seen in the first
/// generation at an arbitrary sequence number (5), active in the next, ended and followed by
/// another; a sweep active in both.
fn gc_across_generations() -> Vec<u8> {
    two_generations(
        &[
            event(T::GC_BEGIN.0, &[1, 5, 0]),
            event(T::GC_SWEEP_ACTIVE.0, &[1, 0]),
        ],
        &[
            event(T::GC_ACTIVE.0, &[1, 6]),
            event(T::GC_SWEEP_ACTIVE.0, &[1, 0]),
            event(T::GC_SWEEP_END.0, &[1, 10, 20]),
            event(T::GC_END.0, &[1, 7]),
            event(T::GC_BEGIN.0, &[1, 8, 0]),
            event(T::GC_END.0, &[1, 9]),
        ],
    )
}

/// A GC cycle begun while one is in progress.
fn gc_begin_while_in_progress() -> Vec<u8> {
    two_generations(
        &[
            event(T::GC_BEGIN.0, &[1, 1, 0]),
            event(T::GC_BEGIN.0, &[1, 2, 0]),
        ],
        &[],
    )
}

/// Goroutine 2, runnable, unblocked in its turn: an unblock waits for the goroutine to wait.
fn unblock_of_a_runnable_goroutine() -> Vec<u8> {
    two_generations(
        &[
            event(T::GO_STATUS.0, &[1, 2, NO_M, 1]),
            event(T::GO_UNBLOCK.0, &[1, 2, 1, 0]),
        ],
        &[],
    )
}

/// Goroutine 1 stops while in a system call: it is not running.
fn stop_in_a_syscall() -> Vec<u8> {
    two_generations(
        &[
            event(T::GO_SYSCALL_BEGIN.0, &[1, 1, 0]),
            event(T::GO_STOP.0, &[1, 0, 0]),
        ],
        &[],
    )
}

/// A CPU sample later than the last of `heap_allocs` events of its generation: read after the
/// threads' events are all merged, before the next generation.
fn cpu_sample_after_the_last_event(heap_allocs: usize) -> Vec<u8> {
    let allocs = vec![event(T::HEAP_ALLOC.0, &[1, 4096]); heap_allocs];
    let sample = event(T::CPU_SAMPLE.0, &[20 + heap_allocs as u64, 0, 0, 1, 1]);
    two_generations_with_samples(&allocs, &[sample], &[])
}

/// Goroutine 1 stated running by two threads: thread 0 ends it, and thread 1, still taking it
/// for its own, then writes `after` as goroutine 1.
fn goroutine_ended_under_another_thread(after: Vec<u8>) -> Vec<u8> {
    let ending: Vec<Vec<u8>> = vec![
        event(T::PROC_STATUS.0, &[1, 0, 1]),
        event(T::GO_STATUS.0, &[1, 1, 0, 2]),
        event(T::GO_DESTROY.0, &[1]),
    ];
    let other: Vec<Vec<u8>> = vec![
        event(T::PROC_STATUS.0, &[1, 1, 1]),
        event(T::GO_STATUS.0, &[1, 1, 1, 2]),
        [&after[..1], &[100], &after[2..]].concat(),
    ];
    one_generation(22, &[(1, 5, other.concat()), (0, 10, ending.concat())])
}

/// A generation whose string table ends in an entry cut short at its batch's end (Go's bare
/// `io.EOF`, which ends the trace for its readers), followed by bytes that are no batch: the
/// error reading them, met while looking for the next generation, is forgotten with it.
fn cut_string_then_garbage() -> Vec<u8> {
    let mut trace = header(22);
    trace.extend(batch_bytes(1, 0, 10, &event(T::PROC_STATUS.0, &[1, 0, 1])));
    trace.extend(batch_bytes(
        1,
        NO_M,
        0,
        &event(T::FREQUENCY.0, &[15_625_000]),
    ));
    trace.extend(batch_bytes(1, NO_M, 0, &[T::STRINGS.0, T::STRING.0, 1]));
    trace.extend([0x55, 0x55, 0x55]);
    trace
}

fn annotated() -> Vec<u8> {
    let events: Vec<Vec<u8>> = vec![
        event(T::PROC_STATUS.0, &[1, 0, 1]),
        event(T::GO_STATUS.0, &[1, 1, 0, 2]),
        event(T::GO_CREATE.0, &[1, 2, 0, 1]),
        event(T::GO_CREATE.0, &[1, 3, 1, 0]),
        event(T::GO_LABEL.0, &[1, 3]),
        event(T::USER_LOG.0, &[1, 0, 4, 5, 1]),
        event(T::STW_BEGIN.0, &[1, 3, 0]),
        event(T::STW_END.0, &[1]),
        event(T::GO_STATUS_STACK.0, &[1, 9, 0, 4, 1]),
        event(T::GO_CREATE_BLOCKED.0, &[1, 10, 1, 0]),
    ];
    let mut samples = vec![T::CPU_SAMPLES.0];
    samples.extend(event(T::CPU_SAMPLE.0, &[12, 0, 0, 1, 1]));
    samples.extend(event(T::CPU_SAMPLE.0, &[13, 0, 0, 0, 0]));
    samples.extend(event(T::CPU_SAMPLE.0, &[13, 5, u64::MAX, 2, 1]));
    one_generation(23, &[(0, 10, events.concat()), (NO_M, 0, samples)])
}

fn experimental(minor: u32) -> Vec<u8> {
    let events: Vec<Vec<u8>> = vec![
        event(T::PROC_STATUS.0, &[1, 0, 1]),
        event(T::GO_STATUS.0, &[1, 1, 0, 2]),
        event(T::SPAN_ALLOC.0, &[1, 5, 3, 2]),
        event(T::HEAP_OBJECT_ALLOC.0, &[1, 77, 9]),
        event(T::GOROUTINE_STACK.0, &[1, 1, 2]),
        event(T::SPAN_FREE.0, &[1, 5]),
    ];
    let mut trace = header(minor);
    trace.extend(batch_bytes(1, 0, 10, &events.concat()));
    trace.extend(tables(1));
    // An experimental batch: raw data that Go hands to users untouched.
    trace.extend([T::EXPERIMENTAL_BATCH.0, 1, 1, 0, 0, 3, 1, 2, 3]);
    trace
}

/// A thread whose fourth event names stack 7, which does not exist, followed by `after`. The
/// table check's failure is held until the end of the merge's step: Go reports it if the step
/// ends well, but not if reading the thread's next event fails first.
fn bad_stack_then(after: &[u8]) -> Vec<u8> {
    let events: Vec<Vec<u8>> = vec![
        event(T::PROC_STATUS.0, &[1, 0, 1]),
        event(T::GO_STATUS.0, &[1, 1, 0, 2]),
        event(T::GO_CREATE.0, &[1, 2, 0, 1]),
        event(T::GO_CREATE.0, &[1, 3, 7, 0]),
        after.to_vec(),
    ];
    one_generation(23, &[(0, 10, events.concat())])
}

/// As [`bad_stack_then`] with a failing step after it, on a thread that runs only because the
/// earliest one waits (its GCEnd's sequence number is ahead): the merge's other path.
fn bad_stack_on_another_thread() -> Vec<u8> {
    let waiting: Vec<Vec<u8>> = vec![
        event(T::PROC_STATUS.0, &[1, 0, 1]),
        event(T::GO_STATUS.0, &[1, 1, 0, 2]),
        event(T::GC_END.0, &[1, 2]),
    ];
    let other: Vec<Vec<u8>> = vec![
        event(T::PROC_STATUS.0, &[1, 1, 1]),
        event(T::GO_STATUS.0, &[1, 2, 1, 2]),
        event(T::GO_CREATE.0, &[1, 3, 7, 0]),
        event(T::GC_END.0, &[1, 1]),
    ];
    one_generation(23, &[(0, 10, waiting.concat()), (1, 20, other.concat())])
}

/// A goroutine in a system call on thread 5 re-stated by thread 0 with its stack, 7, which does
/// not exist (Go 1.23's `GoStatusStack`): validated in thread 5's context, read from thread 0's
/// batch.
fn bad_stack_of_a_goroutine_in_a_syscall_elsewhere() -> Vec<u8> {
    let events: Vec<Vec<u8>> = vec![
        event(T::PROC_STATUS.0, &[1, 0, 1]),
        event(T::GO_STATUS.0, &[1, 1, 0, 2]),
        event(T::GO_STATUS_STACK.0, &[1, 2, 5, 3, 7]),
    ];
    one_generation(23, &[(0, 10, events.concat())])
}

/// Threads 0 and 1 each create a goroutine with stack 7, which does not exist, at the same
/// time: the two events look alike to the search that names the one that failed (same type,
/// time and table IDs), and only the thread it was validated on tells them apart.
fn bad_stack_on_two_threads_at_once() -> Vec<u8> {
    let thread = |p: u64, g: u64, m: u64| -> Vec<u8> {
        [
            event(T::PROC_STATUS.0, &[1, p, 1]),
            event(T::GO_STATUS.0, &[1, g, m, 2]),
            event(T::GO_CREATE.0, &[1, g + 10, 7, 0]),
        ]
        .concat()
    };
    one_generation(23, &[(0, 10, thread(0, 1, 0)), (1, 10, thread(1, 2, 1))])
}

fn traces() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("annotated", annotated()),
        ("experimental-go122", experimental(22)),
        ("experimental-go123", experimental(23)),
        // The next step (a GCEnd while GC's state is undetermined) fails too: Go reports the
        // stack, the earlier step's error.
        (
            "bad-stack-then-bad-step",
            bad_stack_then(&event(T::GC_END.0, &[1, 1])),
        ),
        // The thread's next event is cut short: Go reads it before handing out the event with
        // the bad stack, and reports that.
        (
            "bad-stack-then-cut-event",
            bad_stack_then(&[T::GO_CREATE.0, 1]),
        ),
        ("bad-stack-on-another-thread", bad_stack_on_another_thread()),
        (
            "bad-stack-on-two-threads-at-once",
            bad_stack_on_two_threads_at_once(),
        ),
        (
            "bad-stack-of-a-goroutine-in-a-syscall-elsewhere",
            bad_stack_of_a_goroutine_in_a_syscall_elsewhere(),
        ),
        ("coroutine-switches", coroutine_switches(4, 1)),
        // Go cannot tell these from a switch whose turn is still to come: it fails to advance.
        (
            "coroutine-switch-to-a-runnable-goroutine",
            coroutine_switches(1, 1),
        ),
        ("coroutine-switch-out-of-turn", coroutine_switches(4, 5)),
        ("gc-across-generations", gc_across_generations()),
        ("gc-begin-while-in-progress", gc_begin_while_in_progress()),
        (
            "unblock-of-a-runnable-goroutine",
            unblock_of_a_runnable_goroutine(),
        ),
        ("stop-in-a-syscall", stop_in_a_syscall()),
        ("cut-string-then-garbage", cut_string_then_garbage()),
        (
            "stop-of-a-goroutine-ended-under-another-thread",
            goroutine_ended_under_another_thread(event(T::GO_STOP.0, &[1, 0, 0])),
        ),
        (
            "region-of-a-goroutine-ended-under-another-thread",
            goroutine_ended_under_another_thread(event(T::USER_REGION_BEGIN.0, &[1, 0, 4, 0])),
        ),
        (
            "cpu-sample-after-the-last-event",
            cpu_sample_after_the_last_event(1),
        ),
        (
            "long-region-name-across-generations",
            long_region_name_across_generations(),
        ),
        (
            "active-range-twice-in-first-generation",
            active_range_twice_in_first_generation(),
        ),
        (
            "active-range-missing-in-a-later-generation",
            active_range_missing_in_a_later_generation(),
        ),
    ]
}

/// `location` names the `GoCreate` of stack 7 in `trace` on M `m`: its offset is where its bytes
/// are, and it is named by their raw form.
fn assert_names_bad_create(trace: &[u8], location: &gotrace_decoder::Location, m: i64) {
    let bad = event(T::GO_CREATE.0, &[1, 3, 7, 0]);
    assert_names_event(
        trace,
        location,
        m,
        &bad,
        "GoCreate dt=1 new_g=3 new_stack=7 stack=0",
    );
}

/// The error's location names thread `m`, and the event `raw` (printed as `text`) at its offset.
fn assert_names_event(
    trace: &[u8],
    location: &gotrace_decoder::Location,
    m: i64,
    raw: &[u8],
    text: &str,
) {
    assert_eq!(location.thread, Some(m), "{location:?}");
    let at = location.event_offset.expect("the event's offset") as usize;
    assert_eq!(trace.get(at..at + raw.len()), Some(raw), "{location:?}");
    assert_eq!(location.event.as_deref(), Some(text));
}

#[test]
fn a_table_check_failure_is_reported_after_the_events_before_it() {
    let trace = bad_stack_then(&event(T::GC_END.0, &[1, 1]));
    let ours = support::run_ours(&trace);
    let error = ours.error.expect("the bad stack is an error");
    assert_eq!(
        error.go_message(),
        "found invalid stack ID 7 for event GoCreate"
    );
    // Named by the event that failed, on its thread, at its offset in the file; the events
    // before it are handed out.
    assert_names_bad_create(&trace, error.location(), 0);
    assert!(ours.printed.contains("GoID=2 NotExist"), "{}", ours.printed);
    assert!(!ours.printed.contains("GoID=3"), "{}", ours.printed);
    let trace = bad_stack_on_another_thread();
    let other = support::run_ours(&trace);
    let error = other.error.expect("the bad stack is an error");
    assert_eq!(
        error.go_message(),
        "found invalid stack ID 7 for event GoCreate"
    );
    assert_names_bad_create(&trace, error.location(), 1);
    let cut = support::run_ours(&bad_stack_then(&[T::GO_CREATE.0, 1]));
    let error = cut.error.expect("the cut event is an error");
    assert!(!error.go_message().contains("stack ID"), "{error}");
    assert!(cut.printed.contains("GoID=2 NotExist"), "{}", cut.printed);
    assert!(!cut.printed.contains("GoID=3"), "{}", cut.printed);
}

/// Of two events that fail the same table check at the same time on two threads, the one named
/// is the one that failed, in its own thread's batch: the search for it reads that thread's
/// batches before the others', where a look-alike that was never validated also matches.
#[test]
fn a_table_check_failure_is_named_on_its_own_thread_before_a_look_alike_on_another() {
    let trace = bad_stack_on_two_threads_at_once();
    let error = support::run_ours(&trace)
        .error
        .expect("the bad stack is an error");
    assert_eq!(
        error.go_message(),
        "found invalid stack ID 7 for event GoCreate"
    );
    // Thread 0's, the earlier in the merge's order of two at the same time.
    assert_names_event(
        &trace,
        error.location(),
        0,
        &event(T::GO_CREATE.0, &[1, 11, 7, 0]),
        "GoCreate dt=1 new_g=11 new_stack=7 stack=0",
    );
}

#[test]
fn an_event_validated_in_another_threads_context_is_named_in_its_own_threads_batch() {
    let trace = bad_stack_of_a_goroutine_in_a_syscall_elsewhere();
    let error = support::run_ours(&trace)
        .error
        .expect("the bad stack is an error");
    assert_eq!(
        error.go_message(),
        "found invalid stack ID 7 for event GoStatusStack"
    );
    // Looked for in thread 5's batches only, it was not found, and thread 5 was named, which
    // has no batch.
    assert_names_event(
        &trace,
        error.location(),
        0,
        &event(T::GO_STATUS_STACK.0, &[1, 2, 5, 3, 7]),
        "GoStatusStack dt=1 g=2 m=5 gstatus=3 stack=7",
    );
}

#[test]
fn unusual_events_print_as_go_prints_them() {
    let printed = support::run_ours(&annotated());
    assert!(
        printed.error.is_none(),
        "{:?}",
        printed.error.map(|e| e.to_string())
    );
    for line in [
        r#"M=0 P=0 G=1 Label Time=960 Label="héllo \"q\" \x01 \u200b" Resource=Goroutine(1)"#,
        r#"M=0 P=0 G=1 Log Time=1024 Task=0 Category="cat" Message="\xff\xfe bad utf8""#,
        "M=0 P=0 G=-1 StackSample Time=833\nStack=\n\n",
        "M=5 P=-1 G=2 StackSample Time=834\nStack=\n\tmain.main @ 0x1234\n",
        "GoID=2 NotExist->Runnable Reason=\"\"\nTransitionStack=\n\nStack=\n",
    ] {
        assert!(
            printed.printed.contains(line),
            "missing {line:?} in\n{}",
            printed.printed
        );
    }
    let experimental = support::run_ours(&experimental(23)).printed;
    assert!(experimental.contains(
        "Experimental Time=832 Name=SpanAlloc Args=[id=Value{Uint64(5)}, npages_value=Value{Uint64(3)}, kindclass=Value{Uint64(2)}]"
    ), "{experimental}");
}

/// A CPU sample naming stack 9, which does not exist. Go's table check looks at an argument of
/// the sample that is not its stack (its spec names the stack's position among the wire
/// arguments, the sample event holds the stack first), so Go accepts the trace and then panics
/// printing the stack; we accept it too and print the stack empty (README, "Known differences").
#[test]
fn a_cpu_sample_of_a_missing_stack_is_accepted_with_an_empty_stack() {
    let events = event(T::PROC_STATUS.0, &[1, 0, 1]);
    let mut samples = vec![T::CPU_SAMPLES.0];
    samples.extend(event(T::CPU_SAMPLE.0, &[12, 0, 0, 1, 9]));
    let mut trace = header(23);
    trace.extend(batch_bytes(1, 0, 10, &events));
    trace.extend(batch_bytes(1, NO_M, 0, &samples));
    trace.extend(tables(1));
    let ours = support::run_ours(&trace);
    assert!(
        ours.error.is_none(),
        "{:?}",
        ours.error.map(|e| e.to_string())
    );
    assert!(
        ours.printed
            .contains("M=0 P=0 G=1 StackSample Time=768\nStack=\n\n"),
        "{}",
        ours.printed
    );
}

#[test]
fn unusual_traces_print_like_go() {
    support::assert_like_go("unusual traces against Go", &traces());
}

/// Go reads the header with `fmt.Fscanf`: where its format has a space, any run of Unicode
/// spaces but newline will do (and `%d` skips some before the digits). These were refused as
/// "bad file format" (and by `gotrace events`, taken for text).
#[test]
fn headers_with_other_spaces_are_read_as_go_reads_them() {
    let body = || {
        let mut body = batch_bytes(1, 0, 10, &event(T::PROC_STATUS.0, &[1, 0, 1]));
        body.extend(tables(1));
        body
    };
    let with = |header: &[u8]| [header, &body()].concat();
    let read = [
        &b"go  1.22 trace\0\0\0"[..],
        b"go\t1.22 trace\0\0\0",
        b"go 1. 22\r\x0b trace\0\0\0",
        "go\u{a0}1.23\u{3000}trace\0\0\0".as_bytes(),
    ];
    for header in read {
        let ours = support::run_ours(&with(header));
        assert!(ours.error.is_none(), "{header:?}: {:?}", ours.error);
    }
    let refused = [
        &b"go\n1.22 trace\0\0\0"[..],
        "go 1.22\u{200b}trace\0\0\0".as_bytes(),
    ];
    for header in refused {
        let error = support::run_ours(&with(header))
            .error
            .expect("a bad header");
        assert_eq!(
            error.go_message(),
            "bad file format: not a Go execution trace?"
        );
    }
    let traces: Vec<(&str, Vec<u8>)> = [
        "two-spaces",
        "tab",
        "spaces-around-digits",
        "unicode-spaces",
    ]
    .into_iter()
    .zip(read)
    .chain(["newline", "zero-width-space"].into_iter().zip(refused))
    .map(|(name, header)| (name, with(header)))
    .collect();
    support::assert_like_go("headers with other spaces against Go", &traces);
}

/// The traces of ranges and regions across generations fail, or not, where they were written to.
#[test]
fn ranges_and_regions_across_generations_meet_the_rule_they_test() {
    let verdict = |trace: &[u8]| support::run_ours(trace).error.map(|e| e.go_message());
    let long = support::run_ours(&long_region_name_across_generations());
    assert!(
        long.error.is_none(),
        "{:?}",
        long.error.map(|e| e.to_string())
    );
    assert!(
        long.printed.contains(
            "RegionEnd Time=6592 Task=0 Type=\"a region name longer than thirty bytes..\""
        ),
        "{}",
        long.printed
    );
    assert_eq!(
        verdict(&active_range_twice_in_first_generation()).as_deref(),
        Some("found named active range already in first gen: {35 0}")
    );
    assert_eq!(
        verdict(&active_range_missing_in_a_later_generation()).as_deref(),
        Some("resource is missing active range: GCMarkAssistBegin [{26 3}]")
    );
}

/// Each coroutine switch is a goroutine's block (or end), the next one's start, and the next one
/// runs on; a switch to a goroutine that is not waiting, or out of its turn, cannot advance.
#[test]
fn coroutine_switches_hand_the_thread_over() {
    let valid = support::run_ours(&coroutine_switches(4, 1));
    assert!(
        valid.error.is_none(),
        "{:?}",
        valid.error.map(|e| e.to_string())
    );
    for line in [
        "M=0 P=0 G=1 StateTransition Time=896 GoID=2 Waiting->Runnable Reason=\"\"",
        "M=0 P=0 G=1 StateTransition Time=897 GoID=1 Running->Waiting Reason=\"\"",
        "M=0 P=0 G=-1 StateTransition Time=898 GoID=2 Runnable->Running Reason=\"\"",
        "M=0 P=0 G=1 StateTransition Time=1025 GoID=1 Running->NotExist Reason=\"\"",
        "M=0 P=0 G=2 StateTransition Time=1088 GoID=2 Running->Runnable Reason=\"\"",
    ] {
        assert!(
            valid.printed.contains(line),
            "missing {line:?} in\n{}",
            valid.printed
        );
    }
    for bad in [coroutine_switches(1, 1), coroutine_switches(4, 5)] {
        let error = support::run_ours(&bad).error.map(|e| e.go_message());
        assert!(
            error
                .as_deref()
                .is_some_and(|e| e.starts_with("broken trace: failed to advance")),
            "{error:?}"
        );
    }
    // The state Go prints after "failed to advance" (its maps in random order, ours sorted):
    // each thread's next event, then goroutines, Ps, threads and GC.
    let out_of_turn = support::run_ours(&coroutine_switches(4, 5)).error;
    assert_eq!(
        out_of_turn.map(|e| e.go_message()).as_deref(),
        Some(
            "broken trace: failed to advance: frontier:\n[gen=1]\n\n\
             M 0 [GoSwitch time=896 g=2 g_seq=5]\n\n\
             G 1 [status=Running seq=0 (gen=1)]\nG 2 [status=Waiting seq=0 (gen=1)]\n\n\
             P 0 [status=Running seq=0 (gen=1)]\n\n\
             M 0 [g=1 p=0]\n\n\
             GC 0 Undetermined\n\n"
        )
    );
}

/// GC cycles across generations are followed by their sequence numbers, and a cycle begun during
/// another is refused; a stop of a goroutine that is not running is refused, as are a stop and a
/// region of one ended under another thread that took it for its own; an unblock of a goroutine
/// that is not waiting cannot advance.
#[test]
fn gc_cycles_stops_and_unblocks_follow_their_states() {
    let gc = support::run_ours(&gc_across_generations());
    assert!(gc.error.is_none(), "{:?}", gc.error.map(|e| e.to_string()));
    for line in [
        "M=0 P=0 G=1 RangeBegin Time=832 Name=\"GC concurrent mark phase\" Scope=None",
        "M=0 P=0 G=1 RangeActive Time=896 Name=\"GC incremental sweep\" Scope=Proc(0)",
        "M=0 P=0 G=1 RangeActive Time=6592 Name=\"GC concurrent mark phase\" Scope=None",
        "M=0 P=0 G=1 RangeActive Time=6656 Name=\"GC incremental sweep\" Scope=Proc(0)",
        "M=0 P=0 G=1 RangeEnd Time=6784 Name=\"GC concurrent mark phase\" Scope=None",
        "M=0 P=0 G=1 RangeBegin Time=6848 Name=\"GC concurrent mark phase\" Scope=None",
    ] {
        assert!(
            gc.printed.contains(line),
            "missing {line:?} in\n{}",
            gc.printed
        );
    }
    let verdict = |trace: &[u8]| support::run_ours(trace).error.map(|e| e.go_message());
    assert_eq!(
        verdict(&gc_begin_while_in_progress()).as_deref(),
        Some("encountered GCBegin while GC was already in progress")
    );
    assert_eq!(
        verdict(&stop_in_a_syscall()).as_deref(),
        Some("GoStop event for goroutine that's not Running")
    );
    assert_eq!(
        verdict(&goroutine_ended_under_another_thread(event(
            T::GO_STOP.0,
            &[1, 0, 0]
        )))
        .as_deref(),
        Some("event GoStop for goroutine (1) that doesn't exist")
    );
    assert_eq!(
        verdict(&goroutine_ended_under_another_thread(event(
            T::USER_REGION_BEGIN.0,
            &[1, 0, 4, 0]
        )))
        .as_deref(),
        Some("encountered EvUserRegionBegin without known state for current goroutine 1")
    );
    let unblock = verdict(&unblock_of_a_runnable_goroutine());
    assert!(
        unblock
            .as_deref()
            .is_some_and(|e| e.starts_with("broken trace: failed to advance")),
        "{unblock:?}"
    );
}
/// A CPU sample later than every event of its generation is handed out after them, before the
/// generation's end, however many events come before it: also where the last of them fills the
/// reader's buffer of events validated ahead, so that only the sample is left to read.
#[test]
fn a_cpu_sample_after_the_last_event_is_read() {
    for heap_allocs in 0..300 {
        let printed = support::run_ours(&cpu_sample_after_the_last_event(heap_allocs)).printed;
        let heads: Vec<&str> = printed.lines().filter(|l| l.starts_with("M=")).collect();
        let sample = format!("M=0 P=0 G=1 StackSample Time={}", (20 + heap_allocs) * 64);
        let end = heads.iter().position(|h| h.ends_with(" N=2"));
        assert!(
            end.is_some_and(|end| heads[..end].ends_with(&[sample.as_str()])),
            "after {heap_allocs} events:\n{printed}"
        );
    }
}

/// A trace ended by Go's bare `io.EOF` (a table entry cut short) is accepted as it stands, as Go's
/// readers take it, even though the bytes after it would have failed.
#[test]
fn a_bare_end_of_file_forgets_the_error_after_it() {
    let cut = support::run_ours(&cut_string_then_garbage());
    assert!(
        cut.error.is_none(),
        "{:?}",
        cut.error.map(|e| e.to_string())
    );
    assert_eq!(cut.printed, "M=-1 P=-1 G=-1 Sync Time=1 N=1\n");
}
