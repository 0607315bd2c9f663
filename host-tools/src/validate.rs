//! `gotrace validate FILE...`: Go's verdict on each trace, with a better error message.
//!
//! Exit 0 when every trace is valid, 1 when any is not (the message is Go's error text plus where:
//! generation, M, batch, byte offset, event), 2 when a file could not be read (to its end) or is a
//! trace in the format before Go 1.22's, which Go's parser reads and gotrace does not. For Go's
//! `.test` files the trace is validated as any other, the report also says whether the verdict
//! is the one the file expects, and that decides the exit status, as in Go's test harness: a
//! `FAILURE` vector rejected as it expects counts as passed (0), an unmet expectation as failed
//! (1).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use gotrace_decoder::input::Input;
use gotrace_decoder::txtar::Expectation;
use gotrace_decoder::Reader;
use regex::Regex;

use crate::input::{older_format, open, Opened, Source};
use crate::stdout::{self, errln, outln};

/// Check traces (binary, text or Go .test files) against Go's parser rules.
///
/// Exit status: 0 when every trace is valid; 1 when any is not (Go's error and where: generation,
/// M, batch, byte offset, event); 2 when a file cannot be read, is a trace in the format before
/// Go 1.22's (Go 1.11 to 1.21, not read: no verdict), or on a usage error. A Go `.test` file
/// counts by its expectation: 0 when the verdict is the one it expects, 1 when not.
#[derive(clap::Args)]
pub struct Args {
    /// The traces (binary, Go's text form, or Go `.test` files); `-` reads standard input.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

/// How one file fared, ordered by severity.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Valid,
    Invalid,
    Unreadable,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    // A second `-` would find standard input read to its end, and call that an invalid trace.
    anyhow::ensure!(
        args.files.iter().filter(|f| *f == Path::new("-")).count() <= 1,
        "`-` (standard input) named more than once: it can be read once"
    );
    let mut worst = Outcome::Valid;
    for file in &args.files {
        let outcome = validate(file).unwrap_or_else(|error| {
            errln!("gotrace: {error:#}");
            Outcome::Unreadable
        });
        worst = worst.max(outcome);
    }
    // After a closed pipe the verdict still counts; verdicts lost otherwise are an I/O error.
    stdout::check()?;
    Ok(match worst {
        Outcome::Valid => ExitCode::SUCCESS,
        Outcome::Invalid => ExitCode::from(1),
        Outcome::Unreadable => ExitCode::from(2),
    })
}

fn validate(file: &Path) -> anyhow::Result<Outcome> {
    let name = file.display();
    let (input, failure) = match open(file)? {
        Opened::Trace(input, failure) => (input, failure),
        Opened::NotATrace(error) => {
            outln!("{name}: invalid: {error}");
            return Ok(Outcome::Invalid);
        }
    };
    let expectation = input.expectation().cloned();
    // Compiled before the trace is read, as Go's test harness does: a pattern it cannot compile
    // makes the file malformed, whatever the trace.
    let matcher = match &expectation {
        Some(Expectation::Failure { pattern }) => match Regex::new(pattern) {
            Ok(matcher) => Some(matcher),
            Err(e) => {
                outln!("{name}: invalid: malformed test: bad pattern {pattern:?}: {e}");
                return Ok(Outcome::Invalid);
            }
        },
        _ => None,
    };
    let verdict = read_all(input);
    // A read that failed mid-way is no verdict, whatever the decoder made of the cut.
    failure.check(file)?;
    if let Some(minor) = verdict.as_ref().err().and_then(|e| e.older_format()) {
        return Err(older_format(file, minor));
    }
    match &verdict {
        Ok((version, events)) => {
            outln!("{name}: valid (Go 1.{}, {events} events)", version.minor())
        }
        Err(error) => outln!("{name}: invalid: {error}"),
    }
    if let Some(expectation) = expectation {
        let go_message = verdict.as_ref().err().map(|e| e.go_message());
        let (met, report) = check(&expectation, matcher.as_ref(), go_message.as_deref());
        outln!("{name}: {report}");
        return Ok(if met {
            Outcome::Valid
        } else {
            Outcome::Invalid
        });
    }
    Ok(match verdict {
        Ok(_) => Outcome::Valid,
        Err(_) => Outcome::Invalid,
    })
}

/// Reads the whole trace, counting its events; an error explained by the input
/// ([`Input::explain`]: named by line for a text input).
fn read_all(
    input: Input<Source>,
) -> Result<(gotrace_decoder::Version, u64), gotrace_decoder::Error> {
    let mut reader = Reader::new(input)?;
    let mut events = 0;
    loop {
        match reader.read_event_ref() {
            Ok(Some(_)) => events += 1,
            Ok(None) => {
                reader.get_mut().finish()?;
                return Ok((reader.version(), events));
            }
            Err(error) => return Err(reader.get_ref().explain(error)),
        }
    }
}

/// Whether Go's error text (`None` when the trace is valid) is what a `.test` file expects, as
/// Go's test harness decides it (`matcher`, a `FAILURE`'s pattern, must match somewhere in the
/// message), and the report of it.
fn check(
    expectation: &Expectation,
    matcher: Option<&Regex>,
    go_message: Option<&str>,
) -> (bool, String) {
    match (expectation, go_message) {
        (Expectation::Success, None) => (true, "expectation SUCCESS met".to_owned()),
        (Expectation::Success, Some(_)) => (false, "expectation SUCCESS not met".to_owned()),
        (Expectation::Failure { pattern }, None) => (
            false,
            format!("expectation FAILURE {pattern:?} not met: the trace is valid"),
        ),
        (Expectation::Failure { pattern }, Some(message)) => {
            if matcher.is_some_and(|re| re.is_match(message)) {
                (true, format!("expectation FAILURE {pattern:?} met"))
            } else {
                (
                    false,
                    format!("expectation FAILURE {pattern:?} not met: the error does not match"),
                )
            }
        }
    }
}
