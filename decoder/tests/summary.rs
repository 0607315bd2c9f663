//! The goroutine analysis (`Summarizer`) on a trace that meets each of its rules: a goroutine
//! in each state at the trace's start, created, blocked for a reason and for ever, waiting for a
//! P, in a system call that keeps its P, loses it and returns, or loses it and is still going
//! at the end, in a range on itself and on its P, and in a range open across a generation.

mod support;

use gotrace_decoder::{GoroutineTimes, Reader, Summarizer};
use support::{batch_text, tables_text, to_binary, Batch};

/// Times are in ticks of 64 ns from each batch's base; the figures below are in nanoseconds.
fn trace() -> String {
    let gen1 = [
        Batch {
            gen: 1,
            m: 0,
            time: 10,
            events: &[
                "ProcStatus dt=1 p=0 pstatus=1",
                "GoStatus dt=1 g=1 m=0 gstatus=2",
                "GoStatus dt=1 g=3 m=18446744073709551615 gstatus=4",
                "GoStatus dt=1 g=5 m=18446744073709551615 gstatus=1",
                "GoCreate dt=10 new_g=2 new_stack=1 stack=0",
                "GoBlock dt=10 reason_string=1 stack=0",
                "GoStart dt=10 g=2 g_seq=1",
                "GoUnblock dt=10 g=1 g_seq=1 stack=0",
                "GCMarkAssistBegin dt=5 stack=0",
                "GCMarkAssistEnd dt=5",
                "GCSweepBegin dt=5 stack=0",
                "GCSweepEnd dt=5 swept_value=0 reclaimed_value=0",
                "GoSyscallBegin dt=10 p_seq=1 stack=0",
                "GoSyscallEndBlocked dt=66",
            ],
        },
        Batch {
            gen: 1,
            m: 1,
            time: 100,
            events: &[
                "ProcSteal dt=1 p=0 p_seq=2 m=0",
                "ProcStart dt=10 p=0 p_seq=3",
                "GoStart dt=10 g=1 g_seq=2",
                "GoBlock dt=10 reason_string=2 stack=0",
                "GoStart dt=10 g=5 g_seq=1",
                "GoUnblock dt=10 g=3 g_seq=1 stack=0",
                "GoUnblock dt=5 g=1 g_seq=3 stack=0",
                "GoSyscallBegin dt=5 p_seq=4 stack=0",
            ],
        },
        Batch {
            gen: 1,
            m: 2,
            time: 300,
            events: &[
                "ProcSteal dt=1 p=0 p_seq=5 m=1",
                "ProcStart dt=10 p=0 p_seq=6",
                "GoStart dt=10 g=2 g_seq=2",
                "GCSweepBegin dt=5 stack=0",
                "GoDestroy dt=5",
                "GoStart dt=10 g=3 g_seq=2",
                "GCSweepEnd dt=5 swept_value=0 reclaimed_value=0",
                "GCMarkAssistBegin dt=5 stack=0",
            ],
        },
        Batch {
            gen: 1,
            m: 4,
            time: 7,
            events: &[
                "ProcStatus dt=1 p=1 pstatus=3",
                "GoStatus dt=1 g=6 m=4 gstatus=3",
            ],
        },
        Batch {
            gen: 1,
            m: 3,
            time: 5,
            events: &[
                "GoStatus dt=1 g=4 m=3 gstatus=3",
                "GoSyscallEndBlocked dt=394",
            ],
        },
    ];
    let gen2 = [
        Batch {
            gen: 2,
            m: 2,
            time: 500,
            events: &[
                "ProcStatus dt=1 p=0 pstatus=1",
                "GoStatus dt=1 g=3 m=2 gstatus=2",
                "GCMarkAssistActive dt=1 g=3",
                "GCMarkAssistEnd dt=17",
            ],
        },
        Batch {
            gen: 2,
            m: 1,
            time: 501,
            events: &["GoStatus dt=1 g=5 m=1 gstatus=3"],
        },
        Batch {
            gen: 2,
            m: 4,
            time: 502,
            events: &[
                "ProcStatus dt=1 p=1 pstatus=3",
                "GoStatus dt=1 g=6 m=4 gstatus=3",
                "GoSyscallEnd dt=5",
                "GoBlock dt=5 reason_string=0 stack=0",
            ],
        },
    ];
    let mut text = String::from("Trace Go1.22\n");
    for batch in &gen1 {
        text.push_str(&batch_text(batch));
    }
    let strings = ["chan receive", "forever", "main.worker"];
    text.push_str(&tables_text(1, &strings, &[(0x1234, 3)]));
    for batch in &gen2 {
        text.push_str(&batch_text(batch));
    }
    text.push_str(&tables_text(2, &[], &[]));
    text
}

/// One goroutine's summary as `go tool trace`'s goroutine pages show it for this trace: the
/// figures of its row (the non-overlapping ones, by the viewer's column names) and of its ranges.
struct Expected {
    id: i64,
    name: &'static str,
    pc: u64,
    creation: i64,
    start: Option<i64>,
    end: Option<i64>,
    total: i64,
    figures: &'static [(&'static str, i64)],
    ranges: &'static [(&'static str, i64)],
}

/// The trace's goroutines, each figure checked against `go tool trace`'s viewer (Go 1.26) on
/// this trace. The first event, and so the first Sync, is at 1 ns; the last (the end) at
/// 33,281 ns (generation 2's Sync at 25,601 ns).
const EXPECTED: [Expected; 6] = [
    // Running at the start (since the Sync) until it blocks at 2,176 on a channel; unblocked at
    // 3,456, it waits for a P until 7,744 and blocks for ever at 8,384: ended there, its total
    // closed. Unblocked all the same at 9,984, it waits for a P from then on (the time blocked
    // for ever is in no figure), as in the viewer.
    Expected {
        id: 1,
        name: "",
        pc: 0,
        creation: 1,
        start: Some(768),
        end: Some(8384),
        total: 8383,
        figures: &[
            ("Execution time", 2815),
            ("Block time (chan receive)", 1280),
            ("Sched wait time", 27585),
            ("Syscall execution time", 0),
            ("Block time (syscall)", 0),
            ("Unknown time", 0),
        ],
        ranges: &[],
    },
    // Created at 1,536 with stack 1 (its name and PC), runs from 2,816, marks and sweeps; its
    // system call from 5,376 loses its P at 6,464 and returns at 9,600 (blocked from the loss);
    // waits until 20,544, begins a sweep on its P at 20,864 and ends at 21,184, the sweep
    // counted until then (G3, which ends it, does not get it).
    Expected {
        id: 2,
        name: "main.worker",
        pc: 0x1234,
        creation: 1536,
        start: Some(2816),
        end: Some(21184),
        total: 19648,
        figures: &[
            ("Execution time", 3200),
            ("Block time (syscall)", 3136),
            ("Sched wait time", 12224),
            ("Syscall execution time", 1088),
            ("Unknown time", 0),
        ],
        ranges: &[("GC incremental sweep", 640), ("GC mark assist", 320)],
    },
    // Waiting at the start (no reason), unblocked at 9,664, runs from 21,824 to the end; its
    // mark assist from 22,464 is active again in generation 2 and ends at 33,280.
    Expected {
        id: 3,
        name: "",
        pc: 0,
        creation: 1,
        start: Some(21824),
        end: None,
        total: 33280,
        figures: &[
            ("Execution time", 11457),
            ("Block time ()", 9663),
            ("Sched wait time", 12160),
            ("Syscall execution time", 0),
            ("Block time (syscall)", 0),
            ("Unknown time", 0),
        ],
        ranges: &[("GC mark assist", 10816)],
    },
    // In a system call without a P when first seen (384): blocked until then, a system call
    // from then on; it returns at 25,600 and waits for a P to the end.
    Expected {
        id: 4,
        name: "",
        pc: 0,
        creation: 1,
        start: None,
        end: None,
        total: 33280,
        figures: &[
            ("Execution time", 0),
            ("Block time (syscall)", 383),
            ("Sched wait time", 7681),
            ("Syscall execution time", 25216),
            ("Unknown time", 0),
        ],
        ranges: &[],
    },
    // Runnable at the start, runs from 9,024, enters a system call at 10,304 that loses its P at
    // 19,264 and is still going at the end (its status stated again in generation 2): a system
    // call throughout, and waiting for a P since the loss too, so that its figures exceed its
    // total (and nothing is unknown).
    Expected {
        id: 5,
        name: "",
        pc: 0,
        creation: 1,
        start: Some(9024),
        end: None,
        total: 33280,
        figures: &[
            ("Execution time", 1280),
            ("Block time (syscall)", 0),
            ("Sched wait time", 23040),
            ("Syscall execution time", 22977),
            ("Unknown time", 0),
        ],
        ranges: &[],
    },
    // In a system call with its P (P 1) when first seen: a system call since the Sync, its
    // status stated again in generation 2 with its P's, which ends nothing; it returns at
    // 32,576 keeping its P, runs, and blocks at 32,896 to the end.
    Expected {
        id: 6,
        name: "",
        pc: 0,
        creation: 1,
        start: Some(32576),
        end: None,
        total: 33280,
        figures: &[
            ("Execution time", 320),
            ("Block time ()", 385),
            ("Sched wait time", 0),
            ("Syscall execution time", 32575),
            ("Block time (syscall)", 0),
            ("Unknown time", 0),
        ],
        ranges: &[],
    },
];

#[test]
fn each_goroutines_time_is_where_gos_viewer_puts_it() {
    let bytes = to_binary(&trace());
    let mut reader = Reader::new(&bytes[..]).unwrap();
    let mut summarizer = Summarizer::new();
    while let Some(event) = reader.read_event_ref().unwrap() {
        summarizer.event(event);
    }
    let summaries = summarizer.finish();
    assert_eq!(summaries.len(), EXPECTED.len());
    for (g, expected) in summaries.iter().zip(&EXPECTED) {
        let id = expected.id;
        assert_eq!(g.id, id);
        assert_eq!(String::from_utf8_lossy(&g.name), expected.name, "G{id}");
        assert_eq!(g.pc, expected.pc, "G{id}'s PC");
        assert_eq!(g.creation, expected.creation, "G{id} created");
        assert_eq!(g.start, expected.start, "G{id} started");
        assert_eq!(g.end, expected.end, "G{id} ended");
        assert_eq!(g.times.total, expected.total, "G{id} total");
        let mut figures = g.times.named();
        let mut want: Vec<(String, i64)> = expected
            .figures
            .iter()
            .map(|&(name, ns)| (name.to_owned(), ns))
            .collect();
        // The viewer shows "Execution time" first, then the rest by name.
        assert_eq!(figures[0].0, "Execution time");
        figures[1..].sort();
        want[1..].sort();
        assert_eq!(figures, want, "G{id}");
        let ranges: Vec<(String, i64)> = g
            .times
            .ranges
            .iter()
            .map(|(name, &ns)| (String::from_utf8_lossy(name).into_owned(), ns))
            .collect();
        let want: Vec<(String, i64)> = expected
            .ranges
            .iter()
            .map(|&(name, ns)| (name.to_owned(), ns))
            .collect();
        assert_eq!(ranges, want, "G{id} ranges");
    }
}

#[test]
fn go_reads_the_trace_as_we_do() {
    support::assert_like_go(
        "go_reads_the_trace_as_we_do",
        &[("summary", to_binary(&trace()))],
    );
}

#[test]
fn unknown_time_is_what_the_other_figures_leave_of_the_total() {
    let mut times = GoroutineTimes {
        exec: 10,
        sched_wait: 20,
        blocked: [(b"select".to_vec(), 5)].into(),
        syscall: 1,
        syscall_blocked: 2,
        total: 50,
        ranges: [(b"GC mark assist".to_vec(), 40)].into(),
    };
    // The ranges overlap the rest and leave nothing out.
    assert_eq!(times.unknown(), 12);
    times.total = 38;
    assert_eq!(times.unknown(), 0);
    // More accounted than the total (a system call still going after its P was lost).
    times.total = 30;
    assert_eq!(times.unknown(), 0);
}
