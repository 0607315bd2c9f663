//! The gotrace command-line tool.
fn main() {}
