//! Why the encoder refused a call: a context out of range, or a start/stop/advance in the wrong
//! tracing state. (State changes are checked by the scheduler that owns the state.)

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("no execution context {0}")]
    NoSuchContext(usize),
    #[error("tracing is already on")]
    AlreadyTracing,
    #[error("tracing is off")]
    NotTracing,
}
