//! Telling actions that their tracer stopped: each action reachable from the tracer's handler (through hunter's
//! predicates, see `hunter.actions._actions_reached`) that defines `_tracer_stopped()` has it called once, when
//! `Tracer.stop()` runs (also at exit, where `hunter._stop_tracers_at_exit` stops the tracers still running).
//! The timing actions close their open calls there; Profile writes its table.

use pyo3::prelude::*;

/// Calls `_tracer_stopped()` on the actions `handler` reaches. A failure goes to `report` (see
/// `failure::report_at_stop`), which hands back what belongs to the program: the first such is returned once every
/// action has been told.
pub fn notify_tracer_stopped(
    handler: &Bound<'_, PyAny>,
    report: impl Fn(PyErr, &Bound<'_, PyAny>) -> PyResult<()>,
) -> PyResult<()> {
    let py = handler.py();
    let actions = crate::compat::import(py, "hunter.actions")
        .and_then(|module| module.getattr("_actions_reached")?.call1((handler,))?.try_iter());
    let actions = match actions {
        Ok(actions) => actions,
        Err(error) => return report(error, handler),
    };
    let mut for_the_program = Ok(());
    for action in actions {
        if let Err(error) = action.and_then(|action| action.call_method0(pyo3::intern!(py, "_tracer_stopped"))) {
            let outcome = report(error, handler);
            if for_the_program.is_ok() {
                for_the_program = outcome;
            }
        }
    }
    for_the_program
}
