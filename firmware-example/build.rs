//! Picks the linker memory map of the board, and passes the encoder's version (the workspace's)
//! to the session descriptor.

use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    let memory = if env::var_os("CARGO_FEATURE_BOARD_NRF52840").is_some() {
        "boards/nrf52840.x"
    } else {
        "boards/mps2.x"
    };
    fs::copy(memory, out.join("memory.x")).unwrap();
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed={memory}");

    let manifest = fs::read_to_string("../Cargo.toml").unwrap();
    let version = manifest
        .lines()
        .skip_while(|l| l.trim() != "[workspace.package]")
        .find_map(|l| l.trim().strip_prefix("version = "))
        .map(|v| v.trim_matches('"').to_owned())
        .expect("workspace version");
    let mut parts = version.split('.');
    for name in ["MAJOR", "MINOR", "PATCH"] {
        println!(
            "cargo:rustc-env=GOTRACE_ENCODER_{name}={}",
            parts.next().unwrap_or("0")
        );
    }
    println!("cargo:rerun-if-changed=../Cargo.toml");
}
