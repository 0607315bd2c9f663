//! The validated, ordered events the reader produces, with Go's kinds and Go's meaning of each
//! (old and new states, reasons, stacks, ranges, tasks), and Go's `Event.String()` form as
//! `Display`: `gotrace events` prints it, and tests compare it byte for byte with
//! `go tool trace -d=parsed`.
//!
//! An event keeps the wire event it came from (type, time, arguments, as the ordering left them)
//! and a shared handle on its generation's tables; everything else is derived on demand, as in Go.

use std::borrow::Cow;
use std::fmt;
use std::io::Write;
use std::sync::{Arc, OnceLock};

use gotrace_wire::{spec, EventSpec, EventType, Version};

use crate::quote::go_quote;
use crate::table::{ClockSnapshot, Table};
use crate::wall_clock::rfc3339_nano_utc;

/// Nanoseconds on the traced program's clock.
pub type Time = i64;
/// A goroutine (here: a task) ID; [`NO_GOROUTINE`] for none.
pub type GoId = i64;
/// A P (here: an executor) ID; [`NO_PROC`] for none.
pub type ProcId = i64;
/// An M (here: an execution context) ID; [`NO_THREAD`] for none.
pub type ThreadId = i64;
/// A user task ID.
pub type TaskId = u64;

/// No goroutine.
pub const NO_GOROUTINE: GoId = -1;
/// No P.
pub const NO_PROC: ProcId = -1;
/// No thread.
pub const NO_THREAD: ThreadId = -1;
/// No task at all.
pub const NO_TASK: TaskId = u64::MAX;
/// The task events belong to when no other task is in context.
pub const BACKGROUND_TASK: TaskId = 0;

/// Go parses every v2 trace with its newest event table, whatever the header's version says.
pub(crate) const PARSER_SPECS: Version = Version::Go126;

/// The type used internally for the synthetic Sync event (Go's `evSync`, not a wire type).
pub(crate) const EV_SYNC: EventType = EventType(u8::MAX);

/// What the table check needs to know about an event type, looked up by type byte: the stacks,
/// then the strings, that events of this type name and that must exist (which argument holds
/// each, and whether it names a stack). Eight bytes, so that the look-up is one scaled load.
#[derive(Clone, Copy, Debug)]
#[repr(align(8))]
pub(crate) struct TypeInfo {
    pub table_ids: [TableId; MAX_TABLE_IDS],
    pub table_id_count: u8,
}

/// An argument of an event that names a stack or a string.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct TableId {
    /// Index in [`BaseEvent::args`].
    pub arg: u8,
    pub is_stack: bool,
}

/// Most stacks and strings an event type names (as many as Go's table has).
const MAX_TABLE_IDS: usize = 3;

// A [`TypeInfo`] is looked up by one scaled load only while it stays eight bytes.
const _: () = assert!(std::mem::size_of::<TypeInfo>() == 8);

/// What the hot path needs to know of every type byte, each in a table of its own so that each
/// look-up is one load from a small table: the decoder looks the argument count up right after
/// loading the type byte (the merge's hottest spot), the table check the [`TypeInfo`] (in a table
/// of 24-byte entries with the spec, either took a multiply and a load from 6 KB).
pub(crate) struct TypeTable {
    info: [TypeInfo; 256],
    /// The type's spec in the parser's table.
    specs: [Option<&'static EventSpec>; 256],
    /// How many arguments follow the timestamp delta of a timed event, [`UNTIMED`] for the
    /// other types.
    pub timed_args: ArgCounts,
}

/// Each type byte's argument count, as in [`TypeTable::timed_args`].
pub(crate) type ArgCounts = [u8; 256];

/// [`TypeTable::timed_args`] of a type that is not a timed event type.
pub(crate) const UNTIMED: u8 = u8::MAX;

impl TypeInfo {
    /// The stacks and strings this type names, stacks first.
    pub(crate) fn ids(&self) -> &[TableId] {
        let count = usize::from(self.table_id_count);
        self.table_ids.get(..count).unwrap_or_default()
    }
}

impl std::ops::Index<usize> for TypeTable {
    type Output = TypeInfo;

    #[inline(always)]
    fn index(&self, typ: usize) -> &TypeInfo {
        &self.info[typ]
    }
}

/// The [`TypeTable`], built once: the buffer of validated events keeps a reference for the table
/// check, and the reader a copy of the argument counts, which it looks up at every event.
pub(crate) fn type_table() -> &'static TypeTable {
    static TABLE: OnceLock<TypeTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        let none = TypeInfo {
            table_ids: [TableId::default(); MAX_TABLE_IDS],
            table_id_count: 0,
        };
        let mut table = TypeTable {
            info: [none; 256],
            specs: [None; 256],
            timed_args: [UNTIMED; 256],
        };
        let TypeTable {
            info,
            specs,
            timed_args,
        } = &mut table;
        let entries = info
            .iter_mut()
            .zip(specs.iter_mut())
            .zip(timed_args.iter_mut());
        for (i, ((info, spec_slot), timed_args)) in entries.enumerate() {
            let spec = spec(PARSER_SPECS, EventType(i as u8));
            *spec_slot = spec;
            if let Some(spec) = spec.filter(|s| s.is_timed && !s.args.is_empty()) {
                *timed_args = (spec.args.len() - 1) as u8;
            }
            let Some(spec) = spec else {
                continue;
            };
            let stacks = spec.stack_ids.iter().map(|&i| (i, true));
            let strings = spec.string_ids.iter().map(|&i| (i, false));
            for (slot, (i, is_stack)) in info.table_ids.iter_mut().zip(stacks.chain(strings)) {
                // Spec indices count the timestamp delta; event arguments do not.
                *slot = TableId {
                    arg: i.saturating_sub(1) as u8,
                    is_stack,
                };
                info.table_id_count += 1;
            }
            assert_eq!(
                usize::from(info.table_id_count),
                spec.stack_ids.len() + spec.string_ids.len(),
                "{} names more stacks and strings than a TypeInfo holds",
                spec.name
            );
        }
        table
    })
}

/// The spec of a wire type in the parser's table.
#[inline]
pub(crate) fn wire_spec(typ: EventType) -> Option<&'static EventSpec> {
    type_table().specs[usize::from(typ.0)]
}

/// A wire event as the ordering sees it: arguments without the timestamp delta, the time
/// already in nanoseconds. Spare argument slots carry what the ordering learnt (old states,
/// task names), as in Go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BaseEvent {
    pub typ: EventType,
    pub time: Time,
    pub args: [u64; gotrace_wire::MAX_TIMED_EVENT_ARGS - 1],
}

impl Default for BaseEvent {
    fn default() -> Self {
        BaseEvent {
            typ: EventType::NONE,
            time: 0,
            args: [0; 4],
        }
    }
}

impl BaseEvent {
    /// Argument `i`, 0 when out of range (the slots are fixed, so this never fails in practice).
    pub(crate) fn arg(&self, i: usize) -> u64 {
        self.args.get(i).copied().unwrap_or_default()
    }

    /// Sets argument `i` if it exists.
    pub(crate) fn set_arg(&mut self, i: usize, value: u64) {
        if let Some(slot) = self.args.get_mut(i) {
            *slot = value;
        }
    }

    /// Index of the first spare slot after the spec's own arguments (Go's `extra`).
    pub(crate) fn extra_index(&self) -> usize {
        wire_spec(self.typ)
            .map(|s| s.args.len().saturating_sub(1))
            .unwrap_or_default()
    }

    /// Sets the spare slot, where the ordering leaves what the event API needs beyond the
    /// wire's arguments (a P's state before its `ProcStatus`, a task's parent at its end); no
    /// event needs more than one.
    pub(crate) fn set_extra(&mut self, value: u64) {
        self.set_arg(self.extra_index(), value);
    }

    pub(crate) fn extra(&self) -> u64 {
        self.arg(self.extra_index())
    }
}

/// The thread, P and goroutine an event happened on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SchedCtx {
    pub g: GoId,
    pub p: ProcId,
    pub m: ThreadId,
}

impl SchedCtx {
    pub(crate) const NONE: SchedCtx = SchedCtx {
        g: NO_GOROUTINE,
        p: NO_PROC,
        m: NO_THREAD,
    };
}

/// What kind of event this is; Go's `EventKind`.
///
/// Go's releases add kinds (Go 1.23 added `Experimental`), so a `match` on one needs an arm for
/// the kinds to come; one that lists only today's does not compile:
/// ```compile_fail,E0004
/// use gotrace_decoder::EventKind as K;
/// fn is_annotation(kind: K) -> bool {
///     match kind {
///         K::TaskBegin | K::TaskEnd | K::RegionBegin | K::RegionEnd | K::Log | K::Label => true,
///         K::Bad | K::Sync | K::Metric | K::StackSample | K::RangeBegin | K::RangeActive
///         | K::RangeEnd | K::StateTransition | K::Experimental => false,
///     }
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventKind {
    /// An event with no meaning of its own (Go's `EventBad`); never handed out by the reader.
    Bad,
    /// A generation boundary, and the end of the trace ([`Event::sync_number`],
    /// [`Event::clock_snapshot`]).
    Sync,
    /// A sampled runtime metric ([`Event::metric`]).
    Metric,
    /// A label put on a goroutine ([`Event::label`]).
    Label,
    /// A CPU profile sample: a stack and the resources it was taken on ([`Event::stack`]).
    StackSample,
    /// The start of a range of time: a GC phase, a sweep, a mark assist, a stop of the world
    /// ([`Event::range`]).
    RangeBegin,
    /// A range already in progress when its generation began.
    RangeActive,
    /// The end of a range, with its attributes ([`Event::range_attributes`]).
    RangeEnd,
    /// A user task begins ([`Event::task`]).
    TaskBegin,
    /// A user task ends.
    TaskEnd,
    /// A user region begins on a goroutine ([`Event::region`]).
    RegionBegin,
    /// A user region ends.
    RegionEnd,
    /// A user log message ([`Event::log`]).
    Log,
    /// A goroutine or a P changes state ([`Event::state_transition`]).
    StateTransition,
    /// An event of one of Go's experiments (newer formats only).
    Experimental,
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EventKind::Bad => "Bad",
            EventKind::Sync => "Sync",
            EventKind::Metric => "Metric",
            EventKind::Label => "Label",
            EventKind::StackSample => "StackSample",
            EventKind::RangeBegin => "RangeBegin",
            EventKind::RangeActive => "RangeActive",
            EventKind::RangeEnd => "RangeEnd",
            EventKind::TaskBegin => "TaskBegin",
            EventKind::TaskEnd => "TaskEnd",
            EventKind::RegionBegin => "RegionBegin",
            EventKind::RegionEnd => "RegionEnd",
            EventKind::Log => "Log",
            EventKind::StateTransition => "StateTransition",
            EventKind::Experimental => "Experimental",
        })
    }
}

fn kind_of(typ: EventType) -> EventKind {
    match typ {
        EV_SYNC => EventKind::Sync,
        EventType::CPU_SAMPLE => EventKind::StackSample,
        EventType::PROCS_CHANGE | EventType::HEAP_ALLOC | EventType::HEAP_GOAL => EventKind::Metric,
        EventType::PROC_START
        | EventType::PROC_STOP
        | EventType::PROC_STEAL
        | EventType::PROC_STATUS
        | EventType::GO_CREATE
        | EventType::GO_CREATE_SYSCALL
        | EventType::GO_START
        | EventType::GO_DESTROY
        | EventType::GO_DESTROY_SYSCALL
        | EventType::GO_STOP
        | EventType::GO_BLOCK
        | EventType::GO_UNBLOCK
        | EventType::GO_SYSCALL_BEGIN
        | EventType::GO_SYSCALL_END
        | EventType::GO_SYSCALL_END_BLOCKED
        | EventType::GO_STATUS
        | EventType::GO_SWITCH
        | EventType::GO_SWITCH_DESTROY
        | EventType::GO_CREATE_BLOCKED
        | EventType::GO_STATUS_STACK => EventKind::StateTransition,
        EventType::STW_BEGIN
        | EventType::GC_BEGIN
        | EventType::GC_SWEEP_BEGIN
        | EventType::GC_MARK_ASSIST_BEGIN => EventKind::RangeBegin,
        EventType::GC_ACTIVE | EventType::GC_SWEEP_ACTIVE | EventType::GC_MARK_ASSIST_ACTIVE => {
            EventKind::RangeActive
        }
        EventType::STW_END
        | EventType::GC_END
        | EventType::GC_SWEEP_END
        | EventType::GC_MARK_ASSIST_END => EventKind::RangeEnd,
        EventType::GO_LABEL => EventKind::Label,
        EventType::USER_TASK_BEGIN => EventKind::TaskBegin,
        EventType::USER_TASK_END => EventKind::TaskEnd,
        EventType::USER_REGION_BEGIN => EventKind::RegionBegin,
        EventType::USER_REGION_END => EventKind::RegionEnd,
        EventType::USER_LOG => EventKind::Log,
        t if t.is_experimental() => EventKind::Experimental,
        _ => EventKind::Bad,
    }
}

/// A goroutine's state; Go's `GoState`.
///
/// Not exhaustive, for the states a later Go may add:
/// ```compile_fail,E0004
/// use gotrace_decoder::GoState as G;
/// fn on_cpu(state: G) -> bool {
///     match state {
///         G::Running | G::Syscall => true,
///         G::Undetermined | G::NotExist | G::Runnable | G::Waiting => false,
///     }
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GoState {
    /// Not known: the state before a goroutine's first status in the trace.
    Undetermined,
    /// Not created yet, or destroyed.
    NotExist,
    /// Ready to run, waiting for a P.
    Runnable,
    /// Running on a thread with a P.
    Running,
    /// Blocked (on a channel, a lock, a wake-up: the transition's reason says).
    Waiting,
    /// In a system call (on a device: a blocking operation), on its thread.
    Syscall,
}

impl GoState {
    /// The state a `GoStatus` code stands for (Go's table; unknown codes read as undetermined).
    pub(crate) fn from_status(status: u64) -> GoState {
        match status {
            gotrace_wire::go_status::RUNNABLE => GoState::Runnable,
            gotrace_wire::go_status::RUNNING => GoState::Running,
            gotrace_wire::go_status::SYSCALL => GoState::Syscall,
            gotrace_wire::go_status::WAITING => GoState::Waiting,
            _ => GoState::Undetermined,
        }
    }

    fn from_code(code: u64) -> Option<GoState> {
        Some(match code {
            0 => GoState::Undetermined,
            1 => GoState::NotExist,
            2 => GoState::Runnable,
            3 => GoState::Running,
            4 => GoState::Waiting,
            5 => GoState::Syscall,
            _ => return None,
        })
    }

    pub(crate) fn code(self) -> u64 {
        self as u64
    }

    /// Whether a goroutine in this state is bound to its thread.
    pub fn executing(self) -> bool {
        matches!(self, GoState::Running | GoState::Syscall)
    }
}

impl fmt::Display for GoState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GoState::Undetermined => "Undetermined",
            GoState::NotExist => "NotExist",
            GoState::Runnable => "Runnable",
            GoState::Running => "Running",
            GoState::Waiting => "Waiting",
            GoState::Syscall => "Syscall",
        })
    }
}

/// A P's state; Go's `ProcState`.
///
/// Not exhaustive, for the states a later Go may add:
/// ```compile_fail,E0004
/// use gotrace_decoder::ProcState as P;
/// fn busy(state: P) -> bool {
///     match state {
///         P::Running => true,
///         P::Undetermined | P::NotExist | P::Idle => false,
///     }
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProcState {
    /// Not known: the state before a P's first status in the trace.
    Undetermined,
    /// Not in existence (GOMAXPROCS lowered).
    NotExist,
    /// Held by a thread.
    Running,
    /// Held by no thread.
    Idle,
}

impl ProcState {
    /// The state a `ProcStatus` code stands for: a P in a syscall is running, an abandoned one
    /// idle (Go's table; unknown codes read as undetermined).
    pub(crate) fn from_status(status: u64) -> ProcState {
        match status {
            gotrace_wire::proc_status::RUNNING | gotrace_wire::proc_status::SYSCALL => {
                ProcState::Running
            }
            gotrace_wire::proc_status::IDLE | gotrace_wire::proc_status::SYSCALL_ABANDONED => {
                ProcState::Idle
            }
            _ => ProcState::Undetermined,
        }
    }

    fn from_code(code: u64) -> Option<ProcState> {
        Some(match code {
            0 => ProcState::Undetermined,
            1 => ProcState::NotExist,
            2 => ProcState::Running,
            3 => ProcState::Idle,
            _ => return None,
        })
    }

    pub(crate) fn code(self) -> u64 {
        self as u64
    }

    /// Whether a P in this state is bound to its thread.
    pub fn executing(self) -> bool {
        self == ProcState::Running
    }
}

impl fmt::Display for ProcState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProcState::Undetermined => "Undetermined",
            ProcState::NotExist => "NotExist",
            ProcState::Running => "Running",
            ProcState::Idle => "Idle",
        })
    }
}

/// A resource with a state machine, by kind and ID; Go's `ResourceID`.
///
/// Not exhaustive, for the kinds of resource a later Go may add:
/// ```compile_fail,E0004
/// use gotrace_decoder::Resource as R;
/// fn id(resource: R) -> i64 {
///     match resource {
///         R::None => -1,
///         R::Goroutine(id) | R::Proc(id) | R::Thread(id) => id,
///     }
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Resource {
    /// No resource: a global range, such as a GC phase.
    None,
    /// A goroutine, by ID.
    Goroutine(GoId),
    /// A P, by ID.
    Proc(ProcId),
    /// A thread (an M), by ID.
    Thread(ThreadId),
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resource::None => f.write_str("None"),
            Resource::Goroutine(id) => write!(f, "Goroutine({id})"),
            Resource::Proc(id) => write!(f, "Proc({id})"),
            Resource::Thread(id) => write!(f, "Thread({id})"),
        }
    }
}

/// A stack of an event: a handle into its generation's stack table. Equal handles (the same
/// stack of the same generation) hash alike, so a stack can key a map; clippy's
/// `mutable_key_type` warns of such a map all the same (the table builds its map of frames
/// lazily, a `OnceLock` the hash does not read) and may be allowed there.
#[derive(Clone, Copy)]
pub struct Stack<'a> {
    table: &'a Table,
    id: u64,
}

/// One frame of a stack: equal and hashed by its values, so frames of different generations
/// compare (where a [`Stack`] is equal only within its generation).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct StackFrame<'a> {
    /// The program counter of the frame.
    pub pc: u64,
    /// The function name, as the trace's string table has it (normally UTF-8).
    pub func: &'a [u8],
    /// The source file's path, as the string table has it; empty when the trace names none.
    pub file: &'a [u8],
    /// The line in `file`; 0 when the trace gives none.
    pub line: u64,
}

/// A trace's name or message as `Debug` shows it: a string literal (`"main.f"`), where the
/// derived form of a byte slice is a list of numbers. Not UTF-8, the bytes are escaped.
struct DebugText<'a>(&'a [u8]);

impl fmt::Debug for DebugText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match std::str::from_utf8(self.0) {
            Ok(text) => fmt::Debug::fmt(text, f),
            Err(_) => write!(f, "b\"{}\"", self.0.escape_ascii()),
        }
    }
}

/// Go's `Stack` equality: the same stack of the same generation. Equal stacks have the same
/// frames; stacks of other generations are not equal, even with the same frames (as in Go).
impl PartialEq for Stack<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id && std::ptr::eq(self.table, other.table)
    }
}

impl Eq for Stack<'_> {}

impl std::hash::Hash for Stack<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        std::ptr::hash(self.table, state);
        self.id.hash(state);
    }
}

impl fmt::Display for Stack<'_> {
    /// Go's `Stack.String()`: per frame, `func @ 0xpc`, then a tab and `file:line`; names that
    /// are not UTF-8 lossily.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut bytes = Vec::new();
        self.write_go(&mut bytes, "");
        f.write_str(&String::from_utf8_lossy(&bytes))
    }
}

impl fmt::Debug for Stack<'_> {
    /// The stack's ID and its frames; not the generation's table it is a handle into.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stack")
            .field("id", &self.id)
            .field("frames", &DebugFrames(*self))
            .finish()
    }
}

/// A stack's frames as a `Debug` list.
struct DebugFrames<'a>(Stack<'a>);

impl fmt::Debug for DebugFrames<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.frames()).finish()
    }
}

impl fmt::Debug for StackFrame<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StackFrame")
            .field("pc", &format_args!("{:#x}", self.pc))
            .field("func", &DebugText(self.func))
            .field("file", &DebugText(self.file))
            .field("line", &self.line)
            .finish()
    }
}

impl<'a> Stack<'a> {
    /// The stack's ID in its generation.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The frames, innermost first.
    pub fn frames(&self) -> impl Iterator<Item = StackFrame<'a>> + 'a {
        let table = self.table;
        table
            .stack(self.id)
            .unwrap_or_default()
            .iter()
            .map(move |&pc| {
                let frame = table.frame(pc);
                let string =
                    |id: Option<u64>| id.and_then(|id| table.string(id)).unwrap_or_default();
                StackFrame {
                    pc,
                    func: string(frame.map(|f| f.func)),
                    file: string(frame.map(|f| f.file)),
                    line: frame.map(|f| f.line).unwrap_or_default(),
                }
            })
    }

    /// Go's `printStack`: two lines per frame, each starting with `prefix`; the function and file
    /// names as their bytes are, as Go prints them (`%s`), UTF-8 or not.
    fn write_go(&self, out: &mut Vec<u8>, prefix: &str) {
        for frame in self.frames() {
            out.extend_from_slice(prefix.as_bytes());
            out.extend_from_slice(frame.func);
            let _ = writeln!(out, " @ {:#x}", frame.pc);
            out.extend_from_slice(prefix.as_bytes());
            out.push(b'\t');
            out.extend_from_slice(frame.file);
            let _ = writeln!(out, ":{}", frame.line);
        }
    }
}

/// A sampled metric; Go's `Metric` (all Go 1.22 metrics are integers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Metric {
    /// The `runtime/metrics` name, with its unit.
    pub name: &'static str,
    /// The sampled value, in the metric's unit.
    pub value: u64,
}

/// A label applied to a goroutine; Go's `Label`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Label<'a> {
    /// The label's text.
    pub label: &'a [u8],
    /// What it labels: the goroutine the event was written on.
    pub resource: Resource,
}

/// A range of time on a resource (or global); Go's `Range`.
#[derive(Clone, PartialEq, Eq)]
pub struct Range<'a> {
    /// What the range is, in Go's words (`GC concurrent mark phase`, `GC mark assist`, or a
    /// stop-the-world range's name with its reason).
    pub name: Cow<'a, [u8]>,
    /// Where it runs: a goroutine, a P, or [`Resource::None`] for a global range.
    pub scope: Resource,
}

/// An attribute of a completed range; Go's `RangeAttribute`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RangeAttribute {
    /// What is measured (`bytes swept`, `bytes reclaimed`).
    pub name: &'static str,
    /// The amount, in the unit the name says.
    pub value: u64,
}

/// A user task; Go's `Task`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Task<'a> {
    /// The task's ID.
    pub id: TaskId,
    /// The parent task's ID; [`NO_TASK`] when the task has none (its begin gave 0), and at an
    /// end whose begin is not in the trace.
    pub parent: TaskId,
    /// The task type; empty when the task's begin is not in the trace.
    pub task_type: &'a [u8],
}

/// A user region; Go's `Region`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Region<'a> {
    /// The task the region belongs to; [`BACKGROUND_TASK`] for none.
    pub task: TaskId,
    /// The region's type (its name).
    pub region_type: &'a [u8],
}

/// A user log message; Go's `Log`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Log<'a> {
    /// The task the message belongs to; [`BACKGROUND_TASK`] for none.
    pub task: TaskId,
    /// The message's category; may be empty.
    pub category: &'a [u8],
    /// The message.
    pub message: &'a [u8],
}

/// The states a transition goes through.
///
/// Not exhaustive: Go's API says threads' transitions may be traced in the future, and a
/// `match` must be ready for them:
/// ```compile_fail,E0004
/// use gotrace_decoder::Transition as T;
/// fn id(transition: T) -> i64 {
///     match transition {
///         T::Goroutine { id, .. } | T::Proc { id, .. } => id,
///     }
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Transition {
    /// A goroutine's state change.
    Goroutine {
        /// The goroutine.
        id: GoId,
        /// Its state before.
        from: GoState,
        /// Its state after.
        to: GoState,
    },
    /// A P's state change.
    Proc {
        /// The P.
        id: ProcId,
        /// Its state before.
        from: ProcState,
        /// Its state after.
        to: ProcState,
    },
}

/// A state change of a goroutine or a P; Go's `StateTransition`.
#[derive(Clone, Copy)]
pub struct StateTransition<'a> {
    /// Whose state changed, from what to what.
    pub transition: Transition,
    /// Why, for goroutines that stop or block.
    pub reason: &'a [u8],
    /// The stack of the resource making the transition (for a creation: the new goroutine's).
    pub stack: Option<Stack<'a>>,
}

// The annotations' names and messages shown as text by `Debug` (see [`DebugText`]).

impl fmt::Debug for Label<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Label")
            .field("label", &DebugText(self.label))
            .field("resource", &self.resource)
            .finish()
    }
}

impl fmt::Debug for Range<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Range")
            .field("name", &DebugText(&self.name))
            .field("scope", &self.scope)
            .finish()
    }
}

impl fmt::Debug for Task<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task")
            .field("id", &self.id)
            .field("parent", &self.parent)
            .field("task_type", &DebugText(self.task_type))
            .finish()
    }
}

impl fmt::Debug for Region<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Region")
            .field("task", &self.task)
            .field("region_type", &DebugText(self.region_type))
            .finish()
    }
}

impl fmt::Debug for Log<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Log")
            .field("task", &self.task)
            .field("category", &DebugText(self.category))
            .field("message", &DebugText(self.message))
            .finish()
    }
}

impl fmt::Debug for StateTransition<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateTransition")
            .field("transition", &self.transition)
            .field("reason", &DebugText(self.reason))
            .field("stack", &self.stack)
            .finish()
    }
}

impl StateTransition<'_> {
    /// The goroutine or P that changes state.
    pub fn resource(&self) -> Resource {
        match self.transition {
            Transition::Goroutine { id, .. } => Resource::Goroutine(id),
            Transition::Proc { id, .. } => Resource::Proc(id),
        }
    }
}

/// One validated event.
#[derive(Clone)]
pub struct Event {
    pub(crate) table: Option<Arc<Table>>,
    pub(crate) ctx: SchedCtx,
    pub(crate) base: BaseEvent,
    /// The type of the task a `UserTaskEnd` ends, learnt from its begin (maybe generations ago).
    pub(crate) task_type: Option<Arc<[u8]>>,
}

impl Event {
    /// Go's synthetic Sync event: the `n`th generation boundary.
    pub(crate) fn sync(table: Option<Arc<Table>>, time: Time, n: u64) -> Event {
        let mut base = BaseEvent {
            typ: EV_SYNC,
            time,
            args: [0; 4],
        };
        base.args[0] = n;
        Event {
            table,
            ctx: SchedCtx::NONE,
            base,
            task_type: None,
        }
    }

    /// What kind of event this is; the accessor of that kind returns its details.
    pub fn kind(&self) -> EventKind {
        kind_of(self.base.typ)
    }

    /// When, in nanoseconds; strictly increasing along the stream.
    pub fn time(&self) -> Time {
        self.base.time
    }

    /// The goroutine running when the event happened (before any transition it describes).
    pub fn goroutine(&self) -> GoId {
        self.ctx.g
    }

    /// The P of the event's context (before any transition it describes).
    pub fn proc_id(&self) -> ProcId {
        self.ctx.p
    }

    /// The thread of the event.
    pub fn thread(&self) -> ThreadId {
        self.ctx.m
    }

    /// The wire event type this event came from (`None` for Sync events, which are synthetic);
    /// [`EventType::name`] or its `Display` gives Go's name for it.
    ///
    /// It tells apart what Go's API shows alike, such as a P's steal (`EventType::PROC_STEAL`)
    /// from its stop: both are the P's transition from running to idle. A steal names the P
    /// (the transition's [`Resource`]), not the goroutine it was taken from: that is the
    /// goroutine whose syscall began last on that P (its `GoSyscallBegin`'s
    /// [`proc_id`](Event::proc_id)), as Go's API has it too.
    pub fn wire_type(&self) -> Option<EventType> {
        (self.base.typ != EV_SYNC).then_some(self.base.typ)
    }

    fn string(&self, id: u64) -> &[u8] {
        self.table
            .as_deref()
            .and_then(|t| t.string(id))
            .unwrap_or_default()
    }

    fn stack_handle(&self, id: u64) -> Option<Stack<'_>> {
        self.table.as_deref().map(|table| Stack { table, id })
    }

    /// The stack of the event's own context, if it has one.
    pub fn stack(&self) -> Option<Stack<'_>> {
        if self.base.typ == EV_SYNC {
            return None;
        }
        if self.base.typ == EventType::CPU_SAMPLE {
            // A sample always has a stack handle, even for stack 0 (as in Go).
            return self.stack_handle(self.base.arg(0));
        }
        let first = *wire_spec(self.base.typ)?.stack_ids.first()?;
        let id = self.base.arg(first.checked_sub(1)?);
        if id == 0 {
            return None;
        }
        self.stack_handle(id)
    }

    /// For the Sync event starting a generation of a Go 1.25 or later trace: the clocks read
    /// together at that point.
    pub fn clock_snapshot(&self) -> Option<ClockSnapshot> {
        if self.base.typ != EV_SYNC {
            return None;
        }
        self.table.as_deref().and_then(|t| t.clock)
    }

    /// The `n` of the `n`th Sync event, for Sync events.
    pub fn sync_number(&self) -> Option<u64> {
        (self.kind() == EventKind::Sync).then(|| self.base.arg(0))
    }

    /// For Metric events: the metric and its value.
    pub fn metric(&self) -> Option<Metric> {
        let name = match self.base.typ {
            EventType::PROCS_CHANGE => "/sched/gomaxprocs:threads",
            EventType::HEAP_ALLOC => "/memory/classes/heap/objects:bytes",
            EventType::HEAP_GOAL => "/gc/heap/goal:bytes",
            _ => return None,
        };
        Some(Metric {
            name,
            value: self.base.arg(0),
        })
    }

    /// For Label events: the label and the goroutine it applies to.
    pub fn label(&self) -> Option<Label<'_>> {
        (self.base.typ == EventType::GO_LABEL).then(|| Label {
            label: self.string(self.base.arg(0)),
            resource: Resource::Goroutine(self.ctx.g),
        })
    }

    /// For RangeBegin, RangeActive and RangeEnd events: the range's name and scope.
    pub fn range(&self) -> Option<Range<'_>> {
        let (name, scope): (Cow<'_, [u8]>, Resource) = match self.base.typ {
            EventType::STW_BEGIN | EventType::STW_END => {
                let mut name = b"stop-the-world (".to_vec();
                name.extend_from_slice(self.string(self.base.arg(0)));
                name.push(b')');
                (Cow::Owned(name), Resource::Goroutine(self.ctx.g))
            }
            EventType::GC_BEGIN | EventType::GC_ACTIVE | EventType::GC_END => (
                Cow::Borrowed(&b"GC concurrent mark phase"[..]),
                Resource::None,
            ),
            EventType::GC_SWEEP_BEGIN | EventType::GC_SWEEP_ACTIVE | EventType::GC_SWEEP_END => {
                let p = if self.base.typ == EventType::GC_SWEEP_ACTIVE {
                    self.base.arg(0) as i64
                } else {
                    self.ctx.p
                };
                (
                    Cow::Borrowed(&b"GC incremental sweep"[..]),
                    Resource::Proc(p),
                )
            }
            EventType::GC_MARK_ASSIST_BEGIN
            | EventType::GC_MARK_ASSIST_ACTIVE
            | EventType::GC_MARK_ASSIST_END => {
                let g = if self.base.typ == EventType::GC_MARK_ASSIST_ACTIVE {
                    self.base.arg(0) as i64
                } else {
                    self.ctx.g
                };
                (
                    Cow::Borrowed(&b"GC mark assist"[..]),
                    Resource::Goroutine(g),
                )
            }
            _ => return None,
        };
        Some(Range { name, scope })
    }

    /// Attributes of a completed range (only sweeps have any).
    pub fn range_attributes(&self) -> Vec<RangeAttribute> {
        if self.base.typ != EventType::GC_SWEEP_END {
            return Vec::new();
        }
        vec![
            RangeAttribute {
                name: "bytes swept",
                value: self.base.arg(0),
            },
            RangeAttribute {
                name: "bytes reclaimed",
                value: self.base.arg(1),
            },
        ]
    }

    /// For TaskBegin and TaskEnd events: the task, its parent and type.
    pub fn task(&self) -> Option<Task<'_>> {
        let (parent, task_type) = match self.base.typ {
            EventType::USER_TASK_BEGIN => (self.base.arg(1), self.string(self.base.arg(2))),
            EventType::USER_TASK_END => (
                self.base.extra(),
                self.task_type.as_deref().unwrap_or_default(),
            ),
            _ => return None,
        };
        Some(Task {
            id: self.base.arg(0),
            parent,
            task_type,
        })
    }

    /// For RegionBegin and RegionEnd events: the region's task and type.
    pub fn region(&self) -> Option<Region<'_>> {
        matches!(
            self.base.typ,
            EventType::USER_REGION_BEGIN | EventType::USER_REGION_END
        )
        .then(|| Region {
            task: self.base.arg(0),
            region_type: self.string(self.base.arg(1)),
        })
    }

    /// For Log events: the task, category and message.
    pub fn log(&self) -> Option<Log<'_>> {
        (self.base.typ == EventType::USER_LOG).then(|| Log {
            task: self.base.arg(0),
            category: self.string(self.base.arg(1)),
            message: self.string(self.base.arg(2)),
        })
    }

    /// For StateTransition events: which goroutine or P goes from which state to which, why,
    /// and with what stack.
    pub fn state_transition(&self) -> Option<StateTransition<'_>> {
        use GoState as G;
        use ProcState as P;
        let b = &self.base;
        let go = |id: i64, from, to| Transition::Goroutine { id, from, to };
        let proc = |id: i64, from, to| Transition::Proc { id, from, to };
        let mut reason: &[u8] = &[];
        let mut stack = None;
        let transition = match b.typ {
            EventType::PROC_START => proc(b.arg(0) as i64, P::Idle, P::Running),
            EventType::PROC_STOP => proc(self.ctx.p, P::Running, P::Idle),
            EventType::PROC_STEAL => {
                let before =
                    if b.extra() as u8 as u64 == gotrace_wire::proc_status::SYSCALL_ABANDONED {
                        P::Idle
                    } else {
                        P::Running
                    };
                proc(b.arg(0) as i64, before, P::Idle)
            }
            EventType::PROC_STATUS => proc(
                b.arg(0) as i64,
                P::from_code(b.extra()).unwrap_or(P::Undetermined),
                P::from_status(b.arg(1) as u8 as u64),
            ),
            EventType::GO_CREATE | EventType::GO_CREATE_BLOCKED => {
                let to = if b.typ == EventType::GO_CREATE_BLOCKED {
                    G::Waiting
                } else {
                    G::Runnable
                };
                // The new goroutine's stack handle is set even for stack 0, as in Go.
                stack = self.stack_handle(b.arg(1));
                go(b.arg(0) as i64, G::NotExist, to)
            }
            EventType::GO_CREATE_SYSCALL => go(b.arg(0) as i64, G::NotExist, G::Syscall),
            EventType::GO_START => go(b.arg(0) as i64, G::Runnable, G::Running),
            EventType::GO_DESTROY => go(self.ctx.g, G::Running, G::NotExist),
            EventType::GO_DESTROY_SYSCALL => go(self.ctx.g, G::Syscall, G::NotExist),
            EventType::GO_STOP | EventType::GO_BLOCK => {
                reason = self.string(b.arg(0));
                stack = self.stack();
                let to = if b.typ == EventType::GO_STOP {
                    G::Runnable
                } else {
                    G::Waiting
                };
                go(self.ctx.g, G::Running, to)
            }
            EventType::GO_UNBLOCK | EventType::GO_SWITCH | EventType::GO_SWITCH_DESTROY => {
                go(b.arg(0) as i64, G::Waiting, G::Runnable)
            }
            EventType::GO_SYSCALL_BEGIN => {
                stack = self.stack();
                go(self.ctx.g, G::Running, G::Syscall)
            }
            EventType::GO_SYSCALL_END => go(self.ctx.g, G::Syscall, G::Running),
            EventType::GO_SYSCALL_END_BLOCKED => go(self.ctx.g, G::Syscall, G::Runnable),
            EventType::GO_STATUS | EventType::GO_STATUS_STACK => {
                let packed = b.arg(2);
                stack = self.stack();
                go(
                    b.arg(0) as i64,
                    G::from_code(packed >> 32).unwrap_or(G::Undetermined),
                    G::from_status(packed & 0xffff_ffff),
                )
            }
            _ => return None,
        };
        Some(StateTransition {
            transition,
            reason,
            stack,
        })
    }

    /// For experimental events: the event name and its arguments (name, value).
    pub fn experimental(&self) -> Option<(&'static str, Vec<(&'static str, u64)>)> {
        if !self.base.typ.is_experimental() {
            return None;
        }
        let spec = wire_spec(self.base.typ)?;
        let args = spec
            .args
            .iter()
            .skip(1)
            .enumerate()
            .map(|(i, &name)| (name, self.base.arg(i)))
            .collect();
        Some((spec.name, args))
    }

    /// Appends Go's `Event.String()` to `s`, byte for byte: the names of stack frames and the
    /// string arguments of experimental events as their bytes are (Go prints them with `%s`),
    /// everything else UTF-8 (Go quotes the other strings with `%q`, escaping what is not). This
    /// is what `go tool trace -d=parsed` prints for the event, without the line's end.
    pub fn write_go(&self, s: &mut Vec<u8>) {
        let _ = write!(
            s,
            "M={} P={} G={} {} Time={}",
            self.ctx.m,
            self.ctx.p,
            self.ctx.g,
            self.kind(),
            self.base.time
        );
        match self.kind() {
            EventKind::Metric => {
                if let Some(m) = self.metric() {
                    let _ = write!(
                        s,
                        " Name={} Value=Value{{Uint64({})}}",
                        go_quote(m.name.as_bytes()),
                        m.value
                    );
                }
            }
            EventKind::Label => {
                if let Some(l) = self.label() {
                    let _ = write!(s, " Label={} Resource={}", go_quote(l.label), l.resource);
                }
            }
            kind @ (EventKind::RangeBegin | EventKind::RangeActive | EventKind::RangeEnd) => {
                if let Some(r) = self.range() {
                    let _ = write!(s, " Name={} Scope={}", go_quote(&r.name), r.scope);
                }
                if kind == EventKind::RangeEnd {
                    let attributes: Vec<String> = self
                        .range_attributes()
                        .iter()
                        .map(|a| {
                            format!(
                                "{}=Value{{Uint64({})}}",
                                go_quote(a.name.as_bytes()),
                                a.value
                            )
                        })
                        .collect();
                    let _ = write!(s, " Attributes=[{}]", attributes.join(" "));
                }
            }
            EventKind::TaskBegin | EventKind::TaskEnd => {
                if let Some(t) = self.task() {
                    let _ = write!(
                        s,
                        " ID={} Parent={} Type={}",
                        t.id,
                        t.parent,
                        go_quote(t.task_type)
                    );
                }
            }
            EventKind::RegionBegin | EventKind::RegionEnd => {
                if let Some(r) = self.region() {
                    let _ = write!(s, " Task={} Type={}", r.task, go_quote(r.region_type));
                }
            }
            EventKind::Log => {
                if let Some(l) = self.log() {
                    let _ = write!(
                        s,
                        " Task={} Category={} Message={}",
                        l.task,
                        go_quote(l.category),
                        go_quote(l.message)
                    );
                }
            }
            EventKind::StateTransition => {
                if let Some(t) = self.state_transition() {
                    let _ = match t.transition {
                        Transition::Goroutine { id, from, to } => {
                            write!(s, " GoID={id} {from}->{to}")
                        }
                        Transition::Proc { id, from, to } => write!(s, " ProcID={id} {from}->{to}"),
                    };
                    let _ = write!(s, " Reason={}", go_quote(t.reason));
                    if let Some(stack) = t.stack {
                        s.extend_from_slice(b"\nTransitionStack=\n");
                        stack.write_go(s, "\t");
                    }
                }
            }
            EventKind::Experimental => {
                if let Some((name, args)) = self.experimental() {
                    let _ = write!(s, " Name={name} Args=[");
                    for (i, (arg, value)) in args.iter().enumerate() {
                        let _ = write!(s, "{}{arg}=", if i == 0 { "" } else { ", " });
                        if arg.ends_with("string") {
                            s.extend_from_slice(self.string(*value));
                        } else {
                            let _ = write!(s, "Value{{Uint64({value})}}");
                        }
                    }
                    s.push(b']');
                }
            }
            EventKind::Sync => {
                let _ = write!(s, " N={}", self.base.arg(0));
                if let Some(clock) = self.clock_snapshot() {
                    let _ = write!(
                        s,
                        " Trace={} Mono={} Wall={}",
                        clock.trace,
                        clock.mono,
                        rfc3339_nano_utc(clock.wall_sec, clock.wall_nsec)
                    );
                }
            }
            EventKind::Bad | EventKind::StackSample => {}
        }
        if let Some(stack) = self.stack() {
            s.extend_from_slice(b"\nStack=\n");
            stack.write_go(s, "\t");
        }
    }
}

impl fmt::Debug for Event {
    /// The event in Go's form (as `Display`), quoted on one line: an event refers to its whole
    /// generation's string and stack tables, which a derived `Debug` would print in full.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut go_form = Vec::new();
        self.write_go(&mut go_form);
        f.debug_tuple("Event").field(&DebugText(&go_form)).finish()
    }
}

impl fmt::Display for Event {
    /// Go's `Event.String()` (Go 1.26), which `go tool trace -d=parsed` prints: exactly, but
    /// for bytes of a stack frame's name (or an experimental event's string) that are not UTF-8,
    /// each shown as U+FFFD here; [`Event::write_go`] gives Go's bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut bytes = Vec::new();
        self.write_go(&mut bytes);
        f.write_str(&String::from_utf8_lossy(&bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GO_STATES: [GoState; 6] = [
        GoState::Undetermined,
        GoState::NotExist,
        GoState::Runnable,
        GoState::Running,
        GoState::Waiting,
        GoState::Syscall,
    ];
    const PROC_STATES: [ProcState; 4] = [
        ProcState::Undetermined,
        ProcState::NotExist,
        ProcState::Running,
        ProcState::Idle,
    ];

    /// The ordering leaves a state in the event as its code; the event API reads it back.
    #[test]
    fn state_codes_read_back_as_the_states_left() {
        for state in GO_STATES {
            assert_eq!(GoState::from_code(state.code()), Some(state));
        }
        assert_eq!(GoState::from_code(GO_STATES.len() as u64), None);
        for state in PROC_STATES {
            assert_eq!(ProcState::from_code(state.code()), Some(state));
        }
        assert_eq!(ProcState::from_code(PROC_STATES.len() as u64), None);
    }

    /// Go's `GoState.Executing` and `ProcState.Executing`: bound to a thread.
    #[test]
    fn executing_states_are_gos() {
        let go: Vec<GoState> = GO_STATES.into_iter().filter(|s| s.executing()).collect();
        assert_eq!(go, [GoState::Running, GoState::Syscall]);
        let proc: Vec<ProcState> = PROC_STATES.into_iter().filter(|s| s.executing()).collect();
        assert_eq!(proc, [ProcState::Running]);
    }
}
