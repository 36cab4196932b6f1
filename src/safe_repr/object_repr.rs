//! The texts of `object.__repr__`, `type.__repr__` and `function.__repr__`, built natively from the names
//! stored in the type (no metaclass code runs), and the cache of object repr heads ([`ObjectReprHeads`]).

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyType};
use pyo3::{ffi, intern};

use super::known::is_heap_type;
use crate::gilcell::{cache_slot, GilRc, GilRefCell};

/// The start of `object.__repr__` text for a class without a metaclass (so reading its names runs no code),
/// given the class's `__module__`: `<module.Qualname`, or `<tp_name` for builtins and a non-str module.
pub(super) fn object_repr_head(ty: &Bound<'_, PyType>, module: Option<&Bound<'_, PyAny>>) -> PyResult<String> {
    let module = module.and_then(|module| module.cast::<PyString>().ok()).filter(|module| module != "builtins");
    Ok(match module {
        Some(module) => format!("<{}.{}", module.to_string_lossy(), ty.qualname()?.to_string_lossy()),
        // SAFETY: every type has a NUL-terminated `tp_name`, alive as long as the type, which `ty` holds.
        None => format!("<{}", unsafe { std::ffi::CStr::from_ptr((*ty.as_type_ptr()).tp_name) }.to_string_lossy()),
    })
}

/// `type.__repr__(class)` for a class whose metaclass is exactly `type` (the same text, without building
/// it through `PyUnicode_FromFormat`); None for names that are not valid UTF-8, left to CPython.
pub(super) fn class_repr(class: &Bound<'_, PyType>) -> Option<String> {
    // SAFETY: every type has a NUL-terminated `tp_name`, alive as long as the type, which `class` holds.
    let tp_name = unsafe { std::ffi::CStr::from_ptr((*class.as_type_ptr()).tp_name) }.to_str().ok()?;
    if let Some((Some(module), qualname)) = heap_type_names(class) {
        return Some(format!("<class '{}.{}'>", module.to_str().ok()?, qualname.to_str().ok()?));
    }
    // A static type's `tp_name` is its module and qualname already.
    Some(format!("<class '{tp_name}'>"))
}

/// A heap type's `__module__` entry (None unless it is a str other than `'builtins'`) and `__qualname__`, read
/// from its dict and slot as `type.__repr__` and `object.__repr__` read them: no metaclass code runs. None for
/// a static type, whose names are in `tp_name`.
fn heap_type_names<'py>(ty: &Bound<'py, PyType>) -> Option<(Option<Bound<'py, PyString>>, Bound<'py, PyString>)> {
    if !is_heap_type(ty) {
        return None;
    }
    let py = ty.py();
    // SAFETY: a heap type (checked above), so the object is a `PyHeapTypeObject`; `ht_qualname` is a reference it
    // holds.
    let qualname = unsafe { (*ty.as_type_ptr().cast::<ffi::PyHeapTypeObject>()).ht_qualname };
    // SAFETY: borrowed from the live type, and made a strong reference at once (NULL gives None); its type is checked
    // next.
    let qualname = unsafe { Bound::from_borrowed_ptr_or_opt(py, qualname) }?.cast_into::<PyString>().ok()?;
    // SAFETY: a live type object; `tp_dict` is NULL or a reference the type holds.
    let dict = unsafe { (*ty.as_type_ptr()).tp_dict };
    // SAFETY: borrowed from the live type and made a strong reference at once (NULL gives None); cast to a dict before
    // use.
    let module = unsafe { Bound::from_borrowed_ptr_or_opt(py, dict) }
        .and_then(|dict| dict.cast_into::<PyDict>().ok()?.get_item(intern!(py, "__module__")).ok()?)
        .and_then(|module| module.cast_into::<PyString>().ok())
        .filter(|module| module != "builtins");
    Some((module, qualname))
}

/// `function.__repr__`: `<function qualname at 0x...>`; None for a qualname that is not valid UTF-8.
pub(super) fn function_repr(function: &Bound<'_, PyAny>) -> PyResult<Option<String>> {
    let qualname = function.getattr(intern!(function.py(), "__qualname__"))?;
    let Ok(qualname) = qualname.cast::<PyString>().map(|qualname| qualname.to_str().map(str::to_owned)) else {
        return Ok(None);
    };
    let mut address = [0; 18];
    Ok(qualname
        .ok()
        .map(|qualname| format!("<function {qualname} at {}>", hex_address(function.as_ptr() as usize, &mut address))))
}

/// `{:#x}` of an address, without the formatting machinery (it runs for every object shown this way).
pub(super) fn hex_address(address: usize, buffer: &mut [u8; 18]) -> &str {
    let mut start = buffer.len();
    let mut rest = address;
    loop {
        start -= 1;
        buffer[start] = b"0123456789abcdef"[rest & 0xf];
        rest >>= 4;
        if rest == 0 {
            break;
        }
    }
    buffer[start - 2..start].copy_from_slice(b"0x");
    // SAFETY: only ASCII was written.
    unsafe { std::str::from_utf8_unchecked(&buffer[start - 2..]) }
}

/// The object repr heads of recently shown classes. A head is made of the class's `__module__` and
/// `__qualname__` only, so it is remembered under the class's address, its attribute-cache version tag, which
/// CPython renews whenever `__module__` or another attribute in the class's dict is set (and a new class never
/// gets an old tag), and its `__qualname__` object (held, so that its address stays its own; setting it leaves
/// the tag alone on 3.13); or under the address alone for a static type, whose names never change. Programs
/// show instances of a few classes over and over, and looking their names up costs more than the rest of the
/// row.
pub(super) struct ObjectReprHeads;

#[derive(Clone, Copy, PartialEq, Eq)]
enum HeadKey {
    StaticType(usize),
    HeapType { address: usize, version_tag: u32, qualname: usize },
}

struct HeadSlot {
    key: HeadKey,
    /// A heap type's `__qualname__`, whose address is in the key.
    _qualname: Option<Py<PyAny>>,
    head: GilRc<str>,
}

const OBJECT_REPR_HEAD_SLOTS: usize = 64;

static OBJECT_REPR_HEADS: GilRefCell<[Option<HeadSlot>; OBJECT_REPR_HEAD_SLOTS]> =
    GilRefCell::new([const { None }; OBJECT_REPR_HEAD_SLOTS]);

impl ObjectReprHeads {
    /// The class's key; None for a heap type without a valid version tag (it is not cached then).
    fn key_of(ty: &Bound<'_, PyType>) -> Option<HeadKey> {
        let address = ty.as_ptr() as usize;
        if !is_heap_type(ty) {
            return Some(HeadKey::StaticType(address));
        }
        let version_tag = crate::compat::valid_version_tag(ty)?;
        // SAFETY: a heap type (checked above), so the object is a `PyHeapTypeObject`; only the address of its qualname
        // is kept, as part of the key.
        let qualname = unsafe { (*ty.as_type_ptr().cast::<ffi::PyHeapTypeObject>()).ht_qualname } as usize;
        Some(HeadKey::HeapType { address, version_tag, qualname })
    }

    fn slot(key: HeadKey) -> usize {
        let mixed = match key {
            HeadKey::StaticType(address) => address as u64,
            HeadKey::HeapType { address, version_tag, qualname } => {
                address as u64 ^ u64::from(version_tag) ^ (qualname as u64).rotate_left(32)
            }
        };
        cache_slot::<OBJECT_REPR_HEAD_SLOTS>(mixed)
    }

    pub(super) fn find(py: Python<'_>, ty: &Bound<'_, PyType>) -> Option<GilRc<str>> {
        let key = Self::key_of(ty)?;
        OBJECT_REPR_HEADS.with_mut(py, |slots| match &slots[Self::slot(key)] {
            Some(slot) if slot.key == key => Some(slot.head.clone_ref(py)),
            _ => None,
        })
    }

    /// The head for a class with any metaclass: `object.__repr__` reads the class's `__module__` entry and
    /// `__qualname__` slot directly, without running metaclass code, and so does this. None where the head would
    /// come from `tp_name` (a static type, or `__module__` not a str or `'builtins'`).
    pub(super) fn of_any_class(py: Python<'_>, ty: &Bound<'_, PyType>) -> Option<GilRc<str>> {
        if let Some(head) = Self::find(py, ty) {
            return Some(head);
        }
        let (Some(module), qualname) = heap_type_names(ty)? else {
            return None;
        };
        let head: GilRc<str> = format!("<{}.{}", module.to_string_lossy(), qualname.to_string_lossy()).into();
        Self::remember(py, ty, &head);
        Some(head)
    }

    pub(super) fn remember(py: Python<'_>, ty: &Bound<'_, PyType>, head: &GilRc<str>) {
        let Some(key) = Self::key_of(ty) else {
            return;
        };
        let qualname = match key {
            // SAFETY: `key_of` read this address from the live type's `ht_qualname` just above, with no code run since,
            // so it is the type's current qualname; it becomes a strong reference at once.
            HeadKey::HeapType { qualname, .. } => unsafe {
                Bound::from_borrowed_ptr_or_opt(py, qualname as *mut ffi::PyObject)
            },
            HeadKey::StaticType(_) => None,
        };
        let slot = HeadSlot { key, _qualname: qualname.map(Bound::unbind), head: head.clone_ref(py) };
        // The slot replaced is released after the update, outside of it.
        let _replaced = OBJECT_REPR_HEADS.with_mut(py, |slots| slots[Self::slot(key)].replace(slot));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_spread_over_the_head_slots() {
        // Classes as an allocator lays them out: 1 KiB apart, with consecutive version tags.
        let slots: std::collections::HashSet<usize> = (0..16)
            .map(|class| {
                ObjectReprHeads::slot(HeadKey::HeapType {
                    address: 0x7f3a_1c80_0000 + class * 1024,
                    version_tag: 900 + class as u32,
                    qualname: 0x7f3a_2000_0000 + class * 64,
                })
            })
            .collect();
        assert!(slots.len() >= 12, "16 classes share {} slots", slots.len());
    }
}
