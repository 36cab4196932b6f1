//! `CodePrinter` rows: the event's (full) source, a row per line, then the value of returns and exceptions.

use pyo3::exceptions::PyIndexError;
use pyo3::prelude::*;

use super::printing::Printing;
use super::rows::Cell;
use super::text;
use crate::event::Kind;

/// CodePrinter: the (full) source of the event, one row per line, then the value of returns and exceptions.
pub(super) fn code_rows(printing: &Printing<'_, '_>, out: &mut String) -> PyResult<()> {
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
