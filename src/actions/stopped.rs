//! Telling actions that their tracer stopped: each action reachable from the tracer's handler (through hunter's
//! predicates, see `hunter.actions._actions_reached`) that defines `_tracer_stopped()` has it called once, when
//! `Tracer.stop()` runs (also at exit, where `hunter._stop_tracers_at_exit` stops the tracers still running).
//! The timing actions close their open calls there; Profile writes its table.

use pyo3::exceptions::PyException;
use pyo3::prelude::*;

/// Calls `_tracer_stopped()` on the actions `handler` reaches. A failure is reported as unraisable (as errors in
/// `__del__` are; a closed stream in one line): stopping a tracer never raises because of an action, except with what belongs to the program
/// (`SystemExit`, `KeyboardInterrupt`): the first is raised once every action has been told.
pub fn notify_tracer_stopped(handler: &Bound<'_, PyAny>) -> PyResult<()> {
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

/// Reports `error` as unraisable, unless it is the program's own (not an `Exception`: `SystemExit`,
/// `KeyboardInterrupt`): returned. A closed or broken stream (Profile writing its table) gets the one line it gets
/// while tracing.
fn report(error: PyErr, handler: &Bound<'_, PyAny>) -> PyResult<()> {
    let py = handler.py();
    if !error.is_instance_of::<PyException>(py) {
        return Err(error);
    }
    if crate::failure::is_stream_failure(py, &error) {
        crate::failure::report(py, None, &error, None);
    } else {
        error.write_unraisable(py, Some(handler));
    }
    Ok(())
}
