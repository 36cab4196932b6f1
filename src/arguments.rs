//! Values Python code hands the native classes (a constructor's arguments, a field it sets) that must be of one type,
//! checked with an error that names the argument: `depth must be an int, not 'str'` rather than the conversion's own
//! `'str' object cannot be interpreted as an integer`.

use pyo3::exceptions::{PyOverflowError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyInt, PyString};

/// `value`, the argument `name`, as a 64-bit int: any int (a bool too, as Python's ints go).
pub fn int(name: &str, value: &Bound<'_, PyAny>) -> PyResult<i64> {
    if !value.is_instance_of::<PyInt>() {
        return Err(PyTypeError::new_err(format!("{name} must be an int, not {}", type_name(value))));
    }
    value.extract().map_err(|_| PyOverflowError::new_err(format!("{name} must fit in a 64-bit int")))
}

/// `value`, the argument `name`, as a bool: only `True` or `False`.
pub fn bool(name: &str, value: &Bound<'_, PyAny>) -> PyResult<bool> {
    value
        .cast::<PyBool>()
        .map(|value| value.is_true())
        .map_err(|_| PyTypeError::new_err(format!("{name} must be a bool, not {}", type_name(value))))
}

/// `value` taken for its truth, or None when it is absent or None (`threading_support`, as hunter tests it).
pub fn optional_truth(value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<bool>> {
    match value {
        Some(value) if !value.is_none() => value.is_truthy().map(Some),
        _ => Ok(None),
    }
}

/// `value`, the argument `name`, as a str, or None for None.
pub fn optional_str<'a, 'py>(
    name: &str,
    value: Option<&'a Bound<'py, PyAny>>,
) -> PyResult<Option<&'a Bound<'py, PyString>>> {
    match value {
        Some(value) if !value.is_none() => value
            .cast::<PyString>()
            .map(Some)
            .map_err(|_| PyTypeError::new_err(format!("{name} must be a str or None, not {}", type_name(value)))),
        _ => Ok(None),
    }
}

/// `'str'`: the quoted name of `value`'s type, as CPython's messages show it.
pub fn type_name(value: &Bound<'_, PyAny>) -> String {
    let name = value.get_type().name().map(|name| name.to_string());
    format!("'{}'", name.as_deref().unwrap_or("?"))
}
