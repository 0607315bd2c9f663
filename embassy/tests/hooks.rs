//! Hook orders a real executor makes only under an interrupt landing at one instruction, driven
//! by hand through `Tracer::hook`: a task's ID handed on before its end hook, and hooks that do
//! not match the context's state.

#[path = "../../scheduler/tests/common/mod.rs"]
mod common;

use common::{go_judge, Ticks};
use gotrace_embassy::{Hook, Refusals, Tracer};
use gotrace_scheduler::encoder::{GoSlot, GoStatus, Scheduling, VecSink};
use gotrace_scheduler::{Config, Error};

/// Two task slots, one executor and a spare P, thread mode and one interrupt level.
type Traced = Tracer<Ticks, VecSink, 2, 2, 2, 256>;

const THREAD: usize = 0;
const INTERRUPT: usize = 1;
const EXECUTOR: u32 = 0x2000_0400;
const TASK: u32 = 0x2000_0100;
const OTHER_TASK: u32 = 0x2000_0200;

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
    t.hook(Hook::TaskNew, THREAD, EXECUTOR, TASK);
    t.hook(Hook::TaskReady, THREAD, EXECUTOR, TASK);
    t.hook(Hook::ExecBegin, THREAD, EXECUTOR, TASK);
    t.hook(Hook::TaskNew, INTERRUPT, EXECUTOR, TASK);
    t.hook(Hook::TaskReady, INTERRUPT, EXECUTOR, TASK);
    t.hook(Hook::TaskEnd, THREAD, EXECUTOR, TASK);
    t.hook(Hook::ExecEnd, THREAD, EXECUTOR, TASK);
    assert_eq!(
        t.machine().go_status(GoSlot::Task(0)),
        GoStatus::Dead,
        "the first ended"
    );
    assert_eq!(t.machine().go_status(GoSlot::Task(1)), GoStatus::Runnable);
    t.hook(Hook::ExecBegin, THREAD, EXECUTOR, TASK);
    assert_eq!(
        t.machine().context_go(THREAD),
        Some(GoSlot::Task(1)),
        "the second runs"
    );
    t.hook(Hook::ExecEnd, THREAD, EXECUTOR, TASK);
    t.hook(Hook::ExecutorIdle, THREAD, EXECUTOR, 0);
    assert_eq!(t.refusals(), Refusals::default());

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
fn a_hook_for_another_task_than_the_context_runs_is_refused_and_writes_nothing() {
    let mut t = tracer();
    t.hook(Hook::TaskNew, THREAD, EXECUTOR, TASK);
    t.hook(Hook::TaskNew, THREAD, EXECUTOR, OTHER_TASK);
    t.hook(Hook::ExecBegin, THREAD, EXECUTOR, TASK);
    let written = t.machine().encoder().stats();
    for hook in [Hook::ExecEnd, Hook::TaskEnd] {
        t.hook(hook, THREAD, EXECUTOR, OTHER_TASK);
    }
    assert_eq!(t.machine().encoder().stats(), written, "nothing written");
    assert_eq!(t.machine().context_go(THREAD), Some(GoSlot::Task(0)));
    assert_eq!(
        t.refusals(),
        Refusals {
            count: 2,
            first: Some((
                Hook::ExecEnd,
                Error::Transition {
                    m: THREAD,
                    what: "task_exec_end: the context runs another task"
                }
            )),
            reentered: 0,
        }
    );
    // The executors' table is full: a third executor's spawn is refused.
    t.hook(Hook::TaskNew, INTERRUPT, 0x2000_0800, 0x2000_0300);
    t.hook(Hook::TaskNew, INTERRUPT, 0x2000_0900, 0x2000_0300);
    assert_eq!(t.refusals().count, 4, "{:?}", t.refusals());
}

#[test]
fn a_wake_between_a_tasks_dequeue_and_its_poll_keeps_it_queued() {
    // Embassy clears a task's queued flag as it takes it off the run queue, before the poll's
    // hook: an interrupt waking it in between queues it again (a second ready hook) and it is
    // polled again after this poll, which ends in a GoStop, not a GoBlock.
    let mut t = tracer();
    t.hook(Hook::TaskNew, THREAD, EXECUTOR, TASK);
    t.hook(Hook::TaskReady, THREAD, EXECUTOR, TASK);
    t.hook(Hook::TaskReady, INTERRUPT, EXECUTOR, TASK);
    t.hook(Hook::ExecBegin, THREAD, EXECUTOR, TASK);
    t.hook(Hook::ExecEnd, THREAD, EXECUTOR, TASK);
    assert_eq!(t.machine().go_status(GoSlot::Task(0)), GoStatus::Runnable);
    t.hook(Hook::ExecBegin, THREAD, EXECUTOR, TASK);
    t.hook(Hook::ExecEnd, THREAD, EXECUTOR, TASK);
    assert_eq!(t.machine().go_status(GoSlot::Task(0)), GoStatus::Waiting);
    assert_eq!(t.refusals(), Refusals::default());
}

#[test]
fn an_executor_polled_from_inside_a_task_is_refused_without_a_byte_written() {
    // Executor B polled from inside a task of executor A, on the same context: one goroutine
    // runs on a context at a time, so B's tasks cannot be shown there.
    const NESTED: u32 = 0x2000_0800;
    let mut t = tracer();
    t.hook(Hook::TaskNew, THREAD, EXECUTOR, TASK);
    t.hook(Hook::TaskNew, THREAD, NESTED, OTHER_TASK);
    // B's task waits after its first poll; a `wake_task_no_pend` (no hook) queues it again.
    t.hook(Hook::ExecBegin, INTERRUPT, NESTED, OTHER_TASK);
    t.hook(Hook::ExecEnd, INTERRUPT, NESTED, OTHER_TASK);
    t.hook(Hook::ExecutorIdle, INTERRUPT, NESTED, 0);
    t.hook(Hook::ExecBegin, THREAD, EXECUTOR, TASK);
    let written = t.machine().encoder().stats();
    // A nested round that polls nothing is no refusal: it took no P, and gives up none.
    t.hook(Hook::ExecutorIdle, THREAD, NESTED, 0);
    assert_eq!(t.refusals(), Refusals::default());
    t.hook(Hook::ExecBegin, THREAD, NESTED, OTHER_TASK);
    assert_eq!(t.machine().encoder().stats(), written, "nothing written");
    assert_eq!(
        t.refusals().first,
        Some((
            Hook::ExecBegin,
            Error::Transition {
                m: THREAD,
                what: "task_exec_begin: the context runs a task already (an executor polled from inside a task)"
            }
        ))
    );
    // Not unblocked either: a refusal writes nothing at all.
    assert_eq!(t.machine().go_status(GoSlot::Task(1)), GoStatus::Waiting);
    assert_eq!(t.machine().context_go(THREAD), Some(GoSlot::Task(0)));
}
