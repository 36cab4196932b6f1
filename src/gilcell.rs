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

    /// Runs `change` on the value in place. `change` must not call into Python (which could re-enter), nor
    /// create Python objects (which can start a garbage collection, whose `__traverse__` reads the cell).
    #[inline]
    pub fn with_mut<R>(&self, _py: Python<'_>, change: impl FnOnce(&mut T) -> R) -> R {
        change(unsafe { &mut *self.0.get() })
    }
}

impl<T> GilCell<T> {
    /// The value, for a `__traverse__` of the garbage collector, which runs with the GIL held but may not
    /// take a `Python` token.
    ///
    /// # Safety
    /// Only from `__traverse__`: the collector holds the GIL, and no `with_mut` of this cell is in progress
    /// (its closures create no Python objects, so no collection starts inside one).
    pub unsafe fn during_gc(&self) -> &T {
        // SAFETY: the GIL is held (the caller's contract) and nothing writes the cell during a collection.
        unsafe { &*self.0.get() }
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

    /// The value, for a `__traverse__` of the garbage collector (see [`GilCell::during_gc`]).
    ///
    /// # Safety
    /// Only from `__traverse__`, where the collector holds the GIL.
    pub unsafe fn during_gc(&self) -> Option<&T> {
        // SAFETY: the GIL is held; `set` writes only an empty cell and creates no Python objects on the way,
        // so no collection runs while it writes.
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

/// The slot of `key` in a direct-mapped cache of `SLOTS` entries (a power of two), by Fibonacci hashing: the
/// keys are addresses or bit patterns whose low bits are much alike.
#[inline]
pub fn cache_slot<const SLOTS: usize>(key: u64) -> usize {
    const { assert!(SLOTS.is_power_of_two()) };
    (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - SLOTS.trailing_zeros())) as usize
}

/// A shared value counted without atomic operations, for state only touched with the GIL held. An `Arc`
/// clone and drop (two locked instructions) cost more than the rest of handling an event that is rejected,
/// and events clone several (options, code facts, repr heads).
pub struct GilRc<T: ?Sized>(std::rc::Rc<T>);

// SAFETY: counts change only in `clone_ref` (which takes the GIL token) and in drops, and every holder lives in
// GIL-guarded state (`GilCell`s, code object extras, pyclass fields) or on the stack of a call that holds the
// GIL, and is dropped there: no two threads ever touch the counts at once.
unsafe impl<T: ?Sized + Send + Sync> Send for GilRc<T> {}
unsafe impl<T: ?Sized + Send + Sync> Sync for GilRc<T> {}

impl<T> GilRc<T> {
    pub fn new(value: T) -> Self {
        Self(std::rc::Rc::new(value))
    }

    /// Gives up this reference as a raw pointer, for storage outside of Rust (see `from_raw`).
    pub fn into_raw(this: Self) -> *const T {
        std::rc::Rc::into_raw(this.0)
    }

    /// # Safety
    /// `ptr` must come from `into_raw`, and its reference not be taken back twice.
    pub unsafe fn from_raw(ptr: *const T) -> Self {
        Self(unsafe { std::rc::Rc::from_raw(ptr) })
    }

    /// A new reference to the value at `ptr`, which a reference given up by `into_raw` keeps alive.
    ///
    /// # Safety
    /// As for `from_raw`, and that reference must still be outstanding.
    pub unsafe fn clone_raw(_py: Python<'_>, ptr: *const T) -> Self {
        unsafe { std::rc::Rc::increment_strong_count(ptr) };
        unsafe { Self::from_raw(ptr) }
    }
}

impl<T: ?Sized> GilRc<T> {
    #[inline]
    pub fn clone_ref(&self, _py: Python<'_>) -> Self {
        Self(self.0.clone())
    }

    pub fn as_ptr(this: &Self) -> *const T {
        std::rc::Rc::as_ptr(&this.0)
    }
}

impl<T: ?Sized> std::ops::Deref for GilRc<T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        &self.0
    }
}

impl From<&str> for GilRc<str> {
    fn from(text: &str) -> Self {
        Self(text.into())
    }
}

impl From<String> for GilRc<str> {
    fn from(text: String) -> Self {
        Self(text.into())
    }
}

impl<T: ?Sized> GilCell<Option<GilRc<T>>> {
    /// A new reference to the stored value, if any.
    #[inline]
    pub fn clone_shared(&self, py: Python<'_>) -> Option<GilRc<T>> {
        unsafe { (*self.0.get()).as_ref().map(|value| value.clone_ref(py)) }
    }
}
