//! Measures trace density: bytes per event on a realistic simulated workload, and on scheduling
//! events alone.
//!
//! ```text
//! cargo run --release -p gotrace-scheduler --features sim --example measure [-- --seeds N --steps N --time-shift N]
//! ```
//!
//! The workload is the simulator's (tasks yielding, waiting, blocking in operations, spawning and
//! waking each other; interrupts waking tasks, stealing executors, running callbacks), with
//! device-like generations (16 KiB or one second at 64 MHz), a 64 MHz cycle counter that advances
//! 256 cycles (4 µs) between two traced events, and timestamps in 1 µs units (`Coarse`, shift 6;
//! `--time-shift 0` gives raw cycles).

use anyhow::{bail, Context, Result};
use gotrace_scheduler::sim::driver::{self, Options};
use gotrace_scheduler::sim::SIM_FREQUENCY;
use gotrace_scheduler::Config;

fn main() -> Result<()> {
    let mut seeds = 50u64;
    let mut steps = 2000usize;
    let mut time_shift = 6u32;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--seeds" => seeds = value()?.parse().context("--seeds")?,
            "--steps" => steps = value()?.parse().context("--steps")?,
            "--time-shift" => time_shift = value()?.parse().context("--time-shift")?,
            other => {
                bail!("unknown argument {other} (expected --seeds N --steps N --time-shift N)")
            }
        }
    }
    let realistic = Options {
        steps,
        annotations: true,
        interrupt_percent: 5,
        trace_control: false,
        generations: Some(Config {
            generation_ticks: SIM_FREQUENCY as u32,
            generation_bytes: 16 * 1024,
        }),
        clock_step: 256,
        time_shift,
        wrap_clock: false,
    };
    let sched_only = Options {
        annotations: false,
        ..realistic
    };
    println!("{seeds} seeds x {steps} main-loop steps each, timestamps shifted by {time_shift}");
    report("realistic workload (annotations on)", seeds, &realistic);
    report("scheduling only (annotations off)", seeds, &sched_only);
    Ok(())
}

fn report(name: &str, seeds: u64, opts: &Options) {
    // Summed in 64 bits: each run's counts are the device's 32-bit ones.
    let (mut events, mut sched, mut statuses, mut generations, mut written, mut encoded) =
        (0u64, 0u64, 0u64, 0u64, 0u64, 0u64);
    for seed in 0..seeds {
        let s = driver::run(seed, opts).stats;
        events += u64::from(s.events);
        sched += u64::from(s.sched_events());
        statuses += u64::from(s.status_events);
        generations += u64::from(s.generations);
        written += u64::from(s.bytes_written);
        encoded += u64::from(s.event_bytes);
    }
    let per = |bytes: u64, events: u64| bytes as f64 / events.max(1) as f64;
    println!("{name}:");
    println!(
        "  {events} events ({sched} scheduling, {statuses} status), {generations} generations, \
         {written} bytes written"
    );
    println!(
        "  all events, everything in the file counted: {:.2} bytes/event",
        per(written, events)
    );
    println!(
        "  events, their own encoding:                 {:.2} bytes/event",
        per(encoded, events)
    );
}
