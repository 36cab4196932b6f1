//! The Python class `hunter.event.Event`, wrapping an `EventData`.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::pyclass::{PyTraverseError, PyVisit};
use pyo3::types::PyString;

use super::data::EventData;
use super::field::Field;
use super::frame::EventFrame;
use super::kind::Kind;
use super::slots::Slot;

/// A trace event: what predicates and actions receive, one for each call, line, return or exception in
/// the traced code. Its fields (``function``, ``module``, ``lineno``, ``locals``...) are computed when first
/// read and then kept; ``event['function']`` reads a field by name. Every field can be set, as on hunter's
/// pure-Python events (``kind`` to one of the four kinds), and so can attributes of your own.
///
/// The tracer builds events; building one yourself is for tests and replay code.
///
/// Args:
///     frame: the Python frame the event happened in (``None`` for an event without one).
///     kind: ``'call'``, ``'line'``, ``'return'`` or ``'exception'``; ``'c_call'``, ``'c_return'`` and
///         ``'c_exception'`` give an event of the ``c_``-less kind with ``builtin=True``.
///     arg: the return value for ``'return'``, the ``(type, value, traceback)`` tuple for ``'exception'``,
///         the called C function for builtin events, else ``None``.
///     depth: the call depth (the tracer counts it).
///     calls: the number of calls seen so far (the tracer counts it).
///     threading_support: the tracer's ``threading_support`` option (``None``: not set).
///
/// Example::
///
///     Event(sys._getframe(0), 'line', None, 0, 0, False).lineno
#[pyclass(module = "hunter.event", name = "Event", dict, subclass, weakref)]
pub struct Event {
    pub data: EventData,
    /// True once pyo3 has written the fields. On CPython 3.11 the base `tp_new` makes the instance `__dict__` after
    /// the object is tracked and before its fields are written, and that allocation may run the collector, whose
    /// `__traverse__` then finds zeroed memory (false here): it must read nothing else.
    written: bool,
}

impl From<EventData> for Event {
    fn from(data: EventData) -> Self {
        Event { data, written: true }
    }
}

#[pymethods]
impl Event {
    #[new]
    #[pyo3(
        signature = (frame, kind, arg=None, depth=None, calls=None, threading_support=None),
        text_signature = "(frame, kind, arg=None, depth=0, calls=0, threading_support=None)"
    )]
    fn new(
        py: Python<'_>,
        frame: &Bound<'_, PyAny>,
        kind: &Bound<'_, PyAny>,
        arg: Option<Py<PyAny>>,
        depth: Option<&Bound<'_, PyAny>>,
        calls: Option<&Bound<'_, PyAny>>,
        threading_support: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        Ok(Event::from(Event::data_of_arguments(py, frame, kind, arg, depth, calls, threading_support)?))
    }

    /// Sets the fields again, as ``__init__`` does for hunter's pure ``Event``: what a subclass's own ``__init__``
    /// reaches with ``super().__init__(...)`` (the class made the event with no frame, see
    /// ``constructors::name_as_init``).
    #[pyo3(signature = (frame, kind, arg=None, depth=None, calls=None, threading_support=None))]
    fn __init__(
        slf: &Bound<'_, Self>,
        frame: &Bound<'_, PyAny>,
        kind: &Bound<'_, PyAny>,
        arg: Option<Py<PyAny>>,
        depth: Option<&Bound<'_, PyAny>>,
        calls: Option<&Bound<'_, PyAny>>,
        threading_support: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let data = Event::data_of_arguments(slf.py(), frame, kind, arg, depth, calls, threading_support)?;
        Self::replace_field(slf, |fields| std::mem::replace(fields, data))
    }

    /// The frame the event happened in; ``None`` on detached events. Not usable in a Query.
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
    /// ``'call'``, ``'line'``, ``'return'`` or ``'exception'`` (a builtin function's events too: see ``builtin``).
    #[getter]
    fn kind<'py>(&self, py: Python<'py>) -> Bound<'py, PyString> {
        self.data.kind.py_name(py).clone()
    }
    /// One of the four kinds (not `builtin`, a field of its own).
    #[setter]
    fn set_kind(&mut self, kind: &Bound<'_, PyAny>) -> PyResult<()> {
        let settable = kind.cast::<PyString>().ok().and_then(|name| Kind::ALL.into_iter().find(|k| name == k.name()));
        self.data.kind = settable.ok_or_else(|| {
            PyValueError::new_err(format!(
                "Event.kind can be set to 'call', 'line', 'return' or 'exception', not {}.",
                kind.repr().map_or_else(|_| "that".to_owned(), |text| text.to_string())
            ))
        })?;
        Ok(())
    }
    /// The return value for ``'return'``, the ``(type, value, traceback)`` tuple for ``'exception'``, the
    /// C function for builtin events, else ``None``.
    #[getter]
    fn arg(&self, py: Python<'_>) -> Py<PyAny> {
        self.data.arg.clone_ref(py)
    }
    #[setter]
    fn set_arg(slf: &Bound<'_, Self>, arg: Py<PyAny>) -> PyResult<()> {
        Self::replace_field(slf, |data| std::mem::replace(&mut data.arg, arg))
    }
    /// The call depth: increases on calls, decreases on returns.
    #[getter]
    fn depth(&self) -> i64 {
        self.data.depth
    }
    #[setter]
    fn set_depth(&mut self, depth: &Bound<'_, PyAny>) -> PyResult<()> {
        self.data.depth = crate::arguments::int("depth", depth)?;
        Ok(())
    }
    /// How many calls the tracer had seen when this event happened.
    #[getter]
    fn calls(&self) -> i64 {
        self.data.calls
    }
    #[setter]
    fn set_calls(&mut self, calls: &Bound<'_, PyAny>) -> PyResult<()> {
        self.data.calls = crate::arguments::int("calls", calls)?;
        Ok(())
    }
    /// True for the events of C functions (``c_call``, ``c_return``, ``c_exception`` in profiling mode).
    #[getter]
    fn builtin(&self) -> bool {
        self.data.builtin
    }
    #[setter]
    fn set_builtin(&mut self, builtin: &Bound<'_, PyAny>) -> PyResult<()> {
        self.data.builtin = builtin.is_truthy()?;
        Ok(())
    }
    /// True on events made by ``detach()`` (and the made-up call events of ``Backlog``).
    #[getter]
    fn detached(&self) -> bool {
        self.data.detached
    }
    #[setter]
    fn set_detached(&mut self, detached: &Bound<'_, PyAny>) -> PyResult<()> {
        self.data.detached = crate::arguments::bool("detached", detached)?;
        Ok(())
    }
    /// The tracer's ``threading_support`` option: True, False or None (not set).
    #[getter]
    fn threading_support(&self) -> Option<bool> {
        self.data.threading_support
    }
    #[setter]
    fn set_threading_support(&mut self, value: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        self.data.threading_support = crate::arguments::optional_truth(value)?;
        Ok(())
    }
    /// The code object running (for builtin events: the caller's).
    #[getter]
    fn code<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.data.get(py, Field::Code)
    }
    #[setter]
    fn set_code(slf: &Bound<'_, Self>, value: Py<PyAny>) -> PyResult<()> {
        Self::give(slf, Slot::Code, value)
    }
    /// The function's name (``code.co_name``; for builtin events the C function's ``__name__``).
    #[getter]
    fn function<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.data.get(py, Field::Function)
    }
    #[setter]
    fn set_function(slf: &Bound<'_, Self>, value: Py<PyAny>) -> PyResult<()> {
        Self::give(slf, Slot::Function, value)
    }
    /// The module's name (``__name__`` of the frame's globals; ``'?'`` if there is none).
    #[getter]
    fn module<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.data.get(py, Field::Module)
    }
    #[setter]
    fn set_module(slf: &Bound<'_, Self>, value: Py<PyAny>) -> PyResult<()> {
        Self::give(slf, Slot::Module, value)
    }
    /// The source file's path (``code.co_filename``; ``.pyc`` mapped back to ``.py``; ``'?'`` if unknown).
    #[getter]
    fn filename<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.data.get(py, Field::Filename)
    }
    #[setter]
    fn set_filename(slf: &Bound<'_, Self>, value: Py<PyAny>) -> PyResult<()> {
        Self::give(slf, Slot::Filename, value)
    }
    /// The line number being executed.
    #[getter]
    fn lineno<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.data.get(py, Field::Lineno)
    }
    #[setter]
    fn set_lineno(slf: &Bound<'_, Self>, value: Py<PyAny>) -> PyResult<()> {
        Self::give(slf, Slot::Lineno, value)
    }
    /// The frame's global variables (``{}`` for builtin events and detached events without values).
    #[getter]
    fn globals<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.data.get(py, Field::Globals)
    }
    #[setter]
    fn set_globals(slf: &Bound<'_, Self>, globals: Py<PyAny>) -> PyResult<()> {
        Self::give(slf, Slot::Globals, globals)
    }
    /// The frame's local variables (``{}`` for builtin events and detached events without values).
    #[getter]
    fn locals<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.data.get(py, Field::Locals)
    }
    #[setter]
    fn set_locals(slf: &Bound<'_, Self>, locals: Py<PyAny>) -> PyResult<()> {
        Self::give(slf, Slot::Locals, locals)
    }
    /// True if the code belongs to the standard library (under ``sys.prefix`` but not in site-packages).
    #[getter]
    fn stdlib<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.data.get(py, Field::Stdlib)
    }
    #[setter]
    fn set_stdlib(slf: &Bound<'_, Self>, value: Py<PyAny>) -> PyResult<()> {
        Self::give(slf, Slot::Stdlib, value)
    }
    /// The line of source being executed (with its newline), or ``'??? NO SOURCE: ...'`` if unavailable.
    #[getter]
    fn source<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.data.get(py, Field::Source)
    }
    #[setter]
    fn set_source(slf: &Bound<'_, Self>, value: Py<PyAny>) -> PyResult<()> {
        Self::give(slf, Slot::Source, value)
    }
    /// Like ``source``, but for a ``'call'`` event the whole statement: decorators and the full ``def``
    /// or ``class`` line, even over several lines.
    #[getter]
    fn fullsource<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.data.get(py, Field::Fullsource)
    }
    #[setter]
    fn set_fullsource(slf: &Bound<'_, Self>, value: Py<PyAny>) -> PyResult<()> {
        Self::give(slf, Slot::Fullsource, value)
    }
    /// The thread's ident, or ``None`` on the main thread.
    #[getter]
    fn threadid<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.data.get(py, Field::Threadid)
    }
    #[setter]
    fn set_threadid(slf: &Bound<'_, Self>, value: Py<PyAny>) -> PyResult<()> {
        Self::give(slf, Slot::Threadid, value)
    }
    /// The thread's name.
    #[getter]
    fn threadname<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.data.get(py, Field::Threadname)
    }
    #[setter]
    fn set_threadname(slf: &Bound<'_, Self>, value: Py<PyAny>) -> PyResult<()> {
        Self::give(slf, Slot::Threadname, value)
    }
    /// The opcode of the bytecode instruction being executed, or ``None`` if there is none.
    #[getter]
    fn instruction<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.data.get(py, Field::Instruction)
    }
    #[setter]
    fn set_instruction(slf: &Bound<'_, Self>, value: Py<PyAny>) -> PyResult<()> {
        Self::give(slf, Slot::Instruction, value)
    }
    /// The function object running this code, if it can be found without side effects, else
    /// ``None``. Not usable in a Query.
    #[getter]
    fn function_object<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(self.data.cached(py, Slot::FunctionObject)?.clone())
    }
    #[setter]
    fn set_function_object(slf: &Bound<'_, Self>, value: Py<PyAny>) -> PyResult<()> {
        Self::give(slf, Slot::FunctionObject, value)
    }

    /// Returns a copy of the event without references to live objects (the frame): use it to keep an event
    /// after the handler returns without keeping its frame and variables alive.
    ///
    /// Args:
    ///     value_filter: a callable taking one value and returning what to keep instead (for example
    ///         ``repr``); the copy's ``arg``, ``globals`` and ``locals`` hold its results. Without it they are
    ///         ``None``, ``{}`` and ``{}``.
    ///
    /// Example::
    ///
    ///     kept = event.detach(repr)
    #[pyo3(signature = (value_filter=None))]
    fn detach(&self, py: Python<'_>, value_filter: Option<&Bound<'_, PyAny>>) -> PyResult<Event> {
        Ok(Event::from(self.data.detach(py, value_filter)?))
    }

    /// Returns a copy of this event (with the same frame, if it has one).
    fn clone(&self, py: Python<'_>) -> Event {
        Event::from(self.data.clone_with_counters(py, self.data.depth, self.data.calls))
    }

    fn __getitem__<'py>(slf: &Bound<'py, Self>, item: &Bound<'py, PyString>) -> PyResult<Bound<'py, PyAny>> {
        slf.as_any().getattr(item)
    }

    /// Identity, as in hunter (which makes events unhashable, as hunter's are).
    fn __eq__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> bool {
        slf.is(other)
    }

    fn __reduce__(&self) -> PyResult<()> {
        Err(PyTypeError::new_err("cannot pickle 'hunter.event.Event' object"))
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        if !self.written {
            return Ok(());
        }
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

impl Event {
    /// Sets the field of `slot` (Python assigning it).
    fn give(slf: &Bound<'_, Self>, slot: Slot, value: Py<PyAny>) -> PyResult<()> {
        Self::replace_field(slf, |data| data.give(slot, value))
    }

    /// An event's data from the constructor's arguments.
    fn data_of_arguments(
        py: Python<'_>,
        frame: &Bound<'_, PyAny>,
        kind: &Bound<'_, PyAny>,
        arg: Option<Py<PyAny>>,
        depth: Option<&Bound<'_, PyAny>>,
        calls: Option<&Bound<'_, PyAny>>,
        threading_support: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<EventData> {
        let (kind, builtin) = Kind::from_py(kind)?;
        let depth = depth.map_or(Ok(0), |depth| crate::arguments::int("depth", depth))?;
        let calls = calls.map_or(Ok(0), |calls| crate::arguments::int("calls", calls))?;
        let frame = (!frame.is_none()).then_some(frame);
        let arg = arg.unwrap_or_else(|| py.None());
        let threading_support = crate::arguments::optional_truth(threading_support)?;
        EventData::new(frame, kind, builtin, arg, depth, calls, threading_support)
    }

    /// Sets a field with `replace`, which hands back what the field held: released once the event is no longer
    /// borrowed, as releasing it may run code that reads the event.
    fn replace_field<T>(slf: &Bound<'_, Self>, replace: impl FnOnce(&mut EventData) -> T) -> PyResult<()> {
        let previous = replace(&mut slf.try_borrow_mut()?.data);
        drop(previous);
        Ok(())
    }
}
