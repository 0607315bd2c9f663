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
#![warn(missing_docs, missing_debug_implementations)]

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
#[cfg(any(feature = "std", test))]
pub use sink::VecSink;
pub use sink::{Offer, Sink};
pub use state::{GoSlot, GoStatus, ProcStatus, Scheduling};

/// This crate's version (major, minor, patch): what a firmware states as `encoder_version` in the
/// session descriptor it sends `gotrace record` (`gotrace-rtt-protocol`), without reading the
/// version out of a manifest itself.
pub const VERSION: [u8; 3] = [
    version_part(env!("CARGO_PKG_VERSION_MAJOR")),
    version_part(env!("CARGO_PKG_VERSION_MINOR")),
    version_part(env!("CARGO_PKG_VERSION_PATCH")),
];

/// One of Cargo's decimal version numbers as a byte; one over 255 fails the build (the
/// descriptor has a byte for it).
const fn version_part(text: &str) -> u8 {
    let digits = text.as_bytes();
    let mut value: u8 = 0;
    let mut i = 0;
    while i < digits.len() {
        value = value * 10 + (digits[i] - b'0');
        i += 1;
    }
    value
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_parts_of_several_digits_are_read_as_decimal() {
        assert_eq!(super::version_part("0"), 0);
        assert_eq!(super::version_part("7"), 7);
        assert_eq!(super::version_part("12"), 12);
        assert_eq!(super::version_part("255"), 255);
    }

    #[test]
    fn the_version_is_the_crates() {
        let [major, minor, patch] = super::VERSION;
        assert_eq!(
            std::format!("{major}.{minor}.{patch}"),
            env!("CARGO_PKG_VERSION")
        );
    }
}
