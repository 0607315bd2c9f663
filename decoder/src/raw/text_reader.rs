//! The text reader: Go's raw text form (`Trace Go1.N`, one event per line, indented stack frames
//! and data lines), as in Go's `.test` files.
//!
//! Tokens are separated by Unicode white space; `#` starts a comment; blank lines are skipped.
//! One leniency over Go: a `String` whose data line is missing has empty data. Go's binary-to-text
//! path prints no data line for empty data, so this is what makes that text convert back.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, BufRead, Read};

use gotrace_wire::{EventSpec, EventType, Version, SPECS};

use super::event::{Event, FRAME_FIELDS};
use super::limits::{check_args, check_data_len, LimitError};
use super::quote::unquote;

/// Longest line accepted, as Go's line scanner: enough for the longest quoted string.
const MAX_LINE: usize = 64 << 10;

/// Why the text form could not be read, and on which line (1-based).
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {problem}")]
pub struct TextError {
    /// The 1-based line of the text the problem was found on.
    pub line: usize,
    /// What was wrong with that line.
    pub problem: TextProblem,
}

/// What was wrong with a line of the text form (Go's wording where Go's text reader has one).
#[derive(Debug, thiserror::Error)]
pub enum TextProblem {
    /// The first line is not `Trace Go1.N`.
    #[error("failed to parse header")]
    Header,
    /// The header's version is not a number.
    #[error("failed to parse header Go version")]
    HeaderVersion,
    /// A version whose format this reader does not know: its minor number.
    #[error("unknown or unsupported Go version 1.{0}")]
    UnsupportedVersion(u64),
    /// Text after the header's version.
    #[error("encountered unexpected non-space at the end of the header: {0:?}")]
    HeaderTrailer(String),
    /// A line that begins with no event name of the version: the name found.
    #[error("unidentified event: {0}")]
    UnknownEvent(String),
    /// An argument of an event line that could not be read.
    #[error("reading args for {event}: {problem}")]
    Args {
        /// The event's name.
        event: &'static str,
        /// What was wrong with the argument.
        problem: ArgProblem,
    },
    /// The text ended inside a stack's frames: the stack's arguments.
    #[error("unexpected EOF while reading stack: args={0:?}")]
    EofInStack(Vec<u64>),
    /// A frame line that could not be read.
    #[error("reading frame: {0}")]
    Frame(ArgProblem),
    /// A `data=` line that is not a quoted string: the line.
    #[error("failed to parse data: {0:?}")]
    Data(String),
    /// A size beyond the format's limits.
    #[error(transparent)]
    Limit(#[from] LimitError),
    /// A line longer than any the format can hold (hostile input).
    #[error("line longer than {MAX_LINE} bytes")]
    LineTooLong,
    /// A line that is not UTF-8.
    #[error("not UTF-8")]
    NotUtf8,
    /// The stream under the reader failed.
    #[error("reading: {0}")]
    Io(#[from] io::Error),
}

/// What was wrong with an argument (`name=value`) of an event or frame line.
#[derive(Debug, thiserror::Error)]
pub enum ArgProblem {
    /// The argument has another name than the event's next one.
    #[error("expected argument {expected:?}, but got {got:?}")]
    WrongName {
        /// The name the event's next argument has.
        expected: &'static str,
        /// The name found.
        got: String,
    },
    /// The line ended before the argument.
    #[error("no argument")]
    Missing,
    /// Not of the form `name=value`: the text found.
    #[error("malformed argument: {0:?}")]
    Malformed(String),
    /// A value that is not a number.
    #[error("failed to parse argument value {value:?} for arg {arg:?}")]
    BadValue {
        /// The value found.
        value: String,
        /// The argument's name.
        arg: String,
    },
    /// Text after the event's last argument.
    #[error("encountered unexpected non-space at the end of an event: {0:?}")]
    Trailer(String),
}

/// Reads Go's raw text form.
pub struct TextReader<R> {
    input: R,
    version: Version,
    names: HashMap<&'static str, &'static EventSpec>,
    /// Number of the last line read.
    line: usize,
    /// Number of the line the last event read began on.
    event_line: usize,
    /// A line read ahead (looking for an optional data line) and not yet used.
    pending: Option<(usize, String)>,
}

/// Where the reader is, not its name table; any input.
impl<R> fmt::Debug for TextReader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TextReader")
            .field("version", &self.version)
            .field("line", &self.line)
            .finish_non_exhaustive()
    }
}

impl<R: BufRead> TextReader<R> {
    /// Reads the header line.
    pub fn new(input: R) -> Result<Self, TextError> {
        let mut reader = TextReader {
            input,
            version: Version::Go122,
            names: HashMap::new(),
            line: 0,
            event_line: 0,
            pending: None,
        };
        let (line_no, line) = reader
            .next_line()?
            .ok_or_else(|| reader.error(TextProblem::Header))?;
        let fail = |problem| TextError {
            line: line_no,
            problem,
        };
        let (trace, rest) = token(&line);
        if trace != "Trace" {
            return Err(fail(TextProblem::Header));
        }
        let (go_version, rest) = token(rest);
        let minor = go_version
            .strip_prefix("Go1.")
            .ok_or_else(|| fail(TextProblem::HeaderVersion))?;
        let minor: u64 = minor
            .parse()
            .map_err(|_| fail(TextProblem::HeaderVersion))?;
        reader.version = u32::try_from(minor)
            .ok()
            .and_then(Version::from_minor)
            .ok_or_else(|| fail(TextProblem::UnsupportedVersion(minor)))?;
        if !rest.chars().all(char::is_whitespace) {
            return Err(fail(TextProblem::HeaderTrailer(rest.to_owned())));
        }
        reader.names = SPECS
            .iter()
            .filter(|s| reader.version.defines(s.typ))
            .map(|s| (s.name, s))
            .collect();
        Ok(reader)
    }

    /// The version named by the text's `Trace Go1.N` header line.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The line (1-based) the last event read began on.
    pub fn event_line(&self) -> usize {
        self.event_line
    }

    /// The next event, or `None` at the end of the input.
    pub fn read_event(&mut self) -> Result<Option<Event>, TextError> {
        let Some((line_no, line)) = self.next_line()? else {
            return Ok(None);
        };
        self.event_line = line_no;
        let fail = |problem| TextError {
            line: line_no,
            problem,
        };
        let (name, rest) = token(&line);
        let spec = *self
            .names
            .get(name)
            .ok_or_else(|| fail(TextProblem::UnknownEvent(name.to_owned())))?;
        let mut args = Vec::with_capacity(spec.args.len());
        read_args(rest, spec.args, &mut args).map_err(|problem| {
            fail(TextProblem::Args {
                event: spec.name,
                problem,
            })
        })?;
        check_args(spec.typ, &args).map_err(|e| fail(e.into()))?;
        if spec.is_stack {
            for _ in 0..args[1] {
                let Some((frame_no, frame)) = self.next_line()? else {
                    return Err(self.error(TextProblem::EofInStack(args)));
                };
                read_args(&frame, &FRAME_FIELDS, &mut args).map_err(|problem| TextError {
                    line: frame_no,
                    problem: TextProblem::Frame(problem),
                })?;
            }
        }
        let data = if spec.has_data {
            self.read_data(spec.typ)?
        } else {
            Vec::new()
        };
        Ok(Some(Event {
            version: self.version,
            typ: spec.typ,
            args,
            data,
        }))
    }

    /// The data line of the event just read, if there is one.
    fn read_data(&mut self, typ: EventType) -> Result<Vec<u8>, TextError> {
        let Some((line_no, line)) = self.next_line()? else {
            return Ok(Vec::new());
        };
        let Some((key, value)) = line.split_once('=').filter(|(k, _)| k.trim() == "data") else {
            self.pending = Some((line_no, line));
            return Ok(Vec::new());
        };
        let fail = |problem| TextError {
            line: line_no,
            problem,
        };
        debug_assert_eq!(key.trim(), "data");
        let data = unquote(value.trim()).map_err(|_| fail(TextProblem::Data(line.clone())))?;
        check_data_len(typ, data.len() as u64).map_err(|e| fail(e.into()))?;
        Ok(data)
    }

    /// The next line with a token on it, with its number.
    fn next_line(&mut self) -> Result<Option<(usize, String)>, TextError> {
        if let Some(pending) = self.pending.take() {
            return Ok(Some(pending));
        }
        let mut buf = Vec::new();
        loop {
            buf.clear();
            let n = (&mut self.input)
                .take(MAX_LINE as u64 + 1)
                .read_until(b'\n', &mut buf)
                .map_err(|e| self.error(e.into()))?;
            if n == 0 {
                return Ok(None);
            }
            self.line += 1;
            if buf.last() == Some(&b'\n') {
                buf.pop();
                if buf.last() == Some(&b'\r') {
                    buf.pop();
                }
            } else if n > MAX_LINE {
                return Err(self.error(TextProblem::LineTooLong));
            }
            let line = std::str::from_utf8(&buf).map_err(|_| self.error(TextProblem::NotUtf8))?;
            if !token(line).0.is_empty() {
                return Ok(Some((self.line, line.to_owned())));
            }
        }
    }

    fn error(&self, problem: TextProblem) -> TextError {
        TextError {
            line: self.line,
            problem,
        }
    }
}

impl<R: BufRead> Iterator for TextReader<R> {
    type Item = Result<Event, TextError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.read_event().transpose()
    }
}

/// Reads `name=value` pairs with exactly the given names, in order, then only white space.
fn read_args(mut rest: &str, names: &[&'static str], out: &mut Vec<u64>) -> Result<(), ArgProblem> {
    for &expected in names {
        let (tok, after) = token(rest);
        if tok.is_empty() {
            return Err(ArgProblem::Missing);
        }
        let (arg, value) = tok
            .split_once('=')
            .ok_or_else(|| ArgProblem::Malformed(tok.to_owned()))?;
        // Decimal digits only, as Go's `ParseUint(s, 10, 64)`: no sign, no prefix.
        let parsed = value
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| value.parse::<u64>().ok())
            .flatten();
        let value = parsed.ok_or_else(|| ArgProblem::BadValue {
            value: value.to_owned(),
            arg: arg.to_owned(),
        })?;
        if arg != expected {
            return Err(ArgProblem::WrongName {
                expected,
                got: arg.to_owned(),
            });
        }
        out.push(value);
        rest = after;
    }
    if !rest.chars().all(char::is_whitespace) {
        return Err(ArgProblem::Trailer(rest.to_owned()));
    }
    Ok(())
}

/// Splits off the first token; a `#` ends the line's tokens.
fn token(s: &str) -> (&str, &str) {
    let trimmed = s.trim_start();
    if trimmed.starts_with('#') {
        return ("", "");
    }
    let end = trimmed
        .find(|c: char| c.is_whitespace() || c == '#')
        .unwrap_or(trimmed.len());
    trimmed.split_at(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines of up to 64 KiB are read (their line ending apart), longer ones refused with their
    /// number, not cut into two lines.
    #[test]
    fn a_line_of_64_kib_is_read_and_a_longer_one_refused() {
        let text = |comment_len: usize| {
            let comment = format!("#{}", "a".repeat(comment_len - 1));
            format!("Trace Go1.22\n{comment}\nEventBatch gen=1 m=0 time=5 size=1\n")
        };
        let longest = text(65_536);
        let mut reader = TextReader::new(longest.as_bytes()).unwrap();
        let batch = reader.read_event().unwrap().unwrap();
        assert_eq!(batch.typ, EventType::EVENT_BATCH);
        let too_long = text(65_537);
        let mut reader = TextReader::new(too_long.as_bytes()).unwrap();
        let err = reader.read_event().unwrap_err();
        assert_eq!(err.line, 2);
        assert!(matches!(err.problem, TextProblem::LineTooLong), "{err}");
    }

    /// The last line may end without a line ending, 64 KiB long too.
    #[test]
    fn the_last_line_needs_no_line_ending() {
        let batch = "Trace Go1.22\nEventBatch gen=1 m=0 time=5 size=1";
        let comment = format!("{batch}\n#{}", "a".repeat(65_535));
        for text in [batch, &comment] {
            let events: Vec<Event> = TextReader::new(text.as_bytes())
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert_eq!(events.len(), 1);
            assert_eq!(events[0].args, [1, 0, 5, 1]);
        }
    }
}
