//! Every CPython version difference (3.9 - 3.13) the native core depends on lives here.
//!
//! All functions take raw pointers the caller guarantees are live and of the stated type, and must be
//! called with the interpreter attached.

use std::os::raw::c_int;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// The leading fields of `PyFrameObject` on 3.9 and 3.10, which have no accessor functions there.
/// The layout is fixed within those minor versions (Include/cpython/frameobject.h).
#[cfg(not(Py_3_11))]
#[repr(C)]
struct FrameHead {
    ob_base: ffi::PyVarObject,
    f_back: *mut ffi::PyObject,
    f_code: *mut ffi::PyObject,
    f_builtins: *mut ffi::PyObject,
    f_globals: *mut ffi::PyObject,
}

/// Borrowed code object of a frame (no reference count traffic on the hot path).
#[inline]
pub unsafe fn frame_code(frame: *mut ffi::PyFrameObject) -> *mut ffi::PyObject {
    #[cfg(Py_3_11)]
    unsafe {
        // PyFrame_GetCode returns a new reference; the frame keeps the code alive.
        let code = ffi::PyFrame_GetCode(frame).cast::<ffi::PyObject>();
        ffi::Py_DECREF(code);
        code
    }
    #[cfg(not(Py_3_11))]
    unsafe {
        (*frame.cast::<FrameHead>()).f_code
    }
}

/// Borrowed globals dict of a frame.
#[inline]
pub unsafe fn frame_globals(frame: *mut ffi::PyFrameObject) -> *mut ffi::PyObject {
    #[cfg(Py_3_11)]
    unsafe {
        let globals = ffi::PyFrame_GetGlobals(frame);
        ffi::Py_DECREF(globals);
        globals
    }
    #[cfg(not(Py_3_11))]
    unsafe {
        (*frame.cast::<FrameHead>()).f_globals
    }
}

#[inline]
pub unsafe fn frame_lineno(frame: *mut ffi::PyFrameObject) -> c_int {
    unsafe { ffi::PyFrame_GetLineNumber(frame) }
}

/// `f_lasti` as a byte offset into `co_code`, the unit Python code sees.
pub fn frame_lasti(frame: &Bound<'_, PyAny>) -> PyResult<isize> {
    #[cfg(Py_3_11)]
    {
        let _ = frame.py();
        Ok(unsafe { ffi::PyFrame_GetLasti(frame.as_ptr().cast()) } as isize)
    }
    #[cfg(not(Py_3_11))]
    {
        frame.getattr(pyo3::intern!(frame.py(), "f_lasti"))?.extract()
    }
}

/// The parent frame, or None.
pub fn frame_back<'py>(frame: &Bound<'py, PyAny>) -> Option<Bound<'py, PyAny>> {
    unsafe {
        let back = ffi::PyFrame_GetBack(frame.as_ptr().cast());
        Bound::from_owned_ptr_or_opt(frame.py(), back.cast())
    }
}

/// `frame.f_locals`: a dict on 3.9 - 3.12, a write-through `FrameLocalsProxy` on 3.13 (PEP 667).
pub fn frame_locals<'py>(frame: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    frame.getattr(pyo3::intern!(frame.py(), "f_locals"))
}

pub fn frame_globals_bound<'py>(frame: &Bound<'py, PyAny>) -> Bound<'py, PyDict> {
    unsafe { Bound::from_borrowed_ptr(frame.py(), frame_globals(frame.as_ptr().cast())).cast_into_unchecked() }
}

/// The thread identity CPython's `threading.get_ident()` returns.
#[inline]
#[allow(clippy::useless_conversion)] // c_ulong is 32 bits on Windows
pub fn current_thread_ident() -> u64 {
    u64::from(unsafe { ffi::PyThread_get_thread_ident() })
}

/// Per-code-object storage slot ("code extra"), freed together with the code object.
pub mod code_extra {
    use super::ffi;
    use std::os::raw::c_void;

    pub unsafe fn request_index(free: ffi::freefunc) -> ffi::Py_ssize_t {
        unsafe { ffi::PyUnstable_Eval_RequestCodeExtraIndex(free) }
    }

    #[inline]
    pub unsafe fn get(code: *mut ffi::PyObject, index: ffi::Py_ssize_t) -> *mut c_void {
        let mut extra: *mut c_void = std::ptr::null_mut();
        if unsafe { ffi::PyUnstable_Code_GetExtra(code, index, &mut extra) } != 0 {
            unsafe { ffi::PyErr_Clear() };
            return std::ptr::null_mut();
        }
        extra
    }

    pub unsafe fn set(code: *mut ffi::PyObject, index: ffi::Py_ssize_t, value: *mut c_void) -> bool {
        if unsafe { ffi::PyUnstable_Code_SetExtra(code, index, value) } != 0 {
            unsafe { ffi::PyErr_Clear() };
            return false;
        }
        true
    }
}
