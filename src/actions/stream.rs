//! Writing a formatted event to the action's stream: one `write` call with a str made without a decoding pass, and
//! a broken pipe pointed at the null device.

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyString;

use super::options::Options;

/// `stream.write(text)`. A pipe whose reader is gone is pointed at the null device first, so that the
/// interpreter's final flush of that stream cannot fail again; the error still goes to the caller.
pub(super) fn write(options: &Options, text: Bound<'_, PyString>) -> PyResult<()> {
    let py = text.py();
    match options.write.bind(py).call1((text,)) {
        Ok(_) => Ok(()),
        Err(error) => {
            if error.is_instance_of::<pyo3::exceptions::PyBrokenPipeError>(py) {
                let _ = silence_broken_pipe(options.stream.bind(py));
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

fn silence_broken_pipe(stream: &Bound<'_, PyAny>) -> PyResult<()> {
    let py = stream.py();
    let os = crate::compat::import(py, "os")?;
    let fileno = stream.call_method0("fileno")?;
    let null = os.call_method1("open", (os.getattr("devnull")?, os.getattr("O_WRONLY")?))?;
    os.call_method1("dup2", (&null, fileno))?;
    os.call_method1("close", (null,))?;
    Ok(())
}
