//! CallPrinter's per-thread call stacks, the values of its class attribute `locals` (as in hunter, shared by
//! every instance and reset by `cleanup()`). Native, so that an event updates its thread's stack without a
//! tuple, an int and list operations per call.

use pyo3::exceptions::PyIndexError;
use pyo3::prelude::*;
use pyo3::pyclass::{PyTraverseError, PyVisit};

use crate::gilcell::GilRefCell;

/// A call that has not returned yet.
struct PendingCall {
    module: Py<PyAny>,
    function: Py<PyAny>,
    /// The address of its frame; None for a detached event's call.
    frame: Option<usize>,
}

/// One thread's calls that have not returned yet, oldest first. Reads as a sequence of
/// `(module, function, frame id or None)` tuples.
#[pyclass(module = "hunter._hunter", name = "CallStack", frozen, sequence)]
pub struct CallStack {
    calls: GilRefCell<Vec<PendingCall>>,
}

#[pymethods]
impl CallStack {
    #[new]
    fn new() -> Self {
        CallStack { calls: GilRefCell::new(Vec::new()) }
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        // SAFETY: called from `__traverse__` (the collector holds the GIL); the updates of `calls` create no
        // Python objects, so no collection runs inside one.
        for call in unsafe { self.calls.during_gc() }.into_iter().flatten() {
            visit.call(&call.module)?;
            visit.call(&call.function)?;
        }
        Ok(())
    }

    fn __clear__(&self, py: Python<'_>) {
        self.clear(py);
    }

    fn __len__(&self, py: Python<'_>) -> usize {
        self.len(py)
    }

    fn __getitem__(&self, py: Python<'_>, index: isize) -> PyResult<(Py<PyAny>, Py<PyAny>, Option<usize>)> {
        self.calls.with_mut(py, |calls| {
            let position = if index < 0 { index.checked_add_unsigned(calls.len()) } else { Some(index) };
            let call = position
                .and_then(|position| usize::try_from(position).ok())
                .and_then(|position| calls.get(position))
                .ok_or_else(|| PyIndexError::new_err("call stack index out of range"))?;
            Ok((call.module.clone_ref(py), call.function.clone_ref(py), call.frame))
        })
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let entries =
            slf.try_iter()?.map(|entry| entry?.repr().map(|text| text.to_string())).collect::<PyResult<Vec<_>>>()?;
        Ok(format!("CallStack([{}])", entries.join(", ")))
    }

    /// Forgets every call.
    fn clear(&self, py: Python<'_>) {
        // Released outside of the update: releasing a module object may run code.
        let _forgotten = self.calls.replace(py, Vec::new());
    }
}

impl CallStack {
    pub fn len(&self, py: Python<'_>) -> usize {
        self.calls.with_mut(py, |calls| calls.len())
    }

    pub fn push(&self, py: Python<'_>, module: &Bound<'_, PyAny>, function: &Bound<'_, PyAny>, frame: Option<usize>) {
        let call = PendingCall { module: module.clone().unbind(), function: function.clone().unbind(), frame };
        self.calls.with_mut(py, |calls| calls.push(call));
    }

    /// The frame of the newest call: None when there is none, Some(None) when it has no frame.
    pub fn top_frame(&self, py: Python<'_>) -> Option<Option<usize>> {
        self.calls.with_mut(py, |calls| calls.last().map(|call| call.frame))
    }

    /// Pops the newest calls while their frames are not among `live_frames` (stopping at a call without one).
    pub fn pop_finished(&self, py: Python<'_>, live_frames: &[usize]) {
        let finished = self.calls.with_mut(py, |calls| {
            let kept = calls.iter().rposition(|call| call.frame.is_none_or(|frame| live_frames.contains(&frame)));
            calls.split_off(kept.map_or(0, |index| index + 1))
        });
        drop(finished);
    }

    /// A return pops the newest call when it is the returning function's (compared as hunter compares the
    /// `(module, function)` tuples: identity first, then `==`).
    pub fn pop_returning(
        &self,
        py: Python<'_>,
        module: &Bound<'_, PyAny>,
        function: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let Some((top_module, top_function)) = self
            .calls
            .with_mut(py, |calls| calls.last().map(|call| (call.module.clone_ref(py), call.function.clone_ref(py))))
        else {
            return Ok(());
        };
        // `==` may run Python code (which may change this stack), so it runs outside of any update.
        let same = |item: &Py<PyAny>, value: &Bound<'_, PyAny>| -> PyResult<bool> {
            Ok(item.bind(py).is(value) || item.bind(py).eq(value)?)
        };
        if same(&top_module, module)? && same(&top_function, function)? {
            let popped = self.calls.with_mut(py, |calls| calls.pop());
            drop(popped);
        }
        Ok(())
    }
}
