//! Facts about a code object, computed once and stored in the code object's "extra" slot, so every
//! later event from the same code reuses them (and the predicate verdicts derived from them).

use std::borrow::Cow;
use std::os::raw::{c_int, c_void};
use std::sync::OnceLock;

use crate::gilcell::MadeOnce;
use pyo3::exceptions::PyRuntimeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyCode, PyDict, PyString, PyTuple};

use crate::compat::{self, code_extra, DictIdentity, DictStamp};
use crate::gilcell::{GilCell, GilOnce, GilRc};
use crate::verdict::Verdict;

/// `(start, line)` of every `(start, end, line)` range of `code.co_lines()` (3.10+), -1 standing for no line.
fn line_table(code: &Bound<'_, PyAny>) -> PyResult<Box<[(c_int, c_int)]>> {
    code.call_method0(pyo3::intern!(code.py(), "co_lines"))?
        .try_iter()?
        .map(|range| {
            let (start, _end, line): (c_int, c_int, Option<c_int>) = range?.extract()?;
            Ok((start, line.unwrap_or(-1)))
        })
        .collect()
}

/// Facts that depend on the code object and the globals it runs with, computed from the globals' `__name__` (and
/// `__file__`, for code with no `co_filename`), which they hold.
///
/// They do not hold the globals: a code object's extra, where they are kept, is invisible to the garbage collector,
/// and globals usually hold the function whose code it is, so that cycle would never be collected (an `exec`'d
/// namespace, a module dropped from `sys.modules`). The globals they were found for are known by their stamp.
pub struct ModuleFacts {
    globals: DictIdentity,
    /// `globals['__name__']`, None when missing.
    name: Option<Py<PyAny>>,
    /// `globals['__file__']` when the filename came from it (the code has no `co_filename`), None when missing or not
    /// looked up (the same for every globals of one code object).
    file: Option<Py<PyAny>>,
    pub module: Py<PyAny>,
    pub filename: Py<PyAny>,
    pub stdlib: bool,
}

impl ModuleFacts {
    /// Whether these facts were computed from `name` and `file` (the same objects, or both missing), and so are
    /// the facts of globals that have them.
    fn computed_from(&self, name: Option<&Py<PyAny>>, file: Option<&Py<PyAny>>) -> bool {
        fn same(one: Option<&Py<PyAny>>, other: Option<&Py<PyAny>>) -> bool {
            match (one, other) {
                (Some(one), Some(other)) => one.is(other),
                (one, other) => one.is_none() && other.is_none(),
            }
        }
        same(self.name.as_ref(), name) && same(self.file.as_ref(), file)
    }

    /// Whether these facts are of the same module as `other`: the same `__name__` and `__file__`, compared as values
    /// when they are exact strings (whose `==` runs no Python code), else by identity.
    fn same_module(&self, py: Python<'_>, other: &ModuleFacts) -> bool {
        let same = |one: Option<&Py<PyAny>>, other: Option<&Py<PyAny>>| match (one, other) {
            (Some(one), Some(other)) => {
                let (one, other) = (one.bind(py), other.bind(py));
                one.is(other)
                    || (one.is_exact_instance_of::<PyString>()
                        && other.is_exact_instance_of::<PyString>()
                        && one.eq(other).unwrap_or(false))
            }
            (one, other) => one.is_none() && other.is_none(),
        };
        same(self.name.as_ref(), other.name.as_ref()) && same(self.file.as_ref(), other.file.as_ref())
    }

    /// These facts, for `globals` (whose `__name__` and `__file__` they were computed from).
    fn for_globals(&self, py: Python<'_>, globals: &Bound<'_, PyDict>) -> ModuleFacts {
        ModuleFacts {
            globals: DictIdentity::of(globals),
            name: self.name.as_ref().map(|name| name.clone_ref(py)),
            file: self.file.as_ref().map(|file| file.clone_ref(py)),
            module: self.module.clone_ref(py),
            filename: self.filename.clone_ref(py),
            stdlib: self.stdlib,
        }
    }
}

/// The predicate verdicts cached for one tracer generation and globals dict, per settrace kind (call,
/// exception, line, return).
#[derive(Clone, Copy)]
struct VerdictCache {
    generation: u64,
    /// The globals they were judged with (the same code object can run with several, e.g. through `exec`).
    globals: DictStamp,
    by_kind: [Verdict; 4],
}

/// `inspect.CO_OPTIMIZED`.
const CO_OPTIMIZED: u32 = 0x1;

pub struct CodeInfo {
    pub function: Py<PyAny>,
    pub co_filename: Py<PyAny>,
    /// A function's code (`CO_OPTIMIZED`), as opposed to module-level, class-body or `exec`'d code, which
    /// can run again with other globals (and so other module facts).
    pub is_function: bool,
    module_facts: GilCell<Option<GilRc<ModuleFacts>>>,
    verdicts: GilCell<VerdictCache>,
    /// The module facts the verdicts were judged on.
    verdict_facts: GilCell<Option<GilRc<ModuleFacts>>>,
    /// Whether the code was seen running with the globals of several modules (a module's code `exec`'d into several
    /// namespaces makes functions that share their code objects): its verdicts then hold for one of them only, and
    /// none of its locations may be switched off for all (`may_switch_off`).
    shared: GilCell<bool>,
    /// `(first offset, line)` of each range of instructions, in offset order (see `line_at`); -1 for no line.
    line_table: GilOnce<Box<[(c_int, c_int)]>>,
    /// `linecache.getlines(...)` of the source file, shared by `source` and `fullsource`.
    pub source_lines: OnceLock<Py<PyAny>>,
    /// `fullsource` of call events (the definition header), for the line it was computed at.
    pub definition_source: OnceLock<(i64, Py<PyAny>)>,
    pub co_code: OnceLock<Py<PyAny>>,
    /// `compat::settrace_reported_end_fors` of the code (empty when it could not be found).
    settrace_reported_end_fors: GilOnce<Box<[c_int]>>,
    arguments: OnceLock<Vec<Argument>>,
}

/// One parameter of a code object's signature, as hunter's `get_arguments` lists them.
pub struct Argument {
    /// `''`, `'*'` or `'**'`.
    pub prefix: &'static str,
    pub name: Py<PyString>,
    /// Its index in `co_varnames`, which is its index among the frame's fast locals.
    pub slot: usize,
    /// Whether a closure captures it (its fast local then holds a cell).
    pub is_cell: bool,
}

const CO_VARARGS: u32 = 0x04;
const CO_VARKEYWORDS: u32 = 0x08;

static EXTRA_INDEX: OnceLock<ffi::Py_ssize_t> = OnceLock::new();

/// # Safety
/// CPython's `freefunc` contract for our code-extra index: called attached, once per code object as it dies, with the
/// value stored at the index (a reference `create` gave up with `GilRc::into_raw`) or NULL.
unsafe extern "C" fn free_code_info(ptr: *mut c_void) {
    if !ptr.is_null() {
        // Called by CPython when the code object dies, with the interpreter attached.
        // SAFETY: only `create` stores at this index, a reference given up by `GilRc::into_raw`; CPython hands it back
        // once, when the code object dies, attached.
        drop(unsafe { GilRc::from_raw(ptr.cast::<CodeInfo>()) });
    }
}

fn extra_index() -> ffi::Py_ssize_t {
    // SAFETY: `free_code_info` accepts NULL and every value stored at this index (only `create` stores there, a
    // `GilRc<CodeInfo>`).
    *EXTRA_INDEX.get_or_init(|| unsafe { code_extra::request_index(free_code_info) })
}

impl CodeInfo {
    /// The cached info of a code object, creating it on first sight.
    ///
    /// # Safety
    /// `code` must stay alive for `'a` (the info is owned by it).
    #[inline]
    pub unsafe fn of_code<'a>(py: Python<'_>, code: Borrowed<'_, '_, PyCode>) -> PyResult<&'a CodeInfo> {
        // SAFETY: the caller keeps `code` alive for 'a (this function's contract).
        match unsafe { Self::existing(code) } {
            Some(info) => Ok(info),
            None => Self::create(py, code, extra_index()),
        }
    }

    /// The info of `code` if it has been created.
    ///
    /// # Safety
    /// As for `of_code`.
    #[inline]
    pub unsafe fn existing<'a>(code: Borrowed<'_, '_, PyCode>) -> Option<&'a CodeInfo> {
        let existing = code_extra::get(code, extra_index());
        // SAFETY: only `create` sets this extra, to a `CodeInfo` that lives as long as the code object, which
        // the caller keeps alive for 'a.
        (!existing.is_null()).then(|| unsafe { &*existing.cast::<CodeInfo>() })
    }

    /// A counted handle, for events that may outlive the current callback.
    pub fn shared(py: Python<'_>, code: Borrowed<'_, '_, PyCode>) -> PyResult<GilRc<CodeInfo>> {
        // SAFETY: the info is only used for the new counted reference taken next.
        let info: *const CodeInfo = unsafe { Self::of_code(py, code)? };
        // SAFETY: the code object's extra holds the reference given up in `create`.
        Ok(unsafe { GilRc::clone_raw(py, info) })
    }

    #[cold]
    fn create<'a>(py: Python<'_>, code: Borrowed<'_, '_, PyCode>, index: ffi::Py_ssize_t) -> PyResult<&'a CodeInfo> {
        let code_obj = code;
        let info = GilRc::new(CodeInfo {
            function: code_obj.getattr(pyo3::intern!(py, "co_name"))?.unbind(),
            co_filename: code_obj.getattr(pyo3::intern!(py, "co_filename"))?.unbind(),
            is_function: code_obj.getattr(pyo3::intern!(py, "co_flags"))?.extract::<u32>()? & CO_OPTIMIZED != 0,
            module_facts: GilCell::new(None),
            verdicts: GilCell::new(VerdictCache {
                generation: 0,
                globals: DictStamp::default(),
                by_kind: [Verdict::Unknown; 4],
            }),
            verdict_facts: GilCell::new(None),
            shared: GilCell::new(false),
            line_table: GilOnce::default(),
            source_lines: OnceLock::new(),
            definition_source: OnceLock::new(),
            co_code: OnceLock::new(),
            settrace_reported_end_fors: GilOnce::default(),
            arguments: OnceLock::new(),
        });
        let raw = GilRc::into_raw(info);
        if !code_extra::set(code, index, raw.cast_mut().cast()) {
            // SAFETY: the reference given up just above, not stored anywhere.
            drop(unsafe { GilRc::from_raw(raw) });
            return Err(PyRuntimeError::new_err("hunter: cannot attach data to a code object"));
        }
        // SAFETY: the code object's extra now holds this reference until the code object dies.
        Ok(unsafe { &*raw })
    }

    /// The line of the instruction at byte `offset` of this code (`code`), for events that arrive without it
    /// (3.11+: all but line events with the monitoring backend, and on 3.12+ settrace's other events). CPython
    /// finds it by walking the code's line table from the start, which costs more than printing the event in a
    /// long function; here the table is decoded once (`co_lines()`) and searched.
    pub fn line_at(&self, py: Python<'_>, code: Borrowed<'_, '_, PyCode>, offset: c_int) -> c_int {
        let table = match self.line_table.get(py) {
            Some(table) => table,
            None => match line_table(&code) {
                Ok(table) => self.line_table.set(py, table),
                Err(_) => return compat::code_line(code, offset),
            },
        };
        match table.partition_point(|&(start, _)| start <= offset) {
            0 => compat::code_line(code, offset),
            after => table[after - 1].1,
        }
    }

    /// The verdicts cached for tracer `generation` and the globals dict at `globals` (NULL or a live dict), if any.
    /// Runs no Python code.
    #[inline]
    pub fn cached_verdicts(
        &self,
        py: Python<'_>,
        generation: u64,
        globals: *mut ffi::PyObject,
    ) -> Option<[Verdict; 4]> {
        let cache = self.verdicts.get(py);
        (cache.generation == generation && cache.globals == DictStamp::of(globals)).then_some(cache.by_kind)
    }

    /// The verdicts of tracer `generation` judged on `facts`, for the globals those were found for.
    pub fn remember_verdicts(
        &self,
        py: Python<'_>,
        generation: u64,
        facts: &GilRc<ModuleFacts>,
        by_kind: [Verdict; 4],
    ) {
        let replaced = self.verdict_facts.replace(py, Some(facts.clone_ref(py)));
        self.verdicts.set(py, VerdictCache { generation, globals: facts.globals.stamp, by_kind });
        // Released last: dropping what the previous facts held may run code (finalizers) that reaches us.
        drop(replaced);
    }

    /// The verdicts of tracer `generation` when they were judged on the same facts as this code has with `globals`
    /// (other globals with the same `__name__`, or the same globals changed since): they are then cached for
    /// `globals` too. None when there are none, or the facts differ.
    pub fn verdicts_for_same_facts(
        &self,
        py: Python<'_>,
        generation: u64,
        globals: &Bound<'_, PyDict>,
    ) -> PyResult<Option<[Verdict; 4]>> {
        let cache = self.verdicts.get(py);
        let Some(judged) = self.verdict_facts.clone_shared(py).filter(|_| cache.generation == generation) else {
            return Ok(None);
        };
        let facts = self.module_facts(py, globals)?;
        // Finding the facts may have run Python code (a key's `__eq__`), which may have cached other verdicts.
        if !judged.computed_from(facts.name.as_ref(), facts.file.as_ref())
            || self.verdicts.get(py).generation != generation
        {
            return Ok(None);
        }
        self.remember_verdicts(py, generation, &facts, cache.by_kind);
        Ok(Some(cache.by_kind))
    }

    /// Whether the verdicts were judged on the facts of another module than `facts` (another `__name__` or
    /// `__file__`): the code runs with the globals of several modules.
    pub fn judged_with_other_facts(&self, py: Python<'_>, facts: &ModuleFacts) -> bool {
        self.verdict_facts.clone_shared(py).is_some_and(|judged| !judged.same_module(py, facts))
    }

    /// Notes that the code runs with the globals of several modules; true when that was not known yet.
    pub fn mark_shared(&self, py: Python<'_>) -> bool {
        !self.shared.replace(py, true)
    }

    /// Whether a location of the code that a verdict rules out may be switched off for good (sys.monitoring's
    /// DISABLE): a function's code (module-level, class-body or `exec`'d code can run again with other globals), not
    /// known to run with the globals of several modules.
    pub fn may_switch_off(&self, py: Python<'_>) -> bool {
        self.is_function && !self.shared.get(py)
    }

    /// Module name, filename and stdlib flag for this code running with `globals`.
    pub fn module_facts(&self, py: Python<'_>, globals: &Bound<'_, PyDict>) -> PyResult<GilRc<ModuleFacts>> {
        let cached = self.module_facts.clone_shared(py);
        if let Some(facts) = &cached {
            if facts.globals.is(globals) {
                return Ok(facts.clone_ref(py));
            }
        }
        let name = global_value(globals.as_any(), pyo3::intern!(py, "__name__"))?;
        let co_filename = self.co_filename.bind(py);
        let file = if co_filename.is_truthy()? {
            None
        } else {
            global_value(globals.as_any(), pyo3::intern!(py, "__file__"))?
        };
        let (name, file) = (name.map(Bound::unbind), file.map(Bound::unbind));
        let facts = match cached.filter(|facts| facts.computed_from(name.as_ref(), file.as_ref())) {
            // Other globals (or these, changed) with the same names: the same facts.
            Some(facts) => facts.for_globals(py, globals),
            None => {
                let module = module_name_of(py, name.as_ref().map(|name| name.bind(py)));
                let filename =
                    normalize_filename_with(py, co_filename, || Ok(file.as_ref().map(|file| file.bind(py).clone())))?;
                let stdlib = is_stdlib(py, module.bind(py), filename.bind(py))?;
                ModuleFacts { globals: DictIdentity::of(globals), name, file, module, filename, stdlib }
            }
        };
        let facts = GilRc::new(facts);
        let replaced = self.module_facts.replace(py, Some(facts.clone_ref(py)));
        drop(replaced);
        Ok(facts)
    }

    /// The parameters of `code` in signature order: positional, `*args`, keyword-only, `**kwargs`.
    pub fn arguments(&self, code: &Bound<'_, PyAny>) -> PyResult<&[Argument]> {
        if let Some(arguments) = self.arguments.get() {
            return Ok(arguments);
        }
        let _ = self.arguments.set(signature(code)?);
        Ok(self.arguments.get().expect("set above"))
    }

    /// Whether settrace reports the StopIteration of the END_FOR at `offset` of `code` (see
    /// `compat::settrace_reported_end_fors`; no when that cannot be found).
    pub fn settrace_reports_end_for(&self, py: Python<'_>, code: &Bound<'_, PyAny>, offset: c_int) -> bool {
        let reported = match self.settrace_reported_end_fors.get(py) {
            Some(reported) => reported,
            None => {
                let found = compat::settrace_reported_end_fors(code).unwrap_or_default();
                self.settrace_reported_end_fors.set(py, found.into_boxed_slice())
            }
        };
        reported.binary_search(&offset).is_ok()
    }

    pub fn co_code<'py>(&self, py: Python<'py>, code: &Bound<'py, PyAny>) -> PyResult<&Bound<'py, PyAny>> {
        if self.co_code.get().is_none() {
            let bytes = code.getattr(pyo3::intern!(py, "co_code"))?.unbind();
            let _ = self.co_code.set(bytes);
        }
        Ok(self.co_code.get().expect("set above").bind(py))
    }
}

/// The parameters of `code` in signature order: positional, `*args`, keyword-only, `**kwargs`, each with
/// its index in `co_varnames`.
pub fn signature(code: &Bound<'_, PyAny>) -> PyResult<Vec<Argument>> {
    let py = code.py();
    let names = code.getattr(pyo3::intern!(py, "co_varnames"))?.cast_into::<PyTuple>()?;
    let positional: usize = code.getattr(pyo3::intern!(py, "co_argcount"))?.extract()?;
    let keyword_only: usize = code.getattr(pyo3::intern!(py, "co_kwonlyargcount"))?.extract()?;
    let flags: u32 = code.getattr(pyo3::intern!(py, "co_flags"))?.extract()?;
    let cells = code.getattr(pyo3::intern!(py, "co_cellvars"))?;
    let argument = |prefix: &'static str, slot: usize| -> PyResult<Argument> {
        let name = names.get_item(slot)?.cast_into::<PyString>()?;
        Ok(Argument { prefix, is_cell: cells.contains(&name)?, name: name.unbind(), slot })
    };
    let mut arguments = Vec::new();
    for slot in 0..positional {
        arguments.push(argument("", slot)?);
    }
    // Locals are laid out as: positional, keyword-only, *args, **kwargs.
    let mut next_slot = positional + keyword_only;
    if flags & CO_VARARGS != 0 {
        arguments.push(argument("*", next_slot)?);
        next_slot += 1;
    }
    for slot in positional..positional + keyword_only {
        arguments.push(argument("", slot)?);
    }
    if flags & CO_VARKEYWORDS != 0 {
        arguments.push(argument("**", next_slot)?);
    }
    Ok(arguments)
}

/// `f_globals.get('__name__', '')`, with None shown as '?' (hunter's rule).
pub fn module_name(py: Python<'_>, globals: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
    let name = match globals {
        Some(globals) => global_value(globals, pyo3::intern!(py, "__name__"))?,
        None => None,
    };
    Ok(module_name_of(py, name.as_ref()))
}

/// The module name of globals whose `__name__` is `name` (None when missing).
fn module_name_of(py: Python<'_>, name: Option<&Bound<'_, PyAny>>) -> Py<PyAny> {
    match name {
        None => PyString::new(py, "").into_any().unbind(),
        Some(name) if name.is_none() => pyo3::intern!(py, "?").clone().into_any().unbind(),
        Some(name) => name.clone().unbind(),
    }
}

/// `globals.get(key)`: a dict's item, or what a stand-in frame's globals mapping gives (None when missing).
fn global_value<'py>(globals: &Bound<'py, PyAny>, key: &Bound<'py, PyString>) -> PyResult<Option<Bound<'py, PyAny>>> {
    match globals.cast::<PyDict>() {
        Ok(dict) => dict.get_item(key),
        Err(_) => {
            let missing = PyString::new(globals.py(), "");
            let value = globals.call_method1(pyo3::intern!(globals.py(), "get"), (key, &missing))?;
            Ok((!value.is(&missing)).then_some(value))
        }
    }
}

/// hunter's filename rules: co_filename, else `__file__`, else '?'; `.pyc`/`.pyo` -> `.py`;
/// a compiled extension (`.so`/`.pyd`) maps to a sibling `.pyx` or `.py` source when one exists.
pub fn normalize_filename(
    py: Python<'_>,
    co_filename: &Bound<'_, PyAny>,
    globals: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    normalize_filename_with(py, co_filename, || match globals {
        Some(globals) => global_value(globals, pyo3::intern!(py, "__file__")),
        None => Ok(None),
    })
}

/// [`normalize_filename`] with the globals' `__file__` (None when missing) given by `file`, asked for only when
/// `co_filename` is empty.
fn normalize_filename_with<'py>(
    py: Python<'py>,
    co_filename: &Bound<'py, PyAny>,
    file: impl FnOnce() -> PyResult<Option<Bound<'py, PyAny>>>,
) -> PyResult<Py<PyAny>> {
    let mut filename = co_filename.clone();
    if !filename.is_truthy()? {
        filename = match file()? {
            Some(file) if file.is_truthy()? => file,
            _ => return Ok(pyo3::intern!(py, "?").clone().into_any().unbind()),
        };
    }
    let Some(text) = text_of(&filename) else {
        return Ok(filename.unbind());
    };
    if text.ends_with(".pyc") || text.ends_with(".pyo") {
        return Ok(PyString::new(py, &text[..text.len() - 1]).into_any().unbind());
    }
    if text.ends_with(".so") || text.ends_with(".pyd") {
        return Ok(python_helpers(py)?.call_method1(pyo3::intern!(py, "extension_source"), (filename,))?.unbind());
    }
    Ok(filename.unbind())
}

/// The text of a str (as `str()` gives it), borrowed from the object when it is an exact str; None for
/// anything else.
fn text_of<'a>(value: &'a Bound<'_, PyAny>) -> Option<Cow<'a, str>> {
    let text = value.cast::<PyString>().ok()?;
    Some(if value.is_exact_instance_of::<PyString>() { text.to_string_lossy() } else { Cow::Owned(text.to_string()) })
}

/// hunter's `Event.stdlib` rules, with the sys.prefix (#103) and frozen-module (#125) fixes:
/// only real stdlib directories and `<frozen ...>` modules count.
pub fn is_stdlib(py: Python<'_>, module: &Bound<'_, PyAny>, filename: &Bound<'_, PyAny>) -> PyResult<bool> {
    let paths = stdlib_paths(py)?;
    let module = text_of(module).unwrap_or_default();
    if module.contains("pkg_resources") && module.split('.').any(|part| part == "pkg_resources") {
        return Ok(true);
    }
    let Ok(filename) = filename.cast::<PyString>() else {
        return Ok(false);
    };
    let filename = surrogatepass_bytes(filename)?;
    if *filename == *b"<string>" && (module.starts_with("namedtuple_") || module == "site") {
        return Ok(true);
    }
    if paths.site_packages.iter().any(|p| filename.starts_with(p)) {
        return Ok(false);
    }
    Ok(filename.starts_with(b"<frozen ") || paths.stdlib.iter().any(|p| filename.starts_with(p)))
}

/// The UTF-8 bytes of `text`, a lone surrogate (what `os.fsdecode` makes of a file name's undecodable bytes) encoded
/// as itself (`surrogatepass`): prefix tests on them agree with `str.startswith`.
pub fn surrogatepass_bytes<'a>(text: &'a Bound<'_, PyString>) -> PyResult<Cow<'a, [u8]>> {
    if let Ok(text) = text.to_str() {
        return Ok(Cow::Borrowed(text.as_bytes()));
    }
    let encoded = text.call_method1(pyo3::intern!(text.py(), "encode"), ("utf-8", "surrogatepass"))?;
    Ok(Cow::Owned(encoded.cast::<pyo3::types::PyBytes>()?.as_bytes().to_vec()))
}

/// `hunter.const`'s path prefixes, as [`surrogatepass_bytes`].
struct StdlibPaths {
    site_packages: Vec<Vec<u8>>,
    stdlib: Vec<Vec<u8>>,
}

fn stdlib_paths(py: Python<'_>) -> PyResult<&'static StdlibPaths> {
    static PATHS: MadeOnce<StdlibPaths> = MadeOnce::new();
    PATHS.get_or_try_init(py, || {
        let constants = crate::compat::import(py, "hunter.const")?;
        let strings = |name: &str| -> PyResult<Vec<Vec<u8>>> {
            let paths = constants.getattr(name)?.cast_into::<PyTuple>()?;
            paths.iter().map(|path| Ok(surrogatepass_bytes(path.cast::<PyString>()?)?.into_owned())).collect()
        };
        Ok(StdlibPaths { site_packages: strings("SITE_PACKAGES_PATHS")?, stdlib: strings("STDLIB_PATHS")? })
    })
}

/// Imports the Python modules that events use (`hunter.const`'s paths, `hunter._event_helpers`), before tracing starts.
pub fn import_event_modules(py: Python<'_>) -> PyResult<()> {
    stdlib_paths(py)?;
    python_helpers(py)?;
    Ok(())
}

/// `hunter._event_helpers`: cold-path helpers kept in Python (tokenize-based fullsource, linecache, function lookup).
pub fn python_helpers(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    static HELPERS: MadeOnce<Py<PyModule>> = MadeOnce::new();
    Ok(HELPERS.get_or_try_init(py, || crate::compat::import(py, "hunter._event_helpers").map(Bound::unbind))?.bind(py))
}

#[cfg(all(test, Py_3_11))]
mod tests {
    use super::*;

    /// Every instruction's line from the decoded table is the one CPython's own lookup gives.
    #[test]
    fn lines_by_offset_agree_with_cpython() {
        Python::attach(|py| {
            let globals = pyo3::types::PyDict::new(py);
            let source = c"import json.encoder, textwrap\ndef gen(n):\n    for i in range(n):\n        if i % 2:\n            yield [j\n                   for j in range(i)]\n        else:\n            try:\n                yield {i: i}\n            except ValueError:\n                pass\ncodes = [gen.__code__, json.encoder._make_iterencode.__code__, textwrap.TextWrapper._wrap_chunks.__code__]\n";
            py.run(source, Some(&globals), None).unwrap();
            for code in globals.get_item("codes").unwrap().unwrap().try_iter().unwrap() {
                let code = code.unwrap().cast_into::<PyCode>().unwrap();
                // SAFETY: `code` is held for the whole loop.
                let info = unsafe { CodeInfo::of_code(py, code.as_borrowed()) }.unwrap();
                let size: c_int = code.getattr("co_code").unwrap().len().unwrap().try_into().unwrap();
                for offset in (0..size).step_by(2) {
                    let expected = compat::code_line(code.as_borrowed(), offset);
                    assert_eq!(info.line_at(py, code.as_borrowed(), offset), expected, "{code} at offset {offset}");
                }
            }
        });
    }
}
