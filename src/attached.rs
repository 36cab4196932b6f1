//! Running Rust code from inside a trace or monitoring callback with pyo3 aware that the thread is attached.
//!
//! CPython calls our callbacks attached, but pyo3 does not know it: `Py` references dropped there would be
//! parked in its deferred-release pool, and `Python::attach` would go through `PyGILState_Ensure/Release`,
//! which is wrong inside a callback (and fatal for a daemon thread during interpreter shutdown). Functions
//! that pyo3 wraps run under its "already attached" guard, so the callback calls one: `run_attached` hands
//! a closure to the native `_run_attached` through a vectorcall.

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

type Body<'a> = &'a mut dyn FnMut(Python<'_>);

#[pyfunction]
fn _run_attached(py: Python<'_>, body: usize) {
    // SAFETY: `body` is the address of a live `Body` on `run_attached`'s stack, which waits for this call.
    let body = unsafe { &mut *(body as *mut Body<'_>) };
    body(py);
}

static RUNNER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let runner = wrap_pyfunction!(_run_attached, m)?;
    RUNNER.get_or_init(m.py(), || runner.clone().into_any().unbind());
    m.add_function(runner)
}

/// Runs `body` attached (`py` is the callback's token). Returns None when it could not run (the runner
/// raised, e.g. a panic in `body`).
///
/// Nothing runs once the interpreter is finalizing: before 3.14 CPython ends a daemon thread that wants the GIL
/// back by unwinding its stack (`pthread_exit`), which must not meet our frames.
pub fn run_attached<R>(py: Python<'_>, body: impl FnOnce(Python<'_>) -> R) -> Option<R> {
    if crate::compat::interpreter_is_finalizing() {
        return None;
    }
    let runner = RUNNER.get(py)?;
    let mut body = Some(body);
    let mut result = None;
    let mut call = |py: Python<'_>| {
        if let Some(body) = body.take() {
            result = Some(body(py));
        }
    };
    let mut call: Body<'_> = &mut call;
    let address = std::ptr::addr_of_mut!(call) as usize;
    unsafe {
        let address = ffi::PyLong_FromSize_t(address);
        if address.is_null() {
            ffi::PyErr_Clear();
            return None;
        }
        let mut args = [address];
        let outcome = ffi::PyObject_Vectorcall(runner.as_ptr(), args.as_mut_ptr(), 1, std::ptr::null_mut());
        ffi::Py_DECREF(address);
        if outcome.is_null() {
            // A panic in `body` surfaces here as pyo3's PanicException; the caller treats None as a failure.
            ffi::PyErr_Clear();
        } else {
            ffi::Py_DECREF(outcome);
        }
    }
    result
}
