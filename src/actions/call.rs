//! `CallPrinter` rows: one per event, indented by the thread's call stack (kept in the class's `locals`, as hunter
//! does); calls show their arguments, returns and exceptions their value, and line rows of live events are
//! formatted once and reused.

use crate::gilcell::MadeOnce;
use pyo3::prelude::*;
use pyo3::types::PyFrame;

use super::caches::{LineRow, LineRows};
use super::callstack::CallStack;
use super::options::Options;
use super::printing::Printing;
use super::rows::Arg;
use super::source::push_stripped_source;
use super::spans::{live_frames_until, monotonic_ns, push_duration, Spans};
use super::text::push_spaces;
use crate::compat::DictIdentity;
use crate::event::Kind;
use crate::gilcell::GilRc;

/// Spaces per level of CallPrinter indentation.
const INDENT_WIDTH: usize = 3;

/// Pops the calls of `stack` whose frames are no longer executing (CallPrinter's fix for upstream #123).
/// For a call, the live frames are the new frame's callers; otherwise they include the frame itself.
/// Calls without a frame cannot be judged and stop the popping.
fn drop_finished_calls(stack: &CallStack, frame: &Bound<'_, PyFrame>, is_call: bool) {
    let py = frame.py();
    let Some(Some(top_frame)) = stack.top_frame(py) else {
        return;
    };
    if let Some(live_frames) = live_frames_until(frame, is_call, top_frame) {
        stack.pop_finished(py, &live_frames);
    }
}

/// The `durations` option's spans: the open calls by thread, each holding its code (or builtin callable).
pub(super) type CallSpans = Spans<Py<PyAny>>;

/// With `durations`, a return's duration: None when its call was not seen.
fn returning_duration(py: Python<'_>, spans: &CallSpans, event: &crate::event::EventData) -> Option<u64> {
    let end_ns = monotonic_ns(py);
    let (closed, finished) = spans.update(py, event, |stack, span, finished| (stack.close(span.key), finished))?;
    drop(finished);
    closed.map(|(span, _abandoned)| end_ns.saturating_sub(span.start))
}

/// CallPrinter: one row per event, indented by the call stack of the thread (kept in the class's
/// `locals`, as hunter does); calls show their arguments, returns and exceptions their value.
/// With `durations` (`spans`), return rows of a seen call end with its wall time (see [`super::spans`]).
pub(super) fn call_row(printing: &Printing<'_, '_>, spans: Option<&CallSpans>, out: &mut String) -> PyResult<()> {
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
    let duration = match (spans, kind) {
        (Some(spans), Kind::Return) => returning_duration(py, spans, event),
        _ => None,
    };
    let template = match (kind, builtin) {
        (Kind::Return, true) if duration.is_some() => &templates.return_builtin_timed_row,
        (Kind::Return, false) if duration.is_some() => &templates.return_timed_row,
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
    let duration_argument = duration.map(|_| template.argument_count() - 1);
    printing.row(out, template, colour, |number, arg| match (number, builtin, kind) {
        _ if Some(number) == duration_argument => arg.build(py, |out| {
            push_duration(out, duration.unwrap_or_default());
            Ok(())
        }),
        (0, ..) => printing.pid_prefix(arg),
        (1, ..) => printing.thread_prefix(arg),
        (2, ..) => printing.filename_prefix(arg),
        (3, ..) => {
            // After the prefixes and before the rest, as hunter pushes.
            if is_python_call {
                stack.push(py, module, function, event.frame().map(|frame| frame.identity(py)));
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
    if let (Some(spans), Kind::Call) = (spans, kind) {
        // Timed from after the call row, so that printing it is not part of the call's time.
        let start_ns = monotonic_ns(py);
        let finished = spans.update(py, event, |stack, span, finished| {
            stack.open(span.key, start_ns, span.code.clone().unbind());
            finished
        });
        drop(finished);
    }
    Ok(())
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
                    globals: DictIdentity::of(&globals),
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
pub(super) fn push_arguments(printing: &Printing<'_, '_>, out: &mut String) -> PyResult<()> {
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
    static MISSING: MadeOnce<Py<PyAny>> = MadeOnce::new();
    Ok(MISSING
        .get_or_try_init(py, || Ok::<_, PyErr>(crate::compat::import(py, "hunter.util")?.getattr("MISSING")?.unbind()))?
        .bind(py))
}
