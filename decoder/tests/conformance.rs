//! Every conformance vector (Go 1.22, 1.23, 1.25 formats) of the installed Go toolchain meets its expectation: SUCCESS
//! traces are read to the end without error, FAILURE traces are rejected with an error whose
//! Go message matches the vector's pattern.

mod support;

use gotrace_decoder::txtar::{Expectation, TestFile};
use gotrace_go_oracle::require_go;
use regex::Regex;

#[test]
fn every_vector_meets_its_expectation() {
    let Some(go) = require_go("conformance") else {
        return;
    };
    let mut failures = Vec::new();
    let vectors = support::vectors(&go);
    for (name, text) in &vectors {
        let test = TestFile::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let outcome = support::run_ours(&support::to_binary(test.trace));
        match (&test.expectation, outcome.error) {
            (Expectation::Success, None) => {}
            (Expectation::Success, Some(error)) => {
                failures.push(format!("{name}: expected success, got: {error}"))
            }
            (Expectation::Failure { pattern }, None) => {
                failures.push(format!("{name}: expected an error matching {pattern:?}"))
            }
            (Expectation::Failure { pattern }, Some(error)) => {
                let regex = Regex::new(pattern).expect("the vector's pattern compiles");
                if !regex.is_match(&error.go_message()) {
                    failures.push(format!(
                        "{name}: error {:?} does not match {pattern:?}",
                        error.go_message()
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let rejected = vectors
        .iter()
        .filter(|(_, text)| text.contains("\nFAILURE"))
        .count();
    assert!(rejected >= 2, "the vectors include Go's failure cases");
}
