//! `gotrace stats` gives every valid conformance vector of Go's (of every trace version) the
//! figures `go tool trace`'s goroutine analysis gives it (the real programs' traces and the
//! firmware's recordings are compared where those tests make them).

use std::path::Path;

use gotrace_decoder::raw::Writer;
use gotrace_go_oracle::require_go;
use gotrace_tests::cli::gotrace;
use gotrace_tests::generate::{ev, generate, write_batch, Shape};
use gotrace_tests::goroutine_analysis::assert_stats_as_viewer;
use gotrace_tests::scratch_file;
use gotrace_tests::vectors::all_vectors;
use gotrace_wire::{go_status, proc_status, EventType, Version, NO_THREAD};

#[test]
fn vectors_have_the_viewers_goroutine_figures() {
    let Some(go) = require_go("vectors_have_the_viewers_goroutine_figures") else {
        return;
    };
    let mut goroutines = 0;
    let mut vectors = 0;
    for vector in all_vectors(&go).iter().filter(|v| v.is_valid()) {
        let file = vector.binary_file();
        let viewer = go.open_viewer(&file).unwrap();
        goroutines += assert_stats_as_viewer(&viewer, &file);
        vectors += 1;
    }
    // Enough of them, with goroutines, that the comparison compared something.
    assert!(
        vectors >= 20 && goroutines >= 150,
        "{vectors} vectors, {goroutines} goroutines"
    );
}

/// A trace written for the rules that the vectors and the programs' traces leave out: a system
/// call whose P is stolen and still going at the trace's end (the viewer counts it as waiting
/// for a P), one whose P is stolen and that returns (a blocked system call), and a goroutine
/// blocked forever (ended there, for the viewer).
fn corner_cases() -> Vec<u8> {
    const FOREVER: u64 = 1;
    let mut w = Writer::new(Vec::new(), Version::Go122).unwrap();
    write_batch(
        &mut w,
        1,
        0,
        10,
        &[
            ev(EventType::PROC_STATUS, vec![1, 0, proc_status::RUNNING]),
            ev(EventType::GO_STATUS, vec![1, 1, 0, go_status::RUNNING]),
            // G1 enters a system call on P0 and never returns.
            ev(EventType::GO_SYSCALL_BEGIN, vec![10, 1, 0]),
        ],
    );
    write_batch(
        &mut w,
        1,
        1,
        10,
        &[
            ev(EventType::PROC_STATUS, vec![1, 1, proc_status::RUNNING]),
            ev(EventType::GO_STATUS, vec![1, 2, 1, go_status::RUNNING]),
            ev(
                EventType::GO_STATUS,
                vec![1, 3, NO_THREAD, go_status::WAITING],
            ),
            // M1 takes P0 from G1's system call, then gives it up.
            ev(EventType::PROC_STEAL, vec![20, 0, 2, 0]),
            ev(EventType::GO_UNBLOCK, vec![5, 3, 1, 0]),
            ev(EventType::GO_BLOCK, vec![5, FOREVER, 0]),
            ev(EventType::GO_START, vec![5, 3, 2]),
            // G3's system call loses P1 to M2, and returns without it.
            ev(EventType::GO_SYSCALL_BEGIN, vec![5, 1, 0]),
            ev(EventType::GO_SYSCALL_END_BLOCKED, vec![100]),
        ],
    );
    write_batch(
        &mut w,
        1,
        2,
        10,
        &[
            ev(EventType::PROC_STATUS, vec![1, 2, proc_status::RUNNING]),
            ev(EventType::PROC_STEAL, vec![80, 1, 2, 1]),
            ev(EventType::PROC_STOP, vec![300]),
        ],
    );
    write_batch(
        &mut w,
        1,
        NO_THREAD,
        0,
        &[ev(EventType::FREQUENCY, vec![1_000_000_000])],
    );
    let mut forever = ev(EventType::STRING, vec![FOREVER]);
    forever.data = b"forever".to_vec();
    write_batch(
        &mut w,
        1,
        NO_THREAD,
        0,
        &[ev(EventType::STRINGS, vec![]), forever],
    );
    w.into_inner()
}

#[test]
fn corner_cases_have_the_viewers_goroutine_figures() {
    let Some(go) = require_go("corner_cases_have_the_viewers_goroutine_figures") else {
        return;
    };
    let file = scratch_file("goroutine-corner-cases.trace", &corner_cases());
    let viewer = go.open_viewer(&file).unwrap();
    assert_eq!(assert_stats_as_viewer(&viewer, &file), 3);
    // G3, first seen waiting, with no reason, and G1's system call, whose P was stolen and which
    // never returned, counted twice: both said under the tables.
    let stats = gotrace([Path::new("stats"), &file]);
    for note in [
        "\nBlock time (): waiting from",
        "\nFigures adding up to more than Total",
    ] {
        assert!(stats.stdout.contains(note), "{note:?}:\n{}", stats.stdout);
    }
}

#[test]
fn a_generated_trace_has_the_viewers_goroutine_figures() {
    let Some(go) = require_go("a_generated_trace_has_the_viewers_goroutine_figures") else {
        return;
    };
    // The benchmark's generator, small: 3 Ps, 8 goroutines each, blocking, waking, preempted,
    // in regions, over 5 generations.
    let (trace, generations) = generate(Shape {
        seed: 7,
        procs: 3,
        goroutines_per_proc: 8,
        generation_bytes: 40 << 10,
        total_bytes: 200 << 10,
    });
    assert!(generations >= 5);
    let file = scratch_file("goroutine-generated.trace", &trace);
    let viewer = go.open_viewer(&file).unwrap();
    assert_eq!(assert_stats_as_viewer(&viewer, &file), 24);
}

/// Times that Go's parser converts out of range (made later than the last time instead) and times
/// near the largest: two goroutines running side by side for most of that span, whose execution
/// times add up past it, and a system call that lost its P, counted twice. The figures wrap as
/// Go's 64-bit durations do, the viewer's and ours alike, and nothing panics on the way.
fn extreme_times() -> Vec<u8> {
    // One tick a second: 10^10 ticks are past the largest time in nanoseconds.
    const OUT_OF_RANGE: u64 = 10_000_000_000;
    const LATE: u64 = 9_000_000_000;
    let mut w = Writer::new(Vec::new(), Version::Go122).unwrap();
    write_batch(
        &mut w,
        1,
        0,
        OUT_OF_RANGE,
        &[
            ev(EventType::PROC_STATUS, vec![0, 0, proc_status::RUNNING]),
            ev(EventType::GO_STATUS, vec![0, 1, 0, go_status::RUNNING]),
        ],
    );
    write_batch(
        &mut w,
        1,
        1,
        1,
        &[
            ev(EventType::PROC_STATUS, vec![0, 1, proc_status::RUNNING]),
            ev(EventType::GO_STATUS, vec![0, 2, 1, go_status::RUNNING]),
            ev(EventType::GO_SYSCALL_BEGIN, vec![1, 1, 0]),
        ],
    );
    write_batch(
        &mut w,
        1,
        2,
        LATE,
        &[
            ev(EventType::PROC_STATUS, vec![0, 2, proc_status::RUNNING]),
            ev(EventType::PROC_STEAL, vec![1, 1, 2, 1]),
            ev(EventType::PROC_STOP, vec![200_000_000]),
        ],
    );
    write_batch(
        &mut w,
        1,
        NO_THREAD,
        0,
        &[ev(EventType::FREQUENCY, vec![1])],
    );
    w.into_inner()
}

#[test]
fn extreme_times_wrap_as_the_viewers() {
    let Some(go) = require_go("extreme_times_wrap_as_the_viewers") else {
        return;
    };
    let file = scratch_file("goroutine-extreme-times.trace", &extreme_times());
    let viewer = go.open_viewer(&file).unwrap();
    assert_eq!(assert_stats_as_viewer(&viewer, &file), 2);
}
