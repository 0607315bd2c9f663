//! Go's own trace tools as the judge of gotrace's output.
//!
//! Every trace the encoder writes, and every verdict the decoder gives, is checked against Go's
//! parser (`go tool trace -d=parsed` / `-d=wire`). This crate finds the Go toolchain once, resolves
//! the `trace` tool binary (so each check costs one process, not a `go` driver start), and applies
//! the project's rule for tests that need Go: without Go they skip with a note on a developer's
//! machine, and fail when `CI` is set.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Why Go's tool could not give a verdict (as opposed to rejecting the trace).
#[derive(Debug, thiserror::Error)]
pub enum OracleError {
    #[error("running {what}: {source}")]
    Spawn {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} failed: {stderr}")]
    Tool { what: String, stderr: String },
    #[error("listing Go's conformance vectors in {}: {source}", dir.display())]
    Vectors {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What `go tool trace -d=MODE` printed for one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceOutput {
    /// The lines printed before the end or the error: one event per line.
    pub stdout: String,
    /// `None` when Go accepted the whole trace; otherwise Go's error text.
    pub error: Option<String>,
}

impl TraceOutput {
    pub fn accepted(&self) -> bool {
        self.error.is_none()
    }
}

/// The debug modes of `go tool trace -d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The validated event stream, one `Event.String()` per line.
    Parsed,
    /// The raw events, one per line, without validation.
    Wire,
}

impl Mode {
    fn flag(self) -> &'static str {
        match self {
            Mode::Parsed => "-d=parsed",
            Mode::Wire => "-d=wire",
        }
    }
}

/// A located Go toolchain.
#[derive(Debug, Clone)]
pub struct Go {
    goroot: PathBuf,
    trace_tool: PathBuf,
}

impl Go {
    /// Finds Go, or reports why it is not usable.
    pub fn locate() -> Result<Go, OracleError> {
        let goroot = output("go env GOROOT", Command::new("go").args(["env", "GOROOT"]))?;
        // `go tool -n` builds the tool into the build cache if needed and prints its path.
        let trace_tool = output(
            "go tool -n trace",
            Command::new("go").args(["tool", "-n", "trace"]),
        )?;
        Ok(Go {
            goroot: PathBuf::from(goroot.trim()),
            trace_tool: PathBuf::from(trace_tool.trim()),
        })
    }

    /// The toolchain's root (`go env GOROOT`).
    pub fn goroot(&self) -> &Path {
        &self.goroot
    }

    /// Go's conformance vectors (`src/internal/trace/testdata/tests/*.test`), sorted by name.
    pub fn conformance_vectors(&self) -> Result<Vec<PathBuf>, OracleError> {
        let dir = self.goroot.join("src/internal/trace/testdata/tests");
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(source) => return Err(OracleError::Vectors { dir, source }),
        };
        let mut vectors: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "test"))
            .collect();
        vectors.sort();
        Ok(vectors)
    }

    /// Runs `go tool trace -d=MODE file`. A rejected trace is an `Ok` with `error` set.
    pub fn trace(&self, mode: Mode, file: &Path) -> Result<TraceOutput, OracleError> {
        let what = format!("go tool trace {} {}", mode.flag(), file.display());
        let out = Command::new(&self.trace_tool)
            .arg(mode.flag())
            .arg(file)
            .output()
            .map_err(|source| OracleError::Spawn {
                what: what.clone(),
                source,
            })?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).trim_end().to_owned();
        if out.status.success() {
            return Ok(TraceOutput {
                stdout,
                error: None,
            });
        }
        if stderr.is_empty() {
            return Err(OracleError::Tool {
                what,
                stderr: format!("exit status {}", out.status),
            });
        }
        Ok(TraceOutput {
            stdout,
            error: Some(stderr),
        })
    }

    /// `go` itself, for callers that build and run Go programs (the oracle module, test programs).
    pub fn command(&self) -> Command {
        Command::new(self.goroot.join("bin/go"))
    }
}

/// Go for a test that needs it: `Some` when present; when absent, see [`missing_tool`].
pub fn require_go(test: &str) -> Option<Go> {
    static GO: OnceLock<Result<Go, String>> = OnceLock::new();
    match GO.get_or_init(|| Go::locate().map_err(|e| e.to_string())) {
        Ok(go) => Some(go.clone()),
        Err(why) => {
            missing_tool(test, "Go", why);
            None
        }
    }
}

/// The project's rule for a test whose tool (`tool`: Go, QEMU, a Rust target) is missing, `why`
/// saying how it was looked for: with the `CI` environment variable set the test fails (a CI
/// machine without the tool would otherwise pass by checking nothing); on a developer's machine
/// it prints a note and returns, and the caller skips.
pub fn missing_tool(test: &str, tool: &str, why: &str) {
    apply_ci_rule(std::env::var_os("CI").is_some(), test, tool, why);
}

fn apply_ci_rule(ci: bool, test: &str, tool: &str, why: &str) {
    if ci {
        panic!("{test} needs {tool}, and CI is set: {why}");
    }
    eprintln!("note: skipping {test}: {tool} is not usable here ({why})");
}

fn output(what: &str, cmd: &mut Command) -> Result<String, OracleError> {
    let out = cmd.output().map_err(|source| OracleError::Spawn {
        what: what.to_owned(),
        source,
    })?;
    if !out.status.success() {
        return Err(OracleError::Tool {
            what: what.to_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).trim_end().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "t needs QEMU, and CI is set: not installed")]
    fn a_missing_tool_fails_the_test_in_ci() {
        apply_ci_rule(true, "t", "QEMU", "not installed");
    }

    #[test]
    fn a_missing_tool_lets_the_test_skip_outside_ci() {
        apply_ci_rule(false, "t", "QEMU", "not installed");
    }

    #[test]
    fn go_rejects_a_trace_without_frequency_and_accepts_vectors_listing() {
        let Some(go) = require_go("oracle self-test") else {
            return;
        };
        let dir = std::env::temp_dir().join(format!("gotrace-oracle-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("header-only.trace");
        std::fs::write(&empty, b"go 1.22 trace\0\0\0").unwrap();
        let out = go.trace(Mode::Parsed, &empty).unwrap();
        assert_eq!(out.error.as_deref(), Some("no frequency event found"));
        let vectors = go.conformance_vectors().unwrap();
        assert!(
            vectors.iter().any(|v| v.ends_with("go122-gc-stress.test")),
            "{vectors:?}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
