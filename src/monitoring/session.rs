//! A monitoring tracer's session: its tool id, the events it switched on (and switches on when some code needs
//! them) and its threads. `Monitored` is how the callbacks reach it.

use pyo3::prelude::*;

use super::threads::TracedThreads;
use crate::compat;
use crate::engine::Host;
use crate::event::Kind;
use crate::gilcell::GilCell;
use crate::verdict::Verdict;

/// A monitoring tracer's session: the tool id it holds, the events it switched on, the threads it delivers
/// events of.
#[derive(Default)]
pub(crate) struct Session {
    /// The sys.monitoring tool id in use, while tracing with this backend.
    pub tool_id: GilCell<Option<u8>>,
    pub(super) event_switches: GilCell<EventSwitches>,
    pub threads: TracedThreads,
}

/// What the callbacks need of the tracer they are bound to, besides its engine: its monitoring session.
pub(crate) trait Monitored: Host {
    fn session(&self) -> &Session;
}

/// The events a monitoring tracer has switched on, and those it switches on when some code needs them.
#[derive(Clone, Copy, Default)]
pub(super) struct EventSwitches {
    pub active: u32,
    /// Per kind (`Kind as usize`): the events still off that code with an effectful verdict for that kind needs.
    pub on_demand: [u32; 4],
}

/// Switches on the on-demand events that a code object with these verdicts (per kind) needs, while the session
/// holds a tool id.
pub(crate) fn switch_on_needed_events(py: Python<'_>, session: &Session, verdicts: &[Verdict; 4]) -> PyResult<()> {
    let Some(tool_id) = session.tool_id.get(py) else {
        return Ok(());
    };
    let mut switches = session.event_switches.get(py);
    let mut wanted = switches.active;
    for kind in Kind::ALL {
        if verdicts[kind as usize].has_effect() {
            wanted |= std::mem::take(&mut switches.on_demand[kind as usize]);
        }
    }
    if wanted == switches.active {
        return Ok(());
    }
    switches.active = wanted;
    session.event_switches.set(py, switches);
    let switched = monitoring_namespace(py)
        .and_then(|monitoring| monitoring.call_method1(pyo3::intern!(py, "set_events"), (tool_id, wanted)));
    match switched {
        // The session stopped meanwhile, its tool id freed (making the call's objects can start a collection, whose
        // finalizers run Python code, and so let another thread run its stop): nothing is left to switch on.
        Err(_) if session.tool_id.get(py) != Some(tool_id) => Ok(()),
        switched => switched.map(drop),
    }
}

pub(super) fn monitoring_namespace(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    compat::import(py, "sys")?.getattr(pyo3::intern!(py, "monitoring"))
}
