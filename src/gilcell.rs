//! State shared between the trace hook and Python-visible objects, guarded by the GIL.
//!
//! The module is declared `gil_used`, so every access happens with the interpreter attached and the GIL
//! held; a `Python` token is required as proof. `GilCell` values are only ever moved or copied in or out (no
//! reference into one outlives a method, and no method runs Python code), so re-entrant access from a handler that
//! calls back into us is sound. `GilRefCell` lends its value out for an update, and detects re-entrance.

use std::cell::{Cell, UnsafeCell};

use pyo3::prelude::*;

pub struct GilCell<T>(UnsafeCell<T>);

// SAFETY: all access goes through methods that require the GIL (a `Python` token) and never hand out a
// reference that outlives the method call.
unsafe impl<T: Send> Sync for GilCell<T> {}

impl<T: Default> Default for GilCell<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T> GilCell<T> {
    pub const fn new(value: T) -> Self {
        Self(UnsafeCell::new(value))
    }

    /// Puts `value` in, handing back the previous one (released by the caller: that can run Python code).
    pub fn replace(&self, _py: Python<'_>, value: T) -> T {
        // SAFETY: the GIL is held and no reference into the cell exists outside of this call.
        unsafe { std::mem::replace(&mut *self.0.get(), value) }
    }
}

/// A GIL-guarded value updated in place (`with_mut`): for tables too large to move in and out on each access.
///
/// An update should reach no Python code, yet nothing stops it: a closure can capture a `Python` token, and dropping
/// a `Py` runs `__del__`, which can call back into us and reach this cell again. Such a re-entrant access panics
/// (and the callbacks report the panic and stop tracing) instead of aliasing the value being updated.
pub struct GilRefCell<T> {
    value: UnsafeCell<T>,
    updating: Cell<bool>,
}

// SAFETY: all access requires the GIL (a `Python` token); `updating` guards the one reference ever lent out.
unsafe impl<T: Send> Sync for GilRefCell<T> {}

/// Clears `updating` when the update ends, also by a panic.
struct Updating<'a>(&'a Cell<bool>);

impl Drop for Updating<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

impl<T> GilRefCell<T> {
    pub const fn new(value: T) -> Self {
        Self { value: UnsafeCell::new(value), updating: Cell::new(false) }
    }

    fn start_update(&self) -> Updating<'_> {
        assert!(!self.updating.replace(true), "hunter: re-entrant access to a value being updated");
        Updating(&self.updating)
    }

    /// Runs `change` on the value in place. Panics when called from inside another update of this cell.
    /// `change` should create no Python objects (which can start a garbage collection, whose `__traverse__`
    /// then finds the value lent out and skips it).
    #[inline]
    pub fn with_mut<R>(&self, _py: Python<'_>, change: impl FnOnce(&mut T) -> R) -> R {
        let _updating = self.start_update();
        // SAFETY: the GIL is held, and `updating` proves that no other reference to the value exists.
        change(unsafe { &mut *self.value.get() })
    }

    /// Puts `value` in, handing back the previous one. Panics when called from inside an update of this cell.
    pub fn replace(&self, py: Python<'_>, value: T) -> T {
        self.with_mut(py, |current| std::mem::replace(current, value))
    }

    /// The value, for a `__traverse__` of the garbage collector; None while an update has it lent out (a
    /// collection started by an update that created a Python object: its objects are then not visited, which
    /// only delays collecting a cycle through them).
    ///
    /// # Safety
    /// Only from `__traverse__`, where the collector holds the GIL.
    pub unsafe fn during_gc(&self) -> Option<&T> {
        // SAFETY: the GIL is held, and `updating` is false, so no reference to the value is lent out.
        (!self.updating.get()).then(|| unsafe { &*self.value.get() })
    }
}

impl<T> GilCell<T> {
    /// The value, for a `__traverse__` of the garbage collector, which runs with the GIL held but may not
    /// take a `Python` token.
    ///
    /// # Safety
    /// Only from `__traverse__`: the collector holds the GIL, and a `GilCell` lends no reference out (its
    /// methods move or copy values and create no Python objects, so no collection starts inside one).
    pub unsafe fn during_gc(&self) -> &T {
        // SAFETY: the GIL is held (the caller's contract) and nothing writes the cell during a collection.
        unsafe { &*self.0.get() }
    }
}

impl<T: Copy> GilCell<T> {
    #[inline]
    pub fn get(&self, _py: Python<'_>) -> T {
        // SAFETY: the GIL is held (`_py`), and a `GilCell` never lends a reference out past one of its methods, so this
        // read aliases no `&mut`.
        unsafe { *self.0.get() }
    }

    #[inline]
    pub fn set(&self, _py: Python<'_>, value: T) {
        // SAFETY: the GIL is held (`_py`) and no reference into the cell exists (none outlives a method call); a `Copy`
        // value has no drop that could run code.
        unsafe { *self.0.get() = value }
    }
}

impl<T> GilCell<Option<Py<T>>> {
    /// A new strong reference to the stored object, if any.
    #[inline]
    pub fn clone_ref(&self, py: Python<'_>) -> Option<Py<T>> {
        // SAFETY: the GIL is held (`py`); the shared reference lives only for this call, and `Py::clone_ref` (an
        // incref) runs no Python code that could reach the cell meanwhile.
        unsafe { (*self.0.get()).as_ref().map(|obj| obj.clone_ref(py)) }
    }

    /// The stored pointer without touching its reference count; valid until the next `replace`.
    #[inline]
    pub fn as_ptr(&self, _py: Python<'_>) -> *mut pyo3::ffi::PyObject {
        // SAFETY: the GIL is held (`_py`) and the shared reference lives only for this call, which runs no other code.
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
        // SAFETY: the GIL is held (`_py`); a stored value is never replaced or moved while the cell lives (`set` writes
        // only an empty cell), so the reference stays valid for `&self`.
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
            // SAFETY: the GIL is held (`py`) and the cell is empty, so no reference into it was ever handed out (`get`
            // lends only a stored value); nothing between the check and the write runs Python code.
            unsafe { *self.0.get() = Some(value) };
        }
        self.get(py).expect("stored above")
    }
}

/// A value made once for the process, by code that may run Python code (an import, an attribute lookup), which is
/// not waited for: a thread that finds it not made yet makes it too, and the first value stored is kept (the others
/// dropped). `PyOnceLock` makes the others wait, which a forked child whose parent was making it (another of its
/// threads had let the GIL go meanwhile) does for ever: its first event hung.
pub struct MadeOnce<T>(std::sync::OnceLock<T>);

impl<T> MadeOnce<T> {
    pub const fn new() -> Self {
        MadeOnce(std::sync::OnceLock::new())
    }

    /// The value, if made already.
    pub fn get(&self, _py: Python<'_>) -> Option<&T> {
        self.0.get()
    }

    /// The value, made by `make` if there is none yet.
    pub fn get_or_try_init<E>(&self, _py: Python<'_>, make: impl FnOnce() -> Result<T, E>) -> Result<&T, E> {
        if let Some(value) = self.0.get() {
            return Ok(value);
        }
        let made = make()?;
        // Storing runs no Python code: nothing can fork or wait meanwhile. Another thread's value, stored first,
        // wins; this one is dropped (attached: `_py`).
        drop(self.0.set(made));
        Ok(self.0.get().expect("stored above"))
    }

    /// [`MadeOnce::get_or_try_init`] of a `make` that cannot fail.
    pub fn get_or_init(&self, py: Python<'_>, make: impl FnOnce() -> T) -> &T {
        match self.get_or_try_init(py, || Ok::<T, std::convert::Infallible>(make())) {
            Ok(value) => value,
            Err(never) => match never {},
        }
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
// SAFETY: as for `Send` just above: the counts are only touched with the GIL held.
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
        // SAFETY: `ptr` came from `into_raw` and its reference is taken back only once (the caller's contract).
        Self(unsafe { std::rc::Rc::from_raw(ptr) })
    }

    /// A new reference to the value at `ptr`, which a reference given up by `into_raw` keeps alive.
    ///
    /// # Safety
    /// As for `from_raw`, and that reference must still be outstanding.
    pub unsafe fn clone_raw(_py: Python<'_>, ptr: *const T) -> Self {
        // SAFETY: the reference given up by `into_raw` is still outstanding (the caller's contract), so the value is
        // alive; the GIL (`_py`) serialises the non-atomic count.
        unsafe { std::rc::Rc::increment_strong_count(ptr) };
        // SAFETY: `ptr` came from `into_raw`, and this takes back the reference counted just above, not the outstanding
        // one.
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
        // SAFETY: the GIL is held (`py`); the shared reference lives only for this call, and `GilRc::clone_ref` runs no
        // Python code.
        unsafe { (*self.0.get()).as_ref().map(|value| value.clone_ref(py)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_re_entrant_update_panics_instead_of_aliasing() {
        Python::attach(|py| {
            let cell = GilRefCell::new(vec![1]);
            let nested = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                cell.with_mut(py, |outer| {
                    outer.push(2);
                    cell.with_mut(py, |inner| inner.clear());
                })
            }));
            assert!(nested.is_err());
            // The update that panicked released the cell.
            assert_eq!(cell.with_mut(py, |value| value.clone()), vec![1, 2]);
            assert_eq!(cell.replace(py, vec![3]), vec![1, 2]);
        });
    }
}
