//! P states at the edges of Go's rules, which Go's vectors leave out: a `ProcSyscallAbandoned`
//! status for a P already known in the next generation (promoted when it was in a syscall,
//! passed through when it was abandoned before, refused otherwise), starts and steals stamped
//! before the events they must wait for, a stop of a P stated in a syscall, and a steal of a P
//! that is running. Each is accepted or rejected with Go's error, and Go's parser prints the
//! same events.

mod support;

use support::{trace_text, Batch, Case, THREAD_0_ENTERS_A_SYSCALL};

/// A P stated in generation 1 by `first` (on thread 1), then in generation 2 by `second` (on
/// thread 1 too), where thread 9's steal of an abandoned P may follow.
fn restated(first: &'static str, second: &[&str]) -> String {
    trace_text(&[
        Batch {
            gen: 1,
            m: 1,
            time: 1,
            events: &[first],
        },
        Batch {
            gen: 2,
            m: 1,
            time: 10,
            events: second,
        },
    ])
}

/// Thread 0 enters a syscall with P 0 in generation 1, still in it when generation 2 begins,
/// where thread 1 states P 0 abandoned and steals it, and thread 0 learns of it.
fn abandoned_while_in_a_syscall() -> String {
    trace_text(&[
        THREAD_0_ENTERS_A_SYSCALL,
        Batch {
            gen: 1,
            m: 1,
            time: 5,
            events: &["ProcStatus dt=1 p=1 pstatus=2"],
        },
        Batch {
            gen: 2,
            m: 0,
            time: 20,
            events: &[
                "ProcStatus dt=1 p=0 pstatus=3",
                "GoStatus dt=1 g=1 m=0 gstatus=3",
                "GoSyscallEndBlocked dt=20",
            ],
        },
        Batch {
            gen: 2,
            m: 1,
            time: 30,
            events: &[
                "ProcStatus dt=1 p=1 pstatus=2",
                "ProcStatus dt=1 p=0 pstatus=4",
                "ProcSteal dt=1 p=0 p_seq=1 m=0",
            ],
        },
    ])
}

/// Thread 1 starts P 0 (with P sequence number `seq`) and stops it, stamped before thread 0,
/// which holds P 0 as `status` says, starts or stops it.
fn start_stamped_early(status: &str, on_thread_0: &[&str], seq: u64) -> String {
    let start = format!("ProcStart dt=1 p=0 p_seq={seq}");
    trace_text(&[
        Batch {
            gen: 1,
            m: 0,
            time: 1,
            events: &[&[status], on_thread_0].concat(),
        },
        Batch {
            gen: 1,
            m: 1,
            time: 10,
            events: &[&start, "ProcStop dt=1"],
        },
    ])
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "abandoned-while-in-a-syscall",
            text: abandoned_while_in_a_syscall(),
            error: None,
        },
        Case {
            name: "abandoned-twice",
            text: restated(
                "ProcStatus dt=1 p=0 pstatus=4",
                &[
                    "ProcStatus dt=1 p=0 pstatus=4",
                    "ProcSteal dt=1 p=0 p_seq=1 m=9",
                ],
            ),
            error: None,
        },
        Case {
            name: "abandoned-then-idle",
            text: restated(
                "ProcStatus dt=1 p=0 pstatus=4",
                &["ProcStatus dt=1 p=0 pstatus=2"],
            ),
            error: Some("inconsistent status for proc 0: old Bad vs. new Idle"),
        },
        Case {
            name: "idle-then-abandoned",
            text: restated(
                "ProcStatus dt=1 p=0 pstatus=2",
                &["ProcStatus dt=1 p=0 pstatus=4"],
            ),
            error: Some("inconsistent status for proc 0: old Idle vs. new Bad"),
        },
        // Thread 1's start waits for thread 0's stop, stamped later.
        Case {
            name: "start-stamped-before-the-stop",
            text: start_stamped_early("ProcStatus dt=1 p=0 pstatus=1", &["ProcStop dt=50"], 1),
            error: None,
        },
        // Thread 1's start (sequence 2) waits for thread 0's start and stop (sequence 1).
        Case {
            name: "start-stamped-before-an-earlier-start",
            text: start_stamped_early(
                "ProcStatus dt=1 p=0 pstatus=2",
                &["ProcStart dt=50 p=0 p_seq=1", "ProcStop dt=1"],
                2,
            ),
            error: None,
        },
        Case {
            name: "stop-of-a-p-in-a-syscall",
            text: trace_text(&[Batch {
                gen: 1,
                m: 0,
                time: 1,
                events: &[
                    "ProcStatus dt=1 p=0 pstatus=3",
                    "GoStatus dt=1 g=1 m=0 gstatus=3",
                    "ProcStop dt=1",
                ],
            }]),
            error: None,
        },
        Case {
            name: "steal-of-a-running-p",
            text: trace_text(&[
                Batch {
                    gen: 1,
                    m: 0,
                    time: 1,
                    events: &[
                        "ProcStatus dt=1 p=0 pstatus=1",
                        "GoStatus dt=1 g=1 m=0 gstatus=2",
                    ],
                },
                Batch {
                    gen: 1,
                    m: 1,
                    time: 10,
                    events: &["ProcSteal dt=1 p=0 p_seq=1 m=0"],
                },
            ]),
            error: Some("broken trace: failed to advance: frontier:"),
        },
    ]
}

#[test]
fn p_state_cases_get_gos_verdict() {
    support::assert_verdicts(&cases());
}

#[test]
fn p_state_cases_print_like_go() {
    support::assert_cases_like_go("P state cases against Go", &cases());
}
