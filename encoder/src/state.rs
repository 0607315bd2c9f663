//! The scheduling state the encoder mirrors: what each P (executor) and G (task or interrupt
//! callback) is doing, which M (execution context) holds it, and its sequence number.
//!
//! The encoder keeps this state whether or not tracing is on, so that every generation (and the
//! first one after tracing starts) can re-state the status of every P and every live G, and so
//! that a state change and the event recording it are one step (seed 004).

use crate::batch::Batch;

/// What a P is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcStatus {
    /// Held by no context.
    Idle,
    /// Held by a context that runs tasks on it.
    Running,
    /// Held by a context whose task is in a blocking operation: any context may steal it.
    Syscall,
    /// Left in a blocking operation by an interrupt callback that exited while holding it
    /// (seed 000): no context holds it any more, and the next user must steal it.
    Abandoned,
}

/// What a goroutine (a task, or an interrupt callback) is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GoStatus {
    /// Not created, or finished.
    Dead,
    Runnable,
    Running,
    /// In a blocking operation on its context.
    Syscall,
    /// Blocked until woken.
    Waiting,
}

/// A goroutine slot: one per task of the scheduler's table, and one per execution context for
/// the goroutine of an interrupt callback running on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GoSlot {
    Task(usize),
    Callback(usize),
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct ProcState {
    pub status: ProcStatus,
    /// The context that holds it (Running, Syscall) or last held it (Abandoned).
    pub m: usize,
    /// Restarts at each generation: 32 bits are plenty, and cheaper on the device.
    pub seq: u32,
}

impl ProcState {
    pub const IDLE: ProcState = ProcState {
        status: ProcStatus::Idle,
        m: 0,
        seq: 0,
    };
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct GoState {
    pub status: GoStatus,
    /// The goroutine ID in the trace; 0 until first created.
    pub id: u64,
    /// Restarts at each generation: 32 bits are plenty, and cheaper on the device.
    pub seq: u32,
}

impl GoState {
    pub const DEAD: GoState = GoState {
        status: GoStatus::Dead,
        id: 0,
        seq: 0,
    };
}

/// One execution context: what it holds, and its batch under construction.
pub(crate) struct MState<const BUF: usize> {
    pub p: Option<usize>,
    pub g: Option<GoSlot>,
    pub batch: Batch<BUF>,
}

impl<const BUF: usize> MState<BUF> {
    pub const fn new() -> Self {
        MState {
            p: None,
            g: None,
            batch: Batch::new(),
        }
    }
}
