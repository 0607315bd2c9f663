//! Why the encoder refused a call: an index out of range, a state change that the current state
//! does not allow (a scheduler bug, reported instead of written as a broken trace), or a
//! start/stop in the wrong tracing state.

use crate::state::GoSlot;

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("no execution context {0}")]
    NoSuchContext(usize),
    #[error("no executor {0}")]
    NoSuchProc(usize),
    #[error("no goroutine slot {0:?}")]
    NoSuchGoroutine(GoSlot),
    #[error("context {m}: {what}")]
    Transition { m: usize, what: &'static str },
    #[error("tracing is already on")]
    AlreadyTracing,
    #[error("tracing is off")]
    NotTracing,
}
