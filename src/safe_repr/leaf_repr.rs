//! `repr()` of the most common exact builtin values (`None`, `bool`, `int`, `float`, `str`, `bytes`,
//! `bytearray`), written in Rust with CPython's exact rules. The printers render thousands of these per second;
//! going through `PyObject_Repr` would build a Python string per value only to copy it out again, and for a
//! huge text would escape all of it when only its two ends are shown.

use std::fmt::Write as _;

use pyo3::ffi;
use pyo3::prelude::*;

use crate::gilcell::{cache_slot, GilRefCell};

/// A value whose repr can be produced natively.
pub enum Leaf<'a> {
    /// The whole repr, ready (`None`, `True`, numbers).
    Text(ShortText),
    /// A str, bytes or bytearray: its repr is rendered on demand, in pieces (see [`QuotedRepr`]).
    Quoted(QuotedRepr<'a>),
}

/// Classifies `obj` by its exact type; `None` when its repr must come from Python. A `Quoted` leaf reads the
/// object's storage, so it must be rendered before any Python code runs (which could resize a bytearray).
#[inline]
pub fn leaf<'a>(obj: &'a Bound<'_, PyAny>, quote_choices: &mut QuoteChoices) -> Option<Leaf<'a>> {
    let ptr = obj.as_ptr();
    // SAFETY: `obj` is a live object (a `Bound`), so its type pointer can be read.
    let ty = unsafe { ffi::Py_TYPE(ptr) };
    let mut text = ShortText::default();
    // SAFETY: Py_None only takes the address of the None singleton.
    if ptr == unsafe { ffi::Py_None() } {
        text.push_str("None");
    } else if ty == &raw mut ffi::PyBool_Type {
        // SAFETY: Py_True only takes the address of the True singleton.
        text.push_str(if ptr == unsafe { ffi::Py_True() } { "True" } else { "False" });
    } else if ty == &raw mut ffi::PyLong_Type {
        let mut overflow = 0;
        // SAFETY: an exact int (its type compared above), attached (`obj.py()`); an exact int has no `__index__`, so
        // this runs no Python code.
        let value = unsafe { ffi::PyLong_AsLongLongAndOverflow(ptr, &mut overflow) };
        // SAFETY: attached; only reads the thread's current exception.
        if overflow != 0 || (value == -1 && unsafe { !ffi::PyErr_Occurred().is_null() }) {
            // SAFETY: attached; clears the error the conversion just set, if any.
            unsafe { ffi::PyErr_Clear() };
            return None;
        }
        text.push_str(int_text(value, &mut [0; 20]));
    } else if ty == &raw mut ffi::PyFloat_Type {
        // SAFETY: an exact float (its type compared above), so the object has `PyFloatObject`'s layout.
        return float_repr(obj.py(), unsafe { ffi::PyFloat_AS_DOUBLE(ptr) }).map(Leaf::Text);
    } else if ty == &raw mut ffi::PyUnicode_Type {
        return str_units(ptr).map(|units| Leaf::Quoted(QuotedRepr::new(ptr, units, QuotedKind::Str, quote_choices)));
    } else if ty == &raw mut ffi::PyBytes_Type {
        // SAFETY: an exact bytes object, whose `size` bytes live (unchanged) as long as `obj` holds it.
        let bytes = unsafe {
            std::slice::from_raw_parts(ffi::PyBytes_AsString(ptr).cast::<u8>(), ffi::PyBytes_Size(ptr) as usize)
        };
        return Some(Leaf::Quoted(QuotedRepr::new(ptr, Units::Bytes(bytes), QuotedKind::Bytes, quote_choices)));
    } else if ty == &raw mut ffi::PyByteArray_Type {
        // SAFETY: an exact bytearray, whose buffer holds `size` bytes (a static empty string when it has none);
        // the buffer moves only when Python code resizes it, and none runs while the leaf is in use (see above).
        let bytes = unsafe {
            std::slice::from_raw_parts(ffi::PyByteArray_AsString(ptr).cast::<u8>(), ffi::PyByteArray_Size(ptr) as usize)
        };
        return Some(Leaf::Quoted(QuotedRepr::new(ptr, Units::Bytes(bytes), QuotedKind::ByteArray, quote_choices)));
    } else {
        return None;
    }
    Some(Leaf::Text(text))
}

/// The decimal form of `value`, written into `buffer` (without the formatting machinery: this runs for
/// every int and line number shown).
pub fn int_text(value: i64, buffer: &mut [u8; 20]) -> &str {
    let mut start = buffer.len();
    let mut rest = value.unsigned_abs();
    loop {
        start -= 1;
        buffer[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if value < 0 {
        start -= 1;
        buffer[start] = b'-';
    }
    // SAFETY: only ASCII digits and '-' were written.
    unsafe { std::str::from_utf8_unchecked(&buffer[start..]) }
}

/// The longest piece [`copy_short`] copies itself.
pub const SHORT: usize = 16;

/// Copies `source` (at most [`SHORT`] bytes) to `target`, as two possibly overlapping words (or bytes).
///
/// # Safety
/// `target` must be valid for `source.len()` bytes of writes.
#[inline(always)]
pub unsafe fn copy_short(source: &[u8], target: *mut u8) {
    let (from, len) = (source.as_ptr(), source.len());
    debug_assert!(len <= SHORT);
    // SAFETY: every read lies in `source[..len]` (two words, or three bytes, ending by `len`) and every write in
    // `target[..len]`, which the caller guarantees is writable; unaligned accesses are used throughout.
    unsafe {
        if len >= 8 {
            let (first, last) = (from.cast::<u64>().read_unaligned(), from.add(len - 8).cast::<u64>().read_unaligned());
            target.cast::<u64>().write_unaligned(first);
            target.add(len - 8).cast::<u64>().write_unaligned(last);
        } else if len >= 4 {
            let (first, last) = (from.cast::<u32>().read_unaligned(), from.add(len - 4).cast::<u32>().read_unaligned());
            target.cast::<u32>().write_unaligned(first);
            target.add(len - 4).cast::<u32>().write_unaligned(last);
        } else if len > 0 {
            // Not a loop, which the compiler would turn into a call to `memcpy`.
            *target = *from;
            *target.add(len / 2) = *from.add(len / 2);
            *target.add(len - 1) = *from.add(len - 1);
        }
    }
}

/// How many float reprs [`float_repr`] keeps.
const FLOAT_REPR_SLOTS: usize = 1024;

/// Recently shown floats' reprs, by their bits: programs show the same values over and over (a record passed
/// down a chain of calls), and finding the shortest digits costs more than the rest of the value. An empty
/// text marks an empty slot (no float's repr is empty).
static FLOAT_REPRS: GilRefCell<[(u64, ShortText); FLOAT_REPR_SLOTS]> =
    GilRefCell::new([const { (0, ShortText { bytes: [0; 32], len: 0 }) }; FLOAT_REPR_SLOTS]);

/// `repr(value)`, from the cache when it is there; None where CPython must decide (see [`push_float_repr`]).
fn float_repr(py: Python<'_>, value: f64) -> Option<ShortText> {
    let bits = value.to_bits();
    let slot = cache_slot::<FLOAT_REPR_SLOTS>(bits);
    let cached = FLOAT_REPRS.with_mut(py, |slots| {
        let (cached_bits, text) = &slots[slot];
        (*cached_bits == bits && text.len > 0).then(|| text.clone())
    });
    if cached.is_some() {
        return cached;
    }
    let mut text = ShortText::default();
    push_float_repr(&mut text, value)?;
    FLOAT_REPRS.with_mut(py, |slots| slots[slot] = (bits, text.clone()));
    Some(text)
}

/// A small inline text buffer (the longest float or 64-bit int repr is 24 bytes).
#[derive(Default, Clone)]
pub struct ShortText {
    bytes: [u8; 32],
    len: usize,
}

impl ShortText {
    fn push_str(&mut self, text: &str) {
        let target = &mut self.bytes[self.len..self.len + text.len()];
        if text.len() <= SHORT {
            // SAFETY: `target` has room for the text.
            unsafe { copy_short(text.as_bytes(), target.as_mut_ptr()) };
        } else {
            target.copy_from_slice(text.as_bytes());
        }
        self.len += text.len();
    }

    /// Appends an ASCII byte.
    fn push_byte(&mut self, byte: u8) {
        self.bytes[self.len] = byte;
        self.len += 1;
    }

    pub fn as_str(&self) -> &str {
        // SAFETY: only whole `&str`s are ever copied in, so the bytes are valid UTF-8.
        unsafe { std::str::from_utf8_unchecked(&self.bytes[..self.len]) }
    }
}

impl std::fmt::Write for ShortText {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        if self.len + text.len() > self.bytes.len() {
            return Err(std::fmt::Error);
        }
        self.push_str(text);
        Ok(())
    }
}

/// `float.__repr__`: the shortest digits that round-trip, the closest to the value when several do (as
/// CPython's dtoa picks them), laid out as CPython's `'r'` format does: positional for exponents -4..=15,
/// else `d.ddde±XX`.
#[inline(never)]
fn push_float_repr(out: &mut ShortText, value: f64) -> Option<()> {
    if value.is_nan() {
        out.push_str("nan");
        return Some(());
    }
    if value.is_infinite() {
        out.push_str(if value < 0.0 { "-inf" } else { "inf" });
        return Some(());
    }
    let magnitude = value.abs();
    let mut ryu_buffer = ryu::Buffer::new();
    let shortest = ryu_buffer.format_finite(magnitude);
    if let Some((exponent, digit_count)) = positional_shape(shortest) {
        // Ryū writes exponents -5..=15 positionally like CPython, which writes only -4..=15 so.
        if exponent >= -4 && !may_tie(magnitude, exponent, digit_count) {
            if value.is_sign_negative() {
                out.push_str("-");
            }
            out.push_str(shortest);
            return Some(());
        }
    }
    let mut digits = ShortText::default();
    let mut exponent = significant_digits(shortest, &mut digits);
    // Ryū's shortest form has the right number of digits, but when two candidates of that length
    // round-trip it may pick the other one of a tie; CPython picks the correctly rounded one. That one
    // round-trips whenever any does, except in rare cases at a power of two, left to CPython (None).
    if may_tie(magnitude, exponent, digits.len) {
        let mut rounded = ShortText::default();
        let _ = write!(rounded, "{magnitude:.precision$e}", precision = digits.len - 1);
        let mut rounded_digits = ShortText::default();
        let rounded_exponent = significant_digits(rounded.as_str(), &mut rounded_digits);
        if (rounded_digits.as_str(), rounded_exponent) != (digits.as_str(), exponent) {
            if rounded.as_str().parse::<f64>() != Ok(magnitude) {
                return None;
            }
            (digits, exponent) = (rounded_digits, rounded_exponent);
        }
    }
    let digits = digits.as_str();
    if value.is_sign_negative() {
        out.push_str("-");
    }
    if !(-4..16).contains(&exponent) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push_str(".");
            out.push_str(&digits[1..]);
        }
        let _ = write!(out, "e{}{:02}", if exponent < 0 { '-' } else { '+' }, exponent.unsigned_abs());
    } else if exponent < 0 {
        out.push_str("0.");
        for _ in 0..(-exponent - 1) {
            out.push_str("0");
        }
        out.push_str(digits);
    } else {
        let integer_digits = exponent as usize + 1;
        if digits.len() > integer_digits {
            out.push_str(&digits[..integer_digits]);
            out.push_str(".");
            out.push_str(&digits[integer_digits..]);
        } else {
            out.push_str(digits);
            for _ in digits.len()..integer_digits {
                out.push_str("0");
            }
            out.push_str(".0");
        }
    }
    Some(())
}

/// For an unsigned decimal written positionally (`123.45`, `0.001`, `1000.0`), the decimal exponent of
/// its first significant digit and how many significant digits it has; `None` for other forms.
fn positional_shape(text: &str) -> Option<(i32, usize)> {
    let bytes = text.as_bytes();
    let point = bytes.iter().position(|&byte| byte == b'.')?;
    if bytes.contains(&b'e') {
        return None;
    }
    let significant_end = bytes.iter().rposition(|&byte| byte != b'0' && byte != b'.').map_or(0, |last| last + 1);
    if bytes[0] != b'0' {
        let digits = significant_end - usize::from(significant_end > point);
        return Some((point as i32 - 1, digits));
    }
    let first = bytes.iter().position(|&byte| byte != b'0' && byte != b'.')?;
    Some((point as i32 - first as i32, significant_end - first))
}

/// Reads an unsigned decimal (`123.45`, `0.001`, `1e16`, `1.5e-7`, as Ryū or `{:e}` write them) into its
/// significant digits, without leading or trailing zeros (`0` for zero), and returns the decimal exponent
/// of the first one.
fn significant_digits(text: &str, digits: &mut ShortText) -> i32 {
    let bytes = text.as_bytes();
    let mut mantissa_digits = 0;
    let mut integer_digits = None;
    let mut leading_zeros = 0;
    let mut exponent = 0;
    for (index, &byte) in bytes.iter().enumerate() {
        match byte {
            b'.' => integer_digits = Some(mantissa_digits),
            b'e' => {
                exponent =
                    std::str::from_utf8(&bytes[index + 1..]).ok().and_then(|e| e.parse().ok()).expect("an exponent");
                break;
            }
            b'0' if digits.len == 0 => leading_zeros += 1,
            _ => digits.push_byte(byte),
        }
        if byte != b'.' {
            mantissa_digits += 1;
        }
    }
    while digits.len > 0 && digits.bytes[digits.len - 1] == b'0' {
        digits.len -= 1;
    }
    if digits.len == 0 {
        digits.push_str("0");
        return 0;
    }
    integer_digits.unwrap_or(mantissa_digits) - 1 + exponent - leading_zeros
}

/// Whether two `digit_count`-digit decimals can be equally close to `value` (`exponent` is its decimal
/// exponent). Two candidates of one length both round-tripping needs 16 digits or more (shorter ones are
/// further apart than the values that round to one double); an exact tie also needs the exact binary
/// value to end one digit after them: `m * 2**k` with odd `m` and `k < 0` has exactly `-k` decimals.
fn may_tie(value: f64, exponent: i32, digit_count: usize) -> bool {
    if digit_count < 16 {
        return false;
    }
    let bits = value.to_bits();
    let biased_exponent = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1 << 52) - 1);
    let (mantissa, binary_exponent) =
        if biased_exponent == 0 { (fraction, -1074) } else { (fraction | (1 << 52), biased_exponent - 1075) };
    if mantissa == 0 {
        return false;
    }
    let binary_exponent = binary_exponent + mantissa.trailing_zeros() as i32;
    // Significant digits of the exact value: its decimals (-k) plus the digits before the point.
    binary_exponent >= 0 || (exponent + 1 - binary_exponent) as usize <= digit_count + 1
}

/// Which type a [`QuotedRepr`] shows, which decides the text around the quotes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum QuotedKind {
    Str,
    Bytes,
    ByteArray,
}

/// The stored code units of a text shown by [`QuotedRepr`].
#[derive(Clone, Copy)]
enum Units<'a> {
    /// The contents of a `bytes` or `bytearray`, or an ASCII str (whose repr escapes each byte as a bytes
    /// repr does: both show control characters and DEL as `\xNN`).
    Bytes(&'a [u8]),
    /// A non-ASCII str's code points, in the width CPython stores them in (PEP 393).
    Latin1(&'a [u8]),
    Ucs2(&'a [u16]),
    Ucs4(&'a [u32]),
}

/// `repr()` of a `str`, `bytes` or `bytearray`, producible in pieces from either end, so that a bounded renderer
/// can stop after the part it keeps instead of escaping a huge text whole. Only the choice of quote depends
/// on the whole text (see [`QuotedRepr::new`]); everything else is computed for the pieces asked for.
pub struct QuotedRepr<'a> {
    units: Units<'a>,
    kind: QuotedKind,
    quote: u8,
    /// The quote character escaped in the body: the quote, except for bytearray, whose repr always escapes `'`.
    escaped_quote: u8,
    /// The body when it is known to be the text itself (checked for short ASCII texts only).
    literal_body: Option<&'a str>,
}

/// Code units escaped per piece; also the longest text whose need for escapes is checked up front.
const CHUNK: usize = 256;

/// What [`QuotedRepr`] needs to know about each byte of a short text, as bit flags.
const SINGLE_QUOTE: u8 = 1;
const DOUBLE_QUOTE: u8 = 2;
/// Escaped whatever the quote: control characters, DEL, the backslash and (bytes) non-ASCII.
const ESCAPED: u8 = 4;
static BYTE_CLASS: [u8; 256] = {
    let mut classes = [0; 256];
    let mut byte = 0;
    while byte < 256 {
        classes[byte] = match byte as u8 {
            b'\'' => SINGLE_QUOTE,
            b'"' => DOUBLE_QUOTE,
            b'\\' | 0x7f.. | ..b' ' => ESCAPED,
            _ => 0,
        };
        byte += 1;
    }
    classes
};

extern "C" {
    /// `Py_UNICODE_ISPRINTABLE`, by which `str.__repr__` decides which non-ASCII characters to escape: the
    /// function that documented macro expands to (declared in `cpython/unicodeobject.h`, exported from 3.9 on).
    /// Reads only CPython's static Unicode tables.
    fn _PyUnicode_IsPrintable(ch: ffi::Py_UCS4) -> std::ffi::c_int;
}

/// The code units of an exact str; None for a string that is not ready (3.9 to 3.11 only), left to Python.
///
/// Portable mode reads only what the public macros give (kind, data, length: functions from 3.14 on, where pyo3 no
/// longer models the header): an ASCII string is then read as Latin-1, which renders the same, a little slower.
#[inline(always)]
fn str_units<'a>(ptr: *mut ffi::PyObject) -> Option<Units<'a>> {
    #[cfg(not(hunter_portable))]
    // SAFETY: the caller checked that `ptr` is an exact str. A compact ASCII one (most strings; a string that is
    // not ready is not marked ASCII) stores its `length` bytes right behind its `PyASCIIObject` header.
    unsafe {
        if ffi::PyUnicode_IS_COMPACT_ASCII(ptr) != 0 {
            let data = ptr.cast::<ffi::PyASCIIObject>().add(1).cast::<u8>();
            return Some(Units::Bytes(std::slice::from_raw_parts(data, ffi::PyUnicode_GET_LENGTH(ptr) as usize)));
        }
    }
    // SAFETY: the caller checked that `ptr` is an exact str, so its header is a `PyASCIIObject`.
    #[cfg(not(Py_3_12))]
    if unsafe { ffi::PyUnicode_IS_READY(ptr) } == 0 {
        return None;
    }
    // SAFETY: a ready str (every str from 3.12 on): its kind, length and data are set, and the data holds
    // `length` units of the kind's width, aligned for it (CPython's allocations are), for as long as the caller
    // holds the string. A str never changes once made.
    unsafe {
        let (data, length) = (ffi::PyUnicode_DATA(ptr), ffi::PyUnicode_GET_LENGTH(ptr) as usize);
        Some(match ffi::PyUnicode_KIND(ptr) {
            #[cfg(not(hunter_portable))]
            _ if ffi::PyUnicode_IS_ASCII(ptr) != 0 => Units::Bytes(std::slice::from_raw_parts(data.cast(), length)),
            ffi::PyUnicode_1BYTE_KIND => Units::Latin1(std::slice::from_raw_parts(data.cast(), length)),
            ffi::PyUnicode_2BYTE_KIND => Units::Ucs2(std::slice::from_raw_parts(data.cast(), length)),
            ffi::PyUnicode_4BYTE_KIND => Units::Ucs4(std::slice::from_raw_parts(data.cast(), length)),
            _ => return None,
        })
    }
}

/// CPython's quote rule for str and bytes alike: `"` when the text has `'` and no `"`, else `'`. Found with
/// one scan for the two quotes (which stops at the first `"`).
fn prefers_double_quote(units: Units<'_>) -> bool {
    match units {
        Units::Bytes(bytes) | Units::Latin1(bytes) => match memchr::memchr2(b'"', b'\'', bytes) {
            Some(first) if bytes[first] == b'\'' => memchr::memchr(b'"', &bytes[first + 1..]).is_none(),
            _ => false,
        },
        Units::Ucs2(units) => wide_prefers_double_quote(units),
        Units::Ucs4(units) => wide_prefers_double_quote(units),
    }
}

/// The quote choices of the long texts that the passes of one rendering met (a clipped text takes two or three
/// passes), so that each is scanned once. A text is known by its object and storage, which stay as they are while
/// the rendering holds the value (no Python code that could change a bytearray runs during it).
#[derive(Default)]
pub struct QuoteChoices(Vec<(TextIdentity, bool)>);

#[derive(PartialEq, Eq)]
struct TextIdentity {
    object: usize,
    data: usize,
    units: usize,
}

impl QuoteChoices {
    /// How many texts are remembered (the passes meet a few long texts each: those at the ends of the text).
    const CAPACITY: usize = 16;

    fn prefers_double_quote(&mut self, obj: *mut ffi::PyObject, units: Units<'_>) -> bool {
        let (data, length) = match units {
            Units::Bytes(units) | Units::Latin1(units) => (units.as_ptr() as usize, units.len()),
            Units::Ucs2(units) => (units.as_ptr() as usize, units.len()),
            Units::Ucs4(units) => (units.as_ptr() as usize, units.len()),
        };
        let identity = TextIdentity { object: obj as usize, data, units: length };
        if let Some((_, double)) = self.0.iter().find(|(known, _)| *known == identity) {
            return *double;
        }
        let double = prefers_double_quote(units);
        if self.0.len() < Self::CAPACITY {
            self.0.push((identity, double));
        }
        double
    }
}

/// [`prefers_double_quote`] for 2- and 4-byte units, a block at a time (a branch-free loop per block).
fn wide_prefers_double_quote<T: Copy + Into<u32>>(units: &[T]) -> bool {
    let mut single = false;
    for block in units.chunks(CHUNK) {
        let (has_single, has_double) = block.iter().fold((false, false), |(single, double), &unit| {
            let unit: u32 = unit.into();
            (single | (unit == u32::from(b'\'')), double | (unit == u32::from(b'"')))
        });
        if has_double {
            return false;
        }
        single |= has_single;
    }
    single
}

/// Calls `put` with the pieces of `units` from the front (or the back), until it returns false.
fn each_chunk<T>(units: &[T], backward: bool, put: impl FnMut(&[T]) -> bool) {
    if backward {
        units.rchunks(CHUNK).all(put);
    } else {
        units.chunks(CHUNK).all(put);
    }
}

/// Appends `\x`, `\u` or `\U` (`marker`) and `value` in `digits` lowercase hex digits.
fn push_hex_escape(out: &mut String, marker: char, value: u32, digits: u32) {
    out.push('\\');
    out.push(marker);
    for digit in (0..digits).rev() {
        out.push(char::from(b"0123456789abcdef"[(value >> (4 * digit)) as usize & 0xf]));
    }
}

impl<'a> QuotedRepr<'a> {
    #[inline(always)]
    fn new(obj: *mut ffi::PyObject, units: Units<'a>, kind: QuotedKind, quote_choices: &mut QuoteChoices) -> Self {
        let quote_of = |double_quoted| if double_quoted { b'"' } else { b'\'' };
        let escaped_quote_of = |quote| if kind == QuotedKind::ByteArray { b'\'' } else { quote };
        let (quote, literal_body) = match units {
            // A short text is classified whole in one pass, which also tells whether it needs escapes.
            Units::Bytes(bytes) | Units::Latin1(bytes) if bytes.len() <= CHUNK => {
                let class = bytes.iter().fold(0, |class, &byte| class | BYTE_CLASS[byte as usize]);
                let quote = quote_of(class & SINGLE_QUOTE != 0 && class & DOUBLE_QUOTE == 0);
                let escaped_quote_class = if escaped_quote_of(quote) == b'"' { DOUBLE_QUOTE } else { SINGLE_QUOTE };
                let literal = class & (ESCAPED | escaped_quote_class) == 0;
                // SAFETY: without escaped bytes the text is ASCII, which is valid UTF-8.
                (quote, literal.then(|| unsafe { std::str::from_utf8_unchecked(bytes) }))
            }
            _ => (quote_of(quote_choices.prefers_double_quote(obj, units)), None),
        };
        QuotedRepr { units, kind, quote, escaped_quote: escaped_quote_of(quote), literal_body }
    }

    /// The quote character, as a text.
    pub fn quote(&self) -> &'static str {
        if self.quote == b'"' {
            "\""
        } else {
            "'"
        }
    }

    /// The text before the opening quote (`b`, `bytearray(b`; empty for a str).
    pub fn before_quotes(&self) -> &'static str {
        match self.kind {
            QuotedKind::Str => "",
            QuotedKind::Bytes => "b",
            QuotedKind::ByteArray => "bytearray(b",
        }
    }

    /// The text after the closing quote (`)` for a bytearray; else empty).
    pub fn after_quotes(&self) -> &'static str {
        if self.kind == QuotedKind::ByteArray {
            ")"
        } else {
            ""
        }
    }

    /// The body when it is the text itself.
    pub fn literal_body(&self) -> Option<&'a str> {
        self.literal_body
    }

    /// The escaped body, in pieces of at most [`CHUNK`] code units from the front (`backward = false`) or
    /// from the back; `put` gets each piece and whether it is ASCII, and returns false to stop early.
    pub fn escaped_body_chunks(&self, backward: bool, mut put: impl FnMut(&str, bool) -> bool) {
        let mut escaped = String::new();
        match self.units {
            Units::Bytes(bytes) => each_chunk(bytes, backward, |chunk| {
                if chunk.iter().fold(true, |literal, &byte| literal & self.is_literal(byte)) {
                    // SAFETY: literal bytes are printable ASCII, which is valid UTF-8.
                    return put(unsafe { std::str::from_utf8_unchecked(chunk) }, true);
                }
                escaped.clear();
                for &byte in chunk {
                    self.push_escaped_byte(&mut escaped, byte);
                }
                put(&escaped, true)
            }),
            Units::Latin1(units) => self.code_point_chunks(units, backward, &mut escaped, &mut put),
            Units::Ucs2(units) => self.code_point_chunks(units, backward, &mut escaped, &mut put),
            Units::Ucs4(units) => self.code_point_chunks(units, backward, &mut escaped, &mut put),
        }
    }

    fn code_point_chunks<T: Copy + Into<u32>>(
        &self,
        units: &[T],
        backward: bool,
        escaped: &mut String,
        put: &mut impl FnMut(&str, bool) -> bool,
    ) {
        each_chunk(units, backward, |chunk| {
            escaped.clear();
            let ascii = chunk.iter().fold(true, |ascii, &unit| self.push_code_point(escaped, unit.into()) & ascii);
            put(escaped, ascii)
        });
    }

    /// Whether the byte stands for itself in the repr.
    fn is_literal(&self, byte: u8) -> bool {
        (b' '..0x7f).contains(&byte) && byte != b'\\' && byte != self.escaped_quote
    }

    /// A byte of a bytes repr, or an ASCII character of a str repr.
    fn push_escaped_byte(&self, out: &mut String, byte: u8) {
        match byte {
            b'\\' => out.push_str("\\\\"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            byte if byte == self.escaped_quote => {
                out.push('\\');
                out.push(byte as char);
            }
            byte if !(b' '..0x7f).contains(&byte) => push_hex_escape(out, 'x', byte.into(), 2),
            byte => out.push(byte as char),
        }
    }

    /// A character of a str repr (as `unicode_repr` writes it); returns whether what it wrote is ASCII.
    fn push_code_point(&self, out: &mut String, code_point: u32) -> bool {
        if code_point < 0x80 {
            self.push_escaped_byte(out, code_point as u8);
            return true;
        }
        // SAFETY: a pure function of its argument, on CPython's static tables.
        if unsafe { _PyUnicode_IsPrintable(code_point) } != 0 {
            // Lone surrogates are never printable, so this is always a char.
            if let Some(character) = char::from_u32(code_point) {
                out.push(character);
                return false;
            }
        }
        match code_point {
            0x80..=0xff => push_hex_escape(out, 'x', code_point, 2),
            0x100..=0xffff => push_hex_escape(out, 'u', code_point, 4),
            _ => push_hex_escape(out, 'U', code_point, 8),
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pyo3::types::PyFloat;

    fn native_repr(obj: &Bound<'_, PyAny>) -> Option<String> {
        Some(match leaf(obj, &mut QuoteChoices::default())? {
            Leaf::Text(text) => text.as_str().to_owned(),
            Leaf::Quoted(repr) => {
                let mut body = String::new();
                repr.escaped_body_chunks(false, |chunk, ascii| {
                    assert_eq!(chunk.is_ascii(), ascii, "a chunk is ASCII as said");
                    body.push_str(chunk);
                    true
                });
                let mut reversed = Vec::new();
                repr.escaped_body_chunks(true, |chunk, _| {
                    reversed.push(chunk.to_owned());
                    true
                });
                reversed.reverse();
                assert_eq!(reversed.concat(), body, "both directions give the same body");
                if let Some(literal) = repr.literal_body() {
                    assert_eq!(literal, body, "a literal body needs no escaping");
                }
                let quote = repr.quote();
                format!("{}{quote}{body}{quote}{}", repr.before_quotes(), repr.after_quotes())
            }
        })
    }

    fn check(obj: &Bound<'_, PyAny>) {
        let expected = obj.repr().unwrap().to_string();
        assert_eq!(native_repr(obj).as_deref(), Some(expected.as_str()), "repr of {expected}");
    }

    /// Floats may decline (None) in rare cases, which CPython then renders; returns whether it did.
    fn check_float(value: &Bound<'_, PyAny>) -> bool {
        let expected = value.repr().unwrap().to_string();
        match native_repr(value) {
            Some(native) => {
                assert_eq!(native, expected);
                false
            }
            None => true,
        }
    }

    #[test]
    fn floats_match_python() {
        Python::attach(|py| {
            let mut declined = 0;
            let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
            let mut next = || {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state
            };
            let special = [
                0.0,
                -0.0,
                1.0,
                -1.5,
                0.1,
                1e-4,
                1e-5,
                1.5e-5,
                1e15,
                1e16,
                1.5e16,
                123456789012345.6,
                1e300,
                5e-324,
                f64::MAX,
                f64::MIN_POSITIVE,
                f64::NAN,
                f64::INFINITY,
                f64::NEG_INFINITY,
                9007199254740993.0,
            ];
            for value in special {
                check(PyFloat::new(py, value).as_any());
            }
            for _ in 0..200_000 {
                let value = f64::from_bits(next());
                declined += usize::from(check_float(PyFloat::new(py, value).as_any()));
                // Values with few digits and moderate exponents, where the layout rules matter.
                let round = (next() % 2_000_001) as f64 / 1000.0 * 10f64.powi((next() % 40) as i32 - 20);
                declined += usize::from(check_float(PyFloat::new(py, round).as_any()));
                // Full-precision values in the positional range, like `random.random() * 10**k`.
                let unit = (next() >> 11) as f64 / (1u64 << 53) as f64;
                let positional = unit * 10f64.powi((next() % 22) as i32 - 5);
                declined += usize::from(check_float(PyFloat::new(py, positional).as_any()));
            }
            assert!(declined < 150, "{declined} of 600000 floats left to CPython");
        });
    }

    #[test]
    fn ints_strings_and_constants_match_python() {
        Python::attach(|py| {
            for expr in [
                "None",
                "True",
                "False",
                "0",
                "-1",
                "2**63 - 1",
                "-2**63",
                "''",
                "'plain'",
                "\"it's\"",
                "'both \\' and \"'",
                "'tab\\tnl\\nret\\rbs\\\\ nul\\x00 del\\x7f esc\\x1b'",
                "'x' * 1000 + \"'\"",
                "'\\'' * 300 + '\"'",
                "'\\'' * 300 + 'é\\x85'",
                "'é\\xa0\\xad\\x80\\x9f\\xff'",
                "'\\u4e2d\\u2028\\ufeff\\ud800\\udfff\"' * 100",
                "'\\U0001f600\\U000e0001\\U0010ffff\\x00\\n\\''",
                "b''",
                "bytearray()",
                "bytes(range(256)) * 3",
                "bytearray(range(256))",
                "b\"it's\"",
                "bytearray(b\"it's\") * 100",
                "b'both \\' and \"'",
            ] {
                let code = std::ffi::CString::new(expr).unwrap();
                check(&py.eval(&code, None, None).unwrap());
            }
            for expr in ["2**64", "1j", "type('B', (bytes,), {})(b'x')", "type('S', (str,), {})('x')"] {
                let code = std::ffi::CString::new(expr).unwrap();
                assert!(native_repr(&py.eval(&code, None, None).unwrap()).is_none(), "{expr} goes through Python");
            }
        });
    }

    #[test]
    fn every_code_point_and_byte_matches_python() {
        Python::attach(|py| {
            // Every code point of each storage width, quotes and lone surrogates included, in one string per
            // width and quote mix (the quote depends on the whole string), and every byte value.
            for expr in [
                "''.join(map(chr, range(256)))",
                "''.join(map(chr, range(256))).replace('\"', '')",
                "''.join(map(chr, range(0x10000)))",
                "''.join(map(chr, range(0x10000))).replace('\"', '')",
                "''.join(map(chr, range(0x110000)))",
                "''.join(map(chr, range(0x110000))).replace('\"', '')",
                "''.join(map(chr, range(0x80, 0x110000))) + \"'\"",
                "bytes(range(256))",
                "bytes(range(256)).replace(b'\"', b'')",
                "bytearray(range(256)).replace(b'\"', b'')",
            ] {
                let code = std::ffi::CString::new(expr).unwrap();
                check(&py.eval(&code, None, None).unwrap());
            }
        });
    }
}
