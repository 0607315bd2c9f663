//! The scratch directory of a test binary: where tests write the traces, programs and ELFs they
//! hand to Go's tools or to `gotrace`.
//!
//! One directory per test binary, under Cargo's target directory (`target/tmp/scratch/<binary>`),
//! emptied when the binary first asks for it. A failing test's inputs stay there to look at until
//! that binary runs again, and repeated `cargo test` runs leave one copy, not one per run: a
//! directory per process in the system temp dir grew by a 100 MB ELF for every run of the
//! host-tools tests. Two runs of the same test binary at once share the directory; Cargo's own
//! runs of one workspace do not overlap.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// This test binary's scratch directory, created (emptied of an earlier run's files) on the first
/// call.
///
/// # Panics
///
/// When the directory cannot be made: a test cannot go on without it.
pub fn scratch_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test binary's path");
        emptied(scratch_dir_for(&exe))
    })
}

/// `dir`, made, and emptied of what an earlier run left in it.
fn emptied(dir: PathBuf) -> PathBuf {
    // Gone or not, a fresh one follows: `create_dir_all` says if it cannot be made.
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("creating the scratch directory {}: {e}", dir.display()));
    dir
}

/// Where the binary `exe` keeps its scratch files: `<target>/tmp/scratch/<its file stem>` when it
/// is one of Cargo's test binaries (in `<target>/<profile>/deps`), else a directory of its own
/// in the system temp dir.
fn scratch_dir_for(exe: &Path) -> PathBuf {
    let stem = exe
        .file_stem()
        .map_or_else(|| "test".into(), |s| s.to_string_lossy().into_owned());
    let deps = exe
        .parent()
        .filter(|d| d.file_name() == Some("deps".as_ref()));
    match deps.and_then(Path::parent).and_then(Path::parent) {
        Some(target) => target.join("tmp").join("scratch").join(stem),
        None => std::env::temp_dir().join(format!("gotrace-scratch-{stem}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cargo_test_binary_keeps_its_files_under_the_target_directory() {
        assert_eq!(
            scratch_dir_for(Path::new("/w/target/debug/deps/conformance-0123abcd")),
            Path::new("/w/target/tmp/scratch/conformance-0123abcd")
        );
        assert_eq!(
            scratch_dir_for(Path::new("/w/target/x/release/deps/gotrace-9f")),
            Path::new("/w/target/x/tmp/scratch/gotrace-9f")
        );
        assert_eq!(
            scratch_dir_for(Path::new("/opt/bench")),
            std::env::temp_dir().join("gotrace-scratch-bench")
        );
    }

    #[test]
    fn an_earlier_runs_files_are_gone_and_a_run_empties_its_directory_once() {
        let dir = scratch_dir();
        assert_eq!(dir, scratch_dir_for(&std::env::current_exe().unwrap()));
        let earlier = dir.join("earlier-run");
        std::fs::create_dir_all(earlier.join("inputs")).unwrap();
        std::fs::write(earlier.join("inputs/firmware.elf"), b"\x7fELF").unwrap();
        assert_eq!(emptied(earlier.clone()), earlier);
        assert_eq!(std::fs::read_dir(&earlier).unwrap().count(), 0);

        std::fs::write(dir.join("left-by-this-run"), b"x").unwrap();
        assert_eq!(scratch_dir(), dir, "asked again, the same directory");
        assert!(dir.join("left-by-this-run").exists(), "emptied only once");
    }
}
