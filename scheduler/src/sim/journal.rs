//! The simulator's record of what the scheduler did: every status change of a goroutine or an
//! executor, with the context that made it, in the order it was made, every user annotation, and
//! where tracing started and stopped.
//!
//! Go's parser accepting a trace says it is consistent, not that it tells what happened: events of
//! different contexts in the same clock tick may be ordered by Go another way, which can still be
//! valid (a steal put before the callback end that abandoned its executor). The journal is the
//! ground truth a trace is compared with (`tests/semantic.rs`). It is written by the kernel after
//! each change of its state machine, by comparing the statuses with those after the previous
//! change, so it does not depend on which event the scheduler meant to write.

use gotrace_encoder::{GoSlot, GoStatus, ProcStatus, Scheduling};
use gotrace_wire::EventType;

/// One entry of the journal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    /// Tracing started: the goroutine ID each live goroutine has in the new trace.
    TracingStarted {
        /// `(slot, ID)` of each goroutine alive at the start.
        ids: Vec<(GoSlot, u64)>,
    },
    /// Tracing stopped: the trace is complete.
    TracingStopped,
    /// A goroutine's status changed.
    Go {
        /// Its slot.
        slot: GoSlot,
        /// Its ID in the current trace (0 while none was given).
        id: u64,
        /// The context that made the change.
        by: By,
        /// The status before.
        from: GoStatus,
        /// The status after.
        to: GoStatus,
    },
    /// The goroutine running on a context wrote a user annotation.
    Annotation {
        /// The context and the goroutine on it (`by.g`, always there: the kernel writes an
        /// annotation only for a running goroutine).
        by: By,
        /// The Go event written for it.
        typ: EventType,
    },
    /// An executor's status changed.
    Proc {
        /// The executor.
        p: usize,
        /// The context that made the change.
        by: By,
        /// The status before.
        from: ProcStatus,
        /// The status after.
        to: ProcStatus,
    },
}

/// The context (Go's M) that made a change, as it was before the change: what Go's parser gives
/// as an event's M, P and G.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct By {
    /// The context.
    pub m: usize,
    /// The executor it held.
    pub p: Option<usize>,
    /// The ID of the goroutine on it.
    pub g: Option<u64>,
}

/// The journal, and the statuses it last saw (all dead and idle at first, as the machine starts).
#[derive(Debug, Default)]
pub struct Journal {
    entries: Vec<Entry>,
    gos: Vec<(GoSlot, GoStatus)>,
    procs: Vec<ProcStatus>,
    /// Each context's executor and goroutine.
    contexts: Vec<(Option<usize>, Option<GoSlot>)>,
}

impl Journal {
    /// An empty journal; `const` so the kernel stays constructible in a `static`.
    pub const fn new() -> Journal {
        Journal {
            entries: Vec::new(),
            gos: Vec::new(),
            procs: Vec::new(),
            contexts: Vec::new(),
        }
    }

    /// Records every status in `w` that changed since the last call, as made by context `m`;
    /// `id` gives a slot's goroutine ID in the current trace.
    pub(crate) fn note(
        &mut self,
        m: usize,
        w: &impl Scheduling,
        (tasks, procs, contexts): (usize, usize, usize),
        id: impl Fn(GoSlot) -> u64,
    ) {
        if self.gos.is_empty() {
            let slots = (0..tasks)
                .map(GoSlot::Task)
                .chain((0..contexts).map(GoSlot::Callback));
            self.gos = slots.map(|g| (g, GoStatus::Dead)).collect();
            self.procs = vec![ProcStatus::Idle; procs];
            self.contexts = vec![(None, None); contexts];
        }
        let by = self.by(m, &id);
        for (p, seen) in self.procs.iter_mut().enumerate() {
            let to = w.proc_status(p);
            if *seen != to {
                self.entries.push(Entry::Proc {
                    p,
                    by,
                    from: *seen,
                    to,
                });
                *seen = to;
            }
        }
        for (slot, seen) in &mut self.gos {
            let to = w.go_status(*slot);
            if *seen != to {
                self.entries.push(Entry::Go {
                    slot: *slot,
                    id: id(*slot),
                    by,
                    from: *seen,
                    to,
                });
                *seen = to;
            }
        }
        for (cx, held) in self.contexts.iter_mut().enumerate() {
            *held = (w.context_proc(cx), w.context_go(cx));
        }
    }

    /// Context `m` as the last change left it, its goroutine named by `id` (a restart of tracing
    /// names every goroutine anew).
    fn by(&self, m: usize, id: impl Fn(GoSlot) -> u64) -> By {
        let (p, g) = self.contexts.get(m).copied().unwrap_or_default();
        By { m, p, g: g.map(id) }
    }

    /// Records that tracing started, with the IDs `id` gives the live goroutines.
    pub(crate) fn started(&mut self, id: impl Fn(GoSlot) -> u64) {
        let ids = self
            .gos
            .iter()
            .filter(|(_, status)| *status != GoStatus::Dead)
            .map(|&(slot, _)| (slot, id(slot)))
            .collect();
        self.entries.push(Entry::TracingStarted { ids });
    }

    /// Records that the goroutine running on `m` wrote an annotation as event `typ`; `id` gives
    /// a slot's goroutine ID in the current trace.
    pub(crate) fn annotated(&mut self, m: usize, typ: EventType, id: impl Fn(GoSlot) -> u64) {
        let by = self.by(m, id);
        self.entries.push(Entry::Annotation { by, typ });
    }

    /// Records that tracing stopped.
    pub(crate) fn stopped(&mut self) {
        self.entries.push(Entry::TracingStopped);
    }

    /// The entries so far, oldest first.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }
}
