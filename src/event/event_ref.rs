//! An event being evaluated (`EventRef`): its data, and the Python `Event` made for it once, on first demand.

use std::cell::OnceCell;
use std::ops::Deref;

use pyo3::prelude::*;

use super::class::Event;
use super::data::EventData;

/// An event being evaluated by predicates: the data, plus the Python `Event` object created for it on
/// first demand (by a Python callable or an action) and then reused, so every consumer sees one object.
pub struct EventRef<'a> {
    source: Source<'a>,
}

enum Source<'a> {
    /// The engine's data, and the Python `Event` made of it on first demand.
    Native { data: &'a EventData, py_event: OnceCell<Py<Event>> },
    /// A Python `Event` (given to a predicate called from Python).
    Object(Py<Event>),
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
        EventRef { source: Source::Native { data, py_event: OnceCell::new() } }
    }

    /// A Python event (given to a predicate called from Python), which `as_py` then returns unchanged.
    pub fn of_object(event: Py<Event>) -> Self {
        EventRef { source: Source::Object(event) }
    }

    /// The event's data: that of its Python `Event` once there is one, whose fields a predicate or an action may have
    /// set (as on hunter's events), else the engine's. Borrowed: setting a field of the `Event` while the view lives
    /// fails.
    pub fn data<'py>(&self, py: Python<'py>) -> PyResult<EventView<'_, 'py>> {
        let event = match &self.source {
            Source::Native { data, py_event } => match py_event.get() {
                Some(event) => event,
                None => return Ok(EventView::Data(data)),
            },
            Source::Object(event) => event,
        };
        Ok(EventView::Object(event.bind(py).try_borrow()?))
    }

    pub fn as_py<'py>(&self, py: Python<'py>) -> PyResult<&Bound<'py, Event>> {
        match &self.source {
            Source::Native { data, py_event } => {
                if py_event.get().is_none() {
                    let event = Py::new(py, Event { data: data.clone_with_counters(py, data.depth, data.calls) })?;
                    if let Err(event) = py_event.set(event) {
                        drop(event);
                    }
                }
                Ok(py_event.get().expect("set above").bind(py))
            }
            Source::Object(event) => Ok(event.bind(py)),
        }
    }
}
