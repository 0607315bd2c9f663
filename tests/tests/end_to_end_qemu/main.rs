//! The path a user walks: the example firmware under QEMU, `gotrace record --qemu`, and the
//! trace it writes checked by our decoder and by Go's.
//!
//! Needs `qemu-system-arm`, the `thumbv7m-none-eabi` and `thumbv7em-none-eabihf` targets and Go:
//! without one of them a test skips with a note on a developer's machine and fails in CI (`CI`
//! set), by the rule of `gotrace_go_oracle::missing_tool`.
//!
//! Here, the builds, the recording and the checks every test shares; the tests, in a module per
//! concern.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use gotrace_go_oracle::{missing_tool, require_go, require_rust_target, Go, Mode};
use gotrace_tests::cli::{gotrace, Run};
use gotrace_tests::goroutine_analysis::assert_stats_as_viewer;
use gotrace_tests::scratch_dir;

mod embassy;
mod example;
mod modes;
mod outputs;
mod own_firmware;
mod stopping;
mod terminal;

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
///
/// The builds of one crate share `<target>/LAST` as cargo's target directory, so that their
/// dependencies are compiled once for all of them (a directory of its own for each build compiled
/// them again for each), and each build's binaries are copied to its `NAME` before the next
/// build can overwrite them: the builds take turns.
fn build_crate(dir: &str, name: &str, triple: &str, args: &[&str]) -> PathBuf {
    static BUILDING: Mutex<()> = Mutex::new(());
    let exe = std::env::current_exe().unwrap();
    let last = Path::new(dir).file_name().unwrap();
    let shared = exe.ancestors().nth(3).unwrap().join(last);
    let profile = match args.contains(&"--release") {
        true => "release",
        false => "debug",
    };
    let _turn = BUILDING.lock().unwrap_or_else(PoisonError::into_inner);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(workspace().join(dir))
        .args(["build", "--quiet", "--target", triple])
        .args(args)
        .env("CARGO_TARGET_DIR", &shared)
        .env_remove("RUSTFLAGS")
        .status()
        .expect("running cargo build for the firmware");
    assert!(
        status.success(),
        "building the firmware {dir} ({name}) failed"
    );
    let flavour = shared.join(name).join(triple);
    let (built, kept) = (shared.join(triple).join(profile), flavour.join(profile));
    std::fs::create_dir_all(&kept).unwrap();
    // The binaries: the files without an extension (cargo's `.d` files list dependencies).
    for entry in std::fs::read_dir(&built).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() && path.extension().is_none() {
            std::fs::copy(&path, kept.join(path.file_name().unwrap())).unwrap();
        }
    }
    flavour
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

/// The summary's line of the example firmware's tasks.
const EXAMPLE_TASKS: &str = "tasks: G1 gotrace_firmware_example::workload::transfer, \
     G2 gotrace_firmware_example::workload::timer, \
     G3 gotrace_firmware_example::workload::logger, \
     G4 interrupt callback (GoCreateSyscall: no entry function)";

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

/// `run` is a `record` that failed (exit 2) saying `why`, and never said "running": it stopped
/// before starting QEMU, so nothing of the firmware ran for a recording that could not be kept.
fn assert_refused_before_qemu_ran(run: &Run, why: &str) {
    let refused = run.code == 2 && run.stderr.contains(why) && !run.stderr.contains("running");
    assert!(refused, "not refused ({why:?}) before QEMU ran: {run:?}");
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
