//! The one policy for errors raised while tracing: the traced program must never see them.
//! A failing handler (predicate or action) gets its traceback and one line printed to hunter's stream,
//! and the tracer stops; the program carries on untraced.

use pyo3::prelude::*;

use crate::tracer::Tracer;

pub fn report_and_stop(
    py: Python<'_>,
    tracer: Borrowed<'_, '_, Tracer>,
    handler: Option<Py<PyAny>>,
    error: PyErr,
    event: Option<&Py<PyAny>>,
) {
    if let Err(report_error) = report(py, handler, &error, event) {
        // The stream itself failed (closed, broken pipe): say it once on the process's stderr instead.
        eprintln!(
            "hunter: disabling tracer because handler failed ({error}); reporting it failed too ({report_error})"
        );
    }
    if let Err(stop_error) = Tracer::stop_tracing(&tracer.to_owned()) {
        drop(stop_error);
    }
}

fn report(py: Python<'_>, handler: Option<Py<PyAny>>, error: &PyErr, event: Option<&Py<PyAny>>) -> PyResult<()> {
    let stream = match crate::compat::import(py, "hunter").and_then(|hunter| hunter.getattr("_default_stream")) {
        Ok(stream) if !stream.is_none() => stream,
        _ => crate::compat::import(py, "sys")?.getattr("stderr")?,
    };
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

/// A panic caught at the edge of a native callback: reported like a failing handler (there is no event).
pub fn report_internal_error(tracer: Borrowed<'_, '_, Tracer>) {
    Python::attach(|py| {
        let error = pyo3::exceptions::PySystemError::new_err("hunter: internal error in the trace function");
        report_and_stop(py, tracer, None, error, None);
    });
}
