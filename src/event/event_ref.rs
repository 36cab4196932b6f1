//! An event being evaluated (`EventRef`): its data, and the Python `Event` made for it once, on first demand.

use std::cell::{Cell, OnceCell};
use std::ops::Deref;

use pyo3::prelude::*;

use super::class::Event;
use super::data::EventData;

/// An event being evaluated by predicates: the data, plus the Python `Event` object created for it on
/// first demand (by a Python callable or an action) and then reused, so every consumer sees one object.
pub struct EventRef<'a> {
    data: &'a EventData,
    py_event: OnceCell<Py<Event>>,
    /// Whether `py_event` was made here, as a copy of `data`: once it exists, its fields may have been set (as on
    /// hunter's events), and the consumers that come after read them there ([`EventRef::data`]).
    copied: Cell<bool>,
}

/// The data of an event as its consumers read it: see [`EventRef::data`].
pub enum EventView<'a, 'py> {
    Data(&'a EventData),
    Object(PyRef<'py, Event>),
}

impl Deref for EventView<'_, '_> {
    type Target = EventData;

    fn deref(&self) -> &EventData {
        match self {
            EventView::Data(data) => data,
            EventView::Object(event) => &event.data,
        }
    }
}

impl<'a> EventRef<'a> {
    pub fn new(data: &'a EventData) -> Self {
        EventRef { data, py_event: OnceCell::new(), copied: Cell::new(false) }
    }

    /// Wraps an existing Python event, which `as_py` then returns unchanged (`data` is its data, borrowed).
    pub fn with_object(data: &'a EventData, event: Py<Event>) -> Self {
        EventRef { data, py_event: OnceCell::from(event), copied: Cell::new(false) }
    }

    /// The event's data: that of its Python `Event` once one was made for it, whose fields a predicate or an action
    /// may have set, else the data it was made with. Borrowed: setting a field of the `Event` meanwhile fails.
    pub fn data<'py>(&self, py: Python<'py>) -> PyResult<EventView<'_, 'py>> {
        match self.py_event.get() {
            Some(event) if self.copied.get() => Ok(EventView::Object(event.bind(py).try_borrow()?)),
            _ => Ok(EventView::Data(self.data)),
        }
    }

    pub fn as_py<'py>(&self, py: Python<'py>) -> PyResult<&Bound<'py, Event>> {
        if self.py_event.get().is_none() {
            let event =
                Py::new(py, Event { data: self.data.clone_with_counters(py, self.data.depth, self.data.calls) })?;
            match self.py_event.set(event) {
                Ok(()) => self.copied.set(true),
                Err(event) => drop(event),
            }
        }
        Ok(self.py_event.get().expect("set above").bind(py))
    }
}
