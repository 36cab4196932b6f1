//! Telling actions that their tracer stopped: each action reachable from the tracer's handler (through hunter's
//! predicates, see `hunter.actions._actions_reached`) that defines `_tracer_stopped()` has it called once, when
//! `Tracer.stop()` runs (also at exit, where `hunter._stop_tracers_at_exit` stops the tracers still running).
//! The timing actions close their open calls there; Profile writes its table.

use pyo3::prelude::*;

/// Calls `_tracer_stopped()` on the actions `handler` reaches. A failure is reported as unraisable (as errors in
/// `__del__` are): stopping a tracer never raises because of an action.
pub fn notify_tracer_stopped(handler: &Bound<'_, PyAny>) {
    let py = handler.py();
    let actions = crate::compat::import(py, "hunter.actions")
        .and_then(|module| module.getattr("_actions_reached")?.call1((handler,))?.try_iter());
    let actions = match actions {
        Ok(actions) => actions,
        Err(error) => return error.write_unraisable(py, Some(handler)),
    };
    for action in actions {
        let told = action.and_then(|action| action.call_method0(pyo3::intern!(py, "_tracer_stopped")).map(drop));
        if let Err(error) = told {
            error.write_unraisable(py, Some(handler));
        }
    }
}
