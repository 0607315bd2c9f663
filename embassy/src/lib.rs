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
//! while every executor polls elsewhere) changes nothing and writes nothing. The sink counts it
//! ([`Sink::untraced`]: `gotrace-rtt`'s in its end record, which `gotrace record` reports as
//! lost), and so does the tracer's own record, with the first refusal and why ([`refusals`]),
//! for the firmware to log.

#![no_std]

use core::cell::Cell;
use core::num::NonZeroU32;

use gotrace_scheduler::encoder::{
    Clock, Config, GoSlot, GoStatus, ProcStatus, Scheduling, Shared, Sink,
};
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

/// The hooks [`embassy_trace_hooks!`] did not apply: those the state did not allow (how many,
/// and the first with its reason), and those made from inside the tracer's lock.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Refusals {
    /// Refused hooks since start-up (saturating).
    pub count: u32,
    /// The first refused hook and why.
    pub first: Option<(Hook, Error)>,
    /// Hooks made while the tracer's lock was held, by code running inside it: a sink that wakes
    /// the task draining it, a waker called inside `TRACER.with(...)`. They cannot be applied
    /// there; a wake lost so shows as an unblock at the task's next poll, by the polling context
    /// (saturating).
    pub reentered: u32,
}

/// The firmware's record of hooks not applied: its hooks are one set, defined once. Apart from
/// the tracer, whose state is then all zeros at start (in `.bss`, no flash image), where a `None`
/// refusal's niche would put its whole image in `.data`.
static REFUSALS: critical_section::Mutex<Cell<Refusals>> =
    critical_section::Mutex::new(Cell::new(Refusals {
        count: 0,
        first: None,
        reentered: 0,
    }));

/// The hooks [`embassy_trace_hooks!`] did not apply since start-up.
pub fn refusals() -> Refusals {
    critical_section::with(|cs| REFUSALS.borrow(cs).get())
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
    /// Enqueues (wake hooks) not yet matched by a poll: 1 for a task queued to run (woken while
    /// waiting, or during its poll: it runs again), 2 when an interrupt woke it again between
    /// its dequeue and its poll's hook (Embassy queues a task only while it is not queued, so
    /// never more). `wake_task_no_pend`'s enqueues come without a hook and are not counted.
    enqueued: [u8; TASKS],
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
    /// [`Tracer::home`]'s scaling of a 16-bit hash to a slot holds for up to 2^16 slots: checked
    /// where a tracer is made, at compile time.
    const SLOTS_HASHABLE: () = assert!(TASKS <= 1 << 16, "at most 65536 task slots");

    /// No executor or task known yet, tracing off. `const`, so it can be a `static`.
    pub const fn new(clock: C, sink: S, config: Config) -> Self {
        let () = Self::SLOTS_HASHABLE;
        Tracer {
            machine: TracedMachine::new(clock, sink, config),
            executors: [None; PS],
            tasks: [None; TASKS],
            enqueued: [0; TASKS],
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

    /// The goroutine slot Embassy's task `task_id` is followed in, if it is one this tracer
    /// follows: for a firmware's own checks and annotations. (The trace names the goroutine by
    /// an ID the encoder hands out at its creation, not by the slot.)
    pub fn goroutine(&self, task_id: u32) -> Option<GoSlot> {
        self.slot_of(task_id).map(GoSlot::Task)
    }

    /// What each hook of [`embassy_trace_hooks!`] calls: applies `hook`, made on context `m`, to
    /// the tracer in `tracer`, or records it in [`refusals`] (refused, or made while the lock was
    /// held). Out of line, one copy for the seven hooks, each of which only names itself.
    #[inline(never)]
    pub fn apply_hook(tracer: &Shared<Self>, hook: Hook, m: usize, executor_id: u32, task_id: u32) {
        let refused = match tracer.try_with(|t| t.hook(hook, m, executor_id, task_id)) {
            Some(Ok(())) => return,
            Some(Err(error)) => Some((hook, error)),
            None => None,
        };
        critical_section::with(|cs| {
            let record = REFUSALS.borrow(cs);
            let mut refusals = record.get();
            match refused {
                Some(first) => {
                    refusals.count = refusals.count.saturating_add(1);
                    refusals.first.get_or_insert(first);
                }
                None => refusals.reentered = refusals.reentered.saturating_add(1),
            }
            record.set(refusals);
        });
    }

    /// Applies one of Embassy's hooks made on context `m`; a refused one changes nothing and
    /// writes nothing but is counted by the sink ([`Sink::untraced`]): Embassy made the change
    /// all the same, and the trace lacks it, so the sink's end record tells the host. A hook
    /// from a context beyond `MS` (an exception the context function does not map) is refused
    /// whatever it is: a wake from there counted as queued, or a task's end there taken for
    /// nothing to do, would change the tracer's state unseen.
    pub fn hook(
        &mut self,
        hook: Hook,
        m: usize,
        executor_id: u32,
        task_id: u32,
    ) -> Result<(), Error> {
        let applied = if m >= MS {
            Err(Error::NoSuchContext(m))
        } else {
            match hook {
                Hook::TaskNew => self.task_new(m, executor_id, task_id),
                Hook::TaskReady => self.task_ready(m, task_id),
                Hook::ExecBegin => self.exec_begin(m, executor_id, task_id),
                Hook::ExecEnd => self.exec_end(m, task_id),
                Hook::TaskEnd => self.task_end(m, task_id),
                Hook::ExecutorIdle => self.executor_idle(m, executor_id),
            }
        };
        if applied.is_err() {
            self.machine.encoder_mut().sink_mut().untraced(1);
        }
        applied
    }

    /// A spawn: `GoCreate` into a free slot, its stack the task's ID (the address of its storage
    /// in its pool, which names it). From a context that holds no P (start-up code, an interrupt)
    /// a P is taken for the creation: the task's executor's if it is idle, else any idle one.
    pub fn task_new(&mut self, m: usize, executor_id: u32, task_id: u32) -> Result<(), Error> {
        // Embassy's IDs are addresses, never 0: a task of ID 0 could not be found again, and its
        // slot would be lost.
        let id = NonZeroU32::new(task_id).ok_or(Error::Transition {
            m,
            what: "task_new: task ID 0",
        })?;
        let free = |s: usize| {
            self.tasks[s].is_none() && self.machine.go_status(GoSlot::Task(s)) == GoStatus::Dead
        };
        // The first free slot from where its look-ups start.
        let home = Self::home(task_id);
        let slot = (home..TASKS)
            .chain(0..home)
            .find(|&s| free(s))
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
        // Embassy frees a finished task's storage before its end hook: a spawn into it may come
        // first, from an interrupt. The ID is the new task's from here; the old one's end is
        // found by its context.
        if let Some(old) = self.slot_of(task_id) {
            self.tasks[old] = None;
        }
        self.tasks[slot] = Some(id);
        self.enqueued[slot] = 0;
        Ok(())
    }

    /// A wake: `GoUnblock` for a waiting task, from any context; a task running or already
    /// runnable is only counted as queued (a wake of a running task shows as its `GoStop`). A
    /// stale waker of a finished task writes nothing.
    pub fn task_ready(&mut self, m: usize, task_id: u32) -> Result<(), Error> {
        let Some(slot) = self.slot_of(task_id) else {
            return Ok(());
        };
        self.enqueued[slot] = self.enqueued[slot].saturating_add(1);
        let g = GoSlot::Task(slot);
        if self.machine.go_status(g) == GoStatus::Waiting {
            self.machine.go_unblock(m, g)?;
        }
        Ok(())
    }

    /// A poll begins: the context takes its executor's P if it holds none (`ProcStart`), and
    /// starts the task (`GoStart`). A waiting task woken without a hook (Embassy's
    /// `wake_task_no_pend`) is unblocked first. An executor polled from inside another's task on
    /// the same context cannot be shown (one goroutine runs on a context at a time): refused.
    pub fn exec_begin(&mut self, m: usize, executor_id: u32, task_id: u32) -> Result<(), Error> {
        let Some(slot) = self.slot_of(task_id) else {
            return Ok(());
        };
        let g = GoSlot::Task(slot);
        // Checked before anything is written: a refusal after the P was taken or the task
        // unblocked would leave those written.
        if self.machine.context_go(m).is_some() {
            return Err(Error::Transition {
                m,
                what: "task_exec_begin: the context runs a task already (an executor polled from inside a task)",
            });
        }
        if !matches!(
            self.machine.go_status(g),
            GoStatus::Runnable | GoStatus::Waiting
        ) {
            return Err(Error::Transition {
                m,
                what: "task_exec_begin: the task is neither runnable nor waiting",
            });
        }
        if self.machine.context_proc(m).is_none() {
            let p = self.executor(executor_id)?;
            self.machine.acquire(m, p)?;
        }
        self.enqueued[slot] = self.enqueued[slot].saturating_sub(1);
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
        let status = if self.enqueued[slot] > 0 {
            GoStatus::Runnable
        } else {
            GoStatus::Waiting
        };
        self.machine.go_leave(m, status)
    }

    /// A task's future completed: `GoDestroy`, and its slot is free. The end of a followed task
    /// that is not running (its poll's begin was refused) is refused too: its goroutine cannot
    /// be ended, and keeps its slot.
    pub fn task_end(&mut self, m: usize, task_id: u32) -> Result<(), Error> {
        let Some(slot) =
            self.running_slot(m, task_id, "task_end: the context runs another task")?
        else {
            return match self.slot_of(task_id) {
                Some(_) => Err(Error::Transition {
                    m,
                    what: "task_end: the task is not running (its poll's begin was refused)",
                }),
                None => Ok(()),
            };
        };
        self.tasks[slot] = None;
        self.machine.go_leave(m, GoStatus::Dead)
    }

    /// A poll round ended: the context gives up the executor's P if it took it (`ProcStop`).
    /// A round that polled no task took none (nor one of another executor's the context holds).
    pub fn executor_idle(&mut self, m: usize, executor_id: u32) -> Result<(), Error> {
        let held = self.machine.context_proc(m);
        if held.is_some() && held == self.claimed(executor_id) {
            self.machine.proc_stop(m)?;
        }
        Ok(())
    }

    /// The slot of the task Embassy calls `task_id`, if it is one this tracer follows. Looked
    /// for at every hook, from the slot the ID hashes to, where its spawn put it or the first free
    /// one after: a look-up usually passes few slots however many tasks there are.
    fn slot_of(&self, task_id: u32) -> Option<usize> {
        let id = Some(NonZeroU32::new(task_id)?);
        let mut slot = Self::home(task_id);
        for _ in 0..TASKS {
            if self.tasks[slot] == id {
                return Some(slot);
            }
            slot = if slot + 1 == TASKS { 0 } else { slot + 1 };
        }
        None
    }

    /// The slot a task's look-up starts from. The ID is the address of the task's storage: a
    /// pool's tasks are one storage size apart, which the multiplication (by 2^32 over the golden
    /// ratio) spreads over the 16 bits taken, then scaled to the table without a division.
    fn home(task_id: u32) -> usize {
        let hash = task_id.wrapping_mul(0x9E37_79B9) >> 16;
        (hash as usize * TASKS) >> 16
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

    /// The P executor `executor_id` claimed, if it claimed one.
    fn claimed(&self, executor_id: u32) -> Option<usize> {
        let id = NonZeroU32::new(executor_id)?;
        self.executors.iter().position(|&e| e == Some(id))
    }

    /// The P standing for executor `executor_id`: the one it claimed, or the first unclaimed.
    fn executor(&mut self, executor_id: u32) -> Result<usize, Error> {
        if let Some(p) = self.claimed(executor_id) {
            return Ok(p);
        }
        let id = NonZeroU32::new(executor_id).ok_or(Error::NoSuchExecutor(PS))?;
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
/// A hook the state does not allow is recorded in [`refusals`]; one made while the lock is held
/// (a sink that wakes a task, a waker called inside `$tracer.with(...)`) is not applied but
/// counted there ([`Refusals::reentered`]).
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
    ($tracer:path, $context:expr, $hook:ident, $executor_id:expr, $task_id:expr) => {
        $crate::Tracer::apply_hook(
            &$tracer,
            $crate::Hook::$hook,
            $context,
            $executor_id,
            $task_id,
        )
    };
}
