//! Telling actions that their tracer stopped: each action reachable from the tracer's handler (through hunter's
//! predicates, see `hunter.actions._actions_reached`) that defines `_tracer_stopped()` has it called once, when
//! `Tracer.stop()` runs (also at exit, where `hunter._stop_tracers_at_exit` stops the tracers still running).
//! The timing actions close their open calls there; Profile writes its table.

use pyo3::prelude::*;

/// Calls `_tracer_stopped()` on the actions `handler` reaches, but those that the handlers of the tracers still
/// running (`running`) reach too: an action shared by two tracers is told when the last of them stops (the first's
/// stop closed the other's open calls). A failure goes to `report` (see `failure::report_at_stop`), which hands back
/// what belongs to the program: the first such is returned once every action has been told.
pub fn notify_tracer_stopped<'py>(
    handler: &Bound<'py, PyAny>,
    running: &[Py<PyAny>],
    report: impl Fn(PyErr, &Bound<'_, PyAny>) -> PyResult<()>,
) -> PyResult<()> {
    let py = handler.py();
    let reached = |handler: &Bound<'py, PyAny>| -> PyResult<Bound<'py, pyo3::types::PyIterator>> {
        crate::compat::import(py, "hunter.actions")?.getattr("_actions_reached")?.call1((handler,))?.try_iter()
    };
    let still_used: PyResult<Vec<usize>> = running
        .iter()
        .map(|other| reached(other.bind(py))?.map(|action| action.map(|action| action.as_ptr() as usize)).collect())
        .collect::<PyResult<Vec<Vec<usize>>>>()
        .map(|lists| lists.concat());
    let (actions, still_used) = match (reached(handler), still_used) {
        (Ok(actions), Ok(still_used)) => (actions, still_used),
        (Err(error), _) | (_, Err(error)) => return report(error, handler),
    };
    let mut for_the_program = Ok(());
    for action in actions {
        let action = action.map(|action| (!still_used.contains(&(action.as_ptr() as usize))).then_some(action));
        let told = action.and_then(|action| match action {
            Some(action) => action.call_method0(pyo3::intern!(py, "_tracer_stopped")).map(drop),
            None => Ok(()),
        });
        if let Err(error) = told {
            let outcome = report(error, handler);
            if for_the_program.is_ok() {
                for_the_program = outcome;
            }
        }
    }
    for_the_program
}
