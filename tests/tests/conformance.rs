//! Go's conformance vectors through the `gotrace` command, as a user would run them: every
//! `go122-*.test` meets its expectation (`SUCCESS` accepted; `FAILURE "re"` rejected with an
//! error whose Go text matches `re`). Needs Go for the vectors: fails when `CI` is set without it.

use gotrace_decoder::txtar::Expectation;
use gotrace_decoder::Reader;
use gotrace_go_oracle::{require_go, Mode};
use gotrace_tests::cli::gotrace;
use gotrace_tests::vectors::go122_vectors;
use regex::Regex;

#[test]
fn every_go122_vector_meets_its_expectation_through_the_cli() {
    let Some(go) = require_go("every_go122_vector_meets_its_expectation_through_the_cli") else {
        return;
    };
    let vectors = go122_vectors(&go);
    // One run for all files, as a user would validate a directory...
    let all = gotrace(
        std::iter::once("validate".as_ref()).chain(vectors.iter().map(|v| v.path.as_os_str())),
    );
    // A `.test` file passes (exit 0) when its expectation is met, FAILURE vectors too.
    assert!(vectors.iter().any(|v| !v.is_valid()));
    assert_eq!(all.code, 0, "{}{}", all.stdout, all.stderr);
    for vector in &vectors {
        // ...and one per file, for the verdict of each.
        let run = gotrace(["validate".as_ref(), vector.path.as_os_str()]);
        let path = vector.path.display().to_string();
        let lines: Vec<&str> = run.stdout.lines().collect();
        assert_eq!(
            lines.len(),
            2,
            "{}: {}{}",
            vector.name,
            run.stdout,
            run.stderr
        );
        assert!(
            lines[1].starts_with(&format!("{path}: expectation")) && lines[1].ends_with(" met"),
            "{}: {}",
            vector.name,
            lines[1]
        );
        match &vector.expectation {
            Expectation::Success => {
                assert_eq!(run.code, 0, "{}: {}", vector.name, run.stdout);
                assert!(
                    lines[0].starts_with(&format!("{path}: valid (Go 1.22, ")),
                    "{}",
                    lines[0]
                );
            }
            Expectation::Failure { pattern } => {
                assert_eq!(run.code, 0, "{}: {}", vector.name, run.stdout);
                let message = lines[0]
                    .strip_prefix(&format!("{path}: invalid: "))
                    .unwrap_or_else(|| panic!("{}: {}", vector.name, lines[0]));
                // Go matches the pattern against its error text, which the CLI prints first and
                // the library gives alone.
                let go_message = Reader::new(&vector.binary[..])
                    .and_then(|mut r| loop {
                        if r.read_event()?.is_none() {
                            break Ok(());
                        }
                    })
                    .expect_err("a FAILURE vector must be rejected")
                    .go_message();
                assert!(message.starts_with(&go_message), "{message} / {go_message}");
                let re = Regex::new(pattern).unwrap();
                assert!(
                    re.is_match(&go_message),
                    "{}: {go_message:?} !~ {pattern:?}",
                    vector.name
                );
            }
        }
    }
}

#[test]
fn a_test_file_whose_expectation_is_not_met_fails() {
    let Some(go) = require_go("a_test_file_whose_expectation_is_not_met_fails") else {
        return;
    };
    let vectors = go122_vectors(&go);
    let valid = vectors.iter().find(|v| v.is_valid()).unwrap();
    let invalid = vectors.iter().find(|v| !v.is_valid()).unwrap();
    let text = |v: &gotrace_tests::vectors::Vector| std::fs::read_to_string(&v.path).unwrap();
    // The expectation is the section after `-- expect --`, one line.
    let expecting = |text: String, line: &str| {
        let (head, rest) = text.split_once("-- expect --\n").unwrap();
        let (_, tail) = rest.split_once('\n').unwrap();
        format!("{head}-- expect --\n{line}\n{tail}")
    };
    for (name, text, report) in [
        (
            "valid-expected-to-fail.test",
            expecting(text(valid), "FAILURE \"x\""),
            "expectation FAILURE \"x\" not met: the trace is valid",
        ),
        (
            "invalid-expected-to-pass.test",
            expecting(text(invalid), "SUCCESS"),
            "expectation SUCCESS not met",
        ),
        (
            "invalid-failing-otherwise.test",
            expecting(text(invalid), "FAILURE \"^no such error$\""),
            "not met: the error does not match",
        ),
        // Go's harness compiles the pattern before it reads the trace: the file is malformed,
        // and the trace not read.
        (
            "pattern-not-compiling.test",
            expecting(text(valid), "FAILURE \"(a{1000}){1000}\""),
            "invalid: malformed test: bad pattern \"(a{1000}){1000}\": ",
        ),
        // Go's line reader takes 64 KiB at most; its regular expression compiled at gigabytes.
        (
            "expectation-line-too-long.test",
            expecting(
                text(invalid),
                &format!("FAILURE \"{}\"", "a|".repeat(40_000)),
            ),
            "invalid: malformed test: the expectation line is 80010 bytes long",
        ),
    ] {
        let file = gotrace_tests::scratch_file(name, text.as_bytes());
        let run = gotrace(["validate".as_ref(), file.as_os_str()]);
        assert_eq!(run.code, 1, "{name}: {run:?}");
        assert!(run.stdout.contains(report), "{name}: {run:?}");
    }
}

#[test]
fn validate_exit_codes_separate_invalid_from_unreadable() {
    let dir = gotrace_tests::scratch_dir();
    let missing = dir.join("does-not-exist.trace");
    let garbage = gotrace_tests::scratch_file("garbage.trace", b"\x00\x01not a trace");
    let header_only = gotrace_tests::scratch_file("header.trace", b"go 1.22 trace\0\0\0");
    let run = gotrace(["validate".as_ref(), missing.as_os_str()]);
    assert_eq!(run.code, 2, "{run:?}");
    let run = gotrace(["validate".as_ref(), garbage.as_os_str()]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout
            .contains("bad file format: not a Go execution trace?"),
        "{run:?}"
    );
    let run = gotrace(["validate".as_ref(), header_only.as_os_str()]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("no frequency event found"), "{run:?}");
    let run = gotrace([
        "validate".as_ref(),
        header_only.as_os_str(),
        missing.as_os_str(),
    ]);
    assert_eq!(run.code, 2, "unreadable wins over invalid: {run:?}");
    let run = gotrace(["validate"]);
    assert_eq!(run.code, 2, "usage error: {run:?}");
}

/// A valid trace of four small generations, to feed through standard input.
fn small_trace() -> Vec<u8> {
    use gotrace_tests::generate::{generate, Shape};
    generate(Shape {
        seed: 3,
        procs: 2,
        goroutines_per_proc: 3,
        generation_bytes: 4 << 10,
        total_bytes: 16 << 10,
    })
    .0
}

#[test]
fn a_dash_reads_the_trace_from_standard_input() {
    // `cat t.trace | gotrace events -`: `-` was taken for a file name ("opening -: No such file").
    use std::io::Write;
    use std::process::Stdio;
    let trace = small_trace();
    let file = gotrace_tests::scratch_file("from-stdin.trace", &trace);
    for command in ["validate", "events", "dump"] {
        let mut child = gotrace_tests::cli::piped([command, "-"])
            .stdin(Stdio::piped())
            .spawn()
            .expect("running gotrace");
        let mut stdin = child.stdin.take().unwrap();
        // A gotrace that does not read its input closes the pipe: the verdict below says so.
        let _ = stdin.write_all(&trace);
        drop(stdin);
        let piped = child.wait_with_output().unwrap();
        let named = gotrace([command.as_ref(), file.as_os_str()]);
        assert_eq!(named.code, 0, "{command}: {named:?}");
        assert_eq!(piped.status.code(), Some(0), "{command} -: {piped:?}");
        let expected = named.stdout.replace(&file.display().to_string(), "-");
        assert_eq!(
            String::from_utf8_lossy(&piped.stdout),
            expected,
            "{command}"
        );
    }
    // Standard input can be read once: a second `-` is a usage error, not an invalid trace.
    gotrace(["validate", "-", "-"]).assert_refused("`-` (standard input) named more than once");
}

#[test]
fn a_read_that_fails_mid_way_is_an_io_error_not_a_verdict() {
    // A socket reset under `gotrace validate -` (ECONNRESET after half the trace) was taken for
    // the trace's cut: "-: invalid: failed to read full batch: read 15 but wanted 2034 (...)" (or,
    // between generations, "no frequency event found"), exit 1, from `events` too; `dump` said
    // "reading byte N: Connection reset by peer" but exit 1.
    use std::io::Write;
    use std::os::fd::OwnedFd;
    use std::os::unix::net::UnixStream;
    use std::process::Stdio;
    let trace = small_trace();
    for command in ["validate", "events", "dump"] {
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        theirs.write_all(&trace[..trace.len() / 2]).unwrap();
        // Unread data in the peer's queue when it closes: Linux resets the connection, and our
        // read after the data gets ECONNRESET.
        (&ours).write_all(b"x").unwrap();
        drop(theirs);
        let out = gotrace_tests::cli::piped([command, "-"])
            .stdin(Stdio::from(OwnedFd::from(ours)))
            .output()
            .expect("running gotrace");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(2), "{command}: {stdout}{stderr}");
        assert!(
            stderr.contains("reading -: Connection reset by peer"),
            "{command}: {stderr}"
        );
        assert!(!stdout.contains("invalid"), "{command}: {stdout}");
    }
}

#[test]
fn a_closed_or_failing_stdout_is_no_panic() {
    // `gotrace validate *.trace | head -1`: println! panicked at the first verdict after the pipe
    // closed ("failed printing to stdout: Broken pipe", exit 101), and on a full disk.
    use std::io::{BufRead, BufReader};
    use std::process::Command;
    let trace = gotrace_tests::scratch_file("closed-stdout.trace", b"go 1.22 trace\0\0\0");
    let files = vec![trace.as_os_str(); 2000];
    let mut child = gotrace_tests::cli::piped(["validate"])
        .args(&files)
        .spawn()
        .expect("running gotrace");
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    // The verdict still counts: every file is invalid.
    assert_eq!(out.status.code(), Some(1), "{first}{stderr}");

    // `2>&1 | head -1` on files that cannot be read: the errors go to a closed pipe too, and
    // eprintln! panicked (exit 101) where the verdict is "unreadable" (2).
    // Named from the scratch directory: 2000 full paths would pass the kernel's limit on one
    // argument (128 KiB), the script `bash -c` is given.
    let piped = format!(
        "{:?} validate {} 2>&1 | head -1 >/dev/null; exit ${{PIPESTATUS[0]}}",
        gotrace_tests::cli::binary(),
        vec!["missing.trace"; 2000].join(" ")
    );
    let status = Command::new("bash")
        .args(["-c", &piped])
        .current_dir(gotrace_tests::scratch_dir())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(2));

    // Lines nobody can see are an I/O failure, said as one (exit 2), where "No space left on
    // device (os error 28)" alone, or a panic, said neither what nor where.
    if !std::path::Path::new("/dev/full").exists() {
        return;
    }
    for command in ["validate", "dump", "events"] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = Command::new(gotrace_tests::cli::binary())
            .arg(command)
            .arg(&trace)
            .stdout(full)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command}: {stderr}");
        assert!(
            stderr.contains("writing to stdout: No space left on device"),
            "{command}: {stderr}"
        );
    }
}

/// Go's parser reads the traces of Go 1.11 to 1.21 (their older format, converted to the current
/// events); gotrace reads Go 1.22's format and later only. Such a trace gets no verdict: exit 2
/// with a message that says so, from every command that reads a trace, never "invalid" (exit 1)
/// for a trace Go accepts. The traces are Go's own, from its toolchain's test data.
#[test]
fn traces_in_the_format_before_go_1_22_get_no_verdict() {
    let Some(go) = require_go("traces_in_the_format_before_go_1_22_get_no_verdict") else {
        return;
    };
    let dir = go
        .goroot()
        .join("src/internal/trace/internal/tracev1/testdata");
    for minor in [11, 19, 21] {
        let file = dir.join(format!("stress_1_{minor}_good"));
        assert!(
            go.trace(Mode::Parsed, &file)
                .expect("running Go")
                .accepted(),
            "Go accepts {}",
            file.display()
        );
        for command in ["validate", "events", "dump"] {
            let run = gotrace([command.as_ref(), file.as_os_str()]);
            assert_eq!(run.code, 2, "{command}: {run:?}");
            assert!(
                run.stderr.contains(&format!(
                    "a Go 1.{minor} trace, in the format before Go 1.22's, which gotrace does not read"
                )),
                "{command}: {run:?}"
            );
            assert!(run.stdout.is_empty(), "{command}: {run:?}");
        }
    }
}
