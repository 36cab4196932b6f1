use pyo3_build_config::{PythonImplementation, PythonVersion};

/// The CPython versions whose internal layouts `src/compat.rs` models (the last one excluded).
const OLDEST: PythonVersion = PythonVersion { major: 3, minor: 9 };
const UNMODELLED_FROM: PythonVersion = PythonVersion { major: 3, minor: 14 };

/// Set (to anything but `0` or empty) at build time, selects portable mode like the `portable` feature does.
const PORTABLE_VARIABLE: &str = "HUNTER_PORTABLE";

fn main() {
    // Gives the Py_3_10 ... Py_3_13 cfgs that compat.rs keys version differences on.
    pyo3_build_config::use_pyo3_cfgs();
    println!("cargo::rustc-check-cfg=cfg(hunter_portable)");
    println!("cargo::rerun-if-env-changed={PORTABLE_VARIABLE}");
    let config = pyo3_build_config::get();
    if config.implementation() != PythonImplementation::CPython || config.version() < OLDEST {
        panic!("hunter-rs supports CPython 3.9 and newer; this is {} {}.", config.implementation(), config.version());
    }
    // Portable mode (`cfg(hunter_portable)`): the native core reads frames and code objects through CPython's public
    // C API only, never through a struct layout. Automatic where the layouts are not modelled: a newer CPython, or a
    // free-threaded build (whose object header differs).
    let unmodelled = config.version() >= UNMODELLED_FROM || config.is_free_threaded();
    let requested = std::env::var_os("CARGO_FEATURE_PORTABLE").is_some()
        || std::env::var(PORTABLE_VARIABLE).is_ok_and(|value| !value.is_empty() && value != "0");
    if unmodelled || requested {
        println!("cargo::rustc-cfg=hunter_portable");
    }
}
