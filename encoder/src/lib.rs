//! `no_std`, allocation-free writer of Go 1.22 execution traces, for microcontrollers.
//!
//! The [`Encoder`] writes the state changes of a small firmware scheduler — executors (Go's Ps),
//! execution contexts (thread mode and interrupt levels: Go's Ms) and tasks or interrupt
//! callbacks (Go's Gs) — as the Go events that record them, in per-context batches of fixed
//! capacity handed whole to a [`Sink`]. The scheduler owns and checks the scheduling state; the
//! encoder keeps only what the trace needs (sequence numbers, goroutine IDs, generations, string
//! and stack tables) and reads the scheduler's state ([`Scheduling`]) when a generation begins.
//! Generations, sequence numbers, status re-statements, strings and stacks follow what Go's own
//! parser requires; `WIRE-FORMAT.md` in the `wire` crate describes exactly what the device writes.
//!
//! Keep the scheduler's state and the encoder in one [`Shared`] (a `critical-section` mutex), so
//! each state change and its event are one atomic step.
#![no_std]
#![forbid(unsafe_code)]

#[cfg(any(feature = "std", test))]
extern crate std;

mod annotation;
mod batch;
mod clock;
mod encoder;
mod error;
mod generation;
mod intern;
mod reason;
mod shared;
mod sink;
mod state;

pub use annotation::Annotation;
pub use clock::{Clock, Coarse};
pub use encoder::{Config, Encoder, Stats, MIN_BATCH_CAPACITY};
pub use error::Error;
pub use intern::TABLE_CAPACITY;
pub use reason::Reason;
pub use shared::Shared;
pub use sink::Sink;
#[cfg(any(feature = "std", test))]
pub use sink::VecSink;
pub use state::{GoSlot, GoStatus, ProcStatus, Scheduling};
