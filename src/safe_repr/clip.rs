//! The clipping rule of the actions' `repr_limit` (hunter keeps `text[:limit // 2]` and
//! `text[-(limit // 2):]` of a text longer than `limit`): [`safe_repr_clipped_into`] applies it to
//! safe_repr's text at O(limit) cost, with a head pass and a tail pass (see the module docs of
//! [`super`]); [`cut`] applies it to a text already rendered (a `repr_func`'s, or `str()` of a value), and
//! [`clip_ends`] to any object and limit, for the Python side.

use pyo3::prelude::*;
use pyo3::types::PySlice;

use super::halt::{Halt, HaltPath};
use super::leaf_repr::QuoteChoices;
use super::renderer::Renderer;
use super::sink::{Head, Tail};

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

/// hunter's cut of a rendered value longer than `limit`: `text[:limit // 2]` and `text[-(limit // 2):]`
/// (which is the whole text when `limit // 2` is 0). `None` when the text fits.
pub fn cut(text: &str, limit: usize) -> Option<(String, String)> {
    let length = text.chars().count();
    if length <= limit {
        return None;
    }
    let half = limit / 2;
    let head: String = text.chars().take(half).collect();
    let tail: String = if half == 0 { text.to_owned() } else { text.chars().skip(length - half).collect() };
    Some((head, tail))
}

/// `_hunter.clip_ends(text, limit)`: hunter's `repr_limit` rule on a rendered text, None when
/// `len(text) <= limit`, else the ends it keeps, `(text[:limit // 2], text[-(limit // 2):])`. The Python side
/// (`Action._clip`) calls it for what the native printers leave to it: a `repr_func` result that is not an
/// exact str, or a `repr_limit` that is not a non-negative int. So each step is the Python operation hunter
/// performs, in hunter's order, and any text and limit behave (and fail) as they do in hunter.
#[pyfunction]
pub fn clip_ends<'py>(
    text: &Bound<'py, PyAny>,
    limit: &Bound<'py, PyAny>,
) -> PyResult<Option<(Bound<'py, PyAny>, Bound<'py, PyAny>)>> {
    let py = text.py();
    if !text.len()?.into_pyobject(py)?.gt(limit)? {
        return Ok(None);
    }
    let kept = limit.floor_div(2)?;
    let slice = py.get_type::<PySlice>();
    let head = text.get_item(slice.call1((py.None(), &kept))?)?;
    let tail = text.get_item(slice.call1((kept.neg()?, py.None()))?)?;
    Ok(Some((head, tail)))
}
