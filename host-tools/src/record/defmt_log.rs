//! Decodes the firmware's `defmt` frames from its up channel named `defmt` (channel 0 by defmt's
//! convention; found by name) with the table in its ELF.
//!
//! The channel's bytes are the firmware's, a buggy firmware's too: what cannot be decoded is
//! counted and reported at the end, and no garbage makes the host buffer without bound. With
//! rzcobs (defmt's default) a frame ends at a zero byte, so frames are cut here ([`ZeroFrames`])
//! and handed to `defmt-decoder` whole; bytes that run on past [`MAX_FRAME_BYTES`] without a zero
//! are dropped up to the next one. The raw encoding has no frame boundary to find again after a frame that
//! does not decode: the log stops there, and the bytes it could not show are counted.

use anyhow::{Context, Result};
use defmt_decoder::{DecodeError, Encoding, StreamDecoder, Table};

use super::frames::{Cut, ZeroFrames};

/// The longest frame waited for. defmt frames are a format index and the arguments' bytes: a
/// log line of a few hundred bytes is a long one, and even a logged buffer is rarely kilobytes.
const MAX_FRAME_BYTES: usize = 64 << 10;

/// The ELF's defmt table, if the firmware uses defmt.
pub fn table(elf: &[u8]) -> Result<Option<Table>> {
    Table::parse(elf).context("reading the defmt table from the ELF")
}

/// How frames are found in the channel's bytes.
enum Framing<'t> {
    /// Zero-terminated rzcobs frames, decoded one whole frame at a time.
    Rzcobs {
        decoder: Box<dyn StreamDecoder + Send + Sync + 't>,
        frames: ZeroFrames,
    },
    /// Frames back to back, their length known only by decoding them.
    Raw {
        /// Bytes not yet decoded.
        pending: Vec<u8>,
    },
}

/// A decoder fed with channel bytes as they arrive.
pub struct DefmtLog<'t> {
    table: &'t Table,
    framing: Framing<'t>,
    /// Channel offset of the next byte pushed.
    offset: u64,
    /// Frames that could not be decoded (one that ran on too long counts once).
    pub malformed: u64,
    /// Bytes not shown: of frames that did not decode, and for raw, everything after the first
    /// one (rzcobs runs too long to be a frame are counted by its [`ZeroFrames`]).
    dropped_bytes: u64,
    /// Raw: the channel offset of the frame that did not decode, where the log stopped.
    stopped_at: Option<u64>,
}

impl<'t> DefmtLog<'t> {
    pub fn new(table: &'t Table) -> Self {
        DefmtLog {
            table,
            framing: match table.encoding() {
                Encoding::Raw => Framing::Raw {
                    pending: Vec::new(),
                },
                _ => Framing::Rzcobs {
                    decoder: table.new_stream_decoder(),
                    frames: ZeroFrames::new(MAX_FRAME_BYTES),
                },
            },
            offset: 0,
            malformed: 0,
            dropped_bytes: 0,
            stopped_at: None,
        }
    }

    /// Feeds bytes and returns every log line they complete, as "LEVEL message".
    pub fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        self.offset += bytes.len() as u64;
        let mut lines = Vec::new();
        match &mut self.framing {
            Framing::Raw { .. } => self.push_raw(bytes, &mut lines),
            Framing::Rzcobs { decoder, frames } => frames.push(bytes, |cut| match cut {
                Cut::Overlong(_) => self.malformed += 1,
                // A zero right after a zero ends no frame.
                Cut::Frame([]) => {}
                Cut::Frame(frame) => {
                    // A whole frame and its zero: the decoder takes both whatever it makes of
                    // them.
                    decoder.received(frame);
                    decoder.received(&[0]);
                    match decoder.decode() {
                        Ok(frame) => lines.push(frame.display(false).to_string()),
                        Err(DecodeError::Malformed | DecodeError::UnexpectedEof) => {
                            self.malformed += 1;
                            self.dropped_bytes += frame.len() as u64;
                        }
                    }
                }
            }),
        }
        lines
    }

    /// The bytes held of a frame not yet complete.
    fn pending(&self) -> &[u8] {
        match &self.framing {
            Framing::Rzcobs { frames, .. } => frames.pending(),
            Framing::Raw { pending } => pending,
        }
    }

    /// What the summary should say about the log: frames not decoded, bytes not shown.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.malformed > 0 {
            let overlong_bytes = match &self.framing {
                Framing::Rzcobs { frames, .. } => frames.dropped_bytes,
                Framing::Raw { .. } => 0,
            };
            warnings.push(format!(
                "{} defmt frames could not be decoded ({} bytes not shown)",
                self.malformed,
                self.dropped_bytes + overlong_bytes
            ));
        }
        if let Some(at) = self.stopped_at {
            warnings.push(format!(
                "the defmt log stopped at channel offset {at}: after a frame that does not decode, the raw encoding has no frame boundary to find again"
            ));
        }
        let pending = self.pending().len() as u64;
        if pending > 0 {
            warnings.push(format!(
                "the defmt channel ended inside a frame: its last {pending} bytes (from channel offset {}) are not shown",
                self.offset - pending
            ));
        }
        warnings
    }

    /// Raw: decodes the frames the bytes complete, and stops for good at one that does not
    /// decode (or runs on too long to be one).
    fn push_raw(&mut self, bytes: &[u8], lines: &mut Vec<String>) {
        let Framing::Raw { pending } = &mut self.framing else {
            return;
        };
        if self.stopped_at.is_some() {
            self.dropped_bytes += bytes.len() as u64;
            return;
        }
        pending.extend_from_slice(bytes);
        let mut used = 0;
        loop {
            match self.table.decode(&pending[used..]) {
                Ok((frame, consumed)) => {
                    lines.push(frame.display(false).to_string());
                    used += consumed;
                }
                Err(DecodeError::UnexpectedEof) if pending.len() - used <= MAX_FRAME_BYTES => break,
                Err(_) => {
                    self.malformed += 1;
                    self.dropped_bytes += (pending.len() - used) as u64;
                    self.stopped_at = Some(self.offset - (pending.len() - used) as u64);
                    pending.clear();
                    return;
                }
            }
        }
        pending.drain(..used);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use defmt_decoder::{StringEntry, TableEntry, Tag};

    use super::*;

    /// A table with one log statement, `info!("hello {=u8}")` at index 1, in `encoding`. The
    /// table's fields are private, so it is built the way it can be stored: postcard-encoded,
    /// its fields in order (timestamp, entries, bitflags, encoding).
    fn table(encoding: Encoding) -> Table {
        let entry = TableEntry::new(
            StringEntry::new(Tag::Info, "hello {=u8}".into()),
            "hello".into(),
        );
        let fields = (
            None::<TableEntry>,
            BTreeMap::from([(1usize, entry)]),
            BTreeMap::<u8, u8>::new(),
            encoding,
        );
        let mut buf = [0u8; 128];
        let bytes = postcard::to_slice(&fields, &mut buf).unwrap();
        postcard::from_bytes(bytes).unwrap()
    }

    /// `hello 42` raw: index 1 (u16 little-endian), then the u8.
    const RAW_HELLO: [u8; 3] = [1, 0, 42];
    /// The same rzcobs-encoded, with its terminating zero. rzcobs is read backwards: the last
    /// byte 0x7a = 0b111_1010 says which of the 7 bytes of the reversed, zero-padded message
    /// [0, 0, 0, 0, 42, 0, 1] are zeros (bits 6..0), and the bytes before it, read backwards,
    /// are the others (42, then 1).
    const RZCOBS_HELLO: [u8; 4] = [1, 42, 0x7a, 0];
    /// `hello 42` in each encoding.
    const HELLO: [(Encoding, &[u8]); 2] = [
        (Encoding::Rzcobs, &RZCOBS_HELLO),
        (Encoding::Raw, &RAW_HELLO),
    ];

    #[test]
    fn frames_decode_in_both_encodings_whatever_the_chunks() {
        for (encoding, frame) in HELLO {
            let table = table(encoding);
            let mut log = DefmtLog::new(&table);
            let bytes = frame.repeat(3);
            let lines: Vec<String> = bytes.iter().flat_map(|b| log.push(&[*b])).collect();
            assert_eq!(lines, ["INFO hello 42"; 3], "{encoding:?}");
            assert!(log.warnings().is_empty(), "{:?}", log.warnings());
        }
    }

    #[test]
    fn rzcobs_garbage_without_a_frame_end_is_counted_and_not_kept() {
        let table = table(Encoding::Rzcobs);
        let mut log = DefmtLog::new(&table);
        for _ in 0..16 {
            assert!(log.push(&[0x55; 64 << 10]).is_empty());
            assert!(log.pending().len() <= MAX_FRAME_BYTES);
        }
        // Counted as soon as it cannot be a frame, not when (if ever) its zero comes.
        assert_eq!(log.malformed, 1);
        assert_eq!(
            log.push(&[[0].as_slice(), &RZCOBS_HELLO].concat()),
            ["INFO hello 42"]
        );
        assert_eq!(log.malformed, 1);
        assert_eq!(
            log.warnings(),
            ["1 defmt frames could not be decoded (1048576 bytes not shown)"]
        );
    }

    #[test]
    fn raw_stops_at_a_frame_that_does_not_decode_and_says_where() {
        let table = table(Encoding::Raw);
        let mut log = DefmtLog::new(&table);
        assert_eq!(log.push(&RAW_HELLO), ["INFO hello 42"]);
        // Index 0x77 is in no table; nothing after it can be framed.
        assert!(log.push(&[0x77, 0]).is_empty());
        for _ in 0..3 {
            assert!(log.push(&RAW_HELLO).is_empty());
        }
        assert_eq!(
            log.malformed, 1,
            "one frame did not decode, not one per push"
        );
        assert_eq!(
            log.warnings(),
            [
                "1 defmt frames could not be decoded (11 bytes not shown)",
                "the defmt log stopped at channel offset 3: after a frame that does not decode, the raw encoding has no frame boundary to find again"
            ]
        );
    }

    #[test]
    fn any_bytes_in_any_chunks_neither_panic_nor_buffer_beyond_a_frame_and_read_as_one_push() {
        let mut rng = gotrace_tests::rng::Rng::new(0xdef);
        for encoding in [Encoding::Rzcobs, Encoding::Raw] {
            let table = table(encoding);
            for _ in 0..200 {
                let mut log = DefmtLog::new(&table);
                // Valid frames, zeros, and runs of garbage longer than any frame.
                let mut bytes = Vec::new();
                for _ in 0..rng.below(40) {
                    match rng.below(4) {
                        0 => bytes.extend_from_slice(&RZCOBS_HELLO),
                        1 => bytes.extend_from_slice(&RAW_HELLO),
                        2 => bytes.push(0),
                        _ => bytes.extend(
                            (0..rng.below(3 * MAX_FRAME_BYTES)).map(|_| 1 | rng.next_u64() as u8),
                        ),
                    }
                }
                let mut rest = &bytes[..];
                let mut lines = Vec::new();
                while !rest.is_empty() {
                    let (chunk, after) = rest.split_at(1 + rng.below(rest.len().min(1 << 17)));
                    lines.extend(log.push(chunk));
                    assert!(
                        log.pending().len() <= MAX_FRAME_BYTES,
                        "{}",
                        log.pending().len()
                    );
                    rest = after;
                }
                // Whatever the chunks: the lines and the warnings (frames not decoded, bytes
                // not shown, where a raw log stopped, a frame cut off) of one push of it all.
                let mut whole = DefmtLog::new(&table);
                assert_eq!(lines, whole.push(&bytes));
                assert_eq!(log.warnings(), whole.warnings());
            }
        }
    }

    #[test]
    fn a_frame_cut_off_at_the_end_is_reported() {
        for (encoding, frame) in HELLO {
            let table = table(encoding);
            let mut log = DefmtLog::new(&table);
            assert_eq!(log.push(&[frame, &frame[..2]].concat()).len(), 1);
            assert_eq!(
                log.warnings(),
                [format!(
                    "the defmt channel ended inside a frame: its last 2 bytes (from channel offset {}) are not shown",
                    frame.len()
                )]
            );
        }
    }
}
