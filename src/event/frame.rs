//! An event's frame (`EventFrame`): a live frame with the facts of its code (`FrameWithCode`), or a stand-in
//! object read through its `f_*` attributes; and `parent_frame`, which walks either kind up.

use pyo3::prelude::*;
use pyo3::types::{PyCode, PyFrame};

use crate::codeinfo::CodeInfo;
use crate::compat;
use crate::gilcell::GilRc;

/// A frame object with the facts of the code it runs. Only built from a checked frame and the facts of that
/// frame's own code, so the code's variable slots index this frame's fast locals.
pub struct FrameWithCode {
    pub(super) frame: Py<PyFrame>,
    pub(super) info: GilRc<CodeInfo>,
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

    pub(super) fn clone_ref(&self, py: Python<'_>) -> Self {
        FrameWithCode { frame: self.frame.clone_ref(py), info: self.info.clone_ref(py) }
    }
}

/// The frame's code object, borrowed from the frame.
pub(super) fn frame_code<'a, 'py>(frame: &'a Bound<'py, PyFrame>) -> Borrowed<'a, 'py, PyCode> {
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

    /// What tells running frames apart (`compat::RunningFrame`): a real frame's identity, a stand-in's address.
    pub fn identity(&self, py: Python<'_>) -> usize {
        match self.live(py) {
            Some(frame) => crate::compat::frame_identity(frame.as_borrowed()),
            None => self.as_any(py).as_ptr() as usize,
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
