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

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

pub use gotrace_go_oracle::scratch_dir;

/// Writes `bytes` to a fresh file in the scratch directory named after `name`.
pub fn scratch_file(name: &str, bytes: &[u8]) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let path = scratch_dir().join(format!("{n:05}-{name}"));
    std::fs::write(&path, bytes).expect("writing a scratch file");
    path
}
