//! Go's own trace tools as the judge of gotrace's output.
//!
//! Every trace the encoder writes, and every verdict the decoder gives, is checked against Go's
//! parser (`go tool trace -d=parsed` / `-d=wire`). This crate finds the Go toolchain once, resolves
//! the `trace` tool binary (so each check costs one process, not a `go` driver start), and applies
//! the project's rule for tests that need Go (1.26 or later): without it they skip with a note on
//! a developer's machine, and fail when `CI` is set.
#![warn(missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

mod scratch;
mod viewer;
pub use scratch::scratch_dir;
pub use viewer::{Page, Viewer};

/// Why Go's tool could not give a verdict (as opposed to rejecting the trace).
#[derive(Debug, thiserror::Error)]
pub enum OracleError {
    /// A Go tool could not be started.
    #[error("running {what}: {source}")]
    Spawn {
        /// The command.
        what: String,
        /// Why it did not start.
        #[source]
        source: std::io::Error,
    },
    /// A Go tool failed without a verdict (`go env`, `go tool -n trace`, or a trace tool that
    /// exited without a word).
    #[error("{what} failed: {stderr}")]
    Tool {
        /// The command.
        what: String,
        /// What it printed on stderr, or its exit status.
        stderr: String,
    },
    /// The Go found is older than [`GO_NEEDED`].
    #[error(
        "Go {found} is older than Go {}.{}, whose trace tool's output the tests compare with \
         (install it from https://go.dev/dl/; Debian's golang-go is older)",
        GO_NEEDED.0,
        GO_NEEDED.1
    )]
    TooOld {
        /// The version `go env GOVERSION` gave.
        found: String,
    },
    /// `go tool trace`'s web viewer did not serve the trace whole (see [`Viewer`]).
    #[error("go tool trace's viewer on {}: {what}\n{log}", file.display())]
    Viewer {
        /// The trace.
        file: PathBuf,
        /// What went wrong, and on which page.
        what: String,
        /// What the tool logged (its stderr).
        log: String,
    },
    /// Go's conformance vectors could not be listed.
    #[error("listing Go's conformance vectors in {}: {source}", dir.display())]
    Vectors {
        /// Where they were looked for.
        dir: PathBuf,
        /// Why the listing failed.
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
    /// Whether Go accepted the whole trace.
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

/// The oldest Go (major, minor) whose `go tool trace -d=parsed` / `-d=wire` print what the tests
/// compare with, and whose toolchain holds the vectors they read: its forms change between
/// releases (Go 1.25 prints a P's resource differently, Go 1.24 orders its events otherwise).
pub const GO_NEEDED: (u32, u32) = (1, 26);

/// The (major, minor) of a `go env GOVERSION` (`go1.26.8`, `go1.27rc1`, `devel go1.27-abc...`);
/// `None` if it names none.
fn go_release(version: &str) -> Option<(u32, u32)> {
    let rest = &version[version.find("go1.")? + 2..];
    let (major, rest) = rest.split_once('.')?;
    let minor: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// A located Go toolchain.
#[derive(Debug, Clone)]
pub struct Go {
    goroot: PathBuf,
    trace_tool: PathBuf,
}

impl Go {
    /// Finds Go, or reports why it is not usable (missing, or older than [`GO_NEEDED`]).
    pub fn locate() -> Result<Go, OracleError> {
        // One `go env` for both: a line each, in the order asked.
        let env = output(
            "go env GOVERSION GOROOT",
            Command::new("go").args(["env", "GOVERSION", "GOROOT"]),
        )?;
        let mut lines = env.lines().map(str::trim);
        let (version, goroot) = (lines.next().unwrap_or(""), lines.next().unwrap_or(""));
        // A version string of a form not foreseen is let through: the comparisons will tell.
        if go_release(version).is_some_and(|release| release < GO_NEEDED) {
            return Err(OracleError::TooOld {
                found: version.to_owned(),
            });
        }
        // `go tool -n` builds the tool into the build cache if needed and prints its path.
        let trace_tool = output(
            "go tool -n trace",
            Command::new("go").args(["tool", "-n", "trace"]),
        )?;
        Ok(Go {
            goroot: PathBuf::from(goroot),
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

    /// Opens `go tool trace FILE`'s web viewer, as a user opens a trace, for [`Viewer::walk`].
    pub fn open_viewer(&self, file: &Path) -> Result<Viewer, OracleError> {
        Viewer::open(&self.trace_tool, file)
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
/// saying how it was looked for: with the `CI` environment variable set (to anything but empty,
/// `0` or `false`) the test fails (a CI machine without the tool would otherwise pass by checking
/// nothing); on a developer's machine it prints a note and returns, and the caller skips.
pub fn missing_tool(test: &str, tool: &str, why: &str) {
    apply_ci_rule(in_ci(std::env::var("CI").ok().as_deref()), test, tool, why);
}

/// The Rust target `triple` is installed, or the test skips (fails in CI), as [`missing_tool`]
/// says. Without rustup there is no list to ask: the build itself then says whether the target
/// is there.
pub fn require_rust_target(test: &str, triple: &str) -> bool {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map_or(true, |o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l == triple)
        });
    if !installed {
        missing_tool(test, triple, "not in `rustup target list --installed`");
    }
    installed
}

/// Whether a value of `CI` means a CI run, as CI services set it (`true`, `1`).
fn in_ci(value: Option<&str>) -> bool {
    value.is_some_and(|v| !matches!(v.trim(), "" | "0" | "false"))
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
    fn ci_is_any_value_but_empty_zero_or_false() {
        assert!(in_ci(Some("true")) && in_ci(Some("1")) && in_ci(Some("yes")));
        assert!(!in_ci(None) && !in_ci(Some("")) && !in_ci(Some("0")) && !in_ci(Some("false")));
    }

    #[test]
    fn go_releases_are_read_from_its_version_strings() {
        assert_eq!(go_release("go1.26.8"), Some((1, 26)));
        assert_eq!(go_release("go1.27rc1"), Some((1, 27)));
        assert_eq!(go_release("go1.24"), Some((1, 24)));
        assert_eq!(go_release("devel go1.27-4b3c2a1 Mon Dec 1"), Some((1, 27)));
        assert_eq!(go_release("gccgo"), None);
        assert!(go_release("go1.25.0").unwrap() < GO_NEEDED);
        assert!(go_release("go1.26.0").unwrap() >= GO_NEEDED);
    }

    #[test]
    fn go_and_its_viewer_refuse_a_trace_without_frequency_and_the_vectors_are_listed() {
        let Some(go) = require_go("oracle self-test") else {
            return;
        };
        let empty = scratch_dir().join("header-only.trace");
        std::fs::write(&empty, b"go 1.22 trace\0\0\0").unwrap();
        let out = go.trace(Mode::Parsed, &empty).unwrap();
        assert_eq!(out.error.as_deref(), Some("no frequency event found"));
        // The viewer would open it, empty ("Encountered error, but able to proceed").
        let error = go.open_viewer(&empty).err().expect("the viewer served it");
        let text = error.to_string();
        assert!(text.contains("it read the trace only in part"), "{text}");
        assert!(text.contains("no frequency event found"), "{text}");
        let vectors = go.conformance_vectors().unwrap();
        assert!(
            vectors.iter().any(|v| v.ends_with("go122-gc-stress.test")),
            "{vectors:?}"
        );
    }
}
