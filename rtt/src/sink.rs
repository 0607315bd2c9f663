//! The encoder's sink: the trace RTT up channel, lossless, lossy, or a flight recorder.
//!
//! Lossless: a batch waits until the channel has room for all of it, so nothing is lost and the
//! firmware slows down (the channel must be larger than any batch: see [`RttSink::attach`]). The
//! sink does not wait itself: it answers [`Offer::Full`] and the encoder offers the batch again,
//! reading its clock between offers, so that a host that stops reading for longer than the
//! clock's wrap leaves the times right (inside the critical section, nothing else reads the
//! clock). What no time is read after, a trace's header and its closing records, waits here.
//! Lossy: nothing ever waits. A batch that does not fit whole is dropped, and with it the rest of
//! its generation (a generation missing a batch would not parse). Before the next batch that does
//! make it, a `LossRecord` names the broken generations and counts what was dropped, and the
//! `EndRecord` closing the trace gives the device's totals, so the host can account for every
//! byte, and any scheduling changes the firmware's tracer could not trace ([`Sink::untraced`]).
//! Those closing records are written without waiting too: every batch and loss record of a
//! lossy trace leaves room for them ([`LOSSY_RESERVE`]), and for the header of a trace started
//! after it.
//! Overwrite (a flight recorder, feature `flight-recorder`): nothing ever waits either, and the
//! channel keeps the newest whole generations. The host does not read it while the device writes
//! (it reads it once, when the trace has ended or the core is halted): the sink moves the read
//! offset itself. A batch that does not fit evicts the oldest generation in the channel, whole,
//! and is tried again, as long as an older generation than its own is left
//! (`flight_recorder.rs`); then it is dropped as a lossy batch is (a generation larger
//! than the channel). The end record counts what was overwritten. Its reserve is a lossy trace's:
//! the closing records fit without evicting. Starting a trace empties the channel first: what a
//! trace before it left there was never read, and a flight recorder keeps the newest. Without the
//! feature, `Overwrite` is applied as `Lossy` ([`RttSink::backpressure`] says so).
//!
//! In every mode a batch is copied once, from the encoder's batch buffer straight into the RTT ring
//! ([`TraceRing`]), whose write offset moves only after the whole batch is in: no scratch copy.

use gotrace_encoder::{Offer, Sink};
use gotrace_rtt_protocol::{Backpressure, EndRecord, LossRecord, END_MARKER, LOSS_MARKER};
use gotrace_wire::HEADER_LEN;

#[cfg(feature = "flight-recorder")]
use crate::flight_recorder::evict_oldest;
use crate::ring::{TraceRing, Write};

/// No loss to report: a loss record counts at least one batch.
const NO_LOSS: LossRecord = LossRecord {
    first_generation: 0,
    last_generation: 0,
    batches: 0,
    bytes: 0,
};

/// Room a lossy trace's batches and loss records leave free in the channel: the last loss record
/// and the end record that close the trace (marker and fields each), and the file header of the
/// next trace, so that neither closing nor starting again has to wait for the host.
const LOSSY_RESERVE: usize = 1 + LossRecord::LEN + 1 + EndRecord::LEN + HEADER_LEN;

/// The device's account as the sink keeps it: the end record's counts, those of what it
/// overwrote only in a build that can overwrite, so that a firmware without the flight recorder
/// pays neither their 8 bytes of RAM nor their stores.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
struct Account {
    batches: u32,
    bytes: u32,
    dropped_batches: u32,
    dropped_bytes: u32,
    #[cfg(feature = "flight-recorder")]
    overwritten_batches: u32,
    #[cfg(feature = "flight-recorder")]
    overwritten_bytes: u32,
}

impl Account {
    /// The account as the end record states it.
    fn record(&self) -> EndRecord {
        let record = EndRecord {
            batches: self.batches,
            bytes: self.bytes,
            dropped_batches: self.dropped_batches,
            dropped_bytes: self.dropped_bytes,
            ..EndRecord::default()
        };
        #[cfg(feature = "flight-recorder")]
        let record = EndRecord {
            overwritten_batches: self.overwritten_batches,
            overwritten_bytes: self.overwritten_bytes,
            ..record
        };
        record
    }
}

/// The account of a trace before its first batch.
const NOTHING_WRITTEN: Account = Account {
    batches: 0,
    bytes: 0,
    dropped_batches: 0,
    dropped_bytes: 0,
    #[cfg(feature = "flight-recorder")]
    overwritten_batches: 0,
    #[cfg(feature = "flight-recorder")]
    overwritten_bytes: 0,
};

/// The encoder's [`Sink`]: writes batches into the trace channel once [`RttSink::attach`] has
/// given it the ring (before that, every batch counts as dropped), and keeps the device's account.
/// Made in the scheduler's `static` ([`RttSink::new`]), attached before tracing starts.
#[derive(Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RttSink {
    ring: Option<TraceRing>,
    backpressure: Backpressure,
    /// The loss not reported yet; none while it counts no batch ([`NO_LOSS`]), rather than an
    /// `Option`, whose tag took 8 bytes more of RAM and whose code 72 bytes more of flash.
    pending_loss: LossRecord,
    account: Account,
    /// The scheduling changes no trace shows since the last end record: apart from the account,
    /// which a trace's start resets, as a change missed while tracing was off is missing from the
    /// next trace.
    untraced: u32,
}

impl Default for RttSink {
    fn default() -> Self {
        Self::new()
    }
}

impl RttSink {
    /// A sink without its channel yet, as the scheduler's `static` needs it (`const`).
    pub const fn new() -> Self {
        RttSink {
            ring: None,
            backpressure: Backpressure::Lossless,
            pending_loss: NO_LOSS,
            account: NOTHING_WRITTEN,
            untraced: 0,
        }
    }

    /// Gives the sink the trace channel's ring, written from then on as `backpressure` says
    /// (lossless: waiting for the host; lossy: dropping what does not fit, and saying so;
    /// overwrite: evicting the oldest generations for it, lossy without the feature
    /// `flight-recorder`: [`RttSink::backpressure`] tells the mode applied). The
    /// channel must hold the largest batch (a batch buffer and a header of at most 41 bytes) with
    /// room to spare, and when lossy or overwriting the records that close a trace too: a batch
    /// that could never fit is dropped in every mode, and counted in the end record. Attach before tracing
    /// starts: a ring attached while tracing gets the rest of that trace without its header.
    pub fn attach(&mut self, ring: TraceRing, backpressure: Backpressure) {
        self.ring = Some(ring);
        self.backpressure = match backpressure {
            Backpressure::Overwrite if cfg!(not(feature = "flight-recorder")) => {
                Backpressure::Lossy
            }
            applied => applied,
        };
    }

    /// The mode the sink applies: the one [`RttSink::attach`] was given, but `Lossy` for
    /// `Overwrite` in a build without the feature `flight-recorder`. What the firmware announces
    /// in its `SessionDescriptor`, so that the host reads the channel as it is written.
    #[must_use]
    pub fn backpressure(&self) -> Backpressure {
        self.backpressure
    }

    /// Whether [`RttSink::attach`] has given the sink its channel. Without it tracing still
    /// starts, and every batch is dropped with no header on the channel: a firmware can check
    /// this before `start_tracing` (`debug_assert!(sink.is_attached())`).
    #[must_use]
    pub fn is_attached(&self) -> bool {
        self.ring.is_some()
    }

    /// The device's account so far: the batches the encoder produced, and how many of them were
    /// dropped (the measurement checks that it dropped none while it counted) or overwritten, and
    /// the scheduling changes no trace shows since the last end record.
    #[must_use]
    pub fn account(&self) -> EndRecord {
        EndRecord {
            untraced: self.untraced,
            ..self.account.record()
        }
    }

    fn lossless(&self) -> bool {
        self.backpressure == Backpressure::Lossless
    }

    /// Writes `first` then `second` as one unit, all or nothing, if they fit now; when lossy,
    /// only what `closes` the trace (or starts one) may take the reserve.
    fn write_whole(&mut self, first: &[u8], second: &[u8], closes: bool) -> Write {
        let keep_free = if self.lossless() || closes {
            0
        } else {
            LOSSY_RESERVE
        };
        self.ring
            .as_mut()
            .map_or(Write::Never, |ring| ring.write(first, second, keep_free))
    }

    /// Repeats `write` while the channel is full and the sink lossless: for a trace's header and
    /// closing records, after which the encoder reads no time that a wait could leave short.
    fn until_written(&mut self, mut write: impl FnMut(&mut Self) -> Write) {
        while write(self) == Write::Full && self.lossless() {
            core::hint::spin_loop();
        }
    }

    /// Writes the pending loss record, if any, then the batch, if the record is written.
    #[inline]
    fn write_after_loss(&mut self, header: &[u8], payload: &[u8]) -> Write {
        match self.flush_loss(false) {
            Write::Done => self.write_whole(header, payload, false),
            not_yet => not_yet,
        }
    }

    /// Evicts the oldest generations older than `generation` one by one while what was
    /// `written` of a batch of it (and the loss record before it) was `Full`, writing it again
    /// after each: what it finally was.
    #[cfg(feature = "flight-recorder")]
    #[inline]
    fn write_evicting(
        &mut self,
        mut written: Write,
        generation: u64,
        header: &[u8],
        payload: &[u8],
    ) -> Write {
        // A loss record that did not fit hides whether the batch after it ever can: one that
        // never can must evict nothing, or it leaves the channel empty for nothing.
        let len = header.len() + payload.len() + LOSSY_RESERVE;
        if self.ring.as_ref().is_none_or(|ring| ring.never_fits(len)) {
            return written;
        }
        while written == Write::Full && self.evict_older_than(generation) {
            written = self.write_after_loss(header, payload);
        }
        written
    }

    /// When overwriting, evicts the oldest generation in the channel if it is older than
    /// `generation`, and counts what it gave up; whether it gave up anything.
    #[cfg(feature = "flight-recorder")]
    fn evict_older_than(&mut self, generation: u64) -> bool {
        if self.backpressure != Backpressure::Overwrite {
            return false;
        }
        let Some(evicted) = self
            .ring
            .as_mut()
            .and_then(|ring| evict_oldest(ring, generation))
        else {
            return false;
        };
        // The drops of the loss records it gave up go from `dropped` to `overwritten`: their
        // generations are gone with the oldest, and the host checks `dropped` against the loss
        // records it reads. What arrives is produced less both, as before.
        let account = &mut self.account;
        account.dropped_batches = account
            .dropped_batches
            .wrapping_sub(evicted.dropped_batches);
        account.dropped_bytes = account.dropped_bytes.wrapping_sub(evicted.dropped_bytes);
        account.overwritten_batches = account
            .overwritten_batches
            .wrapping_add(evicted.batches)
            .wrapping_add(evicted.dropped_batches);
        account.overwritten_bytes = account
            .overwritten_bytes
            .wrapping_add(evicted.bytes)
            .wrapping_add(evicted.dropped_bytes);
        true
    }

    /// Writes the pending loss record, if any (when lossy, into the reserve only if it `closes`
    /// the trace); [`Write::Done`] when none is pending any more.
    fn flush_loss(&mut self, closes: bool) -> Write {
        if self.pending_loss.batches == 0 {
            return Write::Done;
        }
        let written = self.write_whole(&[LOSS_MARKER], &self.pending_loss.to_bytes(), closes);
        if written == Write::Done {
            self.pending_loss = NO_LOSS;
        }
        written
    }

    /// Counts a batch of `generation` as dropped, in the device's totals and the pending loss.
    #[inline]
    fn drop_batch(&mut self, generation: u64, len: u32) {
        let account = &mut self.account;
        account.dropped_batches = account.dropped_batches.wrapping_add(1);
        account.dropped_bytes = account.dropped_bytes.wrapping_add(len);
        let loss = &mut self.pending_loss;
        if loss.batches == 0 {
            loss.first_generation = generation;
        }
        loss.last_generation = loss.last_generation.max(generation);
        // Wraps as the account's counts do, which the host checks the records against modulo
        // 2^32 (a debug build's `+= 1` panicked there; 2^32 drops in one record are not met).
        loss.batches = loss.batches.wrapping_add(1);
        loss.bytes = loss.bytes.wrapping_add(len);
    }
}

// The three methods and `drop_batch` are `#[inline]` so that the firmware crate, where the encoder
// is instantiated with this sink, optimizes them together with the encoder's batch hand-over
// before LTO, as when this code was the example firmware's own: the same machine code then.
// Without it the hand-over and the scheduler's tracing controls were compiled otherwise, 116 B
// more flash (`scripts/measure-firmware.sh`: hand_over +84, flush_loss +20, control +18).
impl Sink for RttSink {
    #[inline]
    fn begin_trace(&mut self, header: &[u8]) {
        // The end record closes one trace: a trace started again gets an account of its own.
        self.account = NOTHING_WRITTEN;
        self.pending_loss = NO_LOSS;
        #[cfg(feature = "flight-recorder")]
        if let (Some(ring), Backpressure::Overwrite) = (self.ring.as_mut(), self.backpressure) {
            ring.discard_unread();
        }
        // Lossy or overwriting, it fits without waiting: in an empty channel, or in the reserve a
        // lossy trace before it left.
        self.until_written(|sink| sink.write_whole(header, &[], true));
    }

    #[inline]
    fn write_batch(&mut self, generation: u64, header: &[u8], payload: &[u8]) -> Offer {
        let len = header.len() + payload.len();
        // The rest of a broken generation goes too; a later one may resume after the record.
        let broken =
            self.pending_loss.batches != 0 && generation <= self.pending_loss.last_generation;
        let written = if broken {
            Write::Never
        } else {
            self.write_after_loss(header, payload)
        };
        #[cfg(feature = "flight-recorder")]
        let written = self.write_evicting(written, generation, header, payload);
        match written {
            // Counted once taken, however many times it was offered.
            Write::Full if self.lossless() => return Offer::Full,
            Write::Done => {}
            _ => self.drop_batch(generation, len as u32),
        }
        // The account's counts wrap at 2^32, as the host reads them: a long session produces
        // more than 4 GiB, which must not be an overflow panic in a debug build.
        self.account.batches = self.account.batches.wrapping_add(1);
        self.account.bytes = self.account.bytes.wrapping_add(len as u32);
        Offer::Taken
    }

    #[inline]
    fn end_trace(&mut self) {
        self.until_written(|sink| sink.flush_loss(true));
        self.until_written(|sink| {
            sink.write_whole(&[END_MARKER], &sink.account().to_bytes(), true)
        });
        self.untraced = 0;
    }

    #[inline]
    fn untraced(&mut self, changes: u32) {
        // Wrapping, as the account's counts do: the host reads it modulo 2^32.
        self.untraced = self.untraced.wrapping_add(changes);
    }
}
