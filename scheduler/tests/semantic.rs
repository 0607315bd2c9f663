//! The semantic oracle: each trace tells what the scheduler did. Go's parser accepting a trace
//! (`randomized.rs`) says it is consistent; here every trace of many simulator seeds is read by
//! our decoder and compared with the scheduler's journal (`sim::journal`): for each goroutine and
//! each executor, the state transitions the trace gives, in the order it gives them, with their
//! context (M, and the P and G it had) and their before and after states, are the changes the
//! scheduler made; each goroutine's user annotations are where it wrote them among its
//! transitions; and every status a generation re-states is the one it had there. Events of
//! different contexts may be reordered within a clock tick (Go's parser orders them as its rules
//! allow); each resource's own sequence may not. Clocks as fine as a cycle and as coarse as
//! several events per tick.
//!
//! `GOTRACE_SEMANTIC_SEEDS` (default 1000 per clock) chooses how many seeds.

mod common;

use std::collections::{HashMap, VecDeque};

use common::env_u64;
use gotrace_decoder::{Event, GoState, ProcState, Reader, Transition};
use gotrace_scheduler::encoder::{GoSlot, GoStatus, ProcStatus};
use gotrace_scheduler::sim::driver::{self, Options};
use gotrace_scheduler::sim::journal::{By, Entry};
use gotrace_scheduler::sim::SIM_EXECUTORS;
use gotrace_wire::EventType;

/// A goroutine or an executor, by its ID in the trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Resource {
    Go(u64),
    Proc(u64),
}

/// What happened to a resource, made by context (M) `m` holding executor `p` and running
/// goroutine `g` (-1 for none, as Go's parser prints them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Step {
    m: i64,
    p: i64,
    g: i64,
    what: What,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum What {
    /// A state transition, as Go's parser names states.
    Transition { from: State, to: State },
    /// A goroutine's user annotation, by its event type.
    Annotation(EventType),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Go(GoState),
    Proc(ProcState),
}

fn go_state(s: GoStatus) -> State {
    State::Go(match s {
        GoStatus::Dead => GoState::NotExist,
        GoStatus::Runnable => GoState::Runnable,
        GoStatus::Running => GoState::Running,
        GoStatus::Syscall => GoState::Syscall,
        GoStatus::Waiting => GoState::Waiting,
    })
}

/// Go's view of an executor: one in a blocking operation still runs (its context may come back
/// to it); an abandoned one is idle, as no context holds it.
fn proc_state(s: ProcStatus) -> State {
    State::Proc(match s {
        ProcStatus::Idle | ProcStatus::Abandoned => ProcState::Idle,
        ProcStatus::Running | ProcStatus::Syscall => ProcState::Running,
    })
}

/// What one tracing session should tell: each resource's state when tracing started, and the
/// transitions it went through, in order.
#[derive(Default)]
struct Expected {
    initial: HashMap<Resource, State>,
    steps: HashMap<Resource, VecDeque<Step>>,
}

/// Splits the journal into its tracing sessions.
fn sessions(journal: &[Entry]) -> Vec<Expected> {
    let mut gos: HashMap<GoSlot, GoStatus> = HashMap::new();
    // Every executor is idle until the scheduler changes it.
    let mut procs: HashMap<usize, ProcStatus> =
        (0..SIM_EXECUTORS).map(|p| (p, ProcStatus::Idle)).collect();
    let mut out = Vec::new();
    let mut current: Option<Expected> = None;
    for entry in journal {
        match entry {
            Entry::TracingStarted { ids } => {
                let mut e = Expected::default();
                for (slot, id) in ids {
                    e.initial.insert(Resource::Go(*id), go_state(gos[slot]));
                }
                for (&p, &status) in &procs {
                    e.initial
                        .insert(Resource::Proc(p as u64), proc_state(status));
                }
                current = Some(e);
            }
            Entry::TracingStopped => out.extend(current.take()),
            &Entry::Go {
                slot,
                id,
                by,
                from,
                to,
            } => {
                gos.insert(slot, to);
                let what = What::Transition {
                    from: go_state(from),
                    to: go_state(to),
                };
                push(&mut current, Resource::Go(id), by, what);
            }
            &Entry::Annotation { by, typ } => {
                let g =
                    by.g.expect("an annotation without a goroutine on its context");
                push(&mut current, Resource::Go(g), by, What::Annotation(typ));
            }
            &Entry::Proc { p, by, from, to } => {
                procs.insert(p, to);
                // Go's parser gives an executor's start, stop and steal; a callback's exit that
                // abandons it as the context losing it (Go's implied self-steal), and its later
                // steal as idle to idle. A blocking operation's begin and end change only the
                // status Go keeps for it.
                let written = proc_state(from) != proc_state(to) || from == ProcStatus::Abandoned;
                if written {
                    let what = What::Transition {
                        from: proc_state(from),
                        to: proc_state(to),
                    };
                    push(&mut current, Resource::Proc(p as u64), by, what);
                }
            }
        }
    }
    assert!(current.is_none(), "the run ended with tracing on");
    out
}

/// Adds a step of `resource` to the session being recorded, if any.
fn push(session: &mut Option<Expected>, resource: Resource, by: By, what: What) {
    if let Some(e) = session {
        let none = -1;
        let step = Step {
            m: by.m as i64,
            p: by.p.map_or(none, |p| p as i64),
            g: by.g.map_or(none, |g| g as i64),
            what,
        };
        e.steps.entry(resource).or_default().push_back(step);
    }
}

/// What `event` tells of which resource: a transition, or an annotation by its goroutine.
fn told(event: &Event) -> Option<(Resource, What)> {
    if let Some(st) = event.state_transition() {
        return Some(match st.transition {
            Transition::Goroutine { id, from, to } => {
                let (from, to) = (State::Go(from), State::Go(to));
                (Resource::Go(id as u64), What::Transition { from, to })
            }
            Transition::Proc { id, from, to } => {
                let (from, to) = (State::Proc(from), State::Proc(to));
                (Resource::Proc(id as u64), What::Transition { from, to })
            }
            // The scheduler journals goroutines and executors only: a new resource's
            // transitions would be a new Go format, which its traces are not written in.
            other => panic!("a transition of a resource the scheduler does not journal: {other:?}"),
        });
    }
    let typ = event.wire_type()?;
    let annotation = matches!(
        typ,
        EventType::USER_TASK_BEGIN
            | EventType::USER_TASK_END
            | EventType::USER_REGION_BEGIN
            | EventType::USER_REGION_END
            | EventType::USER_LOG
            | EventType::GO_LABEL
    );
    annotation.then(|| {
        (
            Resource::Go(event.goroutine() as u64),
            What::Annotation(typ),
        )
    })
}

/// Reads `trace` and checks it against `expected`; the first difference, described.
fn compare(trace: &[u8], mut expected: Expected) -> Result<usize, String> {
    let mut reader = Reader::new(trace).map_err(|e| e.to_string())?;
    let mut state = std::mem::take(&mut expected.initial);
    let mut compared = 0;
    while let Some(event) = reader.read_event().map_err(|e| e.to_string())? {
        let Some((resource, what)) = told(&event) else {
            continue;
        };
        let restated = matches!(
            event.wire_type(),
            Some(EventType::GO_STATUS | EventType::GO_STATUS_STACK | EventType::PROC_STATUS)
        );
        let at = || format!("{resource:?} at {event}");
        if let (true, What::Transition { to, .. }) = (restated, what) {
            let had = state.get(&resource);
            if had != Some(&to) {
                return Err(format!("{}: re-stated as {to:?}, had {had:?}", at()));
            }
            continue;
        }
        let seen = Step {
            m: event.thread(),
            p: event.proc_id(),
            g: event.goroutine(),
            what,
        };
        let Some(step) = expected
            .steps
            .get_mut(&resource)
            .and_then(VecDeque::pop_front)
        else {
            return Err(format!(
                "{}: {seen:?}, the scheduler made no such change",
                at()
            ));
        };
        if step != seen {
            return Err(format!("{}: {seen:?}, the scheduler made {step:?}", at()));
        }
        if let What::Transition { to, .. } = what {
            state.insert(resource, to);
        }
        compared += 1;
    }
    match expected.steps.iter().find(|(_, left)| !left.is_empty()) {
        Some((resource, left)) => Err(format!(
            "{resource:?}: the trace ends without {} change(s) the scheduler made, the first {:?}",
            left.len(),
            left[0]
        )),
        None => Ok(compared),
    }
}

fn check_seeds(clock: &str, opts: &Options) {
    let count = env_u64("GOTRACE_SEMANTIC_SEEDS", 1000);
    let (mut traces, mut compared) = (0u64, 0u64);
    for seed in 0..count {
        let outcome = driver::run(seed, opts);
        let expected = sessions(&outcome.journal);
        assert_eq!(
            expected.len(),
            outcome.traces.len(),
            "seed {seed} ({clock}): tracing sessions and traces"
        );
        for (i, (trace, e)) in outcome.traces.iter().zip(expected).enumerate() {
            match compare(trace, e) {
                Ok(n) => compared += n as u64,
                Err(difference) => panic!(
                    "seed {seed} ({clock}), trace {i}: {difference}\nrerun: cargo run -p \
                     gotrace-scheduler --features sim --example simulate -- --seed {seed} \
                     --time-shift {} --journal",
                    opts.time_shift
                ),
            }
            traces += 1;
        }
    }
    assert!(
        compared >= count * 50,
        "{clock}: only {compared} transitions compared in {traces} traces"
    );
    eprintln!(
        "{clock}: {count} seeds, {traces} traces, {compared} transitions and annotations as made"
    );
}

#[test]
fn traces_tell_what_the_scheduler_did_at_one_cycle_ticks() {
    check_seeds("1-cycle ticks", &Options::STRESS);
}

#[test]
fn traces_tell_what_the_scheduler_did_at_1us_ticks() {
    check_seeds("1 µs ticks (shift 6)", &Options::coarse(6));
}

#[test]
fn traces_tell_what_the_scheduler_did_at_ticks_of_several_events() {
    check_seeds("4 µs ticks (shift 8)", &Options::coarse(8));
}
