//! Running Rust code from inside a trace or monitoring callback with pyo3 aware that the thread is attached.
//!
//! CPython calls our callbacks attached, but pyo3 does not know it: `Py` references dropped there would be
//! parked in its deferred-release pool, and `Python::attach` would go through `PyGILState_Ensure/Release`,
//! which is wrong inside a callback (and fatal for a daemon thread during interpreter shutdown). The body
//! runs inside pyo3's own C-callable trampoline, the one its generated method wrappers use: it marks the
//! thread attached for the duration, catches panics (into a Python `PanicException`) and restores errors.
//! Calling that trampoline directly costs a function call, where going through a Python-callable
//! `#[pyfunction]` costs a vectorcall, argument parsing and an int round trip on every event.
//!
//! The trampoline is a `#[doc(hidden)]` pyo3 API; `Cargo.toml` pins the pyo3 minor version it was checked
//! against.

use pyo3::ffi;
use pyo3::impl_::trampoline::get_trampoline_function;
use pyo3::prelude::*;

type Body<'a> = &'a mut dyn FnMut(Python<'_>);

/// The trampoline's body. `body` is the address of a live `Body` on `run_attached`'s stack (passed where a
/// method's `self` would be; the trampoline only hands it over), which waits for this call.
unsafe fn run_body(py: Python<'_>, body: *mut ffi::PyObject) -> PyResult<*mut ffi::PyObject> {
    let body = unsafe { &mut *body.cast::<Body<'_>>() };
    body(py);
    // Any non-null pointer means success; it is not a new reference and nobody releases it.
    Ok(unsafe { ffi::Py_None() })
}

/// Runs `body` attached (`py` is the callback's token). Returns None when it could not run (a panic in
/// `body`: the trampoline turned it into a Python exception, which is cleared here).
///
/// Nothing runs once the interpreter is finalizing: before 3.14 CPython ends a daemon thread that wants the GIL
/// back by unwinding its stack (`pthread_exit`), which must not meet our frames.
pub fn run_attached<R>(_py: Python<'_>, body: impl FnOnce(Python<'_>) -> R) -> Option<R> {
    if crate::compat::interpreter_is_finalizing() {
        return None;
    }
    let mut body = Some(body);
    let mut result = None;
    let mut call = |py: Python<'_>| {
        if let Some(body) = body.take() {
            result = Some(body(py));
        }
    };
    let mut call: Body<'_> = &mut call;
    let trampoline = get_trampoline_function!(noargs, run_body);
    // SAFETY: the thread is attached (we are inside a CPython callback, `_py` proves it) and `call` outlives
    // the call.
    let outcome = unsafe { trampoline(std::ptr::addr_of_mut!(call).cast(), std::ptr::null_mut()) };
    if outcome.is_null() {
        // A panic in `body` surfaces here as pyo3's PanicException; the caller treats None as a failure.
        unsafe { ffi::PyErr_Clear() };
    }
    result
}
