//! Our event stream equals Go's: for every vector (Go 1.22, 1.23, 1.25 formats), what our reader prints (one
//! `Event` `Display` per line) is byte-identical to `go tool trace -d=parsed`, and both stop
//! with the same error where the trace is broken.

mod support;

use gotrace_decoder::txtar::TestFile;
use gotrace_go_oracle::require_go;

#[test]
fn every_vector_prints_like_go() {
    let Some(go) = require_go("parsed_equals_go") else {
        return;
    };
    let mut differences = Vec::new();
    let mut lines = 0;
    for (name, text) in support::vectors(&go) {
        let test = TestFile::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        match support::compare_with_go(&go, &name, &support::to_binary(test.trace)) {
            Ok(compared) => lines += compared,
            Err(difference) => differences.push(difference),
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
    // gc-stress and annotations-stress alone print over 20000 lines.
    assert!(lines > 20_000, "only {lines} lines compared");
}
