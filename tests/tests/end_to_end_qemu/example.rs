//! The example firmware's trace: what it holds (both decoders and Go's viewer accept it, the
//! workload's hard cases are in it), its generations' length, its logs through a tiny channel, its
//! panics and hard faults explained, its builds for the Cortex-M4F and for a real board, and its
//! end without a host.

use super::*;

#[test]
fn firmware_under_qemu_records_a_trace_both_decoders_accept() {
    let Some(Recorded {
        go,
        run,
        trace: out,
        elf,
    }) = record("qemu-lossless", M3, &[], &[])
    else {
        return;
    };
    // defmt logs decoded with the ELF, every one.
    assert_every_log_line(&run.stdout);
    assert!(run.stdout.contains("lost: nothing"), "{}", run.stdout);
    assert!(run.stdout.contains("  valid"), "{}", run.stdout);
    // The summary names the tasks by their entry functions, from the ELF's symbols, and the
    // interrupt callback's goroutine (created in a syscall, without a stack) as what it is:
    // every task it counts.
    assert!(run.stdout.contains(", 4 tasks, "), "{}", run.stdout);
    assert!(
        run.stdout.lines().any(|l| l == EXAMPLE_TASKS),
        "{}",
        run.stdout
    );

    let parsed = check_with_both(&go, &out);
    // The device writes bare PCs; the recorded trace names the tasks' start frames after their
    // functions and source lines in the ELF, as Go's parser (and so `go tool trace`) shows them.
    assert!(
        run.stdout.contains(
            "\n  3 stack frames named after 3 functions of the ELF, 3 with their source line\n"
        ),
        "{}",
        run.stdout
    );
    for task in ["transfer", "timer", "logger"] {
        let frame = format!("TransitionStack=\n\tgotrace_firmware_example::workload::{task} @ 0x");
        let at = parsed
            .find(&frame)
            .unwrap_or_else(|| panic!("no {frame:?} in:\n{parsed}"));
        let source = parsed[at..].lines().nth(2).unwrap_or_default();
        let line = source
            .rsplit_once("firmware-example/src/workload.rs:")
            .map(|(_, line)| line.parse::<u32>());
        assert!(
            matches!(line, Some(Ok(n)) if n > 0),
            "{task}'s frame has no line of workload.rs: {source:?}"
        );
    }
    // The viewer's goroutine summary lists the tasks by their entry functions, as the README
    // says a user sees them.
    let viewer = go.open_viewer(&out).unwrap();
    let goroutines = viewer.get("/goroutines").unwrap();
    for task in ["transfer", "timer", "logger"] {
        let name = format!(">gotrace_firmware_example::workload::{task}</a>");
        assert!(goroutines.body.contains(&name), "{}", goroutines.body);
    }
    drop(viewer);
    // `gotrace symbolize` on the recorded trace: its frames are named already, and a frame's own
    // names are kept, so it names nothing and writes the trace back byte for byte.
    let again = scratch_dir().join("qemu-lossless-symbolized.trace");
    let symbolized = gotrace([
        "symbolize".as_ref(),
        out.as_os_str(),
        "--elf".as_ref(),
        elf.as_os_str(),
        "-o".as_ref(),
        again.as_os_str(),
    ]);
    assert_eq!(symbolized.code, 0, "{}", symbolized.stderr);
    assert!(
        symbolized.stdout.contains(
            ": 0 stack frames named after 0 functions of the ELF, 0 with their source line; "
        ) && symbolized.stdout.ends_with(" named already, kept\n"),
        "{}",
        symbolized.stdout
    );
    assert!(std::fs::read(&again).unwrap() == std::fs::read(&out).unwrap());
    // Under a file size limit (4 KiB: dash counts 512-byte blocks) smaller than the trace: the
    // write fails, said with the file's name, and no partial file is left. SIGXFSZ killed it
    // mid-write, "OUT.symbolize-partial" left behind.
    let limited = scratch_dir().join("qemu-lossless-limited.trace");
    let _ = std::fs::remove_file(&limited);
    let ran = Command::new("sh")
        .args(["-c", "ulimit -f 8 && exec \"$@\"", "sh"])
        .arg(gotrace_tests::cli::binary())
        .args(["symbolize".as_ref(), out.as_os_str(), "--elf".as_ref()])
        .arg(&elf)
        .arg("-o")
        .arg(&limited)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&ran.stderr);
    assert_eq!(ran.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("File too large"), "{stderr}");
    assert!(!limited.exists() && !limited.with_extension("symbolize-partial").exists());
    // The same from standard input to standard output, what naming did on stderr.
    let piped = Command::new(gotrace_tests::cli::binary())
        .args([
            "symbolize".as_ref(),
            "-".as_ref(),
            "--elf".as_ref(),
            elf.as_os_str(),
        ])
        .stdin(std::fs::File::open(&out).unwrap())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&piped.stderr);
    assert!(piped.status.success(), "{stderr}");
    assert!(piped.stdout == std::fs::read(&out).unwrap(), "{stderr}");
    assert!(stderr.ends_with(" named already, kept\n"), "{stderr}");
    // An ELF of another architecture names nothing of a device's trace: refused, as by record.
    let host_elf = std::env::current_exe().unwrap();
    let refused = gotrace([
        "symbolize".as_ref(),
        out.as_os_str(),
        "--elf".as_ref(),
        host_elf.as_os_str(),
        "-o".as_ref(),
        again.as_os_str(),
    ]);
    // Whatever the host's architecture, the message says which it is.
    refused.assert_refused("is not a 32-bit Arm firmware: its ELF is for");
    let wire = gotrace(["dump".as_ref(), out.as_os_str()]);
    assert_eq!(wire.code, 0, "{}", wire.stderr);
    assert!(
        wire.stdout.contains("ProcSteal"),
        "no ProcSteal in the trace"
    );
    let transitions = go_transitions(&parsed);

    // A steal from a blocking transfer: the task's syscall ends without its executor.
    let blocked_ends: Vec<_> = transitions
        .iter()
        .filter(|(_, _, from, to)| from == "Syscall" && to == "Runnable")
        .collect();
    assert!(
        !blocked_ends.is_empty(),
        "no blocking transfer lost its executor"
    );

    // An interrupt callback: created in a syscall and destroyed, several times, with one
    // goroutine ID on one M each time.
    let callbacks: Vec<_> = transitions
        .iter()
        .filter(|(_, _, from, to)| from == "NotExist" && to == "Syscall")
        .collect();
    assert!(callbacks.len() > 1, "fewer than two callbacks");
    let callback_ms: BTreeSet<_> = callbacks.iter().map(|(m, id, _, _)| (m, id)).collect();
    assert_eq!(
        callback_ms.len(),
        1,
        "callbacks on several Ms or IDs: {callback_ms:?}"
    );

    // A blocking transfer spanning a generation boundary: a Sync while a task is in a syscall
    // it entered from running.
    let mut in_syscall = BTreeSet::new();
    let mut spanning = 0;
    for line in parsed.lines() {
        if line.contains(" Sync ") && !in_syscall.is_empty() {
            spanning += 1;
        }
        if let Some((_, id, from, to)) = go_transitions(line).pop() {
            match (from.as_str(), to.as_str()) {
                ("Running", "Syscall") => {
                    in_syscall.insert(id);
                }
                ("Syscall", "Syscall") => {}
                ("Syscall", _) => {
                    in_syscall.remove(&id);
                }
                _ => {}
            }
        }
    }
    assert!(
        spanning > 0,
        "no blocking transfer spans a generation boundary"
    );
}

#[test]
fn a_generation_period_past_half_the_clock_wrap_is_cut_to_it_and_said() {
    // 100 s at the MPS2 timer's 25 MHz is 2.5e9 ticks, over the 2^31 (86 s) within which the
    // encoder tells the clock's halves apart.
    let Some(Recorded { go, run, trace, .. }) = record(
        "qemu-long-generation",
        M3,
        &[],
        &["--generation-us", "100000000"],
    ) else {
        return;
    };
    // 85.899 s: the whole milliseconds under 2^31 ticks, which the session descriptor states,
    // and the summary sets beside what was asked.
    for said in [
        "WARN a generation of 100000000 us is over half the trace clock's wrap period at 25000000 Hz: generations of 85899000 us instead",
        "warning: the firmware traces generations of 85899000 us, not 100000000 us as the start command asked",
    ] {
        assert!(run.stdout.contains(said), "{said:?} not in\n{}", run.stdout);
    }
    check_with_both(&go, &trace);
}

#[test]
fn generations_last_the_period_the_session_descriptor_states() {
    // PendSV, run after each 1 ms SysTick, ended a generation at its first run at least a period
    // after the last end, read on the clock after the tasks it had run: one run came a little
    // before the period and the next a millisecond later, so about half the generations of the
    // default 1 ms lasted 2 ms, and one of 1.5 ms lasted 2 ms, while the session descriptor said
    // 1000 and 1500.
    for (name, extra, period_ns, said) in [
        ("qemu-generations-default", &[][..], 1_000_000, None),
        (
            "qemu-generations-rounded",
            &["--generation-us", "1500"][..],
            2_000_000,
            Some("warning: the firmware traces generations of 2000 us, not 1500 us as the start command asked"),
        ),
    ] {
        let Some(Recorded { go, run, trace, .. }) = record(name, M3, &[], extra) else {
            return;
        };
        if let Some(said) = said {
            assert!(run.stdout.contains(said), "{said:?} not in\n{}", run.stdout);
        }
        let parsed = check_with_both(&go, &trace);
        let syncs = times_of(&parsed, " Sync ");
        // The first generation begins before the workload, the last ends with the trace.
        let inner: Vec<u64> = syncs.windows(2).map(|w| w[1] - w[0]).collect();
        let inner = &inner[1..inner.len() - 1];
        assert!(inner.len() > 10, "{name}: {} generations", syncs.len());
        let off: Vec<_> = inner
            .iter()
            .filter(|&&ns| ns.abs_diff(period_ns) > period_ns / 10)
            .collect();
        assert!(
            off.is_empty(),
            "{name}: {} of {} generations not of {period_ns} ns: {off:?}",
            off.len(),
            inner.len()
        );
        // The README's figure: the timer task (G2) is woken every second SysTick, 2,000,000 ns
        // apart give or take one tick of the 25 MHz clock. A tick that comes while a critical
        // section runs (a batch copied into the ring: about 1800 instructions, 1.8 us under
        // icount) is taken after it; when the host drains late under load (CI running the
        // suite), the lossless channel's waits shift the firmware's work against the ticks, and
        // one wake in a run came 160 ns late. So: most within a tick, all within a copy.
        let wakes = times_of(&parsed, " GoID=2 Waiting->Runnable ");
        assert!(wakes.len() > 10, "{name}: {} wakes", wakes.len());
        let gaps: Vec<u64> = wakes.windows(2).map(|pair| pair[1] - pair[0]).collect();
        let off_by = |gap: &u64| gap.abs_diff(2_000_000);
        assert!(
            gaps.iter().all(|gap| off_by(gap) <= 2_000),
            "{name}: the timer task's wakes apart by {gaps:?} ns"
        );
        let within_a_tick = gaps.iter().filter(|gap| off_by(gap) <= 40).count();
        assert!(
            within_a_tick * 10 >= gaps.len() * 9,
            "{name}: {within_a_tick} of {} wakes within a tick of 2 ms: {gaps:?}",
            gaps.len()
        );
    }
}

#[test]
fn without_a_host_the_firmware_runs_to_its_end() {
    // No host sends a start command: the firmware traces lossy by default, and a lossy trace
    // channel that nobody reads never stops it, not even to write the records closing the trace
    // (a lossless default, or closing records waiting for room, hung here for good). Nor does
    // its log channel, built smaller than most log lines (a log channel waiting for room, as it
    // once did from the start, hung here for good).
    let Some(elf) = m3_built("qemu-no-host", TINY_LOG, &["--features", TINY_LOG]) else {
        return;
    };
    assert_ends_by_itself_without_a_host(&elf);
}

#[test]
fn a_recording_gets_every_log_line_through_a_tiny_log_channel() {
    // The firmware drops the log lines that do not fit while no host may be reading; `record`
    // makes the channel wait for room once it drains it, so with a channel smaller than most
    // lines every line still arrives, whole and in order (left dropping, the longer ones are
    // lost, or cut and garbled).
    let Some(Recorded { go, run, trace, .. }) = record("qemu-tiny-log", M3, &[TINY_LOG], &[])
    else {
        return;
    };
    assert_every_log_line(&run.stdout);
    assert!(
        run.stdout.contains("INFO done: "),
        "the last line is missing:\n{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains("defmt frames could not be decoded"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("lost: nothing"), "{}", run.stdout);
    check_with_both(&go, &trace);
}

#[test]
fn a_panic_message_reaches_the_host_before_the_exit_ends_qemu() {
    // The firmware's semihosting exit ends QEMU, and with it the host's reads: a panic's message,
    // logged just before, was lost, and `record` showed only "firmware exit status: 1".
    assert_a_failure_is_explained(
        "qemu-panic",
        "panic-in-task",
        &["ERROR panic: ", "at log record 3 (feature panic-in-task)"],
    );
}

#[test]
fn a_hard_fault_reaches_the_host_with_its_cause_and_where_it_happened() {
    // The fault handler exited without a word: a firmware reading where nothing is mapped ended
    // as "firmware exit status: 1" and nothing else. Then its log gave the cause and the PC,
    // which the user looked up with `addr2line`; `record` now names where, from the ELF.
    let run = assert_a_failure_is_explained(
        "qemu-fault",
        "fault-in-task",
        &[
            "ERROR hard fault at PC 0x",
            "precise bus error on a data access, address 0x30000000",
        ],
    );
    let Some(run) = run else { return };
    // The firmware's log and `record`'s summary agree on the PC.
    let pc = |text: &str, after: &str| {
        text.split_once(after)
            .and_then(|(_, rest)| rest.get(..10))
            .unwrap_or_else(|| panic!("no {after:?} in:\n{text}"))
            .to_string()
    };
    let summary = run
        .stdout
        .split_once("\nhard fault at PC ")
        .map(|(_, summary)| summary)
        .unwrap_or_else(|| panic!("no fault in the summary:\n{}", run.stdout));
    assert_eq!(
        pc(&run.stdout, "ERROR hard fault at PC "),
        pc(summary, ""),
        "{summary}"
    );
    // The read is the logger task's: the volatile read (`fault-in-task`) inlined into it at its
    // line, whether the build kept the read out of line (the stacked LR then in the task).
    let source = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../firmware-example/src/workload.rs"),
    )
    .unwrap();
    let read_line = source
        .lines()
        .position(|line| line.contains("read_volatile(FAULTING_ADDRESS"))
        .expect("the faulting read in workload.rs")
        + 1;
    let in_task = "gotrace_firmware_example::workload::logger::{{closure}} at ";
    let at_read = format!("firmware-example/src/workload.rs:{read_line}");
    assert!(
        summary
            .lines()
            .any(|line| line.contains(in_task) && line.ends_with(&at_read)),
        "the fault is not placed at the logger's read (workload.rs:{read_line}):\n{summary}"
    );
}

/// Records the firmware built with `feature`, which fails on purpose, and checks that its log
/// says why before the exit status does. `None` where QEMU or the target is missing outside CI.
fn assert_a_failure_is_explained(name: &str, feature: &str, why: &[&str]) -> Option<Run> {
    if !require_qemu(name) || !require_rust_target(name, M3) {
        return None;
    }
    let elf = build_firmware(feature, M3, &["--features", feature])
        .join("debug/gotrace-firmware-example");
    let run = record_to(&elf, &scratch_dir().join(format!("{name}.trace")), &[]);
    for expected in why.iter().chain(&["firmware exit status: 1"]) {
        assert!(
            run.stdout.contains(expected),
            "{expected:?}:\n{}\n{}",
            run.stdout,
            run.stderr
        );
    }
    Some(run)
}

#[test]
fn the_cortex_m4f_build_runs_on_mps2_an386() {
    let Some(Recorded {
        go,
        run,
        trace: out,
        ..
    }) = record("qemu-m4f", M4F, &[], &[])
    else {
        return;
    };
    assert!(run.stderr.contains("on QEMU mps2-an386"), "{}", run.stderr);
    assert!(run.stdout.contains("INFO log record 30"), "{}", run.stdout);
    assert!(run.stdout.contains("lost: nothing"), "{}", run.stdout);
    check_with_both(&go, &out);
}

/// With the features the README's board command names.
#[test]
fn the_firmware_builds_for_a_real_board() {
    if !require_rust_target("the nRF52840 build", M4F) {
        return;
    }
    let elf = build_firmware(
        "nrf52840",
        M4F,
        &[
            "--release",
            "--no-default-features",
            "--features",
            "board-nrf52840,trace,flight-recorder",
        ],
    )
    .join("release/gotrace-firmware-example");
    let bytes = std::fs::read(&elf).unwrap();
    // An ARM ELF whose RTT control block the host tool will find.
    assert_eq!(&bytes[..4], b"\x7fELF");
    assert_eq!(
        u16::from_le_bytes([bytes[18], bytes[19]]),
        40,
        "not an ARM ELF"
    );
    assert!(
        bytes.windows(11).any(|w| w == b"_SEGGER_RTT"),
        "no _SEGGER_RTT symbol"
    );
}
