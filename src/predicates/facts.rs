//! `StaticFacts`: what a verdict is judged on (the code-static fields of the events of one code object and kind).

use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::codeinfo::{CodeInfo, ModuleFacts};
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
        Ok(Self::of(info, &*info.module_facts(globals.py(), globals)?, kind, globals.py()))
    }

    /// The facts of Python events of `kind` for `info`'s code with module facts `facts`.
    pub fn of(info: &CodeInfo, facts: &ModuleFacts, kind: Kind, py: Python<'py>) -> Self {
        StaticFacts {
            kind,
            function: info.function.bind(py).clone(),
            module: facts.module.bind(py).clone(),
            filename: facts.filename.bind(py).clone(),
            stdlib: facts.stdlib,
        }
    }
}
