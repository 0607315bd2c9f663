//! What tracked code can do while it runs: a task's [`TaskCx`] and an interrupt callback's
//! [`CallbackCx`], and the annotations both can write ([`Annotate`]).
//!
//! Both hold the scheduler as a trait object, so task functions have one plain type
//! ([`crate::TaskFn`]) whatever the scheduler's capacities are.

use gotrace_encoder::{Annotation, GoSlot};

use crate::error::Error;
use crate::task::{TaskFn, TaskId};

/// The scheduler operations tracked code calls back into.
pub(crate) trait Core {
    fn preemption_point(&self);
    fn blocking_begin(&self, m: usize) -> Result<(), Error>;
    fn release_own(&self, m: usize, p: usize) -> Result<(), Error>;
    fn blocking_end(&self, m: usize, g: GoSlot, p: usize) -> Result<(), Error>;
    fn take_executor(&self, m: usize, p: usize) -> Result<(), Error>;
    fn wake(&self, task: TaskId) -> Result<(), Error>;
    fn spawn(&self, executor: usize, entry: TaskFn, arg: usize) -> Result<TaskId, Error>;
    fn annotate(&self, m: usize, a: Annotation) -> Result<(), Error>;
    fn task_begin(&self, m: usize, parent: u64, name: &'static str) -> Result<u64, Error>;
}

/// A running task's view of the scheduler.
pub struct TaskCx<'a> {
    core: &'a dyn Core,
    task: TaskId,
    arg: usize,
    m: usize,
    executor: usize,
}

impl core::fmt::Debug for TaskCx<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TaskCx")
            .field("task", &self.task)
            .field("arg", &self.arg)
            .field("m", &self.m)
            .field("executor", &self.executor)
            .finish_non_exhaustive()
    }
}

impl<'a> TaskCx<'a> {
    pub(crate) fn new(
        core: &'a dyn Core,
        task: TaskId,
        arg: usize,
        m: usize,
        executor: usize,
    ) -> Self {
        TaskCx {
            core,
            task,
            arg,
            m,
            executor,
        }
    }

    /// The running task's ID (as [`crate::Scheduler::spawn`] returned it).
    pub fn id(&self) -> TaskId {
        self.task
    }

    /// The `arg` given at spawn.
    pub fn arg(&self) -> usize {
        self.arg
    }

    /// The execution context (M) running the task now.
    pub fn context(&self) -> usize {
        self.m
    }

    /// The executor (P) the task runs on: the one it was spawned on.
    pub fn executor(&self) -> usize {
        self.executor
    }

    /// Runs `op`, a blocking operation (a blocking bus transfer, a busy wait), while keeping the
    /// executor: `GoSyscallBegin`, then `GoSyscallEnd`. Meanwhile a higher-priority context may
    /// steal the executor to run other tasks; the task then gets it back afterwards
    /// (`GoSyscallEndBlocked`, `ProcStart`, `GoStart`).
    pub fn blocking<R>(&mut self, op: impl FnOnce() -> R) -> Result<R, Error> {
        self.core.blocking_begin(self.m)?;
        self.core.preemption_point();
        let result = op();
        self.finish_blocking()?;
        Ok(result)
    }

    /// Like [`TaskCx::blocking`], for an operation known to be long (a flash erase): the task
    /// gives its executor up right after starting it (a steal from itself, `ProcSteal`, seed
    /// 001), so interrupt-level executors can run other tasks without stealing it.
    pub fn blocking_detached<R>(&mut self, op: impl FnOnce() -> R) -> Result<R, Error> {
        self.core.blocking_begin(self.m)?;
        self.core.preemption_point();
        self.core.release_own(self.m, self.executor)?;
        self.core.preemption_point();
        let result = op();
        self.finish_blocking()?;
        Ok(result)
    }

    fn finish_blocking(&mut self) -> Result<(), Error> {
        self.core.preemption_point();
        self.core
            .blocking_end(self.m, GoSlot::Task(self.task.0), self.executor)
    }

    /// Creates a task (`GoCreate` by this task).
    pub fn spawn(&mut self, executor: usize, entry: TaskFn, arg: usize) -> Result<TaskId, Error> {
        self.core.spawn(executor, entry, arg)
    }

    /// Wakes another task (`GoUnblock`).
    pub fn wake(&mut self, task: TaskId) -> Result<(), Error> {
        self.core.wake(task)
    }

    /// Lets the platform deliver pending (simulated) interrupts at this point of the task.
    pub fn preemption_point(&self) {
        self.core.preemption_point();
    }
}

/// An interrupt callback's view of the scheduler. Without an executor it can wake tasks; after
/// [`CallbackCx::take_executor`] it can also spawn tasks and write annotations.
pub struct CallbackCx<'a> {
    core: &'a dyn Core,
    m: usize,
    executor: Option<usize>,
    keep: bool,
}

impl core::fmt::Debug for CallbackCx<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CallbackCx")
            .field("m", &self.m)
            .field("executor", &self.executor)
            .field("keep_executor", &self.keep)
            .finish_non_exhaustive()
    }
}

impl<'a> CallbackCx<'a> {
    pub(crate) fn new(core: &'a dyn Core, m: usize) -> Self {
        CallbackCx {
            core,
            m,
            executor: None,
            keep: false,
        }
    }

    /// The execution context (M) of the interrupt.
    pub fn context(&self) -> usize {
        self.m
    }

    /// Takes `executor` for the rest of the callback (stealing it from a blocking operation or
    /// from an earlier callback that left it, if need be): `ProcStart`, then the callback's
    /// goroutine runs on it. One executor per callback: a second take is refused.
    pub fn take_executor(&mut self, executor: usize) -> Result<(), Error> {
        if self.executor.is_some() {
            return Err(Error::Transition {
                m: self.m,
                what: "take an executor: the callback holds one already",
            });
        }
        self.core.take_executor(self.m, executor)?;
        self.executor = Some(executor);
        Ok(())
    }

    /// Leave the executor held when the callback returns instead of giving it up: it stays
    /// abandoned in a blocking operation until a context steals it (Go commit 6d7b3c8). Without an
    /// executor taken ([`CallbackCx::take_executor`]) there is nothing to keep, and it does nothing.
    pub fn keep_executor_on_exit(&mut self) {
        self.keep = true;
    }

    /// Wakes `task`, as [`crate::Scheduler::wake`] does (`GoUnblock` by the callback's
    /// goroutine).
    pub fn wake(&mut self, task: TaskId) -> Result<(), Error> {
        self.core.wake(task)
    }

    /// Creates a task; needs an executor taken by this callback.
    pub fn spawn(&mut self, executor: usize, entry: TaskFn, arg: usize) -> Result<TaskId, Error> {
        if self.executor.is_none() {
            return Err(Error::NoRunningTask(self.m));
        }
        self.core.spawn(executor, entry, arg)
    }

    /// Lets the platform deliver pending (simulated) interrupts at this point of the callback.
    pub fn preemption_point(&self) {
        self.core.preemption_point();
    }

    /// What the callback leaves behind: the executor it took, if any, and whether it keeps it
    /// ([`CallbackCx::keep_executor_on_exit`]) instead of giving it up.
    pub(crate) fn exit_plan(&self) -> (Option<usize>, bool) {
        (self.executor, self.keep)
    }
}

/// User annotations, as Go's `runtime/trace` writes them: tasks, regions, logs, labels. They
/// need a running task (or a callback that took an executor): otherwise
/// [`Error::NoRunningTask`]. While tracing is off (or without the `trace` feature) they are
/// checked and dropped.
///
/// Names are `&'static str`, interned in the generation's string table the first time a
/// generation writes them (a full table ends the generation first); `task` is a user task ID
/// that [`Annotate::task_begin`] returned, 0 for none (Go's background task).
///
/// Implemented by [`TaskCx`] and [`CallbackCx`] only (sealed): an annotation is written for the
/// context the scheduler lent, so that new methods can be added without breaking anyone:
///
/// ```compile_fail
/// struct MyContext;
/// impl gotrace_scheduler::Annotate for MyContext {} // the sealing trait is not implemented
/// ```
pub trait Annotate: sealed::Annotates {
    /// A user task (a child of `parent`, 0 for none) named `name` begins: `UserTaskBegin`.
    /// Returns its ID, new in the scheduler (from 1 up): Go's parser refuses a trace in which a
    /// task ID begins again before it ends, as a caller's own IDs could.
    fn task_begin(&mut self, parent: u64, name: &'static str) -> Result<u64, Error> {
        let Annotator { core, m } = self.annotator();
        core.task_begin(m, parent, name)
    }

    /// User task `id` ends: `UserTaskEnd`.
    fn task_end(&mut self, id: u64) -> Result<(), Error> {
        self.annotator().write(Annotation::task_end(id))
    }

    /// A region `name` of user task `task` on the running goroutine, around `f`:
    /// `UserRegionBegin`, what `f` does, then `UserRegionEnd`; returns what `f` returned. Regions
    /// so nest as Go's parser requires (an end other than the innermost region's is refused:
    /// "misuse of region"), which a begin and an end of their own could not ensure. A refused
    /// begin (no running task) runs nothing; the end is then made on the same running goroutine.
    fn region<R>(
        &mut self,
        task: u64,
        name: &'static str,
        f: impl FnOnce(&mut Self) -> R,
    ) -> Result<R, Error>
    where
        Self: Sized,
    {
        self.annotator()
            .write(Annotation::region_begin(task, name))?;
        let r = f(self);
        self.annotator()
            .write(Annotation::region_end(task, name))
            .map(|()| r)
    }

    /// A log message `value` in category `key`, for user task `task`: `UserLog`.
    fn log(&mut self, task: u64, key: &'static str, value: &'static str) -> Result<(), Error> {
        self.annotator().write(Annotation::log(task, key, value))
    }

    /// A label for the running goroutine: `GoLabel`.
    fn label(&mut self, label: &'static str) -> Result<(), Error> {
        self.annotator().write(Annotation::label(label))
    }
}

/// Seals [`Annotate`]: where each of the scheduler's contexts writes its annotations. Public
/// items of a private module, so that no one outside can name them.
mod sealed {
    use super::{Annotation, Core, Error};

    pub trait Annotates {
        fn annotator(&self) -> Annotator<'_>;
    }

    /// The scheduler and the context an annotation is written for.
    pub struct Annotator<'a> {
        pub(super) core: &'a dyn Core,
        pub(super) m: usize,
    }

    impl core::fmt::Debug for Annotator<'_> {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.debug_struct("Annotator")
                .field("m", &self.m)
                .finish_non_exhaustive()
        }
    }

    impl Annotator<'_> {
        pub(super) fn write(&self, a: Annotation) -> Result<(), Error> {
            self.core.annotate(self.m, a)
        }
    }
}

use sealed::Annotator;

impl Annotate for TaskCx<'_> {}

impl sealed::Annotates for TaskCx<'_> {
    fn annotator(&self) -> Annotator<'_> {
        Annotator {
            core: self.core,
            m: self.m,
        }
    }
}

impl Annotate for CallbackCx<'_> {}

impl sealed::Annotates for CallbackCx<'_> {
    fn annotator(&self) -> Annotator<'_> {
        Annotator {
            core: self.core,
            m: self.m,
        }
    }
}
