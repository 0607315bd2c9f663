//! Why the encoder refused a call: a context out of range, or a start/stop/advance in the wrong
//! tracing state. (State changes are checked by the scheduler that owns the state.)

/// Why the encoder refused a call; nothing was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// The context index is not below the encoder's `MS`.
    #[error("no execution context {0}")]
    NoSuchContext(usize),
    /// `start` while tracing.
    #[error("tracing is already on")]
    AlreadyTracing,
    /// `stop` or `advance_generation` while not tracing.
    #[error("tracing is off")]
    NotTracing,
}
