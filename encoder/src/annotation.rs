//! User annotations, as Go's `runtime/trace` writes them: tasks, regions, logs, and goroutine
//! labels. One type for all of them, so that a scheduler hands any annotation to the encoder
//! through one call (and one copy of the code that interns names and writes the event).
//!
//! An annotation is built by its constructor as what the encoder writes (the event type, its
//! numbers, its names), so writing one needs no dispatch on its kind.

use gotrace_wire::EventType;

/// A user annotation, written on the context of the running goroutine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Annotation {
    pub(crate) typ: EventType,
    /// The event's arguments: the numbers (task IDs), a slot for the string ID of each name
    /// (filled in when it is written), then the stack (0) but for labels.
    pub(crate) args: [u64; 4],
    /// How many of `args` the event has.
    pub(crate) len: u8,
    /// The slot of the first name's string ID (the numbers come before it).
    pub(crate) first_name: u8,
    pub(crate) names: [&'static str; 2],
    pub(crate) name_count: u8,
}

impl Annotation {
    /// Task `id` (a child of task `parent`, 0 for none) begins: `UserTaskBegin`.
    #[must_use = "an annotation is written only when given to the scheduler (or the encoder)"]
    pub const fn task_begin(id: u64, parent: u64, name: &'static str) -> Self {
        Self::new(EventType::USER_TASK_BEGIN, [id, parent], 2, [name, ""], 1)
    }

    /// Task `id` ends: `UserTaskEnd`.
    #[must_use = "an annotation is written only when given to the scheduler (or the encoder)"]
    pub const fn task_end(id: u64) -> Self {
        Self::new(EventType::USER_TASK_END, [id, 0], 1, ["", ""], 0)
    }

    /// A region named `name` of task `task` (0: none) begins: `UserRegionBegin`.
    #[must_use = "an annotation is written only when given to the scheduler (or the encoder)"]
    pub const fn region_begin(task: u64, name: &'static str) -> Self {
        Self::new(EventType::USER_REGION_BEGIN, [task, 0], 1, [name, ""], 1)
    }

    /// The region named `name` of task `task` ends: `UserRegionEnd`.
    #[must_use = "an annotation is written only when given to the scheduler (or the encoder)"]
    pub const fn region_end(task: u64, name: &'static str) -> Self {
        Self::new(EventType::USER_REGION_END, [task, 0], 1, [name, ""], 1)
    }

    /// A log message `value` in category `key`, for task `task`: `UserLog`.
    #[must_use = "an annotation is written only when given to the scheduler (or the encoder)"]
    pub const fn log(task: u64, key: &'static str, value: &'static str) -> Self {
        Self::new(EventType::USER_LOG, [task, 0], 1, [key, value], 2)
    }

    /// A label for the running goroutine: `GoLabel`.
    #[must_use = "an annotation is written only when given to the scheduler (or the encoder)"]
    pub const fn label(label: &'static str) -> Self {
        Self::new(EventType::GO_LABEL, [0, 0], 0, [label, ""], 1)
    }

    /// The Go event it is written as (`UserLog`, `GoLabel`, ...).
    pub const fn event_type(&self) -> EventType {
        self.typ
    }

    const fn new(
        typ: EventType,
        nums: [u64; 2],
        num_count: u8,
        names: [&'static str; 2],
        name_count: u8,
    ) -> Self {
        // Labels alone carry no stack argument.
        let stack = !matches!(typ, EventType::GO_LABEL) as u8;
        Annotation {
            typ,
            args: [nums[0], nums[1], 0, 0],
            len: num_count + name_count + stack,
            first_name: num_count,
            names,
            name_count,
        }
    }
}
