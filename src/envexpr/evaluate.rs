//! Turns a parsed argument list into Python objects. Names are looked up only in the namespace the caller gives
//! (hunter's API), never in builtins, so the only code that runs is the calls of those names.

use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyFloat, PyInt, PyList, PySet, PyString, PyTuple};

use super::ast::{is_literal, not_a_predicate, render_at, Argument, Expr, StrPiece, Value};
use super::parser::parse_arguments;
use crate::suggest;

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
    text: &Bound<'py, PyString>,
    namespace: &Bound<'py, PyDict>,
    source_name: &str,
    predicates_only: bool,
) -> PyResult<(Bound<'py, PyTuple>, Bound<'py, PyDict>)> {
    let Ok(text) = text.to_str() else {
        return Err(undecodable_text_error(text, source_name));
    };
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

/// The parse error for text with a lone surrogate (an environment variable that is not valid UTF-8, which
/// Python decodes with `surrogateescape`), pointing at the first one. Rust strings cannot hold surrogates, so
/// the text is shown with U+FFFD in their place.
fn undecodable_text_error(text: &Bound<'_, PyString>, source_name: &str) -> PyErr {
    let encoded = match text.call_method1("encode", ("utf-32-le", "surrogatepass")) {
        Ok(encoded) => encoded,
        Err(error) => return error,
    };
    let Ok(encoded) = encoded.cast_into::<PyBytes>() else {
        return PyValueError::new_err("str.encode returned something other than bytes");
    };
    let code_points: Vec<u32> = encoded
        .as_bytes()
        .chunks_exact(4)
        .map(|unit| u32::from_le_bytes([unit[0], unit[1], unit[2], unit[3]]))
        .collect();
    let shown: String = code_points
        .iter()
        .map(|&code_point| char::from_u32(code_point).unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect();
    let at = code_points.iter().position(|&code_point| char::from_u32(code_point).is_none()).unwrap_or(0);
    let found = match code_points.get(at) {
        // What `surrogateescape` makes of an undecodable byte.
        Some(&code_point @ 0xDC80..=0xDCFF) => {
            format!("the byte 0x{:x}, which is not valid UTF-8", code_point - 0xDC00)
        }
        Some(code_point) => format!("the lone surrogate U+{code_point:04X}"),
        None => "nothing".to_owned(),
    };
    parse_error(source_name, &shown, at, &format!("expected UTF-8 text but found {found}"))
}

/// `cannot parse <source> at column N: <message>`, with the line and a caret.
fn parse_error(source_name: &str, text: &str, at: usize, message: &str) -> PyErr {
    ExpressionError::new_err(format!("cannot parse {source_name} {}", render_at(text, at, message)))
}

/// Where a name stands, for explaining an unknown one.
#[derive(Clone, Copy)]
enum NameUse<'a> {
    /// Called: `Name(...)`.
    Callee,
    /// The value of a keyword argument: `keyword=name`.
    KeywordValue(&'a str),
    /// Any other value (a positional argument, an item of a list...).
    Value,
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
        parse_error(self.source_name, self.text, at, message)
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
                Argument::Keyword { name, value, .. } => {
                    let value = match &value.value {
                        Value::Name(bare) => self.lookup(bare, value.at, NameUse::KeywordValue(name))?,
                        _ => self.value(value)?,
                    };
                    keywords.set_item(name, value)?
                }
            }
        }
        Ok((PyTuple::new(self.py, positional)?, keywords))
    }

    /// The value of a name, or an error listing the known names, with the closest one or, for a value that is
    /// probably a string whose quotes the shell removed (`PYTHONHUNTER=kind=call`), how to quote it.
    fn lookup(&self, name: &str, at: usize, use_: NameUse<'_>) -> PyResult<Bound<'py, PyAny>> {
        if let Some(value) = self.namespace.get_item(name)? {
            return Ok(value);
        }
        // hunter's names may also be spelled as attributes of the package (`hunter.Q`), as hunter-trace's commands
        // must be in hunter 3.9.0 (which evaluates them as `hunter.trace(...)`, where only `hunter` is imported).
        if let Some(value) =
            name.strip_prefix("hunter.").map(|bare| self.namespace.get_item(bare)).transpose()?.flatten()
        {
            return Ok(value);
        }
        let mut known: Vec<String> = self.namespace.keys().iter().map(|key| key.to_string()).collect();
        known.sort();
        let mut message = format!("expected one of {} but found unknown name '{name}'", known.join(", "));
        let quoted = match use_ {
            NameUse::KeywordValue(keyword) => format!("{keyword}=\"{name}\""),
            _ => format!("\"{name}\""),
        };
        match (suggest::closest(name, &known), use_) {
            (Some(closest), _) => message.push_str(&format!(". Did you mean '{closest}'?")),
            (None, NameUse::Callee) => {}
            (None, _) => {
                // In an environment variable's assignment the shell example can name the variable.
                let shell_example = if self.source_name.starts_with("PYTHON") {
                    format!("{}='{quoted}'", self.source_name)
                } else {
                    format!("'{quoted}'")
                };
                message.push_str(&format!(
                    ". A string needs quotes, as in {quoted}; in a shell, put single quotes around them: {shell_example}"
                ));
            }
        }
        Err(self.parse_error(at, &message))
    }

    fn value(&self, expr: &Expr) -> PyResult<Bound<'py, PyAny>> {
        let py = self.py;
        let at = expr.at;
        Ok(match &expr.value {
            Value::Name(name) => self.lookup(name, at, NameUse::Value)?,
            Value::Call { callee, arguments } => {
                let function = self.lookup(callee, at, NameUse::Callee)?;
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
            Value::Or(first, rest) => self.chain(first, rest, "'|'", |left, right| left.bitor(right))?,
            Value::And(first, rest) => self.chain(first, rest, "'&'", |left, right| left.bitand(right))?,
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

    /// A chain of one binary operator (`a | b | c`), applied left to right as Python does.
    fn chain(
        &self,
        first: &Expr,
        rest: &[(usize, Expr)],
        operator: &str,
        apply: impl Fn(Bound<'py, PyAny>, Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut result = self.value(first)?;
        for (at, operand) in rest {
            result =
                apply(result, self.value(operand)?).map_err(|cause| self.evaluation_error(*at, operator, cause))?;
        }
        Ok(result)
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
