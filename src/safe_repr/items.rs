//! A container's items in the order a pass needs them ([`Items`]): exact lists and tuples by index, dicts
//! from their storage, everything else through a Python iterator or collected first. Which kind a container
//! gets is decided by the renderer (`Renderer::items`).

use std::collections::VecDeque;

use pyo3::exceptions::PySystemError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyIterator;

/// Backward, a dict up to this size is read from its storage into a list (cheaper than its reversed
/// items view); a bigger one is walked from its end, for the few items the tail needs.
pub(super) const MAX_COLLECTED_DICT_ITEMS: usize = 64;

/// A container item: a value, or a mapping's key and value (as a pair, or as a `(key, value)` tuple
/// from an items view).
pub(super) enum Entry<'py> {
    Item(Bound<'py, PyAny>),
    Pair(Bound<'py, PyAny>, Bound<'py, PyAny>),
}

/// A container's items, in the order the renderer needs them.
pub(super) enum Items<'py> {
    /// An exact list or tuple, read by index from `next` on in steps of `step` (1, or -1 backward). A list
    /// that shrinks meanwhile ends early.
    Indexed {
        sequence: Bound<'py, PyAny>,
        next: ffi::Py_ssize_t,
        step: ffi::Py_ssize_t,
    },
    /// A dict's entries in storage order (the order of `dict.items`), front to back.
    DictStorage {
        dict: Bound<'py, PyAny>,
        position: ffi::Py_ssize_t,
    },
    /// Items collected front to back, handed out back to front.
    Collected(VecDeque<Entry<'py>>),
    Iterated(Bound<'py, PyIterator>),
}

impl<'py> Items<'py> {
    /// Inlined into the loops: returned through memory, the entry costs a store-forwarding stall per item.
    #[inline(always)]
    pub(super) fn next(&mut self, py: Python<'py>) -> Option<PyResult<Entry<'py>>> {
        match self {
            Items::Indexed { sequence, next, step } => {
                let ptr = sequence.as_ptr();
                // The size is read each time: rendering an item may run library code that changes a list.
                // SAFETY: `sequence` is an exact list or tuple (its type compared in `items`; neither allows
                // `__class__` assignment), and the index is checked against its current size with nothing run in
                // between, so the item is a valid borrowed pointer.
                let item = unsafe {
                    if ffi::PyTuple_CheckExact(ptr) != 0 {
                        (0..ffi::PyTuple_GET_SIZE(ptr)).contains(next).then(|| ffi::PyTuple_GET_ITEM(ptr, *next))
                    } else {
                        (0..ffi::PyList_GET_SIZE(ptr)).contains(next).then(|| ffi::PyList_GET_ITEM(ptr, *next))
                    }
                }?;
                let index = *next;
                *next += *step;
                // A list that C code is still filling (reachable through `gc.get_objects()`, say) holds NULL items.
                // SAFETY: `item` is NULL or borrowed from the live sequence, and becomes a strong reference at once.
                let item = unsafe { Bound::from_borrowed_ptr_or_opt(py, item) };
                Some(item.map(Entry::Item).ok_or_else(|| {
                    PySystemError::new_err(format!("item {index} is NULL (the sequence is still being built)"))
                }))
            }
            Items::DictStorage { dict, position } => {
                let (mut key, mut value) = (std::ptr::null_mut(), std::ptr::null_mut());
                // SAFETY: `dict` passed PyDict_Check (in `items`); PyDict_Next bounds `position` by the dict's current
                // table, so a dict changed since the last item is still read safely.
                if unsafe { ffi::PyDict_Next(dict.as_ptr(), position, &mut key, &mut value) } == 0 {
                    return None;
                }
                // Owned references: rendering the key may run library code that changes the dict.
                // SAFETY: PyDict_Next returned true: both are non-NULL pointers borrowed from the live dict, made
                // strong references at once.
                let (key, value) = unsafe { (Bound::from_borrowed_ptr(py, key), Bound::from_borrowed_ptr(py, value)) };
                Some(Ok(Entry::Pair(key, value)))
            }
            Items::Collected(items) => items.pop_back().map(Ok),
            Items::Iterated(iter) => iter.next().map(|item| item.map(Entry::Item)),
        }
    }
}
