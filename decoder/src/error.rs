//! The one error type of the validating reader.
//!
//! Every error carries Go's own message text (so that a `.test` file's `FAILURE "regex"` can be
//! matched against it, and so that a user searching for Go's message finds it) plus where in the
//! file it happened: generation, thread, batch, byte offset and the offending event in Go's raw
//! text form. Go's parser reports only the message; the location is what we add.

use std::fmt;
use std::io;

/// A trace that cannot be read or does not satisfy Go's rules.
///
/// Where the stream under the reader failed (a pipe or socket closed on error, a device
/// unplugged), the error's [`source`](std::error::Error::source) is that [`io::Error`], wherever
/// in the trace it happened; its message is still Go's (which for a batch cut short by the
/// failure is "failed to read full batch", as for a file cut short). An error without such a
/// source is a verdict on the bytes read.
#[derive(thiserror::Error)]
#[error("{}", .inner.render())]
pub struct Error {
    /// Boxed so that results stay small on the hot path.
    inner: Box<Inner>,
    #[source]
    source: Option<io::Error>,
}

#[derive(Debug)]
struct Inner {
    message: String,
    location: Location,
    /// The minor version of a trace in a format before Go 1.22's (see [`Error::older_format`]).
    older_format: Option<u32>,
    /// For a trace given in the text form: the lines of the batch and of the event.
    lines: Option<TextLines>,
}

/// The lines of the text form that a location's byte offsets (in the binary form the text was
/// converted to) stand for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct TextLines {
    batch: Option<usize>,
    event: Option<usize>,
}

impl fmt::Debug for Error {
    /// The message and location as `Display` gives them, quoted, and the failing stream's error
    /// if there is one: what a test's `?` and `fn main() -> Result` print, where a derived form
    /// would show the fields of the location one by one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut tuple = f.debug_tuple("Error");
        tuple.field(&self.inner.render());
        if let Some(source) = &self.source {
            tuple.field(source);
        }
        tuple.finish()
    }
}

impl Inner {
    /// Go's message with the location after its first line: some of Go's messages go on with a
    /// multi-line dump of the parser's state, after which the location would be lost.
    fn render(&self) -> String {
        match self.message.split_once('\n') {
            Some((first, rest)) => format!("{first}{}\n{rest}", self.shown_location()),
            None => format!("{}{}", self.message, self.shown_location()),
        }
    }

    fn shown_location(&self) -> String {
        self.location.render(self.lines.as_ref())
    }
}

impl Error {
    /// An error with Go's message and no location yet.
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Error {
            inner: Box::new(Inner {
                message: message.into(),
                location: Location::default(),
                older_format: None,
                lines: None,
            }),
            source: None,
        }
    }

    /// The error for a trace of Go 1.`minor` (11, 19 or 21), in the format before Go 1.22's: not
    /// a verdict, as Go's parser reads those traces by converting them, and this decoder does not.
    pub(crate) fn of_older_format(minor: u32) -> Self {
        let mut error = Error::new(crate::raw::ReadError::OlderFormat(minor).to_string());
        error.inner.older_format = Some(minor);
        error
    }

    /// An I/O failure of the underlying reader, described the way Go's reader would describe it.
    pub(crate) fn io(message: impl Into<String>, source: io::Error) -> Self {
        Error {
            inner: Box::new(Inner {
                message: message.into(),
                location: Location::default(),
                older_format: None,
                lines: None,
            }),
            source: Some(source),
        }
    }

    /// This error, caused by the stream's failure `source` (kept, where Go's message, which
    /// this keeps, says only what the failure left missing).
    pub(crate) fn caused_by(mut self, source: io::Error) -> Self {
        self.source = Some(source);
        self
    }

    /// The failure of the stream that caused this error, if one did.
    pub(crate) fn take_stream_failure(&mut self) -> Option<io::Error> {
        self.source.take()
    }

    /// Whether a failure of the stream caused this error.
    pub(crate) fn has_stream_failure(&self) -> bool {
        self.source.is_some()
    }

    /// Fills in the parts of the location that are not known yet.
    pub(crate) fn at(mut self, location: &Location) -> Self {
        self.inner.location.fill_from(location);
        self
    }

    /// Whether this is Go's bare `io.EOF`, which Go's `ReadEvent` callers cannot tell apart from
    /// the end of the trace (a table entry cut short at a batch end is reported this way).
    pub(crate) fn is_bare_eof(&self) -> bool {
        self.inner.message == "EOF"
    }

    /// For a trace in the format of Go 1.11 to 1.21, its minor version: the trace was not judged.
    /// Go's parser reads that format (by converting it to the events of the current one), so
    /// this error is no verdict that the trace is invalid, only that this decoder cannot tell.
    pub fn older_format(&self) -> Option<u32> {
        self.inner.older_format
    }

    /// Go's error text alone, as Go's parser would return it.
    pub fn go_message(&self) -> String {
        self.inner.message.clone()
    }

    /// Where in the trace the error was found.
    pub fn location(&self) -> &Location {
        &self.inner.location
    }

    /// The error of a trace given in the text form (`lines` from
    /// [`Input::lines`](crate::input::Input::lines)): its message names the lines of the batch
    /// and of the event, not their byte offsets in the binary form the text was converted to,
    /// which mean nothing in the text. The location keeps the offsets.
    pub fn in_text(mut self, lines: &crate::raw::LineMap) -> Self {
        let location = &self.inner.location;
        self.inner.lines = Some(TextLines {
            batch: location.batch_offset.and_then(|o| lines.line_of(o)),
            event: location.event_offset.and_then(|o| lines.line_of(o)),
        });
        self
    }
}

/// Where an error was found. Every part is optional: a bad header has none of them, an ordering
/// error has all of them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Location {
    /// The generation number as written in the batch headers.
    pub generation: Option<u64>,
    /// The thread (M) whose batch holds the event; -1 for batches of no thread.
    pub thread: Option<i64>,
    /// Index of the batch in the file, counting from 0.
    pub batch: Option<u64>,
    /// Byte offset of the batch header in the file.
    pub batch_offset: Option<u64>,
    /// Byte offset of the event in the file.
    pub event_offset: Option<u64>,
    /// The event in Go's raw text form (`ProcSteal dt=0 p=0 p_seq=2 m=0`), as the bytes at
    /// `event_offset` read.
    pub event: Option<String>,
}

impl Location {
    fn fill_from(&mut self, other: &Location) {
        fn fill<T: Clone>(mine: &mut Option<T>, theirs: &Option<T>) {
            if mine.is_none() {
                mine.clone_from(theirs);
            }
        }
        fill(&mut self.generation, &other.generation);
        fill(&mut self.thread, &other.thread);
        fill(&mut self.batch, &other.batch);
        fill(&mut self.batch_offset, &other.batch_offset);
        fill(&mut self.event_offset, &other.event_offset);
        fill(&mut self.event, &other.event);
    }

    fn is_empty(&self) -> bool {
        *self == Location::default()
    }

    /// The location as a message shows it: by line for a trace given in the text form.
    fn render(&self, lines: Option<&TextLines>) -> String {
        if self.is_empty() {
            return String::new();
        }
        let mut parts: Vec<String> = Vec::new();
        if let Some(generation) = self.generation {
            parts.push(format!("generation {generation}"));
        }
        if let Some(thread) = self.thread {
            parts.push(format!("M {thread}"));
        }
        let at = |line: Option<usize>, offset: Option<u64>| match (line, offset) {
            (Some(line), _) => Some(format!("line {line}")),
            (None, Some(offset)) => Some(format!("byte offset {offset}")),
            (None, None) => None,
        };
        match (
            self.batch,
            at(lines.and_then(|l| l.batch), self.batch_offset),
        ) {
            (Some(batch), Some(at)) => parts.push(format!("batch #{batch} at {at}")),
            (Some(batch), None) => parts.push(format!("batch #{batch}")),
            (None, Some(at)) => parts.push(format!("batch at {at}")),
            (None, None) => {}
        }
        match (
            at(lines.and_then(|l| l.event), self.event_offset),
            &self.event,
        ) {
            (Some(at), Some(event)) => parts.push(format!("event at {at}: {event}")),
            (Some(at), None) => parts.push(format!("event at {at}")),
            (None, Some(event)) => parts.push(format!("event {event}")),
            (None, None) => {}
        }
        format!(" ({})", parts.join(", "))
    }
}

impl fmt::Display for Location {
    /// ` (generation 1, M 0, batch #0 at byte offset 16, event at byte offset 40: ProcStop dt=3)`,
    /// or nothing when nothing is known.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_appends_the_location_to_gos_message() {
        let location = Location {
            generation: Some(1),
            thread: Some(0),
            batch: Some(2),
            batch_offset: Some(16),
            event_offset: Some(40),
            event: Some("ProcStop dt=3".into()),
        };
        let error = Error::new("expected a proc but didn't have one").at(&location);
        assert_eq!(error.go_message(), "expected a proc but didn't have one");
        assert_eq!(
            error.to_string(),
            "expected a proc but didn't have one (generation 1, M 0, batch #2 at byte offset 16, \
             event at byte offset 40: ProcStop dt=3)"
        );
        assert_eq!(Error::new("bad").to_string(), "bad");
        let dump =
            Error::new("broken trace: failed to advance: frontier:\n[gen=1]\n").at(&Location {
                generation: Some(1),
                ..Location::default()
            });
        assert_eq!(
            dump.to_string(),
            "broken trace: failed to advance: frontier: (generation 1)\n[gen=1]\n"
        );
    }

    #[test]
    fn the_first_known_location_wins() {
        let inner = Location {
            batch: Some(1),
            ..Location::default()
        };
        let outer = Location {
            generation: Some(4),
            batch: Some(9),
            ..Location::default()
        };
        let error = Error::new("x").at(&inner).at(&outer);
        assert_eq!(error.location().batch, Some(1));
        assert_eq!(error.location().generation, Some(4));
    }
}
