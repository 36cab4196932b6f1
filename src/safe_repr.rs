//! `hunter.util.safe_repr`: a repr that only trusts exact builtin types.
//!
//! The rules follow hunter 3.9.0 exactly (dispatch on `type(obj)` identity, never `isinstance`, so a
//! subclass cannot run code through `__class__`, `__instancecheck__` or an overridden `__repr__`).
//!
//! On top of hunter this module offers a *bounded* mode, [`safe_repr_clipped_into`], for the actions'
//! `repr_limit`: hunter renders the whole text and then keeps `s[:limit//2] + ' [...] ' + s[-limit//2:]`,
//! which costs O(size) for a huge container. Here the text is rendered twice with a character budget:
//! once front to back just past the characters the head keeps, and, when there were more, once back to
//! front (lists and tuples read by index, small dicts from their storage, other containers iterated with
//! `reversed()`) until the tail is long enough. Where the two passes stopped usually tells whether the text
//! is longer than the limit (see [`clip_long_text`]). The passes stop early, so the cost is O(limit) instead of
//! O(size), and the result equals hunter's truncated text, except:
//! - `set`/`frozenset` cannot be iterated backwards: their tail pass walks the whole set, but renders only
//!   the few last items it needs (kept in a small ring buffer);
//! - an error that hunter would hit only while rendering the skipped middle part (e.g. an `int` too big
//!   for `str()`) is never seen, so the clipped text is returned where hunter reports a failed repr;
//! - a single leaf is still rendered whole by its own `repr()`, except the common exact builtins
//!   (`None`, `bool`, `int`, `float`, `str`, `bytes`, `bytearray`), which [`crate::leaf_repr`] renders in
//!   Rust, a str, bytes or bytearray only as far as the sink needs it from either end (plus one scan of the
//!   whole text for the quotes, which decide the quote character).
//!
//! Speed: the printers render big arguments at every event, so the renderer is generic over its sink (no
//! dynamic dispatch), sinks take the pieces known to be ASCII without newlines (punctuation, native leaf
//! reprs) on an inlined path that neither escapes nor counts characters, and exact lists, tuples and dicts
//! are read through the C API instead of Python iterators.
//!
//! Where hunter itself would run user code through `repr()`, this module declines and falls back to
//! `object.__repr__` (see [`repr_runs_only_library_code`]). This only changes the output for classes that
//! claim to live in a trusted module (e.g. `__module__ = 'builtins'`) while defining their own `__repr__`,
//! and for builtin wrappers (dict views, `mappingproxy`, `slice`, `staticmethod`, `classmethod`) that hold
//! anything but plain data.
//!
//! Python strings with lone surrogates (only possible in type names or trusted reprs) are rendered with
//! U+FFFD, because the text is assembled as Rust UTF-8.

use std::borrow::Cow;
use std::collections::VecDeque;

use pyo3::exceptions::{PyAttributeError, PyRecursionError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyFrozenSet, PyIterator, PyList, PySet, PyString, PyTuple, PyType};
use pyo3::{ffi, intern};

use crate::gilcell::{cache_slot, GilRc, GilRefCell};
use crate::leaf_repr::{copy_short, leaf, Leaf, QuoteChoices, QuotedRepr, SHORT};

/// hunter's default `maxdepth`; also the depth it uses for the parts of a datetime and a pattern.
pub const DEFAULT_MAXDEPTH: i64 = 5;

/// Modules whose classes hunter trusts to have a side-effect free `repr()`.
const TRUSTED_MODULES: [&str; 6] = ["builtins", "io", "socket", "_socket", "zoneinfo", "decimal"];

/// A negative `maxdepth` never counts down to 0, so recursive structures would recurse forever (hunter
/// raises `RecursionError`). Bounding the nesting keeps the Rust stack safe on small thread stacks.
const MAX_NESTING: usize = 100;

/// How deep [`is_plain_data`] looks inside builtin wrappers before giving up (and distrusting them).
const MAX_PLAIN_DATA_NESTING: usize = 16;

/// Python `safe_repr(obj, maxdepth=5)`, a drop-in for `hunter.util.safe_repr`.
#[pyfunction]
#[pyo3(signature = (obj, maxdepth = DEFAULT_MAXDEPTH))]
pub fn safe_repr(obj: &Bound<'_, PyAny>, maxdepth: i64) -> PyResult<String> {
    let mut sink = Unbounded::default();
    let outcome = Renderer::new(obj.py(), &mut sink, &mut QuoteChoices::default())?.render(obj, maxdepth);
    outcome.map_err(Halt::into_py_err)?;
    Ok(sink.text)
}

/// Bounded `safe_repr`, appended to `out`: equals hunter's `try_repr` truncation of
/// `safe_repr(obj, maxdepth)` (with `.replace('\n', r'\n')` applied first when `escape_newlines` is set),
/// at O(limit) cost: the whole text when it fits in `limit` characters, else hunter's head, `marker` (in
/// place of the elided middle) and tail. See the module docs for the few cases where it differs.
/// On error `out` is left as it was.
pub fn safe_repr_clipped_into(
    obj: &Bound<'_, PyAny>,
    maxdepth: i64,
    limit: usize,
    escape_newlines: bool,
    marker: &str,
    out: &mut String,
) -> PyResult<()> {
    let start = out.len();
    // Most texts fit: this first pass is all they cost. See `clip_long_text` for where it stops.
    let mut head = Head::new(out, head_pass_chars(limit), escape_newlines);
    let mut quote_choices = QuoteChoices::default();
    let outcome = Renderer::new(obj.py(), &mut head, &mut quote_choices)?.render(obj, maxdepth);
    let result = match outcome {
        Ok(()) => return Ok(()),
        Err(Halt::Failed(err)) => Err(*err),
        Err(Halt::Full) => {
            let head_end = std::mem::take(&mut head.halt_path);
            let request = ClipRequest { maxdepth, limit, escape_newlines, marker };
            clip_long_text(obj, &request, out, start, head_end, &mut quote_choices)
        }
    };
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// How many characters the first head pass renders before it stops: `limit - limit / 2`, or `limit` when no
/// tail is kept (`limit` 0 or 1) to tell whether the text is longer. See [`clip_long_text`].
fn head_pass_chars(limit: usize) -> usize {
    match limit / 2 {
        0 => limit,
        kept => limit - kept,
    }
}

/// The arguments of [`safe_repr_clipped_into`] that say how to render and clip.
struct ClipRequest<'a> {
    maxdepth: i64,
    limit: usize,
    escape_newlines: bool,
    marker: &'a str,
}

/// Finishes [`safe_repr_clipped_into`] after the first head pass stopped at `head_end`, having appended the
/// first `head_pass_chars(limit) + 1` characters to `out` (from `start`).
///
/// Whether the text has more than `limit` characters is mostly known without rendering `limit + 1` of
/// them from the front: the tail pass stops at the first of the last `limit / 2` characters, and when the
/// piece it stops in is a later item (or part) of some container than the piece the head pass stopped in
/// (see [`HaltPath`]), the tail starts after the head's last character, so the text has more than
/// `limit - limit / 2 + limit / 2` characters. Only otherwise (both stop in the same leaf, or the text is
/// not much longer than the limit) does the head pass run again, to `limit + 1` characters. This saves a
/// third of the rendering of every clipped argument.
#[inline(never)]
fn clip_long_text(
    obj: &Bound<'_, PyAny>,
    request: &ClipRequest<'_>,
    out: &mut String,
    start: usize,
    head_end: HaltPath,
    quote_choices: &mut QuoteChoices,
) -> PyResult<()> {
    let ClipRequest { maxdepth, limit, escape_newlines, marker } = *request;
    let py = obj.py();
    let kept = limit / 2;
    // hunter keeps `s[-(limit // 2):]`; when `limit // 2` is 0 that is `s[0:]`, the whole text.
    let mut tail = Tail::new(if kept == 0 { usize::MAX } else { kept }, escape_newlines);
    if let Err(Halt::Failed(err)) = Renderer::new(py, &mut tail, quote_choices)?.render(obj, maxdepth) {
        return Err(*err);
    }
    // Without a kept tail (`kept` 0) the first head pass already went to `limit + 1` characters.
    if kept > 0 && !HaltPath::comes_after(&tail.halt_path, &head_end) {
        out.truncate(start);
        let mut head = Head::new(out, limit, escape_newlines);
        match Renderer::new(py, &mut head, quote_choices)?.render(obj, maxdepth) {
            Ok(()) => return Ok(()),
            Err(Halt::Failed(err)) => return Err(*err),
            Err(Halt::Full) => {}
        }
    }
    out.truncate(start + byte_offset_of_char(&out[start..], kept));
    out.push_str(marker);
    out.push_str(tail.text());
    Ok(())
}

/// Where the `chars`-th character of `text` starts (`text.len()` when it has fewer).
fn byte_offset_of_char(text: &str, chars: usize) -> usize {
    if text.is_ascii() {
        chars.min(text.len())
    } else {
        text.char_indices().nth(chars).map_or(text.len(), |(index, _)| index)
    }
}

/// Why rendering stopped before the end.
enum Halt {
    /// The sink has all the text it needs.
    Full,
    /// Boxed: every rendering step returns a `Result<(), Halt>`, which then fits in two registers.
    Failed(Box<PyErr>),
}

impl From<PyErr> for Halt {
    fn from(err: PyErr) -> Self {
        Halt::Failed(Box::new(err))
    }
}

impl Halt {
    /// For sinks that never fill up.
    fn into_py_err(self) -> PyErr {
        match self {
            Halt::Failed(err) => *err,
            Halt::Full => unreachable!("an unbounded sink never reports Full"),
        }
    }
}

/// Receives the rendered text piece by piece, front to back, or back to front when `BACKWARD`.
trait Sink {
    const BACKWARD: bool;
    /// Any piece of text.
    fn put(&mut self, piece: &str) -> Result<(), Halt>;
    /// A piece that is ASCII without newlines (punctuation, natively rendered leaves): it needs neither
    /// escaping nor character counting, which is most of the cost of [`Sink::put`] for short pieces.
    fn put_plain(&mut self, piece: &str) -> Result<(), Halt>;
    /// How many more characters the sink wants (`usize::MAX` for "all of them").
    fn wanted(&self) -> usize;
    /// Notes, as a `Full` halt from this sink leaves a container or composite, the position of the piece it
    /// stopped in there (None when unknown): builds the sink's [`HaltPath`].
    fn note_halt(&mut self, position: Option<u64>);
}

/// hunter's actions escape newlines after `repr()`; a per-piece replace gives the same text.
fn escaped(piece: &str, escape_newlines: bool) -> Cow<'_, str> {
    if escape_newlines && piece.as_bytes().contains(&b'\n') {
        Cow::Owned(piece.replace('\n', "\\n"))
    } else {
        Cow::Borrowed(piece)
    }
}

#[derive(Default)]
struct Unbounded {
    text: String,
}

impl Sink for Unbounded {
    const BACKWARD: bool = false;
    fn put(&mut self, piece: &str) -> Result<(), Halt> {
        self.text.push_str(piece);
        Ok(())
    }
    fn put_plain(&mut self, piece: &str) -> Result<(), Halt> {
        self.put(piece)
    }
    fn wanted(&self) -> usize {
        usize::MAX
    }
    fn note_halt(&mut self, _: Option<u64>) {
        unreachable!("an unbounded sink never reports Full")
    }
}

/// Appends the text, front to back, to a buffer until it is longer than `limit` characters.
struct Head<'a> {
    text: &'a mut String,
    /// How many more characters fit before the text is longer than `limit`.
    room: usize,
    escape_newlines: bool,
    halt_path: HaltPath,
}

impl<'a> Head<'a> {
    fn new(text: &'a mut String, limit: usize, escape_newlines: bool) -> Self {
        Head { text, room: limit.saturating_add(1), escape_newlines, halt_path: HaltPath::default() }
    }
}

impl Sink for Head<'_> {
    const BACKWARD: bool = false;
    fn put(&mut self, piece: &str) -> Result<(), Halt> {
        let piece = escaped(piece, self.escape_newlines);
        if piece.is_ascii() {
            return self.put_plain(&piece);
        }
        let piece_chars = piece.chars().count();
        if piece_chars < self.room {
            self.text.push_str(&piece);
            self.room -= piece_chars;
            Ok(())
        } else {
            self.text.extend(piece.chars().take(self.room));
            self.room = 0;
            Err(Halt::Full)
        }
    }
    /// Inlined: most pieces are a few bytes long, and take the short path (no call, not even to `memcpy`).
    #[inline(always)]
    fn put_plain(&mut self, piece: &str) -> Result<(), Halt> {
        // SAFETY: the bytes are only appended to below, with a whole `&str`, so the `String` stays UTF-8.
        let bytes = unsafe { self.text.as_mut_vec() };
        if piece.len() <= SHORT && piece.len() < self.room && bytes.capacity() - bytes.len() >= SHORT {
            // SAFETY: there is room for the piece, which is ASCII.
            unsafe {
                copy_short(piece.as_bytes(), bytes.as_mut_ptr().add(bytes.len()));
                bytes.set_len(bytes.len() + piece.len());
            }
            self.room -= piece.len();
            Ok(())
        } else {
            self.put_plain_slowly(piece)
        }
    }
    fn wanted(&self) -> usize {
        self.room
    }
    fn note_halt(&mut self, position: Option<u64>) {
        self.halt_path.note(position);
    }
}

impl Head<'_> {
    #[inline(never)]
    fn put_plain_slowly(&mut self, piece: &str) -> Result<(), Halt> {
        if piece.len() < self.room {
            self.text.reserve(piece.len().max(SHORT));
            self.text.push_str(piece);
            self.room -= piece.len();
            Ok(())
        } else {
            self.text.push_str(&piece[..self.room]);
            self.room = 0;
            Err(Halt::Full)
        }
    }
}

/// Collects the last `wanted` characters from pieces that arrive back to front, in a buffer that is
/// filled from its end towards its start.
struct Tail {
    buffer: Vec<u8>,
    /// Where the text collected so far starts in `buffer`.
    start: usize,
    chars: usize,
    wanted: usize,
    escape_newlines: bool,
    halt_path: HaltPath,
}

impl Tail {
    fn new(wanted: usize, escape_newlines: bool) -> Self {
        // Sized for the usual case, ASCII pieces adding up to `wanted` characters.
        let capacity = wanted.saturating_add(16).min(4096);
        Tail {
            buffer: vec![0; capacity],
            start: capacity,
            chars: 0,
            wanted,
            escape_newlines,
            halt_path: HaltPath::default(),
        }
    }

    /// The collected text, in reading order.
    fn text(&self) -> &str {
        // SAFETY: the buffer holds whole `&str`s, or their ends cut at a character boundary.
        unsafe { std::str::from_utf8_unchecked(&self.buffer[self.start..]) }
    }

    fn prepend(&mut self, bytes: &[u8]) {
        if bytes.len() > self.start {
            let used = self.buffer.len() - self.start;
            let size = (self.buffer.len() * 2).max(used + bytes.len());
            let mut grown = vec![0; size];
            grown[size - used..].copy_from_slice(&self.buffer[self.start..]);
            self.buffer = grown;
            self.start = size - used;
        }
        self.start -= bytes.len();
        self.buffer[self.start..self.start + bytes.len()].copy_from_slice(bytes);
    }
}

impl Sink for Tail {
    const BACKWARD: bool = true;
    fn put(&mut self, piece: &str) -> Result<(), Halt> {
        let piece = escaped(piece, self.escape_newlines);
        if piece.is_ascii() {
            return self.put_plain(&piece);
        }
        let room = self.wanted();
        let piece_chars = piece.chars().count();
        if piece_chars < room {
            self.prepend(piece.as_bytes());
            self.chars += piece_chars;
            Ok(())
        } else {
            let cut = piece.char_indices().nth(piece_chars - room).map_or(0, |(index, _)| index);
            self.prepend(&piece.as_bytes()[cut..]);
            self.chars += room;
            Err(Halt::Full)
        }
    }
    /// Inlined, like [`Head::put_plain`].
    #[inline(always)]
    fn put_plain(&mut self, piece: &str) -> Result<(), Halt> {
        let room = self.wanted();
        if piece.len() <= SHORT && piece.len() < room && piece.len() <= self.start {
            self.start -= piece.len();
            // SAFETY: `start` was at least `piece.len()`, so the piece fits in the buffer.
            unsafe { copy_short(piece.as_bytes(), self.buffer.as_mut_ptr().add(self.start)) };
            self.chars += piece.len();
            Ok(())
        } else {
            self.put_plain_slowly(piece)
        }
    }
    fn wanted(&self) -> usize {
        self.wanted - self.chars
    }
    fn note_halt(&mut self, position: Option<u64>) {
        self.halt_path.note(position);
    }
}

impl Tail {
    #[inline(never)]
    fn put_plain_slowly(&mut self, piece: &str) -> Result<(), Halt> {
        // Cut at a byte offset below: sound only for ASCII pieces, which is what `put_plain` takes.
        debug_assert!(piece.is_ascii(), "put_plain takes ASCII pieces");
        let room = self.wanted();
        if piece.len() < room {
            self.prepend(piece.as_bytes());
            self.chars += piece.len();
            Ok(())
        } else {
            self.prepend(&piece.as_bytes()[piece.len() - room..]);
            self.chars += room;
            Err(Halt::Full)
        }
    }
}

/// The classes and callables safe_repr compares against, fetched once.
struct Known {
    deque: Py<PyType>,
    counter: Py<PyType>,
    ordered_dict: Py<PyType>,
    default_dict: Py<PyType>,
    pattern: Py<PyType>,
    date: Py<PyType>,
    time: Py<PyType>,
    datetime: Py<PyType>,
    timedelta: Py<PyType>,
    bound_method: Py<PyType>,
    regex_flag: Py<PyAny>,
    reversed: Py<PyAny>,
    object_repr: Py<PyAny>,
    dict_items: Py<PyAny>,
    ordered_dict_items: Py<PyAny>,
    gc_get_referents: Py<PyAny>,
    wrapper_descriptor: Py<PyType>,
    /// Builtins whose repr shows only their own state, never another object's repr.
    plain_leaves: Vec<Py<PyType>>,
    dict_views: Vec<Py<PyType>>,
    mappingproxy: Py<PyType>,
    slice: Py<PyType>,
    /// `staticmethod` and `classmethod`: their repr shows the wrapped callable's repr (3.10+).
    callable_wrappers: Vec<Py<PyType>>,
}

impl Known {
    fn get(py: Python<'_>) -> PyResult<&'static Known> {
        static KNOWN: PyOnceLock<Known> = PyOnceLock::new();
        KNOWN.get_or_try_init(py, || Known::fetch(py))
    }

    fn fetch(py: Python<'_>) -> PyResult<Known> {
        let collections = crate::compat::import(py, "collections")?;
        let datetime = crate::compat::import(py, "datetime")?;
        let builtins = crate::compat::import(py, "builtins")?;
        // Many builtin types have no public name; the type of a sample value is the simplest handle.
        let class_of = |expr: &str| -> PyResult<Py<PyType>> {
            let value = builtins.getattr("eval")?.call1((expr, PyDict::new(py)))?;
            Ok(value.get_type().unbind())
        };
        let attr_type = |module: &Bound<'_, PyModule>, name: &str| -> PyResult<Py<PyType>> {
            Ok(module.getattr(name)?.cast_into::<PyType>()?.unbind())
        };
        let builtin_type = |name: &str| attr_type(&builtins, name);
        // NoneType, bool, int, float, complex, str, bytes, bytearray, ellipsis, NotImplementedType, range,
        // function, builtin_function_or_method, method_descriptor, wrapper_descriptor, getset_descriptor,
        // member_descriptor, classmethod_descriptor, property and type (a class whose metaclass is `type`).
        let plain_leaves = [
            "None",
            "True",
            "0",
            "0.0",
            "0j",
            "''",
            "b''",
            "bytearray()",
            "...",
            "NotImplemented",
            "range(0)",
            "lambda: None",
            "len",
            "str.join",
            "object.__init__",
            "type.__dict__['__dict__']",
            "type.__dict__['__basicsize__']",
            "dict.__dict__['fromkeys']",
            "property()",
            "int",
        ]
        .iter()
        .map(|expr| class_of(expr))
        .collect::<PyResult<_>>()?;
        let dict_views = [
            "{}.keys()",
            "{}.values()",
            "{}.items()",
            "__import__('collections').OrderedDict().keys()",
            "__import__('collections').OrderedDict().values()",
            "__import__('collections').OrderedDict().items()",
        ]
        .iter()
        .map(|expr| class_of(expr))
        .collect::<PyResult<_>>()?;
        Ok(Known {
            deque: attr_type(&collections, "deque")?,
            counter: attr_type(&collections, "Counter")?,
            ordered_dict: attr_type(&collections, "OrderedDict")?,
            default_dict: attr_type(&collections, "defaultdict")?,
            pattern: attr_type(&crate::compat::import(py, "re")?, "Pattern")?,
            date: attr_type(&datetime, "date")?,
            time: attr_type(&datetime, "time")?,
            datetime: attr_type(&datetime, "datetime")?,
            timedelta: attr_type(&datetime, "timedelta")?,
            bound_method: attr_type(&crate::compat::import(py, "types")?, "MethodType")?,
            regex_flag: crate::compat::import(py, "re")?.getattr("RegexFlag")?.unbind(),
            reversed: builtins.getattr("reversed")?.unbind(),
            object_repr: builtins.getattr("object")?.getattr("__repr__")?.unbind(),
            dict_items: builtins.getattr("dict")?.getattr("items")?.unbind(),
            ordered_dict_items: collections.getattr("OrderedDict")?.getattr("items")?.unbind(),
            gc_get_referents: crate::compat::import(py, "gc")?.getattr("get_referents")?.unbind(),
            wrapper_descriptor: class_of("object.__repr__")?,
            plain_leaves,
            dict_views,
            mappingproxy: class_of("type.__dict__")?,
            slice: builtin_type("slice")?,
            callable_wrappers: vec![builtin_type("staticmethod")?, builtin_type("classmethod")?],
        })
    }
}

fn is_type(ty: &Bound<'_, PyType>, known: &Py<PyType>) -> bool {
    ty.as_ptr() == known.as_ptr()
}

fn is_any_type(ty: &Bound<'_, PyType>, known: &[Py<PyType>]) -> bool {
    known.iter().any(|candidate| is_type(ty, candidate))
}

fn is_ffi_type(ty: &Bound<'_, PyType>, known: *mut ffi::PyTypeObject) -> bool {
    ty.as_type_ptr() == known
}

/// Whether `type(ty) is type`, i.e. the class has no metaclass that could run code.
fn has_plain_metaclass(ty: &Bound<'_, PyType>) -> bool {
    is_ffi_type(&ty.get_type(), &raw mut ffi::PyType_Type)
}

fn is_exception_class(ty: &Bound<'_, PyType>) -> bool {
    // SAFETY: both are live type objects (`ty` from a `Bound<PyType>`, BaseException a static type); PyType_IsSubtype
    // reads their MROs and runs no code.
    unsafe { ffi::PyType_IsSubtype(ty.as_type_ptr(), ffi::PyExc_BaseException.cast()) != 0 }
}

/// An exception's `args` as hunter reads them, but without running user code: a class can override `args` with
/// a property (not run: the arguments the exception stores are shown instead), or with a `__slots__` entry, whose
/// member descriptor is read as `getattr` would (C code: an unset slot is an AttributeError, as in hunter).
fn exception_args<'py>(exception: &Bound<'py, PyAny>, ty: &Bound<'py, PyType>) -> PyResult<Bound<'py, PyAny>> {
    let py = exception.py();
    if let Some(descriptor) = crate::compat::type_lookup(ty, intern!(py, "args")) {
        if descriptor.get_type().as_type_ptr() == &raw mut ffi::PyMemberDescr_Type {
            return descriptor.call_method1(intern!(py, "__get__"), (exception, ty));
        }
    }
    Ok(stored_exception_args(exception))
}

/// The arguments an exception stores (what `BaseException.args` returns), read from the object itself.
fn stored_exception_args<'py>(exception: &Bound<'py, PyAny>) -> Bound<'py, PyAny> {
    let py = exception.py();
    // SAFETY: `exception` is an instance of a BaseException subclass (the caller checked its type), whose
    // object starts with `PyBaseExceptionObject`; its `args` is NULL or a strong reference the object holds.
    let args = unsafe { (*exception.as_ptr().cast::<ffi::PyBaseExceptionObject>()).args };
    // SAFETY: a borrowed pointer from the live exception, turned into a new strong reference at once.
    unsafe { Bound::from_borrowed_ptr_or_opt(py, args) }
        .filter(|args| args.is_instance_of::<pyo3::types::PyTuple>())
        .unwrap_or_else(|| pyo3::types::PyTuple::empty(py).into_any())
}

fn is_heap_type(ty: &Bound<'_, PyType>) -> bool {
    // SAFETY: a live type object (from a `Bound<PyType>`); PyType_GetFlags only reads `tp_flags`.
    unsafe { ffi::PyType_GetFlags(ty.as_type_ptr()) & ffi::Py_TPFLAGS_HEAPTYPE != 0 }
}

/// Which items a container yields, and how each item renders.
#[derive(Clone, Copy)]
enum Layout {
    /// Items rendered at `depth - 1`; a tuple adds a trailing comma when it has one item.
    Sequence { single_item_comma: bool },
    /// `(key, value)` items: the key keeps the container's depth, the value gets `depth - 1`.
    Mapping,
}

/// A piece of a composite rendering such as `datetime(...)` or `<bound method ...>`.
enum Part<'py> {
    Text(String),
    Nested(Bound<'py, PyAny>, i64),
}

struct Renderer<'a, 'py, S: Sink> {
    py: Python<'py>,
    known: &'static Known,
    sink: &'a mut S,
    /// Shared by the passes of one rendering.
    quote_choices: &'a mut QuoteChoices,
    nesting: usize,
}

/// Where a pass stopped because its sink was full: the position of the piece it stopped in within each
/// container or composite around that piece, innermost first (see [`Piece::position`]). Unknown when a
/// container's length could not be read.
#[derive(Default)]
struct HaltPath {
    positions: Vec<u64>,
    unknown: bool,
}

impl HaltPath {
    fn note(&mut self, position: Option<u64>) {
        match position {
            Some(position) => self.positions.push(position),
            None => self.unknown = true,
        }
    }

    /// Whether the piece at `later` certainly comes after the piece at `earlier` in the text: they are in
    /// different items (or parts) of one container, the one of `later` the later one.
    fn comes_after(later: &HaltPath, earlier: &HaltPath) -> bool {
        if later.unknown || earlier.unknown {
            return false;
        }
        let outermost_first = later.positions.iter().rev().zip(earlier.positions.iter().rev());
        for (later, earlier) in outermost_first {
            if later != earlier {
                return later > earlier;
            }
        }
        false
    }
}

/// A piece of a container's text, counted in the renderer's direction (`ordinal` items were rendered
/// before it).
#[derive(Clone, Copy)]
enum Piece {
    Opening,
    Separator { ordinal: usize },
    Item { ordinal: usize },
    Colon { ordinal: usize },
    Value { ordinal: usize },
    SingleItemComma,
    Closing,
}

impl Piece {
    /// The piece's position in its container's text, in text order: the opening 0, then for item `i` its
    /// separator `4i + 1`, the item (or key) `4i + 2`, `": "` `4i + 3` and the value `4i + 4`, then the comma
    /// of a single-item tuple and the closing. `index` is the item's index from the front (for a separator,
    /// the item after it; unused for the other pieces); None when it is unknown.
    fn position(self, index: Option<usize>) -> Option<u64> {
        let of_item = |offset: u64| index.map(|index| 4 * index as u64 + offset);
        match self {
            Piece::Opening => Some(0),
            Piece::Separator { .. } => of_item(1),
            Piece::Item { .. } => of_item(2),
            Piece::Colon { .. } => of_item(3),
            Piece::Value { .. } => of_item(4),
            Piece::SingleItemComma => Some(u64::MAX - 1),
            Piece::Closing => Some(u64::MAX),
        }
    }
}

impl<'a, 'py, S: Sink> Renderer<'a, 'py, S> {
    fn new(py: Python<'py>, sink: &'a mut S, quote_choices: &'a mut QuoteChoices) -> PyResult<Self> {
        Ok(Renderer { py, known: Known::get(py)?, sink, quote_choices, nesting: 0 })
    }

    /// Notes, as a `Full` halt passes through a container on its way out, which piece of the container it
    /// stopped in.
    #[cold]
    fn halted(&mut self, halt: Halt, container: &Bound<'py, PyAny>, piece: Piece) -> Halt {
        if !matches!(halt, Halt::Full) {
            return halt;
        }
        // Backward, `ordinal` items were rendered from the end; the length is unknown if it cannot be read (or
        // the container shrank meanwhile).
        let from_end = |count: usize| container.len().ok().and_then(|length| length.checked_sub(count));
        let index = match piece {
            Piece::Opening | Piece::SingleItemComma | Piece::Closing => None,
            Piece::Separator { ordinal }
            | Piece::Item { ordinal }
            | Piece::Colon { ordinal }
            | Piece::Value { ordinal }
                if !S::BACKWARD =>
            {
                Some(ordinal)
            }
            // Backward, a separator goes before the item rendered last.
            Piece::Separator { ordinal } => from_end(ordinal),
            Piece::Item { ordinal } | Piece::Colon { ordinal } | Piece::Value { ordinal } => from_end(ordinal + 1),
        };
        self.sink.note_halt(piece.position(index));
        halt
    }

    /// Notes which part of a composite a `Full` halt stopped in (`index` in text order).
    #[cold]
    fn halted_in_part(&mut self, halt: Halt, index: usize) -> Halt {
        if matches!(halt, Halt::Full) {
            self.sink.note_halt(Some(index as u64));
        }
        halt
    }

    fn put(&mut self, piece: &str) -> Result<(), Halt> {
        self.sink.put(piece)
    }

    #[inline(always)]
    fn put_plain(&mut self, piece: &str) -> Result<(), Halt> {
        self.sink.put_plain(piece)
    }

    /// Inlined into the container loops, which mostly render leaves.
    #[inline(always)]
    fn render(&mut self, obj: &Bound<'py, PyAny>, depth: i64) -> Result<(), Halt> {
        if depth == 0 {
            return self.put_plain("...");
        }
        if self.nesting >= MAX_NESTING {
            return Err(PyRecursionError::new_err(
                "maximum recursion depth exceeded while getting the repr of an object",
            )
            .into());
        }
        if let Some(leaf) = leaf(obj, self.quote_choices) {
            return self.put_leaf(leaf);
        }
        self.nesting += 1;
        let result = self.render_value(obj, depth);
        self.nesting -= 1;
        result
    }

    #[inline(never)]
    fn render_value(&mut self, obj: &Bound<'py, PyAny>, depth: i64) -> Result<(), Halt> {
        let known = self.known;
        let ty = obj.get_type();
        let sequence = Layout::Sequence { single_item_comma: false };
        if is_ffi_type(&ty, &raw mut ffi::PyDict_Type) {
            self.container(obj, depth, Layout::Mapping, "{", "}")
        } else if is_ffi_type(&ty, &raw mut ffi::PyList_Type) {
            self.container(obj, depth, sequence, "[", "]")
        } else if is_ffi_type(&ty, &raw mut ffi::PyTuple_Type) {
            let tuple = Layout::Sequence { single_item_comma: true };
            self.container(obj, depth, tuple, "(", ")")
        } else if is_ffi_type(&ty, &raw mut ffi::PySet_Type) {
            self.container(obj, depth, sequence, "{", "}")
        } else if is_ffi_type(&ty, &raw mut ffi::PyFrozenSet_Type) {
            self.container(obj, depth, sequence, "frozenset({", "})")
        } else if is_ffi_type(&ty, &raw mut ffi::PyType_Type) {
            match class_repr(obj.cast::<PyType>().map_err(PyErr::from)?) {
                Some(text) => self.put(&text),
                None => self.put_repr(obj),
            }
        } else if is_ffi_type(&ty, &raw mut ffi::PyFunction_Type) {
            match function_repr(obj)? {
                Some(text) => self.put(&text),
                None => self.put_repr(obj),
            }
        } else if is_type(&ty, &known.deque) {
            self.container(obj, depth, sequence, "deque([", "])")
        } else if is_type(&ty, &known.counter) {
            self.container(obj, depth, Layout::Mapping, "Counter({", "})")
        } else if is_type(&ty, &known.ordered_dict) {
            self.container(obj, depth, Layout::Mapping, "OrderedDict({", "})")
        } else if is_type(&ty, &known.default_dict) {
            self.container(obj, depth, Layout::Mapping, "defaultdict({", "})")
        } else if is_type(&ty, &known.pattern) {
            let parts = self.pattern_parts(obj)?;
            self.composite(parts)
        } else if is_type(&ty, &known.date) || is_type(&ty, &known.timedelta) {
            self.put_repr(obj)
        } else if is_type(&ty, &known.datetime) {
            let parts = clock_parts(obj, "datetime", &["year", "month", "day"])?;
            self.composite(parts)
        } else if is_type(&ty, &known.time) {
            let parts = clock_parts(obj, "time", &[])?;
            self.composite(parts)
        } else if is_type(&ty, &known.bound_method) {
            let parts = bound_method_parts(obj, depth)?;
            self.composite(parts)
        } else if has_plain_metaclass(&ty) && is_exception_class(&ty) {
            let args = exception_args(obj, &ty)?;
            let open = format!("{}(", ty.name()?.to_string_lossy());
            self.container(&args, depth, sequence, &open, ")")
        } else if has_plain_metaclass(&ty) {
            if let Some(head) = ObjectReprHeads::find(self.py, &ty) {
                return self.put_object_repr(obj, &head);
            }
            let module = if is_ffi_type(&ty, &raw mut ffi::PyBaseObject_Type) {
                None
            } else {
                Some(ty.getattr(intern!(self.py, "__module__"))?)
            };
            let trusted = module.as_ref().is_some_and(is_trusted_module);
            if trusted && repr_runs_only_library_code(obj, &ty, known)? {
                return self.put_repr(obj);
            }
            let head: GilRc<str> = object_repr_head(&ty, module.as_ref())?.into();
            // For a trusted module the choice of repr depends on the object; otherwise only on the class.
            if !trusted {
                ObjectReprHeads::remember(self.py, &ty, &head);
            }
            self.put_object_repr(obj, &head)
        } else if let Some(head) = ObjectReprHeads::of_any_class(self.py, &ty) {
            self.put_object_repr(obj, &head)
        } else {
            let text = known.object_repr.bind(self.py).call1((obj,))?;
            self.put_text(&text)
        }
    }

    /// `object.__repr__(obj)` given its head (see [`object_repr_head`]): `<head object at 0x...>`.
    fn put_object_repr(&mut self, obj: &Bound<'py, PyAny>, head: &str) -> Result<(), Halt> {
        let mut address = [0; 18];
        let address = hex_address(obj.as_ptr() as usize, &mut address);
        // The head holds names from Python; the rest is plain ASCII.
        let put_head = |renderer: &mut Self| {
            if head.is_ascii() && !head.contains('\n') {
                renderer.sink.put_plain(head)
            } else {
                renderer.put(head)
            }
        };
        if S::BACKWARD {
            [">", address, " object at "].iter().try_for_each(|part| self.sink.put_plain(part))?;
            put_head(self)
        } else {
            put_head(self)?;
            [" object at ", address, ">"].iter().try_for_each(|part| self.sink.put_plain(part))
        }
    }

    fn put_text(&mut self, text: &Bound<'py, PyAny>) -> Result<(), Halt> {
        let text = text.cast::<PyString>().map_err(PyErr::from)?;
        self.put(&text.to_string_lossy())
    }

    #[inline(always)]
    fn put_leaf(&mut self, leaf: Leaf<'_>) -> Result<(), Halt> {
        match leaf {
            Leaf::Text(text) => self.put_plain(text.as_str()),
            Leaf::Quoted(repr) => {
                let (outer_first, outer_last) = if S::BACKWARD {
                    (repr.after_quotes(), repr.before_quotes())
                } else {
                    (repr.before_quotes(), repr.after_quotes())
                };
                // The quotes are one character each, which the sink copies without looking at the length.
                if !outer_first.is_empty() {
                    self.put_plain(outer_first)?;
                }
                self.put_plain(repr.quote())?;
                match repr.literal_body() {
                    Some(body) => self.put_plain(body)?,
                    None => self.put_escaped_body(&repr)?,
                }
                self.put_plain(repr.quote())?;
                if !outer_last.is_empty() {
                    self.put_plain(outer_last)?;
                }
                Ok(())
            }
        }
    }

    /// Not inlined into the container loops, which mostly render short texts that need no escapes.
    #[inline(never)]
    fn put_escaped_body(&mut self, repr: &QuotedRepr<'_>) -> Result<(), Halt> {
        let mut halted = Ok(());
        repr.escaped_body_chunks(S::BACKWARD, |chunk, ascii| {
            halted = if ascii { self.sink.put_plain(chunk) } else { self.sink.put(chunk) };
            halted.is_ok()
        });
        halted
    }

    fn put_repr(&mut self, obj: &Bound<'py, PyAny>) -> Result<(), Halt> {
        let text = obj.repr()?;
        self.put(&text.to_string_lossy())
    }

    /// Renders `open item, item, ... close`, in the renderer's direction.
    fn container(
        &mut self,
        obj: &Bound<'py, PyAny>,
        depth: i64,
        layout: Layout,
        open: &str,
        close: &str,
    ) -> Result<(), Halt> {
        let single_item_comma = matches!(layout, Layout::Sequence { single_item_comma: true });
        let (first, last) = if S::BACKWARD { (close, open) } else { (open, close) };
        let (first_piece, last_piece) =
            if S::BACKWARD { (Piece::Closing, Piece::Opening) } else { (Piece::Opening, Piece::Closing) };
        self.put(first).map_err(|halt| self.halted(halt, obj, first_piece))?;
        if S::BACKWARD && single_item_comma && obj.len()? == 1 {
            self.put_plain(",").map_err(|halt| self.halted(halt, obj, Piece::SingleItemComma))?;
        }
        let mut count = 0usize;
        let mut items = self.items(obj, layout)?;
        while let Some(entry) = items.next(self.py) {
            if count > 0 {
                self.put_plain(", ").map_err(|halt| self.halted(halt, obj, Piece::Separator { ordinal: count }))?;
            }
            self.entry(obj, count, entry?, depth, layout)?;
            count += 1;
        }
        if !S::BACKWARD && single_item_comma && count == 1 {
            self.put_plain(",").map_err(|halt| self.halted(halt, obj, Piece::SingleItemComma))?;
        }
        self.put(last).map_err(|halt| self.halted(halt, obj, last_piece))
    }

    /// Renders the `ordinal`-th entry of `container`, counted in the renderer's direction.
    fn entry(
        &mut self,
        container: &Bound<'py, PyAny>,
        ordinal: usize,
        entry: Entry<'py>,
        depth: i64,
        layout: Layout,
    ) -> Result<(), Halt> {
        let (key, value) = match (entry, layout) {
            (Entry::Item(item), Layout::Sequence { .. }) => {
                return self
                    .render(&item, depth - 1)
                    .map_err(|halt| self.halted(halt, container, Piece::Item { ordinal }));
            }
            (Entry::Pair(key, value), _) => (key, value),
            (Entry::Item(pair), Layout::Mapping) => {
                let pair = pair.cast_into::<PyTuple>().map_err(PyErr::from)?;
                (pair.get_item(0)?, pair.get_item(1)?)
            }
        };
        let (key_piece, colon_piece, value_piece) =
            (Piece::Item { ordinal }, Piece::Colon { ordinal }, Piece::Value { ordinal });
        if S::BACKWARD {
            self.render(&value, depth - 1).map_err(|halt| self.halted(halt, container, value_piece))?;
            self.put_plain(": ").map_err(|halt| self.halted(halt, container, colon_piece))?;
            self.render(&key, depth).map_err(|halt| self.halted(halt, container, key_piece))
        } else {
            self.render(&key, depth).map_err(|halt| self.halted(halt, container, key_piece))?;
            self.put_plain(": ").map_err(|halt| self.halted(halt, container, colon_piece))?;
            self.render(&value, depth - 1).map_err(|halt| self.halted(halt, container, value_piece))
        }
    }

    /// The items in the renderer's direction. Exact lists and tuples are read by index and dicts (but
    /// `OrderedDict`, which keeps its own order) from their storage; everything else is iterated, mappings
    /// through their items view taken from the exact class (instance attributes named `items` are never
    /// consulted).
    fn items(&self, obj: &Bound<'py, PyAny>, layout: Layout) -> PyResult<Items<'py>> {
        let ptr = obj.as_ptr();
        // SAFETY: `obj` is a live object (a `Bound`), so its type pointer can be read.
        let ty = unsafe { ffi::Py_TYPE(ptr) };
        if ty == &raw mut ffi::PyList_Type || ty == &raw mut ffi::PyTuple_Type {
            let (next, step) = if S::BACKWARD { (obj.len()? as ffi::Py_ssize_t - 1, -1) } else { (0, 1) };
            return Ok(Items::Indexed { sequence: obj.clone(), next, step });
        }
        let is_ordered_dict = obj.get_type().is(self.known.ordered_dict.bind(self.py));
        // SAFETY: a live object; PyDict_Check only reads its type's flags.
        let is_dict = matches!(layout, Layout::Mapping) && unsafe { ffi::PyDict_Check(ptr) } != 0 && !is_ordered_dict;
        if is_dict && !S::BACKWARD {
            return Ok(Items::DictStorage { dict: obj.clone(), position: 0 });
        }
        if is_dict && obj.len()? <= MAX_COLLECTED_DICT_ITEMS {
            let mut pairs = VecDeque::with_capacity(obj.len()?);
            let mut storage = Items::DictStorage { dict: obj.clone(), position: 0 };
            while let Some(pair) = storage.next(self.py) {
                pairs.push_back(pair?);
            }
            return Ok(Items::Collected(pairs));
        }
        let items = match layout {
            Layout::Sequence { .. } => obj.clone(),
            Layout::Mapping => {
                let items = if is_ordered_dict { &self.known.ordered_dict_items } else { &self.known.dict_items };
                items.bind(self.py).call1((obj,))?
            }
        };
        if !S::BACKWARD {
            return Ok(Items::Iterated(items.try_iter()?));
        }
        if items.cast::<PySet>().is_err() && items.cast::<PyFrozenSet>().is_err() {
            let reversed = self.known.reversed.bind(self.py).call1((items,))?;
            return Ok(Items::Iterated(reversed.cast_into::<PyIterator>()?));
        }
        // Sets have no order to reverse, so their last items are found by a full walk that keeps only as
        // many as the sink can still use (each item costs at least its `", "`).
        let keep = (self.sink.wanted() / 2).saturating_add(2);
        let mut last = VecDeque::with_capacity(keep.min(64));
        for item in items.try_iter()? {
            if last.len() == keep {
                last.pop_front();
            }
            last.push_back(Entry::Item(item?));
        }
        Ok(Items::Collected(last))
    }

    /// Renders `parts` in the renderer's direction.
    fn composite(&mut self, mut parts: Vec<Part<'py>>) -> Result<(), Halt> {
        let count = parts.len();
        if S::BACKWARD {
            parts.reverse();
        }
        for (ordinal, part) in parts.into_iter().enumerate() {
            let outcome = match part {
                Part::Text(text) => self.put(&text),
                Part::Nested(obj, depth) => self.render(&obj, depth),
            };
            let index = if S::BACKWARD { count - 1 - ordinal } else { ordinal };
            outcome.map_err(|halt| self.halted_in_part(halt, index))?;
        }
        Ok(())
    }

    /// `re.compile(<pattern>)` or `re.compile(<pattern>, flags=re.X|re.Y)`.
    fn pattern_parts(&self, obj: &Bound<'py, PyAny>) -> PyResult<Vec<Part<'py>>> {
        let flags = obj.getattr(intern!(self.py, "flags"))?;
        let close = if flags.is_truthy()? {
            let flags = self.known.regex_flag.bind(self.py).call1((flags,))?.str()?;
            format!(", flags={})", flags.to_string_lossy())
        } else {
            ")".to_owned()
        };
        Ok(vec![
            Part::Text("re.compile(".to_owned()),
            Part::Nested(obj.getattr(intern!(self.py, "pattern"))?, DEFAULT_MAXDEPTH),
            Part::Text(close),
        ])
    }
}

/// `datetime(Y, M, D, h, m, s, us, tzinfo=..., fold=...)` or `time(h, m, s, us, tzinfo=..., fold=...)`.
fn clock_parts<'py>(obj: &Bound<'py, PyAny>, name: &str, date_fields: &[&str]) -> PyResult<Vec<Part<'py>>> {
    let mut fields = Vec::new();
    for field in date_fields.iter().chain(&["hour", "minute", "second", "microsecond"]) {
        fields.push(obj.getattr(*field)?.extract::<i64>()?.to_string());
    }
    Ok(vec![
        Part::Text(format!("{name}({}, tzinfo=", fields.join(", "))),
        Part::Nested(obj.getattr(intern!(obj.py(), "tzinfo"))?, DEFAULT_MAXDEPTH),
        Part::Text(", fold=".to_owned()),
        Part::Nested(obj.getattr(intern!(obj.py(), "fold"))?, DEFAULT_MAXDEPTH),
        Part::Text(")".to_owned()),
    ])
}

/// `<bound method Qual.name of <self>>`; the name is `__qualname__`, else `__name__`.
fn bound_method_parts<'py>(obj: &Bound<'py, PyAny>, depth: i64) -> PyResult<Vec<Part<'py>>> {
    let py = obj.py();
    // A method forwards the name lookups to its `__func__`: only a function's own names are read, as any other
    // callable's attribute lookups can be user code (`?` is CPython's method repr for a name it cannot get).
    let function_type = obj.getattr(intern!(py, "__func__"))?.get_type();
    let name = if !is_ffi_type(&function_type, &raw mut ffi::PyFunction_Type)
        && !is_ffi_type(&function_type, &raw mut ffi::PyCFunction_Type)
    {
        PyString::new(py, "?").into_any()
    } else {
        match obj.getattr(intern!(py, "__qualname__")) {
            Ok(name) if !name.is_none() => name,
            Ok(_) => obj.getattr(intern!(py, "__name__"))?,
            Err(err) if err.is_instance_of::<PyAttributeError>(py) => obj.getattr(intern!(py, "__name__"))?,
            Err(err) => return Err(err),
        }
    };
    Ok(vec![
        Part::Text(format!("<bound method {} of ", name.str()?.to_string_lossy())),
        Part::Nested(obj.getattr(intern!(py, "__self__"))?, depth - 1),
        Part::Text(">".to_owned()),
    ])
}

/// Backward, a dict up to this size is read from its storage into a list (cheaper than its reversed
/// items view); a bigger one is walked from its end, for the few items the tail needs.
const MAX_COLLECTED_DICT_ITEMS: usize = 64;

/// A container item: a value, or a mapping's key and value (as a pair, or as a `(key, value)` tuple
/// from an items view).
enum Entry<'py> {
    Item(Bound<'py, PyAny>),
    Pair(Bound<'py, PyAny>, Bound<'py, PyAny>),
}

/// A container's items, in the order the renderer needs them.
enum Items<'py> {
    /// An exact list or tuple, read by index from `next` on in steps of `step` (1, or -1 backward). A list
    /// that shrinks meanwhile ends early.
    Indexed {
        sequence: Bound<'py, PyAny>,
        next: ffi::Py_ssize_t,
        step: ffi::Py_ssize_t,
    },
    /// A dict's entries in storage order (the order of `dict.items`), front to back.
    DictStorage {
        dict: Bound<'py, PyAny>,
        position: ffi::Py_ssize_t,
    },
    /// Items collected front to back, handed out back to front.
    Collected(VecDeque<Entry<'py>>),
    Iterated(Bound<'py, PyIterator>),
}

impl<'py> Items<'py> {
    /// Inlined into the loops: returned through memory, the entry costs a store-forwarding stall per item.
    #[inline(always)]
    fn next(&mut self, py: Python<'py>) -> Option<PyResult<Entry<'py>>> {
        match self {
            Items::Indexed { sequence, next, step } => {
                let ptr = sequence.as_ptr();
                // The size is read each time: rendering an item may run library code that changes a list.
                // SAFETY: `sequence` is an exact list or tuple (its type compared in `items`; neither allows
                // `__class__` assignment), and the index is checked against its current size with nothing run in
                // between, so the item is a valid borrowed pointer.
                let item = unsafe {
                    if ffi::PyTuple_CheckExact(ptr) != 0 {
                        (0..ffi::PyTuple_GET_SIZE(ptr)).contains(next).then(|| ffi::PyTuple_GET_ITEM(ptr, *next))
                    } else {
                        (0..ffi::PyList_GET_SIZE(ptr)).contains(next).then(|| ffi::PyList_GET_ITEM(ptr, *next))
                    }
                }?;
                *next += *step;
                // SAFETY: `item` is borrowed from the live sequence, and becomes a strong reference at once.
                Some(Ok(Entry::Item(unsafe { Bound::from_borrowed_ptr(py, item) })))
            }
            Items::DictStorage { dict, position } => {
                let (mut key, mut value) = (std::ptr::null_mut(), std::ptr::null_mut());
                // SAFETY: `dict` passed PyDict_Check (in `items`); PyDict_Next bounds `position` by the dict's current
                // table, so a dict changed since the last item is still read safely.
                if unsafe { ffi::PyDict_Next(dict.as_ptr(), position, &mut key, &mut value) } == 0 {
                    return None;
                }
                // Owned references: rendering the key may run library code that changes the dict.
                // SAFETY: PyDict_Next returned true: both are non-NULL pointers borrowed from the live dict, made
                // strong references at once.
                let (key, value) = unsafe { (Bound::from_borrowed_ptr(py, key), Bound::from_borrowed_ptr(py, value)) };
                Some(Ok(Entry::Pair(key, value)))
            }
            Items::Collected(items) => items.pop_back().map(Ok),
            Items::Iterated(iter) => iter.next().map(|item| item.map(Entry::Item)),
        }
    }
}

/// The start of `object.__repr__` text for a class without a metaclass (so reading its names runs no code),
/// given the class's `__module__`: `<module.Qualname`, or `<tp_name` for builtins and a non-str module.
fn object_repr_head(ty: &Bound<'_, PyType>, module: Option<&Bound<'_, PyAny>>) -> PyResult<String> {
    let module = module.and_then(|module| module.cast::<PyString>().ok()).filter(|module| module != "builtins");
    Ok(match module {
        Some(module) => format!("<{}.{}", module.to_string_lossy(), ty.qualname()?.to_string_lossy()),
        // SAFETY: every type has a NUL-terminated `tp_name`, alive as long as the type, which `ty` holds.
        None => format!("<{}", unsafe { std::ffi::CStr::from_ptr((*ty.as_type_ptr()).tp_name) }.to_string_lossy()),
    })
}

/// `type.__repr__(class)` for a class whose metaclass is exactly `type` (the same text, without building
/// it through `PyUnicode_FromFormat`); None for names that are not valid UTF-8, left to CPython.
fn class_repr(class: &Bound<'_, PyType>) -> Option<String> {
    // SAFETY: every type has a NUL-terminated `tp_name`, alive as long as the type, which `class` holds.
    let tp_name = unsafe { std::ffi::CStr::from_ptr((*class.as_type_ptr()).tp_name) }.to_str().ok()?;
    if let Some((Some(module), qualname)) = heap_type_names(class) {
        return Some(format!("<class '{}.{}'>", module.to_str().ok()?, qualname.to_str().ok()?));
    }
    // A static type's `tp_name` is its module and qualname already.
    Some(format!("<class '{tp_name}'>"))
}

/// A heap type's `__module__` entry (None unless it is a str other than `'builtins'`) and `__qualname__`, read
/// from its dict and slot as `type.__repr__` and `object.__repr__` read them: no metaclass code runs. None for
/// a static type, whose names are in `tp_name`.
fn heap_type_names<'py>(ty: &Bound<'py, PyType>) -> Option<(Option<Bound<'py, PyString>>, Bound<'py, PyString>)> {
    if !is_heap_type(ty) {
        return None;
    }
    let py = ty.py();
    // SAFETY: a heap type (checked above), so the object is a `PyHeapTypeObject`; `ht_qualname` is a reference it
    // holds.
    let qualname = unsafe { (*ty.as_type_ptr().cast::<ffi::PyHeapTypeObject>()).ht_qualname };
    // SAFETY: borrowed from the live type, and made a strong reference at once (NULL gives None); its type is checked
    // next.
    let qualname = unsafe { Bound::from_borrowed_ptr_or_opt(py, qualname) }?.cast_into::<PyString>().ok()?;
    // SAFETY: a live type object; `tp_dict` is NULL or a reference the type holds.
    let dict = unsafe { (*ty.as_type_ptr()).tp_dict };
    // SAFETY: borrowed from the live type and made a strong reference at once (NULL gives None); cast to a dict before
    // use.
    let module = unsafe { Bound::from_borrowed_ptr_or_opt(py, dict) }
        .and_then(|dict| dict.cast_into::<PyDict>().ok()?.get_item(intern!(py, "__module__")).ok()?)
        .and_then(|module| module.cast_into::<PyString>().ok())
        .filter(|module| module != "builtins");
    Some((module, qualname))
}

/// `function.__repr__`: `<function qualname at 0x...>`; None for a qualname that is not valid UTF-8.
fn function_repr(function: &Bound<'_, PyAny>) -> PyResult<Option<String>> {
    let qualname = function.getattr(intern!(function.py(), "__qualname__"))?;
    let Ok(qualname) = qualname.cast::<PyString>().map(|qualname| qualname.to_str().map(str::to_owned)) else {
        return Ok(None);
    };
    let mut address = [0; 18];
    Ok(qualname
        .ok()
        .map(|qualname| format!("<function {qualname} at {}>", hex_address(function.as_ptr() as usize, &mut address))))
}

/// `{:#x}` of an address, without the formatting machinery (it runs for every object shown this way).
fn hex_address(address: usize, buffer: &mut [u8; 18]) -> &str {
    let mut start = buffer.len();
    let mut rest = address;
    loop {
        start -= 1;
        buffer[start] = b"0123456789abcdef"[rest & 0xf];
        rest >>= 4;
        if rest == 0 {
            break;
        }
    }
    buffer[start - 2..start].copy_from_slice(b"0x");
    // SAFETY: only ASCII was written.
    unsafe { std::str::from_utf8_unchecked(&buffer[start - 2..]) }
}

/// The object repr heads of recently shown classes. A head is made of the class's `__module__` and
/// `__qualname__` only, so it is remembered under the class's address, its attribute-cache version tag, which
/// CPython renews whenever `__module__` or another attribute in the class's dict is set (and a new class never
/// gets an old tag), and its `__qualname__` object (held, so that its address stays its own; setting it leaves
/// the tag alone on 3.13); or under the address alone for a static type, whose names never change. Programs
/// show instances of a few classes over and over, and looking their names up costs more than the rest of the
/// row.
struct ObjectReprHeads;

#[derive(Clone, Copy, PartialEq, Eq)]
enum HeadKey {
    StaticType(usize),
    HeapType { address: usize, version_tag: u32, qualname: usize },
}

struct HeadSlot {
    key: HeadKey,
    /// A heap type's `__qualname__`, whose address is in the key.
    _qualname: Option<Py<PyAny>>,
    head: GilRc<str>,
}

const OBJECT_REPR_HEAD_SLOTS: usize = 64;

static OBJECT_REPR_HEADS: GilRefCell<[Option<HeadSlot>; OBJECT_REPR_HEAD_SLOTS]> =
    GilRefCell::new([const { None }; OBJECT_REPR_HEAD_SLOTS]);

impl ObjectReprHeads {
    /// The class's key; None for a heap type without a valid version tag (it is not cached then).
    fn key_of(ty: &Bound<'_, PyType>) -> Option<HeadKey> {
        let address = ty.as_ptr() as usize;
        if !is_heap_type(ty) {
            return Some(HeadKey::StaticType(address));
        }
        let version_tag = crate::compat::valid_version_tag(ty)?;
        // SAFETY: a heap type (checked above), so the object is a `PyHeapTypeObject`; only the address of its qualname
        // is kept, as part of the key.
        let qualname = unsafe { (*ty.as_type_ptr().cast::<ffi::PyHeapTypeObject>()).ht_qualname } as usize;
        Some(HeadKey::HeapType { address, version_tag, qualname })
    }

    fn slot(key: HeadKey) -> usize {
        let mixed = match key {
            HeadKey::StaticType(address) => address as u64,
            HeadKey::HeapType { address, version_tag, qualname } => {
                address as u64 ^ u64::from(version_tag) ^ (qualname as u64).rotate_left(32)
            }
        };
        cache_slot::<OBJECT_REPR_HEAD_SLOTS>(mixed)
    }

    fn find(py: Python<'_>, ty: &Bound<'_, PyType>) -> Option<GilRc<str>> {
        let key = Self::key_of(ty)?;
        OBJECT_REPR_HEADS.with_mut(py, |slots| match &slots[Self::slot(key)] {
            Some(slot) if slot.key == key => Some(slot.head.clone_ref(py)),
            _ => None,
        })
    }

    /// The head for a class with any metaclass: `object.__repr__` reads the class's `__module__` entry and
    /// `__qualname__` slot directly, without running metaclass code, and so does this. None where the head would
    /// come from `tp_name` (a static type, or `__module__` not a str or `'builtins'`).
    fn of_any_class(py: Python<'_>, ty: &Bound<'_, PyType>) -> Option<GilRc<str>> {
        if let Some(head) = Self::find(py, ty) {
            return Some(head);
        }
        let (Some(module), qualname) = heap_type_names(ty)? else {
            return None;
        };
        let head: GilRc<str> = format!("<{}.{}", module.to_string_lossy(), qualname.to_string_lossy()).into();
        Self::remember(py, ty, &head);
        Some(head)
    }

    fn remember(py: Python<'_>, ty: &Bound<'_, PyType>, head: &GilRc<str>) {
        let Some(key) = Self::key_of(ty) else {
            return;
        };
        let qualname = match key {
            // SAFETY: `key_of` read this address from the live type's `ht_qualname` just above, with no code run since,
            // so it is the type's current qualname; it becomes a strong reference at once.
            HeadKey::HeapType { qualname, .. } => unsafe {
                Bound::from_borrowed_ptr_or_opt(py, qualname as *mut ffi::PyObject)
            },
            HeadKey::StaticType(_) => None,
        };
        let slot = HeadSlot { key, _qualname: qualname.map(Bound::unbind), head: head.clone_ref(py) };
        // The slot replaced is released after the update, outside of it.
        let _replaced = OBJECT_REPR_HEADS.with_mut(py, |slots| slots[Self::slot(key)].replace(slot));
    }
}

/// hunter's `type(obj).__module__ in (...)`, minus the `==` call on a non-`str` module value
/// (which only a user class could hold, and which compares unequal unless it runs user code).
fn is_trusted_module(module: &Bound<'_, PyAny>) -> bool {
    module
        .cast::<PyString>()
        .ok()
        .and_then(|module| module.to_str().ok().map(|module| TRUSTED_MODULES.contains(&module)))
        .unwrap_or(false)
}

/// Whether `repr(obj)` (already accepted by hunter's module rule) runs only library code. hunter would
/// call it regardless; declining keeps user `__repr__` code from running inside the tracer:
/// - a class can claim a trusted `__module__` yet define `__repr__` in user code, so for heap types the
///   `__repr__` found along the MRO must be a C slot or a function from a trusted module (or
///   `collections`, for namedtuples such as `decimal.DecimalTuple`);
/// - a few builtins put another object's repr in their own, so their contents must be plain data.
fn repr_runs_only_library_code(obj: &Bound<'_, PyAny>, ty: &Bound<'_, PyType>, known: &Known) -> PyResult<bool> {
    if is_heap_type(ty) && !heap_type_repr_is_library_code(ty, known)? {
        return Ok(false);
    }
    is_plain_data_holder(obj, ty, known, 0).map(|plain| plain.unwrap_or(true))
}

fn heap_type_repr_is_library_code(ty: &Bound<'_, PyType>, known: &Known) -> PyResult<bool> {
    let py = ty.py();
    for class in ty.mro().iter() {
        let class = class.cast_into::<PyType>()?;
        let namespace = class.getattr(intern!(py, "__dict__"))?;
        let Ok(repr) = namespace.get_item(intern!(py, "__repr__")) else {
            continue;
        };
        if !is_heap_type(&class) || is_type(&repr.get_type(), &known.wrapper_descriptor) {
            return Ok(true);
        }
        if !is_ffi_type(&repr.get_type(), &raw mut ffi::PyFunction_Type) {
            return Ok(false);
        }
        let module = repr.getattr(intern!(py, "__module__"))?;
        return Ok(is_trusted_module(&module)
            || module.cast::<PyString>().is_ok_and(|m| m.to_str().is_ok_and(|m| m == "collections")));
    }
    Ok(true)
}

/// Whether `repr(obj)` shows nothing but builtin data and builtin callables.
fn is_plain_data(obj: &Bound<'_, PyAny>, known: &Known, nesting: usize) -> PyResult<bool> {
    if nesting > MAX_PLAIN_DATA_NESTING {
        return Ok(false);
    }
    let ty = obj.get_type();
    if is_any_type(&ty, &known.plain_leaves) {
        return Ok(true);
    }
    let all_plain = |items: &Bound<'_, PyAny>| -> PyResult<bool> {
        for item in items.try_iter()? {
            if !is_plain_data(&item?, known, nesting + 1)? {
                return Ok(false);
            }
        }
        Ok(true)
    };
    if obj.cast_exact::<PyList>().is_ok()
        || obj.cast_exact::<PyTuple>().is_ok()
        || obj.cast_exact::<PySet>().is_ok()
        || obj.cast_exact::<PyFrozenSet>().is_ok()
    {
        return all_plain(obj);
    }
    if obj.cast_exact::<PyDict>().is_ok() {
        return all_plain(&known.dict_items.bind(obj.py()).call1((obj,))?);
    }
    Ok(is_plain_data_holder(obj, &ty, known, nesting)?.unwrap_or(false))
}

/// For the builtins whose repr embeds other objects' reprs: whether those objects are plain data.
/// `None` for every other type.
fn is_plain_data_holder(
    obj: &Bound<'_, PyAny>,
    ty: &Bound<'_, PyType>,
    known: &Known,
    nesting: usize,
) -> PyResult<Option<bool>> {
    let py = obj.py();
    let contents: Vec<Bound<'_, PyAny>> = if is_any_type(ty, &known.dict_views) {
        vec![py.get_type::<PyList>().call1((obj,))?]
    } else if is_type(ty, &known.mappingproxy) {
        // The proxied mapping is only reachable through the GC's referents (plain C traversal).
        let referents = known.gc_get_referents.bind(py).call1((obj,))?;
        referents.try_iter()?.collect::<PyResult<_>>()?
    } else if is_type(ty, &known.slice) {
        ["start", "stop", "step"].iter().map(|field| obj.getattr(*field)).collect::<PyResult<_>>()?
    } else if is_any_type(ty, &known.callable_wrappers) {
        vec![obj.getattr(intern!(py, "__func__"))?]
    } else {
        return Ok(None);
    };
    for item in contents {
        if !is_plain_data(&item, known, nesting + 1)? {
            return Ok(Some(false));
        }
    }
    Ok(Some(true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pyo3::types::PyDict;

    /// Evaluates `expr` with `collections`, `datetime`, `re` and `decimal` imported.
    fn eval<'py>(py: Python<'py>, expr: &str) -> Bound<'py, PyAny> {
        let globals = PyDict::new(py);
        globals.set_item("__name__", "corpus").unwrap();
        for module in ["collections", "datetime", "re", "decimal"] {
            globals.set_item(module, py.import(module).unwrap()).unwrap();
        }
        let code = std::ffi::CString::new(expr).unwrap();
        py.eval(&code, Some(&globals), None).unwrap()
    }

    #[test]
    fn classes_spread_over_the_head_slots() {
        // Classes as an allocator lays them out: 1 KiB apart, with consecutive version tags.
        let slots: std::collections::HashSet<usize> = (0..16)
            .map(|class| {
                ObjectReprHeads::slot(HeadKey::HeapType {
                    address: 0x7f3a_1c80_0000 + class * 1024,
                    version_tag: 900 + class as u32,
                    qualname: 0x7f3a_2000_0000 + class * 64,
                })
            })
            .collect();
        assert!(slots.len() >= 12, "16 classes share {} slots", slots.len());
    }

    /// Runs the statements in `code` and returns the global `value` they set.
    fn exec<'py>(py: Python<'py>, code: &str) -> Bound<'py, PyAny> {
        let globals = PyDict::new(py);
        let code = std::ffi::CString::new(code).unwrap();
        py.run(&code, Some(&globals), None).unwrap();
        globals.get_item("value").unwrap().unwrap()
    }

    /// The parts of a clipped text.
    #[derive(Debug, PartialEq, Eq)]
    enum Clipped {
        Whole(String),
        Cut { head: String, tail: String },
    }

    impl Clipped {
        fn join(&self, marker: &str) -> String {
            match self {
                Clipped::Whole(text) => text.clone(),
                Clipped::Cut { head, tail } => format!("{head}{marker}{tail}"),
            }
        }
    }

    const MARKER: &str = " [...] ";

    fn clipped(obj: &Bound<'_, PyAny>, limit: usize, escape_newlines: bool) -> String {
        let mut out = String::from("before ");
        safe_repr_clipped_into(obj, DEFAULT_MAXDEPTH, limit, escape_newlines, MARKER, &mut out).unwrap();
        out.strip_prefix("before ").expect("appended to the buffer").to_owned()
    }

    /// hunter's `try_repr` truncation rule, applied to a complete text (checked against hunter 3.9.0:
    /// `text[:limit // 2]` and `text[-(limit // 2):]`, which is the whole text when `limit // 2` is 0).
    fn hunter_cut(text: &str, limit: usize) -> Clipped {
        let chars: Vec<char> = text.chars().collect();
        if chars.len() <= limit {
            return Clipped::Whole(text.to_owned());
        }
        let tail_start = if limit / 2 == 0 { 0 } else { chars.len() - limit / 2 };
        Clipped::Cut { head: chars[..limit / 2].iter().collect(), tail: chars[tail_start..].iter().collect() }
    }

    const CORPUS: &[&str] = &[
        "1",
        "'a\\nb'",
        "[1, 2, [3, [4, [5, [6, [7]]]]]]",
        "(1,)",
        "((1,),)",
        "{'k': (1, 2), (3, 4): [5, {6}]}",
        "{(1, (2, (3, (4, (5, (6,)))))): 1}",
        "list(range(300))",
        "tuple(range(300))",
        "{i: str(i) * 3 for i in range(200)}",
        "set(range(500))",
        "frozenset(range(500))",
        "collections.deque(range(400))",
        "collections.Counter('abracadabra' * 20)",
        "collections.OrderedDict((i, [i] * 3) for i in range(200))",
        "collections.defaultdict(list, {i: {i: i} for i in range(100)})",
        "[[list(range(50))] * 10] * 10",
        "{'x': type('N\\nL', (), {})()}",
        "[re.compile('a+', re.I), re.compile(b'x')] * 40",
        "[datetime.datetime(2020, 1, 2, 3, 4, 5, 6)] * 30",
        "ValueError(list(range(300)), 'msg')",
        "[decimal.Decimal('1.5')] * 100",
        "([1, 2], {3: 4})",
        "'x' * 3000 + \"'\"",
        "'a\\tb\\\\c\\n' * 700",
        "['ab\\'c' * 50, 1.5, -2e-7, 10**30, 2**70] * 40",
        "'\\u00e9' * 600 + 'abc'",
        "[1e16, 0.1, True, None, -0.0, float('nan')] * 100",
        "[object(), type('K', (), {})()] * 60",
        // Head and tail ending in the same item, in neighbouring items, or in one leaf, near every limit.
        "['x' * 2000, 1]",
        "[1, 'x' * 2000]",
        "['a' * 9, 'b' * 9]",
        "{'k': list(range(400))}",
        "{'k' * 600: 1, 'v': 2}",
        "[[1, 2], [3, 4]]",
        "[list(range(i)) for i in range(40)]",
        "(list(range(30)),)",
        "[str(i) * (i % 7) for i in range(120)]",
        "[datetime.datetime(2020, 1, 2, 3, 4, 5, 6, tzinfo=datetime.timezone.utc)] * 3",
        "{i: {'a': [i, -i], 'b': str(i)} for i in range(30)}",
    ];

    const LIMITS: &[usize] = &[0, 1, 2, 3, 4, 5, 7, 8, 9, 13, 20, 21, 22, 23, 40, 41, 64, 65, 255, 1024, 1025, 100_000];

    fn check_clipped_matches_hunter_cut(
        exprs: &[&str],
        limits: impl Iterator<Item = usize> + Clone,
        escape_newlines: bool,
    ) {
        Python::attach(|py| {
            for expr in exprs {
                let obj = eval(py, expr);
                let mut full = safe_repr(&obj, DEFAULT_MAXDEPTH).unwrap();
                if escape_newlines {
                    full = full.replace('\n', "\\n");
                }
                for limit in limits.clone() {
                    let expected = hunter_cut(&full, limit).join(MARKER);
                    assert_eq!(clipped(&obj, limit, escape_newlines), expected, "{expr} with limit {limit}");
                }
            }
        });
    }

    #[test]
    fn clipped_equals_cutting_the_full_text() {
        check_clipped_matches_hunter_cut(CORPUS, LIMITS.iter().copied(), false);
    }

    #[test]
    fn clipped_with_escaped_newlines_equals_cutting_the_escaped_text() {
        check_clipped_matches_hunter_cut(CORPUS, LIMITS.iter().copied(), true);
    }

    /// The head pass stops early and the tail pass tells whether the text was longer than the limit: every
    /// limit around each text's length, where that decision flips, is checked.
    #[test]
    fn clipped_at_every_limit_up_to_past_the_length() {
        let exprs = [
            "[1, 22, 333, [4444, 55555], {'k': 'v' * 7}, (6,), 'x\\ny']",
            "{'a': [1, 2], 'bb': {'c': (3,)}, 'ddd': ['e' * 5, 'f']}",
            "[[[[1, 2], [3]], [[4], 5]], 6]",
            "('abc' * 10, [0.5, -1.25], None, True, {1, 2})",
        ];
        check_clipped_matches_hunter_cut(&exprs, 0..=120, false);
        check_clipped_matches_hunter_cut(&exprs, 0..=120, true);
    }

    /// str, bytes and bytearray, rendered natively in pieces from either end: every byte value, every storage width
    /// of str, printable and non-printable characters, lone surrogates, each quote choice and the escapes.
    const QUOTED_CORPUS: &[&str] = &[
        "''",
        "b''",
        "bytearray()",
        "bytes(range(256)) * 9",
        "bytearray(range(256)) * 9",
        "bytes(range(255, -1, -1)) * 5 + b\"'\"",
        "bytearray(range(255, -1, -1)) * 5 + b\"'\"",
        "b\"it's\" * 400",
        "bytearray(b\"it's\") * 400",
        "bytearray(b'say \"hi\"') * 300",
        "b'\\t\\n\\r\\\\\\x00\\x1f\\x7f\\x80\\xff\\'\"' * 300",
        "bytes(range(32, 127)) * 40",
        "b'x' * 1023",
        "b'x' * 1024",
        "bytearray(b'x') * 1025",
        "b'x' * 2048",
        "'x' * 1021 + \"'\"",
        "'\\u00e9\\xa0\\xad\\x85 ' * 700 + \"'\"",
        "''.join(map(chr, range(0x80, 0x3000))) + '\"\\''",
        "''.join(map(chr, range(0xd700, 0xe100))) + \"'\"",
        "''.join(map(chr, range(0x1f000, 0x1f800))) + \"'\"",
        "''.join(map(chr, range(0xe0000, 0xe0200))) + '\\u4e2d'",
        "'\\ud800x\\udfff\\U0010ffff' * 500",
        "'a' * 5000 + '\\n' + 'b' * 5000",
        "'\\u4e2d' * 1022 + 'x'",
        "[b'x' * 3000, bytearray(b'y' * 3000), '\\xe9' * 3000, '\\u4e2d\\n' * 3000]",
        "{'k': '\\U0001f600' * 2000, b'\\xff' * 600: bytearray(600)}",
        "bytes(range(256)) * 2_000",
        "'\\u20ac\"' * 100_000",
    ];

    /// Clipped str, bytes and bytearray reprs are hunter's cut of CPython's own `repr()`, at every limit of
    /// [`LIMITS`] and around each text's length.
    #[test]
    fn clipped_quoted_texts_equal_cutting_their_python_repr() {
        Python::attach(|py| {
            for expr in QUOTED_CORPUS {
                let obj = eval(py, expr);
                let full = obj.repr().unwrap().to_string().replace('\n', "\\n");
                assert_eq!(safe_repr(&obj, DEFAULT_MAXDEPTH).unwrap().replace('\n', "\\n"), full, "{expr}");
                let length = full.chars().count();
                // (The huge texts only at the usual limits: a limit near their length renders all of them.)
                let around_length = [length / 2, length - 1, length, length + 1, 2 * length].into_iter();
                let around_length = around_length.filter(|&limit| limit > 0 && length < 20_000);
                for limit in LIMITS.iter().copied().chain(around_length) {
                    let expected = hunter_cut(&full, limit).join(MARKER);
                    assert_eq!(clipped(&obj, limit, true), expected, "{expr} with limit {limit}");
                }
            }
        });
    }

    #[test]
    fn clipping_skips_the_middle_of_a_huge_list() {
        Python::attach(|py| {
            // The middle item cannot be rendered at all: its class, created where `__name__` is unset, has
            // no `__module__`, so hunter's `type(obj).__module__` raises. Clipping succeeds only because it
            // never renders the middle.
            let obj = exec(
                py,
                "no_module = type('NoModule', (), {})\n\
                 value = [[i, str(i)] for i in range(200_000)] + [no_module()]\n\
                 value += [[i, str(i)] for i in range(200_000, 400_000)]",
            );
            let err = safe_repr(&obj, DEFAULT_MAXDEPTH).unwrap_err();
            assert!(err.is_instance_of::<PyAttributeError>(py));
            assert_eq!(clipped(&obj, 40, false), "[[0, '0'], [1, '1'], [...]  [399999, '399999']]");
        });
    }

    #[test]
    fn depth_and_single_item_tuples() {
        Python::attach(|py| {
            let cases = [
                ("[[[[[[1]]]]]]", "[[[[[...]]]]]"),
                ("{(1, (2, (3, (4, (5,))))): 1}", "{(1, (2, (3, (4, (...,))))): 1}"),
                ("(1,)", "(1,)"),
                ("set()", "{}"),
                ("frozenset()", "frozenset({})"),
            ];
            for (expr, expected) in cases {
                assert_eq!(safe_repr(&eval(py, expr), DEFAULT_MAXDEPTH).unwrap(), expected);
            }
        });
    }

    #[test]
    fn untrusted_objects_show_object_repr() {
        Python::attach(|py| {
            let values = exec(
                py,
                "class Outer:\n    class Inner:\n        def __repr__(self): raise AssertionError('user code ran')\n\
                 class NoneModule: pass\n\
                 NoneModule.__module__ = None\n\
                 class IntModule: pass\n\
                 IntModule.__module__ = 3\n\
                 class Meta(type): pass\n\
                 class WithMeta(metaclass=Meta): pass\n\
                 import itertools\n\
                 value = [Outer(), Outer.Inner(), NoneModule(), IntModule(), WithMeta(), object(), \
                 itertools.count()]",
            );
            for value in values.try_iter().unwrap() {
                let value = value.unwrap();
                let expected = py.eval(c"object.__repr__", None, None).unwrap().call1((&value,)).unwrap().to_string();
                assert_eq!(safe_repr(&value, DEFAULT_MAXDEPTH).unwrap(), expected);
            }
        });
    }

    #[test]
    fn negative_depth_on_a_cycle_raises_recursion_error() {
        Python::attach(|py| {
            let cycle = eval(py, "(lambda l: (l.append(l), l)[1])([])");
            let err = safe_repr(&cycle, -1).unwrap_err();
            assert!(err.is_instance_of::<PyRecursionError>(py));
        });
    }
}
