//! Every CPython version difference (3.9 - 3.13) the native core depends on lives here.
//!
//! Frame layouts are only ever read through a `Bound<PyFrame>` (or `Borrowed`): pyo3 gives that type only to
//! objects that passed `PyFrame_Check`, so no object Python code supplies (an event's replaceable `frame`)
//! can be read with a frame's layout. Everything else an event's frame can be is read through attributes.
//!
//! In portable mode (`cfg(hunter_portable)`, see build.rs and the block at the end of this file) no layout is
//! read: frames, code objects and types are read through CPython's public C API only.

use std::os::raw::c_int;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFrame};

/// The leading fields of `PyFrameObject` on 3.9 and 3.10, which have no accessor functions there.
/// The layout is fixed within those minor versions (Include/cpython/frameobject.h).
#[cfg(all(not(Py_3_11), not(hunter_portable)))]
#[repr(C)]
struct FrameHead {
    ob_base: ffi::PyVarObject,
    f_back: *mut ffi::PyObject,
    f_code: *mut ffi::PyObject,
    f_builtins: *mut ffi::PyObject,
    f_globals: *mut ffi::PyObject,
}

/// The leading fields of `PyFrameObject` from 3.11 on: its data lives in an interpreter frame
/// (Include/internal/pycore_frame.h, the same within a minor version).
#[allow(dead_code)] // a layout: not every field is read
#[cfg(all(Py_3_11, not(hunter_portable)))]
#[repr(C)]
struct FrameHead {
    ob_base: ffi::PyObject,
    f_back: *mut ffi::PyObject,
    f_frame: *const InterpreterFrameHead,
}

/// 3.11's `_PyInterpreterFrame`, up to its fast locals.
#[allow(dead_code)] // a layout: not every field is read
#[cfg(all(Py_3_11, not(Py_3_12), not(hunter_portable)))]
#[repr(C)]
struct InterpreterFrameHead {
    f_func: *mut ffi::PyObject,
    f_globals: *mut ffi::PyObject,
    f_builtins: *mut ffi::PyObject,
    f_locals: *mut ffi::PyObject,
    f_code: *mut ffi::PyObject,
    frame_obj: *mut ffi::PyObject,
    previous: *const InterpreterFrameHead,
    prev_instr: *const u16,
    stacktop: c_int,
    is_entry: bool,
    owner: std::os::raw::c_char,
    localsplus: [*mut ffi::PyObject; 0],
}

/// `_PyInterpreterFrame` from 3.12 on, up to its fast locals (3.13 calls `f_code` `f_executable`, and
/// `prev_instr` `instr_ptr`; `f_code` is the code object of every frame that has a frame object).
#[allow(dead_code)] // a layout: not every field is read
#[cfg(all(Py_3_12, not(hunter_portable)))]
#[repr(C)]
struct InterpreterFrameHead {
    f_code: *mut ffi::PyObject,
    previous: *const InterpreterFrameHead,
    f_funcobj: *mut ffi::PyObject,
    f_globals: *mut ffi::PyObject,
    f_builtins: *mut ffi::PyObject,
    f_locals: *mut ffi::PyObject,
    frame_obj: *mut ffi::PyObject,
    prev_instr: *const u16,
    stacktop: c_int,
    return_offset: u16,
    owner: std::os::raw::c_char,
    localsplus: [*mut ffi::PyObject; 0],
}

/// From 3.11 on, the value of the parameter at `slot` of `co_varnames` in a frame at its `call` event, read
/// from the frame's fast locals: on 3.11 `f_locals` builds (or refreshes) the whole locals dict to read a few
/// names, and 3.12's `PyFrame_GetVar` searches the names for each. `is_cell`: a closure captures the
/// parameter, so its slot holds a cell (made before the `call` event). None before 3.11, where the locals dict
/// is the frame's own, and in portable mode, which reads no frame layout (the caller reads the variables instead).
///
/// # Safety
/// `slot` must be the index of a variable of the frame's own code (`co_varnames`), as `FrameWithCode` ensures.
pub unsafe fn call_argument<'py>(
    frame: &Bound<'py, PyFrame>,
    slot: usize,
    is_cell: bool,
) -> Option<Option<Bound<'py, PyAny>>> {
    #[cfg(all(Py_3_11, not(hunter_portable)))]
    {
        // SAFETY: `frame` passed PyFrame_Check, so its head has this version's layout and `f_frame` points at its
        // interpreter frame, whose fast locals start with one slot per `co_varnames` entry (the caller's `slot`).
        unsafe {
            let data = (*frame.as_ptr().cast::<FrameHead>()).f_frame;
            let value = Bound::from_borrowed_ptr_or_opt(frame.py(), *(*data).localsplus.as_ptr().add(slot));
            Some(match value {
                Some(cell) if is_cell && ffi::PyCell_Check(cell.as_ptr()) != 0 => {
                    Bound::from_owned_ptr_or_opt(frame.py(), ffi::PyCell_Get(cell.as_ptr()))
                }
                value => value,
            })
        }
    }
    #[cfg(any(not(Py_3_11), hunter_portable))]
    {
        let _ = (frame, slot, is_cell);
        None
    }
}

/// Borrowed code object of a frame, read from the frame itself: `PyFrame_GetCode` and `PyFrame_GetGlobals`
/// cost a call and two reference count updates each, on every event. Valid while the frame lives.
#[cfg(not(hunter_portable))]
#[inline]
pub fn frame_code(frame: Borrowed<'_, '_, PyFrame>) -> *mut ffi::PyObject {
    // SAFETY: a `PyFrame` passed PyFrame_Check: its head has this version's layout, and from 3.11 on `f_frame`
    // points at its interpreter frame (its own storage once it has finished).
    #[cfg(Py_3_11)]
    unsafe {
        (*(*frame.as_ptr().cast::<FrameHead>()).f_frame).f_code
    }
    #[cfg(not(Py_3_11))]
    // SAFETY: a `PyFrame` passed PyFrame_Check; before 3.11 `f_code` is a field of the frame object itself.
    unsafe {
        (*frame.as_ptr().cast::<FrameHead>()).f_code
    }
}

/// Borrowed globals dict of a frame (always a dict: CPython runs code only with dict globals).
#[cfg(not(hunter_portable))]
#[inline]
pub fn frame_globals(frame: Borrowed<'_, '_, PyFrame>) -> *mut ffi::PyObject {
    // SAFETY: as in `frame_code`.
    #[cfg(Py_3_11)]
    unsafe {
        (*(*frame.as_ptr().cast::<FrameHead>()).f_frame).f_globals
    }
    #[cfg(not(Py_3_11))]
    // SAFETY: a `PyFrame` passed PyFrame_Check; before 3.11 `f_globals` is a field of the frame object itself.
    unsafe {
        (*frame.as_ptr().cast::<FrameHead>()).f_globals
    }
}

/// The fields of a 3.9 `PyFrameObject` up to `f_lineno` (Include/cpython/frameobject.h of 3.9).
#[allow(dead_code)] // a layout: only `f_lineno` is read
#[cfg(all(not(Py_3_10), not(hunter_portable)))]
#[repr(C)]
struct Frame39 {
    head: FrameHead,
    f_locals: *mut ffi::PyObject,
    f_valuestack: *mut *mut ffi::PyObject,
    f_stacktop: *mut *mut ffi::PyObject,
    f_trace: *mut ffi::PyObject,
    f_trace_lines: std::os::raw::c_char,
    f_trace_opcodes: std::os::raw::c_char,
    f_gen: *mut ffi::PyObject,
    f_lasti: c_int,
    f_lineno: c_int,
}

/// The current line of a frame, as a settrace-style tracer (`line_tracing`) or a profiler sees it.
///
/// On 3.9 `PyFrame_GetLineNumber` recomputes the line from `f_lasti` unless the frame has a trace function, in
/// which case it returns `f_lineno` as line tracing maintains it. The two differ at a generator's implicit final
/// return, for example. hunter (and every `sys.settrace` tracer) sets `f_trace`, so in trace mode it reports
/// `f_lineno`; from 3.10 on the interpreter itself keeps `f_lineno` right during trace calls. Portable mode relies
/// on `f_trace` being set: the settrace backend sets it at each event before reading the line.
#[inline]
pub fn frame_lineno(frame: &Bound<'_, PyFrame>, line_tracing: bool) -> c_int {
    #[cfg(all(not(Py_3_10), not(hunter_portable)))]
    if line_tracing {
        // SAFETY: a checked frame has the 3.9 layout.
        return unsafe { (*frame.as_ptr().cast::<Frame39>()).f_lineno };
    }
    let _ = line_tracing;
    // SAFETY: a checked frame.
    unsafe { ffi::PyFrame_GetLineNumber(frame.as_ptr().cast()) }
}

/// Whether a settrace-style tracer's frame line equals the line of the frame's current instruction at events
/// other than lines. From 3.12 on CPython's settrace emulation sets `f_lineno` only during a line event and
/// clears it afterwards; before, line tracing keeps `f_lineno` as the last line traced (return events report it).
pub const TRACED_LINE_IS_INSTRUCTION_LINE: bool = cfg!(Py_3_12);

/// The byte offset of the frame's current instruction where it can be read without a lookup (3.11+), for
/// finding its line by offset; None before 3.11 or when the frame has not started.
#[inline]
pub fn frame_offset(frame: &Bound<'_, PyFrame>) -> Option<c_int> {
    #[cfg(Py_3_11)]
    {
        // SAFETY: a checked frame.
        let offset = unsafe { ffi::PyFrame_GetLasti(frame.as_ptr().cast()) };
        (offset >= 0).then_some(offset)
    }
    #[cfg(not(Py_3_11))]
    {
        let _ = frame;
        None
    }
}

/// `f_lasti` as a byte offset into `co_code`, the unit Python code sees.
pub fn frame_lasti(frame: &Bound<'_, PyFrame>) -> PyResult<isize> {
    #[cfg(Py_3_11)]
    {
        // SAFETY: a checked frame.
        Ok(unsafe { ffi::PyFrame_GetLasti(frame.as_ptr().cast()) } as isize)
    }
    #[cfg(not(Py_3_11))]
    {
        frame.getattr(pyo3::intern!(frame.py(), "f_lasti"))?.extract()
    }
}

/// A running frame of the current thread as the span pairing of the timing actions sees it, read without making a
/// frame object for it: its identity, its caller's (0 for none), its code object (borrowed, alive while the frame
/// runs) and the thread's serial ([`current_thread_serial`]).
///
/// A frame's identity is where its data lives: the interpreter frame from 3.11 on (a frame object only mirrors
/// it), the frame object before (and in portable mode). Two frames running at once never share one, and it is the
/// same whether it is read from the frame object or from the thread state. A finished frame's may be reused. A
/// caller's identity may be that of a C entry frame, which no frame object stands for.
#[derive(Clone, Copy)]
pub struct RunningFrame {
    pub identity: usize,
    pub caller: usize,
    pub code: *mut ffi::PyObject,
    pub thread_serial: u64,
}

/// The serial of the thread whose state is `state` (see [`current_thread_serial`]).
///
/// # Safety
/// `state` must be a live thread state.
#[inline]
unsafe fn thread_serial(state: *mut ffi::PyThreadState) -> u64 {
    // SAFETY: a live thread state (this function's contract); PyThreadState_GetID only reads its id.
    let from_cpython = || u64::try_from(unsafe { ffi::PyThreadState_GetID(state) }).unwrap_or_default();
    // Read in place where the layout is known: a call into CPython for it was a measurable part of every monitoring
    // callback.
    #[cfg(not(hunter_portable))]
    {
        // SAFETY: a live thread state (this function's contract), laid out as `ThreadStateHead` on this version.
        let serial = unsafe { (*state.cast::<ThreadStateHead>()).id };
        debug_assert_eq!(serial, from_cpython());
        serial
    }
    #[cfg(hunter_portable)]
    from_cpython()
}

/// Runs `body` with this thread's trace, profile and monitoring events off, as CPython runs a trace function:
/// hunter's own Python code that must not be recorded into what it writes (a Timeline serialising itself).
pub fn untraced<T>(_py: Python<'_>, body: impl FnOnce() -> T) -> T {
    /// Turns the events back on when dropped, also when `body` unwinds.
    struct Resumed(*mut ffi::PyThreadState);
    impl Drop for Resumed {
        fn drop(&mut self) {
            // SAFETY: the current thread's state, attached (`untraced`'s `py`), whose events `untraced` turned off.
            unsafe { leave_tracing(self.0) }
        }
    }
    // SAFETY: attached (`_py`): the current thread state exists, and is this thread's.
    let state = unsafe { ffi::PyThreadState_Get() };
    // SAFETY: the current thread's live state (above).
    unsafe { enter_tracing(state) };
    let _resumed = Resumed(state);
    body()
}

/// `PyThreadState_EnterTracing` (3.11+); before, what it does that matters: the trace and profile functions are
/// not called while `tracing` is above 0.
///
/// # Safety
/// `state` must be the current thread's live state, attached.
unsafe fn enter_tracing(state: *mut ffi::PyThreadState) {
    #[cfg(Py_3_11)]
    // SAFETY: the current thread's live state (this function's contract).
    unsafe {
        ffi::PyThreadState_EnterTracing(state)
    };
    // (A portable build before 3.11, which no layout describes, leaves them on.)
    #[cfg(all(not(Py_3_11), not(hunter_portable)))]
    // SAFETY: the current thread's live state (this function's contract), laid out as `ThreadStateHead`.
    unsafe {
        (*state.cast::<ThreadStateHead>()).tracing += 1
    };
}

/// Undoes [`enter_tracing`].
///
/// # Safety
/// As [`enter_tracing`], after it.
unsafe fn leave_tracing(state: *mut ffi::PyThreadState) {
    #[cfg(Py_3_11)]
    // SAFETY: the current thread's live state (this function's contract), after `enter_tracing`.
    unsafe {
        ffi::PyThreadState_LeaveTracing(state)
    };
    #[cfg(all(not(Py_3_11), not(hunter_portable)))]
    // SAFETY: the current thread's live state (this function's contract), laid out as `ThreadStateHead`.
    unsafe {
        (*state.cast::<ThreadStateHead>()).tracing -= 1
    };
}

/// The current thread's serial number in this interpreter (its thread state's id). Unlike its ident, which a
/// thread started after it ends may get again, it is never reused.
#[inline]
pub fn current_thread_serial(_py: Python<'_>) -> u64 {
    // SAFETY: attached (`_py`), so this thread has a current thread state.
    unsafe { thread_serial(ffi::PyThreadState_Get()) }
}

/// The identity of a frame (see [`RunningFrame`]).
#[cfg(not(hunter_portable))]
#[inline]
pub fn frame_identity(frame: Borrowed<'_, '_, PyFrame>) -> usize {
    #[cfg(Py_3_11)]
    // SAFETY: a `PyFrame` passed PyFrame_Check: its head has this version's layout; only the pointer is read.
    unsafe {
        (*frame.as_ptr().cast::<FrameHead>()).f_frame as usize
    }
    #[cfg(not(Py_3_11))]
    {
        frame.as_ptr() as usize
    }
}

/// A live frame object as a [`RunningFrame`].
#[cfg(not(hunter_portable))]
#[inline]
pub fn running_frame_of(frame: Borrowed<'_, '_, PyFrame>) -> RunningFrame {
    let thread_serial = current_thread_serial(frame.py());
    #[cfg(Py_3_11)]
    // SAFETY: a `PyFrame` passed PyFrame_Check: `f_frame` points at its interpreter frame (its own storage once it
    // has finished), laid out as `InterpreterFrameHead` on this version; only pointers are read.
    unsafe {
        let data = (*frame.as_ptr().cast::<FrameHead>()).f_frame;
        RunningFrame { identity: data as usize, caller: caller_identity(data), code: (*data).f_code, thread_serial }
    }
    #[cfg(not(Py_3_11))]
    // SAFETY: a `PyFrame` passed PyFrame_Check; before 3.11 `f_back` and `f_code` are fields of the frame object.
    unsafe {
        let head = frame.as_ptr().cast::<FrameHead>();
        let (identity, caller, code) = (frame.as_ptr() as usize, (*head).f_back as usize, (*head).f_code);
        RunningFrame { identity, caller, code, thread_serial }
    }
}

/// The current thread's running frame as a [`RunningFrame`], None when it runs no Python frame.
#[cfg(not(hunter_portable))]
#[inline]
pub fn running_frame(py: Python<'_>) -> Option<RunningFrame> {
    #[cfg(Py_3_11)]
    let _ = py;
    // SAFETY: attached (`py`), so the current thread state exists and is this thread's; laid out as
    // `ThreadStateHead` on this version. Its current frame (through the `_PyCFrame` on 3.11 and 3.12) is NULL or
    // the thread's running frame, alive for the duration of this callback.
    unsafe {
        let state = ffi::PyThreadState_Get().cast::<ThreadStateHead>();
        #[cfg(Py_3_13)]
        let data = (*state).current_frame.cast::<InterpreterFrameHead>().cast_const();
        #[cfg(all(Py_3_11, not(Py_3_13)))]
        let data = {
            let cframe = (*state).current_frame.cast::<CFrameHead>();
            if cframe.is_null() {
                return None;
            }
            (*cframe).current_frame
        };
        #[cfg(Py_3_11)]
        return (!data.is_null()).then(|| RunningFrame {
            identity: data as usize,
            caller: caller_identity(data),
            code: (*data).f_code,
            thread_serial: thread_serial(state.cast()),
        });
        #[cfg(not(Py_3_11))]
        return Bound::from_borrowed_ptr_or_opt(py, (*state).frame.cast())
            .map(|frame| running_frame_of(frame.cast_unchecked::<PyFrame>().as_borrowed()));
    }
}

/// The identity of the frame that called the running interpreter frame `data`: its `previous`, past the entry
/// frames CPython pushes where C code calls Python code (3.12+, owned by the C stack), which no frame object stands
/// for (`f_back` skips them too).
///
/// # Safety
/// `data` must be a running interpreter frame, whose `previous` chain is alive.
#[cfg(all(Py_3_11, not(hunter_portable)))]
#[inline]
unsafe fn caller_identity(data: *const InterpreterFrameHead) -> usize {
    /// `FRAME_OWNED_BY_CSTACK` (Include/internal/pycore_frame.h of 3.12 and 3.13).
    #[cfg(Py_3_12)]
    const OWNED_BY_C_STACK: std::os::raw::c_char = 3;
    // SAFETY: `data` and its `previous` chain are running frames (this function's contract); only pointers and
    // `owner` are read.
    unsafe {
        let caller = (*data).previous;
        #[cfg(Py_3_12)]
        let caller = {
            let mut caller = caller;
            while !caller.is_null() && (*caller).owner == OWNED_BY_C_STACK {
                caller = (*caller).previous;
            }
            caller
        };
        caller as usize
    }
}

/// `_PyCFrame` of 3.11 and 3.12 (Include/cpython/pystate.h), up to the running frame.
#[cfg(all(Py_3_11, not(Py_3_13), not(hunter_portable)))]
#[repr(C)]
struct CFrameHead {
    #[cfg(not(Py_3_12))]
    use_tracing: u8,
    current_frame: *const InterpreterFrameHead,
}

/// The parent frame, or None.
pub fn frame_back<'py>(frame: &Bound<'py, PyFrame>) -> Option<Bound<'py, PyFrame>> {
    // SAFETY: a checked frame; PyFrame_GetBack returns a new reference to a frame object, or NULL.
    unsafe {
        let back = ffi::PyFrame_GetBack(frame.as_ptr().cast());
        Bound::from_owned_ptr_or_opt(frame.py(), back.cast()).map(|back| back.cast_into_unchecked())
    }
}

/// The code object a frame runs (`f_code`).
pub fn frame_code_bound<'py>(frame: &Bound<'py, PyFrame>) -> Bound<'py, pyo3::types::PyCode> {
    // SAFETY: `frame_code` gives the frame's borrowed code object, alive while the frame is.
    unsafe { Bound::from_borrowed_ptr(frame.py(), frame_code(frame.as_borrowed())).cast_into_unchecked() }
}

/// `frame.f_locals`: a dict on 3.9 - 3.12, a write-through `FrameLocalsProxy` on 3.13 (PEP 667).
pub fn frame_locals<'py>(frame: &Bound<'py, PyFrame>) -> PyResult<Bound<'py, PyAny>> {
    // The attribute's own implementation, without the attribute lookup.
    // SAFETY: a checked frame.
    #[cfg(Py_3_11)]
    unsafe {
        Bound::from_owned_ptr_or_err(frame.py(), ffi::PyFrame_GetLocals(frame.as_ptr().cast()))
    }
    #[cfg(not(Py_3_11))]
    frame.getattr(pyo3::intern!(frame.py(), "f_locals"))
}

/// Where `frame.f_locals.get(name)` is read from: on 3.12+ the frame's variables themselves (cells
/// dereferenced, `PyFrame_GetVar`), which spares building the whole locals dict (3.12) or proxy (3.13) to
/// read a few names; before that, the locals mapping.
pub enum Variables<'py> {
    #[cfg(Py_3_12)]
    Frame(Bound<'py, PyFrame>),
    Mapping(Bound<'py, PyAny>),
}

impl<'py> Variables<'py> {
    /// The variables of a live frame; `locals` gives the mapping where they cannot be read directly.
    pub fn of_frame(
        frame: &Bound<'py, PyFrame>,
        locals: impl FnOnce() -> PyResult<Bound<'py, PyAny>>,
    ) -> PyResult<Variables<'py>> {
        #[cfg(Py_3_12)]
        {
            let _ = locals;
            Ok(Variables::Frame(frame.clone()))
        }
        #[cfg(not(Py_3_12))]
        {
            let _ = frame;
            Ok(Variables::Mapping(locals()?))
        }
    }

    /// `get(name)`: None when the name is unbound or unknown.
    pub fn get(&self, name: &Bound<'py, pyo3::types::PyString>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let py = name.py();
        match self {
            // SAFETY: a checked frame and a str name.
            #[cfg(Py_3_12)]
            Variables::Frame(frame) => unsafe {
                let value = ffi::PyFrame_GetVar(frame.as_ptr().cast(), name.as_ptr());
                if !value.is_null() {
                    return Ok(Some(Bound::from_owned_ptr(py, value)));
                }
                let error = PyErr::fetch(py);
                if error.is_instance_of::<pyo3::exceptions::PyNameError>(py) {
                    Ok(None)
                } else {
                    Err(error)
                }
            },
            Variables::Mapping(locals) => match locals.cast::<PyDict>() {
                Ok(dict) => dict.get_item(name),
                Err(_) => match locals.get_item(name) {
                    Ok(value) => Ok(Some(value)),
                    Err(error) if error.is_instance_of::<pyo3::exceptions::PyKeyError>(py) => Ok(None),
                    Err(error) => Err(error),
                },
            },
        }
    }
}

pub fn frame_globals_bound<'py>(frame: &Bound<'py, PyFrame>) -> Bound<'py, PyDict> {
    // SAFETY: `frame_globals` gives the frame's borrowed globals, a dict alive while the frame is.
    unsafe { Bound::from_borrowed_ptr(frame.py(), frame_globals(frame.as_borrowed())).cast_into_unchecked() }
}

/// What tells a dict from any other, for caches keyed by a dict they must not keep alive: its address, and its
/// version (PEP 509's `ma_version_tag`), which CPython draws from one counter, never going back, for every dict it
/// creates and at every change of one. So a later dict at the same address has another stamp, and so has this dict
/// once changed: a stamp that differs says "check again", never that the dict is another one.
///
/// Portable mode cannot read the version (0 there): a stamp then tells its dict from others only while the dict is
/// held, as [`DictIdentity`] does.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct DictStamp {
    address: usize,
    version: u64,
}

impl DictStamp {
    /// The stamp of the dict at `dict` now; `dict` NULL (no globals) or a live dict.
    #[inline]
    pub fn of(dict: *mut ffi::PyObject) -> DictStamp {
        #[cfg(not(hunter_portable))]
        let version = if dict.is_null() {
            0
        } else {
            // SAFETY: a live dict (this function's contract), laid out as `PyDictObject` on every version this
            // mode supports (3.9 to 3.13); only its version field is read.
            #[allow(deprecated)]
            unsafe {
                (*dict.cast::<ffi::PyDictObject>()).ma_version_tag
            }
        };
        #[cfg(hunter_portable)]
        let version = 0;
        DictStamp { address: dict as usize, version }
    }
}

/// A dict's [`DictStamp`], with the dict held where the stamp needs it (portable mode), never elsewhere: what a
/// cache keeps of a dict it must not keep alive (globals usually hold, through their functions, what the cache is
/// kept in).
pub struct DictIdentity {
    pub stamp: DictStamp,
    held: Option<Py<PyDict>>,
}

impl DictIdentity {
    pub fn of(dict: &Bound<'_, PyDict>) -> DictIdentity {
        DictIdentity { stamp: DictStamp::of(dict.as_ptr()), held: cfg!(hunter_portable).then(|| dict.clone().unbind()) }
    }

    /// Whether `dict` (a live dict) is the one identified, unchanged since.
    #[inline]
    pub fn is(&self, dict: &Bound<'_, PyDict>) -> bool {
        self.stamp == DictStamp::of(dict.as_ptr())
    }

    /// The dict, when held, for a `__traverse__`.
    pub fn held(&self) -> Option<&Py<PyDict>> {
        self.held.as_ref()
    }
}

/// A class's attribute-cache version tag, when it has a valid one. CPython gives a class a new one whenever an
/// attribute of it or of a base is set. 0 never is valid; before 3.13 a flag also marks it valid, as a changed
/// class keeps its old number until its next lookup.
#[cfg(not(hunter_portable))]
pub fn valid_version_tag(class: &Bound<'_, pyo3::types::PyType>) -> Option<u32> {
    let class = class.as_type_ptr();
    // SAFETY: `class` is a live type object (from a `Bound<PyType>`), so its `PyTypeObject` fields can be read.
    let tag = unsafe { (*class).tp_version_tag };
    #[cfg(not(Py_3_13))]
    // SAFETY: a live type object; PyType_GetFlags only reads `tp_flags`.
    if unsafe { ffi::PyType_GetFlags(class) } & ffi::Py_TPFLAGS_VALID_VERSION_TAG == 0 {
        return None;
    }
    (tag != 0).then_some(tag)
}

/// Keeps CPython from reporting trace and monitoring events of the current thread while it lives, as during
/// a callback. Only the monitoring backend (3.12+) needs it; before 3.11 CPython has no API for it and the
/// guard does nothing.
pub struct EventsSuspended {
    #[cfg(Py_3_11)]
    state: *mut ffi::PyThreadState,
}

impl EventsSuspended {
    pub fn on_this_thread() -> Self {
        #[cfg(Py_3_11)]
        {
            // SAFETY: the guard is only made attached (in `Tracer::judge_running_frames`, which holds a `Bound`), so
            // this thread has a current thread state.
            let state = unsafe { ffi::PyThreadState_Get() };
            // SAFETY: `state` is this thread's live thread state; `drop` undoes this, on the same thread (the guard is
            // not `Send`: it holds a raw pointer).
            unsafe { ffi::PyThreadState_EnterTracing(state) };
            EventsSuspended { state }
        }
        #[cfg(not(Py_3_11))]
        EventsSuspended {}
    }
}

impl Drop for EventsSuspended {
    fn drop(&mut self) {
        #[cfg(Py_3_11)]
        // SAFETY: `state` is this thread's thread state, entered in `on_this_thread`; the guard lives in the scope
        // that made it, attached.
        unsafe {
            ffi::PyThreadState_LeaveTracing(self.state)
        };
    }
}

/// Whether `object` has references besides the one the caller holds, so that releasing that one frees nothing and
/// runs no Python code. Never said of a free-threaded build, where another thread may release its own meanwhile.
#[inline]
pub fn held_elsewhere(object: &Py<PyAny>) -> bool {
    // SAFETY: a live object (the caller holds a reference); only its reference count is read.
    !cfg!(Py_GIL_DISABLED) && unsafe { ffi::Py_REFCNT(object.as_ptr()) } > 1
}

/// A builtin function or method's method, as an identity (the address of the method definition it was made from,
/// which tells apart methods that share a C function, `lock.release` and `lock.__exit__`), and its `self` (NULL for
/// none, and for a static method, as `PyCFunction_GetSelf` answers), read from its fields (Objects/methodobject.c,
/// the same in 3.9 - 3.13): exported calls would cost as much as the rest of a profile-mode event's pairing.
///
/// # Safety
/// `callable` must be a live object that passed `PyCFunction_Check`, and the thread attached.
#[cfg(not(hunter_portable))]
#[inline]
pub unsafe fn builtin_method_and_self(callable: *mut ffi::PyObject) -> (usize, *mut ffi::PyObject) {
    // SAFETY: a builtin function or method (this function's contract), so a `PyCFunctionObject`, whose `m_ml` points
    // to the method definition it was made from (never NULL: `PyCMethod_New` requires one), alive as long as it is.
    unsafe {
        let callable = callable.cast::<ffi::PyCFunctionObject>();
        let method = (*callable).m_ml;
        let is_static = (*method).ml_flags & ffi::METH_STATIC != 0;
        let owner = if is_static { std::ptr::null_mut() } else { (*callable).m_self };
        (method as usize, owner)
    }
}

/// [`builtin_method_and_self`] through the exported calls, which do not give the method definition: its C function
/// stands for it (shared by the methods a type defines with one C function, which are then told apart by no more).
///
/// # Safety
/// As for the layout-reading version.
#[cfg(hunter_portable)]
#[inline]
pub unsafe fn builtin_method_and_self(callable: *mut ffi::PyObject) -> (usize, *mut ffi::PyObject) {
    // SAFETY: a live builtin function or method (this function's contract): both only read its fields.
    let (function, owner) = unsafe { (ffi::PyCFunction_GetFunction(callable), ffi::PyCFunction_GetSelf(callable)) };
    (function.map_or(0, |function| function as usize), owner)
}

/// The method a method descriptor (`list.append`) runs when called on `instance`, as the builtin method it binds to
/// reports it ([`builtin_method_and_self`], with `instance` as `self`): None when binding it would not make
/// such a method (`instance` is not of the descriptor's type: binding raises), and in portable mode, where no API
/// reads it (the caller binds the descriptor then).
///
/// # Safety
/// `descriptor` must be a live object whose type is exactly `PyMethodDescr_Type`, `instance` a live object, and the
/// thread attached.
#[inline]
pub unsafe fn method_descriptor_method(descriptor: *mut ffi::PyObject, instance: *mut ffi::PyObject) -> Option<usize> {
    #[cfg(not(hunter_portable))]
    // SAFETY: a method descriptor (this function's contract), so a `PyMethodDescrObject`, whose `d_method` points to
    // the method definition it was made from and `d_type` to the type it belongs to (neither NULL:
    // `PyDescr_NewMethod` requires both), alive as long as it is. `instance` is a live object, whose type is read.
    unsafe {
        let descriptor = descriptor.cast::<ffi::PyMethodDescrObject>();
        let method = (*descriptor).d_method;
        // Binding (method_get) makes a method whose `self` is `instance`, for an instance of the type only; a static
        // method's definition is never a method descriptor's, but would report no `self`.
        let binds = ffi::PyObject_TypeCheck(instance, (*descriptor).d_common.d_type) != 0
            && (*method).ml_flags & ffi::METH_STATIC == 0;
        binds.then_some(method as usize)
    }
    #[cfg(hunter_portable)]
    {
        let _ = (descriptor, instance);
        None
    }
}

/// The thread identity CPython's `threading.get_ident()` returns.
#[inline]
#[allow(clippy::useless_conversion)] // c_ulong is 32 bits on Windows
pub fn current_thread_ident() -> u64 {
    // SAFETY: PyThread_get_thread_ident only asks the OS for the current thread's id; it reads no interpreter state.
    u64::from(unsafe { ffi::PyThread_get_thread_ident() })
}

/// Per-code-object storage slot ("code extra"), freed together with the code object.
pub mod code_extra {
    use super::ffi;
    use pyo3::prelude::*;
    use pyo3::types::PyCode;
    use std::os::raw::c_void;

    /// # Safety
    /// `free` must accept every value stored at the index, and NULL.
    pub unsafe fn request_index(free: ffi::freefunc) -> ffi::Py_ssize_t {
        // SAFETY: the caller's invariant.
        unsafe { ffi::PyUnstable_Eval_RequestCodeExtraIndex(free) }
    }

    /// The value stored at `index` (an index `request_index` gave), NULL when none is.
    #[inline]
    pub fn get(code: Borrowed<'_, '_, PyCode>, index: ffi::Py_ssize_t) -> *mut c_void {
        let mut extra: *mut c_void = std::ptr::null_mut();
        // SAFETY: a code object; CPython checks the index (an error for one it never gave is cleared here,
        // and only happens before any value was stored).
        unsafe {
            if ffi::PyUnstable_Code_GetExtra(code.as_ptr(), index, &mut extra) != 0 {
                ffi::PyErr_Clear();
                return std::ptr::null_mut();
            }
        }
        extra
    }

    /// Stores `value` at `index` (freed by the index's free function); false when CPython refused.
    pub fn set(code: Borrowed<'_, '_, PyCode>, index: ffi::Py_ssize_t, value: *mut c_void) -> bool {
        // SAFETY: a code object; on failure nothing was stored, and the error is this function's answer.
        unsafe {
            if ffi::PyUnstable_Code_SetExtra(code.as_ptr(), index, value) != 0 {
                ffi::PyErr_Clear();
                return false;
            }
        }
        true
    }
}

/// Imports a module without going through `builtins.__import__`.
///
/// `PyImport_Import` (what `py.import` uses) looks `__import__` up in the *current frame's* globals, and
/// inside a traced frame those may be a sandbox (`exec(code, {'__builtins__': {}})`) that has none. The
/// import machinery proper (`PyImport_ImportModuleLevelObject`) has no such dependency.
pub fn import<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, pyo3::types::PyModule>> {
    let name = pyo3::types::PyString::new(py, name);
    // SAFETY: attached (`py`) and `name` is a live str. PyImport_GetModule gives a new reference or NULL (an error
    // told apart by PyErr_Occurred), PyImport_ImportModuleLevelObject a new reference or NULL with an error set.
    // sys.modules can hold any object under the name, so the result is type-checked (PyModule_Check) before it
    // becomes a `PyModule`, whose API (`dict()`) reads it as a module: a stand-in is an error, not a crash.
    unsafe {
        let cached = ffi::PyImport_GetModule(name.as_ptr());
        if !cached.is_null() {
            return Ok(Bound::from_owned_ptr(py, cached).cast_into::<pyo3::types::PyModule>()?);
        }
        if ffi::PyErr_Occurred().is_null() {
            // With an empty fromlist this returns the top-level package; the submodule is in sys.modules.
            let top = ffi::PyImport_ImportModuleLevelObject(
                name.as_ptr(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                0,
            );
            Bound::from_owned_ptr_or_err(py, top)?;
            let module = ffi::PyImport_GetModule(name.as_ptr());
            if !module.is_null() {
                return Ok(Bound::from_owned_ptr(py, module).cast_into::<pyo3::types::PyModule>()?);
            }
        }
    }
    Err(PyErr::take(py)
        .unwrap_or_else(|| pyo3::exceptions::PyImportError::new_err(format!("hunter: cannot import {name}"))))
}

/// The opcode of END_FOR (3.12+: the end of a `for` loop), as `co_code` holds it; None where there is none.
pub fn end_for_opcode(py: Python<'_>) -> Option<u8> {
    static END_FOR: crate::gilcell::MadeOnce<Option<u8>> = crate::gilcell::MadeOnce::new();
    *END_FOR.get_or_init(py, || {
        let opmap = import(py, "opcode").and_then(|opcode| opcode.getattr("opmap")).ok()?;
        opmap.get_item("END_FOR").and_then(|op| op.extract()).ok()
    })
}

/// The offsets of the END_FOR instructions of `code` whose StopIteration settrace reports as an `exception` event
/// (a `for` loop over a generator, ended by the generator's return).
///
/// None before 3.13: settrace there monitors BRANCH events, so every FOR_ITER stays instrumented, and its generic
/// path steps over END_FOR. From 3.13 it monitors no BRANCH events, and a FOR_ITER without LINE instrumentation is
/// specialized for generators, which return into END_FOR: one that neither starts a line nor is a jump target (an
/// EXTENDED_ARG before it takes both, as in a loop with a long body; or a loop with no jump back).
///
/// Read from the bytecode as `dis.get_instructions` reads it (`starts_line`, `is_jump_target`, the FOR_ITER's
/// `argval`), without it: that costs some four million instructions for a small function, once per code object.
pub fn settrace_reported_end_fors(code: &Bound<'_, PyAny>) -> PyResult<Vec<c_int>> {
    if !cfg!(Py_3_13) {
        return Ok(Vec::new());
    }
    let py = code.py();
    let Some(opcodes) = Opcodes::get(py) else { return Ok(Vec::new()) };
    let co_code = code.getattr(pyo3::intern!(py, "co_code"))?;
    let bytecode = co_code.cast::<pyo3::types::PyBytes>()?.as_bytes();
    let units: Vec<(u8, u8)> = bytecode.chunks_exact(2).map(|unit| (unit[0], unit[1])).collect();
    let mut jump_targets = exception_handlers(code)?;
    let mut for_iters = Vec::new();
    let (mut index, mut extended) = (0, 0u64);
    while index < units.len() {
        let (op, arg) = units[index];
        let offset = 2 * index as i64;
        let argument = extended | u64::from(arg);
        extended = if op == opcodes.extended_arg { argument << 8 } else { 0 };
        let caches = units[index + 1..].iter().take_while(|(unit_op, _)| *unit_op == opcodes.cache).count();
        let target = match opcodes.jumps[usize::from(op)] {
            Jump::Forward => Some(offset + 2 + 2 * argument as i64 + 2 * caches as i64),
            Jump::Backward => Some(offset + 2 - 2 * argument as i64 + 2 * caches as i64),
            Jump::Absolute => Some(2 * argument as i64),
            Jump::None => None,
        };
        jump_targets.extend(target);
        if op == opcodes.for_iter {
            for_iters.extend(target.map(|target| (offset, target)));
        }
        index += 1 + caches;
    }
    let line_starts = line_starts(code)?;
    let mut reported: Vec<c_int> = for_iters
        .into_iter()
        .filter(|(offset, _)| !line_starts.contains(offset) && !jump_targets.contains(offset))
        .filter_map(|(_, target)| c_int::try_from(target).ok())
        .collect();
    reported.sort_unstable();
    Ok(reported)
}

/// How an opcode jumps (`dis.hasjrel`, backward when its name says so, as `dis` tells; `dis.hasjabs`).
#[derive(Clone, Copy)]
enum Jump {
    None,
    Forward,
    Backward,
    Absolute,
}

/// The opcodes [`settrace_reported_end_fors`] reads bytecode with, from the `opcode` and `dis` modules.
struct Opcodes {
    for_iter: u8,
    extended_arg: u8,
    cache: u8,
    jumps: [Jump; 256],
}

impl Opcodes {
    /// Read once per process; None when a module lacks a name (the loops' ends are then taken as unreported).
    fn get(py: Python<'_>) -> Option<&'static Opcodes> {
        static OPCODES: crate::gilcell::MadeOnce<Option<Opcodes>> = crate::gilcell::MadeOnce::new();
        OPCODES.get_or_init(py, || Opcodes::read(py).ok()).as_ref()
    }

    fn read(py: Python<'_>) -> PyResult<Opcodes> {
        let opcode = import(py, "opcode")?;
        let dis = import(py, "dis")?;
        let opmap = opcode.getattr("opmap")?;
        let number = |name: &str| -> PyResult<u8> { opmap.get_item(name)?.extract() };
        let opname = opcode.getattr("opname")?;
        let mut jumps = [Jump::None; 256];
        for (list, relative) in [("hasjrel", true), ("hasjabs", false)] {
            for op in dis.getattr(list)?.try_iter()? {
                let Ok(op) = op?.extract::<u8>() else { continue };
                let backward = opname.get_item(op)?.extract::<String>()?.contains("JUMP_BACKWARD");
                jumps[usize::from(op)] = match (relative, backward) {
                    (true, true) => Jump::Backward,
                    (true, false) => Jump::Forward,
                    (false, _) => Jump::Absolute,
                };
            }
        }
        Ok(Opcodes {
            for_iter: number("FOR_ITER")?,
            extended_arg: number("EXTENDED_ARG")?,
            cache: number("CACHE")?,
            jumps,
        })
    }
}

/// The byte offsets where `code`'s exception handlers start (`co_exceptiontable`, as `dis` parses it): jump targets.
fn exception_handlers(code: &Bound<'_, PyAny>) -> PyResult<std::collections::HashSet<i64>> {
    let table = code.getattr(pyo3::intern!(code.py(), "co_exceptiontable"))?;
    let mut bytes = table.cast::<pyo3::types::PyBytes>()?.as_bytes().iter().copied();
    // A number: six bits a byte, the 64 bit saying another byte follows.
    let mut varint = || -> Option<i64> {
        let mut byte = bytes.next()?;
        let mut value = i64::from(byte & 63);
        while byte & 64 != 0 {
            byte = bytes.next()?;
            value = (value << 6) | i64::from(byte & 63);
        }
        Some(value)
    };
    let mut handlers = std::collections::HashSet::new();
    // Each entry: start, length, target (in code units), depth and lasti.
    while let (Some(_start), Some(_length), Some(target), Some(_depth)) = (varint(), varint(), varint(), varint()) {
        handlers.insert(2 * target);
    }
    Ok(handlers)
}

/// The byte offsets where `code`'s lines start, as `dis.findlinestarts` finds them (`co_lines()` entries whose line
/// object is not the previous entry's).
fn line_starts(code: &Bound<'_, PyAny>) -> PyResult<std::collections::HashSet<i64>> {
    let py = code.py();
    let mut starts = std::collections::HashSet::new();
    let mut last_line: Option<Bound<'_, PyAny>> = None;
    for entry in code.call_method0(pyo3::intern!(py, "co_lines"))?.try_iter()? {
        let entry = entry?;
        let line = entry.get_item(2)?;
        if last_line.as_ref().is_none_or(|last| !last.is(&line)) {
            starts.insert(entry.get_item(0)?.extract()?);
            last_line = Some(line);
        }
    }
    Ok(starts)
}

/// What `name` finds on `ty` and its bases, without calling anything (a descriptor is returned, not invoked).
#[cfg(not(hunter_portable))]
pub fn type_lookup<'py>(
    ty: &Bound<'py, pyo3::types::PyType>,
    name: &Bound<'py, pyo3::types::PyString>,
) -> Option<Bound<'py, PyAny>> {
    extern "C" {
        fn _PyType_Lookup(ty: *mut ffi::PyTypeObject, name: *mut ffi::PyObject) -> *mut ffi::PyObject;
    }
    // SAFETY: a live type and a str; `_PyType_Lookup` (exported by every supported CPython) searches the MRO's
    // dicts, sets no exception and returns a borrowed reference (NULL when absent), taken as a new one at once.
    unsafe { Bound::from_borrowed_ptr_or_opt(ty.py(), _PyType_Lookup(ty.as_type_ptr(), name.as_ptr())) }
}

/// Makes CPython's messages name the type `name`, as they name a class defined in Python (`'Event' object has no
/// attribute 'x'`, `unhashable type: 'Query'`), rather than by its dotted path: those messages print `tp_name`, which
/// for a type made from a spec is the spec's whole name (`hunter.event.Event`). `__name__`, `__qualname__` and
/// `__module__` are the heap type's own and do not change.
pub fn name_in_messages(ty: &Bound<'_, pyo3::types::PyType>, name: &'static std::ffi::CStr) {
    // SAFETY: a type this module made (a heap type); `tp_name` is only read (by messages), and from now on points to a
    // static string. The name CPython made for it stays owned by the heap type (freed with it, not through `tp_name`;
    // 3.9 and 3.10 point `tp_name` at the spec's string, which pyo3 never frees).
    unsafe { (*ty.as_type_ptr()).tp_name = name.as_ptr() };
}

/// Whether CPython's argument errors name a method by its qualified name (`From.__init__() got ...`, 3.10+) rather
/// than its bare name (`__init__() got ...`).
pub const ARGUMENT_ERRORS_NAME_THE_CLASS: bool = cfg!(Py_3_10);

/// Whether this interpreter has `sys.monitoring` (PEP 669, Python 3.12+).
pub const HAS_SYS_MONITORING: bool = cfg!(Py_3_12);

/// The type flags that keep Python code from making or changing objects of a native type whose objects only native
/// code may make (3.10+). None before 3.10: only the sys.monitoring backend makes such a type.
#[cfg(Py_3_10)]
pub const SEALED_TYPE_FLAGS: Option<std::os::raw::c_ulong> =
    Some(ffi::Py_TPFLAGS_DISALLOW_INSTANTIATION | ffi::Py_TPFLAGS_IMMUTABLETYPE);
#[cfg(not(Py_3_10))]
pub const SEALED_TYPE_FLAGS: Option<std::os::raw::c_ulong> = None;

/// The source line of the instruction at byte `offset` in `code` (-1 outside of it).
pub fn code_line(code: Borrowed<'_, '_, pyo3::types::PyCode>, offset: c_int) -> c_int {
    // SAFETY: a code object; CPython bounds the offset.
    unsafe { ffi::PyCode_Addr2Line(code.as_ptr().cast(), offset) }
}

/// Whether switching a code object's PY_START (or PY_RESUME) off (`DISABLE`) also loses the LINE event of the line
/// its RESUME is on, at each later start: CPython 3.13 then reports no line event for a body on its `def` line (a
/// one-line function, lambda or generator expression) after the first call.
pub const DISABLED_START_LOSES_FIRST_LINE: bool = cfg!(Py_3_13);

/// Whether a profiler's `call` event for `generator.throw()` carries the thrown exception as `arg`
/// (CPython 3.12's legacy profiling does; 3.13 passes None, as for every other call).
pub const PROFILE_THROW_CARRIES_EXCEPTION: bool = cfg!(all(Py_3_12, not(Py_3_13)));

/// Whether the interpreter is shutting down (`Py_IsFinalizing`, public from 3.13 on).
pub fn interpreter_is_finalizing() -> bool {
    #[cfg(Py_3_13)]
    {
        // SAFETY: Py_IsFinalizing reads a runtime flag; it needs no thread state.
        unsafe { ffi::Py_IsFinalizing() != 0 }
    }
    #[cfg(not(Py_3_13))]
    {
        extern "C" {
            fn _Py_IsFinalizing() -> c_int;
        }
        // SAFETY: `_Py_IsFinalizing` is exported with this signature (`int(void)`) by 3.9 to 3.12, and reads a runtime
        // flag.
        unsafe { _Py_IsFinalizing() != 0 }
    }
}

/// The fields of `PyFrameObject` up to `f_trace` (Include/cpython/frameobject.h before 3.11, then
/// Include/internal/pycore_frame.h; the same within a minor version).
#[allow(dead_code)] // a layout: only `f_trace` is read
#[cfg(not(hunter_portable))]
#[repr(C)]
struct FrameTraceHead {
    head: FrameHead,
    #[cfg(not(Py_3_11))]
    f_locals: *mut ffi::PyObject,
    #[cfg(not(Py_3_11))]
    f_valuestack: *mut *mut ffi::PyObject,
    #[cfg(not(Py_3_10))]
    f_stacktop: *mut *mut ffi::PyObject,
    f_trace: *mut ffi::PyObject,
}

/// Makes `trace` the frame's `f_trace` (what `frame.f_trace = trace` does), unless it is already. Returns the
/// previous one when it was replaced, a strong reference for the caller to release once it no longer relies on
/// borrowed references (releasing it can run its `__del__`), else NULL.
///
/// # Safety
/// `frame` must be a live frame object and `trace` a live object.
#[cfg(not(hunter_portable))]
#[inline(always)]
pub unsafe fn replace_frame_trace(frame: *mut ffi::PyFrameObject, trace: *mut ffi::PyObject) -> *mut ffi::PyObject {
    // SAFETY: `frame` is a live frame object (the caller's contract), laid out as `FrameTraceHead` on this version; the
    // reference to its slot lives only for this call, attached.
    let slot = unsafe { &mut (*frame.cast::<FrameTraceHead>()).f_trace };
    if *slot == trace {
        return std::ptr::null_mut();
    }
    // SAFETY: `trace` is a live object (the caller's contract); the slot takes this new reference, and hands the one it
    // held to the caller.
    unsafe { ffi::Py_INCREF(trace) };
    std::mem::replace(slot, trace)
}

/// `PyThreadState` up to its id (Include/cpython/pystate.h, the same within a minor version; the fields differ in
/// each).
#[cfg(not(hunter_portable))]
#[allow(dead_code)] // a layout: only the trace and profile fields, the running frame and the id are read
#[repr(C)]
struct ThreadStateHead {
    prev: *mut std::os::raw::c_void,
    next: *mut std::os::raw::c_void,
    interp: *mut std::os::raw::c_void,
    #[cfg(not(Py_3_11))]
    frame: *mut std::os::raw::c_void,
    #[cfg(not(Py_3_11))]
    recursion_depth: c_int,
    #[cfg(not(Py_3_10))]
    overflowed_and_recursion_critical: [std::os::raw::c_char; 2],
    #[cfg(all(Py_3_10, not(Py_3_11)))]
    recursion_headroom: c_int,
    #[cfg(not(Py_3_11))]
    stackcheck_counter: c_int,
    #[cfg(all(Py_3_11, not(Py_3_12)))]
    initialized_and_static: [c_int; 2],
    #[cfg(Py_3_13)]
    eval_breaker: usize,
    #[cfg(Py_3_12)]
    status_bits: u32,
    #[cfg(Py_3_13)]
    whence_and_state: [c_int; 2],
    #[cfg(Py_3_11)]
    recursion_counters: [c_int; if cfg!(Py_3_12) { 4 } else { 3 }],
    tracing: c_int,
    #[cfg(not(Py_3_10))]
    use_tracing: c_int,
    #[cfg(Py_3_11)]
    what_event: c_int,
    #[cfg(Py_3_10)]
    current_frame: *mut std::os::raw::c_void,
    c_profilefunc: Option<ffi::Py_tracefunc>,
    c_tracefunc: Option<ffi::Py_tracefunc>,
    c_profileobj: *mut ffi::PyObject,
    c_traceobj: *mut ffi::PyObject,
    #[cfg(not(Py_3_12))]
    curexc: [*mut ffi::PyObject; 3],
    #[cfg(Py_3_12)]
    current_exception: *mut ffi::PyObject,
    /// `_PyErr_StackItem`: the exception's type, value and traceback, and the previous item.
    #[cfg(not(Py_3_11))]
    exc_state: [*mut std::os::raw::c_void; 4],
    exc_info: *mut std::os::raw::c_void,
    dict: *mut ffi::PyObject,
    gilstate_counter: c_int,
    async_exc: *mut ffi::PyObject,
    thread_id: std::os::raw::c_ulong,
    #[cfg(Py_3_11)]
    native_thread_id: std::os::raw::c_ulong,
    #[cfg(not(Py_3_13))]
    trash_delete_nesting: c_int,
    trash_delete_later: *mut ffi::PyObject,
    #[cfg(Py_3_13)]
    critical_section: usize,
    #[cfg(not(Py_3_13))]
    on_delete: *mut std::os::raw::c_void,
    #[cfg(not(Py_3_13))]
    on_delete_data: *mut std::os::raw::c_void,
    coroutine_origin_tracking_depth: c_int,
    async_gen_firstiter: *mut ffi::PyObject,
    async_gen_finalizer: *mut ffi::PyObject,
    context: *mut ffi::PyObject,
    context_ver: u64,
    id: u64,
}

// Where `offsetof(PyThreadState, id)` is in each version's headers (x86-64 and other LP64 targets).
#[cfg(all(not(hunter_portable), target_pointer_width = "64"))]
const _: () = assert!(
    std::mem::offset_of!(ThreadStateHead, id)
        == if cfg!(Py_3_12) {
            224
        } else if cfg!(Py_3_11) {
            240
        } else {
            256
        }
);

/// The current thread's C-level trace function and its object (borrowed from the thread state, valid until the
/// trace function changes), as `PyEval_SetTrace` installed them: what `sys.gettrace()` shows the object of.
#[cfg(not(hunter_portable))]
pub fn thread_trace_function(_py: Python<'_>) -> (Option<ffi::Py_tracefunc>, *mut ffi::PyObject) {
    // SAFETY: attached (`_py`), so the current thread state exists and is this thread's; laid out as
    // `ThreadStateHead` on this version (a public, non-limited struct, fixed within a minor version).
    unsafe {
        let state = ffi::PyThreadState_Get().cast::<ThreadStateHead>();
        ((*state).c_tracefunc, (*state).c_traceobj)
    }
}

/// Whether `obj`, the object CPython hands a C trace or profile function with `frame`, is still installed on the
/// current thread (so alive: the thread state holds it). On 3.11 CPython reads the object before it makes the frame's
/// frame object, and that allocation may run the collector, whose `gc.callbacks` or finalizers may stop the tracer and
/// free the object it then passes. Alive too when it is the frame's `f_trace` (the frame holds it): the usual event of
/// a frame after its first, read first. (Only that: the collection's callbacks may set a new frame's `f_trace` to
/// another tracer.) 3.9 and 3.10 allocate nothing in between, and 3.12+ read the object after the frame and run no
/// collection inside an allocation: true there. A tool calling our trace function with our object while another is
/// installed (none is known to) would see only the events of frames whose `f_trace` it is, on 3.11.
///
/// # Safety
/// Attached (`_py`), `frame` the live frame object of the event.
#[inline(always)]
pub unsafe fn trace_object_installed(_py: Python<'_>, obj: *mut ffi::PyObject, frame: *mut ffi::PyFrameObject) -> bool {
    #[cfg(all(Py_3_11, not(Py_3_12), not(hunter_portable)))]
    {
        // SAFETY: `frame` is a live frame object (this function's contract), laid out as `FrameTraceHead`; attached, so
        // the current thread state exists and is this thread's, laid out as `ThreadStateHead` on this version. `obj`
        // is only compared, not read.
        unsafe {
            if (*frame.cast::<FrameTraceHead>()).f_trace == obj {
                return true;
            }
            let state = ffi::PyThreadState_Get().cast::<ThreadStateHead>();
            (*state).c_traceobj == obj || (*state).c_profileobj == obj
        }
    }
    #[cfg(all(Py_3_11, not(Py_3_12), hunter_portable))]
    {
        // The public API has no getter of the thread's trace object before 3.12: sys.gettrace() and sys.getprofile(),
        // found by `prepare_trace_object_check` (a lookup here could allocate, and collect), return it and allocate
        // nothing. Taken as installed when one fails (near the recursion limit), or before they are found.
        let _ = frame;
        let Some(getters) = TRACE_OBJECT_GETTERS.get(_py) else { return true };
        let installed = |getter: &Py<PyAny>| getter.call0(_py).ok().map(|found| found.as_ptr() == obj);
        !getters.iter().all(|getter| installed(getter) == Some(false))
    }
    #[cfg(not(all(Py_3_11, not(Py_3_12))))]
    {
        let _ = (obj, frame);
        true
    }
}

/// Portable mode on 3.11: `sys.gettrace` and `sys.getprofile`, for `trace_object_installed`.
#[cfg(all(Py_3_11, not(Py_3_12), hunter_portable))]
static TRACE_OBJECT_GETTERS: crate::gilcell::MadeOnce<[Py<PyAny>; 2]> = crate::gilcell::MadeOnce::new();

/// Makes ready what `trace_object_installed` reads, before a trace function is installed.
pub fn prepare_trace_object_check(_py: Python<'_>) -> PyResult<()> {
    #[cfg(all(Py_3_11, not(Py_3_12), hunter_portable))]
    TRACE_OBJECT_GETTERS.get_or_try_init(_py, || {
        let sys = import(_py, "sys")?;
        PyResult::Ok([sys.getattr("gettrace")?.unbind(), sys.getattr("getprofile")?.unbind()])
    })?;
    Ok(())
}

/// Portable mode cannot read the thread state's fields (their layout is not public API): no C-level trace function
/// is ever found, so none is chained to, and the one in place is replaced, as hunter 3.9.0 does.
#[cfg(hunter_portable)]
pub fn thread_trace_function(_py: Python<'_>) -> (Option<ffi::Py_tracefunc>, *mut ffi::PyObject) {
    (None, std::ptr::null_mut())
}

// ===== Portable mode (`cfg(hunter_portable)`) =====
// The same functions as the layout-reading ones above, through CPython's public C API only: what the core reads from
// frames, code objects and types on a CPython whose layouts it does not model (3.14+, free-threaded builds), and on
// any version when selected (the `portable` feature). Slower (a call, or an attribute lookup, where a field was read),
// with the same results. Functions it still calls by an underscore name are public API under another name, and are
// only reached on versions that have no public one: the code extras (`_PyCode_GetExtra` before 3.12, PEP 523's API,
// renamed `PyUnstable_Code_GetExtra` in 3.12), `_Py_IsFinalizing` (before 3.13, then `Py_IsFinalizing`), and
// `_PyUnicode_IsPrintable` (what the documented `Py_UNICODE_ISPRINTABLE` macro expands to, in every version).

/// Whether this build reads CPython through its public C API only (`hunter._hunter.PORTABLE`).
pub const PORTABLE: bool = cfg!(hunter_portable);

#[cfg(hunter_portable)]
pub use portable::{
    frame_code, frame_globals, frame_identity, replace_frame_trace, running_frame, running_frame_of, type_lookup,
    valid_version_tag,
};

#[cfg(hunter_portable)]
mod portable {
    use pyo3::ffi;
    use pyo3::prelude::*;
    use pyo3::types::{PyDict, PyFrame, PyString, PyTuple, PyType};

    /// Borrowed code object of a frame, valid while the frame lives.
    #[inline]
    pub fn frame_code(frame: Borrowed<'_, '_, PyFrame>) -> *mut ffi::PyObject {
        // SAFETY: a checked frame. PyFrame_GetCode returns a new reference to the frame's code object (never NULL),
        // which the frame itself holds for as long as it lives (a frame never changes its code): the pointer stays
        // valid after ours is released.
        unsafe {
            let code = ffi::PyFrame_GetCode(frame.as_ptr().cast()).cast::<ffi::PyObject>();
            ffi::Py_DECREF(code);
            code
        }
    }

    /// Borrowed globals dict of a frame, valid while the frame lives.
    #[inline]
    pub fn frame_globals(frame: Borrowed<'_, '_, PyFrame>) -> *mut ffi::PyObject {
        #[cfg(Py_3_11)]
        // SAFETY: a checked frame. PyFrame_GetGlobals returns a new reference to the frame's globals (never NULL),
        // which the frame holds for as long as it lives: the pointer stays valid after ours is released.
        unsafe {
            let globals = ffi::PyFrame_GetGlobals(frame.as_ptr().cast());
            ffi::Py_DECREF(globals);
            globals
        }
        #[cfg(not(Py_3_11))]
        {
            // A member of the (final) frame type, which never fails and runs no Python code.
            let globals =
                frame.getattr(pyo3::intern!(frame.py(), "f_globals")).expect("a frame object has its f_globals");
            // The frame holds its own reference, as above.
            globals.as_ptr()
        }
    }

    /// The identity of a frame: the frame object's address (see [`super::RunningFrame`]).
    #[inline]
    pub fn frame_identity(frame: Borrowed<'_, '_, PyFrame>) -> usize {
        frame.as_ptr() as usize
    }

    /// A live frame object as a [`super::RunningFrame`].
    pub fn running_frame_of(frame: Borrowed<'_, '_, PyFrame>) -> super::RunningFrame {
        // SAFETY: a checked frame. PyFrame_GetBack returns a new reference to the caller's frame object, or NULL,
        // which the caller's frame itself keeps once ours is released: only its address is kept.
        let caller = unsafe {
            let back = ffi::PyFrame_GetBack(frame.as_ptr().cast());
            ffi::Py_XDECREF(back.cast());
            back as usize
        };
        let thread_serial = super::current_thread_serial(frame.py());
        super::RunningFrame { identity: frame.as_ptr() as usize, caller, code: frame_code(frame), thread_serial }
    }

    /// The current thread's running frame (its frame object made by PyEval_GetFrame), None when it runs none.
    pub fn running_frame(py: Python<'_>) -> Option<super::RunningFrame> {
        // SAFETY: attached (`py`); PyEval_GetFrame returns the running frame, borrowed, or NULL.
        let frame = unsafe { Bound::from_borrowed_ptr_or_opt(py, ffi::PyEval_GetFrame().cast()) }?;
        // SAFETY: PyEval_GetFrame returns a frame object.
        Some(running_frame_of(unsafe { frame.cast_unchecked::<PyFrame>() }.as_borrowed()))
    }

    /// Makes `trace` the frame's `f_trace` (what `frame.f_trace = trace` does), unless it is already. Returns the
    /// previous one (None when it had none) when it was replaced, a strong reference for the caller to release, else
    /// NULL.
    ///
    /// # Safety
    /// `frame` must be a live frame object and `trace` a live object, the thread attached.
    #[inline(always)]
    pub unsafe fn replace_frame_trace(frame: *mut ffi::PyFrameObject, trace: *mut ffi::PyObject) -> *mut ffi::PyObject {
        // SAFETY: attached (the caller's contract).
        let py = unsafe { Python::assume_attached() };
        let name = pyo3::intern!(py, "f_trace").as_ptr();
        // SAFETY: a live frame and a str: the frame type (final) gets and sets `f_trace` through its own descriptor,
        // running no Python code. Each call's error, if any, is cleared: the frame is then left as it was.
        unsafe {
            let previous = ffi::PyObject_GetAttr(frame.cast(), name);
            if previous.is_null() {
                ffi::PyErr_Clear();
                return std::ptr::null_mut();
            }
            if previous == trace || ffi::PyObject_SetAttr(frame.cast(), name, trace) != 0 {
                ffi::PyErr_Clear();
                ffi::Py_DECREF(previous);
                return std::ptr::null_mut();
            }
            previous
        }
    }

    /// No class has a version tag to read here (`tp_version_tag` is an implementation detail): nothing is cached by
    /// one.
    pub fn valid_version_tag(class: &Bound<'_, PyType>) -> Option<u32> {
        let _ = class;
        None
    }

    /// What `name` finds on `ty` and its bases (its `__mro__`), without calling anything: the first of their
    /// dicts that has it.
    pub fn type_lookup<'py>(ty: &Bound<'py, PyType>, name: &Bound<'py, PyString>) -> Option<Bound<'py, PyAny>> {
        let py = ty.py();
        // SAFETY: a live type; `tp_mro` is NULL (not ready) or a tuple the type holds, made a strong reference at once.
        let mro = unsafe { Bound::from_borrowed_ptr_or_opt(py, (*ty.as_type_ptr()).tp_mro) }?;
        for base in mro.cast_into::<PyTuple>().ok()?.iter() {
            let dict = type_dict(base.cast::<PyType>().ok()?)?;
            if let Ok(Some(found)) = dict.get_item(name) {
                return Some(found);
            }
        }
        None
    }

    /// A type's own namespace (`PyType_GetDict` from 3.12 on, where builtin types keep it outside `tp_dict`).
    fn type_dict<'py>(ty: &Bound<'py, PyType>) -> Option<Bound<'py, PyDict>> {
        #[cfg(Py_3_12)]
        // SAFETY: a live type; PyType_GetDict returns a new reference or NULL (without an error set).
        let dict = unsafe { Bound::from_owned_ptr_or_opt(ty.py(), ffi::PyType_GetDict(ty.as_type_ptr())) };
        #[cfg(not(Py_3_12))]
        // SAFETY: a live type; `tp_dict` is NULL or a reference the type holds, made a strong reference at once.
        let dict = unsafe { Bound::from_borrowed_ptr_or_opt(ty.py(), (*ty.as_type_ptr()).tp_dict) };
        dict?.cast_into::<PyDict>().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_read_from_fast_locals_are_the_frame_locals() {
        Python::attach(|py| {
            let globals = PyDict::new(py);
            let code = c"import sys\ndef probe(a, b, *rest, c, **options):\n    keep = lambda: b\n    return sys._getframe()\nframe = probe(1, 'two', 3, c=[4], d=5)\n";
            py.run(code, Some(&globals), None).unwrap();
            let frame = globals.get_item("frame").unwrap().unwrap().cast_into::<PyFrame>().unwrap();
            let locals = frame.getattr("f_locals").unwrap();
            // (name, slot in co_varnames, captured by a closure)
            for (name, slot, is_cell) in
                [("a", 0, false), ("b", 1, true), ("c", 2, false), ("rest", 3, false), ("options", 4, false)]
            {
                let expected = locals.get_item(name).unwrap();
                // SAFETY: the slots are the indexes of the names in `probe.__code__.co_varnames`.
                let read = unsafe { call_argument(&frame, slot, is_cell) };
                assert_eq!(read.is_some(), cfg!(all(Py_3_11, not(hunter_portable))), "read directly from 3.11 on");
                if let Some(value) = read {
                    assert!(value.unwrap().eq(&expected).unwrap(), "{name}");
                }
            }
        });
    }

    #[test]
    fn replacing_a_frame_trace_is_setting_its_f_trace() {
        Python::attach(|py| {
            let globals = PyDict::new(py);
            py.run(c"import sys\ndef probe():\n    return sys._getframe()\nframe = probe()\n", Some(&globals), None)
                .unwrap();
            let frame = globals.get_item("frame").unwrap().unwrap().cast_into::<PyFrame>().unwrap();
            let trace = PyDict::new(py);
            // SAFETY: a live frame and a live object, attached.
            let previous = unsafe { replace_frame_trace(frame.as_ptr().cast(), trace.as_ptr()) };
            assert!(frame.getattr("f_trace").unwrap().is(&trace));
            // SAFETY: a replaced trace gives a strong reference to the previous one (a frame without one has None).
            let previous = unsafe { Bound::from_owned_ptr_or_opt(py, previous) };
            assert!(previous.is_none_or(|previous| previous.is_none()), "the frame had no trace function");
            // SAFETY: as above.
            let again = unsafe { replace_frame_trace(frame.as_ptr().cast(), trace.as_ptr()) };
            assert!(again.is_null(), "already the frame's trace: nothing replaced");
        });
    }

    #[test]
    fn type_lookup_finds_what_the_mro_defines_without_calling_it() {
        Python::attach(|py| {
            let globals = PyDict::new(py);
            let code = c"class Base(Exception):\n    @property\n    def args(self):\n        raise RuntimeError\nclass Child(Base):\n    pass\n";
            py.run(code, Some(&globals), None).unwrap();
            let child = globals.get_item("Child").unwrap().unwrap().cast_into::<pyo3::types::PyType>().unwrap();
            let args = pyo3::types::PyString::new(py, "args");
            let found = type_lookup(&child, &args).expect("defined by Base");
            let base = globals.get_item("Base").unwrap().unwrap();
            let defined = base.getattr("__dict__").unwrap().get_item("args").unwrap();
            assert!(found.is(defined), "the property itself, not called");
            let missing = pyo3::types::PyString::new(py, "no_such_attribute");
            assert!(type_lookup(&child, &missing).is_none());
            // A builtin type's own namespace (outside `tp_dict` from 3.12 on).
            let exception = py.get_type::<pyo3::exceptions::PyException>();
            assert!(type_lookup(&exception, &args).is_some(), "BaseException.args");
        });
    }

    #[test]
    fn frame_fields_read_directly_are_the_frame_accessors_values() {
        Python::attach(|py| {
            let globals = PyDict::new(py);
            // A finished frame (its data moved into the frame object) and a running one (the caller's).
            let code = c"import sys\ndef probe():\n    return sys._getframe()\nfinished = probe()\nrunning = sys._getframe()\n";
            py.run(code, Some(&globals), None).unwrap();
            for name in ["finished", "running"] {
                let frame = globals.get_item(name).unwrap().unwrap().cast_into::<PyFrame>().unwrap();
                let code = frame.getattr("f_code").unwrap();
                let f_globals = frame.getattr("f_globals").unwrap();
                assert_eq!(frame_code(frame.as_borrowed()), code.as_ptr(), "{name} frame's code");
                assert_eq!(frame_globals(frame.as_borrowed()), f_globals.as_ptr(), "{name} frame's globals");
                assert!(f_globals.is(&globals));
            }
        });
    }

    #[cfg(not(hunter_portable))]
    unsafe extern "C" fn no_op_trace(
        _obj: *mut ffi::PyObject,
        _frame: *mut ffi::PyFrameObject,
        _what: c_int,
        _arg: *mut ffi::PyObject,
    ) -> c_int {
        0
    }

    #[cfg(not(hunter_portable))]
    #[test]
    fn thread_trace_function_reads_what_pyeval_settrace_installed() {
        Python::attach(|py| {
            let marker = PyDict::new(py);
            // SAFETY: attached; the thread state takes its own reference to `marker`, released by the second call.
            unsafe { ffi::PyEval_SetTrace(Some(no_op_trace), marker.as_ptr()) };
            let (function, object) = thread_trace_function(py);
            // SAFETY: attached; uninstalls the no-op trace function again.
            unsafe { ffi::PyEval_SetTrace(None, std::ptr::null_mut()) };
            assert_eq!(function.map(|f| f as usize), Some(no_op_trace as ffi::Py_tracefunc as usize));
            assert_eq!(object, marker.as_ptr());
            assert!(thread_trace_function(py).0.is_none());
        });
    }

    /// The loop ends read from the bytecode are those `dis.get_instructions` tells, on the code objects of modules
    /// with every kind of loop, jump and handler (3.13, where settrace reports some).
    #[cfg(Py_3_13)]
    #[test]
    fn reported_loop_ends_are_what_dis_tells() {
        Python::attach(|py| {
            let by_dis = py
                .eval(
                    cr#"(lambda dis, importlib: [
                        (code, sorted(i.argval for i in dis.get_instructions(code)
                                      if i.opname == 'FOR_ITER' and not i.starts_line and not i.is_jump_target))
                        for name in ('json.decoder', 'json.encoder', 'asyncio.base_events', 'argparse', 'dis',
                                     'collections', 'difflib', 'email.feedparser', 'textwrap', 'tokenize',
                                     'inspect', 'typing', 'logging', 'zipfile', 'pathlib._local', 'ast', 'pydoc')
                        for todo in [[importlib.import_module(name).__loader__.get_code(name)]]
                        for code in iter(lambda: (todo.extend(c for c in todo[0].co_consts if hasattr(c, 'co_code'))
                                                  or todo.pop(0)) if todo else None, None)
                    ])(__import__('dis'), __import__('importlib'))"#,
                    None,
                    None,
                )
                .unwrap();
            let mut compared = 0;
            let mut with_some = 0;
            for pair in by_dis.try_iter().unwrap() {
                let pair = pair.unwrap();
                let expected: Vec<c_int> = pair.get_item(1).unwrap().extract().unwrap();
                assert_eq!(settrace_reported_end_fors(&pair.get_item(0).unwrap()).unwrap(), expected);
                compared += 1;
                with_some += usize::from(!expected.is_empty());
            }
            assert!(compared > 700 && with_some >= 10, "{compared} code objects, {with_some} with reported ends");
        });
    }
}
