//! The settrace backend (every Python): a C trace function installed with `PyEval_SetTrace` (or, in
//! profiling mode, `PyEval_SetProfile`) on each traced thread, which hands every event to the engine.
//!
//! A C-level trace function that was on a thread before ours (coverage.py's `CTracer`) is chained to: called for
//! every event first, as if it were alone, and put back exactly when we leave the thread. A Python-level one
//! (`sys.settrace(function)`) is replaced, as hunter does.

use std::cell::{Cell, RefCell};
use std::os::raw::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

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
/// runs no Python code and uses it as it is; the rest takes a strong reference first (see `engine::handle`). On 3.11
/// it may be freed already (see `compat::trace_object_installed`): then the event is ignored, `obj` untouched.
///
/// # Safety
/// CPython's `Py_tracefunc` contract: called attached, with `obj` the object `install` registered (a live `H`, unless
/// no longer installed), `frame` the frame of the event and `arg` NULL or an object it holds for the call.
unsafe extern "C" fn trace_function<H: Host>(
    obj: *mut ffi::PyObject,
    frame: *mut ffi::PyFrameObject,
    what: c_int,
    arg: *mut ffi::PyObject,
) -> c_int {
    // SAFETY: CPython calls trace functions attached, with the event's frame.
    if !unsafe { compat::trace_object_installed(Python::assume_attached(), obj, frame) } {
        return 0;
    }
    if CHAINING.load(Ordering::Relaxed) {
        // SAFETY: this function's contract.
        return unsafe { trace_with_chained::<H>(obj, frame, what, arg) };
    }
    // SAFETY: this function's contract.
    unsafe { trace_alone::<H>(obj, frame, what, arg, true) }
}

/// The trace function's own handling of an event; `claims_frame_trace`: see `on_trace_event`.
///
/// # Safety
/// As `trace_function`.
#[inline(always)]
unsafe fn trace_alone<H: Host>(
    obj: *mut ffi::PyObject,
    frame: *mut ffi::PyFrameObject,
    what: c_int,
    arg: *mut ffi::PyObject,
    claims_frame_trace: bool,
) -> c_int {
    // SAFETY: CPython calls trace functions attached (this function's contract).
    let py = unsafe { Python::assume_attached() };
    // SAFETY: `obj` is what `install` registered with this function: a live `H`.
    let tracer = unsafe { Borrowed::from_ptr(py, obj).cast_unchecked::<H>() };
    // A panic must never unwind into CPython. One caught here happened before any Python code ran (the slow path
    // catches its own, inside `run_attached`), so the borrowed tracer is still alive.
    // SAFETY: `tracer` is live (no Python code has run), `frame` is the event's frame and `arg` NULL or an object
    // CPython holds for the call.
    match catch_unwind(AssertUnwindSafe(|| unsafe { on_trace_event(tracer, frame, what, arg, claims_frame_trace) })) {
        Ok(Handled::Raise) => -1,
        Ok(_) => 0,
        Err(panic) => {
            engine::fail_internally(&tracer.to_owned(), failure::panic_error(&*panic));
            0
        }
    }
}

/// A settrace-backend event: from the C trace function, or from the tracer's `__call__` (a Python-level hook).
/// `claims_frame_trace`: makes the tracer the frame's `f_trace` (as hunter does); not when chained after another
/// C-level tracer on this thread, which may hand a frame's events to its `f_trace` itself (pydevd's does): it would
/// then hand them to us a second time, and lose its own.
///
/// # Safety
/// Attached, with `slf` a live tracer (borrowed: only used until Python code can run), `frame` a live frame object
/// of the current thread, CPython's for this event, and `arg` NULL or an object held for the call.
pub(crate) unsafe fn on_trace_event<H: Host>(
    slf: Borrowed<'_, '_, H>,
    frame: *mut ffi::PyFrameObject,
    what: c_int,
    arg: *mut ffi::PyObject,
    claims_frame_trace: bool,
) -> Handled {
    let py = slf.py();
    let engine = slf.get().engine();
    if engine.is_stopped(py) {
        // Stopped (possibly from another thread): uninstall ourselves from this thread. Held: uninstalling
        // releases the thread state's reference, which may be the last one.
        let held = slf.to_owned();
        uninstall(py, held.get().engine().profiling_mode.get(py));
        return Handled::Delivered;
    }
    let Some((kind, builtin)) = Kind::from_trace(what) else {
        return Handled::Delivered;
    };
    // As hunter, so that a `sys.settrace(sys.gettrace())` (which hands the events of running frames to their
    // `f_trace`) keeps tracing the frames already running. Not as a profiler, which leaves `f_trace` to the
    // trace function.
    let previous_trace = if builtin || engine.profiling_mode.get(py) || !claims_frame_trace {
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

/// The C-level trace function that was on this thread before ours (coverage.py's `CTracer`).
struct Chained {
    function: ffi::Py_tracefunc,
    /// Its trace object: a strong reference.
    object: *mut ffi::PyObject,
    /// Running frames whose line events it switched off at their `call` (`f_trace_lines = False`, as coverage
    /// does for code it does not measure), which we switched back on for ourselves: it gets none of their line
    /// events. Strong references, released at the frame's `return`.
    lines_off: Vec<*mut ffi::PyObject>,
}

thread_local! {
    /// This thread's chained tracer. Its references are released with the GIL held (`uninstall`); a thread that
    /// ends while chained leaks them, as releasing Python objects is not allowed in a thread's exit.
    static CHAINED: RefCell<Option<Chained>> = const { RefCell::new(None) };
    /// Whether a tracer was started or installed on this thread, or its threading hook run: a thread whose first
    /// `call` reaches `Tracer.__call__` without it is a new thread (see `tracer.rs`).
    static KNOWN_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// Set once any thread chains: until then the trace function checks nothing else.
static CHAINING: AtomicBool = AtomicBool::new(false);

/// The C function `sys.settrace` installs for a Python-level trace function (its trampoline), once found.
static PYTHON_LEVEL_TRAMPOLINE: AtomicUsize = AtomicUsize::new(0);

/// What the thread's current trace function is to a hunter tracer about to take its place.
enum Found {
    Nothing,
    /// A hunter tracer (its C function, or its `__call__` through `sys.settrace`): the thread's chain stays.
    Hunter,
    /// A Python-level trace function: replaced, as hunter does.
    PythonLevel,
    /// Another C-level trace function: chained to.
    CLevel(ffi::Py_tracefunc, *mut ffi::PyObject),
}

fn is_our_function<H: Host>(function: ffi::Py_tracefunc) -> bool {
    function as usize == trace_function::<H> as ffi::Py_tracefunc as usize
}

/// Classifies the current thread's trace function. `may_probe`: learn sys.settrace's trampoline if it is not
/// known yet (which calls `sys.settrace`); else an unknown one counts as Python-level (never chained to).
fn found_on_this_thread<H: Host>(py: Python<'_>, may_probe: bool) -> PyResult<Found> {
    let (function, object) = compat::thread_trace_function(py);
    let Some(function) = function else {
        return Ok(Found::Nothing);
    };
    // SAFETY: `object` is NULL or the live object the thread state holds (attached, nothing ran since reading it).
    let is_hunter = is_our_function::<H>(function)
        || (!object.is_null() && unsafe { Borrowed::from_ptr(py, object) }.is_instance_of::<H>());
    if is_hunter {
        return Ok(Found::Hunter);
    }
    if object.is_null() {
        return Ok(Found::CLevel(function, object));
    }
    let mut trampoline = PYTHON_LEVEL_TRAMPOLINE.load(Ordering::Relaxed);
    if trampoline == 0 && may_probe {
        trampoline = probe_python_level_trampoline(py, function, object)?;
    }
    Ok(if trampoline == 0 || function as usize == trampoline {
        Found::PythonLevel
    } else {
        Found::CLevel(function, object)
    })
}

/// Finds sys.settrace's trampoline: has `sys.settrace` install the current trace object, reads the function it
/// used, then puts back the current C function exactly. Done once per process.
fn probe_python_level_trampoline(
    py: Python<'_>,
    function: ffi::Py_tracefunc,
    object: *mut ffi::PyObject,
) -> PyResult<usize> {
    // SAFETY: `object` is the live trace object of this thread (attached, nothing ran since it was read). Held:
    // `sys.settrace` releases the thread state's reference.
    let object = unsafe { Borrowed::from_ptr(py, object) }.to_owned();
    compat::import(py, "sys")?.getattr("settrace")?.call1((&object,))?;
    let trampoline = compat::thread_trace_function(py).0.map_or(0, |function| function as usize);
    // SAFETY: attached; `object` is alive (held) and the thread state takes its own reference.
    unsafe { ffi::PyEval_SetTrace(Some(function), object.as_ptr()) };
    PYTHON_LEVEL_TRAMPOLINE.store(trampoline, Ordering::Relaxed);
    Ok(trampoline)
}

/// Whether the current thread runs a C-level trace function that a tracer started here would chain to.
pub(crate) fn c_level_tracer_on_this_thread<H: Host>(py: Python<'_>) -> PyResult<bool> {
    Ok(matches!(found_on_this_thread::<H>(py, true)?, Found::CLevel(..)))
}

/// Notes that a tracer started on this thread (its new threads are the others).
pub(crate) fn note_known_thread() {
    let _ = KNOWN_THREAD.try_with(|known| known.set(true));
}

/// Whether this thread is new to hunter (see `KNOWN_THREAD`); it is known from now on.
pub(crate) fn first_seen_thread() -> bool {
    KNOWN_THREAD.try_with(|known| !known.replace(true)).unwrap_or(false)
}

/// Installs `tracer` as this thread's trace function, or profile function in profiling mode. In trace mode, a
/// C-level trace function in place becomes this thread's chained tracer (one already chained stays when a hunter
/// tracer is in place); a Python-level one is replaced. `may_probe`: see `found_on_this_thread`.
pub(crate) fn install<H: Host>(py: Python<'_>, tracer: &Bound<'_, H>, may_probe: bool) -> PyResult<()> {
    compat::prepare_trace_object_check(py)?;
    let profiling_mode = tracer.get().engine().profiling_mode.get(py);
    note_known_thread();
    if !profiling_mode {
        match found_on_this_thread::<H>(py, may_probe)? {
            Found::Hunter => {}
            Found::Nothing | Found::PythonLevel => {
                release_chained(py, false);
            }
            Found::CLevel(function, object) => {
                // SAFETY: attached; `object` is NULL or the live trace object of this thread: the chain's reference.
                unsafe { ffi::Py_XINCREF(object) };
                let previous = CHAINED
                    .try_with(|chained| chained.replace(Some(Chained { function, object, lines_off: Vec::new() })))
                    .ok()
                    .flatten();
                CHAINING.store(true, Ordering::Relaxed);
                release(previous);
            }
        }
    }
    // SAFETY: attached (`py`); `tracer` is alive, and the thread state takes a new reference to it. Releasing the
    // one it held (its `__del__`) and the `sys.settrace` audit hook can run Python code: see the callers.
    unsafe {
        if profiling_mode {
            ffi::PyEval_SetProfile(Some(trace_function::<H>), tracer.as_ptr());
        } else {
            ffi::PyEval_SetTrace(Some(trace_function::<H>), tracer.as_ptr());
        }
    }
    Ok(())
}

/// Removes our trace (or profile) function from this thread, putting back exactly the C-level trace function we
/// chained to there, if any (with the frames it switched line events off for switched off again).
pub(crate) fn uninstall(py: Python<'_>, profiling_mode: bool) {
    // SAFETY: attached (`py`). Releasing the thread state's reference to us can run Python code: see the callers.
    unsafe {
        if profiling_mode {
            ffi::PyEval_SetProfile(None, std::ptr::null_mut());
        } else {
            if !release_chained(py, true) {
                ffi::PyEval_SetTrace(None, std::ptr::null_mut());
            }
        }
    }
}

/// Clears `f_trace` where it is `tracer`, on every frame of every thread (at its stop): its events set it there (as
/// hunter's do), and a frame keeping it after the stop keeps the tracer alive and, on Python 3.9, reports the line
/// tracing last saw as its `f_lineno` (a `warnings` or `logging` call after the stop named the wrong line).
pub(crate) fn release_frame_traces(tracer: &Bound<'_, PyAny>) -> PyResult<()> {
    let py = tracer.py();
    let name = pyo3::intern!(py, "f_trace");
    let current = compat::import(py, "sys")?.call_method0("_current_frames")?;
    for frame in current.cast_into::<pyo3::types::PyDict>()?.values() {
        let mut frame = frame.cast_into::<pyo3::types::PyFrame>().ok();
        while let Some(live) = frame {
            if live.getattr(name)?.is(tracer) {
                live.setattr(name, py.None())?;
            }
            frame = compat::frame_back(&live);
        }
    }
    Ok(())
}

/// Whether `object` is the trace object this thread chains to.
pub(crate) fn is_chained_object(object: &Bound<'_, PyAny>) -> bool {
    CHAINED
        .try_with(|chained| chained.borrow().as_ref().is_some_and(|chained| chained.object == object.as_ptr()))
        .unwrap_or(false)
}

/// Forgets this thread's chained tracer; `hand_back`: installs it as the thread's trace function first. Returns
/// whether there was one.
fn release_chained(_py: Python<'_>, hand_back: bool) -> bool {
    let Some(chained) = CHAINED.try_with(RefCell::take).ok().flatten() else {
        return false;
    };
    if hand_back {
        for &frame in &chained.lines_off {
            // SAFETY: attached; `frame` is a live frame (held by `lines_off`).
            unsafe { set_frame_traces_lines(frame, false) };
        }
        // SAFETY: attached; the function and its object are what CPython had installed on this thread (the object
        // held by the chain), and the thread state takes its own reference.
        unsafe { ffi::PyEval_SetTrace(Some(chained.function), chained.object) };
    }
    release(Some(chained));
    true
}

/// Releases a chain's references (which can run Python code: no borrow of `CHAINED` is held).
fn release(chained: Option<Chained>) {
    if let Some(chained) = chained {
        // SAFETY: attached (the callers hold a `Python` or run in a trace callback); these are the chain's own
        // strong references.
        unsafe {
            for frame in chained.lines_off {
                ffi::Py_DECREF(frame);
            }
            ffi::Py_XDECREF(chained.object);
        }
    }
}

/// `frame.f_trace_lines`, through the public attribute (its field moves between versions). False if unreadable.
///
/// # Safety
/// Attached, `frame` a live frame, no exception set.
unsafe fn frame_traces_lines(frame: *mut ffi::PyObject) -> bool {
    // SAFETY: attached (the caller's contract); interned once, never released.
    let name = unsafe { interned_f_trace_lines() };
    // SAFETY: `frame` is a live object and `name` a str (the caller's contract, above).
    let value = unsafe { ffi::PyObject_GetAttr(frame, name) };
    if value.is_null() {
        // SAFETY: attached; the failed lookup set an exception, dropped (a frame always has the attribute).
        unsafe { ffi::PyErr_Clear() };
        return false;
    }
    // SAFETY: `value` is the new reference the lookup returned; comparing with the True singleton reads nothing.
    unsafe {
        let on = value == ffi::Py_True();
        ffi::Py_DECREF(value);
        on
    }
}

/// Sets `frame.f_trace_lines`.
///
/// # Safety
/// As `frame_traces_lines`.
unsafe fn set_frame_traces_lines(frame: *mut ffi::PyObject, on: bool) {
    // SAFETY: attached and `frame` a live frame (the caller's contract); the bool singletons are immortal enough
    // for the setter, which takes its own reference if it needs one.
    unsafe {
        let value = if on { ffi::Py_True() } else { ffi::Py_False() };
        if ffi::PyObject_SetAttr(frame, interned_f_trace_lines(), value) != 0 {
            ffi::PyErr_Clear();
        }
    }
}

/// The interned name `f_trace_lines`, made once (kept for the process's life).
///
/// # Safety
/// Attached.
unsafe fn interned_f_trace_lines() -> *mut ffi::PyObject {
    static NAME: AtomicUsize = AtomicUsize::new(0);
    let mut name = NAME.load(Ordering::Relaxed) as *mut ffi::PyObject;
    if name.is_null() {
        // SAFETY: attached (the caller's contract); the new reference is kept for good.
        name = unsafe { ffi::PyUnicode_InternFromString(c"f_trace_lines".as_ptr()) };
        if name.is_null() {
            // SAFETY: attached; out of memory: the exception is dropped and the lookup below fails softly.
            unsafe { ffi::PyErr_Clear() };
            // SAFETY: as above; `None` has no attribute of that name on any object lookup path: makes the
            // attribute calls fail (and clear their error) instead of reading a NULL name.
            return unsafe { ffi::Py_None() };
        }
        NAME.store(name as usize, Ordering::Relaxed);
    }
    name
}

/// What the chained tracer of this thread gets for an event: its function, a strong reference to its object, and
/// whether it gets this event at all (not the line events of frames it switched them off for).
fn chained_for_event(frame: *mut ffi::PyObject, what: c_int) -> Option<(ffi::Py_tracefunc, *mut ffi::PyObject, bool)> {
    CHAINED
        .try_with(|chained| {
            chained.borrow().as_ref().map(|chained| {
                let delivered = what != ffi::PyTrace_LINE || !chained.lines_off.contains(&frame);
                // SAFETY: attached (called from the trace function); the chain holds the object alive.
                unsafe { ffi::Py_XINCREF(chained.object) };
                (chained.function, chained.object, delivered)
            })
        })
        .ok()
        .flatten()
}

/// After the chained tracer handled a `call` that switched off the frame's line events: switches them back on
/// (for us) and remembers the frame; after a `return`: forgets the frame (handing back the reference).
fn note_lines_off(frame: *mut ffi::PyObject, what: c_int) -> *mut ffi::PyObject {
    CHAINED
        .try_with(|chained| {
            let mut chained = chained.borrow_mut();
            let Some(chained) = chained.as_mut() else {
                return std::ptr::null_mut();
            };
            if what == ffi::PyTrace_CALL {
                // SAFETY: attached; `frame` is the event's live frame: the new reference is the list's.
                unsafe { ffi::Py_INCREF(frame) };
                chained.lines_off.push(frame);
                std::ptr::null_mut()
            } else {
                match chained.lines_off.iter().rposition(|&off| off == frame) {
                    Some(index) => chained.lines_off.remove(index),
                    None => std::ptr::null_mut(),
                }
            }
        })
        .unwrap_or(std::ptr::null_mut())
}

/// The trace function once some thread chains: this thread's chained tracer gets the event first (as if alone),
/// then we handle it. Its failure (-1 and an exception) is the event's, as CPython would make it; if we raise too,
/// ours goes on and its exception is reported as unraisable.
///
/// A forced unwind (a daemon thread ended during finalization) may pass through here while the chained tracer runs
/// Python code: nothing with a destructor is alive across that call, and no panic is caught around it.
///
/// # Safety
/// As `trace_function`.
#[cold]
#[inline(never)]
unsafe fn trace_with_chained<H: Host>(
    obj: *mut ffi::PyObject,
    frame: *mut ffi::PyFrameObject,
    what: c_int,
    arg: *mut ffi::PyObject,
) -> c_int {
    let frame_object = frame.cast::<ffi::PyObject>();
    let Ok(Some((function, object, delivered))) = catch_unwind(|| chained_for_event(frame_object, what)) else {
        // SAFETY: this function's contract.
        return unsafe { trace_alone::<H>(obj, frame, what, arg, true) };
    };
    // SAFETY: attached; `obj` is our live tracer, held across the chained tracer's Python code.
    unsafe { ffi::Py_INCREF(obj) };
    let mut status = 0;
    let mut lines_were_on = false;
    if delivered {
        // SAFETY: attached, `frame` live, no exception set (a trace function is called without one).
        lines_were_on = what == ffi::PyTrace_CALL && unsafe { frame_traces_lines(frame_object) };
        // SAFETY: CPython's `Py_tracefunc` contract, as it would have called it: attached, its own object (held),
        // this event's frame and argument.
        status = unsafe { function(object, frame, what, arg) };
    }
    let (mut kind, mut value, mut traceback) = (std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut());
    if status != 0 {
        #[allow(deprecated)] // PyErr_GetRaisedException is 3.12+
        // SAFETY: attached; the chained tracer failed with an exception set, taken (restored below).
        unsafe {
            ffi::PyErr_Fetch(&mut kind, &mut value, &mut traceback)
        };
    } else {
        let switched_off = lines_were_on
            // SAFETY: attached, `frame` live, no exception set (status 0).
            && !unsafe { frame_traces_lines(frame_object) };
        let forgotten = if switched_off || (what == ffi::PyTrace_RETURN) {
            if switched_off {
                // SAFETY: as above.
                unsafe { set_frame_traces_lines(frame_object, true) };
            }
            catch_unwind(|| note_lines_off(frame_object, what)).unwrap_or(std::ptr::null_mut())
        } else {
            std::ptr::null_mut()
        };
        // SAFETY: attached; the reference `lines_off` held, if this frame was in it.
        unsafe { ffi::Py_XDECREF(forgotten) };
    }
    // SAFETY: attached, and the chained tracer may have replaced the thread's trace function (coverage's stops by
    // removing it): it then leaves, as it would have alone, and we stay, as we would have alone.
    unsafe { keep_installed::<H>(obj) };
    // SAFETY: this function's contract; `obj` is held.
    let mut result = unsafe { trace_alone::<H>(obj, frame, what, arg, false) };
    if !kind.is_null() {
        #[allow(deprecated)] // PyErr_SetRaisedException is 3.12+
        // SAFETY: attached; `kind`, `value` and `traceback` are the references `PyErr_Fetch` handed over.
        unsafe {
            if result == 0 {
                ffi::PyErr_Restore(kind, value, traceback);
                result = -1;
            } else {
                let (mut our_kind, mut our_value, mut our_traceback) =
                    (std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut());
                ffi::PyErr_Fetch(&mut our_kind, &mut our_value, &mut our_traceback);
                ffi::PyErr_Restore(kind, value, traceback);
                ffi::PyErr_WriteUnraisable(object);
                ffi::PyErr_Restore(our_kind, our_value, our_traceback);
            }
        }
    }
    // SAFETY: attached; the references `chained_for_event` and this function took, held until here: the chained
    // tracer may have left the thread meanwhile (its object then only alive through these), and it names the
    // unraisable error above. Last: they may run a `__del__`.
    unsafe {
        ffi::Py_XDECREF(object);
        ffi::Py_DECREF(obj);
    }
    result
}

/// Re-installs our trace function if the chained tracer replaced it while handling an event: what it put in
/// place (nothing, when it stopped) becomes the thread's chained tracer, or is replaced, as in `install`.
///
/// # Safety
/// Attached, `obj` a live `H` (held).
unsafe fn keep_installed<H: Host>(obj: *mut ffi::PyObject) {
    // SAFETY: attached (this function's contract).
    let py = unsafe { Python::assume_attached() };
    let (function, object) = compat::thread_trace_function(py);
    if function.is_some_and(is_our_function::<H>) && object == obj {
        return;
    }
    // SAFETY: `obj` is a live `H` (this function's contract).
    let tracer = unsafe { Borrowed::from_ptr(py, obj).cast_unchecked::<H>() };
    let reinstalled = catch_unwind(AssertUnwindSafe(|| install(py, &tracer.to_owned(), false)));
    if !matches!(reinstalled, Ok(Ok(()))) {
        // SAFETY: attached; `install` never fails without probing, which it was told not to do.
        unsafe { ffi::PyErr_Clear() };
    }
}
