//! The host simulator: the real scheduler on the host, with simulated execution contexts.
//!
//! Thread mode is context 0; interrupt levels are 1 and up. [`SimPlatform::interrupt`] runs a
//! closure "in" an interrupt level (nested, like a real NVIC: only a higher level preempts), and
//! the scheduler's preemption points call a hook that may fire such interrupts — which is where
//! interrupts can land on a device, since everything else happens in critical sections.
//! [`driver`] fires them at random from a seed; scenario tests script them. The kernel keeps a
//! [`journal`] of every change it makes, which the semantic oracle compares with the traces.

pub mod driver;
pub mod journal;

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use gotrace_encoder::{Clock, Coarse, Config, VecSink};

use crate::platform::Platform;
use crate::scheduler::Scheduler;

/// Task slots of the simulated scheduler.
pub const SIM_TASKS: usize = 12;
/// Executors (Ps).
pub const SIM_EXECUTORS: usize = 2;
/// Execution contexts: thread mode and three interrupt levels.
pub const SIM_CONTEXTS: usize = 4;
/// Batch buffer size per context: small, so batches split often.
pub const SIM_BATCH: usize = 256;

/// The scheduler the simulator runs: simulated platform and clock, traces kept in memory.
pub type SimScheduler =
    Scheduler<SimPlatform, SimClock, VecSink, SIM_TASKS, SIM_EXECUTORS, SIM_CONTEXTS, SIM_BATCH>;

/// The simulated clock: cycles, counted in units of `2^shift` cycles.
pub type SimClock = Coarse<SimCycles>;

/// A cycle counter that advances by a fixed step on every read, as if the code between two
/// traced events took that long, and by [`pass_time`] for time in which nothing reads it (a
/// sleep, a long blocking operation).
#[derive(Debug)]
pub struct SimCycles {
    now: Rc<Cell<u64>>,
    step: u64,
}

/// The default clock step: 37 ticks, about 0.6 µs at 64 MHz.
pub const SIM_CLOCK_STEP: u64 = 37;

/// The simulated tick rate: 64 MHz, a typical Cortex-M4 core clock.
pub const SIM_FREQUENCY: u64 = 64_000_000;

impl Clock for SimCycles {
    fn now(&mut self) -> u32 {
        let now = self.now.get() + self.step;
        self.now.set(now);
        // A 32-bit counter, as on the device: it wraps after about a minute of simulated time.
        now as u32
    }

    fn frequency(&self) -> u64 {
        SIM_FREQUENCY
    }
}

type Hook = Rc<dyn Fn()>;

/// Simulated contexts: a stack of active interrupt levels over thread mode.
#[derive(Default)]
pub struct SimPlatform {
    active: RefCell<Vec<usize>>,
    hook: RefCell<Option<Hook>>,
}

impl core::fmt::Debug for SimPlatform {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SimPlatform")
            .field("active", &self.active)
            .field("hook", &self.hook.borrow().is_some())
            .finish()
    }
}

impl SimPlatform {
    /// Runs `f` as interrupt level `m`, preempting the current context.
    ///
    /// Panics if `m` does not preempt the current context (a level only preempts lower ones).
    pub fn interrupt<R>(&self, m: usize, f: impl FnOnce() -> R) -> R {
        let current = self.current_context();
        assert!(
            m > current && m < SIM_CONTEXTS,
            "interrupt level {m} cannot preempt context {current}"
        );
        self.active.borrow_mut().push(m);
        let result = f();
        self.active.borrow_mut().pop();
        result
    }

    /// Installs the function called at every preemption point (`None` removes it).
    pub fn set_hook(&self, hook: Option<Hook>) {
        *self.hook.borrow_mut() = hook;
    }
}

impl Platform for SimPlatform {
    fn current_context(&self) -> usize {
        self.active.borrow().last().copied().unwrap_or(0)
    }

    fn preemption_point(&self) {
        // Clone out of the cell: the hook re-enters the scheduler, which reaches here again.
        let hook = self.hook.borrow().clone();
        if let Some(hook) = hook {
            hook();
        }
    }
}

thread_local! {
    static CURRENT: RefCell<Weak<SimScheduler>> = const { RefCell::new(Weak::new()) };
    /// The cycle count of this thread's latest simulation, for [`pass_time`].
    static CYCLES: RefCell<Rc<Cell<u64>>> = RefCell::new(Rc::default());
}

/// A simulated scheduler, installed as this thread's current one so that task functions (plain
/// `fn`s) can reach it through [`current`].
#[derive(Debug)]
pub struct Sim {
    sched: Rc<SimScheduler>,
}

impl Sim {
    /// A simulation whose cycle counter starts at 1000 and advances [`SIM_CLOCK_STEP`] per read,
    /// traced in cycles.
    pub fn new(config: Config) -> Sim {
        Sim::with_clock(config, 1000, SIM_CLOCK_STEP, 0)
    }

    /// A simulation whose cycle counter starts at `start` and advances `step` per read, traced
    /// in units of `2^shift` cycles.
    pub fn with_clock(config: Config, start: u64, step: u64, shift: u32) -> Sim {
        let cycles = Rc::new(Cell::new(start));
        let clock = SimCycles {
            now: Rc::clone(&cycles),
            step,
        };
        let sched = Rc::new(Scheduler::new(
            SimPlatform::default(),
            Coarse::new(clock, shift),
            VecSink::default(),
            config,
        ));
        CURRENT.with(|c| *c.borrow_mut() = Rc::downgrade(&sched));
        CYCLES.with(|c| *c.borrow_mut() = cycles);
        Sim { sched }
    }

    /// The simulated scheduler (the one [`current`] gives to task functions).
    pub fn scheduler(&self) -> &Rc<SimScheduler> {
        &self.sched
    }

    /// The traces written so far, one per tracing session.
    pub fn traces(&self) -> Vec<Vec<u8>> {
        self.sched.with_encoder(|e| e.sink().traces.clone())
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        // The hook holds the scheduler: break the cycle.
        self.sched.platform().set_hook(None);
    }
}

/// The simulated scheduler of this thread. Panics outside a [`Sim`].
pub fn current() -> Rc<SimScheduler> {
    CURRENT
        .with(|c| c.borrow().upgrade())
        .expect("no simulated scheduler on this thread")
}

/// Lets `cycles` pass on this thread's simulated clock without reading it, as a sleeping core or
/// a long blocking operation does: its next reading is that much later, however many times its
/// 32-bit count wrapped between.
pub fn pass_time(cycles: u64) {
    CYCLES.with(|c| {
        let c = c.borrow();
        c.set(c.get() + cycles);
    });
}

/// This thread's simulated cycle count, not wrapped at 32 bits (its start included).
pub fn cycles() -> u64 {
    CYCLES.with(|c| c.borrow().get())
}
