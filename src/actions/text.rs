//! Python's string semantics, for text assembled in Rust: lengths and padding count code points,
//! `str.strip()` and `str.splitlines()` use Python's whitespace and line-boundary sets; a str's lone surrogates (what
//! `os.fsdecode` makes of a file name's undecodable bytes) survive the trip through Rust text ([`of_py`],
//! [`to_py`]).

use std::borrow::Cow;

use pyo3::prelude::*;
use pyo3::types::PyString;

/// The first two bytes of the UTF-8 of the code points that stand for lone surrogates in Rust text: U+10F800 to
/// U+10FFFF, the last 2048 code points (private use), one for each surrogate, in order. Their last two bytes are the
/// surrogate's, as `surrogatepass` encodes it after its first byte, 0xED.
const STAND_IN_LEAD: [u8; 2] = [0xF4, 0x8F];

/// The text of `text`, for a row: its lone surrogates as the code points that stand for them (one code point each, as
/// in Python, so that padding counts them as Python does), which [`to_py`] makes surrogates again.
pub fn of_py<'a>(text: &'a Bound<'_, PyString>) -> PyResult<Cow<'a, str>> {
    if let Ok(text) = text.to_str() {
        return Ok(Cow::Borrowed(text));
    }
    let bytes = crate::codeinfo::surrogatepass_bytes(text)?;
    let mut standing_in = Vec::with_capacity(bytes.len() + bytes.len() / 3);
    let mut rest = &bytes[..];
    while let Some(at) = rest.iter().position(|&byte| byte == 0xED) {
        let (before, from) = rest.split_at(at);
        standing_in.extend_from_slice(before);
        // A surrogate: 0xED, then 0xA0 to 0xBF (0x80 to 0x9F make U+D000 to U+D7FF, ordinary code points).
        let surrogate = from.get(1).is_some_and(|second| (0xA0..=0xBF).contains(second));
        standing_in.extend_from_slice(if surrogate { &STAND_IN_LEAD } else { &from[..1] });
        rest = &from[1..];
    }
    standing_in.extend_from_slice(rest);
    Ok(Cow::Owned(String::from_utf8(standing_in).map_err(|error| {
        pyo3::exceptions::PyUnicodeError::new_err(format!("hunter: a str's text could not be read: {error}"))
    })?))
}

/// `text` as a str, the code points that stand for lone surrogates ([`of_py`]) made surrogates again; None when it has
/// none (the usual text: one scan for their first byte).
pub fn to_py<'py>(py: Python<'py>, text: &str) -> Option<Bound<'py, PyString>> {
    let bytes = text.as_bytes();
    let stands_in = |at: usize| {
        bytes.get(at + 1) == Some(&STAND_IN_LEAD[1])
            && bytes.get(at + 2).is_some_and(|third| (0xA0..=0xBF).contains(third))
    };
    let first = bytes.iter().enumerate().position(|(at, &byte)| byte == STAND_IN_LEAD[0] && stands_in(at))?;
    let mut encoded = Vec::with_capacity(bytes.len());
    encoded.extend_from_slice(&bytes[..first]);
    let mut at = first;
    while at < bytes.len() {
        if bytes[at] == STAND_IN_LEAD[0] && stands_in(at) {
            encoded.push(0xED);
            at += 2;
        } else {
            encoded.push(bytes[at]);
            at += 1;
        }
    }
    let decoded = pyo3::types::PyBytes::new(py, &encoded).call_method1("decode", ("utf-8", "surrogatepass"));
    decoded.ok()?.cast_into::<PyString>().ok()
}

/// `len(text)` in Python (code points).
pub fn char_len(text: &str) -> usize {
    if text.is_ascii() {
        text.len()
    } else {
        text.chars().count()
    }
}

/// `f'{text:{width}}'`: left aligned, padded with spaces to `width` code points.
pub fn push_left_aligned(out: &mut String, text: &str, width: usize) {
    out.push_str(text);
    push_spaces(out, width.saturating_sub(char_len(text)));
}

/// `f'{text:>{width}}'`: right aligned.
pub fn push_right_aligned(out: &mut String, text: &str, width: usize) {
    push_spaces(out, width.saturating_sub(char_len(text)));
    out.push_str(text);
}

pub fn push_spaces(out: &mut String, count: usize) {
    const SPACES: &str = "                                                                ";
    let mut left = count;
    while left > 0 {
        let step = left.min(SPACES.len());
        out.push_str(&SPACES[..step]);
        left -= step;
    }
}

/// `str.isspace()` for one character: Rust's White_Space plus the ASCII separators U+001C..U+001F.
fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

/// `text.strip()`.
pub fn strip(text: &str) -> &str {
    text.trim_matches(is_python_space)
}

/// `out[start..] = out[start..].strip()`.
pub fn strip_from(out: &mut String, start: usize) {
    let stripped = strip(&out[start..]);
    let (offset, len) = (stripped.as_ptr() as usize - out[start..].as_ptr() as usize, stripped.len());
    out.truncate(start + offset + len);
    out.drain(start..start + offset);
}

/// `out[start..] = out[start..].rstrip()`.
pub fn rstrip_from(out: &mut String, start: usize) {
    let kept = out[start..].trim_end_matches(is_python_space).len();
    out.truncate(start + kept);
}

/// `text.splitlines()`: splits on `\n`, `\r`, `\r\n`, `\v`, `\f`, `\x1c`-`\x1e`, `\x85`, U+2028, U+2029.
pub fn splitlines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((index, c)) = chars.next() {
        let is_boundary =
            matches!(c, '\n' | '\r' | '\x0b' | '\x0c' | '\x1c' | '\x1d' | '\x1e' | '\u{85}' | '\u{2028}' | '\u{2029}');
        if !is_boundary {
            continue;
        }
        lines.push(&text[start..index]);
        start = index + c.len_utf8();
        if c == '\r' && chars.peek().is_some_and(|&(_, next)| next == '\n') {
            chars.next();
            start += 1;
        }
    }
    if start < text.len() {
        lines.push(&text[start..]);
    }
    lines
}

/// hunter's `[...]` shortening of a filename longer than `alignment`: `'[...]' + filename[5 - alignment:]`.
pub fn push_shortened_filename(out: &mut String, filename: &str, alignment: usize) {
    let length = char_len(filename);
    // Python slice start `5 - alignment`: positive counts from the front, zero or negative from the back.
    let skip = if alignment <= 5 { (5 - alignment).min(length) } else { length.saturating_sub(alignment - 5) };
    let start = if filename.is_ascii() {
        skip
    } else {
        filename.char_indices().nth(skip).map_or(filename.len(), |(index, _)| index)
    };
    out.push_str("[...]");
    out.push_str(&filename[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitlines_matches_python() {
        assert_eq!(splitlines("a\nb\r\nc\rd\x0be\u{2028}f\n"), ["a", "b", "c", "d", "e", "f"]);
        assert_eq!(splitlines(""), Vec::<&str>::new());
        assert_eq!(splitlines("\n"), [""]);
        assert_eq!(splitlines("x\n\ny"), ["x", "", "y"]);
    }

    #[test]
    fn strip_uses_python_whitespace() {
        assert_eq!(strip(" \t\x1c x y\u{3000}\n"), "x y");
    }

    #[test]
    fn filenames_are_shortened_like_python_slices() {
        let shortened = |name: &str, alignment: usize| {
            let mut out = String::from(">");
            push_shortened_filename(&mut out, name, alignment);
            out
        };
        let name = "abcdefghij";
        assert_eq!(shortened(name, 8), ">[...]hij");
        assert_eq!(shortened(name, 5), ">[...]abcdefghij");
        assert_eq!(shortened(name, 3), ">[...]cdefghij");
        assert_eq!(shortened(name, 0), ">[...]fghij");
        assert_eq!(shortened("ééééé", 7), ">[...]éé");
    }

    #[test]
    fn strip_from_keeps_the_prefix() {
        let mut out = String::from(" a  \t x y\u{3000}\n");
        strip_from(&mut out, 2);
        assert_eq!(out, " ax y");
        let mut blank = String::from("a   ");
        strip_from(&mut blank, 1);
        assert_eq!(blank, "a");
    }

    #[test]
    fn rstrip_from_keeps_leading_space() {
        let mut out = String::from("a  b:1 \u{3000} ");
        rstrip_from(&mut out, 1);
        assert_eq!(out, "a  b:1");
    }

    #[test]
    fn padding_counts_code_points() {
        let mut out = String::new();
        push_left_aligned(&mut out, "é", 3);
        push_right_aligned(&mut out, "ü", 2);
        assert_eq!(out, "é   ü");
    }
}
