//! Go's conformance vectors (`go1NN-*.test`, read from the Go installation, never copied), parsed
//! and converted to the binary form that Go's tools and ours read.

use std::path::PathBuf;

use gotrace_decoder::raw::text_to_binary;
use gotrace_decoder::txtar::{Expectation, TestFile};
use gotrace_go_oracle::Go;

use crate::scratch_file;

/// One conformance vector.
#[derive(Debug, Clone)]
pub struct Vector {
    /// File name without `.test`, e.g. `go122-gc-stress`.
    pub name: String,
    pub path: PathBuf,
    pub expectation: Expectation,
    /// The trace in binary form.
    pub binary: Vec<u8>,
}

impl Vector {
    pub fn is_valid(&self) -> bool {
        self.expectation == Expectation::Success
    }

    /// The binary form written to a scratch file, for tools that read files (Go's, ours).
    pub fn binary_file(&self) -> PathBuf {
        scratch_file(&format!("{}.trace", self.name), &self.binary)
    }
}

/// Every `go122-*.test` vector of the Go installation.
pub fn go122_vectors(go: &Go) -> Vec<Vector> {
    let vectors: Vec<Vector> = read_vectors(go)
        .into_iter()
        .filter(|v| v.name.starts_with("go122-"))
        .collect();
    assert!(
        vectors.len() >= 20,
        "expected Go's 1.22 vectors, found {}",
        vectors.len()
    );
    vectors
}

/// Every `.test` vector of the Go installation, of every trace version (at least one of each
/// version before 1.26 that has vectors: 1.22, 1.23, 1.25), so that a test over them all cannot
/// pass on an installation that lost some.
pub fn all_vectors(go: &Go) -> Vec<Vector> {
    let vectors = read_vectors(go);
    for prefix in ["go122-", "go123-", "go125-"] {
        assert!(
            vectors.iter().any(|v| v.name.starts_with(prefix)),
            "no {prefix}* vector in {}",
            go.goroot().display()
        );
    }
    vectors
}

/// Every `.test` file of the Go installation, parsed and converted.
fn read_vectors(go: &Go) -> Vec<Vector> {
    let paths = go.conformance_vectors().expect("listing Go's vectors");
    paths
        .into_iter()
        .map(|path| {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).expect("reading a vector");
            let test = TestFile::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            let binary = text_to_binary(test.trace.as_bytes())
                .unwrap_or_else(|e| panic!("{name}: converting to binary: {e}"));
            Vector {
                name,
                path,
                expectation: test.expectation,
                binary,
            }
        })
        .collect()
}
