//! The sys.monitoring callbacks: one line each (`fast_callbacks!`), from a monitoring event's arguments to the
//! settrace event it stands for, delivered to the engine, or DISABLE for a location that can never match.

use std::os::raw::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::gilcell::MadeOnce;
use pyo3::ffi;
use pyo3::prelude::*;

use super::callable::{self, new_none};
use super::session::Monitored;
use crate::codeinfo::CodeInfo;
use crate::compat;
use crate::engine;
use crate::event::Kind;
use crate::failure;
use crate::hook::{EventArg, EventSite, Handled, MethodCall};

/// May the callback answer DISABLE for this event? Only local events can be disabled (CPython raises
/// ValueError otherwise); builtin (C function) events are never decided per code.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Disable {
    Allowed,
    Never,
}

static DISABLE: MadeOnce<Py<PyAny>> = MadeOnce::new();

/// `sys.monitoring.MISSING`: what CALL events pass as `arg0` for calls without arguments.
static MISSING: MadeOnce<Py<PyAny>> = MadeOnce::new();

/// Fetches `sys.monitoring.DISABLE` and `MISSING` for the callbacks (before any callback is registered), so that a
/// callback reads them without running Python code.
pub(super) fn remember_sentinels(monitoring: &Bound<'_, PyAny>) -> PyResult<()> {
    DISABLE.get_or_try_init(monitoring.py(), || Ok::<_, PyErr>(monitoring.getattr("DISABLE")?.unbind()))?;
    MISSING.get_or_try_init(monitoring.py(), || Ok::<_, PyErr>(monitoring.getattr("MISSING")?.unbind()))?;
    Ok(())
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
    if engine.records_everything(py) {
        // SAFETY: `site` is this callback's, `arg` NULL or objects the caller holds (this function's contract).
        if let Some(answer) = unsafe { record_everything(tracer, site, kind, builtin, arg) } {
            return answer;
        }
    }
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
                Some(verdict) => !verdict.has_effect(),
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
                // A computed verdict leaves the code's info behind (a handler recording everything computes none,
                // but rules out only line events, which it never switches on).
                let for_good = CodeInfo::existing(site.code(py)).is_some_and(|info| info.may_switch_off(py))
                    && !(compat::DISABLED_START_LOSES_FIRST_LINE
                        && kind == Kind::Call
                        && engine.cached_verdict(py, site, Kind::Line).is_some_and(|verdict| verdict.has_effect()));
                return if for_good { Answer::Disable } else { Answer::Continue };
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

/// The usual event of a tracer that records every event into its action: recorded where it pairs in order (see
/// `engine::record_in_order`), with none of the verdict work. None for any other event, which then takes the
/// general path (nothing was recorded).
///
/// # Safety
/// As for [`deliver`]: `site` is this callback's, `arg` NULL or objects the caller holds for the call.
#[inline]
unsafe fn record_everything<H: Monitored>(
    tracer: Borrowed<'_, '_, H>,
    site: EventSite,
    kind: Kind,
    builtin: bool,
    arg: EventArg,
) -> Option<*mut ffi::PyObject> {
    let py = tracer.py();
    // SAFETY: `site` and `arg` are this callback's (this function's contract); nothing here runs Python code, so
    // `tracer` may stay borrowed.
    let outcome = catch_unwind(AssertUnwindSafe(|| unsafe {
        let frame = site.running_frame(py)?;
        if !tracer.get().session().threads.includes_thread(py, frame.thread_serial) {
            return Some(Handled::Rejected);
        }
        engine::record_in_order_at(tracer, site, frame, kind, builtin, arg)
    }));
    match outcome {
        Ok(handled) => handled.map(|handled| Answer::after(handled).into_ptr(py)),
        Err(panic) => {
            engine::fail_internally(&tracer.to_owned(), failure::panic_error(&*panic));
            Some(new_none())
        }
    }
}

/// A callback called by hand with an argument of the wrong type (`expected` says which): a TypeError for the caller.
#[cold]
fn wrong_argument(py: Python<'_>, expected: &str) -> *mut ffi::PyObject {
    pyo3::exceptions::PyTypeError::new_err(format!("hunter: a sys.monitoring callback takes {expected}")).restore(py);
    std::ptr::null_mut()
}

/// The TypeError of a callback called by hand with something else than a code object.
fn not_a_code_object(py: Python<'_>) -> *mut ffi::PyObject {
    wrong_argument(py, "a code object first")
}

/// The argument `index` of a callback, or NULL when CPython passed fewer.
///
/// # Safety
/// `args` must hold `nargs` pointers (a callback's arguments).
unsafe fn argument(args: *const *mut ffi::PyObject, nargs: ffi::Py_ssize_t, index: isize) -> *mut ffi::PyObject {
    if index < nargs {
        // SAFETY: `index < nargs` (checked above), and `args` holds `nargs` pointers (this function's contract).
        unsafe { *args.offset(index) }
    } else {
        std::ptr::null_mut()
    }
}

/// The callbacks: one line each, from the monitoring event's arguments to the delivery that turns it into a
/// settrace event. Every one is the vectorcall function of a callback object (`callable`), generic over the tracer
/// type it is bound to, which CPython calls attached with the arguments it holds for the call; called by hand, the
/// arguments can be anything, or fewer than the event passes.
macro_rules! fast_callbacks {
    ($($(#[doc = $doc:literal])* $name:ident($slf:ident, $args:ident, $n:ident) => $delivery:expr;)+) => {$(
        $(#[doc = $doc])*
        ///
        /// # Safety
        /// A `vectorcallfunc` of a callback object, called by CPython.
        unsafe extern "C" fn $name<H: Monitored>(
            callable: *mut ffi::PyObject,
            $args: *const *mut ffi::PyObject,
            nargsf: usize,
            kwnames: *mut ffi::PyObject,
        ) -> *mut ffi::PyObject {
            // SAFETY: the vectorcall protocol's contract: attached, `callable` the callback object, `kwnames` NULL
            // or a tuple.
            let ($slf, $n) = match unsafe { callable::receiver(callable, nargsf, kwnames) } {
                Ok(receiver) => receiver,
                Err(answer) => return answer,
            };
            // SAFETY: what the delivery functions need: attached, `slf` the tracer the callback was made for
            // (`start`), which the callback object holds, and `args` holding `n` arguments the caller holds for the
            // call.
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
    on_call(slf, args, n) => if calls_python_function(args, n) {
        new_none()
    } else {
        deliver_builtin::<H>(slf, args, n, Kind::Call)
    };
    /// C_RETURN in profiling mode: `c_return`.
    on_c_return(slf, args, n) => deliver_builtin::<H>(slf, args, n, Kind::Return);
    /// C_RAISE in profiling mode: `c_exception`.
    on_c_raise(slf, args, n) => deliver_builtin::<H>(slf, args, n, Kind::Exception);
}

/// # Safety
/// As for [`deliver`], from a callback whose third argument is the exception: `args` holds `n` arguments.
unsafe fn deliver_raised<H: Monitored>(
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    n: ffi::Py_ssize_t,
    disable: Disable,
) -> *mut ffi::PyObject {
    // SAFETY: `args` holds `n` arguments (this function's contract).
    let exception = unsafe { argument(args, n, 2) };
    if exception.is_null() {
        return new_none();
    }
    // SAFETY: non-NULL (checked above), a live object the caller holds; only its type is read.
    if unsafe { ffi::PyExceptionInstance_Check(exception) } == 0 {
        // SAFETY: attached (this function's contract).
        return wrong_argument(unsafe { Python::assume_attached() }, "an exception as its third argument");
    }
    // SAFETY: this function's contract is `deliver`'s; `exception` is non-NULL (checked above), an argument the caller
    // holds.
    unsafe { deliver::<H>(slf, argument(args, n, 0), Kind::Exception, false, EventArg::Raised(exception), disable) }
}

/// STOP_ITERATION is a local event (the end of a `for` loop or `yield from` over a generator), so code that
/// can never match switches it off like LINE.
///
/// settrace mostly does not report the one at the end of a `for` loop (END_FOR): its instrumentation keeps FOR_ITER
/// generic, and that instruction's generic path steps over END_FOR when a generator is exhausted, raising (and
/// reporting) a StopIteration only for a generator that returned a value other than None. So the event is reported
/// only for such a value, but for the loops whose FOR_ITER settrace leaves uninstrumented (see
/// `compat::settrace_reported_end_fors`), where it always is; `yield from` and `await` (END_SEND) deliver the event.
///
/// # Safety
/// As for [`deliver`]: `args` holds `n` arguments (code, offset, exception).
unsafe fn stop_iteration<H: Monitored>(
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    n: ffi::Py_ssize_t,
) -> *mut ffi::PyObject {
    // SAFETY: attached (this function's contract).
    let py = unsafe { Python::assume_attached() };
    // SAFETY: `args` holds `n` arguments; `offset` type-checks the one it reads.
    let (code, offset) = unsafe { (argument(args, n, 0), offset(argument(args, n, 1))) };
    // SAFETY: attached, inside a monitoring callback; `code` is NULL or an argument the caller holds.
    let end_for = match (unsafe { EventSite::of_running_code(code) }, offset) {
        (Some(site), Some(offset)) => ending_for_loop(py, site.code(py), offset).map(|info| (site, info, offset)),
        _ => None,
    };
    let Some((site, info, offset)) = end_for else {
        // SAFETY: this function's contract is `deliver_raised`'s.
        return unsafe { deliver_raised::<H>(slf, args, n, Disable::Allowed) };
    };
    // Held: telling whether settrace reports a loop's end may run Python code (`dis`, once per code object), which may
    // release the callback's `self`. Not at exit, when callbacks run no Python code: the event is then delivered.
    // SAFETY: as in `deliver`: the callback's `self`, a live `H` until Python code runs.
    let held = unsafe { Borrowed::from_ptr(py, slf) }.to_owned();
    let code = site.code(py);
    let unreported = engine::RunningPython::enter()
        .is_some_and(|_running| !info.settrace_reports_end_for(py, code.as_any(), offset));
    // SAFETY: `args` holds `n` arguments (this function's contract).
    if unreported && unsafe { returned_none(py, argument(args, n, 2)) } {
        // A later run's generator may return a value: switched off only where no exception event can ever match.
        // SAFETY: `held` is the callbacks' `self`, an `H` (as in `deliver`); `site` is this callback's.
        let engine = unsafe { held.cast_unchecked::<H>() }.get().engine();
        // SAFETY: `site` is this callback's.
        let never =
            unsafe { engine.cached_verdict(py, site, Kind::Exception) }.is_some_and(|verdict| !verdict.has_effect());
        return if never && info.may_switch_off(py) { new_disable(py) } else { new_none() };
    }
    // SAFETY: this function's contract is `deliver_raised`'s; `held` keeps the tracer alive across the call.
    unsafe { deliver_raised::<H>(held.as_ptr(), args, n, Disable::Allowed) }
}

/// Whether the StopIteration `exception` of a STOP_ITERATION event says its generator returned None (ran to its
/// end, or `return`): its `value`. Anything else (NULL, another object) is taken as a value, and the event delivered.
///
/// # Safety
/// `exception` must be NULL or a live object, and the thread attached (`py`).
unsafe fn returned_none(py: Python<'_>, exception: *mut ffi::PyObject) -> bool {
    // SAFETY: NULL or a live object (this function's contract).
    let Some(exception) = (unsafe { Borrowed::from_ptr_or_opt(py, exception) }) else { return false };
    let Ok(stop_iteration) = exception.cast_exact::<pyo3::exceptions::PyStopIteration>() else { return false };
    // An exact StopIteration's `value` is a member of its own, which runs no Python code.
    stop_iteration.getattr(pyo3::intern!(py, "value")).is_ok_and(|value| value.is_none())
}

/// The info of `code` when the instruction at byte `offset` is END_FOR (the end of a `for` loop). An error (no info
/// for the code) says no, and the event reports it.
fn ending_for_loop<'a>(
    py: Python<'_>,
    code: Borrowed<'a, '_, pyo3::types::PyCode>,
    offset: c_int,
) -> Option<&'a CodeInfo> {
    let end_for = compat::end_for_opcode(py)?;
    // SAFETY: `code` is the running code of this callback, alive for its duration.
    let info = unsafe { CodeInfo::of_code(py, code) }.ok()?;
    let co_code = info.co_code(py, &code).ok()?;
    let bytes = co_code.cast::<pyo3::types::PyBytes>().ok()?;
    let ends_for_loop = usize::try_from(offset).ok().and_then(|offset| bytes.as_bytes().get(offset)) == Some(&end_for);
    ends_for_loop.then_some(info)
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

/// What a backward jump is to the tracer (see [`jump`]).
enum Jump {
    /// A jump within one line: a `line` event.
    Line,
    /// A jump to another line (whose LINE event reports it), or in code whose verdict rules out line events for good.
    SwitchOff,
    /// In code whose verdict rules out line events now, but that can run again with other globals.
    Skip,
}

/// settrace reports a `line` event for every backward jump, even within one line (loops on one line);
/// jumps to another line are reported by that line's LINE event.
///
/// # Safety
/// As for [`deliver`]: `args` holds `n` arguments (code, source offset, destination offset).
unsafe fn jump<H: Monitored>(
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
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
    let jump = catch_unwind(AssertUnwindSafe(|| unsafe {
        let ruled_out = match held.get().engine().cached_verdict(py, site, Kind::Line) {
            Some(verdict) => !verdict.has_effect(),
            None => match engine::judged_out(&held, site, Kind::Line) {
                Ok(ruled_out) => ruled_out,
                Err(handled) => return Err(handled),
            },
        };
        // No info: creating it failed, and delivering the event reports that.
        let code = site.code(py);
        let info = CodeInfo::existing(code);
        if ruled_out {
            // As in `deliver`: switched off only where the verdict holds for good.
            return Ok(if info.is_some_and(|info| info.may_switch_off(py)) { Jump::SwitchOff } else { Jump::Skip });
        }
        let within_one_line = info.is_none_or(|info| info.line_at(py, code, from) == info.line_at(py, code, to));
        Ok(if within_one_line { Jump::Line } else { Jump::SwitchOff })
    }));
    match jump {
        // SAFETY: attached, inside this callback: `held` keeps the tracer alive, and `code` is a code object (checked
        // by `of_running_code`) the caller holds.
        Ok(Ok(Jump::Line)) => unsafe { deliver::<H>(held.as_ptr(), code, Kind::Line, false, NO_ARG, Disable::Allowed) },
        Ok(Ok(Jump::SwitchOff)) => new_disable(py),
        Ok(Ok(Jump::Skip)) => new_none(),
        Ok(Err(handled)) => Answer::after(handled).into_ptr(py),
        Err(panic) => {
            engine::fail_internally(&held, failure::panic_error(&*panic));
            new_none()
        }
    }
}

/// What a CALL/C_RETURN/C_RAISE event calls, as settrace's profiler reports it: a builtin function, a method
/// descriptor called on an instance of its type, left unbound (a timeline records it as it is, and binding it costs
/// more than the rest of the event: an object made and freed; the handler's event binds it), or the builtin method
/// bound for the event.
enum CalledBuiltin<'py> {
    Function(*mut ffi::PyObject),
    Method(MethodCall),
    Bound(Bound<'py, PyAny>),
}

impl CalledBuiltin<'_> {
    /// The event's `arg`, valid as long as this is.
    fn arg(&self) -> EventArg {
        match self {
            CalledBuiltin::Function(function) => EventArg::Object(*function),
            CalledBuiltin::Method(call) => EventArg::Method(call),
            CalledBuiltin::Bound(bound) => EventArg::Object(bound.as_ptr()),
        }
    }
}

/// Profiling mode: what a CALL/C_RETURN/C_RAISE is about (a method descriptor called with its `self` is the builtin
/// method it binds to), or None for Python calls and for a method descriptor that does not bind to its `self`. Runs
/// Python code only to bind a method (`bind`), which it calls first.
///
/// # Safety
/// `callable` and `self_arg` must be NULL or live objects the caller holds for the call, and the thread attached (`py`).
unsafe fn called_builtin<'py>(
    py: Python<'py>,
    callable: *mut ffi::PyObject,
    self_arg: *mut ffi::PyObject,
    bind: impl FnOnce(),
) -> Option<CalledBuiltin<'py>> {
    // SAFETY: `callable` is NULL or a live object (this function's contract).
    let callable = unsafe { Borrowed::from_ptr_or_opt(py, callable) }?;
    // SAFETY: a live object; PyCFunction_Check only reads its type.
    if unsafe { ffi::PyCFunction_Check(callable.as_ptr()) } != 0 {
        return Some(CalledBuiltin::Function(callable.as_ptr()));
    }
    let is_method_descriptor =
        // SAFETY: a live object, whose type pointer is compared by address with a static type.
        unsafe { ffi::Py_TYPE(callable.as_ptr()) == std::ptr::addr_of_mut!(ffi::PyMethodDescr_Type) };
    // SAFETY: `self_arg` is NULL or a live object (this function's contract).
    let self_arg = unsafe { Borrowed::from_ptr_or_opt(py, self_arg) }?;
    // `start` fetched MISSING before registering any callback.
    if !is_method_descriptor || MISSING.get(py).is_none_or(|missing| self_arg.is(missing)) {
        return None;
    }
    let (descriptor, instance) = (callable.as_ptr(), self_arg.as_ptr());
    // SAFETY: `descriptor` is exactly a method descriptor (checked above), `instance` a live object, attached.
    if let Some(method) = unsafe { compat::method_descriptor_method(descriptor, instance) } {
        return Some(CalledBuiltin::Method(MethodCall { descriptor, instance, method }));
    }
    // Bound now (binding reads no method definition).
    bind();
    let unbound = MethodCall { descriptor, instance, method: 0 };
    // SAFETY: a method call alive across the call, of a method descriptor and a live object held for the call (this
    // function's contract).
    match unsafe { EventArg::Method(&unbound).to_object(py) } {
        Ok(bound) => bound.map(CalledBuiltin::Bound),
        // Called on an object of another type (`list.append(5, 1)`): settrace's profiler reports no event, and the
        // call raises the program's TypeError itself.
        Err(_does_not_bind) => None,
    }
}

/// Does a CALL event call a Python function? Most do, and are no builtin's: their callback answers at once.
///
/// # Safety
/// `args` must hold `n` pointers (a callback's arguments), each NULL or a live object.
#[inline(always)]
unsafe fn calls_python_function(args: *const *mut ffi::PyObject, n: ffi::Py_ssize_t) -> bool {
    // SAFETY: `args` holds `n` pointers (this function's contract).
    let callable = unsafe { argument(args, n, 2) };
    // SAFETY: `callable` is non-NULL here, a live object (this function's contract); only its type is read.
    !callable.is_null() && unsafe { ffi::Py_TYPE(callable) } == std::ptr::addr_of_mut!(ffi::PyFunction_Type)
}

/// # Safety
/// As for [`deliver`], from a CALL, C_RETURN or C_RAISE callback: `args` holds `n` arguments.
unsafe fn deliver_builtin<H: Monitored>(
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    n: ffi::Py_ssize_t,
    kind: Kind,
) -> *mut ffi::PyObject {
    // SAFETY: attached (this function's contract).
    let py = unsafe { Python::assume_attached() };
    // SAFETY: `args` holds `n` arguments (this function's contract).
    let (code, callable, self_arg) = unsafe { (argument(args, n, 0), argument(args, n, 2), argument(args, n, 3)) };
    // SAFETY: as in `deliver`.
    let tracer = unsafe { Borrowed::from_ptr(py, slf).cast_unchecked::<H>() };
    if tracer.get().engine().is_stopped(py) {
        return new_none();
    }
    // Held from the moment Python code may run: binding a method allocates, and the collector may run finalizers.
    let mut held = None;
    // SAFETY: attached; both are NULL or arguments the caller holds for the call.
    let called = unsafe { called_builtin(py, callable, self_arg, || held = Some(tracer.to_owned())) };
    match called {
        // SAFETY: `tracer` is alive (borrowed from the callback while no Python code has run, held since), `code` is
        // NULL or an argument the caller holds (`deliver` checks it), and `arg` holds arguments the caller holds for
        // the call, or the bound method, alive across the call.
        Some(called) => unsafe { deliver::<H>(tracer.as_ptr(), code, kind, true, called.arg(), Disable::Never) },
        None => new_none(),
    }
}

/// The callbacks by name (the functions, per tracer type: [`Callback::function`]).
#[derive(Clone, Copy)]
pub(super) enum Callback {
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
    pub(super) fn function<H: Monitored>(self) -> ffi::vectorcallfunc {
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
