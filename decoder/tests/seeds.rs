//! The hard cases of the format (Go's fixes: `wire/WIRE-FORMAT.md`, "The hard cases"), written
//! as small traces: each fixed form must be accepted and each broken form rejected with Go's
//! error, and Go's own parser must print the same events and give the same verdict.

mod support;

use support::{trace_text, Batch, Case, THREAD_0_ENTERS_A_SYSCALL};

/// M = -1: no thread.
const NO_M: &str = "18446744073709551615";

/// Thread 1 steals P 0 from thread 0's syscall ([`THREAD_0_ENTERS_A_SYSCALL`]).
const THREAD_1_STEALS_P_0: Batch<'static> = Batch {
    gen: 1,
    m: 1,
    time: 10,
    events: &["ProcSteal dt=1 p=0 p_seq=2 m=0"],
};

fn steal_back_from_a_later_syscall(broken: bool) -> String {
    // Thread 0 enters a syscall; thread 1 steals its P, runs and enters a syscall of its own;
    // then thread 0 (entersyscall_gcwait) takes the P: that is a steal from thread 1, and a
    // ProcStop there is the bug Go commit b6b72c7 fixed.
    let take = if broken {
        "ProcStop dt=50"
    } else {
        "ProcSteal dt=50 p=0 p_seq=5 m=1"
    };
    let g2_runnable = format!("GoStatus dt=1 g=2 m={NO_M} gstatus=1");
    trace_text(&[
        Batch {
            gen: 1,
            m: 0,
            time: 1,
            events: &[
                "ProcStatus dt=1 p=0 pstatus=1",
                "GoStatus dt=1 g=1 m=0 gstatus=2",
                &g2_runnable,
                "GoSyscallBegin dt=1 p_seq=1 stack=0",
                take,
                "GoSyscallEndBlocked dt=1",
            ],
        },
        Batch {
            gen: 1,
            m: 1,
            time: 10,
            events: &[
                "ProcSteal dt=1 p=0 p_seq=2 m=0",
                "ProcStart dt=1 p=0 p_seq=3",
                "GoStart dt=1 g=2 g_seq=1",
                "GoSyscallBegin dt=1 p_seq=4 stack=0",
                "GoSyscallEndBlocked dt=100",
            ],
        },
    ])
}

fn syscall_status_in_a_later_generation(status_thread: i64) -> String {
    // A goroutine stays in a syscall across a generation boundary; the next generation states
    // it again. Stated on a thread other than the one it entered the syscall on (Go commit c469666:
    // the runtime used the wrong M ID), it must be rejected.
    let status = format!("GoStatus dt=1 g=1 m={status_thread} gstatus=3");
    trace_text(&[
        THREAD_0_ENTERS_A_SYSCALL,
        THREAD_1_STEALS_P_0,
        Batch {
            gen: 2,
            m: 1,
            time: 20,
            events: &["ProcStatus dt=1 p=0 pstatus=2"],
        },
        Batch {
            gen: 2,
            m: status_thread,
            time: 30,
            events: &[&status, "GoSyscallEndBlocked dt=1"],
        },
    ])
}

fn syscall_status_stated_by_another_thread(status_thread: i64) -> String {
    // As above, but the next generation's status comes from the thread that stole the P, naming
    // the goroutine's thread, which that thread's own events then confirm; thread 2 has no
    // goroutine.
    let status = format!("GoStatus dt=1 g=1 m={status_thread} gstatus=3");
    trace_text(&[
        THREAD_0_ENTERS_A_SYSCALL,
        THREAD_1_STEALS_P_0,
        Batch {
            gen: 1,
            m: 2,
            time: 12,
            events: &["ProcStatus dt=1 p=1 pstatus=2"],
        },
        Batch {
            gen: 2,
            m: 1,
            time: 20,
            events: &["ProcStatus dt=1 p=0 pstatus=2", &status],
        },
        Batch {
            gen: 2,
            m: 0,
            time: 30,
            events: &["GoSyscallEndBlocked dt=1"],
        },
    ])
}

fn syscall_end_blocked(stolen: bool) -> String {
    // GoSyscallEndBlocked waits for its P to be lost. Without the ProcSteal (Go commit c9d88ea: a steal
    // not traced because tracing stopped in between) it can never happen.
    let events = [
        THREAD_0_ENTERS_A_SYSCALL.events,
        &["GoSyscallEndBlocked dt=5"],
    ]
    .concat();
    let mut batches = vec![Batch {
        events: &events,
        ..THREAD_0_ENTERS_A_SYSCALL
    }];
    if stolen {
        // Stamped after the end: the merge must hold the end back until the steal.
        batches.push(Batch {
            gen: 1,
            m: 1,
            time: 20,
            events: &["ProcSteal dt=1 p=0 p_seq=2 m=0"],
        });
    }
    trace_text(&batches)
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "steal-back-from-a-later-syscall",
            text: steal_back_from_a_later_syscall(false),
            error: None,
        },
        Case {
            name: "procstop-where-a-steal-belongs",
            text: steal_back_from_a_later_syscall(true),
            error: Some("event ProcStop for proc (-1) that doesn't exist"),
        },
        Case {
            name: "syscall-status-on-its-thread",
            text: syscall_status_in_a_later_generation(0),
            error: None,
        },
        Case {
            name: "syscall-status-on-the-wrong-thread",
            text: syscall_status_in_a_later_generation(7),
            error: Some("inconsistent thread for syscalling goroutine 1: thread has goroutine -1"),
        },
        Case {
            name: "syscall-status-stated-by-another-thread",
            text: syscall_status_stated_by_another_thread(0),
            error: None,
        },
        Case {
            name: "syscall-status-naming-another-threads-other-goroutine",
            text: syscall_status_stated_by_another_thread(2),
            error: Some("inconsistent thread for syscalling goroutine 1: thread has goroutine -1"),
        },
        Case {
            name: "syscall-end-blocked-after-steal",
            text: syscall_end_blocked(true),
            error: None,
        },
        Case {
            name: "syscall-end-blocked-without-steal",
            text: syscall_end_blocked(false),
            error: Some("broken trace: failed to advance: frontier:"),
        },
        Case {
            name: "syscall-begin-skipping-a-p-sequence-number",
            text: trace_text(&[Batch {
                gen: 1,
                m: 0,
                time: 1,
                events: &[
                    "ProcStatus dt=1 p=0 pstatus=1",
                    "GoStatus dt=1 g=1 m=0 gstatus=2",
                    "GoSyscallBegin dt=1 p_seq=2 stack=0",
                ],
            }]),
            error: Some(
                "failed to advance GoSyscallBegin: can't make sequence: 0 (gen=1) -> 2 (gen=1)",
            ),
        },
        Case {
            name: "destroy-syscall-on-a-running-p",
            // A goroutine created "in a syscall" on a thread that holds a running P (Go commit 6d7b3c8).
            text: trace_text(&[Batch {
                gen: 1,
                m: 0,
                time: 1,
                events: &[
                    "ProcStatus dt=1 p=0 pstatus=1",
                    "GoCreateSyscall dt=1 new_g=5",
                    "GoDestroySyscall dt=1",
                ],
            }]),
            error: Some("proc 0 in unexpected state Running during GoDestroySyscall"),
        },
        Case {
            name: "steal-of-an-abandoned-p",
            text: trace_text(&[Batch {
                gen: 1,
                m: 1,
                time: 1,
                events: &[
                    "ProcStatus dt=1 p=0 pstatus=4",
                    "ProcSteal dt=1 p=0 p_seq=1 m=9",
                ],
            }]),
            error: None,
        },
        Case {
            name: "self-steal-of-a-p-held-elsewhere",
            text: trace_text(&[
                Batch {
                    gen: 1,
                    m: 1,
                    time: 1,
                    events: &[
                        "ProcStatus dt=1 p=0 pstatus=1",
                        "GoStatus dt=1 g=1 m=1 gstatus=2",
                        "GoSyscallBegin dt=1 p_seq=1 stack=0",
                    ],
                },
                Batch {
                    gen: 1,
                    m: 0,
                    time: 10,
                    events: &["ProcSteal dt=1 p=0 p_seq=2 m=0"],
                },
            ]),
            error: Some("tried to self-steal proc 0 (thread 0), but got proc -1 instead"),
        },
        Case {
            name: "steal-from-an-unknown-thread",
            text: trace_text(&[
                Batch {
                    gen: 1,
                    m: 1,
                    time: 1,
                    events: &["ProcStatus dt=1 p=0 pstatus=3"],
                },
                Batch {
                    gen: 1,
                    m: 0,
                    time: 10,
                    events: &["ProcSteal dt=1 p=0 p_seq=1 m=5"],
                },
            ]),
            error: Some("stole proc from non-existent thread 5"),
        },
    ]
}

#[test]
fn seed_cases_get_gos_verdict() {
    support::assert_verdicts(&cases());
}

#[test]
fn seed_cases_print_like_go() {
    support::assert_cases_like_go("seed cases against Go", &cases());
}

#[test]
fn errors_say_where() {
    let outcome = support::run_ours(&support::to_binary(&steal_back_from_a_later_syscall(true)));
    let error = outcome.error.expect("the broken form is rejected");
    let location = error.location();
    assert_eq!(location.generation, Some(1));
    assert_eq!(location.thread, Some(0));
    assert_eq!(location.batch, Some(0));
    assert_eq!(location.batch_offset, Some(16));
    assert_eq!(location.event.as_deref(), Some("ProcStop dt=50"));
    assert!(error.to_string().starts_with(
        "event ProcStop for proc (-1) that doesn't exist (generation 1, M 0, batch #0 at byte offset 16, event at byte offset "
    ), "{error}");
}
