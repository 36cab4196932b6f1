//! Native core of hunter-rs: the trace hook, events, predicates and formatting.
use pyo3::prelude::*;

mod codeinfo;
mod compat;
mod event;
mod failure;
mod gilcell;
mod predicates;
mod tracer;

#[pymodule(name = "_hunter")]
fn hunter_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<tracer::Tracer>()?;
    m.add_class::<event::Event>()?;
    predicates::register(m)?;
    Ok(())
}
