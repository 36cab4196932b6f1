//! The printing actions' per-event work: the rows of `CodePrinter`, `CallPrinter`, `VarsPrinter`, `VarsSnooper`
//! and `StackPrinter`, their prefixes, value rendering (bounded `safe_repr`, `repr` or any callable) and the
//! single write per event.
//!
//! `hunter.actions.ColorStreamAction` (Python) derives from [`NativeStreamAction`]: Python resolves the
//! options (config defaults, `stream='path'`, colours), the native side reads them back once (again after
//! any option changes) and does the formatting. `When` hands matching events straight to
//! [`print_natively`] when an action's `__call__` is ours, so printing runs no Python frame at all.
//!
//! The submodules, each using only those listed before it:
//! - [`text`]: Python's string semantics (lengths, padding, `strip`, `splitlines`) for text built in Rust.
//! - [`colours`]: the colour codes the rows use (`other_colors`, `event_colors`).
//! - [`rows`]: hunter's row formats, compiled, and the two ways a row is written (natively or to `output`).
//! - [`callstack`]: the `CallStack` class, CallPrinter's per-thread stack of calls not yet returned.
//! - [`caches`]: what an action keeps between events (filename columns, CallPrinter's last stack and line rows).
//! - [`options`]: the options every printer uses, read from the Python action, with those caches.
//! - [`stream`]: the one `write` of an event's text to the stream.
//! - [`values`]: a value's text (`try_repr`, `try_str`, clipped to `repr_limit`).
//! - [`facts`]: what the rows show of an event's code (function, module, filename, line number).
//! - [`prefixes`]: the pid, thread and `filename:lineno` columns.
//! - [`source`]: the source column (`try_source`).
//! - [`printing`]: one event being printed: each method hunter's printers call on themselves, natively or
//!   through Python in hook mode.
//! - [`spans`]: the matched calls still open per thread, with their start times, pairing returns with calls
//!   (CallPrinter's `durations`, TreePrinter, Profile, Timeline).
//! - [`code`], [`call`], [`vars`], [`stack`], [`tree`], [`profile`]: the rows of CodePrinter, CallPrinter,
//!   VarsPrinter and VarsSnooper, StackPrinter, TreePrinter, and Profile's table.
//! - [`timeline`]: Timeline's bounded buffer of timed spans (written as a Chrome trace by the Python side).
//! - [`stopped`]: telling the actions a tracer reaches that it stopped.
//! - [`native_stream_action`]: the `NativeStreamAction` class: which printer runs, the methods it offers
//!   Python, and [`print_natively`].

mod caches;
mod call;
mod callstack;
mod code;
mod colours;
mod facts;
mod native_stream_action;
mod options;
mod prefixes;
mod printing;
mod profile;
mod rows;
mod source;
mod spans;
mod stack;
mod stopped;
mod stream;
mod text;
mod timeline;
mod tree;
mod values;
mod vars;

pub use callstack::CallStack;
pub use native_stream_action::{
    inherits_native_call, print_natively, record_directly, record_in_order, recorder, NativeStreamAction,
};
pub use spans::{_format_duration, UnboundMethod};
pub use stopped::notify_tracer_stopped;
pub use timeline::{_untraced, Running};
