//! The scheduler's behaviour as its users see it, with tracing on or off: what runs when, wakes
//! that arrive early, and the typed refusals.

mod common;

use std::rc::Rc;

use common::Ticks;
use gotrace_scheduler::encoder::{Clock, VecSink};
use gotrace_scheduler::sim::SimPlatform;
use gotrace_scheduler::sim::{current, Sim, SIM_FREQUENCY, SIM_TASKS};
use gotrace_scheduler::{Annotate, Config, Error, Scheduler, Step, TaskCx, TaskId};

fn wait(_: &mut TaskCx<'_>) -> Step {
    Step::Wait
}

fn wake_self_then_wait(cx: &mut TaskCx<'_>) -> Step {
    let me = cx.id();
    cx.wake(me).unwrap();
    Step::Wait
}

fn yield_forever(_: &mut TaskCx<'_>) -> Step {
    Step::Yield
}

#[test]
fn a_round_runs_each_queued_task_once_and_waiting_tasks_need_a_wake() {
    let sim = Sim::new(Config::MANUAL);
    let s = sim.scheduler();
    let waiter = s.spawn(0, wait, 0).unwrap();
    s.spawn(0, yield_forever, 0).unwrap();
    assert_eq!(s.run_executor(0).unwrap(), 2);
    // Only the yielding task is runnable now.
    assert_eq!(s.run_executor(0).unwrap(), 1);
    s.wake(waiter).unwrap();
    assert_eq!(s.run_executor(0).unwrap(), 2);
    assert!(s.has_runnable(0));
    assert!(!s.has_runnable(1));
}

#[test]
fn a_wake_that_arrives_while_the_task_runs_is_not_lost() {
    let sim = Sim::new(Config::MANUAL);
    let s = sim.scheduler();
    s.start_tracing().unwrap();
    s.spawn(0, wake_self_then_wait, 0).unwrap();
    assert_eq!(s.run_executor(0).unwrap(), 1);
    assert!(
        s.has_runnable(0),
        "the early wake turned the wait into a yield"
    );
    s.stop_tracing().unwrap();
}

fn finish(_: &mut TaskCx<'_>) -> Step {
    Step::Done
}

#[test]
fn refusals_are_typed() {
    let sim = Sim::new(Config::MANUAL);
    let s = sim.scheduler();
    for _ in 0..SIM_TASKS {
        s.spawn(1, finish, 0).unwrap();
    }
    assert_eq!(s.spawn(1, finish, 0), Err(Error::TableFull));
    assert_eq!(s.spawn(7, finish, 0), Err(Error::NoSuchExecutor(7)));
    assert_eq!(s.run_executor(7), Err(Error::NoSuchExecutor(7)));
    assert_eq!(s.wake(TaskId(99)), Err(Error::NoSuchTask(99)));
    assert_eq!(s.run_executor(1).unwrap(), SIM_TASKS);
    // Finished tasks free their slots.
    assert_eq!(s.wake(TaskId(0)), Err(Error::NoSuchTask(0)));
    s.spawn(1, finish, 0).unwrap();
    // A callback without an executor cannot create tasks.
    let refused = s.callback(|cb| cb.spawn(0, finish, 0)).unwrap();
    assert_eq!(refused, Err(Error::NoRunningTask(0)));
    let refused = s.callback(|_| s.spawn(0, finish, 0)).unwrap();
    assert_eq!(refused, Err(Error::NoRunningTask(0)));
    let refused = s.stop_tracing().unwrap_err();
    assert_eq!(
        refused,
        Error::Trace(gotrace_scheduler::encoder::Error::NotTracing),
        "tracing was never started"
    );
    // The encoder's message, once: no prefix repeating what its source says.
    assert_eq!(refused.to_string(), "tracing is off");
    assert!(std::error::Error::source(&refused).is_none());
}

fn show_own_context(cx: &mut TaskCx<'_>) -> Step {
    assert_eq!(
        format!("{cx:?}"),
        "TaskCx { task: TaskId(0), arg: 7, m: 0, executor: 1, .. }"
    );
    Step::Done
}

#[test]
fn debug_shows_the_encoders_state_and_never_takes_the_schedulers_lock() {
    let sim = Sim::new(Config::MANUAL);
    let s = sim.scheduler();
    s.start_tracing().unwrap();
    s.spawn(1, show_own_context, 7).unwrap();
    assert_eq!(s.run_executor(1).unwrap(), 1);
    // Inside the lock: a scheduler's `Debug` that took it would panic on the second borrow.
    let (scheduler, encoder) = s.with_encoder(|enc| (format!("{s:?}"), format!("{enc:?}")));
    assert_eq!(
        scheduler,
        "Scheduler { tasks: 12, executors: 2, contexts: 4, batch_bytes: 256, table_entries: 32, .. }"
    );
    let expected = "Encoder { tracing: true, generation: 1, config: Config { generation_ticks: 0, \
                    generation_bytes: 0 }, stats: Stats { events: ";
    assert!(encoder.starts_with(expected), "{encoder}");
    assert!(encoder.contains(", sink: VecSink { "), "{encoder}");
    // The state, not the batch buffers' 1 KiB.
    assert!(encoder.len() < 600, "{} bytes: {encoder}", encoder.len());
}

#[test]
fn a_callback_takes_one_executor_at_most() {
    let sim = Sim::new(Config::MANUAL);
    let s = sim.scheduler();
    let second = s
        .callback(|cb| {
            cb.take_executor(0).unwrap();
            cb.take_executor(1)
        })
        .unwrap();
    let refused = second.unwrap_err();
    assert_eq!(
        refused,
        Error::Transition {
            m: 0,
            what: "take an executor: the callback holds one already"
        }
    );
    assert_eq!(
        refused.to_string(),
        "context 0: take an executor: the callback holds one already"
    );
}

fn take_running_executor_from_interrupt(_: &mut TaskCx<'_>) -> Step {
    let s = current();
    s.platform().interrupt(1, || {
        // Executor 0 runs this task on thread mode: it is not in a blocking operation.
        let refused = s.callback(|cb| cb.take_executor(0)).unwrap();
        assert_eq!(refused, Err(Error::ExecutorBusy(0)));
        assert_eq!(
            s.run_executor(0).unwrap(),
            0,
            "nothing to steal from a running task"
        );
    });
    Step::Done
}

#[test]
fn an_interrupt_cannot_take_an_executor_that_is_running_a_task() {
    let sim = Sim::new(Config::MANUAL);
    let s = sim.scheduler();
    s.start_tracing().unwrap();
    s.spawn(0, take_running_executor_from_interrupt, 0).unwrap();
    s.spawn(0, finish, 0).unwrap();
    assert_eq!(s.run_executor(0).unwrap(), 2);
    s.stop_tracing().unwrap();
}

/// The idle test's platform: thread mode is context 0, the waking thread context 1 ("an
/// interrupt"); its `idle` lets that thread try to wake a task while thread mode sleeps.
struct WakeWhileAsleep {
    let_wake: std::sync::mpsc::SyncSender<()>,
    woken: std::sync::Arc<std::sync::atomic::AtomicBool>,
    woken_while_asleep: std::sync::atomic::AtomicBool,
}

std::thread_local! {
    static CONTEXT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

impl gotrace_scheduler::Platform for WakeWhileAsleep {
    fn current_context(&self) -> usize {
        CONTEXT.get()
    }

    fn idle(&self) {
        use std::sync::atomic::Ordering::SeqCst;
        self.let_wake.send(()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(100));
        self.woken_while_asleep
            .store(self.woken.load(SeqCst), SeqCst);
    }
}

/// A clock that counts its readings.
struct Readings(u32);

impl gotrace_scheduler::Clock for Readings {
    fn now(&mut self) -> u32 {
        self.0 += 1;
        self.0
    }

    fn frequency(&self) -> u64 {
        1_000_000
    }
}

#[test]
fn a_wake_cannot_land_between_idles_look_at_the_queue_and_its_sleep() {
    use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
    use std::sync::Arc;
    // Thread mode looked at the queue, found it empty, and slept: a wake from an interrupt
    // landing after the look left its task queued through the sleep (a review helper's). Here
    // the interrupt is another thread, let go once thread mode is in `idle`.
    let (let_wake, wake) = std::sync::mpsc::sync_channel(1);
    let woken = Arc::new(AtomicBool::new(false));
    let platform = WakeWhileAsleep {
        let_wake,
        woken: Arc::clone(&woken),
        woken_while_asleep: AtomicBool::new(false),
    };
    let s: &'static _ = Box::leak(Box::new(gotrace_scheduler::Scheduler::<
        _,
        _,
        gotrace_scheduler::encoder::VecSink,
        2,
        1,
        2,
        256,
    >::new(
        platform,
        Readings(0),
        Default::default(),
        Config::MANUAL,
    )));
    s.start_tracing().unwrap();
    let waiter = s.spawn(0, wait, 0).unwrap();
    assert_eq!(s.run_executor(0).unwrap(), 1);
    let interrupt = std::thread::spawn(move || {
        CONTEXT.set(1);
        // Let go from `Platform::idle`: not let go, idle never slept.
        wake.recv_timeout(std::time::Duration::from_secs(10))
            .expect("idle never slept");
        s.wake(waiter).unwrap();
        woken.store(true, SeqCst);
    });
    s.idle(0);
    interrupt.join().unwrap();
    assert!(
        !s.platform().woken_while_asleep.load(SeqCst),
        "the wake came in while thread mode slept"
    );
    assert!(s.has_runnable(0));
    // With a task queued, idle does not sleep: the interrupt thread is gone, and a sleep would
    // wait on it for ever.
    s.idle(0);
    s.stop_tracing().unwrap();
}

/// The main loop's platform: counts thread mode's sleeps and the scheduler's questions for the
/// current context, and ends the loop (a context beyond the scheduler's, which `run` returns as
/// its error) at the second sleep, or after `GIVE_UP` questions when it never sleeps twice.
struct CountsSleeps {
    sleeps: std::cell::Cell<u32>,
    questions: std::cell::Cell<u32>,
}

impl CountsSleeps {
    const GIVE_UP: u32 = 100;
}

impl gotrace_scheduler::Platform for CountsSleeps {
    fn current_context(&self) -> usize {
        self.questions.set(self.questions.get() + 1);
        match self.sleeps.get() < 2 && self.questions.get() < Self::GIVE_UP {
            true => 0,
            false => 2,
        }
    }

    fn idle(&self) {
        self.sleeps.set(self.sleeps.get() + 1);
    }
}

#[test]
fn the_main_loop_sleeps_after_a_round_that_ran_nothing() {
    let s = Scheduler::<_, _, VecSink, 2, 1, 2, 256>::new(
        CountsSleeps {
            sleeps: Default::default(),
            questions: Default::default(),
        },
        Readings(0),
        Default::default(),
        Config::MANUAL,
    );
    // Its first round runs the task, which waits; the rounds after it run nothing.
    s.spawn(0, wait, 0).unwrap();
    assert_eq!(s.run(0), Err(Error::NoSuchContext(2)));
    let platform = s.platform();
    assert!(
        platform.questions.get() < CountsSleeps::GIVE_UP,
        "the loop went round {} times without sleeping twice",
        platform.questions.get()
    );
    assert_eq!(platform.sleeps.get(), 2);
}

/// Contexts as the test's thread says ([`CONTEXT`]).
struct ByThread;

impl gotrace_scheduler::Platform for ByThread {
    fn current_context(&self) -> usize {
        CONTEXT.get()
    }
}

#[test]
fn a_context_beyond_the_schedulers_is_refused_and_changes_nothing() {
    // A firmware's answer for an exception it gave no context (the example firmware's, for a
    // handler added later): taken for another context, its calls were credited to that one.
    let s = gotrace_scheduler::Scheduler::<
        _,
        _,
        gotrace_scheduler::encoder::VecSink,
        3,
        1,
        2,
        256,
    >::new(ByThread, Readings(0), Default::default(), Config::MANUAL);
    s.start_tracing().unwrap();
    // Refused before anything else is looked at: an executor with nothing to run would
    // otherwise answer 0 rounds, and the context go unchecked.
    CONTEXT.set(2);
    assert_eq!(s.run_executor(0), Err(Error::NoSuchContext(2)));
    CONTEXT.set(0);
    let waiter = s.spawn(0, wait, 0).unwrap();
    s.spawn(0, yield_forever, 0).unwrap();
    assert_eq!(s.run_executor(0).unwrap(), 2);
    CONTEXT.set(2);
    assert_eq!(s.wake(waiter), Err(Error::NoSuchContext(2)));
    assert_eq!(s.spawn(0, wait, 0), Err(Error::NoSuchContext(2)));
    assert_eq!(s.run_executor(0), Err(Error::NoSuchContext(2)));
    assert_eq!(s.callback(|_| ()), Err(Error::NoSuchContext(2)));
    CONTEXT.set(0);
    assert_eq!(
        s.run_executor(0).unwrap(),
        1,
        "the refused wake queued the task"
    );
    s.wake(waiter).unwrap();
    assert_eq!(s.run_executor(0).unwrap(), 2);
    s.stop_tracing().unwrap();
    // Nothing of the refused calls reached the trace either: it reads whole.
    reads_whole(&s.with_encoder(|enc| enc.sink_mut().traces.concat()));
}

/// Reads every event of `trace` with our decoder, which panics on the first it refuses.
fn reads_whole(trace: &[u8]) {
    let mut reader = gotrace_decoder::Reader::new(trace).unwrap();
    while reader.read_event_ref().unwrap().is_some() {}
}

#[test]
fn an_executor_round_on_a_context_that_runs_a_goroutine_is_refused_and_changes_nothing() {
    // A callback that took no executor runs its goroutine on its context, in a blocking
    // operation: a round of an executor there took the executor (ProcStart), could not start a
    // task beside the callback's goroutine, and kept the executor; the callback's exit was then
    // refused (its context held a running executor), and the context and executor stayed
    // taken for good: no callback could run there again, and the executor's tasks never ran.
    let sim = Sim::new(Config::MANUAL);
    let s = sim.scheduler();
    s.start_tracing().unwrap();
    // With nothing queued too: the mistake is refused whether or not a task happens to wait.
    let round = s.callback(|_| s.run_executor(0)).unwrap();
    assert!(
        matches!(round, Err(Error::Transition { m: 0, .. })),
        "empty queue: {round:?}"
    );
    s.spawn(0, yield_forever, 0).unwrap();
    let round = s.callback(|_| s.run_executor(0)).unwrap();
    assert!(
        matches!(round, Err(Error::Transition { m: 0, .. })),
        "{round:?}"
    );
    // Everything as before: the callback's context is free, the executor idle with its task.
    assert_eq!(s.callback(|_| ()), Ok(()));
    assert_eq!(s.run_executor(0).unwrap(), 1);
    s.stop_tracing().unwrap();
    reads_whole(&s.with_encoder(|enc| enc.sink_mut().traces.concat()));
}

fn log_three_keys(cx: &mut TaskCx<'_>) -> Step {
    for key in ["a", "b", "c"] {
        cx.log(0, key, "v").unwrap();
    }
    Step::Done
}

/// The generations of a trace whose task logs under three keys, by a scheduler whose string and
/// stack tables hold `TABLE` entries; its trace is read whole.
fn generations_with_tables_of<const TABLE: usize>() -> u32 {
    let s: Scheduler<SimPlatform, Ticks, VecSink, 4, 1, 1, 256, TABLE> = Scheduler::new(
        SimPlatform::default(),
        Ticks(0),
        VecSink::default(),
        Config::MANUAL,
    );
    s.start_tracing().unwrap();
    s.spawn(0, log_three_keys, 0).unwrap();
    assert_eq!(s.run_executor(0).unwrap(), 1);
    s.stop_tracing().unwrap();
    s.with_encoder(|enc| {
        reads_whole(&enc.sink().traces[0]);
        enc.stats().generations
    })
}

#[test]
fn the_schedulers_last_parameter_sizes_the_encoders_tables() {
    // The default (32 entries) holds the four strings and one stack; two entries do not, and
    // each full table ends its generation early.
    assert_eq!(generations_with_tables_of::<32>(), 1);
    assert!(generations_with_tables_of::<2>() > 1);
}

/// What each task saw of itself: `(arg, context, executor)`.
static SEEN: std::sync::Mutex<Vec<(usize, usize, usize)>> = std::sync::Mutex::new(Vec::new());

fn note_where_it_runs(cx: &mut TaskCx<'_>) -> Step {
    SEEN.lock()
        .unwrap()
        .push((cx.arg(), cx.context(), cx.executor()));
    Step::Done
}

/// A task tells its work apart by its `arg`, and where it runs by its context and executor:
/// thread mode running executor 0, an interrupt level running executor 1.
#[test]
fn a_task_sees_its_arg_its_context_and_its_executor() {
    let sim = Sim::new(Config::MANUAL);
    let s = sim.scheduler();
    s.spawn(0, note_where_it_runs, 7).unwrap();
    s.spawn(1, note_where_it_runs, 9).unwrap();
    assert_eq!(s.run_executor(0).unwrap(), 1);
    let ran = s.platform().interrupt(2, || s.run_executor(1).unwrap());
    assert_eq!(ran, 1);
    assert_eq!(
        *SEEN.lock().unwrap(),
        [(7, 0, 0), (9, 2, 1)],
        "(arg, context, executor) of the task on executor 0, then on executor 1"
    );
}

/// A callback sees the interrupt level it runs at, shows what it took in `Debug`, and wakes a
/// waiting task as the scheduler's own `wake` does.
#[test]
fn a_callback_sees_its_context_shows_its_executor_and_wakes_tasks() {
    let sim = Sim::new(Config::MANUAL);
    let s = sim.scheduler();
    let waiter = s.spawn(0, wait, 0).unwrap();
    assert_eq!(s.run_executor(0).unwrap(), 1);
    assert!(!s.has_runnable(0), "the task waits");
    let (context, shown) = s.platform().interrupt(3, || {
        s.callback(|cb| {
            cb.take_executor(1).unwrap();
            cb.keep_executor_on_exit();
            cb.wake(waiter).unwrap();
            (cb.context(), format!("{cb:?}"))
        })
        .unwrap()
    });
    assert_eq!(context, 3, "the callback runs at interrupt level 3");
    assert_eq!(
        shown,
        "CallbackCx { m: 3, executor: Some(1), keep_executor: true, .. }"
    );
    assert!(
        s.has_runnable(0),
        "the callback's wake made the task runnable"
    );
    assert_eq!(s.run_executor(0).unwrap(), 1);
}

thread_local! {
    /// Calls of the simulated platform's preemption point on this thread.
    static PREEMPTION_POINTS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn offer_a_preemption_point(cx: &mut TaskCx<'_>) -> Step {
    let before = PREEMPTION_POINTS.get();
    cx.preemption_point();
    assert_eq!(
        PREEMPTION_POINTS.get(),
        before + 1,
        "a task's preemption point is the platform's"
    );
    Step::Done
}

/// A task's and a callback's `preemption_point` reach the platform's, where the simulator fires
/// its interrupts: a long task offers them so that interrupts land inside it.
#[test]
fn preemption_points_of_tasks_and_callbacks_reach_the_platform() {
    let sim = Sim::new(Config::MANUAL);
    let s = sim.scheduler();
    s.platform().set_hook(Some(std::rc::Rc::new(|| {
        PREEMPTION_POINTS.set(PREEMPTION_POINTS.get() + 1)
    })));
    s.spawn(0, offer_a_preemption_point, 0).unwrap();
    assert_eq!(s.run_executor(0).unwrap(), 1);
    let offered = s
        .callback(|cb| {
            let before = PREEMPTION_POINTS.get();
            cb.preemption_point();
            PREEMPTION_POINTS.get() - before
        })
        .unwrap();
    assert_eq!(
        offered, 1,
        "a callback's preemption point is the platform's"
    );
}

/// A dropped simulation frees its scheduler, which a preemption hook holding it (as the driver's
/// and the scenarios' do, through `current`) would otherwise keep alive in a cycle.
#[test]
fn a_dropped_simulation_frees_its_scheduler_and_its_hook() {
    let sim = Sim::new(Config::MANUAL);
    let sched = Rc::downgrade(sim.scheduler());
    let held = Rc::clone(sim.scheduler());
    sim.scheduler().platform().set_hook(Some(Rc::new(move || {
        let _ = &held;
    })));
    drop(sim);
    assert!(
        sched.upgrade().is_none(),
        "the scheduler outlived its simulation"
    );
}

/// The simulated clock counts at 64 MHz, and a coarse one at that over `2^shift`: the rate the
/// traces state.
#[test]
fn the_simulated_clock_counts_at_64_mhz() {
    assert_eq!(SIM_FREQUENCY, 64_000_000);
    let sim = Sim::new(Config::MANUAL);
    let hz = sim.scheduler().with_encoder(|e| e.clock_mut().frequency());
    assert_eq!(hz, SIM_FREQUENCY);
    let coarse = Sim::with_clock(Config::MANUAL, 1000, 37, 6);
    let hz = coarse
        .scheduler()
        .with_encoder(|e| e.clock_mut().frequency());
    assert_eq!(hz, 1_000_000);
}

/// A simulated platform shows its active interrupt levels and whether it has a hook.
#[test]
fn a_simulated_platform_shows_its_levels_and_hook() {
    let p = SimPlatform::default();
    p.set_hook(Some(Rc::new(|| {})));
    let shown = p.interrupt(2, || format!("{p:?}"));
    assert_eq!(
        shown,
        "SimPlatform { active: RefCell { value: [2] }, hook: true }"
    );
}
