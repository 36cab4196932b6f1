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
