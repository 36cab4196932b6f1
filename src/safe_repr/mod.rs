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
//! is longer than the limit (see `clip::clip_long_text`). The passes stop early, so the cost is O(limit) instead
//! of O(size), and the result equals hunter's truncated text, except:
//! - `set`/`frozenset` cannot be iterated backwards: their tail pass walks the whole set, but renders only
//!   the few last items it needs (kept in a small ring buffer);
//! - an error that hunter would hit only while rendering the skipped middle part (e.g. an `int` too big
//!   for `str()`) is never seen, so the clipped text is returned where hunter reports a failed repr;
//! - a single leaf is still rendered whole by its own `repr()`, except the common exact builtins
//!   (`None`, `bool`, `int`, `float`, `str`, `bytes`, `bytearray`), which [`leaf_repr`] renders in
//!   Rust, a str, bytes or bytearray only as far as the sink needs it from either end (plus one scan of the
//!   whole text for the quotes, which decide the quote character).
//!
//! The same clipping rule, on a text already rendered, is [`clip_ends`]: the Python side (`Action._clip`)
//! calls it for the values the native printers leave to it.
//!
//! Speed: the printers render big arguments at every event, so the renderer is generic over its sink (no
//! dynamic dispatch), sinks take the pieces known to be ASCII without newlines (punctuation, native leaf
//! reprs) on an inlined path that neither escapes nor counts characters, and exact lists, tuples and dicts
//! are read through the C API instead of Python iterators.
//!
//! Where hunter itself would run user code through `repr()`, this module declines and falls back to
//! `object.__repr__` (see `trust::repr_runs_only_library_code`). This only changes the output for classes that
//! claim to live in a trusted module (e.g. `__module__ = 'builtins'`) while defining their own `__repr__`,
//! and for builtin wrappers (dict views, `mappingproxy`, `slice`, `staticmethod`, `classmethod`) that hold
//! anything but plain data.
//!
//! Python strings with lone surrogates (only possible in type names or trusted reprs) are rendered with
//! U+FFFD, because the text is assembled as Rust UTF-8.
//!
//! # Files
//!
//! Each file owns one concept; a file uses only the files listed above it (and this one uses them all):
//! - `leaf_repr.rs`: the native `repr()` of `None`, `bool`, `int`, `float`, `str`, `bytes`, `bytearray`;
//! - `halt.rs`: why a pass stopped early (`Halt`) and where (`HaltPath`);
//! - `known.rs`: the builtin classes recognized (`Known`) and the type tests, none running Python code;
//! - `items.rs`: a container's items in the order a pass needs them (`Items`);
//! - `sink.rs`: where the text goes (`Sink`): whole (`Unbounded`), its first (`Head`) or last (`Tail`)
//!   characters; uses `halt`, `leaf_repr`;
//! - `object_repr.rs`: native `object.__repr__`, `type.__repr__` and `function.__repr__` texts, and the cache
//!   of object repr heads; uses `known`;
//! - `trust.rs`: which `repr()` calls may run (trusted modules, library code, plain data); uses `known`;
//! - `parts.rs`: the parts of datetime, time, pattern and bound method reprs, an exception's args, and
//!   `DEFAULT_MAXDEPTH`; uses `known`;
//! - `renderer.rs`: the walk over an object, dispatching on its exact type, into a sink; uses all the above;
//! - `clip.rs`: the clipping rule: the two-pass bounded rendering, and [`cut`] / [`clip_ends`] on a rendered text; uses
//!   `renderer`, `sink`, `halt`, `leaf_repr`;
//! - `mod.rs` (this file): the [`safe_repr`] function and the crate-facing names;
//! - `tests.rs`: tests through that API.

mod clip;
mod halt;
mod items;
mod known;
pub(crate) mod leaf_repr;
mod object_repr;
mod parts;
mod renderer;
mod sink;
mod trust;

#[cfg(test)]
mod tests;

use pyo3::prelude::*;

pub use clip::{clip_ends, cut, safe_repr_clipped_into};
pub use parts::DEFAULT_MAXDEPTH;

use halt::Halt;
use leaf_repr::QuoteChoices;
use renderer::Renderer;
use sink::Unbounded;

/// Returns a ``repr()`` of ``obj`` that runs none of the object's own code: builtin containers, numbers,
/// strings, exceptions, dates and a few other known types are shown in full, anything else (whose
/// ``__repr__`` could have side effects or fail) as ``<module.ClassName object at 0x...>``. The printers'
/// default ``repr_func``.
///
/// Args:
///     obj: the object to show.
///     maxdepth: how deep to go into nested containers; deeper levels are shown as ``...``.
///
/// Example: ``safe_repr({'a': [1, (2, 3)]}, maxdepth=2)`` gives ``"{'a': [..., ...]}"``.
#[pyfunction]
#[pyo3(signature = (obj, maxdepth = DEFAULT_MAXDEPTH), text_signature = "(obj, maxdepth=5)")]
pub fn safe_repr(obj: &Bound<'_, PyAny>, maxdepth: i64) -> PyResult<String> {
    let mut sink = Unbounded::default();
    let outcome = Renderer::new(obj.py(), &mut sink, &mut QuoteChoices::default())?.render(obj, maxdepth);
    outcome.map_err(Halt::into_py_err)?;
    Ok(sink.text)
}
