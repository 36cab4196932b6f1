//! The settrace backend (every Python): a C trace function installed with `PyEval_SetTrace` (or, in
//! profiling mode, `PyEval_SetProfile`) on each traced thread, which hands every event to the engine.

use std::os::raw::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::ffi;
use pyo3::prelude::*;

use crate::compat;
use crate::engine::{self, Host};
use crate::event::Kind;
use crate::failure;
use crate::hook::{EventArg, EventSite, Handled};

/// The C trace function. CPython calls it attached, never recursively on one thread.
///
/// `obj` is borrowed from the thread state, which drops it when the tracer uninstalls itself: the rejection path
/// runs no Python code and uses it as it is; the rest takes a strong reference first (see `engine::handle`).
///
/// # Safety
/// CPython's `Py_tracefunc` contract: called attached, with `obj` the object `install` registered (a live `H`),
/// `frame` the frame of the event and `arg` NULL or an object it holds for the call.
unsafe extern "C" fn trace_function<H: Host>(
    obj: *mut ffi::PyObject,
    frame: *mut ffi::PyFrameObject,
    what: c_int,
    arg: *mut ffi::PyObject,
) -> c_int {
    // SAFETY: CPython calls trace functions attached (this function's contract).
    let py = unsafe { Python::assume_attached() };
    // SAFETY: `obj` is what `install` registered with this function: a live `H`.
    let tracer = unsafe { Borrowed::from_ptr(py, obj).cast_unchecked::<H>() };
    // A panic must never unwind into CPython. One caught here happened before any Python code ran (the slow path
    // catches its own, inside `run_attached`), so the borrowed tracer is still alive.
    // SAFETY: `tracer` is live (no Python code has run), `frame` is the event's frame and `arg` NULL or an object
    // CPython holds for the call.
    match catch_unwind(AssertUnwindSafe(|| unsafe { on_trace_event(tracer, frame, what, arg) })) {
        Ok(Handled::Raise) => -1,
        Ok(_) => 0,
        Err(panic) => {
            engine::fail_internally(&tracer.to_owned(), failure::panic_error(&*panic));
            0
        }
    }
}

/// A settrace-backend event: from the C trace function, or from the tracer's `__call__` (a Python-level hook).
///
/// # Safety
/// Attached, with `slf` a live tracer (borrowed: only used until Python code can run), `frame` a live frame object
/// of the current thread, CPython's for this event, and `arg` NULL or an object held for the call.
pub(crate) unsafe fn on_trace_event<H: Host>(
    slf: Borrowed<'_, '_, H>,
    frame: *mut ffi::PyFrameObject,
    what: c_int,
    arg: *mut ffi::PyObject,
) -> Handled {
    let py = slf.py();
    let engine = slf.get().engine();
    if engine.is_stopped(py) {
        // Stopped (possibly from another thread): uninstall ourselves from this thread. Held: uninstalling
        // releases the thread state's reference, which may be the last one.
        let held = slf.to_owned();
        install::<H>(py, held.get().engine().profiling_mode, None);
        return Handled::Delivered;
    }
    let Some((kind, builtin)) = Kind::from_trace(what) else {
        return Handled::Delivered;
    };
    // As hunter, so that a `sys.settrace(sys.gettrace())` (which hands the events of running frames to their
    // `f_trace`) keeps tracing the frames already running. Not as a profiler, which leaves `f_trace` to the
    // trace function.
    let previous_trace = if builtin || engine.profiling_mode {
        std::ptr::null_mut()
    } else {
        // SAFETY: `frame` is the live frame CPython passes with the event; `slf` is alive (no Python code ran).
        unsafe { compat::replace_frame_trace(frame, slf.as_ptr()) }
    };
    // SAFETY: CPython calls the trace function with the frame of the event.
    let site = EventSite::of_frame(unsafe { Borrowed::from_ptr(py, frame.cast()).cast_unchecked() });
    // SAFETY: `site` was made from this event's frame just above, for this callback.
    let cached = if builtin { None } else { unsafe { engine.cached_verdict(py, site, kind) } };
    // SAFETY: `slf` is live (no Python code has run since CPython passed it); `site` and `arg` are this event's.
    let handled = unsafe { engine::handle(slf, site, kind, builtin, EventArg::Object(arg), cached) };
    if !previous_trace.is_null() {
        // SAFETY: `replace_frame_trace` handed over its reference. Released last: it may run a `__del__`.
        unsafe { ffi::Py_DECREF(previous_trace) };
    }
    handled
}

/// Installs `tracer` (or nothing) as this thread's trace function, or profile function in profiling mode.
pub(crate) fn install<H: Host>(py: Python<'_>, profiling_mode: bool, tracer: Option<&Bound<'_, H>>) {
    let _ = py;
    let (function, object): (Option<ffi::Py_tracefunc>, *mut ffi::PyObject) = match tracer {
        Some(tracer) => (Some(trace_function::<H>), tracer.as_ptr()),
        None => (None, std::ptr::null_mut()),
    };
    // SAFETY: attached (`py`); `object` is NULL or the live `H` `tracer` refers to, of which the thread state
    // takes a new reference. Releasing the one it held (its `__del__`) and the `sys.settrace` audit hook can run
    // Python code: see the callers.
    unsafe {
        if profiling_mode {
            ffi::PyEval_SetProfile(function, object);
        } else {
            ffi::PyEval_SetTrace(function, object);
        }
    }
}
