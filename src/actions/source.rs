//! The source column: the event's source, or a coloured `??? NO SOURCE` explanation.

use pyo3::prelude::*;

use super::facts::{Facts, Lineno};
use super::options::Options;
use super::text;
use super::values::as_text;
use crate::event::{EventData, Field};

const NO_SOURCE_PREFIX: &str = "??? NO SOURCE: ";

/// `try_source(event, full)`: the source, or a coloured `??? NO SOURCE` explanation.
pub(super) fn push_source(
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

/// `try_source(event).strip()`.
pub(super) fn push_stripped_source(
    options: &Options,
    event: &EventData,
    facts: &Facts<'_>,
    out: &mut String,
) -> PyResult<()> {
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
