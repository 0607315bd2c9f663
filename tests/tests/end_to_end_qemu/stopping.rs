//! How a recording ends other than by the firmware's end: the stop from the host (Ctrl-C,
//! SIGTERM, SIGHUP, a second Ctrl-C's abort), a QEMU killed, told to end or dying, a target that
//! stops answering or resets, an attached QEMU that dies, and a reader that closes stdout.

use super::*;

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
    let mut seen = false;
    for line in awaited.iter() {
        text.push_str(&line);
        text.push('\n');
        if line.contains(marker) {
            seen = true;
            break;
        }
    }
    if !seen {
        // `record` ended before the moment came: what it said on both streams tells why.
        let status = child.wait().unwrap();
        let rest = |lines: &std::sync::mpsc::Receiver<String>| lines.iter().collect::<Vec<_>>();
        panic!(
            "gotrace record ended ({status}) before {marker:?}:\nstdout:\n{out_text}{}\nstderr:\n{err_text}{}",
            rest(&stdout).join("\n"),
            rest(&stderr).join("\n")
        );
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
