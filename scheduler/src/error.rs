//! Why the scheduler refused a request.

/// Why a call into the scheduler was refused; nothing was changed (or traced) by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// A state change the current state does not allow: a call made where the model forbids it
    /// (a spawn, an executor round or a callback inside a blocking operation, a round on a
    /// context that runs a goroutine), or a scheduler invariant broken; `what` names the change.
    #[error("context {m}: {what}")]
    Transition {
        /// The execution context that asked for the change.
        m: usize,
        /// The change refused.
        what: &'static str,
    },
    /// The encoder refused to start, stop or advance the trace. Its message is the encoder's
    /// alone (`transparent`): with a prefix and the encoder's error as its source, a reporter
    /// walking the chain printed it twice.
    #[error(transparent)]
    Trace(#[from] gotrace_encoder::Error),
    /// `spawn` found every task slot taken (`TASKS` of the scheduler's type).
    #[error("the task table is full")]
    TableFull,
    /// The task ID names no slot, or a slot whose task finished or was never spawned.
    #[error("no task {0}")]
    NoSuchTask(usize),
    /// The executor index is not below the scheduler's `PS`.
    #[error("no executor {0}")]
    NoSuchExecutor(usize),
    /// The context [`crate::Platform::current_context`] gave is not below the scheduler's `MS`.
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
