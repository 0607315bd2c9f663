//! A short, deterministic run of the fuzz target (`gotrace_tests::fuzz::check_input`, the same
//! function `cargo fuzz` drives in `decoder/fuzz/`): Go's vectors in all three forms, then a few
//! thousand byte-level mutations of them. No input may panic, and none may make the readers
//! allocate more than a small multiple of its own size (memory is measured by a counting
//! allocator around each input).

use gotrace_decoder::raw::binary_to_text;
use gotrace_go_oracle::require_go;
use gotrace_tests::fuzz::check_input;
use gotrace_tests::heap::{self, CountingAllocator};
use gotrace_tests::rng::Rng;
use gotrace_tests::vectors::go122_vectors;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Heap growth allowed for one input: fixed buffers plus a small multiple of the input.
fn budget(input: &[u8]) -> usize {
    (1 << 20) + 8 * input.len()
}

/// Runs one input; returns the heap it needed above what was live before, and how many events
/// the validating reader gave.
fn run(input: &[u8]) -> (usize, usize) {
    let before = heap::live();
    heap::reset_peak();
    let events = check_input(input);
    (heap::peak() - before, events)
}

/// Inputs that announce sizes far beyond the format's limits (a batch, a string, a stack), in
/// the places the validating reader looks for them: they must be refused, not allocated.
fn hostile_sizes() -> Vec<Vec<u8>> {
    let huge = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f];
    let header = b"go 1.22 trace\0\0\0".to_vec();
    // EventBatch gen=1 m=-1 time=0 size=...
    let batch_head = |size: &[u8]| {
        let mut b = vec![
            1, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0,
        ];
        b.extend_from_slice(size);
        b
    };
    let with_body = |body: &[u8]| {
        let mut file = header.clone();
        file.extend(batch_head(&[body.len() as u8]));
        file.extend_from_slice(body);
        file
    };
    let mut huge_batch = header.clone();
    huge_batch.extend(batch_head(&huge));
    // Strings, String id=1 with a huge length; Stacks, Stack id=1 with huge nframes.
    let huge_string = with_body(&[[4, 5, 1].as_slice(), &huge].concat());
    let huge_stack = with_body(&[[2, 3, 1].as_slice(), &huge].concat());
    vec![huge_batch, huge_string, huge_stack]
}

/// One byte-level mutation, of the kinds a fuzzer tries first.
fn mutate_bytes(seed: &[u8], other: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut data = seed.to_vec();
    if data.is_empty() {
        return data;
    }
    let at = rng.below(data.len());
    match rng.below(7) {
        0 => data[at] ^= 1 << rng.below(8),
        1 => data[at] = *rng.pick(&[0x00, 0x01, 0x7f, 0x80, 0xff]),
        2 => {
            let end = (at + 1 + rng.below(16)).min(data.len());
            data.drain(at..end);
        }
        3 => {
            let junk: Vec<u8> = (0..1 + rng.below(12))
                .map(|_| rng.next_u64() as u8)
                .collect();
            data.splice(at..at, junk);
        }
        4 => {
            let end = (at + 1 + rng.below(64)).min(data.len());
            let copy = data[at..end].to_vec();
            data.splice(at..at, copy);
        }
        5 => data.truncate(at),
        _ => {
            let from = rng.below(other.len().max(1));
            data.truncate(at);
            data.extend_from_slice(&other[from.min(other.len())..]);
        }
    }
    data
}

#[test]
fn fuzz_target_survives_seeds_and_mutations_within_a_memory_budget() {
    let Some(go) = require_go("fuzz_target_survives_seeds_and_mutations_within_a_memory_budget")
    else {
        return;
    };
    let mut seeds: Vec<Vec<u8>> = Vec::new();
    // Where the three forms of each valid vector are in `seeds`, and the vector's name.
    let mut valid_forms: Vec<([usize; 3], String)> = Vec::new();
    for vector in go122_vectors(&go) {
        if vector.is_valid() {
            let at = seeds.len();
            valid_forms.push(([at, at + 1, at + 2], vector.name.clone()));
        }
        seeds.push(binary_to_text(&vector.binary[..]).unwrap().into_bytes());
        seeds.push(std::fs::read(&vector.path).unwrap());
        seeds.push(vector.binary);
    }
    seeds.extend(hostile_sizes());
    let mut worst = 0.0f64;
    let mut check = |input: &[u8], what: &str| {
        let (used, events) = run(input);
        assert!(
            used <= budget(input),
            "{what}: {used} bytes of heap for a {}-byte input",
            input.len()
        );
        worst = worst.max(used as f64 / budget(input) as f64);
        events
    };
    let seed_events: Vec<usize> = seeds
        .iter()
        .enumerate()
        .map(|(i, seed)| check(seed, &format!("seed {i}")))
        .collect();
    // The target reaches the validating reader through every form: a valid vector gives all its
    // events whether it comes as text, as a `.test` file or as binary.
    for (forms, name) in &valid_forms {
        let counts = forms.map(|i| seed_events[i]);
        assert!(
            counts[0] > 0 && counts.iter().all(|&n| n == counts[0]),
            "{name}: events read as text, .test and binary: {counts:?}"
        );
    }
    // Small seeds are mutated most: they are fast, and their every byte matters.
    let mut rng = Rng::new(0x5eed_f022);
    let mut count = 0;
    for (i, seed) in seeds.iter().enumerate() {
        let rounds = if seed.len() < 4096 { 150 } else { 20 };
        for round in 0..rounds {
            let other = &seeds[rng.below(seeds.len())];
            let mut input = mutate_bytes(seed, other, &mut rng);
            // Stack a few mutations now and then.
            for _ in 0..rng.below(3) {
                input = mutate_bytes(&input, other, &mut rng);
            }
            check(&input, &format!("seed {i} mutation {round}"));
            count += 1;
        }
    }
    eprintln!(
        "{} seeds and {count} mutations, worst heap use {:.0}% of budget",
        seeds.len(),
        worst * 100.0
    );
    assert!(count >= 3000, "{count} mutations");
}
