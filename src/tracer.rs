//! The Tracer. Two backends deliver it the same events: a C-level trace function installed with
//! `PyEval_SetTrace` / `PyEval_SetProfile` (every Python), and `sys.monitoring` callbacks (3.12+, see
//! `monitoring.rs`), which can switch off code that can never match.

use std::cell::Cell;
use std::os::raw::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use pyo3::exceptions::PyValueError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::pyclass::{PyTraverseError, PyVisit};
use pyo3::types::{PyCode, PyDict, PyFrame, PyString};

use crate::attached;
use crate::codeinfo::CodeInfo;
use crate::compat;
use crate::event::{EventData, EventRef, Kind};
use crate::failure;
use crate::gilcell::GilCell;
use crate::monitoring::{self, Backend, TracedThreads};
use crate::predicates::{self, StaticFacts};
use crate::verdict::Verdict;

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

/// The running monitoring tracer of `session` (its generation), if any.
fn running_tracer_of_session(py: Python<'_>, session: u64) -> Option<Py<Tracer>> {
    let running = RUNNING_TRACERS.replace(py, Vec::new());
    let found = running.iter().find(|tracer| tracer.get().generation.get(py) == session).map(|t| t.clone_ref(py));
    RUNNING_TRACERS.replace(py, running);
    found
}

thread_local! {
    /// The frame of the event whose handler this thread is running (NULL outside of handlers): frames above it
    /// are the handler's own, which no tracer sees.
    static HANDLED_FRAME: std::cell::Cell<*mut ffi::PyObject> = const { std::cell::Cell::new(std::ptr::null_mut()) };
}

/// Marks the frame of the event being handled for the handler's duration (handlers nest: restores the outer one).
struct HandledFrame(*mut ffi::PyObject);

impl HandledFrame {
    fn enter(frame: &Bound<'_, PyFrame>) -> Self {
        HandledFrame(HANDLED_FRAME.try_with(|handled| handled.replace(frame.as_ptr())).unwrap_or(std::ptr::null_mut()))
    }
}

impl Drop for HandledFrame {
    fn drop(&mut self) {
        let _ = HANDLED_FRAME.try_with(|handled| handled.set(self.0));
    }
}

/// How many frames deep the current thread's traced code is: from the frame of the event being handled when
/// called from a handler (the handler's own frames are not traced), else from the current frame.
fn running_frame_count(py: Python<'_>) -> i64 {
    let handled = HANDLED_FRAME.try_with(std::cell::Cell::get).unwrap_or(std::ptr::null_mut());
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

fn forget_running(py: Python<'_>, tracer: &Bound<'_, Tracer>) {
    let mut running = RUNNING_TRACERS.replace(py, Vec::new());
    running.retain(|other| !other.is(tracer));
    let leftovers = RUNNING_TRACERS.replace(py, running);
    drop(leftovers);
}

/// Stops every running tracer; returns how many there were. Called at exit (see `hunter._stop_tracers_at_exit`):
/// before 3.14 CPython ends daemon threads during finalization by unwinding their stacks (`pthread_exit`, when
/// they wait for the GIL), which must never happen while they are inside a callback: its frames would catch the
/// forced unwind or release Python objects without the GIL. Stopping the tracers is not enough, as a thread may
/// be in the middle of an action (a write that released the GIL). So from here on callbacks run no Python
/// code (until a new `trace()`), and the threads inside one get the GIL until they have left it.
#[pyfunction]
pub fn _stop_all_tracers(py: Python<'_>) -> PyResult<usize> {
    EXITING.store(true, Ordering::Relaxed);
    let running = RUNNING_TRACERS.replace(py, Vec::new());
    let count = running.len();
    let stopped = running.iter().try_for_each(|tracer| Tracer::stop_tracing(tracer.bind(py)));
    wait_for_callbacks_to_return(py);
    stopped.map(|()| count)
}

#[pyclass(module = "hunter.tracer", name = "Tracer", frozen, weakref)]
pub struct Tracer {
    threading_support: Option<bool>,
    profiling_mode: bool,
    depth: GilCell<i64>,
    /// While another tracer replaces this one on a thread (a nested `trace()`): `depth` and the thread's frame
    /// count then, so that, put back, it counts the frames that began or ended meanwhile, which it never saw.
    replaced_at: GilCell<Option<(i64, i64)>>,
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
/// monitoring backend only materialises for events that are not rejected. Valid for one callback: the
/// pointers are borrowed from the running frame. Only built from a checked frame, or from an object that
/// passed `PyCode_Check`, so `code` is always a code object.
#[derive(Clone, Copy)]
pub(crate) struct EventSite {
    code: *mut ffi::PyObject,
    globals: *mut ffi::PyObject,
    frame: *mut ffi::PyFrameObject,
}

impl EventSite {
    pub fn of_frame(frame: Borrowed<'_, '_, PyFrame>) -> Self {
        EventSite {
            code: compat::frame_code(frame),
            globals: compat::frame_globals(frame),
            frame: frame.as_ptr().cast(),
        }
    }

    /// The site of the frame executing `code` (a sys.monitoring callback's), without materialising it yet;
    /// None when `code` is not a code object, or NULL (the callback was called by hand, with fewer arguments).
    ///
    /// # Safety
    /// Must be called inside a monitoring callback, attached, with `code` a live object or NULL.
    pub unsafe fn of_running_code(code: *mut ffi::PyObject) -> Option<Self> {
        // SAFETY: attached (the caller's invariant); `code` is checked for NULL before PyCode_Check reads its
        // type, and PyEval_GetGlobals reads the running frame's globals (NULL without one).
        unsafe {
            (!code.is_null() && ffi::PyCode_Check(code) != 0).then(|| EventSite {
                code,
                globals: ffi::PyEval_GetGlobals(),
                frame: std::ptr::null_mut(),
            })
        }
    }

    /// The code object of the event.
    #[inline]
    pub fn code<'a, 'py>(&self, py: Python<'py>) -> Borrowed<'a, 'py, PyCode> {
        // SAFETY: the constructors only take code objects, borrowed for the callback's duration.
        unsafe { Borrowed::from_ptr(py, self.code).cast_unchecked() }
    }

    /// The globals the code runs with (a dict, or NULL for a hand-called monitoring callback with no frame).
    #[inline]
    pub fn globals(&self) -> *mut ffi::PyObject {
        self.globals
    }

    /// The running frame of the event: the site's own, or (monitoring) the thread's current one.
    fn frame<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyFrame>> {
        // SAFETY: attached (`py`); PyEval_GetFrame gives the running frame of this callback, borrowed, or NULL.
        let frame = if self.frame.is_null() { unsafe { ffi::PyEval_GetFrame() } } else { self.frame };
        // SAFETY: a frame of this callback (borrowed from CPython for its duration), or NULL.
        unsafe { Bound::from_borrowed_ptr_or_opt(py, frame.cast()).map(|frame| frame.cast_into_unchecked()) }
    }
}

/// An event's `arg` as a backend has it: the object itself, or (sys.monitoring) the raised exception that
/// settrace would have passed as an `(type, value, traceback)` tuple.
#[derive(Clone, Copy)]
pub(crate) enum EventArg {
    Object(*mut ffi::PyObject),
    Raised(*mut ffi::PyObject),
}

/// What a callback tells CPython after an event.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Handled {
    /// The per-code verdict rejected it: no event of this kind at this site can have an effect.
    Rejected,
    /// The handler ran, or the event could not be handled (the interpreter is finalizing).
    Delivered,
    /// Handling it failed: that was reported and the tracer stopped.
    Failed,
    /// The handler raised what belongs to the program (`SystemExit`...): it is set as the current exception, and
    /// the callback must return an error so that the program gets it.
    Raise,
}

/// The C trace function. CPython calls it attached, never recursively on one thread.
///
/// `obj` is borrowed from the thread state, which drops it when the tracer uninstalls itself: the rejection path
/// runs no Python code and uses it as it is; the rest takes a strong reference first (see `Tracer::handle`).
///
/// # Safety
/// CPython's `Py_tracefunc` contract: called attached, with `obj` the object `install` registered (a live Tracer),
/// `frame` the frame of the event and `arg` NULL or an object it holds for the call.
unsafe extern "C" fn trace_function(
    obj: *mut ffi::PyObject,
    frame: *mut ffi::PyFrameObject,
    what: c_int,
    arg: *mut ffi::PyObject,
) -> c_int {
    // SAFETY: CPython calls trace functions attached (this function's contract).
    let py = unsafe { Python::assume_attached() };
    // SAFETY: `obj` is what `install` registered with this function: a live Tracer.
    let tracer = unsafe { Borrowed::from_ptr(py, obj).cast_unchecked::<Tracer>() };
    // A panic must never unwind into CPython. One caught here happened before any Python code ran (the slow path
    // catches its own, inside `run_attached`), so the borrowed tracer is still alive.
    // SAFETY: `tracer` is live (no Python code has run), `frame` is the event's frame and `arg` NULL or an object
    // CPython holds for the call.
    match catch_unwind(AssertUnwindSafe(|| unsafe { Tracer::on_trace_event(tracer, frame, what, arg) })) {
        Ok(Handled::Raise) => -1,
        Ok(_) => 0,
        Err(panic) => {
            failure::report_internal_error(&tracer.to_owned(), failure::panic_error(&*panic));
            0
        }
    }
}

/// Threads inside the slow path of a callback, which runs Python code (see `_stop_all_tracers`).
static CALLBACKS_RUNNING_PYTHON: AtomicUsize = AtomicUsize::new(0);
/// Set by `_stop_all_tracers` at exit (cleared by a later `trace()`): callbacks then run no Python code.
static EXITING: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// This thread's share of `CALLBACKS_RUNNING_PYTHON`.
    static OWN_CALLBACKS_RUNNING_PYTHON: Cell<usize> = const { Cell::new(0) };
}

/// Counts the current thread in `CALLBACKS_RUNNING_PYTHON` while it lives.
struct RunningPython;

impl RunningPython {
    /// None once the interpreter is about to exit: the callback must then return without running Python code.
    fn enter() -> Option<Self> {
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

/// Lets other threads run (the GIL released) until none is inside a callback's slow path, for at most
/// `EXIT_GRACE` (a thread blocked in an action for longer is left where it is).
fn wait_for_callbacks_to_return(py: Python<'_>) {
    let own = OWN_CALLBACKS_RUNNING_PYTHON.try_with(Cell::get).unwrap_or(0);
    let deadline = std::time::Instant::now() + EXIT_GRACE;
    while CALLBACKS_RUNNING_PYTHON.load(Ordering::Relaxed) > own && std::time::Instant::now() < deadline {
        py.detach(|| std::thread::sleep(std::time::Duration::from_millis(1)));
    }
}

impl Tracer {
    /// A settrace-backend event.
    ///
    /// # Safety
    /// Attached, with `slf` a live Tracer (borrowed: only used until Python code can run), `frame` a live frame object
    /// of the current thread, CPython's for this event, and `arg` NULL or an object held for the call.
    unsafe fn on_trace_event(
        slf: Borrowed<'_, '_, Tracer>,
        frame: *mut ffi::PyFrameObject,
        what: c_int,
        arg: *mut ffi::PyObject,
    ) -> Handled {
        let py = slf.py();
        let this = slf.get();
        if this.handler.as_ptr(py).is_null() {
            // Stopped (possibly from another thread): uninstall ourselves from this thread. Held: uninstalling
            // releases the thread state's reference, which may be the last one.
            let held = slf.to_owned();
            held.get().install(py, None);
            return Handled::Delivered;
        }
        let Some((kind, builtin)) = Kind::from_trace(what) else {
            return Handled::Delivered;
        };
        // As hunter, so that a `sys.settrace(sys.gettrace())` (which hands the events of running frames to their
        // `f_trace`) keeps tracing the frames already running. Not as a profiler, which leaves `f_trace` to the
        // trace function.
        let previous_trace = if builtin || this.profiling_mode {
            std::ptr::null_mut()
        } else {
            // SAFETY: `frame` is the live frame CPython passes with the event; `slf` is alive (no Python code ran).
            unsafe { compat::replace_frame_trace(frame, slf.as_ptr()) }
        };
        // SAFETY: CPython calls the trace function with the frame of the event.
        let site = EventSite::of_frame(unsafe { Borrowed::from_ptr(py, frame.cast()).cast_unchecked() });
        // SAFETY: `site` was made from this event's frame just above, for this callback.
        let cached = if builtin { None } else { unsafe { this.cached_verdict(py, site, kind) } };
        // SAFETY: `slf` is live (no Python code has run since CPython passed it); `site` and `arg` are this event's.
        let handled = unsafe { Tracer::handle(slf, site, kind, builtin, EventArg::Object(arg), cached) };
        if !previous_trace.is_null() {
            // SAFETY: `replace_frame_trace` handed over its reference. Released last: it may run a `__del__`.
            unsafe { ffi::Py_DECREF(previous_trace) };
        }
        handled
    }

    /// The verdict cached for the site's code (and globals) and a `kind` event; None when there is none yet
    /// (`code_verdict` computes it). Runs no Python code.
    ///
    /// # Safety
    /// `site` must come from the current callback (its code, globals and frame pointers are borrowed from the running
    /// frame or the callback's arguments), attached.
    #[inline(always)]
    pub(crate) unsafe fn cached_verdict(&self, py: Python<'_>, site: EventSite, kind: Kind) -> Option<Verdict> {
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
    /// callback.
    #[inline(always)]
    pub(crate) unsafe fn handle(
        slf: Borrowed<'_, '_, Tracer>,
        site: EventSite,
        kind: Kind,
        builtin: bool,
        arg: EventArg,
        verdict: Option<Verdict>,
    ) -> Handled {
        let py = slf.py();
        let this = slf.get();
        let rejected = !builtin && verdict.is_some_and(|verdict| verdict != Verdict::Effectful);
        // Most events of a trace that matches little end here: kept small, with nothing to release.
        if rejected {
            match kind {
                Kind::Return => this.count_return(py),
                Kind::Call => this.count_call(py),
                Kind::Line | Kind::Exception => {}
            }
            return Handled::Rejected;
        }
        // SAFETY: `site` and `arg` are this callback's (this function's contract); the tracer is now held.
        unsafe { Tracer::handle_held(&slf.to_owned(), site, kind, builtin, arg, verdict) }
    }

    /// The part of `handle` that can run Python code, with the tracer held.
    ///
    /// # Safety
    /// As for [`Tracer::handle`].
    #[cold]
    #[inline(never)]
    pub(crate) unsafe fn handle_held(
        slf: &Bound<'_, Tracer>,
        site: EventSite,
        kind: Kind,
        builtin: bool,
        arg: EventArg,
        verdict: Option<Verdict>,
    ) -> Handled {
        let py = slf.py();
        let this = slf.get();
        let Some(_running) = RunningPython::enter() else {
            return Handled::Delivered;
        };
        let counts_frames = !builtin;
        if counts_frames && kind == Kind::Return {
            this.count_return(py);
        }
        let handled = Tracer::settle(
            slf,
            attached::run_attached(py, |py| -> Result<Handled, PyErr> {
                let skip = !builtin
                    // SAFETY: `site` is this callback's (this function's contract): the running frame, which outlives
                    // the call, holds its code and globals.
                    && match verdict.map_or_else(|| unsafe { Tracer::code_verdict(slf, site, kind) }, Ok) {
                        Ok(verdict) => verdict != Verdict::Effectful,
                        Err(error) => return this.fail(py, slf, None, error, None),
                    };
                if !skip {
                    // SAFETY: as above; `arg` is NULL or objects held for the callback (this function's contract).
                    if let Err((error, handler, event)) = unsafe { Tracer::run_handler(slf, site, kind, builtin, arg) }
                    {
                        return this.fail(py, slf, Some(handler), error, event.as_ref());
                    }
                }
                Ok(if skip { Handled::Rejected } else { Handled::Delivered })
            }),
        );
        if counts_frames && kind == Kind::Call && matches!(handled, Handled::Rejected | Handled::Delivered) {
            this.count_call(py);
        }
        handled
    }

    /// What a callback makes of the outcome of its slow path (run by `run_attached`): an exception for the
    /// program is set as the current one, a panic reported (and the tracer stopped).
    fn settle(slf: &Bound<'_, Tracer>, outcome: Result<Result<Handled, PyErr>, attached::NotRun>) -> Handled {
        match outcome {
            Ok(Ok(handled)) => handled,
            Ok(Err(error)) => {
                error.restore(slf.py());
                Handled::Raise
            }
            Err(attached::NotRun::Finalizing) => Handled::Delivered,
            Err(attached::NotRun::Panicked(panic)) => {
                failure::report_internal_error(slf, panic);
                Handled::Failed
            }
        }
    }

    /// A callback's failure outside of `handle` (finding what the event is about): handled as the handler's own.
    pub(crate) fn report_failure(slf: &Bound<'_, Tracer>, error: PyErr) -> Handled {
        let Some(_running) = RunningPython::enter() else {
            return Handled::Delivered;
        };
        Tracer::settle(slf, attached::run_attached(slf.py(), |py| slf.get().fail(py, slf, None, error, None)))
    }

    /// Whether every `kind` event at `site` can be skipped, judging its code now (which runs Python code): for
    /// the callbacks of locations that have no verdict yet. Failing to judge says no, and the event itself, which
    /// judges again, reports the failure; unless it belongs to the program (Ctrl-C while judging), which is set as
    /// the current exception (`Err(Handled::Raise)`).
    ///
    /// # Safety
    /// `site` must come from the current callback (its code, globals and frame pointers are borrowed from the running
    /// frame or the callback's arguments), attached.
    pub(crate) unsafe fn judged_out(slf: &Bound<'_, Tracer>, site: EventSite, kind: Kind) -> Result<bool, Handled> {
        let Some(_running) = RunningPython::enter() else {
            return Ok(false);
        };
        let this = slf.get();
        // SAFETY: `site` is this callback's (this function's contract).
        let outcome = attached::run_attached(slf.py(), |py| match unsafe { Tracer::code_verdict(slf, site, kind) } {
            Ok(verdict) => Ok(if verdict == Verdict::Effectful { Handled::Delivered } else { Handled::Rejected }),
            Err(error) if failure::belongs_to_program(py, &error) => this.fail(py, slf, None, error, None),
            Err(_reported_by_the_event) => Ok(Handled::Delivered),
        });
        match Tracer::settle(slf, outcome) {
            Handled::Rejected => Ok(true),
            Handled::Raise => Err(Handled::Raise),
            Handled::Delivered | Handled::Failed => Ok(false),
        }
    }

    /// A failure while handling an event: what belongs to the program (`SystemExit`, `KeyboardInterrupt`) goes
    /// back to it, and this thread stops being traced (as CPython removes a Python trace function that raises);
    /// anything else is reported, and the tracer stops.
    fn fail(
        &self,
        py: Python<'_>,
        slf: &Bound<'_, Tracer>,
        handler: Option<Py<PyAny>>,
        error: PyErr,
        event: Option<&Py<PyAny>>,
    ) -> Result<Handled, PyErr> {
        if failure::belongs_to_program(py, &error) {
            if self.tool_id.get(py).is_some() {
                self.threads.dismiss_current_thread();
            } else {
                self.install(py, None);
            }
            return Err(error);
        }
        failure::report_and_stop(py, slf, handler, error, event);
        Ok(Handled::Failed)
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
    pub(crate) unsafe fn code_verdict(slf: &Bound<'_, Tracer>, site: EventSite, kind: Kind) -> PyResult<Verdict> {
        let py = slf.py();
        // SAFETY: the site's code is alive for the callback.
        let info = unsafe { CodeInfo::of_code(py, site.code(py))? };
        let generation = slf.get().generation.get(py);
        match info.cached_verdicts(py, generation, site.globals()) {
            Some(by_kind) => Ok(by_kind[kind as usize]),
            // SAFETY: `site` is this callback's (this function's contract).
            None => unsafe { Tracer::judge_code(slf, info, generation, site, kind) },
        }
    }

    /// Computes and caches the verdicts of a code object running with the site's globals (its first event).
    /// Judging can run Python code (a value's `__eq__`, an import), which may stop or restart tracing.
    ///
    /// # Safety
    /// `site` must come from the current callback (its code, globals and frame pointers are borrowed from the running
    /// frame or the callback's arguments), attached. `info` must be the facts of the site's code.
    #[cold]
    #[inline(never)]
    unsafe fn judge_code(
        slf: &Bound<'_, Tracer>,
        info: &CodeInfo,
        generation: u64,
        site: EventSite,
        kind: Kind,
    ) -> PyResult<Verdict> {
        let py = slf.py();
        let this = slf.get();
        // Held: judging may stop this tracer, which drops the stored reference.
        let Some(handler) = this.handler.clone_ref(py) else {
            return Ok(Verdict::Never);
        };
        let handler = handler.into_bound(py);
        // SAFETY: the globals of a running frame (or of the code a callback runs), which keeps them alive; a
        // frame's globals are a dict (CPython runs code with nothing else).
        let Some(globals) = (unsafe { Borrowed::from_ptr_or_opt(py, site.globals()) }) else {
            return Err(pyo3::exceptions::PyTypeError::new_err("hunter: an event without a running frame"));
        };
        let globals = globals.cast::<PyDict>()?;
        let mut facts = StaticFacts::of_code(info, &globals, kind)?;
        let mut by_kind = [predicates::static_verdict(&handler, &facts)?; 4];
        if this.verdict_depends_on_kind.get(py) {
            for other_kind in Kind::ALL.into_iter().filter(|other| *other != kind) {
                facts.kind = other_kind;
                by_kind[other_kind as usize] = predicates::static_verdict(&handler, &facts)?;
            }
        }
        // A handler replaced while judging (stopped, or traced anew) must not get verdicts computed for the old one.
        if this.generation.get(py) != generation || !this.handler.as_ptr(py).eq(&handler.as_ptr()) {
            return Ok(Verdict::Effectful);
        }
        info.remember_verdicts(py, generation, &globals, by_kind);
        if let Some(tool_id) = this.tool_id.get(py) {
            monitoring::switch_on_needed_events(py, this, tool_id, &by_kind)?;
        }
        Ok(by_kind[kind as usize])
    }

    /// Judges the code of `frame` and of every frame below it (see `monitoring::switch_on_needed_events`):
    /// frames already running when monitoring starts, or when it admits their thread, report no PY_START.
    /// A code that cannot be judged switches on every event, as its events will fail the same way.
    ///
    /// # Safety
    /// `frame` must be a live frame of the current thread, or NULL.
    pub(crate) unsafe fn judge_running_frames(slf: &Bound<'_, Tracer>, frame: *mut ffi::PyFrameObject) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        let Some(tool_id) = this.tool_id.get(py) else {
            return Ok(());
        };
        // Judging may import modules (`hunter.const`): their events must not reach us meanwhile.
        let _quiet = crate::compat::EventsSuspended::on_this_thread();
        // SAFETY: the caller's invariant.
        let mut frame = unsafe { Bound::from_borrowed_ptr_or_opt(py, frame.cast()) }
            .map(|frame| unsafe { frame.cast_into_unchecked::<PyFrame>() });
        while let Some(current) = frame {
            let site = EventSite::of_frame(current.as_borrowed());
            // SAFETY: `site` was made from `current`, a strong reference this loop holds across the call, whose frame
            // holds its code and globals.
            if unsafe { Tracer::code_verdict(slf, site, Kind::Call) }.is_err() {
                return monitoring::switch_on_needed_events(py, this, tool_id, &[Verdict::Effectful; 4]);
            }
            frame = compat::frame_back(&current);
        }
        Ok(())
    }

    /// Builds the event and runs the handler on it. On failure, hands back what the report needs.
    ///
    /// # Safety
    /// `site` must come from the current callback (its code, globals and frame pointers are borrowed from the running
    /// frame or the callback's arguments), attached. `arg` must be NULL or objects held for the callback.
    #[allow(clippy::type_complexity)]
    unsafe fn run_handler(
        slf: &Bound<'_, Tracer>,
        site: EventSite,
        kind: Kind,
        builtin: bool,
        arg: EventArg,
    ) -> Result<(), (PyErr, Py<PyAny>, Option<Py<PyAny>>)> {
        let py = slf.py();
        let this = slf.get();
        // Owned: the handler may stop this tracer, which drops the stored reference.
        let Some(handler) = this.handler.clone_ref(py) else {
            return Ok(());
        };
        let code_info = CodeInfo::shared(py, site.code(py)).map_err(|e| (e, handler.clone_ref(py), None))?;
        let frame = site.frame(py).ok_or_else(|| {
            let error = pyo3::exceptions::PyTypeError::new_err("hunter: an event without a running frame");
            (error, handler.clone_ref(py), None)
        })?;
        let arg = match arg {
            // SAFETY: the event's `arg`, NULL or an object held for the callback (this function's contract).
            EventArg::Object(object) => unsafe { Bound::from_borrowed_ptr_or_opt(py, object) },
            EventArg::Raised(exception) => {
                // SAFETY: `deliver_raised` made the pointer from an argument its callback's caller holds for the call.
                let tuple = unsafe { monitoring::exception_tuple(py, exception) };
                Some(tuple.map_err(|e| (e, handler.clone_ref(py), None))?)
            }
        };
        let arg = arg.as_ref().map_or(std::ptr::null_mut(), Bound::as_ptr);
        // SAFETY: `arg` is NULL or the strong reference held just above.
        let data = unsafe {
            EventData::from_trace(
                py,
                &frame,
                kind,
                builtin,
                arg,
                this.depth.get(py),
                this.calls.get(py),
                this.threading_support,
                // Only settrace's line tracing keeps the frame's line up to date.
                !this.profiling_mode && this.backend.get(py) != Backend::Monitoring,
                Some((site.code(py), code_info)),
            )
        }
        .map_err(|e| (e, handler.clone_ref(py), None))?;
        let event = EventRef::new(&data);
        let _handling = HandledFrame::enter(&frame);
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
        // SAFETY: attached (`py`); `object` is NULL or the live Tracer `tracer` refers to, of which the thread state
        // takes a new reference. Releasing the one it held (its `__del__`) and the `sys.settrace` audit hook can run
        // Python code: see the callers.
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
            if let Some(put_back) = this.threads.stop().and_then(|session| running_tracer_of_session(py, session)) {
                put_back.get().note_put_back(py);
            }
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
                    previous.get().note_put_back(py);
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

    /// Another tracer takes this one's place on the current thread.
    fn note_replaced(&self, py: Python<'_>) {
        self.replaced_at.set(py, Some((self.depth.get(py), running_frame_count(py))));
    }

    /// Put back in place on the current thread: `depth` follows the frames that began or ended meanwhile.
    fn note_put_back(&self, py: Python<'_>) {
        if let Some((depth, frames)) = self.replaced_at.replace(py, None) {
            self.depth.set(py, (depth + running_frame_count(py) - frames).max(0));
        }
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
            replaced_at: GilCell::new(None),
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
        EXITING.store(false, Ordering::Relaxed);
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
            let replaced = this.threads.start(py, this.generation.get(py));
            match monitoring::start(slf) {
                Ok(()) => {
                    if let Some(replaced) = running_tracer_of_session(py, replaced) {
                        replaced.get().note_replaced(py);
                    }
                    remember_running(py, slf);
                    return Ok(slf.clone());
                }
                Err(error) if this.backend_is_auto && error.is_instance_of::<monitoring::NoFreeToolId>(py) => {
                    this.threads.stop();
                    this.backend.set(py, Backend::Settrace);
                }
                Err(error) => {
                    this.threads.stop();
                    this.handler.replace(py, None);
                    return Err(error);
                }
            }
        }
        let previous = crate::compat::import(py, "sys")?.getattr(get_name)?.call0()?;
        if let Ok(previous) = previous.cast::<Tracer>() {
            previous.get().note_replaced(py);
        }
        this.previous.replace(py, (!previous.is_none()).then(|| previous.unbind()));
        this.install(py, Some(slf));
        remember_running(py, slf);
        Ok(slf.clone())
    }

    fn stop(slf: &Bound<'_, Self>) -> PyResult<()> {
        Tracer::stop_tracing(slf)
    }

    /// The Python-level entry (`sys.settrace(tracer)`, new threads via `threading.settrace`, a frame's `f_trace`):
    /// handles the event, and on a `call` switches this thread to the C trace function (settrace backend), or
    /// admits the thread to the monitoring backend's callbacks and removes the Python-level hook again.
    #[pyo3(signature = (frame, kind, arg))]
    fn __call__<'py>(
        slf: &Bound<'py, Self>,
        frame: &Bound<'py, PyAny>,
        kind: &Bound<'py, PyString>,
        arg: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, Self>>> {
        let py = slf.py();
        // Held: `slf` is borrowed from CPython's caller, and the handler may stop this tracer.
        let slf = &slf.clone();
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
            let Some(_running) = RunningPython::enter() else {
                return Ok(None);
            };
            // CPython runs monitoring tools from the highest id down, so the settrace trampoline (id 7) calls
            // us before our own callback sees this very event: admitting the thread is enough.
            this.threads.admit_current_thread();
            // SAFETY: `frame` was checked to be a frame object above; CPython runs it for the duration of this call, on
            // this thread.
            unsafe { Tracer::judge_running_frames(slf, frame.as_ptr().cast())? };
            let (_, set_name, _) = this.hook_names();
            crate::compat::import(py, "sys")?.getattr(set_name)?.call1((py.None(),))?;
            return Ok(None);
        }
        // Only a `call` comes from the global hook (`sys.settrace(tracer)`, a new thread): other events come
        // through a frame's `f_trace`, which we set, after another tool's `sys.settrace` (pdb's) took the thread
        // over, and must not take it back (as hunter's Cython `__call__`).
        if what == ffi::PyTrace_CALL {
            this.install(py, Some(slf));
        }
        // SAFETY: `frame` was checked to be a frame; CPython runs it for the duration of this call.
        let handled = unsafe { Tracer::on_trace_event(slf.as_borrowed(), frame.as_ptr().cast(), what, arg.as_ptr()) };
        if handled == Handled::Raise {
            return Err(PyErr::fetch(py));
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
