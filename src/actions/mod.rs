//! The printing actions' per-event work: `CodePrinter` and `CallPrinter` rows (`VarsPrinter` and `VarsSnooper`
//! in [`vars`], `StackPrinter` in [`stack`]), their prefixes, value rendering (bounded `safe_repr`, `repr` or
//! any callable) and the single write per event.
//!
//! `hunter.actions.ColorStreamAction` (Python) derives from [`NativeStreamAction`]: Python resolves the
//! options (config defaults, `stream='path'`, colours), the native side reads them back once (again after
//! any option changes) and does the formatting. `When` hands matching events straight to
//! [`print_natively`] when an action's `__call__` is ours, so printing runs no Python frame at all.

mod callstack;
mod rows;
mod stack;
mod text;
mod vars;

use std::collections::HashMap;
use std::os::raw::c_int;

use pyo3::exceptions::{PyException, PyIndexError, PyNotImplementedError, PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::pyclass::{PyTraverseError, PyVisit};
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyFrame, PySet, PyString, PyTuple};
use pyo3::PyTypeInfo;

use crate::codeinfo::CodeInfo;
use crate::event::{Event, EventData, EventRef, Field, Kind};
use crate::gilcell::{cache_slot, GilCell, GilRc, GilRefCell};
use crate::safe_repr::{safe_repr_clipped_into, DEFAULT_MAXDEPTH};
pub use callstack::CallStack;
use rows::{Arg, Cell, Template, Templates};
use text::{char_len, push_left_aligned, push_right_aligned, push_spaces};

const NO_SOURCE_PREFIX: &str = "??? NO SOURCE: ";
/// Spaces per level of CallPrinter indentation.
const INDENT_WIDTH: usize = 3;

/// Which rows `__call__` prints, from the class attribute `_native_printer`, with that printer's own options.
enum Printer {
    /// A base class: `__call__` is abstract.
    Abstract,
    Code,
    Call,
    Vars(Vec<vars::Expression>),
    /// VarsSnooper, with its `stored_reprs`.
    Snooper(Py<PyAny>),
    Stack(stack::StackOptions),
}

impl Printer {
    fn read(action: &Bound<'_, PyAny>) -> PyResult<Printer> {
        Ok(match action.getattr("_native_printer")? {
            p if p.is_none() => Printer::Abstract,
            p if p.eq("code")? => Printer::Code,
            p if p.eq("call")? => Printer::Call,
            p if p.eq("vars")? => Printer::Vars(vars::Expression::read_all(action)?),
            p if p.eq("vars_snooper")? => Printer::Snooper(action.getattr("stored_reprs")?.unbind()),
            p if p.eq("stack")? => Printer::Stack(stack::StackOptions::read(action)?),
            p => return Err(PyValueError::new_err(format!("unknown _native_printer {}", p.repr()?))),
        })
    }
}

/// How values are rendered (`repr_func`).
enum Render {
    SafeRepr,
    Repr,
    Callable(Py<PyAny>),
}

/// The colour codes of `other_colors` the printers use (all empty without colours).
struct Palette {
    colon: String,
    lineno: String,
    kind: String,
    cont: String,
    internal_failure: String,
    internal_detail: String,
    source_failure: String,
    source_detail: String,
    normal: String,
    reset: String,
    /// `event_colors.get(kind)`, indexed by `Kind`.
    events: [String; 4],
    /// `' {CONT}[...]{RESET} '`, in place of the middle of a value cut to `repr_limit`.
    cut_marker: String,
}

impl Palette {
    fn read(other_colors: &Bound<'_, PyAny>, event_colors: &Bound<'_, PyAny>) -> PyResult<Palette> {
        let colour = |name: &str| other_colour(other_colors, name);
        let event_colour = |kind: Kind| -> PyResult<String> {
            Ok(event_colors.call_method1("get", (kind.name(),))?.str()?.to_string_lossy().into_owned())
        };
        let (cont, reset) = (colour("CONT")?, colour("RESET")?);
        Ok(Palette {
            cut_marker: format!(" {cont}[...]{reset} "),
            colon: colour("COLON")?,
            lineno: colour("LINENO")?,
            kind: colour("KIND")?,
            cont,
            internal_failure: colour("INTERNAL-FAILURE")?,
            internal_detail: colour("INTERNAL-DETAIL")?,
            source_failure: colour("SOURCE-FAILURE")?,
            source_detail: colour("SOURCE-DETAIL")?,
            normal: colour("NORMAL")?,
            reset,
            events: [
                event_colour(Kind::Call)?,
                event_colour(Kind::Exception)?,
                event_colour(Kind::Line)?,
                event_colour(Kind::Return)?,
            ],
        })
    }
}

/// `other_colors[name]`, as text.
fn other_colour(other_colors: &Bound<'_, PyAny>, name: &str) -> PyResult<String> {
    Ok(other_colors.get_item(name)?.str()?.to_string_lossy().into_owned())
}

/// CallPrinter's `locals` dict, the version tag its class had then, a thread ident, and that thread's
/// stack in the dict.
type CachedStack = (Py<PyAny>, u32, u64, Py<CallStack>);

/// The options of one action, as the Python side resolved them.
struct Options {
    printer: Printer,
    /// The action replaces a method hunter's printers call on themselves: rows are written in hook mode
    /// (see [`rows`]).
    hooked: bool,
    templates: Templates,
    stream: Py<PyAny>,
    write: Py<PyAny>,
    palette: Palette,
    force_pid: bool,
    seen_pid: Py<PyAny>,
    /// `seen_pid` when it is an int, compared without a Python call.
    seen_pid_number: Option<u32>,
    seen_threads: Py<PySet>,
    /// The thread last added to `seen_threads`, so that a thread is not added again on every event.
    last_seen_thread: GilCell<u64>,
    /// CallPrinter: the `locals` dict, thread and stack list of the last event.
    last_stack: GilCell<Option<CachedStack>>,
    /// CallPrinter's line rows, by code object and line (see [`push_line_row`]).
    line_rows: GilCell<LineRows>,
    /// Formatted filename columns (see [`push_filename_prefix`]).
    filename_columns: GilRefCell<FilenameColumns>,
    filename_alignment: usize,
    thread_alignment: usize,
    pid_alignment: usize,
    /// `None` when `repr_limit` is not a non-negative int: the Python `_clip` applies it then.
    repr_limit: Option<usize>,
    render: Render,
}

/// The widest column the alignment options may ask for. hunter pads to any width (`2**62` ends in a
/// MemoryError, `10**9` writes gigabyte rows); a wider value is refused when the options are read (at the first
/// event: a reported handler failure, the program runs on), before any padding is allocated.
const MAX_ALIGNMENT: usize = 100_000;

fn alignment(action: &Bound<'_, PyAny>, name: &str) -> PyResult<usize> {
    let value: usize = action
        .getattr(name)?
        .extract()
        .map_err(|_| PyValueError::new_err(format!("{name} must be a non-negative integer")))?;
    if value > MAX_ALIGNMENT {
        return Err(PyValueError::new_err(format!("{name} must be at most {MAX_ALIGNMENT}, not {value}")));
    }
    Ok(value)
}

impl Options {
    fn read(action: &Bound<'_, PyAny>) -> PyResult<Options> {
        let py = action.py();
        let printer = Printer::read(action)?;
        let stream = action.getattr("stream")?;
        let write = stream.getattr("write")?;
        let repr_func = action.getattr("repr_func")?;
        let builtins = crate::compat::import(py, "builtins")?;
        let render = if repr_func.is(&builtins.getattr("repr")?) {
            Render::Repr
        } else if repr_func.is(&crate::compat::import(py, "hunter._hunter")?.getattr("safe_repr")?) {
            Render::SafeRepr
        } else {
            Render::Callable(repr_func.unbind())
        };
        let seen_pid = action.getattr("seen_pid")?;
        let other_colors = action.getattr("other_colors")?;
        Ok(Options {
            printer,
            hooked: action.call_method0("_overrides_hooks")?.is_truthy()?,
            templates: Templates::compile(&other_colors)?,
            palette: Palette::read(&other_colors, &action.getattr("event_colors")?)?,
            force_pid: action.getattr("force_pid")?.is_truthy()?,
            seen_pid_number: seen_pid
                .is_exact_instance_of::<pyo3::types::PyInt>()
                .then(|| seen_pid.extract().ok())
                .flatten(),
            seen_pid: seen_pid.unbind(),
            seen_threads: action.getattr("seen_threads")?.cast_into::<PySet>()?.unbind(),
            last_seen_thread: GilCell::new(0),
            last_stack: GilCell::new(None),
            line_rows: GilCell::new(LineRows::default()),
            filename_columns: GilRefCell::new(Default::default()),
            filename_alignment: alignment(action, "filename_alignment")?,
            thread_alignment: alignment(action, "thread_alignment")?,
            pid_alignment: alignment(action, "pid_alignment")?,
            repr_limit: action.getattr("repr_limit")?.extract().ok(),
            render,
            stream: stream.unbind(),
            write: write.unbind(),
        })
    }
}

impl Options {
    /// Visits the Python objects the options hold, for the action's `__traverse__` (which owns them: the
    /// clones of its `GilRc` live only on the stack of a call printing with them). The expressions of
    /// VarsPrinter are strings and code compiled from them, through which no cycle can run.
    ///
    /// # Safety
    /// Only from `__traverse__`, where the collector holds the GIL.
    unsafe fn traverse(&self, visit: &PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.stream)?;
        visit.call(&self.write)?;
        visit.call(&self.seen_pid)?;
        visit.call(&self.seen_threads)?;
        if let Render::Callable(repr_func) = &self.render {
            visit.call(repr_func)?;
        }
        if let Printer::Snooper(stored_reprs) = &self.printer {
            visit.call(stored_reprs)?;
        }
        // SAFETY: from `__traverse__` (this function's contract, the collector holds the GIL); the cell is only
        // replaced.
        if let Some((stacks, _, _, stack)) = unsafe { self.last_stack.during_gc() } {
            visit.call(stacks)?;
            visit.call(stack)?;
        }
        // SAFETY: as above: from `__traverse__`; the cell is only replaced.
        for row in unsafe { self.line_rows.during_gc() }.values() {
            visit.call(&row.globals)?;
        }
        // SAFETY: as above: from `__traverse__`; the updates of this cell run closures that create no Python objects,
        // so no collection starts inside one.
        for (filename, _) in unsafe { self.filename_columns.during_gc() }.into_iter().flatten().flatten() {
            visit.call(filename)?;
        }
        Ok(())
    }
}

/// Native base of `hunter.actions.ColorStreamAction`: the formatting and writing of the printers.
#[pyclass(module = "hunter._hunter", name = "NativeStreamAction", subclass, frozen)]
pub struct NativeStreamAction {
    options: GilCell<Option<GilRc<Options>>>,
    /// Reused for every event; a re-entrant call (a `repr_func` printing) gets a fresh one.
    buffer: GilCell<String>,
}

/// A value being printed and whether its event is detached (values already rendered to strings).
struct Value<'a, 'py> {
    object: &'a Bound<'py, PyAny>,
    detached: bool,
}

impl NativeStreamAction {
    fn options(slf: &Bound<'_, Self>) -> PyResult<GilRc<Options>> {
        let py = slf.py();
        if let Some(options) = slf.get().options.clone_shared(py) {
            return Ok(options);
        }
        let options = GilRc::new(Options::read(slf.as_any())?);
        slf.get().options.replace(py, Some(options.clone_ref(py)));
        Ok(options)
    }

    /// Formats one event into the reused buffer and writes it with one `write` call; in hook mode the rows
    /// go to `output` one by one instead, and the hooks get `py_event`.
    fn print(
        slf: &Bound<'_, Self>,
        options: &Options,
        event: &EventData,
        py_event: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let py = slf.py();
        let mut out = slf.get().buffer.replace(py, String::new());
        out.clear();
        let printing = Printing {
            action: slf.as_any(),
            options,
            event,
            hooks: py_event.filter(|_| options.hooked),
            facts: std::cell::OnceCell::new(),
        };
        let formatted = match &options.printer {
            Printer::Abstract => Err(PyNotImplementedError::new_err(())),
            Printer::Code => code_rows(&printing, &mut out),
            Printer::Call => call_row(&printing, &mut out),
            Printer::Vars(expressions) => vars::vars_rows(&printing, expressions, &mut out),
            Printer::Snooper(stored_reprs) => vars::snooper_rows(&printing, stored_reprs.bind(py), &mut out),
            Printer::Stack(stack_options) => stack::stack_row(&printing, stack_options, &mut out),
        };
        // The variable printers may have nothing to show for an event.
        let written =
            formatted.and_then(|()| if out.is_empty() { Ok(()) } else { write(options, new_py_string(py, &out)) });
        slf.get().buffer.replace(py, out);
        written
    }
}

/// One event being printed by one action. The methods hunter's printers call on themselves run natively,
/// or in hook mode through Python, with the Python event.
struct Printing<'a, 'py> {
    action: &'a Bound<'py, PyAny>,
    options: &'a Options,
    event: &'a EventData,
    /// Hook mode: the event the hooks are called with.
    hooks: Option<&'a Bound<'py, PyAny>>,
    facts: std::cell::OnceCell<Facts<'py>>,
}

impl<'py> Printing<'_, 'py> {
    fn py(&self) -> Python<'py> {
        self.action.py()
    }

    fn hooked(&self) -> bool {
        self.hooks.is_some()
    }

    fn templates(&self) -> &Templates {
        &self.options.templates
    }

    fn facts(&self) -> PyResult<&Facts<'py>> {
        if let Some(facts) = self.facts.get() {
            return Ok(facts);
        }
        let facts = Facts::of(self.py(), self.event)?;
        Ok(self.facts.get_or_init(|| facts))
    }

    /// A value hunter computes before any row of the event: computed now in hook mode; natively, where used.
    fn up_front(
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
    fn pid_prefix(&self, arg: &mut Arg<'_, 'py>) -> PyResult<()> {
        let py = self.py();
        match self.hooks {
            Some(_) => arg.object(self.action.call_method0(pyo3::intern!(py, "pid_prefix"))?),
            None => arg.build(py, |out| push_pid_prefix(self.options, py, out)),
        }
    }

    /// `self.thread_prefix(event)`.
    #[inline]
    fn thread_prefix(&self, arg: &mut Arg<'_, 'py>) -> PyResult<()> {
        let py = self.py();
        match self.hooks {
            Some(event) => arg.object(self.action.call_method1(pyo3::intern!(py, "thread_prefix"), (event,))?),
            None => arg.build(py, |out| push_thread_prefix(self.options, py, self.event.threading_support, out)),
        }
    }

    /// `self.filename_prefix(event)`.
    #[inline]
    fn filename_prefix(&self, arg: &mut Arg<'_, 'py>) -> PyResult<()> {
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
    fn blank_filename_prefix(&self, arg: &mut Arg<'_, 'py>) -> PyResult<()> {
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
    fn value(&self, arg: &mut Arg<'_, 'py>, value: &Bound<'py, PyAny>) -> PyResult<()> {
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
    fn full_source(&self, arg: &mut Arg<'_, 'py>) -> PyResult<()> {
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
    fn stripped_source(&self, arg: &mut Arg<'_, 'py>) -> PyResult<()> {
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
    fn row(
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

/// `stream.write(text)`. A pipe whose reader is gone is pointed at the null device first, so that the
/// interpreter's final flush of that stream cannot fail again; the error still goes to the caller.
fn write(options: &Options, text: Bound<'_, PyString>) -> PyResult<()> {
    let py = text.py();
    match options.write.bind(py).call1((text,)) {
        Ok(_) => Ok(()),
        Err(error) => {
            if error.is_instance_of::<pyo3::exceptions::PyBrokenPipeError>(py) {
                let _ = silence_broken_pipe(options.stream.bind(py));
            }
            Err(error)
        }
    }
}

/// `PyString::new`, without CPython's UTF-8 decoding pass for the (usual) ASCII text.
fn new_py_string<'py>(py: Python<'py>, text: &str) -> Bound<'py, PyString> {
    let length = ffi::Py_ssize_t::try_from(text.len()).expect("a row fits in memory");
    // SAFETY: attached (`py`). PyUnicode_New(length, 127) makes a compact ASCII str with room for `length` one-byte
    // characters at PyUnicode_DATA, which `copy_if_ascii` fills; a string that turns out not ASCII is released without
    // being read.
    unsafe {
        let string = ffi::PyUnicode_New(length, 127);
        if string.is_null() {
            // Out of memory: let the regular path report it.
            ffi::PyErr_Clear();
            return PyString::new(py, text);
        }
        // An ASCII string made by PyUnicode_New(.., 127) stores one byte per character after its header.
        let string = Bound::from_owned_ptr(py, string).cast_into_unchecked();
        if copy_if_ascii(text.as_bytes(), ffi::PyUnicode_DATA(string.as_ptr()).cast::<u8>()) {
            return string;
        }
    }
    PyString::new(py, text)
}

/// Copies `source` to `target` a word at a time, and tells whether it was all ASCII: one pass over the row
/// instead of a check, then a copy.
///
/// # Safety
/// `target` must be valid for `source.len()` bytes of writes.
unsafe fn copy_if_ascii(source: &[u8], target: *mut u8) -> bool {
    const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
    let mut seen = 0u64;
    let mut words = source.chunks_exact(8);
    let mut offset = 0;
    for word in words.by_ref() {
        let word = u64::from_ne_bytes(word.try_into().expect("8 bytes"));
        seen |= word;
        // SAFETY: `offset + 8 <= source.len()` (a whole chunk), and `target` is writable for `source.len()` bytes (the
        // caller's contract).
        unsafe { target.add(offset).cast::<u64>().write_unaligned(word) };
        offset += 8;
    }
    for &byte in words.remainder() {
        seen |= u64::from(byte);
        // SAFETY: `offset < source.len()`, and `target` is writable for `source.len()` bytes (the caller's contract).
        unsafe { *target.add(offset) = byte };
        offset += 1;
    }
    seen & HIGH_BITS == 0
}

fn silence_broken_pipe(stream: &Bound<'_, PyAny>) -> PyResult<()> {
    let py = stream.py();
    let os = crate::compat::import(py, "os")?;
    let fileno = stream.call_method0("fileno")?;
    let null = os.call_method1("open", (os.getattr("devnull")?, os.getattr("O_WRONLY")?))?;
    os.call_method1("dup2", (&null, fileno))?;
    os.call_method1("close", (null,))?;
    Ok(())
}

fn as_text<'a>(value: &'a Bound<'_, PyAny>) -> PyResult<std::borrow::Cow<'a, str>> {
    Ok(value.cast::<PyString>()?.to_string_lossy())
}

/// `str(value)`.
fn push_str_of(out: &mut String, value: &Bound<'_, PyAny>) -> PyResult<()> {
    match value.cast::<PyString>() {
        Ok(text) => out.push_str(&text.to_string_lossy()),
        Err(_) => out.push_str(&value.str()?.to_string_lossy()),
    }
    Ok(())
}

/// `os.getpid()`, remembered until the process forks (a system call per event would cost more than the row).
fn process_id() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static PID: AtomicU32 = AtomicU32::new(0);
    #[cfg(unix)]
    {
        extern "C" fn forget_pid() {
            PID.store(0, Ordering::Relaxed);
        }
        extern "C" {
            fn pthread_atfork(
                prepare: Option<extern "C" fn()>,
                parent: Option<extern "C" fn()>,
                child: Option<extern "C" fn()>,
            ) -> std::os::raw::c_int;
        }
        static REGISTERED: std::sync::Once = std::sync::Once::new();
        // SAFETY: registers a plain `extern "C"` function that only stores to an atomic, which is allowed in the forked
        // child.
        REGISTERED.call_once(|| unsafe {
            pthread_atfork(None, None, Some(forget_pid));
        });
    }
    match PID.load(Ordering::Relaxed) {
        0 => {
            let pid = std::process::id();
            PID.store(pid, Ordering::Relaxed);
            pid
        }
        pid => pid,
    }
}

/// `pid_prefix()`: `[pid]` padded, when forced or in a forked child.
fn push_pid_prefix(options: &Options, py: Python<'_>, out: &mut String) -> PyResult<()> {
    let pid = process_id();
    let forked = || -> PyResult<bool> {
        match options.seen_pid_number {
            Some(seen_pid) => Ok(seen_pid != pid),
            None => options.seen_pid.bind(py).ne(pid),
        }
    };
    if options.force_pid || forked()? {
        push_left_aligned(out, &format!("[{pid}]"), options.pid_alignment);
    }
    Ok(())
}

/// `thread_prefix(event)`: records the thread as seen, then shows its name when asked to, or (with
/// `threading_support=None`) once several threads were seen.
fn push_thread_prefix(
    options: &Options,
    py: Python<'_>,
    threading_support: Option<bool>,
    out: &mut String,
) -> PyResult<()> {
    let seen = options.seen_threads.bind(py);
    let ident = crate::compat::current_thread_ident();
    if options.last_seen_thread.get(py) != ident {
        seen.add(ident)?;
        options.last_seen_thread.set(py, ident);
    }
    let shown = match threading_support {
        Some(false) => false,
        Some(true) => true,
        None => seen.len() > 1,
    };
    if shown {
        static CURRENT_THREAD: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        let current_thread = CURRENT_THREAD.get_or_try_init(py, || {
            Ok::<_, PyErr>(crate::compat::import(py, "threading")?.getattr("current_thread")?.unbind())
        })?;
        let name = current_thread.bind(py).call0()?.getattr(pyo3::intern!(py, "name"))?;
        push_left_aligned(out, &name.str()?.to_string_lossy(), options.thread_alignment);
    }
    Ok(())
}

/// `filename_prefix(event)`: the right-aligned (and `[...]`-shortened) filename, then `:lineno`.
fn push_filename_prefix(
    options: &Options,
    filename: &Bound<'_, PyAny>,
    lineno: &Lineno<'_>,
    out: &mut String,
) -> PyResult<()> {
    let palette = &options.palette;
    let py = filename.py();
    // Events come from a few files: each one's column is formatted once.
    let slot = cache_slot::<FILENAME_COLUMN_SLOTS>(filename.as_ptr() as u64);
    let cached = options.filename_columns.with_mut(py, |columns| match &columns[slot] {
        Some((cached, column)) if cached.is(filename) => {
            out.push_str(column);
            true
        }
        _ => false,
    });
    if !cached {
        let column = filename_column(options, filename)?;
        out.push_str(&column);
        let entry = Some((filename.clone().unbind(), column));
        // The entry replaced is released after the update, outside of it.
        let _replaced = options.filename_columns.with_mut(py, |columns| std::mem::replace(&mut columns[slot], entry));
    }
    out.push_str(&palette.colon);
    out.push(':');
    out.push_str(&palette.lineno);
    let number = match lineno {
        Lineno::Number(number) => Some(*number),
        Lineno::Object(lineno) if lineno.is_exact_instance_of::<pyo3::types::PyInt>() => lineno.extract().ok(),
        Lineno::Object(_) => None,
    };
    match (number, lineno) {
        (Some(number), _) => push_left_aligned(out, crate::leaf_repr::int_text(number, &mut [0; 20]), 5),
        (None, Lineno::Number(_)) => unreachable!("a number always formats natively"),
        (None, Lineno::Object(lineno)) => out.push_str(
            &crate::compat::import(lineno.py(), "builtins")?
                .getattr("format")?
                .call1((lineno, "<5"))?
                .str()?
                .to_string_lossy(),
        ),
    }
    out.push(' ');
    Ok(())
}

/// How many formatted filename columns an action keeps.
const FILENAME_COLUMN_SLOTS: usize = 16;

/// Filename columns by filename object (held, so that its address stays its own).
type FilenameColumns = [Option<(Py<PyAny>, String)>; FILENAME_COLUMN_SLOTS];

/// The filename, right-aligned (and `[...]`-shortened) to `filename_alignment`.
fn filename_column(options: &Options, filename: &Bound<'_, PyAny>) -> PyResult<String> {
    let alignment = options.filename_alignment;
    let filename = as_text(filename)?;
    let mut column = String::new();
    if filename == "?" {
        let marked = format!("{}?", options.palette.source_failure);
        push_right_aligned(&mut column, &marked, alignment);
    } else if char_len(&filename) > alignment {
        text::push_shortened_filename(&mut column, &filename, alignment);
    } else {
        push_right_aligned(&mut column, &filename, alignment);
    }
    Ok(column)
}

/// `filename_prefix()` without an event: blank padding of the same width.
fn push_blank_filename_prefix(options: &Options, out: &mut String) {
    push_spaces(out, options.filename_alignment + 7);
}

/// `try_source(event, full)`: the source, or a coloured `??? NO SOURCE` explanation.
fn push_source(
    options: &Options,
    source: &Bound<'_, PyAny>,
    filename: &Bound<'_, PyAny>,
    out: &mut String,
) -> PyResult<()> {
    let palette = &options.palette;
    let source = as_text(source)?;
    if let Some(detail) = source.strip_prefix(NO_SOURCE_PREFIX) {
        out.push_str(&palette.source_failure);
        out.push_str(NO_SOURCE_PREFIX);
        out.push_str(&palette.source_detail);
        out.push_str(detail);
    } else if !source.is_empty() {
        out.push_str(&source);
    } else {
        out.push_str(&palette.source_failure);
        out.push_str(NO_SOURCE_PREFIX);
        out.push_str(&palette.source_detail);
        out.push_str("Source code string for ");
        out.push_str(&filename.repr()?.to_string_lossy());
        out.push_str(" is empty.");
    }
    Ok(())
}

/// `try_repr(value)` for live events, `try_str(value)` for detached ones.
fn push_value(action: &Bound<'_, PyAny>, options: &Options, value: Value<'_, '_>, out: &mut String) -> PyResult<()> {
    let py = action.py();
    let object = value.object;
    let rendered = if value.detached {
        object.str().map(Bound::into_any)
    } else {
        match (&options.render, options.repr_limit) {
            (Render::SafeRepr, Some(limit)) => {
                let marker = &options.palette.cut_marker;
                return match safe_repr_clipped_into(object, DEFAULT_MAXDEPTH, limit, true, marker, out) {
                    Ok(()) => Ok(()),
                    Err(error) => push_failed_repr(py, options, error, out),
                };
            }
            (Render::SafeRepr, None) => {
                crate::safe_repr::safe_repr(object, DEFAULT_MAXDEPTH).map(|text| PyString::new(py, &text).into_any())
            }
            (Render::Repr, _) => object.repr().map(Bound::into_any),
            (Render::Callable(render), _) => render.bind(py).call1((object,)),
        }
    };
    let rendered = match rendered {
        Ok(rendered) => rendered,
        Err(error) => return push_failed_repr(py, options, error, out),
    };
    match (rendered.cast_exact::<PyString>(), options.repr_limit) {
        (Ok(text), Some(limit)) => {
            let escaped = text.to_string_lossy().replace('\n', "\\n");
            match text::cut(&escaped, limit) {
                Some((head, tail)) => {
                    out.push_str(&head);
                    out.push_str(&options.palette.cut_marker);
                    out.push_str(&tail);
                }
                None => out.push_str(&escaped),
            }
            Ok(())
        }
        // Unusual results or limits go through the Python rule, errors and all.
        _ => match action.call_method1(pyo3::intern!(py, "_clip"), (rendered,)) {
            Ok(clipped) => push_str_of(out, &clipped),
            Err(error) => push_failed_repr(py, options, error, out),
        },
    }
}

/// `!!! FAILED REPR: <exception>` for an `Exception`; anything else (KeyboardInterrupt...) propagates.
fn push_failed_repr(py: Python<'_>, options: &Options, error: PyErr, out: &mut String) -> PyResult<()> {
    if !error.is_instance_of::<PyException>(py) {
        return Err(error);
    }
    let palette = &options.palette;
    out.push_str(&palette.internal_failure);
    out.push_str("!!! FAILED REPR: ");
    out.push_str(&palette.internal_detail);
    out.push_str(&error.value(py).repr()?.to_string_lossy());
    out.push_str(&palette.reset);
    Ok(())
}

/// A line number: read from the frame, or any object a (detached, hand-made) event holds.
enum Lineno<'py> {
    Number(i64),
    Object(Bound<'py, PyAny>),
}

/// What the rows show of an event's code.
struct Facts<'py> {
    function: Bound<'py, PyAny>,
    module: Bound<'py, PyAny>,
    filename: Bound<'py, PyAny>,
    lineno: Lineno<'py>,
}

impl<'py> Facts<'py> {
    fn of(py: Python<'py>, event: &EventData) -> PyResult<Facts<'py>> {
        if let Some(live) = event.live_facts(py) {
            let (info, facts, lineno) = live?;
            return Ok(Facts {
                function: info.function.bind(py).clone(),
                module: facts.module.bind(py).clone(),
                filename: facts.filename.bind(py).clone(),
                lineno: Lineno::Number(lineno.into()),
            });
        }
        Ok(Facts {
            function: event.get(py, Field::Function)?,
            module: event.get(py, Field::Module)?,
            filename: event.get(py, Field::Filename)?,
            lineno: Lineno::Object(event.get(py, Field::Lineno)?),
        })
    }
}

/// CodePrinter: the (full) source of the event, one row per line, then the value of returns and exceptions.
fn code_rows(printing: &Printing<'_, '_>, out: &mut String) -> PyResult<()> {
    let py = printing.py();
    let event = printing.event;
    let hooked = printing.hooked();
    let source = Cell::of(py, hooked, |arg| printing.full_source(arg))?;
    let lines: Vec<Cell<'_, '_>> = match &source {
        Cell::Text(source) => text::splitlines(source).into_iter().map(|line| Cell::Text(line.into())).collect(),
        Cell::Object(source) => source
            .call_method0(pyo3::intern!(py, "splitlines"))?
            .try_iter()?
            .map(|line| line.map(Cell::Object))
            .collect::<PyResult<_>>()?,
    };
    let first_line = lines.first().ok_or_else(|| PyIndexError::new_err("list index out of range"))?;
    let pid = Cell::of(py, hooked, |arg| printing.pid_prefix(arg))?;
    let thread = Cell::of(py, hooked, |arg| printing.thread_prefix(arg))?;
    let templates = printing.templates();
    let colour = &printing.options.palette.events[event.kind as usize];
    let kind = event.kind.name();
    printing.row(out, &templates.code_row, colour, |number, arg| match number {
        0 => arg.cell(py, &pid),
        1 => arg.cell(py, &thread),
        2 => printing.filename_prefix(arg),
        3 => arg.push(py, kind),
        _ => arg.cell(py, first_line),
    })?;
    if lines.len() > 1 {
        // Decorated definitions: '|' marks the middle lines and '*' the last one.
        let blank = Cell::of(py, hooked, |arg| printing.blank_filename_prefix(arg))?;
        for (index, line) in lines.iter().enumerate().skip(1) {
            let label = if index + 1 == lines.len() { "   *" } else { "   |" };
            printing.row(out, &templates.code_row, colour, |number, arg| match number {
                0 => arg.cell(py, &pid),
                1 => arg.cell(py, &thread),
                2 => arg.cell(py, &blank),
                3 => arg.push(py, label),
                _ => arg.cell(py, line),
            })?;
        }
    }
    if matches!(event.kind, Kind::Return | Kind::Exception) {
        printing.row(out, &templates.code_value_row, colour, |number, arg| match number {
            0 => arg.cell(py, &pid),
            1 => arg.cell(py, &thread),
            2 => printing.blank_filename_prefix(arg),
            3 => arg.push(py, "..."),
            4 => arg.push(py, kind),
            _ => printing.value(arg, event.arg.bind(py)),
        })?;
    }
    Ok(())
}

/// Pops the calls of `stack` whose frames are no longer executing (CallPrinter's fix for upstream #123).
/// For a call, the live frames are the new frame's callers; otherwise they include the frame itself.
/// Calls without a frame cannot be judged and stop the popping.
fn drop_finished_calls(stack: &CallStack, frame: &Bound<'_, PyFrame>, is_call: bool) {
    let py = frame.py();
    let Some(Some(top_frame)) = stack.top_frame(py) else {
        return;
    };
    let mut live_frames = Vec::new();
    let mut current = if is_call { crate::compat::frame_back(frame) } else { Some(frame.clone()) };
    while let Some(live) = current {
        let address = live.as_ptr() as usize;
        if address == top_frame {
            return;
        }
        live_frames.push(address);
        current = crate::compat::frame_back(&live);
    }
    stack.pop_finished(py, &live_frames);
}

/// CallPrinter: one row per event, indented by the call stack of the thread (kept in the class's
/// `locals`, as hunter does); calls show their arguments, returns and exceptions their value.
fn call_row(printing: &Printing<'_, '_>, out: &mut String) -> PyResult<()> {
    let py = printing.py();
    let event = printing.event;
    let stack = thread_stack(printing.action, printing.options)?;
    let stack = stack.get();
    let kind = event.kind;
    let builtin = event.builtin;
    let is_python_call = kind == Kind::Call && !builtin;
    // Only a live event's frame chain tells which calls are still executing.
    if !event.detached {
        if let Some(frame) = event.frame().and_then(|frame| frame.live(py)) {
            drop_finished_calls(stack, frame, is_python_call);
        }
    }
    if kind == Kind::Line {
        return line_row(printing, stack, out);
    }
    let facts = printing.facts()?;
    let (module, function) = (&facts.module, &facts.function);
    let templates = printing.templates();
    let template = match (kind, builtin) {
        (Kind::Call, true) => &templates.call_builtin_row,
        (Kind::Call, false) => &templates.call_row,
        (Kind::Exception, true) => &templates.exception_builtin_row,
        (Kind::Exception, false) => &templates.exception_row,
        (Kind::Return, true) => &templates.return_builtin_row,
        (Kind::Return, false) => &templates.return_row,
        (Kind::Line, _) => unreachable!("line rows are done above"),
    };
    let value = event.arg.bind(py);
    let colour = &printing.options.palette.events[kind as usize];
    printing.row(out, template, colour, |number, arg| match (number, builtin, kind) {
        (0, ..) => printing.pid_prefix(arg),
        (1, ..) => printing.thread_prefix(arg),
        (2, ..) => printing.filename_prefix(arg),
        (3, ..) => {
            // After the prefixes and before the rest, as hunter pushes.
            if is_python_call {
                stack.push(py, module, function, event.frame().map(|frame| frame.as_any(py).as_ptr() as usize));
            }
            arg.push(py, kind.name())
        }
        (4, ..) => push_indentation(py, arg, stack.len(py).saturating_sub(1)),
        (5, true, _) => arg.object(module.clone()),
        (6, true, _) => arg.object(function.clone()),
        (7, true, _) => printing.stripped_source(arg),
        (5, false, _) => arg.object(function.clone()),
        (6, false, Kind::Call) => arg.build(py, |out| push_arguments(printing, out)),
        (6, false, Kind::Exception) => printing.value(arg, value),
        (6, false, _) => arg.push(py, ": "),
        _ => printing.value(arg, value),
    })?;
    if kind == Kind::Return && !builtin {
        stack.pop_returning(py, module, function)?;
    }
    Ok(())
}

/// A line row's text after the owner and before the indentation (location and kind columns), and after
/// it (the stripped source), for one line of one code object running with one globals dict (the filename
/// shown can depend on it).
struct LineRow {
    /// Held so that the address in the key stays this code object's.
    _code: GilRc<CodeInfo>,
    /// Held so that no other dict can take its address.
    globals: Py<PyDict>,
    /// The columns, then the source from `source_start` on (one allocation: rows are read far more often
    /// than made, and each allocation read is a likely cache miss).
    text: Box<str>,
    source_start: usize,
}

/// Rows of that many lines are kept at most: programs that keep creating code (templates, namedtuples)
/// start over instead of growing the cache forever.
const LINE_ROWS_KEPT: usize = 4096;

/// A CallPrinter line row (the `LINE_ROW` format: owner, location and kind columns, indentation, source).
/// Most events are lines and a line's columns and source never change, so for live events they are
/// formatted once and reused.
fn line_row<'py>(printing: &Printing<'_, 'py>, stack: &CallStack, out: &mut String) -> PyResult<()> {
    let py = printing.py();
    let template = &printing.templates().line_row;
    let kind = printing.event.kind.name();
    let depth = stack.len(py);
    let mut owner_and_location = |number: usize, arg: &mut Arg<'_, 'py>| match number {
        0 => printing.pid_prefix(arg),
        1 => printing.thread_prefix(arg),
        2 => printing.filename_prefix(arg),
        _ => arg.push(py, kind),
    };
    if printing.hooked() {
        return printing.row(out, template, "", |number, arg| match number {
            0..=3 => owner_and_location(number, arg),
            4 => push_indentation(py, arg, depth),
            _ => printing.stripped_source(arg),
        });
    }
    template.format_part(out, "", 0..2, &mut owner_and_location)?;
    let mut format = |columns: &mut String, source: &mut String| -> PyResult<()> {
        template.format_part(columns, "", 2..4, &mut owner_and_location)?;
        push_stripped_source(printing.options, printing.event, printing.facts()?, source)
    };
    let push = |out: &mut String, columns: &str, source: &str| {
        out.push_str(columns);
        template.format_part(out, "", 4..6, |number, arg| match number {
            4 => push_indentation(py, arg, depth),
            _ => arg.push(py, source),
        })
    };
    let options = printing.options;
    let Some((code, globals, lineno)) = printing.event.live_line(py) else {
        let (mut columns, mut source) = (String::new(), String::new());
        format(&mut columns, &mut source)?;
        return push(out, &columns, &source);
    };
    // Taken out while in use: a row formatted by a re-entrant event (a repr_func that prints) is not kept.
    let mut rows = options.line_rows.replace(py, LineRows::default());
    let key = (GilRc::as_ptr(code) as usize, lineno);
    let pushed = if let Some(row) = rows.get(&key).filter(|row| row.globals.is(&globals)) {
        let (columns, source) = row.text.split_at(row.source_start);
        push(out, columns, source)
    } else {
        let (mut columns, mut source) = (String::new(), String::new());
        match format(&mut columns, &mut source) {
            Ok(()) => {
                let pushed = push(out, &columns, &source);
                let source_start = columns.len();
                columns.push_str(&source);
                let row = LineRow {
                    _code: code.clone_ref(py),
                    globals: globals.unbind(),
                    text: columns.into(),
                    source_start,
                };
                if rows.len() >= LINE_ROWS_KEPT {
                    rows.clear();
                }
                rows.insert(key, row);
                pushed
            }
            Err(error) => Err(error),
        }
    };
    options.line_rows.replace(py, rows);
    pushed
}

/// CallPrinter's indentation for `depth` levels.
#[inline]
fn push_indentation<'py>(py: Python<'py>, arg: &mut Arg<'_, 'py>, depth: usize) -> PyResult<()> {
    arg.build(py, |out| {
        push_spaces(out, INDENT_WIDTH * depth);
        Ok(())
    })
}

/// Hashes the `(address, line)` keys of the line rows with a multiplication per word: SipHash, the
/// default, costs more than the rest of a cached row.
#[derive(Default)]
struct LineKeyHasher(u64);

impl std::hash::Hasher for LineKeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        bytes.iter().for_each(|&byte| self.write_u64(u64::from(byte)));
    }
    fn write_u64(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(26) ^ word).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    fn write_usize(&mut self, word: usize) {
        self.write_u64(word as u64);
    }
    fn write_i32(&mut self, word: i32) {
        self.write_u64(u64::from(word as u32));
    }
}

type LineRows = HashMap<(usize, c_int), LineRow, std::hash::BuildHasherDefault<LineKeyHasher>>;

/// `try_source(event).strip()`.
fn push_stripped_source(options: &Options, event: &EventData, facts: &Facts<'_>, out: &mut String) -> PyResult<()> {
    let py = facts.filename.py();
    let source = match facts.lineno {
        Lineno::Number(lineno) => event.source_with(py, &facts.filename, lineno)?.clone(),
        Lineno::Object(_) => event.get(py, Field::Source)?,
    };
    let start = out.len();
    push_source(options, &source, &facts.filename, out)?;
    text::strip_from(out, start);
    Ok(())
}

/// `self.locals[get_ident()]`: this thread's call stack in the class's `locals` (replaced by `cleanup()`).
/// The lookup of `locals` on the class is skipped while the class is unchanged: CPython gives a class a new
/// version tag whenever an attribute of it or of a base is set (as `cleanup()` does).
fn thread_stack<'py>(action: &Bound<'py, PyAny>, options: &Options) -> PyResult<Bound<'py, CallStack>> {
    let py = action.py();
    let class = action.get_type();
    let ident = crate::compat::current_thread_ident();
    let cached = options.last_stack.replace(py, None);
    if let Some((_, cached_tag, cached_ident, stack)) = &cached {
        if crate::compat::valid_version_tag(&class) == Some(*cached_tag) && *cached_ident == ident {
            let stack = stack.bind(py).clone();
            options.last_stack.replace(py, cached);
            return Ok(stack);
        }
    }
    let stacks = class.getattr(pyo3::intern!(py, "locals"))?;
    let stack = match &cached {
        Some((cached_stacks, _, cached_ident, stack)) if cached_stacks.is(&stacks) && *cached_ident == ident => {
            stack.bind(py).clone()
        }
        _ => stacks.get_item(ident)?.cast_into::<CallStack>()?,
    };
    // The tag is read after the lookup, which assigns one. Holding the dict keeps its address from being
    // reused by another one.
    let tag = crate::compat::valid_version_tag(&class).unwrap_or(0);
    options.last_stack.replace(py, Some((stacks.unbind(), tag, ident, stack.clone().unbind())));
    Ok(stack)
}

/// `name=value, ...` for every parameter, values from the frame's locals (`?` for a missing one).
fn push_arguments(printing: &Printing<'_, '_>, out: &mut String) -> PyResult<()> {
    let py = printing.py();
    let mut first = true;
    printing.event.for_each_argument(py, |argument, value| {
        if !std::mem::take(&mut first) {
            out.push_str(", ");
        }
        let value = match value {
            Some(value) => value,
            None => missing(py)?.clone(),
        };
        printing.templates().argument.format(out, "", |number, arg| match number {
            0 => arg.push(py, argument.prefix),
            1 => arg.push(py, &argument.name.bind(py).to_string_lossy()),
            _ => printing.value(arg, &value),
        })
    })
}

/// `hunter.util.MISSING`, shown for a parameter that is not in the locals yet.
fn missing(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    static MISSING: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    Ok(MISSING
        .get_or_try_init(py, || Ok::<_, PyErr>(crate::compat::import(py, "hunter.util")?.getattr("MISSING")?.unbind()))?
        .bind(py))
}

/// Runs a native printer on `event` when `action` is one whose `__call__` no Python subclass overrides and
/// that replaces none of the hooks (see [`rows`]). Returns None for any other action (the caller calls it
/// with a Python `Event`).
pub fn print_natively(action: &Bound<'_, PyAny>, event: &EventRef<'_>) -> Option<PyResult<()>> {
    let py = action.py();
    // Python subclasses inherit the slot unless they define `__call__` (then it is `slot_tp_call`).
    // SAFETY: `type_object_raw` gives NativeStreamAction's live type object (attached, `py`); only its `tp_call` slot
    // is read.
    let native_call = unsafe { (*NativeStreamAction::type_object_raw(py)).tp_call }.map(|f| f as *const ());
    // SAFETY: `action` is a live object, and so is its type; only its `tp_call` slot is read.
    let action_call = unsafe { (*ffi::Py_TYPE(action.as_ptr())).tp_call }.map(|f| f as *const ());
    if action_call != native_call {
        return None;
    }
    let printer = action.cast::<NativeStreamAction>().ok()?;
    let options = match NativeStreamAction::options(printer) {
        Ok(options) => options,
        Err(error) => return Some(Err(error)),
    };
    if options.hooked {
        return None;
    }
    Some(NativeStreamAction::print(printer, &options, event.data, None))
}

#[pymethods]
impl NativeStreamAction {
    #[new]
    #[pyo3(signature = (*_args, **_kwargs))]
    fn new(_args: &Bound<'_, PyTuple>, _kwargs: Option<&Bound<'_, PyDict>>) -> Self {
        NativeStreamAction { options: GilCell::new(None), buffer: GilCell::new(String::new()) }
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        // SAFETY: called from `__traverse__` (the collector holds the GIL); `options` is only replaced.
        match unsafe { self.options.during_gc() } {
            // SAFETY: from `__traverse__` (the collector holds the GIL): `Options::traverse`'s contract.
            Some(options) => unsafe { options.traverse(&visit) },
            None => Ok(()),
        }
    }

    /// The options are read again on the next event, should the action survive.
    fn __clear__(&self, py: Python<'_>) {
        drop(self.options.replace(py, None));
    }

    /// Called by the Python side whenever an option changes: they are read again on the next event.
    fn _options_changed(&self, py: Python<'_>) {
        self.options.replace(py, None);
    }

    fn __call__(slf: &Bound<'_, Self>, event: &Bound<'_, PyAny>) -> PyResult<()> {
        let event = event.cast::<Event>().map_err(|_| {
            PyTypeError::new_err(format!(
                "expected a hunter Event, not {}",
                event.repr().map(|r| r.to_string()).unwrap_or_default()
            ))
        })?;
        let options = Self::options(slf)?;
        let data = event.try_borrow()?;
        Self::print(slf, &options, &data.data, Some(event.as_any()))
    }

    /// Safely call `self.repr_func(obj)`, trimmed to `self.repr_limit`; failures get a coloured marker.
    fn try_repr(slf: &Bound<'_, Self>, obj: &Bound<'_, PyAny>) -> PyResult<String> {
        let options = Self::options(slf)?;
        let mut out = String::new();
        push_value(slf.as_any(), &options, Value { object: obj, detached: false }, &mut out)?;
        Ok(out)
    }

    /// Safely call `str(obj)`, trimmed to `self.repr_limit` (for the already rendered values of detached events).
    fn try_str(slf: &Bound<'_, Self>, obj: &Bound<'_, PyAny>) -> PyResult<String> {
        let options = Self::options(slf)?;
        let mut out = String::new();
        push_value(slf.as_any(), &options, Value { object: obj, detached: true }, &mut out)?;
        Ok(out)
    }

    /// The event's source (`fullsource` with `full=True`), or a coloured `??? NO SOURCE` explanation.
    #[pyo3(signature = (event, full=false))]
    fn try_source(slf: &Bound<'_, Self>, event: &Bound<'_, PyAny>, full: bool) -> PyResult<String> {
        let py = slf.py();
        let options = Self::options(slf)?;
        let source = event.getattr(if full { pyo3::intern!(py, "fullsource") } else { pyo3::intern!(py, "source") })?;
        let mut out = String::new();
        push_source(&options, &source, &event.getattr(pyo3::intern!(py, "filename"))?, &mut out)?;
        Ok(out)
    }

    /// An aligned and trimmed `filename:lineno` prefix for `event`, or blank padding of the same width.
    #[pyo3(signature = (event=None))]
    fn filename_prefix(slf: &Bound<'_, Self>, event: Option<&Bound<'_, PyAny>>) -> PyResult<String> {
        let py = slf.py();
        let options = Self::options(slf)?;
        let mut out = String::new();
        match event.filter(|event| !event.is_none()) {
            Some(event) => push_filename_prefix(
                &options,
                &event.getattr(pyo3::intern!(py, "filename"))?,
                &Lineno::Object(event.getattr(pyo3::intern!(py, "lineno"))?),
                &mut out,
            )?,
            None => push_blank_filename_prefix(&options, &mut out),
        }
        Ok(out)
    }

    /// An aligned pid prefix; only shown when forced or in a forked child.
    fn pid_prefix(slf: &Bound<'_, Self>) -> PyResult<String> {
        let options = Self::options(slf)?;
        let mut out = String::new();
        push_pid_prefix(&options, slf.py(), &mut out)?;
        Ok(out)
    }

    /// An aligned thread name prefix for `event`. With `threading_support=None` the name is shown once a
    /// second thread has been seen.
    fn thread_prefix(slf: &Bound<'_, Self>, event: &Bound<'_, PyAny>) -> PyResult<String> {
        let options = Self::options(slf)?;
        let threading_support = event.getattr(pyo3::intern!(slf.py(), "threading_support"))?;
        // hunter tests `is False` first, then truthiness.
        let threading_support = if threading_support.is(pyo3::types::PyBool::new(slf.py(), false)) {
            Some(false)
        } else if threading_support.is_truthy()? {
            Some(true)
        } else {
            None
        };
        let mut out = String::new();
        push_thread_prefix(&options, slf.py(), threading_support, &mut out)?;
        Ok(out)
    }
}
