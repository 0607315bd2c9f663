//! Generations: starting and stopping a trace, and the boundaries between its slices.
//!
//! A generation ends with every context's batch flushed, then its `Frequency`, `Stacks` and
//! `Strings` batches. The next one begins by re-stating every P and every live G, read from the
//! scheduler's state ([`Scheduling`]): a P held by a context, and the goroutine on that context
//! (running, or sitting in a blocking operation), go into *that context's* batch, so the host
//! binds them to the right M (seed 002); idle and abandoned Ps, runnable and waiting Gs go into
//! the batch of the context doing the advance. After the re-statement every sequence number
//! restarts from 0, as Go's parser expects. A goroutine first named in a trace gets its ID here.

use gotrace_wire::{go_status, proc_status, varint, EventType, Version, NO_THREAD};

use crate::clock::Clock;
use crate::encoder::{hand_over, Encoder};
use crate::error::Error;
use crate::intern::MAX_STRING_LEN;
use crate::reason::Reason;
use crate::sink::Sink;
use crate::state::{GoSlot, GoStatus, GoTrace, ProcStatus, Scheduling};

impl<
        S: Sink,
        C: Clock,
        const MS: usize,
        const PS: usize,
        const GS: usize,
        const BUF: usize,
        const TABLE: usize,
    > Encoder<S, C, MS, PS, GS, BUF, TABLE>
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
        for t in self.tasks.iter_mut().chain(&mut self.callbacks) {
            *t = GoTrace::NEW;
        }
        self.begin_generation(m, w);
        Ok(())
    }

    /// Ends the current generation and the trace.
    pub fn stop(&mut self, m: usize) -> Result<(), Error> {
        self.require_tracing(m, true)?;
        self.end_generation();
        self.tracing = false;
        self.sink.end_trace();
        Ok(())
    }

    /// Ends the current generation now and begins the next (from context `m`), re-stating the
    /// state `w`. Also what a scheduling event's "due" answer asks for.
    pub fn advance<W: Scheduling>(&mut self, m: usize, w: &W) -> Result<(), Error> {
        self.require_tracing(m, true)?;
        self.advance_generation(m, w);
        Ok(())
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
        self.end_generation();
        self.gen = self.gen.wrapping_add(1);
        self.begin_generation(m, w);
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

    fn begin_generation<W: Scheduling>(&mut self, m_adv: usize, w: &W) {
        self.gen_bytes = 0;
        // No boundary while the state is re-stated; a byte limit reached meanwhile is noticed at
        // the next batch handed over.
        self.gen_deadline = u64::MAX;
        let start = self.now();
        self.counts.generations = self.counts.generations.wrapping_add(1);
        for batch in &mut self.batches {
            batch.rebase(start);
        }
        self.procs = [0; PS];
        for t in self.tasks.iter_mut().chain(&mut self.callbacks) {
            t.seq = 0;
        }
        // Bound state first, each in the batch of the context that holds it.
        for m in 0..MS {
            if let Some(p) = w.context_proc(m) {
                let code = match w.proc_status(p) {
                    ProcStatus::Syscall => proc_status::SYSCALL,
                    _ => proc_status::RUNNING,
                };
                self.status(m, EventType::PROC_STATUS, &[p as u64, code]);
            }
            if let Some(g) = w.context_go(m) {
                let code = match w.go_status(g) {
                    GoStatus::Syscall => go_status::SYSCALL,
                    _ => go_status::RUNNING,
                };
                let id = self.named(g);
                self.status(m, EventType::GO_STATUS, &[id, m as u64, code]);
            }
        }
        for p in 0..PS {
            let code = match w.proc_status(p) {
                ProcStatus::Idle => proc_status::IDLE,
                ProcStatus::Abandoned => proc_status::SYSCALL_ABANDONED,
                ProcStatus::Running | ProcStatus::Syscall => continue,
            };
            self.status(m_adv, EventType::PROC_STATUS, &[p as u64, code]);
        }
        let slots = (0..GS)
            .map(GoSlot::Task)
            .chain((0..MS).map(GoSlot::Callback));
        for g in slots {
            let code = match w.go_status(g) {
                GoStatus::Runnable => go_status::RUNNABLE,
                GoStatus::Waiting => go_status::WAITING,
                GoStatus::Dead | GoStatus::Running | GoStatus::Syscall => continue,
            };
            let id = self.named(g);
            self.status(m_adv, EventType::GO_STATUS, &[id, NO_THREAD, code]);
        }
        let period = self.config.generation_ticks;
        self.gen_deadline = if period == 0 {
            u64::MAX
        } else {
            start.saturating_add(period.into())
        };
    }

    fn status(&mut self, m: usize, typ: EventType, args: &[u64]) {
        // No generation is due while it begins: the deadline is set after the statuses.
        self.emit(m, typ, args);
        self.counts.status_events = self.counts.status_events.wrapping_add(1);
    }

    /// Flushes every context's batch, then writes the generation's frequency, stacks and strings.
    fn end_generation(&mut self) {
        for m in 0..MS {
            if self.batches.get(m).is_some_and(|b| !b.is_empty()) {
                self.flush_context(m);
            }
        }
        // Every context batch is empty now: context 0's buffer serves as scratch.
        let ts = self.now();
        let frequency = self.clock.frequency();
        let mut table = Table::new(self, ts, EventType::FREQUENCY);
        table.entry(&[], &[frequency], &[]);
        table.finish();

        let stacks = core::mem::take(&mut self.stacks);
        let mut table = Table::new(self, ts, EventType::STACKS);
        for (id, pc) in stacks.iter() {
            // One frame: PC, then function, file and line left for the host to symbolize.
            table.entry(&[EventType::STACK.0], &[id, 1, pc, 0, 0, 0], &[]);
        }
        table.finish();

        let strings = core::mem::take(&mut self.strings);
        let mut table = Table::new(self, ts, EventType::STRINGS);
        let reasons = Reason::ALL.map(|r| (u64::from(r.string_id()), r.text()));
        for (id, s) in reasons.into_iter().chain(strings.iter()) {
            let bytes = &s.as_bytes()[..s.len().min(MAX_STRING_LEN).min(BUF / 2)];
            table.entry(&[EventType::STRING.0], &[id, bytes.len() as u64], bytes);
        }
        table.finish();
    }
}

/// Builds one kind of structural batch in context 0's (empty) buffer, splitting it into several
/// batches of the same kind when it outgrows the buffer.
struct Table<
    'e,
    S,
    C,
    const MS: usize,
    const PS: usize,
    const GS: usize,
    const BUF: usize,
    const TABLE: usize,
> {
    enc: &'e mut Encoder<S, C, MS, PS, GS, BUF, TABLE>,
    kind: EventType,
    ts: u64,
}

impl<
        'e,
        S: Sink,
        C: Clock,
        const MS: usize,
        const PS: usize,
        const GS: usize,
        const BUF: usize,
        const TABLE: usize,
    > Table<'e, S, C, MS, PS, GS, BUF, TABLE>
{
    fn new(enc: &'e mut Encoder<S, C, MS, PS, GS, BUF, TABLE>, ts: u64, kind: EventType) -> Self {
        Table { enc, kind, ts }
    }

    /// Appends `prefix`, the varints `args`, then `tail`, starting a new batch if needed.
    fn entry(&mut self, prefix: &[u8], args: &[u64], tail: &[u8]) {
        let len =
            prefix.len() + args.iter().map(|&a| varint::encoded_len(a)).sum::<usize>() + tail.len();
        let Some(batch) = self.enc.batches.first_mut() else {
            return;
        };
        if !batch.is_empty() && batch.remaining() < len {
            self.finish();
        }
        let Some(batch) = self.enc.batches.first_mut() else {
            return;
        };
        if batch.is_empty() {
            batch.rebase(self.ts);
            batch.push_bytes(&[self.kind.0]);
        }
        batch.push_bytes(prefix);
        for &a in args {
            batch.put(a);
        }
        batch.push_bytes(tail);
    }

    fn finish(&mut self) {
        let enc = &mut *self.enc;
        if let Some(batch) = enc.batches.first_mut() {
            if !batch.is_empty() {
                hand_over(batch, &mut enc.sink, &mut enc.counts, enc.gen, NO_THREAD);
            }
        }
    }
}
