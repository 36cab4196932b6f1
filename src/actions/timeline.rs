//! Timeline: the matched calls of every thread as timed spans, and exceptions as instants, kept in a bounded
//! native buffer that `hunter.actions.Timeline` writes as a Chrome Trace Event Format file.
//!
//! A record is made when a span closes (so every record is complete and the records of a thread nest):
//! - a call paired with its return: from the call to the return;
//! - a call that ended unseen (its return not matched; an enclosing return or a later event of its thread
//!   shows its frame is gone): up to its thread's last matched event before that was noticed;
//! - a return whose call was not seen (its frame was running when tracing started): from the first event the
//!   timeline saw, or from the start of the innermost call still open around it, whichever is later;
//! - at stop, a call still executing ends at the stop, one that ended unseen at its thread's last matched event
//!   (an enclosing call is stretched to end no earlier than the calls inside it).
//!
//! The buffer holds at most `size` records, and is full sooner if memory runs out. `ring`: a new record evicts the
//! oldest (the newest are kept). `stop`: once full, new records are dropped (the oldest are kept). Dropped records
//! are counted. Any subset of a thread's properly nested spans is properly nested, so both keep the file well-formed.

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasherDefault;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::pyclass::{PyTraverseError, PyVisit};
use pyo3::types::{PyFrame, PyList, PyString, PyTuple};

use super::caches::WordHasher;
use super::call::push_arguments;
use super::printing::Printing;
use super::spans::{ticks, tracked_by_collector, EventSpan, OpenSpan, SpanKey, Spans, TickScale, UnboundMethod};
use super::values::{push_value, Value};
use crate::compat::RunningFrame;
use crate::event::Kind;
use crate::gilcell::{GilCell, GilRefCell};

/// Timeline's options (`size`, `on_full`, `args`).
#[derive(Clone, Copy)]
pub(super) struct TimelineOptions {
    pub(super) size: usize,
    pub(super) ring: bool,
    pub(super) args: bool,
}

/// An open call: what it ran (code object, or the callable of a builtin: its key tells which) and its arguments at
/// the call.
pub(super) struct TimedCall {
    code: Py<PyAny>,
    /// Boxed: a string's capacity is one word more, moved with every span of every event.
    args: Option<Box<str>>,
}

/// What the timeline keeps per thread while calls of it are open: the time of the thread's last matched event, the
/// last time its open calls were known to execute.
#[derive(Default)]
pub(super) struct LastEvent {
    at: u64,
}

/// How a record's span ended (its `args.ended` in the file), or that it is an exception's instant.
#[derive(Clone, Copy)]
enum Ending {
    Returned,
    EndedUnseen,
    RunningAtStop,
    /// Its return was matched, its call was not: it began before what the timeline saw.
    BeganUnseen,
    Exception,
}

impl Ending {
    fn name(&self) -> &'static str {
        match self {
            Ending::Returned => "return",
            Ending::EndedUnseen => "unseen",
            Ending::RunningAtStop => "running at stop",
            Ending::BeganUnseen => "began before tracing",
            Ending::Exception => "exception",
        }
    }
}

/// Item `index` of an `exception` event's `arg` (`(type, value, traceback)`): 0 the type, 1 the value.
fn exception_item<'py>(arg: &Bound<'py, PyAny>, index: usize) -> Option<Bound<'py, PyAny>> {
    arg.cast::<PyTuple>().ok().and_then(|tuple| tuple.get_item(index).ok())
}

/// One span (or instant, for an exception) of one thread; its times are [`ticks`], made nanoseconds when read
/// ([`Timeline::snapshot`]). 64 bytes: a recording keeps up to `size` of them, and moves one per return.
struct Record {
    thread: u64,
    code: Py<PyAny>,
    start: u64,
    end: u64,
    args: Option<Box<str>>,
    /// An exception's instant's (None when unknown: the None object).
    exception_type: Option<Py<PyAny>>,
    ending: Ending,
    builtin: bool,
}

const _: () = assert!(std::mem::size_of::<Record>() == 64);

impl Record {
    /// An exception's instant (of type `exception_type`, None when unknown).
    fn instant(
        py: Python<'_>,
        thread: u64,
        code: Py<PyAny>,
        builtin: bool,
        now: u64,
        exception_type: Option<Bound<'_, PyAny>>,
        args: Option<Box<str>>,
    ) -> Record {
        let exception_type = Some(exception_type.map_or_else(|| py.None(), Bound::unbind));
        Record { thread, code, start: now, end: now, args, exception_type, ending: Ending::Exception, builtin }
    }

    #[inline(always)]
    fn of(thread: u64, span: OpenSpan<TimedCall>, end: u64, ending: Ending) -> Record {
        let TimedCall { code, args } = span.data;
        let (start, builtin) = (span.start, span.key.builtin);
        Record { thread, code, start, end: end.max(start), args, exception_type: None, ending, builtin }
    }
}

/// The objects of the record the buffer let go (dropped or evicted), if any, to be released by the caller where
/// Python code may run (a code object's release can run weakref callbacks). Only the objects: the rest of the
/// record is dropped where it is let go, so that the usual event moves two words, not a record.
pub struct Released(Option<ReleasedObjects>);

struct ReleasedObjects {
    code: Py<PyAny>,
    exception_type: Option<Py<PyAny>>,
}

impl Released {
    /// What is to be released of `record`, if any.
    #[inline]
    fn of(record: Option<Record>) -> Released {
        Released(record.map(|Record { code, exception_type, .. }| ReleasedObjects { code, exception_type }))
    }

    /// Whether nothing was let go: the usual event, while the buffer has room.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// Whether releasing it frees no object, so runs no Python code: the usual eviction, of a record whose code
    /// object its function still holds.
    pub fn frees_nothing(&self) -> bool {
        self.0.as_ref().is_none_or(|objects| {
            crate::compat::held_elsewhere(&objects.code)
                && objects.exception_type.as_ref().is_none_or(crate::compat::held_elsewhere)
        })
    }

    /// Releases the record's references at once (attached, `py`): dropped as a `Py` outside of pyo3's own entry
    /// points, each would be queued for later instead, behind a lock.
    pub fn release(self, py: Python<'_>) {
        if let Some(ReleasedObjects { code, exception_type }) = self.0 {
            drop(code.into_bound(py));
            if let Some(exception_type) = exception_type {
                drop(exception_type.into_bound(py));
            }
        }
    }
}

/// A thread's `(name, native_id)`, and the process it was named in: in a forked child, the thread that forked has
/// another OS thread id.
struct NamedThread {
    described: Py<PyAny>,
    pid: u32,
}

/// The bounded buffer and what the file needs besides.
#[derive(Default)]
struct Recorded {
    records: VecDeque<Record>,
    dropped: u64,
    /// The time ([`ticks`]) of the first event seen since the tracer started: where spans that began before tracing
    /// start. Forgotten at the stop, so that a Timeline reused after it does not start them in an earlier session.
    first_tick: Option<u64>,
    /// Per thread serial (`compat::current_thread_serial`): `(name, native_id)` of the thread (`native_id`, the OS
    /// thread id, is what the file calls the thread: the ident is a pthread handle, too large for the viewers).
    threads: HashMap<u64, NamedThread, BuildHasherDefault<WordHasher>>,
    /// The last thread found in `threads` (0: none), so that the usual event of the same thread skips the lookup.
    last_known_thread: u64,
    /// The options of the configuration in force when it lets events be recorded in order (no `args`, no hooks):
    /// set as it is read, cleared as it is dropped, so that an event need not look at it.
    in_order: Option<TimelineOptions>,
    /// Making room for more records failed: the buffer is full until its records are forgotten (`clear`), rather
    /// than asking again at every record.
    out_of_memory: bool,
}

impl Recorded {
    /// Keeps `record` as `options` say; returns what is let go (the oldest record, or this one).
    #[inline(always)]
    fn keep(&mut self, options: &TimelineOptions, record: Record) -> Option<Record> {
        let kept = self.records.len();
        if kept < options.size && (kept < self.records.capacity() || self.grow(options.size)) {
            self.records.push_back(record);
            return None;
        }
        self.dropped += 1;
        if options.ring {
            let oldest = self.records.pop_front();
            self.records.push_back(record);
            oldest
        } else {
            Some(record)
        }
    }

    /// Makes room for more records, below `size` (above the records kept): twice as many, but never more than `size`,
    /// so that a full ring buffer writes each new record where it evicts the oldest (one cache line a record, not
    /// two). False when memory runs out: the buffer is then full, whatever `size` says.
    #[cold]
    #[inline(never)]
    fn grow(&mut self, size: usize) -> bool {
        /// The records room is first made for.
        const FIRST_ROOM: usize = 1024;
        if self.out_of_memory {
            return false;
        }
        let kept = self.records.len();
        // More than `kept`: `keep` asks only below `size`.
        let room = kept.saturating_mul(2).max(FIRST_ROOM).min(size);
        self.out_of_memory = self.records.try_reserve_exact(room.saturating_sub(kept)).is_err();
        !self.out_of_memory
    }

    /// Whether events are being recorded and `thread` (a serial) is named already.
    fn knows(&mut self, thread: u64) -> bool {
        if self.first_tick.is_none() {
            return false;
        }
        if self.last_known_thread != thread {
            if !self.threads.contains_key(&thread) {
                return false;
            }
            self.last_known_thread = thread;
        }
        true
    }
}

/// A builtin method bound to an instance (`items.append`, `file.read`): what a record of it must not hold, as that
/// would keep the instance alive (a file open, a buffer in memory) until the record is written or let go.
struct InstanceMethod<'a, 'py> {
    /// The method it runs (`compat::builtin_method_and_self`).
    method: usize,
    owner: Borrowed<'a, 'py, PyAny>,
}

impl<'a, 'py> InstanceMethod<'a, 'py> {
    /// `callable` as one; None for any other callable (a function of a module, a method bound to a class).
    fn of(callable: &'a Bound<'py, PyAny>) -> Option<InstanceMethod<'a, 'py>> {
        let (method, owner) = super::spans::method_and_self(callable)?;
        // SAFETY: `owner` is NULL or the callable's `self`, alive as long as the callable is.
        let owner = unsafe { Borrowed::from_ptr_or_opt(callable.py(), owner) }?;
        (method != 0 && !is_module_or_type(&owner)).then_some(InstanceMethod { method, owner })
    }

    /// Its key in [`MethodDescriptors`]: the instance's type and the method.
    fn key(&self) -> (usize, usize) {
        // SAFETY: `owner` is a live object; its type pointer is only used as a key.
        (unsafe { ffi::Py_TYPE(self.owner.as_ptr()) } as usize, self.method)
    }
}

/// Whether a builtin method's `self` is a module or a type: the method is then one of its own, not an instance's.
fn is_module_or_type(owner: &Bound<'_, PyAny>) -> bool {
    // SAFETY: `owner` is a live object; both checks only read its type.
    unsafe { ffi::PyModule_Check(owner.as_ptr()) != 0 || ffi::PyType_Check(owner.as_ptr()) != 0 }
}

/// The method descriptor `callable` (the builtin method `method`) was bound from: the one its name finds on the
/// instance's type, if binding that one runs the same method. Runs Python code (the type's attribute lookup).
fn method_descriptor(callable: &Bound<'_, PyAny>, method: &InstanceMethod<'_, '_>) -> PyResult<Option<Py<PyAny>>> {
    let py = callable.py();
    let owner = method.owner;
    let name = callable.getattr(pyo3::intern!(py, "__name__"))?;
    let found = owner.get_type().getattr(name.cast_into::<PyString>()?)?;
    // SAFETY: a live object, whose type pointer is compared by address with a static type.
    if unsafe { ffi::Py_TYPE(found.as_ptr()) } != std::ptr::addr_of_mut!(ffi::PyMethodDescr_Type) {
        return Ok(None);
    }
    let bound = found.call_method1(pyo3::intern!(py, "__get__"), (owner, owner.get_type()))?;
    let runs_the_same = InstanceMethod::of(&bound).is_some_and(|bound| bound.method == method.method);
    Ok(runs_the_same.then(|| found.unbind()))
}

/// What an event recorded in order is of (see [`Timeline::record_in_order`]): a Python function's code object or a
/// builtin's callable ([`Running`]), or a method descriptor called unbound ([`UnboundMethod`]). A trait, so that each
/// is compiled apart: telling them apart per event cost the usual event 0.5% to 1% of its instructions (callgrind).
pub trait InOrderSpan<'py> {
    /// Whether it is a builtin's (called from the running frame).
    fn builtin(&self) -> bool;
    /// What pairs its event with its span, the running frame being `frame` (an identity).
    fn key(&self, frame: usize) -> SpanKey;
    /// What the span of its call holds (`is_call`, see [`Timeline::known_record_object`]), or the record of its
    /// other events; None when that is not known without running Python code.
    fn record_object<'a>(&'a self, timeline: &'a Timeline, is_call: bool) -> Option<Borrowed<'a, 'py, PyAny>>;
}

/// A Python function's code object, running in the running frame, or (`builtin`) a builtin's callable, called from it.
pub struct Running<'a, 'py> {
    pub code: &'a Bound<'py, PyAny>,
    pub builtin: bool,
}

impl<'py> InOrderSpan<'py> for Running<'_, 'py> {
    #[inline(always)]
    fn builtin(&self) -> bool {
        self.builtin
    }

    #[inline(always)]
    fn key(&self, frame: usize) -> SpanKey {
        SpanKey::new(frame, self.code, self.builtin)
    }

    #[inline(always)]
    fn record_object<'a>(&'a self, timeline: &'a Timeline, is_call: bool) -> Option<Borrowed<'a, 'py, PyAny>> {
        if is_call {
            timeline.known_record_object(self.code, self.builtin)
        } else {
            Some(self.code.as_borrowed())
        }
    }
}

impl<'py> InOrderSpan<'py> for &UnboundMethod<'_, 'py> {
    #[inline(always)]
    fn builtin(&self) -> bool {
        true
    }

    #[inline(always)]
    fn key(&self, frame: usize) -> SpanKey {
        UnboundMethod::key(self, frame)
    }

    #[inline(always)]
    fn record_object<'a>(&'a self, timeline: &'a Timeline, is_call: bool) -> Option<Borrowed<'a, 'py, PyAny>> {
        if is_call {
            timeline.known_method_descriptor(self)
        } else {
            Some(self.descriptor)
        }
    }
}

/// The method descriptors builtin methods bound to instances were made from, by (the instance's type, the
/// method): what their records hold instead (see [`Timeline::builtin_record_object`]). Bounded: cleared when full.
type MethodDescriptors = HashMap<(usize, usize), Py<PyAny>, BuildHasherDefault<WordHasher>>;

/// How many method descriptors [`MethodDescriptors`] keeps at most.
const METHOD_DESCRIPTORS_KEPT: usize = 4096;

pub struct Timeline {
    spans: Spans<TimedCall, LastEvent>,
    recorded: GilRefCell<Recorded>,
    method_descriptors: GilRefCell<MethodDescriptors>,
    /// The options last read, to close the open calls at stop with should the options no longer be readable.
    last_options: GilCell<Option<TimelineOptions>>,
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline {
            spans: Spans::default(),
            recorded: GilRefCell::new(Recorded::default()),
            method_descriptors: GilRefCell::new(MethodDescriptors::default()),
            last_options: GilCell::new(None),
        }
    }
}

impl Timeline {
    /// Notes the options just read (see `last_options`); `in_order`: whether the configuration lets events be
    /// recorded in order (see [`Timeline::record_in_order`]).
    pub(super) fn options_read(&self, py: Python<'_>, options: &TimelineOptions, in_order: bool) {
        self.last_options.set(py, Some(*options));
        self.recorded.with_mut(py, |recorded| recorded.in_order = in_order.then_some(*options));
    }

    /// Notes that the configuration was dropped (to be read again): no event is recorded in order until it is.
    pub(super) fn options_dropped(&self, py: Python<'_>) {
        self.recorded.with_mut(py, |recorded| recorded.in_order = None);
    }

    /// The options last read, if any.
    pub(super) fn last_options(&self, py: Python<'_>) -> Option<TimelineOptions> {
        self.last_options.get(py)
    }

    /// The object a record of a call of `code` holds, to name it by when written: `code` itself, but for a builtin
    /// method bound to an instance, the method descriptor it was bound from (named as the method that ran,
    /// `list.append`), so that the record does not keep the instance alive. None when that descriptor is not known
    /// yet ([`Timeline::builtin_record_object`] finds it). Runs no Python code.
    ///
    /// The descriptor is borrowed from the ones this timeline knows, which change only in
    /// [`Timeline::builtin_record_object`]: the caller must not call it while holding the result.
    #[inline]
    fn known_record_object<'a, 'py>(
        &'a self,
        code: &'a Bound<'py, PyAny>,
        builtin: bool,
    ) -> Option<Borrowed<'a, 'py, PyAny>> {
        match builtin.then(|| InstanceMethod::of(code)).flatten() {
            Some(method) => self.known_descriptor(code.py(), &method),
            None => Some(code.as_borrowed()),
        }
    }

    /// [`Timeline::known_record_object`] of the builtin method `method` binds to, as the general path names it
    /// (which binds it, then finds its descriptor on the type): the descriptor known for the instance's type. None
    /// when it is not known yet, and for a method called on a module or a type (whose record holds the bound method).
    #[inline]
    fn known_method_descriptor<'a, 'py>(&'a self, method: &UnboundMethod<'_, 'py>) -> Option<Borrowed<'a, 'py, PyAny>> {
        let method = InstanceMethod { method: method.method, owner: method.instance };
        if is_module_or_type(&method.owner) {
            return None;
        }
        self.known_descriptor(method.owner.py(), &method)
    }

    /// The method descriptor known for `method`, borrowed as [`Timeline::known_record_object`] lends it.
    fn known_descriptor<'a, 'py>(
        &'a self,
        py: Python<'py>,
        method: &InstanceMethod<'_, '_>,
    ) -> Option<Borrowed<'a, 'py, PyAny>> {
        let known = self.method_descriptors.with_mut(py, |known| known.get(&method.key()).map(Py::as_ptr))?;
        // SAFETY: the map holds a strong reference to it, and keeps it until `builtin_record_object` changes the map,
        // which the caller does not do while holding this (`known_record_object`'s contract).
        Some(unsafe { Borrowed::from_ptr(py, known) })
    }

    /// [`Timeline::known_record_object`], finding the descriptor when it is not known yet: runs Python code.
    #[inline(never)]
    fn builtin_record_object(&self, code: &Bound<'_, PyAny>, builtin: bool) -> Py<PyAny> {
        let py = code.py();
        let Some(method) = builtin.then(|| InstanceMethod::of(code)).flatten() else { return code.clone().unbind() };
        if let Some(known) = self.known_descriptor(py, &method) {
            return known.to_owned().unbind();
        }
        // A method a type does not show under its name (or a lookup that fails) is named by the bound method.
        let Ok(Some(found)) = method_descriptor(code, &method) else { return code.clone().unbind() };
        let evicted = self.method_descriptors.with_mut(py, |known| {
            let evicted = if known.len() >= METHOD_DESCRIPTORS_KEPT {
                std::mem::take(known)
            } else {
                MethodDescriptors::default()
            };
            known.insert(method.key(), found.clone_ref(py));
            evicted
        });
        drop(evicted);
        found
    }

    /// Keeps `records` as `options` say; returns what is let go, to be released by the caller.
    fn keep(
        &self,
        py: Python<'_>,
        options: &TimelineOptions,
        records: impl IntoIterator<Item = Record>,
    ) -> Vec<Record> {
        self.recorded
            .with_mut(py, |recorded| records.into_iter().filter_map(|record| recorded.keep(options, record)).collect())
    }

    /// Notes an event at `now` of `thread`: the first of a thread records its name and OS thread id (of
    /// `threading.current_thread()`), once. Returns the time of the first event seen.
    fn note_thread(&self, py: Python<'_>, thread: u64, now: u64) -> PyResult<u64> {
        let (first_tick, known) = self
            .recorded
            .with_mut(py, |recorded| (*recorded.first_tick.get_or_insert(now), recorded.threads.contains_key(&thread)));
        if !known {
            self.name_current_thread(py, thread)?;
        }
        Ok(first_tick)
    }

    /// Names `thread`, the current thread's serial: its name (of `threading.current_thread()`) and OS thread id
    /// (`threading.get_native_id()`: a forked child's thread keeps the parent's in its `native_id`).
    fn name_current_thread(&self, py: Python<'_>, thread: u64) -> PyResult<()> {
        let threading = crate::compat::import(py, "threading")?;
        let name = threading.getattr("current_thread")?.call0()?.getattr("name")?;
        let native_id = match threading.getattr_opt("get_native_id")? {
            Some(get_native_id) => get_native_id.call0()?,
            None => py.None().into_bound(py),
        };
        let described = PyTuple::new(py, [name, native_id])?.into_any().unbind();
        let named = NamedThread { described, pid: super::prefixes::process_id() };
        let replaced = self.recorded.with_mut(py, |recorded| recorded.threads.insert(thread, named));
        drop(replaced);
        Ok(())
    }

    /// With the `args` option: a call's arguments, or an exception's value, through the bounded safe repr.
    fn arguments(printing: &Printing<'_, '_>) -> PyResult<Option<Box<str>>> {
        let py = printing.py();
        let event = printing.event;
        let mut out = String::new();
        match event.kind {
            Kind::Call if !event.builtin => push_arguments(printing, &mut out)?,
            Kind::Exception if !event.builtin => {
                let value = exception_item(event.arg.bind(py), 1);
                if let Some(value) = value {
                    push_value(printing.action, printing.options, Value { object: &value, detached: false }, &mut out)?;
                }
            }
            _ => return Ok(None),
        }
        Ok(Some(out.into_boxed_str()))
    }

    /// Timeline's event: a call opens a span, a return closes one (or records one that began unseen), an
    /// exception is an instant. A builtin's exception (`c_exception`: its arg is the callable) ends its call as a
    /// return does; the exception shows in the calling frame's own `exception` event.
    pub(super) fn event(&self, printing: &Printing<'_, '_>, options: &TimelineOptions) -> PyResult<()> {
        let py = printing.py();
        let event = printing.event;
        let kind = match event.kind {
            Kind::Line => return Ok(()),
            Kind::Exception if event.builtin => Kind::Return,
            kind => kind,
        };
        let args = if options.args { Self::arguments(printing)? } else { None };
        let exception_type = match kind {
            Kind::Exception => exception_item(event.arg.bind(py), 0),
            _ => None,
        };
        self.record(py, kind, event.builtin, EventSpan::of(py, event), exception_type, args, options)
    }

    /// The event of a Python function running in `frame` (an exception's of `exception_type`), recorded without an
    /// `Event` (the engine's direct path, see `engine::record_directly`): as [`Timeline::event`] without `args`.
    pub(super) fn python_event(
        &self,
        frame: &Bound<'_, PyFrame>,
        kind: Kind,
        exception_type: Option<Bound<'_, PyAny>>,
        options: &TimelineOptions,
    ) -> PyResult<()> {
        if kind == Kind::Line {
            return Ok(());
        }
        let site = Some((EventSpan::at(frame, None), frame.clone()));
        self.record(frame.py(), kind, false, site, exception_type, None, options)
    }

    /// A call, return or exception (of `exception_type`) of a Python function, or a builtin's call, return or
    /// exception (called from the running frame), of `span`, that pairs in order (`Spans::update_in_order`) on a
    /// thread the timeline knows already, recorded as [`Timeline::python_event`] and [`Timeline::event`] record it,
    /// from the running frame's identities (no frame object) and `span`. None, and nothing recorded, for any other
    /// event: the caller takes the general path. Runs no Python code (a known thread means an earlier event took that
    /// path, which set the clock up): what the buffer lets go is handed back. Also None while the configuration in
    /// force does not let events be recorded so (`options_read`).
    pub(super) fn record_in_order<'py>(
        &self,
        py: Python<'py>,
        frame: RunningFrame,
        span: impl InOrderSpan<'py>,
        kind: Kind,
        exception_type: Option<Bound<'_, PyAny>>,
    ) -> Option<Released> {
        let builtin = span.builtin();
        let kind = match kind {
            Kind::Line => return None,
            // As in `event`: a builtin that raises ends its call as a return does.
            Kind::Exception if builtin => Kind::Return,
            kind => kind,
        };
        // What a call's span holds (the method descriptors known stay as they are: this runs no Python code).
        let stored = span.record_object(self, kind == Kind::Call)?;
        // One borrow of the buffer for the whole event (the spans are another cell): it runs no Python code.
        self.recorded.with_mut(py, |recorded| {
            let options = recorded.in_order?;
            let thread = frame.thread_serial;
            if !recorded.knows(thread) {
                return None;
            }
            let now = ticks(py);
            let key = span.key(frame.identity);
            // A builtin's caller is the running frame itself, whose span is then the newest.
            let caller = if builtin { frame.identity } else { frame.caller };
            // The record goes into the buffer where it is made: handing its 80 bytes back out through the span
            // update, on every event, cost a measurable part of it (callgrind).
            let released = self.spans.update_in_order(py, thread, key, caller, kind == Kind::Call, |stack| {
                stack.thread = LastEvent { at: now };
                Released::of(match kind {
                    Kind::Call => {
                        stack.open(key, now, TimedCall { code: stored.to_owned().unbind(), args: None });
                        None
                    }
                    // In order: the newest open span is the one closed, nothing is abandoned.
                    Kind::Return => stack
                        .pop_newest()
                        .and_then(|closed| recorded.keep(&options, Record::of(thread, closed, now, Ending::Returned))),
                    // A Python function's (a builtin's became a return above).
                    Kind::Exception => {
                        let code = stored.to_owned().unbind();
                        recorded.keep(&options, Record::instant(py, thread, code, false, now, exception_type, None))
                    }
                    Kind::Line => None,
                })
            })?;
            Some(released)
        })
    }

    /// Records an event of `kind` (a builtin's exception already made its return) at `site`, if it has one.
    #[allow(clippy::too_many_arguments)]
    fn record(
        &self,
        py: Python<'_>,
        kind: Kind,
        builtin: bool,
        site: Option<(EventSpan<'_>, Bound<'_, PyFrame>)>,
        exception_type: Option<Bound<'_, PyAny>>,
        args: Option<Box<str>>,
        options: &TimelineOptions,
    ) -> PyResult<()> {
        // After the session's end (see `handling::session_ended_while_handling`): not even its first event's time.
        if crate::handling::session_ended_while_handling() {
            return Ok(());
        }
        let now = ticks(py);
        let thread = crate::compat::current_thread_serial(py);
        let first_tick = self.note_thread(py, thread, now)?;
        let Some((span, frame)) = site else {
            return Ok(());
        };
        // A builtin's frame is its caller, which keeps executing; a Python call's frame is new.
        let is_call = kind == Kind::Call && !builtin;
        // Found before the update, which must run no Python code.
        let code = self.builtin_record_object(&span.code, builtin);
        // The spans that ended unseen (rare: kept apart, so that the usual event allocates nothing), then the
        // event's own record.
        let updated = self.spans.update_at(py, &span, &frame, is_call, |stack, _span, mut finished| {
            // Where the spans that ended unseen end: the thread's last matched event before this one.
            let last = std::mem::replace(&mut stack.thread, LastEvent { at: now });
            let record = match kind {
                Kind::Call => {
                    stack.open(span.key, now, TimedCall { code, args });
                    None
                }
                Kind::Return => match stack.close(span.key) {
                    Some((closed, abandoned)) => {
                        finished.extend(abandoned);
                        Some(Record::of(thread, closed, now, Ending::Returned))
                    }
                    None => {
                        let around = stack.spans_mut().last().map_or(first_tick, |open| open.start);
                        let start = around.max(first_tick).min(now);
                        let ending = Ending::BeganUnseen;
                        Some(Record {
                            thread,
                            code,
                            start,
                            end: now,
                            args: None,
                            exception_type: None,
                            ending,
                            builtin,
                        })
                    }
                },
                Kind::Exception => Some(Record::instant(py, thread, code, builtin, now, exception_type, args)),
                Kind::Line => None,
            };
            (finished, last, record)
        });
        let Some((unseen, last, record)) = updated else { return Ok(()) };
        let unseen = unseen.into_iter().map(|span| Record::of(thread, span, last.at, Ending::EndedUnseen));
        let released = self.keep(py, options, unseen.chain(record));
        drop(released);
        Ok(())
    }

    /// Closes every open span (at stop): those still executing end now, those that ended unseen at their
    /// thread's last event; an enclosing span ends no earlier than the spans inside it. Then forgets the time of the
    /// first event (see `Recorded::first_tick`).
    pub(super) fn close_open_calls(&self, py: Python<'_>, options: &TimelineOptions) {
        let now = ticks(py);
        let mut records = Vec::new();
        for thread_spans in self.spans.close_all(py) {
            let (thread, last_tick) = (thread_spans.serial, thread_spans.thread.at);
            let mut spans: Vec<(OpenSpan<TimedCall>, u64, Ending)> = Vec::new();
            spans.extend(thread_spans.running.into_iter().map(|span| (span, now, Ending::RunningAtStop)));
            spans.extend(thread_spans.ended.into_iter().map(|span| (span, last_tick, Ending::EndedUnseen)));
            spans.sort_by_key(|(span, _, _)| span.start);
            let mut inner_end = 0;
            for (span, end, ending) in spans.into_iter().rev() {
                inner_end = inner_end.max(end);
                records.push(Record::of(thread, span, inner_end, ending));
            }
        }
        let released = self.keep(py, options, records);
        drop(released);
        self.recorded.with_mut(py, |recorded| recorded.first_tick = None);
    }

    /// `(records, threads, dropped)`: each record a tuple `(thread, code or callable, builtin, start_ns, end_ns, args
    /// or None, ending, exception type or None)`, oldest first; each thread `(thread, (name, native_id))`.
    pub(super) fn snapshot<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        // A thread named in another process is one that forked (a child runs only that one of its parent's threads):
        // named again, as its OS thread id in this process is another. The parent's other threads keep theirs.
        let thread = crate::compat::current_thread_serial(py);
        let pid = super::prefixes::process_id();
        let forked =
            self.recorded.with_mut(py, |recorded| recorded.threads.get(&thread).is_some_and(|named| named.pid != pid));
        if forked {
            self.name_current_thread(py, thread)?;
        }
        let scale = TickScale::now(py);
        let (rows, names, dropped) = self.recorded.with_mut(py, |recorded| {
            let rows: Vec<_> = recorded
                .records
                .iter()
                .map(|record| {
                    let exception = record.exception_type.as_ref().map(|type_| type_.clone_ref(py));
                    (
                        record.thread,
                        record.code.clone_ref(py),
                        record.builtin,
                        scale.ns(record.start),
                        scale.ns(record.end),
                        record.args.as_deref().map(str::to_owned),
                        record.ending.name(),
                        exception,
                    )
                })
                .collect();
            let names: Vec<_> =
                recorded.threads.iter().map(|(thread, named)| (*thread, named.described.clone_ref(py))).collect();
            (rows, names, recorded.dropped)
        });
        let list = PyList::empty(py);
        for row in rows {
            list.append(row)?;
        }
        let names = names.into_pyobject(py)?;
        (list, names, dropped).into_pyobject(py)
    }

    /// Keeps at most `size` records (a smaller `size` set mid-trace): those beyond it are let go as a full buffer
    /// lets them go (`ring`: the oldest; `stop`: the newest) and counted as dropped.
    pub(super) fn trim(&self, py: Python<'_>, size: usize, ring: bool) {
        let trimmed: Vec<Record> = self.recorded.with_mut(py, |recorded| {
            let excess = recorded.records.len().saturating_sub(size);
            if excess == 0 {
                return Vec::new();
            }
            recorded.dropped += excess as u64;
            let range = if ring { 0..excess } else { size..recorded.records.len() };
            recorded.records.drain(range).collect()
        });
        drop(trimmed);
    }

    /// Forgets the records (the open calls stay open).
    pub(super) fn clear(&self, py: Python<'_>) {
        let forgotten = self.recorded.with_mut(py, |recorded| {
            recorded.dropped = 0;
            recorded.out_of_memory = false;
            std::mem::take(&mut recorded.records)
        });
        drop(forgotten);
    }

    /// # Safety
    /// Only from `__traverse__`, where the collector holds the GIL.
    pub(super) unsafe fn traverse(&self, visit: &PyVisit<'_>) -> Result<(), PyTraverseError> {
        // SAFETY: from `__traverse__` (this function's contract).
        unsafe { self.spans.traverse(visit, |call| Some(&call.code)) }?;
        // SAFETY: from `__traverse__` (this function's contract).
        if let Some(recorded) = unsafe { self.recorded.during_gc() } {
            for record in &recorded.records {
                if tracked_by_collector(&record.code) {
                    visit.call(&record.code)?;
                }
                if let Some(exception_type) = &record.exception_type {
                    visit.call(exception_type)?;
                }
            }
            for NamedThread { described, .. } in recorded.threads.values() {
                visit.call(described)?;
            }
        }
        // SAFETY: from `__traverse__` (this function's contract).
        for descriptor in unsafe { self.method_descriptors.during_gc() }.into_iter().flat_map(|known| known.values()) {
            visit.call(descriptor)?;
        }
        Ok(())
    }
}

/// Calls `function(*args)` with this thread's events off (see `compat::untraced`): the Timeline's serialisation,
/// hunter's own code, is not recorded into the Timeline (which may be recording meanwhile, when written by hand or
/// by a nested tracer's stop); other threads' events are.
#[pyfunction]
#[pyo3(signature = (function, *args))]
pub fn _untraced<'py>(function: &Bound<'py, PyAny>, args: &Bound<'py, PyTuple>) -> PyResult<Bound<'py, PyAny>> {
    crate::compat::untraced(function.py(), || function.call1(args))
}
