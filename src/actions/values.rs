//! Rendering a value in a row: `try_repr` (bounded `safe_repr`, `repr` or any callable, clipped to `repr_limit`),
//! `try_str` for detached events, and the failure marker.

use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyString;

use super::options::{Options, Render};
use crate::safe_repr::{self, safe_repr_clipped_into, DEFAULT_MAXDEPTH};

/// A value being printed and whether its event is detached (values already rendered to strings).
pub(super) struct Value<'a, 'py> {
    pub(super) object: &'a Bound<'py, PyAny>,
    pub(super) detached: bool,
}

pub(super) fn as_text<'a>(value: &'a Bound<'_, PyAny>) -> PyResult<std::borrow::Cow<'a, str>> {
    super::text::of_py(value.cast::<PyString>()?)
}

/// `str(value)`.
pub(super) fn push_str_of(out: &mut String, value: &Bound<'_, PyAny>) -> PyResult<()> {
    match value.cast::<PyString>() {
        Ok(text) => out.push_str(&super::text::of_py(text)?),
        Err(_) => out.push_str(&super::text::of_py(&value.str()?)?),
    }
    Ok(())
}

/// `try_repr(value)` for live events, `try_str(value)` for detached ones.
pub(super) fn push_value(
    action: &Bound<'_, PyAny>,
    options: &Options,
    value: Value<'_, '_>,
    out: &mut String,
) -> PyResult<()> {
    let py = action.py();
    let object = value.object;
    let rendered = if value.detached {
        object.str().map(Bound::into_any)
    } else {
        match (&options.render, options.repr_limit) {
            (Render::SafeRepr, Some(limit)) => {
                let marker = &options.palette.cut_marker;
                return match safe_repr_clipped_into(object, DEFAULT_MAXDEPTH, limit, true, marker, out) {
                    Ok(()) => Ok(()),
                    Err(error) => push_failed_repr(py, options, error, out),
                };
            }
            (Render::SafeRepr, None) => {
                crate::safe_repr::safe_repr(object, DEFAULT_MAXDEPTH).map(|text| PyString::new(py, &text).into_any())
            }
            (Render::Repr, _) => object.repr().map(Bound::into_any),
            (Render::Callable(render), _) => render.bind(py).call1((object,)),
        }
    };
    let rendered = match rendered {
        Ok(rendered) => rendered,
        Err(error) => return push_failed_repr(py, options, error, out),
    };
    match (rendered.cast_exact::<PyString>(), options.repr_limit) {
        (Ok(text), Some(limit)) => {
            let escaped = super::text::of_py(text)?.replace('\n', "\\n");
            match safe_repr::cut(&escaped, limit) {
                Some((head, tail)) => {
                    out.push_str(&head);
                    out.push_str(&options.palette.cut_marker);
                    out.push_str(&tail);
                }
                None => out.push_str(&escaped),
            }
            Ok(())
        }
        // Unusual results or limits go through the Python rule, errors and all.
        _ => match action.call_method1(pyo3::intern!(py, "_clip"), (rendered,)) {
            Ok(clipped) => push_str_of(out, &clipped),
            Err(error) => push_failed_repr(py, options, error, out),
        },
    }
}

/// `!!! FAILED REPR: <exception>` for an `Exception`; anything else (KeyboardInterrupt...) propagates.
fn push_failed_repr(py: Python<'_>, options: &Options, error: PyErr, out: &mut String) -> PyResult<()> {
    if !error.is_instance_of::<PyException>(py) {
        return Err(error);
    }
    let palette = &options.palette;
    out.push_str(&palette.internal_failure);
    out.push_str("!!! FAILED REPR: ");
    out.push_str(&palette.internal_detail);
    out.push_str(&error.value(py).repr()?.to_string_lossy());
    out.push_str(&palette.reset);
    Ok(())
}
