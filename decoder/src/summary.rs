//! Where each goroutine's time went: running, waiting for a P, blocked (by reason), in system
//! calls. These are the figures of `go tool trace`'s goroutine analysis (its `/goroutines` and
//! `/goroutine` pages), reckoned by the same rules from the validated event stream, so that both
//! give the same nanoseconds. On a device: how long each task ran, waited to run after its wake,
//! waited for its wake, and spent in blocking transfers.
//!
//! ```
//! # let trace = b"go 1.22 trace\0\0\0\x01\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01\0\x02\x08\x01";
//! let mut reader = gotrace_decoder::Reader::new(&trace[..])?;
//! let mut summarizer = gotrace_decoder::Summarizer::new();
//! while let Some(event) = reader.read_event_ref()? {
//!     summarizer.event(event);
//! }
//! for g in summarizer.finish() {
//!     println!("G{} ran {} ns of its {} ns", g.id, g.times.exec, g.times.total);
//! }
//! # Ok::<(), gotrace_decoder::Error>(())
//! ```
//!
//! Go's rules are kept where they surprise, since agreeing with its viewer is the point: a time of
//! 0 stands for "not yet" (an event at time 0 starts nothing); a goroutine whose state is
//! re-stated from unknown starts its figures anew; a system call whose P was taken away counts,
//! from then on, as a blocked system call if it returns, but, if it is still going at the trace's
//! end, as a system call throughout and also as waiting for a P since the loss (the figures then
//! add up to more than the goroutine's total, in the viewer too).

use std::collections::{BTreeMap, HashMap};

use crate::event::{
    Event, EventKind, GoId, GoState, ProcId, ProcState, Resource, Time, Transition, NO_PROC,
};

/// Where one goroutine's time went, in nanoseconds (Go's `GoroutineExecStats`).
///
/// `exec`, `sched_wait`, `blocked`, `syscall` and `syscall_blocked` do not overlap; `total` is
/// the goroutine's time in the trace, and [`GoroutineTimes::unknown`] what the others leave of
/// it. `ranges` (a mark assist, a sweep, a stop of the world) overlap the others.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GoroutineTimes {
    /// Running.
    pub exec: i64,
    /// Runnable, waiting for a P.
    pub sched_wait: i64,
    /// Waiting, by the reason its block gave: each reason it blocked for, even for no time.
    pub blocked: BTreeMap<Vec<u8>, i64>,
    /// In a system call (on a device: a blocking operation) with its P.
    pub syscall: i64,
    /// In a system call after its P was taken (stolen, or handed on).
    pub syscall_blocked: i64,
    /// From its creation (or the trace's start) to its end (or the trace's end).
    pub total: i64,
    /// In each range that names it (or ran on its P from begin to end), by the range's name.
    pub ranges: BTreeMap<Vec<u8>, i64>,
}

impl GoroutineTimes {
    /// What the non-overlapping figures leave of `total` (0 if they exceed it).
    pub fn unknown(&self) -> i64 {
        let accounted = [
            self.exec,
            self.sched_wait,
            self.syscall,
            self.syscall_blocked,
        ]
        .into_iter()
        .chain(self.blocked.values().copied())
        .fold(0, i64::wrapping_add);
        if accounted < self.total {
            self.total.wrapping_sub(accounted)
        } else {
            0
        }
    }

    /// The non-overlapping figures under the names `go tool trace` gives them, in the order its
    /// goroutine page shows them: "Execution time" first, the rest by name.
    pub fn named(&self) -> Vec<(String, i64)> {
        let mut named: BTreeMap<String, i64> = BTreeMap::from([
            ("Sched wait time".to_owned(), self.sched_wait),
            ("Syscall execution time".to_owned(), self.syscall),
            ("Block time (syscall)".to_owned(), self.syscall_blocked),
            ("Unknown time".to_owned(), self.unknown()),
        ]);
        for (reason, &time) in &self.blocked {
            let name = format!("Block time ({})", String::from_utf8_lossy(reason));
            accrue(named.entry(name).or_default(), time);
        }
        let mut ordered = vec![("Execution time".to_owned(), self.exec)];
        ordered.extend(named);
        ordered
    }
}

/// One goroutine of the trace and where its time went (Go's `GoroutineSummary`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoroutineSummary {
    /// Its ID.
    pub id: GoId,
    /// The function of the outermost frame of the first stack seen with one of its state
    /// changes (its entry function: for a creation, the new goroutine's stack); empty if none.
    pub name: Vec<u8>,
    /// That frame's PC; 0 if none.
    pub pc: u64,
    /// When it was created, or the start of the generation it was first seen in.
    pub creation: Time,
    /// When it first ran, if it did.
    pub start: Option<Time>,
    /// When it ended (or blocked forever), if it did.
    pub end: Option<Time>,
    /// Where its time went.
    pub times: GoroutineTimes,
}

/// Adds `nanos` to a figure as Go adds durations: modulo 2^64, for a trace whose times span
/// more than half of that range (Go's parser takes any 64-bit timestamp).
fn accrue(figure: &mut i64, nanos: i64) {
    *figure = figure.wrapping_add(nanos);
}

/// The times since when a goroutine has been in its current state; 0 for "not in it".
#[derive(Default)]
struct Since {
    running: Time,
    runnable: Time,
    blocked: Time,
    block_reason: Vec<u8>,
    syscall: Time,
    /// When its system call lost its P.
    syscall_blocked: Time,
    ranges: HashMap<Vec<u8>, Time>,
}

/// A goroutine's figures so far and the states they are running in.
struct Tracked {
    summary: GoroutineSummary,
    since: Since,
}

impl Tracked {
    fn new(id: GoId, creation: Time) -> Tracked {
        Tracked {
            summary: GoroutineSummary {
                id,
                name: Vec::new(),
                pc: 0,
                creation,
                start: None,
                end: None,
                times: GoroutineTimes::default(),
            },
            since: Since::default(),
        }
    }

    /// The figures as they would stand at `now`: the states still running counted up to it.
    fn snapshot(&self, now: Time) -> GoroutineTimes {
        let mut times = self.summary.times.clone();
        let since = &self.since;
        if times.total == 0 {
            times.total = now.wrapping_sub(self.summary.creation);
        }
        if since.running != 0 {
            accrue(&mut times.exec, now.wrapping_sub(since.running));
        }
        if since.runnable != 0 {
            accrue(&mut times.sched_wait, now.wrapping_sub(since.runnable));
        }
        if since.blocked != 0 {
            accrue(
                times.blocked.entry(since.block_reason.clone()).or_default(),
                now.wrapping_sub(since.blocked),
            );
        }
        if since.syscall != 0 {
            accrue(&mut times.syscall, now.wrapping_sub(since.syscall));
        }
        // Go's viewer counts a system call that lost its P, still going at the end, as waiting.
        if since.syscall_blocked != 0 {
            accrue(
                &mut times.sched_wait,
                now.wrapping_sub(since.syscall_blocked),
            );
        }
        for (name, &from) in &since.ranges {
            accrue(
                times.ranges.entry(name.clone()).or_default(),
                now.wrapping_sub(from),
            );
        }
        times
    }

    /// Closes the figures at `now` (the goroutine ended, or the trace did).
    fn finalize(&mut self, now: Time) {
        self.summary.times = self.snapshot(now);
        self.since = Since::default();
    }
}

/// Builds each goroutine's [`GoroutineSummary`] from a validated event stream: feed it every
/// event in order ([`Summarizer::event`]), then [`Summarizer::finish`].
///
/// Its memory grows with the goroutines seen, not with the events: every goroutine's figures are
/// kept to the end, as the viewer's pages list them all, about 800 bytes each (`gotrace stats` on
/// a trace of 1.19 million goroutines peaked at 940 MB of RSS; `go tool trace`'s viewer, for the
/// same figures, at 9.2 GB).
#[derive(Default)]
pub struct Summarizer {
    goroutines: HashMap<GoId, Tracked>,
    /// The goroutine in a system call on each P, and the P of each goroutine in one: a P going
    /// idle while its goroutine is in a system call means the call lost it.
    syscalling_p: HashMap<ProcId, GoId>,
    syscalling_g: HashMap<GoId, ProcId>,
    /// A range on a P, by the P and the range's name: the goroutine that began it, whose figures
    /// get it if the same goroutine ends it.
    ranges_p: HashMap<(ProcId, Vec<u8>), GoId>,
    /// The last event's time.
    last: Time,
    /// The last Sync event's time (the first event's before any).
    sync: Time,
}

impl Summarizer {
    /// No event seen yet.
    pub fn new() -> Summarizer {
        Summarizer::default()
    }

    /// Accounts for the next event of the stream.
    pub fn event(&mut self, event: &Event) {
        let now = event.time();
        if self.sync == 0 {
            self.sync = now;
        }
        self.last = now;
        match event.kind() {
            EventKind::Sync => self.sync = now,
            EventKind::StateTransition => self.transition(event),
            EventKind::RangeBegin | EventKind::RangeActive => self.range_begin(event),
            EventKind::RangeEnd => self.range_end(event),
            _ => {}
        }
    }

    /// Every goroutine seen, its figures closed at the last event, by ID.
    pub fn finish(mut self) -> Vec<GoroutineSummary> {
        let mut summaries: Vec<GoroutineSummary> = self
            .goroutines
            .drain()
            .map(|(_, mut g)| {
                g.finalize(self.last);
                g.summary
            })
            .collect();
        summaries.sort_by_key(|g| g.id);
        summaries
    }

    fn transition(&mut self, event: &Event) {
        let Some(transition) = event.state_transition() else {
            return;
        };
        let now = event.time();
        match transition.transition {
            Transition::Goroutine { id, from, to } if from != to => {
                let g = match from {
                    GoState::Undetermined => {
                        // First seen at a generation's start: in its state since that start.
                        let mut g = Tracked::new(id, self.sync);
                        let times = &mut g.summary.times;
                        let spent = now.wrapping_sub(self.sync);
                        match to {
                            GoState::Running => times.exec = spent,
                            GoState::Waiting => {
                                times.blocked.insert(transition.reason.to_vec(), spent);
                            }
                            GoState::Runnable => times.sched_wait = spent,
                            GoState::Syscall if event.proc_id() == NO_PROC => {
                                times.syscall_blocked = spent
                            }
                            GoState::Syscall => times.syscall = spent,
                            _ => {}
                        }
                        self.goroutines.insert(id, g);
                        self.goroutines.get_mut(&id)
                    }
                    GoState::NotExist => {
                        self.goroutines.insert(id, Tracked::new(id, now));
                        self.goroutines.get_mut(&id)
                    }
                    _ => self.goroutines.get_mut(&id),
                };
                // A goroutine in any other state was seen before, in a valid trace.
                let Some(g) = g else { return };
                let (times, since) = (&mut g.summary.times, &mut g.since);
                match from {
                    GoState::Running => {
                        accrue(&mut times.exec, now.wrapping_sub(since.running));
                        since.running = 0;
                    }
                    GoState::Waiting if since.blocked != 0 => {
                        accrue(
                            times.blocked.entry(since.block_reason.clone()).or_default(),
                            now.wrapping_sub(since.blocked),
                        );
                        since.blocked = 0;
                    }
                    GoState::Runnable if since.runnable != 0 => {
                        accrue(&mut times.sched_wait, now.wrapping_sub(since.runnable));
                        since.runnable = 0;
                    }
                    GoState::Syscall if since.syscall != 0 => {
                        if since.syscall_blocked != 0 {
                            accrue(
                                &mut times.syscall_blocked,
                                now.wrapping_sub(since.syscall_blocked),
                            );
                            accrue(
                                &mut times.syscall,
                                since.syscall_blocked.wrapping_sub(since.syscall),
                            );
                        } else {
                            accrue(&mut times.syscall, now.wrapping_sub(since.syscall));
                        }
                        since.syscall = 0;
                        since.syscall_blocked = 0;
                        if let Some(p) = self.syscalling_g.remove(&id) {
                            self.syscalling_p.remove(&p);
                        }
                    }
                    _ => {}
                }
                if g.summary.name.is_empty() {
                    // The outermost frame: a goroutine's entry, the same in all its stacks.
                    if let Some(root) = transition.stack.and_then(|s| s.frames().last()) {
                        g.summary.pc = root.pc;
                        g.summary.name = root.func.to_vec();
                    }
                }
                match to {
                    GoState::Running => {
                        g.since.running = now;
                        g.summary.start.get_or_insert(now);
                    }
                    GoState::Runnable => g.since.runnable = now,
                    GoState::Waiting if transition.reason != b"forever" => {
                        g.since.blocked = now;
                        g.since.block_reason = transition.reason.to_vec();
                    }
                    // Blocked forever is as good as ended.
                    GoState::Waiting | GoState::NotExist => {
                        g.summary.end = Some(now);
                        g.finalize(now);
                    }
                    GoState::Syscall => {
                        let p = event.proc_id();
                        self.syscalling_p.insert(p, id);
                        self.syscalling_g.insert(id, p);
                        g.since.syscall = now;
                    }
                    _ => {}
                }
            }
            Transition::Proc { id, from, to } if from != to && to == ProcState::Idle => {
                if let Some(g) = self.syscalling_p.remove(&id) {
                    if let Some(g) = self.goroutines.get_mut(&g) {
                        g.since.syscall_blocked = now;
                    }
                }
            }
            _ => {}
        }
    }

    fn range_begin(&mut self, event: &Event) {
        let Some(range) = event.range() else { return };
        let g = match range.scope {
            Resource::Goroutine(id) => id,
            // A range on a P is the goroutine's that began it, if that one also ends it.
            Resource::Proc(p) => {
                let g = event.goroutine();
                if self.goroutines.contains_key(&g) {
                    self.ranges_p.insert((p, range.name.to_vec()), g);
                }
                g
            }
            _ => return,
        };
        let Some(g) = self.goroutines.get_mut(&g) else {
            return;
        };
        let name = range.name.into_owned();
        if event.kind() == EventKind::RangeActive {
            // Already going at the generation's start: counted from that start.
            if let Some(&from) = g.since.ranges.get(&name).filter(|&&from| from != 0) {
                accrue(
                    g.summary.times.ranges.entry(name.clone()).or_default(),
                    self.sync.wrapping_sub(from),
                );
            }
            g.since.ranges.insert(name, self.sync);
        } else {
            g.since.ranges.insert(name, event.time());
        }
    }

    fn range_end(&mut self, event: &Event) {
        let Some(range) = event.range() else { return };
        let g = match range.scope {
            Resource::Goroutine(id) => Some(id),
            Resource::Proc(p) => self
                .ranges_p
                .remove(&(p, range.name.to_vec()))
                .filter(|&g| g == event.goroutine()),
            _ => None,
        };
        let Some(g) = g.and_then(|g| self.goroutines.get_mut(&g)) else {
            return;
        };
        let name = range.name.into_owned();
        // A range begun at time 0 stays open, as in Go's viewer.
        if let Some(&from) = g.since.ranges.get(&name).filter(|&&from| from != 0) {
            accrue(
                g.summary.times.ranges.entry(name.clone()).or_default(),
                event.time().wrapping_sub(from),
            );
            g.since.ranges.remove(&name);
        }
    }
}
