//! Go's string quoting (`strconv.Quote` / `strconv.Unquote`), the form of a `String` event's data
//! in the text format. Data are bytes, not necessarily UTF-8: invalid bytes are written as `\xNN`.
//!
//! Quoting is the validating reader's exact `%q` (`crate::quote`, Go's `unicode.IsPrint` to
//! the code point), so the text form prints strings as Go does; unquoting, here, is exact in any
//! case, so the text form always converts back to the same bytes.

/// Quotes `data` as Go's `strconv.Quote(string(data))` does.
pub fn quote(data: &[u8]) -> String {
    crate::quote::go_quote(data)
}

/// Why a quoted string could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid syntax")]
pub struct UnquoteError;

/// Reads a Go string literal (`"..."` with escapes, or `` `...` ``) back into its bytes.
pub fn unquote(literal: &str) -> Result<Vec<u8>, UnquoteError> {
    if let Some(raw) = literal.strip_prefix('`').and_then(|s| s.strip_suffix('`')) {
        if raw.contains('`') {
            return Err(UnquoteError);
        }
        return Ok(raw.bytes().filter(|&b| b != b'\r').collect());
    }
    let body = literal
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .ok_or(UnquoteError)?;
    let mut out = Vec::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' | '\n' => return Err(UnquoteError),
            '\\' => unescape(&mut chars, &mut out)?,
            _ => {
                let mut buf = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    Ok(out)
}

fn unescape(chars: &mut std::str::Chars<'_>, out: &mut Vec<u8>) -> Result<(), UnquoteError> {
    let byte = match chars.next().ok_or(UnquoteError)? {
        'a' => 0x07,
        'b' => 0x08,
        'f' => 0x0c,
        'n' => b'\n',
        'r' => b'\r',
        't' => b'\t',
        'v' => 0x0b,
        '\\' => b'\\',
        '"' => b'"',
        'x' => hex(chars, 2)? as u8,
        first @ '0'..='7' => {
            let mut value = first as u32 - '0' as u32;
            for _ in 0..2 {
                let digit = chars
                    .next()
                    .and_then(|c| c.to_digit(8))
                    .ok_or(UnquoteError)?;
                value = value * 8 + digit;
            }
            u8::try_from(value).map_err(|_| UnquoteError)?
        }
        kind @ ('u' | 'U') => {
            let digits = if kind == 'u' { 4 } else { 8 };
            let c = char::from_u32(hex(chars, digits)?).ok_or(UnquoteError)?;
            let mut buf = [0; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            return Ok(());
        }
        _ => return Err(UnquoteError),
    };
    out.push(byte);
    Ok(())
}

fn hex(chars: &mut std::str::Chars<'_>, digits: usize) -> Result<u32, UnquoteError> {
    let mut value = 0u32;
    for _ in 0..digits {
        let digit = chars
            .next()
            .and_then(|c| c.to_digit(16))
            .ok_or(UnquoteError)?;
        value = value.checked_mul(16).ok_or(UnquoteError)? + digit;
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unquote_inverts_quote() {
        let samples: [&[u8]; 5] = [
            b"plain",
            b"a\"b\\c\n\t\x00\x7f\x07\x08\x0b\x0c\r",
            b"\xff\xe2\x82A",
            "é€😀\u{200b}\u{f0000}".as_bytes(),
            b"",
        ];
        for data in samples {
            assert_eq!(unquote(&quote(data)).as_deref(), Ok(data), "{data:?}");
        }
    }

    #[test]
    fn unquote_reads_go_escapes_and_rejects_bad_ones() {
        assert_eq!(
            unquote(r#""\101\x41\u0041\U00000041""#),
            Ok(b"AAAA".to_vec())
        );
        assert_eq!(unquote("`raw\\n`"), Ok(b"raw\\n".to_vec()));
        for bad in [
            r#""\400""#,
            r#""\q""#,
            r#""abc"#,
            r#""a"b""#,
            r#""\ud800""#,
            "'a'",
            "",
        ] {
            assert_eq!(unquote(bad), Err(UnquoteError), "{bad}");
        }
    }
}
