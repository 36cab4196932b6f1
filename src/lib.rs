//! Native core of hunter-rs: the trace hook, events, predicates and formatting.
use pyo3::prelude::*;

pub mod safe_repr;

#[pymodule(name = "_hunter")]
fn hunter_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(safe_repr::safe_repr, m)?)?;
    Ok(())
}
