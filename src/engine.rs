//! The engine both backends call: an event goes hook (`settrace.rs`, `monitoring.rs`) -> engine -> predicates ->
//! actions -> stream. Per event it rejects what the verdict cached per code object rules out, else builds the
//! event and runs the handler on it; it keeps hunter's `depth`/`calls`, and applies the failure policy
//! (`failure.rs` reports, the engine stops the tracer). It knows neither backend nor the Python class: the
//! object that owns it (the `Tracer`) is reached through the [`Host`] trait.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::pyclass::boolean_struct::True;
use pyo3::types::{PyCode, PyDict, PyFrame};
use pyo3::PyClass;
use pyo3::{PyTraverseError, PyVisit};

use crate::actions::{NativeStreamAction, Running, UnboundMethod};
use crate::attached;
use crate::codeinfo::CodeInfo;
use crate::compat;
use crate::event::{EventData, EventRef, Kind};
use crate::failure;
use crate::gilcell::GilCell;
use crate::hook::{Backend, EventArg, EventSite, Handled};
use crate::predicates::{self, StaticFacts};
use crate::verdict::Verdict;

/// What the engine needs of the Python object that owns it (the `Tracer`, whose callbacks run the engine). The
/// engine holds that object (a strong reference) across every call that can run Python code.
pub(crate) trait Host: PyClass<Frozen = True> + Sync {
    fn engine(&self) -> &Engine;
    /// Stops tracing: a failure was reported.
    fn stop_tracing(slf: &Bound<'_, Self>) -> PyResult<()>;
    /// Stops tracing the current thread only: the handler raised what belongs to the program (as CPython removes
    /// a Python trace function that raises).
    fn release_current_thread(slf: &Bound<'_, Self>);
    /// The code of an event was judged, with these verdicts per kind (the monitoring backend switches on the
    /// events such code needs).
    fn code_judged(slf: &Bound<'_, Self>, verdicts: &[Verdict; 4]) -> PyResult<()>;
    /// Code was found to run with the globals of several modules: the locations switched off for the verdicts of
    /// one of them may have to report again (the monitoring backend switches them all back on).
    fn code_shared(slf: &Bound<'_, Self>) -> PyResult<()>;
}

/// Each `trace()` call gets a new generation, so per-code verdicts cached for an earlier handler are
/// never reused for a new one.
static NEXT_GENERATION: AtomicU64 = AtomicU64::new(1);

/// The tracing state of one tracer.
pub(crate) struct Engine {
    /// Set by the tracer's `__init__`, before its first `trace()` (see `Tracer::__init__`).
    pub threading_support: GilCell<Option<bool>>,
    pub profiling_mode: GilCell<bool>,
    /// The backend in use (or to be used by `trace()`).
    pub backend: GilCell<Backend>,
    pub depth: GilCell<i64>,
    pub calls: GilCell<i64>,
    pub generation: GilCell<u64>,
    pub handler: GilCell<Option<Py<PyAny>>>,
    /// Whether the handler may observe `depth`/`calls`, so call and return events must always be counted.
    pub counting: GilCell<bool>,
    /// Whether the handler's static verdicts can differ between event kinds (else one is computed per code).
    verdict_depends_on_kind: GilCell<bool>,
    /// The handler's one action when the handler is a `When` whose one action takes events directly
    /// (`actions::recorder`), held for the session: the events its condition always matches are recorded into it
    /// without being built ([`record_directly`]), and reach it without a look through the handler.
    recorder: GilCell<Option<Py<NativeStreamAction>>>,
    /// Whether, besides, its condition accepts every event: so every event is recorded directly (builtin events in
    /// profile mode too), or ignored (lines), whatever its code, which then needs no verdict.
    records_everything: GilCell<bool>,
}

impl Engine {
    pub fn new(threading_support: Option<bool>, profiling_mode: bool, backend: Backend) -> Self {
        Engine {
            threading_support: GilCell::new(threading_support),
            profiling_mode: GilCell::new(profiling_mode),
            backend: GilCell::new(backend),
            depth: GilCell::new(0),
            calls: GilCell::new(0),
            generation: GilCell::new(0),
            handler: GilCell::new(None),
            counting: GilCell::new(true),
            verdict_depends_on_kind: GilCell::new(true),
            recorder: GilCell::new(None),
            records_everything: GilCell::new(false),
        }
    }

    /// Takes `handler` for a new tracing session (a new generation of verdicts).
    pub fn start(&self, py: Python<'_>, handler: Bound<'_, PyAny>) {
        EXITING.store(false, Ordering::Relaxed);
        self.counting.set(py, predicates::uses_counters(&handler));
        // Reading the action's options may fail (a broken subclass): its events are then built and the failure
        // reported by the first of them.
        let recorder = predicates::sole_action(&handler).and_then(|action| {
            crate::actions::recorder(&action).ok().flatten().map(|recorder| recorder.clone().unbind())
        });
        let records_directly = recorder.is_some();
        self.records_everything.set(py, records_directly && predicates::accepts_every_event(&handler));
        self.verdict_depends_on_kind.set(py, records_directly || predicates::verdict_depends_on_kind(&handler));
        drop(self.recorder.replace(py, recorder));
        self.handler.replace(py, Some(handler.unbind()));
        self.generation.set(py, NEXT_GENERATION.fetch_add(1, Ordering::Relaxed));
    }

    /// Whether the handler records into its one action directly (see [`Engine::recorder`]).
    #[inline]
    fn records_directly(&self, py: Python<'_>) -> bool {
        !self.recorder.as_ptr(py).is_null()
    }

    /// See [`Engine::records_everything`].
    #[inline]
    pub fn records_everything(&self, py: Python<'_>) -> bool {
        self.records_everything.get(py)
    }

    /// Ends the session: the handler, for the caller to release (None when there was none).
    pub fn take_handler(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        crate::handling::note_session_ended(self.identity());
        drop(self.recorder.replace(py, None));
        self.handler.replace(py, None)
    }

    /// What tells this engine apart from the others alive (its address).
    fn identity(&self) -> usize {
        self as *const Engine as usize
    }

    /// Visits the Python objects of the session, for the owner's `__traverse__`.
    ///
    /// # Safety
    /// Called from `__traverse__` (the collector holds the GIL).
    pub unsafe fn traverse(&self, visit: &PyVisit<'_>) -> Result<(), PyTraverseError> {
        // SAFETY: from `__traverse__` (this function's contract); these cells are only replaced.
        unsafe {
            visit.call(self.handler.during_gc())?;
            visit.call(self.recorder.during_gc())
        }
    }

    #[inline]
    pub fn is_stopped(&self, py: Python<'_>) -> bool {
        self.handler.as_ptr(py).is_null()
    }

    /// The verdict cached for the site's code (and globals) and a `kind` event; None when there is none yet
    /// (`code_verdict` computes it). Runs no Python code.
    ///
    /// # Safety
    /// `site` must come from the current callback (its code, globals and frame pointers are borrowed from the running
    /// frame or the callback's arguments), attached.
    #[inline(always)]
    pub unsafe fn cached_verdict(&self, py: Python<'_>, site: EventSite, kind: Kind) -> Option<Verdict> {
        if self.records_everything.get(py) {
            return Some(predicates::verdict_recording_everything(kind));
        }
        // SAFETY: the site's code is alive for the callback.
        let info = unsafe { CodeInfo::existing(site.code(py)) }?;
        info.cached_verdicts(py, self.generation.get(py), site.globals()).map(|by_kind| by_kind[kind as usize])
    }

    #[inline]
    fn count_return(&self, py: Python<'_>) {
        let depth = self.depth.get(py);
        if depth > 0 {
            self.depth.set(py, depth - 1);
        }
    }

    #[inline]
    fn count_call(&self, py: Python<'_>) {
        self.depth.set(py, self.depth.get(py) + 1);
        self.calls.set(py, self.calls.get(py) + 1);
    }
}

/// Handles one event of either backend: cheap rejection through the per-code verdict (`verdict`, when the
/// caller has looked it up already), else the full predicate; then hunter's depth/calls bookkeeping.
///
/// `slf` may be borrowed from CPython (the trace object, a callback's `self`): it is used as it is on the
/// rejection path, which runs no Python code, and held (a strong reference) from the first call that can
/// run Python code on, since that code can stop the tracer and drop its last reference.
///
/// # Safety
/// `site` must come from the current callback (its code, globals and frame pointers are borrowed from the running
/// frame or the callback's arguments), attached. `slf` must be alive, and `arg` NULL or objects held for the
/// callback (or a method call alive for it, of such objects).
#[inline(always)]
pub(crate) unsafe fn handle<H: Host>(
    slf: Borrowed<'_, '_, H>,
    site: EventSite,
    kind: Kind,
    builtin: bool,
    arg: EventArg,
    verdict: Option<Verdict>,
) -> Handled {
    let py = slf.py();
    let engine = slf.get().engine();
    let recorded = if builtin { engine.records_everything.get(py) } else { verdict == Some(Verdict::Recorded) };
    if recorded {
        // SAFETY: `site` and `arg` are this callback's (this function's contract).
        if let Some(handled) = unsafe { record_in_order(slf, site, kind, builtin, arg) } {
            return handled;
        }
    }
    let rejected = !builtin && verdict.is_some_and(|verdict| !verdict.has_effect());
    // Most events of a trace that matches little end here: kept small, with nothing to release.
    if rejected {
        match kind {
            Kind::Return => engine.count_return(py),
            Kind::Call => engine.count_call(py),
            Kind::Line | Kind::Exception => {}
        }
        return Handled::Rejected;
    }
    // SAFETY: `site` and `arg` are this callback's (this function's contract); the tracer is now held.
    unsafe { handle_held(&slf.to_owned(), site, kind, builtin, arg, verdict) }
}

/// The quickest path of all, for a call, return or exception of code whose events are recorded directly
/// (`Verdict::Recorded`), or a builtin's event when every event is (`records_everything`), that pairs in order
/// on a thread the recording knows (see `actions::record_in_order`): recorded from the running frame's identities,
/// with no frame object, `Event` or Python code. None for any other event, which then takes [`handle_held`]'s path
/// (nothing was recorded).
///
/// # Safety
/// As for [`handle`].
#[inline]
unsafe fn record_in_order<H: Host>(
    slf: Borrowed<'_, '_, H>,
    site: EventSite,
    kind: Kind,
    builtin: bool,
    arg: EventArg,
) -> Option<Handled> {
    let frame = site.running_frame(slf.py())?;
    // SAFETY: as for `record_in_order_at`, `frame` being the site's.
    unsafe { record_in_order_at(slf, site, frame, kind, builtin, arg) }
}

/// [`record_in_order`], of the site's running frame, read already.
///
/// # Safety
/// As for [`handle`], `frame` being the running frame of `site`.
#[inline(always)]
pub(crate) unsafe fn record_in_order_at<H: Host>(
    slf: Borrowed<'_, '_, H>,
    site: EventSite,
    frame: compat::RunningFrame,
    kind: Kind,
    builtin: bool,
    arg: EventArg,
) -> Option<Handled> {
    let py = slf.py();
    let engine = slf.get().engine();
    if EXITING.load(Ordering::Relaxed) {
        return None;
    }
    let code = site.code(py);
    // A callback called by hand runs in a frame of other code.
    if frame.code != code.as_ptr() {
        return None;
    }
    // SAFETY: the recorder cell holds a strong reference to a NativeStreamAction, or NULL; it is used borrowed only
    // until the recording is done, which runs no Python code.
    let recorder =
        unsafe { Borrowed::from_ptr_or_opt(py, engine.recorder.as_ptr(py)).map(|recorder| recorder.cast_unchecked()) }?;
    let released = match (builtin, arg) {
        // A builtin's span is of its callable (the event's `arg`), called from the running frame.
        (true, EventArg::Object(callable)) => {
            // SAFETY: `arg` is NULL or an object held for the callback (this function's contract).
            let callable = unsafe { Borrowed::from_ptr_or_opt(py, callable) }?;
            crate::actions::record_in_order(&recorder, frame, Running { code: &callable, builtin: true }, kind, None)
        }
        // Or of the method a descriptor binds to, unbound.
        (true, EventArg::Method(call)) => {
            // SAFETY: a method call alive for the callback, of objects held for it (this function's contract).
            let method = unsafe {
                let call = &*call;
                let (descriptor, instance) =
                    (Borrowed::from_ptr(py, call.descriptor), Borrowed::from_ptr(py, call.instance));
                UnboundMethod { descriptor, instance, method: call.method }
            };
            crate::actions::record_in_order(&recorder, frame, &method, kind, None)
        }
        (true, EventArg::Raised(_)) => None,
        (false, _) => {
            let exception_type = match kind {
                // SAFETY: `arg` is NULL or objects held for the callback (this function's contract).
                Kind::Exception => Some(unsafe { arg.exception_type(py) }?),
                Kind::Call | Kind::Return | Kind::Line => None,
            };
            crate::actions::record_in_order(
                &recorder,
                frame,
                Running { code: code.as_any(), builtin: false },
                kind,
                exception_type,
            )
        }
    }?;
    // As `handle_held`: builtin events are not counted.
    match kind {
        Kind::Return if !builtin => engine.count_return(py),
        Kind::Call if !builtin => engine.count_call(py),
        _ => {}
    }
    if released.is_empty() {
        // The usual event: the buffer had room.
    } else if released.frees_nothing() {
        released.release(py);
    } else {
        // Releasing records may run Python code (a code object's weakref callbacks), which may stop the tracer.
        let _held = slf.to_owned();
        match RunningPython::enter() {
            Some(_running) => released.release(py),
            // At exit no Python code runs: the records are left unreleased.
            None => std::mem::forget(released),
        }
    }
    Some(Handled::Delivered)
}

/// The part of `handle` that can run Python code, with the tracer held.
///
/// # Safety
/// As for [`handle`].
#[cold]
#[inline(never)]
unsafe fn handle_held<H: Host>(
    slf: &Bound<'_, H>,
    site: EventSite,
    kind: Kind,
    builtin: bool,
    arg: EventArg,
    verdict: Option<Verdict>,
) -> Handled {
    let py = slf.py();
    let engine = slf.get().engine();
    let Some(_running) = RunningPython::enter() else {
        return Handled::Delivered;
    };
    let counts_frames = !builtin;
    if counts_frames && kind == Kind::Return {
        engine.count_return(py);
    }
    let handled = settle(
        slf,
        attached::run_attached(py, |py| -> Result<Handled, PyErr> {
            let verdict = if builtin {
                Verdict::Effectful
            } else {
                // SAFETY: `site` is this callback's (this function's contract): the running frame, which outlives
                // the call, holds its code and globals.
                match verdict.map_or_else(|| unsafe { code_verdict(slf, site, kind) }, Ok) {
                    Ok(verdict) => verdict,
                    Err(error) => return fail(py, slf, None, error, None),
                }
            };
            // SAFETY: as above; `arg` is NULL or objects held for the callback (this function's contract).
            let delivered = unsafe {
                match verdict {
                    Verdict::Recorded => record_directly(slf, site, kind, arg),
                    Verdict::Effectful => run_handler(slf, site, kind, builtin, arg),
                    Verdict::Unknown | Verdict::Never | Verdict::Always | Verdict::Depends => {
                        return Ok(Handled::Rejected)
                    }
                }
            };
            if let Err((error, handler, event)) = delivered {
                return fail(py, slf, Some(handler), error, event.as_ref());
            }
            Ok(Handled::Delivered)
        }),
    );
    if counts_frames && kind == Kind::Call && matches!(handled, Handled::Rejected | Handled::Delivered) {
        engine.count_call(py);
    }
    handled
}

/// What a callback makes of the outcome of its slow path (run by `run_attached`): an exception for the
/// program is set as the current one, a panic reported (and the tracer stopped).
fn settle<H: Host>(slf: &Bound<'_, H>, outcome: Result<Result<Handled, PyErr>, attached::NotRun>) -> Handled {
    match outcome {
        Ok(Ok(handled)) => handled,
        Ok(Err(error)) => {
            error.restore(slf.py());
            Handled::Raise
        }
        Err(attached::NotRun::Finalizing) => Handled::Delivered,
        Err(attached::NotRun::Panicked(panic)) => {
            fail_internally(slf, panic);
            Handled::Failed
        }
    }
}

/// Whether every `kind` event at `site` can be skipped, judging its code now (which runs Python code): for
/// the callbacks of locations that have no verdict yet. Failing to judge says no, and the event itself, which
/// judges again, reports the failure; unless it belongs to the program (Ctrl-C while judging), which is set as
/// the current exception (`Err(Handled::Raise)`).
///
/// # Safety
/// `site` must come from the current callback (its code, globals and frame pointers are borrowed from the running
/// frame or the callback's arguments), attached.
pub(crate) unsafe fn judged_out<H: Host>(slf: &Bound<'_, H>, site: EventSite, kind: Kind) -> Result<bool, Handled> {
    let Some(_running) = RunningPython::enter() else {
        return Ok(false);
    };
    // SAFETY: `site` is this callback's (this function's contract).
    let outcome = attached::run_attached(slf.py(), |py| match unsafe { code_verdict(slf, site, kind) } {
        Ok(verdict) => Ok(if verdict.has_effect() { Handled::Delivered } else { Handled::Rejected }),
        Err(error) if failure::belongs_to_program(py, &error) => fail(py, slf, None, error, None),
        Err(_reported_by_the_event) => Ok(Handled::Delivered),
    });
    match settle(slf, outcome) {
        Handled::Rejected => Ok(true),
        Handled::Raise => Err(Handled::Raise),
        Handled::Delivered | Handled::Failed => Ok(false),
    }
}

/// A failure while handling an event: what belongs to the program (`SystemExit`, `KeyboardInterrupt`) goes
/// back to it, and this thread stops being traced (as CPython removes a Python trace function that raises);
/// anything else is reported, and the tracer stops.
fn fail<H: Host>(
    py: Python<'_>,
    slf: &Bound<'_, H>,
    handler: Option<Py<PyAny>>,
    error: PyErr,
    event: Option<&Py<PyAny>>,
) -> Result<Handled, PyErr> {
    if failure::belongs_to_program(py, &error) {
        H::release_current_thread(slf);
        return Err(error);
    }
    failure::report(py, handler, &error, event);
    stop_after_failure(slf);
    Ok(Handled::Failed)
}

fn stop_after_failure<H: Host>(slf: &Bound<'_, H>) {
    if let Err(stop_error) = H::stop_tracing(slf) {
        failure::say_quietly(slf.py(), &format!("hunter: stopping the tracer failed too ({stop_error})\n"));
    }
}

/// An internal error (a panic caught at the edge of a native callback, or inside `run_attached`): reported like
/// a failing handler (there is no event), and the tracer stops. `slf` must be a strong reference: the report
/// runs Python code.
pub(crate) fn fail_internally<H: Host>(slf: &Bound<'_, H>, error: PyErr) {
    let reported = attached::run_attached(slf.py(), |py| {
        failure::report(py, None, &error, None);
        stop_after_failure(slf);
    });
    if let Err(attached::NotRun::Panicked(panic)) = reported {
        failure::report_unreportable(&panic);
    }
}

/// The cached static verdict of the handler for `code` (running with the frame's globals) and `kind`.
///
/// The first event of a code object judges it for every kind at once: the monitoring backend needs to know
/// whether any kind could have an effect before switching on the events it cannot disable per location.
///
/// # Safety
/// `site` must come from the current callback (its code, globals and frame pointers are borrowed from the running
/// frame or the callback's arguments), attached.
#[inline]
pub(crate) unsafe fn code_verdict<H: Host>(slf: &Bound<'_, H>, site: EventSite, kind: Kind) -> PyResult<Verdict> {
    let py = slf.py();
    // SAFETY: the site's code is alive for the callback.
    let info = unsafe { CodeInfo::of_code(py, site.code(py))? };
    let generation = slf.get().engine().generation.get(py);
    if let Some(by_kind) = info.cached_verdicts(py, generation, site.globals()) {
        return Ok(by_kind[kind as usize]);
    }
    // SAFETY: `site` is this callback's (this function's contract).
    let globals = unsafe { site_globals(py, site) }?;
    match info.verdicts_for_same_facts(py, generation, &globals)? {
        Some(by_kind) => Ok(by_kind[kind as usize]),
        None => judge_code(slf, site.code(py), info, generation, &globals, kind),
    }
}

/// Notes that `code` (of `info`) runs with the globals of several modules, and so do the code objects it makes
/// functions of (its constants, nested); true when any of them was not known to yet.
fn mark_shared(py: Python<'_>, info: &CodeInfo, code: Borrowed<'_, '_, PyCode>) -> PyResult<bool> {
    let mut newly = info.mark_shared(py);
    let mut pending = vec![code.to_owned()];
    while let Some(code) = pending.pop() {
        for constant in code.getattr(pyo3::intern!(py, "co_consts"))?.try_iter()? {
            if let Ok(nested) = constant?.cast_into::<PyCode>() {
                // SAFETY: `nested` is held (by `pending` or this loop) while its info is used.
                newly |= unsafe { CodeInfo::of_code(py, nested.as_borrowed()) }?.mark_shared(py);
                pending.push(nested);
            }
        }
    }
    Ok(newly)
}

/// The globals of the site's running frame.
///
/// # Safety
/// `site` must come from the current callback, attached.
unsafe fn site_globals<'py>(py: Python<'py>, site: EventSite) -> PyResult<Bound<'py, PyDict>> {
    // SAFETY: the globals of a running frame (or of the code a callback runs), which keeps them alive; a
    // frame's globals are a dict (CPython runs code with nothing else).
    let Some(globals) = (unsafe { Borrowed::from_ptr_or_opt(py, site.globals()) }) else {
        return Err(pyo3::exceptions::PyTypeError::new_err("hunter: an event without a running frame"));
    };
    Ok(globals.cast::<PyDict>()?.to_owned())
}

/// Computes and caches the verdicts of a code object running with `globals` (its first event with them).
/// Judging can run Python code (a value's `__eq__`, an import), which may stop or restart tracing.
#[cold]
#[inline(never)]
fn judge_code<H: Host>(
    slf: &Bound<'_, H>,
    code: Borrowed<'_, '_, PyCode>,
    info: &CodeInfo,
    generation: u64,
    globals: &Bound<'_, PyDict>,
    kind: Kind,
) -> PyResult<Verdict> {
    let py = slf.py();
    let engine = slf.get().engine();
    // Held: judging may stop this tracer, which drops the stored reference.
    let Some(handler) = engine.handler.clone_ref(py) else {
        return Ok(Verdict::Never);
    };
    let handler = handler.into_bound(py);
    let handler_verdict =
        if engine.records_directly(py) { predicates::recorded_verdict } else { predicates::static_verdict };
    let module_facts = info.module_facts(py, globals)?;
    if info.judged_with_other_facts(py, &module_facts) && mark_shared(py, info, code)? {
        H::code_shared(slf)?;
    }
    let mut facts = StaticFacts::of(info, &module_facts, kind, py);
    let mut by_kind = [handler_verdict(&handler, &facts)?; 4];
    if engine.verdict_depends_on_kind.get(py) {
        for other_kind in Kind::ALL.into_iter().filter(|other| *other != kind) {
            facts.kind = other_kind;
            by_kind[other_kind as usize] = handler_verdict(&handler, &facts)?;
        }
    }
    // A handler replaced while judging (stopped, or traced anew) must not get verdicts computed for the old one.
    if engine.generation.get(py) != generation || !engine.handler.as_ptr(py).eq(&handler.as_ptr()) {
        return Ok(Verdict::Effectful);
    }
    info.remember_verdicts(py, generation, &module_facts, by_kind);
    H::code_judged(slf, &by_kind)?;
    Ok(by_kind[kind as usize])
}

/// What a failed handler leaves for the report: the error, the handler, and the event when it was built.
type HandlerFailure = (PyErr, Py<PyAny>, Option<Py<PyAny>>);

/// Builds the event and runs the handler on it. On failure, hands back what the report needs.
///
/// # Safety
/// `site` must come from the current callback (its code, globals and frame pointers are borrowed from the running
/// frame or the callback's arguments), attached. `arg` must be NULL or objects held for the callback (or a method call
/// alive for it, of such objects).
unsafe fn run_handler<H: Host>(
    slf: &Bound<'_, H>,
    site: EventSite,
    kind: Kind,
    builtin: bool,
    arg: EventArg,
) -> Result<(), HandlerFailure> {
    let py = slf.py();
    let engine = slf.get().engine();
    // Owned: the handler may stop this tracer, which drops the stored reference.
    let Some(handler) = engine.handler.clone_ref(py) else {
        return Ok(());
    };
    let code_info = CodeInfo::shared(py, site.code(py)).map_err(|e| (e, handler.clone_ref(py), None))?;
    let frame = site.frame(py).ok_or_else(|| {
        let error = pyo3::exceptions::PyTypeError::new_err("hunter: an event without a running frame");
        (error, handler.clone_ref(py), None)
    })?;
    // SAFETY: the event's `arg`, NULL or objects held for the callback (this function's contract).
    let arg = unsafe { arg.to_object(py) }.map_err(|e| (e, handler.clone_ref(py), None))?;
    let arg = arg.as_ref().map_or(std::ptr::null_mut(), Bound::as_ptr);
    // SAFETY: `arg` is NULL or the strong reference held just above.
    let data = unsafe {
        EventData::from_trace(
            py,
            &frame,
            kind,
            builtin,
            arg,
            engine.depth.get(py),
            engine.calls.get(py),
            engine.threading_support.get(py),
            // Only settrace's line tracing keeps the frame's line up to date.
            !engine.profiling_mode.get(py) && engine.backend.get(py) != Backend::Monitoring,
            Some((site.code(py), code_info)),
        )
    }
    .map_err(|e| (e, handler.clone_ref(py), None))?;
    let event = EventRef::new(&data);
    let _handling = HandledFrame::enter(&frame, engine);
    predicates::evaluate(py, handler.bind(py), &event).map_err(|error| {
        let event_object = event.as_py(py).ok().map(|e| e.clone().into_any().unbind());
        (error, handler, event_object)
    })?;
    Ok(())
}

/// Records a Python function's event into the handler's one action without building the event (its condition
/// always holds for the event's code and kind: `Verdict::Recorded`); runs the handler instead should the action
/// no longer take events directly (its options changed). On failure, hands back what the report needs.
///
/// # Safety
/// As for [`run_handler`].
unsafe fn record_directly<H: Host>(
    slf: &Bound<'_, H>,
    site: EventSite,
    kind: Kind,
    arg: EventArg,
) -> Result<(), HandlerFailure> {
    let py = slf.py();
    // Owned: recording may run Python code (the first event of a thread reads its name), which may stop this
    // tracer and drop the stored reference.
    let Some(handler) = slf.get().engine().handler.clone_ref(py) else {
        return Ok(());
    };
    let recorded = predicates::sole_action(handler.bind(py)).and_then(|action| {
        let frame = site.frame(py)?;
        // SAFETY: the event's `arg`, NULL or objects held for the callback (this function's contract).
        let exception_type = if kind == Kind::Exception { unsafe { arg.exception_type(py) } } else { None };
        crate::actions::record_directly(&action, &frame, kind, exception_type)
    });
    match recorded {
        Some(result) => result.map_err(|error| (error, handler, None)),
        // SAFETY: as above (this function's contract is `run_handler`'s).
        None => unsafe { run_handler(slf, site, kind, false, arg) },
    }
}

thread_local! {
    /// The frame of the event whose handler this thread is running (NULL outside of handlers): frames above it
    /// are the handler's own, which no tracer sees.
    static HANDLED_FRAME: Cell<*mut ffi::PyObject> = const { Cell::new(std::ptr::null_mut()) };
}

/// Marks the frame of the event being handled, and its engine, for the handler's duration (handlers nest: restores
/// the outer ones).
struct HandledFrame {
    frame: *mut ffi::PyObject,
    engine: (usize, bool),
}

impl HandledFrame {
    fn enter(frame: &Bound<'_, PyFrame>, engine: &Engine) -> Self {
        let frame = HANDLED_FRAME.try_with(|handled| handled.replace(frame.as_ptr())).unwrap_or(std::ptr::null_mut());
        HandledFrame { frame, engine: crate::handling::enter(engine.identity()) }
    }
}

impl Drop for HandledFrame {
    fn drop(&mut self) {
        let _ = HANDLED_FRAME.try_with(|handled| handled.set(self.frame));
        crate::handling::leave(self.engine);
    }
}

/// How many frames deep the current thread's traced code is: from the frame of the event being handled when
/// called from a handler (the handler's own frames are not traced), else from the current frame.
pub(crate) fn running_frame_count(py: Python<'_>) -> i64 {
    let handled = HANDLED_FRAME.try_with(Cell::get).unwrap_or(std::ptr::null_mut());
    // SAFETY: attached; the handled frame is held by the event being handled (this call runs inside its handler),
    // and PyEval_GetFrame returns the thread's current frame (borrowed) or NULL.
    let top = unsafe {
        let top = if handled.is_null() { ffi::PyEval_GetFrame().cast() } else { handled };
        Bound::from_borrowed_ptr_or_opt(py, top)
    };
    // SAFETY: both are frame objects.
    let mut frame = top.map(|frame| unsafe { frame.cast_into_unchecked::<PyFrame>() });
    let mut count = 0;
    while let Some(current) = frame {
        count += 1;
        frame = compat::frame_back(&current);
    }
    count
}

/// Threads inside the slow path of a callback, which runs Python code (see `exit_begins`).
static CALLBACKS_RUNNING_PYTHON: AtomicUsize = AtomicUsize::new(0);
/// Set by `exit_begins` (cleared by a later `trace()`): callbacks then run no Python code.
static EXITING: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// This thread's share of `CALLBACKS_RUNNING_PYTHON`.
    static OWN_CALLBACKS_RUNNING_PYTHON: Cell<usize> = const { Cell::new(0) };
}

/// Counts the current thread in `CALLBACKS_RUNNING_PYTHON` while it lives.
pub(crate) struct RunningPython;

impl RunningPython {
    /// None once the interpreter is about to exit: the callback must then return without running Python code.
    pub fn enter() -> Option<Self> {
        if EXITING.load(Ordering::Relaxed) {
            return None;
        }
        CALLBACKS_RUNNING_PYTHON.fetch_add(1, Ordering::Relaxed);
        let _ = OWN_CALLBACKS_RUNNING_PYTHON.try_with(|own| own.set(own.get() + 1));
        Some(RunningPython)
    }
}

impl Drop for RunningPython {
    fn drop(&mut self) {
        CALLBACKS_RUNNING_PYTHON.fetch_sub(1, Ordering::Relaxed);
        let _ = OWN_CALLBACKS_RUNNING_PYTHON.try_with(|own| own.set(own.get() - 1));
    }
}

/// How long the exit hook waits for other threads to leave the callbacks.
const EXIT_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// The interpreter is about to exit (see `tracer::_stop_all_tracers`): from now on callbacks run no Python code
/// (until a new `trace()`).
pub(crate) fn exit_begins() {
    EXITING.store(true, Ordering::Relaxed);
}

/// Lets other threads run (the GIL released) until none is inside a callback's slow path, for at most
/// `EXIT_GRACE` (a thread blocked in an action for longer is left where it is).
pub(crate) fn wait_for_callbacks_to_return(py: Python<'_>) {
    let own = OWN_CALLBACKS_RUNNING_PYTHON.try_with(Cell::get).unwrap_or(0);
    let deadline = std::time::Instant::now() + EXIT_GRACE;
    while CALLBACKS_RUNNING_PYTHON.load(Ordering::Relaxed) > own && std::time::Instant::now() < deadline {
        py.detach(|| std::thread::sleep(std::time::Duration::from_millis(1)));
    }
}
