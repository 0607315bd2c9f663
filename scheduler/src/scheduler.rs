//! The scheduler: a static task table, executors that run tasks from their run queues on
//! whichever context drives them, and the entry points for thread mode and interrupt handlers.
//!
//! Every operation is a short atomic step on the kernel state (see `kernel.rs`) followed, where
//! user code runs, by a call to the platform's preemption point; task and callback bodies run
//! outside any critical section, so interrupts stay enabled while they work.

#[cfg(feature = "trace")]
use gotrace_encoder::Encoder;
use gotrace_encoder::{Annotation, Clock, Config, GoSlot, GoStatus, ProcStatus, Shared, Sink};
use heapless::Deque;

use crate::context::{CallbackCx, Core, TaskCx};
use crate::error::Error;
use crate::kernel::Kernel;
use crate::platform::Platform;
use crate::task::{Task, TaskFn, TaskId};
#[cfg(feature = "trace")]
use crate::traced::Control;
use crate::traced::TracedMachine;

/// A cooperative scheduler for `TASKS` task slots, `PS` executors (Go's Ps) and `MS` execution
/// contexts (Go's Ms: thread mode and each interrupt level that calls into the scheduler),
/// tracing into batch buffers of `BUF` bytes per context (with the `trace` feature; without it
/// the clock, sink, configuration and `BUF` are unused, and none of the encoder's writing is
/// linked).
///
/// It is meant to be a `static`, shared by thread mode and interrupt handlers behind a
/// `critical-section` lock, which Rust allows only if the platform `X` is `Sync` and the clock
/// `C` and sink `S` are `Send`. A clock holding a timer register's address (`*const u32`) is
/// not `Send` by default: if it is the only code reading that register, say so with
/// `unsafe impl Send for MyClock {}` (as `gotrace-cortex-m-clock`'s `TraceClock` does).
///
/// The sizes are checked when the `static` is compiled (an error in `gotrace-encoder`'s
/// `VALID_SIZES` names the one that is wrong): `MS` at least 1, `TASKS + MS` below 65535, `PS`
/// below 65536, `BUF` from 64 to 65535 bytes, and `TABLE` 2 or more.
///
/// `TABLE` is the capacity of the encoder's string and stack tables (each name an annotation
/// uses is a string, each task's entry function a stack; 32 of each by default,
/// [`gotrace_encoder::TABLE_CAPACITY`]): a generation whose table fills ends early, so a firmware
/// with more names per generation raises it, and one short of RAM lowers it.
pub struct Scheduler<
    X,
    C,
    S,
    const TASKS: usize,
    const PS: usize,
    const MS: usize,
    const BUF: usize,
    const TABLE: usize = { gotrace_encoder::TABLE_CAPACITY },
> {
    platform: X,
    kernel: Shared<Kernel<C, S, TASKS, PS, MS, BUF, TABLE>>,
}

/// The sizes only: the state is behind the scheduler's lock, which a `Debug` call made while it is
/// held (from `with_encoder`'s closure, say) would find taken, and which formatting would hold
/// with interrupts masked. The encoder's own `Debug`, inside `with_encoder`, shows its state.
impl<
        X,
        C,
        S,
        const TASKS: usize,
        const PS: usize,
        const MS: usize,
        const BUF: usize,
        const TABLE: usize,
    > core::fmt::Debug for Scheduler<X, C, S, TASKS, PS, MS, BUF, TABLE>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Scheduler")
            .field("tasks", &TASKS)
            .field("executors", &PS)
            .field("contexts", &MS)
            .field("batch_bytes", &BUF)
            .field("table_entries", &TABLE)
            .finish_non_exhaustive()
    }
}

impl<
        X: Platform,
        C: Clock,
        S: Sink,
        const TASKS: usize,
        const PS: usize,
        const MS: usize,
        const BUF: usize,
        const TABLE: usize,
    > Scheduler<X, C, S, TASKS, PS, MS, BUF, TABLE>
{
    /// A scheduler with no tasks, every executor idle and tracing off. `const`, so it can be a
    /// `static` shared by thread mode and interrupt handlers.
    pub const fn new(platform: X, clock: C, sink: S, config: Config) -> Self {
        Scheduler {
            platform,
            kernel: Shared::new(Kernel {
                state: TracedMachine::new(clock, sink, config),
                tasks: [Task::FREE; TASKS],
                queues: [const { Deque::new() }; PS],
                user_tasks: 0,
            }),
        }
    }

    /// The current context, refused unless below `MS`. Checked here, before anything else, so
    /// that the compiler knows every later use of it in range: where the check was left to the
    /// first table look-up, the encoder's inline paths and the out-of-line functions they call
    /// checked it again, 2.3 instructions per traced scheduling event in the example firmware.
    fn context(&self) -> Result<usize, Error> {
        let m = self.platform.current_context();
        if m < MS {
            Ok(m)
        } else {
            Err(Error::NoSuchContext(m))
        }
    }

    /// The [`crate::Platform`] given to [`Scheduler::new`].
    pub fn platform(&self) -> &X {
        &self.platform
    }

    /// Runs `f` on the encoder, atomically (statistics, the sink, the clock, the configuration,
    /// goroutine IDs for tests). Its event methods are the scheduler's to call: an event written
    /// from here records no state change of the scheduler's, and Go's parser may refuse the trace.
    ///
    /// # Panics
    ///
    /// If `f` calls into this scheduler (its lock is held), as does a `Sink` or `Clock` that does.
    #[cfg(feature = "trace")]
    pub fn with_encoder<R>(
        &self,
        f: impl FnOnce(&mut Encoder<C, S, TASKS, PS, MS, BUF, TABLE>) -> R,
    ) -> R {
        self.kernel.with(|k| f(&mut k.state.trace))
    }

    /// Creates a task on `executor` running `entry`, with `arg` available as [`TaskCx::arg`].
    ///
    /// From a running task or a callback holding an executor, this is its `GoCreate`. From a
    /// context that holds no executor and runs no goroutine (start-up code, an interrupt handler
    /// outside a callback), the target executor is taken for the creation and released (stolen
    /// first if a blocked task holds it; refused with [`Error::ExecutorBusy`] if it is running).
    pub fn spawn(&self, executor: usize, entry: TaskFn, arg: usize) -> Result<TaskId, Error> {
        let m = self.context()?;
        self.kernel.with(|k| {
            if executor >= PS {
                return Err(Error::NoSuchExecutor(executor));
            }
            let t = (0..TASKS)
                .find(|&t| {
                    k.tasks[t].entry.is_none()
                        && k.state.machine.go(GoSlot::Task(t)) == Ok(GoStatus::Dead)
                })
                .ok_or(Error::TableFull)?;
            k.state.spawn(m, executor, t, entry as usize as u64)?;
            k.tasks[t] = Task {
                entry: Some(entry),
                arg,
                executor,
                woken: false,
            };
            k.enqueue(executor, t)?;
            Ok(TaskId(t))
        })
    }

    /// Wakes `task` from any context: a waiting task becomes runnable (`GoUnblock`); a wake for
    /// a task that is not waiting is remembered until it next returns [`crate::Step::Wait`].
    pub fn wake(&self, task: TaskId) -> Result<(), Error> {
        let m = self.context()?;
        self.kernel.with(|k| {
            let t = task.0;
            let slot = *k.tasks.get(t).ok_or(Error::NoSuchTask(t))?;
            if slot.entry.is_none() {
                return Err(Error::NoSuchTask(t));
            }
            match k.state.machine.go(GoSlot::Task(t))? {
                GoStatus::Waiting => {
                    k.state.go_unblock(m, GoSlot::Task(t))?;
                    k.enqueue(slot.executor, t)
                }
                _ => {
                    k.tasks[t].woken = true;
                    Ok(())
                }
            }
        })
    }

    /// Whether `executor` has tasks waiting to run (an executor not below `PS` has none). An idle
    /// loop deciding whether to sleep wants [`Scheduler::idle`], which looks and sleeps in one
    /// step.
    #[must_use]
    pub fn has_runnable(&self, executor: usize) -> bool {
        self.kernel
            .with(|k| k.queues.get(executor).is_some_and(|q| !q.is_empty()))
    }

    /// Runs one round of `executor`'s runnable tasks on the current context (each task queued
    /// when the round starts runs once; tasks that yield run again next round), then releases
    /// the executor. Returns how many task steps ran.
    ///
    /// From thread mode this is the main loop's body. From an interrupt it is an interrupt-level
    /// executor: if a task stuck in a blocking operation holds the executor, the interrupt steals
    /// it (`ProcSteal`) so the other tasks run meanwhile. Returns 0 without touching anything if
    /// nothing is runnable, or if the executor is running on an interrupted context; from a
    /// context beyond `MS`, [`Error::NoSuchContext`] in either case. Refused
    /// ([`Error::Transition`], nothing changed) from inside a callback or a blocking operation
    /// on the same context, whose goroutine the round's tasks cannot run beside.
    pub fn run_executor(&self, executor: usize) -> Result<usize, Error> {
        let m = self.context()?;
        let round = self.kernel.with(|k| {
            let Some(queue) = k.queues.get(executor) else {
                return Err(Error::NoSuchExecutor(executor));
            };
            let queued = queue.len();
            // A goroutine on this context (a callback's, or a task's whose blocking operation
            // lost its executor) leaves no room for the round's tasks. Refused before the
            // executor is taken: taken, it stayed held when the first task could not start, and
            // a callback's exit was then refused, its context and the executor lost for good.
            // Refused with an empty queue too, so that the mistake shows in the first test run,
            // not only once tasks happen to be queued.
            if k.state.machine.running(m)?.is_some() {
                return Err(Error::Transition {
                    m,
                    what: "executor round: the context runs a goroutine",
                });
            }
            if queued == 0 {
                return Ok(0);
            }
            match k.state.acquire(m, executor) {
                Ok(()) => Ok(queued),
                Err(Error::ExecutorBusy(_)) => Ok(0),
                Err(e) => Err(e),
            }
        })?;
        if round == 0 {
            return Ok(0);
        }
        let mut ran = 0;
        loop {
            self.platform.preemption_point();
            let next = self.kernel.with(|k| {
                Ok::<_, Error>(match k.next_task(m, executor, ran < round)? {
                    Some(t) => Some((t, k.tasks[t])),
                    None => None,
                })
            })?;
            let Some((t, task)) = next else {
                return Ok(ran);
            };
            let Some(entry) = task.entry else {
                return Err(Error::NoSuchTask(t));
            };
            let mut cx = TaskCx::new(self, TaskId(t), task.arg, m, executor);
            let step = entry(&mut cx);
            self.platform.preemption_point();
            self.kernel.with(|k| k.finish(m, executor, t, step))?;
            ran += 1;
        }
    }

    /// The thread-mode main loop: runs `executor` forever, idling when it has nothing to do.
    pub fn run(&self, executor: usize) -> Result<core::convert::Infallible, Error> {
        loop {
            if self.run_executor(executor)? == 0 {
                self.idle(executor);
            }
        }
    }

    /// Thread mode's sleep when a round ran nothing: sleeps until an interrupt
    /// ([`Platform::idle`], `wfi`) unless `executor` has tasks waiting to run, looking and
    /// sleeping in one critical section. Looked at first and slept on after, an interrupt's wake
    /// landing in between left its task queued while thread mode slept until some later
    /// interrupt, or for ever when none was to come. `wfi` wakes on an interrupt made pending
    /// while interrupts are masked; it is taken as the section ends. An executor not below `PS`
    /// has nothing to run, so idling on it just sleeps: [`Scheduler::run_executor`] is the call
    /// that refuses it.
    pub fn idle(&self, executor: usize) {
        critical_section::with(|_| {
            if !self.has_runnable(executor) {
                self.platform.idle();
            }
        });
    }

    /// Runs `f` as an interrupt callback: tracked code in an interrupt handler. Its goroutine is
    /// created in a blocking operation (`GoCreateSyscall`) and destroyed on return
    /// (`GoDestroySyscall`), with the same M and goroutine ID every time the interrupt fires.
    /// See [`CallbackCx`] for taking an executor inside the callback.
    pub fn callback<R>(&self, f: impl FnOnce(&mut CallbackCx<'_>) -> R) -> Result<R, Error> {
        let m = self.context()?;
        self.kernel.with(|k| k.state.callback_enter(m))?;
        let mut cx = CallbackCx::new(self, m);
        let result = f(&mut cx);
        self.platform.preemption_point();
        let (executor, keep) = cx.exit_plan();
        self.kernel.with(|k| {
            if let Some(p) = executor {
                // The callback's goroutine leaves through a blocking operation, as a cgo
                // callback returning to C does; the executor is then given up (self-steal) or
                // left for a later steal.
                k.state.syscall_begin(m)?;
                if !keep {
                    k.state.steal(m, p)?;
                }
            }
            k.state.callback_exit(m)?;
            Ok::<_, Error>(())
        })?;
        Ok(result)
    }

    /// Starts tracing (a new trace: header, generation 1, every status re-stated).
    #[cfg(feature = "trace")]
    pub fn start_tracing(&self) -> Result<(), Error> {
        self.control(Control::Start)
    }

    /// Stops tracing: the current generation is completed and the trace ends.
    #[cfg(feature = "trace")]
    pub fn stop_tracing(&self) -> Result<(), Error> {
        self.control(Control::Stop)
    }

    /// Ends the current generation now.
    #[cfg(feature = "trace")]
    pub fn advance_generation(&self) -> Result<(), Error> {
        self.control(Control::Advance)
    }

    /// The tracing controls, behind one critical section: on a device each of them would
    /// otherwise inline its own (and its own reading of the current context).
    #[cfg(feature = "trace")]
    #[inline(never)]
    fn control(&self, what: Control) -> Result<(), Error> {
        let m = self.context()?;
        self.kernel.with(|k| k.state.control(m, what))
    }

    /// The simulator's journal of every change the scheduler made (see `sim::journal`).
    #[cfg(feature = "sim")]
    pub fn journal(&self) -> Vec<crate::sim::journal::Entry> {
        self.kernel.with(|k| k.state.journal.entries().to_vec())
    }

    /// Whether a trace is being written (started and not stopped).
    #[must_use]
    #[cfg(feature = "trace")]
    pub fn is_tracing(&self) -> bool {
        self.kernel.with(|k| k.state.trace.is_tracing())
    }
}

impl<
        X: Platform,
        C: Clock,
        S: Sink,
        const TASKS: usize,
        const PS: usize,
        const MS: usize,
        const BUF: usize,
        const TABLE: usize,
    > Core for Scheduler<X, C, S, TASKS, PS, MS, BUF, TABLE>
{
    fn preemption_point(&self) {
        self.platform.preemption_point();
    }

    fn blocking_begin(&self, m: usize) -> Result<(), Error> {
        self.kernel.with(|k| k.state.syscall_begin(m).map(drop))
    }

    fn release_own(&self, m: usize, p: usize) -> Result<(), Error> {
        self.kernel.with(|k| {
            // Only if it is still ours: an interrupt may have stolen it meanwhile, and a
            // callback may even have left it abandoned. Giving it up is a steal from ourselves,
            // never a ProcStop (Go commit b6b72c7).
            let ours = k.state.machine.proc(p)? == ProcStatus::Syscall
                && k.state.machine.proc_owner(p)? == Some(m);
            if ours {
                k.state.steal(m, p)?;
            }
            Ok(())
        })
    }

    fn blocking_end(&self, m: usize, g: GoSlot, p: usize) -> Result<(), Error> {
        self.kernel.with(|k| {
            if k.state.syscall_end(m)? {
                return Ok(());
            }
            // The executor was taken meanwhile. Every context that preempted us has returned, so
            // it is idle or abandoned again: take it back and carry on.
            k.state.acquire(m, p)?;
            k.state.go_start(m, g)?;
            Ok(())
        })
    }

    fn take_executor(&self, m: usize, p: usize) -> Result<(), Error> {
        self.kernel.with(|k| {
            if p >= PS {
                return Err(Error::NoSuchExecutor(p));
            }
            k.state.acquire(m, p)?;
            // The callback's goroutine leaves its blocking operation onto the executor.
            k.state.syscall_end(m)?;
            k.state.go_start(m, GoSlot::Callback(m))?;
            Ok(())
        })
    }

    fn wake(&self, task: TaskId) -> Result<(), Error> {
        Scheduler::wake(self, task)
    }

    fn spawn(&self, executor: usize, entry: TaskFn, arg: usize) -> Result<TaskId, Error> {
        Scheduler::spawn(self, executor, entry, arg)
    }

    fn annotate(&self, m: usize, a: Annotation) -> Result<(), Error> {
        self.kernel.with(|k| k.state.annotate(m, a))
    }

    fn task_begin(&self, m: usize, parent: u64, name: &'static str) -> Result<u64, Error> {
        self.kernel.with(|k| k.task_begin(m, parent, name))
    }
}
