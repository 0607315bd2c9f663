//! Generations: starting and stopping a trace, and the boundaries between its slices.
//!
//! A generation ends with every context's batch flushed, then its `Frequency`, `Stacks` and
//! `Strings` batches. The next one begins by re-stating every P and every live G, read from the
//! scheduler's state ([`Scheduling`]): a P held by a context, and the goroutine on that context
//! (running, or sitting in a blocking operation), go into *that context's* batch, so the host
//! binds them to the right M (Go commit c469666); idle and abandoned Ps, runnable and waiting Gs go into
//! the batch of the context doing the advance. After the re-statement every sequence number
//! restarts from 0, as Go's parser expects. A goroutine first named in a trace gets its ID here.

use gotrace_wire::{go_status, proc_status, varint, EventType, Version, NO_THREAD};

use crate::batch::Batch;
use crate::clock::{Clock, Waited};
use crate::encoder::{hand_over, Encoder, Outlet, Stats};
use crate::error::Error;
use crate::intern::MAX_STRING_LEN;
use crate::reason::Reason;
use crate::sink::Sink;
use crate::state::{GoSlot, GoStatus, GoTrace, ProcStatus, Scheduling};

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
    /// Starts a trace (a new file header, generation 1) from context `m`, re-stating the state
    /// `w`.
    pub fn start<W: Scheduling>(&mut self, m: usize, w: &W) -> Result<(), Error> {
        self.require_tracing(m, false)?;
        let header = Version::Go122.header();
        self.sink.begin_trace(&header);
        self.counts.bytes_written = self.counts.bytes_written.wrapping_add(header.len() as u32);
        self.tracing = true;
        self.gen = 1;
        // Goroutine IDs belong to one trace: every live goroutine is named anew.
        self.next_goid = 1;
        self.tasks = [GoTrace::NEW; GS];
        self.callbacks = [GoTrace::NEW; MS];
        self.begin_generation(m, w, Waited::new());
        Ok(())
    }

    /// Ends the current generation and the trace.
    pub fn stop(&mut self, m: usize) -> Result<(), Error> {
        self.require_tracing(m, true)?;
        // A wait for the sink after the trace's last time has no time to set right.
        let _ = self.end_generation();
        self.tracing = false;
        self.sink.end_trace();
        Ok(())
    }

    /// Ends the current generation now and begins the next (from context `m`), re-stating the
    /// state `w`.
    pub fn advance<W: Scheduling>(&mut self, m: usize, w: &W) -> Result<(), Error> {
        self.require_tracing(m, true)?;
        self.advance_generation(m, w);
        Ok(())
    }

    /// Ends the generation [`Encoder::go_create`] found due, once the caller's state change is
    /// made (an infallible [`Encoder::advance`] for the context the event was written on).
    #[inline(never)]
    pub fn end_due<W: Scheduling>(&mut self, m: usize, w: &W) {
        if self.tracing && m < MS {
            self.advance_generation(m, w);
        }
    }

    fn require_tracing(&self, m: usize, on: bool) -> Result<(), Error> {
        match (m < MS, self.tracing) {
            (false, _) => Err(Error::NoSuchContext(m)),
            (true, true) if !on => Err(Error::AlreadyTracing),
            (true, false) if on => Err(Error::NotTracing),
            _ => Ok(()),
        }
    }

    #[inline(never)]
    pub(crate) fn advance_generation<W: Scheduling>(&mut self, m: usize, w: &W) {
        let waited = self.end_generation();
        self.gen = self.gen.wrapping_add(1);
        self.begin_generation(m, w, waited);
    }

    /// The goroutine ID of `g`, naming it if it has none in this trace yet.
    fn named(&mut self, g: GoSlot) -> u64 {
        match self.go(g) {
            None => 0,
            Some(t) if t.id != 0 => t.id.into(),
            Some(_) => {
                let id = self.new_goid();
                if let Some(t) = self.go_mut(g) {
                    t.id = id;
                }
                id.into()
            }
        }
    }

    /// Begins a generation, at a time read after the wait for the sink that `waited` saw.
    fn begin_generation<W: Scheduling>(&mut self, m_adv: usize, w: &W, waited: Waited) {
        self.gen_bytes = 0;
        // No boundary while the state is re-stated; a byte limit reached meanwhile is noticed at
        // the next batch handed over.
        self.gen_deadline = u64::MAX;
        let start = self.now_after(waited);
        self.counts.generations = self.counts.generations.wrapping_add(1);
        for batch in &mut self.batches {
            batch.rebase(start as u32);
        }
        self.procs = [0; PS];
        for t in &mut self.tasks {
            t.seq = 0;
        }
        for t in &mut self.callbacks {
            t.seq = 0;
        }
        // Bound state first, each in the batch of the context that holds it.
        for m in 0..MS {
            if let Some(p) = w.context_proc(m) {
                self.restate_proc(m, p, w.proc_status(p));
            }
            if let Some(g) = w.context_go(m) {
                self.restate_go(m, m as u64, g, w.go_status(g));
            }
        }
        for p in 0..PS {
            let status = w.proc_status(p);
            if matches!(status, ProcStatus::Idle | ProcStatus::Abandoned) {
                self.restate_proc(m_adv, p, status);
            }
        }
        // Tasks, then callbacks: one loop.
        for i in 0..GS + MS {
            let g = i.checked_sub(GS).map_or(GoSlot::Task(i), GoSlot::Callback);
            self.restate_unbound(m_adv, g, w);
        }
        let period = self.config.generation_ticks;
        self.gen_deadline = if period == 0 {
            u64::MAX
        } else {
            start.saturating_add(period.into())
        };
    }

    #[inline(never)]
    fn restate_proc(&mut self, m: usize, p: usize, status: ProcStatus) {
        let code = match status {
            ProcStatus::Idle => proc_status::IDLE,
            ProcStatus::Running => proc_status::RUNNING,
            ProcStatus::Syscall => proc_status::SYSCALL,
            ProcStatus::Abandoned => proc_status::SYSCALL_ABANDONED,
        };
        self.status(m, EventType::PROC_STATUS, &[p as u64, code]);
    }

    /// The status of goroutine `g`, on M `thread` (`NO_THREAD`: none), in `m`'s batch.
    #[inline(never)]
    fn restate_go(&mut self, m: usize, thread: u64, g: GoSlot, status: GoStatus) {
        let code = match status {
            GoStatus::Dead => return,
            GoStatus::Runnable => go_status::RUNNABLE,
            GoStatus::Running => go_status::RUNNING,
            GoStatus::Syscall => go_status::SYSCALL,
            GoStatus::Waiting => go_status::WAITING,
        };
        let id = self.named(g);
        self.status(m, EventType::GO_STATUS, &[id, thread, code]);
    }

    /// A goroutine on no context: runnable and waiting ones are re-stated.
    fn restate_unbound<W: Scheduling>(&mut self, m: usize, g: GoSlot, w: &W) {
        let status = w.go_status(g);
        if matches!(status, GoStatus::Runnable | GoStatus::Waiting) {
            self.restate_go(m, NO_THREAD, g, status);
        }
    }

    fn status(&mut self, m: usize, typ: EventType, args: &[u64]) {
        // No generation is due while it begins: the deadline is set after the statuses.
        self.emit(m, typ, args);
        self.counts.status_events = self.counts.status_events.wrapping_add(1);
    }

    /// Flushes every context's batch, then writes the generation's frequency, stacks and strings.
    /// Returns the readings taken while the sink had no room for the tables, for the next
    /// generation's start.
    fn end_generation(&mut self) -> Waited {
        let latest = self.latest();
        let mut waited = Waited::new();
        for m in 0..MS {
            if self.batches.get(m).is_some_and(|b| !b.is_empty()) {
                self.flush_context(m, latest, &mut waited);
            }
        }
        // Every context batch is empty now: context 0's buffer serves as scratch.
        let ts = self.now_after(waited);
        let mut waited = Waited::new();
        let frequency = self.clock.frequency();
        let Encoder {
            batches,
            sink,
            clock,
            counts,
            gen,
            stacks,
            strings,
            ..
        } = self;
        let Some(batch) = batches.first_mut() else {
            return waited;
        };
        // A wait for the sink here is applied at the next reading: the next generation's start
        // (the batches are empty till then).
        let mut table = Table {
            batch,
            out: Outlet {
                sink,
                clock,
                waited: &mut waited,
                latest: ts as u32,
            },
            counts,
            gen: *gen,
            ts,
            kind: EventType::FREQUENCY,
        };
        table.entry(&[], &[frequency], &[]);
        table.finish(EventType::STACKS);
        for (id, pc) in stacks.iter() {
            // One frame: PC, then function, file and line (zeros, one byte each) left for the
            // host to symbolize.
            table.entry(&[EventType::STACK.0], &[id, 1, pc], &[0, 0, 0]);
        }
        table.finish(EventType::STRINGS);
        for r in Reason::ALL {
            table.string(r.string_id().into(), r.text());
        }
        for (id, s) in strings.iter() {
            table.string(id, s);
        }
        table.finish(EventType::NONE);
        stacks.clear();
        strings.clear();
        waited
    }
}

/// Builds structural batches (frequency, stacks, strings) in context 0's empty buffer, one kind
/// after the other, splitting a kind into several batches when it outgrows the buffer.
struct Table<'e, S, C, const BUF: usize> {
    batch: &'e mut Batch<BUF>,
    out: Outlet<'e, S, C>,
    counts: &'e mut Stats,
    gen: u32,
    ts: u64,
    kind: EventType,
}

impl<S: Sink, C: Clock, const BUF: usize> Table<'_, S, C, BUF> {
    /// A `String` entry: its ID, then the text (cut to what Go accepts and half a batch).
    #[inline(never)]
    fn string(&mut self, id: u64, s: &str) {
        let bytes = s.as_bytes();
        let bytes = bytes.get(..MAX_STRING_LEN.min(BUF / 2)).unwrap_or(bytes);
        self.entry(&[EventType::STRING.0], &[id, bytes.len() as u64], bytes);
    }

    /// Appends `prefix`, the varints `args`, then `tail`, starting a new batch if the entry may
    /// not fit (counting every varint at its longest; an empty batch takes any entry, which
    /// always fits: strings are cut to half a batch).
    fn entry(&mut self, prefix: &[u8], args: &[u64], tail: &[u8]) {
        let len = prefix.len() + args.len() * varint::MAX_LEN + tail.len();
        if !self.batch.is_empty() && self.batch.remaining() < len {
            self.hand_over();
        }
        if self.batch.is_empty() {
            self.batch.rebase(self.ts as u32);
            self.batch.push_bytes(&[self.kind.0]);
        }
        self.batch.push_bytes(prefix);
        for &a in args {
            self.batch.put(a);
        }
        self.batch.push_bytes(tail);
    }

    fn hand_over(&mut self) {
        if !self.batch.is_empty() {
            let high = (self.ts >> 32) as u32;
            hand_over(
                self.batch,
                &mut self.out,
                self.counts,
                self.gen,
                NO_THREAD,
                high,
            );
        }
    }

    /// Hands the current kind's last batch over; `next` is the kind that follows.
    fn finish(&mut self, next: EventType) {
        self.hand_over();
        self.kind = next;
    }
}
