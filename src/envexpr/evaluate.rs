//! Turns a parsed argument list into Python objects. Names are looked up only in the namespace the caller gives
//! (hunter's API), never in builtins, so the only code that runs is the calls of those names.

use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyFloat, PyInt, PyList, PySet, PyString, PyTuple};

use super::ast::{is_literal, not_a_predicate, render_at, Argument, Expr, StrPiece, Value};
use super::parser::parse_arguments;

create_exception!(
    hunter,
    ExpressionError,
    PyValueError,
    "A hunter expression (PYTHONHUNTER, PYTHONHUNTERCONFIG, a hunter-trace or `python -m hunter` query) that cannot \
     be parsed or evaluated. The message names the position and shows it with a caret."
);

/// Parse `text` as the arguments of a call and evaluate them with the names in `namespace`, returning
/// `(args, kwargs)`. `source_name` (e.g. ``PYTHONHUNTER``) names the text in error messages. With
/// `predicates_only`, a literal given as a positional argument is an error (``trace("foo")``).
#[pyfunction]
#[pyo3(signature = (text, namespace, source_name, predicates_only = true))]
pub fn evaluate_arguments<'py>(
    text: &str,
    namespace: &Bound<'py, PyDict>,
    source_name: &str,
    predicates_only: bool,
) -> PyResult<(Bound<'py, PyTuple>, Bound<'py, PyDict>)> {
    let evaluator = Evaluator { py: namespace.py(), text, namespace, source_name };
    let arguments = parse_arguments(text).map_err(|error| evaluator.parse_error(error.at, &error.render_message()))?;
    if predicates_only {
        for argument in &arguments {
            if let Argument::Positional(expr) = argument {
                if is_literal(expr) {
                    let error = not_a_predicate(expr, "as a positional argument");
                    return Err(evaluator.parse_error(error.at, &error.render_message()));
                }
            }
        }
    }
    evaluator.arguments(&arguments)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("ExpressionError", m.py().get_type::<ExpressionError>())?;
    m.add_function(wrap_pyfunction!(evaluate_arguments, m)?)?;
    Ok(())
}

struct Evaluator<'a, 'py> {
    py: Python<'py>,
    text: &'a str,
    namespace: &'a Bound<'py, PyDict>,
    source_name: &'a str,
}

impl<'py> Evaluator<'_, 'py> {
    fn parse_error(&self, at: usize, message: &str) -> PyErr {
        ExpressionError::new_err(format!("cannot parse {} {}", self.source_name, render_at(self.text, at, message)))
    }

    /// `what` failed with `cause`: one ExpressionError pointing at `at`, chained to the original exception.
    /// An ExpressionError from a nested evaluation already points at the right place and passes through.
    fn evaluation_error(&self, at: usize, what: &str, cause: PyErr) -> PyErr {
        if cause.is_instance_of::<ExpressionError>(self.py) {
            return cause;
        }
        let type_name = cause.get_type(self.py).name().map(|name| name.to_string()).unwrap_or_default();
        let message = format!("{what} raised {type_name}: {}", cause.value(self.py));
        let error =
            ExpressionError::new_err(format!("cannot use {} {}", self.source_name, render_at(self.text, at, &message)));
        error.set_cause(self.py, Some(cause));
        error
    }

    fn arguments(&self, arguments: &[Argument]) -> PyResult<(Bound<'py, PyTuple>, Bound<'py, PyDict>)> {
        let mut positional = Vec::new();
        let keywords = PyDict::new(self.py);
        for argument in arguments {
            match argument {
                Argument::Positional(expr) => positional.push(self.value(expr)?),
                Argument::Keyword { name, value, .. } => keywords.set_item(name, self.value(value)?)?,
            }
        }
        Ok((PyTuple::new(self.py, positional)?, keywords))
    }

    fn lookup(&self, name: &str, at: usize) -> PyResult<Bound<'py, PyAny>> {
        if let Some(value) = self.namespace.get_item(name)? {
            return Ok(value);
        }
        let mut known: Vec<String> = self.namespace.keys().iter().map(|key| key.to_string()).collect();
        known.sort();
        let message = format!("expected one of {} but found unknown name '{name}'", known.join(", "));
        Err(self.parse_error(at, &message))
    }

    fn value(&self, expr: &Expr) -> PyResult<Bound<'py, PyAny>> {
        let py = self.py;
        let at = expr.at;
        Ok(match &expr.value {
            Value::Name(name) => self.lookup(name, at)?,
            Value::Call { callee, arguments } => {
                let function = self.lookup(callee, at)?;
                let (args, kwargs) = self.arguments(arguments)?;
                if callee == "VarsPrinter" {
                    self.check_plain_accesses(arguments, &args)?;
                }
                function
                    .call(args, Some(&kwargs))
                    .map_err(|cause| self.evaluation_error(at, &format!("{callee}(...)"), cause))?
            }
            Value::Str(pieces) => self.string(pieces)?,
            Value::Bytes(bytes) => PyBytes::new(py, bytes).into_any(),
            Value::Int(text) => py.get_type::<PyInt>().call1((text, 0))?,
            Value::Float(text) => {
                let number: f64 = text.replace('_', "").parse().map_err(|_| self.parse_error(at, "invalid float"))?;
                PyFloat::new(py, number).into_any()
            }
            Value::Bool(flag) => flag.into_pyobject(py)?.to_owned().into_any(),
            Value::None => py.None().into_bound(py),
            Value::List(items) => PyList::new(py, self.values(items)?)?.into_any(),
            Value::Tuple(items) => PyTuple::new(py, self.values(items)?)?.into_any(),
            Value::Set(items) => {
                let set = PySet::empty(py)?;
                for (item, value) in items.iter().zip(self.values(items)?) {
                    set.add(value).map_err(|cause| self.evaluation_error(item.at, "a set item", cause))?;
                }
                set.into_any()
            }
            Value::Dict(entries) => {
                let dict = PyDict::new(py);
                for (key, value) in entries {
                    dict.set_item(self.value(key)?, self.value(value)?)
                        .map_err(|cause| self.evaluation_error(key.at, "a dict key", cause))?;
                }
                dict.into_any()
            }
            Value::Invert(operand) => {
                self.value(operand)?.bitnot().map_err(|cause| self.evaluation_error(at, "'~'", cause))?
            }
            Value::Or(left, right) => {
                let (left, right) = (self.value(left)?, self.value(right)?);
                left.bitor(right).map_err(|cause| self.evaluation_error(at, "'|'", cause))?
            }
            Value::And(left, right) => {
                let (left, right) = (self.value(left)?, self.value(right)?);
                left.bitand(right).map_err(|cause| self.evaluation_error(at, "'&'", cause))?
            }
        })
    }

    /// The language runs no code of its own: `VarsPrinter` (which `eval`s its expressions at every event) takes
    /// only expressions that read a variable, as `hunter.util.is_plain_access` decides.
    fn check_plain_accesses(&self, arguments: &[Argument], args: &Bound<'py, PyTuple>) -> PyResult<()> {
        let is_plain_access = crate::compat::import(self.py, "hunter.util")?.getattr("is_plain_access")?;
        let positional = arguments.iter().filter_map(|argument| match argument {
            Argument::Positional(expr) => Some(expr),
            Argument::Keyword { .. } => None,
        });
        for (expr, value) in positional.zip(args.iter()) {
            if !is_plain_access.call1((&value,))?.is_truthy()? {
                let message = format!(
                    "expected a name, attribute access or subscript by a literal (such as self.x, d['k'] or a[0].b) \
                     as a VarsPrinter expression here but found {}",
                    value.repr()?
                );
                return Err(self.parse_error(expr.at, &message));
            }
        }
        Ok(())
    }

    fn values(&self, items: &[Expr]) -> PyResult<Vec<Bound<'py, PyAny>>> {
        items.iter().map(|item| self.value(item)).collect()
    }

    fn string(&self, pieces: &[StrPiece]) -> PyResult<Bound<'py, PyAny>> {
        let py = self.py;
        if let [StrPiece::Text(text)] = pieces {
            return Ok(PyString::new(py, text).into_any());
        }
        let mut parts = Vec::with_capacity(pieces.len());
        for piece in pieces {
            parts.push(match piece {
                StrPiece::Text(text) => PyString::new(py, text).into_any(),
                StrPiece::Surrogate(code_point) => py.import("builtins")?.getattr("chr")?.call1((code_point,))?,
                StrPiece::Named { name, at } => {
                    py.import("unicodedata")?.getattr("lookup")?.call1((name,)).map_err(|_| {
                        self.parse_error(*at, &format!("expected a Unicode character name but found '{name}'"))
                    })?
                }
            });
        }
        PyString::new(py, "").call_method1("join", (parts,))
    }
}
