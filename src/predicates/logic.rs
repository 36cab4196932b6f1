//! `And`, `Or`, `Not` and the `| & ~` algebra shared by every predicate class.

use pyo3::prelude::*;
use pyo3::pyclass::{PyTraverseError, PyVisit};
use pyo3::types::PyTuple;

use super::{evaluate, join_str, static_verdict, with_event, Nested, Operand, StaticFacts};
use crate::event::EventRef;
use crate::verdict::Verdict;

/// What `And` and `Or` have in common: a tuple of predicates, evaluated in order until one result is
/// `DECISIVE` (false for And, true for Or), which is then the answer.
pub(crate) trait Junction: pyo3::PyClass<Frozen = pyo3::pyclass::boolean_struct::True> + Sync {
    const DECISIVE: bool;
    /// The verdict of a child that settles the junction, and of one that changes nothing.
    const DECISIVE_VERDICT: Verdict;
    const NEUTRAL_VERDICT: Verdict;
    /// The other junction, for De Morgan: `Not(a) | Not(b)` is `Not(And(a, b))`.
    type Dual: Junction;

    fn create(py: Python<'_>, predicates: Py<PyTuple>) -> PyResult<Bound<'_, PyAny>>;
    fn predicates(&self) -> &Py<PyTuple>;

    fn evaluate(&self, py: Python<'_>, event: &EventRef<'_>) -> PyResult<bool> {
        for predicate in self.predicates().bind(py).iter() {
            if evaluate(py, &predicate, event)? == Self::DECISIVE {
                return Ok(Self::DECISIVE);
            }
        }
        Ok(!Self::DECISIVE)
    }
}

fn new_junction<'py, J: Junction>(
    py: Python<'py>,
    predicates: impl IntoIterator<Item = Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let predicates: Vec<Bound<'py, PyAny>> = predicates.into_iter().collect();
    J::create(py, PyTuple::new(py, predicates)?.unbind())
}

/// `predicate`'s children if it is a `J`, else just itself: the flattening of `Or(a, b) | c`.
fn members<'py, J: Junction>(predicate: &Bound<'py, PyAny>) -> Vec<Bound<'py, PyAny>> {
    match predicate.cast_exact::<J>() {
        Ok(junction) => junction.get().predicates().bind(predicate.py()).iter().collect(),
        Err(_) => vec![predicate.clone()],
    }
}

/// `left | right` (J = Or) or `left & right` (J = And) where `left` is one of our predicates.
pub(crate) fn combine<'py, J: Junction>(
    left: &Bound<'py, PyAny>,
    right: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = left.py();
    if left.is_exact_instance_of::<J>() {
        return new_junction::<J>(py, members::<J>(left).into_iter().chain(members::<J>(right)));
    }
    if let (Ok(left), Ok(right)) = (left.cast_exact::<Not>(), right.cast_exact::<Not>()) {
        let inner = [left.get().predicate.bind(py).clone(), right.get().predicate.bind(py).clone()];
        return negation(&new_junction::<J::Dual>(py, inner)?);
    }
    new_junction::<J>(py, [left.clone(), right.clone()])
}

/// `left | right` reached through `right.__ror__` (left is not one of our predicates): only the right
/// side is flattened.
pub(crate) fn combine_reflected<'py, J: Junction>(
    left: &Bound<'py, PyAny>,
    right: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    new_junction::<J>(left.py(), std::iter::once(left.clone()).chain(members::<J>(right)))
}

/// `Not(predicate)`.
pub(crate) fn negation<'py, P>(predicate: &Bound<'py, P>) -> PyResult<Bound<'py, PyAny>> {
    Ok(Bound::new(predicate.py(), Not { predicate: Operand::new(predicate.as_any().clone().unbind()) })?.into_any())
}

/// hunter's `_flatten`: a single predicate is returned as it is; several are joined into one `J`, with
/// the children of `J`s among them spliced in.
pub(crate) fn flatten<'py, J: Junction>(
    py: Python<'py>,
    mut predicates: Vec<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    if predicates.len() == 1 {
        return Ok(predicates.remove(0));
    }
    new_junction::<J>(py, predicates.iter().flat_map(members::<J>))
}

/// The verdict of a junction from its children's, in evaluation order: a decisive child settles it
/// unless a child before it may have effects.
pub(crate) fn junction_verdict<J: Junction>(
    junction: &J,
    py: Python<'_>,
    facts: &StaticFacts<'_>,
) -> PyResult<Verdict> {
    let mut result = J::NEUTRAL_VERDICT;
    for child in junction.predicates().bind(py).iter() {
        match static_verdict(&child, facts)? {
            verdict if verdict == J::DECISIVE_VERDICT => {
                return Ok(if result == Verdict::Effectful { Verdict::Effectful } else { verdict });
            }
            verdict if verdict == J::NEUTRAL_VERDICT => {}
            Verdict::Depends if result == J::NEUTRAL_VERDICT => result = Verdict::Depends,
            Verdict::Depends => {}
            _ => result = Verdict::Effectful,
        }
    }
    Ok(result)
}

/// Defines the `And` / `Or` pyclasses, which differ only in their constants and name.
macro_rules! junction_class {
    ($(#[$doc:meta])* $class:ident, $dual:ident, decisive: $decisive:expr, decisive_verdict: $decisive_verdict:expr, neutral_verdict: $neutral_verdict:expr) => {
        $(#[$doc])*
        #[pyclass(module = "hunter.predicates", frozen, subclass, weakref)]
        pub struct $class {
            pub(crate) predicates: Py<PyTuple>,
        }

        impl Junction for $class {
            const DECISIVE: bool = $decisive;
            const DECISIVE_VERDICT: Verdict = $decisive_verdict;
            const NEUTRAL_VERDICT: Verdict = $neutral_verdict;
            type Dual = $dual;

            fn create(py: Python<'_>, predicates: Py<PyTuple>) -> PyResult<Bound<'_, PyAny>> {
                Ok(Bound::new(py, $class { predicates })?.into_any())
            }

            fn predicates(&self) -> &Py<PyTuple> {
                &self.predicates
            }
        }

        impl super::remade::Remade for $class {
            fn constructor_arguments<'py>(
                &self,
                py: Python<'py>,
            ) -> PyResult<(Bound<'py, PyTuple>, Bound<'py, pyo3::types::PyDict>)> {
                Ok((self.predicates.bind(py).clone(), pyo3::types::PyDict::new(py)))
            }
        }

        predicate_pymethods!($class {
            #[new]
            #[pyo3(signature = (*predicates))]
            fn new(predicates: Bound<'_, PyTuple>) -> Self {
                $class { predicates: predicates.unbind() }
            }

            /// Its references never change: see [`predicate_pymethods`] for why there is no `__clear__`.
            fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
                visit.call(&self.predicates)
            }

            fn __call__(&self, event: &Bound<'_, PyAny>) -> PyResult<bool> {
                with_event(event, |event_ref| Junction::evaluate(self, event.py(), event_ref))
            }

            /// The predicates, in the order they are tried.
            #[getter]
            fn predicates(&self, py: Python<'_>) -> Py<PyTuple> {
                self.predicates.clone_ref(py)
            }

            fn __str__(&self, py: Python<'_>) -> PyResult<String> {
                let _nested = Nested::enter()?;
                Ok(format!("{}({})", stringify!($class), join_str(self.predicates.bind(py))?))
            }

            fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
                let _nested = Nested::enter()?;
                Ok(format!("<hunter.predicates.{}: predicates={}>", stringify!($class), self.predicates.bind(py).repr()?))
            }

            fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<bool> {
                let _nested = Nested::enter()?;
                match other.cast_exact::<$class>() {
                    Ok(other) => self.predicates.bind(py).eq(other.get().predicates.bind(py)),
                    Err(_) => Ok(false),
                }
            }
        });
    };
}

junction_class!(
    /// Logical conjunction: matches when every one of ``predicates`` matches, trying them in order and
    /// stopping at the first that does not (so later ones, and their actions, do not run).
    ///
    /// Args:
    ///     predicates: the predicates (:class:`Query` objects or any callables taking an event).
    ///
    /// ``a & b`` gives ``And(a, b)``; ``And(a, b) & c`` gives ``And(a, b, c)``. Example::
    ///
    ///     And(Query(module='myapp'), Query(kind='call'))
    And, Or, decisive: false, decisive_verdict: Verdict::Never, neutral_verdict: Verdict::Always
);
junction_class!(
    /// Logical disjunction: matches when any one of ``predicates`` matches, trying them in order and
    /// stopping at the first that does (so later ones, and their actions, do not run).
    ///
    /// Args:
    ///     predicates: the predicates (:class:`Query` objects or any callables taking an event).
    ///
    /// ``a | b`` gives ``Or(a, b)``; ``Or(a, b) | c`` gives ``Or(a, b, c)``. Example::
    ///
    ///     Or(Query(function='open'), Query(function_startswith='read'))
    Or, And, decisive: true, decisive_verdict: Verdict::Always, neutral_verdict: Verdict::Never
);

/// Logical negation: matches when ``predicate`` does not.
///
/// Args:
///     predicate: the predicate to negate (a :class:`Query` or any callable taking an event).
///
/// ``~p`` gives ``Not(p)`` and ``~Not(p)`` gives ``p`` back; ``Not(a) | Not(b)`` is ``Not(And(a, b))``.
/// Example::
///
///     Not(Query(stdlib=True))
#[pyclass(module = "hunter.predicates", name = "Not", frozen, subclass, weakref)]
pub struct Not {
    pub(crate) predicate: Operand,
}

impl Not {
    /// `~Not(x)` is `x`.
    fn inverted<'py>(slf: &Bound<'py, Not>) -> PyResult<Bound<'py, PyAny>> {
        Ok(slf.get().predicate.bind(slf.py()).clone())
    }

    pub(crate) fn evaluate(&self, py: Python<'_>, event: &EventRef<'_>) -> PyResult<bool> {
        Ok(!evaluate(py, self.predicate.bind(py), event)?)
    }
}

impl super::remade::Remade for Not {
    fn constructor_arguments<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyTuple>, Bound<'py, pyo3::types::PyDict>)> {
        Ok((PyTuple::new(py, [self.predicate.clone_ref(py)])?, pyo3::types::PyDict::new(py)))
    }
}

predicate_pymethods!(Not, inverted: Not::inverted, {
    #[new]
    fn new(predicate: Py<PyAny>) -> Self {
        Not { predicate: Operand::new(predicate) }
    }

    /// Its references never change: see [`predicate_pymethods`] for why there is no `__clear__`.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&*self.predicate)
    }

    fn __call__(&self, event: &Bound<'_, PyAny>) -> PyResult<bool> {
        with_event(event, |event_ref| self.evaluate(event.py(), event_ref))
    }

    /// The negated predicate.
    #[getter]
    fn predicate(&self, py: Python<'_>) -> Py<PyAny> {
        self.predicate.clone_ref(py)
    }

    fn __str__(&self, py: Python<'_>) -> PyResult<String> {
        let _nested = Nested::enter()?;
        Ok(format!("Not({})", self.predicate.bind(py).str()?))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let _nested = Nested::enter()?;
        Ok(format!("<hunter.predicates.Not: predicate={}>", self.predicate.bind(py).repr()?))
    }

    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<bool> {
        let _nested = Nested::enter()?;
        match other.cast_exact::<Not>() {
            Ok(other) => self.predicate.bind(py).eq(other.get().predicate.bind(py)),
            Err(_) => Ok(false),
        }
    }
});
