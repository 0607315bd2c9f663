//! The event API's meaning, beyond its printed form: kinds, contexts, transitions, tasks
//! across generations, ranges and their attributes, stacks and their frames.

mod support;

use gotrace_decoder::{
    Event, EventKind, GoState, ProcState, Range, RangeAttribute, Reader, Resource, Task,
    Transition, NO_GOROUTINE, NO_PROC, NO_TASK,
};
use gotrace_wire::EventType as T;
use support::{batch_bytes, event, string_entry};

const NO_M: u64 = u64::MAX;

/// One generation: an event batch of thread 0, frequency, a one-frame stack (7: main.f in
/// f.go), and the strings of the frame plus `strings`.
fn generation(gen: u64, events: &[Vec<u8>], strings: &[(u64, &[u8])]) -> Vec<u8> {
    let mut out = batch_bytes(gen, 0, 10, &events.concat());
    out.extend(batch_bytes(
        gen,
        NO_M,
        0,
        &event(T::FREQUENCY.0, &[1_000_000_000]),
    ));
    let mut stacks = vec![T::STACKS.0];
    stacks.extend(event(T::STACK.0, &[7, 1, 0x4000, 10, 11, 42]));
    out.extend(batch_bytes(gen, NO_M, 0, &stacks));
    let mut table = vec![T::STRINGS.0];
    let frame: &[(u64, &[u8])] = &[(10, b"main.f"), (11, b"f.go")];
    for &(id, data) in frame.iter().chain(strings) {
        table.extend(string_entry(id, data));
    }
    out.extend(batch_bytes(gen, NO_M, 0, &table));
    out
}

fn events(generations: &[Vec<u8>]) -> Vec<Event> {
    let mut trace = b"go 1.22 trace\0\0\0".to_vec();
    for g in generations {
        trace.extend(g);
    }
    let mut reader = Reader::new(&trace[..]).expect("a header");
    let mut events = Vec::new();
    while let Some(event) = reader.read_event().expect("a valid trace") {
        events.push(event);
    }
    events
}

fn running_g1() -> Vec<Vec<u8>> {
    vec![
        event(T::PROC_STATUS.0, &[1, 0, 1]),
        event(T::GO_STATUS.0, &[1, 1, 0, 2]),
    ]
}

#[test]
fn a_task_ending_in_a_later_generation_keeps_its_type() {
    let names: &[(u64, &[u8])] = &[(1, b"my task")];
    let mut first = running_g1();
    first.push(event(T::USER_TASK_BEGIN.0, &[1, 2, 0, 1, 7]));
    let mut second = running_g1();
    second.push(event(T::USER_TASK_END.0, &[1, 2, 0]));
    let events = events(&[generation(1, &first, names), generation(2, &second, &[])]);
    let tasks: Vec<Task<'_>> = events.iter().filter_map(Event::task).collect();
    let expected = Task {
        id: 2,
        parent: NO_TASK,
        task_type: b"my task",
    };
    assert_eq!(tasks, [expected, expected]);
    let begin = events
        .iter()
        .find(|e| e.kind() == EventKind::TaskBegin)
        .unwrap();
    let stack = begin.stack().expect("the begin has a stack");
    let frames: Vec<_> = stack
        .frames()
        .map(|f| (f.pc, f.func, f.file, f.line))
        .collect();
    assert_eq!(frames, [(0x4000, &b"main.f"[..], &b"f.go"[..], 42)]);
    let syncs: Vec<u64> = events.iter().filter_map(Event::sync_number).collect();
    assert_eq!(syncs, [1, 2, 3]);
}

#[test]
fn steals_and_syscalls_transition_as_in_go() {
    let mut batch = running_g1();
    batch.push(event(T::GO_SYSCALL_BEGIN.0, &[1, 1, 0]));
    batch.push(event(T::PROC_STEAL.0, &[1, 0, 2, 0]));
    batch.push(event(T::GO_SYSCALL_END_BLOCKED.0, &[1]));
    let events = events(&[generation(1, &batch, &[])]);
    let transitions: Vec<(Transition, i64, i64)> = events
        .iter()
        .filter_map(|e| Some((e.state_transition()?.transition, e.goroutine(), e.proc_id())))
        .collect();
    let go = |from, to| Transition::Goroutine { id: 1, from, to };
    let proc = |from, to| Transition::Proc { id: 0, from, to };
    assert_eq!(
        transitions,
        [
            (
                proc(ProcState::Undetermined, ProcState::Running),
                NO_GOROUTINE,
                NO_PROC
            ),
            (go(GoState::Undetermined, GoState::Running), NO_GOROUTINE, 0),
            (go(GoState::Running, GoState::Syscall), 1, 0),
            // A self-steal: the thread loses its P while its goroutine stays in the syscall.
            (proc(ProcState::Running, ProcState::Idle), 1, 0),
            (go(GoState::Syscall, GoState::Runnable), 1, NO_PROC),
        ]
    );
}

#[test]
fn an_abandoned_p_is_stolen_from_idle_to_idle() {
    let batch = [
        event(T::PROC_STATUS.0, &[1, 0, 4]),
        event(T::PROC_STEAL.0, &[1, 0, 1, 9]),
    ];
    let events = events(&[generation(1, &batch, &[])]);
    let transitions: Vec<Transition> = events
        .iter()
        .filter_map(|e| Some(e.state_transition()?.transition))
        .collect();
    let proc = |from, to| Transition::Proc { id: 0, from, to };
    assert_eq!(
        transitions,
        [
            proc(ProcState::Undetermined, ProcState::Idle),
            proc(ProcState::Idle, ProcState::Idle)
        ]
    );
}

#[test]
fn sweeps_are_proc_ranges_with_attributes() {
    let mut batch = running_g1();
    batch.push(event(T::GC_SWEEP_BEGIN.0, &[1, 0]));
    batch.push(event(T::GC_SWEEP_END.0, &[1, 10, 20]));
    batch.push(event(T::HEAP_ALLOC.0, &[1, 4096]));
    let events = events(&[generation(1, &batch, &[])]);
    let ranges: Vec<(EventKind, Range<'_>)> = events
        .iter()
        .filter_map(|e| Some((e.kind(), e.range()?)))
        .collect();
    let sweep = Range {
        name: b"GC incremental sweep"[..].into(),
        scope: Resource::Proc(0),
    };
    assert_eq!(
        ranges,
        [
            (EventKind::RangeBegin, sweep.clone()),
            (EventKind::RangeEnd, sweep)
        ]
    );
    let end = events
        .iter()
        .find(|e| e.kind() == EventKind::RangeEnd)
        .unwrap();
    assert_eq!(
        end.range_attributes(),
        [
            RangeAttribute {
                name: "bytes swept",
                value: 10
            },
            RangeAttribute {
                name: "bytes reclaimed",
                value: 20
            },
        ]
    );
    let metric = events.iter().find_map(Event::metric).unwrap();
    assert_eq!(
        (metric.name, metric.value),
        ("/memory/classes/heap/objects:bytes", 4096)
    );
}

/// `{:?}` of an event, as a failing assertion or `dbg!` shows it, is the event: its Go form, not
/// the string and stack tables of its whole generation, which the event only refers to.
#[test]
fn an_events_debug_form_is_the_event_not_its_generations_tables() {
    let names: Vec<(u64, Vec<u8>)> = (100..600).map(|id| (id, vec![b'x'; 64])).collect();
    let names: Vec<(u64, &[u8])> = names.iter().map(|(id, s)| (*id, &s[..])).collect();
    let mut batch = running_g1();
    batch.push(event(T::GO_BLOCK.0, &[1, 100, 7]));
    let events = events(&[generation(1, &batch, &names)]);
    let block = events
        .iter()
        .find(|e| e.kind() == EventKind::StateTransition && e.stack().is_some())
        .expect("the block");
    let debug = format!("{block:?}");
    assert!(
        debug.contains("Running->Waiting") && debug.contains("main.f"),
        "the Debug form does not show the event: {debug:.300}"
    );
    assert!(
        debug.len() < 2 * block.to_string().len() + 200,
        "{} bytes of Debug for an event whose Go form is {}: {debug:.300}",
        debug.len(),
        block.to_string().len()
    );
    let stack = format!("{:?}", block.stack().unwrap());
    assert!(
        stack.len() < 200 && stack.contains("main.f") && stack.contains("f.go"),
        "{} bytes of Debug for a one-frame stack: {stack:.300}",
        stack.len()
    );
}

/// A user keeps a reader in a struct of their own that derives `Debug` (a recording session,
/// a test fixture), moves it to a thread, and shows it when something fails: every public type
/// that reads or writes a trace is `Debug` (whatever its stream), and the validating reader is
/// `Send` with its stream.
#[test]
fn readers_and_writers_are_debug_and_readers_send() {
    use gotrace_decoder::{input::Input, raw};
    fn send<T: Send>(_: &T) {}
    let trace = b"go 1.22 trace\0\0\0".to_vec();
    let reader = Reader::new(&trace[..]).expect("a header");
    send(&reader);
    let input = Input::new(&trace[..]).expect("a binary input");
    let raw_reader = raw::Reader::new(&trace[..]).expect("a header");
    let text_reader = raw::TextReader::new(&b"Trace Go1.22\n"[..]).expect("a header");
    let writer = raw::Writer::new(Vec::new(), gotrace_decoder::Version::Go122).expect("written");
    let text_writer =
        raw::TextWriter::new(Vec::new(), gotrace_decoder::Version::Go122).expect("written");
    let shown = [
        format!("{reader:?}"),
        format!("{raw_reader:?}"),
        format!("{text_reader:?}"),
        format!("{writer:?}"),
        format!("{text_writer:?}"),
    ];
    for shown in shown {
        assert!(shown.contains("Go122"), "{shown}");
    }
    assert!(format!("{input:?}").contains("Binary"), "{input:?}");
}

/// The reader is an iterator of the events `read_event` gives, which ends at the trace's end and
/// after an error.
#[test]
fn the_reader_iterates_the_events_and_ends_after_an_error() {
    // A header and one generation holding only its clock rate, as in the crate's docs.
    let mut trace = b"go 1.22 trace\0\0\0".to_vec();
    trace.extend([
        1, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 2, 8, 1,
    ]);
    let events: Vec<String> = Reader::new(&trace[..])
        .expect("a header")
        .map(|event| event.expect("valid").to_string())
        .collect();
    assert_eq!(
        events,
        [
            "M=-1 P=-1 G=-1 Sync Time=1 N=1",
            "M=-1 P=-1 G=-1 Sync Time=2 N=2"
        ]
    );
    // A ProcStop on thread 0, which holds no P.
    trace.extend([1, 1, 0, 0, 2, 11, 0]);
    let mut reader = Reader::new(&trace[..]).expect("a header");
    let error = reader
        .by_ref()
        .find_map(Result::err)
        .expect("the trace is broken");
    assert_eq!(
        error.go_message(),
        "event ProcStop for proc (-1) that doesn't exist"
    );
    assert!(reader.next().is_none(), "nothing after the error");
}

/// The accessors of an event's context and time give what its printed form says.
#[test]
fn an_events_context_and_time_are_what_it_prints() {
    let mut batch = running_g1();
    batch.push(event(T::GO_BLOCK.0, &[1, 0, 7]));
    batch.push(event(T::PROC_STOP.0, &[1]));
    let events = events(&[generation(1, &batch, &[]), generation(2, &[], &[])]);
    assert!(events.len() >= 6, "{events:#?}");
    for event in &events {
        let printed = event.to_string();
        let accessors = format!(
            "M={} P={} G={} {:?} Time={}",
            event.thread(),
            event.proc_id(),
            event.goroutine(),
            event.kind(),
            event.time()
        );
        assert!(printed.starts_with(&accessors), "{printed} vs {accessors}");
    }
}

/// The raw readers' errors are matched by kind, down to what was wrong: an event cut short, a
/// size past the format's limits, a text argument of the wrong name.
#[test]
fn raw_errors_are_matched_by_what_was_wrong() {
    use gotrace_decoder::raw::{self, ArgProblem, LimitError, Problem, ReadError, TextProblem};
    let header = b"go 1.22 trace\0\0\0".to_vec();
    let read_first = |bytes: Vec<u8>| {
        let mut reader = raw::Reader::new(&bytes[..]).expect("a header");
        reader.read_event().expect_err("a broken batch")
    };
    // A batch header cut inside its size, then one whose size is past 64 KiB.
    let cut = [&header[..], &[T::EVENT_BATCH.0, 1, 0, 5]].concat();
    assert!(matches!(
        read_first(cut),
        ReadError::Event {
            problem: Problem::Truncated(_),
            ..
        }
    ));
    let oversized = [&header[..], &[T::EVENT_BATCH.0, 1, 0, 5, 0x81, 0x80, 0x08]].concat();
    assert!(matches!(
        read_first(oversized),
        ReadError::Event {
            problem: Problem::Limit(LimitError::Batch(131_073)),
            ..
        }
    ));
    let text = "Trace Go1.22\nEventBatch gen=1 m=0 tiem=5 size=0\n";
    let mut reader = raw::TextReader::new(text.as_bytes()).expect("a header");
    let error = reader.read_event().expect_err("a misnamed argument");
    assert_eq!(error.line, 2);
    assert!(
        matches!(
            &error.problem,
            TextProblem::Args {
                event: "EventBatch",
                problem: ArgProblem::WrongName { expected: "time", got },
            } if got == "tiem"
        ),
        "{error:?}"
    );
}

/// What a failing `assert_eq!` on a task, region, log, label, range or transition shows: its
/// names and messages as text, not as lists of byte values.
#[test]
fn annotations_debug_their_names_as_text() {
    let names: &[(u64, &[u8])] = &[(1, b"transfer"), (2, b"copy"), (3, b"status"), (4, b"ok")];
    let mut batch = running_g1();
    batch.push(event(T::USER_TASK_BEGIN.0, &[1, 5, 0, 1, 7]));
    batch.push(event(T::USER_REGION_BEGIN.0, &[1, 5, 2, 7]));
    batch.push(event(T::USER_LOG.0, &[1, 5, 3, 4, 7]));
    batch.push(event(T::GO_LABEL.0, &[1, 4]));
    batch.push(event(T::STW_BEGIN.0, &[1, 4, 7]));
    batch.push(event(T::STW_END.0, &[1]));
    batch.push(event(T::GO_BLOCK.0, &[1, 3, 7]));
    let events = events(&[generation(1, &batch, names)]);
    let shown: Vec<String> = events
        .iter()
        .flat_map(|e| {
            [
                e.task().map(|t| format!("{t:?}")),
                e.region().map(|r| format!("{r:?}")),
                e.log().map(|l| format!("{l:?}")),
                e.label().map(|l| format!("{l:?}")),
                e.range().map(|r| format!("{r:?}")),
                e.state_transition()
                    .filter(|t| !t.reason.is_empty())
                    .map(|t| format!("{t:?}")),
            ]
        })
        .flatten()
        .collect();
    let expected = [
        "\"transfer\"",
        "\"copy\"",
        "message: \"ok\"",
        "label: \"ok\"",
        "\"stop-the-world (ok)\"",
        "reason: \"status\"",
    ];
    for text in expected {
        assert!(
            shown.iter().any(|s| s.contains(text)),
            "no {text} in {shown:#?}"
        );
    }
}

/// A steal of a P and a stop of it make the same transition (Running to Idle); a user counting
/// steals (a blocking transfer's executor taken by an interrupt) tells them apart by the wire
/// type, named through this crate alone (`wire_type` returns it).
#[test]
fn a_steal_is_told_from_a_stop_by_its_wire_type_named_from_this_crate() {
    use gotrace_decoder::EventType;
    let mut batch = running_g1();
    batch.push(event(T::GO_SYSCALL_BEGIN.0, &[1, 1, 0]));
    batch.push(event(T::PROC_STEAL.0, &[1, 0, 2, 0]));
    batch.push(event(T::GO_SYSCALL_END_BLOCKED.0, &[1]));
    batch.push(event(T::PROC_START.0, &[1, 0, 3]));
    batch.push(event(T::PROC_STOP.0, &[1]));
    let events = events(&[generation(1, &batch, &[])]);
    let idled: Vec<Option<EventType>> = events
        .iter()
        .filter(|e| {
            e.state_transition().is_some_and(|t| {
                t.transition
                    == Transition::Proc {
                        id: 0,
                        from: ProcState::Running,
                        to: ProcState::Idle,
                    }
            })
        })
        .map(Event::wire_type)
        .collect();
    assert_eq!(
        idled,
        [Some(EventType::PROC_STEAL), Some(EventType::PROC_STOP)]
    );
    // And printed by Go's names for them.
    let names: Vec<String> = idled.iter().flatten().map(|t| t.to_string()).collect();
    assert_eq!(names, ["ProcSteal", "ProcStop"]);
}

/// A frame is its values: the same frame in two generations' stacks compares and hashes equal,
/// where the stacks themselves (handles into their generation's table, as in Go) do not.
#[test]
fn frames_of_different_generations_compare_and_hash_by_value() {
    let mut first = running_g1();
    first.push(event(T::GO_BLOCK.0, &[1, 0, 7]));
    let mut second = vec![
        event(T::PROC_STATUS.0, &[1, 0, 1]),
        event(T::GO_STATUS.0, &[1, 1, NO_M, 4]),
    ];
    second.push(event(T::GO_UNBLOCK.0, &[1, 1, 1, 7]));
    let events = events(&[generation(1, &first, &[]), generation(2, &second, &[])]);
    let stacks: Vec<_> = events.iter().filter_map(Event::stack).collect();
    let [a, b] = &stacks[..] else {
        panic!("two stacks expected, got {stacks:?}");
    };
    assert_ne!(a, b, "stacks of two generations are different handles");
    let frames: std::collections::HashSet<_> = stacks.iter().flat_map(|s| s.frames()).collect();
    assert_eq!(frames.len(), 1, "{frames:?}");
}

/// An error's `Debug`, which a test's `?` and `fn main() -> Result` print, reads as its
/// `Display`: Go's message and where, not the location's fields one by one; and names the
/// failing stream's error when there is one.
#[test]
fn an_errors_debug_form_is_its_message_and_where() {
    let mut batch = running_g1();
    batch.push(event(T::PROC_STOP.0, &[1]));
    batch.push(event(T::PROC_STOP.0, &[2]));
    let mut trace = b"go 1.22 trace\0\0\0".to_vec();
    trace.extend(generation(1, &batch, &[]));
    let mut reader = Reader::new(&trace[..]).unwrap();
    let error = loop {
        match reader.read_event() {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("the trace is broken"),
            Err(error) => break error,
        }
    };
    assert_eq!(
        format!("{error:?}"),
        format!("Error({:?})", error.to_string())
    );
    assert!(format!("{error:?}").contains("(generation 1, M 0, batch #0 at byte offset 16"));

    struct Failing;
    impl std::io::Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::ConnectionReset.into())
        }
    }
    let error = Reader::new(Failing).unwrap_err();
    let debug = format!("{error:?}");
    assert!(
        debug.starts_with(&format!("Error({:?}, ", error.to_string()))
            && debug.contains("ConnectionReset"),
        "{debug}"
    );
}

/// Go's `Stack` is comparable (equal handles, equal frames) and prints with `String()`: a user
/// counts events by the stack they happened at ("which call site blocks most") and prints it.
#[test]
// A stack's hash is its table's address and its ID; the lint sees the table's frame map, built
// lazily behind a `OnceLock`, which the hash does not read.
#[allow(clippy::mutable_key_type)]
fn stacks_compare_hash_and_print_as_gos() {
    let mut batch = running_g1();
    batch.push(event(T::GO_BLOCK.0, &[1, 0, 7]));
    batch.push(event(T::GO_UNBLOCK.0, &[1, 1, 1, 7]));
    batch.push(event(T::GO_START.0, &[1, 1, 2]));
    batch.push(event(T::GO_SYSCALL_BEGIN.0, &[1, 1, 7]));
    let events = events(&[generation(1, &batch, &[])]);
    let mut by_stack: std::collections::HashMap<_, usize> = std::collections::HashMap::new();
    for stack in events.iter().filter_map(Event::stack) {
        *by_stack.entry(stack).or_default() += 1;
    }
    let [(stack, count)] = by_stack.into_iter().collect::<Vec<_>>()[..] else {
        panic!("one stack expected");
    };
    assert_eq!(count, 3);
    assert_eq!(stack.id(), 7, "the ID the events name");
    assert_eq!(stack.to_string(), "main.f @ 0x4000\n\tf.go:42\n");
}
