//! One scripted scenario per hard case of the format (Go's fixes: `wire/WIRE-FORMAT.md`, "The
//! hard cases"), run on the simulated
//! scheduler; each trace must be accepted by Go's parser, and the events that make the case hard
//! must be there, in the right context's batch.

mod common;

use common::{fire_at_point, go_judge, Judged};
use gotrace_scheduler::sim::{current, Sim};
use gotrace_scheduler::{Annotate, Config, Step, TaskCx, TaskFn};

/// Spawns `tasks` on executor 0, traces one round of it from thread mode, and has Go judge the
/// single trace written.
fn run_traced(name: &str, tasks: &[TaskFn]) -> (Sim, Option<Judged>) {
    let sim = Sim::new(Config::MANUAL);
    let s = sim.scheduler();
    for &task in tasks {
        s.spawn(0, task, 0).unwrap();
    }
    s.start_tracing().unwrap();
    assert!(s.run_executor(0).unwrap() >= 1);
    s.stop_tracing().unwrap();
    let traces = sim.traces();
    assert_eq!(traces.len(), 1);
    let judged = go_judge(name, &traces).map(|mut j| j.remove(0));
    (sim, judged)
}

fn done(_: &mut TaskCx<'_>) -> Step {
    Step::Done
}

/// Where the first event of `kind` (the start of its line) is in `events`.
fn first(events: &[String], kind: &str) -> usize {
    events
        .iter()
        .position(|e| e.starts_with(kind))
        .unwrap_or_else(|| panic!("no {kind} in {events:?}"))
}

/// Runs executor 0 from interrupt level 1 (stealing it if a task blocks on it).
fn steal_from_level_1() {
    let s = current();
    s.platform().interrupt(1, || s.run_executor(0).unwrap());
}

fn blocked_then_stolen(cx: &mut TaskCx<'_>) -> Step {
    cx.blocking(steal_from_level_1).unwrap();
    Step::Done
}

#[test]
fn steal_from_a_blocking_operation() {
    let (_sim, Some(judged)) = run_traced("steal", &[blocked_then_stolen, done]) else {
        return;
    };
    let m0 = judged.events_of(0);
    let m1 = judged.events_of(1);
    assert!(
        m1.iter()
            .any(|e| e.starts_with("ProcSteal") && e.contains("p=0") && e.ends_with("m=0")),
        "{m1:?}"
    );
    // The blocked task learns it lost its executor.
    let end = first(&m0, "GoSyscallEndBlocked");
    assert!(m0[end + 1].starts_with("ProcStart") && m0[end + 2].starts_with("GoStart"));
}

fn detached_while_level_1_runs(cx: &mut TaskCx<'_>) -> Step {
    cx.blocking_detached(steal_from_level_1).unwrap();
    Step::Done
}

#[test]
fn self_steal_from_a_detached_blocking_operation() {
    let (_sim, Some(judged)) = run_traced("self-steal", &[detached_while_level_1_runs, done])
    else {
        return;
    };
    let m0 = judged.events_of(0);
    let begin = first(&m0, "GoSyscallBegin");
    // The context gives its own P up by stealing it from itself — never a ProcStop (Go commit b6b72c7).
    assert!(
        m0[begin + 1].starts_with("ProcSteal") && m0[begin + 1].ends_with("m=0"),
        "{m0:?}"
    );
    let end = first(&m0, "GoSyscallEndBlocked");
    assert!(
        !m0[begin..end].iter().any(|e| e.starts_with("ProcStop")),
        "{m0:?}"
    );
    // Level 1 found the executor idle: it starts it without stealing.
    let m1 = judged.events_of(1);
    assert!(m1[0].starts_with("ProcStart"), "{m1:?}");
}

/// A callback takes executor 0 from the blocked task and leaves it held at exit, between the
/// task's `GoSyscallBegin` and its giving the executor up.
fn detached_and_taken_by_a_callback(cx: &mut TaskCx<'_>) -> Step {
    fire_at_point(&current(), 0, |s| {
        s.callback(|cb| {
            cb.take_executor(0).unwrap();
            cb.keep_executor_on_exit();
        })
        .unwrap();
    });
    cx.blocking_detached(|| ()).unwrap();
    Step::Done
}

/// Regression for the case of Go commit b6b72c7: the executor a context releases from its own blocking operation may
/// no longer be its own. A `ProcStop` (or a release without checking the owner) there would
/// claim a P this M does not hold; Go rejects that trace.
#[test]
fn releasing_an_executor_taken_meanwhile_steals_nothing_and_stops_nothing() {
    let (_sim, Some(judged)) = run_traced("release-taken", &[detached_and_taken_by_a_callback])
    else {
        return;
    };
    let m0 = judged.events_of(0);
    let begin = first(&m0, "GoSyscallBegin");
    let end = first(&m0, "GoSyscallEndBlocked");
    assert!(
        !m0[begin..end]
            .iter()
            .any(|e| e.starts_with("ProcStop") || e.starts_with("ProcSteal")),
        "{m0:?}"
    );
    // Thread mode gets the executor back by stealing it from the callback that abandoned it.
    assert!(
        m0[end + 1].starts_with("ProcSteal") && m0[end + 1].ends_with("m=1"),
        "{m0:?}"
    );
    assert!(m0[end + 2].starts_with("ProcStart"), "{m0:?}");
}

#[test]
fn callbacks_reuse_their_m_and_goroutine_and_may_exit_holding_an_executor() {
    let sim = Sim::new(Config::MANUAL);
    let s = sim.scheduler();
    s.spawn(0, done, 0).unwrap();
    s.start_tracing().unwrap();
    let irq = |f: &dyn Fn(&mut gotrace_scheduler::CallbackCx<'_>)| {
        s.platform()
            .interrupt(2, || s.callback(|cb| f(cb)).unwrap());
    };
    irq(&|_| {});
    irq(&|cb| {
        cb.take_executor(0).unwrap();
        cb.log(0, "irq", "held").unwrap();
        cb.keep_executor_on_exit();
    });
    // The same interrupt again takes back the executor it left (a steal of an abandoned P).
    irq(&|cb| cb.take_executor(0).unwrap());
    irq(&|cb| {
        cb.take_executor(0).unwrap();
        cb.keep_executor_on_exit();
    });
    s.advance_generation().unwrap();
    // Thread mode steals the abandoned executor from the callback's M to run its task.
    assert_eq!(s.run_executor(0).unwrap(), 1);
    s.stop_tracing().unwrap();
    let Some(judged) = go_judge("callbacks", &sim.traces()) else {
        return;
    };
    let events = judged[0].events();
    let created: Vec<&String> = events
        .iter()
        .filter(|(_, m, e)| m == "2" && e.starts_with("GoCreateSyscall"))
        .map(|(_, _, e)| e)
        .collect();
    assert_eq!(created.len(), 4);
    let goroutine = |e: &str| e.split_whitespace().last().unwrap().to_owned();
    assert!(created
        .iter()
        .all(|e| goroutine(e) == goroutine(created[0])));
    // Generation 2 re-states the abandoned executor as such.
    assert!(events
        .iter()
        .any(|(g, _, e)| *g == 2 && e.starts_with("ProcStatus") && e.ends_with("pstatus=4")));
    assert!(events
        .iter()
        .any(|(g, m, e)| *g == 2 && m == "0" && e.starts_with("ProcSteal") && e.ends_with("m=2")));
}

fn blocked_across_generations(cx: &mut TaskCx<'_>) -> Step {
    let s = current();
    cx.blocking(|| {
        let advance = || {
            s.platform()
                .interrupt(1, || s.advance_generation().unwrap())
        };
        advance();
        advance();
        // Steal the executor: the task now sits in its operation without one.
        s.platform().interrupt(1, || s.run_executor(0).unwrap());
        advance();
        advance();
    })
    .unwrap();
    Step::Done
}

/// Seed 002: a task in a blocking operation across generations is re-stated in each one as in a
/// syscall *on the context it sits on*, in that context's batch, with or without its executor.
#[test]
fn a_task_blocked_across_generations_is_restated_on_its_own_context() {
    let (sim, judged) = run_traced("across-generations", &[blocked_across_generations, done]);
    // The first task spawned sits in the blocking operation.
    let slot = gotrace_scheduler::encoder::GoSlot::Task(0);
    let goid = sim.scheduler().with_encoder(|e| e.go_id(slot));
    let Some(judged) = judged else {
        return;
    };
    let statuses: Vec<(u64, String, String)> = judged
        .events()
        .into_iter()
        .filter(|(_, _, e)| {
            e.starts_with("GoStatus ")
                && e.contains(&format!(" g={goid} "))
                && e.ends_with("gstatus=3")
        })
        .collect();
    let gens: Vec<u64> = statuses.iter().map(|(g, _, _)| *g).collect();
    assert_eq!(gens, [2, 3, 4, 5], "{statuses:?}");
    for (_, m, e) in &statuses {
        assert_eq!(m, "0", "{e}");
        assert!(e.ends_with("m=0 gstatus=3"), "{e}");
    }
}

/// Seed 004: tracing stopped (and restarted) from a higher interrupt at every point around a
/// steal: each trace has the steal whole or not at all, so every one is accepted.
#[test]
fn a_steal_racing_with_tracing_switched_off_is_traced_whole_or_not_at_all() {
    let mut steals_per_session = [0usize; 2];
    for point in 0..8 {
        let sim = Sim::new(Config::MANUAL);
        let s = sim.scheduler();
        s.spawn(0, blocked_then_stolen, 0).unwrap();
        s.spawn(0, done, 0).unwrap();
        s.start_tracing().unwrap();
        fire_at_point(s, point, |s| {
            s.stop_tracing().unwrap();
            s.start_tracing().unwrap();
        });
        s.run_executor(0).unwrap();
        s.platform().set_hook(None);
        s.stop_tracing().unwrap();
        let traces = sim.traces();
        assert_eq!(traces.len(), 2, "point {point}: tracing restarted once");
        let Some(judged) = go_judge(&format!("stop-race-{point}"), &traces) else {
            return;
        };
        for (session, j) in judged.iter().enumerate() {
            if j.events()
                .iter()
                .any(|(_, _, e)| e.starts_with("ProcSteal"))
            {
                steals_per_session[session] += 1;
            }
        }
    }
    // The sweep covers the stop landing both before and after the steal.
    assert!(
        steals_per_session[0] > 0 && steals_per_session[1] > 0,
        "{steals_per_session:?}"
    );
}

fn two_operations_second_stolen(cx: &mut TaskCx<'_>) -> Step {
    cx.blocking(|| ()).unwrap();
    cx.blocking(steal_from_level_1).unwrap();
    Step::Done
}

/// Seed 003: the steal names the P sequence number right after the *second* `GoSyscallBegin`, so
/// it cannot be matched to the first operation (which kept its P).
#[test]
fn a_steal_is_matched_to_the_second_of_two_blocking_operations() {
    let (_sim, Some(judged)) = run_traced("second-op", &[two_operations_second_stolen, done])
    else {
        return;
    };
    let seq = |e: &str| -> u64 {
        let field = e.split_whitespace().find_map(|f| f.strip_prefix("p_seq="));
        field.unwrap().parse().unwrap()
    };
    let m0 = judged.events_of(0);
    let begins: Vec<u64> = m0
        .iter()
        .filter(|e| e.starts_with("GoSyscallBegin"))
        .map(|e| seq(e))
        .collect();
    assert_eq!(begins.len(), 2);
    assert!(m0.iter().any(|e| e.starts_with("GoSyscallEnd ")));
    let steal = judged
        .events_of(1)
        .into_iter()
        .find(|e| e.starts_with("ProcSteal"))
        .unwrap();
    assert_eq!(seq(&steal), begins[1] + 1, "{steal}");
    assert_eq!(begins[1], begins[0] + 1);
}
