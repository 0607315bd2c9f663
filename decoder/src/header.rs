//! The header `go 1.N trace\0\0\0`, read as Go reads it: with `fmt.Fscanf`, whose spaces are
//! Unicode's (Go's `fmt` list, newline excepted) and come in runs: the format's two spaces each
//! match one or more in the input, and `%d` skips any before its digits. Shared by the validating
//! reader and the raw one, which Go both reads with the same function.

/// The UTF-8 forms of the spaces of Go's `fmt` beyond ASCII (U+0085, U+00A0, U+1680,
/// U+2000–U+200A, U+2028, U+2029, U+202F, U+205F, U+3000).
const WIDE_SPACES: [&[u8]; 19] = [
    "\u{85}".as_bytes(),
    "\u{a0}".as_bytes(),
    "\u{1680}".as_bytes(),
    "\u{2000}".as_bytes(),
    "\u{2001}".as_bytes(),
    "\u{2002}".as_bytes(),
    "\u{2003}".as_bytes(),
    "\u{2004}".as_bytes(),
    "\u{2005}".as_bytes(),
    "\u{2006}".as_bytes(),
    "\u{2007}".as_bytes(),
    "\u{2008}".as_bytes(),
    "\u{2009}".as_bytes(),
    "\u{200a}".as_bytes(),
    "\u{2028}".as_bytes(),
    "\u{2029}".as_bytes(),
    "\u{202f}".as_bytes(),
    "\u{205f}".as_bytes(),
    "\u{3000}".as_bytes(),
];

/// Whether `byte` can begin one of Fscanf's spaces (for telling a binary header from text).
pub(crate) fn may_begin_space(byte: u8) -> bool {
    matches!(byte, b'\t' | 0x0b | 0x0c | b'\r' | b' ') || WIDE_SPACES.iter().any(|s| s[0] == byte)
}

/// Reads the header through `next` (the next byte, `None` at the end of the input) and returns
/// its N; `Ok(None)` where Go says "bad file format" (N too large for Go's `uint32` included).
pub(crate) fn read_minor<E>(
    mut next: impl FnMut() -> Result<Option<u8>, E>,
) -> Result<Option<u32>, E> {
    for &expected in b"go" {
        if next()? != Some(expected) {
            return Ok(None);
        }
    }
    // The format's space: at least one in the input.
    let (spaces, byte) = skip_spaces(next()?, &mut next)?;
    if spaces == 0 || byte != Some(b'1') || next()? != Some(b'.') {
        return Ok(None);
    }
    // `%d`: spaces, then decimal digits (no sign for Go's unsigned `Version`).
    let (_, mut byte) = skip_spaces(next()?, &mut next)?;
    let mut minor: u32 = 0;
    let mut digits = 0;
    while let Some(d) = byte.filter(u8::is_ascii_digit) {
        minor = match minor
            .checked_mul(10)
            .and_then(|m| m.checked_add(u32::from(d - b'0')))
        {
            Some(minor) => minor,
            None => return Ok(None),
        };
        digits += 1;
        byte = next()?;
    }
    let (spaces, byte) = skip_spaces(byte, &mut next)?;
    if digits == 0 || spaces == 0 || byte != Some(b't') {
        return Ok(None);
    }
    for &expected in b"race\0\0\0" {
        if next()? != Some(expected) {
            return Ok(None);
        }
    }
    Ok(Some(minor))
}

/// Skips Fscanf's spaces from `byte` on: how many, and the first byte of the rune after them
/// (`None` at the end of the input).
fn skip_spaces<E>(
    mut byte: Option<u8>,
    next: &mut impl FnMut() -> Result<Option<u8>, E>,
) -> Result<(usize, Option<u8>), E> {
    let mut count = 0;
    while let Some(first) = byte {
        let space = if first < 0x80 {
            matches!(first, b'\t' | 0x0b | 0x0c | b'\r' | b' ')
        } else {
            let width = match first {
                0xc0..=0xdf => 2,
                0xe0..=0xef => 3,
                _ => 1,
            };
            let mut rune = [first, 0, 0];
            for b in &mut rune[1..width] {
                // A rune cut short, or followed by anything, is no space, and no part of the
                // header matches its first byte.
                *b = next()?.unwrap_or(0);
            }
            WIDE_SPACES.contains(&&rune[..width])
        };
        if !space {
            break;
        }
        count += 1;
        byte = next()?;
    }
    Ok((count, byte))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minor(bytes: &[u8]) -> Option<u32> {
        let mut bytes = bytes.iter().copied();
        read_minor(|| Ok::<_, ()>(bytes.next())).unwrap()
    }

    #[test]
    fn reads_headers_as_fscanf_does() {
        assert_eq!(minor(b"go 1.22 trace\0\0\0"), Some(22));
        // Runs of spaces, of every kind of Go's but newline, where the format has one, and
        // before the digits.
        assert_eq!(minor(b"go  1.22 trace\0\0\0"), Some(22));
        assert_eq!(minor(b"go\t\x0b\x0c\r1.22 trace\0\0\0"), Some(22));
        assert_eq!(minor(b"go 1. \t022  trace\0\0\0"), Some(22));
        assert_eq!(
            minor("go\u{3000}1.23\u{a0}\u{2009}trace\0\0\0".as_bytes()),
            Some(23)
        );
        assert_eq!(
            minor("go 1.\u{85}25\u{205f}trace\0\0\0".as_bytes()),
            Some(25)
        );
        // A space required, newline is none, nor are other runes, whole or cut short.
        for bad in [
            &b"go1.22 trace\0\0\0"[..],
            b"go 1.22trace\0\0\0",
            b"go\n1.22 trace\0\0\0",
            b"go 1.22\ntrace\0\0\0",
            b"go 1.\n22 trace\0\0\0",
            b"go 1.22\r\ntrace\0\0\0",
            "go 1.22\u{200b}trace\0\0\0".as_bytes(),
            b"go 1.22\xc2",
            b"go 1.22\xe2\x80trace\0\0\0",
            b"go 1.+22 trace\0\0\0",
            b"go 1. trace\0\0\0",
            b"go 1.4294967318 trace\0\0\0",
            b"go 1.22 trace\0\0",
            b"go 1.22 ",
        ] {
            assert_eq!(minor(bad), None, "{bad:?}");
        }
        assert_eq!(minor(b"go 1.4294967295 trace\0\0\0"), Some(u32::MAX));
    }
}
