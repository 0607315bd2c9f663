//! The randomized test: many seeds of the simulator (interrupts at any preemption point, steals,
//! callbacks, tracing stopped and restarted, generation boundaries anywhere, the clock's 32-bit
//! wrap crossed in odd seeds), every trace judged by Go's parser and read identically by our
//! decoder, and its times, as written, never going back on an M; then the same seeds with a
//! clock coarse enough for ties between contexts. A failure names the seed, its trace file
//! (kept) and Go's first error; rerun one seed with the `simulate` example.
//!
//! `GOTRACE_SIM_SEEDS` (default 1000) and `GOTRACE_SIM_FIRST_SEED` (default 0) choose the seeds.

mod common;

use common::{env_u64, first_rejection, seed_file, times_as_written, trace_dir};
use std::collections::HashSet;

use gotrace_go_oracle::require_go;
use gotrace_scheduler::encoder::{GoSlot, GoStatus, ProcStatus};
use gotrace_scheduler::sim::driver::{self, Options};
use gotrace_scheduler::sim::journal::Entry;
use gotrace_scheduler::sim::SIM_CONTEXTS;
use gotrace_wire::EventType;

#[test]
fn every_seed_writes_traces_go_accepts() {
    let Some(crossed_wrap) = judge_seeds("randomized", &Options::STRESS) else {
        return;
    };
    let count = env_u64("GOTRACE_SIM_SEEDS", 1000);
    assert!(
        crossed_wrap >= count / 4,
        "only {crossed_wrap} traces of {count} seeds cross the clock's 32-bit wrap"
    );
}

/// With ticks of 4 µs (`Coarse` shift 8), several events of different contexts share a time,
/// and Go's parser orders them by its rules for ties (its frontier heap); our decoder must order
/// them the same way.
#[test]
fn every_seed_at_coarse_ticks_writes_traces_go_accepts() {
    judge_seeds("randomized-coarse", &Options::coarse(8));
}

/// Runs the seeds with `opts`, checks each trace's times as written, and has Go judge every
/// trace and our decoder read it alike. Returns how many traces cross the clock's 32-bit wrap;
/// `None` if the test skips, Go missing outside CI.
fn judge_seeds(test: &str, opts: &Options) -> Option<u64> {
    let go = require_go(test)?;
    let first = env_u64("GOTRACE_SIM_FIRST_SEED", 0);
    let count = env_u64("GOTRACE_SIM_SEEDS", 1000);
    let dir = trace_dir(test);
    let mut files = Vec::new();
    let mut seed_of = std::collections::HashMap::new();
    let mut sched_events = 0;
    let mut crossed_wrap = 0;
    for seed in first..first + count {
        let outcome = driver::run(seed, opts);
        sched_events += u64::from(outcome.stats.sched_events());
        for (i, trace) in outcome.traces.iter().enumerate() {
            let path = seed_file(&dir, seed, i);
            std::fs::write(&path, trace).unwrap();
            match times_as_written(trace) {
                Ok((first, last)) => {
                    // A wrap counted that did not happen would put 2^32 ticks into a short run.
                    assert!(
                        last - first < 1 << 31,
                        "seed {seed} ({}): times from {first} to {last}",
                        path.display()
                    );
                    crossed_wrap += u64::from(first < 1 << 32 && last >= 1 << 32);
                }
                Err(step) => panic!("seed {seed} ({}): time goes back: {step}", path.display()),
            }
            seed_of.insert(path.clone(), seed);
            files.push(path);
        }
    }
    assert!(
        sched_events >= count * 50,
        "the runs traced only {sched_events} scheduling events"
    );
    assert!(
        files.len() as u64 >= count / 2,
        "only {} traces from {count} seeds",
        files.len()
    );
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    if let Some((path, error)) = first_rejection(&go, &files, workers) {
        panic!(
            "seed {} ({}): {error}\nrerun: cargo run -p gotrace-scheduler \
             --features sim --example simulate -- --seed {} --time-shift {}",
            seed_of[&path],
            path.display(),
            seed_of[&path],
            opts.time_shift
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
    eprintln!(
        "{test}: {count} seeds, {} traces ({crossed_wrap} across the clock's wrap), all accepted \
         by Go and read alike",
        files.len()
    );
    Some(crossed_wrap)
}

/// What the driver's runs made, counted from their journals (see
/// `the_driver_makes_every_kind_of_change_it_is_for`).
#[derive(Debug, Default)]
struct Reached {
    /// Changes of goroutines and executors made by each context.
    by_context: [u64; SIM_CONTEXTS],
    /// Annotations written by tasks, by kind.
    task_annotations: Vec<EventType>,
    /// Logs written by interrupt callbacks (holding an executor they took).
    callback_logs: u64,
    /// Spawns made by a running task, by a callback, and from an interrupt running nothing.
    spawns_by_task: u64,
    spawns_by_callback: u64,
    spawns_from_interrupt: u64,
    /// Wakes of waiting tasks made by a running task, and by a callback.
    wakes_by_task: u64,
    wakes_by_callback: u64,
    /// Tasks entering a blocking operation; executors stolen from one.
    blocking: u64,
    steals: u64,
    /// Executors a task in a detached blocking operation gave up itself (a steal from itself).
    given_up: u64,
    /// Tracing started again after it stopped, within a run.
    restarts: u64,
}

/// Counts what `seeds` runs of `opts` made.
fn reached(seeds: std::ops::Range<u64>, opts: &Options) -> Reached {
    let mut r = Reached::default();
    for seed in seeds {
        let outcome = driver::run(seed, opts);
        // The IDs of callbacks' goroutines in the current trace (a restart names them anew).
        let mut callbacks = HashSet::new();
        let mut stopped = false;
        for entry in &outcome.journal {
            match entry {
                Entry::TracingStarted { ids } => {
                    r.restarts += u64::from(stopped);
                    callbacks = ids
                        .iter()
                        .filter(|(slot, _)| matches!(slot, GoSlot::Callback(_)))
                        .map(|&(_, id)| id)
                        .collect();
                }
                Entry::TracingStopped => stopped = true,
                Entry::Go {
                    slot,
                    id,
                    by,
                    from,
                    to,
                } => {
                    r.by_context[by.m] += 1;
                    if matches!(slot, GoSlot::Callback(_)) {
                        callbacks.insert(*id);
                        continue;
                    }
                    let by_callback = by.g.is_some_and(|g| callbacks.contains(&g));
                    match (from, to) {
                        (GoStatus::Dead, GoStatus::Runnable) => match by.g {
                            Some(_) if by_callback => r.spawns_by_callback += 1,
                            Some(_) => r.spawns_by_task += 1,
                            None if by.m > 0 => r.spawns_from_interrupt += 1,
                            None => {}
                        },
                        (GoStatus::Waiting, GoStatus::Runnable) => match by.g {
                            Some(_) if by_callback => r.wakes_by_callback += 1,
                            Some(_) => r.wakes_by_task += 1,
                            None => {}
                        },
                        (GoStatus::Running, GoStatus::Syscall) => r.blocking += 1,
                        _ => {}
                    }
                }
                Entry::Proc { p, by, from, to } => {
                    r.by_context[by.m] += 1;
                    if *from == ProcStatus::Syscall && *to != ProcStatus::Syscall {
                        if by.p == Some(*p) {
                            r.given_up += 1;
                        } else {
                            r.steals += 1;
                        }
                    }
                }
                Entry::Annotation { by, typ } => {
                    if by.g.is_some_and(|g| callbacks.contains(&g)) {
                        r.callback_logs += u64::from(*typ == EventType::USER_LOG);
                    } else if !r.task_annotations.contains(typ) {
                        r.task_annotations.push(*typ);
                    }
                }
            }
        }
    }
    r
}

/// The driver makes every kind of change its runs are there to test: every context level makes
/// changes (interrupts land at preemption points, nested), tasks write every kind of annotation,
/// callbacks take executors and log, tasks, callbacks and interrupts spawn and wake, tasks block
/// and their executors are stolen, and tracing restarts within a run. Each trace being valid says
/// nothing of what was tried: a driver that fired no interrupt, or took every call for refused,
/// still wrote traces Go accepts.
#[test]
fn the_driver_makes_every_kind_of_change_it_is_for() {
    let r = reached(0..20, &Options::STRESS);
    let made = [
        r.callback_logs,
        r.spawns_by_task,
        r.spawns_by_callback,
        r.spawns_from_interrupt,
        r.wakes_by_task,
        r.wakes_by_callback,
        r.blocking,
        r.steals,
        r.given_up,
        r.restarts,
    ];
    assert!(
        r.by_context.iter().chain(&made).all(|&n| n > 0),
        "a kind of change never made: {r:?}"
    );
    for typ in [
        EventType::USER_TASK_BEGIN,
        EventType::USER_TASK_END,
        EventType::USER_REGION_BEGIN,
        EventType::USER_REGION_END,
        EventType::USER_LOG,
        EventType::GO_LABEL,
    ] {
        assert!(r.task_annotations.contains(&typ), "no {typ:?}: {r:?}");
    }
}

/// Options at a coarse clock time in units of `2^shift` cycles, and do not cross the clock's
/// wrap; at shift 0 the wrap is still crossed.
#[test]
fn options_at_a_coarse_clock_have_its_shift_and_cross_no_wrap() {
    let coarse = Options::coarse(8);
    assert_eq!(coarse.time_shift, 8);
    assert!(!coarse.wrap_clock);
    let fine = Options::STRESS.with_time_shift(0);
    assert_eq!(fine.time_shift, 0);
    assert!(fine.wrap_clock);
}
