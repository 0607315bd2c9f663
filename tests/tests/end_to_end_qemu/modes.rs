//! The modes that never block the firmware: lossy (every batch accounted for) and the flight
//! recorder (the newest generations kept, also at a hard fault or a panic), and a firmware that
//! runs until stopped.

use super::*;

#[test]
fn lossy_mode_with_a_tiny_channel_yields_valid_segments_and_an_exact_loss_report() {
    // Polls every 10 ms against a 1 KiB channel: the device has to drop between two, and whole
    // generations come through between losses. QEMU keeps the guest at its virtual rate
    // (`align=on`, 32 ns an instruction), so the workload's 60 ms of device time last about as
    // long on the host, idle or loaded; at QEMU's full speed the number of polls in a run would
    // depend on the machine's load (an idle one ran it all within one poll of a second).
    let Some(Recorded { go, run, .. }) = record(
        "qemu-lossy",
        M3,
        &["tiny-trace-channel"],
        &["--lossy", "--icount", "5,align=on", "--poll-ms", "10"],
    ) else {
        return;
    };
    assert!(run.stdout.contains("INFO tracing: Lossy"), "{}", run.stdout);

    let number = |s: &str| -> u64 {
        s.trim_matches(|c: char| !c.is_ascii_digit())
            .parse()
            .unwrap()
    };
    // The device's own totals.
    let account = run
        .stdout
        .lines()
        .find(|l| l.starts_with("device account:"))
        .expect("device account line");
    let words: Vec<&str> = account.split_whitespace().collect();
    let (produced, dropped) = (number(words[2]), number(words[7]));
    assert!(
        dropped > 0,
        "nothing was dropped; the test needs a smaller channel:\n{}",
        run.stdout
    );

    // Each segment: valid for both decoders; its generations and batches counted.
    let mut kept_batches = 0;
    let mut kept_generations = BTreeMap::new();
    for line in run.stdout.lines().filter(|l| l.starts_with("trace: ")) {
        let path = PathBuf::from(line["trace: ".len()..].split(" — ").next().unwrap());
        let words: Vec<&str> = line.split_whitespace().collect();
        let range = words.iter().find(|w| w.contains("..=")).unwrap();
        let (first, last) = range.split_once("..=").unwrap();
        let batches_at = words.iter().position(|w| w.starts_with("batches")).unwrap();
        kept_batches += number(words[batches_at - 1]);
        kept_generations.insert(number(first), number(last));
        check_with_both(&go, &path);
    }
    assert!(
        kept_generations.len() > 1,
        "a loss must split the trace:\n{}",
        run.stdout
    );

    let lost = run
        .stdout
        .lines()
        .find(|l| l.starts_with("lost: generations"))
        .expect("loss report");
    let list = &lost[lost.find('[').unwrap() + 1..lost.find(']').unwrap()];
    // Read from the summary, every trace and lost range must be listed: it lists all of 20
    // traces and 24 ranges at most.
    assert!(
        !run.stdout.contains(" traces more, ") && !list.contains(" more …"),
        "too many losses for the summary to list them all:\n{}",
        run.stdout
    );
    // Single generations and ranges `first..=last`.
    let lost_generations: BTreeSet<u64> = list
        .split(", ")
        .flat_map(|item| match item.split_once("..=") {
            Some((first, last)) => number(first)..=number(last),
            None => number(item)..=number(item),
        })
        .collect();
    let after = &lost[lost.find(']').unwrap()..];
    let words: Vec<&str> = after.split_whitespace().collect();
    let reported_dropped = number(words[4]);
    let discarded = number(words[8]);
    assert_eq!(
        reported_dropped, dropped,
        "host and device disagree on drops"
    );
    // Every batch the device produced is kept, dropped by it, or discarded by the host.
    assert_eq!(
        kept_batches + dropped + discarded,
        produced,
        "{}",
        run.stdout
    );
    // Kept and lost generations tile 1..=last without overlap.
    let mut all: BTreeSet<u64> = lost_generations.clone();
    for (first, last) in &kept_generations {
        for g in *first..=*last {
            assert!(all.insert(g), "generation {g} both kept and lost");
        }
    }
    let last = *all.iter().next_back().unwrap();
    assert_eq!(all, (1..=last).collect(), "a generation is unaccounted for");
}

#[test]
fn a_flight_recording_keeps_the_newest_generations_and_accounts_for_the_rest() {
    // The example's trace is several times its 8 KiB trace channel: the firmware overwrites its
    // oldest generations, and the host reads the channel once, at the trace's end. Again with a
    // 1 KiB channel and 20 ms generations, larger than the channel: partly written, then
    // dropped with a loss record, which the next generation's room overwrites (its drops then
    // counted as overwritten, or the summary found the records short of the end record's drops).
    let tiny: &[&str] = &["--flight-recorder", "--generation-us", "20000"];
    for (name, features, extra) in [
        ("qemu-flight", &[][..], &["--flight-recorder"][..]),
        ("qemu-flight-tiny", &["tiny-trace-channel"][..], tiny),
    ] {
        let Some(recorded) = record(name, M3, features, extra) else {
            return;
        };
        assert_a_flight_recording(&recorded);
        // The tasks were created in generations overwritten since: named from those
        // generations as the host saw them before (on the tiny channel, the first generation
        // is larger than the channel and never whole there).
        if features.is_empty() {
            let run = &recorded.run;
            assert!(
                run.stdout.lines().any(|l| l == EXAMPLE_TASKS),
                "{}",
                run.stdout
            );
        }
    }
}

#[test]
fn a_firmware_built_to_run_until_stopped_records_for_as_long_as_asked() {
    // Built with `until-stopped`, the workload never finishes (without it, it does after 30 log
    // records, about 0.1 s of device time): the recording ends at `--duration`, the firmware at
    // the stop command, at once. At 32 ns an instruction (`--icount 5`) the guest runs about as
    // fast as the host's clock, so 3 s are far past the finite workload's end (1792 log records
    // on one loaded core); a flight recording, whose channel the firmware overwrites thousands
    // of times over.
    let extra = ["--flight-recorder", "--duration", "3", "--icount", "5"];
    let Some(recorded) = record("qemu-until-stopped", M3, &["until-stopped"], &extra) else {
        return;
    };
    let run = &recorded.run;
    assert_stopped_by_the_host(run, "the duration");
    // The end record came soon after the stop: a firmware whose main loop got no time (PendSV
    // running a task that outlasted its period, round after round) read it 5 s later or never.
    let after: f64 = number_after(&run.stdout, "recording stopped by the duration after ")
        .unwrap_or_else(|| panic!("no time the recording stopped at:\n{}", run.stdout));
    assert!(
        after < 5.0,
        "the stop was acted on {after} s into a 3 s recording"
    );
    assert_a_flight_recording(&recorded);
    let records = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("INFO log record "))
        .count();
    assert!(
        records > 30 && !run.stdout.contains("transfers done"),
        "the workload ran on past its rounds until the stop ({records} log records):\n{}",
        run.stdout
    );
}

/// Checks a flight recording's summary: one trace, starting after the generations overwritten,
/// which both decoders accept, and every batch produced kept, dropped or overwritten.
fn assert_a_flight_recording(Recorded { go, run, .. }: &Recorded) {
    let number = |s: &str| -> u64 {
        s.trim_matches(|c: char| !c.is_ascii_digit())
            .parse()
            .unwrap_or_else(|_| panic!("no number in {s:?}:\n{}", run.stdout))
    };
    let line = |start: &str| {
        run.stdout
            .lines()
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no line {start:?}:\n{}\n{}", run.stdout, run.stderr))
    };
    // The summary names the oldest generations overwritten; the trace written does not hold them.
    line("overwritten: generations 1..=");
    let traces: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("trace: "))
        .collect();
    assert_eq!(
        traces.len(),
        1,
        "one trace, the newest generations:\n{}",
        run.stdout
    );
    let words: Vec<&str> = traces[0].split_whitespace().collect();
    let range = words.iter().find(|w| w.contains("..=")).unwrap();
    let (first, _) = range.split_once("..=").unwrap();
    assert!(
        number(first) > 1,
        "the trace starts after the generations overwritten:\n{}",
        run.stdout
    );
    let kept_batches =
        number(words[words.iter().position(|w| w.starts_with("batches")).unwrap() - 1]);
    let account: Vec<&str> = line("device account:").split_whitespace().collect();
    let (produced, dropped, overwritten_batches) =
        (number(account[2]), number(account[7]), number(account[12]));
    assert!(overwritten_batches > 0, "{}", run.stdout);
    assert_eq!(
        kept_batches + dropped + overwritten_batches,
        produced,
        "every batch produced is kept, dropped or overwritten:\n{}",
        run.stdout
    );
    assert!(run.stdout.contains("lost: nothing"), "{}", run.stdout);
    let path = PathBuf::from(traces[0]["trace: ".len()..].split(" — ").next().unwrap());
    check_with_both(go, &path);
}

#[test]
fn a_hard_fault_or_a_panic_leaves_the_flight_recorders_last_generations_in_a_valid_trace() {
    // The channel is read while the guest is stopped in the fault handler or at the panic
    // handler's breakpoint, before its exit ends QEMU and the RAM with it: the generations
    // before the failure, the one it cut short left out.
    for (name, feature, why) in [
        (
            "qemu-flight-fault",
            "fault-in-task",
            "\nhard fault at PC 0x",
        ),
        ("qemu-flight-panic", "panic-in-task", "ERROR panic: "),
    ] {
        if !require_qemu(name) || !require_rust_target(name, M3) {
            return;
        }
        let Some(go) = require_go(name) else { return };
        let elf = build_firmware(feature, M3, &["--features", feature])
            .join("debug/gotrace-firmware-example");
        let out = scratch_dir().join(format!("{name}.trace"));
        let run = record_to(&elf, &out, &["--flight-recorder"]);
        for expected in [
            why,
            "firmware exit status: 1",
            "  valid",
            "lost: generation ",
        ] {
            assert!(
                run.stdout.contains(expected),
                "{name}: {expected:?}:\n{}\n{}",
                run.stdout,
                run.stderr
            );
        }
        check_with_both(&go, &out);
    }
}
