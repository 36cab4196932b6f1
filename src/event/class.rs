//! The Python class `hunter.event.Event`, wrapping an `EventData`.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::pyclass::{PyTraverseError, PyVisit};
use pyo3::types::PyString;

use super::data::EventData;
use super::field::Field;
use super::frame::EventFrame;
use super::kind::Kind;
use super::slots::Slot;

/// A trace event, as hunter's `hunter.event.Event`.
#[pyclass(module = "hunter.event", name = "Event", dict, weakref)]
pub struct Event {
    pub data: EventData,
}

fn threading_support_from_py(value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<bool>> {
    match value {
        None => Ok(None),
        Some(v) if v.is_none() => Ok(None),
        Some(v) => Ok(Some(v.is_truthy()?)),
    }
}

#[pymethods]
impl Event {
    #[new]
    #[pyo3(signature = (frame, kind, arg=None, depth=0, calls=0, threading_support=None))]
    fn new(
        py: Python<'_>,
        frame: &Bound<'_, PyAny>,
        kind: &Bound<'_, PyAny>,
        arg: Option<Py<PyAny>>,
        depth: i64,
        calls: i64,
        threading_support: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let (kind, builtin) = Kind::from_py(kind)?;
        let frame = (!frame.is_none()).then_some(frame);
        let arg = arg.unwrap_or_else(|| py.None());
        let threading_support = threading_support_from_py(threading_support)?;
        Ok(Event { data: EventData::new(frame, kind, builtin, arg, depth, calls, threading_support)? })
    }

    #[getter]
    fn frame(&self, py: Python<'_>) -> Py<PyAny> {
        self.data.frame().map_or_else(|| py.None(), |frame| frame.as_any(py).clone().unbind())
    }
    #[setter]
    fn set_frame(&mut self, frame: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let frame = frame.filter(|frame| !frame.is_none()).map(EventFrame::of).transpose()?;
        self.data.set_frame(frame);
        Ok(())
    }
    #[getter]
    fn kind<'py>(&self, py: Python<'py>) -> Bound<'py, PyString> {
        self.data.kind.py_name(py).clone()
    }
    #[getter]
    fn arg(&self, py: Python<'_>) -> Py<PyAny> {
        self.data.arg.clone_ref(py)
    }
    #[getter]
    fn depth(&self) -> i64 {
        self.data.depth
    }
    #[setter]
    fn set_depth(&mut self, depth: i64) {
        self.data.depth = depth;
    }
    #[getter]
    fn calls(&self) -> i64 {
        self.data.calls
    }
    #[setter]
    fn set_calls(&mut self, calls: i64) {
        self.data.calls = calls;
    }
    #[getter]
    fn builtin(&self) -> bool {
        self.data.builtin
    }
    #[getter]
    fn detached(&self) -> bool {
        self.data.detached
    }
    #[setter]
    fn set_detached(&mut self, detached: bool) {
        self.data.detached = detached;
    }
    #[getter]
    fn threading_support(&self) -> Option<bool> {
        self.data.threading_support
    }
    #[getter]
    fn code<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.data.get(py, Field::Code)
    }
    #[getter]
    fn function<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.data.get(py, Field::Function)
    }
    #[getter]
    fn module<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.data.get(py, Field::Module)
    }
    #[getter]
    fn filename<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.data.get(py, Field::Filename)
    }
    #[getter]
    fn lineno<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.data.get(py, Field::Lineno)
    }
    #[getter]
    fn globals<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.data.get(py, Field::Globals)
    }
    #[setter]
    fn set_globals(&mut self, globals: Py<PyAny>) {
        self.data.give(Slot::Globals, globals);
    }
    #[getter]
    fn locals<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.data.get(py, Field::Locals)
    }
    #[setter]
    fn set_locals(&mut self, locals: Py<PyAny>) {
        self.data.give(Slot::Locals, locals);
    }
    #[getter]
    fn stdlib<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.data.get(py, Field::Stdlib)
    }
    #[getter]
    fn source<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.data.get(py, Field::Source)
    }
    #[getter]
    fn fullsource<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.data.get(py, Field::Fullsource)
    }
    #[getter]
    fn threadid<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.data.get(py, Field::Threadid)
    }
    #[getter]
    fn threadname<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.data.get(py, Field::Threadname)
    }
    #[getter]
    fn instruction<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.data.get(py, Field::Instruction)
    }
    #[getter]
    fn function_object<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(self.data.cached(py, Slot::FunctionObject)?.clone())
    }

    #[pyo3(signature = (value_filter=None))]
    fn detach(&self, py: Python<'_>, value_filter: Option<&Bound<'_, PyAny>>) -> PyResult<Event> {
        Ok(Event { data: self.data.detach(py, value_filter)? })
    }

    fn clone(&self, py: Python<'_>) -> Event {
        Event { data: self.data.clone_with_counters(py, self.data.depth, self.data.calls) }
    }

    fn __getitem__<'py>(slf: &Bound<'py, Self>, item: &Bound<'py, PyString>) -> PyResult<Bound<'py, PyAny>> {
        slf.as_any().getattr(item)
    }

    fn __reduce__(&self) -> PyResult<()> {
        Err(PyTypeError::new_err("cannot pickle 'hunter.event.Event' object"))
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        self.data.traverse(&visit)
    }

    fn __clear__(&mut self, py: Python<'_>) {
        self.data.clear(py);
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "<Event kind={} function={} module={} filename={} lineno={}>",
            self.data.kind.py_name(py).repr()?,
            self.data.get(py, Field::Function)?.repr()?,
            self.data.get(py, Field::Module)?.repr()?,
            self.data.get(py, Field::Filename)?.repr()?,
            self.data.get(py, Field::Lineno)?.str()?,
        ))
    }
}
