//! The Go execution-trace wire format, as one table shared by both ends of gotrace.
//!
//! The device encoder needs the event type numbers and status codes; the host decoder needs the
//! full specification of each event (name, argument names, which arguments are string or stack
//! IDs, whether it carries data or a stack). Keeping both in one `no_std` crate means the two ends
//! can never disagree about the format. Only the constants an encoder uses end up in firmware: the
//! spec table is plain data and is dropped by the linker when unused.
//!
//! The format itself (Go 1.22, extended in 1.23, 1.25 and 1.26) is described in
//! `WIRE-FORMAT.md` beside this crate.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations)]

mod spec;
pub mod varint;

pub use spec::{spec, EventSpec, Experiment, SPECS};

/// A trace format version, named after the Go release that introduced it.
///
/// Not exhaustive: a later Go's format is a new version, and a `match` must be ready for it:
/// ```compile_fail,E0004
/// use gotrace_wire::Version as V;
/// fn has_end_of_generation(version: V) -> bool {
///     match version {
///         V::Go126 => true,
///         V::Go122 | V::Go123 | V::Go125 => false,
///     }
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Version {
    /// Go 1.22's format, the first of the generational tracer: what the device encoder writes.
    Go122,
    /// Go 1.23's: goroutine switches, goroutines created blocked, statuses with stacks,
    /// experimental batches.
    Go123,
    /// Go 1.25's: sync batches with clock snapshots.
    Go125,
    /// Go 1.26's: an explicit end of each generation.
    Go126,
}

impl Version {
    /// Every version this crate knows, oldest first.
    pub const ALL: [Version; 4] = [
        Version::Go122,
        Version::Go123,
        Version::Go125,
        Version::Go126,
    ];

    /// The minor Go version number in the header (`go 1.N trace`).
    pub const fn minor(self) -> u32 {
        match self {
            Version::Go122 => 22,
            Version::Go123 => 23,
            Version::Go125 => 25,
            Version::Go126 => 26,
        }
    }

    /// The version a header's minor number names; `None` for a release that did not change the
    /// format's version (or one this crate does not know).
    #[must_use]
    pub const fn from_minor(minor: u32) -> Option<Version> {
        match minor {
            22 => Some(Version::Go122),
            23 => Some(Version::Go123),
            25 => Some(Version::Go125),
            26 => Some(Version::Go126),
            _ => None,
        }
    }

    /// Whether `go 1.N trace` names a trace in the format before Go 1.22's (Go 1.11, 1.19 and 1.21
    /// wrote the three versions of it), which Go's parser still reads by converting it, and which
    /// no [`Version`] here stands for.
    pub const fn is_older_format(minor: u32) -> bool {
        matches!(minor, 11 | 19 | 21)
    }

    /// The 16-byte file header: `go 1.N trace` padded with NULs.
    pub const fn header(self) -> [u8; HEADER_LEN] {
        let mut h = *b"go 1.22 trace\0\0\0";
        let minor = self.minor();
        h[5] = b'0' + (minor / 10) as u8;
        h[6] = b'0' + (minor % 10) as u8;
        h
    }

    /// The highest non-experimental event type this version defines.
    pub const fn last_event(self) -> EventType {
        match self {
            Version::Go122 => EventType::USER_LOG,
            Version::Go123 => EventType::EXPERIMENTAL_BATCH,
            Version::Go125 => EventType::CLOCK_SNAPSHOT,
            Version::Go126 => EventType::END_OF_GENERATION,
        }
    }

    /// Whether this version defines event type `typ` (experimental events from Go 1.23 on).
    pub const fn defines(self, typ: EventType) -> bool {
        if typ.0 == 0 {
            return false;
        }
        if typ.0 <= self.last_event().0 {
            return true;
        }
        typ.is_experimental() && !matches!(self, Version::Go122)
    }
}

/// Length of the file header.
pub const HEADER_LEN: usize = 16;

/// Largest batch payload the format allows, in bytes.
pub const MAX_BATCH_SIZE: u64 = 64 << 10;
/// Largest number of frames in one stack.
pub const MAX_FRAMES_PER_STACK: u64 = 128;
/// Largest trailing data of one event (a string), in bytes.
pub const MAX_EVENT_TRAILER_DATA_SIZE: u64 = 1 << 10;
/// Most arguments a timed event has, its timestamp delta included.
pub const MAX_TIMED_EVENT_ARGS: usize = 5;
/// The M ID of batches that belong to no thread (frequency, stacks, strings, CPU samples).
pub const NO_THREAD: u64 = u64::MAX;
/// The P ID meaning "no P" (for example in `CPUSample`).
pub const NO_PROC: u64 = u64::MAX;
/// The G ID meaning "no goroutine".
pub const NO_GOROUTINE: u64 = u64::MAX;

/// An event type byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct EventType(pub u8);

impl EventType {
    /// No event: type byte 0 is never written.
    pub const NONE: EventType = EventType(0);
    // Structural events.
    /// The header of a batch: its generation, M, base time and payload size.
    pub const EVENT_BATCH: EventType = EventType(1);
    /// Opens the batch of a generation's stack table.
    pub const STACKS: EventType = EventType(2);
    /// One entry of the stack table: an ID and its frames (PC, function, file, line each).
    pub const STACK: EventType = EventType(3);
    /// Opens the batch of a generation's string table.
    pub const STRINGS: EventType = EventType(4);
    /// One entry of the string table: an ID and its bytes.
    pub const STRING: EventType = EventType(5);
    /// Opens the batch of a generation's CPU profile samples.
    pub const CPU_SAMPLES: EventType = EventType(6);
    /// One CPU profile sample: time, M, P, goroutine and stack.
    pub const CPU_SAMPLE: EventType = EventType(7);
    /// The clock's ticks per second, once per generation: turns timestamps into nanoseconds.
    pub const FREQUENCY: EventType = EventType(8);
    // Procs.
    /// `GOMAXPROCS` changed (a metric): the new count of Ps.
    pub const PROCS_CHANGE: EventType = EventType(9);
    /// The M takes an idle P and starts running it.
    pub const PROC_START: EventType = EventType(10);
    /// The M releases the P it runs; the P goes idle.
    pub const PROC_STOP: EventType = EventType(11);
    /// The M takes a P away from another M (or from itself) that left it in a syscall.
    pub const PROC_STEAL: EventType = EventType(12);
    /// A P's status, stated at the start of each generation (or when first mentioned).
    pub const PROC_STATUS: EventType = EventType(13);
    // Goroutines.
    /// The running goroutine creates a new one, with the new one's start stack.
    pub const GO_CREATE: EventType = EventType(14);
    /// A goroutine comes into being on an M in a syscall, without a P (a callback from outside, an interrupt on a device).
    pub const GO_CREATE_SYSCALL: EventType = EventType(15);
    /// The P starts running a runnable goroutine.
    pub const GO_START: EventType = EventType(16);
    /// The running goroutine ends.
    pub const GO_DESTROY: EventType = EventType(17);
    /// A goroutine made by `GO_CREATE_SYSCALL` ends, still in its syscall.
    pub const GO_DESTROY_SYSCALL: EventType = EventType(18);
    /// The running goroutine stops but stays runnable (yields, is preempted), with a reason.
    pub const GO_STOP: EventType = EventType(19);
    /// The running goroutine blocks (waits), with a reason.
    pub const GO_BLOCK: EventType = EventType(20);
    /// A waiting goroutine becomes runnable.
    pub const GO_UNBLOCK: EventType = EventType(21);
    /// The running goroutine enters a syscall (a blocking operation), keeping its P for now.
    pub const GO_SYSCALL_BEGIN: EventType = EventType(22);
    /// The goroutine leaves its syscall and keeps running on the P it held.
    pub const GO_SYSCALL_END: EventType = EventType(23);
    /// The goroutine leaves its syscall having lost its P; it is runnable, waiting for a P.
    pub const GO_SYSCALL_END_BLOCKED: EventType = EventType(24);
    /// A goroutine's status and M, stated at the start of each generation (or when first mentioned).
    pub const GO_STATUS: EventType = EventType(25);
    // Stop-the-world.
    /// A stop-the-world begins, with its kind.
    pub const STW_BEGIN: EventType = EventType(26);
    /// The stop-the-world ends.
    pub const STW_END: EventType = EventType(27);
    // GC.
    /// A GC cycle already running when the generation began.
    pub const GC_ACTIVE: EventType = EventType(28);
    /// A GC cycle begins.
    pub const GC_BEGIN: EventType = EventType(29);
    /// The GC cycle ends.
    pub const GC_END: EventType = EventType(30);
    /// A P that was sweeping when the generation began.
    pub const GC_SWEEP_ACTIVE: EventType = EventType(31);
    /// The P starts sweeping.
    pub const GC_SWEEP_BEGIN: EventType = EventType(32);
    /// The P stops sweeping: bytes swept and reclaimed.
    pub const GC_SWEEP_END: EventType = EventType(33);
    /// A goroutine that was in a mark assist when the generation began.
    pub const GC_MARK_ASSIST_ACTIVE: EventType = EventType(34);
    /// The running goroutine starts a mark assist.
    pub const GC_MARK_ASSIST_BEGIN: EventType = EventType(35);
    /// The running goroutine's mark assist ends.
    pub const GC_MARK_ASSIST_END: EventType = EventType(36);
    /// Heap bytes in use (a metric).
    pub const HEAP_ALLOC: EventType = EventType(37);
    /// The heap goal (a metric).
    pub const HEAP_GOAL: EventType = EventType(38);
    // Annotations.
    /// A label on the running goroutine.
    pub const GO_LABEL: EventType = EventType(39);
    /// A user task begins: its ID, its parent's and its type's name.
    pub const USER_TASK_BEGIN: EventType = EventType(40);
    /// A user task ends.
    pub const USER_TASK_END: EventType = EventType(41);
    /// A user region begins on the running goroutine, in a task, with its name.
    pub const USER_REGION_BEGIN: EventType = EventType(42);
    /// The user region of that name ends.
    pub const USER_REGION_END: EventType = EventType(43);
    /// A user log record: task, key and value.
    pub const USER_LOG: EventType = EventType(44);
    // Go 1.23.
    /// The running goroutine hands its M and P straight to another (`coroswitch`, Go 1.23).
    pub const GO_SWITCH: EventType = EventType(45);
    /// As `GO_SWITCH`, the goroutine handing over ending as it does.
    pub const GO_SWITCH_DESTROY: EventType = EventType(46);
    /// A new goroutine is created waiting, not runnable (Go 1.23).
    pub const GO_CREATE_BLOCKED: EventType = EventType(47);
    /// `GO_STATUS` with the goroutine's stack (Go 1.23).
    pub const GO_STATUS_STACK: EventType = EventType(48);
    /// A batch of an experiment's own data (Go 1.23).
    pub const EXPERIMENTAL_BATCH: EventType = EventType(49);
    // Go 1.25.
    /// Opens a generation's sync batch: its frequency and clock snapshot (Go 1.25).
    pub const SYNC: EventType = EventType(50);
    /// The trace clock, the monotonic clock and the wall clock read together (Go 1.25).
    pub const CLOCK_SNAPSHOT: EventType = EventType(51);
    // Go 1.26.
    /// Ends a generation (Go 1.26).
    pub const END_OF_GENERATION: EventType = EventType(52);

    /// Experimental events occupy the range above 127.
    /// Regular events are below this type; experimental events are above it.
    pub const MAX_EVENT: EventType = EventType(127);
    // Experimental events of the AllocFree experiment (Go 1.23).
    /// A live heap span, stated at the start of a generation (AllocFree experiment).
    pub const SPAN: EventType = EventType(128);
    /// A heap span is allocated (AllocFree experiment).
    pub const SPAN_ALLOC: EventType = EventType(129);
    /// A heap span is freed (AllocFree experiment).
    pub const SPAN_FREE: EventType = EventType(130);
    /// A live heap object, stated at the start of a generation (AllocFree experiment).
    pub const HEAP_OBJECT: EventType = EventType(131);
    /// A heap object is allocated (AllocFree experiment).
    pub const HEAP_OBJECT_ALLOC: EventType = EventType(132);
    /// A heap object is freed (AllocFree experiment).
    pub const HEAP_OBJECT_FREE: EventType = EventType(133);
    /// A live goroutine stack, stated at the start of a generation (AllocFree experiment).
    pub const GOROUTINE_STACK: EventType = EventType(134);
    /// A goroutine stack is allocated (AllocFree experiment).
    pub const GOROUTINE_STACK_ALLOC: EventType = EventType(135);
    /// A goroutine stack is freed (AllocFree experiment).
    pub const GOROUTINE_STACK_FREE: EventType = EventType(136);
    /// Experimental events are below this type.
    pub const MAX_EXPERIMENTAL_EVENT: EventType = EventType(137);

    /// Whether the type is in the experimental range (above [`EventType::MAX_EVENT`]).
    pub const fn is_experimental(self) -> bool {
        self.0 > Self::MAX_EVENT.0 && self.0 < Self::MAX_EXPERIMENTAL_EVENT.0
    }

    /// Go's name for the type, as its specification and `go tool trace -d=wire` give it
    /// (`"ProcSteal"`), or `None` for a byte no version defines. No version renumbers or renames
    /// a type, so the name holds for every version that defines it.
    ///
    /// ```
    /// use gotrace_wire::EventType;
    /// assert_eq!(EventType::PROC_STEAL.name(), Some("ProcSteal"));
    /// assert_eq!(EventType::PROC_STEAL.to_string(), "ProcSteal");
    /// assert_eq!(EventType(0).name(), None);
    /// assert_eq!(EventType(99).to_string(), "EventType(99)");
    /// ```
    #[must_use]
    pub fn name(self) -> Option<&'static str> {
        let newest = Version::ALL[Version::ALL.len() - 1];
        spec(newest, self).map(|spec| spec.name)
    }
}

/// Go's name for the type ([`EventType::name`]); `EventType(N)` for a byte no version defines.
impl core::fmt::Display for EventType {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "EventType({})", self.0),
        }
    }
}

/// Goroutine status codes carried by `GoStatus`.
pub mod go_status {
    /// No status: invalid in a trace.
    pub const BAD: u64 = 0;
    /// Ready to run, waiting for a P.
    pub const RUNNABLE: u64 = 1;
    /// Running on an M with a P.
    pub const RUNNING: u64 = 2;
    /// In a syscall (a blocking operation) on its M.
    pub const SYSCALL: u64 = 3;
    /// Blocked, waiting to be unblocked.
    pub const WAITING: u64 = 4;
}

/// P status codes carried by `ProcStatus`.
pub mod proc_status {
    /// No status: invalid in a trace.
    pub const BAD: u64 = 0;
    /// Held by an M that runs it.
    pub const RUNNING: u64 = 1;
    /// Held by no M.
    pub const IDLE: u64 = 2;
    /// Held by an M whose goroutine is in a syscall.
    pub const SYSCALL: u64 = 3;
    /// A P in a syscall whose M has given it up before it was first mentioned in the generation:
    /// a later `ProcSteal` must not look for the `GoSyscallBegin` it would otherwise match.
    pub const SYSCALL_ABANDONED: u64 = 4;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_named_by_their_minor_number() {
        for version in Version::ALL {
            assert_eq!(Version::from_minor(version.minor()), Some(version));
        }
        assert_eq!(
            Version::from_minor(24),
            None,
            "Go 1.24 kept the 1.23 format"
        );
        assert_eq!(Version::from_minor(21), None);
    }

    #[test]
    fn the_older_format_is_go_1_11_1_19_and_1_21() {
        for minor in [11, 19, 21] {
            assert!(Version::is_older_format(minor), "1.{minor}");
        }
        for minor in [10, 12, 18, 20, 22, 23, 24, 25, 26] {
            assert!(!Version::is_older_format(minor), "1.{minor}");
        }
    }

    /// The limits are Go's (`internal/trace/tracev2`): `MaxBatchSize`, `MaxFramesPerStack`,
    /// `MaxEventTrailerDataSize`, `MaxTimedEventArgs`.
    #[test]
    fn the_limits_are_gos() {
        assert_eq!(MAX_BATCH_SIZE, 65_536);
        assert_eq!(MAX_FRAMES_PER_STACK, 128);
        assert_eq!(MAX_EVENT_TRAILER_DATA_SIZE, 1_024);
        assert_eq!(MAX_TIMED_EVENT_ARGS, 5);
    }

    #[test]
    fn each_version_defines_the_events_up_to_its_last() {
        use EventType as T;
        assert!(!Version::Go126.defines(T::NONE));
        assert!(Version::Go122.defines(T::USER_LOG));
        assert!(!Version::Go122.defines(T::GO_SWITCH));
        assert!(Version::Go123.defines(T::EXPERIMENTAL_BATCH));
        assert!(!Version::Go123.defines(T::SYNC));
        assert!(Version::Go125.defines(T::CLOCK_SNAPSHOT));
        assert!(!Version::Go125.defines(T::END_OF_GENERATION));
        assert!(Version::Go126.defines(T::END_OF_GENERATION));
        assert!(!Version::Go126.defines(EventType(T::END_OF_GENERATION.0 + 1)));
        // Experimental events: from Go 1.23 on, and only inside the experimental range.
        assert!(!Version::Go122.defines(T::SPAN));
        assert!(Version::Go123.defines(T::SPAN) && Version::Go126.defines(T::GOROUTINE_STACK_FREE));
        assert!(!Version::Go126.defines(T::MAX_EVENT));
        assert!(!Version::Go126.defines(T::MAX_EXPERIMENTAL_EVENT));
    }

    #[test]
    fn a_types_name_is_its_spec_in_every_version_that_defines_it() {
        for byte in 0..=u8::MAX {
            let typ = EventType(byte);
            let specs = Version::ALL.map(|version| spec(version, typ));
            for spec in specs.iter().flatten() {
                assert_eq!(typ.name(), Some(spec.name), "{byte}");
            }
            if specs.iter().all(Option::is_none) {
                assert_eq!(typ.name(), None, "{byte}");
            }
        }
        assert_eq!(
            EventType::GO_SYSCALL_END_BLOCKED.name(),
            Some("GoSyscallEndBlocked")
        );
    }
}
