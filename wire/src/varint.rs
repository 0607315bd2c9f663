//! Unsigned LEB128 varints, the encoding of every event argument in the format.

/// Longest encoding of a `u64`.
pub const MAX_LEN: usize = 10;

/// Why a varint could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum VarintError {
    /// The input ended before the last byte of the varint.
    Truncated,
    /// More than ten bytes, or a tenth byte that does not fit in 64 bits.
    Overflow,
}

impl core::fmt::Display for VarintError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            VarintError::Truncated => "varint truncated: the input ended inside it",
            VarintError::Overflow => "varint overflows a 64-bit integer",
        })
    }
}

impl core::error::Error for VarintError {}

/// Encodes `value` into `out`, returning the number of bytes written (all of them: `MAX_LEN`
/// bytes hold any `u64`).
#[inline]
pub fn encode(value: u64, out: &mut [u8; MAX_LEN]) -> usize {
    put(out, 0, value)
}

/// Writes `value` into `buf` at `pos` (as much of it as fits), returning the position after it.
/// A buffer too short gets the varint cut, with nothing to say so: a caller that cannot size its
/// buffer for [`MAX_LEN`] checks that the position returned is `pos + encoded_len(value)`.
/// Not inlined, and not generic over the buffer: on a device, one copy serves every writer (the
/// encoder's batches and batch headers, the firmware's records).
#[inline(never)]
pub fn put(buf: &mut [u8], mut pos: usize, mut value: u64) -> usize {
    while let Some(byte) = buf.get_mut(pos) {
        pos += 1;
        if value < 0x80 {
            *byte = value as u8;
            break;
        }
        *byte = value as u8 | 0x80;
        value >>= 7;
    }
    pos
}

/// Number of bytes `encode` writes for `value`.
#[inline]
pub const fn encoded_len(value: u64) -> usize {
    let bits = 64 - (value | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Decodes a varint from the start of `input`, returning the value and the bytes consumed.
#[inline]
pub fn decode(input: &[u8]) -> Result<(u64, usize), VarintError> {
    let mut value = 0u64;
    for (i, &byte) in input.iter().enumerate() {
        // The tenth byte holds the top bit alone, and ends the varint whatever it is.
        if i == MAX_LEN - 1 && byte > 1 {
            return Err(VarintError::Overflow);
        }
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte < 0x80 {
            return Ok((value, i + 1));
        }
    }
    Err(VarintError::Truncated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_boundaries() {
        for v in [
            0,
            1,
            127,
            128,
            16383,
            16384,
            u32::MAX as u64,
            u64::MAX - 1,
            u64::MAX,
        ] {
            let mut buf = [0; MAX_LEN];
            let n = encode(v, &mut buf);
            assert_eq!(n, encoded_len(v), "length of {v}");
            assert_eq!(decode(&buf[..n]), Ok((v, n)), "value {v}");
        }
    }

    #[test]
    fn put_writes_at_its_position_and_stops_at_the_end() {
        for v in [0, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            let mut b = [0xaa; MAX_LEN + 2];
            let n = encoded_len(v);
            assert_eq!(put(&mut b, 1, v), 1 + n, "value {v}");
            assert_eq!(b[0], 0xaa, "nothing before it");
            assert_eq!(decode(&b[1..]), Ok((v, n)), "value {v}");
            assert_eq!(b[1 + n..], [0xaa; MAX_LEN + 2][1 + n..], "nothing after it");
        }
        let mut b = [0; 2];
        assert_eq!(put(&mut b, 0, 300), 2);
        assert_eq!(b, [0xac, 0x02], "300 in Go's bytes");
        let mut short = [0; 2];
        assert_eq!(put(&mut short, 0, 300), 2);
        assert_eq!(put(&mut short, 1, 300), 2, "cut at the end of the buffer");
    }

    /// Go's runtime reserves ten bytes for a batch's size and fills them in later, so a value
    /// may come padded with continuation bytes; it must read as the same value.
    #[test]
    fn reads_padded_encodings() {
        let padded = [0x85, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00];
        assert_eq!(decode(&padded), Ok((5, MAX_LEN)));
        assert_eq!(decode(&[0x80, 0x00, 0x7f]), Ok((0, 2)));
    }

    #[test]
    fn errors_say_what_went_wrong() {
        extern crate std;
        use std::string::ToString;
        assert_eq!(
            VarintError::Truncated.to_string(),
            "varint truncated: the input ended inside it"
        );
        assert_eq!(
            VarintError::Overflow.to_string(),
            "varint overflows a 64-bit integer"
        );
    }

    #[test]
    fn rejects_truncated_and_overlong() {
        assert_eq!(decode(&[0x80, 0x80]), Err(VarintError::Truncated));
        assert_eq!(decode(&[]), Err(VarintError::Truncated));
        assert_eq!(decode(&[0xff; 10]), Err(VarintError::Overflow));
        assert_eq!(
            decode(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02]),
            Err(VarintError::Overflow)
        );
    }
}
