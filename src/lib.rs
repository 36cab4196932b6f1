//! Native core of hunter-rs: the trace hook, events, predicates and formatting.
use pyo3::prelude::*;

#[pymodule(name = "_hunter")]
fn hunter_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
