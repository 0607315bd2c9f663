//! Mutation differential: hundreds of traces derived from Go's valid vectors (and generated
//! multi-generation traces) by one plausible mistake each (see `gotrace_tests::mutate`), and for
//! each one we and Go's parser must agree on accept or reject. Where both accept, the event
//! streams must be identical too; where both reject, the events before the error and Go's error
//! text must be too.
//!
//! Deterministic (fixed seeds); Go runs in worker threads, 2000 mutants in all.

use std::fmt::Write;

use gotrace_decoder::raw::binary_to_text;
use gotrace_decoder::Reader;
use gotrace_go_oracle::{require_go, Go, Mode};
use gotrace_tests::generate::{generate, Shape};
use gotrace_tests::mutate::{mutate, Mutant, Trace};
use gotrace_tests::rng::Rng;
use gotrace_tests::scratch_file;
use gotrace_tests::vectors::go122_vectors;

const MUTANTS_PER_VECTOR: usize = 100;
const WORKERS: usize = 4;

/// Our verdict: the event lines printed before the end or the error, and Go's error text.
fn ours(binary: &[u8]) -> (String, Option<String>) {
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
    // Go's tool prints the message and a newline; the oracle gives it without trailing space.
    (out, error.map(|e| e.go_message().trim_end().to_owned()))
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

fn judge(go: &Go, source: &str, mutant: Mutant) -> Result<bool, Box<Disagreement>> {
    let file = scratch_file("mutant.trace", &mutant.binary);
    let theirs = go.trace(Mode::Parsed, &file).expect("running Go");
    let (events, our_error) = ours(&mutant.binary);
    let what = if theirs.accepted() != our_error.is_none() {
        Some("accept/reject")
    } else if theirs.stdout != events {
        Some("event stream")
    } else if theirs.error.as_deref().map(comparable) != our_error.as_deref().map(comparable) {
        Some("error text")
    } else {
        None
    };
    let accepted = theirs.accepted();
    match what {
        None => {
            let _ = std::fs::remove_file(&file);
            Ok(accepted)
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

#[test]
fn we_and_go_agree_on_hundreds_of_mutants() {
    let Some(go) = require_go("we_and_go_agree_on_hundreds_of_mutants") else {
        return;
    };
    let mut work = Vec::new();
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
    for (s, (name, binary)) in seeds.iter().enumerate() {
        let trace = Trace::parse(binary);
        let mut rng = Rng::new(0x6f74_7261_6365 ^ s as u64);
        let mut made = 0;
        while made < MUTANTS_PER_VECTOR {
            if let Some(mutant) = mutate(&trace, &mut rng) {
                work.push((name.clone(), mutant));
                made += 1;
            }
        }
    }
    let total = work.len();
    let chunk = total.div_ceil(WORKERS);
    let results: Vec<Result<bool, Box<Disagreement>>> = std::thread::scope(|s| {
        let handles: Vec<_> = work
            .chunks(chunk)
            .map(|part| {
                let go = &go;
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
    let accepted = results.iter().filter(|r| matches!(r, Ok(true))).count();
    let rejected = results.iter().filter(|r| matches!(r, Ok(false))).count();
    let disagreements: Vec<&Box<Disagreement>> =
        results.iter().filter_map(|r| r.as_ref().err()).collect();
    eprintln!(
        "{total} mutants: {accepted} accepted and {rejected} rejected by both, {} disagreements",
        disagreements.len()
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
    assert!(total >= 1500, "only {total} mutants");
    assert!(
        accepted >= 50 && rejected >= 200,
        "a mutation set that tests both sides: {accepted} accepted, {rejected} rejected"
    );
    assert!(
        disagreements.is_empty(),
        "{} of {total} mutants judged differently (details above)",
        disagreements.len()
    );
}
