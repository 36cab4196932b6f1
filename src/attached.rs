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
///
/// # Safety
/// `body` must be the address of a live `Body` that nothing else uses during the call (`run_attached`'s `call`), and
/// the thread attached.
unsafe fn run_body(py: Python<'_>, body: *mut ffi::PyObject) -> PyResult<*mut ffi::PyObject> {
    // SAFETY: `body` is the address of `run_attached`'s `call`, a `Body` alive and otherwise unused until the
    // trampoline returns.
    let body = unsafe { &mut *body.cast::<Body<'_>>() };
    body(py);
    // Any non-null pointer means success; it is not a new reference and nobody releases it.
    // SAFETY: Py_None only takes the address of the None singleton.
    Ok(unsafe { ffi::Py_None() })
}

/// Why `run_attached` did not give back the body's result.
pub enum NotRun {
    /// The interpreter is finalizing: nothing ran (see `run_attached`).
    Finalizing,
    /// The body panicked: the panic, as the `PanicException` the trampoline made of it.
    Panicked(PyErr),
}

/// Runs `body` attached (`py` is the callback's token).
///
/// Nothing runs once the interpreter is finalizing: before 3.14 CPython ends a daemon thread that wants the GIL
/// back by unwinding its stack (`pthread_exit`), which must not meet our frames.
pub fn run_attached<R>(py: Python<'_>, body: impl FnOnce(Python<'_>) -> R) -> Result<R, NotRun> {
    if crate::compat::interpreter_is_finalizing() {
        return Err(NotRun::Finalizing);
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
    // SAFETY: the thread is attached (we are inside a CPython callback, `py` proves it) and `call` outlives
    // the call.
    let outcome = unsafe { trampoline(std::ptr::addr_of_mut!(call).cast(), std::ptr::null_mut()) };
    match result {
        Some(result) if !outcome.is_null() => Ok(result),
        // A panic in `body` surfaces here as pyo3's PanicException, which the caller reports.
        _ => Err(NotRun::Panicked(take_panic(py))),
    }
}

/// The pending exception (the `PanicException` made of a panic), taken without `PyErr::take`, which would resume the
/// panic: it must be reported, not unwind on into CPython.
fn take_panic(py: Python<'_>) -> PyErr {
    let (mut kind, mut value, mut traceback) = (std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut());
    #[allow(deprecated)] // PyErr_GetRaisedException is 3.12+
    // SAFETY: attached; the three pointers receive new references (or NULL), owned by the bindings below.
    let value = unsafe {
        ffi::PyErr_Fetch(&mut kind, &mut value, &mut traceback);
        ffi::PyErr_NormalizeException(&mut kind, &mut value, &mut traceback);
        drop(Bound::from_owned_ptr_or_opt(py, kind));
        let traceback = Bound::from_owned_ptr_or_opt(py, traceback);
        let value = Bound::from_owned_ptr_or_opt(py, value);
        if let (Some(value), Some(traceback)) = (&value, &traceback) {
            ffi::PyException_SetTraceback(value.as_ptr(), traceback.as_ptr());
        }
        value
    };
    match value {
        Some(value) => PyErr::from_value(value),
        None => pyo3::exceptions::PySystemError::new_err("hunter: a native callback failed without an exception"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_in_the_body_is_handed_back_not_cleared() {
        Python::attach(|py| {
            let outcome = run_attached(py, |_| -> u8 { panic!("the body failed") });
            let Err(NotRun::Panicked(error)) = outcome else { panic!("the panic was lost") };
            assert!(error.to_string().contains("the body failed"), "{error}");
            assert!(PyErr::take(py).is_none(), "nothing left pending");
            assert!(matches!(run_attached(py, |_| 7), Ok(7)));
        });
    }
}
