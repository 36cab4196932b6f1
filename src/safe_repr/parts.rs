//! What the renderer shows inside the reprs of builtins that are not plain containers: the parts of a
//! `datetime`, `time`, compiled pattern or bound method ([`Part`]: text, or a value to render at a given
//! depth), and an exception's `args`. All read without running user code.

use pyo3::exceptions::PyAttributeError;
use pyo3::prelude::*;
use pyo3::types::{PyString, PyType};
use pyo3::{ffi, intern};

use super::known::{is_ffi_type, Known};

/// hunter's default `maxdepth`; also the depth it uses for the parts of a datetime and a pattern.
pub const DEFAULT_MAXDEPTH: i64 = 5;

/// An exception's `args` as hunter reads them, but without running user code: a class can override `args` with
/// a property (not run: the arguments the exception stores are shown instead), or with a `__slots__` entry, whose
/// member descriptor is read as `getattr` would (C code: an unset slot is an AttributeError, as in hunter).
pub(super) fn exception_args<'py>(
    exception: &Bound<'py, PyAny>,
    ty: &Bound<'py, PyType>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = exception.py();
    if let Some(descriptor) = crate::compat::type_lookup(ty, intern!(py, "args")) {
        if descriptor.get_type().as_type_ptr() == &raw mut ffi::PyMemberDescr_Type {
            return descriptor.call_method1(intern!(py, "__get__"), (exception, ty));
        }
    }
    Ok(stored_exception_args(exception))
}

/// The arguments an exception stores (what `BaseException.args` returns), read from the object itself.
fn stored_exception_args<'py>(exception: &Bound<'py, PyAny>) -> Bound<'py, PyAny> {
    let py = exception.py();
    // SAFETY: `exception` is an instance of a BaseException subclass (the caller checked its type), whose
    // object starts with `PyBaseExceptionObject`; its `args` is NULL or a strong reference the object holds.
    let args = unsafe { (*exception.as_ptr().cast::<ffi::PyBaseExceptionObject>()).args };
    // SAFETY: a borrowed pointer from the live exception, turned into a new strong reference at once.
    unsafe { Bound::from_borrowed_ptr_or_opt(py, args) }
        .filter(|args| args.is_instance_of::<pyo3::types::PyTuple>())
        .unwrap_or_else(|| pyo3::types::PyTuple::empty(py).into_any())
}

/// A piece of a composite rendering such as `datetime(...)` or `<bound method ...>`.
pub(super) enum Part<'py> {
    Text(String),
    Nested(Bound<'py, PyAny>, i64),
}

/// `datetime(Y, M, D, h, m, s, us, tzinfo=..., fold=...)` or `time(h, m, s, us, tzinfo=..., fold=...)`.
pub(super) fn clock_parts<'py>(obj: &Bound<'py, PyAny>, name: &str, date_fields: &[&str]) -> PyResult<Vec<Part<'py>>> {
    let mut fields = Vec::new();
    for field in date_fields.iter().chain(&["hour", "minute", "second", "microsecond"]) {
        fields.push(obj.getattr(*field)?.extract::<i64>()?.to_string());
    }
    Ok(vec![
        Part::Text(format!("{name}({}, tzinfo=", fields.join(", "))),
        Part::Nested(obj.getattr(intern!(obj.py(), "tzinfo"))?, DEFAULT_MAXDEPTH),
        Part::Text(", fold=".to_owned()),
        Part::Nested(obj.getattr(intern!(obj.py(), "fold"))?, DEFAULT_MAXDEPTH),
        Part::Text(")".to_owned()),
    ])
}

/// `<bound method Qual.name of <self>>`; the name is `__qualname__`, else `__name__`.
pub(super) fn bound_method_parts<'py>(obj: &Bound<'py, PyAny>, depth: i64) -> PyResult<Vec<Part<'py>>> {
    let py = obj.py();
    // A method forwards the name lookups to its `__func__`: only a function's own names are read, as any other
    // callable's attribute lookups can be user code (`?` is CPython's method repr for a name it cannot get).
    let function_type = obj.getattr(intern!(py, "__func__"))?.get_type();
    let name = if !is_ffi_type(&function_type, &raw mut ffi::PyFunction_Type)
        && !is_ffi_type(&function_type, &raw mut ffi::PyCFunction_Type)
    {
        PyString::new(py, "?").into_any()
    } else {
        match obj.getattr(intern!(py, "__qualname__")) {
            Ok(name) if !name.is_none() => name,
            Ok(_) => obj.getattr(intern!(py, "__name__"))?,
            Err(err) if err.is_instance_of::<PyAttributeError>(py) => obj.getattr(intern!(py, "__name__"))?,
            Err(err) => return Err(err),
        }
    };
    Ok(vec![
        Part::Text(format!("<bound method {} of ", name.str()?.to_string_lossy())),
        Part::Nested(obj.getattr(intern!(py, "__self__"))?, depth - 1),
        Part::Text(">".to_owned()),
    ])
}

/// `re.compile(<pattern>)` or `re.compile(<pattern>, flags=re.X|re.Y)`.
pub(super) fn pattern_parts<'py>(obj: &Bound<'py, PyAny>, known: &Known) -> PyResult<Vec<Part<'py>>> {
    let py = obj.py();
    let flags = obj.getattr(intern!(py, "flags"))?;
    let close = if flags.is_truthy()? {
        let flags = known.regex_flag.bind(py).call1((flags,))?.str()?;
        format!(", flags={})", flags.to_string_lossy())
    } else {
        ")".to_owned()
    };
    Ok(vec![
        Part::Text("re.compile(".to_owned()),
        Part::Nested(obj.getattr(intern!(py, "pattern"))?, DEFAULT_MAXDEPTH),
        Part::Text(close),
    ])
}
