//! A real Embassy executor traced through its hooks: `embassy-executor` with its feature `trace`,
//! two raw executors polled by the test on the host, an "interrupt" that is the test switching the
//! hooks' context to 1 (as an interrupt handler runs between two instructions of thread mode).
//! Every kind of hook is made, and Go's parser judges the trace, which ours must read alike.
//!
//! One test: the hooks and the tracer are process-wide, as they are in a firmware.

#[path = "../../scheduler/tests/common/mod.rs"]
mod common;

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use common::{go_judge, Ticks};
use embassy_executor::raw::{self, Executor};
use embassy_executor::Spawner;
use gotrace_embassy::{embassy_trace_hooks, Hook, Refusals, Tracer};
use gotrace_scheduler::encoder::{Shared, VecSink};
use gotrace_scheduler::{Config, Error};

/// Five task slots, two executors and a spare P (for a spawn from the interrupt while both
/// poll), thread mode and one interrupt level.
static TRACER: Shared<Tracer<Ticks, VecSink, 5, 3, 2, 256>> =
    Shared::new(Tracer::new(Ticks(0), VecSink::new(), Config::MANUAL));

thread_local! {
    /// The context the hooks run on: 0 (thread mode) but while `in_interrupt` runs.
    static CONTEXT: Cell<usize> = const { Cell::new(0) };
    /// Wakers parked by `wait_for_interrupt`, for the interrupt to call.
    static PARKED: RefCell<Vec<Waker>> = const { RefCell::new(Vec::new()) };
    /// What the tasks did, in order, for the test to check the executors ran them.
    static LOG: RefCell<Vec<&'static str>> = const { RefCell::new(Vec::new()) };
}

embassy_trace_hooks!(TRACER, CONTEXT.with(Cell::get));

/// The executors are polled by the test: nothing to signal.
#[unsafe(export_name = "__pender")]
fn pender(_context: *mut ()) {}

const THREAD: usize = 0;
const INTERRUPT: usize = 1;

fn in_interrupt<R>(f: impl FnOnce() -> R) -> R {
    CONTEXT.with(|c| c.set(INTERRUPT));
    let r = f();
    CONTEXT.with(|c| c.set(THREAD));
    r
}

fn log(what: &'static str) {
    LOG.with(|l| l.borrow_mut().push(what));
}

/// Pending once, its waker called during its own poll: the task runs again (`GoStop`).
struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if std::mem::replace(&mut self.0, true) {
            return Poll::Ready(());
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Pending until the interrupt calls its waker (`GoBlock`, then `GoUnblock` on context 1).
struct WaitForInterrupt(bool);

impl Future for WaitForInterrupt {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if std::mem::replace(&mut self.0, true) {
            return Poll::Ready(());
        }
        PARKED.with(|p| p.borrow_mut().push(cx.waker().clone()));
        Poll::Pending
    }
}

#[embassy_executor::task]
async fn yielder() {
    for _ in 0..3 {
        log("yielder");
        YieldNow(false).await;
    }
}

#[embassy_executor::task(pool_size = 3)]
async fn waiter(name: &'static str) {
    log(name);
    WaitForInterrupt(false).await;
    log(name);
}

#[embassy_executor::task]
async fn child() {
    log("child");
    YieldNow(false).await;
}

#[embassy_executor::task]
async fn parent(spawner: Spawner) {
    log("parent");
    spawner.spawn(child().unwrap());
    YieldNow(false).await;
    YieldNow(false).await;
    log("parent");
}

fn leak(executor: Executor) -> &'static Executor {
    Box::leak(Box::new(executor))
}

/// Polls both executors, as their interrupts or a superloop would, `rounds` times.
fn poll(executors: &[&'static Executor], rounds: usize) {
    for _ in 0..rounds {
        for executor in executors {
            // SAFETY: each executor is polled from this thread only, never from inside a poll.
            unsafe { executor.poll() };
        }
    }
}

#[test]
fn an_embassy_executors_hooks_write_a_trace_go_accepts() {
    TRACER
        .with(|t| t.machine_mut().start_tracing(THREAD))
        .unwrap();
    let (a, b) = (
        leak(Executor::new(std::ptr::null_mut())),
        leak(Executor::new(std::ptr::null_mut())),
    );

    // Spawned from start-up code, before either executor polls: a P is taken for each creation.
    a.spawner().spawn(yielder().unwrap());
    a.spawner().spawn(parent(a.spawner()).unwrap());
    b.spawner().spawn(waiter("waiter 1").unwrap());
    poll(&[a, b], 2);

    // The interrupt wakes the parked waiter, and spawns a second waiter onto `b`.
    let first_waiter = PARKED
        .with(|p| p.borrow_mut().pop())
        .expect("waiter 1 parked");
    in_interrupt(|| {
        first_waiter.wake_by_ref();
        b.spawner().make_send().spawn(waiter("waiter 2").unwrap());
    });
    TRACER
        .with(|t| t.machine_mut().advance_generation(THREAD))
        .unwrap();
    poll(&[a, b], 3);

    // A waker called without a hook (as an interrupt using `wake_task_no_pend` would): the
    // task's next poll finds it waiting, and it is unblocked there.
    let second_waiter = PARKED
        .with(|p| p.borrow_mut().pop())
        .expect("waiter 2 parked");
    raw::wake_task_no_pend(raw::task_from_waker(&second_waiter));
    poll(&[a, b], 2);

    // A stale waker of a finished task: Embassy polls its storage once more; nothing is written.
    first_waiter.wake();
    poll(&[a, b], 1);

    // A full task table: five live tasks, then the parent's child is refused (and never traced,
    // though it runs).
    for name in ["waiter 3", "waiter 4", "waiter 5"] {
        b.spawner().spawn(waiter(name).unwrap());
    }
    a.spawner().spawn(yielder().unwrap());
    a.spawner().spawn(parent(a.spawner()).unwrap());
    poll(&[a, b], 6);

    // A waker called inside the tracer's lock (as a sink waking the task that drains it would
    // call one): its hook cannot be applied there, and is counted; the task's next poll shows
    // the wake, unblocked by thread mode.
    let parked = PARKED
        .with(|p| p.borrow_mut().pop())
        .expect("waiters 3 to 5 parked");
    TRACER.with(|_| parked.wake());
    poll(&[a, b], 1);

    TRACER
        .with(|t| t.machine_mut().stop_tracing(THREAD))
        .unwrap();
    let traces = TRACER.with(|t| t.machine().encoder().sink().traces.clone());
    let refusals = gotrace_embassy::refusals();

    assert_eq!(
        refusals,
        Refusals {
            count: 1,
            first: Some((Hook::TaskNew, Error::TableFull)),
            reentered: 1,
        },
        "only the spawn beyond the task table is refused, one wake made inside the lock"
    );
    assert_eq!(
        TRACER.with(|t| t.machine().encoder().sink().untraced),
        1,
        "the sink counts the refused spawn (for its end record), not the wake shown late"
    );
    let ran = LOG.with(|l| l.borrow().clone());
    assert_eq!(ran.iter().filter(|&&w| w == "yielder").count(), 6);
    assert_eq!(ran.iter().filter(|&&w| w == "child").count(), 2);
    for waiter in ["waiter 1", "waiter 2"] {
        assert_eq!(
            ran.iter().filter(|&&w| w == waiter).count(),
            2,
            "{waiter} finished"
        );
    }

    let Some(judged) = go_judge("embassy-executor", &traces) else {
        return;
    };
    assert_eq!(judged.len(), 1);
    let events = judged[0].events();
    let count = |m: &str, kind: &str| {
        events
            .iter()
            .filter(|(_, em, line)| em == m && line.split_whitespace().next() == Some(kind))
            .count()
    };
    // yielder ×2, parent ×2, the first child, waiters 1–5; the refused child is not among them.
    assert_eq!(
        count("0", "GoCreate") + count("1", "GoCreate"),
        10,
        "{events:#?}"
    );
    // The interrupt's wake of waiter 1 and its spawn of waiter 2 (on the spare P: both
    // executors' Ps are idle then, and the first free is taken); the no-pend wake of waiter 2 is
    // unblocked by thread mode at its poll.
    assert_eq!(count("1", "GoUnblock"), 1, "{events:#?}");
    assert_eq!(count("1", "GoCreate"), 1, "{events:#?}");
    assert_eq!(count("1", "ProcStart"), 1, "{events:#?}");
    // Thread mode unblocks the waiter woken inside the lock too.
    assert_eq!(count("0", "GoUnblock"), 2, "{events:#?}");
    // Every task that finished was destroyed: yielder ×2, parent ×2, the first child, waiters 1
    // and 2, and the one woken inside the lock; the other two still wait.
    assert_eq!(count("0", "GoDestroy"), 8, "{events:#?}");
    // Each yield (woken during its own poll): yielder 3 ×2, parent 2 ×2, the first child 1.
    assert_eq!(count("0", "GoStop"), 11, "{events:#?}");
    // Each wait: waiters 1 to 5 once each.
    assert_eq!(count("0", "GoBlock"), 5, "{events:#?}");
}
