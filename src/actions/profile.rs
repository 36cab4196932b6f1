//! Profile: per function (its code objects: module, qualified name, file and first line), the count, total and own
//! time of the matched calls.
//!
//! - calls: matched calls (each run of a generator or coroutine between a resume and a suspension is one).
//! - total (inclusive): a call's wall time, counted only for the outermost open call of that code in its thread,
//!   as cProfile does, so a recursive function's total is not counted twice.
//! - own (exclusive): a call's time minus that of the matched calls made inside it (its nearest matched
//!   descendants), counted for every call.
//!
//! A call whose return was never matched is counted but adds no time; calls still open at stop are timed up to
//! the stop.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use pyo3::prelude::*;
use pyo3::pyclass::{PyTraverseError, PyVisit};
use pyo3::types::{PyDict, PyList, PyTuple};

use super::printing::Printing;
use super::spans::{monotonic_ns, OpenSpan, Spans};
use crate::event::Kind;
use crate::gilcell::GilRefCell;

/// An open call: its code (held, so its address keys the table) and the time of the matched calls inside it.
pub(super) struct ProfiledCall {
    code: Py<PyAny>,
    inner_ns: u64,
}

/// One function's line of the table.
struct Totals {
    code: Py<PyAny>,
    module: Py<PyAny>,
    calls: u64,
    total_ns: u64,
    own_ns: u64,
}

/// The open calls of every thread and the table, by code object address.
pub(super) struct Profile {
    spans: Spans<ProfiledCall>,
    table: GilRefCell<HashMap<usize, Totals>>,
}

impl Default for Profile {
    fn default() -> Self {
        Profile { spans: Spans::default(), table: GilRefCell::new(HashMap::new()) }
    }
}

impl Profile {
    /// Profile's event: a call is counted and opened, a return closes its call and adds its times.
    pub(super) fn event(&self, printing: &Printing<'_, '_>) -> PyResult<()> {
        let py = printing.py();
        let event = printing.event;
        if event.builtin {
            return Ok(());
        }
        let released = match event.kind {
            Kind::Call => {
                let module = printing.facts()?.module.clone().unbind();
                let start_ns = monotonic_ns(py);
                self.spans.update(py, event, |stack, span, finished| {
                    let code = span.code.clone().unbind();
                    let address = span.key.code;
                    // The module name is handed back to be released when the function has its line already.
                    let unused_module = self.table.with_mut(py, |table| match table.entry(address) {
                        Entry::Occupied(mut totals) => {
                            totals.get_mut().calls += 1;
                            Some(module)
                        }
                        Entry::Vacant(vacant) => {
                            let code = code.clone_ref(py);
                            vacant.insert(Totals { code, module, calls: 1, total_ns: 0, own_ns: 0 });
                            None
                        }
                    });
                    stack.open(span.key, start_ns, ProfiledCall { code, inner_ns: 0 });
                    (finished, None, unused_module)
                })
            }
            Kind::Return => {
                let end_ns = monotonic_ns(py);
                self.spans.update(py, event, |stack, span, finished| {
                    let closed = stack.close(span.key).inspect(|(closed, _abandoned)| {
                        self.account(py, stack.spans_mut(), closed, end_ns);
                    });
                    (finished, closed, None)
                })
            }
            Kind::Line | Kind::Exception => None,
        };
        drop(released);
        Ok(())
    }

    /// Adds a call that ended at `end_ns` to the table, and its time to the innermost of the calls still open
    /// around it (`around`, oldest first).
    fn account(
        &self,
        py: Python<'_>,
        around: &mut [OpenSpan<ProfiledCall>],
        span: &OpenSpan<ProfiledCall>,
        end_ns: u64,
    ) {
        let elapsed = end_ns.saturating_sub(span.start);
        let outermost = !around.iter().any(|open| open.key.code == span.key.code);
        if let Some(around) = around.last_mut() {
            around.data.inner_ns = around.data.inner_ns.saturating_add(elapsed);
        }
        self.table.with_mut(py, |table| {
            if let Some(totals) = table.get_mut(&span.key.code) {
                totals.own_ns = totals.own_ns.saturating_add(elapsed.saturating_sub(span.data.inner_ns));
                if outermost {
                    totals.total_ns = totals.total_ns.saturating_add(elapsed);
                }
            }
        });
    }

    /// Closes the calls still executing (at stop) as ending now, innermost first; those that ended unseen add
    /// no time.
    pub(super) fn close_open_calls(&self, py: Python<'_>) {
        let now = monotonic_ns(py);
        let mut released = Vec::new();
        for thread in self.spans.close_all(py) {
            let mut running = thread.running;
            while let Some(span) = running.pop() {
                self.account(py, &mut running, &span, now);
                released.push(span);
            }
            released.extend(thread.ended);
        }
        drop(released);
    }

    /// The table: one dict per function with `module`, `function` (qualified name), `filename`, `lineno` (the
    /// code's first line), `calls`, `total` and `own` (seconds, floats). The code objects of one function (the same
    /// four, `exec`'d source made again) share its row.
    pub(super) fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let rows: Vec<_> = self.table.with_mut(py, |table| {
            table
                .values()
                .map(|totals| {
                    (
                        totals.code.clone_ref(py),
                        totals.module.clone_ref(py),
                        totals.calls,
                        totals.total_ns,
                        totals.own_ns,
                    )
                })
                .collect()
        });
        // Each function's row and times, and where it is by its four fields (a key that cannot be hashed, a module
        // object of the program's own making, keeps its row apart).
        let mut functions: Vec<(Bound<'py, PyDict>, u64, u64, u64)> = Vec::new();
        let found = PyDict::new(py);
        for (code, module, calls, total_ns, own_ns) in rows {
            let code = code.bind(py);
            let function = code.getattr("co_qualname").or_else(|_| code.getattr("co_name"))?;
            let (filename, lineno) = (code.getattr("co_filename")?, code.getattr("co_firstlineno")?);
            let key = PyTuple::new(py, [module.bind(py).clone(), function.clone(), filename.clone(), lineno.clone()])?;
            if let Ok(Some(index)) = found.get_item(&key) {
                let entry = &mut functions[index.extract::<usize>()?];
                entry.1 += calls;
                entry.2 = entry.2.saturating_add(total_ns);
                entry.3 = entry.3.saturating_add(own_ns);
                continue;
            }
            let _ = found.set_item(&key, functions.len());
            let row = PyDict::new(py);
            row.set_item("module", module)?;
            row.set_item("function", function)?;
            row.set_item("filename", filename)?;
            row.set_item("lineno", lineno)?;
            functions.push((row, calls, total_ns, own_ns));
        }
        let list = PyList::empty(py);
        for (row, calls, total_ns, own_ns) in functions {
            row.set_item("calls", calls)?;
            row.set_item("total", total_ns as f64 / 1e9)?;
            row.set_item("own", own_ns as f64 / 1e9)?;
            list.append(row)?;
        }
        Ok(list)
    }

    /// Forgets the table (the open calls stay open).
    pub(super) fn clear(&self, py: Python<'_>) {
        let forgotten = self.table.replace(py, HashMap::new());
        drop(forgotten);
    }

    /// # Safety
    /// Only from `__traverse__`, where the collector holds the GIL.
    pub(super) unsafe fn traverse(&self, visit: &PyVisit<'_>) -> Result<(), PyTraverseError> {
        // SAFETY: from `__traverse__` (this function's contract).
        unsafe { self.spans.traverse(visit, |call| Some(&call.code)) }?;
        // SAFETY: from `__traverse__` (this function's contract).
        for totals in unsafe { self.table.during_gc() }.into_iter().flat_map(HashMap::values) {
            visit.call(&totals.code)?;
            visit.call(&totals.module)?;
        }
        Ok(())
    }
}
