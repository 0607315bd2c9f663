//! The specification of every event type: what the decoder needs to read an event it has never
//! seen before (argument count, trailing data, stacks) and to print it in Go's text form.
//!
//! The table is written one event per line through the small `const` builders below, so that an
//! entry says only how its event differs from the common case (no strings, no stacks, no data,
//! not a range end); it is still a `static` array built at compile time, so `spec` is an index.

use crate::{EventType, Version};

/// An experiment that experimental events (types above 127) belong to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Experiment {
    /// Not experimental: part of the format proper.
    None,
    /// Heap span, heap object and goroutine stack allocation events (Go 1.23).
    AllocFree,
}

/// How one event type is laid out on the wire and how it is named in the text form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct EventSpec {
    /// The type byte this spec describes.
    pub typ: EventType,
    /// The name in the text form and in Go's spec.
    pub name: &'static str,
    /// Argument names, each `name` or `name_type`; timed events start with `dt`.
    pub args: &'static [&'static str],
    /// Indices into `args` of string IDs.
    pub string_ids: &'static [usize],
    /// Indices into `args` of stack IDs; the first is the event's own stack.
    pub stack_ids: &'static [usize],
    /// For the end of a range, the event type that begins it.
    pub start_ev: Option<EventType>,
    /// Timed events appear in the ordered event stream; the others are structural.
    pub is_timed: bool,
    /// Followed by a varint length and that many bytes.
    pub has_data: bool,
    /// Followed by a varint frame count and four varints per frame (PC, func, file, line).
    pub is_stack: bool,
    /// The experiment the event belongs to, if any.
    pub experiment: Experiment,
}

/// The spec of `typ` if `version` defines it.
#[must_use]
pub fn spec(version: Version, typ: EventType) -> Option<&'static EventSpec> {
    if !version.defines(typ) {
        return None;
    }
    let index = if typ.is_experimental() {
        usize::from(EventType::END_OF_GENERATION.0) + usize::from(typ.0 - EventType::SPAN.0)
    } else {
        usize::from(typ.0) - 1
    };
    SPECS.get(index)
}

/// The argument names of an event, as in [`EventSpec::args`].
type ArgNames = &'static [&'static str];

/// A structural event: batch framing and the per-generation tables, outside the ordered stream.
const fn structural(typ: EventType, name: &'static str, args: ArgNames) -> EventSpec {
    EventSpec {
        typ,
        name,
        args,
        string_ids: &[],
        stack_ids: &[],
        start_ev: None,
        is_timed: false,
        has_data: false,
        is_stack: false,
        experiment: Experiment::None,
    }
}

/// A timed event (its first argument is `dt`): part of the ordered event stream.
const fn timed(typ: EventType, name: &'static str, args: ArgNames) -> EventSpec {
    EventSpec {
        is_timed: true,
        ..structural(typ, name, args)
    }
}

/// An event of the AllocFree experiment (all of them timed).
const fn alloc_free(typ: EventType, name: &'static str, args: ArgNames) -> EventSpec {
    EventSpec {
        experiment: Experiment::AllocFree,
        ..timed(typ, name, args)
    }
}

impl EventSpec {
    /// The arguments at `indices` are string IDs.
    const fn strings(self, indices: &'static [usize]) -> EventSpec {
        EventSpec {
            string_ids: indices,
            ..self
        }
    }

    /// The arguments at `indices` are stack IDs, the event's own stack first.
    const fn stacks(self, indices: &'static [usize]) -> EventSpec {
        EventSpec {
            stack_ids: indices,
            ..self
        }
    }

    /// The event ends a range that `start` begins.
    const fn ends(self, start: EventType) -> EventSpec {
        EventSpec {
            start_ev: Some(start),
            ..self
        }
    }

    /// The arguments are followed by a length and that many bytes.
    const fn with_data(self) -> EventSpec {
        EventSpec {
            has_data: true,
            ..self
        }
    }

    /// The arguments are followed by the frames of a stack.
    const fn with_frames(self) -> EventSpec {
        EventSpec {
            is_stack: true,
            ..self
        }
    }
}

use EventType as T;

/// Every event spec, ordered by type: the regular events 1 to 52, then the experimental ones.
#[rustfmt::skip]
pub static SPECS: [EventSpec; 61] = [
    // Structural events.
    structural(T::EVENT_BATCH, "EventBatch", &["gen", "m", "time", "size"]),
    structural(T::STACKS, "Stacks", &[]),
    structural(T::STACK, "Stack", &["id", "nframes"]).with_frames(),
    structural(T::STRINGS, "Strings", &[]),
    structural(T::STRING, "String", &["id"]).with_data(),
    structural(T::CPU_SAMPLES, "CPUSamples", &[]),
    structural(T::CPU_SAMPLE, "CPUSample", &["time", "m", "p", "g", "stack"]).stacks(&[4]),
    structural(T::FREQUENCY, "Frequency", &["freq"]),
    // Procs.
    timed(T::PROCS_CHANGE, "ProcsChange", &["dt", "procs_value", "stack"]).stacks(&[2]),
    timed(T::PROC_START, "ProcStart", &["dt", "p", "p_seq"]),
    timed(T::PROC_STOP, "ProcStop", &["dt"]),
    timed(T::PROC_STEAL, "ProcSteal", &["dt", "p", "p_seq", "m"]),
    timed(T::PROC_STATUS, "ProcStatus", &["dt", "p", "pstatus"]),
    // Goroutines.
    timed(T::GO_CREATE, "GoCreate", &["dt", "new_g", "new_stack", "stack"]).stacks(&[3, 2]),
    timed(T::GO_CREATE_SYSCALL, "GoCreateSyscall", &["dt", "new_g"]),
    timed(T::GO_START, "GoStart", &["dt", "g", "g_seq"]),
    timed(T::GO_DESTROY, "GoDestroy", &["dt"]),
    timed(T::GO_DESTROY_SYSCALL, "GoDestroySyscall", &["dt"]),
    timed(T::GO_STOP, "GoStop", &["dt", "reason_string", "stack"]).strings(&[1]).stacks(&[2]),
    timed(T::GO_BLOCK, "GoBlock", &["dt", "reason_string", "stack"]).strings(&[1]).stacks(&[2]),
    timed(T::GO_UNBLOCK, "GoUnblock", &["dt", "g", "g_seq", "stack"]).stacks(&[3]),
    timed(T::GO_SYSCALL_BEGIN, "GoSyscallBegin", &["dt", "p_seq", "stack"]).stacks(&[2]),
    timed(T::GO_SYSCALL_END, "GoSyscallEnd", &["dt"]).ends(T::GO_SYSCALL_BEGIN),
    timed(T::GO_SYSCALL_END_BLOCKED, "GoSyscallEndBlocked", &["dt"]).ends(T::GO_SYSCALL_BEGIN),
    timed(T::GO_STATUS, "GoStatus", &["dt", "g", "m", "gstatus"]),
    // Stop-the-world.
    timed(T::STW_BEGIN, "STWBegin", &["dt", "kind_string", "stack"]).strings(&[1]).stacks(&[2]),
    timed(T::STW_END, "STWEnd", &["dt"]).ends(T::STW_BEGIN),
    // GC.
    timed(T::GC_ACTIVE, "GCActive", &["dt", "gc_seq"]).ends(T::GC_BEGIN),
    timed(T::GC_BEGIN, "GCBegin", &["dt", "gc_seq", "stack"]).stacks(&[2]),
    timed(T::GC_END, "GCEnd", &["dt", "gc_seq"]).ends(T::GC_BEGIN),
    timed(T::GC_SWEEP_ACTIVE, "GCSweepActive", &["dt", "p"]).ends(T::GC_SWEEP_BEGIN),
    timed(T::GC_SWEEP_BEGIN, "GCSweepBegin", &["dt", "stack"]).stacks(&[1]),
    timed(T::GC_SWEEP_END, "GCSweepEnd", &["dt", "swept_value", "reclaimed_value"])
        .ends(T::GC_SWEEP_BEGIN),
    timed(T::GC_MARK_ASSIST_ACTIVE, "GCMarkAssistActive", &["dt", "g"])
        .ends(T::GC_MARK_ASSIST_BEGIN),
    timed(T::GC_MARK_ASSIST_BEGIN, "GCMarkAssistBegin", &["dt", "stack"]).stacks(&[1]),
    timed(T::GC_MARK_ASSIST_END, "GCMarkAssistEnd", &["dt"]).ends(T::GC_MARK_ASSIST_BEGIN),
    timed(T::HEAP_ALLOC, "HeapAlloc", &["dt", "heapalloc_value"]),
    timed(T::HEAP_GOAL, "HeapGoal", &["dt", "heapgoal_value"]),
    // Annotations.
    timed(T::GO_LABEL, "GoLabel", &["dt", "label_string"]).strings(&[1]),
    timed(T::USER_TASK_BEGIN, "UserTaskBegin", &["dt", "task", "parent_task", "name_string", "stack"])
        .strings(&[3]).stacks(&[4]),
    timed(T::USER_TASK_END, "UserTaskEnd", &["dt", "task", "stack"]).stacks(&[2]),
    timed(T::USER_REGION_BEGIN, "UserRegionBegin", &["dt", "task", "name_string", "stack"])
        .strings(&[2]).stacks(&[3]),
    timed(T::USER_REGION_END, "UserRegionEnd", &["dt", "task", "name_string", "stack"])
        .strings(&[2]).stacks(&[3]).ends(T::USER_REGION_BEGIN),
    timed(T::USER_LOG, "UserLog", &["dt", "task", "key_string", "value_string", "stack"])
        .strings(&[2, 3]).stacks(&[4]),
    // Go 1.23.
    timed(T::GO_SWITCH, "GoSwitch", &["dt", "g", "g_seq"]),
    timed(T::GO_SWITCH_DESTROY, "GoSwitchDestroy", &["dt", "g", "g_seq"]),
    timed(T::GO_CREATE_BLOCKED, "GoCreateBlocked", &["dt", "new_g", "new_stack", "stack"])
        .stacks(&[3, 2]),
    timed(T::GO_STATUS_STACK, "GoStatusStack", &["dt", "g", "m", "gstatus", "stack"]).stacks(&[4]),
    structural(T::EXPERIMENTAL_BATCH, "ExperimentalBatch", &["exp", "gen", "m", "time"])
        .with_data(),
    // Go 1.25.
    structural(T::SYNC, "Sync", &[]),
    timed(T::CLOCK_SNAPSHOT, "ClockSnapshot", &["dt", "mono", "sec", "nsec"]),
    // Go 1.26.
    structural(T::END_OF_GENERATION, "EndOfGeneration", &[]),
    // The AllocFree experiment (Go 1.23), types 128 and up.
    alloc_free(T::SPAN, "Span", &["dt", "id", "npages_value", "kindclass"]),
    alloc_free(T::SPAN_ALLOC, "SpanAlloc", &["dt", "id", "npages_value", "kindclass"]),
    alloc_free(T::SPAN_FREE, "SpanFree", &["dt", "id"]),
    alloc_free(T::HEAP_OBJECT, "HeapObject", &["dt", "id", "type"]),
    alloc_free(T::HEAP_OBJECT_ALLOC, "HeapObjectAlloc", &["dt", "id", "type"]),
    alloc_free(T::HEAP_OBJECT_FREE, "HeapObjectFree", &["dt", "id"]),
    alloc_free(T::GOROUTINE_STACK, "GoroutineStack", &["dt", "id", "order"]),
    alloc_free(T::GOROUTINE_STACK_ALLOC, "GoroutineStackAlloc", &["dt", "id", "order"]),
    alloc_free(T::GOROUTINE_STACK_FREE, "GoroutineStackFree", &["dt", "id"]),
];

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec::Vec;

    use super::*;

    #[test]
    fn table_is_indexed_by_type() {
        for version in Version::ALL {
            for raw in 0..=255u8 {
                let typ = EventType(raw);
                match spec(version, typ) {
                    Some(s) => assert_eq!(s.typ, typ, "{version:?} {raw}"),
                    None => assert!(!version.defines(typ) || raw == 0),
                }
            }
        }
        assert_eq!(
            spec(Version::Go122, EventType::USER_LOG).unwrap().name,
            "UserLog"
        );
        assert!(spec(Version::Go122, EventType::GO_SWITCH).is_none());
        assert_eq!(
            spec(Version::Go126, EventType::GOROUTINE_STACK_FREE)
                .unwrap()
                .name,
            "GoroutineStackFree"
        );
    }

    /// Go names its arguments by kind: `*_string` are string IDs, `stack` and `new_stack` stack
    /// IDs (the event's own first). The explicit index lists must say the same, or the decoder
    /// would resolve a number as the wrong kind of ID.
    #[test]
    fn id_indices_follow_the_argument_names() {
        for s in &SPECS {
            let position = |name: &str| s.args.iter().position(|a| *a == name);
            let strings: Vec<usize> = (0..s.args.len())
                .filter(|&i| s.args[i].ends_with("_string"))
                .collect();
            let stacks: Vec<usize> = [position("stack"), position("new_stack")]
                .into_iter()
                .flatten()
                .collect();
            assert_eq!(s.string_ids, strings, "{}", s.name);
            assert_eq!(s.stack_ids, stacks, "{}", s.name);
            assert_eq!(s.is_timed, s.args.first() == Some(&"dt"), "{}", s.name);
            assert_eq!(
                s.experiment == Experiment::AllocFree,
                s.typ.is_experimental(),
                "{}",
                s.name
            );
        }
    }

    /// Every range end names a begin that exists, and is named after it.
    #[test]
    fn range_ends_point_at_their_begins() {
        for s in SPECS.iter().filter(|s| s.start_ev.is_some()) {
            let begin = spec(Version::Go122, s.start_ev.unwrap()).unwrap();
            let stem = begin.name.strip_suffix("Begin").unwrap();
            assert!(s.name.starts_with(stem), "{} ends {}", s.name, begin.name);
        }
    }

    /// The layout flags the builders set, on the events that have them.
    #[test]
    fn trailing_data_frames_and_range_ends_are_where_go_has_them() {
        let has = |typ| spec(Version::Go126, typ).unwrap();
        let with_data: Vec<EventType> =
            SPECS.iter().filter(|s| s.has_data).map(|s| s.typ).collect();
        assert_eq!(with_data, [T::STRING, T::EXPERIMENTAL_BATCH]);
        let with_frames: Vec<EventType> =
            SPECS.iter().filter(|s| s.is_stack).map(|s| s.typ).collect();
        assert_eq!(with_frames, [T::STACK]);
        assert_eq!(has(T::GO_SYSCALL_END).start_ev, Some(T::GO_SYSCALL_BEGIN));
        assert_eq!(
            has(T::GO_SYSCALL_END_BLOCKED).start_ev,
            Some(T::GO_SYSCALL_BEGIN)
        );
        assert_eq!(has(T::USER_REGION_END).start_ev, Some(T::USER_REGION_BEGIN));
        assert_eq!(has(T::GC_END).start_ev, Some(T::GC_BEGIN));
        assert_eq!(has(T::GO_SYSCALL_BEGIN).start_ev, None);
        assert_eq!(SPECS.iter().filter(|s| s.start_ev.is_some()).count(), 10);
    }

    #[test]
    fn headers_name_their_version() {
        assert_eq!(&Version::Go122.header(), b"go 1.22 trace\0\0\0");
        assert_eq!(&Version::Go126.header(), b"go 1.26 trace\0\0\0");
    }
}
