//! Predicates nest as deep as a program builds them (`Not(Not(...))`, `When(When(...), action)`), and every native
//! walk over them (evaluating an event, a verdict, freeing one) would go one native stack frame deeper per level, until
//! the stack overflows. Walks are bounded as Python bounds recursion, and by the stack the thread has left
//! ([`Nested`]); freeing is iterative ([`Operand`]).

use std::sync::atomic::{AtomicU32, Ordering};

use pyo3::exceptions::PyRecursionError;
use pyo3::prelude::*;

use crate::gilcell::GilCell;

/// How many predicates deep a native walk goes; hunter's pure build stops near here too (Python's recursion limit).
const MAX_NESTING: u32 = 1000;

/// The predicates walked into now, on all threads together (a walk that runs Python code lets other threads walk
/// meanwhile): a bound, not a depth.
static WALKED_INTO: AtomicU32 = AtomicU32::new(0);

/// One level of a native walk into a predicate's operands, held while the walk is inside it.
pub(crate) struct Nested(());

impl Nested {
    /// Enters one more level; a `RecursionError` (as hunter's pure build raises) past [`MAX_NESTING`].
    #[inline]
    pub(crate) fn enter() -> PyResult<Nested> {
        Nested::try_enter()
            .ok_or_else(|| PyRecursionError::new_err("maximum recursion depth exceeded in nested predicates"))
    }

    /// Enters one more level, or None past [`MAX_NESTING`] or near the end of the thread's stack (for walks that
    /// answer conservatively instead).
    #[inline]
    pub(crate) fn try_enter() -> Option<Nested> {
        if WALKED_INTO.fetch_add(1, Ordering::Relaxed) >= MAX_NESTING || !stack_left_for_a_level() {
            WALKED_INTO.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        Some(Nested(()))
    }
}

/// More than a level of a walk uses of the stack (an unoptimised build's `__repr__` level, the largest, takes some
/// 5 KiB): a thread with less left goes no deeper. Small, as threads may have as little as 32 KiB in all.
#[cfg(target_os = "linux")]
const STACK_RESERVE: usize = 16 * 1024;

/// Whether the running thread's stack has [`STACK_RESERVE`] left below this call: threads may have small stacks
/// (`threading.stack_size()`), where [`MAX_NESTING`] levels do not fit.
#[cfg(target_os = "linux")]
fn stack_left_for_a_level() -> bool {
    use std::cell::Cell;

    thread_local! {
        /// The lowest address of this thread's stack; 0 until looked up, `usize::MAX` when it cannot be.
        static STACK_END: Cell<usize> = const { Cell::new(0) };
    }
    let marker = 0u8;
    let here = std::hint::black_box(std::ptr::addr_of!(marker)) as usize;
    let end = STACK_END
        .try_with(|end| {
            if end.get() == 0 {
                end.set(thread_stack_end().unwrap_or(usize::MAX));
            }
            end.get()
        })
        .unwrap_or(usize::MAX);
    // Unknown: only the count bounds the walk.
    end == usize::MAX || here.saturating_sub(end) > STACK_RESERVE
}

/// The lowest address of the running thread's stack (it grows down on every Linux target Python runs on).
#[cfg(target_os = "linux")]
fn thread_stack_end() -> Option<usize> {
    let mut attributes = std::mem::MaybeUninit::<libc::pthread_attr_t>::uninit();
    // SAFETY: `attributes` is written by pthread_getattr_np before it is read, and destroyed once after it succeeded;
    // the stack address and size are plain outputs.
    unsafe {
        if libc::pthread_getattr_np(libc::pthread_self(), attributes.as_mut_ptr()) != 0 {
            return None;
        }
        let mut address = std::ptr::null_mut();
        let mut size = 0;
        let found = libc::pthread_attr_getstack(attributes.as_ptr(), &mut address, &mut size);
        libc::pthread_attr_destroy(attributes.as_mut_ptr());
        (found == 0).then_some(address as usize)
    }
}

#[cfg(not(target_os = "linux"))]
fn stack_left_for_a_level() -> bool {
    true
}

impl Drop for Nested {
    #[inline]
    fn drop(&mut self) {
        WALKED_INTO.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A predicate's operand (another predicate, or any callable). Freeing the last reference to a predicate frees its
/// operands, which may free theirs: the release of one that is freed while another is being freed waits for the
/// outer one, which frees them in turn (as CPython's trashcan does for containers).
pub(crate) struct Operand(Option<Py<PyAny>>);

/// The operands whose release waits for the outer one in progress; None when no release is in progress.
static WAITING: GilCell<Option<Vec<Py<PyAny>>>> = GilCell::new(None);

impl Operand {
    pub(crate) fn new(object: Py<PyAny>) -> Operand {
        Operand(Some(object))
    }
}

impl std::ops::Deref for Operand {
    type Target = Py<PyAny>;

    fn deref(&self) -> &Py<PyAny> {
        self.0.as_ref().expect("hunter: an operand is only taken when it is dropped")
    }
}

impl Drop for Operand {
    fn drop(&mut self) {
        let Some(object) = self.0.take() else { return };
        // Predicates are freed attached (their deallocation, or a failed construction in native code).
        Python::attach(|py| match WAITING.replace(py, None) {
            Some(mut waiting) => {
                waiting.push(object);
                WAITING.replace(py, Some(waiting));
            }
            None => {
                WAITING.replace(py, Some(Vec::new()));
                let mut next = Some(object);
                while let Some(object) = next {
                    // May free predicates whose operands join the waiting ones.
                    drop(object);
                    let mut waiting = WAITING.replace(py, None).unwrap_or_default();
                    next = waiting.pop();
                    WAITING.replace(py, Some(waiting));
                }
                WAITING.replace(py, None);
            }
        });
    }
}
