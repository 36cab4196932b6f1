//! Trace events: the owned `EventData` that predicates read on the hot path, and the Python-visible
//! `Event` class wrapping it. Every field is computed lazily, once, from the live frame.

use std::cell::OnceCell;
use std::os::raw::c_int;

use pyo3::exceptions::{PyAttributeError, PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::pyclass::{PyTraverseError, PyVisit};
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyString};

use crate::codeinfo::{self, CodeInfo};
use crate::compat;
use crate::gilcell::{GilOnce, GilRc};

/// The settrace event kinds, numbered as `PyTrace_CALL` ... `PyTrace_RETURN`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Call = 0,
    Exception = 1,
    Line = 2,
    Return = 3,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Call, Kind::Exception, Kind::Line, Kind::Return];

    /// Whether events of this kind move `depth` and `calls` (for Python code: call and return).
    pub fn counts_frames(self) -> bool {
        matches!(self, Kind::Call | Kind::Return)
    }

    /// The kind and `builtin` flag of a `PyTrace_*` value (C_CALL/C_EXCEPTION/C_RETURN are builtin).
    pub fn from_trace(what: c_int) -> Option<(Kind, bool)> {
        Some(match what {
            ffi::PyTrace_CALL => (Kind::Call, false),
            ffi::PyTrace_EXCEPTION => (Kind::Exception, false),
            ffi::PyTrace_LINE => (Kind::Line, false),
            ffi::PyTrace_RETURN => (Kind::Return, false),
            ffi::PyTrace_C_CALL => (Kind::Call, true),
            ffi::PyTrace_C_EXCEPTION => (Kind::Exception, true),
            ffi::PyTrace_C_RETURN => (Kind::Return, true),
            _ => return None,
        })
    }

    /// Parses a kind given as hunter's strings (`'c_call'` etc. give builtin) or as a `PyTrace_*` int.
    pub fn from_py(kind: &Bound<'_, PyAny>) -> PyResult<(Kind, bool)> {
        if let Ok(name) = kind.cast::<PyString>() {
            let name = name.to_str()?;
            let (builtin, base) = match name.strip_prefix("c_") {
                Some(base) => (true, base),
                None => (false, name),
            };
            // Builtin (C function) events exist for calls, returns and exceptions only.
            let kind = Kind::ALL.into_iter().find(|k| k.name() == base && !(builtin && *k == Kind::Line));
            return kind.map(|k| (k, builtin)).ok_or_else(|| {
                PyValueError::new_err(format!(
                    "Invalid event kind {name:?}. Must be one of 'call', 'line', 'return', 'exception', \
                     'c_call', 'c_return' or 'c_exception'."
                ))
            });
        }
        let what: c_int = kind.extract()?;
        Kind::from_trace(what).ok_or_else(|| PyValueError::new_err(format!("Invalid event kind {what}.")))
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Call => "call",
            Kind::Exception => "exception",
            Kind::Line => "line",
            Kind::Return => "return",
        }
    }

    pub fn py_name(self, py: Python<'_>) -> &Bound<'_, PyString> {
        match self {
            Kind::Call => pyo3::intern!(py, "call"),
            Kind::Exception => pyo3::intern!(py, "exception"),
            Kind::Line => pyo3::intern!(py, "line"),
            Kind::Return => pyo3::intern!(py, "return"),
        }
    }
}

/// The event attributes that queries can filter on.
#[derive(Clone, Copy, PartialEq, Eq, Debug, PartialOrd, Ord)]
pub enum Field {
    Arg,
    Builtin,
    Calls,
    Code,
    Depth,
    Filename,
    Fullsource,
    Function,
    Globals,
    Instruction,
    Kind,
    Lineno,
    Locals,
    Module,
    Source,
    Stdlib,
    Threadid,
    Threadname,
}

impl Field {
    pub const ALL: [Field; 18] = [
        Field::Arg,
        Field::Builtin,
        Field::Calls,
        Field::Code,
        Field::Depth,
        Field::Filename,
        Field::Fullsource,
        Field::Function,
        Field::Globals,
        Field::Instruction,
        Field::Kind,
        Field::Lineno,
        Field::Locals,
        Field::Module,
        Field::Source,
        Field::Stdlib,
        Field::Threadid,
        Field::Threadname,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Field::Arg => "arg",
            Field::Builtin => "builtin",
            Field::Calls => "calls",
            Field::Code => "code",
            Field::Depth => "depth",
            Field::Filename => "filename",
            Field::Fullsource => "fullsource",
            Field::Function => "function",
            Field::Globals => "globals",
            Field::Instruction => "instruction",
            Field::Kind => "kind",
            Field::Lineno => "lineno",
            Field::Locals => "locals",
            Field::Module => "module",
            Field::Source => "source",
            Field::Stdlib => "stdlib",
            Field::Threadid => "threadid",
            Field::Threadname => "threadname",
        }
    }

    pub fn from_name(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Fields whose value, for a Python (non-builtin) event, is fixed by the code object, its globals and
    /// the event kind: predicates on them can be decided once per code object.
    pub fn is_code_static(self) -> bool {
        matches!(self, Field::Builtin | Field::Filename | Field::Function | Field::Kind | Field::Module | Field::Stdlib)
    }
}

/// Lazily computed attributes, cached in `EventData::slots`.
#[derive(Clone, Copy)]
enum Slot {
    Code,
    Function,
    Module,
    Filename,
    Lineno,
    Globals,
    Locals,
    Stdlib,
    Source,
    Fullsource,
    Threadid,
    Threadname,
    Instruction,
    FunctionObject,
}

const SLOT_COUNT: usize = 14;

/// Copied eagerly by `detach()` (hunter's list); `FunctionObject` only if it was already computed.
const DETACHED_SLOTS: [Slot; 11] = [
    Slot::Code,
    Slot::Filename,
    Slot::Fullsource,
    Slot::Function,
    Slot::Lineno,
    Slot::Module,
    Slot::Source,
    Slot::Stdlib,
    Slot::Threadid,
    Slot::Threadname,
    Slot::Instruction,
];

pub struct EventData {
    pub frame: Option<Py<PyAny>>,
    pub kind: Kind,
    pub builtin: bool,
    pub arg: Py<PyAny>,
    pub depth: i64,
    pub calls: i64,
    pub threading_support: Option<bool>,
    pub detached: bool,
    /// Delivered by a settrace-mode tracer, so the frame's line is the one line tracing maintains.
    line_tracing: bool,
    code_info: Option<GilRc<CodeInfo>>,
    slots: [GilOnce<Py<PyAny>>; SLOT_COUNT],
}

const NO_SOURCE: &str = "??? NO SOURCE: ";

impl EventData {
    /// An event for a live frame. `frame` and `arg` are borrowed pointers (arg may be NULL).
    ///
    /// # Safety
    /// `frame` must be a live frame object and `arg` NULL or a live object.
    #[allow(clippy::too_many_arguments)] // one per field of the event, all from the trace callback
    pub unsafe fn from_trace(
        py: Python<'_>,
        frame: *mut ffi::PyFrameObject,
        kind: Kind,
        builtin: bool,
        arg: *mut ffi::PyObject,
        depth: i64,
        calls: i64,
        threading_support: Option<bool>,
        line_tracing: bool,
        code_info: Option<GilRc<CodeInfo>>,
    ) -> EventData {
        let arg = if arg.is_null() { py.None() } else { unsafe { Bound::from_borrowed_ptr(py, arg) }.unbind() };
        EventData {
            frame: Some(unsafe { Bound::from_borrowed_ptr(py, frame.cast()) }.unbind()),
            kind,
            builtin,
            arg,
            depth,
            calls,
            threading_support,
            detached: false,
            line_tracing,
            code_info,
            slots: Default::default(),
        }
    }

    fn frame<'py>(&self, py: Python<'py>) -> PyResult<&Bound<'py, PyAny>> {
        match &self.frame {
            Some(frame) => Ok(frame.bind(py)),
            None => Err(PyAttributeError::new_err("this event has no frame (it is detached)")),
        }
    }

    pub(crate) fn code_info(&self, py: Python<'_>) -> PyResult<&CodeInfo> {
        match &self.code_info {
            Some(info) => Ok(info),
            None => {
                // The code object is held by this event's own slot.
                let code = self.cached(py, Slot::Code)?;
                unsafe { CodeInfo::of_code(py, code.as_ptr()) }
            }
        }
    }

    fn cached<'py>(&self, py: Python<'py>, slot: Slot) -> PyResult<&Bound<'py, PyAny>> {
        let cell = &self.slots[slot as usize];
        if let Some(value) = cell.get(py) {
            return Ok(value.bind(py));
        }
        let value = self.compute(py, slot)?;
        Ok(cell.set(py, value).bind(py))
    }

    fn module_facts(&self, py: Python<'_>) -> PyResult<GilRc<codeinfo::ModuleFacts>> {
        let frame = self.frame(py)?;
        self.code_info(py)?.module_facts(py, &compat::frame_globals_bound(frame))
    }

    fn compute(&self, py: Python<'_>, slot: Slot) -> PyResult<Py<PyAny>> {
        Ok(match slot {
            Slot::Code => self.frame(py)?.getattr(pyo3::intern!(py, "f_code"))?.unbind(),
            Slot::Function if self.builtin => self.arg.bind(py).getattr(pyo3::intern!(py, "__name__"))?.unbind(),
            Slot::Function => self.code_info(py)?.function.clone_ref(py),
            Slot::Module if self.builtin => {
                let module = self.arg.bind(py).getattr(pyo3::intern!(py, "__module__"))?;
                if module.is_none() {
                    pyo3::intern!(py, "?").clone().into_any().unbind()
                } else {
                    module.unbind()
                }
            }
            Slot::Module => self.module_facts(py)?.module.clone_ref(py),
            Slot::Filename => self.module_facts(py)?.filename.clone_ref(py),
            Slot::Lineno => {
                let frame = self.frame(py)?;
                self.current_line(py, frame).into_pyobject(py)?.into_any().unbind()
            }
            Slot::Globals | Slot::Locals if self.builtin => PyDict::new(py).into_any().unbind(),
            Slot::Globals => compat::frame_globals_bound(self.frame(py)?).into_any().unbind(),
            Slot::Locals => compat::frame_locals(self.frame(py)?)?.unbind(),
            Slot::Stdlib if self.builtin => {
                let stdlib = codeinfo::is_stdlib(py, self.cached(py, Slot::Module)?, self.cached(py, Slot::Filename)?)?;
                stdlib.into_pyobject(py)?.to_owned().into_any().unbind()
            }
            Slot::Stdlib => self.module_facts(py)?.stdlib.into_pyobject(py)?.to_owned().into_any().unbind(),
            Slot::Source => self.source(py, false)?,
            Slot::Fullsource => self.source(py, true)?,
            Slot::Threadid => {
                let ident = compat::current_thread_ident();
                if ident == main_thread_ident(py)? {
                    py.None()
                } else {
                    ident.into_pyobject(py)?.into_any().unbind()
                }
            }
            Slot::Threadname => current_thread_name(py)?,
            Slot::Instruction => self.instruction(py)?,
            Slot::FunctionObject if self.builtin => self.arg.clone_ref(py),
            Slot::FunctionObject => codeinfo::python_helpers(py)?
                .call_method1(pyo3::intern!(py, "function_object"), (self.frame(py)?, self.cached(py, Slot::Code)?))?
                .unbind(),
        })
    }

    /// `source` is the current line; `fullsource` on a call event is the whole definition header
    /// (decorators included). Failures become `'??? NO SOURCE: ...'` strings, as in hunter.
    fn source(&self, py: Python<'_>, full: bool) -> PyResult<Py<PyAny>> {
        let attempt = || -> PyResult<Py<PyAny>> {
            let filename = self.cached(py, Slot::Filename)?;
            let lineno: i64 = self.cached(py, Slot::Lineno)?.extract()?;
            self.source_at(py, filename, lineno, full)
        };
        attempt().or_else(|err| Self::no_source(py, err))
    }

    /// `source`, for a caller that already has the event's filename and line (the printers' live facts):
    /// skips computing and caching them as Python objects.
    pub(crate) fn source_with<'py>(
        &self,
        py: Python<'py>,
        filename: &Bound<'py, PyAny>,
        lineno: i64,
    ) -> PyResult<&Bound<'py, PyAny>> {
        let cell = &self.slots[Slot::Source as usize];
        if let Some(source) = cell.get(py) {
            return Ok(source.bind(py));
        }
        let source = self.source_at(py, filename, lineno, false).or_else(|err| Self::no_source(py, err))?;
        Ok(cell.set(py, source).bind(py))
    }

    fn no_source(py: Python<'_>, err: PyErr) -> PyResult<Py<PyAny>> {
        let message = format!("{NO_SOURCE}{}", err.value(py).repr()?);
        Ok(PyString::new(py, &message).into_any().unbind())
    }

    fn source_at(&self, py: Python<'_>, filename: &Bound<'_, PyAny>, lineno: i64, full: bool) -> PyResult<Py<PyAny>> {
        let helpers = codeinfo::python_helpers(py)?;
        if let Ok(name) = filename.cast::<PyString>() {
            let name = name.to_str()?;
            if name.ends_with(".so") || name.ends_with(".pyd") {
                let message = format!("{NO_SOURCE}not reading binary {} file", &name[name.rfind('.').unwrap_or(0)..]);
                return Ok(PyString::new(py, &message).into_any().unbind());
            }
        }
        let info = self.code_info(py)?;
        if info.source_lines.get().is_none() {
            let globals = self.cached(py, Slot::Globals)?;
            let lines = helpers.call_method1(pyo3::intern!(py, "source_lines"), (filename, globals))?;
            let _ = info.source_lines.set(lines.unbind());
        }
        let lines = info.source_lines.get().expect("set above").bind(py);
        let wants_definition = full && self.kind == Kind::Call && info.function.bind(py).ne("<module>")?;
        if !wants_definition {
            return Self::line_source(lines, lineno);
        }
        if let Some((cached_lineno, source)) = info.definition_source.get() {
            if *cached_lineno == lineno {
                return Ok(source.clone_ref(py));
            }
        }
        let source = helpers.call_method1(pyo3::intern!(py, "definition_source"), (lines, lineno))?.unbind();
        let _ = info.definition_source.set((lineno, source.clone_ref(py)));
        Ok(source)
    }

    /// `lines[lineno - 1]`, or `''` when out of range (what `_event_helpers.line_source` does, without a Python call).
    fn line_source(lines: &Bound<'_, PyAny>, lineno: i64) -> PyResult<Py<PyAny>> {
        let py = lines.py();
        if let Ok(lines) = lines.cast::<pyo3::types::PyList>() {
            let line =
                usize::try_from(lineno - 1).ok().filter(|_| lineno >= 1).and_then(|index| lines.get_item(index).ok());
            return Ok(line.map_or_else(|| PyString::new(py, "").into_any().unbind(), Bound::unbind));
        }
        Ok(codeinfo::python_helpers(py)?.call_method1(pyo3::intern!(py, "line_source"), (lines, lineno))?.unbind())
    }

    /// The opcode byte at `f_lasti` in the (de-specialised) `co_code`, or None when out of range.
    fn instruction(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let frame = self.frame(py)?;
        let code = self.cached(py, Slot::Code)?;
        let co_code = self.code_info(py)?.co_code(py, code)?;
        let lasti = compat::frame_lasti(frame)?;
        let bytes: &[u8] = co_code.extract()?;
        Ok(match usize::try_from(lasti).ok().and_then(|i| bytes.get(i)) {
            Some(op) => op.into_pyobject(py)?.into_any().unbind(),
            None => py.None(),
        })
    }

    /// The frame's current line, looked up by instruction offset through the code's cache where that gives
    /// the frame's line (the monitoring backend, profile mode, and settrace's events other than lines from
    /// 3.12 on); else as the frame keeps it (cheap: line events set it).
    fn current_line(&self, py: Python<'_>, frame: &Bound<'_, PyAny>) -> c_int {
        let frame = frame.as_ptr().cast();
        if !self.line_tracing || (compat::TRACED_LINE_IS_INSTRUCTION_LINE && self.kind != Kind::Line) {
            if let (Some(info), Some(offset)) = (&self.code_info, unsafe { compat::frame_offset(frame) }) {
                return info.line_at(py, unsafe { compat::frame_code(frame) }, offset);
            }
        }
        unsafe { compat::frame_lineno(frame, self.line_tracing) }
    }

    /// For a live Python (not builtin) event: the code's facts and the current line, read without
    /// creating or caching Python objects (the printers' hot path).
    pub(crate) fn live_facts(
        &self,
        py: Python<'_>,
    ) -> Option<PyResult<(&CodeInfo, GilRc<codeinfo::ModuleFacts>, c_int)>> {
        let (info, globals, lineno) = self.live_line(py)?;
        Some(info.module_facts(py, &globals).map(|facts| (&**info, facts, lineno)))
    }

    /// The event's variables, for reading a few names: the frame's own unless its `locals` were already
    /// fetched or replaced (then those).
    pub(crate) fn variables<'py>(&self, py: Python<'py>) -> PyResult<compat::Variables<'py>> {
        match (&self.frame, self.slots[Slot::Locals as usize].get(py)) {
            (Some(frame), None) => compat::Variables::of_frame(frame.bind(py), || self.get(py, Field::Locals)),
            _ => Ok(compat::Variables::Mapping(self.get(py, Field::Locals)?)),
        }
    }

    /// The value of one of the parameters of the event's code (None if unbound), as `locals.get(name)`.
    pub(crate) fn argument<'py>(
        &self,
        py: Python<'py>,
        argument: &codeinfo::Argument,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        if let (Kind::Call, Some(frame), None) = (self.kind, &self.frame, self.slots[Slot::Locals as usize].get(py)) {
            if let Some(value) = compat::call_argument(frame.bind(py), argument.slot, argument.is_cell) {
                return Ok(value);
            }
        }
        self.variables(py)?.get(argument.name.bind(py))
    }

    /// For a live Python (not builtin) event: its code's shared facts, the frame's globals and the current
    /// line; nothing is looked up.
    pub(crate) fn live_line<'py>(&self, py: Python<'py>) -> Option<(&GilRc<CodeInfo>, Bound<'py, PyDict>, c_int)> {
        let (Some(info), Some(frame), false) = (&self.code_info, &self.frame, self.builtin) else {
            return None;
        };
        let frame = frame.bind(py);
        let lineno = self.current_line(py, frame);
        Some((info, compat::frame_globals_bound(frame), lineno))
    }

    /// The Python value of a query field.
    pub fn get<'py>(&self, py: Python<'py>, field: Field) -> PyResult<Bound<'py, PyAny>> {
        Ok(match field {
            Field::Arg => self.arg.bind(py).clone(),
            Field::Builtin => self.builtin.into_pyobject(py)?.to_owned().into_any(),
            Field::Calls => self.calls.into_pyobject(py)?.into_any(),
            Field::Depth => self.depth.into_pyobject(py)?.into_any(),
            Field::Kind => self.kind.py_name(py).clone().into_any(),
            Field::Code => self.cached(py, Slot::Code)?.clone(),
            Field::Filename => self.cached(py, Slot::Filename)?.clone(),
            Field::Fullsource => self.cached(py, Slot::Fullsource)?.clone(),
            Field::Function => self.cached(py, Slot::Function)?.clone(),
            Field::Globals => self.cached(py, Slot::Globals)?.clone(),
            Field::Instruction => self.cached(py, Slot::Instruction)?.clone(),
            Field::Lineno => self.cached(py, Slot::Lineno)?.clone(),
            Field::Locals => self.cached(py, Slot::Locals)?.clone(),
            Field::Module => self.cached(py, Slot::Module)?.clone(),
            Field::Source => self.cached(py, Slot::Source)?.clone(),
            Field::Stdlib => self.cached(py, Slot::Stdlib)?.clone(),
            Field::Threadid => self.cached(py, Slot::Threadid)?.clone(),
            Field::Threadname => self.cached(py, Slot::Threadname)?.clone(),
        })
    }

    /// A copy sharing the frame and every cached value (hunter's `clone()`), with new counters.
    pub fn clone_with_counters(&self, py: Python<'_>, depth: i64, calls: i64) -> EventData {
        EventData {
            frame: self.frame.as_ref().map(|f| f.clone_ref(py)),
            kind: self.kind,
            builtin: self.builtin,
            arg: self.arg.clone_ref(py),
            depth,
            calls,
            threading_support: self.threading_support,
            detached: false,
            line_tracing: self.line_tracing,
            code_info: self.code_info.as_ref().map(|info| info.clone_ref(py)),
            slots: std::array::from_fn(|i| clone_cell(py, &self.slots[i])),
        }
    }

    /// hunter's `detach(value_filter)`: a frame-less snapshot with every printable field filled in.
    pub fn detach(&self, py: Python<'_>, value_filter: Option<&Bound<'_, PyAny>>) -> PyResult<EventData> {
        let slots: [GilOnce<Py<PyAny>>; SLOT_COUNT] = Default::default();
        for slot in DETACHED_SLOTS {
            slots[slot as usize].set(py, self.cached(py, slot)?.clone().unbind());
        }
        if let Some(function_object) = self.slots[Slot::FunctionObject as usize].get(py) {
            slots[Slot::FunctionObject as usize].set(py, function_object.clone_ref(py));
        }
        let (arg, globals, locals) = match value_filter {
            Some(filter) => (
                filter.call1((self.arg.bind(py),))?.unbind(),
                filtered_dict(self.cached(py, Slot::Globals)?, filter)?,
                filtered_dict(self.cached(py, Slot::Locals)?, filter)?,
            ),
            None => (py.None(), PyDict::new(py).into_any().unbind(), PyDict::new(py).into_any().unbind()),
        };
        slots[Slot::Globals as usize].set(py, globals);
        slots[Slot::Locals as usize].set(py, locals);
        Ok(EventData {
            frame: None,
            kind: self.kind,
            builtin: self.builtin,
            arg,
            depth: self.depth,
            calls: self.calls,
            threading_support: self.threading_support,
            detached: true,
            line_tracing: false,
            code_info: None,
            slots,
        })
    }
}

fn clone_cell(py: Python<'_>, cell: &GilOnce<Py<PyAny>>) -> GilOnce<Py<PyAny>> {
    let copy = GilOnce::default();
    if let Some(value) = cell.get(py) {
        copy.set(py, value.clone_ref(py));
    }
    copy
}

fn filtered_dict(mapping: &Bound<'_, PyAny>, filter: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    let py = mapping.py();
    let result = PyDict::new(py);
    for item in mapping.call_method0(pyo3::intern!(py, "items"))?.try_iter()? {
        let (key, value): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item?.extract()?;
        result.set_item(key, filter.call1((value,))?)?;
    }
    Ok(result.into_any().unbind())
}

fn current_thread_name(py: Python<'_>) -> PyResult<Py<PyAny>> {
    static CURRENT_THREAD: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let current_thread = CURRENT_THREAD
        .get_or_try_init(py, || Ok::<_, PyErr>(compat::import(py, "threading")?.getattr("current_thread")?.unbind()))?;
    Ok(current_thread.bind(py).call0()?.getattr(pyo3::intern!(py, "name"))?.unbind())
}

fn main_thread_ident(py: Python<'_>) -> PyResult<u64> {
    static MAIN: PyOnceLock<u64> = PyOnceLock::new();
    MAIN.get_or_try_init(py, || {
        crate::compat::import(py, "threading")?.call_method0("main_thread")?.getattr("ident")?.extract()
    })
    .copied()
}

/// Garbage collection: an event holds its frame, whose locals may hold the event (or a handler holding it).
impl EventData {
    /// Visits the Python objects this event owns. `code_info` is shared with the code object (which owns its
    /// references), so it is not visited.
    pub(crate) fn traverse(&self, visit: &PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.frame)?;
        visit.call(&self.arg)?;
        for slot in &self.slots {
            // SAFETY: called from a `__traverse__` (the collector holds the GIL).
            visit.call(unsafe { slot.during_gc() })?;
        }
        Ok(())
    }

    /// Drops the Python objects this event owns, breaking the cycles through them.
    pub(crate) fn clear(&mut self, py: Python<'_>) {
        let frame = self.frame.take();
        let arg = std::mem::replace(&mut self.arg, py.None());
        let slots = std::mem::take(&mut self.slots);
        // Released once the event is consistent: a release may run Python code that looks at the event.
        drop((frame, arg, slots));
    }
}

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
        let has_frame = !frame.is_none();
        let code_info = if has_frame && frame.is_instance_of::<pyo3::types::PyFrame>() {
            let code = frame.getattr(pyo3::intern!(py, "f_code"))?;
            Some(CodeInfo::shared(py, code.as_ptr())?)
        } else {
            None
        };
        Ok(Event {
            data: EventData {
                frame: has_frame.then(|| frame.clone().unbind()),
                kind,
                builtin,
                arg: arg.unwrap_or_else(|| py.None()),
                depth,
                calls,
                threading_support: threading_support_from_py(threading_support)?,
                detached: false,
                line_tracing: false,
                code_info,
                slots: Default::default(),
            },
        })
    }

    #[getter]
    fn frame(&self, py: Python<'_>) -> Py<PyAny> {
        self.data.frame.as_ref().map_or_else(|| py.None(), |f| f.clone_ref(py))
    }
    #[setter]
    fn set_frame(&mut self, frame: Option<Py<PyAny>>) {
        self.data.frame = frame;
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
        self.data.slots[Slot::Globals as usize] = GilOnce::from(globals);
    }
    #[getter]
    fn locals<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.data.get(py, Field::Locals)
    }
    #[setter]
    fn set_locals(&mut self, locals: Py<PyAny>) {
        self.data.slots[Slot::Locals as usize] = GilOnce::from(locals);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_from_hunter_strings_and_trace_numbers() {
        Python::attach(|py| {
            let parse = |value: Bound<'_, PyAny>| Kind::from_py(&value).unwrap();
            assert_eq!(parse(PyString::new(py, "line").into_any()), (Kind::Line, false));
            assert_eq!(parse(PyString::new(py, "c_return").into_any()), (Kind::Return, true));
            assert_eq!(parse(6i32.into_pyobject(py).unwrap().into_any()), (Kind::Return, true));
            assert_eq!(parse(1i32.into_pyobject(py).unwrap().into_any()), (Kind::Exception, false));
            let error = Kind::from_py(PyString::new(py, "c_line").as_any()).unwrap_err();
            assert!(error.to_string().contains("Invalid event kind \"c_line\""), "{error}");
        });
    }

    #[test]
    fn field_names_round_trip_and_only_code_facts_are_static() {
        for field in Field::ALL {
            assert_eq!(Field::from_name(field.name()), Some(field));
        }
        assert_eq!(Field::from_name("frame"), None);
        let static_fields: Vec<_> = Field::ALL.into_iter().filter(|f| f.is_code_static()).map(Field::name).collect();
        assert_eq!(static_fields, ["builtin", "filename", "function", "kind", "module", "stdlib"]);
    }
}
