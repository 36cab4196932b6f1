//! One event being printed by one action ([`Printing`]): each method hunter's printers call on themselves
//! (`pid_prefix`, `try_repr`, `try_source`, `output`, ...), run natively or, in hook mode, through Python.

use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::facts::Facts;
use super::options::Options;
use super::prefixes::{push_blank_filename_prefix, push_filename_prefix, push_pid_prefix, push_thread_prefix};
use super::rows::{Arg, Cell, Template, Templates};
use super::source::{push_source, push_stripped_source};
use super::values::{push_value, Value};
use crate::event::{EventData, Field};

/// One event being printed by one action. The methods hunter's printers call on themselves run natively,
/// or in hook mode through Python, with the Python event.
pub(super) struct Printing<'a, 'py> {
    pub(super) action: &'a Bound<'py, PyAny>,
    pub(super) options: &'a Options,
    pub(super) event: &'a EventData,
    /// Hook mode: the event the hooks are called with.
    pub(super) hooks: Option<&'a Bound<'py, PyAny>>,
    pub(super) facts: std::cell::OnceCell<Facts<'py>>,
}

impl<'py> Printing<'_, 'py> {
    pub(super) fn py(&self) -> Python<'py> {
        self.action.py()
    }

    pub(super) fn hooked(&self) -> bool {
        self.hooks.is_some()
    }

    pub(super) fn templates(&self) -> &Templates {
        &self.options.templates
    }

    pub(super) fn facts(&self) -> PyResult<&Facts<'py>> {
        if let Some(facts) = self.facts.get() {
            return Ok(facts);
        }
        let facts = Facts::of(self.py(), self.event)?;
        Ok(self.facts.get_or_init(|| facts))
    }

    /// A value hunter computes before any row of the event: computed now in hook mode; natively, where used.
    pub(super) fn up_front(
        &self,
        compute: impl FnOnce(&mut Arg<'_, 'py>) -> PyResult<()>,
    ) -> PyResult<Option<Cell<'static, 'py>>> {
        if self.hooked() {
            Cell::of(self.py(), true, compute).map(Some)
        } else {
            Ok(None)
        }
    }

    /// `self.pid_prefix()`.
    #[inline]
    pub(super) fn pid_prefix(&self, arg: &mut Arg<'_, 'py>) -> PyResult<()> {
        let py = self.py();
        match self.hooks {
            Some(_) => arg.object(self.action.call_method0(pyo3::intern!(py, "pid_prefix"))?),
            None => arg.build(py, |out| push_pid_prefix(self.options, py, out)),
        }
    }

    /// `self.thread_prefix(event)`.
    #[inline]
    pub(super) fn thread_prefix(&self, arg: &mut Arg<'_, 'py>) -> PyResult<()> {
        let py = self.py();
        match self.hooks {
            Some(event) => arg.object(self.action.call_method1(pyo3::intern!(py, "thread_prefix"), (event,))?),
            None => arg.build(py, |out| push_thread_prefix(self.options, py, self.event.threading_support, out)),
        }
    }

    /// `self.filename_prefix(event)`.
    #[inline]
    pub(super) fn filename_prefix(&self, arg: &mut Arg<'_, 'py>) -> PyResult<()> {
        let py = self.py();
        match self.hooks {
            Some(event) => arg.object(self.action.call_method1(pyo3::intern!(py, "filename_prefix"), (event,))?),
            None => {
                let facts = self.facts()?;
                arg.build(py, |out| push_filename_prefix(self.options, &facts.filename, &facts.lineno, out))
            }
        }
    }

    /// `self.filename_prefix()`: the blank column of continuation rows.
    pub(super) fn blank_filename_prefix(&self, arg: &mut Arg<'_, 'py>) -> PyResult<()> {
        let py = self.py();
        match self.hooks {
            Some(_) => arg.object(self.action.call_method0(pyo3::intern!(py, "filename_prefix"))?),
            None => arg.build(py, |out| {
                push_blank_filename_prefix(self.options, out);
                Ok(())
            }),
        }
    }

    /// `self.try_repr(value)`, or `self.try_str(value)` for a detached event.
    #[inline]
    pub(super) fn value(&self, arg: &mut Arg<'_, 'py>, value: &Bound<'py, PyAny>) -> PyResult<()> {
        let py = self.py();
        let detached = self.event.detached;
        match self.hooks {
            Some(_) => {
                let name = if detached { pyo3::intern!(py, "try_str") } else { pyo3::intern!(py, "try_repr") };
                arg.object(self.action.call_method1(name, (value,))?)
            }
            None => arg.build(py, |out| push_value(self.action, self.options, Value { object: value, detached }, out)),
        }
    }

    /// `self.try_source(event, full=True)`.
    pub(super) fn full_source(&self, arg: &mut Arg<'_, 'py>) -> PyResult<()> {
        let py = self.py();
        match self.hooks {
            Some(event) => {
                let full = PyDict::new(py);
                full.set_item(pyo3::intern!(py, "full"), true)?;
                arg.object(self.action.call_method(pyo3::intern!(py, "try_source"), (event,), Some(&full))?)
            }
            None => {
                let source = self.event.get(py, Field::Fullsource)?;
                arg.build(py, |out| push_source(self.options, &source, &self.facts()?.filename, out))
            }
        }
    }

    /// `self.try_source(event).strip()`.
    pub(super) fn stripped_source(&self, arg: &mut Arg<'_, 'py>) -> PyResult<()> {
        let py = self.py();
        match self.hooks {
            Some(event) => {
                let source = self.action.call_method1(pyo3::intern!(py, "try_source"), (event,))?;
                arg.object(source.call_method0(pyo3::intern!(py, "strip"))?)
            }
            None => arg.build(py, |out| push_stripped_source(self.options, self.event, self.facts()?, out)),
        }
    }

    /// Writes a row: formatted into `out`, or in hook mode given to `output`.
    #[inline]
    pub(super) fn row(
        &self,
        out: &mut String,
        template: &Template,
        colour: &str,
        argument: impl FnMut(usize, &mut Arg<'_, 'py>) -> PyResult<()>,
    ) -> PyResult<()> {
        match self.hooks {
            Some(_) => template.output(self.action, colour, argument),
            None => template.format(out, colour, argument),
        }
    }
}
