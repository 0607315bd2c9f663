//! Where the trace goes: outputs refused before the firmware runs, a trace another recording is
//! writing left whole, the main command's output where it is called from, and a full disk.

use super::*;

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
