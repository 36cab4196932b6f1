//! hunter's row formats, the one definition of each printed row's layout, and the two ways a row is written.
//!
//! A printer whose class (or instance) replaces none of the methods hunter's printers call on themselves
//! (`output`, `pid_prefix`, `thread_prefix`, `filename_prefix`, `try_repr`, `try_str`, `try_source`) formats
//! each row natively from the compiled format, computing the arguments without any Python call. A printer
//! that replaces one runs in hook mode: every one of those methods is called through Python, with the same
//! arguments and in the same order as hunter 3.9.0 calls them, and each row goes to
//! `self.output(format, *args, COLOR=...)` with the format below, verbatim.

use std::borrow::Cow;
use std::ops::Range;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};

use super::colours::other_colour;
use super::text::{char_len, push_spaces};

// CodePrinter: the first row of the source, the further rows of a decorated definition, the value row.
pub const CODE_ROW: &str = "{}{}{}{KIND}{:9} {COLOR}{}{RESET}\n";
pub const CODE_VALUE_ROW: &str = "{}{}{}{CONT}{:9} {COLOR}{} value: {NORMAL}{}{RESET}\n";
// CallPrinter.
pub const CALL_ROW: &str = "{}{}{}{KIND}{:9} {}{COLOR}=>{NORMAL} {}({}{COLOR}{NORMAL}){RESET}\n";
pub const CALL_BUILTIN_ROW: &str = "{}{}{}{KIND}{:9} {}{COLOR} >{BUILTIN} {}.{}: {}{RESET}\n";
pub const EXCEPTION_ROW: &str = "{}{}{}{KIND}{:9} {}{COLOR} !{NORMAL} {}: {RESET}{}\n";
pub const EXCEPTION_BUILTIN_ROW: &str = "{}{}{}{KIND}{:9} {}{COLOR} ! {BUILTIN}{}.{}{RESET}\n";
pub const RETURN_ROW: &str = "{}{}{}{KIND}{:9} {}{COLOR}<={NORMAL} {}{}{RESET}{}\n";
pub const RETURN_BUILTIN_ROW: &str = "{}{}{}{KIND}{:9} {}{COLOR} <{BUILTIN} {}.{}{RESET}\n";
// CallPrinter(durations=True): the return rows of a seen call, its wall time last.
pub const RETURN_TIMED_ROW: &str = "{}{}{}{KIND}{:9} {}{COLOR}<={NORMAL} {}{}{RESET}{} {CONT}[{}]{RESET}\n";
pub const RETURN_BUILTIN_TIMED_ROW: &str = "{}{}{}{KIND}{:9} {}{COLOR} <{BUILTIN} {}.{}{RESET} {CONT}[{}]{RESET}\n";
pub const LINE_ROW: &str = "{}{}{}{KIND}{:9} {RESET}{}{}{RESET}\n";
// TreePrinter: a call's row (pid, thread and filename columns, branch, function, arguments, duration).
pub const TREE_ROW: &str = "{}{}{}{CONT}{}{RESET}{COLOR}{}{NORMAL}({}{COLOR}{NORMAL}){RESET} {CONT}{}{RESET}\n";
/// One parameter of a call row, formatted with `str.format` and joined with `', '` (not through `output`).
pub const ARGUMENT: &str = "{VARS}{0}{VARS-NAME}{1}{VARS}={RESET}{2}";
// VarsPrinter.
pub const VARS_ROW: &str = "{}{}{}{KIND}{:9} {VARS}[{VARS-NAME}{} {VARS}=> {RESET}{}{VARS}]{RESET}\n";
pub const VARS_MORE_ROW: &str = "{}{}{}{CONT}...       {VARS}[{VARS-NAME}{} {VARS}=> {RESET}{}{VARS}]{RESET}\n";
/// The value shown for an expression that raised (formatted with `str.format`, not through `output`).
pub const FAILED_EVAL: &str = "{INTERNAL-FAILURE}FAILED EVAL: {INTERNAL-DETAIL}{!r}";
// VarsSnooper: a new local, a changed one; the first row of an event, then the others.
pub const SNOOP_NEW_ROW: &str = "{}{}{}{KIND}{:9} {VARS}[{VARS-NAME}{} {VARS}:= {RESET}{}{VARS}]{RESET}\n";
pub const SNOOP_NEW_MORE_ROW: &str = "{}{}{}{CONT}{:9} {VARS}[{VARS-NAME}{} {VARS}:= {RESET}{}{VARS}]{RESET}\n";
pub const SNOOP_CHANGED_ROW: &str =
    "{}{}{}{KIND}{:9} {VARS}[{VARS-NAME}{} {VARS}: {RESET}{}{VARS} => {RESET}{}{VARS}]{RESET}\n";
pub const SNOOP_CHANGED_MORE_ROW: &str =
    "{}{}{}{CONT}{:9} {VARS}[{VARS-NAME}{} {VARS}: {RESET}{}{VARS} => {RESET}{}{VARS}]{RESET}\n";

/// A part of a compiled format.
enum Piece {
    /// Literal text, with the `other_colors` it names filled in.
    Text(String),
    /// `{COLOR}`: the event kind's colour, given with each row.
    Colour,
    /// An argument: `{}` / `{0}`, with a format spec (`{:9}`: `width` is its width) or the `!r` conversion.
    Argument { spec: &'static str, width: usize, repr: bool },
}

/// A format of this module compiled against an action's `other_colors`.
pub struct Template {
    source: &'static str,
    pieces: Vec<Piece>,
    /// Where each argument's piece is in `pieces`, by argument number.
    argument_pieces: Vec<usize>,
    uses_colour: bool,
}

impl Template {
    /// Parses the subset of `str.format` syntax the formats above use: `{{`-free text, `{NAME}` colours,
    /// `{COLOR}`, and arguments numbered in order of appearance (`{}` or `{0}`, `{1}`...).
    pub fn compile(source: &'static str, other_colors: &Bound<'_, PyAny>) -> PyResult<Template> {
        let bad = || PyValueError::new_err(format!("unsupported row format {source:?}"));
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut arguments = 0;
        let mut uses_colour = false;
        let mut rest = source;
        while let Some(open) = rest.find('{') {
            text.push_str(&rest[..open]);
            let close = rest[open..].find('}').ok_or_else(bad)? + open;
            let field = &rest[open + 1..close];
            rest = &rest[close + 1..];
            let (name, repr, spec) = match field.split_once(':') {
                Some((name, spec)) => (name, false, spec),
                None => match field.strip_suffix("!r") {
                    Some(name) => (name, true, ""),
                    None => (field, false, ""),
                },
            };
            let is_argument = name.is_empty() || name.bytes().all(|byte| byte.is_ascii_digit());
            if !is_argument {
                if name == "COLOR" {
                    uses_colour = true;
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                    pieces.push(Piece::Colour);
                } else {
                    text.push_str(&other_colour(other_colors, name)?);
                }
                continue;
            }
            if !name.is_empty() && name.parse::<usize>().ok() != Some(arguments) {
                return Err(bad());
            }
            arguments += 1;
            pieces.push(Piece::Text(std::mem::take(&mut text)));
            let width = match spec.trim_start_matches('<') {
                "" => 0,
                width => width.parse().map_err(|_| bad())?,
            };
            pieces.push(Piece::Argument { spec, width, repr });
        }
        text.push_str(rest);
        pieces.push(Piece::Text(text));
        pieces.retain(|piece| !matches!(piece, Piece::Text(text) if text.is_empty()));
        let argument_pieces = pieces
            .iter()
            .enumerate()
            .filter_map(|(index, piece)| matches!(piece, Piece::Argument { .. }).then_some(index))
            .collect();
        Ok(Template { source, pieces, argument_pieces, uses_colour })
    }

    pub fn argument_count(&self) -> usize {
        self.argument_pieces.len()
    }

    /// `source.format(*arguments, COLOR=colour, **other_colors)` appended to `out`; `argument(n, arg)` writes
    /// argument `n`, in order.
    pub fn format<'py>(
        &self,
        out: &mut String,
        colour: &str,
        mut argument: impl FnMut(usize, &mut Arg<'_, 'py>) -> PyResult<()>,
    ) -> PyResult<()> {
        self.format_part(out, colour, 0..self.argument_count(), &mut argument)
    }

    /// Part of [`Template::format`]: from argument `arguments.start` (from the beginning for 0) up to, not
    /// including, argument `arguments.end` (to the end for the argument count).
    pub fn format_part<'py>(
        &self,
        out: &mut String,
        colour: &str,
        arguments: Range<usize>,
        mut argument: impl FnMut(usize, &mut Arg<'_, 'py>) -> PyResult<()>,
    ) -> PyResult<()> {
        let start = if arguments.start == 0 { 0 } else { self.argument_pieces[arguments.start] };
        let end = self.argument_pieces.get(arguments.end).copied().unwrap_or(self.pieces.len());
        let mut number = arguments.start;
        for piece in &self.pieces[start..end] {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Colour => out.push_str(colour),
                Piece::Argument { spec, width, repr } => {
                    let start = out.len();
                    // Cleared when the argument is an object formatted with the spec already.
                    let mut pending = *spec;
                    argument(number, &mut Arg::Text { out: &mut *out, spec: &mut pending, repr: *repr })?;
                    number += 1;
                    // A text is left-aligned to the spec's width, as `format(str, '9')` does.
                    if !pending.is_empty() {
                        push_spaces(out, width.saturating_sub(char_len(&out[start..])));
                    }
                }
            }
        }
        Ok(())
    }

    /// `action.output(source, *arguments, COLOR=colour)` (`COLOR` only for formats that use it, as hunter).
    pub fn output<'py>(
        &self,
        action: &Bound<'py, PyAny>,
        colour: &str,
        mut argument: impl FnMut(usize, &mut Arg<'_, 'py>) -> PyResult<()>,
    ) -> PyResult<()> {
        let py = action.py();
        let mut arguments = Vec::with_capacity(self.argument_count());
        for number in 0..self.argument_count() {
            let mut arg = Arg::Object(None);
            argument(number, &mut arg)?;
            arguments.push(arg.into_object(py));
        }
        call_output(action, self.source, arguments, self.uses_colour.then_some(colour))
    }
}

/// `action.output(format, *arguments)`, with `COLOR=colour` when given.
pub fn call_output<'py>(
    action: &Bound<'py, PyAny>,
    format: &str,
    arguments: Vec<Bound<'py, PyAny>>,
    colour: Option<&str>,
) -> PyResult<()> {
    let py = action.py();
    let mut all = Vec::with_capacity(arguments.len() + 1);
    all.push(PyString::new(py, format).into_any());
    all.extend(arguments);
    let arguments = PyTuple::new(py, all)?;
    let keywords = colour.map(|colour| -> PyResult<_> {
        let keywords = PyDict::new(py);
        keywords.set_item("COLOR", colour)?;
        Ok(keywords)
    });
    action.call_method(pyo3::intern!(py, "output"), arguments, keywords.transpose()?.as_ref())?;
    Ok(())
}

/// Where an argument of a row goes: into the row's text (formatted as its `{}` field formats it), or kept as
/// the object hunter would pass to `output`.
pub enum Arg<'a, 'py> {
    Text { out: &'a mut String, spec: &'a mut &'static str, repr: bool },
    Object(Option<Bound<'py, PyAny>>),
}

impl<'py> Arg<'_, 'py> {
    /// A text computed natively.
    #[inline]
    pub fn push(&mut self, py: Python<'py>, text: &str) -> PyResult<()> {
        match self {
            Arg::Text { out, .. } => out.push_str(text),
            Arg::Object(object) => *object = Some(PyString::new(py, text).into_any()),
        }
        Ok(())
    }

    /// A text built natively.
    #[inline]
    pub fn build(&mut self, py: Python<'py>, build: impl FnOnce(&mut String) -> PyResult<()>) -> PyResult<()> {
        match self {
            Arg::Text { out, .. } => build(out),
            Arg::Object(object) => {
                let mut text = String::new();
                build(&mut text)?;
                *object = Some(PyString::new(py, &text).into_any());
                Ok(())
            }
        }
    }

    /// An object (a hook's result): formatted as `str.format` formats the field, or kept.
    pub fn object(&mut self, value: Bound<'py, PyAny>) -> PyResult<()> {
        match self {
            Arg::Text { out, spec, repr } => {
                let value = if *repr { value.repr()?.into_any() } else { value };
                match value.cast_exact::<PyString>() {
                    // The spec (padding) is applied by the template.
                    Ok(text) => out.push_str(&super::text::of_py(text)?),
                    Err(_) => {
                        let builtins = crate::compat::import(value.py(), "builtins")?;
                        let formatted = builtins.getattr("format")?.call1((&value, **spec))?;
                        out.push_str(&super::text::of_py(&formatted.str()?)?);
                        // Already formatted with the spec: no further padding.
                        **spec = "";
                    }
                }
                Ok(())
            }
            Arg::Object(object) => {
                *object = Some(value);
                Ok(())
            }
        }
    }

    /// A value computed earlier.
    pub fn cell(&mut self, py: Python<'py>, cell: &Cell<'_, 'py>) -> PyResult<()> {
        match cell {
            Cell::Text(text) => self.push(py, text),
            Cell::Object(value) => self.object(value.clone()),
        }
    }

    fn into_object(self, py: Python<'py>) -> Bound<'py, PyAny> {
        match self {
            Arg::Object(Some(object)) => object,
            _ => py.None().into_bound(py),
        }
    }
}

/// A row argument computed once and used by several rows (hunter computes the prefixes once per event).
pub enum Cell<'s, 'py> {
    Text(Cow<'s, str>),
    Object(Bound<'py, PyAny>),
}

impl<'py> Cell<'_, 'py> {
    /// Runs `compute` into a text (native mode) or for an object (hook mode).
    pub fn of(
        py: Python<'py>,
        hooked: bool,
        compute: impl FnOnce(&mut Arg<'_, 'py>) -> PyResult<()>,
    ) -> PyResult<Cell<'static, 'py>> {
        if hooked {
            let mut arg = Arg::Object(None);
            compute(&mut arg)?;
            Ok(Cell::Object(arg.into_object(py)))
        } else {
            let mut text = String::new();
            compute(&mut Arg::Text { out: &mut text, spec: &mut "", repr: false })?;
            Ok(Cell::Text(Cow::Owned(text)))
        }
    }
}

/// Declares [`Templates`], every format above compiled against one action's `other_colors`.
macro_rules! templates {
    ($($field:ident: $format:ident),* $(,)?) => {
        /// The formats of this module, compiled against one action's `other_colors`.
        pub struct Templates {
            $(pub $field: Template,)*
        }

        impl Templates {
            pub fn compile(other_colors: &Bound<'_, PyAny>) -> PyResult<Templates> {
                Ok(Templates { $($field: Template::compile($format, other_colors)?,)* })
            }
        }
    };
}

templates! {
    code_row: CODE_ROW,
    code_value_row: CODE_VALUE_ROW,
    call_row: CALL_ROW,
    call_builtin_row: CALL_BUILTIN_ROW,
    exception_row: EXCEPTION_ROW,
    exception_builtin_row: EXCEPTION_BUILTIN_ROW,
    return_row: RETURN_ROW,
    return_builtin_row: RETURN_BUILTIN_ROW,
    return_timed_row: RETURN_TIMED_ROW,
    return_builtin_timed_row: RETURN_BUILTIN_TIMED_ROW,
    line_row: LINE_ROW,
    tree_row: TREE_ROW,
    argument: ARGUMENT,
    vars_row: VARS_ROW,
    vars_more_row: VARS_MORE_ROW,
    failed_eval: FAILED_EVAL,
    snoop_new_row: SNOOP_NEW_ROW,
    snoop_new_more_row: SNOOP_NEW_MORE_ROW,
    snoop_changed_row: SNOOP_CHANGED_ROW,
    snoop_changed_more_row: SNOOP_CHANGED_MORE_ROW,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compiled(source: &'static str) -> Template {
        Python::attach(|py| {
            let colours = PyDict::new(py);
            for name in ["KIND", "RESET", "VARS", "VARS-NAME"] {
                colours.set_item(name, format!("<{name}>")).unwrap();
            }
            Template::compile(source, &colours).unwrap()
        })
    }

    fn format(template: &Template, arguments: &[&str], part: Range<usize>) -> String {
        Python::attach(|py| {
            let mut out = String::new();
            template.format_part(&mut out, "<COLOR>", part, |number, arg| arg.push(py, arguments[number])).unwrap();
            out
        })
    }

    #[test]
    fn formats_like_str_format() {
        let template = compiled("{}{KIND}{:9} {COLOR}{}{RESET}\n");
        assert_eq!(template.argument_count(), 3);
        assert_eq!(format(&template, &["a", "call", "x"], 0..3), "a<KIND>call      <COLOR>x<RESET>\n");
        // Parts split the row at arguments: each holds its first argument and the text up to the next one.
        assert_eq!(format(&template, &["a", "call", "x"], 0..1), "a<KIND>");
        assert_eq!(format(&template, &["a", "call", "x"], 1..2), "call      <COLOR>");
        assert_eq!(format(&template, &["a", "call", "x"], 2..3), "x<RESET>\n");
        let numbered = compiled("{VARS}{0}{VARS-NAME}{1}");
        assert_eq!(format(&numbered, &["*", "a"], 0..2), "<VARS>*<VARS-NAME>a");
    }

    #[test]
    fn rejects_what_it_does_not_parse() {
        Python::attach(|py| {
            let colours = PyDict::new(py);
            assert!(Template::compile("{1}{0}", &colours).is_err());
            assert!(Template::compile("{", &colours).is_err());
            assert!(Template::compile("{MISSING}", &colours).is_err());
        });
    }
}
