//! Go's `.test` files: a txtar archive with an `expect` section and a `trace` section in text form.
//!
//! The `expect` section's first line is `SUCCESS`, or `FAILURE "regexp"` with a Go-quoted regular
//! expression that the parser's error must match. Matching the expression is left to the caller
//! (the CLI and the tests), so this crate needs no regular-expression engine.

use crate::raw::unquote;

/// A txtar archive: a free comment, then named files.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Archive<'a> {
    /// The text before the first `-- name --` line.
    pub comment: &'a str,
    /// Each file's name and contents, in the archive's order.
    pub files: Vec<(&'a str, &'a str)>,
}

impl<'a> Archive<'a> {
    /// Splits `text` at its `-- name --` marker lines.
    pub fn parse(text: &'a str) -> Archive<'a> {
        let mut archive = Archive::default();
        let mut sections = Sections { rest: text };
        let (comment, mut name) = sections.next_section();
        archive.comment = comment;
        while let Some(file) = name {
            let (data, next) = sections.next_section();
            archive.files.push((file, data));
            name = next;
        }
        archive
    }
}

struct Sections<'a> {
    rest: &'a str,
}

impl<'a> Sections<'a> {
    /// The text up to the next marker line, and that marker's name; consumes both.
    fn next_section(&mut self) -> (&'a str, Option<&'a str>) {
        let text = self.rest;
        let mut start = 0;
        loop {
            let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
            if let Some(name) = marker_name(&text[start..line_end]) {
                self.rest = text.get(line_end + 1..).unwrap_or("");
                return (&text[..start], Some(name));
            }
            if line_end == text.len() {
                self.rest = "";
                return (text, None);
            }
            start = line_end + 1;
        }
    }
}

pub(crate) fn marker_name(line: &str) -> Option<&str> {
    let name = line.strip_prefix("-- ")?.strip_suffix(" --")?.trim();
    (!name.is_empty()).then_some(name)
}

/// What a `.test` file says Go's parser does with its trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expectation {
    /// Accepted whole.
    Success,
    /// Rejected, with an error matching this regular expression (Go's `regexp` syntax).
    Failure {
        /// The expression, unquoted.
        pattern: String,
    },
}

/// Why a `.test` file is malformed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TestFileError {
    /// The archive has another number of files than two.
    #[error("malformed test: wrong number of files ({0}, want expect and trace)")]
    FileCount(usize),
    /// A file is not the one expected there (`expect` first, then `trace`).
    #[error("malformed test: bad filename {got} (want {want})")]
    FileName {
        /// The name found.
        got: String,
        /// The name wanted.
        want: &'static str,
    },
    /// The `expect` section's first line is neither `SUCCESS` nor `FAILURE ...`.
    #[error("bad header line: {0:?}")]
    BadHeader(String),
    /// A `FAILURE` line without a pattern after it.
    #[error("bad header line for FAILURE: {0:?}")]
    BadFailure(String),
    /// The pattern is not a Go-quoted string of UTF-8 text.
    #[error("malformed pattern: not correctly quoted: {0}")]
    BadPattern(String),
    /// The `expect` section's first line is longer than Go's line reader takes (a `bufio.Scanner`,
    /// 64 KiB with its line ending), which makes the file malformed to Go.
    #[error(
        "malformed test: the expectation line is {0} bytes long, over the {MAX_EXPECTATION_LINE} \
         bytes Go's reader takes (bufio.Scanner: token too long)"
    )]
    ExpectationTooLong(usize),
}

/// The longest first line of an `expect` section that Go's reader takes, its line ending
/// included: a `bufio.Scanner`'s largest token, which must fit its buffer with the LF.
pub const MAX_EXPECTATION_LINE: usize = 64 * 1024 - 1;

/// A parsed `.test` file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestFile<'a> {
    /// What Go's parser must do with the trace.
    pub expectation: Expectation,
    /// The trace in Go's raw text form.
    pub trace: &'a str,
    /// The lines of the file before the trace's first (its `-- trace --` marker included): line
    /// `n` of the trace is line `n + trace_line_offset` of the file, the one a user can find.
    pub trace_line_offset: usize,
}

impl<'a> TestFile<'a> {
    /// Reads a `.test` file's text: its two sections, and the expectation's line.
    pub fn parse(text: &'a str) -> Result<TestFile<'a>, TestFileError> {
        let archive = Archive::parse(text);
        let [(expect_name, expect), (trace_name, trace)] = archive.files[..] else {
            return Err(TestFileError::FileCount(archive.files.len()));
        };
        for (got, want) in [(expect_name, "expect"), (trace_name, "trace")] {
            if got != want {
                return Err(TestFileError::FileName {
                    got: got.to_owned(),
                    want,
                });
            }
        }
        // The trace is the last section: it runs to the end of the file.
        let before_trace = &text[..text.len() - trace.len()];
        Ok(TestFile {
            expectation: parse_expectation(expect)?,
            trace,
            trace_line_offset: before_trace.matches('\n').count(),
        })
    }
}

fn parse_expectation(section: &str) -> Result<Expectation, TestFileError> {
    // Before the line is looked at: a pattern's regular expression is compiled from it, and one
    // of megabytes took gigabytes to compile.
    let raw = section.split('\n').next().unwrap_or("");
    if raw.len() > MAX_EXPECTATION_LINE {
        return Err(TestFileError::ExpectationTooLong(raw.len()));
    }
    let header = section.lines().next().unwrap_or("");
    let (verdict, rest) = header
        .split_once(' ')
        .map_or((header, None), |(v, r)| (v, Some(r)));
    match verdict {
        "SUCCESS" => Ok(Expectation::Success),
        "FAILURE" => {
            let quoted = rest.ok_or_else(|| TestFileError::BadFailure(header.to_owned()))?;
            let pattern = unquote(quoted)
                .ok()
                .and_then(|p| String::from_utf8(p).ok())
                .ok_or_else(|| TestFileError::BadPattern(quoted.to_owned()))?;
            Ok(Expectation::Failure { pattern })
        }
        _ => Err(TestFileError::BadHeader(header.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_sections_and_reads_the_expectation() {
        let text = "comment\n-- expect --\nFAILURE \"a \\\"b\\\".*\"\n-- trace --\nTrace Go1.22\n";
        let test = TestFile::parse(text).unwrap();
        assert_eq!(
            test.expectation,
            Expectation::Failure {
                pattern: "a \"b\".*".into()
            }
        );
        assert_eq!(test.trace, "Trace Go1.22\n");
        assert_eq!(Archive::parse(text).comment, "comment\n");
    }

    #[test]
    fn rejects_malformed_tests() {
        assert_eq!(
            TestFile::parse("-- expect --\nSUCCESS\n"),
            Err(TestFileError::FileCount(1))
        );
        assert!(matches!(
            TestFile::parse("-- trace --\n-- expect --\n"),
            Err(TestFileError::FileName { .. })
        ));
        assert!(matches!(
            TestFile::parse("-- expect --\nMAYBE\n-- trace --\n"),
            Err(TestFileError::BadHeader(_))
        ));
        assert!(matches!(
            TestFile::parse("-- expect --\nFAILURE oops\n-- trace --\n"),
            Err(TestFileError::BadPattern(_))
        ));
    }

    #[test]
    fn an_expectation_line_longer_than_go_reads_is_malformed() {
        let test = |line_len: usize, ending: &str| {
            let pattern = "a".repeat(line_len - "FAILURE \"\"".len());
            format!("-- expect --\nFAILURE \"{pattern}\"{ending}-- trace --\nTrace Go1.22\n")
        };
        // Go's bufio.Scanner holds at most 64 KiB, the line's LF included.
        let longest = 65_535;
        assert!(TestFile::parse(&test(longest, "\n")).is_ok());
        assert_eq!(
            TestFile::parse(&test(longest + 1, "\n")),
            Err(TestFileError::ExpectationTooLong(longest + 1))
        );
        // Go's line reader keeps the CR in its buffer until the line ends.
        assert_eq!(
            TestFile::parse(&test(longest, "\r\n")),
            Err(TestFileError::ExpectationTooLong(longest + 1))
        );
    }
}
