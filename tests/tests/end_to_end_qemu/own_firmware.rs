//! Firmwares of one's own, as the READMEs describe them: `tests/minimal-firmware` (two RTT
//! channels, no defmt, no session descriptor), its build for another board (`netduinoplus2`), one
//! whose HardFault handler loops, and the firmware `scheduler/README.md` gives whole, built from
//! its text.

use super::*;

/// The tasks of `tests/minimal-firmware`, named by their functions.
const MINIMAL_FIRMWARE_TASKS: &str = "G1 gotrace_minimal_firmware::producer, \
     G2 gotrace_minimal_firmware::consumer, G3 gotrace_minimal_firmware::sleeper";

#[test]
fn a_minimal_firmware_of_ones_own_is_recorded_as_the_scheduler_readme_says() {
    // `tests/minimal-firmware`: what scheduler/README.md ("Adding it to your own firmware") says
    // a firmware needs, nothing of the example's: the trace on up channel 0 (gotrace-rtt's sink,
    // lossless, with its end record), the control channel, no defmt, no session descriptor.
    // Written from the docs, such a firmware showed what they lacked (the control channel, the
    // end record, the drain before exit); recorded here, they cannot drift from what works.
    let Some(recorded) = record_own_firmware(
        "minimal-firmware",
        &workspace().join("tests/minimal-firmware"),
        "gotrace-minimal-firmware",
        MINIMAL_FIRMWARE_TASKS,
        NO_SESSION_DESCRIPTOR,
        &MPS2_AN385,
        &[],
    ) else {
        return;
    };
    let (_, parsed, _) = recorded;
    let transitions = go_transitions(&parsed);
    let of = |g: u64, from: &str, to: &str| made_by(&transitions, g, from, to);
    // The producer (G1) blocked once in each of its 50 rounds (the firmware's ROUNDS).
    assert_eq!(of(1, "Running", "Syscall").len(), 50, "{parsed}");
    // The sleeper (G3) was woken from SysTick (M1: any exception is context 1 there) only, at
    // most 19 times (SLEEPS - 1: its first step came from its creation; a wake while it was
    // runnable is remembered, not traced).
    let woken = of(3, "Waiting", "Runnable");
    assert!(
        (1..=19).contains(&woken.len()) && woken.iter().all(|&m| m == "M=1"),
        "the sleeper woken on {woken:?}"
    );
}

#[test]
fn a_hard_fault_into_a_handler_that_loops_ends_the_recording() {
    // The minimal firmware with `fault-loops`: its sleeper reads unmapped memory near its end, into
    // cortex-m-rt's default HardFault handler, which never returns nor exits (as in most
    // firmwares). `record` catches the fault at the handler's breakpoint, says so, ends the
    // recording once the firmware has been silent for 2 s since (without that it ran until
    // Ctrl-C), and fails.
    let test = "a_hard_fault_into_a_handler_that_loops_ends_the_recording";
    if !require_qemu(test) || !require_rust_target(test, M3) {
        return;
    }
    let Some(go) = require_go(test) else { return };
    let elf = build_crate(
        "tests/minimal-firmware",
        "fault-loops",
        M3,
        &["--features", "fault-loops"],
    )
    .join("debug/gotrace-minimal-firmware");
    let out = scratch_dir().join("minimal-firmware-fault-loops.trace");
    let began = Instant::now();
    let run = record_to(&elf, &out, &[]);
    let took = began.elapsed();
    // The grace and QEMU's start, far from the stop command's wait or a hang.
    assert!(took < Duration::from_secs(30), "{took:?}");
    assert!(
        run.stderr.contains("the firmware hard-faulted")
            && run
                .stderr
                .contains("has been silent for 2s since its hard fault"),
        "{}",
        run.stderr
    );
    // A firmware that failed: exit status 1, and said so where an exit status goes.
    assert_eq!(run.code, 1, "{}", run.stdout);
    for expected in [
        "recording stopped by the firmware's hard fault after ",
        "\n  valid\n",
        "\nhard fault at PC 0x",
        "\nfirmware exit status: none: it hard-faulted, and its handler did not exit\n",
    ] {
        assert!(
            run.stdout.contains(expected),
            "{expected:?}:\n{}",
            run.stdout
        );
    }
    // Named where it is, in the sleeper.
    let fault = run.stdout.split("\nhard fault at PC").nth(1).unwrap();
    assert!(
        fault.contains("gotrace_minimal_firmware::sleeper"),
        "{fault}"
    );
    // What was recorded before the fault is a valid trace to Go too, and the generation that
    // the fault cut short is said to be lost.
    assert!(run.stdout.contains("\nlost: generation"), "{}", run.stdout);
    check_with_both(&go, &out);
}

#[test]
fn a_board_other_than_mps2_is_recorded_timed_by_its_own_counter() {
    // QEMU's netduinoplus2 (STM32F405, Cortex-M4F), which gotrace has nothing ready-made for:
    // the minimal firmware with the board's memory map (flash at 0x0800_0000) and its own
    // `Counters` (TIM2, which QEMU counts at 1 GHz), recorded with `--machine`.
    let netduinoplus2 = Board {
        triple: M4F,
        features: &["netduinoplus2"],
        record: &["--machine", "netduinoplus2"],
    };
    let Some((_, parsed, elf)) = record_own_firmware(
        "minimal-firmware-netduinoplus2",
        &workspace().join("tests/minimal-firmware"),
        "gotrace-minimal-firmware",
        MINIMAL_FIRMWARE_TASKS,
        NO_SESSION_DESCRIPTOR,
        &netduinoplus2,
        &[],
    ) else {
        return;
    };
    // The trace is timed at the rate it states: each of the producer's blocking operations
    // (`delay(2_000)`) is 4 us of QEMU's virtual time under `-icount shift=0` (4520-4560 ns with
    // the operation's own code on mps2-an385, by its 25 MHz timer); a clock at another rate than
    // the stated one stretches them by the ratio (a fallback counter timed at the processor's 168
    // MHz: 27 us).
    let begins = times_of(&parsed, " GoID=1 Running->Syscall ");
    let ends = times_of(&parsed, " GoID=1 Syscall->Running ");
    assert_eq!((begins.len(), ends.len()), (50, 50), "{parsed}");
    for (begin, end) in begins.iter().zip(&ends) {
        assert!(
            (4_000..6_000).contains(&(end - begin)),
            "a blocking operation of 4 us lasted {} ns",
            end - begin
        );
    }
    // Without `--machine`, `record` would run it on its default for a hard-float ELF, mps2-an386,
    // which has no memory at 0x0800_0000: the core locked up at once, QEMU aborted, and all
    // `record` said was that (a lockup), not which board the firmware was for.
    let out = scratch_dir().join("netduinoplus2-on-mps2.trace");
    let run = record_to(&elf, &out, &[]);
    assert_refused_before_qemu_ran(&run, "--machine");
}

/// The fenced blocks of the section `heading` of the Markdown `text`: (info string, body).
fn fenced_blocks<'a>(text: &'a str, heading: &str) -> Vec<(&'a str, &'a str)> {
    let start = text
        .find(heading)
        .unwrap_or_else(|| panic!("no section {heading:?}"));
    let section = &text[start + heading.len()..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    let mut blocks = Vec::new();
    let mut rest = section;
    while let Some(open) = rest.find("\n```") {
        let after = &rest[open + 4..];
        let info_end = after.find('\n').unwrap();
        let body = &after[info_end + 1..];
        let close = body.find("\n```").unwrap();
        blocks.push((&after[..info_end], &body[..close + 1]));
        rest = &body[close + 4..];
    }
    blocks
}

#[test]
fn the_scheduler_readme_firmware_builds_from_its_text_and_is_recorded() {
    // scheduler/README.md, "Adding it to your own firmware", gives a firmware's four files
    // whole: Cargo.toml, .cargo/config.toml, memory.x and src/main.rs. They are written here,
    // as a user would, into a crate outside the workspace (the README's `../gotrace/` paths made
    // this checkout's), built and recorded: the README cannot drift from what builds and works.
    // Built by a user from the README alone, they lacked the versions, the memory.x and config
    // lines, current_context's code, imports and the panic handler.
    let readme = std::fs::read_to_string(workspace().join("scheduler/README.md")).unwrap();
    let blocks = fenced_blocks(&readme, "## Adding it to your own firmware");
    let file = |info: &str, first_line: &str| -> &str {
        let found: Vec<&str> = blocks
            .iter()
            .filter(|(i, body)| *i == info && body.starts_with(first_line))
            .map(|(_, body)| *body)
            .collect();
        assert_eq!(found.len(), 1, "{info} block starting {first_line:?}");
        found[0]
    };
    let repo = workspace().canonicalize().unwrap();
    let manifest = file("toml", "[package]");
    assert_eq!(manifest.matches("\"../gotrace/").count(), 4, "{manifest}");
    let manifest = manifest.replace("\"../gotrace/", &format!("\"{}/", repo.display()));
    // Outside the workspace, as the README's crate is beside gotrace, not in it: in the test's
    // scratch directory, under the workspace's `target`, cargo takes it for a package of the
    // workspace that its members do not list, and refuses to build it. Kept after a failure.
    let dir = std::env::temp_dir().join("gotrace-readme-firmware/my-firmware");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join(".cargo")).unwrap();
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    let config = file("toml", "# .cargo/config.toml\n");
    std::fs::write(dir.join(".cargo/config.toml"), config).unwrap();
    std::fs::write(dir.join("memory.x"), file("text", "/* memory.x")).unwrap();
    std::fs::write(dir.join("src/main.rs"), file("rust", "#![no_std]\n")).unwrap();
    // The minimal firmware's lock file has the same dependencies: no registry needed to build.
    std::fs::copy(
        workspace().join("tests/minimal-firmware/Cargo.lock"),
        dir.join("Cargo.lock"),
    )
    .unwrap();
    let Some((run, parsed, _)) = record_own_firmware(
        "scheduler-readme-firmware",
        &dir,
        "my-firmware",
        "G1 my_firmware::producer, G2 my_firmware::consumer",
        NO_SESSION_DESCRIPTOR,
        &MPS2_AN385,
        &[],
    ) else {
        return;
    };
    // Its semihosting print, which QEMU writes on its stdout: once thrown away.
    assert!(
        run.stderr.contains("\nproduced 100 rounds\n"),
        "{}",
        run.stderr
    );
    // What the README's tasks do: 100 rounds of a region around a blocking operation, a wake
    // every 4th (the consumer waiting each time), a log each time the consumer runs.
    for (what, times) in [
        ("Running->Syscall", 100),
        ("RegionBegin", 100),
        ("GoID=2 Running->Waiting", 25),
        ("GoID=2 Waiting->Runnable", 25),
        ("Log ", 26),
    ] {
        assert_eq!(parsed.matches(what).count(), times, "{what}");
    }
    std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
}
