//! What an event holds (`EventData`): its frame, kind, argument, counters and the cells of its lazily computed
//! attributes; how it is built (from a trace callback or from Python), given a new frame or attribute, copied
//! (`clone_with_counters`), and traversed and cleared by the garbage collector.

use pyo3::exceptions::PyAttributeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::pyclass::{PyTraverseError, PyVisit};
use pyo3::types::{PyCode, PyFrame};

use super::frame::{EventFrame, FrameWithCode};
use super::kind::Kind;
use super::slots::{Slot, SLOT_COUNT};
use crate::codeinfo::CodeInfo;
use crate::gilcell::{GilOnce, GilRc};

pub struct EventData {
    pub(super) frame: Option<EventFrame>,
    pub kind: Kind,
    pub builtin: bool,
    pub arg: Py<PyAny>,
    pub depth: i64,
    pub calls: i64,
    pub threading_support: Option<bool>,
    pub detached: bool,
    /// Delivered by a settrace-mode tracer, so the frame's line is the one line tracing maintains.
    pub(super) line_tracing: bool,
    pub(super) slots: [GilOnce<Py<PyAny>>; SLOT_COUNT],
    /// The slots set from outside (by `detach`, or Python assigning `globals`/`locals`) rather than derived
    /// from the frame, one bit per `Slot`: replacing the frame keeps those and drops the others.
    pub(super) given: u16,
}

/// The `given` bits of the fields that the printers' live path reads from the frame instead: an event with
/// any of them set from outside (a detached event with a frame put back) is printed from its fields.
pub(super) const GIVEN_FACTS: u16 = 1 << Slot::Code as u16
    | 1 << Slot::Function as u16
    | 1 << Slot::Module as u16
    | 1 << Slot::Filename as u16
    | 1 << Slot::Lineno as u16
    | 1 << Slot::Source as u16
    | 1 << Slot::Globals as u16;

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

    /// Sets a field from outside (Python assigning it); hands back what it held, for the caller to release.
    #[must_use]
    pub(super) fn give(&mut self, slot: Slot, value: Py<PyAny>) -> GilOnce<Py<PyAny>> {
        self.given |= 1 << slot as usize;
        std::mem::replace(&mut self.slots[slot as usize], GilOnce::from(value))
    }

    /// The frame, or the error hunter gives for an event without one.
    pub(super) fn frame_or_error(&self) -> PyResult<&EventFrame> {
        self.frame.as_ref().ok_or_else(|| PyAttributeError::new_err("'NoneType' object has no attribute 'f_code'"))
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
}

fn clone_cell(py: Python<'_>, cell: &GilOnce<Py<PyAny>>) -> GilOnce<Py<PyAny>> {
    let copy = GilOnce::default();
    if let Some(value) = cell.get(py) {
        copy.set(py, value.clone_ref(py));
    }
    copy
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
