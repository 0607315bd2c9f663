//! The tracing controls and the scheduler's calls made by the context that runs a goroutine, in
//! the middle of it: from a task, from its blocking operation, from an interrupt callback (before
//! and after it takes an executor). Each trace written must be one Go accepts; what the scheduler
//! cannot do there is refused.

mod common;

use common::go_judge;
use gotrace_scheduler::sim::{current, Sim};
use gotrace_scheduler::{Config, Error, Step, TaskCx, TaskFn, TaskId};

/// Spawns `task` after a waiting task (`TaskId(0)`), traces rounds of executor 0 until nothing
/// runs, and has Go judge every trace written; returns how many there were.
fn judge(name: &str, task: TaskFn) -> usize {
    let sim = Sim::new(Config::MANUAL);
    let s = sim.scheduler();
    s.spawn(0, waiter, 0).unwrap();
    s.spawn(0, task, 0).unwrap();
    s.start_tracing().unwrap();
    while s.run_executor(0).unwrap() > 0 {}
    s.stop_tracing().unwrap();
    let traces = sim.traces();
    go_judge(name, &traces);
    traces.len()
}

fn waiter(_: &mut TaskCx<'_>) -> Step {
    Step::Wait
}

/// Tracing stopped, started and a generation ended by the running task's own context.
fn restarts_tracing(_: &mut TaskCx<'_>) -> Step {
    let s = current();
    s.stop_tracing().unwrap();
    s.start_tracing().unwrap();
    s.advance_generation().unwrap();
    Step::Done
}

#[test]
fn a_task_restarts_tracing_on_its_own_context() {
    assert_eq!(judge("restart-in-task", restarts_tracing), 2);
}

/// The same inside the task's blocking operation, which also wakes the waiting task; what needs
/// a running goroutine or a free context there is refused.
fn restarts_tracing_while_blocked(cx: &mut TaskCx<'_>) -> Step {
    cx.blocking(|| {
        let s = current();
        s.stop_tracing().unwrap();
        s.start_tracing().unwrap();
        s.advance_generation().unwrap();
        s.wake(TaskId(0)).unwrap();
        assert!(matches!(
            s.spawn(0, waiter, 0),
            Err(Error::Transition { m: 0, .. })
        ));
        assert!(matches!(
            s.run_executor(0),
            Err(Error::Transition { m: 0, .. })
        ));
        assert!(matches!(
            s.callback(|_| ()),
            Err(Error::Transition { m: 0, .. })
        ));
    })
    .unwrap();
    Step::Done
}

#[test]
fn a_blocking_operation_restarts_tracing_on_its_own_context() {
    assert_eq!(
        judge("restart-in-blocking", restarts_tracing_while_blocked),
        2
    );
}

/// An interrupt's callback restarts tracing before and after taking an executor, ends a
/// generation, and exits holding it; the next callback restarts tracing again.
fn interrupted_by_callbacks_that_restart_tracing(_: &mut TaskCx<'_>) -> Step {
    let s = current();
    s.platform().interrupt(1, || {
        s.callback(|cb| {
            s.stop_tracing().unwrap();
            s.start_tracing().unwrap();
            cb.take_executor(1).unwrap();
            s.advance_generation().unwrap();
            s.stop_tracing().unwrap();
            s.start_tracing().unwrap();
            cb.keep_executor_on_exit();
        })
        .unwrap();
        s.callback(|cb| {
            s.stop_tracing().unwrap();
            s.start_tracing().unwrap();
            cb.take_executor(1).unwrap();
        })
        .unwrap();
    });
    Step::Done
}

#[test]
fn a_callback_restarts_tracing_on_its_own_context() {
    assert_eq!(
        judge(
            "restart-in-callback",
            interrupted_by_callbacks_that_restart_tracing
        ),
        4
    );
}
