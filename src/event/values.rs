//! The values of an event's attributes: each slot computed once, on demand, from a live frame, a stand-in
//! frame's `f_*` attributes or a builtin event's function (`cached`), a query field's value (`get`), the
//! printers' fast paths that read a live frame without creating Python objects, and `detach`, a frame-less
//! snapshot of the values.

use std::os::raw::c_int;

use crate::gilcell::MadeOnce;
use pyo3::prelude::*;
use pyo3::types::{PyCode, PyDict, PyFrame, PyString};

use super::data::{EventData, GIVEN_FACTS};
use super::field::Field;
use super::frame::{frame_code, EventFrame};
use super::kind::Kind;
use super::slots::{Slot, DETACHED_SLOTS, SLOT_COUNT};
use crate::codeinfo::{self, CodeInfo};
use crate::compat;
use crate::gilcell::{GilOnce, GilRc};

const NO_SOURCE: &str = "??? NO SOURCE: ";

impl EventData {
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

    pub(super) fn cached<'py>(&self, py: Python<'py>, slot: Slot) -> PyResult<&Bound<'py, PyAny>> {
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
        // The module facts of a live frame are its own, whatever the event's globals, as hunter's pure Event reads
        // `frame.f_globals`: Backlog's stack events, given empty globals, keep their module (hunter's Cython Event
        // reads `self.globals`, so there they have the module '' and a module filter drops them).
        let native_facts = matches!(self.frame, Some(EventFrame::Live(_)));
        let live = match slot {
            Slot::Module | Slot::Filename | Slot::Stdlib if !native_facts => {
                return self.module_fact_from_globals(py, slot);
            }
            Slot::Source => return self.source(py, false),
            Slot::Fullsource => return self.source(py, true),
            Slot::Threadid => return thread_id(py),
            Slot::Threadname => return current_thread_name(py),
            Slot::FunctionObject => {
                // Looked up in the event's own globals and locals, as hunter does: a detached event's are its copies.
                let (globals, locals) = (self.cached(py, Slot::Globals)?, self.cached(py, Slot::Locals)?);
                return Ok(codeinfo::python_helpers(py)?
                    .call_method1(
                        pyo3::intern!(py, "function_object"),
                        (globals, locals, self.cached(py, Slot::Code)?),
                    )?
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
                // The frame's code, as hunter reads it (`frame.f_code`): not `code`, which may have been set.
                let co_code = live.info.co_code(py, frame_code(frame).as_any())?;
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
            // Lossy: only the suffix is read, and a file name's undecodable bytes are lone surrogates.
            let name = name.to_string_lossy();
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
    static CURRENT_THREAD: MadeOnce<Py<PyAny>> = MadeOnce::new();
    let current_thread = CURRENT_THREAD
        .get_or_try_init(py, || Ok::<_, PyErr>(compat::import(py, "threading")?.getattr("current_thread")?.unbind()))?;
    Ok(current_thread.bind(py).call0()?.getattr(pyo3::intern!(py, "name"))?.unbind())
}

fn main_thread_ident(py: Python<'_>) -> PyResult<u64> {
    static MAIN: MadeOnce<u64> = MadeOnce::new();
    MAIN.get_or_try_init(py, || {
        crate::compat::import(py, "threading")?.call_method0("main_thread")?.getattr("ident")?.extract()
    })
    .copied()
}
