//! The renderer: walks an object and hands its repr to a [`Sink`] piece by piece, front to back or (for the
//! tail of a clipped text) back to front. It dispatches on the exact type, renders containers item by item,
//! leaves natively through [`leaf`], composites through their [`Part`]s, and falls back to `repr()` only where
//! [`repr_runs_only_library_code`] allows, else to `object.__repr__`. As a `Full` halt leaves a container it
//! notes which [`Piece`] it stopped in, for the sink's [`HaltPath`](super::halt::HaltPath).

use std::collections::VecDeque;

use pyo3::exceptions::PyRecursionError;
use pyo3::prelude::*;
use pyo3::types::{PyFrozenSet, PyIterator, PySet, PyString, PyTuple, PyType};
use pyo3::{ffi, intern};

use super::halt::Halt;
use super::items::{Entry, Items, MAX_COLLECTED_DICT_ITEMS};
use super::known::{has_plain_metaclass, is_exception_class, is_ffi_type, is_type, Known};
use super::leaf_repr::{leaf, Leaf, QuoteChoices, QuotedRepr};
use super::object_repr::{class_repr, function_repr, hex_address, object_repr_head, ObjectReprHeads};
use super::parts::{bound_method_parts, clock_parts, exception_args, pattern_parts, Part};
use super::sink::Sink;
use super::trust::{is_trusted_module, repr_runs_only_library_code};
use crate::gilcell::GilRc;

/// A negative `maxdepth` never counts down to 0, so recursive structures would recurse forever (hunter
/// raises `RecursionError`). Bounding the nesting keeps the Rust stack safe on small thread stacks.
const MAX_NESTING: usize = 100;

/// Which items a container yields, and how each item renders.
#[derive(Clone, Copy)]
enum Layout {
    /// Items rendered at `depth - 1`; a tuple adds a trailing comma when it has one item.
    Sequence { single_item_comma: bool },
    /// `(key, value)` items: the key keeps the container's depth, the value gets `depth - 1`.
    Mapping,
}

pub(super) struct Renderer<'a, 'py, S: Sink> {
    py: Python<'py>,
    known: &'static Known,
    sink: &'a mut S,
    /// Shared by the passes of one rendering.
    quote_choices: &'a mut QuoteChoices,
    nesting: usize,
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
    pub(super) fn new(py: Python<'py>, sink: &'a mut S, quote_choices: &'a mut QuoteChoices) -> PyResult<Self> {
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
    pub(super) fn render(&mut self, obj: &Bound<'py, PyAny>, depth: i64) -> Result<(), Halt> {
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
            let parts = pattern_parts(obj, known)?;
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
}
