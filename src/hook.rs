//! What a trace hook hands the engine, whichever backend it is: where an event happens (`EventSite`), its
//! argument (`EventArg`), what the engine answers (`Handled`), and the choice of backend (`Backend`).
//! A leaf: the engine and both backends (`settrace.rs`, `monitoring.rs`) speak it.

use pyo3::exceptions::PyValueError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyCode, PyFrame, PyTuple};

use crate::compat;

/// Which backend a tracer uses.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Backend {
    Settrace,
    Monitoring,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Settrace => "settrace",
            Backend::Monitoring => "monitoring",
        }
    }

    /// Resolves `backend=` (else `PYTHONHUNTERBACKEND`, else "auto"); returns the backend and whether it was
    /// "auto" (which prefers monitoring on 3.12+ and may fall back to settrace).
    pub fn choose(py: Python<'_>, requested: Option<&str>) -> PyResult<(Backend, bool)> {
        let from_environment = std::env::var("PYTHONHUNTERBACKEND").ok().filter(|value| !value.trim().is_empty());
        let (value, source) = match requested {
            Some(value) => (value.to_owned(), "backend"),
            None => (from_environment.unwrap_or_else(|| "auto".to_owned()), "PYTHONHUNTERBACKEND"),
        };
        match value.trim() {
            "auto" if compat::HAS_SYS_MONITORING => Ok((Backend::Monitoring, true)),
            "auto" => Ok((Backend::Settrace, true)),
            "settrace" => Ok((Backend::Settrace, false)),
            "monitoring" if compat::HAS_SYS_MONITORING => Ok((Backend::Monitoring, false)),
            "monitoring" => {
                let version = py.version_info();
                Err(PyValueError::new_err(format!(
                    "The 'monitoring' backend needs sys.monitoring (Python 3.12 or newer); this is Python {}.{}. \
                     Use backend='settrace' or 'auto'.",
                    version.major, version.minor
                )))
            }
            other => Err(PyValueError::new_err(format!(
                "Invalid {source} value {other:?}: must be one of 'auto', 'monitoring' or 'settrace'."
            ))),
        }
    }
}

/// Where an event happens: its code and globals (enough to reject it), and its frame, which the
/// monitoring backend only materialises for events that are not rejected. Valid for one callback: the
/// pointers are borrowed from the running frame. Only built from a checked frame, or from an object that
/// passed `PyCode_Check`, so `code` is always a code object.
#[derive(Clone, Copy)]
pub(crate) struct EventSite {
    code: *mut ffi::PyObject,
    /// The frame's globals; NULL for a monitoring callback's site, whose running frame's are read on demand (an
    /// event recorded without a verdict never needs them).
    globals: *mut ffi::PyObject,
    frame: *mut ffi::PyFrameObject,
}

impl EventSite {
    pub fn of_frame(frame: Borrowed<'_, '_, PyFrame>) -> Self {
        EventSite {
            code: compat::frame_code(frame),
            globals: compat::frame_globals(frame),
            frame: frame.as_ptr().cast(),
        }
    }

    /// The site of the frame executing `code` (a sys.monitoring callback's), without materialising it yet;
    /// None when `code` is not a code object, or NULL (the callback was called by hand, with fewer arguments).
    ///
    /// # Safety
    /// Must be called inside a monitoring callback, attached, with `code` a live object or NULL.
    pub unsafe fn of_running_code(code: *mut ffi::PyObject) -> Option<Self> {
        // SAFETY: attached (the caller's invariant); `code` is checked for NULL before PyCode_Check reads its type.
        unsafe {
            (!code.is_null() && ffi::PyCode_Check(code) != 0).then_some(EventSite {
                code,
                globals: std::ptr::null_mut(),
                frame: std::ptr::null_mut(),
            })
        }
    }

    /// The code object of the event.
    #[inline]
    pub fn code<'a, 'py>(&self, py: Python<'py>) -> Borrowed<'a, 'py, PyCode> {
        // SAFETY: the constructors only take code objects, borrowed for the callback's duration.
        unsafe { Borrowed::from_ptr(py, self.code).cast_unchecked() }
    }

    /// The globals the code runs with (a dict, or NULL for a hand-called monitoring callback with no frame).
    #[inline]
    pub fn globals(&self) -> *mut ffi::PyObject {
        if self.globals.is_null() {
            // SAFETY: a site is used inside the callback it was made for, attached (its constructors' contract), where
            // the running frame is the event's whenever the engine asks (the handler's own frames have returned).
            unsafe { ffi::PyEval_GetGlobals() }
        } else {
            self.globals
        }
    }

    /// The running frame of the event, as identities (`compat::RunningFrame`): from the site's own frame object, or
    /// (monitoring) from the thread's running frame, without making a frame object for it.
    #[inline]
    pub fn running_frame(&self, py: Python<'_>) -> Option<crate::compat::RunningFrame> {
        if self.frame.is_null() {
            crate::compat::running_frame(py)
        } else {
            // SAFETY: a frame of this callback (borrowed from CPython for its duration), checked by the constructor.
            let frame = unsafe { Borrowed::from_ptr(py, self.frame.cast()).cast_unchecked::<PyFrame>() };
            Some(crate::compat::running_frame_of(frame))
        }
    }

    /// The running frame of the event: the site's own, or (monitoring) the thread's current one.
    pub fn frame<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyFrame>> {
        // SAFETY: attached (`py`); PyEval_GetFrame gives the running frame of this callback, borrowed, or NULL.
        let frame = if self.frame.is_null() { unsafe { ffi::PyEval_GetFrame() } } else { self.frame };
        // SAFETY: a frame of this callback (borrowed from CPython for its duration), or NULL.
        unsafe { Bound::from_borrowed_ptr_or_opt(py, frame.cast()).map(|frame| frame.cast_into_unchecked()) }
    }
}

/// An event's `arg` as a backend has it: the object itself, or (sys.monitoring) the raised exception that
/// settrace would have passed as an `(type, value, traceback)` tuple, or the method a builtin's call runs, unbound.
#[derive(Clone, Copy)]
pub(crate) enum EventArg {
    Object(*mut ffi::PyObject),
    Raised(*mut ffi::PyObject),
    /// (sys.monitoring, profile mode) A method descriptor called on an instance of its type: settrace passes the builtin
    /// method it binds to, made only where the event is given to Python code (a timeline records the call as it is).
    /// A pointer, so that an `EventArg` stays two words, passed in registers through the hot path.
    Method(*const MethodCall),
}

/// A method descriptor called on `instance`, an instance of the descriptor's type, `method` the method it runs
/// (`compat::method_descriptor_method`): what [`EventArg::Method`] points to.
pub(crate) struct MethodCall {
    pub descriptor: *mut ffi::PyObject,
    pub instance: *mut ffi::PyObject,
    pub method: usize,
}

impl EventArg {
    /// The event's `arg` as settrace passes it: the object (None for NULL), or for a raised exception the
    /// `(type, value, traceback)` tuple.
    ///
    /// # Safety
    /// Attached; the pointer must be NULL or an object held for the callback (a raised exception: non-NULL), or a
    /// method call alive for the callback.
    pub unsafe fn to_object<'py>(self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        match self {
            // SAFETY: NULL or an object held for the callback (this function's contract).
            EventArg::Object(object) => Ok(unsafe { Bound::from_borrowed_ptr_or_opt(py, object) }),
            EventArg::Raised(exception) => {
                // SAFETY: a live object held for the callback (any type: only attributes are read).
                let exception = unsafe { Bound::from_borrowed_ptr(py, exception) };
                let traceback = exception.getattr(pyo3::intern!(py, "__traceback__"))?;
                Ok(Some(PyTuple::new(py, [exception.get_type().into_any(), exception, traceback])?.into_any()))
            }
            EventArg::Method(call) => {
                // SAFETY: a method call alive for the callback, of a method descriptor and an instance of its type held
                // for it (this function's contract); the descriptor type's `tp_descr_get` (method_get) binds it as
                // CPython's profiler does, answering a new reference or NULL with an exception set.
                unsafe {
                    let MethodCall { descriptor, instance, .. } = *call;
                    let get = (*ffi::Py_TYPE(descriptor)).tp_descr_get;
                    let Some(get) = get else { return Ok(None) };
                    let bound = get(descriptor, instance, ffi::Py_TYPE(instance).cast());
                    Bound::from_owned_ptr_or_err(py, bound).map(Some)
                }
            }
        }
    }

    /// An `exception` event's exception type, read without running Python code: the raised exception's class, or
    /// item 0 of settrace's `(type, value, traceback)` tuple. None when `arg` is neither.
    ///
    /// # Safety
    /// As for [`EventArg::to_object`].
    pub unsafe fn exception_type<'py>(self, py: Python<'py>) -> Option<Bound<'py, PyAny>> {
        match self {
            // SAFETY: NULL or an object held for the callback (this function's contract).
            EventArg::Object(object) => unsafe { Bound::from_borrowed_ptr_or_opt(py, object) }
                .and_then(|arg| arg.cast_into::<PyTuple>().ok())
                .and_then(|tuple| tuple.get_item(0).ok()),
            EventArg::Raised(exception) => {
                // SAFETY: a live object held for the callback (this function's contract).
                let exception = unsafe { Bound::from_borrowed_ptr(py, exception) };
                Some(exception.get_type().into_any())
            }
            EventArg::Method(_) => None,
        }
    }
}

/// What a callback tells CPython after an event.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Handled {
    /// The per-code verdict rejected it: no event of this kind at this site can have an effect.
    Rejected,
    /// The handler ran, or the event could not be handled (the interpreter is finalizing).
    Delivered,
    /// Handling it failed: that was reported and the tracer stopped.
    Failed,
    /// The handler raised what belongs to the program (`SystemExit`...): it is set as the current exception, and
    /// the callback must return an error so that the program gets it.
    Raise,
}
