//! `StackPrinter` rows: `function <= path:lineno:caller <= ...` on one line.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyFrame;

use super::{other_colour, push_filename_prefix, push_row_owner, push_str_of, text, Facts, Options};
use crate::event::{parent_frame, EventData};

/// StackPrinter's own options: `depth`, `limit` and the colours of its rows that no other printer uses.
pub struct StackOptions {
    /// How many callers to show; None shows them all (`islice(..., None)`).
    depth: Option<usize>,
    /// How many trailing components of a caller's filename to show, as the slice `[-limit:]` takes them.
    limit: isize,
    bright: String,
    fore_blue: String,
    fore_yellow: String,
}

impl StackOptions {
    pub fn read(action: &Bound<'_, PyAny>) -> PyResult<StackOptions> {
        let depth = action.getattr("depth")?;
        let depth = if depth.is_none() {
            None
        } else {
            Some(depth.extract().map_err(|_| {
                PyValueError::new_err("Stop argument for islice() must be None or an integer: 0 <= x <= sys.maxsize.")
            })?)
        };
        let other_colors = action.getattr("other_colors")?;
        let colour = |name: &str| other_colour(&other_colors, name);
        Ok(StackOptions {
            depth,
            limit: action.getattr("limit")?.extract()?,
            bright: colour("BRIGHT")?,
            fore_blue: colour("fore(BLUE)")?,
            fore_yellow: colour("fore(YELLOW)")?,
        })
    }
}

pub fn stack_row(
    py: Python<'_>,
    options: &Options,
    stack: &StackOptions,
    event: &EventData,
    out: &mut String,
) -> PyResult<()> {
    let palette = &options.palette;
    push_row_owner(py, options, event, out)?;
    let facts = Facts::of(py, event)?;
    let filename_start = out.len();
    push_filename_prefix(options, &facts.filename, &facts.lineno, out)?;
    text::rstrip_from(out, filename_start);
    out.push_str(&palette.cont);
    out.push(':');
    out.push_str(&stack.bright);
    out.push_str(&stack.fore_blue);
    push_str_of(out, &facts.function)?;
    let caller = match event.frame() {
        Some(frame) => parent_frame(frame.as_any(py))?,
        None => None,
    };
    let Some(caller) = caller else {
        out.push(' ');
        out.push_str(&palette.kind);
        out.push_str("<= ");
        out.push_str(&stack.bright);
        out.push_str(&stack.fore_yellow);
        out.push_str("no frames available ");
        out.push_str(&palette.normal);
        out.push_str(if event.detached { "(detached=True)" } else { "(detached=False)" });
        out.push_str(&palette.reset);
        out.push('\n');
        return Ok(());
    };
    // The arrow after the function shows even when `depth` shows no caller.
    push_arrow(options, out);
    let mut caller = Some(caller);
    for index in 0..stack.depth.unwrap_or(usize::MAX) {
        let Some(current) = caller else { break };
        if index > 0 {
            push_arrow(options, out);
        }
        push_caller(options, stack, &current, out)?;
        caller = parent_frame(&current)?;
    }
    out.push_str(&palette.reset);
    out.push('\n');
    Ok(())
}

/// ` <= ` between the function and its callers.
fn push_arrow(options: &Options, out: &mut String) {
    out.push(' ');
    out.push_str(&options.palette.kind);
    out.push_str("<=");
    out.push_str(&options.palette.reset);
    out.push(' ');
}

/// `path:lineno:function` of a calling frame (a frame object, or a stand-in read through its `f_*`
/// attributes), the path cut to its last `limit` components.
fn push_caller(options: &Options, stack: &StackOptions, frame: &Bound<'_, PyAny>, out: &mut String) -> PyResult<()> {
    let py = frame.py();
    let palette = &options.palette;
    let code = match frame.cast::<PyFrame>() {
        Ok(frame) => crate::compat::frame_code_bound(frame).into_any(),
        Err(_) => frame.getattr(pyo3::intern!(py, "f_code"))?,
    };
    let filename = code.getattr(pyo3::intern!(py, "co_filename"))?;
    let filename = super::as_text(&filename)?;
    let components: Vec<&str> = filename.split(std::path::MAIN_SEPARATOR_STR).collect();
    out.push_str(&components[slice_start(components.len(), stack.limit)..].join("/"));
    out.push_str(&palette.cont);
    out.push(':');
    out.push_str(&palette.reset);
    match frame.cast::<PyFrame>() {
        Ok(frame) => out.push_str(&crate::compat::frame_lineno(frame, false).to_string()),
        Err(_) => push_str_of(out, &frame.getattr(pyo3::intern!(py, "f_lineno"))?)?,
    }
    out.push_str(&palette.cont);
    out.push(':');
    out.push_str(&stack.bright);
    out.push_str(&stack.fore_blue);
    push_str_of(out, &code.getattr(pyo3::intern!(py, "co_name"))?)
}

/// Where the Python slice `[-limit:]` of `length` items starts.
fn slice_start(length: usize, limit: isize) -> usize {
    match limit {
        // `[-0:]` is `[0:]`, and `[n:]` for a negative limit.
        ..=0 => limit.unsigned_abs().min(length),
        _ => length.saturating_sub(limit.unsigned_abs()),
    }
}

#[cfg(test)]
mod tests {
    use super::slice_start;

    #[test]
    fn slice_start_matches_python() {
        let python = |length: usize, limit: isize| {
            let items: Vec<usize> = (0..length).collect();
            items[slice_start(length, limit)..].to_vec()
        };
        assert_eq!(python(4, 2), [2, 3]);
        assert_eq!(python(4, 9), [0, 1, 2, 3]);
        assert_eq!(python(4, 0), [0, 1, 2, 3]);
        assert_eq!(python(4, -1), [1, 2, 3]);
        assert_eq!(python(4, -9), Vec::<usize>::new());
    }
}
