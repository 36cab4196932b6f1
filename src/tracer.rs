//! The `Tracer` Python class (`hunter.tracer.Tracer`): `trace()` starts tracing with one of the two backends
//! (`settrace.rs` on every Python, `monitoring.rs` on 3.12+), `stop()` ends it and puts back what it replaced.
//! Both backends hand its events to the engine (`engine.rs`), of which the class is the [`Host`].

use pyo3::exceptions::PyValueError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::pyclass::{PyTraverseError, PyVisit};
use pyo3::types::PyString;

use crate::engine::{self, Engine, Host, RunningPython};
use crate::gilcell::{GilCell, GilRefCell};
use crate::hook::{Backend, Handled};
use crate::monitoring::{self, Monitored, Session};
use crate::settrace;
use crate::verdict::Verdict;

/// Every tracer between `trace()` and `stop()`, so that all can be stopped before the interpreter shuts down.
static RUNNING_TRACERS: GilCell<Vec<Py<Tracer>>> = GilCell::new(Vec::new());

fn remember_running(py: Python<'_>, tracer: &Bound<'_, Tracer>) {
    let mut running = RUNNING_TRACERS.replace(py, Vec::new());
    running.push(tracer.clone().unbind());
    RUNNING_TRACERS.replace(py, running);
}

/// The running tracers, each a new strong reference.
fn running_tracers(py: Python<'_>) -> Vec<Py<Tracer>> {
    let running = RUNNING_TRACERS.replace(py, Vec::new());
    let copied = running.iter().map(|tracer| tracer.clone_ref(py)).collect();
    RUNNING_TRACERS.replace(py, running);
    copied
}

/// The running monitoring tracer of `session` (its generation), if any.
fn running_tracer_of_session(py: Python<'_>, session: u64) -> Option<Py<Tracer>> {
    running_tracers(py).into_iter().find(|tracer| tracer.get().engine.generation.get(py) == session)
}

fn forget_running(py: Python<'_>, tracer: &Bound<'_, Tracer>) {
    let mut running = RUNNING_TRACERS.replace(py, Vec::new());
    running.retain(|other| !other.is(tracer));
    let leftovers = RUNNING_TRACERS.replace(py, running);
    drop(leftovers);
}

/// Tracers stopped too near the recursion limit to tell their actions (see [`Tracer::tell_stopped`]), each with the
/// handler whose actions are to be told: told at the tracer's next `stop()` or `trace()`, or at exit.
static UNTOLD_STOPS: GilRefCell<Vec<(Py<Tracer>, Py<PyAny>)>> = GilRefCell::new(Vec::new());

/// How many frames of room a stop leaves its actions: `_tracer_stopped()` runs Python code (a Timeline's `write`, a
/// Profile's table). With less (a handler that failed at the recursion limit stops its tracer there), they are told
/// later.
const STOP_NOTICE_FRAMES: i64 = 100;

/// Whether the current thread is too near the recursion limit to tell the actions of a stop.
fn near_recursion_limit(py: Python<'_>) -> bool {
    // Not even read (at the limit before 3.12, where calls from C count towards it): no room at all.
    let limit = crate::compat::import(py, "sys")
        .and_then(|sys| sys.getattr("getrecursionlimit")?.call0()?.extract::<i64>())
        .unwrap_or(0);
    engine::running_frame_count(py).saturating_add(STOP_NOTICE_FRAMES) > limit
}

/// Tells the actions of the stops left untold of `tracer` (None: of every tracer), where there is room now.
fn tell_untold_stops(py: Python<'_>, tracer: Option<&Bound<'_, Tracer>>) -> PyResult<()> {
    let nothing_untold = UNTOLD_STOPS.with_mut(py, |untold| untold.is_empty()) && !crate::failure::has_unsaid(py);
    if nothing_untold || near_recursion_limit(py) {
        return Ok(());
    }
    crate::failure::say_unsaid(py)?;
    // The others' stay; none is released in the update (they are moved).
    let told = UNTOLD_STOPS.with_mut(py, |untold| {
        let (told, kept): (Vec<_>, Vec<_>) =
            std::mem::take(untold).into_iter().partition(|(stopped, _)| tracer.is_none_or(|tracer| stopped.is(tracer)));
        *untold = kept;
        told
    });
    let running = running_handlers(py);
    told.into_iter().try_for_each(|(_, handler)| {
        crate::actions::notify_tracer_stopped(handler.bind(py), &running, crate::failure::report_at_stop)
    })
}

/// The handlers of the running tracers (see `actions::notify_tracer_stopped`).
fn running_handlers(py: Python<'_>) -> Vec<Py<PyAny>> {
    running_tracers(py).iter().filter_map(|tracer| tracer.get().engine.handler.clone_ref(py)).collect()
}

/// Stops every running tracer; returns how many there were. Called at exit (see `hunter._stop_tracers_at_exit`):
/// before 3.14 CPython ends daemon threads during finalization by unwinding their stacks (`pthread_exit`, when
/// they wait for the GIL), which must never happen while they are inside a callback: its frames would catch the
/// forced unwind or release Python objects without the GIL. Stopping the tracers is not enough, as a thread may
/// be in the middle of an action (a write that released the GIL). So from here on callbacks run no Python
/// code (until a new `trace()`), and the threads inside one get the GIL until they have left it.
#[pyfunction]
pub fn _stop_all_tracers(py: Python<'_>) -> PyResult<usize> {
    // A subclass's own `stop()` first (hunter's exit hook calls `tracer.stop()`), while Python code may still run; a
    // failing one is reported, and the tracer is stopped below all the same.
    for tracer in running_tracers(py) {
        if let Some(Err(error)) = Tracer::call_own_stop(tracer.bind(py)) {
            crate::failure::say_quietly(py, &format!("hunter: stopping a tracer at exit failed ({error})\n"));
        }
    }
    engine::exit_begins();
    let running = RUNNING_TRACERS.replace(py, Vec::new());
    let count = running.len();
    let stopped = running.iter().try_for_each(|tracer| Tracer::stop_tracing(tracer.bind(py)));
    let stopped = stopped.and(tell_untold_stops(py, None));
    engine::wait_for_callbacks_to_return(py);
    stopped.map(|()| count)
}

/// The tracer: once ``trace(predicate)`` is called, calls ``predicate`` with an :class:`~hunter.event.Event`
/// for each event of the traced threads, until ``stop()``. ``hunter.trace()`` creates one and starts it.
///
/// Args:
///     threading_support: whether threads started after ``trace()`` are traced too: ``True``, ``False`` (only
///         the current thread), or ``None`` (the default: they are, and printers show thread names once a
///         second thread is seen).
///     profiling_mode: trace like a profiler (``sys.setprofile``): ``call`` and ``return`` events, those
///         of C functions included (``builtin=True``, with their exceptions), and no ``line`` events.
///     backend: ``'monitoring'`` (``sys.monitoring``, Python 3.12+), ``'settrace'`` (a C-level trace
///         function, as in hunter), or ``'auto'`` (monitoring where available); ``None`` takes the
///         ``PYTHONHUNTERBACKEND`` environment variable, else ``'auto'``. Not in hunter 3.9.0.
///
/// A tracer is a context manager that stops it on exit. Example::
///
///     with Tracer().trace(Q(module='myapp', action=CallPrinter)):
///         run()
#[pyclass(module = "hunter.tracer", name = "Tracer", frozen, subclass, weakref)]
pub struct Tracer {
    engine: Engine,
    /// While another tracer replaces this one on a thread (a nested `trace()`): `depth` and the thread's frame
    /// count then, so that, put back, it counts the frames that began or ended meanwhile, which it never saw.
    replaced_at: GilCell<Option<(i64, i64)>>,
    previous: GilCell<Option<Py<PyAny>>>,
    threading_previous: GilCell<Option<Py<PyAny>>>,
    /// `trace()` found a C-level trace function (coverage.py's) on its thread, and a threading hook (coverage's,
    /// which installs that on new threads): new threads run the hook first, so that we chain to what it installs.
    new_threads_run_threading_previous: GilCell<bool>,
    /// `backend="auto"`: fall back to settrace when sys.monitoring has no free tool id.
    backend_is_auto: GilCell<bool>,
    /// The monitoring backend's state (a tool id while tracing with it).
    session: Session,
}

impl Host for Tracer {
    #[inline(always)]
    fn engine(&self) -> &Engine {
        &self.engine
    }

    fn stop_tracing(slf: &Bound<'_, Self>) -> PyResult<()> {
        // A subclass's own `stop()` runs (as hunter's pure tracer calls `self.stop()` when its handler fails); the
        // tracer stops whatever it does.
        match Tracer::call_own_stop(slf) {
            Some(stopped_by_class) => Tracer::stop_tracing(slf).and(stopped_by_class),
            None => Tracer::stop_tracing(slf),
        }
    }

    fn release_current_thread(slf: &Bound<'_, Self>) {
        let this = slf.get();
        if this.session.tool_id.get(slf.py()).is_some() {
            this.session.threads.dismiss_current_thread();
        } else {
            settrace::uninstall(slf.py(), this.engine.profiling_mode.get(slf.py()));
        }
    }

    fn code_judged(slf: &Bound<'_, Self>, verdicts: &[Verdict; 4]) -> PyResult<()> {
        monitoring::switch_on_needed_events(slf.py(), &slf.get().session, verdicts)
    }

    fn code_shared(slf: &Bound<'_, Self>) -> PyResult<()> {
        monitoring::switch_disabled_locations_back_on(slf.py(), &slf.get().session)
    }
}

impl Monitored for Tracer {
    #[inline(always)]
    fn session(&self) -> &Session {
        &self.session
    }
}

impl Tracer {
    /// The constructor's arguments: `threading_support` and `profiling_mode` taken for their truth, as hunter tests
    /// them (`profile=1` is profile mode), and the backend with whether it was chosen by `'auto'`.
    fn options(
        py: Python<'_>,
        threading_support: Option<&Bound<'_, PyAny>>,
        profiling_mode: Option<&Bound<'_, PyAny>>,
        backend: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<(Option<bool>, bool, (Backend, bool))> {
        let backend =
            crate::arguments::optional_str("backend", backend)?.map(|backend| backend.to_str()).transpose()?;
        let threading_support = crate::arguments::optional_truth(threading_support)?;
        let profiling_mode = profiling_mode.map_or(Ok(false), |value| value.is_truthy())?;
        Ok((threading_support, profiling_mode, Backend::choose(py, backend)?))
    }

    /// Whether the tracer's class is a Python subclass that defines `__call__`: CPython must then call that, which
    /// only a Python-level trace function (`sys.settrace(tracer)`, as hunter's pure tracer installs every tracer)
    /// does, on the settrace backend.
    fn overrides_call(slf: &Bound<'_, Tracer>) -> bool {
        !crate::actions::inherits_native_call::<Tracer>(slf.as_any())
    }

    /// Calls a subclass's own `stop()` (Python code); None when the tracer's class has the native one.
    fn call_own_stop(slf: &Bound<'_, Tracer>) -> Option<PyResult<()>> {
        let py = slf.py();
        let stop = pyo3::intern!(py, "stop");
        let class = slf.get_type();
        let native = py.get_type::<Tracer>();
        let own = !class.is(&native)
            && match (class.getattr(stop), native.getattr(stop)) {
                (Ok(found), Ok(native_stop)) => !found.is(&native_stop),
                _ => true,
            };
        own.then(|| slf.call_method0(stop).map(drop))
    }

    /// `stop()` as the tracer's class defines it: a subclass's own, else the native one.
    fn stop_as_its_class_does(slf: &Bound<'_, Tracer>) -> PyResult<()> {
        Tracer::call_own_stop(slf).unwrap_or_else(|| Tracer::stop_tracing(slf))
    }

    fn install(slf: &Bound<'_, Tracer>) -> PyResult<()> {
        let py = slf.py();
        if Tracer::overrides_call(slf) {
            let (_, set_name, _) = slf.get().hook_names(py);
            crate::compat::import(py, "sys")?.getattr(set_name)?.call1((slf,))?;
            return Ok(());
        }
        settrace::install(py, slf, true)
    }

    /// On a thread new to this tracer, with `new_threads_run_threading_previous`: runs the threading hook we
    /// replaced for this first event, as the thread would have (coverage's installs its tracer on the thread).
    fn run_threading_previous_on_new_thread(
        &self,
        py: Python<'_>,
        frame: &Bound<'_, PyAny>,
        kind: &Bound<'_, PyString>,
        arg: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        if !self.new_threads_run_threading_previous.get(py) || !settrace::first_seen_thread() {
            return Ok(());
        }
        if let Some(hook) = self.threading_previous.clone_ref(py) {
            hook.bind(py).call1((frame, kind, arg))?;
        }
        Ok(())
    }

    fn hook_names(&self, py: Python<'_>) -> (&'static str, &'static str, &'static str) {
        if self.engine.profiling_mode.get(py) {
            ("getprofile", "setprofile", "_profile_hook")
        } else {
            ("gettrace", "settrace", "_trace_hook")
        }
    }

    pub fn stop_tracing(slf: &Bound<'_, Tracer>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        let Some(handler) = this.engine.take_handler(py) else {
            // A start that another thread's stop overtook (taking the handler before the start had claimed its tool
            // id) leaves that session behind: it is let go here.
            if this.session.tool_id.get(py).is_some() {
                Tracer::uninstall(slf)?;
            }
            return tell_untold_stops(py, Some(slf));
        };
        forget_running(py, slf);
        let uninstalled = Tracer::uninstall(slf);
        // Told whether or not uninstalling failed (at the recursion limit before 3.12, where calls from C count
        // towards it): the handler is gone, and so is the session, for its actions.
        let told = Tracer::tell_stopped(slf, handler);
        uninstalled.and(told)
    }

    /// Takes the tracer's hooks out (the handler taken already): what `stop_tracing` undoes of `trace()`.
    fn uninstall(slf: &Bound<'_, Tracer>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        let (get_name, set_name, _) = this.hook_names(py);
        if this.session.tool_id.get(py).is_some() {
            if let Some(put_back) =
                this.session.threads.stop().and_then(|session| running_tracer_of_session(py, session))
            {
                put_back.get().note_put_back(py);
            }
            monitoring::stop(py, &this.session)?;
            this.put_back_settrace_tracer(py, get_name)?;
        } else {
            if !this.engine.profiling_mode.get(py) {
                settrace::release_frame_traces(slf.as_any())?;
            }
            this.restore_previous(slf, get_name, set_name)?;
            // The monitoring tracer this one replaced on this thread, if none took its place since.
            if let Some(put_back) =
                this.session.threads.stop().and_then(|session| running_tracer_of_session(py, session))
            {
                put_back.get().note_put_back(py);
            }
        }
        this.restore_thread_hook(py, set_name, None)
    }

    /// Tells the actions `handler` reaches that its tracer `slf` stopped (`_tracer_stopped()`); later, when the thread
    /// is too near the recursion limit for the Python code they run (see [`tell_untold_stops`]).
    fn tell_stopped(slf: &Bound<'_, Tracer>, handler: Py<PyAny>) -> PyResult<()> {
        let py = slf.py();
        if near_recursion_limit(py) {
            UNTOLD_STOPS.with_mut(py, |untold| untold.push((slf.clone().unbind(), handler)));
            return Ok(());
        }
        crate::actions::notify_tracer_stopped(handler.bind(py), &running_handlers(py), crate::failure::report_at_stop)
    }

    /// settrace backend: puts back the trace function found at `trace()`, if we are still the installed one.
    fn restore_previous(&self, slf: &Bound<'_, Tracer>, get_name: &str, set_name: &str) -> PyResult<()> {
        let py = slf.py();
        let sys = crate::compat::import(py, "sys")?;
        let previous = self.previous.replace(py, None);
        if sys.getattr(get_name)?.call0()?.is(slf) {
            match previous.as_ref().map(|p| p.bind(py)) {
                Some(previous) if previous.is_instance_of::<Tracer>() => {
                    let previous = previous.cast::<Tracer>()?;
                    previous.get().note_put_back(py);
                    Tracer::install(previous)?;
                }
                // The C-level tracer we chained to: put back exactly (`sys.settrace` would put it behind the
                // Python-level trampoline, which hands running frames to their `f_trace`, ours).
                Some(previous) if !self.engine.profiling_mode.get(py) && settrace::is_chained_object(previous) => {
                    settrace::uninstall(py, false)
                }
                Some(previous) => {
                    sys.getattr(set_name)?.call1((previous,))?;
                }
                None => settrace::uninstall(py, self.engine.profiling_mode.get(py)),
            }
        }
        Ok(())
    }

    /// The hooks of a session just started (`trace()`): the threading hook, then the monitoring tool or the thread's
    /// trace function.
    fn install_for_session(slf: &Bound<'_, Tracer>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        let (get_name, set_name, hook_name) = this.hook_names(py);
        // Thread hooks first: importing `threading` must not itself be traced.
        let mut runs_threading_previous = false;
        if this.traces_new_threads(py) {
            let threading = crate::compat::import(py, "threading")?;
            let hook = threading.getattr(hook_name).ok().filter(|h| !h.is_none());
            runs_threading_previous = hook.is_some();
            this.threading_previous.replace(py, hook.map(Bound::unbind));
            threading.getattr(set_name)?.call1((slf,))?;
        }
        settrace::note_known_thread();
        runs_threading_previous = runs_threading_previous
            && !this.engine.profiling_mode.get(py)
            && settrace::c_level_tracer_on_this_thread::<Tracer>(py)?;
        this.new_threads_run_threading_previous.set(py, runs_threading_previous);
        if this.engine.backend.get(py) == Backend::Monitoring && Tracer::overrides_call(slf) {
            this.engine.backend.set(py, Backend::Settrace);
        }
        if this.engine.backend.get(py) == Backend::Monitoring {
            let replaced = this.session.threads.start(py, this.engine.generation.get(py));
            match monitoring::start(slf) {
                Ok(()) => {
                    if let Some(replaced) = running_tracer_of_session(py, replaced) {
                        replaced.get().note_replaced(py);
                    }
                    this.replace_settrace_tracer(slf, get_name)?;
                    remember_running(py, slf);
                    return Ok(());
                }
                Err(error) if this.backend_is_auto.get(py) && error.is_instance_of::<monitoring::NoFreeToolId>(py) => {
                    this.session.threads.stop();
                    this.engine.backend.set(py, Backend::Settrace);
                }
                Err(error) => {
                    this.session.threads.stop();
                    return Err(error);
                }
            }
        }
        let previous = crate::compat::import(py, "sys")?.getattr(get_name)?.call0()?;
        if let Ok(previous) = previous.cast::<Tracer>() {
            previous.get().note_replaced(py);
        }
        this.previous.replace(py, (!previous.is_none()).then(|| previous.unbind()));
        // A monitoring tracer installed on this thread stops seeing it until this one stops, as a settrace tracer
        // replaces another there (session 0: none of the monitoring backend's).
        if let Some(replaced) = running_tracer_of_session(py, this.session.threads.start(py, 0)) {
            replaced.get().note_replaced(py);
        }
        Tracer::install(slf)?;
        remember_running(py, slf);
        Ok(())
    }

    /// Monitoring backend, at `trace()`: a settrace tracer installed on this thread (of this tracer's kind of hook,
    /// `get_name`) stops seeing it until this one stops, as a settrace tracer replaces another there. It is then
    /// `previous`, put back by [`Tracer::put_back_settrace_tracer`].
    fn replace_settrace_tracer(&self, slf: &Bound<'_, Tracer>, get_name: &str) -> PyResult<()> {
        let py = slf.py();
        let found = crate::compat::import(py, "sys")?.getattr(get_name)?.call0()?;
        let Ok(found) = found.cast::<Tracer>() else { return Ok(()) };
        // Not a monitoring tracer's hook that admits a thread (it removes itself).
        if found.is(slf) || found.get().session.tool_id.get(py).is_some() {
            return Ok(());
        }
        found.get().note_replaced(py);
        settrace::uninstall(py, self.engine.profiling_mode.get(py));
        self.previous.replace(py, Some(found.clone().into_any().unbind()));
        Ok(())
    }

    /// Monitoring backend, at `stop()`: puts back on this thread the settrace tracer `trace()` replaced there, if it
    /// still runs and no other hook took its place.
    fn put_back_settrace_tracer(&self, py: Python<'_>, get_name: &str) -> PyResult<()> {
        let Some(previous) = self.previous.replace(py, None) else { return Ok(()) };
        let previous = previous.into_bound(py);
        let Ok(previous) = previous.cast::<Tracer>() else { return Ok(()) };
        if previous.get().engine.is_stopped(py)
            || !crate::compat::import(py, "sys")?.getattr(get_name)?.call0()?.is_none()
        {
            return Ok(());
        }
        previous.get().note_put_back(py);
        Tracer::install(previous)
    }

    /// Puts back the threading hook found at `trace()`, if `only_over` (when given) is the one installed now.
    fn restore_thread_hook(
        &self,
        py: Python<'_>,
        set_name: &str,
        only_over: Option<&Bound<'_, Tracer>>,
    ) -> PyResult<()> {
        if !self.traces_new_threads(py) {
            return Ok(());
        }
        let threading_previous = self.threading_previous.replace(py, None);
        let threading = crate::compat::import(py, "threading")?;
        let (_, _, hook_name) = self.hook_names(py);
        if let Some(tracer) = only_over {
            if !threading.getattr(hook_name)?.is(tracer) {
                return Ok(());
            }
        }
        match threading.getattr(set_name)?.call1((&threading_previous,)) {
            // At the recursion limit (a handler that failed there stops its tracer), `threading.settrace`, a Python
            // function, cannot run: the hook it sets is set as it sets it.
            Err(error) if error.is_instance_of::<pyo3::exceptions::PyRecursionError>(py) => {
                threading.setattr(hook_name, threading_previous)
            }
            called => called.map(drop),
        }
    }

    /// Another tracer takes this one's place on the current thread.
    fn note_replaced(&self, py: Python<'_>) {
        self.replaced_at.set(py, Some((self.engine.depth.get(py), engine::running_frame_count(py))));
    }

    /// Put back in place on the current thread: `depth` follows the frames that began or ended meanwhile.
    fn note_put_back(&self, py: Python<'_>) {
        if let Some((depth, frames)) = self.replaced_at.replace(py, None) {
            self.engine.depth.set(py, (depth + engine::running_frame_count(py) - frames).max(0));
        }
    }

    fn traces_new_threads(&self, py: Python<'_>) -> bool {
        self.engine.threading_support.get(py) != Some(false)
    }
}

#[pymethods]
impl Tracer {
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        // SAFETY: called from `__traverse__` (the collector holds the GIL); these cells are only replaced.
        unsafe {
            self.engine.traverse(&visit)?;
            visit.call(self.previous.during_gc())?;
            visit.call(self.threading_previous.during_gc())
        }
    }

    /// Only a tracer that is not installed can be garbage (an installed one is referenced by the interpreter).
    fn __clear__(&self, py: Python<'_>) {
        let released =
            [self.engine.take_handler(py), self.previous.replace(py, None), self.threading_previous.replace(py, None)];
        drop(released);
    }

    #[new]
    #[pyo3(
        signature = (threading_support=None, profiling_mode=None, backend=None),
        text_signature = "(threading_support=None, profiling_mode=False, backend=None)"
    )]
    fn new(
        py: Python<'_>,
        threading_support: Option<&Bound<'_, PyAny>>,
        profiling_mode: Option<&Bound<'_, PyAny>>,
        backend: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let (threading_support, profiling_mode, (backend, backend_is_auto)) =
            Tracer::options(py, threading_support, profiling_mode, backend)?;
        Ok(Tracer {
            engine: Engine::new(threading_support, profiling_mode, backend),
            replaced_at: GilCell::new(None),
            previous: GilCell::new(None),
            threading_previous: GilCell::new(None),
            new_threads_run_threading_previous: GilCell::new(false),
            backend_is_auto: GilCell::new(backend_is_auto),
            session: Session::default(),
        })
    }

    /// Sets the options again, as ``__init__`` does for hunter's pure ``Tracer``: what a subclass's own ``__init__``
    /// reaches with ``super().__init__(...)`` (the class made the tracer with the defaults, see
    /// ``constructors::name_as_init``). Only before the first ``trace()``: the hooks a tracer installed are of the
    /// mode it had then.
    #[pyo3(signature = (threading_support=None, profiling_mode=None, backend=None))]
    fn __init__(
        slf: &Bound<'_, Self>,
        threading_support: Option<&Bound<'_, PyAny>>,
        profiling_mode: Option<&Bound<'_, PyAny>>,
        backend: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        let (threading_support, profiling_mode, (backend, backend_is_auto)) =
            Tracer::options(py, threading_support, profiling_mode, backend)?;
        if this.engine.generation.get(py) != 0 {
            return Err(pyo3::exceptions::PyRuntimeError::new_err(
                "hunter: a Tracer's options cannot change once it has traced; make a new Tracer",
            ));
        }
        this.engine.threading_support.set(py, threading_support);
        this.engine.profiling_mode.set(py, profiling_mode);
        this.engine.backend.set(py, backend);
        this.backend_is_auto.set(py, backend_is_auto);
        Ok(())
    }

    /// Starts tracing: ``predicate`` (any callable) is called with each event. The tracer installed before
    /// (``sys.gettrace()``) is remembered as ``previous`` and put back by ``stop()``.
    ///
    /// Args:
    ///     predicate: the handler, usually a :class:`~hunter.predicates.When` built by ``hunter.Q``.
    ///
    /// Returns the tracer itself, so ``with Tracer().trace(handler):`` works.
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
        // The Python modules events use, imported now rather than by the first event that needs them, on whichever
        // thread: a fork while that import let the GIL go left the child waiting for the module's lock for ever.
        crate::codeinfo::import_event_modules(py)?;
        let (_, set_name, _) = this.hook_names(py);
        this.engine.start(py, predicate);
        match Tracer::install_for_session(slf) {
            // Stopped by another thread while it started: what the start installed goes too.
            Ok(()) if this.engine.is_stopped(py) => Tracer::stop_tracing(slf).map(|()| slf.clone()),
            Ok(()) => Ok(slf.clone()),
            Err(error) => {
                // Nothing of a failed start stays: a threading hook left on the failed tracer (which holds the one
                // before it) made, over many failed starts, a chain whose release overflowed the C stack.
                drop(this.engine.take_handler(py));
                drop(this.previous.replace(py, None));
                this.restore_thread_hook(py, set_name, Some(slf))?;
                Err(error)
            }
        }
    }

    /// Stops tracing and restores the tracer that was installed before ``trace()``. Stopping a stopped
    /// tracer does nothing.
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
        if this.engine.is_stopped(py) {
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
        if this.session.tool_id.get(py).is_some() {
            let Some(_running) = RunningPython::enter() else {
                return Ok(None);
            };
            // CPython runs monitoring tools from the highest id down, so the settrace trampoline (id 7) calls
            // us before our own callback sees this very event: admitting the thread is enough.
            this.session.threads.admit_current_thread();
            // SAFETY: `frame` was checked to be a frame object above; CPython runs it for the duration of this call, on
            // this thread.
            unsafe { monitoring::judge_running_frames(slf, frame.as_ptr().cast())? };
            // The Python-level hook is removed where it is ours (called by hand, the thread's may be another tool's).
            let (get_name, set_name, _) = this.hook_names(py);
            let sys = crate::compat::import(py, "sys")?;
            if sys.getattr(get_name)?.call0()?.is(slf) {
                sys.getattr(set_name)?.call1((py.None(),))?;
            }
            this.run_threading_previous_on_new_thread(py, frame, kind, arg)?;
            return Ok(None);
        }
        // Only a `call` comes from the global hook (`sys.settrace(tracer)`, a new thread), which is then this tracer:
        // other events come through a frame's `f_trace`, which we set, after another tool's `sys.settrace` (pdb's)
        // took the thread over, and must not take it back (as hunter's Cython `__call__`); a call by hand installs
        // nothing either (as hunter's pure `__call__`).
        // A `__call__` of a subclass's own that calls this one stays the trace function, and decides the frame's
        // local trace function by what it returns, as with hunter's pure tracer (None at a `call`: that frame's lines
        // are not traced).
        let own_call = Tracer::overrides_call(slf);
        let installs = what == ffi::PyTrace_CALL
            && !own_call
            && crate::compat::import(py, "sys")?.getattr(this.hook_names(py).0)?.call0()?.is(slf);
        if installs {
            this.run_threading_previous_on_new_thread(py, frame, kind, arg)?;
        }
        let claims_frame_trace = !own_call;
        // SAFETY: `frame` was checked to be a frame; CPython runs it for the duration of this call.
        let handled = unsafe {
            settrace::on_trace_event(slf.as_borrowed(), frame.as_ptr().cast(), what, arg.as_ptr(), claims_frame_trace)
        };
        if handled == Handled::Raise {
            return Err(PyErr::fetch(py));
        }
        if this.engine.is_stopped(py) {
            return Ok(None);
        }
        // Installed once the event is handled: called by hand (outside of a trace function), the handler's own
        // frames would be traced otherwise.
        if installs {
            Tracer::install(slf)?;
        }
        Ok(Some(slf.clone()))
    }

    /// Returns the tracer (``with tracer.trace(handler):`` traces the block).
    fn __enter__<'py>(slf: &Bound<'py, Self>) -> Bound<'py, Self> {
        slf.clone()
    }

    /// Stops tracing (see ``stop()``) at the end of a ``with`` block.
    #[pyo3(signature = (*_exc_info), text_signature = "($self, exc_type, exc_val, exc_tb)")]
    fn __exit__(slf: &Bound<'_, Self>, _exc_info: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<()> {
        Tracer::stop_as_its_class_does(slf)
    }

    /// The predicate given to ``trace()``, or ``None`` when stopped.
    #[getter]
    fn handler(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.engine.handler.clone_ref(py)
    }
    /// The trace function that was installed when ``trace()`` was called (``stop()`` puts it back).
    #[getter]
    fn previous(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.previous.clone_ref(py)
    }
    /// The ``threading.settrace`` hook that was installed when ``trace()`` was called.
    #[getter]
    fn _threading_previous(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.threading_previous.clone_ref(py)
    }
    /// The ``threading_support`` option: True, False or None.
    #[getter]
    fn threading_support(&self, py: Python<'_>) -> Option<bool> {
        self.engine.threading_support.get(py)
    }
    /// Whether this tracer traces in profiling mode.
    #[getter]
    fn profiling_mode(&self, py: Python<'_>) -> bool {
        self.engine.profiling_mode.get(py)
    }
    /// ``'monitoring'`` or ``'settrace'``: the backend this tracer uses (or will use, before ``trace()``).
    #[getter]
    fn backend(&self, py: Python<'_>) -> &'static str {
        self.engine.backend.get(py).name()
    }
    /// The current call depth (the ``depth`` of the next event).
    #[getter]
    fn depth(&self, py: Python<'_>) -> i64 {
        self.engine.depth.get(py)
    }
    /// How many calls this tracer has seen.
    #[getter]
    fn calls(&self, py: Python<'_>) -> i64 {
        self.engine.calls.get(py)
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let py = slf.py();
        let this = slf.get();
        let threading_support = match this.engine.threading_support.get(py) {
            None => "None",
            Some(true) => "True",
            Some(false) => "False",
        };
        let state = match this.engine.handler.clone_ref(py) {
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
