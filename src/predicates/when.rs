//! `When(condition, *actions)`: runs the actions, in order, on events the condition accepts.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::pyclass::{PyTraverseError, PyVisit};
use pyo3::types::{PyDict, PyTuple};

use super::{evaluate, instantiate_action, with_event, Nested, Operand, Query};
use crate::event::EventRef;

/// Conditional predicate: runs the ``actions``, in order, on every event that ``condition`` matches.
///
/// Args:
///     condition: a predicate (a :class:`Query` or any callable taking an event).
///     actions: one or more callables run with the event when ``condition`` matches; an action class
///         (such as ``CallPrinter``) is instantiated with no arguments. At least one is required.
///
/// Calling it returns whether ``condition`` matched.
///
/// Example::
///
///     When(Query(function='handle'), CallPrinter, VarsPrinter('request'))
#[pyclass(module = "hunter.predicates", name = "When", frozen, subclass, weakref)]
pub struct When {
    pub(crate) condition: Operand,
    pub(crate) actions: Py<PyTuple>,
    /// The condition is a `Query()` without filters (as in `trace(action=...)`): it accepts every event.
    accepts_all: bool,
}

impl When {
    /// Whether the condition accepts every event (a `Query()` without filters).
    pub(crate) fn accepts_all(&self) -> bool {
        self.accepts_all
    }

    pub(crate) fn evaluate(&self, py: Python<'_>, event: &EventRef<'_>) -> PyResult<bool> {
        if !self.accepts_all && !evaluate(py, self.condition.bind(py), event)? {
            return Ok(false);
        }
        for action in self.actions.bind(py).iter() {
            // Our printers format straight from the event data: no Python `Event` object, no Python frame.
            match crate::actions::print_natively(&action, event) {
                Some(printed) => printed?,
                None => {
                    action.call1((event.as_py(py)?,))?;
                }
            }
        }
        Ok(true)
    }
}

impl super::remade::Remade for When {
    fn constructor_arguments<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyTuple>, Bound<'py, PyDict>)> {
        let arguments: Vec<_> =
            std::iter::once(self.condition.bind(py).clone()).chain(self.actions.bind(py).iter()).collect();
        Ok((PyTuple::new(py, arguments)?, PyDict::new(py)))
    }
}

predicate_pymethods!(When {
    #[new]
    #[pyo3(signature = (condition, *actions))]
    fn new(py: Python<'_>, condition: Py<PyAny>, actions: &Bound<'_, PyTuple>) -> PyResult<Self> {
        if actions.is_empty() {
            return Err(PyTypeError::new_err("Must give at least one action."));
        }
        let actions = actions.iter().map(|action| instantiate_action(&action)).collect::<PyResult<Vec<_>>>()?;
        let accepts_all = condition.bind(py).cast_exact::<Query>().is_ok_and(|query| query.get().accepts_all());
        Ok(When { condition: Operand::new(condition), actions: PyTuple::new(py, actions)?.unbind(), accepts_all })
    }

    /// Its references never change: see [`predicate_pymethods`] for why there is no `__clear__`.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&*self.condition)?;
        visit.call(&self.actions)
    }

    fn __call__(&self, event: &Bound<'_, PyAny>) -> PyResult<bool> {
        with_event(event, |event_ref| self.evaluate(event.py(), event_ref))
    }

    /// The predicate that decides when the actions run.
    #[getter]
    fn condition(&self, py: Python<'_>) -> Py<PyAny> {
        self.condition.clone_ref(py)
    }

    /// The actions, as a tuple (action classes given to the constructor are instances here).
    #[getter]
    fn actions(&self, py: Python<'_>) -> Py<PyTuple> {
        self.actions.clone_ref(py)
    }

    fn __str__(&self, py: Python<'_>) -> PyResult<String> {
        let _nested = Nested::enter()?;
        let actions: Vec<String> =
            self.actions.bind(py).iter().map(|action| Ok(action.repr()?.to_string())).collect::<PyResult<_>>()?;
        Ok(format!("When({}, {})", self.condition.bind(py).str()?, actions.join(", ")))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let _nested = Nested::enter()?;
        Ok(format!(
            "<hunter.predicates.When: condition={}, actions={}>",
            self.condition.bind(py).repr()?,
            self.actions.bind(py).repr()?
        ))
    }

    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<bool> {
        let _nested = Nested::enter()?;
        let Ok(other) = other.cast_exact::<When>() else { return Ok(false) };
        let other = other.get();
        Ok(self.condition.bind(py).eq(other.condition.bind(py))? && self.actions.bind(py).eq(other.actions.bind(py))?)
    }
});
