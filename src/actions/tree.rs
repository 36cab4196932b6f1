//! TreePrinter: the matched calls of each thread as a tree with box-drawing branches and each call's duration.
//!
//! A call's row is formatted when the call happens (its arguments as they were then) and kept; the tree of a
//! root call (a matched call with no matched call open around it on its thread) is written when the root ends,
//! as then every call knows whether it is its parent's last (`└─`) and how long it took. At most `max_rows` rows
//! are kept per root; the calls beyond are counted and the tree ends with a line saying how many were left out.

use std::ops::Range;

use pyo3::prelude::*;

use super::call::push_arguments;
use super::options::Options;
use super::printing::Printing;
use super::spans::{monotonic_ns, push_duration, SpanStack, Spans};
use super::stream::{new_py_string, write};
use crate::event::Kind;

/// How a kept row's call ended.
#[derive(Clone, Copy)]
enum Ending {
    /// Not yet: shown as `[?]` should its tree be written before (its return was never matched).
    Open,
    Returned(u64),
    /// Still running when tracing stopped, after that long.
    RunningAtStop(u64),
}

/// One call of a tree: its columns (pid, thread, filename), its label (function and arguments), its depth.
struct Row {
    columns: String,
    /// Where the thread's column is in `columns`: empty while one thread was seen (see [`Row::push_columns`]).
    thread: Range<usize>,
    label: String,
    depth: usize,
    ending: Ending,
}

/// The tree of a thread's current root call.
#[derive(Default)]
pub(super) struct ThreadTree {
    rows: Vec<Row>,
    left_out: usize,
    /// The `max_rows` in effect when the root was called, which bounds the whole tree (None: no root yet). A
    /// change of the option mid-tree applies from the next root on, so that no row is kept under a parent left out
    /// and the footer states the bound that was applied.
    max_rows: Option<usize>,
}

/// Each open call's row in its thread's tree (None: beyond `max_rows`).
pub(super) type TreeSpans = Spans<Option<usize>, ThreadTree>;

/// TreePrinter's event: a call keeps a row, a return sets its duration and writes the tree its root ends.
pub(super) fn tree_event(
    printing: &Printing<'_, '_>,
    spans: &TreeSpans,
    max_rows: usize,
    out: &mut String,
) -> PyResult<()> {
    let py = printing.py();
    let event = printing.event;
    if event.builtin {
        return Ok(());
    }
    let template = &printing.templates().tree_row;
    let finished_tree = match event.kind {
        Kind::Call => {
            let colour = &printing.options.palette.events[Kind::Call as usize];
            let function = printing.facts()?.function.clone();
            let (mut columns, mut label) = (String::new(), String::new());
            template.format_part(&mut columns, colour, 0..1, |_, arg| printing.pid_prefix(arg))?;
            let thread_start = columns.len();
            template.format_part(&mut columns, colour, 1..2, |_, arg| printing.thread_prefix(arg))?;
            let thread = thread_start..columns.len();
            template.format_part(&mut columns, colour, 2..3, |_, arg| printing.filename_prefix(arg))?;
            template.format_part(&mut label, colour, 4..6, |number, arg| match number {
                4 => arg.object(function.clone()),
                _ => arg.build(py, |out| push_arguments(printing, out)),
            })?;
            let start_ns = monotonic_ns(py);
            spans.update(py, event, |stack, span, _finished| {
                // The previous root ended unseen (its frame is gone): its tree is complete.
                let previous = stack.is_empty().then(|| std::mem::take(&mut stack.thread));
                let depth = stack.len();
                let tree = &mut stack.thread;
                let row = if tree.rows.len() < *tree.max_rows.get_or_insert(max_rows) {
                    tree.rows.push(Row { columns, thread, label, depth, ending: Ending::Open });
                    Some(tree.rows.len() - 1)
                } else {
                    tree.left_out += 1;
                    None
                };
                stack.open(span.key, start_ns, row);
                previous
            })
        }
        Kind::Return => {
            let end_ns = monotonic_ns(py);
            spans.update(py, event, |stack, span, _finished| {
                // The calls abandoned inside keep `Ending::Open`: their returns were not matched.
                if let Some((closed, _abandoned)) = stack.close(span.key) {
                    if let Some(row) = closed.data.and_then(|row| stack.thread.rows.get_mut(row)) {
                        row.ending = Ending::Returned(end_ns.saturating_sub(closed.start));
                    }
                }
                root_ended(stack)
            })
        }
        Kind::Line | Kind::Exception => None,
    };
    if let Some(tree) = finished_tree.flatten() {
        render(py, &tree, printing.options, out)?;
    }
    Ok(())
}

/// The thread's tree when no call of it is open any more.
fn root_ended(stack: &mut SpanStack<Option<usize>, ThreadTree>) -> Option<ThreadTree> {
    stack.is_empty().then(|| std::mem::take(&mut stack.thread))
}

/// Writes the trees of the calls still open (at stop), those still executing shown as still running.
pub(super) fn write_open_trees(options: &Options, spans: &TreeSpans, py: Python<'_>) -> PyResult<()> {
    let now = monotonic_ns(py);
    let mut out = String::new();
    // The calls that ended unseen keep `Ending::Open`.
    for mut thread in spans.close_all(py) {
        for span in thread.running {
            if let Some(row) = span.data.and_then(|row| thread.thread.rows.get_mut(row)) {
                row.ending = Ending::RunningAtStop(now.saturating_sub(span.start));
            }
        }
        render(py, &thread.thread, options, &mut out)?;
    }
    if out.is_empty() {
        return Ok(());
    }
    write(options, new_py_string(py, &out))
}

/// The rows of a tree with their branches: `├─ ` before a call with a later sibling, `└─ ` before the last,
/// and under each ancestor `│  ` while that ancestor has a later sibling (else blanks).
fn render(py: Python<'_>, tree: &ThreadTree, options: &Options, out: &mut String) -> PyResult<()> {
    let template = &options.templates.tree_row;
    let colour = &options.palette.events[Kind::Call as usize];
    // The calls left out are summed up in a last row under the root.
    let left_out_row = (tree.left_out > 0).then(|| tree.rows.first().map_or(1, |root| root.depth + 1));
    let branches = branches(tree.rows.iter().map(|row| row.depth).chain(left_out_row));
    // A row called before a second thread was seen has no thread column, the later ones have: the whole tree, written
    // at once, is aligned as its last rows are.
    let thread = tree.rows.iter().rev().map(|row| &row.columns[row.thread.clone()]).find(|text| !text.is_empty());
    for (row, branch) in tree.rows.iter().zip(&branches) {
        row.push_columns(out, thread);
        template.format_part(out, colour, 3..4, |_, arg| arg.push(py, branch))?;
        out.push_str(&row.label);
        template.format_part(out, colour, 6..7, |_, arg| {
            arg.build(py, |text| {
                text.push('[');
                match row.ending {
                    Ending::Open => text.push('?'),
                    Ending::Returned(nanoseconds) => push_duration(text, nanoseconds),
                    Ending::RunningAtStop(nanoseconds) => {
                        push_duration(text, nanoseconds);
                        text.push_str(", still running");
                    }
                }
                text.push(']');
                Ok(())
            })
        })?;
    }
    if tree.left_out > 0 {
        if let Some(root) = tree.rows.first() {
            root.push_columns(out, thread);
        }
        template.format_part(out, colour, 3..4, |_, arg| arg.push(py, branches.last().map_or("", String::as_str)))?;
        let max_rows = tree.max_rows.unwrap_or_default();
        out.push_str(&format!("... {} more calls not shown (max_rows={max_rows})", tree.left_out));
        template.format_part(out, colour, 6..7, |_, arg| arg.push(py, ""))?;
    }
    Ok(())
}

impl Row {
    /// Its columns, with `thread` in its thread's column when it has none of its own.
    fn push_columns(&self, out: &mut String, thread: Option<&str>) {
        match thread {
            Some(thread) if self.thread.is_empty() => {
                out.push_str(&self.columns[..self.thread.start]);
                out.push_str(thread);
                out.push_str(&self.columns[self.thread.start..]);
            }
            _ => out.push_str(&self.columns),
        }
    }
}

/// The branch text of each row, from the rows' depths in call order (the root's depth first).
fn branches(depths: impl Iterator<Item = usize>) -> Vec<String> {
    let depths: Vec<usize> = depths.collect();
    let root = depths.first().copied().unwrap_or(0);
    // Walking backwards: `later_sibling[level]` tells whether a later row at that level comes before a
    // shallower one, i.e. whether the row (or its ancestor) at that level has a later sibling.
    let mut later_sibling: Vec<bool> = Vec::new();
    let mut branches = vec![String::new(); depths.len()];
    for (index, &depth) in depths.iter().enumerate().rev() {
        let level = depth.saturating_sub(root);
        if later_sibling.len() <= level {
            later_sibling.resize(level + 1, false);
        }
        let branch = &mut branches[index];
        if level > 0 {
            for &continues in &later_sibling[1..level] {
                branch.push_str(if continues { "│  " } else { "   " });
            }
            branch.push_str(if later_sibling[level] { "├─ " } else { "└─ " });
        }
        later_sibling[level] = true;
        later_sibling.truncate(level + 1);
    }
    branches
}

#[cfg(test)]
mod tests {
    use super::branches;

    #[test]
    fn branches_follow_the_depths() {
        let shown = branches([0, 1, 2, 2, 1, 2, 1].into_iter());
        assert_eq!(shown, ["", "├─ ", "│  ├─ ", "│  └─ ", "├─ ", "│  └─ ", "└─ "]);
        let shown = branches([0, 1, 2, 3, 1].into_iter());
        assert_eq!(shown, ["", "├─ ", "│  └─ ", "│     └─ ", "└─ "]);
        assert_eq!(branches([0].into_iter()), [""]);
    }
}
