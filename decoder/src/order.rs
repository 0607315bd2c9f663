//! The ordering validator: a model of the scheduler (every G, P and M, the GC, ranges, tasks and
//! regions) that decides, event by event, whether an event can happen next, and rejects traces
//! that break Go's rules with Go's error texts.
//!
//! The merge asks [`Ordering::advance`] about the next event of some thread. The answer is one of:
//! it happens now (`Ok(true)`, and the events it validates, itself and those it implies, are
//! appended to the reader's buffer), it cannot happen yet because
//! it waits for an event of another thread (`Ok(false)`: sequence numbers not reached, a P not yet
//! stolen), or the trace is broken (`Err`). Each rule here is one of Go's parser rules for the
//! same event.

use std::fmt::Write;
use std::sync::Arc;

use gotrace_wire::{go_status, proc_status, spec, EventType, Version};

use crate::error::Error;
use crate::event::{
    wire_spec, BaseEvent, GoId, GoState, ProcId, ProcState, SchedCtx, TableId, TaskId, ThreadId,
    Time, NO_GOROUTINE, NO_PROC, NO_TASK, NO_THREAD,
};
use crate::id_map::{id_map, DenseIdMap, IdMap, SlabIdMap};
use crate::ready::{Ready, TableIds};
use crate::table::Table;

/// An event type's name as Go's messages give it: by the trace's own version's table, so a
/// type the version does not define reads `Invalid(N)`. Formatted only when an error is built.
/// (No message names an experimental event: they take only the thread check, whose messages
/// name no event.)
#[derive(Clone, Copy)]
struct EvName {
    version: Version,
    typ: EventType,
}

impl std::fmt::Display for EvName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match spec(self.version, self.typ) {
            Some(s) => f.write_str(s.name),
            None => write!(f, "Invalid({})", self.typ.0),
        }
    }
}

/// A position in a per-resource sequence, local to a generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Seq {
    gen: u64,
    seq: u64,
}

impl Seq {
    fn new(gen: u64, seq: u64) -> Self {
        Seq { gen, seq }
    }

    /// Whether `self` comes immediately after `before`.
    fn succeeds(self, before: Seq) -> bool {
        self.gen == before.gen && self.seq == before.seq.wrapping_add(1)
    }
}

impl std::fmt::Display for Seq {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (gen={})", self.seq, self.gen)
    }
}

/// A kind of range (sweep, mark assist, stop-the-world with its reason string).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct RangeType {
    /// The event type that begins the range.
    typ: EventType,
    desc: u64,
}

impl RangeType {
    fn of(typ: EventType, desc: u64) -> Self {
        let typ = wire_spec(typ).and_then(|s| s.start_ev).unwrap_or(typ);
        RangeType { typ, desc }
    }
}

/// Go's `%v` of its range type: `{35 0}`.
fn range_text(r: &RangeType) -> String {
    format!("{{{} {}}}", r.typ.0, r.desc)
}

/// Ranges a goroutine or P holds without a heap allocation: a sweep, a mark assist, a
/// stop-the-world. Most goroutines and Ps of a small trace hold one at some point, and an
/// allocation each was 1% of the time of `go122-gc-stress`.
const INLINE_RANGES: usize = 2;

/// The ranges in flight on a goroutine or P, in Go's order (a list with swap-remove): the first
/// [`INLINE_RANGES`] inline, any others after them in `more`.
#[derive(Debug)]
struct Ranges {
    inline: [RangeType; INLINE_RANGES],
    inline_len: usize,
    /// Not empty only while `inline` is full.
    more: Vec<RangeType>,
}

impl Default for Ranges {
    fn default() -> Self {
        let none = RangeType {
            typ: EventType::NONE,
            desc: 0,
        };
        Ranges {
            inline: [none; INLINE_RANGES],
            inline_len: 0,
            more: Vec::new(),
        }
    }
}

impl Ranges {
    fn iter(&self) -> impl Iterator<Item = &RangeType> {
        let inline = self.inline.get(..self.inline_len).unwrap_or_default();
        inline.iter().chain(&self.more)
    }

    fn contains(&self, r: &RangeType) -> bool {
        self.iter().any(|x| x == r)
    }

    fn push(&mut self, r: RangeType) {
        // `swap_remove` takes from `more` first, so `inline` has room only while `more` is empty.
        match self.inline.get_mut(self.inline_len) {
            Some(slot) => {
                *slot = r;
                self.inline_len += 1;
            }
            None => self.more.push(r),
        }
    }

    /// Removes the `index`th range, the last taking its place (`Vec::swap_remove`).
    fn swap_remove(&mut self, index: usize) -> Option<RangeType> {
        let last = match self.more.pop() {
            Some(last) => last,
            None => {
                self.inline_len = self.inline_len.checked_sub(1)?;
                *self.inline.get(self.inline_len)?
            }
        };
        let slot = match index.checked_sub(INLINE_RANGES) {
            None => self
                .inline
                .get_mut(index)
                .filter(|_| index < self.inline_len),
            Some(i) => self.more.get_mut(i),
        };
        match slot {
            Some(slot) => Some(std::mem::replace(slot, last)),
            None => Some(last),
        }
    }

    fn begin(&mut self, r: RangeType) -> Result<(), String> {
        if self.contains(&r) {
            return Err(format!(
                "discovered event already in-flight for when starting event {}",
                r.typ.name().unwrap_or_default()
            ));
        }
        self.push(r);
        Ok(())
    }

    /// In the first generation an active range starts being tracked; later it must be known.
    fn active(&mut self, r: RangeType, initial_gen: bool) -> Result<(), String> {
        if initial_gen {
            if self.contains(&r) {
                return Err(format!(
                    "found named active range already in first gen: {}",
                    range_text(&r)
                ));
            }
            self.push(r);
        } else if !self.contains(&r) {
            let list: Vec<String> = self.iter().map(range_text).collect();
            return Err(format!(
                "resource is missing active range: {} [{}]",
                r.typ.name().unwrap_or_default(),
                list.join(" ")
            ));
        }
        Ok(())
    }

    /// Ends the range `end` closes; returns its description.
    fn end(&mut self, end: EventType) -> Result<u64, String> {
        let start = wire_spec(end)
            .and_then(|s| s.start_ev)
            .unwrap_or(EventType::NONE);
        let index = self.iter().position(|r| r.typ == start);
        let removed = index.and_then(|index| self.swap_remove(index));
        match removed {
            Some(range) => Ok(range.desc),
            None => Err(format!(
                "tried to end event {}, but not in-flight",
                start.name().unwrap_or_default()
            )),
        }
    }
}

/// Region names longer than this are kept on the heap.
const INLINE_NAME: usize = 30;

/// A region's name. While the generation it began in lasts, the name is its string ID there:
/// beginning a region, a frequent event, copies nothing, and ending it in the same generation
/// compares IDs. When that generation ends ([`Ordering::end_generation`]) the name becomes its
/// bytes, kept inline when short (as region names are), since IDs mean other strings later; a
/// longer name is shared with every region and task of its generation that it names
/// ([`Ordering::names`]), so that a region costs its trace no more than its few bytes.
#[derive(Debug, Clone)]
enum RegionName {
    /// String `id` of the current generation.
    Id(u64),
    Inline {
        len: u8,
        bytes: [u8; INLINE_NAME],
    },
    Heap(Arc<[u8]>),
}

impl RegionName {
    /// The name that string `id` of `table`, its generation's, will be once its generation
    /// ends, a long one taken from (or added to) the generation's shared `names`.
    fn of_string(id: u64, table: &Table, names: &mut IdMap<u64, Arc<[u8]>>) -> Self {
        let name = table.string(id).unwrap_or_default();
        match u8::try_from(name.len()) {
            Ok(len) if name.len() <= INLINE_NAME => {
                let mut bytes = [0; INLINE_NAME];
                bytes[..name.len()].copy_from_slice(name);
                RegionName::Inline { len, bytes }
            }
            _ => RegionName::Heap(shared_name(names, id, name)),
        }
    }

    /// The name's bytes; `table` is the current generation's.
    fn bytes<'a>(&'a self, table: &'a Table) -> &'a [u8] {
        match self {
            RegionName::Id(id) => table.string(*id).unwrap_or_default(),
            RegionName::Inline { len, bytes } => bytes.get(..usize::from(*len)).unwrap_or_default(),
            RegionName::Heap(name) => name,
        }
    }

    /// Whether this is `name`, string `id` of the current generation (whose table is `table`):
    /// the same ID is the same string, and different IDs may still name equal strings.
    #[inline]
    fn is(&self, id: u64, name: &[u8], table: &Table) -> bool {
        matches!(self, RegionName::Id(own) if *own == id) || self.bytes(table) == name
    }
}

#[derive(Debug, Clone)]
struct UserRegion {
    task: TaskId,
    name: RegionName,
}

/// Go's `%v` of a region: `{5 name}`; `table` is the current generation's.
fn region_text(r: &UserRegion, table: &Table) -> String {
    format!(
        "{{{} {}}}",
        r.task,
        String::from_utf8_lossy(r.name.bytes(table))
    )
}

#[derive(Debug)]
struct GState {
    /// A `GoStatus` code, truncated to a byte as Go's type is.
    status: u8,
    seq: Seq,
    /// In [`Ordering::region_gs`]: a region began or ended in the current generation.
    listed: bool,
    regions: Vec<UserRegion>,
    ranges: Ranges,
}

/// A vacant place's state in the goroutine table (see [`SlabIdMap`]), never a goroutine's.
impl Default for GState {
    fn default() -> Self {
        GState::new(0, Seq::new(0, 0))
    }
}

impl GState {
    fn new(status: u8, seq: Seq) -> Self {
        GState {
            status,
            seq,
            listed: false,
            regions: Vec::new(),
            ranges: Ranges::default(),
        }
    }
}

#[derive(Debug)]
struct PState {
    /// A `ProcStatus` code, truncated to a byte as Go's type is.
    status: u8,
    seq: Seq,
    ranges: Ranges,
}

/// A thread's state, in a slot that the thread's batch cursor knows by index.
#[derive(Debug, Clone, Copy)]
struct MState {
    id: ThreadId,
    g: GoId,
    p: ProcId,
    /// Whether Go would know the thread by now: it creates a thread's state when it first tries
    /// an event of the thread, or when a goroutine status names it. A slot exists earlier, as
    /// soon as a generation has batches of the thread.
    known: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GcState {
    Undetermined,
    NotRunning,
    Running,
}

/// String `id` of the current generation, whose bytes are `name`, as one allocation shared by
/// whatever keeps it beyond the generation: a trace of many open tasks or regions named by a
/// long string (up to 1 KiB) would otherwise hold a copy of it for each of their few bytes.
fn shared_name(names: &mut IdMap<u64, Arc<[u8]>>, id: u64, name: &[u8]) -> Arc<[u8]> {
    names.entry(id).or_insert_with(|| Arc::from(name)).clone()
}

#[derive(Debug)]
struct TaskState {
    name: Arc<[u8]>,
    parent: TaskId,
}

const GO_RUNNABLE: u8 = go_status::RUNNABLE as u8;
const GO_RUNNING: u8 = go_status::RUNNING as u8;
const GO_SYSCALL: u8 = go_status::SYSCALL as u8;
const GO_WAITING: u8 = go_status::WAITING as u8;
const PROC_RUNNING: u8 = proc_status::RUNNING as u8;
const PROC_IDLE: u8 = proc_status::IDLE as u8;
const PROC_SYSCALL: u8 = proc_status::SYSCALL as u8;
const PROC_ABANDONED: u8 = proc_status::SYSCALL_ABANDONED as u8;
/// Status codes at or above these are invalid.
const GO_STATUS_COUNT: u8 = 5;
const PROC_STATUS_COUNT: u8 = 5;

/// Go's names of `GoStatus` codes in messages.
fn go_status_name(s: u8) -> &'static str {
    match s {
        GO_RUNNABLE => "Runnable",
        GO_RUNNING => "Running",
        GO_SYSCALL => "Syscall",
        GO_WAITING => "Waiting",
        _ => "Bad",
    }
}

/// Go's names of `ProcStatus` codes in messages (an abandoned P prints as "Bad", as in Go).
fn proc_status_name(s: u8) -> &'static str {
    match s {
        PROC_RUNNING => "Running",
        PROC_IDLE => "Idle",
        PROC_SYSCALL => "Syscall",
        _ => "Bad",
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Need {
    Not,
    May,
    Must,
}

/// What the context of an event must hold: thread, P, goroutine.
#[derive(Clone, Copy)]
struct Reqs {
    m: Need,
    p: Need,
    g: Need,
}

const fn reqs(m: Need, p: Need, g: Need) -> Reqs {
    Reqs { m, p, g }
}

/// Events that run user code: a goroutine on a P on a thread.
const USER_GO: Reqs = reqs(Need::Must, Need::Must, Need::Must);
/// Events bound to a P, with or without a goroutine.
const ON_P: Reqs = reqs(Need::Must, Need::Must, Need::May);
/// Events that only need a thread.
const ON_THREAD: Reqs = reqs(Need::Must, Need::May, Need::May);
/// Acquiring a P.
const WITHOUT_P: Reqs = reqs(Need::Must, Need::Not, Need::May);
/// Starting a goroutine on a P.
const WITHOUT_G: Reqs = reqs(Need::Must, Need::Must, Need::Not);
/// A goroutine in a syscall, which may have lost its P.
const IN_SYSCALL: Reqs = reqs(Need::Must, Need::May, Need::Must);
/// A goroutine appearing in a syscall on a thread that runs none.
const NEW_IN_SYSCALL: Reqs = reqs(Need::Must, Need::May, Need::Not);

/// Checks an event's context against its requirements; the check runs for most events, so the
/// message is only built on failure.
#[inline]
fn validate_ctx(ctx: &SchedCtx, reqs: Reqs) -> Result<(), String> {
    let meets = |need: Need, present: bool| match need {
        Need::Must => present,
        Need::Not => !present,
        Need::May => true,
    };
    if meets(reqs.m, ctx.m != NO_THREAD)
        && meets(reqs.p, ctx.p != NO_PROC)
        && meets(reqs.g, ctx.g != NO_GOROUTINE)
    {
        return Ok(());
    }
    Err(ctx_error(ctx.g, ctx.p, ctx.m, reqs))
}

/// Go's message for the first requirement the context `g`, `p`, `m` does not meet. It takes the
/// context's values, not a reference: a reference leaving the merge's loop keeps the running
/// thread's context in memory, where the handlers copy it to and fro at every event.
#[cold]
#[inline(never)]
fn ctx_error(g: GoId, p: ProcId, m: ThreadId, reqs: Reqs) -> String {
    let ctx = SchedCtx { g, p, m };
    let check = |need: Need, present: bool, what: &str| match (need, present) {
        (Need::Must, false) => Err(format!("expected {what} but didn't have one")),
        (Need::Not, true) => Err(format!("expected no {} but had one", &what[2..])),
        _ => Ok(()),
    };
    check(reqs.m, ctx.m != NO_THREAD, "a thread")
        .and_then(|()| check(reqs.p, ctx.p != NO_PROC, "a proc"))
        .and_then(|()| check(reqs.g, ctx.g != NO_GOROUTINE, "a goroutine"))
        .err()
        .unwrap_or_default()
}

/// The outcome of a handler: the context after the event, and whether it advanced.
type Advance = Result<(SchedCtx, bool), String>;

/// The scheduler model.
pub(crate) struct Ordering {
    version: Version,
    g_states: SlabIdMap<GState>,
    p_states: DenseIdMap<PState>,
    /// Thread states by slot; `thread_slots` finds a thread's slot by ID.
    m_states: Vec<MState>,
    thread_slots: IdMap<ThreadId, usize>,
    active_tasks: IdMap<TaskId, TaskState>,
    /// The names of the current generation's strings that open tasks and regions keep
    /// ([`shared_name`]), by string ID; emptied as the generation ends.
    names: IdMap<u64, Arc<[u8]>>,
    /// The goroutines in which a region began or ended in the current generation (a goroutine
    /// destroyed since may still be named, and its ID taken by another): the only ones whose
    /// regions a generation's end has to look at.
    region_gs: Vec<GoId>,
    /// Goroutines looked at by [`Ordering::end_generation`], for the test that bounds them.
    #[cfg(test)]
    end_visits: usize,
    gc_seq: u64,
    gc_state: GcState,
    initial_gen: u64,
}

// The stacks and strings that the frequent events name, for their handlers' table check
// (`Step::push_known`), in the type table's order: stacks, then strings. The unit test
// `known_table_ids_are_the_type_tables` compares them with it.

/// Types that name none (`GoStart`, `GoDestroy`, `HeapAlloc`, `HeapGoal`).
const NO_IDS: &[TableId] = &[];
/// `GoStop` and `GoBlock`: the stack, the reason string.
const STOP_IDS: &[TableId] = &[stack_id(1), string_id(0)];
/// `GoUnblock`: the stack.
const UNBLOCK_IDS: &[TableId] = &[stack_id(2)];
/// `UserRegionBegin` and `UserRegionEnd`: the stack; the name string is the one the handler
/// looks up itself (an error of its own when missing), so it exists by the time of the check.
const REGION_IDS: &[TableId] = &[stack_id(2)];
/// `UserLog`: the stack, the key and value strings.
const LOG_IDS: &[TableId] = &[stack_id(3), string_id(1), string_id(2)];

// The spare slot (Go's `extra`) that the handlers of `ProcSteal` and `UserTaskEnd` fill: the
// first after the type's own arguments, as constants rather than found through the type table
// at every event (`BaseEvent::set_extra`, out of line: 0.6% of the device trace's time). The
// unit test `extra_slots_follow_the_type_tables_arguments` compares them with the table.

/// `ProcSteal`'s spare slot, after p, p_seq and m: the status the P was stolen from.
const PROC_STEAL_EXTRA: usize = 3;
/// `UserTaskEnd`'s spare slot, after the task and the stack: the task's parent.
const USER_TASK_END_EXTRA: usize = 2;

const fn stack_id(arg: u8) -> TableId {
    TableId {
        arg,
        is_stack: true,
    }
}

const fn string_id(arg: u8) -> TableId {
    TableId {
        arg,
        is_stack: false,
    }
}

/// The event being advanced, where it comes from, and where the events it validates go.
struct Step<'a> {
    ev: &'a mut BaseEvent,
    table: &'a Table,
    gen: u64,
    out: &'a mut Ready,
}

impl Step<'_> {
    /// Validates the advanced event itself, in context `ctx`, as the handler left it.
    #[inline(always)]
    fn push(&mut self, ctx: SchedCtx) {
        self.push_ids(ctx, TableIds::OfType);
    }

    /// [`Step::push`] by a handler that knows which arguments of the event name stacks and
    /// strings (`ids`, one of the constants above).
    #[inline(always)]
    fn push_known(&mut self, ctx: SchedCtx, ids: &'static [TableId]) {
        self.push_ids(ctx, TableIds::Known(ids));
    }

    #[inline(always)]
    fn push_ids(&mut self, ctx: SchedCtx, ids: TableIds) {
        let (g, p, m) = (ctx.g, ctx.p, ctx.m);
        self.out.push(g, p, m, self.ev, self.table, ids);
    }

    /// Validates an event the wire does not carry but the model implies, at the advanced event's
    /// time.
    ///
    /// The context comes as values and the step's parts are passed on as such: a reference to
    /// the step or to a context leaving `Ordering::dispatch_other` kept them in its frame,
    /// stored there at every call whatever the event.
    #[inline(always)]
    fn push_implied(&mut self, g: GoId, p: ProcId, m: ThreadId, typ: EventType, args: &[u64]) {
        push_implied(self.out, self.table, self.ev.time, g, p, m, typ, args);
    }
}

impl Ordering {
    pub(crate) fn new(version: Version) -> Self {
        Ordering {
            version,
            g_states: SlabIdMap::default(),
            p_states: DenseIdMap::default(),
            m_states: Vec::new(),
            thread_slots: id_map(),
            active_tasks: id_map(),
            names: id_map(),
            region_gs: Vec::new(),
            #[cfg(test)]
            end_visits: 0,
            gc_seq: 0,
            gc_state: GcState::Undetermined,
            initial_gen: 0,
        }
    }

    /// Makes room for `threads` more thread states (a generation's threads, most of them known
    /// after the first generation), so that a generation's threads are added without growing the
    /// table step by step.
    pub(crate) fn reserve_threads(&mut self, threads: usize) {
        self.m_states.reserve(threads);
        self.thread_slots.reserve(threads);
    }

    /// The slot of thread `m`'s state, made (not yet known to the model) if it has none: the
    /// thread's cursor keeps it, so that advancing an event finds the state without a lookup.
    pub(crate) fn thread_slot(&mut self, m: ThreadId) -> usize {
        if let Some(&slot) = self.thread_slots.get(&m) {
            return slot;
        }
        self.m_states.push(MState {
            id: m,
            g: NO_GOROUTINE,
            p: NO_PROC,
            known: false,
        });
        let slot = self.m_states.len() - 1;
        self.thread_slots.insert(m, slot);
        slot
    }

    /// The state of thread `m`, if the model knows it.
    fn thread_mut(&mut self, m: ThreadId) -> Option<&mut MState> {
        let slot = *self.thread_slots.get(&m)?;
        self.m_states.get_mut(slot).filter(|ms| ms.known)
    }

    /// At the end of a generation, whose tables are `table`: the names of regions still open
    /// become their bytes, as the next generation's string IDs mean other strings. A goroutine
    /// with no region open gives back its list's room: kept, every goroutine that ever opened a
    /// region would hold it for as long as it lives, more than its share of a generation that
    /// only re-states it.
    pub(crate) fn end_generation(&mut self, table: &Table) {
        // Not every goroutine: a trace of many goroutines and then many generations of a few
        // bytes each would take time in their product.
        for id in self.region_gs.drain(..) {
            let Some(g) = self.g_states.get_mut(id) else {
                continue;
            };
            #[cfg(test)]
            {
                self.end_visits += 1;
            }
            g.listed = false;
            if g.regions.is_empty() {
                g.regions = Vec::new();
            }
            for region in &mut g.regions {
                if let RegionName::Id(id) = region.name {
                    region.name = RegionName::of_string(id, table, &mut self.names);
                }
            }
        }
        // Dropped, not cleared: its room is a past generation's.
        self.names = id_map();
    }

    /// The merge is about to advance events of generation `gen`. Go takes the generation of the
    /// first event it is asked about for the initial one, which this is the first time: set here
    /// once rather than tested at every event.
    pub(crate) fn start_events_of(&mut self, gen: u64) {
        if self.initial_gen == 0 {
            self.initial_gen = gen;
        }
    }

    /// The context of thread `m` (whose state is in `slot`, from [`Ordering::thread_slot`])
    /// before its next event. Go creates the thread's state on first sight, even if the event
    /// cannot advance: this marks it known.
    #[inline(always)]
    pub(crate) fn thread_ctx(&mut self, m: ThreadId, slot: usize) -> Result<SchedCtx, Error> {
        if m == NO_THREAD {
            return Ok(SchedCtx::NONE);
        }
        let Some(ms) = self.m_states.get_mut(slot) else {
            return Err(Error::new("internal error: thread without a state slot"));
        };
        ms.known = true;
        Ok(SchedCtx {
            g: ms.g,
            p: ms.p,
            m,
        })
    }

    /// Tries to let `ev`, the next event of the thread whose state is in `slot` (from
    /// [`Ordering::thread_slot`]) and whose context is `cur` (from [`Ordering::thread_ctx`]), in
    /// generation `gen`, happen now, appending what it validates to `out`; `cur` becomes the
    /// context after it. The merge keeps `cur` while the same thread runs on rather than reading
    /// the state at every event: no handler changes the advancing thread's own state, which is
    /// written here when the context changes. After an error, `out` may hold part of what the
    /// failed step validated.
    #[inline(always)]
    pub(crate) fn advance(
        &mut self,
        ev: &mut BaseEvent,
        table: &Table,
        cur: &mut SchedCtx,
        slot: usize,
        gen: u64,
        out: &mut Ready,
    ) -> Result<bool, Error> {
        let step = Step {
            ev,
            table,
            gen,
            out,
        };
        let (new, ok) = self.dispatch(step, *cur).map_err(Error::new)?;
        // Written whether it changed or not: two stores cost less than the comparisons.
        if ok && cur.m != NO_THREAD {
            if let Some(ms) = self.m_states.get_mut(slot) {
                ms.p = new.p;
                ms.g = new.g;
            }
            // The thread's own state, not the context the handler worked in (which may be
            // another thread's).
            cur.p = new.p;
            cur.g = new.g;
        }
        Ok(ok)
    }

    // Inlined into the merge's loop, which calls it once per event, and so are the handlers of
    // the most frequent events (starts, stops, blocks, unblocks, regions, instants): 1–2% fewer
    // instructions for this one, 2–9% for those. The other events go through one call, which
    // takes the step's parts rather than the step: built in memory for the calls of their
    // handlers, it was built at every event.
    #[inline(always)]
    fn dispatch(&mut self, s: Step<'_>, cur: SchedCtx) -> Advance {
        match s.ev.typ {
            EventType::USER_LOG => self.instant_known(s, cur, USER_GO, LOG_IDS),
            EventType::PROCS_CHANGE | EventType::GO_LABEL => self.instant(s, cur, USER_GO),
            EventType::GO_START => self.go_start(s, cur),
            EventType::GO_DESTROY | EventType::GO_STOP | EventType::GO_BLOCK => {
                self.go_stop_exec(s, cur)
            }
            EventType::GO_UNBLOCK => self.go_unblock(s, cur),
            EventType::HEAP_ALLOC | EventType::HEAP_GOAL => {
                self.instant_known(s, cur, ON_P, NO_IDS)
            }
            EventType::USER_REGION_BEGIN | EventType::USER_REGION_END => self.user_region(s, cur),
            // The device trace's less frequent types each from an arm of its own, the type a
            // constant there: the call stays one, but the jump on the type in `dispatch_other`
            // then follows a path that differs by type and is predicted, where from one shared
            // arm it mispredicted as the types alternate.
            EventType::PROC_START => self.other(s, cur, EventType::PROC_START),
            EventType::PROC_STOP => self.other(s, cur, EventType::PROC_STOP),
            EventType::PROC_STEAL => self.other(s, cur, EventType::PROC_STEAL),
            EventType::GO_SYSCALL_BEGIN => self.other(s, cur, EventType::GO_SYSCALL_BEGIN),
            EventType::GO_SYSCALL_END => self.other(s, cur, EventType::GO_SYSCALL_END),
            EventType::GO_SYSCALL_END_BLOCKED => {
                self.other(s, cur, EventType::GO_SYSCALL_END_BLOCKED)
            }
            EventType::GO_CREATE_SYSCALL => self.other(s, cur, EventType::GO_CREATE_SYSCALL),
            EventType::GO_DESTROY_SYSCALL => self.other(s, cur, EventType::GO_DESTROY_SYSCALL),
            typ => self.other(s, cur, typ),
        }
    }

    /// Calls [`Ordering::dispatch_other`] with `typ`, the event's type, a constant at the call.
    #[inline(always)]
    fn other(&mut self, s: Step<'_>, cur: SchedCtx, typ: EventType) -> Advance {
        self.dispatch_other(s.ev, s.table, s.gen, s.out, cur.g, cur.p, cur.m, typ)
    }

    /// The handlers of the less frequent events (`typ` is the event's type), and the error for a
    /// type the ordering does not know.
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    fn dispatch_other(
        &mut self,
        ev: &mut BaseEvent,
        table: &Table,
        gen: u64,
        out: &mut Ready,
        g: GoId,
        p: ProcId,
        m: ThreadId,
        typ: EventType,
    ) -> Advance {
        let s = Step {
            ev,
            table,
            gen,
            out,
        };
        let cur = SchedCtx { g, p, m };
        match typ {
            EventType::PROC_START => self.proc_start(s, cur),
            EventType::PROC_STOP => self.proc_stop(s, cur),
            EventType::PROC_STEAL => self.proc_steal(s, cur),
            EventType::PROC_STATUS => self.proc_status(s, cur),
            EventType::GO_CREATE | EventType::GO_CREATE_BLOCKED => self.go_create(s, cur),
            EventType::GO_CREATE_SYSCALL => self.go_create_syscall(s, cur),
            EventType::GO_DESTROY_SYSCALL => self.go_destroy_syscall(s, cur),
            EventType::GO_SYSCALL_BEGIN => self.go_syscall_begin(s, cur),
            EventType::GO_SYSCALL_END => self.go_syscall_end(s, cur),
            EventType::GO_SYSCALL_END_BLOCKED => self.go_syscall_end_blocked(s, cur),
            EventType::GO_STATUS | EventType::GO_STATUS_STACK => self.go_status(s, cur),
            EventType::STW_BEGIN | EventType::GC_MARK_ASSIST_BEGIN => self.go_range_begin(s, cur),
            EventType::STW_END | EventType::GC_MARK_ASSIST_END => self.go_range_end(s, cur),
            EventType::GC_MARK_ASSIST_ACTIVE => self.go_range_active(s, cur),
            EventType::GC_ACTIVE => self.gc_active(s, cur),
            EventType::GC_BEGIN => self.gc_begin(s, cur),
            EventType::GC_END => self.gc_end(s, cur),
            EventType::GC_SWEEP_ACTIVE => self.gc_sweep_active(s, cur),
            EventType::GC_SWEEP_BEGIN => self.gc_sweep_begin(s, cur),
            EventType::GC_SWEEP_END => self.gc_sweep_end(s, cur),
            EventType::USER_TASK_BEGIN => self.user_task_begin(s, cur),
            EventType::USER_TASK_END => self.user_task_end(s, cur),
            EventType::GO_SWITCH | EventType::GO_SWITCH_DESTROY => self.go_switch(s, cur),
            typ if typ.is_experimental() => self.instant(s, cur, ON_THREAD),
            typ => Err(format!("bad event type found while ordering: {}", typ.0)),
        }
    }

    /// Adds goroutine `id`'s state, new, in `status` since `seq`: filled in where it lies in the
    /// table, not built and moved in (see [`SlabIdMap::insert_default`]). One function for the
    /// three handlers that create goroutines: inlined in each, the table's code moved the merge
    /// loop's by 16 bytes, and the generated and real traces read 1.2–1.5% slower for it alone
    /// (the same instructions).
    #[inline(never)]
    fn new_g_state(&mut self, id: GoId, status: u8, seq: Seq) {
        let g = self.g_states.insert_default(id);
        g.status = status;
        g.seq = seq;
    }

    /// The event's name in the trace's own version, for Go's messages.
    fn ev_name(&self, typ: EventType) -> EvName {
        EvName {
            version: self.version,
            typ,
        }
    }

    fn proc_status(&mut self, mut s: Step<'_>, mut cur: SchedCtx) -> Advance {
        let pid = s.ev.arg(0) as i64;
        let status = s.ev.arg(1) as u8;
        if status >= PROC_STATUS_COUNT {
            return Err(format!("invalid status for proc {pid}: {status}"));
        }
        let mut old = ProcState::from_status(u64::from(status));
        if let Some(p) = self.p_states.get_mut(pid) {
            if status == PROC_ABANDONED && p.status == PROC_SYSCALL {
                // Still in the syscall we know about: nothing was lost, promote it.
                old = ProcState::Running;
                s.ev.set_arg(1, u64::from(PROC_SYSCALL));
            } else if status == PROC_ABANDONED && p.status == PROC_ABANDONED {
                old = ProcState::Idle;
                s.ev.set_arg(1, u64::from(PROC_ABANDONED));
            } else if p.status != status {
                return Err(format!(
                    "inconsistent status for proc {pid}: old {} vs. new {}",
                    proc_status_name(p.status),
                    proc_status_name(status)
                ));
            }
            p.seq = Seq::new(s.gen, 0);
        } else {
            self.p_states.insert(
                pid,
                PState {
                    status,
                    seq: Seq::new(s.gen, 0),
                    ranges: Ranges::default(),
                },
            );
            old = if s.gen == self.initial_gen {
                ProcState::Undetermined
            } else {
                ProcState::NotExist
            };
        }
        s.ev.set_extra(old.code());
        let mut new = cur;
        if status == PROC_RUNNING || status == PROC_SYSCALL {
            new.p = pid;
        }
        if status == PROC_ABANDONED && old == ProcState::Running {
            // The P is about to be stolen and this status may come from another thread: the
            // Running -> Running transition belongs to the thread the P is bound to.
            let bound = self
                .m_states
                .iter()
                .filter(|ms| ms.known && ms.p == pid)
                .max_by_key(|ms| ms.id);
            let Some(ms) = bound else {
                return Err(format!(
                    "failed to find sched context for proc {pid} that's about to be stolen"
                ));
            };
            cur = SchedCtx {
                m: ms.id,
                p: pid,
                g: ms.g,
            };
        }
        s.push(cur);
        Ok((new, true))
    }

    fn proc_start(&mut self, mut s: Step<'_>, cur: SchedCtx) -> Advance {
        let pid = s.ev.arg(0) as i64;
        let seq = Seq::new(s.gen, s.ev.arg(1));
        let Some(p) = self.p_states.get_mut(pid) else {
            return Ok((cur, false));
        };
        if p.status != PROC_IDLE || !seq.succeeds(p.seq) || cur.p != NO_PROC {
            // Its status, its turn, or the loss of our current P (in a syscall) is still to come.
            return Ok((cur, false));
        }
        validate_ctx(&cur, WITHOUT_P)?;
        p.status = PROC_RUNNING;
        p.seq = seq;
        s.push(cur);
        Ok((SchedCtx { p: pid, ..cur }, true))
    }

    fn proc_stop(&mut self, mut s: Step<'_>, cur: SchedCtx) -> Advance {
        let name = EvName {
            version: self.version,
            typ: s.ev.typ,
        };
        let Some(p) = self.p_states.get_mut(cur.p) else {
            return Err(cold_message(move || {
                format!("event {name} for proc ({}) that doesn't exist", cur.p)
            }));
        };
        if p.status != PROC_RUNNING && p.status != PROC_SYSCALL {
            return Err(cold_message(move || {
                format!("{name} event for proc that's not Running or Syscall")
            }));
        }
        validate_ctx(&cur, ON_P)?;
        p.status = PROC_IDLE;
        s.push(cur);
        Ok((SchedCtx { p: NO_PROC, ..cur }, true))
    }

    fn proc_steal(&mut self, mut s: Step<'_>, cur: SchedCtx) -> Advance {
        let pid = s.ev.arg(0) as i64;
        let seq = Seq::new(s.gen, s.ev.arg(1));
        let Some(p) = self.p_states.get_mut(pid) else {
            return Ok((cur, false));
        };
        if (p.status != PROC_SYSCALL && p.status != PROC_ABANDONED) || !seq.succeeds(p.seq) {
            return Ok((cur, false));
        }
        validate_ctx(&cur, ON_THREAD)?;
        // Remember what the P was, so the transition reads Idle -> Idle for an abandoned P.
        let old = p.status;
        s.ev.set_arg(PROC_STEAL_EXTRA, u64::from(old));
        p.status = PROC_IDLE;
        p.seq = seq;
        if old == PROC_ABANDONED {
            // Its thread is unknown: it may have moved on, so leave every thread alone.
            s.push(cur);
            return Ok((cur, true));
        }
        let mid = s.ev.arg(2) as i64;
        if mid == cur.m {
            // A thread taking back its own P from its own syscall: a ProcStop in effect.
            if cur.p != pid {
                return Err(cold_message(move || {
                    format!(
                        "tried to self-steal proc {pid} (thread {mid}), but got proc {} instead",
                        cur.p
                    )
                }));
            }
            s.push(cur);
            return Ok((SchedCtx { p: NO_PROC, ..cur }, true));
        }
        let Some(victim) = self.thread_mut(mid) else {
            return Err(format!("stole proc from non-existent thread {mid}"));
        };
        if victim.p != pid {
            return Err(format!(
                "tried to steal proc {pid} from thread {mid}, but got proc {} instead",
                victim.p
            ));
        }
        // The victim is in a syscall and will notice the loss at its GoSyscallEndBlocked, which
        // cannot advance before this.
        victim.p = NO_PROC;
        s.push(cur);
        Ok((cur, true))
    }

    fn go_status(&mut self, mut s: Step<'_>, mut cur: SchedCtx) -> Advance {
        let gid = s.ev.arg(0) as i64;
        let mid = s.ev.arg(1) as i64;
        let status = s.ev.arg(2) as u8;
        if status >= GO_STATUS_COUNT {
            return Err(format!("invalid status for goroutine {gid}: {status}"));
        }
        let mut old = GoState::from_status(u64::from(status));
        if let Some(g) = self.g_states.get_mut(gid) {
            if g.status != status {
                return Err(format!(
                    "inconsistent status for goroutine {gid}: old {} vs. new {}",
                    go_status_name(g.status),
                    go_status_name(status)
                ));
            }
            g.seq = Seq::new(s.gen, 0);
        } else if s.gen == self.initial_gen {
            self.new_g_state(gid, status, Seq::new(s.gen, 0));
            old = GoState::Undetermined;
        } else {
            return Err(format!(
                "found goroutine status for new goroutine after the first generation: id={gid} status={}",
                go_status_name(status)
            ));
        }
        s.ev.set_arg(2, old.code() << 32 | u64::from(status));
        let mut new = cur;
        match status {
            GO_RUNNING => new.g = gid,
            GO_SYSCALL => {
                if mid == NO_THREAD {
                    return Err(format!("found goroutine {gid} in syscall without a thread"));
                }
                if mid == cur.m {
                    // After the first generation the binding must already be known.
                    if s.gen != self.initial_gen && cur.g != gid {
                        return Err(cold_message(move || {
                            format!(
                                "inconsistent thread for syscalling goroutine {gid}: thread has goroutine {}",
                                cur.g
                            )
                        }));
                    }
                    new.g = gid;
                } else {
                    // A goroutine sitting in a syscall on another thread for the whole generation.
                    match self.thread_mut(mid) {
                        Some(ms) => {
                            if ms.g != gid {
                                return Err(format!(
                                    "inconsistent thread for syscalling goroutine {gid}: thread has goroutine {}",
                                    ms.g
                                ));
                            }
                            cur.g = ms.g;
                        }
                        None => {
                            let slot = self.thread_slot(mid);
                            if let Some(ms) = self.m_states.get_mut(slot) {
                                *ms = MState {
                                    id: mid,
                                    g: gid,
                                    p: NO_PROC,
                                    known: true,
                                };
                            }
                        }
                    }
                    cur.m = mid;
                }
            }
            _ => {}
        }
        s.push(cur);
        Ok((new, true))
    }

    fn go_create(&mut self, mut s: Step<'_>, cur: SchedCtx) -> Advance {
        validate_ctx(&cur, ON_P)?;
        if let Some(g) = self.g_states.get(cur.g) {
            if g.status != GO_RUNNING {
                return Err(format!(
                    "{} event for goroutine that's not Running",
                    self.ev_name(s.ev.typ)
                ));
            }
        }
        let new_g = s.ev.arg(0) as i64;
        if self.g_states.contains_key(new_g) {
            return Err(format!(
                "tried to create goroutine ({new_g}) that already exists"
            ));
        }
        let status = if s.ev.typ == EventType::GO_CREATE_BLOCKED {
            GO_WAITING
        } else {
            GO_RUNNABLE
        };
        self.new_g_state(new_g, status, Seq::new(s.gen, 0));
        s.push(cur);
        Ok((cur, true))
    }

    /// The running goroutine's state, which must be `status`; Go's two messages otherwise.
    #[inline(always)]
    fn current_g(
        &mut self,
        typ: EventType,
        cur: &SchedCtx,
        status: u8,
        status_text: &str,
    ) -> Result<&mut GState, String> {
        // The name is made in the error paths only: made first, it was written to memory at
        // every stop and block, with the status text, for the messages' formatting.
        let version = self.version;
        let Some(g) = self.g_states.get_mut(cur.g) else {
            return Err(missing_g_error(EvName { version, typ }, cur.g));
        };
        if g.status != status {
            return Err(g_status_error(EvName { version, typ }, status_text));
        }
        Ok(g)
    }

    #[inline(always)]
    fn go_stop_exec(&mut self, mut s: Step<'_>, cur: SchedCtx) -> Advance {
        validate_ctx(&cur, USER_GO)?;
        let g = self.current_g(s.ev.typ, &cur, GO_RUNNING, "Running")?;
        let ids = match s.ev.typ {
            EventType::GO_STOP => {
                g.status = GO_RUNNABLE;
                STOP_IDS
            }
            EventType::GO_BLOCK => {
                g.status = GO_WAITING;
                STOP_IDS
            }
            _ => {
                self.g_states.remove(cur.g);
                NO_IDS
            }
        };
        s.push_known(cur, ids);
        Ok((
            SchedCtx {
                g: NO_GOROUTINE,
                ..cur
            },
            true,
        ))
    }

    #[inline(always)]
    fn go_start(&mut self, mut s: Step<'_>, cur: SchedCtx) -> Advance {
        let gid = s.ev.arg(0) as i64;
        let seq = Seq::new(s.gen, s.ev.arg(1));
        let Some(g) = self.g_states.get_mut(gid) else {
            return Ok((cur, false));
        };
        if g.status != GO_RUNNABLE || !seq.succeeds(g.seq) {
            return Ok((cur, false));
        }
        validate_ctx(&cur, WITHOUT_G)?;
        g.status = GO_RUNNING;
        g.seq = seq;
        s.push_known(cur, NO_IDS);
        Ok((SchedCtx { g: gid, ..cur }, true))
    }

    #[inline(always)]
    fn go_unblock(&mut self, mut s: Step<'_>, cur: SchedCtx) -> Advance {
        let gid = s.ev.arg(0) as i64;
        let seq = Seq::new(s.gen, s.ev.arg(1));
        let Some(g) = self.g_states.get_mut(gid) else {
            return Ok((cur, false));
        };
        if g.status != GO_WAITING || !seq.succeeds(g.seq) {
            return Ok((cur, false));
        }
        // Anything may unblock a goroutine (even a thread without a P), so no context check.
        g.status = GO_RUNNABLE;
        g.seq = seq;
        s.push_known(cur, UNBLOCK_IDS);
        Ok((cur, true))
    }

    fn go_switch(&mut self, mut s: Step<'_>, cur: SchedCtx) -> Advance {
        validate_ctx(&cur, USER_GO)?;
        self.current_g(s.ev.typ, &cur, GO_RUNNING, "Running")?;
        let next_g = s.ev.arg(0) as i64;
        let seq = Seq::new(s.gen, s.ev.arg(1));
        match self.g_states.get(next_g) {
            Some(next) if next.status == GO_WAITING && seq.succeeds(next.seq) => {}
            _ => return Ok((cur, false)),
        }
        s.push(cur);
        if s.ev.typ == EventType::GO_SWITCH {
            if let Some(g) = self.g_states.get_mut(cur.g) {
                g.status = GO_WAITING;
            }
            s.push_implied(cur.g, cur.p, cur.m, EventType::GO_BLOCK, &[0, 0]);
        } else {
            self.g_states.remove(cur.g);
            s.push_implied(cur.g, cur.p, cur.m, EventType::GO_DESTROY, &[]);
        }
        if let Some(next) = self.g_states.get_mut(next_g) {
            next.status = GO_RUNNING;
            next.seq = seq;
        }
        s.push_implied(
            NO_GOROUTINE,
            cur.p,
            cur.m,
            EventType::GO_START,
            &[next_g as u64, s.ev.arg(1)],
        );
        Ok((SchedCtx { g: next_g, ..cur }, true))
    }

    fn go_syscall_begin(&mut self, mut s: Step<'_>, cur: SchedCtx) -> Advance {
        validate_ctx(&cur, USER_GO)?;
        let name = EvName {
            version: self.version,
            typ: s.ev.typ,
        };
        self.current_g(s.ev.typ, &cur, GO_RUNNING, "Running")?
            .status = GO_SYSCALL;
        let Some(p) = self.p_states.get_mut(cur.p) else {
            return Err(cold_message(move || {
                format!("uninitialized proc {} found during {name}", cur.p)
            }));
        };
        p.status = PROC_SYSCALL;
        // The P sequence number tells which syscall a later ProcSteal steals from; it must be the
        // next one of this running P.
        let p_seq = Seq::new(s.gen, s.ev.arg(0));
        if !p_seq.succeeds(p.seq) {
            let before = p.seq;
            return Err(cold_message(move || {
                format!("failed to advance {name}: can't make sequence: {before} -> {p_seq}")
            }));
        }
        p.seq = p_seq;
        s.push(cur);
        Ok((cur, true))
    }

    fn go_syscall_end(&mut self, mut s: Step<'_>, cur: SchedCtx) -> Advance {
        validate_ctx(&cur, USER_GO)?;
        let name = EvName {
            version: self.version,
            typ: s.ev.typ,
        };
        // Go's message says "Running" here although the goroutine must be in a syscall.
        self.current_g(s.ev.typ, &cur, GO_SYSCALL, "Running")?
            .status = GO_RUNNING;
        let Some(p) = self.p_states.get_mut(cur.p) else {
            return Err(cold_message(move || {
                format!("uninitialized proc {} found during {name}", cur.p)
            }));
        };
        if p.status != PROC_SYSCALL {
            let status = p.status;
            return Err(cold_message(move || {
                format!(
                    "expected proc {} in state Syscall, but got {} instead",
                    cur.p,
                    proc_status_name(status)
                )
            }));
        }
        p.status = PROC_RUNNING;
        s.push(cur);
        Ok((cur, true))
    }

    fn go_syscall_end_blocked(&mut self, mut s: Step<'_>, cur: SchedCtx) -> Advance {
        // Waits until the thread has lost its P (by ProcStop or ProcSteal); having another P
        // by then is fine, as that one is not in a syscall.
        if cur.p != NO_PROC {
            let Some(p) = self.p_states.get(cur.p) else {
                let name = self.ev_name(s.ev.typ);
                return Err(cold_message(move || {
                    format!("uninitialized proc {} found during {name}", cur.p)
                }));
            };
            if p.status == PROC_SYSCALL {
                return Ok((cur, false));
            }
        }
        validate_ctx(&cur, IN_SYSCALL)?;
        self.current_g(s.ev.typ, &cur, GO_SYSCALL, "Running")?
            .status = GO_RUNNABLE;
        s.push(cur);
        Ok((
            SchedCtx {
                g: NO_GOROUTINE,
                ..cur
            },
            true,
        ))
    }

    fn go_create_syscall(&mut self, mut s: Step<'_>, cur: SchedCtx) -> Advance {
        // A goroutine appearing in a syscall: a callback from a foreign thread (here: an
        // interrupt handler running tracked code).
        validate_ctx(&cur, NEW_IN_SYSCALL)?;
        let new_g = s.ev.arg(0) as i64;
        if self.g_states.contains_key(new_g) {
            return Err(format!(
                "tried to create goroutine ({new_g}) in syscall that already exists"
            ));
        }
        self.new_g_state(new_g, GO_SYSCALL, Seq::new(s.gen, 0));
        s.push(cur);
        Ok((SchedCtx { g: new_g, ..cur }, true))
    }

    fn go_destroy_syscall(&mut self, mut s: Step<'_>, cur: SchedCtx) -> Advance {
        validate_ctx(&cur, IN_SYSCALL)?;
        let name = EvName {
            version: self.version,
            typ: s.ev.typ,
        };
        self.current_g(s.ev.typ, &cur, GO_SYSCALL, "Syscall")?;
        self.g_states.remove(cur.g);
        let mut new = SchedCtx {
            g: NO_GOROUTINE,
            ..cur
        };
        if cur.p != NO_PROC {
            // The thread ID may be reused by an unrelated thread later, which must not find this
            // P bound to it: the P is abandoned, and the implied self-steal is emitted.
            let Some(p) = self.p_states.get_mut(cur.p) else {
                return Err(cold_message(move || {
                    format!("found invalid proc {} during {name}", cur.p)
                }));
            };
            if p.status != PROC_SYSCALL {
                let status = p.status;
                return Err(cold_message(move || {
                    format!(
                        "proc {} in unexpected state {} during {name}",
                        cur.p,
                        proc_status_name(status)
                    )
                }));
            }
            p.status = PROC_ABANDONED;
            new.p = NO_PROC;
            // ProcSteal's spare slot (after p, p_seq, m) holds the status it was stolen from.
            s.push_implied(
                cur.g,
                cur.p,
                cur.m,
                EventType::PROC_STEAL,
                &[cur.p as u64, 0, 0, u64::from(PROC_SYSCALL)],
            );
        }
        s.push(cur);
        Ok((new, true))
    }

    fn user_task_begin(&mut self, s: Step<'_>, cur: SchedCtx) -> Advance {
        let id = s.ev.arg(0);
        if self.active_tasks.contains_key(&id) {
            return Err(format!("task ID conflict: {id}"));
        }
        // Parent 0 means no parent here, not the background task.
        let mut parent = s.ev.arg(1);
        if parent == 0 {
            parent = NO_TASK;
            s.ev.set_arg(1, NO_TASK);
        }
        let name_id = s.ev.arg(2);
        let Some(name) = s.table.string(name_id) else {
            return Err(format!(
                "invalid string ID {name_id} for {} event",
                s.ev.typ.0
            ));
        };
        self.active_tasks.insert(
            id,
            TaskState {
                name: shared_name(&mut self.names, name_id, name),
                parent,
            },
        );
        self.instant(s, cur, USER_GO)
    }

    fn user_task_end(&mut self, mut s: Step<'_>, cur: SchedCtx) -> Advance {
        let id = s.ev.arg(0);
        // The begin may be generations ago, where the name's string ID meant something else:
        // carry the name itself.
        let (parent, name) = match self.active_tasks.remove(&id) {
            Some(task) => (task.parent, task.name),
            None => (NO_TASK, Arc::from(&b""[..])),
        };
        s.ev.set_arg(USER_TASK_END_EXTRA, parent);
        validate_ctx(&cur, USER_GO)?;
        s.push(cur);
        s.out.set_task_type(name);
        Ok((cur, true))
    }

    #[inline(always)]
    fn user_region(&mut self, mut s: Step<'_>, cur: SchedCtx) -> Advance {
        validate_ctx(&cur, USER_GO)?;
        let task = s.ev.arg(0);
        let name_id = s.ev.arg(1);
        let Some(name) = s.table.string(name_id) else {
            return Err(format!(
                "invalid string ID {name_id} for {} event",
                s.ev.typ.0
            ));
        };
        let begin = s.ev.typ == EventType::USER_REGION_BEGIN;
        let Some(g) = self.g_states.get_mut(cur.g) else {
            return Err(region_without_g_error(begin, cur.g));
        };
        if !g.listed {
            g.listed = true;
            self.region_gs.push(cur.g);
        }
        if begin {
            g.regions.push(UserRegion {
                task,
                name: RegionName::Id(name_id),
            });
        } else if let Some(inner) = g.regions.last() {
            // Regions begun before the trace started are unknown and end silently.
            if inner.task != task || !inner.name.is(name_id, name, s.table) {
                let region = UserRegion {
                    task,
                    name: RegionName::Id(name_id),
                };
                return Err(region_misuse_error(cur.g, &region, inner, s.table));
            }
            g.regions.pop();
        }
        s.push_known(cur, REGION_IDS);
        Ok((cur, true))
    }

    fn gc_active(&mut self, mut s: Step<'_>, cur: SchedCtx) -> Advance {
        let seq = s.ev.arg(0);
        if s.gen == self.initial_gen {
            if self.gc_state != GcState::Undetermined {
                return Err("GCActive in the first generation isn't first GC event".into());
            }
            self.gc_seq = seq;
            self.gc_state = GcState::Running;
            s.push(cur);
            return Ok((cur, true));
        }
        if seq != self.gc_seq.wrapping_add(1) {
            return Ok((cur, false));
        }
        if self.gc_state != GcState::Running {
            return Err("encountered GCActive while GC was not in progress".into());
        }
        self.gc_seq = seq;
        self.instant(s, cur, USER_GO)
    }

    fn gc_begin(&mut self, mut s: Step<'_>, cur: SchedCtx) -> Advance {
        let seq = s.ev.arg(0);
        if self.gc_state == GcState::Undetermined {
            self.gc_seq = seq;
            self.gc_state = GcState::Running;
            s.push(cur);
            return Ok((cur, true));
        }
        if seq != self.gc_seq.wrapping_add(1) {
            return Ok((cur, false));
        }
        if self.gc_state == GcState::Running {
            return Err("encountered GCBegin while GC was already in progress".into());
        }
        self.gc_seq = seq;
        self.gc_state = GcState::Running;
        self.instant(s, cur, USER_GO)
    }

    fn gc_end(&mut self, s: Step<'_>, cur: SchedCtx) -> Advance {
        let seq = s.ev.arg(0);
        if seq != self.gc_seq.wrapping_add(1) {
            return Ok((cur, false));
        }
        match self.gc_state {
            GcState::NotRunning => {
                return Err("encountered GCEnd when GC was not in progress".into())
            }
            GcState::Undetermined => {
                return Err("encountered GCEnd when GC was in an undetermined state".into())
            }
            GcState::Running => {}
        }
        self.gc_seq = seq;
        self.gc_state = GcState::NotRunning;
        self.instant(s, cur, USER_GO)
    }

    /// An event that changes no state, only needs its context.
    #[inline(always)]
    fn instant(&mut self, mut s: Step<'_>, cur: SchedCtx, reqs: Reqs) -> Advance {
        validate_ctx(&cur, reqs)?;
        s.push(cur);
        Ok((cur, true))
    }

    /// [`Ordering::instant`] for a type whose table IDs the caller knows.
    #[inline(always)]
    fn instant_known(
        &mut self,
        mut s: Step<'_>,
        cur: SchedCtx,
        reqs: Reqs,
        ids: &'static [TableId],
    ) -> Advance {
        validate_ctx(&cur, reqs)?;
        s.push_known(cur, ids);
        Ok((cur, true))
    }

    /// The ranges of the current P `p`; the context's values, not a reference to it (see
    /// [`Step::push_implied`]).
    fn current_p_ranges(&mut self, p: ProcId, typ: EventType) -> Result<&mut Ranges, String> {
        let name = self.ev_name(typ);
        self.p_states
            .get_mut(p)
            .map(|p| &mut p.ranges)
            .ok_or_else(|| format!("uninitialized proc {p} found during {name}"))
    }

    fn gc_sweep_begin(&mut self, mut s: Step<'_>, cur: SchedCtx) -> Advance {
        validate_ctx(&cur, ON_P)?;
        self.current_p_ranges(cur.p, s.ev.typ)?
            .begin(RangeType::of(s.ev.typ, 0))?;
        s.push(cur);
        Ok((cur, true))
    }

    fn gc_sweep_active(&mut self, mut s: Step<'_>, cur: SchedCtx) -> Advance {
        // Names a P, not necessarily the current one.
        let pid = s.ev.arg(0) as i64;
        let initial = s.gen == self.initial_gen;
        let Some(p) = self.p_states.get_mut(pid) else {
            return Err(format!("encountered GCSweepActive for unknown proc {pid}"));
        };
        p.ranges.active(RangeType::of(s.ev.typ, 0), initial)?;
        s.push(cur);
        Ok((cur, true))
    }

    fn gc_sweep_end(&mut self, mut s: Step<'_>, cur: SchedCtx) -> Advance {
        validate_ctx(&cur, ON_P)?;
        self.current_p_ranges(cur.p, s.ev.typ)?.end(s.ev.typ)?;
        s.push(cur);
        Ok((cur, true))
    }

    /// The ranges of the current goroutine `g` (see [`Ordering::current_p_ranges`]).
    fn current_g_ranges(&mut self, g: GoId, typ: EventType) -> Result<&mut Ranges, String> {
        self.g_states
            .get_mut(g)
            .map(|g| &mut g.ranges)
            .ok_or_else(|| {
                format!(
                    "encountered event of type {} without known state for current goroutine {g}",
                    typ.0
                )
            })
    }

    fn go_range_begin(&mut self, mut s: Step<'_>, cur: SchedCtx) -> Advance {
        validate_ctx(&cur, USER_GO)?;
        let desc = if s.ev.typ == EventType::STW_BEGIN {
            s.ev.arg(0)
        } else {
            0
        };
        self.current_g_ranges(cur.g, s.ev.typ)?
            .begin(RangeType::of(s.ev.typ, desc))?;
        s.push(cur);
        Ok((cur, true))
    }

    fn go_range_active(&mut self, mut s: Step<'_>, cur: SchedCtx) -> Advance {
        // Like GoStatus, this may name a goroutine that is not running: no context check.
        let gid = s.ev.arg(0) as i64;
        let initial = s.gen == self.initial_gen;
        let name = self.ev_name(s.ev.typ);
        let Some(g) = self.g_states.get_mut(gid) else {
            return Err(format!("uninitialized goroutine {gid} found during {name}"));
        };
        g.ranges.active(RangeType::of(s.ev.typ, 0), initial)?;
        s.push(cur);
        Ok((cur, true))
    }

    fn go_range_end(&mut self, mut s: Step<'_>, cur: SchedCtx) -> Advance {
        validate_ctx(&cur, USER_GO)?;
        let desc = self.current_g_ranges(cur.g, s.ev.typ)?.end(s.ev.typ)?;
        if s.ev.typ == EventType::STW_END {
            // The end carries the begin's reason, like the begin does.
            s.ev.set_arg(0, desc);
        }
        s.push(cur);
        Ok((cur, true))
    }

    /// The model's state, for "failed to advance" errors (Go prints the same, unsorted).
    pub(crate) fn dump(&self) -> String {
        fn section<'a, T: 'a>(
            out: &mut String,
            states: impl Iterator<Item = (i64, &'a T)>,
            line: impl Fn(i64, &T) -> String,
        ) {
            let mut states: Vec<(i64, &T)> = states.collect();
            states.sort_unstable_by_key(|&(id, _)| id);
            for (id, state) in states {
                out.push_str(&line(id, state));
                out.push('\n');
            }
            out.push('\n');
        }
        let mut out = String::new();
        section(&mut out, self.g_states.iter(), |id, g| {
            format!("G {id} [status={} seq={}]", go_status_name(g.status), g.seq)
        });
        section(&mut out, self.p_states.iter(), |id, p| {
            format!(
                "P {id} [status={} seq={}]",
                proc_status_name(p.status),
                p.seq
            )
        });
        let threads = self.m_states.iter().filter(|ms| ms.known);
        section(&mut out, threads.map(|ms| (ms.id, ms)), |id, m| {
            format!("M {id} [g={} p={}]", m.g, m.p)
        });
        let gc = match self.gc_state {
            GcState::Undetermined => "Undetermined",
            GcState::NotRunning => "NotRunning",
            GcState::Running => "Running",
        };
        let _ = writeln!(out, "GC {} {gc}", self.gc_seq);
        out
    }
}

// Go's messages for the errors of the frequent handlers (the running goroutine's check, the
// regions), built out of line and from values: formatted in the handlers, the message's
// arguments were stored to memory at every event for the formatting, and a reference to the
// context kept the running thread's context in memory (see `ctx_error`).

#[cold]
#[inline(never)]
fn missing_g_error(name: EvName, g: GoId) -> String {
    format!("event {name} for goroutine ({g}) that doesn't exist")
}

#[cold]
#[inline(never)]
fn region_without_g_error(begin: bool, g: GoId) -> String {
    let which = if begin {
        "EvUserRegionBegin"
    } else {
        "EvUserRegionEnd"
    };
    format!("encountered {which} without known state for current goroutine {g}")
}

#[cold]
#[inline(never)]
fn region_misuse_error(g: GoId, region: &UserRegion, inner: &UserRegion, table: &Table) -> String {
    format!(
        "misuse of region in goroutine {g}: region end {} when the inner-most active region start event is {}",
        region_text(region, table),
        region_text(inner, table)
    )
}

/// Validates an event the wire does not carry but the model implies, at time `time`, in
/// context `g`, `p`, `m`. Out of line, its arguments all values (see [`Step::push_implied`]).
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn push_implied(
    out: &mut Ready,
    table: &Table,
    time: Time,
    g: GoId,
    p: ProcId,
    m: ThreadId,
    typ: EventType,
    args: &[u64],
) {
    let mut base = BaseEvent {
        typ,
        time,
        args: [0; 4],
    };
    for (slot, &value) in base.args.iter_mut().zip(args) {
        *slot = value;
    }
    out.push(g, p, m, &base, table, TableIds::OfType);
}

/// A handler's message, built out of line by `message`, a `move` closure: formatted in place, a
/// message took references to the context's fields and to the event's name, which then lived in
/// `Ordering::dispatch_other`'s frame, stored there at every call whatever the event; the closure
/// copies the values it names where the error happens.
#[cold]
#[inline(never)]
fn cold_message(message: impl FnOnce() -> String) -> String {
    message()
}

#[cold]
#[inline(never)]
fn g_status_error(name: EvName, status_text: &str) -> String {
    format!("{name} event for goroutine that's not {status_text}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_requirements_use_gos_messages() {
        let none = SchedCtx::NONE;
        assert_eq!(
            validate_ctx(&none, USER_GO).unwrap_err(),
            "expected a thread but didn't have one"
        );
        let busy = SchedCtx { g: 1, p: 2, m: 3 };
        let idle = reqs(Need::Not, Need::May, Need::May);
        assert_eq!(
            validate_ctx(&busy, idle).unwrap_err(),
            "expected no thread but had one"
        );
        let no_g = reqs(Need::Must, Need::Must, Need::Not);
        assert_eq!(
            validate_ctx(&busy, no_g).unwrap_err(),
            "expected no goroutine but had one"
        );
        assert!(validate_ctx(&busy, USER_GO).is_ok());
    }

    #[test]
    fn known_table_ids_are_the_type_tables() {
        let types = crate::event::type_table();
        let ids = |typ: EventType| types[usize::from(typ.0)].ids().to_vec();
        let known: [(EventType, &[TableId]); 8] = [
            (EventType::GO_START, NO_IDS),
            (EventType::GO_DESTROY, NO_IDS),
            (EventType::HEAP_ALLOC, NO_IDS),
            (EventType::HEAP_GOAL, NO_IDS),
            (EventType::GO_STOP, STOP_IDS),
            (EventType::GO_BLOCK, STOP_IDS),
            (EventType::GO_UNBLOCK, UNBLOCK_IDS),
            (EventType::USER_LOG, LOG_IDS),
        ];
        for (typ, known) in known {
            assert_eq!(ids(typ), known, "type {}", typ.0);
        }
        // The regions' name string is left out: their handler looks it up itself.
        for typ in [EventType::USER_REGION_BEGIN, EventType::USER_REGION_END] {
            let mut with_name = REGION_IDS.to_vec();
            with_name.push(string_id(1));
            assert_eq!(ids(typ), with_name, "type {}", typ.0);
        }
    }

    #[test]
    fn extra_slots_follow_the_type_tables_arguments() {
        let extra = |typ: EventType| {
            BaseEvent {
                typ,
                ..BaseEvent::default()
            }
            .extra_index()
        };
        assert_eq!(extra(EventType::PROC_STEAL), PROC_STEAL_EXTRA);
        assert_eq!(extra(EventType::USER_TASK_END), USER_TASK_END_EXTRA);
    }

    #[test]
    fn sequences_succeed_only_within_a_generation() {
        assert!(Seq::new(1, 3).succeeds(Seq::new(1, 2)));
        assert!(!Seq::new(2, 3).succeeds(Seq::new(1, 2)));
        assert!(!Seq::new(1, 4).succeeds(Seq::new(1, 2)));
        assert_eq!(Seq::new(1, 4).to_string(), "4 (gen=1)");
    }

    /// One event on thread 1 of generation `gen` with tables `table`.
    fn advance(
        order: &mut Ordering,
        table: &Table,
        gen: u64,
        typ: EventType,
        args: &[u64],
    ) -> Result<bool, String> {
        let mut ev = BaseEvent {
            typ,
            time: 0,
            args: [0; 4],
        };
        ev.args[..args.len()].copy_from_slice(args);
        let slot = order.thread_slot(1);
        order.start_events_of(gen);
        let mut out = Ready::new();
        let mut cur = order.thread_ctx(1, slot).map_err(|e| e.go_message())?;
        (order.advance(&mut ev, table, &mut cur, slot, gen, &mut out)).map_err(|e| e.go_message())
    }

    #[test]
    fn status_conflicts_name_both_states_as_go_does() {
        let table = Table::default();
        let mut order = Ordering::new(Version::Go122);
        let proc_status = EventType::PROC_STATUS;
        let go_status = EventType::GO_STATUS;
        let first: [(EventType, [u64; 3]); 4] = [
            (proc_status, [0, proc_status::IDLE, 0]),
            (proc_status, [1, proc_status::SYSCALL, 0]),
            (go_status, [7, u64::MAX, go_status::RUNNABLE]),
            (go_status, [8, u64::MAX, go_status::WAITING]),
        ];
        for (typ, args) in first {
            assert_eq!(advance(&mut order, &table, 1, typ, &args), Ok(true));
        }
        order.end_generation(&table);
        let conflicts: [(EventType, [u64; 3], &str); 5] = [
            (
                proc_status,
                [0, proc_status::SYSCALL, 0],
                "inconsistent status for proc 0: old Idle vs. new Syscall",
            ),
            (
                proc_status,
                [1, proc_status::IDLE, 0],
                "inconsistent status for proc 1: old Syscall vs. new Idle",
            ),
            (
                go_status,
                [7, u64::MAX, go_status::SYSCALL],
                "inconsistent status for goroutine 7: old Runnable vs. new Syscall",
            ),
            (
                go_status,
                [8, u64::MAX, go_status::RUNNABLE],
                "inconsistent status for goroutine 8: old Waiting vs. new Runnable",
            ),
            (
                go_status,
                [9, u64::MAX, go_status::RUNNABLE],
                "found goroutine status for new goroutine after the first generation: id=9 status=Runnable",
            ),
        ];
        for (typ, args, message) in conflicts {
            assert_eq!(
                advance(&mut order, &table, 2, typ, &args),
                Err(message.into())
            );
        }
    }

    #[test]
    fn region_names_outlive_their_generations_string_ids() {
        let strings = |names: &[(u64, &[u8])]| {
            let mut table = Table::default();
            for &(id, name) in names {
                table.insert_string(id, name).unwrap();
            }
            table
        };
        // A goroutine running on P 0 in both generations.
        let start = |order: &mut Ordering, table: &Table, gen: u64| {
            let running = u64::from(GO_RUNNING);
            let p_running = u64::from(PROC_RUNNING);
            advance(order, table, gen, EventType::PROC_STATUS, &[0, p_running]).unwrap();
            advance(order, table, gen, EventType::GO_STATUS, &[7, 1, running]).unwrap();
        };
        let first = strings(&[(5, b"outer"), (6, b"inner")]);
        let second = strings(&[(5, b"other"), (9, b"outer"), (6, b"inner")]);
        let mut order = Ordering::new(Version::Go122);
        start(&mut order, &first, 1);
        for name in [5, 6, 6] {
            let begin = EventType::USER_REGION_BEGIN;
            assert_eq!(
                advance(&mut order, &first, 1, begin, &[0, name, 0]),
                Ok(true)
            );
        }
        // Ended in the same generation by its ID; ended in the next by its name, whatever
        // its ID there.
        let end = EventType::USER_REGION_END;
        assert_eq!(advance(&mut order, &first, 1, end, &[0, 6, 0]), Ok(true));
        order.end_generation(&first);
        start(&mut order, &second, 2);
        assert_eq!(advance(&mut order, &second, 2, end, &[0, 6, 0]), Ok(true));
        assert_eq!(
            advance(&mut order, &second, 2, end, &[0, 5, 0]),
            Err("misuse of region in goroutine 7: region end {0 other} when the inner-most active region start event is {0 outer}".into())
        );
        assert_eq!(advance(&mut order, &second, 2, end, &[0, 9, 0]), Ok(true));
    }

    /// A generation's end looks only at the goroutines whose regions began or ended in it: a
    /// trace of many goroutines and then many tiny generations (each a few bytes) took time in
    /// their product, minutes for a file of a few megabytes that Go reads in a second.
    #[test]
    fn a_generations_end_looks_only_at_goroutines_whose_regions_changed() {
        let mut table = Table::default();
        table.insert_string(5, b"region").unwrap();
        let mut order = Ordering::new(Version::Go122);
        // Goroutine 7 runs on P 0 in every generation; a thousand others wait.
        let start = |order: &mut Ordering, gen: u64| {
            let running = u64::from(GO_RUNNING);
            advance(order, &table, gen, EventType::PROC_STATUS, &[0, 1]).unwrap();
            advance(order, &table, gen, EventType::GO_STATUS, &[7, 1, running]).unwrap();
        };
        start(&mut order, 1);
        let waiting = u64::from(GO_WAITING);
        for g in 10..1010 {
            let status = [g, u64::MAX, waiting];
            assert_eq!(
                advance(&mut order, &table, 1, EventType::GO_STATUS, &status),
                Ok(true)
            );
        }
        order.end_generation(&table);
        for gen in 2..12 {
            start(&mut order, gen);
            order.end_generation(&table);
        }
        assert_eq!(order.end_visits, 0, "no goroutine's regions changed");
        // Goroutine 7 opens a region: it alone is looked at, in that generation only.
        start(&mut order, 12);
        let begin = EventType::USER_REGION_BEGIN;
        assert_eq!(advance(&mut order, &table, 12, begin, &[0, 5, 0]), Ok(true));
        order.end_generation(&table);
        start(&mut order, 13);
        order.end_generation(&table);
        assert_eq!(order.end_visits, 1);
    }

    #[test]
    fn ranges_beyond_the_inline_ones_keep_a_lists_order() {
        // Against a vector with swap-remove, the list Go keeps: removal at every position,
        // with and without ranges past the inline ones.
        for len in 1..=5u64 {
            for index in 0..len as usize {
                let mut ranges = Ranges::default();
                let mut model = Vec::new();
                for desc in 0..len {
                    let r = RangeType {
                        typ: EventType::STW_BEGIN,
                        desc,
                    };
                    ranges.push(r);
                    model.push(r);
                }
                assert_eq!(ranges.swap_remove(index), Some(model.swap_remove(index)));
                let extra = RangeType {
                    typ: EventType::GC_SWEEP_BEGIN,
                    desc: 9,
                };
                ranges.push(extra);
                model.push(extra);
                assert_eq!(ranges.iter().copied().collect::<Vec<_>>(), model);
            }
        }
        assert_eq!(Ranges::default().swap_remove(0), None);
    }

    #[test]
    fn ranges_end_by_begin_type() {
        let mut ranges = Ranges::default();
        let sweep = RangeType::of(EventType::GC_SWEEP_BEGIN, 0);
        ranges.begin(sweep).unwrap();
        assert_eq!(
            ranges.begin(sweep).unwrap_err(),
            "discovered event already in-flight for when starting event GCSweepBegin"
        );
        assert_eq!(
            RangeType::of(EventType::GC_SWEEP_ACTIVE, 0),
            sweep,
            "active names the begin type"
        );
        assert_eq!(ranges.end(EventType::GC_SWEEP_END), Ok(0));
        assert_eq!(
            ranges.end(EventType::GC_SWEEP_END).unwrap_err(),
            "tried to end event GCSweepBegin, but not in-flight"
        );
        assert_eq!(
            ranges
                .active(RangeType::of(EventType::GC_MARK_ASSIST_ACTIVE, 0), false)
                .unwrap_err(),
            "resource is missing active range: GCMarkAssistBegin []"
        );
    }
}
