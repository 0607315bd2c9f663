//! Go's text form converted to the binary form as it is read, for a reader that streams it.
//!
//! A text trace handed to `gotrace validate` or `events` is read as a binary one is, a
//! generation at a time: converted a chunk at a time as the reader asks for bytes, never held
//! whole. Its errors are still named by line: the converter keeps, for each event it wrote, the
//! line it came from, for as far back as a reader of the binary form can still report an error,
//! and forgets older ones (see [`READER_LAG`]): a generation or so, two bytes an event.

use std::collections::VecDeque;
use std::io::{self, BufRead, Read};

use gotrace_wire::{EventType, MAX_BATCH_SIZE};

use super::{ConvertError, LineMap, TextReader, Writer};

/// How much binary form is converted ahead of the reader at a time.
const CHUNK: usize = 64 << 10;

/// How far beyond the start of the generation after the one it reports errors in a reader may
/// have taken bytes: its buffer (64 KiB, the validating reader's and the raw reader's) beyond
/// the whole first batch of that next generation (a header and a payload of at most
/// [`MAX_BATCH_SIZE`]), which the validating reader reads to find where a generation ends
/// before it validates it. So a reader that has taken `taken` bytes reports no error before
/// the generation that holds byte `taken - READER_LAG`: lines are kept from its start.
pub(crate) const READER_LAG: u64 = (64 << 10) + MAX_BATCH_SIZE + 64;

/// Go's text form read as the binary form, converted as it is read.
pub struct TextToBinary<R> {
    text: TextReader<R>,
    /// The binary form converted and not yet read out, from `writer`'s byte `read_out` on.
    writer: Writer<Vec<u8>>,
    read_out: usize,
    /// Offset in the binary form of the writer's first byte: bytes read out before it.
    base: u64,
    /// The line of each event of the binary form, for as far back as an error may be reported.
    lines: LineMap,
    /// The offset where each generation's batches begin, for those `lines` still covers.
    generation_starts: VecDeque<u64>,
    last_generation: Option<u64>,
    /// Where the batch being written ends by its header's size: an `EventBatch` line before it is
    /// payload to a reader, which frames batches by their sizes, not by the text's lines.
    batch_end: u64,
    ended: bool,
    /// Why the text stopped converting: reads fail once the bytes before it are read out.
    failure: Option<ConvertError>,
    /// Whether a read has failed for it: a reader that stopped before (at an error of its own in
    /// the bytes before) has not met it.
    failure_met: bool,
}

impl<R: BufRead> TextToBinary<R> {
    /// Reads the header line of `text` and writes the binary header.
    pub fn new(text: R) -> Result<Self, ConvertError> {
        let text = TextReader::new(text)?;
        let writer = Writer::new(Vec::with_capacity(CHUNK), text.version())?;
        Ok(TextToBinary {
            text,
            writer,
            read_out: 0,
            base: 0,
            lines: LineMap::default(),
            generation_starts: VecDeque::new(),
            last_generation: None,
            batch_end: 0,
            ended: false,
            failure: None,
            failure_met: false,
        })
    }

    /// The lines of the events a reader of the binary form may still report an error at.
    pub fn lines(&self) -> &LineMap {
        &self.lines
    }

    /// Why the text could not be converted to its end, once a read has met it: a reader of the
    /// binary form sees only an I/O error there.
    pub fn failure(&self) -> Option<&ConvertError> {
        self.failure.as_ref().filter(|_| self.failure_met)
    }

    /// Converts the next chunk, once the last one is read out.
    fn refill(&mut self) {
        let out = self.writer.get_mut();
        self.base += out.len() as u64;
        out.clear();
        self.read_out = 0;
        self.forget_lines_behind(self.base);
        while !self.ended && self.failure.is_none() && self.writer.get_ref().len() < CHUNK {
            match self.convert_event() {
                Ok(more) => self.ended = !more,
                Err(failure) => self.failure = Some(failure),
            }
        }
    }

    /// Converts one event; `false` at the end of the text.
    fn convert_event(&mut self) -> Result<bool, ConvertError> {
        let Some(event) = self.text.read_event()? else {
            return Ok(false);
        };
        let offset = self.base + self.writer.get_ref().len() as u64;
        self.lines.push(offset, self.text.event_line());
        self.writer.write_event(&event)?;
        if event.typ == EventType::EVENT_BATCH && offset >= self.batch_end {
            let header_end = self.base + self.writer.get_ref().len() as u64;
            let size = event.args.get(3).copied().unwrap_or(0);
            self.batch_end = header_end.saturating_add(size);
            let generation = event.args.first().copied();
            if generation != self.last_generation {
                self.generation_starts.push_back(offset);
                self.last_generation = generation;
            }
        }
        Ok(true)
    }

    /// Forgets the lines no reader that has taken `taken` bytes can report an error at: those
    /// before the start of the generation that holds byte `taken - READER_LAG`.
    fn forget_lines_behind(&mut self, taken: u64) {
        let Some(horizon) = taken.checked_sub(READER_LAG) else {
            return;
        };
        // Lines before the first generation start kept are forgotten already.
        let begun = self
            .generation_starts
            .partition_point(|&start| start <= horizon);
        if begun <= 1 {
            return;
        }
        self.generation_starts.drain(..begun - 1);
        if let Some(&keep_from) = self.generation_starts.front() {
            self.lines.forget_before(keep_from);
        }
    }
}

impl<R: BufRead> Read for TextToBinary<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.read_out == self.writer.get_ref().len() {
            self.refill();
        }
        let pending = &self.writer.get_ref()[self.read_out..];
        if pending.is_empty() {
            if let Some(failure) = &self.failure {
                self.failure_met = true;
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("the text form stops converting here: {failure}"),
                ));
            }
        }
        let n = pending.len().min(buf.len());
        buf[..n].copy_from_slice(&pending[..n]);
        self.read_out += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A text trace of `generations` generations of `batches` batches of `events` `GoStart`s
    /// each (not valid as a trace: the converter does not judge it).
    fn text(generations: u64, batches: u64, events: u64) -> String {
        let mut text = String::from("Trace Go1.22\n");
        for generation in 1..=generations {
            for m in 0..batches {
                text += &format!(
                    "EventBatch gen={generation} m={m} time=1 size={}\n",
                    events * 4
                );
                for g in 0..events {
                    text += &format!("GoStart dt=1 g={} g_seq=1\n", 10 + g % 100);
                }
            }
        }
        text
    }

    #[test]
    fn converts_as_text_to_binary_does() {
        let text = text(5, 3, 2000);
        let mut streamed = Vec::new();
        TextToBinary::new(text.as_bytes())
            .unwrap()
            .read_to_end(&mut streamed)
            .unwrap();
        assert_eq!(
            streamed,
            super::super::text_to_binary(text.as_bytes()).unwrap()
        );
    }

    #[test]
    fn holds_a_chunk_and_the_lines_of_two_generations_however_long_the_text() {
        // 40 generations of 3 × 2000 events, about 24 KB of binary each: 1 MB in all.
        let text = text(40, 3, 2000);
        let mut converter = TextToBinary::new(text.as_bytes()).unwrap();
        let mut buf = [0u8; 4096];
        let (mut total, mut most_lines, mut most_held) = (0, 0, 0);
        loop {
            let n = converter.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            total += n;
            most_lines = most_lines.max(converter.lines.held_bytes());
            most_held = most_held.max(converter.writer.get_ref().capacity());
        }
        assert!(total > 900_000, "{total} bytes");
        // Lines kept, two bytes an event: the lag (about 130 KB, 5.4 generations) with the
        // generation it begins in and the chunk converted ahead (2.7 generations), 6003 events
        // each, never the whole text's 240,120.
        let per_generation = 3 * 2001;
        assert!(
            most_lines <= 2 * 10 * per_generation,
            "{most_lines} bytes of lines kept"
        );
        assert!(most_held <= 2 * CHUNK, "{most_held} bytes held");
    }

    #[test]
    fn names_the_line_of_an_error_as_far_back_as_a_reader_can_report_one() {
        let text = text(40, 3, 2000);
        let mut converter = TextToBinary::new(text.as_bytes()).unwrap();
        let mut buf = vec![0u8; 1 << 20];
        let mut taken = 0;
        while taken < 600_000 {
            taken += converter.read(&mut buf[..4096]).unwrap();
        }
        // Every event from READER_LAG behind what was taken on names its line: each event line
        // is "GoStart" after its batch's header line.
        let binary = super::super::text_to_binary(text.as_bytes()).unwrap();
        let mut reader = super::super::Reader::new(&binary[..]).unwrap();
        let (mut line, mut checked) = (1, 0);
        loop {
            let offset = reader.offset();
            let Some(_) = reader.read_event().unwrap() else {
                break;
            };
            line += 1;
            // Every 101st: a look-up walks the window from its start.
            if offset + READER_LAG >= taken as u64 && offset < taken as u64 && line % 101 == 0 {
                assert_eq!(converter.lines().line_of(offset), Some(line), "at {offset}");
                checked += 1;
            }
        }
        assert!(checked > 300, "{checked} events checked");
    }

    #[test]
    fn a_batch_header_inside_a_batch_by_its_size_starts_no_generation() {
        // The first batch's size takes in the `gen=2` header, as a reader frames it: to the
        // reader it is all one generation, whose first lines must be kept (a generation start
        // taken from the text's lines had them forgotten, the error named by offset).
        let mut text = String::from(
            "Trace Go1.22\nEventBatch gen=1 m=0 time=1 size=9\nProcStatus dt=1 p=0 pstatus=9\n\
             EventBatch gen=2 m=0 time=1 size=0\nEventBatch gen=1 m=1 time=1000 size=60000\n",
        );
        for _ in 0..100_000 {
            text += "HeapAlloc dt=1 heapalloc_value=1\n";
        }
        let mut converter = TextToBinary::new(text.as_bytes()).unwrap();
        let mut out = Vec::new();
        converter.read_to_end(&mut out).unwrap();
        assert!(out.len() as u64 > 2 * READER_LAG, "{} bytes", out.len());
        assert_eq!(converter.generation_starts.len(), 1);
        assert_eq!(converter.lines().line_of(21), Some(3));
    }

    #[test]
    fn a_bad_line_is_read_out_to_the_event_before_it_then_fails() {
        let good = text(1, 1, 3);
        let bad = format!("{good}GoStart dt=1 g=x g_seq=1\n");
        let mut converter = TextToBinary::new(bad.as_bytes()).unwrap();
        // Converted ahead, the bad line is not yet the reader's: its first read has the bytes
        // before it.
        let mut out = vec![0; 16];
        converter.read_exact(&mut out).unwrap();
        assert!(converter.failure().is_none());
        let error = converter.read_to_end(&mut out).unwrap_err();
        assert_eq!(out, super::super::text_to_binary(good.as_bytes()).unwrap());
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        let failure = converter
            .failure()
            .expect("the failure is kept")
            .to_string();
        assert!(failure.starts_with("line 6: "), "{failure}");
        assert!(error.to_string().ends_with(&failure), "{error}");
    }
}
