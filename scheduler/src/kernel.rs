//! The scheduler's state, only ever touched inside one critical section at a time: the traced
//! state machine of executors, contexts and goroutines (`traced.rs`), the task table and the
//! executors' run queues.
//!
//! Keeping them in one place behind one lock is what makes each scheduling decision and the
//! events recording it a single atomic step, whatever interrupt comes next.

use gotrace_encoder::{Annotation, GoSlot, GoStatus, Reason};
use heapless::Deque;

use crate::error::Error;
use crate::task::{Step, Task};
use crate::traced::TracedMachine;

/// In this order (`repr(C)`): the task table and run queues, which every executor round reads,
/// first, at short offsets from the `static`'s address. In the order the compiler chose, the
/// example firmware's code took 100 bytes more (`scripts/measure-firmware.sh`, when this was
/// measured: 6092 against 5992 B), its address loads made again where the offsets no longer
/// fitted an instruction.
#[repr(C)]
pub(crate) struct Kernel<
    C,
    S,
    const TASKS: usize,
    const PS: usize,
    const MS: usize,
    const BUF: usize,
    const TABLE: usize,
> {
    pub tasks: [Task; TASKS],
    pub queues: [Deque<usize, TASKS>; PS],
    /// The user tasks begun so far (the last ID given): each `task_begin` gets the next ID, so
    /// that no trace has one begun twice (Go's parser: "task ID conflict").
    pub user_tasks: u64,
    pub state: TracedMachine<C, S, TASKS, PS, MS, BUF, TABLE>,
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
                self.state.go_start(m, GoSlot::Task(t))?;
                Ok(Some(t))
            }
            None => {
                self.state.proc_stop(m)?;
                Ok(None)
            }
        }
    }

    /// Records what task `t` did when its function returned on `m`, running on `p`.
    pub fn finish(&mut self, m: usize, p: usize, t: usize, step: Step) -> Result<(), Error> {
        let woken = self.tasks.get(t).ok_or(Error::NoSuchTask(t))?.woken;
        let (blocks, reason) = match step {
            Step::Wait if !woken => {
                self.state.machine.go_leave(m, GoStatus::Waiting)?;
                (true, Reason::Wait)
            }
            Step::Yield | Step::Wait => {
                self.state.machine.go_leave(m, GoStatus::Runnable)?;
                self.tasks[t].woken = false;
                self.enqueue(p, t)?;
                (false, Reason::Yield)
            }
            Step::Done => {
                self.state.machine.go_leave(m, GoStatus::Dead)?;
                self.state.write_destroy(m);
                self.tasks[t] = Task::FREE;
                return Ok(());
            }
        };
        self.state.write_leave(m, blocks, reason);
        Ok(())
    }

    pub fn enqueue(&mut self, p: usize, t: usize) -> Result<(), Error> {
        self.queues
            .get_mut(p)
            .ok_or(Error::NoSuchExecutor(p))?
            .push_back(t)
            .map_err(|_| Error::TableFull)
    }

    /// Begins a user task (a child of `parent`) on `m` under a new ID, which it returns; needs a
    /// running goroutine on `m`, and a refusal gives out no ID.
    pub fn task_begin(&mut self, m: usize, parent: u64, name: &'static str) -> Result<u64, Error> {
        let id = self.user_tasks.wrapping_add(1);
        self.state
            .annotate(m, Annotation::task_begin(id, parent, name))?;
        self.user_tasks = id;
        Ok(id)
    }
}
