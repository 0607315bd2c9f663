//! Helpers for the scheduler's integration tests: Go's parser as the judge of every trace, a
//! view of the raw events per batch, and scripted interrupts for the simulator.
#![allow(dead_code)] // each test file uses a different subset

use std::path::{Path, PathBuf};
use std::rc::Rc;

use gotrace_go_oracle::{require_go, Go, Mode};
use gotrace_scheduler::sim::SimScheduler;
use gotrace_scheduler::{Clock, Platform};

/// A clock that moves 10 ticks per reading, as a cycle counter moves on between events.
pub struct Ticks(pub u32);

impl Clock for Ticks {
    fn now(&mut self) -> u32 {
        self.0 = self.0.wrapping_add(10);
        self.0
    }

    fn frequency(&self) -> u64 {
        1_000_000
    }
}

/// A directory for this test binary's trace files.
pub fn trace_dir(test: &str) -> PathBuf {
    let dir = gotrace_go_oracle::scratch_dir().join(test);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// What Go printed for an accepted trace.
pub struct Judged {
    pub parsed: String,
    pub wire: String,
}

impl Judged {
    /// The raw events as `(generation, M, event line)`.
    pub fn events(&self) -> Vec<(u64, String, String)> {
        let mut out = Vec::new();
        let (mut gen, mut m) = (0, String::new());
        for line in self.wire.lines() {
            if let Some(rest) = line.strip_prefix("EventBatch ") {
                for field in rest.split_whitespace() {
                    if let Some(v) = field.strip_prefix("gen=") {
                        gen = v.parse().unwrap();
                    } else if let Some(v) = field.strip_prefix("m=") {
                        m = v.to_owned();
                    }
                }
            } else if !line.starts_with([' ', '\t']) && !line.is_empty() {
                out.push((gen, m.clone(), line.to_owned()));
            }
        }
        out
    }

    /// The events written by context `m`, in order.
    pub fn events_of(&self, m: usize) -> Vec<String> {
        let m = m.to_string();
        self.events()
            .into_iter()
            .filter(|(_, bm, _)| *bm == m)
            .map(|(_, _, l)| l)
            .collect()
    }
}

/// Runs Go's parser on each trace; panics naming the trace and Go's error if Go rejects one.
/// `None` when Go is missing outside CI.
pub fn go_judge(test: &str, traces: &[Vec<u8>]) -> Option<Vec<Judged>> {
    let go = require_go(test)?;
    assert!(!traces.is_empty(), "{test}: no trace written");
    let dir = trace_dir(test);
    let judged = traces
        .iter()
        .enumerate()
        .map(|(i, trace)| {
            let path = dir.join(format!("{i}.trace"));
            std::fs::write(&path, trace).unwrap();
            let parsed = go.trace(Mode::Parsed, &path).unwrap();
            if let Some(err) = parsed.error {
                panic!("{test}: Go rejected {}: {err}", path.display());
            }
            assert!(!parsed.stdout.is_empty(), "{test}: Go printed no events");
            let ours = decode(trace)
                .unwrap_or_else(|e| panic!("{test}: our decoder rejected {}: {e}", path.display()));
            assert!(
                ours == parsed.stdout,
                "{test}: our decoder and Go disagree on {}:\n{}",
                path.display(),
                first_difference(&ours, &parsed.stdout)
            );
            let wire = go.trace(Mode::Wire, &path).unwrap();
            Judged {
                parsed: parsed.stdout,
                wire: wire.stdout,
            }
        })
        .collect();
    std::fs::remove_dir_all(&dir).unwrap();
    Some(judged)
}

/// Our decoder's event stream, in the form `go tool trace -d=parsed` prints.
pub fn decode(trace: &[u8]) -> Result<String, gotrace_decoder::Error> {
    let mut reader = gotrace_decoder::Reader::new(trace)?;
    let mut out = String::new();
    while let Some(event) = reader.read_event()? {
        out.push_str(&event.to_string());
        out.push('\n');
    }
    Ok(out)
}

/// The earliest and latest times of a trace's events, in ticks as written (a raw read), or where
/// the encoder's time went back on an M (see [`event_times`]).
pub fn times_as_written(trace: &[u8]) -> Result<(u64, u64), String> {
    let times = event_times(trace)?;
    let first = times.iter().copied().min().unwrap_or(u64::MAX);
    Ok((first, times.iter().copied().max().unwrap_or(0)))
}

/// The time of every timed event of a trace, batch by batch, in ticks as written (a raw read), or
/// where the encoder's time went back on an M: a batch beginning before the previous batch of its
/// M ended. Go's parser and ours force each time past the last one, which hides such a step; a
/// missed wrap of the device's 32-bit clock sets the next batch back by 2^32 ticks.
pub fn event_times(trace: &[u8]) -> Result<Vec<u64>, String> {
    let mut reader = gotrace_decoder::raw::Reader::new(trace).expect("the trace's header");
    let mut ended: std::collections::HashMap<u64, u64> = Default::default();
    let mut times = Vec::new();
    let mut batch: Option<(u64, u64)> = None;
    while let Some(event) = reader.read_event().expect("a trace our decoder reads") {
        if event.name() == "EventBatch" {
            let (gen, m, base) = (event.args[0], event.args[1], event.args[2]);
            // Batches on no M (frequency, strings, stacks) carry no event times.
            batch = (m != u64::MAX).then_some((m, base));
            if let Some(&end) = batch.and_then(|(m, _)| ended.get(&m)) {
                if base < end {
                    return Err(format!(
                        "generation {gen}, M {m}: a batch at {base} ticks after one that ended at {end}"
                    ));
                }
            }
        } else if let Some((m, time)) = &mut batch {
            if event.spec().is_some_and(|s| s.is_timed) {
                *time += event.args[0];
                ended.insert(*m, *time);
                times.push(*time);
            }
        }
    }
    Ok(times)
}

fn first_difference(ours: &str, go: &str) -> String {
    let (mut a, mut b) = (ours.lines(), go.lines());
    for n in 1.. {
        match (a.next(), b.next()) {
            (Some(x), Some(y)) if x == y => continue,
            (x, y) => return format!("line {n}: ours {x:?}, Go {y:?}"),
        }
    }
    unreachable!()
}

/// Go's verdict on many files, checked on `workers` threads, and our decoder's agreement with it:
/// the first file that Go rejects (with Go's first error line) or that our decoder reads
/// differently (with the first differing line), if any.
pub fn first_rejection(go: &Go, files: &[PathBuf], workers: usize) -> Option<(PathBuf, String)> {
    let chunk = files.len().div_ceil(workers.max(1)).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| scope.spawn(move || first_rejection_in(go, part)))
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().unwrap())
            .min_by(|a, b| a.0.cmp(&b.0))
    })
}

fn first_rejection_in(go: &Go, files: &[PathBuf]) -> Option<(PathBuf, String)> {
    files.iter().find_map(|path: &PathBuf| {
        let out = go.trace(Mode::Parsed, path).unwrap();
        if let Some(e) = out.error {
            let first = e.lines().next().unwrap_or_default().to_owned();
            return Some((path.clone(), format!("Go rejected the trace: {first}")));
        }
        match decode(&std::fs::read(path).unwrap()) {
            Ok(ours) if ours == out.stdout => None,
            Ok(ours) => Some((
                path.clone(),
                format!(
                    "our decoder disagrees with Go: {}",
                    first_difference(&ours, &out.stdout)
                ),
            )),
            Err(e) => Some((path.clone(), format!("our decoder rejected it: {e}"))),
        }
    })
}

/// Installs a hook that, at the `n`-th preemption point from now (0 = the next one), fires an
/// interrupt of the level just above the current context, running `f`; then removes itself.
pub fn fire_at_point(sched: &Rc<SimScheduler>, n: usize, f: impl Fn(&SimScheduler) + 'static) {
    let count = std::cell::Cell::new(0usize);
    let weak = Rc::downgrade(sched);
    sched.platform().set_hook(Some(Rc::new(move || {
        let Some(s) = weak.upgrade() else { return };
        let seen = count.get();
        count.set(seen + 1);
        if seen == n {
            s.platform().set_hook(None);
            let level = s.platform().current_context() + 1;
            s.platform().interrupt(level, || f(&s));
        }
    })));
}

/// The number in the environment variable `name`, or `default` when it is not set.
pub fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}={v} is not a number"))
        })
        .unwrap_or(default)
}

/// Where a trace file for `seed` and session `i` goes.
pub fn seed_file(dir: &Path, seed: u64, i: usize) -> PathBuf {
    dir.join(format!("seed-{seed}-{i}.trace"))
}
