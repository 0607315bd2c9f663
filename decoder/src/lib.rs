//! Host-side reader and validator of Go execution traces.
//!
//! Two layers, as in Go's own `internal/trace`:
//! * [`raw`]: the wire and text forms event by event, with no semantics (what `gotrace dump` and
//!   `go tool trace -d=wire` print);
//! * the validating reader ([`Reader`]): batches, generations, the cross-M merge and the ordering
//!   rules, producing the event stream `go tool trace -d=parsed` prints ([`Event`]).

pub mod input;
pub mod raw;
pub mod txtar;

mod batch;
mod batch_cursor;
mod error;
mod event;
mod generation;
mod go_sort;
mod id_map;
mod order;
mod quote;
mod reader;
mod source;
mod table;
mod wall_clock;

pub use error::{Error, Location};
pub use event::{
    Event, EventKind, GoId, GoState, Label, Log, Metric, ProcId, ProcState, Range, RangeAttribute,
    Region, Resource, Stack, StackFrame, StateTransition, Task, TaskId, ThreadId, Time, Transition,
    BACKGROUND_TASK, NO_GOROUTINE, NO_PROC, NO_TASK, NO_THREAD,
};
pub use gotrace_wire::Version;
pub use reader::Reader;
pub use table::ClockSnapshot;
