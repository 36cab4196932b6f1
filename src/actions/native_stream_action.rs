//! The `NativeStreamAction` Python class, native base of `hunter.actions.ColorStreamAction`: which printer an
//! action runs (its `_native_printer`), the hunter methods it implements natively, and [`print_natively`], through
//! which `When` prints a matching event without a Python call.

use pyo3::exceptions::{PyNotImplementedError, PyOverflowError, PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::pyclass::{PyTraverseError, PyVisit};
use pyo3::types::{PyDict, PyFrame, PyTuple};
use pyo3::PyTypeInfo;

use super::call::{call_row, CallSpans};
use super::code::code_rows;
use super::facts::Lineno;
use super::options::Options;
use super::prefixes::{push_blank_filename_prefix, push_filename_prefix, push_pid_prefix, push_thread_prefix};
use super::printing::Printing;
use super::profile::Profile;
use super::source::push_source;
use super::stream::{new_py_string, write};
use super::timeline::{InOrderSpan, Released, Timeline, TimelineOptions};
use super::tree::{tree_event, write_open_trees, TreeSpans};
use super::values::{push_value, Value};
use super::{stack, vars};
use crate::compat::RunningFrame;
use crate::event::{Event, EventData, EventRef, Kind};
use crate::gilcell::{GilCell, GilRc};

/// Which rows `__call__` prints, from the class attribute `_native_printer`, with that printer's own options.
enum Printer {
    /// A base class: `__call__` is abstract.
    Abstract,
    Code,
    /// CallPrinter, with its `durations` option.
    Call {
        durations: bool,
    },
    /// TreePrinter, with its `max_rows` option.
    Tree {
        max_rows: usize,
    },
    Profile,
    Timeline(TimelineOptions),
    Vars(Vec<vars::Expression>),
    /// VarsSnooper, with its `stored_reprs`.
    Snooper(Py<PyAny>),
    Stack(stack::StackOptions),
}

impl Printer {
    fn read(action: &Bound<'_, PyAny>) -> PyResult<Printer> {
        Ok(match action.getattr("_native_printer")? {
            p if p.is_none() => Printer::Abstract,
            p if p.eq("code")? => Printer::Code,
            // A subclass whose `__init__` does not run CallPrinter's has no `durations`: off, as in hunter.
            p if p.eq("call")? => Printer::Call {
                durations: action
                    .getattr_opt("durations")?
                    .map(|value| value.is_truthy())
                    .transpose()?
                    .unwrap_or(false),
            },
            p if p.eq("tree")? => Printer::Tree { max_rows: count(&action.getattr("max_rows")?)? },
            p if p.eq("profile")? => Printer::Profile,
            p if p.eq("timeline")? => Printer::Timeline(TimelineOptions {
                size: count(&action.getattr("size")?)?,
                ring: action.getattr("on_full")?.eq("ring")?,
                args: action.getattr("args")?.is_truthy()?,
            }),
            p if p.eq("vars")? => Printer::Vars(vars::Expression::read_all(action)?),
            p if p.eq("vars_snooper")? => Printer::Snooper(action.getattr("stored_reprs")?.unbind()),
            p if p.eq("stack")? => Printer::Stack(stack::StackOptions::read(action)?),
            p => return Err(PyValueError::new_err(format!("unknown _native_printer {}", p.repr()?))),
        })
    }
}

/// A count option (`size`, `max_rows`; the Python side checks it is a positive int): one too large for a `usize`
/// is no limit, `usize::MAX`.
fn count(value: &Bound<'_, PyAny>) -> PyResult<usize> {
    value.extract::<usize>().or_else(|error| {
        if error.is_instance_of::<PyOverflowError>(value.py()) && value.gt(0)? {
            Ok(usize::MAX)
        } else {
            Err(error)
        }
    })
}

/// What an action prints with: its printer, and the options every printer uses.
struct Configuration {
    printer: Printer,
    options: Options,
}

impl Configuration {
    fn read(action: &Bound<'_, PyAny>) -> PyResult<Configuration> {
        Ok(Configuration { printer: Printer::read(action)?, options: Options::read(action)? })
    }

    /// Visits the Python objects the configuration holds, for the action's `__traverse__`. The expressions of
    /// VarsPrinter are strings and code compiled from them, through which no cycle can run.
    ///
    /// # Safety
    /// Only from `__traverse__`, where the collector holds the GIL.
    unsafe fn traverse(&self, visit: &PyVisit<'_>) -> Result<(), PyTraverseError> {
        // SAFETY: from `__traverse__` (this function's contract): `Options::traverse`'s contract.
        unsafe { self.options.traverse(visit) }?;
        if let Printer::Snooper(stored_reprs) = &self.printer {
            visit.call(stored_reprs)?;
        }
        Ok(())
    }
}

/// Native base of `hunter.actions.ColorStreamAction`: the formatting and writing of the printers.
#[pyclass(module = "hunter._hunter", name = "NativeStreamAction", subclass, frozen)]
pub struct NativeStreamAction {
    configuration: GilCell<Option<GilRc<Configuration>>>,
    /// Reused for every event; a re-entrant call (a `repr_func` printing) gets a fresh one.
    buffer: GilCell<String>,
    /// CallPrinter(durations=True): the calls open, to time their returns.
    call_spans: CallSpans,
    /// TreePrinter: the calls open and the trees being built.
    trees: TreeSpans,
    profile: Profile,
    timeline: Timeline,
}

impl NativeStreamAction {
    fn configuration(slf: &Bound<'_, Self>) -> PyResult<GilRc<Configuration>> {
        let py = slf.py();
        if let Some(configuration) = slf.get().configuration.clone_shared(py) {
            return Ok(configuration);
        }
        let configuration = GilRc::new(Configuration::read(slf.as_any())?);
        if let Printer::Timeline(options) = &configuration.printer {
            slf.get().timeline.options_read(py, options, !options.args && !configuration.options.hooked);
        }
        slf.get().configuration.replace(py, Some(configuration.clone_ref(py)));
        Ok(configuration)
    }

    /// Formats one event into the reused buffer and writes it with one `write` call; in hook mode the rows
    /// go to `output` one by one instead, and the hooks get `py_event`.
    fn print(
        slf: &Bound<'_, Self>,
        configuration: &Configuration,
        event: &EventData,
        py_event: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let py = slf.py();
        let options = &configuration.options;
        let mut out = slf.get().buffer.replace(py, String::new());
        out.clear();
        let printing = Printing {
            action: slf.as_any(),
            options,
            event,
            hooks: py_event.filter(|_| options.hooked),
            facts: std::cell::OnceCell::new(),
        };
        let formatted = match &configuration.printer {
            Printer::Abstract => Err(PyNotImplementedError::new_err(())),
            Printer::Code => code_rows(&printing, &mut out),
            Printer::Call { durations } => call_row(&printing, durations.then_some(&slf.get().call_spans), &mut out),
            Printer::Tree { max_rows } => tree_event(&printing, &slf.get().trees, *max_rows, &mut out),
            Printer::Profile => slf.get().profile.event(&printing),
            Printer::Timeline(timeline_options) => slf.get().timeline.event(&printing, timeline_options),
            Printer::Vars(expressions) => vars::vars_rows(&printing, expressions, &mut out),
            Printer::Snooper(stored_reprs) => vars::snooper_rows(&printing, stored_reprs.bind(py), &mut out),
            Printer::Stack(stack_options) => stack::stack_row(&printing, stack_options, &mut out),
        };
        // The variable printers may have nothing to show for an event.
        let written =
            formatted.and_then(|()| if out.is_empty() { Ok(()) } else { write(options, new_py_string(py, &out)) });
        slf.get().buffer.replace(py, out);
        written
    }
}

/// `action` as a `NativeStreamAction` whose `__call__` no Python subclass overrides.
fn native_action<'a, 'py>(action: &'a Bound<'py, PyAny>) -> Option<&'a Bound<'py, NativeStreamAction>> {
    if !inherits_native_call::<NativeStreamAction>(action) {
        return None;
    }
    action.cast::<NativeStreamAction>().ok()
}

/// Whether calling `object` runs the native class `T`'s `__call__`: Python subclasses inherit the slot unless they
/// define `__call__` (then it is `slot_tp_call`), also after the object was made.
pub fn inherits_native_call<T: PyTypeInfo>(object: &Bound<'_, PyAny>) -> bool {
    // SAFETY: `type_object_raw` gives T's live type object (attached, `object.py()`); only its `tp_call` slot is read.
    let native_call = unsafe { (*T::type_object_raw(object.py())).tp_call }.map(|f| f as *const ());
    // SAFETY: `object` is a live object, and so is its type; only its `tp_call` slot is read.
    let object_call = unsafe { (*ffi::Py_TYPE(object.as_ptr())).tp_call }.map(|f| f as *const ());
    object_call == native_call
}

/// `action` and its configuration when it is one whose `__call__` no Python subclass overrides and that replaces
/// none of the hooks (see [`super::rows`]): one whose printer can run without a Python `Event`. None for any other.
fn native_printer<'a, 'py>(
    action: &'a Bound<'py, PyAny>,
) -> Option<PyResult<(&'a Bound<'py, NativeStreamAction>, GilRc<Configuration>)>> {
    let printer = native_action(action)?;
    let configuration = match NativeStreamAction::configuration(printer) {
        Ok(configuration) => configuration,
        Err(error) => return Some(Err(error)),
    };
    (!configuration.options.hooked).then_some(Ok((printer, configuration)))
}

/// Runs a native printer on `event` when `action` is one whose `__call__` no Python subclass overrides and
/// that replaces none of the hooks (see [`super::rows`]). Returns None for any other action (the caller calls it
/// with a Python `Event`).
pub fn print_natively(action: &Bound<'_, PyAny>, event: &EventRef<'_>) -> Option<PyResult<()>> {
    Some(native_printer(action)?.and_then(|(printer, configuration)| {
        NativeStreamAction::print(printer, &configuration, &*event.data(action.py())?, None)
    }))
}

/// `action` when it is a Timeline that records what it is given without looking at more than the event's frame,
/// kind and `arg` (no `args`, no hooks, `__call__` not overridden): the engine may then record a Python function's
/// events into it directly ([`record_directly`], [`record_in_order`]), and skip line events. Reads the action's
/// options.
pub fn recorder<'a, 'py>(action: &'a Bound<'py, PyAny>) -> PyResult<Option<&'a Bound<'py, NativeStreamAction>>> {
    Ok(native_printer(action).transpose()?.and_then(|(printer, configuration)| {
        matches!(configuration.printer, Printer::Timeline(TimelineOptions { args: false, .. })).then_some(printer)
    }))
}

/// Records the event of a Python function running in `frame` (its `arg` as settrace passes it) into `action`
/// without an `Event`, when it is still a [`recorder`] (its options may have changed since). None
/// otherwise: the caller runs the handler.
pub fn record_directly(
    action: &Bound<'_, PyAny>,
    frame: &Bound<'_, PyFrame>,
    kind: Kind,
    exception_type: Option<Bound<'_, PyAny>>,
) -> Option<PyResult<()>> {
    let (printer, configuration) = match native_printer(action)? {
        Ok(found) => found,
        Err(error) => return Some(Err(error)),
    };
    match &configuration.printer {
        Printer::Timeline(options) if !options.args => {
            Some(printer.get().timeline.python_event(frame, kind, exception_type, options))
        }
        _ => None,
    }
}

/// [`record_directly`] into a [`recorder`] for a Python function's call, return or exception (of `exception_type`),
/// or a builtin's event, of `span`, that pairs in order, read from the running frame's identities and `span` (see
/// `Timeline::record_in_order`). None when that does not apply (the caller records it directly), or when the action
/// is no longer a recorder or its options are to be read again: nothing recorded, and no Python code run.
pub fn record_in_order<'py>(
    recorder: &Bound<'py, NativeStreamAction>,
    frame: RunningFrame,
    span: impl InOrderSpan<'py>,
    kind: Kind,
    exception_type: Option<Bound<'_, PyAny>>,
) -> Option<Released> {
    let py = recorder.py();
    if !inherits_native_call::<NativeStreamAction>(recorder.as_any()) {
        return None;
    }
    // Only with options read already (reading them runs Python code, the action's attributes, which this path must
    // not): the timeline knows whether they let it record in order.
    recorder.get().timeline.record_in_order(py, frame, span, kind, exception_type)
}

#[pymethods]
impl NativeStreamAction {
    #[new]
    #[pyo3(signature = (*_args, **_kwargs))]
    fn new(_args: &Bound<'_, PyTuple>, _kwargs: Option<&Bound<'_, PyDict>>) -> Self {
        NativeStreamAction {
            configuration: GilCell::new(None),
            buffer: GilCell::new(String::new()),
            call_spans: CallSpans::default(),
            trees: TreeSpans::default(),
            profile: Profile::default(),
            timeline: Timeline::default(),
        }
    }

    /// A copy (`copy.copy`) is made anew and given the options of its instance dict, as a copy of hunter's printers is:
    /// what the native side keeps (formatted prefixes, open calls, records) starts afresh.
    fn __getstate__<'py>(slf: &Bound<'py, Self>) -> PyResult<Option<Bound<'py, PyAny>>> {
        slf.getattr_opt(pyo3::intern!(slf.py(), "__dict__"))
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        // SAFETY: from `__traverse__` (the collector holds the GIL): the contract of both.
        unsafe {
            self.call_spans.traverse(&visit, |code| Some(code))?;
            self.profile.traverse(&visit)?;
            self.timeline.traverse(&visit)?;
        }
        // SAFETY: called from `__traverse__` (the collector holds the GIL); `configuration` is only replaced.
        match unsafe { self.configuration.during_gc() } {
            // SAFETY: from `__traverse__` (the collector holds the GIL): `Configuration::traverse`'s contract.
            Some(configuration) => unsafe { configuration.traverse(&visit) },
            None => Ok(()),
        }
    }

    /// Called once when a tracer whose handler reaches this action stops (and at exit for those still
    /// running): the calls still open are closed as ending now; TreePrinter writes their trees.
    fn _tracer_stopped(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        drop(this.call_spans.close_all(py));
        this.profile.close_open_calls(py);
        let configuration = match Self::configuration(slf) {
            Ok(configuration) => configuration,
            Err(_reported_by_an_event) => {
                // The options can no longer be read (set bypassing the Python side's checks, say): a Timeline still
                // closes its open calls, with the options it last read, so that the file it writes next has them.
                // Not reported again: the event that read them reported it and stopped the tracer (without events,
                // nothing is reported, as hunter reads options at events only).
                if let Some(options) = this.timeline.last_options(py) {
                    this.timeline.close_open_calls(py, &options);
                }
                return Ok(());
            }
        };
        match configuration.printer {
            Printer::Tree { .. } => write_open_trees(&configuration.options, &this.trees, py),
            Printer::Timeline(ref timeline_options) => {
                this.timeline.close_open_calls(py, timeline_options);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Profile: the table so far, one dict per function (see `hunter.actions.Profile.stats`).
    fn _profile_stats<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, pyo3::types::PyList>> {
        slf.get().profile.stats(slf.py())
    }

    /// Profile: forgets the table.
    fn _profile_clear(slf: &Bound<'_, Self>) {
        slf.get().profile.clear(slf.py());
    }

    /// Timeline: `(records, threads, dropped)` (see `hunter.actions.Timeline`).
    fn _timeline_snapshot<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        slf.get().timeline.snapshot(slf.py())
    }

    /// Timeline: keeps at most `size` records, letting go of the oldest (`ring`) or the newest (see
    /// `hunter.actions.Timeline._options_changed`).
    fn _timeline_trim(slf: &Bound<'_, Self>, size: &Bound<'_, PyAny>, ring: bool) -> PyResult<()> {
        slf.get().timeline.trim(slf.py(), count(size)?, ring);
        Ok(())
    }

    /// Timeline: forgets the records.
    fn _timeline_clear(slf: &Bound<'_, Self>) {
        slf.get().timeline.clear(slf.py());
    }

    /// The options are read again on the next event, should the action survive.
    fn __clear__(&self, py: Python<'_>) {
        self.timeline.options_dropped(py);
        drop(self.configuration.replace(py, None));
    }

    /// Called by the Python side whenever an option changes: they are read again on the next event.
    fn _options_changed(&self, py: Python<'_>) {
        self.timeline.options_dropped(py);
        self.configuration.replace(py, None);
    }

    fn __call__(slf: &Bound<'_, Self>, event: &Bound<'_, PyAny>) -> PyResult<()> {
        let event = event.cast::<Event>().map_err(|_| {
            PyTypeError::new_err(format!(
                "expected a hunter Event, not {}",
                event.repr().map(|r| r.to_string()).unwrap_or_default()
            ))
        })?;
        let configuration = Self::configuration(slf)?;
        let data = event.try_borrow()?;
        Self::print(slf, &configuration, &data.data, Some(event.as_any()))
    }

    /// Safely call `self.repr_func(obj)`, trimmed to `self.repr_limit`; failures get a coloured marker.
    fn try_repr(slf: &Bound<'_, Self>, obj: &Bound<'_, PyAny>) -> PyResult<String> {
        let configuration = Self::configuration(slf)?;
        let options = &configuration.options;
        let mut out = String::new();
        push_value(slf.as_any(), options, Value { object: obj, detached: false }, &mut out)?;
        Ok(out)
    }

    /// Safely call `str(obj)`, trimmed to `self.repr_limit` (for the already rendered values of detached events).
    fn try_str(slf: &Bound<'_, Self>, obj: &Bound<'_, PyAny>) -> PyResult<String> {
        let configuration = Self::configuration(slf)?;
        let options = &configuration.options;
        let mut out = String::new();
        push_value(slf.as_any(), options, Value { object: obj, detached: true }, &mut out)?;
        Ok(out)
    }

    /// The event's source (`fullsource` with `full=True`), or a coloured `??? NO SOURCE` explanation.
    #[pyo3(signature = (event, full=false))]
    fn try_source(slf: &Bound<'_, Self>, event: &Bound<'_, PyAny>, full: bool) -> PyResult<String> {
        let py = slf.py();
        let configuration = Self::configuration(slf)?;
        let options = &configuration.options;
        let source = event.getattr(if full { pyo3::intern!(py, "fullsource") } else { pyo3::intern!(py, "source") })?;
        let mut out = String::new();
        push_source(options, &source, &event.getattr(pyo3::intern!(py, "filename"))?, &mut out)?;
        Ok(out)
    }

    /// An aligned and trimmed `filename:lineno` prefix for `event`, or blank padding of the same width.
    #[pyo3(signature = (event=None))]
    fn filename_prefix(slf: &Bound<'_, Self>, event: Option<&Bound<'_, PyAny>>) -> PyResult<String> {
        let py = slf.py();
        let configuration = Self::configuration(slf)?;
        let options = &configuration.options;
        let mut out = String::new();
        match event.filter(|event| !event.is_none()) {
            Some(event) => push_filename_prefix(
                options,
                &event.getattr(pyo3::intern!(py, "filename"))?,
                &Lineno::Object(event.getattr(pyo3::intern!(py, "lineno"))?),
                &mut out,
            )?,
            None => push_blank_filename_prefix(options, &mut out),
        }
        Ok(out)
    }

    /// An aligned pid prefix; only shown when forced or in a forked child.
    fn pid_prefix(slf: &Bound<'_, Self>) -> PyResult<String> {
        let configuration = Self::configuration(slf)?;
        let options = &configuration.options;
        let mut out = String::new();
        push_pid_prefix(options, slf.py(), &mut out)?;
        Ok(out)
    }

    /// An aligned thread name prefix for `event`. With `threading_support=None` the name is shown once a
    /// second thread has been seen.
    fn thread_prefix(slf: &Bound<'_, Self>, event: &Bound<'_, PyAny>) -> PyResult<String> {
        let configuration = Self::configuration(slf)?;
        let options = &configuration.options;
        let threading_support = event.getattr(pyo3::intern!(slf.py(), "threading_support"))?;
        // hunter tests `is False` first, then truthiness.
        let threading_support = if threading_support.is(pyo3::types::PyBool::new(slf.py(), false)) {
            Some(false)
        } else if threading_support.is_truthy()? {
            Some(true)
        } else {
            None
        };
        let mut out = String::new();
        push_thread_prefix(options, slf.py(), threading_support, &mut out)?;
        Ok(out)
    }
}
