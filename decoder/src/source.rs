//! The byte stream under the reader: buffered, counting its offset (for error locations), and
//! reading varints with exactly the failure modes of Go's `binary.ReadUvarint`, whose error texts
//! end up inside Go's messages ("error reading batch gen: unexpected EOF").

use std::io::{self, BufRead, BufReader, Read};

/// Why a varint could not be read from the stream.
#[derive(Debug)]
pub(crate) enum VarintError {
    /// The stream ended before the first byte.
    Eof,
    /// The stream ended inside the varint.
    UnexpectedEof,
    /// More than 64 bits.
    Overflow,
    Io(io::Error),
}

impl VarintError {
    /// Go's text for the error.
    pub(crate) fn go_text(&self) -> String {
        match self {
            VarintError::Eof => "EOF".to_string(),
            VarintError::UnexpectedEof => "unexpected EOF".to_string(),
            VarintError::Overflow => "binary: varint overflows a 64-bit integer".to_string(),
            VarintError::Io(e) => e.to_string(),
        }
    }
}

/// Go's `binary.ReadUvarint` over any byte supplier: at most ten bytes, the tenth at most 1.
fn read_uvarint_from(mut next: impl FnMut() -> io::Result<Option<u8>>) -> Result<u64, VarintError> {
    let mut value = 0u64;
    for i in 0..gotrace_wire::varint::MAX_LEN {
        let byte = match next() {
            Ok(Some(byte)) => byte,
            Ok(None) if i == 0 => return Err(VarintError::Eof),
            Ok(None) => return Err(VarintError::UnexpectedEof),
            Err(e) => return Err(VarintError::Io(e)),
        };
        if byte < 0x80 {
            if i == gotrace_wire::varint::MAX_LEN - 1 && byte > 1 {
                return Err(VarintError::Overflow);
            }
            return Ok(value | u64::from(byte) << (7 * i));
        }
        value |= u64::from(byte & 0x7f) << (7 * i);
    }
    Err(VarintError::Overflow)
}

/// A batch payload read like Go's `bytes.Reader`, for the tables (strings, stacks, samples).
pub(crate) struct SliceReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> SliceReader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        SliceReader { data, pos: 0 }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    /// Offset of the next byte in the payload.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn read_byte(&mut self) -> Option<u8> {
        let byte = self.data.get(self.pos).copied();
        if byte.is_some() {
            self.pos += 1;
        }
        byte
    }

    #[inline]
    pub(crate) fn read_uvarint(&mut self) -> Result<u64, VarintError> {
        // Most table entries' fields fit in one byte.
        if let Some(&byte) = self.data.get(self.pos).filter(|&&b| b < 0x80) {
            self.pos += 1;
            return Ok(u64::from(byte));
        }
        read_uvarint_from(|| Ok(self.read_byte()))
    }

    /// Up to `n` bytes, fewer at the end of the payload.
    pub(crate) fn read_up_to(&mut self, n: usize) -> &'a [u8] {
        let rest = self.data.get(self.pos..).unwrap_or_default();
        let taken = rest.get(..n).unwrap_or(rest);
        self.pos += taken.len();
        taken
    }
}

pub(crate) struct Source<R> {
    inner: BufReader<R>,
    offset: u64,
}

impl<R: Read> Source<R> {
    pub(crate) fn new(inner: R) -> Self {
        Source {
            inner: BufReader::with_capacity(64 << 10, inner),
            offset: 0,
        }
    }

    pub(crate) fn get_ref(&self) -> &R {
        self.inner.get_ref()
    }

    pub(crate) fn get_mut(&mut self) -> &mut R {
        self.inner.get_mut()
    }

    /// Bytes consumed so far.
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// The next byte, or `None` at the end of the stream.
    pub(crate) fn read_byte(&mut self) -> io::Result<Option<u8>> {
        loop {
            match self.inner.fill_buf() {
                Ok(buf) => {
                    let Some(&byte) = buf.first() else {
                        return Ok(None);
                    };
                    self.inner.consume(1);
                    self.offset += 1;
                    return Ok(Some(byte));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The bytes buffered and not yet consumed (none read for it).
    #[inline]
    pub(crate) fn buffered(&self) -> &[u8] {
        self.inner.buffer()
    }

    /// Consumes `n` of the [`Source::buffered`] bytes.
    #[inline]
    pub(crate) fn consume(&mut self, n: usize) {
        self.inner.consume(n);
        self.offset += n as u64;
    }

    /// Reads a varint the way Go's `binary.ReadUvarint` does.
    pub(crate) fn read_uvarint(&mut self) -> Result<u64, VarintError> {
        // A varint whole in the buffer is decoded there, without a call per byte (a device's
        // trace has a batch header every 200 bytes or so); the rest, and every failure, byte by
        // byte as Go reads it.
        if let Ok((value, len)) = gotrace_wire::varint::decode(self.inner.buffer()) {
            self.inner.consume(len);
            self.offset += len as u64;
            return Ok(value);
        }
        read_uvarint_from(|| self.read_byte())
    }

    /// Appends up to `n` bytes to `out`, fewer only at the end of the stream; returns how many.
    pub(crate) fn read_up_to(&mut self, n: usize, out: &mut Vec<u8>) -> io::Result<usize> {
        if let Some(bytes) = self.inner.buffer().get(..n) {
            out.extend_from_slice(bytes);
            self.inner.consume(n);
            self.offset += n as u64;
            return Ok(n);
        }
        let before = out.len();
        let read = self.inner.by_ref().take(n as u64).read_to_end(out);
        let got = out.len() - before;
        self.offset += got as u64;
        read.map(|_| got)
    }
}

/// For tests: a fixed pseudo-random sequence from `seed`, each number below the bound asked.
#[cfg(test)]
pub(crate) fn numbers_below(seed: u64) -> impl FnMut(u64) -> u64 {
    let mut state = seed;
    move |below| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % below
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(bytes: &[u8]) -> Result<u64, String> {
        Source::new(bytes).read_uvarint().map_err(|e| e.go_text())
    }

    #[test]
    fn varints_fail_like_gos_read_uvarint() {
        assert_eq!(varint(&[0x96, 0x01]), Ok(150));
        assert_eq!(varint(&[]), Err("EOF".into()));
        assert_eq!(varint(&[0x80]), Err("unexpected EOF".into()));
        assert_eq!(
            varint(&[0xff; 10]),
            Err("binary: varint overflows a 64-bit integer".into())
        );
        let mut max = [0xff; 10];
        max[9] = 1;
        assert_eq!(varint(&max), Ok(u64::MAX));
        max[9] = 2;
        assert!(varint(&max).is_err());
    }

    #[test]
    fn offset_counts_consumed_bytes() {
        let mut source = Source::new(&[1u8, 2, 3, 4, 5][..]);
        assert_eq!(source.read_byte().unwrap(), Some(1));
        // Appended to what `out` holds (a batch's payload goes after the others in one arena).
        let mut out = vec![9];
        assert_eq!(source.read_up_to(10, &mut out).unwrap(), 4);
        assert_eq!(out, [9, 2, 3, 4, 5]);
        assert_eq!(source.offset(), 5);
        assert_eq!(source.read_byte().unwrap(), None);
    }

    /// A stream that hands out a few bytes per `read` (how many is a function of the position,
    /// so every reader of it sees the same chunks), stops a chunk at each of `interrupts` and
    /// at `fail_at`, and at them returns, once each, `Interrupted` and a hard error.
    struct Chunked {
        data: Vec<u8>,
        pos: usize,
        chunk: fn(usize) -> usize,
        interrupts: Vec<usize>,
        fail_at: Option<usize>,
    }

    impl Read for Chunked {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if let Some(i) = self.interrupts.iter().position(|&at| at == self.pos) {
                self.interrupts.swap_remove(i);
                return Err(io::ErrorKind::Interrupted.into());
            }
            if self.fail_at == Some(self.pos) {
                self.fail_at = None;
                return Err(io::Error::other("device unplugged"));
            }
            // A chunk never runs past a pending interruption or failure.
            let stop = (self.interrupts.iter().copied())
                .chain(self.fail_at)
                .filter(|&at| at > self.pos)
                .fold(self.data.len(), usize::min);
            let n = (self.chunk)(self.pos).min(buf.len()).min(stop - self.pos);
            buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    /// What one read did: its value or Go's error text, and the offset after it.
    type Outcome = (Result<Vec<u64>, String>, u64);

    /// The plain path: every varint and every byte through `read_byte`, as Go reads them.
    fn byte_by_byte(source: &mut Source<Chunked>, op: Op) -> Outcome {
        let result = match op {
            Op::Varint => read_uvarint_from(|| source.read_byte())
                .map(|v| vec![v])
                .map_err(|e| e.go_text()),
            Op::Bytes(n) => {
                let mut out = Vec::new();
                let mut error = None;
                while out.len() < n {
                    match source.read_byte() {
                        Ok(Some(byte)) => out.push(byte),
                        Ok(None) => break,
                        Err(e) => {
                            error = Some(e.to_string());
                            break;
                        }
                    }
                }
                let read = out.into_iter().map(u64::from).collect();
                match error {
                    None => Ok(read),
                    Some(e) => Err(format!("{read:?}: {e}")),
                }
            }
        };
        (result, source.offset())
    }

    /// The path under test: `read_uvarint` and `read_up_to`.
    fn buffered(source: &mut Source<Chunked>, op: Op) -> Outcome {
        let result = match op {
            Op::Varint => source
                .read_uvarint()
                .map(|v| vec![v])
                .map_err(|e| e.go_text()),
            Op::Bytes(n) => {
                let mut out = Vec::new();
                let got = source.read_up_to(n, &mut out);
                let read: Vec<u64> = out.into_iter().map(u64::from).collect();
                match got {
                    Ok(got) => {
                        assert_eq!(got, read.len());
                        Ok(read)
                    }
                    Err(e) => Err(format!("{read:?}: {e}")),
                }
            }
        };
        (result, source.offset())
    }

    #[derive(Clone, Copy, Debug)]
    enum Op {
        Varint,
        Bytes(usize),
    }

    #[test]
    fn buffered_reads_match_go_byte_by_byte_over_short_reads() {
        // A fixed LCG: the same streams every run.
        let mut next = numbers_below(0x2545_f491_4f6c_dd1d);
        let chunkings: [fn(usize) -> usize; 4] = [
            |_| 1,
            |pos| 1 + pos * 7 % 3,
            |pos| 1 + (pos / 5) % 3,
            // Full buffers but the odd short one, so varints straddle 64 KiB refills.
            |pos| if pos % 3 == 0 { 3 } else { 65_536 },
        ];
        for round in 0..48 {
            // Varints of every length, non-minimal ones, tenth bytes of 0, 1, 2 and 0x80 and
            // more, runs of continuation bytes, and streams that end inside a varint.
            let len = if round % 8 == 7 { 140_000 } else { 600 };
            let mut data = Vec::with_capacity(len);
            while data.len() < len {
                let bytes = 1 + next(11) as usize;
                for i in 0..bytes {
                    let last = i + 1 == bytes && next(8) != 0;
                    let low = next(128) as u8;
                    data.push(match (last, i) {
                        (true, 9) => next(3) as u8,
                        (true, _) => low,
                        (false, _) => low | 0x80,
                    });
                }
            }
            if round % 4 == 1 {
                data.extend_from_slice(&[0x80; 5][..1 + round % 5]);
            }
            let len = data.len() as u64;
            let interrupts = (0..next(4)).map(|_| next(len) as usize).collect::<Vec<_>>();
            let fail_at = (round % 3 == 0).then(|| next(len) as usize);
            let chunk = chunkings[round % chunkings.len()];
            let stream = || Chunked {
                data: data.clone(),
                pos: 0,
                chunk,
                interrupts: interrupts.clone(),
                fail_at,
            };
            let (mut plain, mut tested) = (Source::new(stream()), Source::new(stream()));
            let mut ops = 0;
            loop {
                // Now and then, in the long streams, more bytes than the buffer holds.
                let op = match (next(6), next(400)) {
                    (0, 0) if len > 70_000 => Op::Bytes(65_000 + next(3_000) as usize),
                    (0, _) => Op::Bytes(next(40) as usize),
                    _ => Op::Varint,
                };
                let want = byte_by_byte(&mut plain, op);
                let got = buffered(&mut tested, op);
                assert_eq!(got, want, "round {round}, op {ops} ({op:?})");
                ops += 1;
                if want.0 == Err("EOF".into()) || (want.0 == Ok(Vec::new()) && want.1 == len) {
                    break;
                }
            }
            assert_eq!(plain.offset(), len, "round {round}: read to the end");
        }
    }
}
