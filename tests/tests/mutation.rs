//! Mutation differential: hundreds of traces derived from valid ones by one plausible mistake
//! each (see `gotrace_tests::mutate`), and for each one we and Go's parser must agree on accept or
//! reject. Where both accept, the event streams must be identical too; where both reject, the
//! events before the error and Go's error text must be too.
//!
//! Two sets: Go's 1.22 vectors, generated multi-generation 1.22 traces and the traces of the
//! scheduler's simulated device (deterministic; more with `GOTRACE_MUTANTS_PER_TRACE`), and
//! traces of the newer versions: Go's 1.23/1.25 vectors and real Go 1.26 traces that
//! `tests/goprograms` writes at test time (with the experimental allocation events in one),
//! mutated at the event level including the newer parts (`EndOfGeneration`, `Sync` batches,
//! `GoStatusStack`, experimental events and batches). Each set reports how many rejections the
//! raw layer could read (so the validator, not the framing, refused them). Go runs in worker
//! threads.
//!
//! `go tool trace` itself can crash on a mutant: an `ExperimentalBatch` naming an experiment Go
//! does not know is accepted by Go's parser (and by us), but printing the next `Sync` event indexes
//! Go's experiment-name table with it and panics. Such mutants give no Go verdict; they are listed,
//! the events Go printed before crashing must be ours, and they must stay rare.

use std::fmt::Write;

use gotrace_decoder::raw::{binary_to_text, Reader as RawReader};
use gotrace_decoder::Reader;
use gotrace_go_oracle::{require_go, Go, Mode};
use gotrace_scheduler::sim::driver::{self, Options};
use gotrace_tests::generate::{generate, Shape};
use gotrace_tests::goprograms::GoPrograms;
use gotrace_tests::mutate::{mutate, mutate_versioned, truncate_as_written, Mutant, Trace};
use gotrace_tests::rng::Rng;
use gotrace_tests::vectors::{all_vectors, go122_vectors};
use gotrace_tests::{scratch_dir, scratch_file};
use gotrace_wire::EventType;

const MUTANTS_PER_VECTOR: usize = 100;
const MUTANTS_PER_REAL_TRACE: usize = 90;
/// Truncations of each newer-version file as its writer encoded it (see `truncate_as_written`).
const CUTS_AS_WRITTEN: usize = 10;
const WORKERS: usize = 4;

/// Real traces' generations are 2 ms long, so that each scenario spans several.
const ADVANCE_PERIOD_NS: u64 = 2_000_000;

/// The `goprograms` scenarios whose traces are mutated (the small ones: Go reads each mutant in
/// tens of milliseconds), and extra `GODEBUG` settings: `traceallocfree=1` adds the experimental
/// allocation events and the `ExperimentalBatch`es.
const SCENARIOS: [(&str, &str); 7] = [
    ("channels-mutexes", ""),
    ("syscall-pipes", ""),
    ("cgo-callbacks", ""),
    ("annotations", ""),
    ("gomaxprocs", ""),
    ("start-stop", ""),
    ("annotations", "traceallocfree=1"),
];

/// Our verdict: the event lines printed before the end or the error, and Go's error text.
fn ours(binary: &[u8]) -> (String, Option<String>) {
    let (events, error) = ours_whole(binary);
    (events, error.as_ref().map(go_text))
}

/// Go's text of our error as the oracle gives Go's: the tool prints the message and a newline,
/// the oracle gives it without trailing space.
fn go_text(error: &gotrace_decoder::Error) -> String {
    error.go_message().trim_end().to_owned()
}

/// Our reading of `binary`: the event lines printed before the end or the error, and the error.
fn ours_whole(binary: &[u8]) -> (String, Option<gotrace_decoder::Error>) {
    let mut out = String::new();
    let error = match Reader::new(binary) {
        Err(e) => Some(e),
        Ok(mut reader) => loop {
            match reader.read_event() {
                Ok(Some(event)) => writeln!(out, "{event}").unwrap(),
                Ok(None) => break None,
                Err(e) => break Some(e),
            }
        },
    };
    (out, error)
}

/// An error text in a form that can be compared: Go's "failed to advance" report lists the
/// goroutines, procs and threads from hash maps, in an order that changes from run to run, so it
/// is compared line by line regardless of order.
fn comparable(message: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = message.lines().collect();
    if message.starts_with("broken trace: failed to advance") {
        lines.sort_unstable();
    }
    lines
}

struct Disagreement {
    what: &'static str,
    source: String,
    mutant: Mutant,
    go_error: Option<String>,
    our_error: Option<String>,
}

/// How both judged a mutant: accepted, or rejected although the raw layer read every event (a
/// validator rejection), or rejected at the framing; or Go crashed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Accepted,
    RejectedByValidator,
    RejectedAtFraming,
    /// `go tool trace` panicked: no verdict from Go to compare with.
    GoCrashed,
    /// The header now names Go 1.11, 1.19 or 1.21, whose older format Go reads through a
    /// converter and we do not read (an error that is no verdict): nothing to compare.
    OlderFormat,
}

fn raw_readable(binary: &[u8]) -> bool {
    RawReader::new(binary).is_ok_and(|reader| reader.into_iter().all(|e| e.is_ok()))
}

fn judge(go: &Go, source: &str, mutant: Mutant) -> Result<Verdict, Box<Disagreement>> {
    let (events, our_error) = ours_whole(&mutant.binary);
    if our_error.as_ref().and_then(|e| e.older_format()).is_some() {
        return Ok(Verdict::OlderFormat);
    }
    let our_error = our_error.as_ref().map(go_text);
    let file = scratch_file("mutant.trace", &mutant.binary);
    let theirs = go.trace(Mode::Parsed, &file).expect("running Go");
    // When Go's tool crashes (printing an event), Go gives no verdict, but what it printed
    // before must still be what we print.
    let crash = theirs.error.as_deref().filter(|e| e.starts_with("panic:"));
    if let Some(panic) = crash {
        eprintln!(
            "Go crashed on a mutant of {source}: {}: {}",
            mutant.description,
            panic.lines().next().unwrap_or_default()
        );
    }
    let what = if crash.is_some() {
        (!events.starts_with(&theirs.stdout)).then_some("events before Go's crash")
    } else if theirs.accepted() != our_error.is_none() {
        Some("accept/reject")
    } else if theirs.stdout != events && !go_may_print(go, &file, &events, source, &mutant) {
        Some("event stream")
    } else if theirs.error.as_deref().map(comparable) != our_error.as_deref().map(comparable) {
        Some("error text")
    } else {
        None
    };
    let verdict = if crash.is_some() {
        Verdict::GoCrashed
    } else if theirs.accepted() {
        Verdict::Accepted
    } else if raw_readable(&mutant.binary) {
        Verdict::RejectedByValidator
    } else {
        Verdict::RejectedAtFraming
    };
    match what {
        None => {
            let _ = std::fs::remove_file(&file);
            Ok(verdict)
        }
        Some(what) => Err(Box::new(Disagreement {
            what,
            source: format!("{source} ({})", file.display()),
            mutant,
            go_error: theirs.error,
            our_error,
        })),
    }
}

/// Whether Go's parser, run again on `file`, prints `events` in one of its runs. Go's output is
/// not always the same for one input: a `ProcStatus` of a P abandoned in a syscall is put in the
/// context of the thread bound to that P, which Go finds by iterating over a map, so a broken
/// trace with several threads bound to one P gets any of them at random (we take the highest
/// ID). Up to 16 runs: with two such threads, the chance of missing ours is 1 in 65536; with
/// three (seen once in about 80,000 mutants), 1 in 650.
fn go_may_print(
    go: &Go,
    file: &std::path::Path,
    events: &str,
    source: &str,
    mutant: &Mutant,
) -> bool {
    let printed =
        (0..16).any(|_| go.trace(Mode::Parsed, file).expect("running Go").stdout == events);
    if printed {
        eprintln!(
            "Go's event stream varies from run to run on a mutant of {source}: {}; ours is one of its streams",
            mutant.description
        );
    }
    printed
}

/// Counts of a judged set.
struct Tally {
    total: usize,
    accepted: usize,
    by_validator: usize,
    at_framing: usize,
    go_crashed: usize,
    older_format: usize,
    disagreements: usize,
}

/// Judges every (source name, mutant) with Go and with us in worker threads, prints the split and
/// every disagreement.
fn judge_all(go: &Go, set: &str, work: Vec<(String, Mutant)>) -> Tally {
    let total = work.len();
    let chunk = total.div_ceil(WORKERS);
    let results: Vec<Result<Verdict, Box<Disagreement>>> = std::thread::scope(|s| {
        let handles: Vec<_> = work
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|(name, mutant)| judge(go, name, mutant.clone()))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let count = |v: Verdict| {
        results
            .iter()
            .filter(|r| r.as_ref().ok() == Some(&v))
            .count()
    };
    let disagreements: Vec<&Box<Disagreement>> =
        results.iter().filter_map(|r| r.as_ref().err()).collect();
    let tally = Tally {
        total,
        accepted: count(Verdict::Accepted),
        by_validator: count(Verdict::RejectedByValidator),
        at_framing: count(Verdict::RejectedAtFraming),
        go_crashed: count(Verdict::GoCrashed),
        older_format: count(Verdict::OlderFormat),
        disagreements: disagreements.len(),
    };
    eprintln!(
        "{set}: {total} mutants: {} accepted by both; rejected by both: {} by the validator \
         (every event readable), {} at the framing; Go crashed on {}; {} in the format before \
         Go 1.22's (not compared); {} disagreements",
        tally.accepted,
        tally.by_validator,
        tally.at_framing,
        tally.go_crashed,
        tally.older_format,
        tally.disagreements
    );
    for d in &disagreements {
        let text =
            binary_to_text(&d.mutant.binary[..]).unwrap_or_else(|e| format!("(no text form: {e})"));
        let head: String = text.lines().take(60).collect::<Vec<_>>().join("\n");
        eprintln!(
            "--- {} differs on a mutant of {}: {}\n    Go:   {:?}\n    ours: {:?}\n{head}\n",
            d.what, d.source, d.mutant.description, d.go_error, d.our_error
        );
    }
    tally
}

/// No disagreement, and the mutants with nothing to compare (Go's tool crashing, a header turned
/// into an older version's) stay rare: many of them would leave this test comparing little.
fn assert_agreement(tally: &Tally) {
    assert!(
        tally.go_crashed * 50 <= tally.total,
        "Go crashed on {} of {} mutants (details above)",
        tally.go_crashed,
        tally.total
    );
    assert!(
        tally.older_format * 50 <= tally.total,
        "{} of {} mutants name a version before Go 1.22",
        tally.older_format,
        tally.total
    );
    assert!(
        tally.disagreements == 0,
        "{} of {} mutants judged differently (details above)",
        tally.disagreements,
        tally.total
    );
}

/// `per_seed` mutants of each seed trace, made by `operator` from a seed-specific generator.
fn mutants_of(
    seeds: &[(String, Vec<u8>)],
    per_seed: usize,
    operator: fn(&Trace, &mut Rng) -> Option<Mutant>,
) -> Vec<(String, Mutant)> {
    let mut work = Vec::new();
    for (s, (name, binary)) in seeds.iter().enumerate() {
        let trace = Trace::parse(binary);
        let mut rng = Rng::new(0x6f74_7261_6365 ^ s as u64);
        let mut made = 0;
        while made < per_seed {
            if let Some(mutant) = operator(&trace, &mut rng) {
                work.push((name.clone(), mutant));
                made += 1;
            }
        }
    }
    work
}

/// Mutants made of each trace: `usual`, or more for a long run (`GOTRACE_MUTANTS_PER_TRACE=700`
/// judges about 27,000 in the two tests, two minutes on two cores). The first mutants of each
/// trace are the same in every run: a long run adds to the usual ones.
fn mutants_per_trace(usual: usize) -> usize {
    std::env::var("GOTRACE_MUTANTS_PER_TRACE")
        .ok()
        .and_then(|n| n.parse().ok())
        .map_or(usual, |n: usize| n.max(usual))
}

#[test]
fn we_and_go_agree_on_hundreds_of_mutants() {
    let Some(go) = require_go("we_and_go_agree_on_hundreds_of_mutants") else {
        return;
    };
    // Go's valid vectors (mostly one generation each), plus generated multi-generation traces,
    // whose mutants also exercise generation boundaries.
    let mut seeds: Vec<(String, Vec<u8>)> = go122_vectors(&go)
        .into_iter()
        .filter(|v| v.is_valid())
        .map(|v| (v.name, v.binary))
        .collect();
    for seed in 1..=2 {
        let shape = Shape {
            seed,
            procs: 1 + seed,
            goroutines_per_proc: 3,
            generation_bytes: 600,
            total_bytes: 3000,
        };
        seeds.push((format!("generated-{seed}"), generate(shape).0));
    }
    // Traces as our encoder writes them on a device: the scheduler's simulation, with blocking
    // operations, steals of their executors, interrupt callbacks on reused M IDs, tracing stopped
    // and started, small generations (a few KB each, every session of the run).
    for seed in 1..=3 {
        for (session, trace) in driver::run(seed, &Options::STRESS)
            .traces
            .into_iter()
            .enumerate()
        {
            seeds.push((format!("device-{seed}.{session}"), trace));
        }
    }
    let work = mutants_of(&seeds, mutants_per_trace(MUTANTS_PER_VECTOR), mutate);
    let tally = judge_all(&go, "Go 1.22", work);
    assert!(tally.total >= 1500, "only {} mutants", tally.total);
    let rejected = tally.by_validator + tally.at_framing;
    assert!(
        tally.accepted >= 50 && rejected >= 200,
        "a mutation set that tests both sides: {} accepted, {rejected} rejected",
        tally.accepted
    );
    assert_agreement(&tally);
}

#[test]
fn we_and_go_agree_on_mutants_of_newer_versions_and_real_go_traces() {
    let Some(go) = require_go("we_and_go_agree_on_mutants_of_newer_versions_and_real_go_traces")
    else {
        return;
    };
    let mut seeds: Vec<(String, Vec<u8>)> = all_vectors(&go)
        .into_iter()
        .filter(|v| v.is_valid() && !v.name.starts_with("go122-"))
        .map(|v| (v.name, v.binary))
        .collect();
    assert!(
        seeds.len() >= 2,
        "expected Go's valid 1.23 and 1.25 vectors, found {}",
        seeds.len()
    );
    let programs = GoPrograms::build(&go, scratch_dir());
    for (scenario, godebug) in SCENARIOS {
        let name = if godebug.is_empty() {
            scenario.to_owned()
        } else {
            format!("{scenario} ({godebug})")
        };
        let path = scratch_dir().join(format!("{}.trace", name.replace([' ', '(', ')', '='], "_")));
        programs.trace_with(scenario, &path, ADVANCE_PERIOD_NS, 0.0, godebug);
        let binary = std::fs::read(&path).expect("reading the trace");
        let (events, error) = ours(&binary);
        assert!(
            error.is_none(),
            "{name}: the unmutated trace is refused: {error:?}"
        );
        assert!(!events.is_empty(), "{name}: an empty trace");
        if godebug.contains("traceallocfree=1") {
            // What the scenario is here for: Go's experimental batches and events to mutate.
            let trace = Trace::parse(&binary);
            let batches = trace.batches.iter();
            let experimental_batches = batches
                .clone()
                .filter(|b| b.header.typ == EventType::EXPERIMENTAL_BATCH)
                .count();
            let experimental_events = batches
                .flat_map(|b| &b.events)
                .filter(|e| e.typ.is_experimental())
                .count();
            assert!(
                experimental_batches > 0 && experimental_events > 0,
                "{name}: {experimental_batches} experimental batches and \
                 {experimental_events} experimental events to mutate"
            );
        }
        seeds.push((name, binary));
    }
    let mut work = mutants_of(
        &seeds,
        mutants_per_trace(MUTANTS_PER_REAL_TRACE),
        mutate_versioned,
    );
    let mut rng = Rng::new(0x0063_7574);
    for (name, binary) in &seeds {
        work.extend(
            (0..CUTS_AS_WRITTEN).map(|_| (name.clone(), truncate_as_written(binary, &mut rng))),
        );
    }
    let tally = judge_all(&go, "Go 1.23-1.26", work);
    assert!(tally.total >= 700, "only {} mutants", tally.total);
    assert!(
        tally.accepted >= 30 && tally.by_validator >= 200,
        "a mutation set that tests the validator: {} accepted, {} refused by the validator",
        tally.accepted,
        tally.by_validator
    );
    assert_agreement(&tally);
}
