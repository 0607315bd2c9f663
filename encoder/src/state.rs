//! The scheduling vocabulary the encoder writes about, and what it reads of the scheduler's state.
//!
//! The scheduler owns the state machine (which context holds which executor, what each task is
//! doing) and exists without tracing; the encoder only writes events. At every generation start
//! Go's format re-states the status of every P and every live G, so the encoder reads that state
//! through [`Scheduling`] then, and at no other time.

/// What a P is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ProcStatus {
    /// Held by no context.
    Idle,
    /// Held by a context that runs tasks on it.
    Running,
    /// Held by a context whose task is in a blocking operation: any context may steal it.
    Syscall,
    /// Left in a blocking operation by an interrupt callback that exited while holding it: no
    /// context holds it any more, and the next user must steal it.
    Abandoned,
}

/// What a goroutine (a task, or an interrupt callback) is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum GoStatus {
    /// Not created, or finished.
    Dead,
    /// Ready to run, waiting for its executor.
    Runnable,
    /// Running on a context that holds its executor.
    Running,
    /// In a blocking operation on its context.
    Syscall,
    /// Blocked until woken.
    Waiting,
}

/// A goroutine slot: one per task of the scheduler's table, and one per execution context for
/// the goroutine of an interrupt callback running on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum GoSlot {
    /// The task in this slot of the scheduler's table.
    Task(usize),
    /// The interrupt callback running on this execution context.
    Callback(usize),
}

/// The scheduler's state as the encoder reads it when a generation begins. Indices are those the
/// encoder was given (contexts below `MS`, executors below `PS`, task slots below `GS`).
pub trait Scheduling {
    /// The executor context `m` holds (running, or in a blocking operation), if any.
    fn context_proc(&self, m: usize) -> Option<usize>;
    /// The goroutine on context `m` (running, or in a blocking operation), if any.
    fn context_go(&self, m: usize) -> Option<GoSlot>;
    /// What executor `p` is doing.
    fn proc_status(&self, p: usize) -> ProcStatus;
    /// What the goroutine in slot `g` is doing.
    fn go_status(&self, g: GoSlot) -> GoStatus;
}

/// What the encoder keeps of a goroutine: tracing data only (its ID in the trace, its sequence
/// number in the generation), never its scheduling state. 16 bits each, to save RAM: a generation
/// ends before a sequence number passes [`crate::encoder::SEQ_LIMIT`], and IDs still held by a
/// slot are skipped when the ID counter wraps.
#[derive(Clone, Copy, Debug)]
pub(crate) struct GoTrace {
    /// 0 until the goroutine is named in the current trace.
    pub id: u16,
    /// Restarts at each generation.
    pub seq: u16,
}

impl GoTrace {
    pub const NEW: GoTrace = GoTrace { id: 0, seq: 0 };
}
