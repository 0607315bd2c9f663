//! Go's conformance vectors through the `gotrace` command, as a user would run them: every
//! `go122-*.test` meets its expectation (`SUCCESS` accepted; `FAILURE "re"` rejected with an
//! error whose Go text matches `re`). Needs Go for the vectors: fails when `CI` is set without it.

use gotrace_decoder::txtar::Expectation;
use gotrace_decoder::Reader;
use gotrace_go_oracle::require_go;
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
    let any_failure = vectors.iter().any(|v| !v.is_valid());
    assert_eq!(all.code, if any_failure { 1 } else { 0 }, "{}", all.stderr);
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
                assert_eq!(run.code, 1, "{}: {}", vector.name, run.stdout);
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
