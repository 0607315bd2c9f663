//! The `gotrace` binary, run as a user runs it.
//!
//! Cargo only builds a package's own binaries for its integration tests. `cargo test --workspace`
//! builds `gotrace` before any test runs, so the binary beside the tests is used when it is newer
//! than every source file of the workspace; otherwise (say `cargo test -p gotrace-tests` after an
//! edit) the first test that needs it asks cargo to build it, so a stale binary is never run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::SystemTime;

/// What one run of `gotrace` printed and how it exited.
#[derive(Debug, Clone)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts that `gotrace` refused what it was asked (exit 2) and said `why` on stderr.
    #[track_caller]
    pub fn assert_refused(&self, why: &str) {
        assert_eq!(self.code, 2, "{self:?}");
        assert!(self.stderr.contains(why), "{self:?}");
    }
}

/// Runs `gotrace ARGS...`.
pub fn gotrace<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let out = Command::new(binary())
        .args(args)
        .output()
        .expect("running gotrace");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `gotrace ARGS...`, to be spawned with its stdout and stderr piped: for a test that reads them
/// as they come (a reader that goes away, a signal sent mid-run).
pub fn piped<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut command = Command::new(binary());
    command
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    command
}

/// The path of an up-to-date `gotrace` binary of the profile these tests were built with.
pub fn binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        // Test executables live in `<target>/<profile>/deps/`.
        let exe = std::env::current_exe().expect("locating the test executable");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("test executable outside a target directory");
        let target_dir = profile_dir.parent().expect("target directory");
        let binary = profile_dir.join(format!("gotrace{}", std::env::consts::EXE_SUFFIX));
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("workspace root");
        let built = std::fs::metadata(&binary).and_then(|m| m.modified()).ok();
        if built.is_some_and(|built| newest_source(workspace).is_some_and(|src| src <= built)) {
            return binary;
        }
        let mut build = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        build
            .args([
                "build",
                "--quiet",
                "-p",
                "gotrace-host-tools",
                "--bin",
                "gotrace",
            ])
            .env("CARGO_TARGET_DIR", target_dir);
        if profile_dir.file_name().is_some_and(|p| p == "release") {
            build.arg("--release");
        }
        let status = build.status().expect("running cargo build for gotrace");
        assert!(status.success(), "building gotrace failed");
        binary
    })
}

/// The last modification time of the workspace's sources (build outputs and git excluded).
fn newest_source(dir: &Path) -> Option<SystemTime> {
    let mut newest = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("target")
            || name.starts_with('.')
            || name == "corpus"
            || name == "artifacts"
        {
            continue;
        }
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let time = if kind.is_dir() {
            newest_source(&entry.path())
        } else {
            entry.metadata().and_then(|m| m.modified()).ok()
        };
        newest = newest.max(time);
    }
    newest
}
