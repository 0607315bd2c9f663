//! The real Go programs of `tests/goprograms`: built with the Go toolchain into a directory of the
//! caller's (never the source tree), and run one scenario at a time under `runtime/trace`. The
//! real-program tests run every scenario briefly; the benchmark traces the busy one for long.

use std::path::{Path, PathBuf};
use std::process::Command;

use gotrace_go_oracle::Go;

/// A built `goprograms` binary.
#[derive(Debug, Clone)]
pub struct GoPrograms {
    binary: PathBuf,
}

impl GoPrograms {
    /// Builds the program into `dir`, with cgo (without it Go would silently leave out the cgo
    /// scenario). Panics with Go's message when the build fails.
    pub fn build(go: &Go, dir: &Path) -> GoPrograms {
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("goprograms");
        let binary = dir.join("goprograms");
        let out = go
            .command()
            .current_dir(&source)
            .env("CGO_ENABLED", "1")
            .args(["build", "-o"])
            .arg(&binary)
            .arg(".")
            .output()
            .expect("running go build");
        assert!(
            out.status.success(),
            "go build {}: {}",
            source.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        GoPrograms { binary }
    }

    /// Runs `scenario`, writing its trace to `trace`, with a new generation every
    /// `advance_period_ns` and the busy scenario lasting `busy_seconds`. Panics with the
    /// program's message when it fails.
    pub fn trace(&self, scenario: &str, trace: &Path, advance_period_ns: u64, busy_seconds: f64) {
        self.trace_with(scenario, trace, advance_period_ns, busy_seconds, "");
    }

    /// [`GoPrograms::trace`] with more `GODEBUG` settings (`extra_godebug`, comma-separated,
    /// e.g. `traceallocfree=1` for the experimental allocation events).
    pub fn trace_with(
        &self,
        scenario: &str,
        trace: &Path,
        advance_period_ns: u64,
        busy_seconds: f64,
        extra_godebug: &str,
    ) {
        let mut godebug = format!("traceadvanceperiod={advance_period_ns}");
        if !extra_godebug.is_empty() {
            godebug = format!("{godebug},{extra_godebug}");
        }
        let out = Command::new(&self.binary)
            .arg(scenario)
            .arg(trace)
            .env("GODEBUG", godebug)
            .env("GOTRACE_BUSY_SECONDS", busy_seconds.to_string())
            .output()
            .expect("running goprograms");
        assert!(
            out.status.success(),
            "goprograms {scenario}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
