//! Which `repr()` calls safe_repr lets run: hunter's trusted modules, narrowed to reprs that run library
//! code only (a class in a trusted module may still define its own `__repr__`, and a few builtins embed
//! other objects' reprs in theirs, which must then be plain data).

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFrozenSet, PyList, PySet, PyString, PyTuple, PyType};
use pyo3::{ffi, intern};

use super::known::{is_any_type, is_ffi_type, is_heap_type, is_type, Known};

/// Modules whose classes hunter trusts to have a side-effect free `repr()`.
const TRUSTED_MODULES: [&str; 6] = ["builtins", "io", "socket", "_socket", "zoneinfo", "decimal"];

/// How deep [`is_plain_data`] looks inside builtin wrappers before giving up (and distrusting them).
const MAX_PLAIN_DATA_NESTING: usize = 16;

/// hunter's `type(obj).__module__ in (...)`, minus the `==` call on a non-`str` module value
/// (which only a user class could hold, and which compares unequal unless it runs user code).
pub(super) fn is_trusted_module(module: &Bound<'_, PyAny>) -> bool {
    module
        .cast::<PyString>()
        .ok()
        .and_then(|module| module.to_str().ok().map(|module| TRUSTED_MODULES.contains(&module)))
        .unwrap_or(false)
}

/// Whether `repr(obj)` (already accepted by hunter's module rule) runs only library code. hunter would
/// call it regardless; declining keeps user `__repr__` code from running inside the tracer:
/// - a class can claim a trusted `__module__` yet define `__repr__` in user code, so for heap types the
///   `__repr__` found along the MRO must be a C slot or a function from a trusted module (or
///   `collections`, for namedtuples such as `decimal.DecimalTuple`);
/// - a few builtins put another object's repr in their own, so their contents must be plain data.
pub(super) fn repr_runs_only_library_code(
    obj: &Bound<'_, PyAny>,
    ty: &Bound<'_, PyType>,
    known: &Known,
) -> PyResult<bool> {
    if is_heap_type(ty) && !heap_type_repr_is_library_code(ty, known)? {
        return Ok(false);
    }
    is_plain_data_holder(obj, ty, known, 0).map(|plain| plain.unwrap_or(true))
}

fn heap_type_repr_is_library_code(ty: &Bound<'_, PyType>, known: &Known) -> PyResult<bool> {
    let py = ty.py();
    for class in ty.mro().iter() {
        let class = class.cast_into::<PyType>()?;
        let namespace = class.getattr(intern!(py, "__dict__"))?;
        let Ok(repr) = namespace.get_item(intern!(py, "__repr__")) else {
            continue;
        };
        if !is_heap_type(&class) || is_type(&repr.get_type(), &known.wrapper_descriptor) {
            return Ok(true);
        }
        if !is_ffi_type(&repr.get_type(), &raw mut ffi::PyFunction_Type) {
            return Ok(false);
        }
        let module = repr.getattr(intern!(py, "__module__"))?;
        return Ok(is_trusted_module(&module)
            || module.cast::<PyString>().is_ok_and(|m| m.to_str().is_ok_and(|m| m == "collections")));
    }
    Ok(true)
}

/// Whether `repr(obj)` shows nothing but builtin data and builtin callables.
fn is_plain_data(obj: &Bound<'_, PyAny>, known: &Known, nesting: usize) -> PyResult<bool> {
    if nesting > MAX_PLAIN_DATA_NESTING {
        return Ok(false);
    }
    let ty = obj.get_type();
    if is_any_type(&ty, &known.plain_leaves) {
        return Ok(true);
    }
    let all_plain = |items: &Bound<'_, PyAny>| -> PyResult<bool> {
        for item in items.try_iter()? {
            if !is_plain_data(&item?, known, nesting + 1)? {
                return Ok(false);
            }
        }
        Ok(true)
    };
    if obj.cast_exact::<PyList>().is_ok()
        || obj.cast_exact::<PyTuple>().is_ok()
        || obj.cast_exact::<PySet>().is_ok()
        || obj.cast_exact::<PyFrozenSet>().is_ok()
    {
        return all_plain(obj);
    }
    if obj.cast_exact::<PyDict>().is_ok() {
        return all_plain(&known.dict_items.bind(obj.py()).call1((obj,))?);
    }
    Ok(is_plain_data_holder(obj, &ty, known, nesting)?.unwrap_or(false))
}

/// For the builtins whose repr embeds other objects' reprs: whether those objects are plain data.
/// `None` for every other type.
fn is_plain_data_holder(
    obj: &Bound<'_, PyAny>,
    ty: &Bound<'_, PyType>,
    known: &Known,
    nesting: usize,
) -> PyResult<Option<bool>> {
    let py = obj.py();
    let contents: Vec<Bound<'_, PyAny>> = if is_any_type(ty, &known.dict_views) {
        vec![py.get_type::<PyList>().call1((obj,))?]
    } else if is_type(ty, &known.mappingproxy) {
        // The proxied mapping is only reachable through the GC's referents (plain C traversal).
        let referents = known.gc_get_referents.bind(py).call1((obj,))?;
        referents.try_iter()?.collect::<PyResult<_>>()?
    } else if is_type(ty, &known.slice) {
        ["start", "stop", "step"].iter().map(|field| obj.getattr(*field)).collect::<PyResult<_>>()?
    } else if is_any_type(ty, &known.callable_wrappers) {
        vec![obj.getattr(intern!(py, "__func__"))?]
    } else {
        return Ok(None);
    };
    for item in contents {
        if !is_plain_data(&item, known, nesting + 1)? {
            return Ok(Some(false));
        }
    }
    Ok(Some(true))
}
