//! Traces written by the encoder alone (no scheduler), judged by Go's parser: every event kind the
//! device writes, generation boundaries, and tracing restarted.

mod common;

use common::{go_accepts, StepClock};
use gotrace_encoder::{Config, Encoder, GoSlot, ProcStatus, Reason, VecSink};

type Enc = Encoder<VecSink, StepClock, 3, 2, 4, 128>;

fn encoder() -> Enc {
    Encoder::new(VecSink::default(), StepClock(100), Config::MANUAL)
}

#[test]
fn every_event_kind_in_several_generations_is_accepted() {
    let mut e = encoder();
    // State before tracing: a task created and running on P0 in thread mode (M0).
    e.proc_start(0, 0).unwrap();
    e.go_create(0, 0, 0x0800_1234).unwrap();
    e.go_start(0, GoSlot::Task(0)).unwrap();
    e.start(0).unwrap();

    e.go_create(0, 1, 0x0800_2000).unwrap();
    e.user_task_begin(0, 1, 0, "transfer").unwrap();
    e.user_region_begin(0, 1, "fill").unwrap();
    e.user_log(0, 1, "bytes", "512").unwrap();
    e.user_region_end(0, 1, "fill").unwrap();
    e.go_label(0, "main").unwrap();
    e.user_task_end(0, 1).unwrap();
    e.go_block(0, Reason::Wait).unwrap();
    e.go_start(0, GoSlot::Task(1)).unwrap();
    e.go_unblock(0, GoSlot::Task(0)).unwrap();
    // Task 1 blocks in a transfer; an interrupt level (M1) steals P0 and runs task 0.
    e.syscall_begin(0).unwrap();
    e.advance(0).unwrap();
    e.proc_steal(1, 0).unwrap();
    e.proc_start(1, 0).unwrap();
    e.go_start(1, GoSlot::Task(0)).unwrap();
    e.go_stop(1, Reason::Yield).unwrap();
    e.proc_stop(1).unwrap();
    // Back in thread mode: the P was lost, take it again.
    assert!(!e.syscall_end(0).unwrap());
    e.proc_start(0, 0).unwrap();
    e.go_start(0, GoSlot::Task(1)).unwrap();
    e.go_destroy(0).unwrap();
    e.advance(0).unwrap();
    // An interrupt callback (M2) takes P1, runs, and exits still holding it.
    e.callback_enter(2).unwrap();
    e.proc_start(2, 1).unwrap();
    assert!(!e.syscall_end(2).unwrap());
    e.go_start(2, GoSlot::Callback(2)).unwrap();
    e.syscall_begin(2).unwrap();
    e.callback_exit(2).unwrap();
    assert_eq!(e.proc_status(1).unwrap(), ProcStatus::Abandoned);
    e.advance(0).unwrap();
    // The same callback again, same M, same goroutine ID; it steals its abandoned P back.
    e.callback_enter(2).unwrap();
    e.proc_steal(2, 1).unwrap();
    e.callback_exit(2).unwrap();
    e.stop(0).unwrap();

    // Tracing off: state still followed; then a second trace.
    e.go_start(0, GoSlot::Task(0)).unwrap();
    e.start(1).unwrap();
    e.go_stop(0, Reason::Yield).unwrap();
    e.stop(1).unwrap();

    let traces = &e.sink().traces;
    assert_eq!(traces.len(), 2);
    let first = go_accepts("every-event-kind", &traces[0]);
    go_accepts("restarted", &traces[1]);
    if let Some(out) = first {
        assert!(out.contains(r#"Category="bytes" Message="512""#), "{out}");
        // The callback goroutine is created twice on M2 with the same ID, like the M ID.
        let created: Vec<&str> = out
            .lines()
            .filter(|l| l.starts_with("M=2 ") && l.contains("NotExist->Syscall"))
            .map(|l| {
                l.split_whitespace()
                    .find(|w| w.starts_with("GoID="))
                    .unwrap()
            })
            .collect();
        assert_eq!(created.len(), 2, "{out}");
        assert_eq!(created[0], created[1]);
        // The steal on M1 is seen as P0 leaving its blocked owner.
        assert!(
            out.lines()
                .any(|l| l.starts_with("M=1 ") && l.contains("ProcID=0 Running->Idle")),
            "{out}"
        );
    }
}

#[test]
fn small_buffers_and_byte_limits_split_batches_and_generations() {
    let mut e: Encoder<VecSink, StepClock, 1, 1, 2, 64> = Encoder::new(
        VecSink::default(),
        StepClock(0),
        Config {
            generation_ticks: 0,
            generation_bytes: 100,
        },
    );
    e.start(0).unwrap();
    e.proc_start(0, 0).unwrap();
    e.go_create(0, 0, 0x100).unwrap();
    for _ in 0..200 {
        e.go_start(0, GoSlot::Task(0)).unwrap();
        e.go_stop(0, Reason::Yield).unwrap();
    }
    e.stop(0).unwrap();
    assert!(e.stats().generations > 10, "{:?}", e.stats());
    go_accepts("small-buffers", &e.sink().traces[0]);
}

#[test]
fn generations_end_by_period() {
    let mut e: Enc = Encoder::new(
        VecSink::default(),
        StepClock(0),
        Config {
            generation_ticks: 60,
            generation_bytes: 0,
        },
    );
    e.start(0).unwrap();
    e.proc_start(0, 0).unwrap();
    e.go_create(0, 0, 0x100).unwrap();
    for _ in 0..50 {
        e.go_start(0, GoSlot::Task(0)).unwrap();
        e.go_stop(0, Reason::Yield).unwrap();
    }
    e.stop(0).unwrap();
    // The step clock advances 3 ticks per read: a generation every 20 reads or so.
    let gens = e.stats().generations;
    assert!((5..=20).contains(&gens), "{gens} generations");
    go_accepts("by-period", &e.sink().traces[0]);
}

#[test]
fn invalid_transitions_are_refused_and_change_nothing() {
    let mut e = encoder();
    assert!(e.proc_stop(0).is_err());
    assert!(e.go_start(0, GoSlot::Task(0)).is_err());
    assert!(e.proc_steal(1, 0).is_err(), "P0 is idle, not in a syscall");
    e.proc_start(0, 0).unwrap();
    assert!(e.proc_start(1, 0).is_err(), "P0 is taken");
    assert!(e.callback_exit(1).is_err());
    assert!(e.go_create(0, 9, 0).is_err(), "no slot 9");
    assert_eq!(e.proc_status(0).unwrap(), ProcStatus::Running);
    assert!(e.stop(0).is_err());
}
