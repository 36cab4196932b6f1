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
//! `exception` (RAISE) or `return` (PY_UNWIND, always on when the handler counts calls) is effectful. LINE and
//! JUMP are switched on the same way, once some code's `line` verdict is effectful: a handler that never needs
//! lines (a query of calls only, a Timeline) leaves the program's code free of line instrumentation.
//! Every code object reports a local event (PY_START, PY_RESUME, LINE...) before it can raise, except
//! frames already running when tracing starts or their thread is admitted, which are judged then, and
//! generators thrown into, whose PY_THROW stays switched on for that reason.
//!
//! Monitoring is process-wide, while settrace is per thread: events of threads that settrace would not
//! trace are dropped by `TracedThreads`.
//!
//! Files, each using only those above it: `threads.rs` (which threads a tracer delivers), `session.rs` (a tracer's
//! monitoring state and the `Monitored` trait), `callable.rs` (the objects registered, called by CPython directly),
//! `callbacks.rs` (the callbacks), and this file: registering the callbacks (which event, which callback, when
//! switched on), tool ids, start and stop.

mod callable;
mod callbacks;
mod session;
mod threads;

use pyo3::exceptions::PyRuntimeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyFrame;

use crate::compat;
use crate::engine;
use crate::event::Kind;
use crate::hook::EventSite;
use crate::predicates;
use crate::verdict::Verdict;
use callbacks::Callback;
use session::{monitoring_namespace, EventSwitches};
pub(crate) use session::{switch_on_needed_events, Monitored, Session};

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

/// When a registered event is switched on.
#[derive(Clone, Copy)]
enum Switch {
    /// For the whole session.
    Always,
    /// Never by itself: C_RETURN/C_RAISE are ancillary events, which follow CALL.
    Ancillary,
    /// Once some code's verdict for this kind is effectful (or from the start, for a kind that is counted
    /// when the handler counts calls): events that cannot be disabled per location, and line events, which
    /// many handlers never need (a line-instrumented instruction is not specialised, even once disabled).
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
    ("LINE", Callback::Line, Switch::OnDemand(Kind::Line)),
    ("JUMP", Callback::Jump, Switch::OnDemand(Kind::Line)),
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

/// Claims a tool id (recorded in the session), registers the callbacks bound to `tracer` and switches the
/// events on. Disabled locations of earlier runs are re-enabled first (`restart_events`): a new handler
/// judges code anew, starting with the frames running now.
pub(crate) fn start<H: Monitored>(tracer: &Bound<'_, H>) -> PyResult<()> {
    let py = tracer.py();
    let monitoring = monitoring_namespace(py)?;
    callbacks::remember_sentinels(&monitoring)?;
    let tool_id = claim_tool_id(&monitoring)?;
    let engine = tracer.get().engine();
    let session = tracer.get().session();
    let callbacks = if engine.profiling_mode.get(py) { &PROFILE_CALLBACKS[..] } else { &TRACE_CALLBACKS[..] };
    let counting = engine.counting.get(py);
    let registered = (|| -> PyResult<()> {
        let events = monitoring.getattr("events")?;
        let mut switches = EventSwitches::default();
        for (name, callback, switch) in callbacks {
            let event: u32 = events.getattr(*name)?.extract()?;
            let callable = callable::new_callback(callback.function::<H>(), tracer.as_any())?;
            monitoring.call_method1("register_callback", (tool_id, event, callable))?;
            match *switch {
                Switch::Always => switches.active |= event,
                Switch::OnDemand(kind) if counting && kind.counts_frames() => switches.active |= event,
                Switch::OnDemand(kind) => switches.on_demand[kind as usize] |= event,
                Switch::Ancillary => {}
            }
        }
        session.event_switches.set(py, switches);
        // Registering can run Python code (an audit hook, the collector's finalizers), where another thread may start
        // this tracer too: the last start wins, and the id the other one claimed is let go (else it stays claimed,
        // its callbacks on, for the rest of the process).
        if let Some(replaced) = session.tool_id.replace(py, Some(tool_id)) {
            release_tool_id(&monitoring, replaced)?;
        }
        monitoring.call_method0("restart_events")?;
        monitoring.call_method1("set_events", (tool_id, switches.active))?;
        // No code is judged when every event is recorded: what some code would switch on is needed now.
        if engine.records_everything(py) {
            switch_on_needed_events(py, session, &Kind::ALL.map(predicates::verdict_recording_everything))?;
        }
        // SAFETY: attached; PyEval_GetFrame gives this thread's running frame (borrowed, alive for this call) or NULL.
        unsafe { judge_running_frames(tracer, ffi::PyEval_GetFrame()) }
    })();
    if let Err(error) = registered {
        // Another thread stopped or restarted this tracer meanwhile, freeing the id under the registering: that stop
        // or start came last, and this start is over, not failed.
        let superseded = session.tool_id.get(py).is_some_and(|current| current != tool_id)
            || !claimed_by_hunter(&monitoring, tool_id)?;
        if session.tool_id.get(py) == Some(tool_id) {
            session.tool_id.set(py, None);
        }
        release_tool_id(&monitoring, tool_id)?;
        return if superseded { Ok(()) } else { Err(error) };
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

/// Switches every location switched off (DISABLE) back on, while the session runs: code found to run with the
/// globals of several modules (see `CodeInfo::may_switch_off`) may have had locations switched off for another
/// module's verdicts.
pub(crate) fn switch_disabled_locations_back_on(py: Python<'_>, session: &Session) -> PyResult<()> {
    if session.tool_id.get(py).is_some() {
        monitoring_namespace(py)?.call_method0("restart_events")?;
    }
    Ok(())
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
    if !claimed_by_hunter(monitoring, tool_id)? {
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

/// Whether `tool_id` is claimed under hunter's name.
fn claimed_by_hunter(monitoring: &Bound<'_, PyAny>, tool_id: u8) -> PyResult<bool> {
    let owner = monitoring.call_method1("get_tool", (tool_id,))?;
    Ok(!owner.is_none() && owner.eq(TOOL_NAME)?)
}
