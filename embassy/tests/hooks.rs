//! Hook orders a real executor makes only under an interrupt landing at one instruction, driven
//! by hand through `Tracer::hook`: a task's ID handed on before its end hook, and hooks that do
//! not match the context's state.

#[path = "../../scheduler/tests/common/mod.rs"]
mod common;

use std::collections::HashSet;

use common::{go_judge, Ticks};
use gotrace_embassy::{Hook, Tracer};
use gotrace_scheduler::encoder::{GoSlot, GoStatus, Scheduling, VecSink};
use gotrace_scheduler::{Config, Error};

/// Two task slots, one executor and a spare P, thread mode and one interrupt level.
type Traced = Tracer<Ticks, VecSink, 2, 2, 2, 256>;

const THREAD: usize = 0;
const INTERRUPT: usize = 1;
const EXECUTOR: u32 = 0x2000_0400;
const TASK: u32 = 0x2000_0100;
const OTHER_TASK: u32 = 0x2000_0200;

/// Applies hooks the state allows, each `(hook, context, executor ID, task ID)`.
fn allowed<const TASKS: usize>(
    t: &mut Tracer<Ticks, VecSink, TASKS, 2, 2, 256>,
    hooks: &[(Hook, usize, u32, u32)],
) {
    for &(hook, m, executor, task) in hooks {
        if let Err(error) = t.hook(hook, m, executor, task) {
            panic!("{hook:?} on context {m} refused: {error}");
        }
    }
}

fn tracer() -> Traced {
    let mut tracer = Tracer::new(Ticks(0), VecSink::new(), Config::MANUAL);
    tracer.machine_mut().start_tracing(THREAD).unwrap();
    tracer
}

#[test]
fn a_task_id_handed_on_before_its_end_hook_names_the_new_task() {
    // Embassy frees a finished task's storage before it calls `task_end`: an interrupt landing
    // between the two may spawn into the same storage, so the new task's `task_new` comes with
    // the ID of a task still running.
    let mut t = tracer();
    allowed(
        &mut t,
        &[
            (Hook::TaskNew, THREAD, EXECUTOR, TASK),
            (Hook::TaskReady, THREAD, EXECUTOR, TASK),
            (Hook::ExecBegin, THREAD, EXECUTOR, TASK),
        ],
    );
    let first = t.goroutine(TASK).unwrap();
    allowed(&mut t, &[(Hook::TaskNew, INTERRUPT, EXECUTOR, TASK)]);
    let second = t.goroutine(TASK).unwrap();
    assert_ne!(first, second, "the ID names the new task");
    allowed(
        &mut t,
        &[
            (Hook::TaskReady, INTERRUPT, EXECUTOR, TASK),
            (Hook::TaskEnd, THREAD, EXECUTOR, TASK),
            (Hook::ExecEnd, THREAD, EXECUTOR, TASK),
        ],
    );
    assert_eq!(
        t.machine().go_status(first),
        GoStatus::Dead,
        "the first ended"
    );
    assert_eq!(t.machine().go_status(second), GoStatus::Runnable);
    allowed(&mut t, &[(Hook::ExecBegin, THREAD, EXECUTOR, TASK)]);
    assert_eq!(
        t.machine().context_go(THREAD),
        Some(second),
        "the second runs"
    );
    allowed(
        &mut t,
        &[
            (Hook::ExecEnd, THREAD, EXECUTOR, TASK),
            (Hook::ExecutorIdle, THREAD, EXECUTOR, 0),
        ],
    );

    t.machine_mut().stop_tracing(THREAD).unwrap();
    let traces = t.machine().encoder().sink().traces.clone();
    let Some(judged) = go_judge("embassy-id-handed-on", &traces) else {
        return;
    };
    let kinds: Vec<String> = judged[0]
        .events()
        .into_iter()
        .filter_map(|(_, m, line)| {
            let kind = line.split_whitespace().next()?;
            kind.starts_with("Go").then(|| format!("M{m} {kind}"))
        })
        .collect();
    // Batch by batch: thread mode's, then the interrupt's.
    assert_eq!(
        kinds,
        [
            "M0 GoCreate",
            "M0 GoStart",
            "M0 GoDestroy",
            "M0 GoStart",
            "M0 GoBlock",
            "M1 GoCreate"
        ],
        "{judged:?}",
        judged = judged[0].wire
    );
}

#[test]
fn a_spawn_passes_over_the_slot_of_a_task_whose_id_was_handed_on() {
    // The task whose ID went on to a new spawn still runs until its end hook: its slot, no
    // longer named by any ID, is not free. A spawn whose look-up starts there takes the next free
    // slot; taken for free, the spawn was refused (the slot in use) with a free slot left.
    type Three = Tracer<Ticks, VecSink, 3, 2, 2, 256>;
    let alone = |id: u32| {
        let mut t: Three = Tracer::new(Ticks(0), VecSink::new(), Config::MANUAL);
        allowed(&mut t, &[(Hook::TaskNew, THREAD, EXECUTOR, id)]);
        t.goroutine(id)
    };
    let mut t: Three = Tracer::new(Ticks(0), VecSink::new(), Config::MANUAL);
    t.machine_mut().start_tracing(THREAD).unwrap();
    allowed(
        &mut t,
        &[
            (Hook::TaskNew, THREAD, EXECUTOR, TASK),
            (Hook::ExecBegin, THREAD, EXECUTOR, TASK),
            (Hook::TaskNew, INTERRUPT, EXECUTOR, TASK),
        ],
    );
    let first = t.machine().context_go(THREAD).unwrap();
    let second = t.goroutine(TASK).unwrap();
    // A task whose look-up starts at the first task's slot.
    let third_id = (1..=4096)
        .map(|i| 0x2000_2000 + i * 8)
        .find(|&id| alone(id) == Some(first))
        .expect("an ID whose look-up starts at the first task's slot");
    allowed(&mut t, &[(Hook::TaskNew, INTERRUPT, EXECUTOR, third_id)]);
    let third = t.goroutine(third_id).unwrap();
    assert!(
        third != first && third != second,
        "the third task has a slot of its own: {first:?}, {second:?}, {third:?}"
    );
    assert_eq!(t.machine().go_status(first), GoStatus::Running);
    allowed(
        &mut t,
        &[
            (Hook::TaskEnd, THREAD, EXECUTOR, TASK),
            (Hook::ExecEnd, THREAD, EXECUTOR, TASK),
            (Hook::ExecutorIdle, THREAD, EXECUTOR, 0),
        ],
    );
    assert_eq!(t.machine().go_status(first), GoStatus::Dead);
    judged_by_go("embassy-handed-on-slot-passed-over", t);
}

#[test]
fn a_hook_for_another_task_than_the_context_runs_is_refused_and_writes_nothing() {
    let mut t = tracer();
    allowed(
        &mut t,
        &[
            (Hook::TaskNew, THREAD, EXECUTOR, TASK),
            (Hook::TaskNew, THREAD, EXECUTOR, OTHER_TASK),
            (Hook::ExecBegin, THREAD, EXECUTOR, TASK),
        ],
    );
    let written = t.machine().encoder().stats();
    for (hook, what) in [
        (
            Hook::ExecEnd,
            "task_exec_end: the context runs another task",
        ),
        (Hook::TaskEnd, "task_end: the context runs another task"),
    ] {
        assert_eq!(
            t.hook(hook, THREAD, EXECUTOR, OTHER_TASK),
            Err(Error::Transition { m: THREAD, what })
        );
    }
    assert_eq!(t.machine().encoder().stats(), written, "nothing written");
    assert_eq!(t.machine().context_go(THREAD), t.goroutine(TASK));
    // The task table (2 slots) is full: a third task's spawn is refused.
    assert_eq!(
        t.hook(Hook::TaskNew, INTERRUPT, EXECUTOR, 0x2000_0300),
        Err(Error::TableFull)
    );
    assert_eq!(
        t.machine().encoder().sink().untraced,
        3,
        "each refused hook counted by the sink, for the host"
    );
}

#[test]
fn a_wake_between_a_tasks_dequeue_and_its_poll_keeps_it_queued() {
    // Embassy clears a task's queued flag as it takes it off the run queue, before the poll's
    // hook: an interrupt waking it in between queues it again (a second ready hook) and it is
    // polled again after this poll, which ends in a GoStop, not a GoBlock.
    let mut t = tracer();
    allowed(
        &mut t,
        &[
            (Hook::TaskNew, THREAD, EXECUTOR, TASK),
            (Hook::TaskReady, THREAD, EXECUTOR, TASK),
            (Hook::TaskReady, INTERRUPT, EXECUTOR, TASK),
            (Hook::ExecBegin, THREAD, EXECUTOR, TASK),
            (Hook::ExecEnd, THREAD, EXECUTOR, TASK),
        ],
    );
    let task = t.goroutine(TASK).unwrap();
    assert_eq!(t.machine().go_status(task), GoStatus::Runnable);
    allowed(
        &mut t,
        &[
            (Hook::ExecBegin, THREAD, EXECUTOR, TASK),
            (Hook::ExecEnd, THREAD, EXECUTOR, TASK),
        ],
    );
    assert_eq!(t.machine().go_status(task), GoStatus::Waiting);
}

#[test]
fn an_executor_polled_from_inside_a_task_is_refused_without_a_byte_written() {
    // Executor B polled from inside a task of executor A, on the same context: one goroutine
    // runs on a context at a time, so B's tasks cannot be shown there.
    const NESTED: u32 = 0x2000_0800;
    let mut t = tracer();
    allowed(
        &mut t,
        &[
            (Hook::TaskNew, THREAD, EXECUTOR, TASK),
            (Hook::TaskNew, THREAD, NESTED, OTHER_TASK),
        ],
    );
    // B's task waits after its first poll; a `wake_task_no_pend` (no hook) queues it again.
    allowed(
        &mut t,
        &[
            (Hook::ExecBegin, INTERRUPT, NESTED, OTHER_TASK),
            (Hook::ExecEnd, INTERRUPT, NESTED, OTHER_TASK),
            (Hook::ExecutorIdle, INTERRUPT, NESTED, 0),
            (Hook::ExecBegin, THREAD, EXECUTOR, TASK),
        ],
    );
    let written = t.machine().encoder().stats();
    // A nested round that polls nothing is no refusal: it took no P, and gives up none.
    allowed(&mut t, &[(Hook::ExecutorIdle, THREAD, NESTED, 0)]);
    assert_eq!(
        t.hook(Hook::ExecBegin, THREAD, NESTED, OTHER_TASK),
        Err(Error::Transition {
            m: THREAD,
            what: "task_exec_begin: the context runs a task already (an executor polled from inside a task)"
        })
    );
    assert_eq!(t.machine().encoder().stats(), written, "nothing written");
    // Not unblocked either: a refusal writes nothing at all.
    let other = t.goroutine(OTHER_TASK).unwrap();
    assert_eq!(t.machine().go_status(other), GoStatus::Waiting);
    assert_eq!(t.machine().context_go(THREAD), t.goroutine(TASK));
}

#[test]
fn every_hook_from_an_unmapped_context_is_refused_and_changes_nothing() {
    // A context function maps the exceptions it does not know beyond the tracer's contexts. A
    // wake from there was counted as the running task's queued wake (its poll then ended in a
    // GoStop), and a task's end there taken for nothing to do, both unrefused.
    const UNMAPPED: usize = 2;
    let mut t = tracer();
    allowed(
        &mut t,
        &[
            (Hook::TaskNew, THREAD, EXECUTOR, TASK),
            (Hook::ExecBegin, THREAD, EXECUTOR, TASK),
        ],
    );
    let written = t.machine().encoder().stats();
    for hook in [
        Hook::TaskNew,
        Hook::TaskReady,
        Hook::ExecBegin,
        Hook::ExecEnd,
        Hook::TaskEnd,
        Hook::ExecutorIdle,
    ] {
        for m in [UNMAPPED, usize::MAX] {
            assert_eq!(
                t.hook(hook, m, EXECUTOR, TASK),
                Err(Error::NoSuchContext(m)),
                "{hook:?} on context {m}"
            );
        }
    }
    assert_eq!(t.machine().encoder().stats(), written, "nothing written");
    // The refused wake was not counted: the poll ends waiting (GoBlock), not queued again.
    allowed(&mut t, &[(Hook::ExecEnd, THREAD, EXECUTOR, TASK)]);
    assert_eq!(
        t.machine().go_status(t.goroutine(TASK).unwrap()),
        GoStatus::Waiting
    );
}

#[test]
fn the_end_of_a_task_whose_poll_was_refused_is_refused() {
    // Its poll's begin refused (from inside another executor's task), the task runs nowhere:
    // its end was taken for a task this tracer does not follow, uncounted, and its goroutine
    // stayed alive in every later generation without a word.
    const NESTED: u32 = 0x2000_0800;
    let mut t = tracer();
    allowed(
        &mut t,
        &[
            (Hook::TaskNew, THREAD, EXECUTOR, TASK),
            (Hook::TaskNew, INTERRUPT, NESTED, OTHER_TASK),
            (Hook::ExecBegin, INTERRUPT, NESTED, OTHER_TASK),
            (Hook::ExecEnd, INTERRUPT, NESTED, OTHER_TASK),
            (Hook::ExecutorIdle, INTERRUPT, NESTED, 0),
            (Hook::ExecBegin, THREAD, EXECUTOR, TASK),
        ],
    );
    assert!(t.hook(Hook::ExecBegin, THREAD, NESTED, OTHER_TASK).is_err());
    let written = t.machine().encoder().stats();
    assert_eq!(
        t.hook(Hook::TaskEnd, THREAD, NESTED, OTHER_TASK),
        Err(Error::Transition {
            m: THREAD,
            what: "task_end: the context runs another task"
        }),
        "on the context running the outer task"
    );
    allowed(&mut t, &[(Hook::ExecEnd, THREAD, EXECUTOR, TASK)]);
    assert_eq!(
        t.hook(Hook::TaskEnd, THREAD, NESTED, OTHER_TASK),
        Err(Error::Transition {
            m: THREAD,
            what: "task_end: the task is not running (its poll's begin was refused)"
        }),
        "on a context running nothing"
    );
    // The end of a task this tracer does not follow is no refusal.
    allowed(&mut t, &[(Hook::TaskEnd, THREAD, NESTED, 0x2000_0900)]);
    let stats = t.machine().encoder().stats();
    assert_eq!(
        stats.events,
        written.events + 1,
        "the outer task's GoBlock only"
    );
}

#[test]
fn every_task_is_found_in_a_full_table_and_after_its_neighbours_end() {
    // A pool's tasks are one storage size apart. Eight of them fill eight slots, whatever slots
    // their IDs hash to; then every other one ends, and the others are still found; new ones
    // take the free slots: each ID still names one goroutine of its own.
    let mut t: Tracer<Ticks, VecSink, 8, 2, 2, 256> =
        Tracer::new(Ticks(0), VecSink::new(), Config::MANUAL);
    t.machine_mut().start_tracing(THREAD).unwrap();
    let pool = |i: u32| 0x2000_1000 + i * 0x48;
    let mut alive: Vec<u32> = (0..8).map(pool).collect();
    for &id in &alive {
        allowed(&mut t, &[(Hook::TaskNew, THREAD, EXECUTOR, id)]);
    }
    assert_eq!(
        t.hook(Hook::TaskNew, THREAD, EXECUTOR, pool(8)),
        Err(Error::TableFull)
    );
    for ended in (0..8).step_by(2) {
        let id = alive[ended];
        allowed(
            &mut t,
            &[
                (Hook::ExecBegin, THREAD, EXECUTOR, id),
                (Hook::TaskEnd, THREAD, EXECUTOR, id),
                (Hook::ExecEnd, THREAD, EXECUTOR, id),
                (Hook::ExecutorIdle, THREAD, EXECUTOR, 0),
            ],
        );
        assert_eq!(t.goroutine(id), None, "an ended task is not followed");
    }
    // With four free slots among them, the survivors are each found.
    for survivor in (1..8).step_by(2) {
        assert!(t.goroutine(alive[survivor]).is_some());
    }
    for ended in (0..8).step_by(2) {
        alive[ended] = pool(8 + ended as u32);
        allowed(&mut t, &[(Hook::TaskNew, THREAD, EXECUTOR, alive[ended])]);
    }
    let goroutines: HashSet<_> = alive.iter().map(|&id| t.goroutine(id).unwrap()).collect();
    for &id in &alive {
        polled_as_found(&mut t, id);
    }
    assert_eq!(goroutines.len(), 8, "eight tasks, eight goroutines");
    judged_by_go("embassy-full-table", t);
}

/// Polls task `id` on thread mode, checking that the goroutine the tracer finds for it is the one
/// its poll runs.
fn polled_as_found<const TASKS: usize>(t: &mut Tracer<Ticks, VecSink, TASKS, 2, 2, 256>, id: u32) {
    let found = t.goroutine(id);
    assert!(found.is_some(), "task {id:#x} not found");
    allowed(t, &[(Hook::ExecBegin, THREAD, EXECUTOR, id)]);
    assert_eq!(t.machine().context_go(THREAD), found, "task {id:#x}");
    allowed(t, &[(Hook::ExecEnd, THREAD, EXECUTOR, id)]);
}

/// Stops tracing; Go's parser accepts the trace (and ours reads it alike), or the judge fails
/// the test.
fn judged_by_go<const TASKS: usize>(test: &str, mut t: Tracer<Ticks, VecSink, TASKS, 2, 2, 256>) {
    t.machine_mut().stop_tracing(THREAD).unwrap();
    go_judge(test, &t.machine().encoder().sink().traces);
}

#[test]
fn tasks_whose_ids_hash_to_the_last_slot_wrap_round_to_the_first_and_are_found() {
    // Four IDs whose look-ups start at the last of four slots (found through the public API: the
    // slot a task spawned alone takes). Their spawns wrap round to the first slots; once the task
    // in the last slot ends, the others are found past its free slot, from the first.
    type Four = Tracer<Ticks, VecSink, 4, 2, 2, 256>;
    let fresh = || -> Four { Tracer::new(Ticks(0), VecSink::new(), Config::MANUAL) };
    let alone = |id: u32| {
        let mut t = fresh();
        allowed(&mut t, &[(Hook::TaskNew, THREAD, EXECUTOR, id)]);
        t.goroutine(id)
    };
    let ids: Vec<u32> = (0..4096)
        .map(|i| 0x2000_1000 + i * 8)
        .filter(|&id| alone(id) == Some(GoSlot::Task(3)))
        .take(4)
        .collect();
    assert_eq!(
        ids.len(),
        4,
        "four IDs whose look-ups start at the last slot"
    );
    let mut t = fresh();
    t.machine_mut().start_tracing(THREAD).unwrap();
    for &id in &ids {
        allowed(&mut t, &[(Hook::TaskNew, THREAD, EXECUTOR, id)]);
    }
    let slots: Vec<_> = ids.iter().map(|&id| t.goroutine(id)).collect();
    assert_eq!(
        slots,
        [3, 0, 1, 2].map(|s| Some(GoSlot::Task(s))),
        "the spawns wrap round from the last slot"
    );
    allowed(
        &mut t,
        &[
            (Hook::ExecBegin, THREAD, EXECUTOR, ids[0]),
            (Hook::TaskEnd, THREAD, EXECUTOR, ids[0]),
            (Hook::ExecEnd, THREAD, EXECUTOR, ids[0]),
        ],
    );
    for (&id, slot) in ids.iter().zip(&slots).skip(1) {
        assert_eq!(t.goroutine(id), *slot);
        polled_as_found(&mut t, id);
    }
    judged_by_go("embassy-wrapped-slots", t);
}

#[test]
fn a_spawn_of_task_id_0_is_refused_and_writes_nothing() {
    // Embassy's task IDs are addresses: 0 is none. Taken, its slot could never be found again.
    let mut t = tracer();
    let written = t.machine().encoder().stats();
    assert_eq!(
        t.hook(Hook::TaskNew, THREAD, EXECUTOR, 0),
        Err(Error::Transition {
            m: THREAD,
            what: "task_new: task ID 0"
        })
    );
    assert_eq!(t.machine().encoder().stats(), written, "nothing written");
    // Both slots are still free.
    allowed(
        &mut t,
        &[
            (Hook::TaskNew, THREAD, EXECUTOR, TASK),
            (Hook::TaskNew, THREAD, EXECUTOR, OTHER_TASK),
        ],
    );
}
