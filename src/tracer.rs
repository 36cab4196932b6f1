//! The Tracer. Two backends deliver it the same events: a C-level trace function installed with
//! `PyEval_SetTrace` / `PyEval_SetProfile` (every Python), and `sys.monitoring` callbacks (3.12+, see
//! `monitoring.rs`), which can switch off code that can never match.

use std::os::raw::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};

use pyo3::exceptions::PyValueError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::pyclass::{PyTraverseError, PyVisit};
use pyo3::types::{PyDict, PyString};

use crate::attached;
use crate::codeinfo::CodeInfo;
use crate::compat;
use crate::event::{EventData, EventRef, Kind};
use crate::failure;
use crate::gilcell::GilCell;
use crate::monitoring::{self, Backend, TracedThreads};
use crate::predicates::{self, StaticFacts, Verdict};

/// Each `trace()` call gets a new generation, so per-code verdicts cached for an earlier handler are
/// never reused for a new one.
static NEXT_GENERATION: AtomicU64 = AtomicU64::new(1);

/// Every tracer between `trace()` and `stop()`, so that all can be stopped before the interpreter shuts down.
static RUNNING_TRACERS: GilCell<Vec<Py<Tracer>>> = GilCell::new(Vec::new());

fn remember_running(py: Python<'_>, tracer: &Bound<'_, Tracer>) {
    let mut running = RUNNING_TRACERS.replace(py, Vec::new());
    running.push(tracer.clone().unbind());
    RUNNING_TRACERS.replace(py, running);
}

fn forget_running(py: Python<'_>, tracer: &Bound<'_, Tracer>) {
    let mut running = RUNNING_TRACERS.replace(py, Vec::new());
    running.retain(|other| !other.is(tracer));
    let leftovers = RUNNING_TRACERS.replace(py, running);
    drop(leftovers);
}

/// Stops every running tracer; returns how many there were. Called at exit (see `hunter._stop_tracers_at_exit`):
/// before 3.14 CPython ends daemon threads during finalization by unwinding their stacks, which must not
/// happen while they are inside a tracer callback.
#[pyfunction]
pub fn _stop_all_tracers(py: Python<'_>) -> PyResult<usize> {
    let running = RUNNING_TRACERS.replace(py, Vec::new());
    let count = running.len();
    for tracer in running {
        Tracer::stop_tracing(tracer.bind(py))?;
    }
    Ok(count)
}

#[pyclass(module = "hunter.tracer", name = "Tracer", frozen, weakref)]
pub struct Tracer {
    threading_support: Option<bool>,
    profiling_mode: bool,
    depth: GilCell<i64>,
    calls: GilCell<i64>,
    generation: GilCell<u64>,
    handler: GilCell<Option<Py<PyAny>>>,
    previous: GilCell<Option<Py<PyAny>>>,
    threading_previous: GilCell<Option<Py<PyAny>>>,
    /// The backend in use (or to be used by `trace()`).
    backend: GilCell<Backend>,
    /// `backend="auto"`: fall back to settrace when sys.monitoring has no free tool id.
    backend_is_auto: bool,
    /// The sys.monitoring tool id in use, while tracing with that backend.
    pub(crate) tool_id: GilCell<Option<u8>>,
    /// The sys.monitoring events switched on, and those switched on when some code needs them.
    pub(crate) event_switches: GilCell<monitoring::EventSwitches>,
    /// Whether the handler may observe `depth`/`calls`, so call and return events must always be counted.
    pub(crate) counting: GilCell<bool>,
    /// Whether the handler's static verdicts can differ between event kinds (else one is computed per code).
    verdict_depends_on_kind: GilCell<bool>,
    /// Threads whose events the monitoring backend delivers (settrace is per thread by itself).
    pub(crate) threads: TracedThreads,
}

/// Where an event happens: its code and globals (enough to reject it), and its frame, which the
/// monitoring backend only materialises for events that are not rejected.
#[derive(Clone, Copy)]
pub(crate) struct EventSite {
    pub code: *mut ffi::PyObject,
    pub globals: *mut ffi::PyObject,
    frame: *mut ffi::PyFrameObject,
}

impl EventSite {
    /// # Safety
    /// `frame` must be a live frame.
    pub unsafe fn of_frame(frame: *mut ffi::PyFrameObject) -> Self {
        unsafe { EventSite { code: compat::frame_code(frame), globals: compat::frame_globals(frame), frame } }
    }

    /// The site of the frame executing `code` (a sys.monitoring callback's), without materialising it yet.
    ///
    /// # Safety
    /// Must be called inside a monitoring callback for `code`, attached.
    pub unsafe fn of_running_code(code: *mut ffi::PyObject) -> Self {
        EventSite { code, globals: unsafe { ffi::PyEval_GetGlobals() }, frame: std::ptr::null_mut() }
    }

    unsafe fn frame(&self) -> *mut ffi::PyFrameObject {
        if self.frame.is_null() {
            unsafe { ffi::PyEval_GetFrame() }
        } else {
            self.frame
        }
    }
}

/// An event's `arg` as a backend has it: the object itself, or (sys.monitoring) the raised exception that
/// settrace would have passed as an `(type, value, traceback)` tuple.
#[derive(Clone, Copy)]
pub(crate) enum EventArg {
    Object(*mut ffi::PyObject),
    Raised(*mut ffi::PyObject),
}

/// The C trace function. CPython calls it attached, never recursively on one thread.
///
/// The rejection path touches only borrowed pointers. Anything that creates owned `Py` references runs
/// inside `attached::run_attached`, so that pyo3 knows the thread is attached and releases them at once.
unsafe extern "C" fn trace_function(
    obj: *mut ffi::PyObject,
    frame: *mut ffi::PyFrameObject,
    what: c_int,
    arg: *mut ffi::PyObject,
) -> c_int {
    let py = unsafe { Python::assume_attached() };
    let tracer = unsafe { Borrowed::from_ptr(py, obj).cast_unchecked::<Tracer>() };
    // A panic must never unwind into CPython; treat it like a failing handler.
    let outcome = catch_unwind(AssertUnwindSafe(|| unsafe { Tracer::on_trace_event(tracer, frame, what, arg) }));
    if outcome.is_err() {
        failure::report_internal_error(tracer);
    }
    0
}

impl Tracer {
    /// A settrace-backend event.
    unsafe fn on_trace_event(
        slf: Borrowed<'_, '_, Tracer>,
        frame: *mut ffi::PyFrameObject,
        what: c_int,
        arg: *mut ffi::PyObject,
    ) {
        let py = slf.py();
        let this = slf.get();
        if this.handler.as_ptr(py).is_null() {
            // Stopped (possibly from another thread): uninstall ourselves from this thread.
            this.install(py, None);
            return;
        }
        let Some((kind, builtin)) = Kind::from_trace(what) else {
            return;
        };
        let site = unsafe { EventSite::of_frame(frame) };
        let cached = if builtin { None } else { unsafe { this.cached_verdict(py, site, kind) } };
        // Most events of a trace that matches little end here: kept small, with nothing to release.
        if cached.is_some_and(|verdict| verdict != Verdict::Effectful) {
            match kind {
                Kind::Return => this.count_return(py),
                Kind::Call => this.count_call(py),
                Kind::Line | Kind::Exception => {}
            }
            return;
        }
        unsafe { Tracer::handle(slf, site, kind, builtin, EventArg::Object(arg), cached) };
    }

    /// The verdict cached for the site's code (and globals) and a `kind` event; None when there is none yet
    /// (`code_verdict` computes it).
    #[inline(always)]
    unsafe fn cached_verdict(&self, py: Python<'_>, site: EventSite, kind: Kind) -> Option<Verdict> {
        let info = unsafe { CodeInfo::existing(site.code) }?;
        info.cached_verdicts(py, self.generation.get(py), site.globals).map(|by_kind| by_kind[kind as usize])
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

    /// Handles one event of either backend: cheap rejection through the per-code verdict (`verdict`, when the
    /// caller has looked it up already), else the full predicate; then hunter's depth/calls bookkeeping.
    /// Returns whether the per-code verdict rejected it.
    pub(crate) unsafe fn handle(
        slf: Borrowed<'_, '_, Tracer>,
        site: EventSite,
        kind: Kind,
        builtin: bool,
        arg: EventArg,
        verdict: Option<Verdict>,
    ) -> bool {
        let py = slf.py();
        let this = slf.get();
        let counts_frames = !builtin;
        if counts_frames && kind == Kind::Return {
            this.count_return(py);
        }
        let skip = !builtin
            && match verdict.map_or_else(|| unsafe { this.code_verdict(py, site, kind) }, Ok) {
                Ok(verdict) => verdict != Verdict::Effectful,
                Err(error) => {
                    attached::run_attached(py, |py| failure::report_and_stop(py, slf, None, error, None));
                    return false;
                }
            };
        if !skip {
            let failed =
                attached::run_attached(py, |py| match unsafe { this.run_handler(py, site, kind, builtin, arg) } {
                    Ok(()) => false,
                    Err((error, handler, event)) => {
                        failure::report_and_stop(py, slf, Some(handler), error, event.as_ref());
                        true
                    }
                })
                .unwrap_or(false);
            if failed {
                return false;
            }
        }
        if counts_frames && kind == Kind::Call {
            this.count_call(py);
        }
        skip
    }

    /// The cached static verdict of the handler for `code` (running with the frame's globals) and `kind`.
    ///
    /// The first event of a code object judges it for every kind at once: the monitoring backend needs to know
    /// whether any kind could have an effect before switching on the events it cannot disable per location.
    #[inline]
    pub(crate) unsafe fn code_verdict(&self, py: Python<'_>, site: EventSite, kind: Kind) -> PyResult<Verdict> {
        let info = unsafe { CodeInfo::of_code(py, site.code)? };
        let generation = self.generation.get(py);
        match info.cached_verdicts(py, generation, site.globals) {
            Some(by_kind) => Ok(by_kind[kind as usize]),
            None => unsafe { self.judge_code(py, info, generation, site, kind) },
        }
    }

    /// Computes and caches the verdicts of a code object running with the site's globals (its first event).
    #[cold]
    #[inline(never)]
    unsafe fn judge_code(
        &self,
        py: Python<'_>,
        info: &CodeInfo,
        generation: u64,
        site: EventSite,
        kind: Kind,
    ) -> PyResult<Verdict> {
        attached::run_attached(py, |py| {
            let handler = self.handler.as_ptr(py);
            if handler.is_null() {
                return Ok(Verdict::Never);
            }
            // Borrowed: computing a verdict runs no user code that could replace the handler.
            let handler = unsafe { Borrowed::from_ptr(py, handler) };
            let globals = unsafe { Borrowed::from_ptr(py, site.globals).cast_unchecked::<PyDict>() };
            let mut facts = StaticFacts::of_code(info, &globals, kind)?;
            let mut by_kind = [predicates::static_verdict(&handler, &facts)?; 4];
            if self.verdict_depends_on_kind.get(py) {
                for other_kind in Kind::ALL.into_iter().filter(|other| *other != kind) {
                    facts.kind = other_kind;
                    by_kind[other_kind as usize] = predicates::static_verdict(&handler, &facts)?;
                }
            }
            info.remember_verdicts(py, generation, &globals, by_kind);
            if let Some(tool_id) = self.tool_id.get(py) {
                monitoring::switch_on_needed_events(py, self, tool_id, &by_kind)?;
            }
            Ok(by_kind[kind as usize])
        })
        .unwrap_or(Ok(Verdict::Never))
    }

    /// Whether the cached verdict lets every event of `kind` at `site` be skipped. Failures to judge say no:
    /// the event then reports them.
    ///
    /// # Safety
    /// As `code_verdict`.
    pub(crate) unsafe fn rules_out(&self, py: Python<'_>, site: EventSite, kind: Kind) -> bool {
        matches!(unsafe { self.code_verdict(py, site, kind) }, Ok(verdict) if verdict != Verdict::Effectful)
    }

    /// Judges the code of `frame` and of every frame below it (see `monitoring::switch_on_needed_events`):
    /// frames already running when monitoring starts, or when it admits their thread, report no PY_START.
    /// A code that cannot be judged switches on every event, as its events will fail the same way.
    ///
    /// # Safety
    /// `frame` must be a live frame of the current thread, or NULL.
    pub(crate) unsafe fn judge_running_frames(&self, py: Python<'_>, frame: *mut ffi::PyFrameObject) -> PyResult<()> {
        let Some(tool_id) = self.tool_id.get(py) else {
            return Ok(());
        };
        // Judging may import modules (`hunter.const`): their events must not reach us meanwhile.
        let _quiet = crate::compat::EventsSuspended::on_this_thread();
        let mut frame = unsafe { Bound::from_borrowed_ptr_or_opt(py, frame.cast()) };
        while let Some(current) = frame {
            let site = unsafe { EventSite::of_frame(current.as_ptr().cast()) };
            if unsafe { self.code_verdict(py, site, Kind::Call) }.is_err() {
                return monitoring::switch_on_needed_events(py, self, tool_id, &[Verdict::Effectful; 4]);
            }
            frame = unsafe { Bound::from_owned_ptr_or_opt(py, ffi::PyFrame_GetBack(current.as_ptr().cast()).cast()) };
        }
        Ok(())
    }

    /// Builds the event and runs the handler on it. On failure, hands back what the report needs.
    #[allow(clippy::type_complexity)]
    unsafe fn run_handler(
        &self,
        py: Python<'_>,
        site: EventSite,
        kind: Kind,
        builtin: bool,
        arg: EventArg,
    ) -> Result<(), (PyErr, Py<PyAny>, Option<Py<PyAny>>)> {
        // Owned: the handler may stop this tracer, which drops the stored reference.
        let Some(handler) = self.handler.clone_ref(py) else {
            return Ok(());
        };
        let code_info = CodeInfo::shared(py, site.code).map_err(|e| (e, handler.clone_ref(py), None))?;
        let frame = unsafe { site.frame() };
        let arg = match arg {
            EventArg::Object(object) => unsafe { Bound::from_borrowed_ptr_or_opt(py, object) },
            EventArg::Raised(exception) => {
                Some(monitoring::exception_tuple(py, exception).map_err(|e| (e, handler.clone_ref(py), None))?)
            }
        };
        let arg = arg.as_ref().map_or(std::ptr::null_mut(), Bound::as_ptr);
        let data = unsafe {
            EventData::from_trace(
                py,
                frame,
                kind,
                builtin,
                arg,
                self.depth.get(py),
                self.calls.get(py),
                self.threading_support,
                // Only settrace's line tracing keeps the frame's line up to date.
                !self.profiling_mode && self.backend.get(py) != Backend::Monitoring,
                Some(code_info),
            )
        };
        let event = EventRef::new(&data);
        predicates::evaluate(py, handler.bind(py), &event).map_err(|error| {
            let event_object = event.as_py(py).ok().map(|e| e.clone().into_any().unbind());
            (error, handler, event_object)
        })?;
        Ok(())
    }

    /// Installs `tracer` (or nothing) as this thread's trace or profile function.
    fn install(&self, py: Python<'_>, tracer: Option<&Bound<'_, Tracer>>) {
        let _ = py;
        let (function, object): (Option<ffi::Py_tracefunc>, *mut ffi::PyObject) = match tracer {
            Some(tracer) => (Some(trace_function), tracer.as_ptr()),
            None => (None, std::ptr::null_mut()),
        };
        unsafe {
            if self.profiling_mode {
                ffi::PyEval_SetProfile(function, object);
            } else {
                ffi::PyEval_SetTrace(function, object);
            }
        }
    }

    fn hook_names(&self) -> (&'static str, &'static str, &'static str) {
        if self.profiling_mode {
            ("getprofile", "setprofile", "_profile_hook")
        } else {
            ("gettrace", "settrace", "_trace_hook")
        }
    }

    pub fn stop_tracing(slf: &Bound<'_, Tracer>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        let Some(handler) = this.handler.replace(py, None) else {
            return Ok(());
        };
        drop(handler);
        forget_running(py, slf);
        let (get_name, set_name, _) = this.hook_names();
        if let Some(tool_id) = this.tool_id.replace(py, None) {
            monitoring::stop(py, tool_id)?;
        } else {
            this.restore_previous(slf, get_name, set_name)?;
        }
        if this.traces_new_threads() {
            let threading_previous = this.threading_previous.replace(py, None);
            crate::compat::import(py, "threading")?.getattr(set_name)?.call1((threading_previous,))?;
        }
        Ok(())
    }

    /// settrace backend: puts back the trace function found at `trace()`, if we are still the installed one.
    fn restore_previous(&self, slf: &Bound<'_, Tracer>, get_name: &str, set_name: &str) -> PyResult<()> {
        let py = slf.py();
        let this = self;
        let sys = crate::compat::import(py, "sys")?;
        let previous = this.previous.replace(py, None);
        if sys.getattr(get_name)?.call0()?.is(slf) {
            match previous.as_ref().map(|p| p.bind(py)) {
                Some(previous) if previous.is_instance_of::<Tracer>() => {
                    let previous = previous.cast::<Tracer>()?;
                    previous.get().install(py, Some(previous));
                }
                Some(previous) => {
                    sys.getattr(set_name)?.call1((previous,))?;
                }
                None => this.install(py, None),
            }
        }
        Ok(())
    }

    pub(crate) fn is_profiler(&self) -> bool {
        self.profiling_mode
    }

    #[inline]
    pub(crate) fn handler_is_stopped(&self, py: Python<'_>) -> bool {
        self.handler.as_ptr(py).is_null()
    }

    fn traces_new_threads(&self) -> bool {
        self.threading_support != Some(false)
    }
}

#[pymethods]
impl Tracer {
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        // SAFETY: called from `__traverse__` (the collector holds the GIL); these cells are only replaced.
        unsafe {
            visit.call(self.handler.during_gc())?;
            visit.call(self.previous.during_gc())?;
            visit.call(self.threading_previous.during_gc())
        }
    }

    /// Only a tracer that is not installed can be garbage (an installed one is referenced by the interpreter).
    fn __clear__(&self, py: Python<'_>) {
        let released = [
            self.handler.replace(py, None),
            self.previous.replace(py, None),
            self.threading_previous.replace(py, None),
        ];
        drop(released);
    }

    #[new]
    #[pyo3(signature = (threading_support=None, profiling_mode=false, backend=None))]
    fn new(
        py: Python<'_>,
        threading_support: Option<&Bound<'_, PyAny>>,
        profiling_mode: bool,
        backend: Option<&str>,
    ) -> PyResult<Self> {
        let threading_support = match threading_support {
            Some(value) if !value.is_none() => Some(value.is_truthy()?),
            _ => None,
        };
        let (backend, backend_is_auto) = Backend::choose(py, backend)?;
        Ok(Tracer {
            backend: GilCell::new(backend),
            backend_is_auto,
            tool_id: GilCell::new(None),
            event_switches: GilCell::new(monitoring::EventSwitches::default()),
            counting: GilCell::new(true),
            verdict_depends_on_kind: GilCell::new(true),
            threads: TracedThreads::default(),
            threading_support,
            profiling_mode,
            depth: GilCell::new(0),
            calls: GilCell::new(0),
            generation: GilCell::new(0),
            handler: GilCell::new(None),
            previous: GilCell::new(None),
            threading_previous: GilCell::new(None),
        })
    }

    /// Starts tracing with `predicate` as the handler; returns the tracer.
    fn trace<'py>(slf: &Bound<'py, Self>, predicate: Bound<'py, PyAny>) -> PyResult<Bound<'py, Self>> {
        let py = slf.py();
        let this = slf.get();
        if !predicate.is_callable() {
            return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                "Predicate {} is not callable.",
                predicate.repr()?
            )));
        }
        Tracer::stop_tracing(slf)?;
        let (get_name, set_name, hook_name) = this.hook_names();
        this.counting.set(py, predicates::uses_counters(&predicate));
        this.verdict_depends_on_kind.set(py, predicates::verdict_depends_on_kind(&predicate));
        this.handler.replace(py, Some(predicate.unbind()));
        this.generation.set(py, NEXT_GENERATION.fetch_add(1, Ordering::Relaxed));
        // Thread hooks first: importing `threading` must not itself be traced.
        if this.traces_new_threads() {
            let threading = crate::compat::import(py, "threading")?;
            let hook = threading.getattr(hook_name).ok().filter(|h| !h.is_none());
            this.threading_previous.replace(py, hook.map(Bound::unbind));
            threading.getattr(set_name)?.call1((slf,))?;
        }
        if this.backend.get(py) == Backend::Monitoring {
            this.threads.start(py, this.generation.get(py));
            match monitoring::start(slf) {
                Ok(()) => {
                    remember_running(py, slf);
                    return Ok(slf.clone());
                }
                Err(error) if this.backend_is_auto && error.is_instance_of::<monitoring::NoFreeToolId>(py) => {
                    this.backend.set(py, Backend::Settrace);
                }
                Err(error) => {
                    this.handler.replace(py, None);
                    return Err(error);
                }
            }
        }
        let previous = crate::compat::import(py, "sys")?.getattr(get_name)?.call0()?;
        this.previous.replace(py, (!previous.is_none()).then(|| previous.unbind()));
        this.install(py, Some(slf));
        remember_running(py, slf);
        Ok(slf.clone())
    }

    fn stop(slf: &Bound<'_, Self>) -> PyResult<()> {
        Tracer::stop_tracing(slf)
    }

    /// The Python-level entry (`sys.settrace(tracer)`, new threads via `threading.settrace`): handles the
    /// event, then switches this thread to the C trace function (settrace backend), or admits the thread to
    /// the monitoring backend's callbacks and removes the Python-level hook again.
    #[pyo3(signature = (frame, kind, arg))]
    fn __call__<'py>(
        slf: &Bound<'py, Self>,
        frame: &Bound<'py, PyAny>,
        kind: &Bound<'py, PyString>,
        arg: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, Self>>> {
        let py = slf.py();
        let this = slf.get();
        if this.handler.as_ptr(py).is_null() {
            return Ok(None);
        }
        if !frame.is_instance_of::<pyo3::types::PyFrame>() {
            return Err(PyValueError::new_err("Tracer must be called with a frame object."));
        }
        let what = match kind.to_str()? {
            "call" => ffi::PyTrace_CALL,
            "exception" => ffi::PyTrace_EXCEPTION,
            "line" => ffi::PyTrace_LINE,
            "return" => ffi::PyTrace_RETURN,
            "c_call" => ffi::PyTrace_C_CALL,
            "c_exception" => ffi::PyTrace_C_EXCEPTION,
            "c_return" => ffi::PyTrace_C_RETURN,
            _ => return Ok(Some(slf.clone())),
        };
        if this.tool_id.get(py).is_some() {
            // CPython runs monitoring tools from the highest id down, so the settrace trampoline (id 7) calls
            // us before our own callback sees this very event: admitting the thread is enough.
            this.threads.admit_current_thread();
            unsafe { this.judge_running_frames(py, frame.as_ptr().cast())? };
            let (_, set_name, _) = this.hook_names();
            crate::compat::import(py, "sys")?.getattr(set_name)?.call1((py.None(),))?;
            return Ok(None);
        }
        this.install(py, Some(slf));
        unsafe {
            Tracer::on_trace_event(slf.as_borrowed(), frame.as_ptr().cast(), what, arg.as_ptr());
        }
        if this.handler.as_ptr(py).is_null() {
            return Ok(None);
        }
        Ok(Some(slf.clone()))
    }

    fn __enter__<'py>(slf: &Bound<'py, Self>) -> Bound<'py, Self> {
        slf.clone()
    }

    #[pyo3(signature = (*_exc_info))]
    fn __exit__(slf: &Bound<'_, Self>, _exc_info: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<()> {
        Tracer::stop_tracing(slf)
    }

    #[getter]
    fn handler(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.handler.clone_ref(py)
    }
    #[getter]
    fn previous(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.previous.clone_ref(py)
    }
    #[getter]
    fn _threading_previous(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.threading_previous.clone_ref(py)
    }
    #[getter]
    fn threading_support(&self) -> Option<bool> {
        self.threading_support
    }
    #[getter]
    fn profiling_mode(&self) -> bool {
        self.profiling_mode
    }
    /// 'monitoring' or 'settrace': the backend this tracer uses (or will use, before `trace()`).
    #[getter]
    fn backend(&self, py: Python<'_>) -> &'static str {
        self.backend.get(py).name()
    }
    #[getter]
    fn depth(&self, py: Python<'_>) -> i64 {
        self.depth.get(py)
    }
    #[getter]
    fn calls(&self, py: Python<'_>) -> i64 {
        self.calls.get(py)
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let py = slf.py();
        let this = slf.get();
        let threading_support = match this.threading_support {
            None => "None",
            Some(true) => "True",
            Some(false) => "False",
        };
        let state = match this.handler.clone_ref(py) {
            None => "<stopped>".to_owned(),
            Some(handler) => format!("handler={}", handler.bind(py).repr()?),
        };
        let previous = match this.previous.clone_ref(py) {
            None => String::new(),
            Some(previous) => format!(", previous={}", previous.bind(py).repr()?),
        };
        Ok(format!(
            "<hunter.tracer.Tracer at {:#x}: threading_support={threading_support}, {state}{previous}>",
            slf.as_ptr() as usize
        ))
    }
}
