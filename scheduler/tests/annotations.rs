//! Annotations as a user may write them, however they nest: every trace must be one Go accepts.

mod common;

use common::go_judge;
use gotrace_scheduler::sim::journal::Entry;
use gotrace_scheduler::sim::{current, Sim};
use gotrace_scheduler::{Annotate, Config, Error, Step, TaskCx, TaskFn};
use gotrace_wire::EventType;

/// Spawns `task` on executor 0 and traces one round of it: the traces it wrote.
fn traced_round(task: TaskFn) -> Vec<Vec<u8>> {
    let sim = Sim::new(Config::MANUAL);
    let s = sim.scheduler();
    s.spawn(0, task, 0).unwrap();
    s.start_tracing().unwrap();
    assert_eq!(s.run_executor(0).unwrap(), 1);
    s.stop_tracing().unwrap();
    sim.traces()
}

/// Traces one round of `task` and has Go judge the trace.
fn judge(name: &str, task: TaskFn) {
    go_judge(name, &traced_round(task));
}

fn tasks_begun_and_ended(cx: &mut TaskCx<'_>) -> Step {
    let a = cx.task_begin(0, "a").unwrap();
    let b = cx.task_begin(a, "b").unwrap();
    assert_ne!(a, b, "each user task has an ID of its own");
    cx.task_end(b).unwrap();
    cx.task_end(b).unwrap();
    let c = cx.task_begin(0, "c").unwrap();
    assert!(c != a && c != b, "an ended task's ID is not given again");
    Step::Done
}

#[test]
fn user_task_ids_are_given_by_the_scheduler_never_twice() {
    judge("user-task-ids", tasks_begun_and_ended);
}

#[test]
fn a_refused_task_begin_gives_out_no_id() {
    let sim = Sim::new(Config::MANUAL);
    let s = sim.scheduler();
    let refused = s.callback(|cb| cb.task_begin(0, "no executor")).unwrap();
    assert_eq!(refused, Err(Error::NoRunningTask(0)));
    s.spawn(0, first_task_is_1, 0).unwrap();
    assert_eq!(s.run_executor(0).unwrap(), 1);
}

fn first_task_is_1(cx: &mut TaskCx<'_>) -> Step {
    assert_eq!(cx.task_begin(0, "first").unwrap(), 1);
    Step::Done
}

/// Nested regions, tracing restarted inside the outer one and a generation ended inside the
/// inner one: the second trace sees ends of regions begun before it.
fn nested_regions_across_a_restart(cx: &mut TaskCx<'_>) -> Step {
    let task = cx.task_begin(0, "work").unwrap();
    let inner = cx
        .region(task, "outer", |cx| {
            cx.region(task, "middle", |_| {
                let s = current();
                s.stop_tracing().unwrap();
                s.start_tracing().unwrap();
            })
            .unwrap();
            cx.region(0, "inner", |cx| {
                current().advance_generation().unwrap();
                cx.region(task, "outer", |cx| cx.log(task, "depth", "3"))
            })
        })
        .unwrap();
    assert_eq!(inner, Ok(Ok(Ok(()))));
    cx.task_end(task).unwrap();
    Step::Done
}

#[test]
fn regions_nest_as_go_requires_whatever_tracing_does_inside() {
    let traces = traced_round(nested_regions_across_a_restart);
    assert_eq!(traces.len(), 2);
    let Some(judged) = go_judge("nested-regions", &traces) else {
        return;
    };
    let regions = |j: &common::Judged| {
        j.events_of(0)
            .into_iter()
            .filter(|e| e.starts_with("UserRegion"))
            .count()
    };
    assert_eq!(regions(&judged[0]), 2, "outer and middle begun");
    assert_eq!(
        regions(&judged[1]),
        6,
        "middle and outer ended, inner and outer again"
    );
}

#[test]
fn a_refused_region_runs_nothing() {
    let sim = Sim::new(Config::MANUAL);
    let s = sim.scheduler();
    let refused = s
        .callback(|cb| cb.region(0, "no executor", |_| unreachable!()))
        .unwrap();
    assert_eq!(refused, Err(Error::NoRunningTask(0)));
}

fn task_ended_then_labelled(cx: &mut TaskCx<'_>) -> Step {
    let task = cx.task_begin(0, "work").unwrap();
    cx.task_end(task).unwrap();
    cx.label("worker").unwrap();
    Step::Done
}

/// `task_end` and `label` write their events: Go accepts a trace without them (a task never
/// ended, a goroutine without a label), so only the journal of what was written tells.
#[test]
fn a_task_end_and_a_label_are_written() {
    let sim = Sim::new(Config::MANUAL);
    let s = sim.scheduler();
    s.spawn(0, task_ended_then_labelled, 0).unwrap();
    s.start_tracing().unwrap();
    assert_eq!(s.run_executor(0).unwrap(), 1);
    s.stop_tracing().unwrap();
    let written: Vec<EventType> = s
        .journal()
        .iter()
        .filter_map(|entry| match entry {
            Entry::Annotation { typ, .. } => Some(*typ),
            _ => None,
        })
        .collect();
    assert_eq!(
        written,
        [
            EventType::USER_TASK_BEGIN,
            EventType::USER_TASK_END,
            EventType::GO_LABEL
        ],
        "the task's begin and end, then the label"
    );
}
