//! The scheduling state machine and the encoder, paired: each state change is checked against
//! the current state, applied, and written as its Go event, in one call.
//!
//! The scheduler's kernel is built on it. Another executor (RTIC, Embassy, a superloop of one's
//! own) uses it in place of driving the encoder by hand: a call the state does not allow is
//! refused ([`Error::Transition`]) and writes nothing, where the encoder alone believes whatever
//! it is told and a call out of order shows only on the host, as a trace Go's parser refuses.
//! Without the `trace` feature it is the same state machine, and nothing is written.

#[cfg(feature = "trace")]
use gotrace_encoder::Encoder;
use gotrace_encoder::{
    Annotation, Clock, Config, GoSlot, GoStatus, ProcStatus, Reason, Scheduling, Sink,
};

use crate::error::Error;
use crate::machine::Machine;

/// Writes the event of the state change just made, with tracing compiled in, given the state
/// after the change (`$w`): a generation the event finds due ends with it, and the next one
/// re-states that state.
///
/// Without `trace` the event is compiled out, so a value computed only for it is named with a
/// leading underscore (`_owner`, `_p`, ...) to be unused without a warning.
///
/// In the simulator the change, made by context `$m`, also goes into the journal.
macro_rules! traced {
    ($k:expr, $m:expr, |$enc:ident, $w:ident| $event:expr) => {{
        #[cfg(feature = "trace")]
        {
            let k = &mut *$k;
            let ($enc, $w) = (&mut k.trace, &k.machine);
            $event;
        }
        #[cfg(feature = "sim")]
        $k.journal_note($m);
    }};
}

/// The state of `PS` executors (Go's Ps), `MS` execution contexts (Go's Ms: thread mode and each
/// interrupt level) and `TASKS` task slots plus one interrupt callback per context (Go's Gs),
/// with the encoder that writes each change of it (batches of `BUF` bytes per context, string
/// and stack tables of `TABLE` entries; see [`crate::Scheduler`] for the sizes' limits).
///
/// For an executor other than [`crate::Scheduler`]: make it a `static` inside a
/// [`gotrace_encoder::Shared`] and call it from the executor's hooks, each call inside the same
/// `Shared::with` as the executor's own change it records, so that no interrupt comes between
/// the two. `m` is the calling context (0 in thread mode, one per interrupt level), `p` an
/// executor, and each method's document says which Go event it writes. A refused call changes
/// nothing and writes nothing; the annotations' own rules (regions nested, task IDs begun once)
/// are not checked ([`TracedMachine::annotate`]).
///
/// ```
/// use gotrace_scheduler::encoder::{GoSlot, GoStatus, Scheduling, Shared, VecSink};
/// use gotrace_scheduler::{Config, TracedMachine};
/// # struct Ticks(u32);
/// # impl gotrace_scheduler::Clock for Ticks {
/// #     fn now(&mut self) -> u32 { self.0 += 10; self.0 }
/// #     fn frequency(&self) -> u64 { 1_000_000 }
/// # }
///
/// // One task slot, one executor, two contexts (thread mode and one interrupt level).
/// static STATE: Shared<TracedMachine<Ticks, VecSink, 1, 1, 2, 256>> =
///     Shared::new(TracedMachine::new(Ticks(0), VecSink::new(), Config::MANUAL));
///
/// STATE.with(|s| -> Result<(), gotrace_scheduler::Error> {
///     s.start_tracing(0)?;
///     s.acquire(0, 0)?; // thread mode takes executor 0
///     s.create(0, 0, 0x0800_0101)?; // ... creates task slot 0 (entry function's address)
///     s.go_start(0, GoSlot::Task(0))?; // ... and runs it
///     s.go_leave(0, GoStatus::Waiting)?; // it waits for an interrupt
///     s.go_unblock(1, GoSlot::Task(0))?; // which wakes it
///     assert_eq!(s.go_status(GoSlot::Task(0)), GoStatus::Runnable);
///     assert!(s.go_unblock(1, GoSlot::Task(0)).is_err()); // not waiting: refused
///     s.proc_stop(0)?;
///     s.stop_tracing(0)?;
///     Ok(())
/// })
/// .unwrap();
/// ```
pub struct TracedMachine<
    C,
    S,
    const TASKS: usize,
    const PS: usize,
    const MS: usize,
    const BUF: usize,
    const TABLE: usize = { gotrace_encoder::TABLE_CAPACITY },
> {
    pub(crate) machine: Machine<MS, PS, TASKS>,
    #[cfg(feature = "trace")]
    pub(crate) trace: Encoder<C, S, TASKS, PS, MS, BUF, TABLE>,
    /// The clock and sink types are the encoder's, unused without it.
    #[cfg(not(feature = "trace"))]
    untraced: core::marker::PhantomData<fn() -> (C, S)>,
    /// The simulator's record of every change (see `sim::journal`).
    #[cfg(feature = "sim")]
    pub(crate) journal: crate::sim::journal::Journal,
}

/// The sizes only, as [`crate::Scheduler`]'s: the encoder's own `Debug` shows its state.
impl<
        C,
        S,
        const TASKS: usize,
        const PS: usize,
        const MS: usize,
        const BUF: usize,
        const TABLE: usize,
    > core::fmt::Debug for TracedMachine<C, S, TASKS, PS, MS, BUF, TABLE>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TracedMachine")
            .field("tasks", &TASKS)
            .field("executors", &PS)
            .field("contexts", &MS)
            .finish_non_exhaustive()
    }
}

/// What a tracing control does.
#[cfg(feature = "trace")]
#[derive(Clone, Copy)]
pub(crate) enum Control {
    Start,
    Stop,
    Advance,
}

impl<
        C: Clock,
        S: Sink,
        const TASKS: usize,
        const PS: usize,
        const MS: usize,
        const BUF: usize,
        const TABLE: usize,
    > TracedMachine<C, S, TASKS, PS, MS, BUF, TABLE>
{
    /// Every executor idle, every task slot and callback dead, tracing off. `const`, so it can be
    /// a `static`.
    pub const fn new(clock: C, sink: S, config: Config) -> Self {
        #[cfg(not(feature = "trace"))]
        core::mem::forget((clock, sink, config));
        TracedMachine {
            machine: Machine::new(),
            #[cfg(feature = "trace")]
            trace: Encoder::new(clock, sink, config),
            #[cfg(not(feature = "trace"))]
            untraced: core::marker::PhantomData,
            #[cfg(feature = "sim")]
            journal: crate::sim::journal::Journal::new(),
        }
    }

    /// The encoder (statistics, the sink, goroutine IDs).
    #[cfg(feature = "trace")]
    pub fn encoder(&self) -> &Encoder<C, S, TASKS, PS, MS, BUF, TABLE> {
        &self.trace
    }

    /// The encoder, to reach its sink, clock and configuration. Its event methods are this
    /// machine's to call: an event written from here records no change of its state, and Go's
    /// parser may refuse the trace.
    #[cfg(feature = "trace")]
    pub fn encoder_mut(&mut self) -> &mut Encoder<C, S, TASKS, PS, MS, BUF, TABLE> {
        &mut self.trace
    }

    // ---- Executors ----

    /// Context `m`, holding none, takes executor `p`: an idle one is started (`ProcStart`); one
    /// left in a blocking operation (by another context, or abandoned by a callback) is stolen
    /// first (`ProcSteal`), then started. A running one is refused with
    /// [`Error::ExecutorBusy`].
    pub fn acquire(&mut self, m: usize, p: usize) -> Result<(), Error> {
        if self.machine.held(m)?.is_some() {
            return Err(Error::Transition {
                m,
                what: "ProcStart: the context already holds an executor",
            });
        }
        match self.machine.proc(p)? {
            ProcStatus::Idle => {}
            ProcStatus::Syscall | ProcStatus::Abandoned => self.steal(m, p)?,
            ProcStatus::Running => return Err(Error::ExecutorBusy(p)),
        }
        self.machine.proc_start(m, p)?;
        traced!(self, m, |enc, w| enc.proc_start(m, p, w));
        Ok(())
    }

    /// Context `m` takes executor `p` from a blocking operation (its own: a self-steal, the
    /// way a task in a blocking operation gives its executor up) or from the callback that
    /// abandoned it, and leaves it idle: `ProcSteal`.
    pub fn steal(&mut self, m: usize, p: usize) -> Result<(), Error> {
        let _owner = self.machine.proc_steal(m, p)?;
        traced!(self, m, |enc, w| enc.proc_steal(m, p, _owner, w));
        Ok(())
    }

    /// Context `m` gives up its running executor, no goroutine left on it: `ProcStop`.
    pub fn proc_stop(&mut self, m: usize) -> Result<(), Error> {
        self.machine.proc_stop(m)?;
        traced!(self, m, |enc, w| enc.proc_stop(m, w));
        Ok(())
    }

    // ---- Goroutines ----

    /// The running goroutine on `m` (or, with none, the executor `m` holds) creates task slot
    /// `t`, whose entry function is at `entry_pc` (the trace names the task after it):
    /// `GoCreate`. The slot must be dead (never created, or finished).
    pub fn create(&mut self, m: usize, t: usize, entry_pc: u64) -> Result<(), Error> {
        self.machine.check_create(m, t)?;
        // The encoder may end the generation before the event (its stack table is full), so it
        // sees the state before the creation; the generation the event finds due ends after.
        #[cfg(feature = "trace")]
        let due = self.trace.go_create(m, t, entry_pc, &self.machine);
        #[cfg(not(feature = "trace"))]
        let _ = entry_pc;
        self.machine.created(t)?;
        #[cfg(feature = "sim")]
        self.journal_note(m);
        #[cfg(feature = "trace")]
        if due {
            self.trace.end_due(m, &self.machine);
        }
        Ok(())
    }

    /// Creates task slot `t` for executor `p`, from wherever `m` is: as [`TracedMachine::create`]
    /// from a running goroutine or a held executor; from a context that holds no executor and
    /// runs no goroutine (start-up code, an interrupt handler, an executor's spawn before it
    /// first runs), `p` is taken for the creation and released (`ProcStart`, `GoCreate`,
    /// `ProcStop`; stolen first if a task in a blocking operation holds it), and refused with
    /// [`Error::ExecutorBusy`] if another context runs on it. A callback that took no executor
    /// may not create one ([`Error::NoRunningTask`]).
    pub fn spawn(&mut self, m: usize, p: usize, t: usize, entry_pc: u64) -> Result<(), Error> {
        if self.machine.held(m)?.is_some() {
            self.create(m, t, entry_pc)
        } else if self.machine.running(m)?.is_some() {
            Err(Error::NoRunningTask(m))
        } else {
            // Checked first: a creation refused after the executor was taken would leave it held.
            if self.machine.go(GoSlot::Task(t))? != GoStatus::Dead {
                return Err(Error::Transition {
                    m,
                    what: "GoCreate: task slot is in use",
                });
            }
            self.acquire(m, p)?;
            self.create(m, t, entry_pc)?;
            self.proc_stop(m)
        }
    }

    /// Context `m`, holding a running executor and no goroutine, starts runnable `g`:
    /// `GoStart`.
    pub fn go_start(&mut self, m: usize, g: GoSlot) -> Result<(), Error> {
        self.machine.go_start(m, g)?;
        traced!(self, m, |enc, w| enc.go_start(m, g, w));
        Ok(())
    }

    /// The running goroutine on `m` leaves the context, keeping its executor there, as
    /// `status`: [`GoStatus::Runnable`] (it yields: `GoStop`), [`GoStatus::Waiting`] (it waits
    /// to be woken: `GoBlock`) or [`GoStatus::Dead`] (a task finishing: `GoDestroy`; a callback
    /// ends with [`TracedMachine::callback_exit`]).
    pub fn go_leave(&mut self, m: usize, status: GoStatus) -> Result<(), Error> {
        // Checked here, not by the machine: the scheduler gives it only these three.
        if matches!(status, GoStatus::Running | GoStatus::Syscall) {
            return Err(Error::Transition {
                m,
                what: "GoStop/GoBlock/GoDestroy: a goroutine leaves runnable, waiting or dead",
            });
        }
        self.machine.go_leave(m, status)?;
        if status == GoStatus::Dead {
            self.write_destroy(m);
        } else {
            let blocks = status == GoStatus::Waiting;
            self.write_leave(m, blocks, if blocks { Reason::Wait } else { Reason::Yield });
        }
        Ok(())
    }

    /// Writes `GoBlock` (`blocks`) or `GoStop` for the goroutine that has just left `m`. Apart
    /// from the change, so that the scheduler, which makes the change in three places, calls
    /// this once: one inline copy of the encoder's fast path.
    #[cfg_attr(not(feature = "trace"), allow(unused_variables))]
    pub(crate) fn write_leave(&mut self, m: usize, blocks: bool, reason: Reason) {
        traced!(self, m, |enc, w| enc.go_leave(m, blocks, reason, w));
    }

    /// Writes `GoDestroy` for the task that has just ended on `m`.
    #[cfg_attr(not(feature = "trace"), allow(unused_variables))]
    pub(crate) fn write_destroy(&mut self, m: usize) {
        traced!(self, m, |enc, w| enc.go_destroy(m, w));
    }

    /// Any context `m` wakes waiting `g`: `GoUnblock`.
    pub fn go_unblock(&mut self, m: usize, g: GoSlot) -> Result<(), Error> {
        self.machine.go_unblock(m, g)?;
        traced!(self, m, |enc, w| enc.go_unblock(m, g, w));
        Ok(())
    }

    // ---- Blocking operations and interrupt callbacks ----

    /// The running goroutine on `m` starts a blocking operation, keeping its executor, which any
    /// context may now take ([`TracedMachine::acquire`]): `GoSyscallBegin`. Returns the
    /// executor.
    pub fn syscall_begin(&mut self, m: usize) -> Result<usize, Error> {
        let p = self.machine.syscall_begin(m)?;
        traced!(self, m, |enc, w| enc.syscall_begin(m, p, w));
        Ok(p)
    }

    /// The blocking operation of the goroutine on `m` ends. Returns `true` if `m` still holds the
    /// executor the operation kept (the goroutine runs on: `GoSyscallEnd`); `false` if it was
    /// taken meanwhile, or the operation kept none (a callback's): the goroutine is then
    /// runnable, off the context (`GoSyscallEndBlocked`), and runs again once a context holding
    /// an executor [`TracedMachine::go_start`]s it.
    pub fn syscall_end(&mut self, m: usize) -> Result<bool, Error> {
        let kept = self.machine.syscall_end(m)?;
        traced!(self, m, |enc, w| enc.syscall_end(m, kept, w));
        Ok(kept)
    }

    /// An interrupt callback starts on context `m`, running no goroutine: its goroutine (the
    /// same one each time on `m`, [`GoSlot::Callback`]) appears in a blocking operation without
    /// an executor: `GoCreateSyscall`. To run on an executor, it takes one
    /// ([`TracedMachine::acquire`]), ends the blocking operation
    /// ([`TracedMachine::syscall_end`]) and starts ([`TracedMachine::go_start`]).
    pub fn callback_enter(&mut self, m: usize) -> Result<(), Error> {
        self.machine.callback_enter(m)?;
        traced!(self, m, |enc, w| enc.callback_enter(m, w));
        Ok(())
    }

    /// The interrupt callback on `m` ends, in a blocking operation (one that took an executor
    /// enters one first, [`TracedMachine::syscall_begin`], then gives the executor up with a
    /// self-steal or leaves it abandoned to the next context that takes it):
    /// `GoDestroySyscall`.
    pub fn callback_exit(&mut self, m: usize) -> Result<(), Error> {
        self.machine.callback_exit(m)?;
        traced!(self, m, |enc, w| enc.callback_exit(m, w));
        Ok(())
    }

    /// Writes a user annotation (a task or region begun or ended, a log, a label) on `m`, where
    /// a goroutine must be running on an executor ([`Error::NoRunningTask`] otherwise). The
    /// annotations' own rules are the caller's: regions end innermost first, and no user task ID
    /// is begun twice, or Go's parser refuses the trace ("misuse of region", "task ID
    /// conflict"); [`crate::Scheduler`] keeps both by construction.
    pub fn annotate(&mut self, m: usize, a: Annotation) -> Result<(), Error> {
        self.machine
            .require_running_go(m, "annotation", "annotation")
            .map_err(|_| Error::NoRunningTask(m))?;
        #[cfg(feature = "trace")]
        self.trace.annotate(m, a, &self.machine);
        #[cfg(feature = "sim")]
        {
            let trace = &self.trace;
            self.journal
                .annotated(m, a.event_type(), |g| trace.go_id(g));
        }
        #[cfg(not(feature = "trace"))]
        let _ = a;
        Ok(())
    }

    // ---- Tracing ----

    /// Starts a trace from context `m`: a new trace's header, generation 1, the state re-stated.
    #[cfg(feature = "trace")]
    pub fn start_tracing(&mut self, m: usize) -> Result<(), Error> {
        self.control(m, Control::Start)
    }

    /// Completes the current generation and ends the trace.
    #[cfg(feature = "trace")]
    pub fn stop_tracing(&mut self, m: usize) -> Result<(), Error> {
        self.control(m, Control::Stop)
    }

    /// Ends the current generation now (from a timer, say) and begins the next.
    #[cfg(feature = "trace")]
    pub fn advance_generation(&mut self, m: usize) -> Result<(), Error> {
        self.control(m, Control::Advance)
    }

    #[cfg(feature = "trace")]
    pub(crate) fn control(&mut self, m: usize, what: Control) -> Result<(), Error> {
        let done = match what {
            Control::Start => self.trace.start(m, &self.machine),
            Control::Stop => self.trace.stop(m),
            Control::Advance => self.trace.advance(m, &self.machine),
        };
        #[cfg(feature = "sim")]
        match (what, &done) {
            (Control::Start, Ok(())) => {
                let trace = &self.trace;
                self.journal.started(|g| trace.go_id(g));
            }
            (Control::Stop, Ok(())) => self.journal.stopped(),
            _ => {}
        }
        Ok(done?)
    }

    /// Records in the journal what the last change, made by context `m`, changed.
    #[cfg(feature = "sim")]
    fn journal_note(&mut self, m: usize) {
        let trace = &self.trace;
        self.journal
            .note(m, &self.machine, (TASKS, PS, MS), |g| trace.go_id(g));
    }
}

/// The current state, as the encoder reads it: out-of-range indices read as idle, dead or none.
impl<
        C,
        S,
        const TASKS: usize,
        const PS: usize,
        const MS: usize,
        const BUF: usize,
        const TABLE: usize,
    > Scheduling for TracedMachine<C, S, TASKS, PS, MS, BUF, TABLE>
{
    fn context_proc(&self, m: usize) -> Option<usize> {
        self.machine.context_proc(m)
    }

    fn context_go(&self, m: usize) -> Option<GoSlot> {
        self.machine.context_go(m)
    }

    fn proc_status(&self, p: usize) -> ProcStatus {
        self.machine.proc_status(p)
    }

    fn go_status(&self, g: GoSlot) -> GoStatus {
        self.machine.go_status(g)
    }
}
