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

mod spec;
pub mod varint;

pub use spec::{spec, EventSpec, Experiment, SPECS};

/// A trace format version, named after the Go release that introduced it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    Go122,
    Go123,
    Go125,
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
    pub const fn from_minor(minor: u32) -> Option<Version> {
        match minor {
            22 => Some(Version::Go122),
            23 => Some(Version::Go123),
            25 => Some(Version::Go125),
            26 => Some(Version::Go126),
            _ => None,
        }
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
pub struct EventType(pub u8);

impl EventType {
    pub const NONE: EventType = EventType(0);
    // Structural events.
    pub const EVENT_BATCH: EventType = EventType(1);
    pub const STACKS: EventType = EventType(2);
    pub const STACK: EventType = EventType(3);
    pub const STRINGS: EventType = EventType(4);
    pub const STRING: EventType = EventType(5);
    pub const CPU_SAMPLES: EventType = EventType(6);
    pub const CPU_SAMPLE: EventType = EventType(7);
    pub const FREQUENCY: EventType = EventType(8);
    // Procs.
    pub const PROCS_CHANGE: EventType = EventType(9);
    pub const PROC_START: EventType = EventType(10);
    pub const PROC_STOP: EventType = EventType(11);
    pub const PROC_STEAL: EventType = EventType(12);
    pub const PROC_STATUS: EventType = EventType(13);
    // Goroutines.
    pub const GO_CREATE: EventType = EventType(14);
    pub const GO_CREATE_SYSCALL: EventType = EventType(15);
    pub const GO_START: EventType = EventType(16);
    pub const GO_DESTROY: EventType = EventType(17);
    pub const GO_DESTROY_SYSCALL: EventType = EventType(18);
    pub const GO_STOP: EventType = EventType(19);
    pub const GO_BLOCK: EventType = EventType(20);
    pub const GO_UNBLOCK: EventType = EventType(21);
    pub const GO_SYSCALL_BEGIN: EventType = EventType(22);
    pub const GO_SYSCALL_END: EventType = EventType(23);
    pub const GO_SYSCALL_END_BLOCKED: EventType = EventType(24);
    pub const GO_STATUS: EventType = EventType(25);
    // Stop-the-world.
    pub const STW_BEGIN: EventType = EventType(26);
    pub const STW_END: EventType = EventType(27);
    // GC.
    pub const GC_ACTIVE: EventType = EventType(28);
    pub const GC_BEGIN: EventType = EventType(29);
    pub const GC_END: EventType = EventType(30);
    pub const GC_SWEEP_ACTIVE: EventType = EventType(31);
    pub const GC_SWEEP_BEGIN: EventType = EventType(32);
    pub const GC_SWEEP_END: EventType = EventType(33);
    pub const GC_MARK_ASSIST_ACTIVE: EventType = EventType(34);
    pub const GC_MARK_ASSIST_BEGIN: EventType = EventType(35);
    pub const GC_MARK_ASSIST_END: EventType = EventType(36);
    pub const HEAP_ALLOC: EventType = EventType(37);
    pub const HEAP_GOAL: EventType = EventType(38);
    // Annotations.
    pub const GO_LABEL: EventType = EventType(39);
    pub const USER_TASK_BEGIN: EventType = EventType(40);
    pub const USER_TASK_END: EventType = EventType(41);
    pub const USER_REGION_BEGIN: EventType = EventType(42);
    pub const USER_REGION_END: EventType = EventType(43);
    pub const USER_LOG: EventType = EventType(44);
    // Go 1.23.
    pub const GO_SWITCH: EventType = EventType(45);
    pub const GO_SWITCH_DESTROY: EventType = EventType(46);
    pub const GO_CREATE_BLOCKED: EventType = EventType(47);
    pub const GO_STATUS_STACK: EventType = EventType(48);
    pub const EXPERIMENTAL_BATCH: EventType = EventType(49);
    // Go 1.25.
    pub const SYNC: EventType = EventType(50);
    pub const CLOCK_SNAPSHOT: EventType = EventType(51);
    // Go 1.26.
    pub const END_OF_GENERATION: EventType = EventType(52);

    /// Experimental events occupy the range above 127.
    pub const MAX_EVENT: EventType = EventType(127);
    // Experimental events of the AllocFree experiment (Go 1.23).
    pub const SPAN: EventType = EventType(128);
    pub const SPAN_ALLOC: EventType = EventType(129);
    pub const SPAN_FREE: EventType = EventType(130);
    pub const HEAP_OBJECT: EventType = EventType(131);
    pub const HEAP_OBJECT_ALLOC: EventType = EventType(132);
    pub const HEAP_OBJECT_FREE: EventType = EventType(133);
    pub const GOROUTINE_STACK: EventType = EventType(134);
    pub const GOROUTINE_STACK_ALLOC: EventType = EventType(135);
    pub const GOROUTINE_STACK_FREE: EventType = EventType(136);
    pub const MAX_EXPERIMENTAL_EVENT: EventType = EventType(137);

    pub const fn is_experimental(self) -> bool {
        self.0 > Self::MAX_EVENT.0 && self.0 < Self::MAX_EXPERIMENTAL_EVENT.0
    }
}

/// Goroutine status codes carried by `GoStatus`.
pub mod go_status {
    pub const BAD: u64 = 0;
    pub const RUNNABLE: u64 = 1;
    pub const RUNNING: u64 = 2;
    pub const SYSCALL: u64 = 3;
    pub const WAITING: u64 = 4;
}

/// P status codes carried by `ProcStatus`.
pub mod proc_status {
    pub const BAD: u64 = 0;
    pub const RUNNING: u64 = 1;
    pub const IDLE: u64 = 2;
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
}
