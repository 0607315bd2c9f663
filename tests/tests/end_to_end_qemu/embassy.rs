//! The Embassy example firmware (`embassy/example-firmware`): recorded through its trace hooks,
//! its end without a host, and its build that runs until stopped.

use super::*;

#[test]
fn without_a_host_the_embassy_firmware_runs_to_its_end() {
    // Its end once waited for the host to read the trace channel without limit
    // (`RingWatch::flush`), and with no host it never came.
    let Some(elf) = embassy_m3_built("qemu-embassy-no-host", "default", &[]) else {
        return;
    };
    assert_ends_by_itself_without_a_host(&elf);
}

#[test]
fn an_embassy_firmware_built_to_run_until_stopped_records_for_as_long_as_asked() {
    // Built with `until-stopped`, its tasks never finish (without it the workload is about 20 ms
    // of device time), and `yielder` spawns a `child` again and again: only the host's stop ends
    // the trace.
    let name = "qemu-embassy-until-stopped";
    let Some(elf) = embassy_m3_built(name, "until-stopped", &["--features", "until-stopped"])
    else {
        return;
    };
    let out = scratch_dir().join(format!("{name}.trace"));
    let run = record_to(&elf, &out, &["--duration", "2", "--icount", "5"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    for expected in [
        "recording stopped by the duration after ",
        "\n  valid\n",
        "\nlost: nothing\n",
    ] {
        assert!(
            run.stdout.contains(expected),
            "no {expected:?}:\n{}",
            run.stdout
        );
    }
    // `tasks: ... gotrace_embassy_firmware::child [2597 tasks: G5..=G2601]` after 2 s.
    let children: u64 = number_after(&run.stdout, "gotrace_embassy_firmware::child [")
        .unwrap_or_else(|| panic!("no count of children:\n{}", run.stdout));
    assert!(
        children > 100,
        "{children} children in 2 s:\n{}",
        run.stdout
    );
}

#[test]
fn hooks_the_embassy_tracer_refused_are_reported_lost_by_count() {
    // Built with `too-few-task-slots`, the tracer has 4 task slots for 5 tasks alive at once:
    // both spawns of `child` are refused and the child runs untraced. The trace is valid without
    // it, and the end record's count of untraced changes, which the host reports, is the
    // firmware's own count of refusals (printed before it exits with status 1).
    let name = "qemu-embassy-too-few-task-slots";
    let Some(elf) = embassy_m3_built(
        name,
        "too-few-task-slots",
        &["--features", "too-few-task-slots"],
    ) else {
        return;
    };
    let out = scratch_dir().join(format!("{name}.trace"));
    let run = record_to(&elf, &out, &[]);
    // The firmware's own output (semihosting) comes on record's stderr.
    let refused: u32 = number_after(&run.stderr, "did not apply every hook: Refusals { count: ")
        .map(|n: String| n.trim_end_matches(',').parse().unwrap())
        .unwrap_or_else(|| panic!("no count of refusals:\n{}\n{}", run.stdout, run.stderr));
    assert_eq!(refused, 2, "both spawns of child:\n{}", run.stdout);
    for expected in [
        "\n  valid\n".to_owned(),
        format!("\nlost: {refused} scheduling changes the firmware made are in no trace: "),
        "\nfirmware exit status: 1\n".to_owned(),
    ] {
        assert!(
            run.stdout.contains(&expected),
            "no {expected:?}:\n{}\n{}",
            run.stdout,
            run.stderr
        );
    }
    assert!(!run.stdout.contains("lost: nothing"), "{}", run.stdout);
    assert!(
        !run.stdout.contains("::child"),
        "child was traced:\n{}",
        run.stdout
    );
}

/// The tasks of `embassy/example-firmware`, in creation order, named after their
/// `#[embassy_executor::task]` pools: the two spawns of `child` named once.
const EMBASSY_FIRMWARE_TASKS: &str = "G1 gotrace_embassy_firmware::urgent, \
     G2 gotrace_embassy_firmware::yielder, G3 gotrace_embassy_firmware::ticker, \
     G4 gotrace_embassy_firmware::supervisor, gotrace_embassy_firmware::child [2 tasks: G5..=G6]";

#[test]
fn an_embassy_firmware_is_recorded_through_its_trace_hooks() {
    // `embassy/example-firmware`: embassy-executor's trace hooks defined by gotrace-embassy, a
    // thread-mode executor and an interrupt executor (IRQ 30, context 2), SysTick (context 1)
    // waking a task and ending generations. The firmware exits with status 1 if the tracer
    // did not apply a hook (refused, or made inside its lock), so the exit status 0 says every one was.
    let Some((run, parsed, _)) = record_own_firmware(
        "embassy-firmware",
        &workspace().join("embassy/example-firmware"),
        "gotrace-embassy-firmware",
        EMBASSY_FIRMWARE_TASKS,
        // As the start command asked: lossless (`record`'s default), generations of 2 ms.
        "session: clock CMSDK APB timer at 25000000 Hz, lossless, trace channel 8192 B, \
         3 batch buffers of 512 B",
        &MPS2_AN385,
        &["--generation-us", "2000"],
    ) else {
        return;
    };
    // Each creation stack's one frame is its task's pool: named after the task function, with
    // the line the pool is declared at, in that function (its DWARF variable's).
    assert!(
        run.stdout.contains(
            "\n  5 stack frames named after 5 functions of the ELF, 5 with their source line\n"
        ),
        "{}",
        run.stdout
    );
    assert!(
        parsed.contains("\tgotrace_embassy_firmware::urgent @ 0x")
            && parsed.contains("embassy/example-firmware/src/main.rs:"),
        "{parsed}"
    );
    let transitions = go_transitions(&parsed);
    let of = |g: u64, from: &str, to: &str| made_by(&transitions, g, from, to);
    // `urgent` (G1) was spawned from start-up code (M0) and ran on the interrupt executor's
    // context only: its first poll at its spawn, then once per signal of `yielder` (4).
    assert_eq!(of(1, "NotExist", "Runnable"), ["M=0"], "{parsed}");
    assert_eq!(of(1, "Runnable", "Running"), ["M=2"; 5], "{parsed}");
    // Each of those signals came from inside `yielder`'s (G2) poll: `urgent` ran while `yielder`
    // was running on M0, preempted.
    let mut yielder_running = false;
    let mut preempting = 0;
    for (m, id, from, to) in &transitions {
        match id {
            2 => yielder_running = to == "Running",
            1 if from == "Runnable" && to == "Running" && yielder_running => {
                assert_eq!(m, "M=2");
                preempting += 1;
            }
            _ => {}
        }
    }
    assert_eq!(preempting, 4, "{parsed}");
    // `ticker` (G3) was woken by SysTick (M1) only, at most 20 times (its 20 waits).
    let woken = of(3, "Waiting", "Runnable");
    assert!(
        (1..=20).contains(&woken.len()) && woken.iter().all(|&m| m == "M=1"),
        "the ticker woken on {woken:?}"
    );
    // `yielder` spawned two children (G5, G6), which ended, as every worker did; the supervisor
    // (G4) was running when it stopped the trace.
    for child in [5, 6] {
        assert_eq!(of(child, "NotExist", "Runnable"), ["M=0"], "{parsed}");
    }
    for worker in [1, 2, 3, 5, 6] {
        assert_eq!(
            of(worker, "Running", "NotExist").len(),
            1,
            "G{worker}: {parsed}"
        );
    }
    // SysTick ended a generation every 2 ms (the start command's period) of the ticker's 20: at
    // least nine, each begun by a Sync (and one more at the trace's end).
    let syncs = times_of(&parsed, " Sync ");
    assert!(syncs.len() >= 10, "{} Syncs: {parsed}", syncs.len());
}
