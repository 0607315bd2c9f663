//! The scheduler's state, only ever touched inside one critical section at a time: the encoder
//! (which mirrors and traces every P and G), the task table and the executors' run queues.
//!
//! Keeping them in one place behind one lock is what makes each scheduling decision and the
//! events recording it a single atomic step, whatever interrupt comes next.

use gotrace_encoder::{Encoder, GoSlot, ProcStatus, Reason};
use heapless::Deque;

use crate::error::Error;
use crate::task::{Step, Task};

pub(crate) struct Kernel<
    C,
    S,
    const TASKS: usize,
    const PS: usize,
    const MS: usize,
    const BUF: usize,
> {
    pub enc: Encoder<S, C, MS, PS, TASKS, BUF>,
    pub tasks: [Task; TASKS],
    pub queues: [Deque<usize, TASKS>; PS],
}

impl<
        C: gotrace_encoder::Clock,
        S: gotrace_encoder::Sink,
        const TASKS: usize,
        const PS: usize,
        const MS: usize,
        const BUF: usize,
    > Kernel<C, S, TASKS, PS, MS, BUF>
{
    /// Context `m` takes executor `p`: an idle one is started; one left in a blocking operation
    /// (by another context, or abandoned by a callback) is stolen first, then started.
    pub fn acquire(&mut self, m: usize, p: usize) -> Result<(), Error> {
        match self
            .enc
            .proc_status(p)
            .map_err(|_| Error::NoSuchExecutor(p))?
        {
            ProcStatus::Idle => {}
            ProcStatus::Syscall | ProcStatus::Abandoned => self.enc.proc_steal(m, p)?,
            ProcStatus::Running => return Err(Error::ExecutorBusy(p)),
        }
        self.enc.proc_start(m, p)?;
        Ok(())
    }

    /// Takes the next runnable task of `p` and starts it on `m`; with none left (or `more`
    /// false), `m` releases `p` in the same step, so a wake cannot slip in between the check
    /// and the release.
    pub fn next_task(&mut self, m: usize, p: usize, more: bool) -> Result<Option<usize>, Error> {
        let next = if more {
            self.queues[p].pop_front()
        } else {
            None
        };
        match next {
            Some(t) => {
                self.enc.go_start(m, GoSlot::Task(t))?;
                Ok(Some(t))
            }
            None => {
                self.enc.proc_stop(m)?;
                Ok(None)
            }
        }
    }

    /// Records what task `t` did when its function returned on `m`, running on `p`.
    pub fn finish(&mut self, m: usize, p: usize, t: usize, step: Step) -> Result<(), Error> {
        match step {
            Step::Wait if !self.tasks[t].woken => self.enc.go_block(m, Reason::Wait)?,
            Step::Yield | Step::Wait => {
                self.tasks[t].woken = false;
                self.enc.go_stop(m, Reason::Yield)?;
                self.enqueue(p, t)?;
            }
            Step::Done => {
                self.enc.go_destroy(m)?;
                self.tasks[t] = Task::FREE;
            }
        }
        Ok(())
    }

    pub fn enqueue(&mut self, p: usize, t: usize) -> Result<(), Error> {
        self.queues[p].push_back(t).map_err(|_| Error::TableFull)
    }
}
