//! Puts QEMU's MPS2 memory map, the Embassy example's (`../example-firmware/boards/mps2.x`),
//! where `cortex-m-rt`'s `link.x` looks for it, as `memory.x` in `OUT_DIR`.

use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    let memory = "../example-firmware/boards/mps2.x";
    fs::copy(memory, out.join("memory.x")).unwrap();
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed={memory}");
}
