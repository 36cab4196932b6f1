//! Trace events: the owned `EventData` that predicates read on the hot path, and the Python-visible
//! `Event` class wrapping it. Every field is computed lazily, once, from the live frame.
//!
//! # Files
//!
//! Each file owns one concept and uses only the files listed above it:
//! - `kind.rs`: the event kind (`Kind`), from settrace's numbers and hunter's names;
//! - `slots.rs`: the lazily computed attributes (`Slot`) and those `detach` copies (`DETACHED_SLOTS`);
//! - `field.rs`: the attributes queries filter on (`Field`, declared by `query_fields!`) and the slot each is
//!   read from; uses `slots`;
//! - `frame.rs`: the event's frame (`EventFrame`): a live frame with its code's facts (`FrameWithCode`) or a
//!   stand-in object read through its `f_*` attributes; and `parent_frame`;
//! - `data.rs`: what an event holds (`EventData`), its construction (`from_trace`, `new`), a new frame or a
//!   given attribute, `clone_with_counters`, and the garbage collector's traverse/clear; uses `kind`, `slots`,
//!   `frame`;
//! - `values.rs`: the attributes' values: each slot computed once (`cached`), a query field's value (`get`),
//!   the printers' fast paths over a live frame, and `detach`; uses all the above;
//! - `class.rs`: the Python class `Event` (`#[pyclass]`, its getters, setters and methods); uses `kind`,
//!   `slots`, `field`, `frame`, `data` (and the methods of `values`);
//! - `event_ref.rs`: an event being evaluated (`EventRef`): the data and its Python `Event`, made once on
//!   demand; uses `data`, `class`;
//! - `mod.rs` (this file): only declarations and the crate-facing names.

mod class;
mod data;
mod event_ref;
mod field;
mod frame;
mod kind;
mod slots;
mod values;

pub use class::Event;
pub use data::EventData;
pub use event_ref::EventRef;
pub use field::Field;
pub use frame::parent_frame;
pub use kind::Kind;
