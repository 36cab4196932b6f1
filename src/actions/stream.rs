//! Writing a formatted event to the action's stream: one `write` call with a str made without a decoding pass, and
//! the rows a broken pipe left in the stream's buffer thrown away.

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyString;

use super::options::Options;

/// `stream.write(text)`. On a pipe whose reader is gone, the rows still buffered in the stream are thrown away
/// first (see [`drop_buffered_rows`]); the error goes to the caller.
pub(super) fn write(options: &Options, text: Bound<'_, PyString>) -> PyResult<()> {
    let py = text.py();
    match options.write.bind(py).call1((text,)) {
        Ok(_) => Ok(()),
        Err(error) => {
            if error.is_instance_of::<pyo3::exceptions::PyBrokenPipeError>(py) {
                let _ = drop_buffered_rows(options.stream.bind(py));
            }
            Err(error)
        }
    }
}

/// `PyString::new`, without CPython's UTF-8 decoding pass for the (usual) ASCII text.
pub(super) fn new_py_string<'py>(py: Python<'py>, text: &str) -> Bound<'py, PyString> {
    let length = ffi::Py_ssize_t::try_from(text.len()).expect("a row fits in memory");
    // SAFETY: attached (`py`). PyUnicode_New(length, 127) makes a compact ASCII str with room for `length` one-byte
    // characters at PyUnicode_DATA, which `copy_if_ascii` fills; a string that turns out not ASCII is released without
    // being read.
    unsafe {
        let string = ffi::PyUnicode_New(length, 127);
        if string.is_null() {
            // Out of memory: let the regular path report it.
            ffi::PyErr_Clear();
            return PyString::new(py, text);
        }
        // An ASCII string made by PyUnicode_New(.., 127) stores one byte per character after its header.
        let string = Bound::from_owned_ptr(py, string).cast_into_unchecked();
        if copy_if_ascii(text.as_bytes(), ffi::PyUnicode_DATA(string.as_ptr()).cast::<u8>()) {
            return string;
        }
    }
    super::text::to_py(py, text).unwrap_or_else(|| PyString::new(py, text))
}

/// Copies `source` to `target` a word at a time, and tells whether it was all ASCII: one pass over the row
/// instead of a check, then a copy.
///
/// # Safety
/// `target` must be valid for `source.len()` bytes of writes.
unsafe fn copy_if_ascii(source: &[u8], target: *mut u8) -> bool {
    const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
    let mut seen = 0u64;
    let mut words = source.chunks_exact(8);
    let mut offset = 0;
    for word in words.by_ref() {
        let word = u64::from_ne_bytes(word.try_into().expect("8 bytes"));
        seen |= word;
        // SAFETY: `offset + 8 <= source.len()` (a whole chunk), and `target` is writable for `source.len()` bytes (the
        // caller's contract).
        unsafe { target.add(offset).cast::<u64>().write_unaligned(word) };
        offset += 8;
    }
    for &byte in words.remainder() {
        seen |= u64::from(byte);
        // SAFETY: `offset < source.len()`, and `target` is writable for `source.len()` bytes (the caller's contract).
        unsafe { *target.add(offset) = byte };
        offset += 1;
    }
    seen & HIGH_BITS == 0
}

/// Flushes what `stream` (whose pipe's reader is gone) still buffers into the null device, then gives its file
/// descriptor back its pipe: the interpreter's final flush of the stream then has none of the rows left to fail on
/// (hunter's `... | head` exits with status 120 for them), and the program's own next write fails as it would
/// untraced (a program that stops at its broken pipe must not write into the null device for ever).
fn drop_buffered_rows(stream: &Bound<'_, PyAny>) -> PyResult<()> {
    let py = stream.py();
    let os = crate::compat::import(py, "os")?;
    let fileno = stream.call_method0("fileno")?;
    let pipe = os.call_method1("dup", (&fileno,))?;
    let flushed = os.call_method1("open", (os.getattr("devnull")?, os.getattr("O_WRONLY")?)).and_then(|null| {
        let flushed = os.call_method1("dup2", (&null, &fileno)).and_then(|_| stream.call_method0("flush"));
        let closed = os.call_method1("close", (null,));
        flushed.and(closed)
    });
    let restored = os.call_method1("dup2", (&pipe, &fileno));
    let closed = os.call_method1("close", (pipe,));
    flushed.and(restored).and(closed).map(drop)
}
