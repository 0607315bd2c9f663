//! Puts the board's memory map where `cortex-m-rt`'s `link.x` looks for it, as `memory.x`:
//! `boards/mps2.x` for QEMU's MPS2 boards, `boards/netduinoplus2.x` with the feature
//! `netduinoplus2`. No `memory.x` is at the crate's root: the linker, run from there, would take
//! it before this one, whatever the board.

use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    let memory = if env::var_os("CARGO_FEATURE_NETDUINOPLUS2").is_some() {
        "boards/netduinoplus2.x"
    } else {
        "boards/mps2.x"
    };
    fs::copy(memory, out.join("memory.x")).unwrap();
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed={memory}");
}
