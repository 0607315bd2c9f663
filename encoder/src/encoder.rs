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

use gotrace_wire::EventType;

use crate::batch::Batch;
use crate::clock::Clock;
use crate::error::Error;
use crate::intern::{Stacks, Strings};
use crate::sink::Sink;
use crate::state::{GoSlot, GoState, GoStatus, MState, ProcState, ProcStatus};

/// When generations end on their own (0 disables a limit). A generation also ends when tracing
/// stops, when [`Encoder::advance`] is called, and when its string or stack table is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// End the generation once this many clock ticks have passed since it began.
    pub generation_ticks: u64,
    /// End the generation once its events take this many bytes.
    pub generation_bytes: u64,
}

impl Config {
    /// No automatic boundaries.
    pub const MANUAL: Config = Config {
        generation_ticks: 0,
        generation_bytes: 0,
    };
}

/// What the encoder has written, for measurements.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Timed events of every kind.
    pub events: u64,
    /// Their encoded bytes (type, delta, arguments).
    pub event_bytes: u64,
    /// Scheduling events: P and G state changes (not statuses, not annotations).
    pub sched_events: u64,
    pub sched_event_bytes: u64,
    /// Status events written at generation starts.
    pub status_events: u64,
    /// Every byte handed to the sink, headers and tables included.
    pub bytes_written: u64,
    pub generations: u64,
}

/// The kind of an event, for [`Stats`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    Sched,
    Status,
    Annotation,
}

/// The smallest batch buffer: room for the largest event with margin.
pub const MIN_BATCH_CAPACITY: usize = 64;

/// A trace encoder for `MS` execution contexts, `PS` executors and `GS` task slots, with batch
/// buffers of `BUF` bytes per context.
pub struct Encoder<S, C, const MS: usize, const PS: usize, const GS: usize, const BUF: usize> {
    pub(crate) sink: S,
    pub(crate) clock: C,
    pub(crate) config: Config,
    pub(crate) tracing: bool,
    pub(crate) gen: u64,
    pub(crate) gen_start: u64,
    pub(crate) gen_bytes: u64,
    pub(crate) last_ts: u64,
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
            gen_start: 0,
            gen_bytes: 0,
            last_ts: 0,
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
                sched_events: 0,
                sched_event_bytes: 0,
                status_events: 0,
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

    pub fn stats(&self) -> Stats {
        self.stats
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
        self.ps[p] = ProcState {
            status: ProcStatus::Running,
            m,
            seq: st.seq + 1,
        };
        self.ms[m].p = Some(p);
        self.emit(
            m,
            EventType::PROC_START,
            &[p as u64, st.seq + 1],
            Class::Sched,
        );
        self.maybe_advance(m);
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
        self.ps[p].status = ProcStatus::Idle;
        self.ms[m].p = None;
        self.emit(m, EventType::PROC_STOP, &[], Class::Sched);
        self.maybe_advance(m);
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
        self.emit(
            m,
            EventType::PROC_STEAL,
            &[p as u64, st.seq + 1, st.m as u64],
            Class::Sched,
        );
        self.maybe_advance(m);
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
        self.emit(m, EventType::GO_CREATE, &[id, stack, 0], Class::Sched);
        self.maybe_advance(m);
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
        *self.go_mut(g) = GoState {
            status: GoStatus::Running,
            seq: st.seq + 1,
            ..st
        };
        self.ms[m].g = Some(g);
        self.emit(m, EventType::GO_START, &[st.id, st.seq + 1], Class::Sched);
        self.maybe_advance(m);
        Ok(())
    }

    /// The running task on `m` yields and stays runnable: `GoStop`.
    pub fn go_stop(&mut self, m: usize, reason: &'static str) -> Result<(), Error> {
        self.leave(m, reason, GoStatus::Runnable, EventType::GO_STOP)
    }

    /// The running task on `m` blocks until woken: `GoBlock`.
    pub fn go_block(&mut self, m: usize, reason: &'static str) -> Result<(), Error> {
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
        self.emit(m, EventType::GO_DESTROY, &[], Class::Sched);
        self.maybe_advance(m);
        Ok(())
    }

    /// Any context wakes waiting `g`: `GoUnblock`.
    pub fn go_unblock(&mut self, m: usize, g: GoSlot) -> Result<(), Error> {
        self.m(m)?;
        let st = *self.go(g)?;
        if st.status != GoStatus::Waiting {
            return Err(fail(m, "GoUnblock: goroutine is not waiting"));
        }
        *self.go_mut(g) = GoState {
            status: GoStatus::Runnable,
            seq: st.seq + 1,
            ..st
        };
        self.emit(
            m,
            EventType::GO_UNBLOCK,
            &[st.id, st.seq + 1, 0],
            Class::Sched,
        );
        self.maybe_advance(m);
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
        self.emit(m, EventType::GO_SYSCALL_BEGIN, &[seq, 0], Class::Sched);
        self.maybe_advance(m);
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
        self.emit(m, typ, &[], Class::Sched);
        self.maybe_advance(m);
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
        self.emit(m, EventType::GO_CREATE_SYSCALL, &[id], Class::Sched);
        self.maybe_advance(m);
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
        self.emit(m, EventType::GO_DESTROY_SYSCALL, &[], Class::Sched);
        self.maybe_advance(m);
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
        self.emit(m, typ, args, Class::Annotation);
        self.maybe_advance(m);
        Ok(())
    }

    // ---- helpers ----

    fn leave(
        &mut self,
        m: usize,
        reason: &'static str,
        status: GoStatus,
        typ: EventType,
    ) -> Result<(), Error> {
        let g = self.require_running_go(m, "GoStop/GoBlock")?;
        let [reason] = self.intern_strings(m, [reason]);
        self.go_mut(g).status = status;
        self.ms[m].g = None;
        self.emit(m, typ, &[reason, 0], Class::Sched);
        self.maybe_advance(m);
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
        if names.iter().any(|n| self.strings.would_overflow(n)) {
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

    /// Writes one event into `m`'s batch if tracing, flushing the batch when it is full.
    pub(crate) fn emit(&mut self, m: usize, typ: EventType, args: &[u64], class: Class) {
        if !self.tracing {
            return;
        }
        let ts = self.clock.now().max(self.last_ts);
        self.last_ts = ts;
        let len = match self.ms[m].batch.push_event(ts, typ, args) {
            Some(len) => len,
            None => {
                self.flush_context(m);
                self.ms[m]
                    .batch
                    .push_event(ts, typ, args)
                    .unwrap_or_default()
            }
        };
        let len = len as u64;
        self.gen_bytes += len;
        self.stats.events += 1;
        self.stats.event_bytes += len;
        match class {
            Class::Sched => {
                self.stats.sched_events += 1;
                self.stats.sched_event_bytes += len;
            }
            Class::Status => self.stats.status_events += 1,
            Class::Annotation => {}
        }
    }

    /// Hands `m`'s batch to the sink.
    pub(crate) fn flush_context(&mut self, m: usize) {
        hand_over(
            &mut self.ms[m].batch,
            &mut self.sink,
            &mut self.stats,
            self.gen,
            m as u64,
        );
    }

    /// Ends the generation if it has run for its period or taken its bytes.
    fn maybe_advance(&mut self, m: usize) {
        if !self.tracing {
            return;
        }
        let Config {
            generation_ticks,
            generation_bytes,
        } = self.config;
        let by_time = generation_ticks != 0
            && self.last_ts.saturating_sub(self.gen_start) >= generation_ticks;
        let by_bytes = generation_bytes != 0 && self.gen_bytes >= generation_bytes;
        if by_time || by_bytes {
            self.advance_generation(m);
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
) {
    let n = batch.take(gen, m, |h, p| sink.write_batch(h, p));
    stats.bytes_written += n as u64;
}

fn fail(m: usize, what: &'static str) -> Error {
    Error::Transition { m, what }
}
