//! The sys.monitoring backend (PEP 669, Python 3.12+).
//!
//! It produces exactly the events the settrace backend does, the way CPython itself derives settrace
//! events from monitoring events (`Python/legacy_tracing.c`): PY_START/PY_RESUME/PY_THROW are `call`,
//! PY_RETURN/PY_YIELD/PY_UNWIND are `return`, RAISE/STOP_ITERATION are `exception`, LINE and backward
//! JUMPs within one line are `line`; in profiling mode CALL/C_RETURN/C_RAISE of C functions are the
//! builtin events. The difference is what happens to events of code that can never match: a callback
//! returns `sys.monitoring.DISABLE` for that code location, and CPython stops reporting it. That is sound
//! only where the per-code verdict is "no effect", and for call/return events only when nothing in the
//! handler can observe `depth`/`calls` (which count every call and return).
//!
//! RAISE and PY_UNWIND cannot be disabled per location, and a program that raises often would pay for
//! them on every exception. So they are switched on only once some code could have an effect on those events:
//! when the first event of a code object judges it (for every kind at once) and the verdict for
//! `exception` (RAISE) or `return` (PY_UNWIND, always on when the handler counts calls) is effectful.
//! Every code object reports a local event (PY_START, PY_RESUME, LINE...) before it can raise, except
//! frames already running when tracing starts or their thread is admitted, which are judged then, and
//! generators thrown into, whose PY_THROW stays switched on for that reason.
//!
//! Monitoring is process-wide, while settrace is per thread: events of threads that settrace would not
//! trace are dropped by `TracedThreads`.

use std::cell::Cell;
use std::os::raw::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyTuple;

use crate::codeinfo::CodeInfo;
use crate::compat;
use crate::event::Kind;
use crate::failure;
use crate::tracer::{EventArg, EventSite, Handled, Tracer};
use crate::verdict::Verdict;

pyo3::create_exception!(
    hunter,
    NoFreeToolId,
    PyRuntimeError,
    "All sys.monitoring tool ids (0-5) are in use by other tools."
);

/// Tool ids in order of preference: 3 and 4 have no conventional owner; 0 (debugger), 1 (coverage),
/// 2 (profiler) and 5 (optimizer) are CPython's suggested ids for other tools.
const TOOL_ID_PREFERENCE: [u8; 6] = [3, 4, 2, 5, 0, 1];
const TOOL_NAME: &str = "hunter";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Backend {
    Settrace,
    Monitoring,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Settrace => "settrace",
            Backend::Monitoring => "monitoring",
        }
    }

    /// Resolves `backend=` (else `PYTHONHUNTERBACKEND`, else "auto"); returns the backend and whether it was
    /// "auto" (which prefers monitoring on 3.12+ and may fall back to settrace).
    pub fn choose(py: Python<'_>, requested: Option<&str>) -> PyResult<(Backend, bool)> {
        let from_environment = std::env::var("PYTHONHUNTERBACKEND").ok().filter(|value| !value.trim().is_empty());
        let (value, source) = match requested {
            Some(value) => (value.to_owned(), "backend"),
            None => (from_environment.unwrap_or_else(|| "auto".to_owned()), "PYTHONHUNTERBACKEND"),
        };
        match value.trim() {
            "auto" if compat::HAS_SYS_MONITORING => Ok((Backend::Monitoring, true)),
            "auto" => Ok((Backend::Settrace, true)),
            "settrace" => Ok((Backend::Settrace, false)),
            "monitoring" if compat::HAS_SYS_MONITORING => Ok((Backend::Monitoring, false)),
            "monitoring" => {
                let version = py.version_info();
                Err(PyValueError::new_err(format!(
                    "The 'monitoring' backend needs sys.monitoring (Python 3.12 or newer); this is Python {}.{}. \
                     Use backend='settrace' or 'auto'.",
                    version.major, version.minor
                )))
            }
            other => Err(PyValueError::new_err(format!(
                "Invalid {source} value {other:?}: must be one of 'auto', 'monitoring' or 'settrace'."
            ))),
        }
    }
}

/// The threads a monitoring tracer delivers events of, as settrace would: each thread has one installed
/// tracer, the latest one started on it (or admitted by `threading.settrace` when the thread started), and a
/// tracer that stops puts back, on the thread that stops it, the one it replaced there. So a handler that
/// starts another tracer sees the same events on both backends.
///
/// A thread records the session (generation) of its installed tracer in a thread-local: a thread ident can be
/// reused by a new thread once the old one is gone, a thread-local cannot.
pub struct TracedThreads {
    session: AtomicU64,
    /// The session installed on the starting thread before this one, put back when this one stops there.
    replaced: AtomicU64,
}

thread_local! {
    /// The session of the tracer installed on this thread (0 for none).
    static INSTALLED_SESSION: Cell<u64> = const { Cell::new(0) };
}

impl Default for TracedThreads {
    fn default() -> Self {
        TracedThreads { session: AtomicU64::new(0), replaced: AtomicU64::new(0) }
    }
}

impl TracedThreads {
    /// A new tracing session, installed on the current thread in place of the one there (returned; 0 for none).
    pub fn start(&self, _py: Python<'_>, session: u64) -> u64 {
        self.session.store(session, Ordering::Relaxed);
        let replaced = INSTALLED_SESSION.try_with(|installed| installed.replace(session)).unwrap_or(0);
        self.replaced.store(replaced, Ordering::Relaxed);
        replaced
    }

    /// Installs this session on the current thread (a thread `threading.settrace` admits).
    pub fn admit_current_thread(&self) {
        let session = self.session.load(Ordering::Relaxed);
        let _ = INSTALLED_SESSION.try_with(|installed| installed.set(session));
    }

    /// Stops delivering this thread's events (as CPython uninstalls a settrace function that raised).
    pub fn dismiss_current_thread(&self) {
        self.uninstall_current_thread(0);
    }

    /// The session stops: the current thread gets back the session it replaced (returned), if this one is still
    /// installed there.
    pub fn stop(&self) -> Option<u64> {
        let replaced = self.replaced.load(Ordering::Relaxed);
        self.uninstall_current_thread(replaced).then_some(replaced).filter(|replaced| *replaced != 0)
    }

    /// Whether this session was installed on the current thread (and so replaced by `successor`).
    fn uninstall_current_thread(&self, successor: u64) -> bool {
        let session = self.session.load(Ordering::Relaxed);
        INSTALLED_SESSION
            .try_with(|installed| {
                let was_installed = installed.get() == session;
                if was_installed {
                    installed.set(successor);
                }
                was_installed
            })
            .unwrap_or(false)
    }

    #[inline]
    fn includes_current_thread(&self) -> bool {
        let session = self.session.load(Ordering::Relaxed);
        INSTALLED_SESSION.try_with(|installed| installed.get() == session).unwrap_or(false)
    }
}

/// May the callback answer DISABLE for this event? Only local events can be disabled (CPython raises
/// ValueError otherwise); builtin (C function) events are never decided per code.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Disable {
    Allowed,
    Never,
}

static DISABLE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

fn new_none() -> *mut ffi::PyObject {
    // SAFETY: attached (only the callbacks call this); None lives forever, and the new reference is the caller's to
    // return.
    unsafe {
        let none = ffi::Py_None();
        ffi::Py_INCREF(none);
        none
    }
}

/// A new reference to `sys.monitoring.DISABLE` (None before `start` fetched it, which cannot happen in a callback).
fn new_disable(py: Python<'_>) -> *mut ffi::PyObject {
    match DISABLE.get(py) {
        Some(disable) => disable.clone_ref(py).into_ptr(),
        None => new_none(),
    }
}

/// What a callback answers CPython.
enum Answer {
    Continue,
    /// `sys.monitoring.DISABLE`: this location can never match.
    Disable,
    /// An error: the exception set as the current one goes to the program.
    Raise,
}

impl Answer {
    fn into_ptr(self, py: Python<'_>) -> *mut ffi::PyObject {
        match self {
            Answer::Continue => new_none(),
            Answer::Disable => new_disable(py),
            Answer::Raise => std::ptr::null_mut(),
        }
    }

    fn after(handled: Handled) -> Answer {
        if handled == Handled::Raise {
            Answer::Raise
        } else {
            Answer::Continue
        }
    }
}

/// Delivers one monitoring event to the tracer `slf`; returns the callback's result (None or DISABLE, or NULL
/// with the exception for the program set).
///
/// `slf` is the callbacks' `self`, which `stop` (from the handler, say) can release: it is used borrowed only as
/// long as no Python code has run, as in `Tracer::handle`.
///
/// # Safety
/// Attached, inside a monitoring callback: `slf` a live Tracer (the callback's `self`), `code` NULL or an object and
/// `arg` NULL or objects the callback's caller holds for the call.
unsafe fn deliver(
    slf: *mut ffi::PyObject,
    code: *mut ffi::PyObject,
    kind: Kind,
    builtin: bool,
    arg: EventArg,
    disable: Disable,
) -> *mut ffi::PyObject {
    // SAFETY: attached (this function's contract).
    let py = unsafe { Python::assume_attached() };
    // SAFETY: the callbacks are created bound to a live Tracer (`start`), and CPython holds the callback (so its
    // `self`) for the duration of the call.
    let tracer = unsafe { Borrowed::from_ptr(py, slf).cast_unchecked::<Tracer>() };
    if tracer.get().handler_is_stopped(py) {
        return new_none();
    }
    // SAFETY: attached, inside a monitoring callback; `code` is NULL or an object the caller holds (this function's
    // contract).
    let Some(site) = (unsafe { EventSite::of_running_code(code) }) else {
        return not_a_code_object(py);
    };
    let disableable = disable == Disable::Allowed && (!kind.counts_frames() || !tracer.get().counting.get(py));
    // A strong reference, once Python code is about to run; the panic report below needs it too.
    let mut held: Option<Bound<'_, Tracer>> = None;
    // SAFETY: `site` is this callback's: its code is an argument the caller holds, its globals the running frame's.
    // `tracer` is used borrowed only until Python code may run: `judged_out` and `handle` take a strong reference
    // first.
    let outcome = catch_unwind(AssertUnwindSafe(|| unsafe {
        let cached = if builtin { None } else { tracer.get().cached_verdict(py, site, kind) };
        let mut tracer = tracer;
        // A location that can never match is switched off whichever thread reaches it first. Not in code that
        // can run again with other globals (`exec`), which can change its verdict: that is only skipped.
        if disableable {
            let ruled_out = match cached {
                Some(verdict) => verdict != Verdict::Effectful,
                None => {
                    let strong = held.insert(tracer.to_owned());
                    let judged = Tracer::judged_out(strong, site, kind);
                    tracer = strong.as_borrowed();
                    match judged {
                        Ok(ruled_out) => ruled_out,
                        Err(handled) => return Answer::after(handled),
                    }
                }
            };
            if ruled_out {
                // The verdict is cached, so the code's info exists.
                let is_function = CodeInfo::existing(site.code(py)).is_some_and(|info| info.is_function);
                return if is_function { Answer::Disable } else { Answer::Continue };
            }
        }
        if !tracer.get().threads.includes_current_thread() {
            return Answer::Continue;
        }
        Answer::after(Tracer::handle(tracer, site, kind, builtin, arg, cached))
    }));
    match outcome {
        Ok(answer) => answer.into_ptr(py),
        Err(panic) => {
            failure::report_internal_error(&held.unwrap_or_else(|| tracer.to_owned()), failure::panic_error(&*panic));
            new_none()
        }
    }
}

/// A callback called by hand with something else than a code object: a TypeError for the caller.
#[cold]
fn not_a_code_object(py: Python<'_>) -> *mut ffi::PyObject {
    pyo3::exceptions::PyTypeError::new_err("hunter: a sys.monitoring callback takes a code object first").restore(py);
    std::ptr::null_mut()
}

/// The settrace `arg` of an exception event: `(type, value, traceback)`.
///
/// # Safety
/// `exception` must be a live object (any type: only attributes are read) for the duration of the call.
pub(crate) unsafe fn exception_tuple<'py>(
    py: Python<'py>,
    exception: *mut ffi::PyObject,
) -> PyResult<Bound<'py, PyAny>> {
    // SAFETY: the caller's invariant.
    let exception = unsafe { Bound::from_borrowed_ptr(py, exception) };
    let traceback = exception.getattr(pyo3::intern!(py, "__traceback__"))?;
    Ok(PyTuple::new(py, [exception.get_type().into_any(), exception, traceback])?.into_any())
}

/// A sys.monitoring callback (`METH_FASTCALL`). CPython calls it attached, with `slf` the Tracer it was made for
/// (`start`, its `self`) and `args` holding `n` borrowed arguments, which the caller holds for the call; called
/// by hand, the arguments can be anything, or fewer than the event passes.
type FastCallback =
    unsafe extern "C" fn(*mut ffi::PyObject, *mut *mut ffi::PyObject, ffi::Py_ssize_t) -> *mut ffi::PyObject;

/// The argument `index` of a callback, or NULL when CPython passed fewer.
///
/// # Safety
/// `args` must hold `nargs` pointers (a callback's arguments).
unsafe fn argument(args: *mut *mut ffi::PyObject, nargs: ffi::Py_ssize_t, index: isize) -> *mut ffi::PyObject {
    if index < nargs {
        // SAFETY: `index < nargs` (checked above), and `args` holds `nargs` pointers (this function's contract).
        unsafe { *args.offset(index) }
    } else {
        std::ptr::null_mut()
    }
}

/// # Safety
/// A [`FastCallback`], called by CPython.
unsafe extern "C" fn on_start(
    slf: *mut ffi::PyObject,
    args: *mut *mut ffi::PyObject,
    n: ffi::Py_ssize_t,
) -> *mut ffi::PyObject {
    // SAFETY: CPython calls callbacks attached, with `slf` the Tracer the callback was made for (`start`) and `args`
    // holding `n` arguments the caller holds for the call.
    unsafe {
        deliver(slf, argument(args, n, 0), Kind::Call, false, EventArg::Object(std::ptr::null_mut()), Disable::Allowed)
    }
}

/// # Safety
/// A [`FastCallback`], called by CPython.
unsafe extern "C" fn on_throw(
    slf: *mut ffi::PyObject,
    args: *mut *mut ffi::PyObject,
    n: ffi::Py_ssize_t,
) -> *mut ffi::PyObject {
    // SAFETY: CPython calls callbacks attached, with `slf` the Tracer the callback was made for (`start`) and `args`
    // holding `n` arguments the caller holds for the call.
    unsafe {
        deliver(slf, argument(args, n, 0), Kind::Call, false, EventArg::Object(std::ptr::null_mut()), Disable::Never)
    }
}

/// # Safety
/// A [`FastCallback`], called by CPython.
unsafe extern "C" fn on_profile_throw(
    slf: *mut ffi::PyObject,
    args: *mut *mut ffi::PyObject,
    n: ffi::Py_ssize_t,
) -> *mut ffi::PyObject {
    let arg =
        // SAFETY: `args` holds `n` arguments (a [`FastCallback`]'s contract).
        if compat::PROFILE_THROW_CARRIES_EXCEPTION { unsafe { argument(args, n, 2) } } else { std::ptr::null_mut() };
    // SAFETY: CPython calls callbacks attached, with `slf` the Tracer the callback was made for (`start`) and `args`
    // holding `n` arguments the caller holds for the call.
    unsafe { deliver(slf, argument(args, n, 0), Kind::Call, false, EventArg::Object(arg), Disable::Never) }
}

/// # Safety
/// A [`FastCallback`], called by CPython.
unsafe extern "C" fn on_return(
    slf: *mut ffi::PyObject,
    args: *mut *mut ffi::PyObject,
    n: ffi::Py_ssize_t,
) -> *mut ffi::PyObject {
    // SAFETY: CPython calls callbacks attached, with `slf` the Tracer the callback was made for (`start`) and `args`
    // holding `n` arguments the caller holds for the call.
    unsafe {
        deliver(
            slf,
            argument(args, n, 0),
            Kind::Return,
            false,
            EventArg::Object(argument(args, n, 2)),
            Disable::Allowed,
        )
    }
}

/// # Safety
/// A [`FastCallback`], called by CPython.
unsafe extern "C" fn on_unwind(
    slf: *mut ffi::PyObject,
    args: *mut *mut ffi::PyObject,
    n: ffi::Py_ssize_t,
) -> *mut ffi::PyObject {
    // SAFETY: CPython calls callbacks attached, with `slf` the Tracer the callback was made for (`start`) and `args`
    // holding `n` arguments the caller holds for the call.
    unsafe {
        deliver(slf, argument(args, n, 0), Kind::Return, false, EventArg::Object(std::ptr::null_mut()), Disable::Never)
    }
}

/// # Safety
/// As for [`deliver`], from a callback whose third argument is the exception: `args` holds `n` arguments.
unsafe fn deliver_raised(
    slf: *mut ffi::PyObject,
    args: *mut *mut ffi::PyObject,
    n: ffi::Py_ssize_t,
    disable: Disable,
) -> *mut ffi::PyObject {
    // SAFETY: `args` holds `n` arguments (this function's contract).
    let exception = unsafe { argument(args, n, 2) };
    if exception.is_null() {
        return new_none();
    }
    // SAFETY: this function's contract is `deliver`'s; `exception` is non-NULL (checked above), an argument the caller
    // holds.
    unsafe { deliver(slf, argument(args, n, 0), Kind::Exception, false, EventArg::Raised(exception), disable) }
}

/// # Safety
/// A [`FastCallback`], called by CPython.
unsafe extern "C" fn on_raise(
    slf: *mut ffi::PyObject,
    args: *mut *mut ffi::PyObject,
    n: ffi::Py_ssize_t,
) -> *mut ffi::PyObject {
    // SAFETY: CPython calls callbacks attached, with `slf` the Tracer the callback was made for (`start`) and `args`
    // holding `n` arguments the caller holds for the call.
    unsafe { deliver_raised(slf, args, n, Disable::Never) }
}

/// STOP_ITERATION is a local event (the end of a `for` loop or `yield from` over a generator), so code that
/// can never match switches it off like LINE.
///
/// settrace never reports the one at the end of a `for` loop (END_FOR): its line tracing keeps FOR_ITER
/// instrumented, and that instruction's generic path steps over END_FOR when a generator is exhausted. So those
/// locations are switched off at once; only `yield from` and `await` (END_SEND) deliver the event.
///
/// # Safety
/// A [`FastCallback`], called by CPython.
unsafe extern "C" fn on_stop_iteration(
    slf: *mut ffi::PyObject,
    args: *mut *mut ffi::PyObject,
    n: ffi::Py_ssize_t,
) -> *mut ffi::PyObject {
    // SAFETY: CPython calls callbacks attached, with `n` arguments in `args` (code, offset, exception).
    let py = unsafe { Python::assume_attached() };
    // SAFETY: `args` holds `n` arguments; `offset` type-checks the one it reads.
    let (code, offset) = unsafe { (argument(args, n, 0), offset(argument(args, n, 1))) };
    // SAFETY: attached, inside a monitoring callback; `code` is NULL or an argument the caller holds.
    if let (Some(site), Some(offset)) = (unsafe { EventSite::of_running_code(code) }, offset) {
        if ends_for_loop(py, site.code(py), offset) {
            return new_disable(py);
        }
    }
    // SAFETY: CPython calls callbacks attached, with `slf` the Tracer the callback was made for (`start`) and `args`
    // holding `n` arguments the caller holds for the call.
    unsafe { deliver_raised(slf, args, n, Disable::Allowed) }
}

/// Whether the instruction at byte `offset` of `code` is END_FOR. An error (no info for the code) says no, and
/// the event reports it.
fn ends_for_loop(py: Python<'_>, code: Borrowed<'_, '_, pyo3::types::PyCode>, offset: c_int) -> bool {
    let Some(end_for) = compat::end_for_opcode(py) else { return false };
    // SAFETY: `code` is the running code of this callback, alive for its duration.
    let Ok(info) = (unsafe { CodeInfo::of_code(py, code) }) else { return false };
    let Ok(co_code) = info.co_code(py, &code) else { return false };
    let Ok(bytes) = co_code.cast::<pyo3::types::PyBytes>() else { return false };
    usize::try_from(offset).ok().and_then(|offset| bytes.as_bytes().get(offset)) == Some(&end_for)
}

/// # Safety
/// A [`FastCallback`], called by CPython.
unsafe extern "C" fn on_line(
    slf: *mut ffi::PyObject,
    args: *mut *mut ffi::PyObject,
    n: ffi::Py_ssize_t,
) -> *mut ffi::PyObject {
    // SAFETY: CPython calls callbacks attached, with `slf` the Tracer the callback was made for (`start`) and `args`
    // holding `n` arguments the caller holds for the call.
    unsafe {
        deliver(slf, argument(args, n, 0), Kind::Line, false, EventArg::Object(std::ptr::null_mut()), Disable::Allowed)
    }
}

/// A JUMP event's byte offset, or None if it is not a (small) int.
///
/// # Safety
/// `value` must be NULL or a live object, and the thread attached.
unsafe fn offset(value: *mut ffi::PyObject) -> Option<c_int> {
    // SAFETY: `value` is non-NULL here (checked first) and a live object (this function's contract).
    if value.is_null() || unsafe { ffi::PyLong_Check(value) } == 0 {
        return None;
    }
    // SAFETY: an int (checked above), attached; PyLong_AsLong reads an int (even a subclass) without calling
    // `__index__`.
    let offset = unsafe { ffi::PyLong_AsLong(value) };
    // SAFETY: attached; only reads the current exception.
    if offset == -1 && unsafe { !ffi::PyErr_Occurred().is_null() } {
        // Not an internal error: an offset too large for a C long, which CPython cannot pass. The event is ignored.
        // SAFETY: attached; clears the overflow error the conversion just set.
        unsafe { ffi::PyErr_Clear() };
        return None;
    }
    c_int::try_from(offset).ok()
}

/// settrace reports a `line` event for every backward jump, even within one line (loops on one line);
/// jumps to another line are reported by that line's LINE event.
///
/// # Safety
/// A [`FastCallback`], called by CPython.
unsafe extern "C" fn on_jump(
    slf: *mut ffi::PyObject,
    args: *mut *mut ffi::PyObject,
    n: ffi::Py_ssize_t,
) -> *mut ffi::PyObject {
    // SAFETY: CPython calls callbacks attached (a [`FastCallback`]).
    let py = unsafe { Python::assume_attached() };
    // SAFETY: `args` holds `n` arguments (a [`FastCallback`]'s contract).
    let (code, source, destination) = unsafe { (argument(args, n, 0), argument(args, n, 1), argument(args, n, 2)) };
    // SAFETY: attached; both are NULL or arguments the caller holds.
    let (Some(from), Some(to)) = (unsafe { offset(source) }, unsafe { offset(destination) }) else { return new_none() };
    if to > from || code.is_null() {
        return new_disable(py);
    }
    // Finding the lines may scan the code's line table: first rule out code that can never match.
    // SAFETY: as in `deliver`.
    let tracer = unsafe { Borrowed::from_ptr(py, slf).cast_unchecked::<Tracer>() };
    if tracer.get().handler_is_stopped(py) {
        return new_none();
    }
    // SAFETY: attached, inside a monitoring callback; `code` is a non-NULL argument the caller holds.
    let Some(site) = (unsafe { EventSite::of_running_code(code) }) else {
        return not_a_code_object(py);
    };
    // Held: judging runs Python code, which may release the callback's `self`.
    let held = tracer.to_owned();
    // SAFETY: `held` is a strong reference to the tracer, kept across the Python code judging may run; `site` is this
    // callback's (its code an argument the caller holds, its globals the running frame's).
    let within_one_line = catch_unwind(AssertUnwindSafe(|| unsafe {
        let ruled_out = match held.get().cached_verdict(py, site, Kind::Line) {
            Some(verdict) => verdict != Verdict::Effectful,
            None => match Tracer::judged_out(&held, site, Kind::Line) {
                Ok(ruled_out) => ruled_out,
                Err(handled) => return Err(handled),
            },
        };
        // No info: creating it failed, and delivering the event reports that.
        let code = site.code(py);
        Ok(!ruled_out
            && CodeInfo::existing(code).is_none_or(|info| info.line_at(py, code, from) == info.line_at(py, code, to)))
    }));
    match within_one_line {
        // SAFETY: attached, inside this callback: `held` keeps the Tracer alive, and `code` is a code object (checked
        // by `of_running_code`) the caller holds.
        Ok(Ok(true)) => unsafe {
            deliver(held.as_ptr(), code, Kind::Line, false, EventArg::Object(std::ptr::null_mut()), Disable::Allowed)
        },
        Ok(Ok(false)) => new_disable(py),
        Ok(Err(handled)) => Answer::after(handled).into_ptr(py),
        Err(panic) => {
            failure::report_internal_error(&held, failure::panic_error(&*panic));
            new_none()
        }
    }
}

/// Profiling mode: the C function a CALL/C_RETURN/C_RAISE is about, as settrace's profiler reports it
/// (a method descriptor called with its `self` becomes the bound builtin method), or None for Python calls.
///
/// # Safety
/// `callable` and `self_arg` must be NULL or live objects, and the thread attached (`py`).
unsafe fn called_builtin(
    py: Python<'_>,
    callable: *mut ffi::PyObject,
    self_arg: *mut ffi::PyObject,
) -> PyResult<Option<Bound<'_, PyAny>>> {
    // SAFETY: `callable` is NULL or a live object (this function's contract).
    let Some(callable) = (unsafe { Borrowed::from_ptr_or_opt(py, callable) }) else { return Ok(None) };
    // SAFETY: a live object; PyCFunction_Check only reads its type.
    if unsafe { ffi::PyCFunction_Check(callable.as_ptr()) } != 0 {
        return Ok(Some(callable.to_owned()));
    }
    let is_method_descriptor =
        // SAFETY: a live object, whose type pointer is compared by address with a static type.
        unsafe { ffi::Py_TYPE(callable.as_ptr()) == std::ptr::addr_of_mut!(ffi::PyMethodDescr_Type) };
    // SAFETY: `self_arg` is NULL or a live object (this function's contract).
    let Some(self_arg) = (unsafe { Borrowed::from_ptr_or_opt(py, self_arg) }) else { return Ok(None) };
    if !is_method_descriptor || self_arg.is(missing_argument(py)?) {
        return Ok(None);
    }
    callable.call_method1(pyo3::intern!(py, "__get__"), (&self_arg, self_arg.get_type())).map(Some)
}

/// `sys.monitoring.MISSING`: what CALL events pass as `arg0` for calls without arguments.
fn missing_argument(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    static MISSING: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    MISSING
        .get_or_try_init(py, || Ok::<_, PyErr>(monitoring_namespace(py)?.getattr("MISSING")?.unbind()))
        .map(|missing| missing.bind(py))
}

/// # Safety
/// As for [`deliver`], from a CALL, C_RETURN or C_RAISE callback: `args` holds `n` arguments.
unsafe fn deliver_builtin(
    slf: *mut ffi::PyObject,
    args: *mut *mut ffi::PyObject,
    n: ffi::Py_ssize_t,
    kind: Kind,
) -> *mut ffi::PyObject {
    // SAFETY: attached (this function's contract).
    let py = unsafe { Python::assume_attached() };
    // SAFETY: as in `deliver`.
    let tracer = unsafe { Borrowed::from_ptr(py, slf).cast_unchecked::<Tracer>() };
    if tracer.get().handler_is_stopped(py) {
        return new_none();
    }
    // Held: finding the C function can call a descriptor's `__get__`, and builtin events always run the handler.
    let tracer = tracer.to_owned();
    // SAFETY: `args` holds `n` arguments (this function's contract).
    let (code, callable, self_arg) = unsafe { (argument(args, n, 0), argument(args, n, 2), argument(args, n, 3)) };
    // SAFETY: attached; both are NULL or arguments the caller holds for the call.
    match unsafe { called_builtin(py, callable, self_arg) } {
        // SAFETY: `tracer` is held, `code` is NULL or an argument the caller holds (`deliver` checks it), and
        // `function` a strong reference alive across the call.
        Ok(Some(function)) => unsafe {
            deliver(tracer.as_ptr(), code, kind, true, EventArg::Object(function.as_ptr()), Disable::Never)
        },
        Ok(None) => new_none(),
        Err(error) => Answer::after(Tracer::report_failure(&tracer, error)).into_ptr(py),
    }
}

/// # Safety
/// A [`FastCallback`], called by CPython.
unsafe extern "C" fn on_call(
    slf: *mut ffi::PyObject,
    args: *mut *mut ffi::PyObject,
    n: ffi::Py_ssize_t,
) -> *mut ffi::PyObject {
    // SAFETY: CPython calls callbacks attached, with `slf` the Tracer the callback was made for (`start`) and `args`
    // holding `n` arguments the caller holds for the call.
    unsafe { deliver_builtin(slf, args, n, Kind::Call) }
}

/// # Safety
/// A [`FastCallback`], called by CPython.
unsafe extern "C" fn on_c_return(
    slf: *mut ffi::PyObject,
    args: *mut *mut ffi::PyObject,
    n: ffi::Py_ssize_t,
) -> *mut ffi::PyObject {
    // SAFETY: CPython calls callbacks attached, with `slf` the Tracer the callback was made for (`start`) and `args`
    // holding `n` arguments the caller holds for the call.
    unsafe { deliver_builtin(slf, args, n, Kind::Return) }
}

/// # Safety
/// A [`FastCallback`], called by CPython.
unsafe extern "C" fn on_c_raise(
    slf: *mut ffi::PyObject,
    args: *mut *mut ffi::PyObject,
    n: ffi::Py_ssize_t,
) -> *mut ffi::PyObject {
    // SAFETY: CPython calls callbacks attached, with `slf` the Tracer the callback was made for (`start`) and `args`
    // holding `n` arguments the caller holds for the call.
    unsafe { deliver_builtin(slf, args, n, Kind::Exception) }
}

/// When a registered event is switched on.
#[derive(Clone, Copy)]
enum Switch {
    /// For the whole session.
    Always,
    /// Never by itself: C_RETURN/C_RAISE are ancillary events, which follow CALL.
    Ancillary,
    /// Once some code's verdict for this kind is effectful (or from the start, for a kind that is counted
    /// when the handler counts calls): events that cannot be disabled per location.
    OnDemand(Kind),
}

/// (monitoring event name, callback, when it is switched on).
const TRACE_CALLBACKS: [(&str, FastCallback, Switch); 10] = [
    ("PY_START", on_start, Switch::Always),
    ("PY_RESUME", on_start, Switch::Always),
    ("PY_THROW", on_throw, Switch::Always),
    ("PY_RETURN", on_return, Switch::Always),
    ("PY_YIELD", on_return, Switch::Always),
    ("PY_UNWIND", on_unwind, Switch::OnDemand(Kind::Return)),
    ("RAISE", on_raise, Switch::OnDemand(Kind::Exception)),
    ("STOP_ITERATION", on_stop_iteration, Switch::Always),
    ("LINE", on_line, Switch::Always),
    ("JUMP", on_jump, Switch::Always),
];

const PROFILE_CALLBACKS: [(&str, FastCallback, Switch); 9] = [
    ("PY_START", on_start, Switch::Always),
    ("PY_RESUME", on_start, Switch::Always),
    ("PY_THROW", on_profile_throw, Switch::Always),
    ("PY_RETURN", on_return, Switch::Always),
    ("PY_YIELD", on_return, Switch::Always),
    ("PY_UNWIND", on_unwind, Switch::OnDemand(Kind::Return)),
    ("CALL", on_call, Switch::Always),
    ("C_RETURN", on_c_return, Switch::Ancillary),
    ("C_RAISE", on_c_raise, Switch::Ancillary),
];

/// The events a monitoring tracer has switched on, and those it switches on when some code needs them.
#[derive(Clone, Copy, Default)]
pub struct EventSwitches {
    active: u32,
    /// Per kind (`Kind as usize`): the events still off that code with an effectful verdict for that kind needs.
    on_demand: [u32; 4],
}

/// Switches on the on-demand events that a code object with these verdicts (per kind) needs.
pub(crate) fn switch_on_needed_events(
    py: Python<'_>,
    tracer: &Tracer,
    tool_id: u8,
    verdicts: &[Verdict; 4],
) -> PyResult<()> {
    let mut switches = tracer.event_switches.get(py);
    let mut wanted = switches.active;
    for kind in Kind::ALL {
        if verdicts[kind as usize] == Verdict::Effectful {
            wanted |= std::mem::take(&mut switches.on_demand[kind as usize]);
        }
    }
    if wanted == switches.active {
        return Ok(());
    }
    switches.active = wanted;
    tracer.event_switches.set(py, switches);
    monitoring_namespace(py)?.call_method1(pyo3::intern!(py, "set_events"), (tool_id, wanted))?;
    Ok(())
}

/// Method definitions for the callbacks; CPython keeps pointers to them for as long as the callables live.
struct CallbackDefinitions(Vec<ffi::PyMethodDef>);
// SAFETY: the definitions are immutable after creation and only read by CPython with the GIL held.
unsafe impl Send for CallbackDefinitions {}
// SAFETY: as for `Send` just above: CPython only reads the definitions, with the GIL held.
unsafe impl Sync for CallbackDefinitions {}

fn definitions(callbacks: &'static [(&'static str, FastCallback, Switch)]) -> CallbackDefinitions {
    CallbackDefinitions(
        callbacks
            .iter()
            .map(|(_, callback, _)| ffi::PyMethodDef {
                ml_name: c"hunter_monitoring_callback".as_ptr(),
                ml_meth: ffi::PyMethodDefPointer { PyCFunctionFast: *callback },
                ml_flags: ffi::METH_FASTCALL,
                ml_doc: std::ptr::null(),
            })
            .collect(),
    )
}

fn monitoring_namespace(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    compat::import(py, "sys")?.getattr(pyo3::intern!(py, "monitoring"))
}

/// Claims a tool id (recorded in the tracer), registers the callbacks bound to `tracer` and switches the
/// events on. Disabled locations of earlier runs are re-enabled first (`restart_events`): a new handler
/// judges code anew, starting with the frames running now.
pub fn start(tracer: &Bound<'_, Tracer>) -> PyResult<()> {
    static TRACE_DEFINITIONS: OnceLock<CallbackDefinitions> = OnceLock::new();
    static PROFILE_DEFINITIONS: OnceLock<CallbackDefinitions> = OnceLock::new();
    let py = tracer.py();
    let monitoring = monitoring_namespace(py)?;
    DISABLE.get_or_try_init(py, || Ok::<_, PyErr>(monitoring.getattr("DISABLE")?.unbind()))?;
    let tool_id = claim_tool_id(&monitoring)?;
    let (callbacks, definitions) = if tracer.get().is_profiler() {
        (&PROFILE_CALLBACKS[..], PROFILE_DEFINITIONS.get_or_init(|| definitions(&PROFILE_CALLBACKS)))
    } else {
        (&TRACE_CALLBACKS[..], TRACE_DEFINITIONS.get_or_init(|| definitions(&TRACE_CALLBACKS)))
    };
    let this = tracer.get();
    let counting = this.counting.get(py);
    let registered = (|| -> PyResult<()> {
        let events = monitoring.getattr("events")?;
        let mut switches = EventSwitches::default();
        for ((name, _, switch), definition) in callbacks.iter().zip(&definitions.0) {
            let event: u32 = events.getattr(*name)?.extract()?;
            // SAFETY: attached (`py`). `definition` lives in a static `OnceLock` for the rest of the process (CPython
            // keeps a pointer to it, and never writes through it: the `cast_mut` is for the C signature); the new
            // function holds a strong reference to `tracer`, its `self`.
            let callable = unsafe {
                let definition = std::ptr::from_ref(definition).cast_mut();
                Bound::from_owned_ptr_or_err(
                    py,
                    ffi::PyCFunction_NewEx(definition, tracer.as_ptr(), std::ptr::null_mut()),
                )?
            };
            monitoring.call_method1("register_callback", (tool_id, event, callable))?;
            match *switch {
                Switch::Always => switches.active |= event,
                Switch::OnDemand(kind) if counting && kind.counts_frames() => switches.active |= event,
                Switch::OnDemand(kind) => switches.on_demand[kind as usize] |= event,
                Switch::Ancillary => {}
            }
        }
        this.event_switches.set(py, switches);
        this.tool_id.set(py, Some(tool_id));
        monitoring.call_method0("restart_events")?;
        monitoring.call_method1("set_events", (tool_id, switches.active))?;
        // SAFETY: attached; PyEval_GetFrame gives this thread's running frame (borrowed, alive for this call) or NULL.
        unsafe { Tracer::judge_running_frames(tracer, ffi::PyEval_GetFrame()) }
    })();
    if let Err(error) = registered {
        this.tool_id.set(py, None);
        release_tool_id(&monitoring, tool_id)?;
        return Err(error);
    }
    Ok(())
}

fn claim_tool_id(monitoring: &Bound<'_, PyAny>) -> PyResult<u8> {
    for tool_id in TOOL_ID_PREFERENCE {
        if monitoring.call_method1("get_tool", (tool_id,))?.is_none() {
            monitoring.call_method1("use_tool_id", (tool_id, TOOL_NAME))?;
            return Ok(tool_id);
        }
    }
    let owners: Vec<String> = TOOL_ID_PREFERENCE
        .iter()
        .map(|id| Ok(format!("{id}: {}", monitoring.call_method1("get_tool", (*id,))?.str()?)))
        .collect::<PyResult<_>>()?;
    Err(NoFreeToolId::new_err(format!(
        "hunter: no free sys.monitoring tool id ({}); use backend='settrace'.",
        owners.join(", ")
    )))
}

/// Switches the events off, drops the callbacks (they hold the tracer) and frees the tool id.
pub fn stop(py: Python<'_>, tool_id: u8) -> PyResult<()> {
    release_tool_id(&monitoring_namespace(py)?, tool_id)
}

/// Undoes `claim_tool_id` and the registrations, if `tool_id` is still ours: another tool may have taken it over
/// since (after someone called `free_tool_id` on it), and its events and callbacks are its own.
fn release_tool_id(monitoring: &Bound<'_, PyAny>, tool_id: u8) -> PyResult<()> {
    let py = monitoring.py();
    let owner = monitoring.call_method1("get_tool", (tool_id,))?;
    if owner.is_none() || !owner.eq(TOOL_NAME)? {
        return Ok(());
    }
    monitoring.call_method1("set_events", (tool_id, 0))?;
    let events = monitoring.getattr("events")?;
    for name in TRACE_CALLBACKS.iter().chain(&PROFILE_CALLBACKS).map(|(name, _, _)| *name) {
        let event: u32 = events.getattr(name)?.extract()?;
        monitoring.call_method1("register_callback", (tool_id, event, py.None()))?;
    }
    monitoring.call_method1("free_tool_id", (tool_id,))?;
    Ok(())
}
