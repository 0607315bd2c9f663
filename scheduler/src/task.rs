//! Tasks: poll functions in a static table, each bound to one executor.
//!
//! A task is a plain function called each time the task runs; it returns what the task does
//! next ([`Step`]). State that outlives one call lives wherever the firmware keeps it (statics,
//! or a table indexed by the task's `arg`). Its address is the task's identity in the trace: the
//! new-goroutine stack of its `GoCreate`, symbolized by the host from the ELF.

use crate::context::TaskCx;

/// The body of a task.
pub type TaskFn = fn(&mut TaskCx<'_>) -> Step;

/// What a task does when its function returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Step {
    /// Run again later (`GoStop`, back on its executor's run queue).
    Yield,
    /// Sleep until woken by [`crate::Scheduler::wake`] (`GoBlock`). A wake that arrived while
    /// the task was running is not lost: the task is requeued instead.
    Wait,
    /// Finished (`GoDestroy`); its table slot is free again.
    Done,
}

/// A task's slot in the table. Slots are reused: once a task is [`Step::Done`], the next
/// [`crate::Scheduler::spawn`] may take its slot (spawn takes the lowest free one), and a wake
/// for the finished task's ID then wakes its successor. Keep the ID `spawn` returned, and drop
/// it when the task is done.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TaskId(pub usize);

#[derive(Clone, Copy)]
pub(crate) struct Task {
    pub entry: Option<TaskFn>,
    pub arg: usize,
    pub executor: usize,
    /// A wake arrived while the task was not waiting.
    pub woken: bool,
}

impl Task {
    pub const FREE: Task = Task {
        entry: None,
        arg: 0,
        executor: 0,
        woken: false,
    };
}
