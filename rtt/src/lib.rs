//! gotrace's RTT transport on the device: the encoder's [`Sink`](gotrace_encoder::Sink) writing
//! the trace into the RTT up channel that `gotrace record` reads.
//!
//! [`RttSink`] copies each batch once, straight into the trace channel's ring ([`TraceRing`]),
//! and publishes it by moving the channel's write offset after its last byte: the host sees a
//! batch whole or not at all, without a scratch copy. Three modes
//! ([`Backpressure`](gotrace_rtt_protocol::Backpressure)):
//!
//! * lossless: a batch waits for room (the firmware slows down, inside the scheduler's critical
//!   section, until the host reads), the encoder offering it again and reading its clock
//!   meanwhile, so that a wait longer than the clock's wrap leaves the times right;
//! * lossy: nothing ever waits; a batch that does not fit is dropped with the rest of its
//!   generation, a loss record names what was dropped, and the end record gives the device's
//!   totals, so the host reports exactly what was lost;
//! * overwrite, a flight recorder (feature `flight-recorder`; without it, lossy): nothing ever
//!   waits, and the channel keeps the newest whole generations, a batch that does not fit
//!   evicting the oldest ones; the host reads the channel once, when the trace has ended or the
//!   core is halted, and the end record counts what was overwritten.
//!
//! In every mode the trace ends with the end record that tells the host its last generation is
//! complete.
//!
//! # Use
//!
//! Declare the channels with one `rtt_init!` (the trace channel named
//! [`TRACE_CHANNEL`](gotrace_rtt_protocol::TRACE_CHANNEL), `"gotrace"`, larger than the largest
//! batch; the control channel `"gotrace-control"` that `gotrace record` sends its commands on;
//! optionally the session channel `"gotrace-session"`, at least 65 bytes), take the trace channel,
//! attach the sink, wait a while for the host's start command ([`ControlChannel::poll`]), trace,
//! tell the host how ([`SessionChannel::announce`]), end the trace when the host says stop, and
//! wait for the host to read the channel empty before exiting:
//!
//! ```no_run
//! # use gotrace_scheduler::{Clock, Platform};
//! # struct Board;
//! # impl Platform for Board {
//! #     fn current_context(&self) -> usize { 0 }
//! #     fn idle(&self) {}
//! # }
//! # struct TimerClock;
//! # impl Clock for TimerClock {
//! #     fn now(&mut self) -> u32 { 0 }
//! #     fn frequency(&self) -> u64 { 25_000_000 }
//! # }
//! # fn start_timed_out() -> bool { true }
//! # fn work_left() -> bool { false }
//! use gotrace_rtt::{AnnounceError, ControlChannel, RttSink, SessionChannel, TraceRing};
//! use gotrace_rtt_protocol::{
//!     Backpressure, ClockSource, Command, SessionDescriptor, PROTOCOL_VERSION,
//! };
//! use gotrace_scheduler::{Config, Scheduler};
//! use rtt_target::{rtt_init, ChannelMode};
//!
//! // Board: the firmware's `Platform`; TimerClock: its `Clock` (on Cortex-M, the `TraceClock`
//! // of gotrace-cortex-m-clock).
//! // 4 task slots, 1 executor, 2 contexts, 512-byte batches.
//! static SCHED: Scheduler<Board, TimerClock, RttSink, 4, 1, 2, 512> = Scheduler::new(
//!     Board,
//!     TimerClock,
//!     RttSink::new(),
//!     Config { generation_ticks: 125_000, generation_bytes: 16 * 1024 },
//! );
//!
//! # fn main() {
//! let channels = rtt_init! {
//!     up: {
//!         0: { size: 8192, mode: ChannelMode::BlockIfFull, name: "gotrace" }
//!         1: { size: 128, name: "gotrace-session" }
//!     }
//!     down: { 0: { size: 64, name: "gotrace-control" } }
//! };
//! let mut control = ControlChannel::new(channels.down.0);
//! let mut session = SessionChannel::take(channels.up.1).expect("declared above");
//! let ring = TraceRing::take(channels.up.0).expect("the trace channel is in the control block");
//! let trace_channel = ring.watch();
//! // The host's start command, or the firmware's own choice once it has waited long enough
//! // (lossy: a lossless trace nobody reads stops the firmware at its first full channel).
//! let backpressure = loop {
//!     match control.poll() {
//!         Some(Command::Start { backpressure, .. }) => break backpressure,
//!         _ if start_timed_out() => break Backpressure::Lossy,
//!         _ => {}
//!     }
//! };
//! SCHED.with_encoder(|enc| enc.sink_mut().attach(ring, backpressure));
//! SCHED.start_tracing().unwrap();
//! let sent = session.announce(&SessionDescriptor {
//!     protocol_version: PROTOCOL_VERSION,
//!     encoder_version: gotrace_encoder::VERSION,
//!     clock: ClockSource::CmsdkApbTimer,
//!     clock_hz: 25_000_000,
//!     trace_channel_bytes: 8192,
//!     batch_buffer_bytes: 512,
//!     batch_buffers: 2,
//!     backpressure,
//!     generation_period_us: 5_000, // 125_000 ticks at 25 MHz
//! });
//! // Nothing of it was sent otherwise: the host says that no descriptor confirms its command.
//! if let Err(AnnounceError::ChannelTooSmall | AnnounceError::Full) = sent { /* log it */ }
//! // ... spawn tasks, run the executors ...
//! while work_left() {
//!     if let Some(Command::Stop) = control.poll() {
//!         break;
//!     }
//! }
//! SCHED.stop_tracing().unwrap(); // the last generation, then the end record
//! trace_channel.flush(); // the host has read it all: now the firmware may exit
//! # }
//! ```
//!
//! The wait at the end is what keeps the end of the trace: a firmware that exits first takes the
//! unread rest of the channel with it. [`RingWatch::is_drained`] asks the same without waiting,
//! for a wait with a time limit. The complete firmwares: `tests/minimal-firmware` (lossless, the
//! smallest that `gotrace record` records: no session descriptor) and `firmware-example` (lossy
//! or lossless as the host's start command says, with its session descriptor).
#![no_std]
#![warn(missing_docs, missing_debug_implementations)]

mod control;
#[cfg(feature = "flight-recorder")]
mod flight_recorder;
mod ring;
mod sink;

pub use control::{AnnounceError, ControlChannel, SessionChannel};
#[cfg(feature = "host-ring")]
pub use ring::host;
pub use ring::{RingWatch, TraceRing};
pub use sink::RttSink;

#[cfg(test)]
mod tests;
