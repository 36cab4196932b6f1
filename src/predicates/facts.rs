//! `StaticFacts`: what a verdict is judged on (the code-static fields of the events of one code object and kind).

use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::codeinfo::CodeInfo;
use crate::event::Kind;

/// Code-static facts of the events a verdict is asked for.
pub struct StaticFacts<'py> {
    pub kind: Kind,
    pub function: Bound<'py, PyAny>,
    pub module: Bound<'py, PyAny>,
    pub filename: Bound<'py, PyAny>,
    pub stdlib: bool,
}

impl<'py> StaticFacts<'py> {
    /// The facts of Python (non-builtin) events of `kind` for `info`'s code running with `globals`.
    pub fn of_code(info: &CodeInfo, globals: &Bound<'py, PyDict>, kind: Kind) -> PyResult<Self> {
        let py = globals.py();
        let facts = info.module_facts(py, globals)?;
        Ok(StaticFacts {
            kind,
            function: info.function.bind(py).clone(),
            module: facts.module.bind(py).clone(),
            filename: facts.filename.bind(py).clone(),
            stdlib: facts.stdlib,
        })
    }
}
