//! The encoder: a writer of Go 1.22 events for the state changes a scheduler makes.
//!
//! The scheduler owns the scheduling state and checks every change; it calls the encoder once
//! per change, inside the same critical section (see [`crate::Shared`]), with what the event
//! needs. The encoder keeps only tracing data: each M's batch, each P's and G's sequence number,
//! goroutine IDs, the generation and its limits, and the string and stack tables. With tracing
//! off every method returns at once.
//!
//! Sequence numbers follow Go's runtime: a P's counter advances on `ProcStart`, `ProcSteal` and
//! `GoSyscallBegin`; a G's on `GoStart` and `GoUnblock`; both restart from 0 at each generation,
//! where the status of every P and live G is re-stated from the scheduler's state (see
//! `generation.rs`). Goroutine IDs are 16-bit, handed out in order within a trace, skipping IDs
//! still held once the counter wraps (a callback's goroutine keeps its ID for the whole trace, as
//! its M does, Go commit 6d7b3c8).
//!
//! The scheduling events (`ProcStart`, `ProcStop`, `GoStart`, `GoStop`, `GoBlock`, `GoUnblock`)
//! are written once the caller has made its state change, and are given that state: a generation
//! found due (its time or bytes are up) ends right there, and the next one re-states the state
//! after the event. Their common case is inline: a clock reading, a few compares and two word
//! stores (see `batch.rs`); everything else, including the clock's extension to 64 bits, the
//! generation's limits and its end, is out of line and shared by all events, so a call site
//! inlines only the common case.

use gotrace_wire::EventType;

use crate::annotation::Annotation;
use crate::batch::Batch;
use crate::clock::{join, Clock, Waited};
use crate::intern::{Stacks, Strings, TABLE_CAPACITY};
use crate::reason::Reason;
use crate::sink::{Offer, Sink};
use crate::state::{GoSlot, GoTrace, Scheduling};

/// When generations end on their own (0 disables a limit). A generation also ends when tracing
/// stops, when [`Encoder::advance`] is called, and when its string or stack table is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Config {
    /// End the generation once this many clock ticks have passed since it began. Checked at
    /// every event written out of line: at least once per batch handed over, and at every event
    /// other than the six scheduling events; so a generation may run past its period by up to a
    /// batch of scheduling events. For exact periods call [`Encoder::advance`] from a timer (the
    /// example firmware does).
    pub generation_ticks: u32,
    /// End the generation once its batches handed to the sink take this many bytes (checked
    /// when a batch is handed over, so a generation may exceed it by its pending batches).
    pub generation_bytes: u32,
}

/// [`Config::MANUAL`].
impl Default for Config {
    fn default() -> Self {
        Config::MANUAL
    }
}

impl Config {
    /// No automatic boundaries.
    pub const MANUAL: Config = Config {
        generation_ticks: 0,
        generation_bytes: 0,
    };
}

/// What the encoder has written, for measurements. The device counts in 32 bits to save RAM, so
/// each figure wraps past 2^32 (4 GiB of trace, or 4 billion events): take the difference of two
/// with `later.wrapping_sub(earlier)`, not `-`, which overflows once a count has wrapped between
/// them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Stats {
    /// Timed events of every kind (scheduling events, statuses, annotations).
    pub events: u32,
    /// Their encoded bytes (type, delta, arguments).
    pub event_bytes: u32,
    /// Status events written at generation starts.
    pub status_events: u32,
    /// User annotations: tasks, regions, logs, labels.
    pub annotation_events: u32,
    /// Every byte handed to the sink, headers and tables included.
    pub bytes_written: u32,
    /// Generations begun (each `start`, each generation boundary).
    pub generations: u32,
}

impl Stats {
    /// Scheduling events: P and G state changes (not statuses, not annotations); wrapping past
    /// 2^32, as the counts it is taken from.
    #[must_use]
    pub fn sched_events(&self) -> u32 {
        let all = self.events.wrapping_sub(self.status_events);
        all.wrapping_sub(self.annotation_events)
    }
}

/// A generation ends once a sequence number reaches this, so the 16-bit counters never wrap
/// (they restart at each generation; the inline path leaves values past 2^14 to the out-of-line
/// one, which checks).
pub(crate) const SEQ_LIMIT: u32 = 1 << 15;

/// A batch whose base is older than this (half the clock's wrap period) is refreshed at the next
/// out-of-line event (see `Encoder::extend`).
const STALE: u32 = 1 << 31;

/// The most clock readings a steal waits for its victim's last tick to pass (see
/// `Encoder::after_last_reading_of`): a tick of thousands of cycles, such as a 32 kHz timer's.
const TICK_WAIT_READS: u32 = 1024;

/// The smallest batch buffer: room for the largest event with margin.
pub const MIN_BATCH_CAPACITY: usize = 64;

const _: () = assert!(crate::batch::MAX_EVENT_LEN <= MIN_BATCH_CAPACITY);

/// A trace encoder reading clock `C` and writing to sink `S`, for `GS` task slots, `PS` executors
/// and `MS` execution contexts, with batch buffers of `BUF` bytes per context and string and
/// stack tables of `TABLE` entries each: the order of the scheduler's `Scheduler`, which hands
/// out this type.
///
/// The sizes are checked when a `static` of it is compiled (`VALID_SIZES` names the one that is
/// wrong): `MS` at least 1, `GS + MS` below 65535, `PS` below 65536, `BUF` from 64 to 65535 bytes,
/// `TABLE` 2 or more.
///
/// An event method given a context, executor or task slot beyond these sizes writes no event (it
/// may read the clock first, and that reading, like any, may hand over batches of other contexts
/// the clock's wrap or age calls for), as if called while tracing is off (a scheduler's own indices are always in
/// range; `start`, `stop` and `advance` refuse a context out of range with
/// [`Error::NoSuchContext`](crate::Error::NoSuchContext)).
pub struct Encoder<
    C,
    S,
    const GS: usize,
    const PS: usize,
    const MS: usize,
    const BUF: usize,
    const TABLE: usize = TABLE_CAPACITY,
> {
    pub(crate) sink: S,
    pub(crate) clock: C,
    pub(crate) config: Config,
    pub(crate) tracing: bool,
    pub(crate) gen: u32,
    /// The time at which the current generation ends (`u64::MAX`: never; 0: at the next event,
    /// set when its bytes reach the limit), so each event checks both limits with one compare.
    pub(crate) gen_deadline: u64,
    pub(crate) gen_bytes: u32,
    /// The high half of the clock's time, shared by every batch (see `batch.rs`).
    pub(crate) high: u32,
    pub(crate) batches: [Batch<BUF>; MS],
    /// Each P's sequence number (16 bits: see [`SEQ_LIMIT`]).
    pub(crate) procs: [u16; PS],
    pub(crate) tasks: [GoTrace; GS],
    /// The goroutine of the interrupt callback of each context.
    pub(crate) callbacks: [GoTrace; MS],
    pub(crate) next_goid: u16,
    pub(crate) strings: Strings<TABLE>,
    pub(crate) stacks: Stacks<TABLE>,
    /// What was handed to the sink; [`Encoder::stats`] adds the batches not yet handed over.
    pub(crate) counts: Stats,
}

/// The tracing state, the configuration, what was written and the sink and clock, as a firmware
/// developer asks when a trace looks wrong; not the buffers' bytes (kilobytes of them).
impl<
        C: Clock + core::fmt::Debug,
        S: Sink + core::fmt::Debug,
        const GS: usize,
        const PS: usize,
        const MS: usize,
        const BUF: usize,
        const TABLE: usize,
    > core::fmt::Debug for Encoder<C, S, GS, PS, MS, BUF, TABLE>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Encoder")
            .field("tracing", &self.tracing)
            .field("generation", &self.gen)
            .field("config", &self.config)
            .field("stats", &self.stats())
            .field("sink", &self.sink)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl<
        C: Clock,
        S: Sink,
        const GS: usize,
        const PS: usize,
        const MS: usize,
        const BUF: usize,
        const TABLE: usize,
    > Encoder<C, S, GS, PS, MS, BUF, TABLE>
{
    const VALID_SIZES: () = {
        assert!(MS >= 1, "at least one execution context");
        assert!(GS + MS < u16::MAX as usize, "16-bit goroutine IDs");
        // A scheduling event's executor argument shares a word with its sequence number.
        assert!(PS < 1 << 16, "16-bit executor numbers");
        assert!(BUF >= MIN_BATCH_CAPACITY, "batch buffers too small");
        assert!(
            BUF <= gotrace_wire::MAX_BATCH_SIZE as usize,
            "batch larger than Go allows"
        );
        assert!(
            BUF < 1 << 16,
            "a batch's length and event count share one word"
        );
        // An annotation's names (two at most) must fit a table emptied by a generation's end:
        // with room for one, a log's message was written as string 0, "", and lost unsaid;
        // with none, every GoCreate ended a generation.
        assert!(TABLE >= 2, "string and stack tables of two entries or more");
    };

    /// Bytes of the buffers the parameters size: the batch buffers (`MS * BUF`) and the string
    /// and stack tables (`TABLE` entries each). The rest of the encoder's state is bookkeeping.
    pub const BUFFER_BYTES: usize =
        MS * BUF + core::mem::size_of::<Strings<TABLE>>() + core::mem::size_of::<Stacks<TABLE>>();

    /// A stopped encoder.
    pub const fn new(clock: C, sink: S, config: Config) -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::VALID_SIZES;
        Encoder {
            sink,
            clock,
            config,
            // Zeros only, so that a static encoder needs no initial image in flash (`.bss`).
            // The deadline and the goroutine IDs are set when tracing starts.
            tracing: false,
            gen: 0,
            gen_deadline: 0,
            gen_bytes: 0,
            high: 0,
            batches: [const { Batch::new() }; MS],
            procs: [0; PS],
            tasks: [GoTrace::NEW; GS],
            callbacks: [GoTrace::NEW; MS],
            next_goid: 0,
            strings: Strings::new(),
            stacks: Stacks::new(),
            counts: Stats {
                events: 0,
                event_bytes: 0,
                status_events: 0,
                annotation_events: 0,
                bytes_written: 0,
                generations: 0,
            },
        }
    }

    /// Whether tracing is on (between `start` and `stop`).
    #[must_use]
    pub fn is_tracing(&self) -> bool {
        self.tracing
    }

    /// The current generation (0 before tracing first starts).
    #[must_use]
    pub fn generation(&self) -> u64 {
        self.gen.into()
    }

    /// The statistics, with the bytes of the batches not yet handed over.
    #[must_use]
    pub fn stats(&self) -> Stats {
        let c = self.counts;
        let (pending, pending_events) = self.batches.iter().fold((0, 0), |(bytes, events), b| {
            (bytes + b.len(), events + b.events())
        });
        Stats {
            events: c.events.wrapping_add(pending_events),
            event_bytes: c.event_bytes.wrapping_add(pending as u32),
            ..c
        }
    }

    /// The sink the batches go to.
    pub fn sink(&self) -> &S {
        &self.sink
    }

    /// The sink, to make it ready before tracing starts (an RTT channel attached at run time).
    pub fn sink_mut(&mut self) -> &mut S {
        &mut self.sink
    }

    /// The clock, to replace it before tracing starts (one chosen at run time): replaced while
    /// tracing, the timestamps would not follow on from the old clock's.
    pub fn clock_mut(&mut self) -> &mut C {
        &mut self.clock
    }

    /// The configuration, to set before tracing starts (a generation period the host asked for,
    /// say). Changed while tracing, a new period counts from the next generation's start and a
    /// new byte limit from the next batch handed over.
    pub fn config_mut(&mut self) -> &mut Config {
        &mut self.config
    }

    /// The goroutine ID `g` has (or last had) in the current trace; 0 if none.
    #[must_use]
    pub fn go_id(&self, g: GoSlot) -> u64 {
        self.go(g).map_or(0, |t| t.id.into())
    }

    // ---- Scheduling events: each takes `w`, the state after the change, so that a generation
    // found due ends with the event and the next one re-states that state ----

    /// Context `m` takes idle executor `p`: `ProcStart`.
    #[inline]
    pub fn proc_start<W: Scheduling>(&mut self, m: usize, p: usize, w: &W) {
        if !self.tracing || m >= MS {
            return;
        }
        let Some(seq) = self.procs.get_mut(p) else {
            return;
        };
        *seq = seq.wrapping_add(1);
        let seq = *seq;
        self.sched(m, EventType::PROC_START, p as u32, seq.into(), 2, w);
    }

    /// Context `m` gives up its running executor: `ProcStop`.
    #[inline]
    pub fn proc_stop<W: Scheduling>(&mut self, m: usize, w: &W) {
        if self.tracing {
            self.sched(m, EventType::PROC_STOP, 0, 0, 0, w);
        }
    }

    /// Context `m` starts runnable `g`: `GoStart`.
    #[inline]
    pub fn go_start<W: Scheduling>(&mut self, m: usize, g: GoSlot, w: &W) {
        self.go_seq_event(m, g, EventType::GO_START, 2, w);
    }

    /// The running goroutine on `m` yields and stays runnable: `GoStop`.
    #[inline]
    pub fn go_stop<W: Scheduling>(&mut self, m: usize, reason: Reason, w: &W) {
        self.go_leave(m, false, reason, w);
    }

    /// The running goroutine on `m` blocks until woken: `GoBlock`.
    #[inline]
    pub fn go_block<W: Scheduling>(&mut self, m: usize, reason: Reason, w: &W) {
        self.go_leave(m, true, reason, w);
    }

    /// The running goroutine on `m` blocks (`GoBlock`) or yields (`GoStop`): one method for
    /// both, so that a scheduler deciding between them at run time inlines one copy.
    #[inline]
    pub fn go_leave<W: Scheduling>(&mut self, m: usize, blocks: bool, reason: Reason, w: &W) {
        let typ = if blocks {
            EventType::GO_BLOCK
        } else {
            EventType::GO_STOP
        };
        // The reason's string ID, and no stack.
        if self.tracing {
            self.sched(m, typ, reason.string_id(), 0, 2, w);
        }
    }

    /// Context `m` wakes waiting `g`: `GoUnblock` (the third argument: no stack).
    #[inline]
    pub fn go_unblock<W: Scheduling>(&mut self, m: usize, g: GoSlot, w: &W) {
        self.go_seq_event(m, g, EventType::GO_UNBLOCK, 3, w);
    }

    #[inline(always)]
    fn go_seq_event<W: Scheduling>(
        &mut self,
        m: usize,
        g: GoSlot,
        typ: EventType,
        n: usize,
        w: &W,
    ) {
        if !self.tracing || m >= MS {
            return;
        }
        let Some(t) = self.go_mut(g) else {
            return;
        };
        t.seq = t.seq.wrapping_add(1);
        let (id, seq) = (t.id, t.seq);
        self.sched(m, typ, id.into(), seq.into(), n, w);
    }

    // ---- Other events (out of line): they end a due generation themselves, re-stating `w`,
    // the state after the change ----

    /// Context `m` takes executor `p` away from the blocking operation of context `owner` (or
    /// from the callback of `owner` that abandoned it): `ProcSteal`. After it no context holds
    /// `p` (it is idle, as Go's parser sees a steal): to run on it, `m` then takes it with
    /// [`Encoder::proc_start`]. `owner == m` is a self-steal: a task in a blocking operation
    /// giving its own executor up, which Go writes as a steal, never as a `ProcStop`.
    pub fn proc_steal<W: Scheduling>(&mut self, m: usize, p: usize, owner: usize, w: &W) {
        if !self.tracing || m >= MS || p >= PS || owner >= MS {
            return;
        }
        if owner != m {
            self.after_last_reading_of(owner);
        }
        let seq = self.next_proc_seq(p);
        let due = self.emit(m, EventType::PROC_STEAL, &[p as u64, seq, owner as u64]);
        if due || seq >= u64::from(SEQ_LIMIT) {
            self.advance_generation(m, w);
        }
    }

    /// Reads the clock until it has moved past context `owner`'s last reading, at most
    /// [`TICK_WAIT_READS`] times. Go's parser orders events of one time on different Ms as their
    /// rules allow, and a steal of an executor that a callback's end abandoned in the same tick
    /// may then come first, from the callback's blocking operation, and the end after it, without
    /// the executor: a valid trace of what did not happen (a clock coarser than the code between
    /// events, such as `Coarse` or a timer, gives ties). Bounded, so that a clock that stands
    /// still cannot stop the firmware here.
    #[cold]
    #[inline(never)]
    fn after_last_reading_of(&mut self, owner: usize) {
        let Some(last) = self.batches.get(owner).map(Batch::last) else {
            return;
        };
        for _ in 0..TICK_WAIT_READS {
            if self.clock.now() != last {
                return;
            }
        }
    }

    /// The running task on `m` (or its executor) creates task slot `task`, whose entry function
    /// is at `entry_pc`: `GoCreate`, with the entry as the new goroutine's stack. `w` is the
    /// state before the creation: the generation ends first when the stack table is full. Returns
    /// whether the generation is due to end after the event: the caller ends it with
    /// [`Encoder::end_due`] once the creation is made.
    #[must_use = "a generation that is due must be ended (`end_due`)"]
    #[inline(never)]
    pub fn go_create<W: Scheduling>(
        &mut self,
        m: usize,
        task: usize,
        entry_pc: u64,
        w: &W,
    ) -> bool {
        if !self.tracing || m >= MS || task >= GS {
            return false;
        }
        let stack = self.intern_stack(m, entry_pc, w);
        let id = self.new_goid();
        if let Some(t) = self.tasks.get_mut(task) {
            *t = GoTrace { id, seq: 0 };
        }
        self.emit(m, EventType::GO_CREATE, &[id.into(), stack, 0])
    }

    /// The running task on `m` finishes: `GoDestroy`.
    pub fn go_destroy<W: Scheduling>(&mut self, m: usize, w: &W) {
        if self.tracing {
            self.event(m, EventType::GO_DESTROY, &[], w);
        }
    }

    /// The running goroutine on `m` starts a blocking operation, keeping executor `p`:
    /// `GoSyscallBegin`, with the executor's next sequence number.
    pub fn syscall_begin<W: Scheduling>(&mut self, m: usize, p: usize, w: &W) {
        if !self.tracing || m >= MS || p >= PS {
            return;
        }
        let seq = self.next_proc_seq(p);
        let due = self.emit(m, EventType::GO_SYSCALL_BEGIN, &[seq, 0]);
        if due || seq >= u64::from(SEQ_LIMIT) {
            self.advance_generation(m, w);
        }
    }

    /// The blocking operation of the goroutine on `m` ends, on its executor (`kept`:
    /// `GoSyscallEnd`) or without it (`GoSyscallEndBlocked`).
    pub fn syscall_end<W: Scheduling>(&mut self, m: usize, kept: bool, w: &W) {
        if !self.tracing {
            return;
        }
        let typ = if kept {
            EventType::GO_SYSCALL_END
        } else {
            EventType::GO_SYSCALL_END_BLOCKED
        };
        self.event(m, typ, &[], w);
    }

    /// An interrupt callback starts on context `m`, in a blocking operation without an executor:
    /// `GoCreateSyscall`, with the same goroutine ID every time within a trace (as Go's runtime
    /// reuses a thread's ID for each callback from C on it).
    pub fn callback_enter<W: Scheduling>(&mut self, m: usize, w: &W) {
        if !self.tracing || m >= MS {
            return;
        }
        let id = match self.callbacks.get(m) {
            Some(t) if t.id != 0 => t.id,
            _ => self.new_goid(),
        };
        if let Some(t) = self.callbacks.get_mut(m) {
            *t = GoTrace { id, seq: 0 };
        }
        self.event(m, EventType::GO_CREATE_SYSCALL, &[id.into()], w);
    }

    /// The interrupt callback on `m` ends, in a blocking operation: `GoDestroySyscall`.
    pub fn callback_exit<W: Scheduling>(&mut self, m: usize, w: &W) {
        if self.tracing {
            self.event(m, EventType::GO_DESTROY_SYSCALL, &[], w);
        }
    }

    // ---- Annotations (the scheduler checks that a goroutine runs on `m`, with an executor) ----

    /// Writes a user annotation on `m`, where a goroutine must be running on an executor (Go's
    /// parser refuses an annotation without both, such as one from a callback that has taken no
    /// executor: the scheduler checks this). When the string table cannot take its names, the
    /// generation ends first, re-stating `w`.
    #[inline(never)]
    pub fn annotate<W: Scheduling>(&mut self, m: usize, a: Annotation, w: &W) {
        if !self.tracing || m >= MS {
            return;
        }
        let names = a.names.get(..usize::from(a.name_count)).unwrap_or_default();
        let mut args = a.args;
        let ids = args
            .get_mut(usize::from(a.first_name)..)
            .unwrap_or_default();
        // A table that cannot take every name ends the generation first, so that the names are
        // in the generation of the event (an entry interned before the table filled goes unused).
        if !self.strings.intern_all(names, ids) {
            self.advance_generation(m, w);
            self.strings.intern_all(names, ids);
        }
        self.counts.annotation_events = self.counts.annotation_events.wrapping_add(1);
        self.event(
            m,
            a.typ,
            args.get(..usize::from(a.len)).unwrap_or_default(),
            w,
        );
    }

    // ---- helpers ----

    pub(crate) fn go(&self, g: GoSlot) -> Option<&GoTrace> {
        match g {
            GoSlot::Task(i) => self.tasks.get(i),
            GoSlot::Callback(m) => self.callbacks.get(m),
        }
    }

    #[inline(always)]
    pub(crate) fn go_mut(&mut self, g: GoSlot) -> Option<&mut GoTrace> {
        match g {
            GoSlot::Task(i) => self.tasks.get_mut(i),
            GoSlot::Callback(m) => self.callbacks.get_mut(m),
        }
    }

    fn next_proc_seq(&mut self, p: usize) -> u64 {
        self.procs.get_mut(p).map_or(0, |seq| {
            *seq = seq.wrapping_add(1);
            u64::from(*seq)
        })
    }

    pub(crate) fn new_goid(&mut self) -> u16 {
        loop {
            let id = self.next_goid;
            self.next_goid = id.wrapping_add(1);
            // 0 means "no ID yet". After the counter wraps (2^16 goroutines in one trace), an ID
            // still held by a slot is skipped, so that no two goroutines share one.
            if id != 0 && !self.tasks.iter().chain(&self.callbacks).any(|t| t.id == id) {
                return id;
            }
        }
    }

    /// The stack ID of `pc` in this generation; a full table ends the generation first.
    fn intern_stack<W: Scheduling>(&mut self, m: usize, pc: u64, w: &W) -> u64 {
        // One call site of the table's interning, for the first try and the retry.
        let mut retried = false;
        loop {
            match self.stacks.intern(pc) {
                Some(id) => return id,
                None if retried => return 0,
                None => self.advance_generation(m, w),
            }
            retried = true;
        }
    }

    /// The current time, extended to 64 bits, after the readings `waited` took while a sink had
    /// no room (see [`Encoder::extend_after`]).
    pub(crate) fn now_after(&mut self, waited: Waited) -> u64 {
        let raw = self.clock.now();
        let (high, low) = self.extend_after(raw, waited);
        join(high, low)
    }

    /// [`Encoder::extend_after`] with no wait before `raw`.
    #[inline(always)]
    fn extend(&mut self, raw: u32) -> (u32, u32) {
        self.extend_after(raw, Waited::new())
    }

    /// Extends the raw reading `raw` to the halves of a 64-bit time. The latest reading the
    /// encoder has seen is the last event (or base) of some batch; a smaller reading means the
    /// counter wrapped. A batch whose inline path wrote an event just past the wrap has a last
    /// reading below `raw`, but its base is above it (see `Batch::before_wrap`). On a wrap every
    /// batch is handed over in the half it was written in, and rebased in the next.
    ///
    /// A batch whose base is half a wrap old is handed over and rebased too, so that no batch
    /// spans more than about half a wrap: a base then always lies above a reading taken after the
    /// next wrap, and a context idle for a whole wrap period keeps no reading that old. (Judged
    /// by its last reading, a batch written out of line at gaps under half a wrap could span a
    /// whole one, and a crossing inline after it went unseen.)
    ///
    /// A sink with no room made the encoder read the clock while it waited (`waited`): those
    /// readings are the latest, `raw` goes on from them, and the batches are judged against the
    /// wait's last reading, with its wraps. A hand-over here may wait too: then the batches are
    /// judged again, against that wait's end, and the time returned is the last reading taken,
    /// after every wait (the event that waited is written when its wait ended). The readings are
    /// handed from call to call, not kept: every wait is followed by a reading within the same
    /// call of the encoder, but the tables' at the trace's end.
    #[inline(never)]
    fn extend_after(&mut self, raw: u32, mut waited: Waited) -> (u32, u32) {
        let mut next = if waited.is_pending() {
            waited.observe(raw, raw);
            waited.take()
        } else {
            Some((u32::from(raw < self.latest()), raw))
        };
        let (mut wraps, mut low) = (0u32, raw);
        while let Some((more, last)) = next {
            wraps = wraps.wrapping_add(more);
            low = last;
            for m in 0..MS {
                let stale = self
                    .batches
                    .get(m)
                    .is_some_and(|b| low.wrapping_sub(b.base()) >= STALE);
                if wraps != 0 || stale {
                    self.refresh(m, low, &mut waited);
                }
            }
            next = waited.take();
        }
        self.high = self.high.wrapping_add(wraps);
        (self.high, low)
    }

    /// The latest reading the encoder has seen in the current half (but for one being extended,
    /// and a wait's): the last event, or base, of some batch.
    pub(crate) fn latest(&self) -> u32 {
        self.batches
            .iter()
            .map(Batch::before_wrap)
            .max()
            .unwrap_or(0)
    }

    /// Hands `m`'s batch over (in the current half) and rebases it at `raw`, the latest reading.
    #[cold]
    #[inline(never)]
    fn refresh(&mut self, m: usize, raw: u32, waited: &mut Waited) {
        if self.batches.get(m).is_some_and(|b| !b.is_empty()) {
            self.flush_context(m, raw, waited);
        }
        if let Some(batch) = self.batches.get_mut(m) {
            batch.rebase(raw);
        }
    }

    /// Writes a scheduling event with `n` (0, 2 or 3) arguments: `a`, `b` (a sequence number, or
    /// 0; both under 2^16), then a zero. The common case (short values, room in the batch) is a
    /// clock reading and two stores, without even extending the clock (see `Batch::try_packed`);
    /// everything else, the generation's limits and its end (re-stating `w`) are on the shared
    /// out-of-line path.
    #[inline(always)]
    fn sched<W: Scheduling>(&mut self, m: usize, typ: EventType, a: u32, b: u32, n: usize, w: &W) {
        let raw = self.clock.now();
        if let Some(batch) = self.batches.get_mut(m) {
            if batch.try_packed(raw, typ, a, b, n) {
                return;
            }
        }
        // Packed in two words, so that fewer arguments go on the stack at every call site.
        let kind = u32::from(typ.0) | (n as u32) << 8;
        self.sched_slow(m, kind, raw, a | b << 16, w);
    }

    /// The rest of [`Encoder::sched`]: `kind` is the type and the count of arguments (times
    /// 256), `ab` the arguments `a` and `b` (times 2^16).
    #[inline(never)]
    fn sched_slow<W: Scheduling>(&mut self, m: usize, kind: u32, raw: u32, ab: u32, w: &W) {
        let (high, low) = self.extend(raw);
        let (a, b) = (ab & 0xffff, ab >> 16);
        let args = [a.into(), b.into(), 0];
        let n = (kind >> 8) as usize;
        let typ = EventType(kind as u8);
        // Sequence numbers past 2^14 come this way: end the generation well before they wrap.
        let due = self.write_at(m, high, low, typ, args.get(..n).unwrap_or_default());
        if (due || b >= SEQ_LIMIT) && m < MS {
            self.advance_generation(m, w);
        }
    }

    /// Writes an event now, then ends the generation if it is due.
    #[inline(never)]
    fn event<W: Scheduling>(&mut self, m: usize, typ: EventType, args: &[u64], w: &W) {
        if self.emit(m, typ, args) {
            self.advance_generation(m, w);
        }
    }

    /// Writes an event now; returns whether the generation is due to end. Out of line: every
    /// event but the scheduling ones comes this way.
    #[inline(never)]
    pub(crate) fn emit(&mut self, m: usize, typ: EventType, args: &[u64]) -> bool {
        let raw = self.clock.now();
        let (high, low) = self.extend(raw);
        self.write_at(m, high, low, typ, args)
    }

    /// Writes an event at time `(high, low)` into `m`'s batch, handing the batch over first if
    /// it may not have room; if the sink had no room at first, at the time the wait ended.
    /// Returns whether the generation is due to end.
    fn write_at(
        &mut self,
        m: usize,
        mut high: u32,
        mut low: u32,
        typ: EventType,
        args: &[u64],
    ) -> bool {
        let Some(batch) = self.batches.get_mut(m) else {
            return false;
        };
        if !batch.fits() {
            let mut waited = Waited::new();
            self.flush_context(m, low, &mut waited);
            if waited.is_pending() {
                let raw = self.clock.now();
                (high, low) = self.extend_after(raw, waited);
            }
            if let Some(batch) = self.batches.get_mut(m) {
                batch.rebase(low);
            }
        }
        if let Some(batch) = self.batches.get_mut(m) {
            batch.event(low, typ, args);
        }
        join(high, low) >= self.gen_deadline
    }

    /// Hands `m`'s batch to the sink (the caller sets its next base), `latest` being the latest
    /// reading of the clock, from which a wait for the sink counts wraps into `waited`; ends the
    /// generation at the next event once its bytes are up.
    #[inline(never)]
    pub(crate) fn flush_context(&mut self, m: usize, latest: u32, waited: &mut Waited) {
        let counts = &mut self.counts;
        let Some(batch) = self.batches.get_mut(m) else {
            return;
        };
        counts.event_bytes = counts.event_bytes.wrapping_add(batch.len() as u32);
        let mut out = Outlet {
            sink: &mut self.sink,
            clock: &mut self.clock,
            waited,
            latest,
        };
        let n = hand_over(batch, &mut out, counts, self.gen, m as u64, self.high);
        self.gen_bytes = self.gen_bytes.saturating_add(n);
        let limit = self.config.generation_bytes;
        if limit != 0 && self.gen_bytes >= limit {
            self.gen_deadline = 0;
        }
    }
}

/// Where batches go: the sink, and what counts the clock's wraps while it has no room.
pub(crate) struct Outlet<'e, S, C> {
    pub sink: &'e mut S,
    pub clock: &'e mut C,
    pub waited: &'e mut Waited,
    /// The latest reading of the clock before a wait.
    pub latest: u32,
}

impl<S: Sink, C: Clock> Outlet<'_, S, C> {
    /// Offers a batch until the sink takes it, reading the clock between offers: nothing else
    /// reads it while the sink waits for room (inside the scheduler's critical section).
    fn offer(&mut self, gen: u32, header: &[u8], payload: &[u8]) {
        while self.sink.write_batch(gen.into(), header, payload) == Offer::Full {
            self.waited.observe(self.clock.now(), self.latest);
        }
    }
}

/// Hands `batch` (its times in half `high` of the clock) to `out` as a batch of generation `gen`
/// for M `m`, counting its bytes.
pub(crate) fn hand_over<S: Sink, C: Clock, const BUF: usize>(
    batch: &mut Batch<BUF>,
    out: &mut Outlet<'_, S, C>,
    counts: &mut Stats,
    gen: u32,
    m: u64,
    high: u32,
) -> u32 {
    counts.events = counts.events.wrapping_add(batch.events());
    let n = batch.take(gen, m, high, |h, p| out.offer(gen, h, p)) as u32;
    counts.bytes_written = counts.bytes_written.wrapping_add(n);
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::VecSink;
    use crate::state::{GoStatus, ProcStatus};

    #[test]
    fn scheduling_events_are_counted_modulo_2_32_as_the_device_counts() {
        // 2^32 + 10 events, of which 2^32 - 1 statuses and 2 annotations: 9 scheduling events.
        let stats = Stats {
            events: 10,
            status_events: u32::MAX,
            annotation_events: 2,
            ..Stats::default()
        };
        assert_eq!(stats.sched_events(), 9);
    }

    /// Whatever time the test sets.
    struct Manual(u32);

    impl Clock for Manual {
        fn now(&mut self) -> u32 {
            self.0
        }

        fn frequency(&self) -> u64 {
            1_000_000
        }
    }

    /// Nothing held, nothing live.
    struct Idle;

    impl Scheduling for Idle {
        fn context_proc(&self, _: usize) -> Option<usize> {
            None
        }

        fn context_go(&self, _: usize) -> Option<GoSlot> {
            None
        }

        fn proc_status(&self, _: usize) -> ProcStatus {
            ProcStatus::Idle
        }

        fn go_status(&self, _: GoSlot) -> GoStatus {
            GoStatus::Dead
        }
    }

    /// Counts its readings, from 1000 on.
    struct Counted(u32);

    impl Clock for Counted {
        fn now(&mut self) -> u32 {
            self.0 += 1;
            1000 + self.0
        }

        fn frequency(&self) -> u64 {
            1_000_000
        }
    }

    #[test]
    fn the_generation_after_4294967295_is_written_as_0_which_go_refuses() {
        // 2^32 - 2 generations into a trace (49 days of 1 ms ones): the generation number wraps.
        // What the device writes up to it is valid, then Go refuses generation 0, as `gotrace
        // record` expects (it stops there and says the device's generation number wrapped).
        let mut e: Encoder<Counted, VecSink, 1, 1, 1, 64> =
            Encoder::new(Counted(0), VecSink::default(), Config::MANUAL);
        e.start(0, &Idle).unwrap();
        e.gen = u32::MAX;
        e.advance(0, &Idle).unwrap();
        assert_eq!(e.generation(), 0);
        e.stop(0).unwrap();
        let Some(go) = gotrace_go_oracle::require_go("generation-wrap") else {
            return;
        };
        let path = gotrace_go_oracle::scratch_dir().join("generation-wrap.trace");
        std::fs::write(&path, &e.sink().traces[0]).unwrap();
        let out = go.trace(gotrace_go_oracle::Mode::Parsed, &path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let err = out.error.expect("Go accepted a generation 0");
        assert!(err.contains("invalid generation number 0"), "{err}");
        assert!(
            out.stdout.contains("Sync"),
            "nothing of generation 4294967295: {}",
            out.stdout
        );
    }

    #[test]
    fn the_clock_is_read_only_while_tracing() {
        let mut e: Encoder<Counted, VecSink, 1, 1, 2, 64> =
            Encoder::new(Counted(0), VecSink::default(), Config::MANUAL);
        // Every event and control that does nothing while stopped reads no clock: a firmware
        // may make its clock ready after the encoder, before tracing starts (see `Clock`).
        let stopped = |e: &mut Encoder<Counted, VecSink, 1, 1, 2, 64>| {
            e.proc_start(0, 0, &Idle);
            e.proc_stop(0, &Idle);
            e.go_start(0, GoSlot::Task(0), &Idle);
            e.go_leave(0, true, Reason::Wait, &Idle);
            e.go_unblock(0, GoSlot::Task(0), &Idle);
            e.proc_steal(0, 0, 1, &Idle);
            assert!(!e.go_create(0, 0, 0x1001, &Idle));
            e.go_destroy(0, &Idle);
            e.syscall_begin(0, 0, &Idle);
            e.syscall_end(0, true, &Idle);
            e.callback_enter(1, &Idle);
            e.callback_exit(1, &Idle);
            e.annotate(0, Annotation::log(0, "k", "v"), &Idle);
            e.end_due(0, &Idle);
            assert!(e.advance(0, &Idle).is_err());
            assert!(e.stop(0).is_err());
        };
        stopped(&mut e);
        assert_eq!(e.clock.0, 0, "read before tracing started");
        e.start(0, &Idle).unwrap();
        assert!(e.clock.0 > 0, "start reads the clock");
        e.stop(0).unwrap();
        let after_stop = e.clock.0;
        stopped(&mut e);
        assert_eq!(e.clock.0, after_stop, "read after tracing stopped");
    }

    #[test]
    fn a_context_idle_for_a_wrap_period_does_not_keep_its_old_half() {
        let mut e: Encoder<Manual, VecSink, 1, 1, 2, 64> =
            Encoder::new(Manual(100), VecSink::default(), Config::MANUAL);
        e.start(0, &Idle).unwrap();
        // Context 1 writes at 200, then only context 0 is busy for more than half a wrap.
        e.clock.0 = 200;
        e.proc_stop(1, &Idle);
        // A long delta: out of line, where context 1 is refreshed.
        e.clock.0 = 200 + (1 << 31) + 10;
        e.proc_stop(0, &Idle);
        assert_eq!(e.batches[1].base(), e.clock.0, "rebased");
        // After the wrap, context 1's first event lands just after its old reading: without the
        // refresh the inline path would take it for the old half.
        e.clock.0 = 250;
        e.proc_stop(1, &Idle);
        assert_eq!(e.high, 1, "the wrap was seen");
        assert_eq!(e.generation(), 1, "no generation ended on the way");
        e.stop(0).unwrap();
    }

    /// Ticks once every four readings: a clock coarser than the code between events.
    struct Slow(u32);

    impl Clock for Slow {
        fn now(&mut self) -> u32 {
            self.0 += 1;
            1000 + self.0 / 4
        }

        fn frequency(&self) -> u64 {
            1_000_000
        }
    }

    #[test]
    fn a_steal_comes_after_the_last_tick_of_the_context_it_steals_from() {
        // In one tick, a callback's end abandoned its executor (context 1) and thread mode
        // stole it: Go's parser put the steal first, from the callback's blocking operation,
        // valid but not what happened (a semantic oracle over the simulator's seeds found it
        // with 1 us ticks).
        let mut e: Encoder<Slow, VecSink, 1, 1, 2, 64> =
            Encoder::new(Slow(0), VecSink::default(), Config::MANUAL);
        e.start(0, &Idle).unwrap();
        e.clock.0 = 100; // the next reading starts a tick
        e.proc_stop(1, &Idle);
        let victim = e.batches[1].last();
        e.proc_steal(0, 0, 1, &Idle);
        assert!(
            e.batches[0].last() > victim,
            "the steal is in its victim's tick"
        );
        // A clock that stands still is waited for a bounded number of readings, no more.
        let mut e: Encoder<Manual, VecSink, 1, 1, 2, 64> =
            Encoder::new(Manual(100), VecSink::default(), Config::MANUAL);
        e.start(0, &Idle).unwrap();
        e.proc_stop(1, &Idle);
        e.proc_steal(0, 0, 1, &Idle);
        e.stop(0).unwrap();
    }

    #[test]
    fn buffer_bytes_are_the_encoders_size_but_its_bookkeeping() {
        fn bookkeeping<const MS: usize, const BUF: usize, const TABLE: usize>() -> usize {
            type E<const MS: usize, const BUF: usize, const TABLE: usize> =
                Encoder<Manual, VecSink, 4, 2, MS, BUF, TABLE>;
            let buffers = E::<MS, BUF, TABLE>::BUFFER_BYTES;
            let size = core::mem::size_of::<E<MS, BUF, TABLE>>();
            assert!(buffers >= MS * BUF, "{buffers} for {MS} x {BUF}");
            assert!(buffers <= size, "{buffers} of {size}");
            size - buffers
        }
        // The bookkeeping (sequence numbers, goroutine IDs, counts) is the same whatever the
        // buffers' sizes, and small.
        let base = bookkeeping::<1, 64, 2>();
        assert!(base < 256, "{base} bytes of bookkeeping");
        assert_eq!(bookkeeping::<1, 4096, 2>(), base, "a larger batch buffer");
        assert_eq!(bookkeeping::<1, 64, 64>(), base, "larger tables");
        let per_context = bookkeeping::<3, 512, 32>() - base;
        assert!(
            per_context < 64,
            "{per_context} bytes for two more contexts"
        );
    }

    #[test]
    fn a_configuration_set_before_tracing_starts_is_followed() {
        let mut e: Encoder<Manual, VecSink, 1, 1, 1, 64> =
            Encoder::new(Manual(100), VecSink::default(), Config::MANUAL);
        e.config_mut().generation_ticks = 1000;
        e.start(0, &Idle).unwrap();
        // A gap past 2^14 ticks: out of line, where the period is checked.
        e.clock.0 = 100 + (1 << 14) + 1;
        e.proc_stop(0, &Idle);
        assert_eq!(
            e.generation(),
            2,
            "the period set ended the first generation"
        );
        e.stop(0).unwrap();
    }
}
