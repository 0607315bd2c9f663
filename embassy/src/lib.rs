//! Traces an [Embassy](https://embassy.dev) firmware in Go's execution-trace format, through
//! `embassy-executor`'s `trace` hooks: every executor is one of Go's Ps, every task a goroutine,
//! every poll a `GoStart` ended by a `GoStop` (woken during the poll) or a `GoBlock` (pending), every
//! wake a `GoUnblock`, every spawn a `GoCreate` and every finished task a `GoDestroy`.
//!
//! Embassy's hooks are seven `extern "Rust"` functions that a firmware built with
//! `embassy-executor`'s feature `trace` must define. [`embassy_trace_hooks!`] defines them, each
//! calling a [`Tracer`] (a [`gotrace_scheduler::TracedMachine`] with the tables that map Embassy's
//! executor and task IDs onto its executors and task slots) inside its lock:
//!
//! ```
//! use gotrace_embassy::{embassy_trace_hooks, Tracer};
//! use gotrace_scheduler::encoder::Shared;
//! use gotrace_scheduler::Config;
//! # use gotrace_scheduler::encoder::VecSink as MySink;
//! # struct MyClock(u32);
//! # impl MyClock { const fn new() -> Self { MyClock(0) } }
//! # impl gotrace_scheduler::Clock for MyClock {
//! #     fn now(&mut self) -> u32 { self.0 += 10; self.0 }
//! #     fn frequency(&self) -> u64 { 1_000_000 }
//! # }
//! # const INTERRUPT_EXECUTOR_IRQ: usize = 30;
//! # fn active_exception() -> usize { 0 }
//!
//! // 8 task slots, 2 executors, 3 contexts (thread mode, two interrupt levels), 512-byte batches.
//! static TRACER: Shared<Tracer<MyClock, MySink, 8, 2, 3, 512>> =
//!     Shared::new(Tracer::new(MyClock::new(), MySink::new(), Config::MANUAL));
//!
//! /// The context a hook runs on: thread mode, and each interrupt level that polls an executor
//! /// or wakes a task. On a Cortex-M the active exception is ICSR's VECTACTIVE.
//! fn context() -> usize {
//!     match active_exception() {
//!         0 => 0,                                // thread mode: the thread executor
//!         15 => 1,                               // SysTick, which wakes tasks
//!         n if n == 16 + INTERRUPT_EXECUTOR_IRQ => 2, // the interrupt executor's IRQ
//!         _ => usize::MAX,                       // any other: its hooks are refused, counted
//!     }
//! }
//!
//! embassy_trace_hooks!(TRACER, context());
//!
//! fn main() -> Result<(), gotrace_scheduler::Error> {
//!     // Once the sink and clock are ready (an RTT channel, a timer), before or after the
//!     // executors start:
//!     TRACER.with(|t| t.machine_mut().start_tracing(0))?;
//!     Ok(())
//! }
//! ```
//!
//! The hooks are to be defined from the firmware's first instruction on, tracing on or off: the
//! machine follows every task from its spawn, and a trace started later states each task's state
//! at its first generation.
//!
//! Executors are given Ps in the order they first poll or spawn; a context takes its executor's P
//! at its first task poll of a round (a round that polls nothing writes nothing) and gives it up
//! when the round ends. A task is named after the address Embassy gives as its ID, its
//! `#[embassy_executor::task]`'s pool: `gotrace record` and `gotrace symbolize` name a creation
//! stack whose PC lies in a `…::POOL` static after the task function holding it.
//!
//! A hook the state does not allow (the task table full at a spawn, a spawn from an interrupt
//! while every executor polls elsewhere) changes nothing and writes nothing; the tracer counts it
//! and keeps the first ([`Tracer::refusals`]), for the firmware to report.

#![no_std]

use core::num::NonZeroU32;

use gotrace_scheduler::encoder::{Clock, Config, GoSlot, GoStatus, ProcStatus, Scheduling, Sink};
use gotrace_scheduler::{Error, TracedMachine};

/// One of `embassy-executor`'s trace hooks, as [`Tracer::hook`] takes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Hook {
    /// `_embassy_trace_task_new`: a task was spawned.
    TaskNew,
    /// `_embassy_trace_task_ready_begin`: a task was woken and queued.
    TaskReady,
    /// `_embassy_trace_task_exec_begin`: a task's poll begins.
    ExecBegin,
    /// `_embassy_trace_task_exec_end`: a task's poll returned.
    ExecEnd,
    /// `_embassy_trace_task_end`: a task's future completed (inside its last poll).
    TaskEnd,
    /// `_embassy_trace_executor_idle`: an executor's poll round ended.
    ExecutorIdle,
}

/// The hooks the state did not allow: how many, and the first one with its reason.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Refusals {
    /// Refused hooks since start-up (saturating).
    pub count: u32,
    /// The first refused hook and why.
    pub first: Option<(Hook, Error)>,
}

/// Embassy's executors and tasks as Go's Ps and goroutines: a [`TracedMachine`] of `TASKS` task
/// slots, `PS` executors and `MS` contexts (batches of `BUF` bytes per context, string and stack
/// tables of `TABLE` entries), and the tables mapping Embassy's IDs onto them.
///
/// `TASKS` bounds the tasks alive at once (a finished task's slot is reused); `PS` the executors,
/// plus one if tasks are spawned from an interrupt while every executor polls on another context
/// (a creation needs a P: an idle one is taken for it). Make it a `static` inside the encoder's
/// `Shared` and define the hooks with [`embassy_trace_hooks!`].
pub struct Tracer<
    C,
    S,
    const TASKS: usize,
    const PS: usize,
    const MS: usize,
    const BUF: usize,
    const TABLE: usize = { gotrace_scheduler::encoder::TABLE_CAPACITY },
> {
    machine: TracedMachine<C, S, TASKS, PS, MS, BUF, TABLE>,
    /// Embassy's ID of the executor each P stands for; `None` for a P no executor has claimed.
    executors: [Option<NonZeroU32>; PS],
    /// Embassy's ID of the task in each slot; `None` for a free slot, and for a task whose ID
    /// Embassy handed on to a new spawn before its own end hook came.
    tasks: [Option<NonZeroU32>; TASKS],
    /// Queued since its poll began: woken during the poll (it is polled again), or woken while
    /// runnable (no event). Embassy queues a task once, so one flag counts every wake.
    queued: [bool; TASKS],
    refusals: Refusals,
}

impl<
        C: Clock,
        S: Sink,
        const TASKS: usize,
        const PS: usize,
        const MS: usize,
        const BUF: usize,
        const TABLE: usize,
    > Tracer<C, S, TASKS, PS, MS, BUF, TABLE>
{
    /// No executor or task known yet, tracing off. `const`, so it can be a `static`.
    pub const fn new(clock: C, sink: S, config: Config) -> Self {
        Tracer {
            machine: TracedMachine::new(clock, sink, config),
            executors: [None; PS],
            tasks: [None; TASKS],
            queued: [false; TASKS],
            refusals: Refusals {
                count: 0,
                first: None,
            },
        }
    }

    /// The state machine: the current state through its `Scheduling` methods, the encoder's
    /// statistics.
    pub fn machine(&self) -> &TracedMachine<C, S, TASKS, PS, MS, BUF, TABLE> {
        &self.machine
    }

    /// The state machine, for the tracing controls (`start_tracing`, `stop_tracing`,
    /// `advance_generation`), annotations and the encoder's sink and clock. Its scheduling calls
    /// are the hooks' to make: a task started or woken from here is not one Embassy knows.
    pub fn machine_mut(&mut self) -> &mut TracedMachine<C, S, TASKS, PS, MS, BUF, TABLE> {
        &mut self.machine
    }

    /// The hooks refused since start-up.
    pub fn refusals(&self) -> Refusals {
        self.refusals
    }

    /// Applies one of Embassy's hooks made on context `m`, counting a refusal rather than
    /// returning it: a hook has no caller to return it to.
    pub fn hook(&mut self, hook: Hook, m: usize, executor_id: u32, task_id: u32) {
        let done = match hook {
            Hook::TaskNew => self.task_new(m, executor_id, task_id),
            Hook::TaskReady => self.task_ready(m, task_id),
            Hook::ExecBegin => self.exec_begin(m, executor_id, task_id),
            Hook::ExecEnd => self.exec_end(m, task_id),
            Hook::TaskEnd => self.task_end(m, task_id),
            Hook::ExecutorIdle => self.executor_idle(m),
        };
        if let Err(error) = done {
            self.refusals.count = self.refusals.count.saturating_add(1);
            self.refusals.first.get_or_insert((hook, error));
        }
    }

    /// A spawn: `GoCreate` into a free slot, its stack the task's ID (the address of its storage
    /// in its pool, which names it). From a context that holds no P (start-up code, an interrupt)
    /// a P is taken for the creation: the task's executor's if it is idle, else any idle one.
    pub fn task_new(&mut self, m: usize, executor_id: u32, task_id: u32) -> Result<(), Error> {
        let id = NonZeroU32::new(task_id);
        // Embassy frees a finished task's storage before its end hook: a spawn into it may come
        // first, from an interrupt. The ID is the new task's from here; the old one's end is
        // found by its context.
        if let Some(old) = self.slot_of(task_id) {
            self.tasks[old] = None;
        }
        let slot = (0..TASKS)
            .find(|&s| {
                self.tasks[s].is_none() && self.machine.go_status(GoSlot::Task(s)) == GoStatus::Dead
            })
            .ok_or(Error::TableFull)?;
        let mut p = self.executor(executor_id)?;
        if self.machine.context_proc(m).is_none()
            && self.machine.proc_status(p) == ProcStatus::Running
        {
            p = (0..PS)
                .find(|&q| self.machine.proc_status(q) != ProcStatus::Running)
                .ok_or(Error::ExecutorBusy(p))?;
        }
        self.machine.spawn(m, p, slot, u64::from(task_id))?;
        self.tasks[slot] = id;
        self.queued[slot] = false;
        Ok(())
    }

    /// A wake: `GoUnblock` for a waiting task, from any context; a task running or already
    /// runnable is only noted as queued. A stale waker of a finished task writes nothing.
    pub fn task_ready(&mut self, m: usize, task_id: u32) -> Result<(), Error> {
        let Some(slot) = self.slot_of(task_id) else {
            return Ok(());
        };
        self.queued[slot] = true;
        let g = GoSlot::Task(slot);
        if self.machine.go_status(g) == GoStatus::Waiting {
            self.machine.go_unblock(m, g)?;
        }
        Ok(())
    }

    /// A poll begins: the context takes its executor's P if it holds none (`ProcStart`), and
    /// starts the task (`GoStart`). A waiting task woken without a hook (Embassy's
    /// `wake_task_no_pend`) is unblocked first.
    pub fn exec_begin(&mut self, m: usize, executor_id: u32, task_id: u32) -> Result<(), Error> {
        let Some(slot) = self.slot_of(task_id) else {
            return Ok(());
        };
        self.queued[slot] = false;
        if self.machine.context_proc(m).is_none() {
            let p = self.executor(executor_id)?;
            self.machine.acquire(m, p)?;
        }
        let g = GoSlot::Task(slot);
        if self.machine.go_status(g) == GoStatus::Waiting {
            self.machine.go_unblock(m, g)?;
        }
        self.machine.go_start(m, g)
    }

    /// A poll returned: `GoStop` if the task was woken meanwhile (it is queued again), else
    /// `GoBlock`. After the task's end (inside its last poll) there is nothing left to do.
    pub fn exec_end(&mut self, m: usize, task_id: u32) -> Result<(), Error> {
        let Some(slot) =
            self.running_slot(m, task_id, "task_exec_end: the context runs another task")?
        else {
            return Ok(());
        };
        let status = if self.queued[slot] {
            GoStatus::Runnable
        } else {
            GoStatus::Waiting
        };
        self.machine.go_leave(m, status)
    }

    /// A task's future completed: `GoDestroy`, and its slot is free.
    pub fn task_end(&mut self, m: usize, task_id: u32) -> Result<(), Error> {
        let Some(slot) =
            self.running_slot(m, task_id, "task_end: the context runs another task")?
        else {
            return Ok(());
        };
        self.tasks[slot] = None;
        self.machine.go_leave(m, GoStatus::Dead)
    }

    /// A poll round ended: the context gives up the P it took (`ProcStop`).
    pub fn executor_idle(&mut self, m: usize) -> Result<(), Error> {
        if self.machine.context_proc(m).is_some() {
            self.machine.proc_stop(m)?;
        }
        Ok(())
    }

    /// The slot of the task Embassy calls `task_id`, if it is one this tracer follows.
    fn slot_of(&self, task_id: u32) -> Option<usize> {
        let id = NonZeroU32::new(task_id)?;
        self.tasks.iter().position(|&t| t == Some(id))
    }

    /// The slot of the task running on context `m`, checked to be `task_id` (or a task whose ID
    /// went on to a new spawn); `None` if the context runs none: a task this tracer does not
    /// follow, or one whose end was its last event.
    fn running_slot(
        &self,
        m: usize,
        task_id: u32,
        another: &'static str,
    ) -> Result<Option<usize>, Error> {
        match self.machine.context_go(m) {
            Some(GoSlot::Task(slot)) => match self.tasks[slot] {
                Some(id) if id.get() != task_id => Err(Error::Transition { m, what: another }),
                _ => Ok(Some(slot)),
            },
            _ => Ok(None),
        }
    }

    /// The P standing for executor `executor_id`: the one it claimed, or the first unclaimed.
    fn executor(&mut self, executor_id: u32) -> Result<usize, Error> {
        let id = NonZeroU32::new(executor_id).ok_or(Error::NoSuchExecutor(PS))?;
        if let Some(p) = self.executors.iter().position(|&e| e == Some(id)) {
            return Ok(p);
        }
        let p = self
            .executors
            .iter()
            .position(Option::is_none)
            .ok_or(Error::NoSuchExecutor(PS))?;
        self.executors[p] = Some(id);
        Ok(p)
    }
}

/// Defines `embassy-executor`'s seven trace hooks, each applying its hook to the [`Tracer`] in
/// the `Shared` static `$tracer`, on the context `$context` evaluates to (an expression of type
/// `usize`, evaluated in each hook: 0 in thread mode, one per interrupt level).
///
/// Use it once, in the firmware's binary crate, with `embassy-executor`'s feature `trace` on.
/// A hook runs inside the tracer's lock: a waker called from inside `$tracer.with(...)` would take
/// it a second time (`RefCell`'s panic); wake tasks outside it.
#[macro_export]
macro_rules! embassy_trace_hooks {
    ($tracer:path, $context:expr) => {
        // Where an executor's round begins it has no task to show: the P is taken at its first
        // task poll.
        #[unsafe(no_mangle)]
        fn _embassy_trace_poll_start(_executor_id: u32) {}

        #[unsafe(no_mangle)]
        fn _embassy_trace_task_new(executor_id: u32, task_id: u32) {
            $crate::__hook!($tracer, $context, TaskNew, executor_id, task_id);
        }

        #[unsafe(no_mangle)]
        fn _embassy_trace_task_ready_begin(executor_id: u32, task_id: u32) {
            $crate::__hook!($tracer, $context, TaskReady, executor_id, task_id);
        }

        #[unsafe(no_mangle)]
        fn _embassy_trace_task_exec_begin(executor_id: u32, task_id: u32) {
            $crate::__hook!($tracer, $context, ExecBegin, executor_id, task_id);
        }

        #[unsafe(no_mangle)]
        fn _embassy_trace_task_exec_end(executor_id: u32, task_id: u32) {
            $crate::__hook!($tracer, $context, ExecEnd, executor_id, task_id);
        }

        #[unsafe(no_mangle)]
        fn _embassy_trace_task_end(executor_id: u32, task_id: u32) {
            $crate::__hook!($tracer, $context, TaskEnd, executor_id, task_id);
        }

        #[unsafe(no_mangle)]
        fn _embassy_trace_executor_idle(executor_id: u32) {
            $crate::__hook!($tracer, $context, ExecutorIdle, executor_id, 0);
        }
    };
}

/// One hook's body for [`embassy_trace_hooks!`].
#[doc(hidden)]
#[macro_export]
macro_rules! __hook {
    ($tracer:path, $context:expr, $hook:ident, $executor_id:expr, $task_id:expr) => {{
        let m: usize = $context;
        $tracer.with(|tracer| tracer.hook($crate::Hook::$hook, m, $executor_id, $task_id));
    }};
}
