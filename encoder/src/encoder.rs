//! The encoder: scheduling state changes in, Go 1.22 events out.
//!
//! Each method is one state change of a P, a G or an M, and writes the event that records it into
//! the acting M's batch. The change and the event are a single step: callers that share the
//! encoder between contexts wrap it in [`crate::Shared`], so no interrupt lands between them.
//! Every change is checked against the current state first; a change the state does not allow is
//! refused with [`Error::Transition`] rather than written as a trace Go would reject.
//!
//! Sequence numbers follow Go's runtime: a P's counter advances on `ProcStart`, `ProcSteal` and
//! `GoSyscallBegin`; a G's on `GoStart` and `GoUnblock`; both restart from 0 at each generation,
//! where the status of every P and live G is re-stated (see `generation.rs`).
//!
//! Each method checks the change, writes its event, applies the change, and only then ends the
//! generation if the event found its time or bytes up: the next generation re-states the state
//! after the event. The common scheduling events, whose arguments usually fit one byte each, are
//! written with a single store (see `emit`).

use gotrace_wire::EventType;

use crate::batch::{Batch, MAX_EVENT_LEN};
use crate::clock::{join, Clock, Extended};
use crate::error::Error;
use crate::intern::{Stacks, Strings};
use crate::reason::Reason;
use crate::sink::Sink;
use crate::state::{GoSlot, GoState, GoStatus, MState, ProcState, ProcStatus};

/// When generations end on their own (0 disables a limit). A generation also ends when tracing
/// stops, when [`Encoder::advance`] is called, and when its string or stack table is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// End the generation once this many clock ticks have passed since it began.
    pub generation_ticks: u64,
    /// End the generation once its batches handed to the sink take this many bytes (checked
    /// when a batch is handed over, so a generation may exceed it by its pending batches).
    pub generation_bytes: u64,
}

impl Config {
    /// No automatic boundaries.
    pub const MANUAL: Config = Config {
        generation_ticks: 0,
        generation_bytes: 0,
    };
}

/// What the encoder has written, for measurements. Counting costs instructions on every
/// event, so only what cannot be derived is counted there.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Timed events of every kind (scheduling events, statuses, annotations).
    pub events: u64,
    /// Their encoded bytes (type, delta, arguments).
    pub event_bytes: u64,
    /// Status events written at generation starts.
    pub status_events: u64,
    /// User annotations: tasks, regions, logs, labels.
    pub annotation_events: u64,
    /// Every byte handed to the sink, headers and tables included.
    pub bytes_written: u64,
    pub generations: u64,
}

impl Stats {
    /// Scheduling events: P and G state changes (not statuses, not annotations).
    pub fn sched_events(&self) -> u64 {
        self.events - self.status_events - self.annotation_events
    }
}

/// The smallest batch buffer: room for the largest event with margin.
pub const MIN_BATCH_CAPACITY: usize = 64;

const _: () = assert!(MAX_EVENT_LEN <= MIN_BATCH_CAPACITY);

/// A trace encoder for `MS` execution contexts, `PS` executors and `GS` task slots, with batch
/// buffers of `BUF` bytes per context.
pub struct Encoder<S, C, const MS: usize, const PS: usize, const GS: usize, const BUF: usize> {
    pub(crate) sink: S,
    pub(crate) clock: C,
    pub(crate) config: Config,
    pub(crate) tracing: bool,
    pub(crate) gen: u64,
    /// The time at which the current generation ends (`u64::MAX`: never; 0: at the next event,
    /// set when its bytes reach the limit), so each event checks both limits with one compare.
    pub(crate) gen_deadline: u64,
    pub(crate) gen_bytes: u64,
    pub(crate) time: Extended,
    pub(crate) ms: [MState<BUF>; MS],
    pub(crate) ps: [ProcState; PS],
    pub(crate) gs: [GoState; GS],
    pub(crate) cbs: [GoState; MS],
    pub(crate) next_goid: u64,
    pub(crate) strings: Strings,
    pub(crate) stacks: Stacks,
    pub(crate) stats: Stats,
}

impl<S: Sink, C: Clock, const MS: usize, const PS: usize, const GS: usize, const BUF: usize>
    Encoder<S, C, MS, PS, GS, BUF>
{
    const VALID_SIZES: () = {
        assert!(MS >= 1, "at least one execution context");
        assert!(BUF >= MIN_BATCH_CAPACITY, "batch buffers too small");
        assert!(
            BUF <= gotrace_wire::MAX_BATCH_SIZE as usize,
            "batch larger than Go allows"
        );
    };

    /// A stopped encoder; every P idle, every G slot dead.
    pub const fn new(sink: S, clock: C, config: Config) -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::VALID_SIZES;
        Encoder {
            sink,
            clock,
            config,
            tracing: false,
            gen: 0,
            gen_deadline: u64::MAX,
            gen_bytes: 0,
            time: Extended::new(),
            ms: [const { MState::new() }; MS],
            ps: [ProcState::IDLE; PS],
            gs: [GoState::DEAD; GS],
            cbs: [GoState::DEAD; MS],
            next_goid: 1,
            strings: Strings::new(),
            stacks: Stacks::new(),
            stats: Stats {
                events: 0,
                event_bytes: 0,
                status_events: 0,
                annotation_events: 0,
                bytes_written: 0,
                generations: 0,
            },
        }
    }

    pub fn is_tracing(&self) -> bool {
        self.tracing
    }

    /// The current generation (0 before tracing first starts).
    pub fn generation(&self) -> u64 {
        self.gen
    }

    /// The statistics, with the bytes of the batches not yet handed over.
    pub fn stats(&self) -> Stats {
        let pending: usize = self.ms.iter().map(|m| m.batch.len()).sum();
        Stats {
            event_bytes: self.stats.event_bytes + pending as u64,
            ..self.stats
        }
    }

    pub fn sink(&self) -> &S {
        &self.sink
    }

    pub fn sink_mut(&mut self) -> &mut S {
        &mut self.sink
    }

    pub fn clock_mut(&mut self) -> &mut C {
        &mut self.clock
    }

    pub fn proc_status(&self, p: usize) -> Result<ProcStatus, Error> {
        Ok(self.ps.get(p).ok_or(Error::NoSuchProc(p))?.status)
    }

    /// The context holding `p` (Running, Syscall) or that last held it (Abandoned).
    pub fn proc_owner(&self, p: usize) -> Result<Option<usize>, Error> {
        let st = self.ps.get(p).ok_or(Error::NoSuchProc(p))?;
        Ok((st.status != ProcStatus::Idle).then_some(st.m))
    }

    pub fn go_status(&self, g: GoSlot) -> Result<GoStatus, Error> {
        Ok(self.go(g)?.status)
    }

    /// The goroutine ID `g` has (or last had) in the trace; 0 if never created.
    pub fn go_id(&self, g: GoSlot) -> Result<u64, Error> {
        Ok(self.go(g)?.id)
    }

    /// The executor context `m` holds.
    pub fn context_proc(&self, m: usize) -> Result<Option<usize>, Error> {
        Ok(self.m(m)?.p)
    }

    /// The goroutine running (or in a blocking operation) on context `m`.
    pub fn context_go(&self, m: usize) -> Result<Option<GoSlot>, Error> {
        Ok(self.m(m)?.g)
    }

    // ---- Ps ----

    /// Context `m` takes idle executor `p`: `ProcStart`.
    pub fn proc_start(&mut self, m: usize, p: usize) -> Result<(), Error> {
        self.m(m)?;
        let st = *self.ps.get(p).ok_or(Error::NoSuchProc(p))?;
        if self.ms[m].p.is_some() {
            return Err(fail(m, "ProcStart: context already holds an executor"));
        }
        if st.status != ProcStatus::Idle {
            return Err(fail(m, "ProcStart: executor is not idle"));
        }
        let due = self.emit(m, EventType::PROC_START, p as u64, st.seq + 1, 2);
        self.ps[p] = ProcState {
            status: ProcStatus::Running,
            m,
            seq: st.seq + 1,
        };
        self.ms[m].p = Some(p);
        self.end_event(m, due);
        Ok(())
    }

    /// Context `m` gives up its running executor, with no goroutine on it: `ProcStop`.
    pub fn proc_stop(&mut self, m: usize) -> Result<(), Error> {
        let p = self
            .m(m)?
            .p
            .ok_or(fail(m, "ProcStop: context holds no executor"))?;
        if self.ps[p].status != ProcStatus::Running {
            return Err(fail(m, "ProcStop: executor is not running"));
        }
        if self.ms[m].g.is_some() {
            return Err(fail(m, "ProcStop: a goroutine is still on the context"));
        }
        let due = self.emit(m, EventType::PROC_STOP, 0, 0, 0);
        self.ps[p].status = ProcStatus::Idle;
        self.ms[m].p = None;
        self.end_event(m, due);
        Ok(())
    }

    /// Context `m` takes executor `p` away from a blocking operation, or from the callback that
    /// abandoned it; `p` becomes idle: `ProcSteal`. When `m` is the context of the blocking
    /// operation itself this is a self-steal (seed 001) — never a `ProcStop`, which would claim
    /// a P the context may no longer hold.
    pub fn proc_steal(&mut self, m: usize, p: usize) -> Result<(), Error> {
        self.m(m)?;
        let st = *self.ps.get(p).ok_or(Error::NoSuchProc(p))?;
        match st.status {
            ProcStatus::Syscall => self.ms[st.m].p = None,
            ProcStatus::Abandoned => {}
            _ => {
                return Err(fail(
                    m,
                    "ProcSteal: executor is not in a blocking operation",
                ))
            }
        }
        self.ps[p] = ProcState {
            status: ProcStatus::Idle,
            m: st.m,
            seq: st.seq + 1,
        };
        let due = self.emit_slice(
            m,
            EventType::PROC_STEAL,
            &[p as u64, u64::from(st.seq + 1), st.m as u64],
        );
        self.end_event(m, due);
        Ok(())
    }

    // ---- Gs ----

    /// The running task on `m` (or its executor) creates task slot `task`, whose entry function
    /// is at `entry_pc`: `GoCreate`, with the entry as the new goroutine's stack.
    pub fn go_create(&mut self, m: usize, task: usize, entry_pc: u64) -> Result<(), Error> {
        self.require_running_proc(m, "GoCreate")?;
        if let Some(g) = self.ms[m].g {
            if self.go(g)?.status != GoStatus::Running {
                return Err(fail(m, "GoCreate: creator is not running"));
            }
        }
        let slot = GoSlot::Task(task);
        if self.go(slot)?.status != GoStatus::Dead {
            return Err(fail(m, "GoCreate: task slot is in use"));
        }
        let stack = self.intern_stack(m, entry_pc);
        let id = self.next_goid;
        self.next_goid += 1;
        self.gs[task] = GoState {
            status: GoStatus::Runnable,
            id,
            seq: 0,
        };
        let due = self.emit_slice(m, EventType::GO_CREATE, &[id, stack, 0]);
        self.end_event(m, due);
        Ok(())
    }

    /// Context `m`, holding a running executor and no goroutine, starts runnable `g`: `GoStart`.
    pub fn go_start(&mut self, m: usize, g: GoSlot) -> Result<(), Error> {
        self.require_running_proc(m, "GoStart")?;
        if self.ms[m].g.is_some() {
            return Err(fail(m, "GoStart: context already runs a goroutine"));
        }
        let st = *self.go(g)?;
        if st.status != GoStatus::Runnable {
            return Err(fail(m, "GoStart: goroutine is not runnable"));
        }
        let due = self.emit(m, EventType::GO_START, st.id, st.seq + 1, 2);
        *self.go_mut(g) = GoState {
            status: GoStatus::Running,
            seq: st.seq + 1,
            ..st
        };
        self.ms[m].g = Some(g);
        self.end_event(m, due);
        Ok(())
    }

    /// The running task on `m` yields and stays runnable: `GoStop`.
    pub fn go_stop(&mut self, m: usize, reason: Reason) -> Result<(), Error> {
        self.leave(m, reason, GoStatus::Runnable, EventType::GO_STOP)
    }

    /// The running task on `m` blocks until woken: `GoBlock`.
    pub fn go_block(&mut self, m: usize, reason: Reason) -> Result<(), Error> {
        self.leave(m, reason, GoStatus::Waiting, EventType::GO_BLOCK)
    }

    /// The running task on `m` finishes: `GoDestroy`.
    pub fn go_destroy(&mut self, m: usize) -> Result<(), Error> {
        let g = self.require_running_go(m, "GoDestroy")?;
        if matches!(g, GoSlot::Callback(_)) {
            return Err(fail(m, "GoDestroy: a callback ends with GoDestroySyscall"));
        }
        self.go_mut(g).status = GoStatus::Dead;
        self.ms[m].g = None;
        let due = self.emit_slice(m, EventType::GO_DESTROY, &[]);
        self.end_event(m, due);
        Ok(())
    }

    /// Any context wakes waiting `g`: `GoUnblock`.
    pub fn go_unblock(&mut self, m: usize, g: GoSlot) -> Result<(), Error> {
        self.m(m)?;
        let st = *self.go(g)?;
        if st.status != GoStatus::Waiting {
            return Err(fail(m, "GoUnblock: goroutine is not waiting"));
        }
        // The third argument: no stack.
        let due = self.emit(m, EventType::GO_UNBLOCK, st.id, st.seq + 1, 3);
        *self.go_mut(g) = GoState {
            status: GoStatus::Runnable,
            seq: st.seq + 1,
            ..st
        };
        self.end_event(m, due);
        Ok(())
    }

    /// The running goroutine on `m` starts a blocking operation, keeping its executor (which any
    /// context may now steal): `GoSyscallBegin`, with the executor's next sequence number.
    pub fn syscall_begin(&mut self, m: usize) -> Result<(), Error> {
        let g = self.require_running_go(m, "GoSyscallBegin")?;
        let p = self.ms[m].p.ok_or(fail(m, "GoSyscallBegin: no executor"))?;
        self.go_mut(g).status = GoStatus::Syscall;
        let seq = self.ps[p].seq + 1;
        self.ps[p].status = ProcStatus::Syscall;
        self.ps[p].seq = seq;
        let due = self.emit_slice(m, EventType::GO_SYSCALL_BEGIN, &[u64::from(seq), 0]);
        self.end_event(m, due);
        Ok(())
    }

    /// The blocking operation of the goroutine on `m` ends. If the context still holds the
    /// executor in that operation the goroutine runs on (`GoSyscallEnd`, returns `true`);
    /// otherwise it was stolen, and the goroutine becomes runnable, off the context
    /// (`GoSyscallEndBlocked`, returns `false`): the caller then takes an executor and starts it.
    pub fn syscall_end(&mut self, m: usize) -> Result<bool, Error> {
        let g = self
            .m(m)?
            .g
            .ok_or(fail(m, "GoSyscallEnd: no goroutine on the context"))?;
        if self.go(g)?.status != GoStatus::Syscall {
            return Err(fail(
                m,
                "GoSyscallEnd: goroutine is not in a blocking operation",
            ));
        }
        let kept = match self.ms[m].p {
            Some(p) if self.ps[p].status == ProcStatus::Syscall => {
                self.ps[p].status = ProcStatus::Running;
                self.go_mut(g).status = GoStatus::Running;
                true
            }
            _ => {
                self.go_mut(g).status = GoStatus::Runnable;
                self.ms[m].g = None;
                false
            }
        };
        let typ = if kept {
            EventType::GO_SYSCALL_END
        } else {
            EventType::GO_SYSCALL_END_BLOCKED
        };
        let due = self.emit_slice(m, typ, &[]);
        self.end_event(m, due);
        Ok(kept)
    }

    /// An interrupt callback starts on context `m`: its goroutine appears in a blocking
    /// operation, without an executor: `GoCreateSyscall`. The goroutine ID is the same every time
    /// the callback runs on `m`, as the M ID is (seed 000).
    pub fn callback_enter(&mut self, m: usize) -> Result<(), Error> {
        self.m(m)?;
        if self.ms[m].g.is_some() {
            return Err(fail(m, "GoCreateSyscall: context already runs a goroutine"));
        }
        let st = self.cbs[m];
        if st.status != GoStatus::Dead {
            return Err(fail(m, "GoCreateSyscall: callback already active"));
        }
        let id = if st.id == 0 {
            self.next_goid += 1;
            self.next_goid - 1
        } else {
            st.id
        };
        self.cbs[m] = GoState {
            status: GoStatus::Syscall,
            id,
            seq: 0,
        };
        self.ms[m].g = Some(GoSlot::Callback(m));
        let due = self.emit_slice(m, EventType::GO_CREATE_SYSCALL, &[id]);
        self.end_event(m, due);
        Ok(())
    }

    /// The interrupt callback on `m` ends, in a blocking operation: `GoDestroySyscall`. An
    /// executor the context still holds (in a blocking operation) is abandoned: it stays
    /// unusable until some context steals it (seed 000).
    pub fn callback_exit(&mut self, m: usize) -> Result<(), Error> {
        self.m(m)?;
        if self.ms[m].g != Some(GoSlot::Callback(m)) || self.cbs[m].status != GoStatus::Syscall {
            return Err(fail(
                m,
                "GoDestroySyscall: no callback in a blocking operation",
            ));
        }
        if let Some(p) = self.ms[m].p {
            if self.ps[p].status != ProcStatus::Syscall {
                return Err(fail(
                    m,
                    "GoDestroySyscall: executor held at exit is not in a blocking operation",
                ));
            }
            self.ps[p].status = ProcStatus::Abandoned;
            self.ms[m].p = None;
        }
        self.cbs[m].status = GoStatus::Dead;
        self.ms[m].g = None;
        let due = self.emit_slice(m, EventType::GO_DESTROY_SYSCALL, &[]);
        self.end_event(m, due);
        Ok(())
    }

    // ---- Annotations (need a running goroutine on a running executor) ----

    pub fn user_task_begin(
        &mut self,
        m: usize,
        task: u64,
        parent: u64,
        name: &'static str,
    ) -> Result<(), Error> {
        self.require_running_go(m, "UserTaskBegin")?;
        let [name] = self.intern_strings(m, [name]);
        self.annotate(m, EventType::USER_TASK_BEGIN, &[task, parent, name, 0])
    }

    pub fn user_task_end(&mut self, m: usize, task: u64) -> Result<(), Error> {
        self.require_running_go(m, "UserTaskEnd")?;
        self.annotate(m, EventType::USER_TASK_END, &[task, 0])
    }

    pub fn user_region_begin(
        &mut self,
        m: usize,
        task: u64,
        name: &'static str,
    ) -> Result<(), Error> {
        self.require_running_go(m, "UserRegionBegin")?;
        let [name] = self.intern_strings(m, [name]);
        self.annotate(m, EventType::USER_REGION_BEGIN, &[task, name, 0])
    }

    pub fn user_region_end(
        &mut self,
        m: usize,
        task: u64,
        name: &'static str,
    ) -> Result<(), Error> {
        self.require_running_go(m, "UserRegionEnd")?;
        let [name] = self.intern_strings(m, [name]);
        self.annotate(m, EventType::USER_REGION_END, &[task, name, 0])
    }

    pub fn user_log(
        &mut self,
        m: usize,
        task: u64,
        key: &'static str,
        value: &'static str,
    ) -> Result<(), Error> {
        self.require_running_go(m, "UserLog")?;
        let [key, value] = self.intern_strings(m, [key, value]);
        self.annotate(m, EventType::USER_LOG, &[task, key, value, 0])
    }

    pub fn go_label(&mut self, m: usize, label: &'static str) -> Result<(), Error> {
        self.require_running_go(m, "GoLabel")?;
        let [label] = self.intern_strings(m, [label]);
        self.annotate(m, EventType::GO_LABEL, &[label])
    }

    fn annotate(&mut self, m: usize, typ: EventType, args: &[u64]) -> Result<(), Error> {
        let due = self.emit_slice(m, typ, args);
        if self.tracing {
            self.stats.annotation_events += 1;
        }
        self.end_event(m, due);
        Ok(())
    }

    // ---- helpers ----

    fn leave(
        &mut self,
        m: usize,
        reason: Reason,
        status: GoStatus,
        typ: EventType,
    ) -> Result<(), Error> {
        let g = self.require_running_go(m, "GoStop/GoBlock")?;
        // The reason's string ID, and no stack.
        let due = self.emit(m, typ, reason.string_id(), 0, 2);
        self.go_mut(g).status = status;
        self.ms[m].g = None;
        self.end_event(m, due);
        Ok(())
    }

    fn m(&self, m: usize) -> Result<&MState<BUF>, Error> {
        self.ms.get(m).ok_or(Error::NoSuchContext(m))
    }

    pub(crate) fn go(&self, g: GoSlot) -> Result<&GoState, Error> {
        match g {
            GoSlot::Task(i) => self.gs.get(i),
            GoSlot::Callback(m) => self.cbs.get(m),
        }
        .ok_or(Error::NoSuchGoroutine(g))
    }

    /// Only for slots already checked by `go`.
    #[inline]
    pub(crate) fn go_mut(&mut self, g: GoSlot) -> &mut GoState {
        match g {
            GoSlot::Task(i) => &mut self.gs[i],
            GoSlot::Callback(m) => &mut self.cbs[m],
        }
    }

    fn require_running_proc(&self, m: usize, what: &'static str) -> Result<usize, Error> {
        match self.m(m)?.p {
            Some(p) if self.ps[p].status == ProcStatus::Running => Ok(p),
            _ => Err(fail(m, what)),
        }
    }

    /// The goroutine running on `m`, which must hold a running executor.
    fn require_running_go(&self, m: usize, what: &'static str) -> Result<GoSlot, Error> {
        self.require_running_proc(m, what)?;
        match self.ms[m].g {
            Some(g) if self.go(g)?.status == GoStatus::Running => Ok(g),
            _ => Err(fail(m, what)),
        }
    }

    /// String IDs for `names` in this generation. When the table cannot take them all, the
    /// generation ends first (before the caller changes any state), so the IDs always exist.
    fn intern_strings<const N: usize>(&mut self, m: usize, names: [&'static str; N]) -> [u64; N] {
        if !self.tracing {
            return [0; N];
        }
        if self.strings.would_overflow(&names) {
            self.advance_generation(m);
        }
        names.map(|n| self.strings.intern(n).unwrap_or(0))
    }

    fn intern_stack(&mut self, m: usize, pc: u64) -> u64 {
        if !self.tracing {
            return 0;
        }
        if self.stacks.would_overflow(pc) {
            self.advance_generation(m);
        }
        self.stacks.intern(pc).unwrap_or(0)
    }

    /// The current time, extended to 64 bits.
    pub(crate) fn now(&mut self) -> u64 {
        let raw = self.clock.now();
        self.time.extend(raw)
    }

    /// Writes a scheduling event with `n` (at most 3) arguments: `a`, `b` (a sequence number, or
    /// 0), then zeros. The
    /// common case (tracing, room in the batch, generation not due, short values) is inline: a
    /// clock reading, a few compares and stores. Everything else goes through `emit_at`.
    /// Returns whether the generation is due to end.
    #[inline(always)]
    fn emit(&mut self, m: usize, typ: EventType, a: u64, b: u32, n: usize) -> bool {
        if !self.tracing {
            return false;
        }
        let (high, low) = self.time.halves(self.clock.now());
        if join(high, low) < self.gen_deadline {
            let batch = &mut self.ms[m].batch;
            if batch.remaining() >= MAX_EVENT_LEN {
                batch.event(high, low, typ, a, b, n);
                self.stats.events += 1;
                return false;
            }
        }
        self.emit_at(m, typ, high, low, &[a, u64::from(b), 0][..n])
    }

    /// Writes, if tracing, an event whose arguments are the varints `args`. Returns whether the
    /// generation is due to end (the caller ends it once its state change is made).
    pub(crate) fn emit_slice(&mut self, m: usize, typ: EventType, args: &[u64]) -> bool {
        if !self.tracing {
            return false;
        }
        let (high, low) = self.time.halves(self.clock.now());
        self.emit_at(m, typ, high, low, args)
    }

    /// Writes an event at time `(high, low)` into `m`'s batch, handing the batch over first if it
    /// may not have room. Returns whether the generation is due to end.
    #[inline(never)]
    fn emit_at(&mut self, m: usize, typ: EventType, high: u32, low: u32, args: &[u64]) -> bool {
        if self.ms[m].batch.remaining() < MAX_EVENT_LEN {
            self.flush_context(m);
        }
        self.ms[m].batch.event_args(high, low, typ, args);
        self.stats.events += 1;
        join(high, low) >= self.gen_deadline
    }

    /// Ends the generation if the event just written found it due.
    #[inline(always)]
    fn end_event(&mut self, m: usize, due: bool) {
        if due {
            self.advance_generation(m);
        }
    }

    /// Hands `m`'s batch to the sink; ends the generation at the next event once its bytes are
    /// up.
    #[cold]
    #[inline(never)]
    pub(crate) fn flush_context(&mut self, m: usize) {
        self.stats.event_bytes += self.ms[m].batch.len() as u64;
        self.gen_bytes += hand_over(
            &mut self.ms[m].batch,
            &mut self.sink,
            &mut self.stats,
            self.gen,
            m as u64,
        ) as u64;
        let limit = self.config.generation_bytes;
        if limit != 0 && self.gen_bytes >= limit {
            self.gen_deadline = 0;
        }
    }
}

/// Hands `batch` to `sink` as a batch of generation `gen` for M `m`, counting its bytes.
pub(crate) fn hand_over<S: Sink, const BUF: usize>(
    batch: &mut Batch<BUF>,
    sink: &mut S,
    stats: &mut Stats,
    gen: u64,
    m: u64,
) -> usize {
    let n = batch.take(gen, m, |h, p| sink.write_batch(h, p));
    stats.bytes_written += n as u64;
    n
}

fn fail(m: usize, what: &'static str) -> Error {
    Error::Transition { m, what }
}
