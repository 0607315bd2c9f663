//! gotrace's RTT transport on the device: the encoder's [`Sink`](gotrace_encoder::Sink) writing
//! the trace into the RTT up channel that `gotrace record` reads.
//!
//! [`RttSink`] copies each batch once, straight into the trace channel's ring ([`TraceRing`]),
//! and publishes it by moving the channel's write offset after its last byte: the host sees a
//! batch whole or not at all, without a scratch copy. Two modes
//! ([`Backpressure`](gotrace_rtt_protocol::Backpressure)):
//!
//! * lossless: a batch waits for room (the firmware slows down, inside the scheduler's critical
//!   section, until the host reads);
//! * lossy: nothing ever waits; a batch that does not fit is dropped with the rest of its
//!   generation, a loss record names what was dropped, and the end record gives the device's
//!   totals, so the host reports exactly what was lost.
//!
//! Either way the trace ends with the end record that tells the host its last generation is
//! complete.
//!
//! # Use
//!
//! Declare the channels with one `rtt_init!` (the trace channel named
//! [`TRACE_CHANNEL`](gotrace_rtt_protocol::TRACE_CHANNEL), `"gotrace"`, larger than the largest
//! batch; the control channel `"gotrace-control"` that `gotrace record` sends its commands on),
//! take the trace channel, attach the sink, trace, end the trace, and wait for the host to read
//! the channel empty before exiting:
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
//! use gotrace_rtt::{RttSink, TraceRing};
//! use gotrace_rtt_protocol::Backpressure;
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
//!     up: { 0: { size: 8192, mode: ChannelMode::BlockIfFull, name: "gotrace" } }
//!     down: { 0: { size: 64, name: "gotrace-control" } }
//! };
//! let ring = TraceRing::take(channels.up.0).expect("the trace channel is in the control block");
//! let trace_channel = ring.watch();
//! SCHED.with_encoder(|enc| enc.sink_mut().attach(ring, Backpressure::Lossless));
//! SCHED.start_tracing().unwrap();
//! // ... spawn tasks, run the executors, read the control channel ...
//! SCHED.stop_tracing().unwrap(); // the last generation, then the end record
//! trace_channel.flush(); // the host has read it all: now the firmware may exit
//! # }
//! ```
//!
//! The wait at the end is what keeps the end of the trace: a firmware that exits first takes the
//! unread rest of the channel with it. [`RingWatch::is_drained`] asks the same without waiting,
//! for a wait with a time limit. The complete firmwares: `tests/minimal-firmware` (lossless, the
//! smallest that `gotrace record` records) and `firmware-example` (lossy or lossless as the
//! host's start command says).
#![no_std]
#![warn(missing_docs)]

mod ring;
mod sink;

#[cfg(feature = "host-ring")]
pub use ring::host;
pub use ring::{RingWatch, TraceRing};
pub use sink::RttSink;

#[cfg(test)]
mod tests;
