//! Predicates: the Query language and its combinators, evaluated natively against `EventRef`s.
//!
//! Besides evaluating an event, every predicate can give a *static verdict* for a code object and an
//! event kind (see `Verdict`), which the tracer caches per code object so that events of code that can
//! never match are rejected without building an event at all.

use pyo3::prelude::*;

use crate::event::{EventRef, Kind};

/// What a predicate is known to do for every event of one code object and kind.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Verdict {
    /// Not computed yet (cache filler).
    Unknown,
    /// Always false, and evaluating it has no side effects: the event can be skipped.
    Never,
    /// Always true, with no side effects.
    Always,
    /// Depends on the event (line, depth, locals...), no side effects.
    Depends,
    /// Evaluating it may have side effects (actions, stateful predicates, Python callables).
    Effectful,
}

/// Code-static facts of the events a verdict is asked for.
pub struct StaticFacts<'py> {
    pub kind: Kind,
    pub function: Bound<'py, PyAny>,
    pub module: Bound<'py, PyAny>,
    pub filename: Bound<'py, PyAny>,
    pub stdlib: bool,
}

/// Evaluates any predicate (ours natively, anything else as a Python callable) on an event.
pub fn evaluate(py: Python<'_>, predicate: &Bound<'_, PyAny>, event: &EventRef<'_>) -> PyResult<bool> {
    predicate.call1((event.as_py(py)?,))?.is_truthy()
}

/// The static verdict of any predicate for Python events of one code object and kind.
pub fn static_verdict(_predicate: &Bound<'_, PyAny>, _facts: &StaticFacts<'_>) -> PyResult<Verdict> {
    Ok(Verdict::Effectful)
}

pub fn register(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}
