//! `TracedMachine` driven as another executor (RTIC, Embassy) would drive it, without the
//! scheduler: every kind of change written as Go's parser accepts it, and each change the state
//! does not allow refused without a byte or an event written for it.

mod common;

use common::Ticks;
use gotrace_scheduler::encoder::{Annotation, GoSlot, GoStatus, ProcStatus, Scheduling, VecSink};
use gotrace_scheduler::{Config, Error, TracedMachine};

/// Three task slots, two executors, thread mode and one interrupt level.
type Machine = TracedMachine<Ticks, VecSink, 3, 2, 2, 256>;

/// A call made on the machine, as a test names it.
type Call = fn(&mut Machine) -> Result<(), Error>;

const THREAD: usize = 0;
const IRQ: usize = 1;
const TASK_A: GoSlot = GoSlot::Task(0);
const TASK_B: GoSlot = GoSlot::Task(1);

fn machine() -> Machine {
    TracedMachine::new(Ticks(0), VecSink::new(), Config::MANUAL)
}

/// Thread mode runs two tasks on executor 0; `A` is left in a blocking transfer, holding it.
fn a_transfer_in_progress(s: &mut Machine) -> Result<(), Error> {
    s.start_tracing(THREAD)?;
    s.acquire(THREAD, 0)?;
    s.create(THREAD, 0, 0x100)?;
    s.create(THREAD, 1, 0x200)?;
    s.go_start(THREAD, TASK_A)?;
    s.annotate(THREAD, Annotation::region_begin(0, "transfer"))?;
    assert_eq!(s.syscall_begin(THREAD)?, 0);
    Ok(())
}

#[test]
fn every_kind_of_change_driven_by_hand_is_written_as_go_accepts() {
    let mut s = machine();
    let drive = |s: &mut Machine| -> Result<(), Error> {
        a_transfer_in_progress(s)?;
        // The interrupt level takes the executor from the transfer and runs `B` on it.
        s.acquire(IRQ, 0)?;
        s.go_start(IRQ, TASK_B)?;
        s.annotate(IRQ, Annotation::log(0, "irq", "ran B"))?;
        s.go_leave(IRQ, GoStatus::Waiting)?;
        s.proc_stop(IRQ)?;
        // The transfer ends without its executor; thread mode takes it back and goes on.
        assert!(!s.syscall_end(THREAD)?);
        s.acquire(THREAD, 0)?;
        s.go_start(THREAD, TASK_A)?;
        s.annotate(THREAD, Annotation::region_end(0, "transfer"))?;
        // An interrupt callback takes executor 1, wakes `B`, and returns holding it.
        s.callback_enter(IRQ)?;
        s.acquire(IRQ, 1)?;
        assert!(!s.syscall_end(IRQ)?);
        s.go_start(IRQ, GoSlot::Callback(IRQ))?;
        s.go_unblock(IRQ, TASK_B)?;
        s.syscall_begin(IRQ)?;
        s.callback_exit(IRQ)?;
        assert_eq!(s.proc_status(1), ProcStatus::Abandoned);
        // A generation boundary while the executor lies abandoned, then A yields and ends.
        s.advance_generation(THREAD)?;
        s.go_leave(THREAD, GoStatus::Runnable)?;
        s.go_start(THREAD, TASK_A)?;
        s.go_leave(THREAD, GoStatus::Dead)?;
        s.go_start(THREAD, TASK_B)?;
        s.go_leave(THREAD, GoStatus::Dead)?;
        s.proc_stop(THREAD)?;
        // The abandoned executor is taken back (a steal, then a start) and released.
        s.acquire(THREAD, 1)?;
        s.proc_stop(THREAD)?;
        s.stop_tracing(THREAD)
    };
    drive(&mut s).unwrap();
    let stats = s.encoder().stats();
    assert_eq!(stats.generations, 2);
    assert_eq!(stats.annotation_events, 3);
    let traces = s.encoder().sink().traces.clone();
    assert_eq!(traces.len(), 1);
    let Some(judged) = common::go_judge("traced_machine", &traces) else {
        return;
    };
    let parsed = &judged[0].parsed;
    for (what, needle) in [
        ("the interrupt's steal from the transfer", "ProcSteal"),
        (
            "the transfer's end without its executor",
            "GoSyscallEndBlocked",
        ),
        ("the callback's goroutine", "GoCreateSyscall"),
        ("the callback's end", "GoDestroySyscall"),
        ("the tasks' ends", "GoDestroy "),
    ] {
        let wire = &judged[0].wire;
        assert!(wire.contains(needle), "no {what} ({needle}) in:\n{wire}");
    }
    assert!(parsed.contains("Log"), "no log in:\n{parsed}");
}

#[test]
fn a_change_the_state_does_not_allow_is_refused_and_writes_nothing() {
    let mut s = machine();
    a_transfer_in_progress(&mut s).unwrap();
    let before = s.encoder().stats();
    let written = s.encoder().sink().traces.clone();
    let refused: [(&str, Call); 11] = [
        ("a second transfer", |s| s.syscall_begin(THREAD).map(drop)),
        ("a start on a context that holds no executor", |s| {
            s.go_start(IRQ, TASK_A)
        }),
        ("a creation into a live slot", |s| {
            s.create(THREAD, 0, 0x300)
        }),
        ("a wake of a runnable task", |s| s.go_unblock(IRQ, TASK_B)),
        ("a release with the task still on it", |s| {
            s.proc_stop(THREAD)
        }),
        ("an annotation with no running goroutine", |s| {
            s.annotate(IRQ, Annotation::label("x"))
        }),
        ("a callback's end with no callback", |s| {
            s.callback_exit(IRQ)
        }),
        ("a take of an executor by a context that holds one", |s| {
            s.acquire(THREAD, 0)
        }),
        ("a start of a task slot that does not exist", |s| {
            s.go_start(IRQ, GoSlot::Task(9))
        }),
        ("a goroutine leaving as running", |s| {
            s.go_leave(THREAD, GoStatus::Running)
        }),
        ("a task ending with no task on the context", |s| {
            s.go_leave(IRQ, GoStatus::Dead)
        }),
    ];
    for (what, call) in refused {
        let statuses = (s.proc_status(0), s.go_status(TASK_A), s.go_status(TASK_B));
        let err = call(&mut s).expect_err(what);
        assert!(
            matches!(
                err,
                Error::Transition { .. } | Error::NoRunningTask(_) | Error::NoSuchTask(9)
            ),
            "{what}: {err:?}"
        );
        assert_eq!(s.encoder().stats(), before, "{what} wrote something");
        assert_eq!(
            s.encoder().sink().traces,
            written,
            "{what} handed the sink something"
        );
        assert_eq!(
            (s.proc_status(0), s.go_status(TASK_A), s.go_status(TASK_B)),
            statuses,
            "{what} changed the state"
        );
    }
    assert_eq!(s.go_status(TASK_A), GoStatus::Syscall);
    assert_eq!(s.context_proc(THREAD), Some(0));
}

#[test]
fn a_refusal_says_what_the_state_lacks() {
    let mut s = machine();
    a_transfer_in_progress(&mut s).unwrap();
    let no_executor = s.go_start(IRQ, TASK_B).unwrap_err();
    assert_eq!(
        no_executor.to_string(),
        "context 1: GoStart: the context holds no running executor"
    );
    let no_goroutine = s.syscall_end(IRQ).unwrap_err();
    assert!(no_goroutine
        .to_string()
        .contains("no goroutine on the context"));
    // Thread mode holds its executor, but in the transfer: not one to create a task from.
    let executor_in_transfer = s.create(THREAD, 2, 0x300).unwrap_err();
    assert_eq!(
        executor_in_transfer.to_string(),
        "context 0: GoCreate: the context holds no running executor"
    );
    // A callback running on the executor it took, not back in a blocking operation, cannot
    // return: the callback is what is wrong, not the executor it holds.
    s.callback_enter(IRQ).unwrap();
    s.acquire(IRQ, 1).unwrap();
    assert!(!s.syscall_end(IRQ).unwrap());
    s.go_start(IRQ, GoSlot::Callback(IRQ)).unwrap();
    assert_eq!(
        s.callback_exit(IRQ).unwrap_err().to_string(),
        "context 1: GoDestroySyscall: no callback in a blocking operation"
    );
}

#[test]
fn a_callbacks_goroutine_leaves_only_by_its_exit() {
    let mut s = machine();
    s.start_tracing(THREAD).unwrap();
    s.callback_enter(IRQ).unwrap();
    s.acquire(IRQ, 1).unwrap();
    assert!(!s.syscall_end(IRQ).unwrap());
    s.go_start(IRQ, GoSlot::Callback(IRQ)).unwrap();
    for status in [GoStatus::Runnable, GoStatus::Waiting, GoStatus::Dead] {
        let err = s.go_leave(IRQ, status).unwrap_err();
        assert!(err.to_string().contains("leaves only by its exit"), "{err}");
    }
    s.syscall_begin(IRQ).unwrap();
    s.steal(IRQ, 1).unwrap();
    s.callback_exit(IRQ).unwrap();
    // Its context and goroutine are free for the next interrupt.
    s.callback_enter(IRQ).unwrap();
}

#[test]
fn a_spawn_from_outside_any_executor_takes_one_for_the_creation() {
    let mut s = machine();
    s.start_tracing(THREAD).unwrap();
    // Start-up code: no executor held, none running.
    s.spawn(THREAD, 0, 0, 0x100).unwrap();
    assert_eq!(s.context_proc(THREAD), None);
    assert_eq!(s.proc_status(0), ProcStatus::Idle);
    assert_eq!(s.go_status(TASK_A), GoStatus::Runnable);
    // From a running task, as `create`.
    s.acquire(THREAD, 0).unwrap();
    s.go_start(THREAD, TASK_A).unwrap();
    s.spawn(THREAD, 1, 1, 0x200).unwrap();
    assert_eq!(s.context_proc(THREAD), Some(0));
    // Into an executor another context runs on, or into a live slot: refused, nothing written.
    let before = s.encoder().stats();
    assert_eq!(s.spawn(IRQ, 0, 2, 0x300), Err(Error::ExecutorBusy(0)));
    assert!(matches!(
        s.spawn(IRQ, 1, 1, 0x300),
        Err(Error::Transition { .. })
    ));
    assert_eq!(s.encoder().stats(), before);
    assert_eq!(s.context_proc(IRQ), None);
    s.go_leave(THREAD, GoStatus::Dead).unwrap();
    s.proc_stop(THREAD).unwrap();
    s.stop_tracing(THREAD).unwrap();
    let traces = s.encoder().sink().traces.clone();
    let Some(judged) = common::go_judge("traced_machine_spawn", &traces) else {
        return;
    };
    let thread = judged[0].events_of(THREAD);
    let first: Vec<_> = thread
        .iter()
        .map(|e| e.split_whitespace().next().unwrap())
        .filter(|name| !name.ends_with("Status"))
        .take(3)
        .collect();
    assert_eq!(first, ["ProcStart", "GoCreate", "ProcStop"]);
}

/// `Debug` shows the machine's sizes (the encoder's own `Debug` shows its state): what a firmware
/// developer checks first against the executor being driven.
#[test]
fn debug_shows_the_machines_sizes() {
    assert_eq!(
        format!("{:?}", machine()),
        "TracedMachine { tasks: 3, executors: 2, contexts: 2, .. }"
    );
}

/// The machine answers the encoder's questions about the state (`Scheduling`) for a driver that
/// writes events of its own beside it: what each context holds and runs, and each status.
#[test]
fn the_machine_says_what_each_context_holds_and_runs() {
    let mut s = machine();
    a_transfer_in_progress(&mut s).unwrap();
    assert_eq!(
        s.context_proc(THREAD),
        Some(0),
        "thread mode holds executor 0"
    );
    assert_eq!(s.context_go(THREAD), Some(TASK_A), "A is on thread mode");
    assert_eq!(s.proc_status(0), ProcStatus::Syscall);
    assert_eq!(s.go_status(TASK_A), GoStatus::Syscall);
    assert_eq!(s.go_status(TASK_B), GoStatus::Runnable);
    assert_eq!(
        (s.context_proc(IRQ), s.context_go(IRQ)),
        (None, None),
        "the interrupt level holds and runs nothing"
    );
}
