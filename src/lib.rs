//! Native core of hunter-rs: the trace hooks, events, predicates and printing actions.
//!
//! An event flows hook -> engine -> predicates -> actions -> stream. The modules, each using only those listed
//! before it (checked by `tests/test_module_layering.py`; each directory's `mod.rs` maps its own files):
//! - `suggest`: "did you mean": the closest valid name to a mistyped one, for error messages;
//! - `arguments`: values Python hands the native classes, checked with errors that name the argument;
//! - `gilcell`: GIL-guarded cells for state shared between the hooks and Python-visible objects;
//! - `compat`: every CPython version difference (frame layouts, code fields, `sys.monitoring` availability), and
//!   portable mode, which reads none of those layouts;
//! - `constructors`: the argument errors of the native classes' constructors, worded as hunter's classes' are;
//! - `attached`: running Rust from inside a callback (pyo3 told the thread is attached; panics caught);
//! - `handling`: which tracer's handler the thread is running, and whether its session ended meanwhile;
//! - `verdict`: what a predicate is known to do for all events of one code object and kind;
//! - `codeinfo`: the facts of a code object, computed once and cached on it, with its verdicts;
//! - `event`: the event (`EventData` read by predicates, the Python `Event`), its kind, fields and frame;
//! - `safe_repr`: hunter's safe repr, rendered natively, and the `repr_limit` clipping rule;
//! - `actions`: the native printing actions (`NativeStreamAction`: rows, prefixes, values, the stream write);
//! - `predicates`: `Query`, `When`, `From`, `Backlog`, `And`/`Or`/`Not` and their per-code verdicts (a
//!   recursive family: the combinators evaluate any predicate through `predicates::evaluate`);
//! - `envexpr`: the `PYTHONHUNTER` expression language, parsed, never evaluated as Python;
//! - `failure`: the failure policy: how a failing handler or an internal error is reported;
//! - `hook`: what a backend hands the engine: the event's site and argument, the answer, the backend choice;
//! - `engine`: the backend-neutral engine: reject by verdict, else build the event and run the handler; keeps
//!   depth/calls; stops the tracer after a failure through its [`engine::Host`];
//! - `settrace`: the settrace backend (a C trace function per thread);
//! - `monitoring`: the sys.monitoring backend (3.12+: callbacks that DISABLE what can never match);
//! - `tracer`: the `Tracer` Python class on top: trace/stop, the previous tracer put back, the engine's host.
use pyo3::prelude::*;

mod actions;
mod arguments;
mod attached;
mod codeinfo;
mod compat;
mod constructors;
mod engine;
pub mod envexpr;
mod event;
mod failure;
mod gilcell;
mod handling;
mod hook;
mod monitoring;
mod predicates;
pub mod safe_repr;
mod settrace;
mod suggest;
mod tracer;
mod verdict;

// Also used outside safe_repr (the row layout renders line numbers with its `int_text`).
use safe_repr::leaf_repr;

/// The import refuses an interpreter whose frame layouts the native core does not model, unless it was built in
/// portable mode (which `build.rs` chooses for one): a module built for another interpreter would read its memory
/// with the wrong layout.
fn check_interpreter(py: Python<'_>) -> PyResult<()> {
    let version = py.version_info();
    // `t` in the ABI flags: a free-threaded build (POSIX; Windows has no `sys.abiflags`, and no such wheels of ours).
    let abiflags = py.import("sys")?.getattr("abiflags").map_or_else(|_| String::new(), |flags| flags.to_string());
    let free_threaded = abiflags.contains('t');
    let unmodelled = (version.major, version.minor) >= (3, 14) || free_threaded;
    if (version.major, version.minor) < (3, 9) || (unmodelled && !compat::PORTABLE) {
        let free_threaded = if free_threaded { " (free-threaded)" } else { "" };
        return Err(pyo3::exceptions::PyImportError::new_err(format!(
            "hunter-rs supports CPython 3.9 and newer; this build reads CPython's frame layouts, which it knows for \
             3.9 to 3.13 with the GIL only. This is Python {}.{}{free_threaded}: build it for this interpreter \
             (portable mode is then chosen automatically).",
            version.major, version.minor
        )));
    }
    Ok(())
}

/// The import refuses every interpreter but the main one. The native core's state is the process's (the running
/// tracers, the code objects' extra index, objects it keeps once made), which a legacy sub-interpreter would share
/// with the main one: its exit would stop the main interpreter's tracers (`atexit`), its tracing would take the extra
/// index, and objects it left in the core would outlive it. (pyo3 refuses isolated sub-interpreters itself.)
fn check_main_interpreter() -> PyResult<()> {
    // SAFETY: attached (the module's initialisation); both give live interpreter states, only compared by address.
    let is_main = unsafe { pyo3::ffi::PyInterpreterState_Get() == pyo3::ffi::PyInterpreterState_Main() };
    if is_main {
        Ok(())
    } else {
        Err(pyo3::exceptions::PyImportError::new_err(
            "hunter-rs runs in the main interpreter only: hunter cannot be imported in a sub-interpreter",
        ))
    }
}

// `gil_used`: the native core relies on the GIL (see `gilcell.rs`): a free-threaded CPython enables the GIL when it
// imports this module (and says so in a RuntimeWarning).
#[pymodule(name = "_hunter", gil_used = true)]
fn hunter_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    check_interpreter(m.py())?;
    check_main_interpreter()?;
    // Made first, as `add` would make it on a failed lookup: CPython 3.13.0 fails a module's missing attribute without
    // an exception when the working directory is gone.
    m.setattr("__all__", pyo3::types::PyList::empty(m.py()))?;
    // pyo3 makes this type when it first fetches an exception: made then at the recursion limit (a deep `repr` of
    // nested predicates on 3.9-3.11), making it failed, and fetching that failure waited for the type for ever.
    <pyo3::panic::PanicException as pyo3::PyTypeInfo>::type_object(m.py());
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    // Whether this build reads CPython through its public C API only (see `compat`).
    m.add("PORTABLE", compat::PORTABLE)?;
    m.add_class::<tracer::Tracer>()?;
    m.add_function(wrap_pyfunction!(tracer::_stop_all_tracers, m)?)?;
    m.add_class::<event::Event>()?;
    m.add_class::<actions::NativeStreamAction>()?;
    m.add_class::<actions::CallStack>()?;
    m.add_function(wrap_pyfunction!(actions::_format_duration, m)?)?;
    m.add_function(wrap_pyfunction!(actions::_untraced, m)?)?;
    m.add_function(wrap_pyfunction!(safe_repr::safe_repr, m)?)?;
    m.add_function(wrap_pyfunction!(safe_repr::clip_ends, m)?)?;
    m.add_function(wrap_pyfunction!(suggest::closest_name, m)?)?;
    m.add_function(wrap_pyfunction!(failure::say_on_stderr_py, m)?)?;
    predicates::register(m)?;
    envexpr::register(m)?;
    // Named in messages as hunter's pure-Python classes are.
    let mut classes = Vec::new();
    for name in [c"Tracer", c"Event", c"Query", c"When", c"And", c"Or", c"Not", c"From", c"Backlog"] {
        let attribute = name.to_str().expect("an ASCII class name");
        let class = m.getattr(attribute)?.cast_into::<pyo3::types::PyType>()?;
        compat::name_in_messages(&class, name);
        // What a subclass with an `__init__` of its own is made from: the defaults, an event of no frame.
        let blank = match attribute {
            "Tracer" => Some(pyo3::types::PyTuple::empty(m.py())),
            "Event" => Some(pyo3::types::PyTuple::new(
                m.py(),
                [m.py().None(), "call".into_pyobject(m.py())?.into_any().unbind()],
            )?),
            _ => None,
        };
        classes.push((class, blank));
    }
    constructors::name_as_init(classes);
    Ok(())
}
