//! `VarsPrinter` and `VarsSnooper` rows.
//!
//! VarsPrinter evaluates each expression in the event's frame when all its names are defined there, as
//! hunter does: `eval(code, {**vars(builtins), **globals}, locals)`. The namespace is only built for an
//! expression that needs it: a bare name is looked up the way that `eval` would find it.

use std::cmp::Ordering;

use crate::gilcell::MadeOnce;
use pyo3::exceptions::{PyAttributeError, PyException, PyKeyError, PySyntaxError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};

use super::printing::Printing;
use super::rows::{Arg, Cell};
use crate::event::{Field, Kind};

/// One expression of `VarsPrinter.names`.
pub struct Expression {
    /// The expression as given (the key of `names`), shown as is.
    text: Py<PyAny>,
    /// Its names that are not builtins (`BUILTIN_SYMBOLS`): each must be a local or a global for its row to show.
    names_to_find: Vec<Py<PyAny>>,
    /// The compiled expression, or its text when it does not compile as an expression (`eval` then raises the
    /// SyntaxError on every event, as upstream's does).
    code: Py<PyAny>,
    /// Set when the expression is a bare name.
    bare_name: Option<Py<PyAny>>,
}

impl Expression {
    /// The expressions of `action.names`, a dict of expression to its set of names.
    pub fn read_all(action: &Bound<'_, PyAny>) -> PyResult<Vec<Expression>> {
        let py = action.py();
        let builtin_symbols = crate::compat::import(py, "hunter.util")?.getattr("BUILTIN_SYMBOLS")?;
        let compile = builtins(py)?.getattr("compile")?;
        let mut expressions = Vec::new();
        for item in action.getattr("names")?.call_method0("items")?.try_iter()? {
            let (text, symbols): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item?.extract()?;
            let mut names_to_find = Vec::new();
            for symbol in symbols.try_iter()? {
                let symbol = symbol?;
                if !builtin_symbols.contains(&symbol)? {
                    names_to_find.push(symbol.unbind());
                }
            }
            let code = match compile.call1((&text, "<string>", "eval")) {
                Ok(code) => code,
                Err(error) if error.is_instance_of::<PySyntaxError>(py) => text.clone(),
                Err(error) => return Err(error),
            };
            // `__debug__` compiles to a constant, whatever the namespaces hold.
            let is_bare_name = text.is_instance_of::<PyString>()
                && text.call_method0("isidentifier")?.is_truthy()?
                && text.ne("__debug__")?
                && symbols.len()? == 1
                && symbols.contains(&text)?;
            expressions.push(Expression {
                bare_name: is_bare_name.then(|| text.clone().unbind()),
                text: text.unbind(),
                names_to_find,
                code: code.unbind(),
            });
        }
        Ok(expressions)
    }

    fn is_defined(&self, scope: &Scope<'_>) -> PyResult<bool> {
        let py = scope.locals.py();
        for name in &self.names_to_find {
            let name = name.bind(py);
            if !scope.locals.contains(name)? && !scope.globals.contains(name)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn evaluate<'py>(&self, scope: &mut Scope<'py>) -> PyResult<Bound<'py, PyAny>> {
        let py = scope.locals.py();
        if let Some(name) = &self.bare_name {
            if let Some(value) = scope.look_up(name.bind(py))? {
                return Ok(value);
            }
        }
        let namespace = scope.namespace()?.clone();
        eval(py)?.call1((self.code.bind(py), namespace, &scope.locals))
    }
}

/// The frame an expression is evaluated in.
struct Scope<'py> {
    locals: Bound<'py, PyAny>,
    globals: Bound<'py, PyAny>,
    /// `{**vars(builtins), **globals}`, built for the first expression that needs it.
    namespace: Option<Bound<'py, PyDict>>,
}

impl<'py> Scope<'py> {
    fn namespace(&mut self) -> PyResult<&Bound<'py, PyDict>> {
        if self.namespace.is_none() {
            let py = self.locals.py();
            let namespace = builtins(py)?.dict().copy()?;
            namespace.update(self.globals.cast()?)?;
            self.namespace = Some(namespace);
        }
        Ok(self.namespace.as_ref().expect("set above"))
    }

    /// The value `eval` gives a bare name: from the locals, else the globals, else the builtins. None when the
    /// globals are not a plain dict (their copy in the namespace could differ) or the name is nowhere (`eval`
    /// then raises the NameError).
    fn look_up(&self, name: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let Ok(globals) = self.globals.cast_exact::<PyDict>() else {
            return Ok(None);
        };
        let local = match self.locals.cast_exact::<PyDict>() {
            Ok(locals) => locals.get_item(name)?,
            Err(_) => match self.locals.get_item(name) {
                Ok(value) => Some(value),
                Err(error) if error.is_instance_of::<PyKeyError>(name.py()) => None,
                Err(error) => return Err(error),
            },
        };
        match local {
            Some(value) => Ok(Some(value)),
            None => match globals.get_item(name)? {
                Some(value) => Ok(Some(value)),
                None => builtins(name.py())?.dict().get_item(name),
            },
        }
    }
}

fn builtins(py: Python<'_>) -> PyResult<&Bound<'_, pyo3::types::PyModule>> {
    static BUILTINS: MadeOnce<Py<pyo3::types::PyModule>> = MadeOnce::new();
    Ok(BUILTINS.get_or_try_init(py, || crate::compat::import(py, "builtins").map(Bound::unbind))?.bind(py))
}

fn eval(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    static EVAL: MadeOnce<Py<PyAny>> = MadeOnce::new();
    Ok(EVAL.get_or_try_init(py, || builtins(py)?.getattr("eval").map(Bound::unbind))?.bind(py))
}

/// VarsPrinter: `[expression => value]` for every expression whose names are all defined in the frame; the
/// first row carries the location and kind, the others `...`.
pub fn vars_rows(printing: &Printing<'_, '_>, expressions: &[Expression], out: &mut String) -> PyResult<()> {
    let py = printing.py();
    let event = printing.event;
    let templates = printing.templates();
    let prefixes = Prefixes::of(printing)?;
    let mut scope =
        Scope { locals: event.get(py, Field::Locals)?, globals: event.get(py, Field::Globals)?, namespace: None };
    let mut first = true;
    for expression in expressions {
        if !expression.is_defined(&scope)? {
            continue;
        }
        let value = match expression.evaluate(&mut scope) {
            Ok(value) => Ok(value),
            Err(error) if error.is_instance_of::<PyAttributeError>(py) || error.is_instance_of::<PyKeyError>(py) => {
                continue
            }
            Err(error) if error.is_instance_of::<PyException>(py) => Err(error),
            Err(error) => return Err(error),
        };
        let shown = Cell::of(py, printing.hooked(), |arg| match &value {
            Ok(value) => printing.value(arg, value),
            Err(error) => arg.build(py, |out| {
                templates.failed_eval.format(out, "", |_, arg| arg.object(error.value(py).clone().into_any()))
            }),
        })?;
        let template = if first { &templates.vars_row } else { &templates.vars_more_row };
        printing.row(out, template, "", |number, arg| match number {
            0..=2 => prefixes.write(printing, first, number, arg),
            3 if first => arg.push(py, event.kind.name()),
            3 => arg.object(expression.text.bind(py).clone()),
            4 if first => arg.object(expression.text.bind(py).clone()),
            _ => arg.cell(py, &shown),
        })?;
        first = false;
    }
    Ok(())
}

/// The prefixes of an event's rows: pid and thread, and (hunter computes them all before the first row) in
/// hook mode the location and the blank location of continuation rows.
struct Prefixes<'py> {
    pid: Cell<'static, 'py>,
    thread: Cell<'static, 'py>,
    location: Option<Cell<'static, 'py>>,
    blank: Option<Cell<'static, 'py>>,
}

impl<'py> Prefixes<'py> {
    fn of(printing: &Printing<'_, 'py>) -> PyResult<Prefixes<'py>> {
        let py = printing.py();
        let hooked = printing.hooked();
        Ok(Prefixes {
            pid: Cell::of(py, hooked, |arg| printing.pid_prefix(arg))?,
            thread: Cell::of(py, hooked, |arg| printing.thread_prefix(arg))?,
            location: printing.up_front(|arg| printing.filename_prefix(arg))?,
            blank: printing.up_front(|arg| printing.blank_filename_prefix(arg))?,
        })
    }

    /// Argument `number` (0 to 2) of a first row of an event or of a continuation row.
    fn write(&self, printing: &Printing<'_, 'py>, first: bool, number: usize, arg: &mut Arg<'_, 'py>) -> PyResult<()> {
        let py = printing.py();
        match (number, first, &self.location, &self.blank) {
            (0, ..) => arg.cell(py, &self.pid),
            (1, ..) => arg.cell(py, &self.thread),
            (_, true, Some(location), _) => arg.cell(py, location),
            (_, true, None, _) => printing.filename_prefix(arg),
            (_, false, _, Some(blank)) => arg.cell(py, blank),
            (_, false, _, None) => printing.blank_filename_prefix(arg),
        }
    }
}

/// VarsSnooper: `[name := value]` for each local new to the event's code, `[name : old => new]` for each
/// changed one, sorted by name; what it has seen is kept in `stored_reprs` and forgotten on return.
pub fn snooper_rows<'py>(
    printing: &Printing<'_, 'py>,
    stored_reprs: &Bound<'py, PyAny>,
    out: &mut String,
) -> PyResult<()> {
    let py = printing.py();
    let event = printing.event;
    let templates = printing.templates();
    let prefixes = Prefixes::of(printing)?;
    let mut current = Vec::new();
    for (name, value) in items(&event.get(py, Field::Locals)?)? {
        current.push((name, Cell::of(py, printing.hooked(), |arg| printing.value(arg, &value))?));
    }
    sort_by_name(&mut current)?;
    let code = event.get(py, Field::Code)?;
    let scope_key = if code.is_truthy()? { code } else { event.get(py, Field::Function)? };
    let scope = stored_reprs.get_item(&scope_key)?;
    let mut first = true;
    for (name, shown) in &current {
        let previous = match scope.cast_exact::<PyDict>() {
            Ok(scope) => scope.get_item(name)?,
            Err(_) => Some(scope.call_method1("get", (name,))?),
        }
        .filter(|previous| !previous.is_none());
        if let Some(previous) = &previous {
            if same_value(previous, shown)? {
                continue;
            }
        }
        match shown {
            Cell::Text(text) => scope.set_item(name, text.as_ref())?,
            Cell::Object(shown) => scope.set_item(name, shown)?,
        }
        let template = match (&previous, first) {
            (None, true) => &templates.snoop_new_row,
            (None, false) => &templates.snoop_new_more_row,
            (Some(_), true) => &templates.snoop_changed_row,
            (Some(_), false) => &templates.snoop_changed_more_row,
        };
        printing.row(out, template, "", |number, arg| match (number, &previous) {
            (0..=2, _) => prefixes.write(printing, first, number, arg),
            (3, _) => arg.push(py, if first { event.kind.name() } else { "..." }),
            (4, _) => arg.object(name.clone()),
            (5, Some(previous)) => arg.object(previous.clone()),
            _ => arg.cell(py, shown),
        })?;
        first = false;
    }
    if event.kind == Kind::Return {
        stored_reprs.call_method1("pop", (scope_key, py.None()))?;
    }
    Ok(())
}

/// `list(mapping.items())`: a copy, as rendering the values may run code that changes the mapping.
fn items<'py>(mapping: &Bound<'py, PyAny>) -> PyResult<Vec<(Bound<'py, PyAny>, Bound<'py, PyAny>)>> {
    let items = match mapping.cast::<PyDict>() {
        Ok(dict) => dict.items(),
        Err(_) => PyList::new(mapping.py(), mapping.call_method0("items")?.try_iter()?.collect::<PyResult<Vec<_>>>()?)?,
    };
    items.iter().map(|item| item.extract()).collect()
}

/// `sorted()` by name: Python's `<`, which for strings is the order of their code points (and of their UTF-8).
fn sort_by_name(entries: &mut [(Bound<'_, PyAny>, Cell<'_, '_>)]) -> PyResult<()> {
    let mut failure = None;
    entries.sort_by(|(a, _), (b, _)| {
        if let (Some(a), Some(b)) = (as_str(a), as_str(b)) {
            return a.cmp(b);
        }
        let order = || -> PyResult<Ordering> {
            Ok(if a.lt(b)? {
                Ordering::Less
            } else if b.lt(a)? {
                Ordering::Greater
            } else {
                Ordering::Equal
            })
        };
        order().unwrap_or_else(|error| {
            failure.get_or_insert(error);
            Ordering::Equal
        })
    });
    failure.map_or(Ok(()), Err)
}

fn as_str<'a>(name: &'a Bound<'_, PyAny>) -> Option<&'a str> {
    name.cast::<PyString>().ok()?.to_str().ok()
}

/// `previous == shown`, without making a Python string of a native text when `previous` is one.
fn same_value(previous: &Bound<'_, PyAny>, shown: &Cell<'_, '_>) -> PyResult<bool> {
    let text = match shown {
        // hunter shows a change when `previous != shown`.
        Cell::Object(shown) => return Ok(!previous.ne(shown)?),
        Cell::Text(text) => text.as_ref(),
    };
    if let Ok(previous) = previous.cast_exact::<PyString>() {
        if let Ok(previous) = previous.to_str() {
            return Ok(previous == text);
        }
    }
    previous.eq(text)
}
