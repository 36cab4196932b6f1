//! The kind of a trace event (`Kind`): call, line, return or exception, as settrace numbers them and as hunter
//! names them.

use std::os::raw::c_int;

use pyo3::exceptions::PyValueError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyString;

/// The settrace event kinds, numbered as `PyTrace_CALL` ... `PyTrace_RETURN`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Call = 0,
    Exception = 1,
    Line = 2,
    Return = 3,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Call, Kind::Exception, Kind::Line, Kind::Return];

    /// Whether events of this kind move `depth` and `calls` (for Python code: call and return).
    pub fn counts_frames(self) -> bool {
        matches!(self, Kind::Call | Kind::Return)
    }

    /// The kind and `builtin` flag of a `PyTrace_*` value (C_CALL/C_EXCEPTION/C_RETURN are builtin).
    pub fn from_trace(what: c_int) -> Option<(Kind, bool)> {
        Some(match what {
            ffi::PyTrace_CALL => (Kind::Call, false),
            ffi::PyTrace_EXCEPTION => (Kind::Exception, false),
            ffi::PyTrace_LINE => (Kind::Line, false),
            ffi::PyTrace_RETURN => (Kind::Return, false),
            ffi::PyTrace_C_CALL => (Kind::Call, true),
            ffi::PyTrace_C_EXCEPTION => (Kind::Exception, true),
            ffi::PyTrace_C_RETURN => (Kind::Return, true),
            _ => return None,
        })
    }

    /// Parses a kind given as hunter's strings (`'c_call'` etc. give builtin) or as a `PyTrace_*` int.
    pub fn from_py(kind: &Bound<'_, PyAny>) -> PyResult<(Kind, bool)> {
        if let Ok(name) = kind.cast::<PyString>() {
            let name = name.to_str()?;
            let (builtin, base) = match name.strip_prefix("c_") {
                Some(base) => (true, base),
                None => (false, name),
            };
            // Builtin (C function) events exist for calls, returns and exceptions only.
            let kind = Kind::ALL.into_iter().find(|k| k.name() == base && !(builtin && *k == Kind::Line));
            return kind.map(|k| (k, builtin)).ok_or_else(|| {
                PyValueError::new_err(format!(
                    "Invalid event kind {name:?}. Must be one of 'call', 'line', 'return', 'exception', \
                     'c_call', 'c_return' or 'c_exception'."
                ))
            });
        }
        let what = kind.extract::<c_int>().ok().and_then(Kind::from_trace);
        what.ok_or_else(|| match kind.is_instance_of::<pyo3::types::PyInt>() {
            true => PyValueError::new_err(format!("Invalid event kind {kind}.")),
            false => pyo3::exceptions::PyTypeError::new_err(format!(
                "kind must be a str ('call', 'line', 'return', 'exception', 'c_call', 'c_return' or 'c_exception') \
                 or a sys.settrace event number, not {}",
                crate::arguments::type_name(kind)
            )),
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Call => "call",
            Kind::Exception => "exception",
            Kind::Line => "line",
            Kind::Return => "return",
        }
    }

    pub fn py_name(self, py: Python<'_>) -> &Bound<'_, PyString> {
        match self {
            Kind::Call => pyo3::intern!(py, "call"),
            Kind::Exception => pyo3::intern!(py, "exception"),
            Kind::Line => pyo3::intern!(py, "line"),
            Kind::Return => pyo3::intern!(py, "return"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_from_hunter_strings_and_trace_numbers() {
        Python::attach(|py| {
            let parse = |value: Bound<'_, PyAny>| Kind::from_py(&value).unwrap();
            assert_eq!(parse(PyString::new(py, "line").into_any()), (Kind::Line, false));
            assert_eq!(parse(PyString::new(py, "c_return").into_any()), (Kind::Return, true));
            assert_eq!(parse(6i32.into_pyobject(py).unwrap().into_any()), (Kind::Return, true));
            assert_eq!(parse(1i32.into_pyobject(py).unwrap().into_any()), (Kind::Exception, false));
            let error = Kind::from_py(PyString::new(py, "c_line").as_any()).unwrap_err();
            assert!(error.to_string().contains("Invalid event kind \"c_line\""), "{error}");
        });
    }
}
