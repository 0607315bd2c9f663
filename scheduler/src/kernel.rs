//! The scheduler's state, only ever touched inside one critical section at a time: the state
//! machine of executors, contexts and goroutines, the task table, the executors' run queues, and
//! (with the `trace` feature) the encoder that writes each state change as its Go event.
//!
//! Keeping them in one place behind one lock is what makes each scheduling decision and the
//! events recording it a single atomic step, whatever interrupt comes next. Every state change
//! goes through a method here: the machine checks and applies it, then the encoder writes it.
//! Without the `trace` feature the encoder is not part of the kernel and none of its writing
//! is linked.

#[cfg(feature = "trace")]
use gotrace_encoder::Encoder;
use gotrace_encoder::{Annotation, GoSlot, GoStatus, ProcStatus, Reason};
use heapless::Deque;

use crate::error::Error;
use crate::machine::Machine;
use crate::task::{Step, Task};

/// Writes the event of the state change just made, with tracing compiled in, given the state
/// after the change (`$w`): a generation the event finds due ends with it, and the next one
/// re-states that state.
///
/// Without `trace` the event is compiled out, so a value computed only for it is named with a
/// leading underscore (`_owner`, `_p`, ...) to be unused without a warning.
///
/// In the simulator the change, made by context `$m`, also goes into the kernel's journal.
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

pub(crate) struct Kernel<
    C,
    S,
    const TASKS: usize,
    const PS: usize,
    const MS: usize,
    const BUF: usize,
    const TABLE: usize,
> {
    pub machine: Machine<MS, PS, TASKS>,
    #[cfg(feature = "trace")]
    pub trace: Encoder<C, S, TASKS, PS, MS, BUF, TABLE>,
    /// The clock and sink types are the encoder's, unused without it.
    #[cfg(not(feature = "trace"))]
    pub untraced: core::marker::PhantomData<fn() -> (C, S)>,
    pub tasks: [Task; TASKS],
    pub queues: [Deque<usize, TASKS>; PS],
    /// The user tasks begun so far (the last ID given): each `task_begin` gets the next ID, so
    /// that no trace has one begun twice (Go's parser: "task ID conflict").
    pub user_tasks: u64,
    /// The simulator's record of every change (see `sim::journal`).
    #[cfg(feature = "sim")]
    pub journal: crate::sim::journal::Journal,
}

impl<
        C: gotrace_encoder::Clock,
        S: gotrace_encoder::Sink,
        const TASKS: usize,
        const PS: usize,
        const MS: usize,
        const BUF: usize,
        const TABLE: usize,
    > Kernel<C, S, TASKS, PS, MS, BUF, TABLE>
{
    /// Context `m` takes executor `p`: an idle one is started; one left in a blocking operation
    /// (by another context, or abandoned by a callback) is stolen first, then started.
    pub fn acquire(&mut self, m: usize, p: usize) -> Result<(), Error> {
        match self.machine.proc(p)? {
            ProcStatus::Idle => {}
            ProcStatus::Syscall | ProcStatus::Abandoned => self.steal(m, p)?,
            ProcStatus::Running => return Err(Error::ExecutorBusy(p)),
        }
        self.machine.proc_start(m, p)?;
        traced!(self, m, |enc, w| enc.proc_start(m, p, w));
        Ok(())
    }

    /// Context `m` takes executor `p` from a blocking operation (its own: a self-steal, seed
    /// 001) or from the callback that abandoned it.
    pub fn steal(&mut self, m: usize, p: usize) -> Result<(), Error> {
        let _owner = self.machine.proc_steal(m, p)?;
        traced!(self, m, |enc, w| enc.proc_steal(m, p, _owner, w));
        Ok(())
    }

    pub fn proc_stop(&mut self, m: usize) -> Result<(), Error> {
        self.machine.proc_stop(m)?;
        traced!(self, m, |enc, w| enc.proc_stop(m, w));
        Ok(())
    }

    /// The running task on `m` (or the executor `m` holds) creates task slot `t` with entry
    /// function `entry_pc`.
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

    pub fn go_start(&mut self, m: usize, g: GoSlot) -> Result<(), Error> {
        self.machine.go_start(m, g)?;
        traced!(self, m, |enc, w| enc.go_start(m, g, w));
        Ok(())
    }

    pub fn go_unblock(&mut self, m: usize, g: GoSlot) -> Result<(), Error> {
        self.machine.go_unblock(m, g)?;
        traced!(self, m, |enc, w| enc.go_unblock(m, g, w));
        Ok(())
    }

    pub fn syscall_begin(&mut self, m: usize) -> Result<(), Error> {
        let _p = self.machine.syscall_begin(m)?;
        traced!(self, m, |enc, w| enc.syscall_begin(m, _p, w));
        Ok(())
    }

    /// Ends the blocking operation on `m`; whether the goroutine kept its executor.
    pub fn syscall_end(&mut self, m: usize) -> Result<bool, Error> {
        let kept = self.machine.syscall_end(m)?;
        traced!(self, m, |enc, w| enc.syscall_end(m, kept, w));
        Ok(kept)
    }

    pub fn callback_enter(&mut self, m: usize) -> Result<(), Error> {
        self.machine.callback_enter(m)?;
        traced!(self, m, |enc, w| enc.callback_enter(m, w));
        Ok(())
    }

    pub fn callback_exit(&mut self, m: usize) -> Result<(), Error> {
        self.machine.callback_exit(m)?;
        traced!(self, m, |enc, w| enc.callback_exit(m, w));
        Ok(())
    }

    /// Takes the next runnable task of `p` and starts it on `m`; with none left (or `more`
    /// false), `m` releases `p` in the same step, so a wake cannot slip in between the check
    /// and the release.
    pub fn next_task(&mut self, m: usize, p: usize, more: bool) -> Result<Option<usize>, Error> {
        let next = if more {
            self.queues.get_mut(p).and_then(Deque::pop_front)
        } else {
            None
        };
        match next {
            Some(t) => {
                self.go_start(m, GoSlot::Task(t))?;
                Ok(Some(t))
            }
            None => {
                self.proc_stop(m)?;
                Ok(None)
            }
        }
    }

    /// Records what task `t` did when its function returned on `m`, running on `p`.
    pub fn finish(&mut self, m: usize, p: usize, t: usize, step: Step) -> Result<(), Error> {
        let woken = self.tasks.get(t).ok_or(Error::NoSuchTask(t))?.woken;
        let (_blocks, _reason) = match step {
            Step::Wait if !woken => {
                self.machine.go_leave(m, GoStatus::Waiting)?;
                (true, Reason::Wait)
            }
            Step::Yield | Step::Wait => {
                self.machine.go_leave(m, GoStatus::Runnable)?;
                self.tasks[t].woken = false;
                self.enqueue(p, t)?;
                (false, Reason::Yield)
            }
            Step::Done => {
                self.machine.go_leave(m, GoStatus::Dead)?;
                traced!(self, m, |enc, w| enc.go_destroy(m, w));
                self.tasks[t] = Task::FREE;
                return Ok(());
            }
        };
        // One traced call for both: one inline copy of the encoder's fast path.
        traced!(self, m, |enc, w| enc.go_leave(m, _blocks, _reason, w));
        Ok(())
    }

    pub fn enqueue(&mut self, p: usize, t: usize) -> Result<(), Error> {
        self.queues
            .get_mut(p)
            .ok_or(Error::NoSuchExecutor(p))?
            .push_back(t)
            .map_err(|_| Error::TableFull)
    }

    /// Writes a user annotation; needs a running goroutine on `m`.
    pub fn annotate(&mut self, m: usize, a: Annotation) -> Result<(), Error> {
        self.machine
            .require_running_go(m, "annotation")
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

    /// Begins a user task (a child of `parent`) on `m` under a new ID, which it returns; needs a
    /// running goroutine on `m`, and a refusal gives out no ID.
    pub fn task_begin(&mut self, m: usize, parent: u64, name: &'static str) -> Result<u64, Error> {
        let id = self.user_tasks.wrapping_add(1);
        self.annotate(m, Annotation::task_begin(id, parent, name))?;
        self.user_tasks = id;
        Ok(id)
    }

    /// Records in the journal what the last change, made by context `m`, changed.
    #[cfg(feature = "sim")]
    fn journal_note(&mut self, m: usize) {
        let trace = &self.trace;
        self.journal
            .note(m, &self.machine, (TASKS, PS, MS), |g| trace.go_id(g));
    }
}
