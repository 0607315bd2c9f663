//! The encoder builds for the Cortex-M targets the firmware uses, and nothing in its crate graph
//! links `alloc`: no object of any crate it pulls in references a symbol of the `alloc` crate or
//! the global allocator.

use std::path::{Path, PathBuf};
use std::process::Command;

use gotrace_go_oracle::require_rust_target;

const TARGETS: [&str; 3] = [
    "thumbv6m-none-eabi",
    "thumbv7m-none-eabi",
    "thumbv7em-none-eabihf",
];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Undefined symbols of an archive, mangled (`nm -u`). Fails unless `nm` read every object of it:
/// one it cannot read gives no symbols, which would pass for none of `alloc`'s.
fn undefined_symbols(rlib: &Path) -> String {
    let out = Command::new("nm")
        .args(["-u", "--no-demangle"])
        .arg(rlib)
        .output()
        .unwrap_or_else(|e| panic!("running nm (binutils) on {}: {e}", rlib.display()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The archive's Rust metadata member is no object: the one complaint expected.
    let complaints: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.starts_with("nm: lib.rmeta:"))
        .collect();
    assert!(
        out.status.success() && complaints.is_empty(),
        "nm did not read {} ({}): {complaints:?}",
        rlib.display(),
        out.status
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether a mangled symbol belongs to the `alloc` crate or the allocator shim.
fn is_alloc_symbol(sym: &str) -> bool {
    // v0 mangling names crates with a length prefix (`5alloc`), legacy mangling with `_ZN5alloc`.
    sym.contains("__rust_alloc")
        || sym.contains("__rust_dealloc")
        || sym.contains("_ZN5alloc")
        || sym.contains("Cs") && sym.contains("_5alloc")
}

#[test]
fn builds_for_cortex_m_targets_and_links_no_alloc() {
    // A separate target directory: the outer `cargo test` holds the lock on the usual one.
    let target_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("no-std-targets");
    for target in TARGETS {
        if !require_rust_target("the encoder's no_std build", target) {
            continue;
        }
        let out = Command::new(env!("CARGO"))
            .args([
                "build",
                "--release",
                "-p",
                "gotrace-encoder",
                "--target",
                target,
            ])
            .env("CARGO_TARGET_DIR", &target_dir)
            .current_dir(workspace_root())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "cargo build --target {target} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let deps = target_dir.join(target).join("release/deps");
        let rlibs: Vec<PathBuf> = std::fs::read_dir(&deps)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "rlib"))
            .collect();
        assert!(
            rlibs.iter().any(|p| p
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("libgotrace_encoder-")),
            "no encoder rlib in {}",
            deps.display()
        );
        for rlib in &rlibs {
            let symbols = undefined_symbols(rlib);
            let name = rlib.file_name().unwrap().to_string_lossy();
            if name.starts_with("libgotrace_encoder-") {
                // The encoder formats its errors with core: proof that nm read the archive.
                assert!(
                    symbols.contains("4core"),
                    "nm printed no core symbols: is it working?"
                );
            }
            let alloc: Vec<&str> = symbols.lines().filter(|s| is_alloc_symbol(s)).collect();
            assert!(
                alloc.is_empty(),
                "{} ({target}) uses alloc: {alloc:?}",
                rlib.display()
            );
        }
    }
}

#[test]
fn the_alloc_symbol_check_recognizes_alloc() {
    assert!(is_alloc_symbol("U __rust_alloc"));
    assert!(is_alloc_symbol(
        "U _RNvNtCs1234_5alloc7raw_vec11finish_grow"
    ));
    assert!(is_alloc_symbol("U _ZN5alloc7raw_vec11finish_grow17h0E"));
    assert!(!is_alloc_symbol("U _RNvNtCseold96UKqg_4core3fmt5write"));
}
