//! The event attributes computed lazily, once each (`Slot`), and which of them a detached event keeps.

/// Lazily computed attributes, cached in `EventData::slots`.
#[derive(Clone, Copy)]
pub(super) enum Slot {
    Code,
    Function,
    Module,
    Filename,
    Lineno,
    Globals,
    Locals,
    Stdlib,
    Source,
    Fullsource,
    Threadid,
    Threadname,
    Instruction,
    FunctionObject,
}

pub(super) const SLOT_COUNT: usize = 14;

/// Copied eagerly by `detach()` (hunter's list); `FunctionObject` only if it was already computed.
pub(super) const DETACHED_SLOTS: [Slot; 11] = [
    Slot::Code,
    Slot::Filename,
    Slot::Fullsource,
    Slot::Function,
    Slot::Lineno,
    Slot::Module,
    Slot::Source,
    Slot::Stdlib,
    Slot::Threadid,
    Slot::Threadname,
    Slot::Instruction,
];
