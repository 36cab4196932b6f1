//! `StackPrinter` rows: `function <= path:lineno:caller <= ...` on one line.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyFrame;

use super::colours::{other_colour, Palette};
use super::printing::Printing;
use super::rows::{self, Cell};
use super::text;
use super::values::{as_text, push_str_of};
use crate::event::parent_frame;

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

/// The row: in hook mode hunter builds it as a format string with the function and callers written in and
/// the colours as `{NAME}` fields, and gives it to `output` with the pid, thread and location prefixes.
pub fn stack_row(printing: &Printing<'_, '_>, stack: &StackOptions, out: &mut String) -> PyResult<()> {
    let py = printing.py();
    let event = printing.event;
    let hooked = printing.hooked();
    let pid = Cell::of(py, hooked, |arg| printing.pid_prefix(arg))?;
    let thread = Cell::of(py, hooked, |arg| printing.thread_prefix(arg))?;
    let location = Cell::of(py, hooked, |arg| printing.filename_prefix(arg))?;
    let location = match location {
        Cell::Text(text) => {
            let mut text = text.into_owned();
            text::rstrip_from(&mut text, 0);
            Cell::Text(text.into())
        }
        Cell::Object(location) => Cell::Object(location.call_method0(pyo3::intern!(py, "rstrip"))?),
    };
    let colours = if hooked { Colours::Fields } else { Colours::Palette(&printing.options.palette, stack) };
    // Hook mode builds the format string; natively the row goes straight after the prefixes.
    let mut format = String::new();
    let row = if hooked {
        format.push_str("{}{}{}");
        &mut format
    } else {
        for cell in [&pid, &thread, &location] {
            if let Cell::Text(text) = cell {
                out.push_str(text);
            }
        }
        out
    };
    colours.push(row, "CONT");
    row.push(':');
    colours.push(row, "BRIGHT");
    colours.push(row, "fore(BLUE)");
    push_str_of(row, &printing.facts()?.function)?;
    let caller = match event.frame() {
        Some(frame) => parent_frame(frame.as_any(py))?,
        None => None,
    };
    match caller {
        None => {
            row.push(' ');
            colours.push(row, "KIND");
            row.push_str("<= ");
            colours.push(row, "BRIGHT");
            colours.push(row, "fore(YELLOW)");
            row.push_str("no frames available ");
            colours.push(row, "NORMAL");
            row.push_str(if event.detached { "(detached=True)" } else { "(detached=False)" });
        }
        Some(caller) => {
            // The arrow after the function shows even when `depth` shows no caller.
            push_arrow(&colours, row);
            let mut caller = Some(caller);
            for index in 0..stack.depth.unwrap_or(usize::MAX) {
                let Some(current) = caller else { break };
                if index > 0 {
                    push_arrow(&colours, row);
                }
                push_caller(&colours, stack, &current, row)?;
                caller = parent_frame(&current)?;
            }
        }
    }
    colours.push(row, "RESET");
    row.push('\n');
    if hooked {
        let arguments = [pid, thread, location].into_iter().map(|cell| match cell {
            Cell::Object(object) => object,
            Cell::Text(text) => pyo3::types::PyString::new(py, &text).into_any(),
        });
        rows::call_output(printing.action, &format, arguments.collect(), None)?;
    }
    Ok(())
}

/// How the colours of the row are written: as their codes, or as the `{NAME}` fields of a format string.
enum Colours<'a> {
    Palette(&'a Palette, &'a StackOptions),
    Fields,
}

impl Colours<'_> {
    fn push(&self, out: &mut String, name: &str) {
        let Colours::Palette(palette, stack) = self else {
            out.push('{');
            out.push_str(name);
            out.push('}');
            return;
        };
        out.push_str(match name {
            "CONT" => &palette.cont,
            "KIND" => &palette.kind,
            "NORMAL" => &palette.normal,
            "RESET" => &palette.reset,
            "BRIGHT" => &stack.bright,
            "fore(BLUE)" => &stack.fore_blue,
            "fore(YELLOW)" => &stack.fore_yellow,
            _ => "",
        });
    }
}

/// ` <= ` between the function and its callers.
fn push_arrow(colours: &Colours<'_>, out: &mut String) {
    out.push(' ');
    colours.push(out, "KIND");
    out.push_str("<=");
    colours.push(out, "RESET");
    out.push(' ');
}

/// `path:lineno:function` of a calling frame (a frame object, or a stand-in read through its `f_*`
/// attributes), the path cut to its last `limit` components.
fn push_caller(
    colours: &Colours<'_>,
    stack: &StackOptions,
    frame: &Bound<'_, PyAny>,
    out: &mut String,
) -> PyResult<()> {
    let py = frame.py();
    let code = match frame.cast::<PyFrame>() {
        Ok(frame) => crate::compat::frame_code_bound(frame).into_any(),
        Err(_) => frame.getattr(pyo3::intern!(py, "f_code"))?,
    };
    let filename = code.getattr(pyo3::intern!(py, "co_filename"))?;
    let filename = as_text(&filename)?;
    let components: Vec<&str> = filename.split(std::path::MAIN_SEPARATOR_STR).collect();
    out.push_str(&components[slice_start(components.len(), stack.limit)..].join("/"));
    colours.push(out, "CONT");
    out.push(':');
    colours.push(out, "RESET");
    match frame.cast::<PyFrame>() {
        Ok(frame) => out.push_str(&crate::compat::frame_lineno(frame, false).to_string()),
        Err(_) => push_str_of(out, &frame.getattr(pyo3::intern!(py, "f_lineno"))?)?,
    }
    colours.push(out, "CONT");
    out.push(':');
    colours.push(out, "BRIGHT");
    colours.push(out, "fore(BLUE)");
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
