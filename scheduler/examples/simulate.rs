//! Runs the host simulator for one seed and writes its trace(s).
//!
//! ```text
//! cargo run --release -p gotrace-scheduler --features sim --example simulate -- --seed 7 --out t.trace
//! ```
//!
//! A run that stops and restarts tracing writes one trace per session: the first to `--out`,
//! the next ones beside it as `<stem>.1.trace`, `<stem>.2.trace`, ... `--time-shift N` counts
//! time in units of 2^N cycles (as the tests' coarse clocks do); `--journal` prints what the
//! scheduler did (the journal the semantic oracle compares the traces with).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use gotrace_scheduler::sim::driver::{self, Options};

/// The arguments, for `--help` and for an argument not among them.
const USAGE: &str =
    "--seed N --out FILE [--steps N] [--no-annotations] [--time-shift N] [--journal]";

fn main() -> Result<()> {
    let mut seed = 1u64;
    let mut out = PathBuf::from("sim.trace");
    let mut opts = Options::STRESS;
    let mut journal = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--seed" => seed = value()?.parse().context("--seed")?,
            "--out" => out = PathBuf::from(value()?),
            "--steps" => opts.steps = value()?.parse().context("--steps")?,
            "--no-annotations" => opts.annotations = false,
            "--time-shift" => {
                opts = opts.with_time_shift(value()?.parse().context("--time-shift")?)
            }
            "--journal" => journal = true,
            "--help" | "-h" => {
                println!("usage: simulate {USAGE}");
                return Ok(());
            }
            other => bail!("unknown argument {other} (expected {USAGE})"),
        }
    }
    let outcome = driver::run(seed, &opts);
    if journal {
        for entry in &outcome.journal {
            println!("{entry:?}");
        }
    }
    if outcome.traces.is_empty() {
        bail!("seed {seed} never started tracing");
    }
    for (i, trace) in outcome.traces.iter().enumerate() {
        let path = session_path(&out, i);
        std::fs::write(&path, trace).with_context(|| format!("writing {}", path.display()))?;
        println!("{} ({} bytes)", path.display(), trace.len());
    }
    let s = outcome.stats;
    println!(
        "seed {seed}: {} events ({} scheduling), {} generations, {} bytes",
        s.events,
        s.sched_events(),
        s.generations,
        s.bytes_written
    );
    Ok(())
}

fn session_path(out: &Path, i: usize) -> PathBuf {
    if i == 0 {
        return out.to_path_buf();
    }
    let stem = out.file_stem().and_then(|s| s.to_str()).unwrap_or("sim");
    out.with_file_name(format!("{stem}.{i}.trace"))
}
