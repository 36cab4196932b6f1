//! What a predicate is made of, to be made again (`copy`, `pickle`: see `__getnewargs_ex__` in
//! `predicate_pymethods!`). A module of its own, so that `Query`, which the other predicates build on, needs only it.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

/// The arguments of a predicate's constructor that make it again.
pub(crate) trait Remade {
    fn constructor_arguments<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyTuple>, Bound<'py, PyDict>)>;
}
