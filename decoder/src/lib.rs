//! Host-side reader and validator of Go execution traces.
//!
//! Two layers, as in Go's own `internal/trace`:
//! * [`raw`]: the wire and text forms event by event, with no semantics (what `gotrace dump` and
//!   `go tool trace -d=wire` print);
//! * the validating reader: batches, generations, the cross-M merge and the ordering rules, producing
//!   the event stream `go tool trace -d=parsed` prints.

pub mod input;
pub mod raw;
pub mod txtar;
