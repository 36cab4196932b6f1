//! `From(condition, predicate=None, watermark=0)`: once the condition matches, passes events (with depth
//! and calls made relative to that point) to the predicate until the depth drops below the watermark.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::pyclass::{PyTraverseError, PyVisit};
use pyo3::types::{PyDict, PyTuple};

use super::{evaluate, evaluate_outcome, with_event, Nested, Operand, Outcome};
use crate::event::EventRef;
use crate::gilcell::GilCell;

/// The depth and calls of the event that switched a `From` on. Switching off forgets only the depth
/// (`origin_calls` keeps showing the last value, as in hunter).
#[derive(Clone, Copy, Default)]
struct Origin {
    depth: Option<i64>,
    calls: Option<i64>,
}

/// From-point filtering: waits until ``condition`` matches an event, then applies ``predicate`` to that
/// event and every one after it, until an event's depth relative to the start falls below ``watermark``.
///
/// Once switched on, ``predicate`` sees each event with ``depth`` and ``calls`` made relative to the event
/// that matched ``condition``, so ``depth_lt=2`` means "at most one call deeper than the start". An event
/// whose relative depth is below ``watermark`` switches it off (that event does not match), and it waits
/// for ``condition`` again.
///
/// Args:
///     condition: the predicate that switches it on (a :class:`Query` or any callable taking an event).
///     predicate: applied to the events once switched on; ``None`` accepts them all. What it returns is
///         passed through.
///     watermark: the lowest depth, relative to the event that matched ``condition``, that keeps it on
///         (with ``0``, leaving the call where ``condition`` matched switches it off).
///
/// Example::
///
///     From(Query(function='main'), Query(depth_lt=2))
///
/// ``hunter.From(condition, depth_lt=2)`` builds the same from keyword arguments.
#[pyclass(module = "hunter.predicates", name = "From", frozen, subclass, weakref)]
pub struct From {
    condition: Operand,
    predicate: Option<Operand>,
    watermark: i64,
    origin: GilCell<Origin>,
}

impl From {
    pub(crate) fn evaluate<'py>(&self, py: Python<'py>, event: &EventRef<'_>) -> PyResult<Outcome<'py>> {
        let origin = self.origin.get(py);
        let stand_in = event.stand_in(py);
        // Read afresh at each use: the condition may set the event's fields (as on hunter's events). A stand-in's are
        // its attributes, as hunter's pure From reads them.
        let counters = |event: &EventRef<'_>| match stand_in {
            Some(stand_in) => Ok((
                stand_in.getattr(intern!(py, "depth"))?.extract()?,
                stand_in.getattr(intern!(py, "calls"))?.extract()?,
            )),
            None => event.data(py).map(|data| (data.depth, data.calls)),
        };
        let (delta_depth, delta_calls) = match (origin.depth, origin.calls) {
            (Some(origin_depth), Some(origin_calls)) => {
                let (depth, calls) = counters(event)?;
                let delta_depth = depth - origin_depth;
                if delta_depth < self.watermark {
                    self.origin.set(py, Origin { depth: None, ..origin });
                    return Ok(Outcome::Bool(false));
                }
                (delta_depth, calls - origin_calls)
            }
            _ => {
                if !evaluate(py, self.condition.bind(py), event)? {
                    return Ok(Outcome::Bool(false));
                }
                let (depth, calls) = counters(event)?;
                self.origin.set(py, Origin { depth: Some(depth), calls: Some(calls) });
                (0, 0)
            }
        };
        match &self.predicate {
            None => Ok(Outcome::Bool(true)),
            Some(predicate) => match stand_in {
                // As hunter's pure From: the stand-in's `clone()`, given the relative counters.
                Some(stand_in) => {
                    let relative = stand_in.call_method0(intern!(py, "clone"))?;
                    relative.setattr(intern!(py, "depth"), delta_depth)?;
                    relative.setattr(intern!(py, "calls"), delta_calls)?;
                    evaluate_outcome(py, predicate.bind(py), &EventRef::of_object(relative.unbind()))
                }
                None => {
                    let relative = event.data(py)?.clone_with_counters(py, delta_depth, delta_calls);
                    evaluate_outcome(py, predicate.bind(py), &EventRef::new(&relative))
                }
            },
        }
    }
}

impl super::remade::Remade for From {
    fn constructor_arguments<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyTuple>, Bound<'py, PyDict>)> {
        let predicate = self.predicate.as_ref().map(|predicate| predicate.clone_ref(py));
        let arguments = (self.condition.clone_ref(py), predicate, self.watermark).into_pyobject(py)?;
        Ok((arguments, PyDict::new(py)))
    }
}

predicate_pymethods!(From {
    #[new]
    #[pyo3(signature = (condition, predicate=None, watermark=None), text_signature = "(condition, predicate=None, watermark=0)")]
    fn new(condition: Py<PyAny>, predicate: Option<Py<PyAny>>, watermark: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        Ok(From {
            condition: Operand::new(condition),
            predicate: predicate.map(Operand::new),
            watermark: watermark.map_or(Ok(0), |watermark| crate::arguments::int("watermark", watermark))?,
            origin: GilCell::new(Origin::default()),
        })
    }

    /// Its references never change: see [`predicate_pymethods`] for why there is no `__clear__`.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&*self.condition)?;
        visit.call(self.predicate.as_deref())
    }

    fn __call__<'py>(&self, event: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let py = event.py();
        with_event(event, |event_ref| Ok(self.evaluate(py, event_ref)?.into_object(py)))
    }

    /// The predicate that switches this ``From`` on.
    #[getter]
    fn condition(&self, py: Python<'_>) -> Py<PyAny> {
        self.condition.clone_ref(py)
    }

    /// The predicate applied once switched on, or ``None`` (accept everything).
    #[getter]
    fn predicate(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.predicate.as_ref().map(|predicate| predicate.clone_ref(py))
    }

    /// The lowest depth, relative to where the condition matched, that keeps this ``From`` on.
    #[getter]
    fn watermark(&self) -> i64 {
        self.watermark
    }

    /// The depth at which the condition matched, or None while waiting for it.
    #[getter]
    fn origin_depth(&self, py: Python<'_>) -> Option<i64> {
        self.origin.get(py).depth
    }

    /// The call count at which the condition last matched, or None before it first matched.
    #[getter]
    fn origin_calls(&self, py: Python<'_>) -> Option<i64> {
        self.origin.get(py).calls
    }

    fn __str__(&self, py: Python<'_>) -> PyResult<String> {
        let _nested = Nested::enter()?;
        Ok(format!(
            "From({}, {}, watermark={})",
            self.condition.bind(py).str()?,
            self.predicate(py).into_pyobject(py)?.str()?,
            self.watermark
        ))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let _nested = Nested::enter()?;
        Ok(format!(
            "<hunter.predicates.From: condition={}, predicate={}, watermark={}>",
            self.condition.bind(py).repr()?,
            self.predicate(py).into_pyobject(py)?.repr()?,
            self.watermark
        ))
    }

    /// Compares condition and predicate only (hunter ignores the watermark).
    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<bool> {
        let _nested = Nested::enter()?;
        let Ok(other) = other.cast_exact::<From>() else { return Ok(false) };
        let other = other.get();
        Ok(self.condition.bind(py).eq(other.condition.bind(py))?
            && self.predicate(py).into_pyobject(py)?.eq(other.predicate(py))?)
    }
});
