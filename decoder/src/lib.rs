//! Host-side reader and validator of Go execution traces.
//!
//! Two layers, as in Go's own `internal/trace`:
//! * [`raw`]: the wire and text forms event by event, with no semantics (what `gotrace dump` and
//!   `go tool trace -d=wire` print);
//! * the validating reader ([`Reader`]): batches, generations, the cross-M merge and the ordering
//!   rules, producing the event stream `go tool trace -d=parsed` prints ([`Event`]).
//!
//! ```
//! // The smallest valid trace: a header and one generation holding only its clock rate.
//! let mut trace = b"go 1.22 trace\0\0\0".to_vec();
//! trace.extend([1, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 2, 8, 1]);
//! let mut reader = gotrace_decoder::Reader::new(&trace[..])?;
//! let mut printed = Vec::new();
//! while let Some(event) = reader.read_event()? {
//!     printed.push(event.to_string()); // Go's Event.String()
//! }
//! assert_eq!(printed, ["M=-1 P=-1 G=-1 Sync Time=1 N=1", "M=-1 P=-1 G=-1 Sync Time=2 N=2"]);
//!
//! // A broken one: Go's message, and where it is.
//! trace.extend([1, 1, 0, 0, 2, 11, 0]); // ProcStop on thread 0, which holds no P
//! let mut reader = gotrace_decoder::Reader::new(&trace[..])?;
//! let error = loop {
//!     match reader.read_event() {
//!         Ok(Some(_)) => continue,
//!         Ok(None) => unreachable!("the trace is broken"),
//!         Err(error) => break error,
//!     }
//! };
//! assert_eq!(error.go_message(), "event ProcStop for proc (-1) that doesn't exist");
//! assert_eq!(error.location().batch, Some(1));
//! # Ok::<(), gotrace_decoder::Error>(())
//! ```
//!
//! A firmware's own `cargo test` over a recorded trace: it is valid, no task waited longer than
//! a bound, every `transfer` region kept within its budget, no log said "overrun", and some
//! executor was stolen from a task stuck in a blocking operation (a `ProcSteal`).
//!
//! ```no_run
//! use std::collections::HashMap;
//! use gotrace_decoder::{EventKind, EventType, GoState, Reader, Transition};
//!
//! let mut reader = Reader::new(std::fs::File::open("firmware.trace")?)?;
//! let mut waiting_since = HashMap::new(); // goroutine -> when it began to wait
//! let mut regions_open = HashMap::new(); // (goroutine, region type) -> when it began
//! let mut steals = 0;
//! let mut end = 0; // the last event's time
//! while let Some(event) = reader.read_event()? {
//!     end = event.time();
//!     match event.kind() {
//!         EventKind::StateTransition => {
//!             let Some(transition) = event.state_transition() else { continue };
//!             if let Transition::Goroutine { id, from, to } = transition.transition {
//!                 match (from, to) {
//!                     // Re-stated at a generation's start: still waiting since before.
//!                     (GoState::Waiting, GoState::Waiting) => {}
//!                     (_, GoState::Waiting) => {
//!                         waiting_since.insert(id, event.time());
//!                     }
//!                     (GoState::Waiting, _) => {
//!                         let since = waiting_since.remove(&id).unwrap_or(event.time());
//!                         let waited = event.time() - since;
//!                         assert!(waited <= 5_000_000, "goroutine {id} waited {waited} ns");
//!                     }
//!                     _ => {}
//!                 }
//!             }
//!             steals += usize::from(event.wire_type() == Some(EventType::PROC_STEAL));
//!         }
//!         EventKind::RegionBegin | EventKind::RegionEnd => {
//!             let Some(region) = event.region() else { continue };
//!             let key = (event.goroutine(), region.region_type.to_vec());
//!             if event.kind() == EventKind::RegionBegin {
//!                 regions_open.insert(key, event.time());
//!             } else if let Some(begin) = regions_open.remove(&key) {
//!                 let took = event.time() - begin;
//!                 assert!(region.region_type != b"transfer" || took <= 2_000_000, "{event:?}");
//!             }
//!         }
//!         EventKind::Log => {
//!             let log = event.log().expect("a Log event has a log");
//!             assert_ne!(log.message, b"overrun", "{event:?}");
//!         }
//!         _ => {}
//!     }
//! }
//! // A task still waiting when the trace ends (stuck for good?) has waited at least this long.
//! for (id, since) in waiting_since {
//!     let waited = end - since;
//!     assert!(waited <= 5_000_000, "goroutine {id} still waiting after {waited} ns");
//! }
//! assert!(steals > 0, "no blocking operation's executor was ever stolen");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A file of any form, told by its content as `gotrace validate` tells it: binary, Go's text form
//! (what `gotrace dump` prints, converted as it is read) or a Go `.test` file, through
//! [`input::Input`]. An error is handed to [`Input::explain`](input::Input::explain), which names a
//! text's line (and makes a line that did not convert the error); at the end,
//! [`Input::finish`](input::Input::finish) converts what the reader did not need (a bad line there
//! is still an error). Where each goroutine's time went, as `go tool trace`'s goroutine analysis
//! reckons it, comes from a [`Summarizer`] fed every event.
//!
//! ```no_run
//! use gotrace_decoder::{input::Input, Reader, Summarizer};
//!
//! let input = Input::new(std::fs::File::open("trace.txt")?)?;
//! let mut reader = Reader::new(input)?;
//! let mut summarizer = Summarizer::new();
//! loop {
//!     match reader.read_event_ref() {
//!         Ok(Some(event)) => summarizer.event(event),
//!         Ok(None) => break reader.get_mut().finish()?,
//!         Err(error) => return Err(reader.get_ref().explain(error).into()),
//!     }
//! }
//! for g in summarizer.finish() {
//!     println!("G{} ran {} ns", g.id, g.times.exec);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

pub mod input;
pub mod raw;
pub mod txtar;

mod batch;
mod batch_cursor;
mod error;
mod event;
mod generation;
mod go_sort;
mod header;
mod id_map;
mod order;
mod quote;
mod reader;
mod ready;
mod source;
mod summary;
mod table;
mod wall_clock;

pub use error::{Error, Location};
pub use event::{
    Event, EventKind, GoId, GoState, Label, Log, Metric, ProcId, ProcState, Range, RangeAttribute,
    Region, Resource, Stack, StackFrame, StateTransition, Task, TaskId, ThreadId, Time, Transition,
    BACKGROUND_TASK, NO_GOROUTINE, NO_PROC, NO_TASK, NO_THREAD,
};
// The wire crate's types that this crate's API hands out, so that a user names them without
// depending on `gotrace-wire` (and on the same version of it) too.
pub use gotrace_wire::{EventSpec, EventType, Version};
pub use reader::Reader;
pub use summary::{GoroutineSummary, GoroutineTimes, Summarizer};
pub use table::ClockSnapshot;
