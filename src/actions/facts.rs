//! What the rows show of an event's code (function, module, filename, line number), read once per event.

use pyo3::prelude::*;

use crate::event::{EventData, Field};

/// A line number: read from the frame, or any object a (detached, hand-made) event holds.
pub(super) enum Lineno<'py> {
    Number(i64),
    Object(Bound<'py, PyAny>),
}

/// What the rows show of an event's code.
pub(super) struct Facts<'py> {
    pub(super) function: Bound<'py, PyAny>,
    pub(super) module: Bound<'py, PyAny>,
    pub(super) filename: Bound<'py, PyAny>,
    pub(super) lineno: Lineno<'py>,
}

impl<'py> Facts<'py> {
    pub(super) fn of(py: Python<'py>, event: &EventData) -> PyResult<Facts<'py>> {
        if let Some(live) = event.live_facts(py) {
            let (info, facts, lineno) = live?;
            return Ok(Facts {
                function: info.function.bind(py).clone(),
                module: facts.module.bind(py).clone(),
                filename: facts.filename.bind(py).clone(),
                lineno: Lineno::Number(lineno.into()),
            });
        }
        Ok(Facts {
            function: event.get(py, Field::Function)?,
            module: event.get(py, Field::Module)?,
            filename: event.get(py, Field::Filename)?,
            lineno: Lineno::Object(event.get(py, Field::Lineno)?),
        })
    }
}
