//! Where finished trace bytes go: the [`Sink`] trait, and a `Vec` sink for host tests.
//!
//! The encoder hands a sink whole batches only (header and payload of one batch, one call), so a
//! sink that has to drop data (a full RTT buffer in lossy mode) can drop whole batches and keep
//! what it does pass on parseable. A sink that has to wait (lossless) answers [`Offer::Full`]
//! instead, and the encoder does the waiting, reading its clock meanwhile.

/// Receives the bytes of traces as the encoder finishes them.
///
/// The encoder calls its sink from inside the state change that filled a batch, so with
/// [`crate::Shared`] the sink runs in a critical section, where no timer reads the clock. A sink
/// with no room for a batch it must not drop (a lossless RTT channel whose host has not read)
/// does not wait itself: it answers [`Offer::Full`], and the encoder offers the same batch again
/// until it is taken, reading its clock between offers, so that a wait longer than the clock's
/// wrap is counted (a wait inside `write_batch` would leave every later time 2^32 ticks short,
/// in a trace Go accepts). A generation's end writes every context's batch and the tables in one
/// go: at most `MS * BUF` bytes plus the tables.
///
/// For `gotrace record`, the sink writes to the RTT up channel named `gotrace`: the header, each
/// batch whole or not at all (two writes, header then payload, must not be able to keep one and
/// drop the other), and in [`Sink::end_trace`] the end record (`gotrace-rtt-protocol`'s
/// `END_MARKER`, then its `EndRecord`: the batches and bytes produced and dropped, and the
/// scheduling changes [`Sink::untraced`] counted). Without the end record the host cannot know
/// the last generation complete, and discards it.
pub trait Sink {
    /// A tracing session starts: `header` is the 16-byte file header. Everything written until
    /// [`Sink::end_trace`] belongs to this one trace.
    fn begin_trace(&mut self, header: &[u8]);
    /// One whole batch of generation `generation` (also the header's first field, given apart
    /// for a sink that drops whole generations): its `EventBatch` header, then its payload.
    /// [`Offer::Taken`] once the sink is done with it (written, or dropped and accounted for);
    /// [`Offer::Full`], having kept none of it, to be offered the same batch again.
    fn write_batch(&mut self, generation: u64, header: &[u8], payload: &[u8]) -> Offer;
    /// The session ended: the trace is complete. A sink read by `gotrace record` writes its end
    /// record here (see above); one with nothing to close writes nothing. Required, with no
    /// default, so that a sink cannot leave it out unawares.
    fn end_trace(&mut self);
    /// `changes` scheduling changes happened that no trace shows: an executor's trace hooks that
    /// its tracer could not apply (`gotrace-embassy`'s refusals), the executor having made them
    /// all the same; tracing on or off, as a change missed while off is missing from the state
    /// the next trace starts from. A sink read by `gotrace record` counts them in its next end
    /// record, so that the host reports them; one that the host reads no account from has
    /// nothing to do. Required, as [`Sink::end_trace`] is.
    fn untraced(&mut self, changes: u32);
}

/// What a sink did with a batch offered to it ([`Sink::write_batch`]).
#[must_use = "a batch the sink had no room for must be offered again"]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Offer {
    /// The sink is done with the batch: written, or dropped and accounted for.
    Taken,
    /// No room now, and the batch must not be dropped: none of it was kept, and the encoder
    /// offers it again once it has read its clock.
    Full,
}

/// A sink that keeps every trace in memory, one `Vec` per tracing session (host tests and the
/// simulator).
#[cfg(any(feature = "std", test))]
#[derive(Clone, Debug, Default)]
pub struct VecSink {
    /// The traces, oldest first; the last one may still be growing.
    pub traces: std::vec::Vec<std::vec::Vec<u8>>,
    /// The scheduling changes no trace shows ([`Sink::untraced`]), since the sink was made.
    pub untraced: u32,
}

#[cfg(any(feature = "std", test))]
impl VecSink {
    /// No trace yet. `const`, so that a `static` can hold it (a host test of a firmware's
    /// tracing).
    #[must_use]
    pub const fn new() -> Self {
        VecSink {
            traces: std::vec::Vec::new(),
            untraced: 0,
        }
    }
}

#[cfg(any(feature = "std", test))]
impl Sink for VecSink {
    fn begin_trace(&mut self, header: &[u8]) {
        self.traces.push(header.to_vec());
    }

    fn write_batch(&mut self, _: u64, header: &[u8], payload: &[u8]) -> Offer {
        // begin_trace always comes first; a batch without it is an encoder bug.
        let trace = self
            .traces
            .last_mut()
            .expect("the encoder writes no batch before begin_trace");
        trace.extend_from_slice(header);
        trace.extend_from_slice(payload);
        Offer::Taken
    }

    /// Each trace is complete in its `Vec`: nothing to close.
    fn end_trace(&mut self) {}

    fn untraced(&mut self, changes: u32) {
        self.untraced = self.untraced.saturating_add(changes);
    }
}
