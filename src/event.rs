//! Trace events: the owned `EventData` that predicates read on the hot path, and the Python-visible
//! `Event` class wrapping it. Every field is computed lazily, once, from the live frame.

use std::cell::OnceCell;
use std::os::raw::c_int;

use pyo3::exceptions::{PyAttributeError, PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::pyclass::{PyTraverseError, PyVisit};
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyCode, PyDict, PyFrame, PyString};

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

/// Declares the event attributes queries filter on, once each: the variant, its name, whether its value is fixed by
/// the code object (`code_static`), and where it is read: a field of the event (`direct`, read in
/// [`EventData::get`]) or a lazily computed slot of the same name (`cached`).
macro_rules! query_fields {
    ($($variant:ident = $name:literal, $source:ident $(, $code_static:ident)?;)+) => {
        /// The event attributes that queries can filter on.
        #[derive(Clone, Copy, PartialEq, Eq, Debug, PartialOrd, Ord)]
        pub enum Field {
            $($variant,)+
        }

        impl Field {
            /// Every field, in the order of hunter's `ALLOWED_KEYS`.
            pub const ALL: [Field; [$($name),+].len()] = [$(Field::$variant),+];

            pub fn name(self) -> &'static str {
                match self {
                    $(Field::$variant => $name,)+
                }
            }

            /// Fields whose value, for a Python (non-builtin) event, is fixed by the code object, its globals and
            /// the event kind: predicates on them can be decided once per code object.
            pub fn is_code_static(self) -> bool {
                match self {
                    $(Field::$variant => query_fields!(@code_static $($code_static)?),)+
                }
            }

            /// The slot a `cached` field is computed into (None for a `direct` one).
            fn slot(self) -> Option<Slot> {
                match self {
                    $(Field::$variant => query_fields!(@slot $source $variant),)+
                }
            }
        }
    };
    (@code_static code_static) => { true };
    (@code_static) => { false };
    (@slot cached $variant:ident) => { Some(Slot::$variant) };
    (@slot direct $variant:ident) => { None };
}

query_fields! {
    Arg = "arg", direct;
    Builtin = "builtin", direct, code_static;
    Calls = "calls", direct;
    Code = "code", cached;
    Depth = "depth", direct;
    Filename = "filename", cached, code_static;
    Fullsource = "fullsource", cached;
    Function = "function", cached, code_static;
    Globals = "globals", cached;
    Instruction = "instruction", cached;
    Kind = "kind", direct, code_static;
    Lineno = "lineno", cached;
    Locals = "locals", cached;
    Module = "module", cached, code_static;
    Source = "source", cached;
    Stdlib = "stdlib", cached, code_static;
    Threadid = "threadid", cached;
    Threadname = "threadname", cached;
}

impl Field {
    pub fn from_name(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name() == name)
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

/// A frame object with the facts of the code it runs. Only built from a checked frame and the facts of that
/// frame's own code, so the code's variable slots index this frame's fast locals.
pub struct FrameWithCode {
    frame: Py<PyFrame>,
    info: GilRc<CodeInfo>,
}

impl FrameWithCode {
    /// `known`: a code object the caller believes the frame runs (a trace callback's) and its facts; used only
    /// when the frame runs that very code object (both are alive, so equal addresses are the same object),
    /// else the frame's own code's facts are looked up.
    pub fn new(
        frame: &Bound<'_, PyFrame>,
        known: Option<(Borrowed<'_, '_, PyCode>, GilRc<CodeInfo>)>,
    ) -> PyResult<Self> {
        let code = frame_code(frame);
        let info = match known {
            Some((known_code, info)) if known_code.as_ptr() == code.as_ptr() => info,
            _ => CodeInfo::shared(frame.py(), code)?,
        };
        Ok(FrameWithCode { frame: frame.clone().unbind(), info })
    }

    fn clone_ref(&self, py: Python<'_>) -> Self {
        FrameWithCode { frame: self.frame.clone_ref(py), info: self.info.clone_ref(py) }
    }
}

/// The frame's code object, borrowed from the frame.
fn frame_code<'a, 'py>(frame: &'a Bound<'py, PyFrame>) -> Borrowed<'a, 'py, PyCode> {
    // SAFETY: a frame's code is a code object, alive as long as the frame.
    unsafe { Borrowed::from_ptr(frame.py(), compat::frame_code(frame.as_borrowed())).cast_unchecked() }
}

/// What an event's `frame` holds: a real frame, read natively, or any other object (a stand-in with `f_*`
/// attributes, as hunter's own tests replay events with), read through its attributes as pure-Python hunter does.
pub enum EventFrame {
    Live(FrameWithCode),
    StandIn(Py<PyAny>),
}

impl EventFrame {
    pub fn of(frame: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(match frame.cast::<PyFrame>() {
            Ok(frame) => EventFrame::Live(FrameWithCode::new(frame, None)?),
            Err(_) => EventFrame::StandIn(frame.clone().unbind()),
        })
    }

    pub fn clone_ref(&self, py: Python<'_>) -> Self {
        match self {
            EventFrame::Live(live) => EventFrame::Live(live.clone_ref(py)),
            EventFrame::StandIn(object) => EventFrame::StandIn(object.clone_ref(py)),
        }
    }

    pub fn as_any<'py>(&self, py: Python<'py>) -> &Bound<'py, PyAny> {
        match self {
            EventFrame::Live(live) => live.frame.bind(py).as_any(),
            EventFrame::StandIn(object) => object.bind(py),
        }
    }

    /// The real frame object, if that is what it is.
    pub fn live<'py>(&self, py: Python<'py>) -> Option<&Bound<'py, PyFrame>> {
        match self {
            EventFrame::Live(live) => Some(live.frame.bind(py)),
            EventFrame::StandIn(_) => None,
        }
    }
}

/// The parent of an event's frame, or of one of its parents: a real frame's `f_back` read natively,
/// anything else's through the attribute (None for a missing or None one, as a missing frame).
pub fn parent_frame<'py>(frame: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyAny>>> {
    if let Ok(frame) = frame.cast::<PyFrame>() {
        return Ok(compat::frame_back(frame).map(Bound::into_any));
    }
    let parent = frame.getattr(pyo3::intern!(frame.py(), "f_back"))?;
    Ok((!parent.is_none()).then_some(parent))
}

pub struct EventData {
    frame: Option<EventFrame>,
    pub kind: Kind,
    pub builtin: bool,
    pub arg: Py<PyAny>,
    pub depth: i64,
    pub calls: i64,
    pub threading_support: Option<bool>,
    pub detached: bool,
    /// Delivered by a settrace-mode tracer, so the frame's line is the one line tracing maintains.
    line_tracing: bool,
    slots: [GilOnce<Py<PyAny>>; SLOT_COUNT],
    /// The slots set from outside (by `detach`, or Python assigning `globals`/`locals`) rather than derived
    /// from the frame, one bit per `Slot`: replacing the frame keeps those and drops the others.
    given: u16,
}

const NO_SOURCE: &str = "??? NO SOURCE: ";

/// The `given` bits of the fields that the printers' live path reads from the frame instead: an event with
/// any of them set from outside (a detached event with a frame put back) is printed from its fields.
const GIVEN_FACTS: u16 = 1 << Slot::Code as u16
    | 1 << Slot::Function as u16
    | 1 << Slot::Module as u16
    | 1 << Slot::Filename as u16
    | 1 << Slot::Lineno as u16
    | 1 << Slot::Source as u16
    | GIVEN_GLOBALS;

/// The `given` bit of `globals`, which the module facts follow.
const GIVEN_GLOBALS: u16 = 1 << Slot::Globals as u16;

impl EventData {
    /// An event for a running frame; `arg` may be NULL. `code_info`: the code object the caller believes the
    /// frame runs, with its facts (checked).
    ///
    /// # Safety
    /// `arg` must be NULL or a live object.
    #[allow(clippy::too_many_arguments)] // one per field of the event, all from the trace callback
    pub unsafe fn from_trace(
        py: Python<'_>,
        frame: &Bound<'_, PyFrame>,
        kind: Kind,
        builtin: bool,
        arg: *mut ffi::PyObject,
        depth: i64,
        calls: i64,
        threading_support: Option<bool>,
        line_tracing: bool,
        code_info: Option<(Borrowed<'_, '_, PyCode>, GilRc<CodeInfo>)>,
    ) -> PyResult<EventData> {
        // SAFETY: the caller's invariant.
        let arg = unsafe { Bound::from_borrowed_ptr_or_opt(py, arg) }.map_or_else(|| py.None(), Bound::unbind);
        let frame = EventFrame::Live(FrameWithCode::new(frame, code_info)?);
        Ok(EventData::with_fields(Some(frame), kind, builtin, arg, depth, calls, threading_support, line_tracing))
    }

    /// An event built by Python code (`Event(frame, kind, ...)`).
    pub fn new(
        frame: Option<&Bound<'_, PyAny>>,
        kind: Kind,
        builtin: bool,
        arg: Py<PyAny>,
        depth: i64,
        calls: i64,
        threading_support: Option<bool>,
    ) -> PyResult<EventData> {
        let frame = frame.map(EventFrame::of).transpose()?;
        Ok(EventData::with_fields(frame, kind, builtin, arg, depth, calls, threading_support, false))
    }

    /// A live (not detached) event with nothing computed yet.
    #[allow(clippy::too_many_arguments)] // one per field of the event
    fn with_fields(
        frame: Option<EventFrame>,
        kind: Kind,
        builtin: bool,
        arg: Py<PyAny>,
        depth: i64,
        calls: i64,
        threading_support: Option<bool>,
        line_tracing: bool,
    ) -> EventData {
        EventData {
            frame,
            kind,
            builtin,
            arg,
            depth,
            calls,
            threading_support,
            detached: false,
            line_tracing,
            slots: Default::default(),
            given: 0,
        }
    }

    pub fn frame(&self) -> Option<&EventFrame> {
        self.frame.as_ref()
    }

    /// Replaces the frame (Python assigning `event.frame`); every field derived from the old one is dropped.
    pub fn set_frame(&mut self, frame: Option<EventFrame>) {
        self.frame = frame;
        for (index, slot) in self.slots.iter_mut().enumerate() {
            if self.given & (1 << index) == 0 {
                *slot = GilOnce::default();
            }
        }
    }

    /// Sets a field from outside (Python assigning it).
    fn give(&mut self, slot: Slot, value: Py<PyAny>) {
        self.slots[slot as usize] = GilOnce::from(value);
        self.given |= 1 << slot as usize;
    }

    /// The frame, or the error hunter gives for an event without one.
    fn frame_or_error(&self) -> PyResult<&EventFrame> {
        self.frame.as_ref().ok_or_else(|| PyAttributeError::new_err("'NoneType' object has no attribute 'f_code'"))
    }

    /// The facts of the event's code object, when it is one: a live frame's own, else those of the code object
    /// the event holds (a detached event's, or a stand-in frame's `f_code`).
    pub(crate) fn code_info(&self, py: Python<'_>) -> PyResult<Option<&CodeInfo>> {
        if let Some(EventFrame::Live(live)) = &self.frame {
            return Ok(Some(&live.info));
        }
        let code = self.cached(py, Slot::Code)?;
        match code.cast::<PyCode>() {
            // SAFETY: the code object is held by this event's own slot, which only `&mut self` can clear.
            Ok(code) => Ok(Some(unsafe { CodeInfo::of_code(py, code.as_borrowed())? })),
            Err(_) => Ok(None),
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

    fn compute(&self, py: Python<'_>, slot: Slot) -> PyResult<Py<PyAny>> {
        if self.builtin {
            if let Some(value) = self.compute_builtin(py, slot)? {
                return Ok(value);
            }
        }
        // The module facts follow the event's globals, as hunter's Cython Event reads `self.globals`: Backlog's
        // stack events, given empty globals, have the module ''. Only a live frame whose globals were not
        // replaced takes them from its code's cache.
        let native_facts = matches!(self.frame, Some(EventFrame::Live(_))) && self.given & GIVEN_GLOBALS == 0;
        let live = match slot {
            Slot::Module | Slot::Filename | Slot::Stdlib if !native_facts => {
                return self.module_fact_from_globals(py, slot);
            }
            Slot::Source => return self.source(py, false),
            Slot::Fullsource => return self.source(py, true),
            Slot::Threadid => return thread_id(py),
            Slot::Threadname => return current_thread_name(py),
            Slot::FunctionObject => {
                let frame = self.frame_or_error()?.as_any(py);
                return Ok(codeinfo::python_helpers(py)?
                    .call_method1(pyo3::intern!(py, "function_object"), (frame, self.cached(py, Slot::Code)?))?
                    .unbind());
            }
            _ => match self.frame_or_error()? {
                EventFrame::Live(live) => live,
                EventFrame::StandIn(frame) => return self.compute_from_attributes(py, frame.bind(py), slot),
            },
        };
        let frame = live.frame.bind(py);
        Ok(match slot {
            Slot::Code => frame_code(frame).to_owned().into_any().unbind(),
            Slot::Function => live.info.function.clone_ref(py),
            Slot::Module => live.info.module_facts(py, &compat::frame_globals_bound(frame))?.module.clone_ref(py),
            Slot::Filename => live.info.module_facts(py, &compat::frame_globals_bound(frame))?.filename.clone_ref(py),
            Slot::Stdlib => {
                let stdlib = live.info.module_facts(py, &compat::frame_globals_bound(frame))?.stdlib;
                stdlib.into_pyobject(py)?.to_owned().into_any().unbind()
            }
            Slot::Lineno => self.current_line(py, frame, &live.info).into_pyobject(py)?.into_any().unbind(),
            Slot::Globals => compat::frame_globals_bound(frame).into_any().unbind(),
            Slot::Locals => compat::frame_locals(frame)?.unbind(),
            Slot::Instruction => {
                let co_code = live.info.co_code(py, self.cached(py, Slot::Code)?)?;
                let lasti = compat::frame_lasti(frame)?;
                let bytes: &[u8] = co_code.extract()?;
                match usize::try_from(lasti).ok().and_then(|i| bytes.get(i)) {
                    Some(op) => op.into_pyobject(py)?.into_any().unbind(),
                    None => py.None(),
                }
            }
            Slot::Source | Slot::Fullsource | Slot::Threadid | Slot::Threadname | Slot::FunctionObject => {
                unreachable!("computed above")
            }
        })
    }

    /// The fields of a builtin (C function) event that come from the function in `arg`, not from a frame.
    fn compute_builtin(&self, py: Python<'_>, slot: Slot) -> PyResult<Option<Py<PyAny>>> {
        Ok(Some(match slot {
            Slot::Function => self.arg.bind(py).getattr(pyo3::intern!(py, "__name__"))?.unbind(),
            Slot::Module => {
                let module = self.arg.bind(py).getattr(pyo3::intern!(py, "__module__"))?;
                if module.is_none() {
                    pyo3::intern!(py, "?").clone().into_any().unbind()
                } else {
                    module.unbind()
                }
            }
            Slot::Globals | Slot::Locals => PyDict::new(py).into_any().unbind(),
            Slot::Stdlib => self.stdlib_from_module_and_filename(py)?,
            Slot::FunctionObject => self.arg.clone_ref(py),
            _ => return Ok(None),
        }))
    }

    /// `module`, `filename` or `stdlib` from the event's globals and code, with hunter's rules.
    fn module_fact_from_globals(&self, py: Python<'_>, slot: Slot) -> PyResult<Py<PyAny>> {
        Ok(match slot {
            Slot::Module => codeinfo::module_name(py, Some(self.cached(py, Slot::Globals)?))?,
            Slot::Filename => {
                let co_filename = self.cached(py, Slot::Code)?.getattr(pyo3::intern!(py, "co_filename"))?;
                // hunter reads the globals only when the code has no filename.
                let globals = if co_filename.is_truthy()? { None } else { Some(self.cached(py, Slot::Globals)?) };
                codeinfo::normalize_filename(py, &co_filename, globals)?
            }
            _ => self.stdlib_from_module_and_filename(py)?,
        })
    }

    fn stdlib_from_module_and_filename(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let stdlib = codeinfo::is_stdlib(py, self.cached(py, Slot::Module)?, self.cached(py, Slot::Filename)?)?;
        Ok(stdlib.into_pyobject(py)?.to_owned().into_any().unbind())
    }

    /// The fields of an event whose frame is not a frame object, read through its `f_*` attributes with
    /// pure-Python hunter's rules.
    fn compute_from_attributes(&self, py: Python<'_>, frame: &Bound<'_, PyAny>, slot: Slot) -> PyResult<Py<PyAny>> {
        Ok(match slot {
            Slot::Code => frame.getattr(pyo3::intern!(py, "f_code"))?.unbind(),
            Slot::Function => self.cached(py, Slot::Code)?.getattr(pyo3::intern!(py, "co_name"))?.unbind(),
            Slot::Lineno => frame.getattr(pyo3::intern!(py, "f_lineno"))?.unbind(),
            Slot::Globals => frame.getattr(pyo3::intern!(py, "f_globals"))?.unbind(),
            Slot::Locals => frame.getattr(pyo3::intern!(py, "f_locals"))?.unbind(),
            Slot::Instruction => {
                let co_code = frame.getattr(pyo3::intern!(py, "f_code"))?.getattr(pyo3::intern!(py, "co_code"))?;
                let lasti = frame.getattr(pyo3::intern!(py, "f_lasti"))?;
                let in_range = co_code.is_truthy()?
                    && co_code.len()?.into_pyobject(py)?.gt(&lasti)?
                    && lasti.ge(0i32.into_pyobject(py)?)?;
                if in_range {
                    co_code.get_item(lasti)?.unbind()
                } else {
                    py.None()
                }
            }
            Slot::Module
            | Slot::Filename
            | Slot::Stdlib
            | Slot::Source
            | Slot::Fullsource
            | Slot::Threadid
            | Slot::Threadname
            | Slot::FunctionObject => unreachable!("computed without the frame"),
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
        let read_lines = || -> PyResult<Py<PyAny>> {
            let globals = self.cached(py, Slot::Globals)?;
            Ok(helpers.call_method1(pyo3::intern!(py, "source_lines"), (filename, globals))?.unbind())
        };
        let uncached;
        let lines = match info {
            Some(info) => {
                if info.source_lines.get().is_none() {
                    let _ = info.source_lines.set(read_lines()?);
                }
                info.source_lines.get().expect("set above").bind(py)
            }
            None => {
                uncached = read_lines()?;
                uncached.bind(py)
            }
        };
        let function = self.cached(py, Slot::Function)?;
        let wants_definition = full && self.kind == Kind::Call && function.ne("<module>")?;
        if !wants_definition {
            return Self::line_source(lines, lineno);
        }
        if let Some((cached_lineno, source)) = info.and_then(|info| info.definition_source.get()) {
            if *cached_lineno == lineno {
                return Ok(source.clone_ref(py));
            }
        }
        let source = helpers.call_method1(pyo3::intern!(py, "definition_source"), (lines, lineno))?.unbind();
        if let Some(info) = info {
            let _ = info.definition_source.set((lineno, source.clone_ref(py)));
        }
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

    /// The frame's current line, looked up by instruction offset through the code's cache where that gives
    /// the frame's line (the monitoring backend, profile mode, and settrace's events other than lines from
    /// 3.12 on); else as the frame keeps it (cheap: line events set it).
    fn current_line(&self, py: Python<'_>, frame: &Bound<'_, PyFrame>, info: &CodeInfo) -> c_int {
        if !self.line_tracing || (compat::TRACED_LINE_IS_INSTRUCTION_LINE && self.kind != Kind::Line) {
            if let Some(offset) = compat::frame_offset(frame) {
                return info.line_at(py, frame_code(frame), offset);
            }
        }
        compat::frame_lineno(frame, self.line_tracing)
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
            (Some(EventFrame::Live(live)), None) => {
                compat::Variables::of_frame(live.frame.bind(py), || self.get(py, Field::Locals))
            }
            _ => Ok(compat::Variables::Mapping(self.get(py, Field::Locals)?)),
        }
    }

    /// Calls `visit` with each parameter of the event's code, in signature order, and its value (None if
    /// unbound), as `locals.get(name)` gives it.
    pub(crate) fn for_each_argument<'py>(
        &self,
        py: Python<'py>,
        mut visit: impl FnMut(&codeinfo::Argument, Option<Bound<'py, PyAny>>) -> PyResult<()>,
    ) -> PyResult<()> {
        if let (Kind::Call, Some(EventFrame::Live(live)), None) =
            (self.kind, &self.frame, self.slots[Slot::Locals as usize].get(py))
        {
            let frame = live.frame.bind(py);
            let arguments = live.info.arguments(&frame_code(frame))?;
            for argument in arguments {
                // SAFETY: `live.info` describes the frame's own code (`FrameWithCode`), whose `co_varnames`
                // the argument's slot indexes.
                let value = match unsafe { compat::call_argument(frame, argument.slot, argument.is_cell) } {
                    Some(value) => value,
                    None => self.variables(py)?.get(argument.name.bind(py))?,
                };
                visit(argument, value)?;
            }
            return Ok(());
        }
        let code = self.get(py, Field::Code)?;
        let uncached;
        let arguments = match self.code_info(py)? {
            Some(info) => info.arguments(&code)?,
            None => {
                uncached = codeinfo::signature(&code)?;
                &uncached[..]
            }
        };
        let variables = self.variables(py)?;
        for argument in arguments {
            visit(argument, variables.get(argument.name.bind(py))?)?;
        }
        Ok(())
    }

    /// For a live Python (not builtin) event: its code's shared facts, the frame's globals and the current
    /// line; nothing is looked up.
    pub(crate) fn live_line<'py>(&self, py: Python<'py>) -> Option<(&GilRc<CodeInfo>, Bound<'py, PyDict>, c_int)> {
        let (Some(EventFrame::Live(live)), false, 0) = (&self.frame, self.builtin, self.given & GIVEN_FACTS) else {
            return None;
        };
        let frame = live.frame.bind(py);
        let lineno = self.current_line(py, frame, &live.info);
        Some((&live.info, compat::frame_globals_bound(frame), lineno))
    }

    /// The Python value of a query field.
    pub fn get<'py>(&self, py: Python<'py>, field: Field) -> PyResult<Bound<'py, PyAny>> {
        if let Some(slot) = field.slot() {
            return Ok(self.cached(py, slot)?.clone());
        }
        Ok(match field {
            Field::Arg => self.arg.bind(py).clone(),
            Field::Builtin => self.builtin.into_pyobject(py)?.to_owned().into_any(),
            Field::Calls => self.calls.into_pyobject(py)?.into_any(),
            Field::Depth => self.depth.into_pyobject(py)?.into_any(),
            Field::Kind => self.kind.py_name(py).clone().into_any(),
            cached => unreachable!("{cached:?} is read from its slot"),
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
            slots: std::array::from_fn(|i| clone_cell(py, &self.slots[i])),
            given: self.given,
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
        let given =
            slots.iter().enumerate().filter(|(_, slot)| slot.get(py).is_some()).fold(0, |bits, (i, _)| bits | 1 << i);
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
            slots,
            given,
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

/// `threadid`: the current thread's ident, None on the main thread.
fn thread_id(py: Python<'_>) -> PyResult<Py<PyAny>> {
    let ident = compat::current_thread_ident();
    if ident == main_thread_ident(py)? {
        Ok(py.None())
    } else {
        Ok(ident.into_pyobject(py)?.into_any().unbind())
    }
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
    /// Visits the Python objects this event owns. A live frame's code facts are shared with the code object
    /// (which owns their references), so they are not visited.
    pub(crate) fn traverse(&self, visit: &PyVisit<'_>) -> Result<(), PyTraverseError> {
        match &self.frame {
            Some(EventFrame::Live(live)) => visit.call(&live.frame)?,
            Some(EventFrame::StandIn(object)) => visit.call(object)?,
            None => {}
        }
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
