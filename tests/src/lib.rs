//! Shared helpers for the workspace-level integration tests: the `gotrace` binary, Go's
//! conformance vectors in binary form, and scratch files that Go's tools can read.

pub mod cli;
pub mod fuzz;
pub mod generate;
pub mod goprograms;
pub mod goroutine_analysis;
pub mod heap;
pub mod mutate;
pub mod rng;
pub mod vectors;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// A scratch directory for this test process in the system temp dir, removed by nobody, so that
/// a failing test leaves its inputs there to look at.
pub fn scratch_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("gotrace-tests-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("creating the scratch directory");
        dir
    })
}

/// Writes `bytes` to a fresh file in the scratch directory named after `name`.
pub fn scratch_file(name: &str, bytes: &[u8]) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let path = scratch_dir().join(format!("{n:05}-{name}"));
    std::fs::write(&path, bytes).expect("writing a scratch file");
    path
}
