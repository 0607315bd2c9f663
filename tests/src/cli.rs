//! The `gotrace` binary, run as a user runs it.
//!
//! Cargo only builds a package's own binaries for its integration tests, so the first test that
//! needs `gotrace` asks cargo to build it (a no-op when it is up to date, and never a stale binary).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// What one run of `gotrace` printed and how it exited.
#[derive(Debug, Clone)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
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
        profile_dir.join(format!("gotrace{}", std::env::consts::EXE_SUFFIX))
    })
}
