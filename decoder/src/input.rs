//! Recognises what a user hands us (binary trace, text form, or a `.test` file) by its content.
//!
//! Every consumer (the validating reader, `dump`, `events`) reads the binary form, so text and
//! `.test` inputs are converted to it here. A binary input is streamed as it is, never held whole.
//! A text input must show a sign of a trace in its first MiB (a log or a text file handed over by
//! mistake would otherwise be read, however large, or endless on a pipe, to be refused at its
//! end). Go's text form is then converted as the reader asks for bytes ([`raw::TextToBinary`]),
//! so that a text trace is held a generation at a time as a binary one is; an error found in it
//! is named by line ([`Input::explain`]), and a line that does not convert is reported as the
//! text's error once the reader reaches it. A `.test` file is read whole, as Go's harness reads
//! it, since its sections are checked before its trace is read.

use std::fmt;
use std::io::{self, BufReader, Chain, Cursor, Read};

use crate::header::may_begin_space;
use crate::raw::{self, ConvertError, LineMap};
use crate::txtar::{marker_name, Expectation, TestFile, TestFileError};
use crate::Error;

/// The form an input came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The binary form, starting with `go 1.N trace`.
    Binary,
    /// Go's raw text form, starting with `Trace Go1.N`.
    Text,
    /// A Go `.test` txtar file (expectation and text trace).
    Test,
}

/// Why an input could not be recognised or converted to the binary form.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// Reading the input failed.
    #[error("reading input: {0}")]
    Io(#[from] io::Error),
    /// Bytes that begin as text but are not UTF-8 (a PDF, an image with a text header): no form
    /// of trace, said as Go says it of a file that is not one.
    #[error("bad file format: not a Go execution trace? (it begins as text, but is not UTF-8)")]
    NotUtf8,
    /// Text that is no form of trace (a README, a source file): Go's "bad file format" rather
    /// than the `.test` parser's complaint about its sections, which the user never meant to
    /// write.
    #[error(
        "bad file format: not a Go execution trace? (text, but neither Go's text form, which \
         begins `Trace Go1.N`, nor a Go `.test` file, with `-- expect --` and `-- trace --` \
         sections)"
    )]
    NotATrace,
    /// [`InputError::NotATrace`] for a text whose lines end in CR LF: a `.test` file saved with
    /// Windows line endings, whose section markers (`-- trace --`) Go's txtar reader no longer
    /// sees either.
    #[error(
        "bad file format: not a Go execution trace? (text with Windows line endings, CR LF: \
         Go's text form begins `Trace Go1.N`, and a Go `.test` file's `-- expect --` and \
         `-- trace --` section markers must end in LF alone; convert it with `dos2unix`)"
    )]
    NotATraceCrLf,
    /// A `.test` input whose txtar layout (expectation, trace section) is broken.
    #[error(transparent)]
    TestFile(#[from] TestFileError),
    /// A text-form input (alone or inside a `.test` file) that did not convert to binary.
    #[error("{}", text_form(.0))]
    Text(#[from] ConvertError),
}

/// An input, recognised, readable as the binary form.
pub struct Input<R> {
    format: Format,
    expectation: Option<Expectation>,
    binary: Binary<R>,
}

/// The form recognised and the expectation, not the bytes; any stream.
impl<R> fmt::Debug for Input<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Input")
            .field("format", &self.format)
            .field("expectation", &self.expectation)
            .finish_non_exhaustive()
    }
}

/// The bytes already looked at, then the rest of the input.
type Rest<R> = Chain<Cursor<Vec<u8>>, R>;

enum Binary<R> {
    /// The bytes already looked at, then the rest of the input.
    Streamed(Rest<R>),
    /// A text input, converted as it is read (boxed: its reader's state is large).
    Converting(Box<raw::TextToBinary<BufReader<Rest<R>>>>),
    /// The conversion of a `.test` file's trace, and the line of each of its events in the file.
    Converted(Cursor<Vec<u8>>, LineMap),
}

/// How many bytes are enough to tell the forms apart: the binary header's fixed prefix.
const SNIFF_LEN: usize = BINARY_PREFIX.len();

/// What every binary trace begins with (`go 1.22 trace\0\0\0`, ...).
const BINARY_PREFIX: &[u8] = b"go 1.";

/// How much of a longer text is read before it must show a sign of a trace (a `Trace` header
/// first, or a `.test` file's section marker).
const TEXT_SIGN_LEN: u64 = 1 << 20;

impl<R: Read> Input<R> {
    /// Looks at the start of `input` to tell its form; converts text forms to binary.
    pub fn new(mut input: R) -> Result<Self, InputError> {
        let mut head = Vec::with_capacity(SNIFF_LEN);
        (&mut input).take(SNIFF_LEN as u64).read_to_end(&mut head)?;
        // A file shorter than the prefix that begins as the binary header does ("go 1" of a
        // trace cut short) is a binary trace cut short too, not text.
        // Go's header takes any run of spaces after "go" ("go  1.22", "go\t1.22"): only the
        // binary reader can read such a start, and if it is no header, Go says what it says.
        let spaced = head.starts_with(b"go") && head.get(2).is_some_and(|&b| may_begin_space(b));
        if head.starts_with(BINARY_PREFIX)
            || BINARY_PREFIX.starts_with(&head)
            || spaced
            || !looks_like_text(&head)
        {
            return Ok(Input {
                format: Format::Binary,
                expectation: None,
                binary: Binary::Streamed(Cursor::new(head).chain(input)),
            });
        }
        (&mut input)
            .take(TEXT_SIGN_LEN - head.len() as u64)
            .read_to_end(&mut head)?;
        let whole = (head.len() as u64) < TEXT_SIGN_LEN;
        let start = utf8_start(&head, whole)?;
        if !whole {
            no_sign_of_a_trace(start)?;
        }
        if starts_with_trace_header(start) {
            let text = BufReader::new(Cursor::new(head).chain(input));
            return Ok(Input {
                format: Format::Text,
                expectation: None,
                binary: Binary::Converting(Box::new(raw::TextToBinary::new(text)?)),
            });
        }
        if !whole {
            input.read_to_end(&mut head)?;
        }
        let text = String::from_utf8(head).map_err(|_| InputError::NotUtf8)?;
        let test = TestFile::parse(&text).map_err(|e| match e {
            // No txtar section at all: not a `.test` file gone wrong, no trace at all.
            TestFileError::FileCount(0) if text.contains("\r\n") => InputError::NotATraceCrLf,
            TestFileError::FileCount(0) => InputError::NotATrace,
            e => InputError::TestFile(e),
        })?;
        let line_offset = test.trace_line_offset;
        // A line of a `.test` file's trace is named by its line in the file, where the user
        // looks for it, not in the trace section ("line 17" of a file whose line 20 it was).
        let (bytes, mut lines) =
            raw::text_to_binary_with_lines(test.trace.as_bytes()).map_err(|e| match e {
                ConvertError::Text(mut e) => {
                    e.line += line_offset;
                    ConvertError::Text(e)
                }
                e => e,
            })?;
        lines.shift(line_offset);
        Ok(Input {
            format: Format::Test,
            expectation: Some(test.expectation),
            binary: Binary::Converted(Cursor::new(bytes), lines),
        })
    }

    /// The form the input came in, as recognised from its content.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The expectation of a `.test` input.
    pub fn expectation(&self) -> Option<&Expectation> {
        self.expectation.as_ref()
    }

    /// For a text or `.test` input, the line of the input each event of its binary form began
    /// on (for a text input, of those a reader may still report an error at):
    /// [`Error::in_text`](crate::Error::in_text) names lines with it.
    pub fn lines(&self) -> Option<&LineMap> {
        match &self.binary {
            Binary::Streamed(_) => None,
            Binary::Converting(text) => Some(text.lines()),
            Binary::Converted(_, lines) => Some(lines),
        }
    }

    /// For a text input, why it could not be converted to its end (`text form: line 7: ...`, as
    /// [`InputError::Text`] says it), once a reader has reached that point: the reader itself met
    /// only an I/O error there.
    pub fn conversion_failure(&self) -> Option<String> {
        match &self.binary {
            Binary::Converting(text) => text.failure().map(text_form),
            _ => None,
        }
    }

    /// Once a reader has reached the end of the trace: for a text input, converts what the
    /// reader left unread (discarded), so that a line that does not convert is still the input's
    /// error, as when a text was converted whole before it was read. Go's reader ends a trace at
    /// a table batch cut short, before the input's end.
    pub fn finish(&mut self) -> Result<(), Error> {
        if let Binary::Converting(text) = &mut self.binary {
            // Its error is the failure, kept in the converter; an I/O error under it is the
            // source's, which the caller's watch on it reports.
            let _ = io::copy(text, &mut io::sink());
        }
        match self.conversion_failure() {
            Some(failure) => Err(Error::new(failure)),
            None => Ok(()),
        }
    }

    /// `error`, from a reader of this input, as it is to be shown: the text's own error where
    /// a text input did not convert to its end (the reader's error is only that its bytes
    /// stopped there); else, for a text or `.test` input, named by lines rather than by byte
    /// offsets in the binary form, which mean nothing in the text.
    pub fn explain(&self, error: Error) -> Error {
        if let Some(failure) = self.conversion_failure() {
            return Error::new(failure);
        }
        match self.lines() {
            Some(lines) => error.in_text(lines),
            None => error,
        }
    }
}

impl<R: Read> Read for Input<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.binary {
            Binary::Streamed(r) => r.read(buf),
            Binary::Converting(r) => r.read(buf),
            Binary::Converted(r, _) => r.read(buf),
        }
    }
}

/// A text's failure to convert, as its input's error says it, at its opening or once a reader
/// reaches it.
fn text_form(failure: &ConvertError) -> String {
    format!("text form: {failure}")
}

/// Text forms start with a printable line (a header, a txtar marker or a comment).
fn looks_like_text(head: &[u8]) -> bool {
    !head.is_empty()
        && head
            .iter()
            .all(|&b| b.is_ascii_graphic() || b.is_ascii_whitespace())
}

/// The text of `head`, the input's first bytes (`whole`: all of it), refused unless UTF-8; a
/// character cut at the end of a head that is not the whole input is left out.
fn utf8_start(head: &[u8], whole: bool) -> Result<&str, InputError> {
    match std::str::from_utf8(head) {
        Ok(text) => Ok(text),
        Err(cut) if !whole && cut.error_len().is_none() => {
            Ok(std::str::from_utf8(&head[..cut.valid_up_to()]).unwrap_or_default())
        }
        Err(_) => Err(InputError::NotUtf8),
    }
}

/// Refuses the first [`TEXT_SIGN_LEN`] bytes of a longer text that show no sign of a trace, as
/// the whole text would be refused.
fn no_sign_of_a_trace(text: &str) -> Result<(), InputError> {
    // Split at LF alone, as the `.test` reader does: a marker ending in CR LF is none.
    if starts_with_trace_header(text) || text.split('\n').any(|l| marker_name(l).is_some()) {
        Ok(())
    } else if text.contains("\r\n") {
        Err(InputError::NotATraceCrLf)
    } else {
        Err(InputError::NotATrace)
    }
}

fn starts_with_trace_header(text: &str) -> bool {
    text.lines()
        .map(str::trim_start)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .is_some_and(|l| l.split_whitespace().next() == Some("Trace"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "Trace Go1.22\nEventBatch gen=1 m=0 time=7 size=1\nStacks\n";

    fn binary() -> Vec<u8> {
        raw::text_to_binary(TEXT.as_bytes()).unwrap()
    }

    fn read_all(mut input: Input<&[u8]>) -> Vec<u8> {
        let mut out = Vec::new();
        input.read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn recognises_the_three_forms() {
        let bin = binary();
        let input = Input::new(&bin[..]).unwrap();
        assert_eq!(input.format(), Format::Binary);
        assert_eq!(read_all(input), bin);

        let input = Input::new(TEXT.as_bytes()).unwrap();
        assert_eq!(input.format(), Format::Text);
        assert_eq!(read_all(input), bin);
        // Comments and blank lines may come before the header, as anywhere in the text form.
        let commented = format!("# recorded by hand\n\n  \t\n{TEXT}");
        let input = Input::new(commented.as_bytes()).unwrap();
        assert_eq!(input.format(), Format::Text);
        assert_eq!(read_all(input), bin);

        let test = format!("-- expect --\nSUCCESS\n-- trace --\n{TEXT}");
        let input = Input::new(test.as_bytes()).unwrap();
        assert_eq!(input.format(), Format::Test);
        assert_eq!(input.expectation(), Some(&Expectation::Success));
        assert_eq!(read_all(input), bin);
    }

    #[test]
    fn an_error_in_a_text_input_names_its_lines() {
        // Go's go122-fail-first-gen-first, as a `.test` file: its lines in the file, below the
        // expectation, and in the text form alone.
        let trace = "Trace Go1.22\nEventBatch gen=1 m=0 time=0 size=5\nFrequency freq=15625000\n\
                     EventBatch gen=1 m=0 time=0 size=5\nGoCreate dt=0 new_g=1 new_stack=0 stack=0\n";
        let test = format!("-- expect --\nSUCCESS\n-- trace --\n{trace}");
        for (text, batch, event) in [(trace.to_owned(), 4, 5), (test, 7, 8)] {
            let input = Input::new(text.as_bytes()).unwrap();
            let mut reader = crate::Reader::new(input).unwrap();
            let error = loop {
                if let Err(error) = reader.read_event() {
                    break error;
                }
            };
            let offsets = error.to_string();
            assert!(
                offsets.contains("batch #1 at byte offset 26, event at byte offset 31"),
                "{offsets}"
            );
            let shown = reader.get_ref().explain(error).to_string();
            assert_eq!(
                shown,
                format!(
                    "expected a proc but didn't have one (generation 1, M 0, batch #1 at line \
                     {batch}, event at line {event}: GoCreate dt=0 new_g=1 new_stack=0 stack=0)"
                )
            );
        }
        let bin = binary();
        assert!(
            Input::new(&bin[..]).unwrap().lines().is_none(),
            "a binary input has no lines"
        );
    }

    #[test]
    fn a_bad_line_the_reader_stopped_before_is_not_its_error() {
        // Go's go122-fail-first-gen-first, then the next generation's first batch, which the
        // reader reads to find where generation 1 ends, then a bad line, converted ahead but
        // never read: the error is generation 1's.
        let trace = "Trace Go1.22\nEventBatch gen=1 m=0 time=0 size=5\nFrequency freq=15625000\n\
                     EventBatch gen=1 m=0 time=0 size=5\nGoCreate dt=0 new_g=1 new_stack=0 stack=0\n\
                     EventBatch gen=2 m=0 time=0 size=5\nFrequency freq=15625000\nBogus\n";
        assert_eq!(
            first_error(Input::new(trace.as_bytes()).unwrap()),
            "expected a proc but didn't have one (generation 1, M 0, batch #1 at line 4, event at \
             line 5: GoCreate dt=0 new_g=1 new_stack=0 stack=0)"
        );
    }

    #[test]
    fn a_bad_line_after_where_the_reader_stops_is_the_inputs_error() {
        // The Strings batch's size (2) cuts its entry short: Go's reader ends the trace there, a
        // bare EOF, and never asks for the rest; converted whole, the text's last line was the
        // error, and the input is still refused by it when finished.
        let trace = "Trace Go1.22\nEventBatch gen=1 m=0 time=1 size=4\nProcStatus dt=1 p=0 pstatus=1\n\
                     EventBatch gen=1 m=18446744073709551615 time=0 size=5\nFrequency freq=15625000\n\
                     EventBatch gen=1 m=18446744073709551615 time=0 size=2\nStrings\nString id=1\n\
                     \tdata=\"abc\"\nThis line is not a trace event at all\n";
        let mut reader = crate::Reader::new(Input::new(trace.as_bytes()).unwrap()).unwrap();
        while reader
            .read_event()
            .expect("valid as far as the reader reads")
            .is_some()
        {}
        assert_eq!(
            reader.get_mut().finish().unwrap_err().to_string(),
            "text form: line 10: unidentified event: This"
        );
        // A text read to its end, and a binary input, finish as they are.
        let mut reader = crate::Reader::new(Input::new(TEXT.as_bytes()).unwrap()).unwrap();
        while let Ok(Some(_)) = reader.read_event() {}
        assert!(reader.get_mut().finish().is_ok());
    }

    #[test]
    fn garbage_is_left_to_the_binary_reader() {
        let input = Input::new(&[0u8, 1, 2, 3, 4, 5, 6][..]).unwrap();
        assert_eq!(input.format(), Format::Binary);
        assert!(matches!(
            raw::Reader::new(input),
            Err(raw::ReadError::BadHeader)
        ));
    }

    #[test]
    fn a_binary_header_cut_short_is_left_to_the_binary_reader() {
        // `head -c 3 t.trace`: "go " was read as text, and called a malformed `.test` file.
        let header = b"go 1.22 trace\0\0\0";
        for len in 1..header.len() {
            let input = Input::new(&header[..len]).unwrap();
            assert_eq!(input.format(), Format::Binary, "{len} bytes");
            assert!(
                matches!(raw::Reader::new(input), Err(raw::ReadError::BadHeader)),
                "{len} bytes"
            );
        }
    }

    #[test]
    fn a_header_with_other_spaces_is_left_to_the_binary_reader() {
        // Go's Fscanf reads "go  1.22" and "go\t1.22" as the header; they were taken for text
        // (and called no trace, or not UTF-8 for the bytes after the header).
        for header in [
            &b"go  1.22 trace\0\0\0"[..],
            b"go\t1.22 trace\0\0\0",
            "go\u{3000}1.22 trace\0\0\0".as_bytes(),
        ] {
            let input = Input::new(header).unwrap();
            assert_eq!(input.format(), Format::Binary, "{header:?}");
            assert_eq!(
                raw::Reader::new(input).unwrap().version(),
                gotrace_wire::Version::Go122
            );
        }
    }

    #[test]
    fn text_of_no_trace_form_is_said_to_be_no_trace() {
        // A README handed to `gotrace validate` was "malformed test: wrong number of files (0,
        // want expect and trace)".
        let err = Input::new(&b"# gotrace\n\nExecution tracing.\n"[..])
            .err()
            .unwrap();
        assert!(matches!(err, InputError::NotATrace), "{err}");
        assert!(
            err.to_string()
                .starts_with("bad file format: not a Go execution trace?"),
            "{err}"
        );
        // Only "go" and a space begin Go's header: "go" and anything else is text.
        for text in [
            &b"gotrace events t.trace\n"[..],
            b"go.mod\n",
            b"go\n1.22 trace\n",
        ] {
            let err = Input::new(text).err().unwrap();
            assert!(matches!(err, InputError::NotATrace), "{text:?}: {err}");
        }
        // A `.test` file saved with Windows line endings: Go's txtar reader sees no sections
        // either; said so.
        let crlf = b"-- expect --\r\nSUCCESS\r\n-- trace --\r\nTrace Go1.22\r\n";
        let err = Input::new(&crlf[..]).err().unwrap();
        assert!(matches!(err, InputError::NotATraceCrLf), "{err}");
        assert!(err.to_string().contains("CR LF"), "{err}");
        let err = Input::new(&b"%PDF-1.4\n\xff\xfe\n"[..]).err().unwrap();
        assert!(matches!(err, InputError::NotUtf8), "{err}");
        assert!(
            err.to_string()
                .starts_with("bad file format: not a Go execution trace?"),
            "{err}"
        );
        // A `.test` file with the wrong sections is still said to be one.
        let err = Input::new(&b"-- expect --\nSUCCESS\n"[..]).err().unwrap();
        assert!(
            matches!(err, InputError::TestFile(TestFileError::FileCount(1))),
            "{err}"
        );
    }

    /// A text trace is UTF-8 throughout: a bad byte, or a character cut at its end, is said at
    /// once, not left to the line the conversion would stop at.
    #[test]
    fn a_text_trace_that_is_not_utf8_is_refused_at_once() {
        let bad_byte = [TEXT.as_bytes(), b"\xff\n"].concat();
        let cut_at_end = [TEXT.as_bytes(), b"# caf\xc3"].concat();
        let padding = "# padding\n".repeat(200_000);
        let bad_byte_early_in_a_long_text =
            [TEXT.as_bytes(), b"\xff\n", padding.as_bytes()].concat();
        for text in [bad_byte, cut_at_end, bad_byte_early_in_a_long_text] {
            let err = Input::new(&text[..]).err().unwrap();
            assert!(matches!(err, InputError::NotUtf8), "{err}");
        }
    }

    /// A text that is no trace (a log handed over by mistake, an endless pipe) is refused after
    /// its first MiB, not read whole; a long text trace is still read whole.
    #[test]
    fn a_long_text_is_refused_after_its_first_mib_unless_it_shows_a_trace() {
        let mut log = Endless::new("", "2026-12-05 INFO all is well\n");
        let err = Input::new(&mut log).err().unwrap();
        assert!(matches!(err, InputError::NotATrace), "{err}");
        assert_eq!(log.read, TEXT_SIGN_LEN);

        // The same with CR LF, and with a character cut at the MiB's end (not "not UTF-8").
        let crlf = "all is well, é\r\n".repeat(100_000);
        let err = Input::new(crlf.as_bytes()).err().unwrap();
        assert!(matches!(err, InputError::NotATraceCrLf), "{err}");
        // (Its first five bytes are ASCII, as a text's must be to be taken for one.)
        let cut = format!("xxxxx{}", "é".repeat(600_000));
        let err = Input::new(cut.as_bytes()).err().unwrap();
        assert!(matches!(err, InputError::NotATrace), "{err}");

        // A text trace and a `.test` file longer than a MiB: converted as shorter ones.
        let padding = "# padding\n".repeat(200_000);
        let (header, rest) = TEXT.split_once('\n').unwrap();
        let long_text = format!("{header}\n{padding}{rest}");
        let input = Input::new(long_text.as_bytes()).unwrap();
        assert_eq!(input.format(), Format::Text);
        assert_eq!(read_all(input), binary());
        let long_test = format!("-- expect --\nSUCCESS\n-- trace --\n{long_text}");
        let input = Input::new(long_test.as_bytes()).unwrap();
        assert_eq!(input.format(), Format::Test);
        assert_eq!(read_all(input), binary());
        // A `.test` file whose first marker comes after its first MiB is refused (as no trace).
        let late = format!("{padding}-- expect --\nSUCCESS\n-- trace --\n{TEXT}");
        assert!(matches!(
            Input::new(late.as_bytes()),
            Err(InputError::NotATrace)
        ));
    }

    #[test]
    fn an_error_early_in_an_endless_text_is_reported_at_once() {
        let mut text = Endless::new(
            "Trace Go1.22\nBogus\n",
            "HeapAlloc dt=1 heapalloc_value=1\n",
        );
        let input = Input::new(&mut text).unwrap();
        assert_eq!(
            first_error(input),
            "text form: line 2: unidentified event: Bogus"
        );
        // The first MiB, looked at for a sign of a trace, and a buffer's worth more at most.
        assert!(
            text.read <= TEXT_SIGN_LEN + 64 * 1024,
            "{} bytes read",
            text.read
        );
    }

    /// The validating reader's first error on `input`, as the input explains it.
    fn first_error(input: Input<impl Read>) -> String {
        let mut reader = crate::Reader::new(input).unwrap();
        loop {
            if let Err(error) = reader.read_event() {
                return reader.get_ref().explain(error).to_string();
            }
        }
    }

    /// An input that does not end while it matters: `first`, then `line` again and again, up to
    /// 64 MiB (a reader that reads it whole fails its test, rather than never ending); counts
    /// what was read.
    struct Endless {
        pending: Vec<u8>,
        line: &'static str,
        read: u64,
    }

    impl Endless {
        fn new(first: &str, line: &'static str) -> Self {
            Endless {
                pending: first.as_bytes().to_vec(),
                line,
                read: 0,
            }
        }
    }

    impl Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.read >= 64 << 20 {
                return Ok(0);
            }
            if self.pending.is_empty() {
                self.pending = self.line.as_bytes().to_vec();
            }
            let n = buf.len().min(self.pending.len());
            buf[..n].copy_from_slice(&self.pending[..n]);
            self.pending.drain(..n);
            self.read += n as u64;
            Ok(n)
        }
    }

    #[test]
    fn bad_text_is_an_error_with_its_line() {
        // A text input's lines are converted as they are read: the error is the reader's.
        let input = Input::new(&b"Trace Go1.22\nNoSuchEvent x=1\n"[..]).unwrap();
        assert_eq!(
            first_error(input),
            "text form: line 2: unidentified event: NoSuchEvent"
        );
        // In a `.test` file, the line of the file, not of its trace section (line 2 there).
        let test =
            "# A comment\n-- expect --\nSUCCESS\n-- trace --\nTrace Go1.22\nNoSuchEvent x=1\n";
        let err = Input::new(test.as_bytes()).err().unwrap();
        assert_eq!(
            err.to_string(),
            "text form: line 6: unidentified event: NoSuchEvent"
        );
    }
}
