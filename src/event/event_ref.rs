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
    /// What Python code gave a predicate it called: an `Event`, or a stand-in (a dict, say), which hunter's pure
    /// predicates also take: a `Query` reads its fields as `event[key]`, and callables and actions get it unchanged.
    Object(Py<PyAny>),
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

    /// What Python code gave a predicate it called (see [`Source::Object`]), which `as_py` then returns unchanged.
    pub fn of_object(event: Py<PyAny>) -> Self {
        EventRef { source: Source::Object(event) }
    }

    /// The event's data: that of its Python `Event` once there is one, whose fields a predicate or an action may have
    /// set (as on hunter's events), else the engine's. Borrowed: setting a field of the `Event` while the view lives
    /// fails. A stand-in has none: a TypeError saying an `Event` is needed.
    pub fn data<'py>(&self, py: Python<'py>) -> PyResult<EventView<'_, 'py>> {
        let event = match &self.source {
            Source::Native { data, py_event } => match py_event.get() {
                Some(event) => event.bind(py),
                None => return Ok(EventView::Data(data)),
            },
            Source::Object(event) => event.bind(py).cast::<Event>()?,
        };
        Ok(EventView::Object(event.try_borrow()?))
    }

    /// The object Python code gave in place of an `Event`, if it is not one; also an instance of a subclass, whose
    /// own properties are read then (as hunter's pure predicates read any event's attributes).
    pub fn stand_in<'py>(&self, py: Python<'py>) -> Option<&Bound<'py, PyAny>> {
        match &self.source {
            Source::Object(event) if !event.bind(py).is_exact_instance_of::<Event>() => Some(event.bind(py)),
            _ => None,
        }
    }

    pub fn as_py<'py>(&self, py: Python<'py>) -> PyResult<&Bound<'py, PyAny>> {
        match &self.source {
            Source::Native { data, py_event } => {
                if py_event.get().is_none() {
                    let event = Py::new(py, Event::from(data.clone_with_counters(py, data.depth, data.calls)))?;
                    if let Err(event) = py_event.set(event) {
                        drop(event);
                    }
                }
                Ok(py_event.get().expect("set above").bind(py).as_any())
            }
            Source::Object(event) => Ok(event.bind(py)),
        }
    }
}
