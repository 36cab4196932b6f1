//! The builtin classes and callables safe_repr recognizes ([`Known`], fetched once), and the type tests it
//! makes: identity with a known class, heap or static type, plain metaclass, exception class. None of them
//! runs Python code.

use crate::gilcell::MadeOnce;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyType};

/// The classes and callables safe_repr compares against, fetched once.
pub(super) struct Known {
    pub(super) deque: Py<PyType>,
    pub(super) counter: Py<PyType>,
    pub(super) ordered_dict: Py<PyType>,
    pub(super) default_dict: Py<PyType>,
    pub(super) pattern: Py<PyType>,
    pub(super) date: Py<PyType>,
    pub(super) time: Py<PyType>,
    pub(super) datetime: Py<PyType>,
    pub(super) timedelta: Py<PyType>,
    pub(super) bound_method: Py<PyType>,
    pub(super) regex_flag: Py<PyAny>,
    pub(super) reversed: Py<PyAny>,
    pub(super) object_repr: Py<PyAny>,
    pub(super) dict_items: Py<PyAny>,
    pub(super) ordered_dict_items: Py<PyAny>,
    pub(super) gc_get_referents: Py<PyAny>,
    pub(super) wrapper_descriptor: Py<PyType>,
    /// Builtins whose repr shows only their own state, never another object's repr.
    pub(super) plain_leaves: Vec<Py<PyType>>,
    pub(super) dict_views: Vec<Py<PyType>>,
    pub(super) mappingproxy: Py<PyType>,
    pub(super) slice: Py<PyType>,
    /// `staticmethod` and `classmethod`: their repr shows the wrapped callable's repr (3.10+).
    pub(super) callable_wrappers: Vec<Py<PyType>>,
}

impl Known {
    pub(super) fn get(py: Python<'_>) -> PyResult<&'static Known> {
        static KNOWN: MadeOnce<Known> = MadeOnce::new();
        KNOWN.get_or_try_init(py, || Known::fetch(py))
    }

    fn fetch(py: Python<'_>) -> PyResult<Known> {
        let collections = crate::compat::import(py, "collections")?;
        let datetime = crate::compat::import(py, "datetime")?;
        let builtins = crate::compat::import(py, "builtins")?;
        // Many builtin types have no public name; the type of a sample value is the simplest handle.
        let class_of = |expr: &str| -> PyResult<Py<PyType>> {
            let value = builtins.getattr("eval")?.call1((expr, PyDict::new(py)))?;
            Ok(value.get_type().unbind())
        };
        let attr_type = |module: &Bound<'_, PyModule>, name: &str| -> PyResult<Py<PyType>> {
            Ok(module.getattr(name)?.cast_into::<PyType>()?.unbind())
        };
        let builtin_type = |name: &str| attr_type(&builtins, name);
        // NoneType, bool, int, float, complex, str, bytes, bytearray, ellipsis, NotImplementedType, range,
        // function, builtin_function_or_method, method_descriptor, wrapper_descriptor, getset_descriptor,
        // member_descriptor, classmethod_descriptor, property and type (a class whose metaclass is `type`).
        let plain_leaves = [
            "None",
            "True",
            "0",
            "0.0",
            "0j",
            "''",
            "b''",
            "bytearray()",
            "...",
            "NotImplemented",
            "range(0)",
            "lambda: None",
            "len",
            "str.join",
            "object.__init__",
            "type.__dict__['__dict__']",
            "type.__dict__['__basicsize__']",
            "dict.__dict__['fromkeys']",
            "property()",
            "int",
        ]
        .iter()
        .map(|expr| class_of(expr))
        .collect::<PyResult<_>>()?;
        let dict_views = [
            "{}.keys()",
            "{}.values()",
            "{}.items()",
            "__import__('collections').OrderedDict().keys()",
            "__import__('collections').OrderedDict().values()",
            "__import__('collections').OrderedDict().items()",
        ]
        .iter()
        .map(|expr| class_of(expr))
        .collect::<PyResult<_>>()?;
        Ok(Known {
            deque: attr_type(&collections, "deque")?,
            counter: attr_type(&collections, "Counter")?,
            ordered_dict: attr_type(&collections, "OrderedDict")?,
            default_dict: attr_type(&collections, "defaultdict")?,
            pattern: attr_type(&crate::compat::import(py, "re")?, "Pattern")?,
            date: attr_type(&datetime, "date")?,
            time: attr_type(&datetime, "time")?,
            datetime: attr_type(&datetime, "datetime")?,
            timedelta: attr_type(&datetime, "timedelta")?,
            bound_method: attr_type(&crate::compat::import(py, "types")?, "MethodType")?,
            regex_flag: crate::compat::import(py, "re")?.getattr("RegexFlag")?.unbind(),
            reversed: builtins.getattr("reversed")?.unbind(),
            object_repr: builtins.getattr("object")?.getattr("__repr__")?.unbind(),
            dict_items: builtins.getattr("dict")?.getattr("items")?.unbind(),
            ordered_dict_items: collections.getattr("OrderedDict")?.getattr("items")?.unbind(),
            gc_get_referents: crate::compat::import(py, "gc")?.getattr("get_referents")?.unbind(),
            wrapper_descriptor: class_of("object.__repr__")?,
            plain_leaves,
            dict_views,
            mappingproxy: class_of("type.__dict__")?,
            slice: builtin_type("slice")?,
            callable_wrappers: vec![builtin_type("staticmethod")?, builtin_type("classmethod")?],
        })
    }
}

pub(super) fn is_type(ty: &Bound<'_, PyType>, known: &Py<PyType>) -> bool {
    ty.as_ptr() == known.as_ptr()
}

pub(super) fn is_any_type(ty: &Bound<'_, PyType>, known: &[Py<PyType>]) -> bool {
    known.iter().any(|candidate| is_type(ty, candidate))
}

pub(super) fn is_ffi_type(ty: &Bound<'_, PyType>, known: *mut ffi::PyTypeObject) -> bool {
    ty.as_type_ptr() == known
}

/// Whether `type(ty) is type`, i.e. the class has no metaclass that could run code.
pub(super) fn has_plain_metaclass(ty: &Bound<'_, PyType>) -> bool {
    is_ffi_type(&ty.get_type(), &raw mut ffi::PyType_Type)
}

pub(super) fn is_exception_class(ty: &Bound<'_, PyType>) -> bool {
    // SAFETY: both are live type objects (`ty` from a `Bound<PyType>`, BaseException a static type); PyType_IsSubtype
    // reads their MROs and runs no code.
    unsafe { ffi::PyType_IsSubtype(ty.as_type_ptr(), ffi::PyExc_BaseException.cast()) != 0 }
}

pub(super) fn is_heap_type(ty: &Bound<'_, PyType>) -> bool {
    // SAFETY: a live type object (from a `Bound<PyType>`); PyType_GetFlags only reads `tp_flags`.
    unsafe { ffi::PyType_GetFlags(ty.as_type_ptr()) & ffi::Py_TPFLAGS_HEAPTYPE != 0 }
}
