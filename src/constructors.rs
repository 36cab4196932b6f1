//! The native classes that stand for hunter's pure-Python classes (`Query`, `When`, `Tracer`, ...) name their
//! constructor as those do in argument errors: `From.__init__() got an unexpected keyword argument 'module'`, counting
//! `self` among the positional arguments (`Query.__init__() takes 1 positional argument but 2 were given`). pyo3 names
//! it `__new__` and leaves `self` out; its message is rewritten when construction fails, in the one `tp_new` each of
//! these classes gets here. That `tp_new` also makes a Python subclass with a constructor of its own as a Python class
//! is made, when the native class has an `__init__` to hand its arguments to (`Tracer`, `Event`): from blank
//! arguments of the class's (the defaults; an event of no frame), the arguments left to the subclass's `__init__`.

use std::sync::OnceLock;

use pyo3::exceptions::PyTypeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyTuple, PyType};

/// One class of [`name_as_init`].
struct Constructor {
    /// The class (an address).
    class: usize,
    /// The `tp_new` pyo3 made for it.
    original: ffi::newfunc,
    /// The arguments a subclass with an `__init__` of its own is made from, for a class whose `__init__` takes the
    /// constructor's arguments (see the module's doc).
    blank: Option<Py<PyTuple>>,
}

/// Set once, when the module is made.
static CONSTRUCTORS: OnceLock<Vec<Constructor>> = OnceLock::new();

/// Makes the argument errors of `classes`' constructors read as their Python counterparts' (see the module's doc);
/// each class with the blank arguments of its subclasses', if it has an `__init__`. Called once, when the module is
/// made, before any Python subclass of them can exist (a subclass takes its base's `tp_new` when it is made).
pub fn name_as_init(classes: Vec<(Bound<'_, PyType>, Option<Bound<'_, PyTuple>>)>) {
    let mut constructors = Vec::with_capacity(classes.len());
    for (class, blank) in classes {
        let ty = class.as_type_ptr();
        // SAFETY: a live type this module made (a heap type); `tp_new` is read, then pointed at `new_named_as_init`,
        // which calls the one read. `PyType_Modified` tells CPython a slot changed.
        unsafe {
            if let Some(original) = (*ty).tp_new {
                constructors.push(Constructor { class: ty as usize, original, blank: blank.map(Bound::unbind) });
                (*ty).tp_new = Some(new_named_as_init);
                ffi::PyType_Modified(ty);
            }
        }
    }
    // Made once per process (the module refuses a second interpreter); a second call changes nothing.
    let _ = CONSTRUCTORS.set(constructors);
}

/// The `tp_new` of the classes of [`name_as_init`]: pyo3's, for the native class `subtype` is (or derives from), with
/// its argument error renamed.
///
/// # Safety
/// A `newfunc`, called by CPython attached: `subtype` a type deriving from one of the classes, `args` a tuple, `kwds`
/// NULL or a dict.
unsafe extern "C" fn new_named_as_init(
    subtype: *mut ffi::PyTypeObject,
    args: *mut ffi::PyObject,
    kwds: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    let constructors = CONSTRUCTORS.get().map_or(&[][..], Vec::as_slice);
    let mut ty = subtype;
    while !ty.is_null() {
        if let Some(constructor) = constructors.iter().find(|constructor| constructor.class == ty as usize) {
            let (native, original) = (constructor.class, constructor.original);
            // SAFETY: live types (`subtype` and its base `ty`).
            let from_blank = unsafe { initialised_by_subclass(subtype, ty) };
            let (args, kwds) = match &constructor.blank {
                Some(blank) if from_blank => (blank.as_ptr(), std::ptr::null_mut()),
                _ => (args, kwds),
            };
            // SAFETY: pyo3's `tp_new` of the native class `subtype` derives from, called as CPython called this one,
            // or with the class's blank arguments (a tuple the module holds for the process).
            let made = unsafe { original(subtype, args, kwds) };
            if made.is_null() {
                // SAFETY: attached (this function's contract); `native` is a live type (this module's).
                unsafe { rename_argument_error(Python::assume_attached(), native as *mut ffi::PyTypeObject) };
            }
            return made;
        }
        // SAFETY: a live type (its bases live as long as it does).
        ty = unsafe { (*ty).tp_base };
    }
    // Only the classes given to `name_as_init` (and their subclasses) have this slot.
    // SAFETY: attached (this function's contract).
    PyTypeError::new_err("hunter: a constructor of another class").restore(unsafe { Python::assume_attached() });
    std::ptr::null_mut()
}

/// Whether a `subtype` of the native class `native` is made from blank arguments and leaves its own to its
/// `__init__`, as a Python class's `object.__new__` ignores them: when `native` has an `__init__` that takes them
/// (`Tracer`, `Event`), for a subclass that defines `__init__` (it calls `super().__init__(...)` with them, if any).
///
/// # Safety
/// Both must be live types, `native` a base of `subtype`.
unsafe fn initialised_by_subclass(subtype: *mut ffi::PyTypeObject, native: *mut ffi::PyTypeObject) -> bool {
    // SAFETY: live types (this function's contract); only their `tp_init` slots are read.
    unsafe {
        let object_init = (*std::ptr::addr_of_mut!(ffi::PyBaseObject_Type)).tp_init.map(|f| f as usize);
        let native_init = (*native).tp_init.map(|f| f as usize);
        subtype != native && native_init != object_init && (*subtype).tp_init.map(|f| f as usize) != native_init
    }
}

/// Rewrites the current exception, when it is pyo3's argument error of `native`'s constructor, as CPython words it
/// for a Python class's `__init__`; leaves any other as it is.
///
/// # Safety
/// `native` must be a live type.
unsafe fn rename_argument_error(py: Python<'_>, native: *mut ffi::PyTypeObject) {
    let Some(error) = PyErr::take(py) else { return };
    // SAFETY: a live type (this function's contract), borrowed for the lookup of its name.
    let class = unsafe { Borrowed::from_ptr(py, native.cast::<ffi::PyObject>()).cast_unchecked::<PyType>() };
    let renamed = error.get_type(py).is(py.get_type::<PyTypeError>()).then(|| {
        let name = class.name().ok()?.to_string();
        let message = error.value(py).str().ok()?.to_string();
        let details = message.strip_prefix(&format!("{name}.__new__() "))?;
        let function = if crate::compat::ARGUMENT_ERRORS_NAME_THE_CLASS {
            format!("{name}.__init__()")
        } else {
            "__init__()".to_owned()
        };
        Some(format!("{function} {}", counting_self(details)))
    });
    match renamed.flatten() {
        Some(message) => PyTypeError::new_err(message).restore(py),
        None => error.restore(py),
    }
}

/// The details of a message about positional arguments (`takes 0 positional arguments but 1 was given`), counting
/// `self` as CPython does for `__init__`; any other details as they are.
fn counting_self(details: &str) -> String {
    let counted = || -> Option<String> {
        let (takes, given) = details.strip_prefix("takes ")?.split_once(" positional arguments but ")?;
        let (given, _was) = given.split_once(' ')?;
        let given = given.parse::<usize>().ok()? + 1;
        let takes = match takes.strip_prefix("from ") {
            Some(range) => {
                let (least, most) = range.split_once(" to ")?;
                format!(
                    "from {} to {} positional arguments",
                    least.parse::<usize>().ok()? + 1,
                    most.parse::<usize>().ok()? + 1
                )
            }
            None => match takes.parse::<usize>().ok()? + 1 {
                1 => "1 positional argument".to_owned(),
                count => format!("{count} positional arguments"),
            },
        };
        Some(format!("takes {takes} but {given} were given"))
    };
    counted().unwrap_or_else(|| details.to_owned())
}

#[cfg(test)]
mod tests {
    use super::counting_self;

    #[test]
    fn positional_counts_take_self_in() {
        assert_eq!(
            counting_self("takes 0 positional arguments but 1 was given"),
            "takes 1 positional argument but 2 were given"
        );
        assert_eq!(
            counting_self("takes 1 positional arguments but 3 were given"),
            "takes 2 positional arguments but 4 were given"
        );
        assert_eq!(
            counting_self("takes from 0 to 3 positional arguments but 4 were given"),
            "takes from 1 to 4 positional arguments but 5 were given"
        );
        for other in [
            "got an unexpected keyword argument 'module'",
            "missing 1 required positional argument: 'condition'",
            "got multiple values for argument 'condition'",
        ] {
            assert_eq!(counting_self(other), other);
        }
    }
}
