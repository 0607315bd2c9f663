//! A buffered byte source that knows its offset in the file, so every error can say where.

use std::io::{self, ErrorKind, Read};

use gotrace_wire::varint::MAX_LEN;

const BUFFER_SIZE: usize = 64 << 10;

/// What stopped a varint read.
#[derive(Debug)]
pub enum VarintFailure {
    /// The input ended before the first byte.
    Eof,
    /// The input ended inside the varint.
    Truncated,
    /// More than 64 bits.
    Overflow,
    Io(io::Error),
}

pub struct Source<R> {
    inner: R,
    buf: Box<[u8]>,
    pos: usize,
    end: usize,
    /// File offset of `buf[0]`.
    base: u64,
}

impl<R: Read> Source<R> {
    pub fn new(inner: R) -> Self {
        Source {
            inner,
            buf: vec![0; BUFFER_SIZE].into_boxed_slice(),
            pos: 0,
            end: 0,
            base: 0,
        }
    }

    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// Offset of the next byte in the file.
    pub fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Refills the buffer, which its callers have used up; false at the end of the input.
    fn fill(&mut self) -> io::Result<bool> {
        self.base += self.end as u64;
        self.pos = 0;
        self.end = 0;
        loop {
            match self.inner.read(&mut self.buf) {
                Ok(n) => {
                    self.end = n;
                    return Ok(n > 0);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The next byte, or `None` at the end of the input.
    #[inline]
    pub fn byte(&mut self) -> io::Result<Option<u8>> {
        if self.pos == self.end && !self.fill()? {
            return Ok(None);
        }
        let b = self.buf[self.pos];
        self.pos += 1;
        Ok(Some(b))
    }

    /// An unsigned LEB128 varint.
    #[inline]
    pub fn uvarint(&mut self) -> Result<u64, VarintFailure> {
        let mut value = 0u64;
        for i in 0..MAX_LEN {
            let byte = match self.byte() {
                Ok(Some(b)) => b,
                Ok(None) if i == 0 => return Err(VarintFailure::Eof),
                Ok(None) => return Err(VarintFailure::Truncated),
                Err(e) => return Err(VarintFailure::Io(e)),
            };
            if i == MAX_LEN - 1 && byte > 1 {
                return Err(VarintFailure::Overflow);
            }
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte < 0x80 {
                return Ok(value);
            }
        }
        Err(VarintFailure::Overflow)
    }

    /// Appends exactly `len` bytes to `out`; returns how many were there if the input ends first.
    /// The caller bounds `len`, so `out` grows at most by that much.
    pub fn bytes(&mut self, len: usize, out: &mut Vec<u8>) -> io::Result<Result<(), usize>> {
        let mut missing = len;
        while missing > 0 {
            if self.pos == self.end && !self.fill()? {
                return Ok(Err(len - missing));
            }
            let take = missing.min(self.end - self.pos);
            out.extend_from_slice(&self.buf[self.pos..self.pos + take]);
            self.pos += take;
            missing -= take;
        }
        Ok(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out its bytes a few at a time, interrupted before each read.
    struct Dribble<'a> {
        bytes: &'a [u8],
        interrupt: bool,
    }

    impl Read for Dribble<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.interrupt = !self.interrupt;
            if self.interrupt {
                return Err(ErrorKind::Interrupted.into());
            }
            let n = buf.len().min(self.bytes.len()).min(3);
            buf[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            Ok(n)
        }
    }

    fn dribbled(bytes: &[u8]) -> Source<Dribble<'_>> {
        Source::new(Dribble {
            bytes,
            interrupt: false,
        })
    }

    #[test]
    fn varints_are_read_across_refills_to_64_bits() {
        let mut wire = vec![0, 0x7f, 0x80, 0x01, 0xac, 0x02];
        wire.extend([0xff; 9]);
        wire.push(0x01);
        let mut src = dribbled(&wire);
        for want in [0, 127, 128, 300, u64::MAX] {
            assert_eq!(src.uvarint().unwrap(), want);
        }
        assert_eq!(src.offset(), wire.len() as u64);
        assert!(matches!(src.uvarint(), Err(VarintFailure::Eof)));
    }

    #[test]
    fn a_varint_cut_short_or_too_long_is_said_so() {
        assert!(matches!(
            dribbled(&[0x80, 0x80]).uvarint(),
            Err(VarintFailure::Truncated)
        ));
        let mut too_long = [0xff; 10];
        too_long[9] = 0x02;
        assert!(matches!(
            dribbled(&too_long).uvarint(),
            Err(VarintFailure::Overflow)
        ));
    }

    #[test]
    fn bytes_are_read_across_refills_or_counted_where_the_input_ends() {
        let input: Vec<u8> = (0..10).collect();
        let mut src = dribbled(&input);
        let mut out = Vec::new();
        assert_eq!(src.byte().unwrap(), Some(0));
        assert_eq!(src.bytes(7, &mut out).unwrap(), Ok(()));
        assert_eq!(out, [1, 2, 3, 4, 5, 6, 7]);
        out.clear();
        assert_eq!(src.bytes(5, &mut out).unwrap(), Err(2));
        assert_eq!(out, [8, 9]);
        assert_eq!(src.byte().unwrap(), None);
    }

    #[test]
    fn a_failing_read_is_passed_on() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(ErrorKind::ConnectionReset.into())
            }
        }
        let err = Source::new(Broken).byte().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionReset);
    }
}
