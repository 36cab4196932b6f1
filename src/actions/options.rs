//! The options of an action as the Python side resolved them (config defaults, `stream='path'`, colours), read
//! natively once and again after any option changes, with the caches that live as long as they do.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::pyclass::{PyTraverseError, PyVisit};
use pyo3::types::PySet;

use super::caches::{CachedStack, FilenameColumns, LineRows};
use super::colours::Palette;
use super::rows::Templates;
use crate::gilcell::{GilCell, GilRefCell};

/// How values are rendered (`repr_func`).
pub(super) enum Render {
    SafeRepr,
    Repr,
    Callable(Py<PyAny>),
}

/// The options of one action that every printer uses, as the Python side resolved them, and the caches kept with
/// them.
pub(super) struct Options {
    /// The action replaces a method hunter's printers call on themselves: rows are written in hook mode
    /// (see [`super::rows`]).
    pub(super) hooked: bool,
    pub(super) templates: Templates,
    pub(super) stream: Py<PyAny>,
    pub(super) write: Py<PyAny>,
    pub(super) palette: Palette,
    pub(super) force_pid: bool,
    pub(super) seen_pid: Py<PyAny>,
    /// `seen_pid` when it is an int, compared without a Python call.
    pub(super) seen_pid_number: Option<u32>,
    pub(super) seen_threads: Py<PySet>,
    /// The thread last added to `seen_threads`, so that a thread is not added again on every event.
    pub(super) last_seen_thread: GilCell<u64>,
    /// CallPrinter: the `locals` dict, thread and stack list of the last event.
    pub(super) last_stack: GilCell<Option<CachedStack>>,
    /// CallPrinter's line rows, by code object and line (see `call::line_row`).
    pub(super) line_rows: GilCell<LineRows>,
    /// Formatted filename columns (see `prefixes::push_filename_prefix`).
    pub(super) filename_columns: GilRefCell<FilenameColumns>,
    pub(super) filename_alignment: usize,
    pub(super) thread_alignment: usize,
    pub(super) pid_alignment: usize,
    /// `None` when `repr_limit` is not a non-negative int: the Python `_clip` applies it then.
    pub(super) repr_limit: Option<usize>,
    pub(super) render: Render,
}

/// The widest column the alignment options may ask for. hunter pads to any width (`2**62` ends in a
/// MemoryError, `10**9` writes gigabyte rows); a wider value is refused when the options are read (at the first
/// event: a reported handler failure, the program runs on), before any padding is allocated.
const MAX_ALIGNMENT: usize = 100_000;

fn alignment(action: &Bound<'_, PyAny>, name: &str) -> PyResult<usize> {
    let value = action.getattr(name)?;
    let too_wide = || PyValueError::new_err(format!("{name} must be at most {MAX_ALIGNMENT}, not {value}"));
    match value.extract::<usize>() {
        Ok(width) if width > MAX_ALIGNMENT => Err(too_wide()),
        Ok(width) => Ok(width),
        // An int too large for a word is too wide too.
        Err(_) if value.is_instance_of::<pyo3::types::PyInt>() && value.ge(0)? => Err(too_wide()),
        Err(_) => Err(PyValueError::new_err(format!("{name} must be a non-negative integer"))),
    }
}

impl Options {
    pub(super) fn read(action: &Bound<'_, PyAny>) -> PyResult<Options> {
        let py = action.py();
        let stream = action.getattr("stream")?;
        let write = stream.getattr("write")?;
        let repr_func = action.getattr("repr_func")?;
        let builtins = crate::compat::import(py, "builtins")?;
        let render = if repr_func.is(&builtins.getattr("repr")?) {
            Render::Repr
        } else if repr_func.is(&crate::compat::import(py, "hunter._hunter")?.getattr("safe_repr")?) {
            Render::SafeRepr
        } else {
            Render::Callable(repr_func.unbind())
        };
        let seen_pid = action.getattr("seen_pid")?;
        let other_colors = action.getattr("other_colors")?;
        Ok(Options {
            hooked: action.call_method0("_overrides_hooks")?.is_truthy()?,
            templates: Templates::compile(&other_colors)?,
            palette: Palette::read(&other_colors, &action.getattr("event_colors")?)?,
            force_pid: action.getattr("force_pid")?.is_truthy()?,
            seen_pid_number: seen_pid
                .is_exact_instance_of::<pyo3::types::PyInt>()
                .then(|| seen_pid.extract().ok())
                .flatten(),
            seen_pid: seen_pid.unbind(),
            seen_threads: action.getattr("seen_threads")?.cast_into::<PySet>()?.unbind(),
            last_seen_thread: GilCell::new(0),
            last_stack: GilCell::new(None),
            line_rows: GilCell::new(LineRows::default()),
            filename_columns: GilRefCell::new(Default::default()),
            filename_alignment: alignment(action, "filename_alignment")?,
            thread_alignment: alignment(action, "thread_alignment")?,
            pid_alignment: alignment(action, "pid_alignment")?,
            repr_limit: action.getattr("repr_limit")?.extract().ok(),
            render,
            stream: stream.unbind(),
            write: write.unbind(),
        })
    }
}

impl Options {
    /// Visits the Python objects the options hold, for the action's `__traverse__` (which owns them: the
    /// clones of its `GilRc` live only on the stack of a call printing with them).
    ///
    /// # Safety
    /// Only from `__traverse__`, where the collector holds the GIL.
    pub(super) unsafe fn traverse(&self, visit: &PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.stream)?;
        visit.call(&self.write)?;
        visit.call(&self.seen_pid)?;
        visit.call(&self.seen_threads)?;
        if let Render::Callable(repr_func) = &self.render {
            visit.call(repr_func)?;
        }
        // SAFETY: from `__traverse__` (this function's contract, the collector holds the GIL); the cell is only
        // replaced.
        if let Some((stacks, _, _, stack)) = unsafe { self.last_stack.during_gc() } {
            visit.call(stacks)?;
            visit.call(stack)?;
        }
        // SAFETY: as above: from `__traverse__`; the cell is only replaced.
        for row in unsafe { self.line_rows.during_gc() }.values() {
            visit.call(row.globals.held())?;
        }
        // SAFETY: as above: from `__traverse__`; the updates of this cell run closures that create no Python objects,
        // so no collection starts inside one.
        for (filename, _) in unsafe { self.filename_columns.during_gc() }.into_iter().flatten().flatten() {
            visit.call(filename)?;
        }
        Ok(())
    }
}
