//! `Backlog(condition, ...)`: keeps detached copies of the events the condition rejects, and when it
//! matches, replays them (after fake call events for the missing stack) through the action.

use std::collections::VecDeque;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::pyclass::{PyTraverseError, PyVisit};
use pyo3::types::{PyDict, PyTuple};

use super::logic::{flatten, negation, And};
use super::{evaluate, evaluate_outcome, instantiate_action, with_event, Nested, Operand, Outcome};
use crate::event::{parent_frame, Event, EventRef, Kind};
use crate::gilcell::GilCell;

/// Until-point buffering: keeps the last ``size`` events that ``condition`` does not match, and when it
/// matches, shows them through ``action`` (the events before something interesting happened, where
/// :class:`From` shows the ones after).
///
/// Before the buffered events, it shows up to ``stack`` made-up ``call`` events for the frames above the
/// first buffered one, so the output starts at a sensible depth. The matching event itself is not shown
/// by the backlog: use it inside ``When(backlog, action)`` (as ``trace(backlog)`` does).
/// Buffering every event costs time: give a ``filter``, or put the backlog behind a cheap predicate
/// (``When``, ``And``) so that fewer events reach it.
///
/// Args:
///     condition: the predicate whose matches trigger the replay (a :class:`Query` or any callable).
///     size: how many events to keep (the oldest are dropped).
///     stack: how many made-up call events to show above the first buffered event; ``0`` shows none.
///     vars: keep the events' local and global variables (rendered with ``action.try_repr``; costly).
///     strip: empty the buffer at each event at depth 0, so a match shows only the current call tree.
///     action: the ``ColorStreamAction`` (an instance or a class) that shows the events; required.
///     filter: a predicate that events must match to be buffered and shown, or ``None``.
///
/// Calling it returns what ``condition`` returned. ``~backlog`` negates the condition, and
/// ``backlog.filter(...)`` adds to the filter.
///
/// Example::
///
///     When(Backlog(Query(kind='exception'), size=50, action=CallPrinter), CallPrinter)
#[pyclass(module = "hunter.predicates", name = "Backlog", frozen, subclass, weakref)]
pub struct Backlog {
    condition: Operand,
    size: usize,
    stack: i64,
    vars: bool,
    strip: bool,
    action: Py<PyAny>,
    /// `action.try_repr` when `vars` is set: the value filter for detaching events.
    try_repr: Option<Py<PyAny>>,
    filter: Option<Operand>,
    queue: GilCell<VecDeque<Py<Event>>>,
}

/// The constructor arguments that derived backlogs (`~backlog`, `backlog.filter(...)`) copy over.
struct Settings<'py> {
    condition: Bound<'py, PyAny>,
    size: i64,
    stack: i64,
    vars: bool,
    strip: bool,
    action: Bound<'py, PyAny>,
    filter: Option<Bound<'py, PyAny>>,
}

/// A flag argument taken by truthiness, as hunter's Cython `bint` parameters are.
struct Flag(bool);

impl<'a, 'py> FromPyObject<'a, 'py> for Flag {
    type Error = PyErr;

    fn extract(value: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        Ok(Flag(value.is_truthy()?))
    }
}

fn python_bool(value: bool) -> &'static str {
    if value {
        "True"
    } else {
        "False"
    }
}

impl Backlog {
    fn build(settings: Settings<'_>) -> PyResult<Backlog> {
        let py = settings.action.py();
        let action = instantiate_action(&settings.action)?;
        let base = crate::compat::import(py, "hunter.actions")?.getattr(pyo3::intern!(py, "ColorStreamAction"))?;
        if !action.is_instance(&base)? {
            return Err(PyTypeError::new_err(format!("Action {} must be a ColorStreamAction.", action.repr()?)));
        }
        let size = usize::try_from(settings.size).map_err(|_| PyValueError::new_err("maxlen must be non-negative"))?;
        let try_repr = match settings.vars {
            true => Some(action.getattr(pyo3::intern!(py, "try_repr"))?.unbind()),
            false => None,
        };
        Ok(Backlog {
            condition: Operand::new(settings.condition.unbind()),
            size,
            stack: settings.stack,
            vars: settings.vars,
            strip: settings.strip,
            action: action.unbind(),
            try_repr,
            filter: settings.filter.map(|filter| Operand::new(filter.unbind())),
            queue: GilCell::new(VecDeque::new()),
        })
    }

    /// This backlog's settings, with `strip` back to its default as hunter's derived backlogs have it.
    fn derived_settings<'py>(&self, py: Python<'py>) -> Settings<'py> {
        Settings {
            condition: self.condition.bind(py).clone(),
            size: self.size as i64,
            stack: self.stack,
            vars: self.vars,
            strip: true,
            action: self.action.bind(py).clone(),
            filter: self.filter.as_ref().map(|filter| filter.bind(py).clone()),
        }
    }

    /// `~backlog`: the same backlog with a negated condition.
    fn inverted<'py>(slf: &Bound<'py, Backlog>) -> PyResult<Bound<'py, PyAny>> {
        let (py, backlog) = (slf.py(), slf.get());
        let condition = negation(backlog.condition.bind(py))?;
        let backlog = Backlog::build(Settings { condition, ..backlog.derived_settings(py) })?;
        Ok(Bound::new(py, backlog)?.into_any())
    }

    pub(crate) fn evaluate<'py>(&self, py: Python<'py>, event: &EventRef<'_>) -> PyResult<Outcome<'py>> {
        let result = evaluate_outcome(py, self.condition.bind(py), event)?;
        if result.is_true()? {
            let queue = self.queue.replace(py, VecDeque::new());
            if !queue.is_empty() {
                self.replay(py, &queue, event)?;
            }
        } else {
            if self.strip && event.data(py)?.depth < 1 {
                // Back at the top: what is queued is likely a long stream of uninteresting returns.
                drop(self.queue.replace(py, VecDeque::new()));
            }
            if self.passes_filter(py, event)? {
                self.remember(py, event)?;
            }
        }
        Ok(result)
    }

    fn passes_filter(&self, py: Python<'_>, event: &EventRef<'_>) -> PyResult<bool> {
        match &self.filter {
            None => Ok(true),
            Some(filter) => evaluate(py, filter.bind(py), event),
        }
    }

    /// Queues a detached copy of the event that still points at the live frame (for the stack walk).
    fn remember(&self, py: Python<'_>, event: &EventRef<'_>) -> PyResult<()> {
        let data = event.data(py)?;
        let mut detached = data.detach(py, self.try_repr.as_ref().map(|filter| filter.bind(py)))?;
        detached.set_frame(data.frame().map(|frame| frame.clone_ref(py)));
        drop(data);
        let detached = Py::new(py, Event::from(detached))?;
        let mut queue = self.queue.replace(py, VecDeque::new());
        queue.push_back(detached);
        let evicted = if queue.len() > self.size { queue.pop_front() } else { None };
        self.queue.replace(py, queue);
        // Dropped only now: freeing an event may run arbitrary code, which must see a consistent queue.
        drop(evicted);
        Ok(())
    }

    fn replay(&self, py: Python<'_>, queue: &VecDeque<Py<Event>>, event: &EventRef<'_>) -> PyResult<()> {
        let action = self.action.bind(py);
        action.call_method0(pyo3::intern!(py, "cleanup"))?;
        let first = queue.front().expect("replay needs events").bind(py);
        let (first_depth, first_is_call, first_frame) = {
            let first = first.try_borrow()?;
            let frame = first.data.frame().map(|frame| frame.as_any(py).clone());
            (first.data.depth, first.data.kind == Kind::Call, frame)
        };
        let (event_depth, threading_support) = {
            let data = event.data(py)?;
            (data.depth, data.threading_support)
        };
        let backlog_call_depth = event_depth - first_depth;
        let missing_depth = first_depth.min(0.max(self.stack - backlog_call_depth + i64::from(first_is_call)));
        if missing_depth != 0 {
            let mut frame = match first_frame {
                Some(frame) if first_is_call => parent_frame(&frame)?,
                other => other,
            };
            let mut stack_events = Vec::new();
            let mut depth_delta = 0;
            while let Some(current) = frame.filter(|_| depth_delta < missing_depth) {
                let depth = first_depth - depth_delta - 1;
                stack_events.push(self.stack_event(&current, depth, threading_support)?);
                frame = parent_frame(&current)?;
                depth_delta += 1;
            }
            for stack_event in stack_events.iter().rev() {
                self.emit(py, stack_event)?;
            }
        }
        for queued in queue {
            self.emit(py, queued.bind(py))?;
        }
        Ok(())
    }

    /// A fake `call` event for a frame above the first queued event (`calls=-1`; without `vars`, detached
    /// and with empty locals/globals).
    fn stack_event<'py>(
        &self,
        frame: &Bound<'py, PyAny>,
        depth: i64,
        threading_support: Option<bool>,
    ) -> PyResult<Bound<'py, Event>> {
        let py = frame.py();
        let event = py
            .get_type::<Event>()
            .call1((frame, Kind::Call.py_name(py), py.None(), depth, -1, threading_support))?
            .cast_into::<Event>()?;
        if !self.vars {
            event.setattr(pyo3::intern!(py, "locals"), PyDict::new(py))?;
            event.setattr(pyo3::intern!(py, "globals"), PyDict::new(py))?;
            event.setattr(pyo3::intern!(py, "detached"), true)?;
        }
        Ok(event)
    }

    fn emit(&self, py: Python<'_>, event: &Bound<'_, Event>) -> PyResult<()> {
        if with_event(event.as_any(), |event_ref| self.passes_filter(py, event_ref))? {
            self.action.bind(py).call1((event,))?;
        }
        Ok(())
    }

    fn filter_str(&self, py: Python<'_>) -> PyResult<String> {
        Ok(match &self.filter {
            Some(filter) => filter.bind(py).str()?.to_string(),
            None => "None".to_owned(),
        })
    }

    fn filter_repr(&self, py: Python<'_>) -> PyResult<String> {
        Ok(match &self.filter {
            Some(filter) => filter.bind(py).repr()?.to_string(),
            None => "None".to_owned(),
        })
    }
}

impl super::remade::Remade for Backlog {
    fn constructor_arguments<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyTuple>, Bound<'py, PyDict>)> {
        let options = PyDict::new(py);
        options.set_item("size", self.size)?;
        options.set_item("stack", self.stack)?;
        options.set_item("vars", self.vars)?;
        options.set_item("strip", self.strip)?;
        options.set_item("action", &self.action)?;
        options.set_item("filter", self.filter.as_ref().map(|filter| filter.clone_ref(py)))?;
        Ok((PyTuple::new(py, [self.condition.clone_ref(py)])?, options))
    }
}

predicate_pymethods!(Backlog, inverted: Backlog::inverted, {
    #[new]
    #[pyo3(
        signature = (condition, size=100, stack=10, vars=Flag(false), strip=Flag(true), action=None, filter=None),
        text_signature = "(condition, size=100, stack=10, vars=False, strip=True, action=None, filter=None)"
    )]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        condition: Bound<'_, PyAny>,
        size: i64,
        stack: i64,
        vars: Flag,
        strip: Flag,
        action: Option<Bound<'_, PyAny>>,
        filter: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        Backlog::build(Settings {
            condition,
            size,
            stack,
            vars: vars.0,
            strip: strip.0,
            action: action.unwrap_or_else(|| py.None().into_bound(py)),
            filter,
        })
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&*self.condition)?;
        visit.call(&self.action)?;
        visit.call(&self.try_repr)?;
        visit.call(self.filter.as_deref())?;
        // SAFETY: called from `__traverse__` (the collector holds the GIL); the queue is only ever replaced.
        for event in unsafe { self.queue.during_gc() } {
            visit.call(event)?;
        }
        Ok(())
    }

    /// The queued events are the mutable part (their frames' locals may hold this backlog); the other
    /// references never change (see [`predicate_pymethods`]).
    fn __clear__(&self, py: Python<'_>) {
        drop(self.queue.replace(py, VecDeque::new()));
    }

    fn __call__<'py>(&self, event: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let py = event.py();
        with_event(event, |event_ref| Ok(self.evaluate(py, event_ref)?.into_object(py)))
    }

    /// Returns a new Backlog with the same settings (but ``strip=True``, as in hunter) whose filter also
    /// requires ``predicates`` and the query given as keyword arguments: ``And(old filter, *predicates,
    /// Query(**kwargs))``, flattened.
    ///
    /// Example: ``backlog.filter(stdlib=False)`` drops standard-library events from the replay.
    #[pyo3(signature = (*predicates, **query), text_signature = "($self, *predicates, **kwargs)")]
    fn filter<'py>(
        &self,
        py: Python<'py>,
        predicates: &Bound<'py, PyTuple>,
        query: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Backlog> {
        let mut all: Vec<Bound<'py, PyAny>> = self.filter.iter().map(|filter| filter.bind(py).clone()).collect();
        all.extend(predicates.iter());
        let query = query.filter(|query| !query.is_empty());
        let as_query = || py.get_type::<super::query::Query>().call((), query);
        let filter = if all.is_empty() {
            as_query()?
        } else {
            if query.is_some() {
                all.push(as_query()?);
            }
            flatten::<And>(py, all)?
        };
        Backlog::build(Settings { filter: Some(filter), ..self.derived_settings(py) })
    }

    /// The predicate whose matches trigger the replay.
    #[getter]
    fn condition(&self, py: Python<'_>) -> Py<PyAny> {
        self.condition.clone_ref(py)
    }
    /// How many events the buffer keeps.
    #[getter]
    fn size(&self) -> usize {
        self.size
    }
    /// How many made-up call events are shown above the first buffered event.
    #[getter]
    fn stack(&self) -> i64 {
        self.stack
    }
    /// Whether buffered events keep their variables.
    #[getter]
    fn vars(&self) -> bool {
        self.vars
    }
    /// Whether the buffer is emptied at each event at depth 0.
    #[getter]
    fn strip(&self) -> bool {
        self.strip
    }
    /// The action that shows the buffered events.
    #[getter]
    fn action(&self, py: Python<'_>) -> Py<PyAny> {
        self.action.clone_ref(py)
    }
    /// The predicate that events must match to be buffered and shown, or None.
    #[getter]
    fn _filter(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.filter.as_ref().map(|filter| filter.clone_ref(py))
    }
    /// ``action.try_repr`` when ``vars`` is set, else None: renders the kept variables.
    #[getter]
    fn _try_repr(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.try_repr.as_ref().map(|try_repr| try_repr.clone_ref(py))
    }

    fn __str__(&self, py: Python<'_>) -> PyResult<String> {
        let _nested = Nested::enter()?;
        Ok(format!(
            "Backlog({}, size={}, stack={}, vars={}, action={}, filter={})",
            self.condition.bind(py).str()?,
            self.size,
            self.stack,
            python_bool(self.vars),
            self.action.bind(py).str()?,
            self.filter_str(py)?
        ))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let _nested = Nested::enter()?;
        Ok(format!(
            "<hunter.predicates.Backlog: condition={}, size={}, stack={}, vars={}, action={}, filter={}>",
            self.condition.bind(py).repr()?,
            self.size,
            self.stack,
            python_bool(self.vars),
            self.action.bind(py).repr()?,
            self.filter_repr(py)?
        ))
    }

    /// Compares everything but `filter` and `strip`, as hunter does.
    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<bool> {
        let _nested = Nested::enter()?;
        let Ok(other) = other.cast_exact::<Backlog>() else { return Ok(false) };
        let other = other.get();
        Ok(self.condition.bind(py).eq(other.condition.bind(py))?
            && self.size == other.size
            && self.stack == other.stack
            && self.vars == other.vars
            && self.action.bind(py).eq(other.action.bind(py))?)
    }
});
