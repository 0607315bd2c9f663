//! Helpers shared by the encoder's integration tests: a deterministic clock, and Go's parser as
//! the judge of a written trace.

use std::path::PathBuf;

use gotrace_encoder::Clock;
use gotrace_go_oracle::{require_go, Mode};

/// A clock that advances by a fixed step on every read.
#[derive(Debug)]
pub struct StepClock(pub u64);

impl Clock for StepClock {
    fn now(&mut self) -> u32 {
        self.0 += 3;
        self.0 as u32
    }

    fn frequency(&self) -> u64 {
        1_000_000
    }
}

/// Runs `go tool trace -d=parsed` on `trace`; panics with Go's error if Go rejects it. Returns
/// Go's output, or `None` when Go is missing outside CI.
pub fn go_accepts(name: &str, trace: &[u8]) -> Option<String> {
    go_reads(name, trace, Mode::Parsed)
}

/// [`go_accepts`] for the raw events as written (`-d=wire`): their arguments as encoded.
pub fn go_wire(name: &str, trace: &[u8]) -> Option<String> {
    go_reads(name, trace, Mode::Wire)
}

fn go_reads(name: &str, trace: &[u8], mode: Mode) -> Option<String> {
    let go = require_go(name)?;
    let path: PathBuf = gotrace_go_oracle::scratch_dir().join(format!("{name}.trace"));
    std::fs::write(&path, trace).unwrap();
    let out = go.trace(mode, &path).unwrap();
    if let Some(err) = &out.error {
        panic!("Go rejected {name} ({}): {err}", path.display());
    }
    if std::env::var_os("GOTRACE_KEEP").is_none() {
        std::fs::remove_file(&path).unwrap();
    }
    Some(out.stdout)
}

pub mod rig;
