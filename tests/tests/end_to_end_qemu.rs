//! The path a user walks: the example firmware under QEMU, `gotrace record --qemu`, and the
//! trace it writes checked by our decoder and by Go's.
//!
//! Needs `qemu-system-arm`, the `thumbv7m-none-eabi` and `thumbv7em-none-eabihf` targets and Go:
//! without one of them a test skips with a note on a developer's machine and fails in CI (`CI`
//! set), by the rule of `gotrace_go_oracle::missing_tool`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gotrace_go_oracle::{missing_tool, require_go, require_rust_target, Go, Mode};
use gotrace_tests::cli::{gotrace, Run};
use gotrace_tests::goroutine_analysis::assert_stats_as_viewer;
use gotrace_tests::scratch_dir;

/// The Cortex-M3 build (QEMU's mps2-an385) and the Cortex-M4F one (mps2-an386).
const M3: &str = "thumbv7m-none-eabi";
const M4F: &str = "thumbv7em-none-eabihf";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `qemu-system-arm` is there, or the test skips (fails in CI).
fn require_qemu(test: &str) -> bool {
    let found = Command::new("qemu-system-arm")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        missing_tool(
            test,
            "qemu-system-arm",
            "`qemu-system-arm --version` failed",
        );
    }
    found
}

/// Builds the example firmware for `triple` with `args` into `<target>/firmware-example/NAME`
/// (next to the workspace's own build output); returns that directory's `triple` subdirectory.
fn build_firmware(name: &str, triple: &str, args: &[&str]) -> PathBuf {
    build_crate("firmware-example", name, triple, args)
}

/// Builds the firmware crate at `dir` in the workspace as [`build_firmware`] does, into
/// `<target>/LAST/NAME` where LAST is `dir`'s last component.
fn build_crate(dir: &str, name: &str, triple: &str, args: &[&str]) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let last = Path::new(dir).file_name().unwrap();
    let target = exe.ancestors().nth(3).unwrap().join(last).join(name);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(workspace().join(dir))
        .args(["build", "--quiet", "--target", triple])
        .args(args)
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .status()
        .expect("running cargo build for the firmware");
    assert!(
        status.success(),
        "building the firmware {dir} ({name}) failed"
    );
    target.join(triple)
}

/// The default M3 build, when QEMU and the target are there (`None`: skip, or fail in CI).
fn default_m3(test: &str) -> Option<PathBuf> {
    m3_built(test, "default", &[])
}

/// The M3 build `name` made with cargo's `args`, when QEMU and the target are there.
fn m3_built(test: &str, name: &str, args: &[&str]) -> Option<PathBuf> {
    m3_built_in(
        "firmware-example",
        "gotrace-firmware-example",
        test,
        name,
        args,
    )
}

/// [`m3_built`] for `embassy/example-firmware`.
fn embassy_m3_built(test: &str, name: &str, args: &[&str]) -> Option<PathBuf> {
    m3_built_in(
        "embassy/example-firmware",
        "gotrace-embassy-firmware",
        test,
        name,
        args,
    )
}

/// The M3 build `name` of the firmware crate in `dir`, its binary `bin`.
fn m3_built_in(dir: &str, bin: &str, test: &str, name: &str, args: &[&str]) -> Option<PathBuf> {
    if !require_qemu(test) || !require_rust_target(test, M3) {
        return None;
    }
    Some(build_crate(dir, name, M3, args).join("debug").join(bin))
}

/// `gotrace record --qemu ELF -o OUT`, with `extra` options.
fn record_to(elf: &Path, out: &Path, extra: &[&str]) -> Run {
    let mut args: Vec<&std::ffi::OsStr> = vec!["record".as_ref(), "--qemu".as_ref()];
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    args.extend([elf.as_os_str(), "-o".as_ref(), out.as_os_str()]);
    gotrace(args)
}

/// What `record` ran: Go, the run of `gotrace record`, the trace it wrote and the ELF it ran.
struct Recorded {
    go: Go,
    run: Run,
    trace: PathBuf,
    elf: PathBuf,
}

/// Runs `gotrace record --qemu` on the firmware built for `triple` with `features`, writing
/// `NAME.trace`, with `extra` arguments; `None` when QEMU or Go is missing outside CI.
fn record(name: &str, triple: &str, features: &[&str], extra: &[&str]) -> Option<Recorded> {
    if !require_qemu(name) || !require_rust_target(name, triple) {
        return None;
    }
    let go = require_go(name)?;
    let feature_args: Vec<&str> = features.iter().flat_map(|f| ["--features", *f]).collect();
    let flavour = if features.is_empty() {
        "default".to_owned()
    } else {
        features.join("+")
    };
    let elf =
        build_firmware(&flavour, triple, &feature_args).join("debug/gotrace-firmware-example");
    let out = scratch_dir().join(format!("{name}.trace"));
    let mut args: Vec<&std::ffi::OsStr> =
        vec!["record".as_ref(), "--qemu".as_ref(), elf.as_os_str()];
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    args.extend(["-o".as_ref(), out.as_os_str()]);
    let run = gotrace(args);
    assert_eq!(
        run.code, 0,
        "record failed:\n{}\n{}",
        run.stdout, run.stderr
    );
    Some(Recorded {
        go,
        run,
        trace: out,
        elf,
    })
}

/// Our event stream and Go's for `trace`, which both must accept, identical; `go tool trace`'s
/// viewer, which a user opens it with, serving every page of it; and `gotrace stats` giving each
/// task the figures of the viewer's goroutine analysis.
fn check_with_both(go: &Go, trace: &Path) -> String {
    let ours = gotrace(["events".as_ref(), trace.as_os_str()]);
    assert_eq!(
        ours.code,
        0,
        "gotrace events rejected {}: {}",
        trace.display(),
        ours.stderr
    );
    let theirs = go.trace(Mode::Parsed, trace).unwrap();
    assert!(
        theirs.accepted(),
        "Go rejected {}: {:?}",
        trace.display(),
        theirs.error
    );
    assert!(
        ours.stdout == theirs.stdout,
        "event streams differ for {}",
        trace.display()
    );
    let viewer = go.open_viewer(trace).unwrap();
    if let Err(e) = viewer.walk() {
        panic!("{e}");
    }
    assert_stats_as_viewer(&viewer, trace);
    theirs.stdout
}

/// The transitions of `go tool trace -d=parsed` lines: (M, goroutine ID, from, to).
fn go_transitions(parsed: &str) -> Vec<(String, u64, String, String)> {
    let mut out = Vec::new();
    for line in parsed.lines() {
        let Some(rest) = line.split_once(" GoID=").map(|(_, r)| r) else {
            continue;
        };
        let mut words = rest.split_whitespace();
        let id: u64 = words.next().unwrap().parse().unwrap();
        let Some((from, to)) = words.next().and_then(|t| t.split_once("->")) else {
            continue;
        };
        let m = line.split_whitespace().next().unwrap().to_owned();
        out.push((m, id, from.to_owned(), to.to_owned()));
    }
    out
}

/// The Ms (`M=1`) that made goroutine `g`'s transitions from `from` to `to`, in order.
fn made_by<'a>(
    transitions: &'a [(String, u64, String, String)],
    g: u64,
    from: &str,
    to: &str,
) -> Vec<&'a str> {
    transitions
        .iter()
        .filter(|(_, id, f, t)| *id == g && f == from && t == to)
        .map(|(m, ..)| m.as_str())
        .collect()
}

/// Checks that `record`'s output has every log line of a lossless run: the firmware's own lines
/// (which clock the board uses is the firmware's choice) and every log record the logger task
/// wrote, once each and in order.
fn assert_every_log_line(stdout: &str) {
    for line in [
        "INFO gotrace example: clock ",
        "INFO tracing: Lossless, generation 1000 us",
        "INFO transfer task: 12 transfers done",
        "INFO timer task: 40 ticks seen",
    ] {
        assert!(stdout.contains(line), "missing log {line:?}:\n{stdout}");
    }
    let records: Vec<u32> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("INFO log record "))
        .map(|n| n.trim().parse().unwrap())
        .collect();
    assert_eq!(records, (1..=30).collect::<Vec<_>>(), "{stdout}");
}

/// How a firmware of one's own is built and run: for the M3 on `mps2-an385` (`record`'s default
/// machine for it), or for another board.
struct Board<'a> {
    triple: &'a str,
    /// The firmware's cargo features that choose the board.
    features: &'a [&'a str],
    /// `record`'s options for it (`--machine`).
    record: &'a [&'a str],
}

const MPS2_AN385: Board<'static> = Board {
    triple: M3,
    features: &[],
    record: &[],
};

/// What a firmware of one's own that `scheduler/README.md` describes says of its session: it
/// sends no descriptor.
const NO_SESSION_DESCRIPTOR: &str =
    "session: no descriptor came on the \"gotrace-session\" channel";

/// Builds the firmware crate at `dir` (its binary `bin`) for `board`, records it with `gotrace
/// record --qemu` (and `options`), checks what every firmware of one's own gets (a valid trace,
/// nothing lost, the tasks named `tasks`, the summary's session line beginning with `session`,
/// exit status 0), and returns the run, `go tool trace -d=parsed`'s output (the same as `gotrace
/// events`') and the ELF. `None` when QEMU, the target or Go is missing outside CI.
fn record_own_firmware(
    test: &str,
    dir: &Path,
    bin: &str,
    tasks: &str,
    session: &str,
    board: &Board,
    options: &[&str],
) -> Option<(Run, String, PathBuf)> {
    if !require_qemu(test) || !require_rust_target(test, board.triple) {
        return None;
    }
    let go = require_go(test)?;
    let features: Vec<&str> = board
        .features
        .iter()
        .flat_map(|f| ["--features", *f])
        .collect();
    let flavour = match board.features {
        [] => "default".to_owned(),
        features => features.join("+"),
    };
    let elf = build_crate(dir.to_str().unwrap(), &flavour, board.triple, &features)
        .join("debug")
        .join(bin);
    let out = scratch_dir().join(format!("{test}.trace"));
    let options: Vec<&str> = board.record.iter().chain(options).copied().collect();
    let run = record_to(&elf, &out, &options);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    for expected in [
        "\n  valid\n",
        "\nlost: nothing\n",
        &format!("\ntasks: {tasks}\n"),
        &format!("\n{session}"),
        "\nfirmware exit status: 0\n",
    ] {
        assert!(
            run.stdout.contains(expected),
            "{expected:?}:\n{}",
            run.stdout
        );
    }
    let parsed = check_with_both(&go, &out);
    Some((run, parsed, elf))
}

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
    let dir = scratch_dir().join("my-firmware");
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
}

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

/// On a terminal, `record` shows its progress (bytes, generations, events, rate) on one row it
/// redraws, and the logs and the summary take that row as they come: run in a pseudo-terminal
/// (`script`, from util-linux), the screen it leaves holds every log line and the summary whole,
/// and no progress.
#[test]
fn on_a_terminal_progress_is_drawn_on_one_row_that_logs_and_the_summary_take_over() {
    let test = "terminal-progress";
    let Some(elf) = default_m3(test) else {
        return;
    };
    let Some(terminal) = record_on_a_terminal(test, &elf, "", 200) else {
        return;
    };
    let progress: Vec<Vec<f64>> = progress_drawn(&terminal, " KiB, generations ")
        .into_iter()
        .filter(|figures| figures.len() == 5)
        .collect();
    assert!(
        progress
            .iter()
            .any(|f| f[0] > 0.0 && f[1] > 0.0 && f[2] > 0.0 && f[3] > 0.0 && f[4] > 0.0),
        "no progress drawn with bytes, generations, events, a rate and log lines: {progress:?}\n{terminal:?}"
    );

    let screen = screen_left_by(&terminal);
    assert!(!screen.contains(" KiB, generations "), "{screen}");
    assert_every_log_line(&screen);
    for line in ["  valid", "lost: nothing", "firmware exit status: 0"] {
        assert!(
            screen.lines().any(|l| l == line),
            "no {line:?} row:\n{screen}"
        );
    }
}

/// A flight recording's channel is read only at the end, so its progress row says what the
/// device holds at each look: the newest generation moving on, the oldest too once the firmware
/// overwrites, rather than "0.0 KiB" received the whole run.
#[test]
fn on_a_terminal_a_flight_recording_shows_what_the_device_holds() {
    let test = "terminal-flight";
    let Some(elf) = m3_built(test, "until-stopped", &["--features", "until-stopped"]) else {
        return;
    };
    let options = "--flight-recorder --duration 2 --icount 5";
    // Narrower than the whole row: cut to 71 columns, it never wraps (a wrapped row was erased
    // only in its last line, the rest left behind at each redraw), and still shows the range.
    let Some(terminal) = record_on_a_terminal(test, &elf, options, 72) else {
        return;
    };
    let drawn: Vec<&str> = terminal
        .split("\r\x1b[2K")
        .filter_map(|drawn| drawn.split(['\r', '\n', '\x1b']).next())
        .filter(|line| line.starts_with("flight recorder: "))
        .collect();
    assert!(
        drawn.iter().all(|line| line.chars().count() <= 71)
            && drawn.iter().any(|line| line.chars().count() == 71),
        "progress rows not cut to the terminal's 72 columns: {drawn:?}"
    );
    // "flight recorder: 7.8 KiB held on the device, generations 14..=58, 23 log lines".
    let ranges: Vec<(u64, u64)> = drawn
        .iter()
        .filter_map(|line| {
            let range = line
                .strip_prefix("flight recorder: ")?
                .split(", generations ")
                .nth(1)?
                .split(',')
                .next()?;
            let (oldest, newest) = range.split_once("..=")?;
            Some((oldest.parse().ok()?, newest.parse().ok()?))
        })
        .collect();
    assert!(
        ranges.windows(2).any(|w| w[1].1 > w[0].1) && ranges.iter().any(|&(oldest, _)| oldest > 1),
        "no progress drawn with the held generations moving on and overwritten: {ranges:?}\n{terminal:?}"
    );
    let screen = screen_left_by(&terminal);
    assert!(!screen.contains("flight recorder: "), "{screen}");
    for line in ["  valid", "lost: nothing", "firmware exit status: 0"] {
        assert!(
            screen.lines().any(|l| l == line),
            "no {line:?} row:\n{screen}"
        );
    }
    assert!(
        screen.contains("read once, at the end of the recording (a flight recording"),
        "{screen}"
    );
}

/// Runs `gotrace record --qemu ELF OPTIONS` in a pseudo-terminal (`script`, from util-linux) of
/// `columns` (and 24 rows: a size of no rows, `script`'s without a terminal of its own, is no
/// size), as on a terminal: what the terminal was sent, or `None` without `script` outside
/// CI.
fn record_on_a_terminal(test: &str, elf: &Path, options: &str, columns: u16) -> Option<String> {
    let out = scratch_dir().join(format!("{test}.trace"));
    // Paths in double quotes, for the shell `script` runs the command with.
    let command = format!(
        "stty rows 24 cols {columns} && {:?} record --qemu {:?} -o {:?} {options}",
        gotrace_tests::cli::binary(),
        elf,
        out
    );
    let Ok(run) = Command::new("script")
        .args([
            "--quiet",
            "--flush",
            "--return",
            "--command",
            &command,
            "/dev/null",
        ])
        .stdin(Stdio::null())
        .output()
    else {
        missing_tool(test, "script (util-linux)", "running `script` failed");
        return None;
    };
    let terminal = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(run.status.success(), "{terminal}");
    Some(terminal)
}

/// The figures of each drawing of the progress row (the row erased, then the line) that holds
/// `marker`: the numbers among its words.
fn progress_drawn(terminal: &str, marker: &str) -> Vec<Vec<f64>> {
    terminal
        .split("\r\x1b[2K")
        .skip(1)
        .filter_map(|drawn| {
            let line = drawn.split(['\r', '\n', '\x1b']).next()?;
            let figures = line
                .split([',', ' '])
                .filter_map(|word| word.parse().ok())
                .collect();
            line.contains(marker).then_some(figures)
        })
        .collect()
}

/// The rows a terminal shows after `output`: a carriage return goes to the row's start, `ESC [
/// 2 K` erases the row, a line feed goes down a row, other characters overwrite.
fn screen_left_by(output: &str) -> String {
    let mut rows = vec![Vec::<char>::new()];
    let mut column = 0;
    let mut chars = output.chars();
    while let Some(c) = chars.next() {
        let row = rows.last_mut().unwrap();
        match c {
            '\r' => column = 0,
            '\n' => {
                rows.push(Vec::new());
                column = 0;
            }
            '\x1b' => {
                let sequence: String = chars.by_ref().take(3).collect();
                assert_eq!(sequence, "[2K", "an escape the screen model does not know");
                row.clear();
            }
            c => {
                if column < row.len() {
                    row[column] = c;
                } else {
                    row.resize(column, ' ');
                    row.push(c);
                }
                column += 1;
            }
        }
    }
    rows.iter()
        .map(|row| row.iter().collect::<String>().trim_end().to_owned() + "\n")
        .collect()
}

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

/// The summary's line of the example firmware's tasks.
const EXAMPLE_TASKS: &str = "tasks: G1 gotrace_firmware_example::workload::transfer, \
     G2 gotrace_firmware_example::workload::timer, \
     G3 gotrace_firmware_example::workload::logger, \
     G4 interrupt callback (GoCreateSyscall: no entry function)";

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
fn a_stop_from_the_host_ends_the_trace_cleanly() {
    // A duration of zero: the stop command goes down right after the start. Also with the guest
    // at 32 ns an instruction, where thread mode is a larger part of each millisecond and PendSV
    // finds the executor free more often.
    for (name, extra) in [
        ("qemu-stopped", &["--duration", "0"][..]),
        (
            "qemu-stopped-icount5",
            &["--duration", "0", "--icount", "5"][..],
        ),
    ] {
        let Some(Recorded {
            go,
            run,
            trace: out,
            ..
        }) = record(name, M3, &[], extra)
        else {
            return;
        };
        assert_stopped_by_the_host(&run, "the duration");
        assert!(
            !run.stdout.contains("INFO log record 30"),
            "the workload ran to its end"
        );
        // The workload ends with the main loop: PendSV ran the tasks on, untraced, after it
        // (the transfer task's 3 ms transfers in the interrupt, the logger writing to the log
        // channel the drain wait and exit took for quiet): "transfer task: 12 transfers done"
        // and more log records after "done".
        let (_, after) = run.stdout.split_once("INFO done: ").unwrap();
        for task_line in ["INFO log record", "INFO transfer task", "INFO timer task"] {
            assert!(
                !after.contains(task_line),
                "{name}: {task_line:?} after the end:\n{}",
                run.stdout
            );
        }
        check_with_both(&go, &out);
    }
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

/// The times of the `go tool trace -d=parsed` lines that contain `what`.
fn times_of(parsed: &str, what: &str) -> Vec<u64> {
    parsed
        .lines()
        .filter(|l| l.contains(what))
        .map(|l| {
            let time = l.split_once(" Time=").unwrap().1;
            time.split_whitespace().next().unwrap().parse().unwrap()
        })
        .collect()
}

/// The recording stopped for `reason`, and the firmware ended its trace on the stop command,
/// losing nothing.
fn assert_stopped_by_the_host(run: &Run, reason: &str) {
    assert_eq!(
        run.code, 0,
        "record failed:\n{}\n{}",
        run.stdout, run.stderr
    );
    assert!(
        run.stdout
            .contains(&format!("recording stopped by {reason}")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("(stopped by the host)"),
        "the firmware did not end its trace on the stop command:\n{}",
        run.stdout
    );
    assert!(run.stdout.contains("lost: nothing"), "{}", run.stdout);
}

/// A recording as a terminal runs it: `gotrace record --qemu` in a process group of its own, and
/// `presses` Ctrl-Cs (or another `signal`) sent to the whole group (as the terminal sends them to
/// its foreground job, and `timeout` its SIGTERM) as soon as it has started QEMU, before the
/// firmware runs: the stop command then follows the start at once, whatever the machine's load,
/// and the firmware has not finished its workload by itself. Returns the run, the trace path and
/// the PID of the QEMU that `record` started, taken before the first signal.
#[cfg(target_os = "linux")]
fn record_interrupted(name: &str, presses: usize) -> Option<(Go, Run, PathBuf, u32)> {
    record_signalled(name, "INT", presses)
}

#[cfg(target_os = "linux")]
fn record_signalled(name: &str, signal: &str, presses: usize) -> Option<(Go, Run, PathBuf, u32)> {
    let kills = |group: u32, _, _: &Path| vec![format!("kill -{signal} -- -{group}"); presses];
    record_killing(name, Moment::QemuStarted, kills)
}

/// When [`record_killing`] sends its signals.
#[cfg(target_os = "linux")]
enum Moment {
    /// Once `record` has said it runs the firmware on QEMU (its signal handlers are in place).
    QemuStarted,
    /// Once the firmware has said it traces: the session is under way.
    Tracing,
}

/// [`record_signalled`], with `kills(group, qemu, trace)` the shell commands to send at `moment`.
#[cfg(target_os = "linux")]
fn record_killing(
    name: &str,
    moment: Moment,
    kills: impl FnOnce(u32, u32, &Path) -> Vec<String>,
) -> Option<(Go, Run, PathBuf, u32)> {
    use std::io::{BufRead, BufReader, Read};
    use std::os::unix::process::CommandExt;
    if !require_qemu(name) || !require_rust_target(name, M3) {
        return None;
    }
    let go = require_go(name)?;
    let elf = build_firmware("default", M3, &[]).join("debug/gotrace-firmware-example");
    let out = scratch_dir().join(format!("{name}.trace"));
    // The guest held to its virtual rate, one instruction per 512 ns, with generations long
    // enough for it to keep up: its workload then lasts about 0.3 s of wall-clock time, so the
    // session is still under way when the firmware's first line has come (`Moment::Tracing`).
    let mut child = gotrace_tests::cli::piped(["record", "--qemu"])
        .arg(&elf)
        .args(["--icount", "9,align=on", "--generation-us", "20000", "-o"])
        .arg(&out)
        .process_group(0)
        .spawn()
        .expect("starting gotrace record");
    // Each stream read by a thread of its own, its lines handed over as they come.
    let lines_of = |stream: Box<dyn Read + Send>| {
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        rx
    };
    let stdout = lines_of(Box::new(child.stdout.take().unwrap()));
    let stderr = lines_of(Box::new(child.stderr.take().unwrap()));
    let (mut out_text, mut err_text) = (String::new(), String::new());
    let (awaited, marker, text) = match moment {
        Moment::QemuStarted => (&stderr, "on QEMU", &mut err_text),
        Moment::Tracing => (&stdout, "tracing: Lossless", &mut out_text),
    };
    for line in awaited.iter() {
        text.push_str(&line);
        text.push('\n');
        if line.contains(marker) {
            break;
        }
    }
    // QEMU is spawned right after `record` says it runs it.
    let deadline = Instant::now() + Duration::from_secs(10);
    let qemu = loop {
        if let Some(&pid) = children(child.id()).first() {
            break pid;
        }
        assert!(
            Instant::now() < deadline,
            "no QEMU under gotrace record:\n{out_text}\n{err_text}"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    let group = child.id();
    let kills = kills(group, qemu, &out).join("; sleep 0.05; ");
    let sent = Command::new("bash").args(["-c", &kills]).status().unwrap();
    assert!(sent.success(), "{kills} failed");
    let status = child.wait().unwrap();
    // The readers end with the streams, at the process's exit.
    for (text, lines) in [(&mut out_text, stdout), (&mut err_text, stderr)] {
        for line in lines {
            text.push_str(&line);
            text.push('\n');
        }
    }
    let run = Run {
        code: status.code().unwrap_or(-1),
        stdout: out_text,
        stderr: err_text,
    };
    Some((go, run, out, qemu))
}

/// The PIDs of the processes whose parent is `parent`.
#[cfg(target_os = "linux")]
fn children(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| {
            let pid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // The fields after the command name (in parentheses, maybe with spaces): state, ppid.
            let ppid: u32 = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            (ppid == parent).then_some(pid)
        })
        .collect()
}

#[cfg(target_os = "linux")]
#[test]
fn a_ctrl_c_at_the_terminal_stops_the_recording_cleanly() {
    // The terminal's Ctrl-C reaches the whole foreground group. QEMU in it ended at once, and the
    // gdb client's wait for the running target, cut short by the signal, failed the recording
    // ("Interrupted system call"): the firmware never got to end its trace.
    let Some((go, run, trace, _)) = record_interrupted("qemu-ctrl-c", 1) else {
        return;
    };
    assert_stopped_by_the_host(&run, "Ctrl-C");
    check_with_both(&go, &trace);
}

#[cfg(target_os = "linux")]
#[test]
fn a_second_ctrl_c_aborts_and_ends_the_qemu_it_started() {
    let Some((_, run, _, qemu)) = record_interrupted("qemu-abort", 2) else {
        return;
    };
    assert_eq!(run.code, 130, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("gotrace record: aborted"),
        "{}",
        run.stderr
    );
    // Gone, not left running on its own (record waits for it before exiting).
    assert_qemu_gone(qemu, Duration::ZERO);
}

/// QEMU `pid` has ended within `wait` (a zombie waiting for init to reap it has ended too).
#[cfg(target_os = "linux")]
fn assert_qemu_gone(pid: u32, wait: Duration) {
    let deadline = Instant::now() + wait;
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let running = stat.rsplit_once(')').is_some_and(|(name, rest)| {
            name.ends_with("(qemu-system-arm") && !rest.starts_with(" Z")
        });
        if !running {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "QEMU {pid} outlived the recording: {stat}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_termination_signal_stops_the_recording_as_ctrl_c_does() {
    // `timeout` and service managers send SIGTERM, a closed terminal SIGHUP: they killed record at
    // once, and the QEMU it started, in a process group of its own, ran on alone.
    for signal in ["TERM", "HUP"] {
        let name = format!("qemu-sig{}", signal.to_lowercase());
        let Some((go, run, trace, qemu)) = record_signalled(&name, signal, 1) else {
            return;
        };
        assert_stopped_by_the_host(&run, "Ctrl-C or a termination signal");
        check_with_both(&go, &trace);
        assert_qemu_gone(qemu, Duration::ZERO);
    }
}

#[cfg(target_os = "linux")]
#[test]
#[cfg(target_os = "linux")]
fn a_termination_signal_sent_as_timeout_sends_it_stops_the_recording_cleanly() {
    // `timeout` sends its signal to the process and then to its process group, which record is
    // in: that second SIGTERM counted as a second Ctrl-C and aborted the recording (exit 130,
    // nothing checked nor summarised) whenever the two were not merged while pending. Here they
    // come 50 ms apart, so that they never merge.
    let name = "qemu-sigterm-twice";
    let kills = |group: u32, _, _: &Path| {
        vec![
            format!("kill -TERM {group}"),
            format!("kill -TERM -- -{group}"),
        ]
    };
    let Some((go, run, trace, qemu)) = record_killing(name, Moment::QemuStarted, kills) else {
        return;
    };
    assert_stopped_by_the_host(&run, "Ctrl-C or a termination signal");
    check_with_both(&go, &trace);
    assert_qemu_gone(qemu, Duration::ZERO);
}

#[test]
fn a_qemu_killed_under_the_recording_is_no_claim_that_nothing_was_lost() {
    // Killed, QEMU took what the firmware had written and not yet been read with it, and the end
    // record: the summary said "lost: nothing", and "firmware exit status: 255" as if the
    // firmware had failed by itself.
    let Some((_, run, _, _)) =
        record_killing("qemu-killed-under", Moment::Tracing, |_, qemu, _| {
            vec![format!("kill -KILL {qemu}")]
        })
    else {
        return;
    };
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(!run.stdout.contains("lost: nothing"), "{}", run.stdout);
    assert!(run.stdout.contains("lost: unknown"), "{}", run.stdout);
    assert!(
        run.stderr.contains("QEMU ended (signal: 9 (SIGKILL))"),
        "{}",
        run.stderr
    );
}

#[cfg(target_os = "linux")]
#[test]
fn a_target_that_stops_answering_ends_the_recording_with_its_summary() {
    // A QEMU frozen under the recording (SIGSTOP: as a hung stub, or a board gone from under its
    // probe): the poll's "no reply from the gdb stub" ended the command with an error (exit 2),
    // the generations written until then neither checked nor summarised.
    let Some((_, run, _, _)) =
        record_killing("qemu-stopped-under", Moment::Tracing, |_, qemu, _| {
            vec![format!("kill -STOP {qemu}")]
        })
    else {
        return;
    };
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    for expected in [
        "recording stopped by a target that could not be read",
        "ERROR: the target could not be read on: ",
        "no reply from the gdb stub within 10s",
        "lost: unknown",
    ] {
        assert!(
            run.stdout.contains(expected),
            "{expected:?}:\n{}",
            run.stdout
        );
    }
    // Every trace written is checked: valid, or no generation was complete.
    assert!(!run.stdout.contains("INVALID"), "{}", run.stdout);
    assert!(
        run.stdout.contains("  valid\n")
            || run.stdout.contains("no complete generation was recorded"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_qemu_told_to_end_is_not_taken_for_the_firmware_exiting() {
    // Told to end (SIGTERM), QEMU replies `W00` as a firmware's exit would: the summary said
    // "recording stopped by the firmware's exit" and "firmware exit status: 0" (a review
    // helper's find).
    let Some((_, run, _, _)) =
        record_killing("qemu-terminated-under", Moment::Tracing, |_, qemu, _| {
            vec![format!("kill -TERM {qemu}")]
        })
    else {
        return;
    };
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    for expected in [
        "recording stopped by QEMU's end",
        "firmware exit status: none: QEMU ended without the firmware's exit",
    ] {
        assert!(
            run.stdout.contains(expected),
            "{expected:?}:\n{}",
            run.stdout
        );
    }
    assert!(
        run.stderr.contains("terminating on signal 15")
            && run.stderr.contains("not the firmware's exit"),
        "{}",
        run.stderr
    );
}

#[cfg(target_os = "linux")]
#[test]
fn a_killed_recording_takes_its_qemu_with_it() {
    // SIGKILL cannot be handled: the QEMU record started must end with it all the same, not run
    // on alone (a lossless firmware spinning on its full channel for good).
    // Killed once a generation is in the file, past its 16-byte header: the generations complete
    // before the kill are a valid trace (each is written as it completes).
    let Some((_, run, trace, qemu)) =
        record_killing("qemu-killed", Moment::Tracing, |group, _, trace| {
            vec![format!(
                "for _ in $(seq 1000); do \
               [ \"$(stat -c %s {} 2>/dev/null || echo 0)\" -gt 16 ] && break; sleep 0.01; \
             done; kill -KILL -- -{group}",
                trace.display()
            )]
        })
    else {
        return;
    };
    assert_eq!(run.code, -1, "{}\n{}", run.stdout, run.stderr);
    assert_qemu_gone(qemu, Duration::from_secs(5));
    let checked = gotrace(["validate".as_ref(), trace.as_os_str()]);
    assert_eq!(checked.code, 0, "{checked:?}");
    assert!(checked.stdout.contains(": valid ("), "{checked:?}");
}

#[test]
fn a_reader_that_closes_stdout_does_not_end_the_recording() {
    // `gotrace record ... | head -1`: the firmware's log lines and the summary go to stdout, and
    // println! panicked at the first line after the pipe closed ("failed printing to stdout"),
    // ending the recording with no trace written.
    use std::io::{BufRead, BufReader, Read};
    let name = "qemu-stdout-closed";
    let (Some(elf), Some(go)) = (default_m3(name), require_go(name)) else {
        return;
    };
    let out = scratch_dir().join(format!("{name}.trace"));
    let mut child = gotrace_tests::cli::piped(["record", "--qemu"])
        .arg(&elf)
        .arg("-o")
        .arg(&out)
        .spawn()
        .expect("starting gotrace record");
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader is dropped here, as `head -1` exits: the pipe is closed.
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(0),
        "first line {first:?}, stderr:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains("the summary were not shown"),
        "the lost lines are not reported:\n{stderr}"
    );
    check_with_both(&go, &out);
    // `2>&1 | head -1`: stderr gone too, eprintln! panicked on the last words (exit 101).
    let piped = format!(
        "{:?} record --qemu {:?} -o {:?} 2>&1 | head -1 >/dev/null; exit ${{PIPESTATUS[0]}}",
        gotrace_tests::cli::binary(),
        elf,
        out
    );
    let status = Command::new("bash").args(["-c", &piped]).status().unwrap();
    assert_eq!(status.code(), Some(0), "{piped}");
    check_with_both(&go, &out);
}

#[test]
fn a_qemu_that_dies_says_why() {
    // The M3 build on an M33 board (mps2-an505) faults at once, and QEMU aborts on the locked-up
    // core. record said only "gdb remote protocol: stub closed the connection"; QEMU's own words
    // are on its stderr. A host program is refused before any QEMU runs.
    let name = "qemu-lockup";
    let Some(elf) = default_m3(name) else {
        return;
    };
    let out = scratch_dir().join(format!("{name}.trace"));
    let run = record_to(&elf, &out, &["--machine", "mps2-an505"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("QEMU ended") && run.stderr.contains("qemu: fatal: Lockup"),
        "{}",
        run.stderr
    );
    let host = std::env::current_exe().unwrap();
    let run = gotrace(["record".as_ref(), "--qemu".as_ref(), host.as_os_str()]);
    assert_refused_before_qemu_ran(&run, "is not a 32-bit Arm firmware");
}

/// `run` is a `record` that failed (exit 2) saying `why`, and never said "running": it stopped
/// before starting QEMU, so nothing of the firmware ran for a recording that could not be kept.
fn assert_refused_before_qemu_ran(run: &Run, why: &str) {
    let refused = run.code == 2 && run.stderr.contains(why) && !run.stderr.contains("running");
    assert!(refused, "not refused ({why:?}) before QEMU ran: {run:?}");
}

#[test]
fn an_output_that_cannot_be_written_is_refused_before_the_firmware_runs() {
    // The recording ran, its log scrolled by, and only its first complete generation found out:
    // "creating .../x.trace: No such file or directory", the trace lost.
    let Some(elf) = default_m3("qemu-no-output-dir") else {
        return;
    };
    let out = scratch_dir().join("no-such-dir").join("x.trace");
    let run = record_to(&elf, &out, &[]);
    assert_refused_before_qemu_ran(&run, "no-such-dir does not exist");
}

#[test]
fn a_trace_another_recording_is_writing_is_left_whole() {
    // Two recordings to one file interleaved their generations, and each then called the trace
    // INVALID ("no frequency event found"). The other recording is this test holding the lock.
    let name = "qemu-locked-output";
    let Some(elf) = default_m3(name) else {
        return;
    };
    let out = scratch_dir().join(format!("{name}.trace"));
    std::fs::write(&out, b"another recording's").unwrap();
    let other = std::fs::File::open(&out).unwrap();
    other.try_lock().unwrap();
    let run = record_to(&elf, &out, &[]);
    assert_refused_before_qemu_ran(&run, "is being written by another recording");
    assert_eq!(std::fs::read(&out).unwrap(), b"another recording's");
}

#[test]
fn the_main_command_writes_the_trace_where_it_is_called_from() {
    // scripts/record-qemu.sh went to the repository before naming its output: a relative
    // OUTPUT landed there, an option first was taken for OUTPUT ("a value is required for
    // '--output'"), and the path it printed for `go tool trace` split at its spaces.
    let name = "qemu-main-command";
    if !require_qemu(name) || !require_rust_target(name, M3) {
        return;
    }
    let called_from = scratch_dir().join("called from here");
    std::fs::create_dir_all(&called_from).unwrap();
    let exe = std::env::current_exe().unwrap();
    let target = exe.ancestors().nth(3).unwrap();
    for (args, file) in [
        (&["my trace.trace", "--duration", "0"][..], "my trace.trace"),
        (&["--duration", "0"][..], "firmware-example.trace"),
    ] {
        let run = Command::new("bash")
            .arg(workspace().join("scripts/record-qemu.sh"))
            .args(args)
            .current_dir(&called_from)
            .env("CARGO_TARGET_DIR", target)
            .env_remove("RUSTFLAGS")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&run.stdout);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(run.status.success(), "{args:?}: {stdout}\n{stderr}");
        assert!(
            called_from.join(file).is_file(),
            "{args:?}: no {file} where it was called from:\n{stdout}"
        );
        // As the shell quotes it (printf %q): pasted, it is one argument.
        let quoted = format!("called\\ from\\ here/{}", file.replace(' ', "\\ "));
        assert!(stdout.contains(&quoted), "{args:?}: {stdout}");
        // Each task's times, of the trace written there.
        let stats = format!("{}: ", called_from.join(file).display());
        assert!(
            stdout.contains(&stats) && stdout.contains("\nGoroutine  Total  "),
            "{args:?}: {stdout}"
        );
    }
}

/// A recording through `--attach` of a QEMU started here, held to its virtual rate, slowly, so
/// that it is still recording when the test acts on it (`attached_recording`).
struct AttachedRecording {
    qemu: std::process::Child,
    record: std::process::Child,
    stderr: std::process::ChildStderr,
    stdout: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
    out: PathBuf,
}

/// Starts QEMU (its monitor on its stdin when `monitor`) and `gotrace record --attach` to it,
/// and returns once a generation is in the `.trace` (past its 16-byte header), however loaded
/// the machine running the test.
fn attached_recording(name: &str, monitor: bool) -> Option<AttachedRecording> {
    use std::io::{BufRead, BufReader, Read};
    let elf = default_m3(name)?;
    let out = scratch_dir().join(format!("{name}.trace"));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let qemu = Command::new("qemu-system-arm")
        .args(["-machine", "mps2-an385", "-nographic", "-monitor"])
        .arg(if monitor { "stdio" } else { "none" })
        .args([
            "-semihosting-config",
            "enable=on,target=native",
            "-serial",
            "null",
        ])
        .args(["-gdb", &format!("tcp:127.0.0.1:{port}"), "-S", "-kernel"])
        .arg(&elf)
        .args(["-icount", "shift=10,align=on"])
        .stdin(if monitor {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting qemu-system-arm");
    // QEMU serves gdb a moment after it starts: until then record finds nobody at the port.
    let deadline = Instant::now() + Duration::from_secs(10);
    let (record, stderr, stdout) = loop {
        let mut record =
            gotrace_tests::cli::piped(["record", "--attach", &format!("127.0.0.1:{port}")])
                .arg(&elf)
                .args(["--generation-us", "2000", "-o"])
                .arg(&out)
                .spawn()
                .expect("starting gotrace record");
        let mut stdout = BufReader::new(record.stdout.take().unwrap()).lines();
        let tracing = stdout.any(|line| line.unwrap().contains("tracing: Lossless"));
        let mut stderr = record.stderr.take().unwrap();
        if tracing {
            break (record, stderr, stdout);
        }
        let mut text = String::new();
        stderr.read_to_string(&mut text).unwrap();
        record.wait().unwrap();
        assert!(
            text.contains("Connection refused") && Instant::now() < deadline,
            "{text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::metadata(&out).map_or(0, |m| m.len()) <= 16 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(AttachedRecording {
        qemu,
        record,
        stderr,
        stdout,
        out,
    })
}

impl AttachedRecording {
    /// Waits for the recording to end, then ends QEMU if it still runs: the recording's exit
    /// code, its stderr and the rest of its stdout (the summary).
    fn finish(mut self) -> (Option<i32>, String, String) {
        use std::io::Read;
        let mut stderr = String::new();
        self.stderr.read_to_string(&mut stderr).unwrap();
        let summary: String = self.stdout.map(|line| line.unwrap() + "\n").collect();
        let code = self.record.wait().unwrap().code();
        let _ = self.qemu.kill();
        self.qemu.wait().unwrap();
        (code, stderr, summary)
    }
}

#[test]
fn a_recording_whose_attached_qemu_dies_ends_with_its_summary() {
    // A QEMU started by hand (`--attach`) killed mid-recording: record said only "the gdb stub
    // closed the connection", and not that the generations complete before are in the .trace;
    // then that, as an error (exit 2). The recording has ended, its summary says what it holds.
    let Some(mut recording) = attached_recording("qemu-attached-killed", false) else {
        return;
    };
    recording.qemu.kill().unwrap();
    let out = recording.out.clone();
    let (code, text, summary) = recording.finish();
    // Exit 1: with no end record nothing says the trace is whole.
    assert_eq!(code, Some(1), "{text}\n{summary}");
    assert!(text.contains("the QEMU attached to ended"), "{text}");
    for expected in [
        "recording stopped by QEMU's end",
        &format!("trace: {} — generations 1..=", out.display()),
        "lost: unknown",
        "firmware exit status: none: QEMU ended without the firmware's exit",
    ] {
        assert!(summary.contains(expected), "{expected:?}:\n{summary}");
    }
    let checked = gotrace(["validate".as_ref(), out.as_os_str()]);
    assert_eq!(checked.code, 0, "{checked:?}");
}

#[test]
fn a_firmware_reset_under_the_recording_ends_it_with_its_summary() {
    // QEMU's `system_reset` under the recording: the firmware starts again, sets its RTT up
    // again (offsets back to 0) and writes a new trace. The drain took the new trace's header as
    // the next bytes of the old one ("unexpected byte 0x67 between batches"), or, reading the
    // control block while the firmware's start-up had zeroed it, ended the command with an error
    // (exit 2), the generations written until then neither checked nor summarised.
    use std::io::Write;
    let Some(mut recording) = attached_recording("qemu-reset-under", true) else {
        return;
    };
    let mut monitor = recording.qemu.stdin.take().unwrap();
    monitor.write_all(b"system_reset\n").unwrap();
    monitor.flush().unwrap();
    let out = recording.out.clone();
    let (code, text, summary) = recording.finish();
    assert_eq!(code, Some(1), "{text}\n{summary}");
    for expected in [
        "recording stopped by a target that could not be read",
        &format!("trace: {} — generations 1..=", out.display()),
        "  valid\n",
        "lost: unknown",
    ] {
        assert!(summary.contains(expected), "{expected:?}:\n{summary}");
    }
    // Found set up again, or caught while the start-up had zeroed it: either way a restart.
    assert!(
        summary.contains("ERROR: the target could not be read on: RTT up channel ")
            && summary.contains(": the firmware restarted (a reset"),
        "{summary}"
    );
}

#[test]
fn a_full_disk_leaves_the_generations_written_before_it_whole() {
    // A file size limit (8 KiB) stands in for a full disk: a write meets it part way through a
    // generation, as one meets the end of a disk's free space. That part was left at the end of
    // the .trace, which the error then named as holding the generations complete until then,
    // and the file was invalid past its last whole generation.
    let name = "full-disk";
    let Some(elf) = default_m3(name) else {
        return;
    };
    let out = scratch_dir().join(format!("{name}.trace"));
    let _ = std::fs::remove_file(&out);
    // The limit as a user sets it, SIGXFSZ left as it is: record ignores it itself, so that the
    // write fails with EFBIG (a shell's `trap '' XFSZ` had stood in for that here, and record
    // run plainly under `ulimit -f` was killed mid-write, its file cut inside a generation);
    // dash counts the limit in 512-byte blocks.
    let ran = Command::new("sh")
        .args(["-c", "ulimit -f 16 && exec \"$@\"", "sh"])
        .arg(gotrace_tests::cli::binary())
        .args(["record", "--qemu"])
        .arg(&elf)
        .arg("-o")
        .arg(&out)
        .output()
        .expect("running gotrace record under a file size limit");
    let stderr = String::from_utf8_lossy(&ran.stderr);
    assert_eq!(ran.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("writing {}", out.display())) && stderr.contains("File too large"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "the generations complete until now are in {}",
            out.display()
        )),
        "{stderr}"
    );
    let len = std::fs::metadata(&out).unwrap().len();
    assert!(len > 16 && len <= 8192, "{len} bytes");
    let checked = gotrace(["validate".as_ref(), out.as_os_str()]);
    assert_eq!(checked.code, 0, "{checked:?}");
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

/// The number that follows the first `marker` in `text`, up to the next space.
fn number_after<T: std::str::FromStr>(text: &str, marker: &str) -> Option<T> {
    text.split(marker).nth(1)?.split(' ').next()?.parse().ok()
}

/// Runs `elf` under QEMU `mps2-an385` with no host attached: it must exit, with status 0, within
/// 60 s.
fn assert_ends_by_itself_without_a_host(elf: &Path) {
    let mut qemu = Command::new("qemu-system-arm")
        .args([
            "-M",
            "mps2-an385",
            "-nographic",
            "-monitor",
            "none",
            "-serial",
            "none",
        ])
        .args(["-semihosting-config", "enable=on,target=native", "-kernel"])
        .arg(elf)
        .stdout(Stdio::null())
        .spawn()
        .expect("starting qemu-system-arm");
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = qemu.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            qemu.kill().ok();
            qemu.wait().ok();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        status.is_some_and(|s| s.success()),
        "without a host the firmware did not end by itself within 60 s: {status:?}"
    );
}

/// The firmware feature that makes its log channel 16 bytes, less than most log lines.
const TINY_LOG: &str = "tiny-log-channel";

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
