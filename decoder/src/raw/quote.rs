//! Go's string quoting (`strconv.Quote` / `strconv.Unquote`), the form of a `String` event's data
//! in the text format. Data are bytes, not necessarily UTF-8: invalid bytes are written as `\xNN`.
//!
//! Printability follows Go's `unicode.IsPrint` exactly for ASCII, the Latin-1 range and the
//! formatting, private-use and space characters; other non-ASCII characters are taken as printable
//! (Go would escape unassigned code points, which real traces do not contain). Unquoting is exact
//! in any case, so the text form always converts back to the same bytes.

use std::fmt::Write;

/// Quotes `data` as Go's `strconv.Quote(string(data))` does.
pub fn quote(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len() + 2);
    out.push('"');
    for chunk in data.utf8_chunks() {
        for c in chunk.valid().chars() {
            escape_char(c, &mut out);
        }
        for byte in chunk.invalid() {
            let _ = write!(out, "\\x{byte:02x}");
        }
    }
    out.push('"');
    out
}

fn escape_char(c: char, out: &mut String) {
    match c {
        '"' | '\\' => {
            out.push('\\');
            out.push(c);
        }
        _ if is_print(c) => out.push(c),
        '\x07' => out.push_str("\\a"),
        '\x08' => out.push_str("\\b"),
        '\x0c' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\x0b' => out.push_str("\\v"),
        _ if c < ' ' || c == '\x7f' => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        _ if (c as u32) < 0x10000 => {
            let _ = write!(out, "\\u{:04x}", c as u32);
        }
        _ => {
            let _ = write!(out, "\\U{:08x}", c as u32);
        }
    }
}

/// Go's `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII space.
fn is_print(c: char) -> bool {
    if c.is_ascii() {
        return (' '..='~').contains(&c);
    }
    !(c.is_control() || c.is_whitespace() || is_format(c) || is_private_use(c))
}

/// Unicode category Cf (format characters), which Go escapes.
fn is_format(c: char) -> bool {
    matches!(c as u32,
        0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x890..=0x891 | 0x8E2 | 0x180E
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F | 0xFEFF
        | 0xFFF9..=0xFFFB | 0x110BD | 0x110CD | 0x13430..=0x1343F | 0x1BCA0..=0x1BCA3
        | 0x1D173..=0x1D17A | 0xE0001 | 0xE0020..=0xE007F)
}

/// Unicode category Co (private use) and the noncharacters, which Go escapes.
fn is_private_use(c: char) -> bool {
    let c = c as u32;
    matches!(c, 0xE000..=0xF8FF | 0xF0000..=0x10FFFF) || (c & 0xFFFE) == 0xFFFE
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
    fn quotes_like_go() {
        assert_eq!(quote(b"GC (dedicated)"), r#""GC (dedicated)""#);
        assert_eq!(quote(b"a\"b\\c\n\t\x00\x7f"), r#""a\"b\\c\n\t\x00\x7f""#);
        assert_eq!(quote(b"\xff\xe2\x82A"), r#""\xff\xe2\x82A""#);
        assert_eq!(quote("é€😀".as_bytes()), "\"é€😀\"");
        assert_eq!(
            quote("\u{200b}\u{a0}\u{e000}".as_bytes()),
            r#""\u200b\u00a0\ue000""#
        );
        assert_eq!(quote("\u{f0000}".as_bytes()), r#""\U000f0000""#);
    }

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
