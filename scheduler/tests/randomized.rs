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
use gotrace_go_oracle::require_go;
use gotrace_scheduler::sim::driver::{self, Options};

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
