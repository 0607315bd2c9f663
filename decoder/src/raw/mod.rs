//! The raw layer: events exactly as they are on the wire or in the text form, without semantics.
//!
//! This is what `gotrace dump` prints and what `go tool trace -d=wire` prints: a flat sequence of
//! events (batch headers included) with their arguments, in file order. Nothing here checks that
//! the events make sense together; that is the validating reader's job. What this layer does
//! guarantee is that hostile input cannot make it panic or allocate without bound: it applies the
//! format's limits (batch, string and stack sizes) while reading and reports the byte offset or
//! line of anything it refuses.
//!
//! Four directions, as in Go's `internal/trace/raw`: [`Reader`] (binary in), [`Writer`] (binary
//! out), [`TextReader`] (text in) and [`TextWriter`] (text out). [`text_to_binary`] and
//! [`binary_to_text`] chain them for the common whole-file conversions.

mod event;
mod limits;
mod line_map;
mod quote;
mod reader;
mod source;
mod text_reader;
mod text_stream;
mod text_writer;
mod writer;

pub use event::{Event, FRAME_FIELDS};
pub use limits::LimitError;
pub use line_map::LineMap;
pub use quote::{quote, unquote, UnquoteError};
pub use reader::{Problem, ReadError, Reader};
pub use text_reader::{ArgProblem, TextError, TextProblem, TextReader};
pub use text_stream::TextToBinary;
pub use text_writer::TextWriter;
pub use writer::{WriteError, Writer};

use std::io::{BufRead, Read};

/// Why a whole-file conversion failed.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// The binary input could not be read as events.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The text input could not be parsed.
    #[error(transparent)]
    Text(#[from] TextError),
    /// The parsed events could not be written in the binary form.
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// Converts the text form into the binary form, event by event.
pub fn text_to_binary<R: BufRead>(text: R) -> Result<Vec<u8>, ConvertError> {
    text_to_binary_with_lines(text).map(|(binary, _)| binary)
}

/// Converts the text form into the binary form, and says on which line of the text each event of
/// the binary form began, so that an error found in the binary form can name the line.
pub fn text_to_binary_with_lines<R: BufRead>(text: R) -> Result<(Vec<u8>, LineMap), ConvertError> {
    let mut reader = TextReader::new(text)?;
    let mut writer = Writer::new(Vec::new(), reader.version())?;
    let mut lines = LineMap::default();
    while let Some(event) = reader.read_event()? {
        lines.push(writer.get_ref().len() as u64, reader.event_line());
        writer.write_event(&event)?;
    }
    Ok((writer.into_inner(), lines))
}

/// Converts the binary form into the text form, event by event.
pub fn binary_to_text<R: Read>(binary: R) -> Result<String, ConvertError> {
    let mut reader = Reader::new(binary)?;
    let mut writer = TextWriter::new(Vec::new(), reader.version())?;
    while let Some(event) = reader.read_event()? {
        writer.write_event(&event)?;
    }
    // The text writer only ever writes `Display` output and ASCII headers, which are UTF-8.
    Ok(String::from_utf8_lossy(&writer.into_inner()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Location;

    const TEXT: &str = "Trace Go1.22
EventBatch gen=1 m=18446744073709551615 time=0 size=44
Stacks
Stack id=1 nframes=2
\tpc=4812 func=1 file=2 line=77
\tpc=4900 func=3 file=2 line=12
EventBatch gen=1 m=18446744073709551615 time=0 size=14
Strings
String id=1
\tdata=\"main.main\"
String id=2
\tdata=\"\\x00\\xffé\"
EventBatch gen=1 m=0 time=5 size=4
GoStart dt=1 g=1 g_seq=0
";

    #[test]
    fn text_binary_text_round_trips() {
        let binary = text_to_binary(TEXT.as_bytes()).unwrap();
        let events: Vec<Event> = Reader::new(&binary[..])
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let encoded: usize = events.iter().map(Event::encoded_len).sum();
        assert_eq!(encoded + gotrace_wire::HEADER_LEN, binary.len());
        assert_eq!(binary_to_text(&binary[..]).unwrap(), TEXT);
        assert_eq!(text_to_binary(TEXT.as_bytes()).unwrap(), binary);
    }

    #[test]
    fn every_truncation_is_an_error_or_a_shorter_trace() {
        let binary = text_to_binary(TEXT.as_bytes()).unwrap();
        let whole: Vec<Event> = Reader::new(&binary[..])
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for len in 0..binary.len() {
            let cut = &binary[..len];
            let Ok(reader) = Reader::new(cut) else {
                assert!(len < 16, "header refused at {len}");
                continue;
            };
            let mut events = Vec::new();
            for event in reader {
                match event {
                    Ok(e) => events.push(e),
                    Err(e) => {
                        assert!(e.is_truncation(), "cut at {len}: {e}");
                        assert!(e.offset().is_some_and(|o| o < len as u64));
                    }
                }
            }
            assert!(whole.starts_with(&events), "cut at {len}");
        }
    }

    #[test]
    fn a_malformed_event_is_no_truncation() {
        let mut binary = text_to_binary(TEXT.as_bytes()).unwrap();
        binary.push(0xff);
        let err = Reader::new(&binary[..])
            .unwrap()
            .find_map(Result::err)
            .unwrap();
        assert!(!err.is_truncation(), "{err}");
        assert!(err.to_string().contains("invalid event type: 255"), "{err}");
    }

    #[test]
    fn headers_of_older_and_unknown_versions_are_told_apart() {
        let older = Reader::new(&b"go 1.21 trace\0\0\0"[..]).unwrap_err();
        assert!(matches!(older, ReadError::OlderFormat(21)), "{older}");
        let unknown = Reader::new(&b"go 1.99 trace\0\0\0"[..]).unwrap_err();
        assert!(
            matches!(unknown, ReadError::UnsupportedVersion(99)),
            "{unknown}"
        );
    }

    /// Experimental batches and Go 1.26's lone `EndOfGeneration` count as batches, as the
    /// validating reader counts them: an error in the batch after them names it by its index.
    #[test]
    fn every_kind_of_batch_header_counts_as_a_batch() {
        let text = "Trace Go1.26\n\
                    ExperimentalBatch exp=0 gen=1 m=0 time=5\n\
                    \tdata=\"x\"\n\
                    EndOfGeneration\n\
                    EventBatch gen=2 m=3 time=7 size=4\n\
                    GoStart dt=1 g=1 g_seq=0\n";
        let mut binary = text_to_binary(text.as_bytes()).unwrap();
        binary.pop();
        let err = Reader::new(&binary[..])
            .unwrap()
            .find_map(Result::err)
            .unwrap();
        let batch = err.batch().unwrap();
        assert_eq!(batch.batch, Some(2), "{err}");
        assert_eq!((batch.generation, batch.thread), (Some(2), Some(3)));
    }

    #[test]
    fn a_truncated_event_names_its_batch() {
        // `gotrace dump` of a cut trace said "byte 4997 (GoSyscallBegin): truncated trace: ..."
        // without the generation, M or batch that `gotrace validate` names.
        let binary = text_to_binary(TEXT.as_bytes()).unwrap();
        // The batches, framed from the whole file: (offset, generation, M), by index.
        let mut whole = Reader::new(&binary[..]).unwrap();
        let mut headers = Vec::new();
        loop {
            let offset = whole.offset();
            let Some(event) = whole.read_event().unwrap() else {
                break;
            };
            if event.typ == gotrace_wire::EventType::EVENT_BATCH {
                headers.push((offset, event.args[0], event.args[1] as i64));
            }
        }
        assert_eq!(headers.len(), 3);
        let mut named = 0;
        for len in gotrace_wire::HEADER_LEN + 1..binary.len() {
            let cut = &binary[..len];
            let Some(Err(error)) = Reader::new(cut).unwrap().find(Result::is_err) else {
                continue;
            };
            let offset = error.offset().unwrap();
            let batch = error.batch().expect("an event's error");
            let index = headers.iter().rposition(|h| h.0 <= offset).unwrap();
            let (at, generation, m) = headers[index];
            let expected = if at == offset {
                // A header cut short: the batch it begins, whose generation and M are unread.
                Location {
                    batch: Some(index as u64),
                    batch_offset: Some(at),
                    ..Location::default()
                }
            } else {
                Location {
                    generation: Some(generation),
                    thread: Some(m),
                    batch: Some(index as u64),
                    batch_offset: Some(at),
                    ..Location::default()
                }
            };
            assert_eq!(*batch, expected, "cut at {len}: {error}");
            // Printed as the validating reader prints its locations.
            assert!(
                error.to_string().ends_with(&expected.to_string()),
                "{error}"
            );
            named += 1;
        }
        assert!(named > 40, "{named} cuts in an event");
        let error = Reader::new(&binary[..60]).unwrap().find(Result::is_err);
        assert_eq!(
            error.unwrap().unwrap_err().to_string(),
            "byte 59 (String): truncated trace: unexpected EOF reading id (generation 1, M -1, batch #1 at byte offset 44)"
        );
    }

    #[test]
    fn announced_sizes_beyond_the_limits_are_refused_before_allocating() {
        let header = gotrace_wire::Version::Go122.header();
        let cases: [(&[u8], &str); 5] = [
            // Stack with 2^63 frames.
            (
                &[
                    3, 1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01,
                ],
                "invalid stack size",
            ),
            // String of 2^40 bytes.
            (
                &[5, 1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20],
                "invalid string size",
            ),
            // Batch of 1 MiB.
            (&[1, 1, 0, 0, 0x80, 0x80, 0x40], "invalid batch size"),
            // An eleven-byte varint.
            (
                &[
                    10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
                ],
                "overflows",
            ),
            (&[200], "invalid event type: 200"),
        ];
        for (body, message) in cases {
            let file = [&header[..], body].concat();
            let err = Reader::new(&file[..]).unwrap().read_event().unwrap_err();
            assert!(err.to_string().contains(message), "{err}");
            assert_eq!(err.offset(), Some(16), "{err}");
        }
    }

    #[test]
    fn headers_are_checked() {
        assert!(matches!(
            Reader::new(&b"go 1.22 trace\0\0"[..]),
            Err(ReadError::BadHeader)
        ));
        assert!(matches!(
            Reader::new(&b"GO 1.22 trace\0\0\0"[..]),
            Err(ReadError::BadHeader)
        ));
        assert!(matches!(
            Reader::new(&b"go 1.24 trace\0\0\0"[..]),
            Err(ReadError::UnsupportedVersion(24))
        ));
        let header = gotrace_wire::Version::Go126.header();
        let reader = Reader::new(&header[..]).unwrap();
        assert_eq!(reader.version(), gotrace_wire::Version::Go126);
    }

    #[test]
    fn text_errors_name_the_line() {
        let cases = [
            (
                "Trace Go1.22\nGoStart dt=1 g=x g_seq=0\n",
                "line 2: reading args for GoStart: failed to parse argument value",
            ),
            (
                "Trace Go1.22\n\nGoStart dt=1 g_seq=0 g=1\n",
                "line 3: reading args for GoStart: expected argument \"g\"",
            ),
            (
                "Trace Go1.22\nStack id=1 nframes=1\n",
                "line 2: unexpected EOF while reading stack",
            ),
            (
                "Trace Go1.22\nStack id=1 nframes=129\n",
                "line 2: invalid stack size 129",
            ),
            (
                "Trace Go1.99\n",
                "line 1: unknown or unsupported Go version 1.99",
            ),
            (
                "Trace Go1.22\nString id=1\n\tdata=\"abc\n",
                "line 3: failed to parse data",
            ),
            (
                "Trace Go1.22\nGoStop dt=1 reason_string=0 stack=0 extra=1\n",
                "non-space at the end",
            ),
        ];
        for (text, message) in cases {
            let err = text_to_binary(text.as_bytes()).unwrap_err();
            assert!(err.to_string().contains(message), "{err}");
        }
    }

    #[test]
    fn empty_data_is_printed_as_go_does_and_read_back() {
        let text = "Trace Go1.22\nString id=1\nString id=2\n\tdata=\"x\"\n";
        let binary = text_to_binary(text.as_bytes()).unwrap();
        assert_eq!(binary_to_text(&binary[..]).unwrap(), text);
    }
}
