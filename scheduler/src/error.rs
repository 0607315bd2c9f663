//! Why the scheduler refused a request.

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A state change the current state does not allow: a scheduler invariant was broken.
    #[error("context {m}: {what}")]
    Transition { m: usize, what: &'static str },
    /// The encoder refused to start, stop or advance the trace.
    #[error("trace: {0}")]
    Trace(#[from] gotrace_encoder::Error),
    #[error("the task table is full")]
    TableFull,
    #[error("no task {0}")]
    NoSuchTask(usize),
    #[error("no executor {0}")]
    NoSuchExecutor(usize),
    #[error("no execution context {0}")]
    NoSuchContext(usize),
    /// The executor is held by a context that is running on it (not in a blocking operation),
    /// so the caller cannot take it.
    #[error("executor {0} is running on another context")]
    ExecutorBusy(usize),
    /// The operation needs a running task on an executor (annotations, spawning from a
    /// callback that has not taken an executor).
    #[error("context {0} runs no task on an executor")]
    NoRunningTask(usize),
}
