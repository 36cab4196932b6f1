use pyo3_build_config::{PythonImplementation, PythonVersion};

/// The CPython versions whose frame layouts `src/compat.rs` models (the last one excluded).
const OLDEST: PythonVersion = PythonVersion { major: 3, minor: 9 };
const UNSUPPORTED_FROM: PythonVersion = PythonVersion { major: 3, minor: 14 };

fn main() {
    // Gives the Py_3_10 ... Py_3_13 cfgs that compat.rs keys version differences on.
    pyo3_build_config::use_pyo3_cfgs();
    let config = pyo3_build_config::get();
    let known_layout = config.implementation() == PythonImplementation::CPython
        && config.version() >= OLDEST
        && config.version() < UNSUPPORTED_FROM
        && !config.is_free_threaded();
    if !known_layout {
        let free_threaded = if config.is_free_threaded() { " (free-threaded)" } else { "" };
        panic!(
            "hunter-rs supports CPython 3.9 to 3.13 with the GIL only: its native core reads CPython's frame \
             layouts, which it knows for those versions. This is {} {}{free_threaded}.",
            config.implementation(),
            config.version()
        );
    }
}
