//! The one policy for errors raised while tracing: the traced program must never see them.
//! A failing handler (predicate or action) gets its traceback and one line printed to hunter's stream,
//! and the tracer stops (the engine stops it after the report); the program carries on untraced. A closed or
//! broken output stream (the reader of a pipe went away, as with `| head`) is not a bug in the handler: it gets
//! one line on stderr, no traceback. A panic or internal error of hunter itself is reported the same way. The
//! exceptions that belong to the program (`SystemExit`, `KeyboardInterrupt`: whatever is not an `Exception`)
//! are not failures: they go back to it.

use std::io::Write;

use pyo3::exceptions::{PyBrokenPipeError, PyException, PyOSError, PyValueError};
use pyo3::prelude::*;

/// Whether `error` belongs to the traced program: anything that is not an `Exception` (a `sys.exit()` in an action,
/// Ctrl-C during a slow one), as hunter's pure-Python tracer lets it through; and what one of the program's signal
/// handlers raised while a handler of hunter's ran (CPython runs signal handlers wherever Python code is running:
/// hunter took the exception for its handler's failure, and the program never saw it).
pub fn belongs_to_program(py: Python<'_>, error: &PyErr) -> bool {
    !error.is_instance_of::<PyException>(py) || raised_by_a_signal_handler(py, error)
}

/// Whether `error` was raised in a Python function the `signal` module has as a handler (its traceback runs through
/// one's code). An error looking for one says no.
fn raised_by_a_signal_handler(py: Python<'_>, error: &PyErr) -> bool {
    let Some(traceback) = error.traceback(py) else { return false };
    let handler_codes = || -> PyResult<Vec<Bound<'_, PyAny>>> {
        let signal = crate::compat::import(py, "signal")?;
        let mut codes = Vec::new();
        for number in signal.call_method0("valid_signals")?.try_iter()? {
            let handler = signal.call_method1("getsignal", (number?,))?;
            if let Some(code) = handler.getattr_opt(pyo3::intern!(py, "__code__"))? {
                codes.push(code);
            }
        }
        Ok(codes)
    };
    let Ok(codes) = handler_codes() else { return false };
    if codes.is_empty() {
        return false;
    }
    let mut current = Some(traceback.into_any());
    while let Some(entry) = current {
        let code = entry.getattr("tb_frame").and_then(|frame| frame.getattr("f_code"));
        if code.is_ok_and(|code| codes.iter().any(|handler| handler.is(&code))) {
            return true;
        }
        current = entry.getattr("tb_next").ok().filter(|next| !next.is_none());
    }
    false
}

/// Reports a handler's failure (`handler` None: hunter's own) while handling `event`; never fails.
pub fn report(py: Python<'_>, handler: Option<Py<PyAny>>, error: &PyErr, event: Option<&Py<PyAny>>) {
    if is_stream_failure(py, error) {
        say_quietly(py, &format!("hunter: tracing stopped, the output stream is closed or broken ({error})\n"));
    } else if let Err(report_error) = write_report(py, handler, error, event) {
        // The stream itself failed (closed, broken pipe): say it once on the process's stderr instead.
        say_quietly(
            py,
            &format!(
                "hunter: disabling tracer because handler failed ({error}); reporting it failed too ({report_error})\n"
            ),
        );
    }
}

/// Reports the failure of an action told that the tracer of `handler` stopped (`_tracer_stopped()`): as unraisable (as
/// errors in `__del__` are), but a stream that took no more (Profile writing its table to a closed file, a broken
/// pipe, a full disk) in one line; what belongs to the program (`SystemExit`, `KeyboardInterrupt`) is handed back.
pub fn report_at_stop(error: PyErr, handler: &Bound<'_, PyAny>) -> PyResult<()> {
    let py = handler.py();
    if belongs_to_program(py, &error) {
        return Err(error);
    }
    // The only input or output at stop is the action's writing to its stream.
    if is_stream_failure(py, &error) || error.is_instance_of::<PyOSError>(py) {
        say_on_stderr(py, &format!("hunter: the output stream took no more at stop ({error})\n"))?;
    } else {
        error.write_unraisable(py, Some(handler));
    }
    Ok(())
}

/// [`say_on_stderr`] where an error has nowhere to go (reporting a failure while tracing): even the program's own is
/// dropped, as is the error it interrupted.
pub fn say_quietly(py: Python<'_>, message: &str) {
    drop(say_on_stderr(py, message));
}

/// A write to a pipe whose reader is gone, or to a closed file.
fn is_stream_failure(py: Python<'_>, error: &PyErr) -> bool {
    error.is_instance_of::<PyBrokenPipeError>(py)
        || (error.is_instance_of::<PyValueError>(py) && error.to_string().contains("I/O operation on closed file"))
}

/// Writes hunter's own `message` to `sys.stderr`; nothing when the program runs without one (`2>&-`, or
/// `sys.stderr = None`) or it takes nothing more. Never to file descriptor 2 itself, which such a program may have
/// reused for a file of its own, and never an error of its own: only what belongs to the program (a
/// `KeyboardInterrupt` while writing) is handed back.
pub fn say_on_stderr(py: Python<'_>, message: &str) -> PyResult<()> {
    let written = crate::compat::import(py, "sys").and_then(|sys| {
        let stderr = sys.getattr("stderr")?;
        if stderr.is_none() {
            return Ok(());
        }
        stderr.call_method1("write", (message,))?;
        stderr.call_method0("flush").map(drop)
    });
    match written {
        Err(error) if belongs_to_program(py, &error) => Err(error),
        // At the recursion limit (a handler that failed there; before 3.12 even a stream's `write` cannot be
        // called): said later (`say_unsaid`).
        Err(error) if error.is_instance_of::<pyo3::exceptions::PyRecursionError>(py) => {
            UNSAID.with_mut(py, |unsaid| unsaid.push(message.to_owned()));
            Ok(())
        }
        _ => Ok(()),
    }
}

/// What [`say_on_stderr`] could not say at the recursion limit.
static UNSAID: crate::gilcell::GilRefCell<Vec<String>> = crate::gilcell::GilRefCell::new(Vec::new());

/// Whether [`say_on_stderr`] left anything unsaid.
pub fn has_unsaid(py: Python<'_>) -> bool {
    UNSAID.with_mut(py, |unsaid| !unsaid.is_empty())
}

/// Says what could not be said at the recursion limit ([`say_on_stderr`]), where there is room again (a tracer's
/// next stop, or exit).
pub fn say_unsaid(py: Python<'_>) -> PyResult<()> {
    let unsaid = UNSAID.replace(py, Vec::new());
    unsaid.iter().try_for_each(|message| say_on_stderr(py, message))
}

/// Writes hunter's own `message` to `sys.stderr`: nothing when there is none or it takes nothing more (see
/// [`say_on_stderr`]). `hunter.config.say_on_stderr`: the one way hunter's notes reach the user.
#[pyfunction]
#[pyo3(name = "say_on_stderr")]
pub fn say_on_stderr_py(py: Python<'_>, message: &str) -> PyResult<()> {
    say_on_stderr(py, message)
}

fn write_report(py: Python<'_>, handler: Option<Py<PyAny>>, error: &PyErr, event: Option<&Py<PyAny>>) -> PyResult<()> {
    let stream = match crate::compat::import(py, "hunter").and_then(|hunter| hunter.getattr("_default_stream")) {
        Ok(stream) if !stream.is_none() => stream,
        _ => crate::compat::import(py, "sys")?.getattr("stderr")?,
    };
    if stream.is_none() {
        // No stderr (`2>&-`): nowhere to report (traceback's printing would fall back to the program's stdout).
        return Ok(());
    }
    let traceback = crate::compat::import(py, "traceback")?;
    let kwargs = pyo3::types::PyDict::new(py);
    kwargs.set_item("file", &stream)?;
    traceback.call_method(
        "print_exception",
        (error.get_type(py), error.value(py), error.traceback(py)),
        Some(&kwargs),
    )?;
    let handler = match handler {
        Some(handler) => handler.bind(py).repr()?.to_string(),
        None => "<hunter internals>".to_owned(),
    };
    let event = match event {
        Some(event) => event.bind(py).repr()?.to_string(),
        None => "<no event>".to_owned(),
    };
    let message =
        format!("Disabling tracer because handler {handler} failed ({}) at {event}.\n\n", error.value(py).repr()?);
    stream.call_method1("write", (message,))?;
    Ok(())
}

/// Reporting an internal error panicked itself: there is no Python stream left to trust.
pub fn report_unreportable(panic: &PyErr) {
    let _ =
        std::io::stderr().write_all(format!("hunter: internal error, and reporting it failed ({panic})\n").as_bytes());
}

/// The Python exception for a panic payload caught by `catch_unwind`, with its message.
pub fn panic_error(payload: &(dyn std::any::Any + Send)) -> PyErr {
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("unknown panic");
    pyo3::exceptions::PySystemError::new_err(format!("hunter: internal error in the trace function: {message}"))
}
