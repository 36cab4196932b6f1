//! Predicates: the Query language and its combinators, evaluated natively against `EventRef`s.
//!
//! Besides evaluating an event, every predicate can give a *static verdict* for a code object and an
//! event kind (see `Verdict`), which the tracer caches per code object so that events of code that can
//! never match are rejected without building an event at all.

use pyo3::prelude::*;
use pyo3::types::{PyTuple, PyType};

use crate::codeinfo::CodeInfo;
use crate::compat;
use crate::event::{EventRef, Kind};
use crate::verdict::Verdict;

/// Wraps a predicate class's own `#[pymethods]` with what every predicate shares: the `| & ~` algebra
/// (hunter's, including the reflected operators for `callable | predicate`), unhashability, and copying and
/// pickling as made again from its constructor's arguments (`remade::Remade`).
///
/// `~predicate` is `Not(predicate)` unless the class names its own inversion (`inverted: path`, a function
/// of `&Bound<Self>`): `~Not(x)` is `x`, `~Backlog(c, ...)` is `Backlog(Not(c), ...)`.
///
/// Garbage collection: each class has a `__traverse__`. Only state that changes after construction needs a
/// `__clear__` (Backlog's queue): a reference that never changes cannot close a cycle on its own, which
/// always also runs through a mutable object (a list among a query's values, an action's `__dict__`) that
/// the collector clears.
macro_rules! predicate_pymethods {
    ($class:ident { $($methods:tt)* }) => {
        predicate_pymethods!($class, inverted: $crate::predicates::logic::negation, { $($methods)* });
    };
    ($class:ident, inverted: $inverted:path, { $($methods:tt)* }) => {
        #[pymethods]
        impl $class {
            $($methods)*

            /// Equality is by value and some predicates are stateful: unhashable, as in hunter.
            #[classattr]
            const __hash__: Option<Py<PyAny>> = None;

            fn __or__<'py>(slf: &Bound<'py, Self>, other: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
                $crate::predicates::logic::combine::<$crate::predicates::logic::Or>(slf.as_any(), other)
            }

            fn __ror__<'py>(slf: &Bound<'py, Self>, other: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
                $crate::predicates::logic::combine_reflected::<$crate::predicates::logic::Or>(other, slf.as_any())
            }

            fn __and__<'py>(slf: &Bound<'py, Self>, other: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
                $crate::predicates::logic::combine::<$crate::predicates::logic::And>(slf.as_any(), other)
            }

            fn __rand__<'py>(slf: &Bound<'py, Self>, other: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
                $crate::predicates::logic::combine_reflected::<$crate::predicates::logic::And>(other, slf.as_any())
            }

            fn __invert__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
                $inverted(slf)
            }

            /// Copied and pickled as made again from what it was made of (`copy.copy`, `copy.deepcopy`, `pickle`,
            /// as hunter's predicates are): its constructor's `(args, kwargs)`.
            fn __getnewargs_ex__<'py>(
                &self,
                py: Python<'py>,
            ) -> PyResult<(Bound<'py, pyo3::types::PyTuple>, Bound<'py, pyo3::types::PyDict>)> {
                $crate::predicates::remade::Remade::constructor_arguments(self, py)
            }

            /// Nothing besides what it is made of, but a subclass's attributes (its instance dict).
            fn __getstate__<'py>(slf: &Bound<'py, Self>) -> PyResult<Option<Bound<'py, PyAny>>> {
                slf.getattr_opt(pyo3::intern!(slf.py(), "__dict__"))
            }
        }
    };
}

mod backlog;
mod facts;
mod from;
mod logic;
mod nesting;
mod query;
mod remade;
mod when;

use backlog::Backlog;
pub use facts::StaticFacts;
use from::From;
use logic::{And, Junction, Not, Or};
use nesting::{Nested, Operand};
use query::Query;
use when::When;

/// A predicate's result: ours are plain bools; Python callables (and `From`/`Backlog`, which pass a
/// callable's result through, as hunter does) may return any object, judged by its truthiness.
pub(crate) enum Outcome<'py> {
    Bool(bool),
    Object(Bound<'py, PyAny>),
}

impl<'py> Outcome<'py> {
    pub(crate) fn is_true(&self) -> PyResult<bool> {
        match self {
            Outcome::Bool(value) => Ok(*value),
            Outcome::Object(value) => value.is_truthy(),
        }
    }

    pub(crate) fn into_object(self, py: Python<'py>) -> Bound<'py, PyAny> {
        match self {
            Outcome::Bool(value) => pyo3::types::PyBool::new(py, value).to_owned().into_any(),
            Outcome::Object(value) => value,
        }
    }
}

/// Evaluates any predicate (ours natively, anything else as a Python callable) on an event.
pub fn evaluate(py: Python<'_>, predicate: &Bound<'_, PyAny>, event: &EventRef<'_>) -> PyResult<bool> {
    evaluate_outcome(py, predicate, event)?.is_true()
}

/// Evaluates a predicate keeping its raw result, dispatching on the exact type as hunter's `fast_call`.
pub(crate) fn evaluate_outcome<'py>(
    py: Python<'py>,
    predicate: &Bound<'py, PyAny>,
    event: &EventRef<'_>,
) -> PyResult<Outcome<'py>> {
    if let Ok(query) = predicate.cast_exact::<Query>() {
        return Ok(Outcome::Bool(query.get().matches_event(py, event)?));
    }
    let _nested = Nested::enter()?;
    Ok(if let Ok(when) = predicate.cast_exact::<When>() {
        Outcome::Bool(when.get().evaluate(py, event)?)
    } else if let Ok(and) = predicate.cast_exact::<And>() {
        Outcome::Bool(and.get().evaluate(py, event)?)
    } else if let Ok(or) = predicate.cast_exact::<Or>() {
        Outcome::Bool(or.get().evaluate(py, event)?)
    } else if let Ok(not) = predicate.cast_exact::<Not>() {
        Outcome::Bool(not.get().evaluate(py, event)?)
    } else if let Ok(from) = predicate.cast_exact::<From>() {
        from.get().evaluate(py, event)?
    } else if let Ok(backlog) = predicate.cast_exact::<Backlog>() {
        backlog.get().evaluate(py, event)?
    } else {
        Outcome::Object(predicate.call1((event.as_py(py)?,))?)
    })
}

/// Runs `body` on a Python-provided event (or a stand-in for one, see `EventRef::stand_in`); callables and actions
/// downstream get that very object.
pub(crate) fn with_event<R>(event: &Bound<'_, PyAny>, body: impl FnOnce(&EventRef<'_>) -> PyResult<R>) -> PyResult<R> {
    body(&EventRef::of_object(event.clone().unbind()))
}

/// The static verdict of any predicate for Python events of one code object and kind.
pub fn static_verdict(predicate: &Bound<'_, PyAny>, facts: &StaticFacts<'_>) -> PyResult<Verdict> {
    let py = predicate.py();
    if let Ok(query) = predicate.cast_exact::<Query>() {
        return Ok(query.get().static_verdict(py, facts));
    }
    // Nested too deep to walk: evaluated at each event (where it raises).
    let Some(_nested) = Nested::try_enter() else { return Ok(Verdict::Effectful) };
    Ok(if let Ok(not) = predicate.cast_exact::<Not>() {
        static_verdict(not.get().predicate.bind(py), facts)?.negated()
    } else if let Ok(and) = predicate.cast_exact::<And>() {
        logic::junction_verdict::<And>(and.get(), py, facts)?
    } else if let Ok(or) = predicate.cast_exact::<Or>() {
        logic::junction_verdict::<Or>(or.get(), py, facts)?
    } else if let Ok(when) = predicate.cast_exact::<When>() {
        match static_verdict(when.get().condition.bind(py), facts)? {
            Verdict::Never => Verdict::Never,
            _ => Verdict::Effectful,
        }
    } else {
        Verdict::Effectful
    })
}

/// The one action of a handler `When(condition, action)`: what a backend may record into directly (see
/// `engine::record_directly`). None for any other handler. Runs no Python code.
pub fn sole_action<'a, 'py>(handler: &'a Bound<'py, PyAny>) -> Option<Borrowed<'a, 'py, PyAny>> {
    let when = handler.cast_exact::<When>().ok()?;
    let actions = when.get().actions.bind(handler.py());
    // SAFETY: item 0 of a tuple of one item (checked first), which the handler's `When` holds for as long as the
    // handler is borrowed.
    (actions.len() == 1).then(|| unsafe { actions.get_borrowed_item_unchecked(0) })
}

/// Whether the handler is a `When` whose condition accepts every event (as `trace(action=...)` makes): so also
/// every builtin event, which no per-code verdict decides.
pub fn accepts_every_event(handler: &Bound<'_, PyAny>) -> bool {
    handler.cast_exact::<When>().is_ok_and(|when| when.get().accepts_all())
}

/// The static verdict of a handler whose sole action is recorded into directly: its condition's, made
/// `Recorded` where it always holds; line events, which such an action ignores, are `Never`.
pub fn recorded_verdict(handler: &Bound<'_, PyAny>, facts: &StaticFacts<'_>) -> PyResult<Verdict> {
    let when = handler.cast_exact::<When>()?;
    if facts.kind == Kind::Line {
        return Ok(Verdict::Never);
    }
    Ok(match static_verdict(when.get().condition.bind(handler.py()), facts)? {
        Verdict::Never => Verdict::Never,
        Verdict::Always => verdict_recording_everything(facts.kind),
        _ => Verdict::Effectful,
    })
}

/// The verdict of every `kind` event of a handler whose sole action is recorded into directly and whose condition
/// accepts every event (`accepts_every_event`), whatever its code: recorded, but line events, which such an action
/// ignores.
pub fn verdict_recording_everything(kind: Kind) -> Verdict {
    if kind == Kind::Line {
        Verdict::Never
    } else {
        Verdict::Recorded
    }
}

/// Whether evaluating the predicate may read an event's `depth` or `calls` (so a backend must keep
/// counting them): depth/calls queries, and anything that hands events to arbitrary code.
pub fn uses_counters(predicate: &Bound<'_, PyAny>) -> bool {
    let py = predicate.py();
    let Some(_nested) = Nested::try_enter() else { return true };
    if let Ok(query) = predicate.cast_exact::<Query>() {
        query.get().uses_counters()
    } else if let Ok(when) = predicate.cast_exact::<When>() {
        let when = when.get();
        uses_counters(when.condition.bind(py)) || when.actions.bind(py).iter().any(|action| !ignores_counters(&action))
    } else if let Ok(not) = predicate.cast_exact::<Not>() {
        uses_counters(not.get().predicate.bind(py))
    } else if let Ok(and) = predicate.cast_exact::<And>() {
        and.get().predicates.bind(py).iter().any(|child| uses_counters(&child))
    } else if let Ok(or) = predicate.cast_exact::<Or>() {
        or.get().predicates.bind(py).iter().any(|child| uses_counters(&child))
    } else {
        true
    }
}

/// Whether the static verdict of the predicate can differ between event kinds: only `kind` queries make it.
pub fn verdict_depends_on_kind(predicate: &Bound<'_, PyAny>) -> bool {
    let py = predicate.py();
    let Some(_nested) = Nested::try_enter() else { return true };
    if let Ok(query) = predicate.cast_exact::<Query>() {
        query.get().reads_kind()
    } else if let Ok(when) = predicate.cast_exact::<When>() {
        verdict_depends_on_kind(when.get().condition.bind(py))
    } else if let Ok(not) = predicate.cast_exact::<Not>() {
        verdict_depends_on_kind(not.get().predicate.bind(py))
    } else if let Ok(and) = predicate.cast_exact::<And>() {
        and.get().predicates.bind(py).iter().any(|child| verdict_depends_on_kind(&child))
    } else if let Ok(or) = predicate.cast_exact::<Or>() {
        or.get().predicates.bind(py).iter().any(|child| verdict_depends_on_kind(&child))
    } else {
        // Anything else is effectful for every kind.
        false
    }
}

/// hunter's own actions that never look at an event's `depth` or `calls` (exact types: a subclass may).
const COUNTER_BLIND_ACTIONS: [(&str, &str); 11] = [
    ("hunter.actions", "CallPrinter"),
    ("hunter.actions", "TreePrinter"),
    ("hunter.actions", "Profile"),
    ("hunter.actions", "Timeline"),
    ("hunter.actions", "CodePrinter"),
    ("hunter.actions", "VarsPrinter"),
    ("hunter.actions", "VarsSnooper"),
    ("hunter.actions", "StackPrinter"),
    ("hunter.actions", "Debugger"),
    ("hunter.actions", "Manhole"),
    ("hunter", "Stop"),
];

fn ignores_counters(action: &Bound<'_, PyAny>) -> bool {
    let py = action.py();
    let action_type = action.get_type();
    COUNTER_BLIND_ACTIONS.iter().any(|(module, name)| {
        crate::compat::import(py, module)
            .and_then(|module| module.getattr(*name))
            .is_ok_and(|class| action_type.is(&class))
    })
}

/// hunter's rule for actions given as classes: a subclass of `hunter.actions.Action` is instantiated
/// with no arguments; anything else is used as given.
pub(crate) fn instantiate_action<'py>(action: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let py = action.py();
    if let Ok(class) = action.cast::<PyType>() {
        let base = crate::compat::import(py, "hunter.actions")?.getattr(pyo3::intern!(py, "Action"))?;
        if class.is_subclass(&base)? {
            return action.call0();
        }
    }
    Ok(action.clone())
}

/// `', '.join(str(p) for p in items)`.
fn join_str(items: &Bound<'_, PyTuple>) -> PyResult<String> {
    let parts: Vec<String> = items.iter().map(|item| Ok(item.str()?.to_string())).collect::<PyResult<_>>()?;
    Ok(parts.join(", "))
}

/// The static verdict of `predicate` for Python events of `kind` in `frame`'s code (a test hook: the
/// tracer caches exactly this per code object).
#[pyfunction]
fn _static_verdict(
    predicate: &Bound<'_, PyAny>,
    frame: &Bound<'_, PyAny>,
    kind: &Bound<'_, PyAny>,
) -> PyResult<&'static str> {
    let py = predicate.py();
    let frame = frame
        .cast::<pyo3::types::PyFrame>()
        .map_err(|_| pyo3::exceptions::PyTypeError::new_err("a frame object is required"))?;
    let (kind, builtin) = Kind::from_py(kind)?;
    if builtin {
        return Err(pyo3::exceptions::PyValueError::new_err("verdicts are only computed for Python events"));
    }
    let code = compat::frame_code_bound(frame);
    // SAFETY: `code` is held for the whole call, which keeps its info alive.
    let info = unsafe { CodeInfo::of_code(py, code.as_borrowed())? };
    Ok(static_verdict(predicate, &StaticFacts::of_code(info, &compat::frame_globals_bound(frame), kind)?)?.name())
}

#[pyfunction]
fn _uses_counters(predicate: &Bound<'_, PyAny>) -> bool {
    uses_counters(predicate)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<Query>()?;
    m.add_class::<When>()?;
    m.add_class::<And>()?;
    m.add_class::<Or>()?;
    m.add_class::<Not>()?;
    m.add_class::<From>()?;
    m.add_class::<Backlog>()?;
    m.add("ALLOWED_KEYS", PyTuple::new(py, query::allowed_keys())?)?;
    m.add("ALLOWED_OPERATORS", PyTuple::new(py, query::allowed_operators())?)?;
    m.add_function(wrap_pyfunction!(_static_verdict, m)?)?;
    m.add_function(wrap_pyfunction!(_uses_counters, m)?)?;
    Ok(())
}
