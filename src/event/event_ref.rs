//! An event being evaluated (`EventRef`): its data, and the Python `Event` made for it once, on first demand.

use std::cell::OnceCell;

use pyo3::prelude::*;

use super::class::Event;
use super::data::EventData;

/// An event being evaluated by predicates: the data, plus the Python `Event` object created for it on
/// first demand (by a Python callable or an action) and then reused, so every consumer sees one object.
pub struct EventRef<'a> {
    pub data: &'a EventData,
    py_event: OnceCell<Py<Event>>,
}

impl<'a> EventRef<'a> {
    pub fn new(data: &'a EventData) -> Self {
        EventRef { data, py_event: OnceCell::new() }
    }

    /// Wraps an existing Python event, which `as_py` then returns unchanged.
    pub fn with_object(data: &'a EventData, event: Py<Event>) -> Self {
        EventRef { data, py_event: OnceCell::from(event) }
    }

    pub fn as_py<'py>(&self, py: Python<'py>) -> PyResult<&Bound<'py, Event>> {
        if self.py_event.get().is_none() {
            let event =
                Py::new(py, Event { data: self.data.clone_with_counters(py, self.data.depth, self.data.calls) })?;
            if let Some(event) = self.py_event.set(event).err() {
                drop(event);
            }
        }
        Ok(self.py_event.get().expect("set above").bind(py))
    }
}
