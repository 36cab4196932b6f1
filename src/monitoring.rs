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

use pyo3::exceptions::PyRuntimeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyFrame;

use crate::codeinfo::CodeInfo;
use crate::compat;
use crate::engine::{self, Host};
use crate::event::Kind;
use crate::failure;
use crate::gilcell::{GilCell, GilOnce};
use crate::hook::{EventArg, EventSite, Handled};
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

/// A monitoring tracer's session: the tool id it holds, the events it switched on, the threads it delivers
/// events of, and the method definitions of its callbacks.
#[derive(Default)]
pub(crate) struct Session {
    /// The sys.monitoring tool id in use, while tracing with this backend.
    pub tool_id: GilCell<Option<u8>>,
    event_switches: GilCell<EventSwitches>,
    pub threads: TracedThreads,
    /// Made on the first `start` and never replaced: CPython keeps pointers to them in the callbacks, and each
    /// callback holds its tracer (its `self`), so they live as long as any callback does.
    definitions: GilOnce<CallbackDefinitions>,
}

/// What the callbacks need of the tracer they are bound to, besides its engine: its monitoring session.
pub(crate) trait Monitored: Host {
    fn session(&self) -> &Session;
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
/// long as no Python code has run, as in `engine::handle`.
///
/// # Safety
/// Attached, inside a monitoring callback: `slf` a live `H` (the callback's `self`), `code` NULL or an object and
/// `arg` NULL or objects the callback's caller holds for the call.
unsafe fn deliver<H: Monitored>(
    slf: *mut ffi::PyObject,
    code: *mut ffi::PyObject,
    kind: Kind,
    builtin: bool,
    arg: EventArg,
    disable: Disable,
) -> *mut ffi::PyObject {
    // SAFETY: attached (this function's contract).
    let py = unsafe { Python::assume_attached() };
    // SAFETY: the callbacks are created bound to a live `H` (`start`), and CPython holds the callback (so its
    // `self`) for the duration of the call.
    let tracer = unsafe { Borrowed::from_ptr(py, slf).cast_unchecked::<H>() };
    let engine = tracer.get().engine();
    if engine.is_stopped(py) {
        return new_none();
    }
    // SAFETY: attached, inside a monitoring callback; `code` is NULL or an object the caller holds (this function's
    // contract).
    let Some(site) = (unsafe { EventSite::of_running_code(code) }) else {
        return not_a_code_object(py);
    };
    let disableable = disable == Disable::Allowed && (!kind.counts_frames() || !engine.counting.get(py));
    // A strong reference, once Python code is about to run; the panic report below needs it too.
    let mut held: Option<Bound<'_, H>> = None;
    // SAFETY: `site` is this callback's: its code is an argument the caller holds, its globals the running frame's.
    // `tracer` is used borrowed only until Python code may run: `judged_out` and `handle` take a strong reference
    // first.
    let outcome = catch_unwind(AssertUnwindSafe(|| unsafe {
        let cached = if builtin { None } else { engine.cached_verdict(py, site, kind) };
        let mut tracer = tracer;
        // A location that can never match is switched off whichever thread reaches it first. Not in code that
        // can run again with other globals (`exec`), which can change its verdict: that is only skipped.
        if disableable {
            let ruled_out = match cached {
                Some(verdict) => verdict != Verdict::Effectful,
                None => {
                    let strong = held.insert(tracer.to_owned());
                    let judged = engine::judged_out(strong, site, kind);
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
        if !tracer.get().session().threads.includes_current_thread() {
            return Answer::Continue;
        }
        Answer::after(engine::handle(tracer, site, kind, builtin, arg, cached))
    }));
    match outcome {
        Ok(answer) => answer.into_ptr(py),
        Err(panic) => {
            engine::fail_internally(&held.unwrap_or_else(|| tracer.to_owned()), failure::panic_error(&*panic));
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

/// A sys.monitoring callback (`METH_FASTCALL`). CPython calls it attached, with `slf` the tracer it was made for
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

/// The callbacks: one line each, from the monitoring event's arguments to the delivery that turns it into a
/// settrace event. Every one is a [`FastCallback`], generic over the tracer type it is bound to.
macro_rules! fast_callbacks {
    ($($(#[doc = $doc:literal])* $name:ident($slf:ident, $args:ident, $n:ident) => $delivery:expr;)+) => {$(
        $(#[doc = $doc])*
        ///
        /// # Safety
        /// A [`FastCallback`], called by CPython.
        unsafe extern "C" fn $name<H: Monitored>(
            $slf: *mut ffi::PyObject,
            $args: *mut *mut ffi::PyObject,
            $n: ffi::Py_ssize_t,
        ) -> *mut ffi::PyObject {
            // SAFETY: a FastCallback's contract, which is what the delivery functions need: CPython calls it attached,
            // with `slf` the tracer the callback was made for (`start`) and `args` holding `n` arguments the caller
            // holds for the call.
            unsafe { $delivery }
        }
    )+};
}

/// No argument: the event's `arg` is None.
const NO_ARG: EventArg = EventArg::Object(std::ptr::null_mut());

fast_callbacks! {
    /// PY_START, PY_RESUME: `call`.
    on_start(slf, args, n) => deliver::<H>(slf, argument(args, n, 0), Kind::Call, false, NO_ARG, Disable::Allowed);
    /// PY_THROW: `call`, never disabled (see the module's doc).
    on_throw(slf, args, n) => deliver::<H>(slf, argument(args, n, 0), Kind::Call, false, NO_ARG, Disable::Never);
    /// PY_THROW in profiling mode: `call`, with the exception as `arg` where the profiler has it.
    on_profile_throw(slf, args, n) => deliver::<H>(
        slf,
        argument(args, n, 0),
        Kind::Call,
        false,
        EventArg::Object(if compat::PROFILE_THROW_CARRIES_EXCEPTION { argument(args, n, 2) } else { std::ptr::null_mut() }),
        Disable::Never,
    );
    /// PY_RETURN, PY_YIELD: `return`, with the value.
    on_return(slf, args, n) => deliver::<H>(
        slf,
        argument(args, n, 0),
        Kind::Return,
        false,
        EventArg::Object(argument(args, n, 2)),
        Disable::Allowed,
    );
    /// PY_UNWIND: `return` None.
    on_unwind(slf, args, n) => deliver::<H>(slf, argument(args, n, 0), Kind::Return, false, NO_ARG, Disable::Never);
    /// RAISE: `exception`.
    on_raise(slf, args, n) => deliver_raised::<H>(slf, args, n, Disable::Never);
    /// STOP_ITERATION: `exception` (see `stop_iteration`).
    on_stop_iteration(slf, args, n) => stop_iteration::<H>(slf, args, n);
    /// LINE: `line`.
    on_line(slf, args, n) => deliver::<H>(slf, argument(args, n, 0), Kind::Line, false, NO_ARG, Disable::Allowed);
    /// JUMP: `line` for a backward jump within one line (see `jump`).
    on_jump(slf, args, n) => jump::<H>(slf, args, n);
    /// CALL in profiling mode: `c_call` for a C function.
    on_call(slf, args, n) => deliver_builtin::<H>(slf, args, n, Kind::Call);
    /// C_RETURN in profiling mode: `c_return`.
    on_c_return(slf, args, n) => deliver_builtin::<H>(slf, args, n, Kind::Return);
    /// C_RAISE in profiling mode: `c_exception`.
    on_c_raise(slf, args, n) => deliver_builtin::<H>(slf, args, n, Kind::Exception);
}

/// # Safety
/// As for [`deliver`], from a callback whose third argument is the exception: `args` holds `n` arguments.
unsafe fn deliver_raised<H: Monitored>(
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
    unsafe { deliver::<H>(slf, argument(args, n, 0), Kind::Exception, false, EventArg::Raised(exception), disable) }
}

/// STOP_ITERATION is a local event (the end of a `for` loop or `yield from` over a generator), so code that
/// can never match switches it off like LINE.
///
/// settrace never reports the one at the end of a `for` loop (END_FOR): its line tracing keeps FOR_ITER
/// instrumented, and that instruction's generic path steps over END_FOR when a generator is exhausted. So those
/// locations are switched off at once; only `yield from` and `await` (END_SEND) deliver the event.
///
/// # Safety
/// As for [`deliver`]: `args` holds `n` arguments (code, offset, exception).
unsafe fn stop_iteration<H: Monitored>(
    slf: *mut ffi::PyObject,
    args: *mut *mut ffi::PyObject,
    n: ffi::Py_ssize_t,
) -> *mut ffi::PyObject {
    // SAFETY: attached (this function's contract).
    let py = unsafe { Python::assume_attached() };
    // SAFETY: `args` holds `n` arguments; `offset` type-checks the one it reads.
    let (code, offset) = unsafe { (argument(args, n, 0), offset(argument(args, n, 1))) };
    // SAFETY: attached, inside a monitoring callback; `code` is NULL or an argument the caller holds.
    if let (Some(site), Some(offset)) = (unsafe { EventSite::of_running_code(code) }, offset) {
        if ends_for_loop(py, site.code(py), offset) {
            return new_disable(py);
        }
    }
    // SAFETY: this function's contract is `deliver_raised`'s.
    unsafe { deliver_raised::<H>(slf, args, n, Disable::Allowed) }
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
/// As for [`deliver`]: `args` holds `n` arguments (code, source offset, destination offset).
unsafe fn jump<H: Monitored>(
    slf: *mut ffi::PyObject,
    args: *mut *mut ffi::PyObject,
    n: ffi::Py_ssize_t,
) -> *mut ffi::PyObject {
    // SAFETY: attached (this function's contract).
    let py = unsafe { Python::assume_attached() };
    // SAFETY: `args` holds `n` arguments (this function's contract).
    let (code, source, destination) = unsafe { (argument(args, n, 0), argument(args, n, 1), argument(args, n, 2)) };
    // SAFETY: attached; both are NULL or arguments the caller holds.
    let (Some(from), Some(to)) = (unsafe { offset(source) }, unsafe { offset(destination) }) else { return new_none() };
    if to > from || code.is_null() {
        return new_disable(py);
    }
    // Finding the lines may scan the code's line table: first rule out code that can never match.
    // SAFETY: as in `deliver`.
    let tracer = unsafe { Borrowed::from_ptr(py, slf).cast_unchecked::<H>() };
    if tracer.get().engine().is_stopped(py) {
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
        let ruled_out = match held.get().engine().cached_verdict(py, site, Kind::Line) {
            Some(verdict) => verdict != Verdict::Effectful,
            None => match engine::judged_out(&held, site, Kind::Line) {
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
        // SAFETY: attached, inside this callback: `held` keeps the tracer alive, and `code` is a code object (checked
        // by `of_running_code`) the caller holds.
        Ok(Ok(true)) => unsafe { deliver::<H>(held.as_ptr(), code, Kind::Line, false, NO_ARG, Disable::Allowed) },
        Ok(Ok(false)) => new_disable(py),
        Ok(Err(handled)) => Answer::after(handled).into_ptr(py),
        Err(panic) => {
            engine::fail_internally(&held, failure::panic_error(&*panic));
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
unsafe fn deliver_builtin<H: Monitored>(
    slf: *mut ffi::PyObject,
    args: *mut *mut ffi::PyObject,
    n: ffi::Py_ssize_t,
    kind: Kind,
) -> *mut ffi::PyObject {
    // SAFETY: attached (this function's contract).
    let py = unsafe { Python::assume_attached() };
    // SAFETY: as in `deliver`.
    let tracer = unsafe { Borrowed::from_ptr(py, slf).cast_unchecked::<H>() };
    if tracer.get().engine().is_stopped(py) {
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
            deliver::<H>(tracer.as_ptr(), code, kind, true, EventArg::Object(function.as_ptr()), Disable::Never)
        },
        Ok(None) => new_none(),
        Err(error) => Answer::after(engine::report_failure(&tracer, error)).into_ptr(py),
    }
}

/// The callbacks by name (the functions, per tracer type: [`Callback::function`]).
#[derive(Clone, Copy)]
enum Callback {
    Start,
    Throw,
    ProfileThrow,
    Return,
    Unwind,
    Raise,
    StopIteration,
    Line,
    Jump,
    Call,
    CReturn,
    CRaise,
}

impl Callback {
    fn function<H: Monitored>(self) -> FastCallback {
        match self {
            Callback::Start => on_start::<H>,
            Callback::Throw => on_throw::<H>,
            Callback::ProfileThrow => on_profile_throw::<H>,
            Callback::Return => on_return::<H>,
            Callback::Unwind => on_unwind::<H>,
            Callback::Raise => on_raise::<H>,
            Callback::StopIteration => on_stop_iteration::<H>,
            Callback::Line => on_line::<H>,
            Callback::Jump => on_jump::<H>,
            Callback::Call => on_call::<H>,
            Callback::CReturn => on_c_return::<H>,
            Callback::CRaise => on_c_raise::<H>,
        }
    }
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
const TRACE_CALLBACKS: [(&str, Callback, Switch); 10] = [
    ("PY_START", Callback::Start, Switch::Always),
    ("PY_RESUME", Callback::Start, Switch::Always),
    ("PY_THROW", Callback::Throw, Switch::Always),
    ("PY_RETURN", Callback::Return, Switch::Always),
    ("PY_YIELD", Callback::Return, Switch::Always),
    ("PY_UNWIND", Callback::Unwind, Switch::OnDemand(Kind::Return)),
    ("RAISE", Callback::Raise, Switch::OnDemand(Kind::Exception)),
    ("STOP_ITERATION", Callback::StopIteration, Switch::Always),
    ("LINE", Callback::Line, Switch::Always),
    ("JUMP", Callback::Jump, Switch::Always),
];

const PROFILE_CALLBACKS: [(&str, Callback, Switch); 9] = [
    ("PY_START", Callback::Start, Switch::Always),
    ("PY_RESUME", Callback::Start, Switch::Always),
    ("PY_THROW", Callback::ProfileThrow, Switch::Always),
    ("PY_RETURN", Callback::Return, Switch::Always),
    ("PY_YIELD", Callback::Return, Switch::Always),
    ("PY_UNWIND", Callback::Unwind, Switch::OnDemand(Kind::Return)),
    ("CALL", Callback::Call, Switch::Always),
    ("C_RETURN", Callback::CReturn, Switch::Ancillary),
    ("C_RAISE", Callback::CRaise, Switch::Ancillary),
];

/// The events a monitoring tracer has switched on, and those it switches on when some code needs them.
#[derive(Clone, Copy, Default)]
struct EventSwitches {
    active: u32,
    /// Per kind (`Kind as usize`): the events still off that code with an effectful verdict for that kind needs.
    on_demand: [u32; 4],
}

/// Switches on the on-demand events that a code object with these verdicts (per kind) needs, while the session
/// holds a tool id.
pub(crate) fn switch_on_needed_events(py: Python<'_>, session: &Session, verdicts: &[Verdict; 4]) -> PyResult<()> {
    let Some(tool_id) = session.tool_id.get(py) else {
        return Ok(());
    };
    let mut switches = session.event_switches.get(py);
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
    session.event_switches.set(py, switches);
    monitoring_namespace(py)?.call_method1(pyo3::intern!(py, "set_events"), (tool_id, wanted))?;
    Ok(())
}

/// Judges the code of `frame` and of every frame below it (see `switch_on_needed_events`): frames already running
/// when monitoring starts, or when it admits their thread, report no PY_START. A code that cannot be judged
/// switches on every event, as its events will fail the same way.
///
/// # Safety
/// `frame` must be a live frame of the current thread, or NULL.
pub(crate) unsafe fn judge_running_frames<H: Monitored>(
    slf: &Bound<'_, H>,
    frame: *mut ffi::PyFrameObject,
) -> PyResult<()> {
    let py = slf.py();
    if slf.get().session().tool_id.get(py).is_none() {
        return Ok(());
    }
    // Judging may import modules (`hunter.const`): their events must not reach us meanwhile.
    let _quiet = compat::EventsSuspended::on_this_thread();
    // SAFETY: the caller's invariant.
    let mut frame = unsafe { Bound::from_borrowed_ptr_or_opt(py, frame.cast()) }
        .map(|frame| unsafe { frame.cast_into_unchecked::<PyFrame>() });
    while let Some(current) = frame {
        let site = EventSite::of_frame(current.as_borrowed());
        // SAFETY: `site` was made from `current`, a strong reference this loop holds across the call, whose frame
        // holds its code and globals.
        if unsafe { engine::code_verdict(slf, site, Kind::Call) }.is_err() {
            return switch_on_needed_events(py, slf.get().session(), &[Verdict::Effectful; 4]);
        }
        frame = compat::frame_back(&current);
    }
    Ok(())
}

/// Method definitions for the callbacks; CPython keeps pointers to them for as long as the callables live.
struct CallbackDefinitions(Vec<ffi::PyMethodDef>);
// SAFETY: the definitions are immutable after creation and only read by CPython with the GIL held.
unsafe impl Send for CallbackDefinitions {}

fn definitions<H: Monitored>(callbacks: &[(&str, Callback, Switch)]) -> CallbackDefinitions {
    CallbackDefinitions(
        callbacks
            .iter()
            .map(|(_, callback, _)| ffi::PyMethodDef {
                ml_name: c"hunter_monitoring_callback".as_ptr(),
                ml_meth: ffi::PyMethodDefPointer { PyCFunctionFast: callback.function::<H>() },
                ml_flags: ffi::METH_FASTCALL,
                ml_doc: std::ptr::null(),
            })
            .collect(),
    )
}

fn monitoring_namespace(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    compat::import(py, "sys")?.getattr(pyo3::intern!(py, "monitoring"))
}

/// Claims a tool id (recorded in the session), registers the callbacks bound to `tracer` and switches the
/// events on. Disabled locations of earlier runs are re-enabled first (`restart_events`): a new handler
/// judges code anew, starting with the frames running now.
pub(crate) fn start<H: Monitored>(tracer: &Bound<'_, H>) -> PyResult<()> {
    let py = tracer.py();
    let monitoring = monitoring_namespace(py)?;
    DISABLE.get_or_try_init(py, || Ok::<_, PyErr>(monitoring.getattr("DISABLE")?.unbind()))?;
    let tool_id = claim_tool_id(&monitoring)?;
    let engine = tracer.get().engine();
    let session = tracer.get().session();
    let callbacks = if engine.profiling_mode { &PROFILE_CALLBACKS[..] } else { &TRACE_CALLBACKS[..] };
    let definitions = match session.definitions.get(py) {
        Some(definitions) => definitions,
        None => session.definitions.set(py, definitions::<H>(callbacks)),
    };
    let counting = engine.counting.get(py);
    let registered = (|| -> PyResult<()> {
        let events = monitoring.getattr("events")?;
        let mut switches = EventSwitches::default();
        for ((name, _, switch), definition) in callbacks.iter().zip(&definitions.0) {
            let event: u32 = events.getattr(*name)?.extract()?;
            // SAFETY: attached (`py`). `definition` lives in the session of `tracer` as long as `tracer` (it is
            // never replaced), and the new function holds a strong reference to `tracer`, its `self`; CPython never
            // writes through it (the `cast_mut` is for the C signature).
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
        session.event_switches.set(py, switches);
        session.tool_id.set(py, Some(tool_id));
        monitoring.call_method0("restart_events")?;
        monitoring.call_method1("set_events", (tool_id, switches.active))?;
        // SAFETY: attached; PyEval_GetFrame gives this thread's running frame (borrowed, alive for this call) or NULL.
        unsafe { judge_running_frames(tracer, ffi::PyEval_GetFrame()) }
    })();
    if let Err(error) = registered {
        session.tool_id.set(py, None);
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

/// Switches the events off, drops the callbacks (they hold the tracer) and frees the session's tool id.
pub(crate) fn stop(py: Python<'_>, session: &Session) -> PyResult<()> {
    match session.tool_id.replace(py, None) {
        Some(tool_id) => release_tool_id(&monitoring_namespace(py)?, tool_id),
        None => Ok(()),
    }
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
