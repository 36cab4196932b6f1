//! The objects registered with sys.monitoring: a native type whose vectorcall slot is the callback itself, bound to
//! its tracer.
//!
//! CPython calls a builtin function (a `PyCFunction`) through glue of its own, which looks the thread state up
//! again and checks the recursion limit on every call: about 50 instructions of each event on 3.12 (callgrind), a
//! sixth of what recording an event costs. An object with the vectorcall protocol is called directly.

use std::mem::offset_of;
use std::os::raw::{c_int, c_void};

use crate::gilcell::MadeOnce;
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyType;

use crate::compat;

/// A callback's object.
#[repr(C)]
struct CallbackObject {
    ob_base: ffi::PyObject,
    /// What CPython calls (`__vectorcalloffset__`): the callback of one event, for one tracer type.
    function: ffi::vectorcallfunc,
    /// The tracer, a strong reference; NULL once the collector has cleared the object.
    tracer: *mut ffi::PyObject,
}

static CALLBACK_TYPE: MadeOnce<Py<PyType>> = MadeOnce::new();

/// The type of the callbacks, made once per process.
fn callback_type(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    CALLBACK_TYPE
        .get_or_try_init(py, || {
            // CPython keeps pointers to the members (and to the name) for the type's life: made once, never freed.
            let members: &'static mut [ffi::PyMemberDef; 2] = Box::leak(Box::new([
                ffi::PyMemberDef {
                    name: c"__vectorcalloffset__".as_ptr(),
                    type_code: ffi::Py_T_PYSSIZET,
                    offset: offset_of!(CallbackObject, function) as ffi::Py_ssize_t,
                    flags: ffi::Py_READONLY,
                    doc: std::ptr::null(),
                },
                ffi::PyMemberDef::default(),
            ]));
            let mut slots = [
                ffi::PyType_Slot { slot: ffi::Py_tp_dealloc, pfunc: dealloc as *mut c_void },
                ffi::PyType_Slot { slot: ffi::Py_tp_traverse, pfunc: traverse as *mut c_void },
                ffi::PyType_Slot { slot: ffi::Py_tp_clear, pfunc: clear as *mut c_void },
                ffi::PyType_Slot { slot: ffi::Py_tp_call, pfunc: ffi::PyVectorcall_Call as *mut c_void },
                ffi::PyType_Slot { slot: ffi::Py_tp_members, pfunc: members.as_mut_ptr().cast() },
                ffi::PyType_Slot {
                    slot: ffi::Py_tp_doc,
                    pfunc: c"A sys.monitoring callback of a hunter tracer.".as_ptr().cast_mut().cast(),
                },
                ffi::PyType_Slot { slot: 0, pfunc: std::ptr::null_mut() },
            ];
            // Not instantiable from Python (a callback is only made bound to a tracer), nor changeable: assigning
            // `__call__` would drop the vectorcall flag (3.12).
            let sealed = compat::SEALED_TYPE_FLAGS
                .ok_or_else(|| PyRuntimeError::new_err("hunter: sys.monitoring callbacks need Python 3.12 or newer"))?;
            let flags = ffi::Py_TPFLAGS_DEFAULT | ffi::Py_TPFLAGS_HAVE_GC | ffi::Py_TPFLAGS_HAVE_VECTORCALL | sealed;
            let mut spec = ffi::PyType_Spec {
                name: c"hunter._hunter.MonitoringCallback".as_ptr(),
                basicsize: c_int::try_from(size_of::<CallbackObject>()).expect("a small struct"),
                itemsize: 0,
                flags: flags as std::os::raw::c_uint,
                slots: slots.as_mut_ptr(),
            };
            // SAFETY: attached (`py`); the spec and its slots are valid for the call, the name and members for the
            // process's life (a literal, leaked).
            let made = unsafe { Bound::from_owned_ptr_or_err(py, ffi::PyType_FromSpec(&mut spec))? };
            // SAFETY: PyType_FromSpec makes a type object.
            Ok::<_, PyErr>(unsafe { made.cast_into_unchecked::<PyType>() }.unbind())
        })
        .map(|made| made.bind(py))
}

/// A new callback calling `function` with `tracer`, which it holds.
pub(super) fn new_callback<'py>(
    function: ffi::vectorcallfunc,
    tracer: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = tracer.py();
    let kind = callback_type(py)?;
    // SAFETY: attached; `kind` is the callbacks' type, whose objects are `CallbackObject`s, allocated zeroed and
    // tracked by the collector (which finds a NULL tracer until it is set, with no Python code run in between).
    unsafe {
        let made = Bound::from_owned_ptr_or_err(py, ffi::PyType_GenericAlloc(kind.as_ptr().cast(), 0))?;
        let object = made.as_ptr().cast::<CallbackObject>();
        (*object).function = function;
        (*object).tracer = tracer.clone().into_ptr();
        Ok(made)
    }
}

/// The tracer a callback (`callable`, CPython's first vectorcall argument) is bound to, and its number of positional
/// arguments; or the answer to return: NULL with a TypeError for keyword arguments (only a caller by hand passes
/// them), None once the collector has cleared the callback.
///
/// # Safety
/// Attached, from a callback's vectorcall: `callable` a `CallbackObject`, `kwnames` NULL or a tuple.
#[inline(always)]
pub(super) unsafe fn receiver(
    callable: *mut ffi::PyObject,
    nargsf: usize,
    kwnames: *mut ffi::PyObject,
) -> Result<(*mut ffi::PyObject, ffi::Py_ssize_t), *mut ffi::PyObject> {
    // SAFETY: `kwnames` is NULL or a tuple (the vectorcall protocol).
    if !kwnames.is_null() && unsafe { ffi::PyTuple_GET_SIZE(kwnames) } != 0 {
        return Err(no_keywords());
    }
    // SAFETY: `callable` is a `CallbackObject` (this function's contract): only the vectorcall slot calls this.
    let tracer = unsafe { (*callable.cast::<CallbackObject>()).tracer };
    if tracer.is_null() {
        return Err(new_none());
    }
    // SAFETY: `nargsf` is a vectorcall's argument count, with flags.
    Ok((tracer, unsafe { ffi::PyVectorcall_NARGS(nargsf) }))
}

/// A new reference to None, a callback's usual answer.
pub(super) fn new_none() -> *mut ffi::PyObject {
    // SAFETY: attached (only the callbacks call this); None lives forever, and the new reference is the caller's to
    // return.
    unsafe {
        let none = ffi::Py_None();
        ffi::Py_INCREF(none);
        none
    }
}

#[cold]
fn no_keywords() -> *mut ffi::PyObject {
    // SAFETY: attached (only `receiver` calls this).
    let py = unsafe { Python::assume_attached() };
    PyTypeError::new_err("hunter: a sys.monitoring callback takes no keyword arguments").restore(py);
    std::ptr::null_mut()
}

/// # Safety
/// `tp_traverse` of `CallbackObject`s.
unsafe extern "C" fn traverse(object: *mut ffi::PyObject, visit: ffi::visitproc, arg: *mut c_void) -> c_int {
    // SAFETY: `object` is a live `CallbackObject` (tp_traverse's contract); a heap type's instances visit their type.
    unsafe {
        let tracer = (*object.cast::<CallbackObject>()).tracer;
        if !tracer.is_null() {
            let visited = visit(tracer, arg);
            if visited != 0 {
                return visited;
            }
        }
        visit(ffi::Py_TYPE(object).cast(), arg)
    }
}

/// # Safety
/// `tp_clear` of `CallbackObject`s.
unsafe extern "C" fn clear(object: *mut ffi::PyObject) -> c_int {
    // SAFETY: `object` is a live `CallbackObject` (tp_clear's contract). The field is emptied before the tracer is
    // released, which may run Python code that reaches this callback again.
    unsafe {
        let tracer = std::mem::replace(&mut (*object.cast::<CallbackObject>()).tracer, std::ptr::null_mut());
        if !tracer.is_null() {
            ffi::Py_DECREF(tracer);
        }
    }
    0
}

/// # Safety
/// `tp_dealloc` of `CallbackObject`s.
unsafe extern "C" fn dealloc(object: *mut ffi::PyObject) {
    // SAFETY: `object` is a `CallbackObject` whose last reference is gone (tp_dealloc's contract), allocated by
    // `PyType_GenericAlloc` (so freed by `PyObject_GC_Del`); its heap type loses the reference it had.
    unsafe {
        let kind = ffi::Py_TYPE(object);
        ffi::PyObject_GC_UnTrack(object.cast());
        clear(object);
        ffi::PyObject_GC_Del(object.cast());
        ffi::Py_DECREF(kind.cast());
    }
}
