//! Native core of hunter-rs: the trace hook, events, predicates and formatting.
use pyo3::prelude::*;

mod actions;
mod attached;
mod codeinfo;
mod compat;
pub mod envexpr;
mod event;
mod failure;
mod gilcell;
mod leaf_repr;
mod monitoring;
mod predicates;
pub mod safe_repr;
mod tracer;

#[pymodule(name = "_hunter")]
fn hunter_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<tracer::Tracer>()?;
    m.add_function(wrap_pyfunction!(tracer::_stop_all_tracers, m)?)?;
    m.add_class::<event::Event>()?;
    m.add_class::<actions::NativeStreamAction>()?;
    m.add_class::<actions::CallStack>()?;
    m.add_function(wrap_pyfunction!(safe_repr::safe_repr, m)?)?;
    predicates::register(m)?;
    envexpr::register(m)?;
    Ok(())
}
