//! Puts the board's memory map (`boards/mps2.x`, QEMU's MPS2 boards) where `cortex-m-rt`'s
//! `link.x` looks for it, as `memory.x` in `OUT_DIR`, as `tests/minimal-firmware` does.

use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    let memory = "boards/mps2.x";
    fs::copy(memory, out.join("memory.x")).unwrap();
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed={memory}");
}
