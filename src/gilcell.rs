//! State shared between the trace hook and Python-visible objects, guarded by the GIL.
//!
//! The module is declared `gil_used`, so every access happens with the interpreter attached and the GIL
//! held; a `Python` token is required as proof. Values are only ever copied in or out (never borrowed
//! across a call into Python), so re-entrant access from a handler that calls back into us is sound.

use std::cell::UnsafeCell;

use pyo3::prelude::*;

pub struct GilCell<T>(UnsafeCell<T>);

// SAFETY: all access goes through methods that require the GIL (a `Python` token) and never hand out a
// reference that outlives the method call.
unsafe impl<T: Send> Sync for GilCell<T> {}

impl<T> GilCell<T> {
    pub const fn new(value: T) -> Self {
        Self(UnsafeCell::new(value))
    }

    pub fn replace(&self, _py: Python<'_>, value: T) -> T {
        unsafe { std::mem::replace(&mut *self.0.get(), value) }
    }

    /// Runs `change` on the value in place. `change` must not call into Python (which could re-enter).
    #[inline]
    pub fn with_mut<R>(&self, _py: Python<'_>, change: impl FnOnce(&mut T) -> R) -> R {
        change(unsafe { &mut *self.0.get() })
    }
}

impl<T: Copy> GilCell<T> {
    #[inline]
    pub fn get(&self, _py: Python<'_>) -> T {
        unsafe { *self.0.get() }
    }

    #[inline]
    pub fn set(&self, _py: Python<'_>, value: T) {
        unsafe { *self.0.get() = value }
    }
}

impl<T: Clone> GilCell<T> {
    /// A copy of the value; `T::clone` must not call into Python (true for Rust-only types such as `Arc`).
    #[inline]
    pub fn get_cloned(&self, _py: Python<'_>) -> T {
        unsafe { (*self.0.get()).clone() }
    }
}

impl<T> GilCell<Option<Py<T>>> {
    /// A new strong reference to the stored object, if any.
    #[inline]
    pub fn clone_ref(&self, py: Python<'_>) -> Option<Py<T>> {
        unsafe { (*self.0.get()).as_ref().map(|obj| obj.clone_ref(py)) }
    }

    /// The stored pointer without touching its reference count; valid until the next `replace`.
    #[inline]
    pub fn as_ptr(&self, _py: Python<'_>) -> *mut pyo3::ffi::PyObject {
        unsafe { (*self.0.get()).as_ref().map_or(std::ptr::null_mut(), Py::as_ptr) }
    }
}

/// A value set at most once, guarded by the GIL. Unlike `GilCell` it hands out references: a value,
/// once there, is never replaced or moved until the cell itself is dropped or consumed. Cheaper than
/// `OnceLock`, which synchronises with atomics the GIL makes unnecessary (events fill several per event).
pub struct GilOnce<T>(UnsafeCell<Option<T>>);

// SAFETY: all access requires the GIL; the stored value is written only while the cell is empty, when
// no reference into it can exist.
unsafe impl<T: Send> Sync for GilOnce<T> {}

impl<T> Default for GilOnce<T> {
    fn default() -> Self {
        Self(UnsafeCell::new(None))
    }
}

impl<T> From<T> for GilOnce<T> {
    fn from(value: T) -> Self {
        Self(UnsafeCell::new(Some(value)))
    }
}

impl<T> GilOnce<T> {
    #[inline]
    pub fn get(&self, _py: Python<'_>) -> Option<&T> {
        unsafe { (*self.0.get()).as_ref() }
    }

    /// Stores `value` unless a value is already there (a re-entrant caller may have got there first; its
    /// value is kept and `value` dropped). Returns the stored value.
    pub fn set(&self, py: Python<'_>, value: T) -> &T {
        if self.get(py).is_none() {
            unsafe { *self.0.get() = Some(value) };
        }
        self.get(py).expect("stored above")
    }
}
