//! The prefix columns of a row: the pid, the thread name and the aligned `filename:lineno`.

use crate::gilcell::MadeOnce;
use pyo3::prelude::*;

use super::caches::FILENAME_COLUMN_SLOTS;
use super::facts::Lineno;
use super::options::Options;
use super::text::{self, char_len, push_left_aligned, push_right_aligned, push_spaces};
use super::values::as_text;
use crate::gilcell::cache_slot;

/// `os.getpid()`, remembered until the process forks (a system call per event would cost more than the row).
pub(super) fn process_id() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static PID: AtomicU32 = AtomicU32::new(0);
    #[cfg(unix)]
    {
        extern "C" fn forget_pid() {
            PID.store(0, Ordering::Relaxed);
        }
        extern "C" {
            fn pthread_atfork(
                prepare: Option<extern "C" fn()>,
                parent: Option<extern "C" fn()>,
                child: Option<extern "C" fn()>,
            ) -> std::os::raw::c_int;
        }
        static REGISTERED: std::sync::Once = std::sync::Once::new();
        // SAFETY: registers a plain `extern "C"` function that only stores to an atomic, which is allowed in the forked
        // child.
        REGISTERED.call_once(|| unsafe {
            pthread_atfork(None, None, Some(forget_pid));
        });
    }
    match PID.load(Ordering::Relaxed) {
        0 => {
            let pid = std::process::id();
            PID.store(pid, Ordering::Relaxed);
            pid
        }
        pid => pid,
    }
}

/// `pid_prefix()`: `[pid]` padded, when forced or in a forked child.
pub(super) fn push_pid_prefix(options: &Options, py: Python<'_>, out: &mut String) -> PyResult<()> {
    let pid = process_id();
    let forked = || -> PyResult<bool> {
        match options.seen_pid_number {
            Some(seen_pid) => Ok(seen_pid != pid),
            None => options.seen_pid.bind(py).ne(pid),
        }
    };
    if options.force_pid || forked()? {
        push_left_aligned(out, &format!("[{pid}]"), options.pid_alignment);
    }
    Ok(())
}

/// `thread_prefix(event)`: records the thread as seen, then shows its name when asked to, or (with
/// `threading_support=None`) once several threads were seen.
pub(super) fn push_thread_prefix(
    options: &Options,
    py: Python<'_>,
    threading_support: Option<bool>,
    out: &mut String,
) -> PyResult<()> {
    let seen = options.seen_threads.bind(py);
    let ident = crate::compat::current_thread_ident();
    if options.last_seen_thread.get(py) != ident {
        seen.add(ident)?;
        options.last_seen_thread.set(py, ident);
    }
    let shown = match threading_support {
        Some(false) => false,
        Some(true) => true,
        None => seen.len() > 1,
    };
    if shown {
        static CURRENT_THREAD: MadeOnce<Py<PyAny>> = MadeOnce::new();
        let current_thread = CURRENT_THREAD.get_or_try_init(py, || {
            Ok::<_, PyErr>(crate::compat::import(py, "threading")?.getattr("current_thread")?.unbind())
        })?;
        let name = current_thread.bind(py).call0()?.getattr(pyo3::intern!(py, "name"))?;
        push_left_aligned(out, &text::of_py(&name.str()?)?, options.thread_alignment);
    }
    Ok(())
}

/// `filename_prefix(event)`: the right-aligned (and `[...]`-shortened) filename, then `:lineno`.
pub(super) fn push_filename_prefix(
    options: &Options,
    filename: &Bound<'_, PyAny>,
    lineno: &Lineno<'_>,
    out: &mut String,
) -> PyResult<()> {
    let palette = &options.palette;
    let py = filename.py();
    // Events come from a few files: each one's column is formatted once.
    let slot = cache_slot::<FILENAME_COLUMN_SLOTS>(filename.as_ptr() as u64);
    let cached = options.filename_columns.with_mut(py, |columns| match &columns[slot] {
        Some((cached, column)) if cached.is(filename) => {
            out.push_str(column);
            true
        }
        _ => false,
    });
    if !cached {
        let column = filename_column(options, filename)?;
        out.push_str(&column);
        let entry = Some((filename.clone().unbind(), column));
        // The entry replaced is released after the update, outside of it.
        let _replaced = options.filename_columns.with_mut(py, |columns| std::mem::replace(&mut columns[slot], entry));
    }
    out.push_str(&palette.colon);
    out.push(':');
    out.push_str(&palette.lineno);
    let number = match lineno {
        Lineno::Number(number) => Some(*number),
        Lineno::Object(lineno) if lineno.is_exact_instance_of::<pyo3::types::PyInt>() => lineno.extract().ok(),
        Lineno::Object(_) => None,
    };
    match (number, lineno) {
        (Some(number), _) => push_left_aligned(out, crate::leaf_repr::int_text(number, &mut [0; 20]), 5),
        (None, Lineno::Number(_)) => unreachable!("a number always formats natively"),
        (None, Lineno::Object(lineno)) => out.push_str(
            &crate::compat::import(lineno.py(), "builtins")?
                .getattr("format")?
                .call1((lineno, "<5"))?
                .str()?
                .to_string_lossy(),
        ),
    }
    out.push(' ');
    Ok(())
}

/// The filename, right-aligned (and `[...]`-shortened) to `filename_alignment`.
fn filename_column(options: &Options, filename: &Bound<'_, PyAny>) -> PyResult<String> {
    let alignment = options.filename_alignment;
    let filename = as_text(filename)?;
    let mut column = String::new();
    if filename == "?" {
        let marked = format!("{}?", options.palette.source_failure);
        push_right_aligned(&mut column, &marked, alignment);
    } else if char_len(&filename) > alignment {
        text::push_shortened_filename(&mut column, &filename, alignment);
    } else {
        push_right_aligned(&mut column, &filename, alignment);
    }
    Ok(column)
}

/// `filename_prefix()` without an event: blank padding of the same width.
pub(super) fn push_blank_filename_prefix(options: &Options, out: &mut String) {
    push_spaces(out, options.filename_alignment + 7);
}
