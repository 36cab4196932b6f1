//! The matched calls still open, per thread, each with its start time: what the timing actions (CallPrinter's
//! `durations`, TreePrinter, Profile, and later Timeline) pair each matched `return` with.
//!
//! A return is paired with its call by frame and code (or, for a builtin, by the calling frame and the callable's C
//! function and `self`), never by depth alone:
//! - a generator or coroutine suspends with a `return` and resumes with a `call` of the same frame: each run
//!   between the two is one span;
//! - calls whose return was not matched (an exception unwinding several frames with only the outer return
//!   matched, a predicate that matches calls only) are closed as *abandoned* when an enclosing return is paired,
//!   or when an event shows their frame is no longer executing ([`live_frames_until`]);
//! - a return whose call was never seen (its frame was running when tracing started, or the predicate matched
//!   the return only) pairs with nothing and closes nothing;
//! - what is still open when the tracer stops is closed by [`ThreadSpans::close_all`].
//!
//! Times are nanoseconds of the clock `time.perf_counter_ns()` reads ([`monotonic_ns`]), so tests can compare.

use std::collections::HashMap;
#[cfg(not(target_os = "linux"))]
use std::sync::OnceLock;
#[cfg(not(target_os = "linux"))]
use std::time::Instant;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::pyclass::{PyTraverseError, PyVisit};
use pyo3::types::PyFrame;

use crate::event::{EventData, Kind};
use crate::gilcell::GilRefCell;

/// Nanoseconds of the monotonic clock of `time.perf_counter_ns()`, so tests can compare.
///
/// On Linux both read `CLOCK_MONOTONIC` (here straight from `clock_gettime`, no origin to add: the same numbers).
/// Elsewhere `Instant` reads the same clock as Python (QueryPerformanceCounter on Windows, the uptime clock on
/// macOS) and its origin is taken from `perf_counter_ns()` once, so the two agree to within the time between those
/// two reads.
#[inline]
pub fn monotonic_ns(py: Python<'_>) -> u64 {
    #[cfg(target_os = "linux")]
    {
        let _ = py;
        linux_monotonic_ns()
    }
    #[cfg(not(target_os = "linux"))]
    {
        static ORIGIN: OnceLock<(Instant, u64)> = OnceLock::new();
        let (origin, origin_ns) = ORIGIN.get_or_init(|| {
            let origin_ns = crate::compat::import(py, "time")
                .and_then(|time| time.getattr("perf_counter_ns")?.call0()?.extract::<u64>())
                .unwrap_or(0);
            (Instant::now(), origin_ns)
        });
        origin_ns.saturating_add(u64::try_from(origin.elapsed().as_nanos()).unwrap_or(u64::MAX))
    }
}

#[cfg(target_os = "linux")]
#[inline]
fn linux_monotonic_ns() -> u64 {
    /// `struct timespec` of Linux (`time_t` and `long` are the word size on every Linux target).
    #[repr(C)]
    struct Timespec {
        tv_sec: std::os::raw::c_long,
        tv_nsec: std::os::raw::c_long,
    }
    extern "C" {
        fn clock_gettime(clock: std::os::raw::c_int, time: *mut Timespec) -> std::os::raw::c_int;
    }
    /// `CLOCK_MONOTONIC` (linux/time.h).
    const CLOCK_MONOTONIC: std::os::raw::c_int = 1;
    let mut time = Timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `time` is a valid, writable `struct timespec`; CLOCK_MONOTONIC always exists on Linux, so the call
    // cannot fail (were it to, `time` stays zero).
    unsafe { clock_gettime(CLOCK_MONOTONIC, &mut time) };
    let seconds = u64::try_from(time.tv_sec).unwrap_or(0);
    let nanoseconds = u64::try_from(time.tv_nsec).unwrap_or(0);
    seconds.saturating_mul(1_000_000_000).saturating_add(nanoseconds)
}

/// A reading of Timeline's clock: [`TickScale`] makes it nanoseconds of [`monotonic_ns`]'s clock.
///
/// Where the kernel keeps time with the CPU's time-stamp counter (x86-64 Linux whose clocksource is `tsc`, which
/// the kernel picks only when the counter runs at a constant rate, the same on every CPU), a tick is a count of it,
/// read in well under half the time of `clock_gettime` (which reads it too, then scales it); elsewhere a
/// nanosecond of `monotonic_ns`.
#[inline]
pub fn ticks(py: Python<'_>) -> u64 {
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    if tsc_anchor().is_some() {
        return tsc_read();
    }
    monotonic_ns(py)
}

/// Turns [`ticks`] into nanoseconds of `monotonic_ns`'s clock: a line through the first reading of the counter and
/// the one when the scale is made, each taken with the clock's time, so readings between the two are placed to
/// within the time of one clock read.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TickScale {
    origin_ticks: u64,
    origin_ns: u64,
    ns_per_tick: f64,
}

impl TickScale {
    /// The scale of [`ticks`] now.
    pub fn now(py: Python<'_>) -> TickScale {
        #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
        if let Some(origin) = tsc_anchor() {
            let (now_ticks, now_ns) = tsc_sample();
            return TickScale::between(origin, (now_ticks, now_ns));
        }
        let now = monotonic_ns(py);
        TickScale::between((now, now), (now, now))
    }

    /// The line through two `(ticks, ns)` readings (one nanosecond a tick through the first when no tick passed).
    fn between((origin_ticks, origin_ns): (u64, u64), (ticks, ns): (u64, u64)) -> TickScale {
        let elapsed_ticks = ticks.saturating_sub(origin_ticks);
        let ns_per_tick =
            if elapsed_ticks == 0 { 1.0 } else { ns.saturating_sub(origin_ns) as f64 / elapsed_ticks as f64 };
        TickScale { origin_ticks, origin_ns, ns_per_tick }
    }

    pub fn ns(&self, ticks: u64) -> u64 {
        // In integers but for the offset from the origin, small enough to be exact as a float.
        let offset = (i128::from(ticks) - i128::from(self.origin_ticks)) as f64 * self.ns_per_tick;
        u64::try_from((i128::from(self.origin_ns) + offset.round() as i128).max(0)).unwrap_or(u64::MAX)
    }
}

/// The first `(ticks, ns)` reading of the time-stamp counter, taken when it is first used; None where the kernel
/// does not keep time with it (found once, from sysfs).
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn tsc_anchor() -> Option<(u64, u64)> {
    static ANCHOR: std::sync::OnceLock<Option<(u64, u64)>> = std::sync::OnceLock::new();
    *ANCHOR.get_or_init(|| {
        let clocksource = std::fs::read_to_string("/sys/devices/system/clocksource/clocksource0/current_clocksource");
        (clocksource.ok()?.trim() == "tsc").then(tsc_sample)
    })
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
#[inline]
fn tsc_read() -> u64 {
    // SAFETY: RDTSC exists on every x86-64 CPU, and Linux lets user code run it unless a process asks otherwise
    // (prctl PR_SET_TSC, which then also breaks the vDSO's clock_gettime: not a setting Python runs under).
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// The time-stamp counter and the monotonic clock read together: the counter's reading is the middle of two
/// around the clock's.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn tsc_sample() -> (u64, u64) {
    let before = tsc_read();
    let ns = linux_monotonic_ns();
    let after = tsc_read();
    (before + after.saturating_sub(before) / 2, ns)
}

/// What pairs a return with its call: the frame's identity (`compat::RunningFrame`; the calling frame's for a
/// builtin) and the code object (for a builtin, its method and `self`, see [`SpanKey::new`]). Both are of things
/// alive at the event; the span holds the code (or callable) so that its address is not reused while the span is
/// open.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SpanKey {
    pub frame: usize,
    pub code: usize,
    /// A builtin's span: `frame` is its caller's, `code` the callable's identity.
    pub builtin: bool,
}

impl SpanKey {
    /// The key of an event of `code` running in `frame` (an identity), or of the builtin `code` called from it.
    #[inline]
    pub fn new(frame: usize, code: &Bound<'_, PyAny>, builtin: bool) -> SpanKey {
        let code = if builtin { builtin_identity(code) } else { code.as_ptr() as usize };
        SpanKey { frame, code, builtin }
    }
}

/// A method descriptor called on `instance`, `method` the method it runs: the builtin method it binds to,
/// unbound (`hook::EventArg::Method`), paired as that method is ([`method_identity`]).
pub struct UnboundMethod<'a, 'py> {
    pub descriptor: Borrowed<'a, 'py, PyAny>,
    pub instance: Borrowed<'a, 'py, PyAny>,
    pub method: usize,
}

impl UnboundMethod<'_, '_> {
    /// The key of its span, called from `frame` (an identity).
    pub fn key(&self, frame: usize) -> SpanKey {
        SpanKey { frame, code: method_identity(self.method, self.instance.as_ptr()), builtin: true }
    }
}

/// What tells the calls of builtins apart: for a builtin function or method, its method and its `self`, as
/// CPython 3.12+ reports a method called on an object (`items.append(x)`) with a bound method made anew for each
/// event, so that its call and its return carry two objects; for any other callable, the object.
fn builtin_identity(callable: &Bound<'_, PyAny>) -> usize {
    method_and_self(callable).map_or(callable.as_ptr() as usize, |(method, owner)| method_identity(method, owner))
}

/// The identity of a builtin method: of its method (`compat::builtin_method_and_self`) and its `self`. Two words
/// into one: a clash pairs nothing wrongly, as a frame has one builtin call open at a time.
#[inline]
pub fn method_identity(method: usize, owner: *mut ffi::PyObject) -> usize {
    method ^ (owner as usize).rotate_left(32)
}

/// A builtin function or method's method (`compat::builtin_method_and_self`; 0 for none) and its `self` (NULL for
/// none, borrowed: alive as long as the callable is); None for any other callable.
pub fn method_and_self(callable: &Bound<'_, PyAny>) -> Option<(usize, *mut ffi::PyObject)> {
    let callable = callable.as_ptr();
    // SAFETY: a live object (from a `Bound`); PyCFunction_Check only reads its type.
    if unsafe { ffi::PyCFunction_Check(callable) } == 0 {
        return None;
    }
    // SAFETY: a live builtin function or method (checked above), attached (a `Bound` exists).
    Some(unsafe { crate::compat::builtin_method_and_self(callable) })
}

/// A matched call that has not been closed yet.
pub struct OpenSpan<T> {
    pub key: SpanKey,
    /// When the call was seen, in the clock of the action that opened it: [`monotonic_ns`], or Timeline's [`ticks`].
    pub start: u64,
    pub data: T,
}

/// One thread's open spans, oldest first, and what the action keeps per thread besides (`thread`: left empty,
/// it is dropped with the stack once no span is open).
pub struct SpanStack<T, S = ()> {
    open: Vec<OpenSpan<T>>,
    pub thread: S,
    /// The thread's ident (`threading.get_ident()`), which `sys._current_frames()` tells its frames by.
    ident: u64,
}

impl<T, S: Default> Default for SpanStack<T, S> {
    fn default() -> Self {
        SpanStack { open: Vec::new(), thread: S::default(), ident: 0 }
    }
}

impl<T, S> SpanStack<T, S> {
    pub fn len(&self) -> usize {
        self.open.len()
    }

    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    pub fn spans_mut(&mut self) -> &mut [OpenSpan<T>] {
        &mut self.open
    }

    /// The frame of the newest open span.
    pub fn top_frame(&self) -> Option<usize> {
        self.open.last().map(|span| span.key.frame)
    }

    pub fn open(&mut self, key: SpanKey, start: u64, data: T) {
        self.open.push(OpenSpan { key, start, data });
    }

    /// Removes the newest spans whose frames are not in `live_frames` (the frames still executing): their calls
    /// ended unseen. Returned oldest first.
    pub fn drop_finished(&mut self, live_frames: &[usize]) -> Vec<OpenSpan<T>> {
        let kept = self.open.iter().rposition(|span| live_frames.contains(&span.key.frame));
        self.open.split_off(kept.map_or(0, |index| index + 1))
    }

    /// Pairs a return with the newest open span of `key`, closing it and abandoning the spans opened after it
    /// (their returns were not matched): returns both, the abandoned oldest first. None (and nothing closed) when
    /// no span of `key` is open: the call was not seen.
    pub fn close(&mut self, key: SpanKey) -> Option<(OpenSpan<T>, Vec<OpenSpan<T>>)> {
        // The usual return, of the newest span: nothing abandoned, nothing allocated.
        if self.open.last().is_some_and(|newest| newest.key == key) {
            return self.open.pop().map(|span| (span, Vec::new()));
        }
        let index = self.open.iter().rposition(|span| span.key == key)?;
        let abandoned = self.open.split_off(index + 1);
        let span = self.open.pop()?;
        Some((span, abandoned))
    }

    /// Removes the newest open span: the return of an event known to pair with it (see
    /// [`ThreadSpans::with_thread_in_order`]).
    #[inline]
    pub fn pop_newest(&mut self) -> Option<OpenSpan<T>> {
        self.open.pop()
    }

    /// Removes every open span, oldest first.
    pub fn take_all(&mut self) -> Vec<OpenSpan<T>> {
        std::mem::take(&mut self.open)
    }
}

/// The open spans of every thread, by thread serial (`compat::current_thread_serial`: unlike an ident, never
/// given to a later thread). A thread's entry is removed once it has no open span, so finished threads cost
/// nothing. The thread of the last event comes first: consecutive events are mostly of one thread (the GIL changes
/// hands every few milliseconds), so finding its stack is one comparison.
pub struct ThreadSpans<T, S = ()> {
    threads: Vec<(u64, SpanStack<T, S>)>,
}

impl<T, S> Default for ThreadSpans<T, S> {
    fn default() -> Self {
        ThreadSpans { threads: Vec::new() }
    }
}

impl<T, S: Default> ThreadSpans<T, S> {
    /// Moves thread `serial`'s stack first (index 0); false when it has none.
    #[inline]
    fn move_first(&mut self, serial: u64) -> bool {
        match self.threads.first() {
            Some((first, _)) if *first == serial => true,
            _ => match self.threads.iter().position(|(thread, _)| *thread == serial) {
                Some(index) => {
                    self.threads.swap(0, index);
                    true
                }
                None => false,
            },
        }
    }

    /// Runs `change` on the stack of thread `serial`, the current thread, dropping the entry when it is left empty.
    pub fn with_thread<R>(&mut self, serial: u64, change: impl FnOnce(&mut SpanStack<T, S>) -> R) -> R {
        let index = if self.move_first(serial) {
            0
        } else {
            let ident = crate::compat::current_thread_ident();
            self.threads.push((serial, SpanStack { ident, ..SpanStack::default() }));
            self.threads.len() - 1
        };
        self.change_at(index, change)
    }

    /// Runs `change` on the stack at `index`, dropping the entry when it is left empty.
    fn change_at<R>(&mut self, index: usize, change: impl FnOnce(&mut SpanStack<T, S>) -> R) -> R {
        let stack = &mut self.threads[index].1;
        let result = change(stack);
        if stack.is_empty() {
            self.threads.swap_remove(index);
        }
        result
    }

    /// Runs `change` on the stack of thread `serial`, the current thread, when the event of `key` pairs in order,
    /// with no frame walk: a call whose caller is the newest open span's frame (or on a thread with none open), or a
    /// return of the newest open span. None, and nothing run, for any other event.
    pub fn with_thread_in_order<R>(
        &mut self,
        serial: u64,
        key: SpanKey,
        caller: usize,
        is_call: bool,
        change: impl FnOnce(&mut SpanStack<T, S>) -> R,
    ) -> Option<R> {
        let known = self.move_first(serial);
        let newest = if known { self.threads[0].1.open.last() } else { None };
        let in_order = match newest {
            Some(newest) if is_call => newest.key.frame == caller,
            Some(newest) => newest.key == key,
            None => is_call,
        };
        match (in_order, known) {
            (false, _) => None,
            (true, true) => Some(self.change_at(0, change)),
            (true, false) => Some(self.with_thread(serial, change)),
        }
    }

    /// The frame of the newest open span of thread `serial`.
    pub fn top_frame(&self, serial: u64) -> Option<usize> {
        self.threads.iter().find(|(thread, _)| *thread == serial).and_then(|(_, stack)| stack.top_frame())
    }

    /// Removes every thread's stack, oldest thread first: (thread serial, its stack).
    pub fn close_all(&mut self) -> Vec<(u64, SpanStack<T, S>)> {
        let mut threads = std::mem::take(&mut self.threads);
        threads.sort_by_key(|(serial, _)| *serial);
        threads
    }

    /// Every open span, for the garbage collector's traversal.
    pub fn iter(&self) -> impl Iterator<Item = &OpenSpan<T>> {
        self.threads.iter().flat_map(|(_, stack)| stack.open.iter())
    }
}

/// The frames still executing at an event of `frame` (its callers only, for a call of that frame), walking up
/// until `newest_open` is met. None when it is met: every open span is still executing. Else every frame of
/// the thread, so that the spans not among them are known to have ended; but None too when the chain ends at a
/// suspended generator's frame, which cannot tell (3.9's `throw()` into a `yield from` runs the inner generator with
/// the suspended outer one as its caller, whose own caller is not linked).
pub fn live_frames_until(frame: &Bound<'_, PyFrame>, is_call: bool, newest_open: usize) -> Option<Vec<usize>> {
    let mut live_frames = Vec::new();
    let mut current = if is_call { crate::compat::frame_back(frame) } else { Some(frame.clone()) };
    while let Some(live) = current {
        let identity = crate::compat::frame_identity(live.as_borrowed());
        if identity == newest_open {
            return None;
        }
        live_frames.push(identity);
        current = crate::compat::frame_back(&live);
        if current.is_none() && runs_generator(&live) {
            return None;
        }
    }
    Some(live_frames)
}

/// Whether `frame` runs a generator's, coroutine's or async generator's code (an error says no).
fn runs_generator(frame: &Bound<'_, PyFrame>) -> bool {
    /// `CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR` (Include/cpython/code.h).
    const RESUMABLE: u32 = 0x20 | 0x80 | 0x200;
    let flags = crate::compat::frame_code_bound(frame).getattr(pyo3::intern!(frame.py(), "co_flags"));
    flags.and_then(|flags| flags.extract::<u32>()).is_ok_and(|flags| flags & RESUMABLE != 0)
}

/// What pairs an event with its span, and the object the span holds (see [`SpanKey`]).
pub struct EventSpan<'py> {
    pub key: SpanKey,
    pub code: Bound<'py, PyAny>,
}

impl<'py> EventSpan<'py> {
    /// A live event's: for a Python function its frame and code, for a builtin the calling frame and the callable.
    /// None for a detached event or one whose frame is a stand-in.
    pub fn of(py: Python<'py>, event: &EventData) -> Option<(EventSpan<'py>, Bound<'py, PyFrame>)> {
        if event.detached {
            return None;
        }
        let frame = event.frame()?.live(py)?.clone();
        Some((EventSpan::at(&frame, event.builtin.then(|| event.arg.bind(py))), frame))
    }

    /// The span of an event of `frame`: of its code, or of `builtin`, the callable it calls.
    pub fn at(frame: &Bound<'py, PyFrame>, builtin: Option<&Bound<'py, PyAny>>) -> EventSpan<'py> {
        let code = builtin.map_or_else(|| crate::compat::frame_code_bound(frame).into_any(), Bound::clone);
        let frame = crate::compat::frame_identity(frame.as_borrowed());
        let key = SpanKey::new(frame, &code, builtin.is_some());
        EventSpan { key, code }
    }
}

/// A thread's open spans when tracing stops: those whose frames still execute and those that ended unseen
/// (their returns were not matched), each oldest first, with what the action kept for the thread.
pub struct AtStop<T, S> {
    /// The thread's serial (`compat::current_thread_serial`).
    pub serial: u64,
    pub running: Vec<OpenSpan<T>>,
    pub ended: Vec<OpenSpan<T>>,
    pub thread: S,
}

/// The frames each thread is executing (`sys._current_frames()` and their callers), each with its code, by thread
/// ident; empty when that cannot be read (every open span then counts as ended).
fn executing_frames(py: Python<'_>) -> HashMap<u64, Vec<(usize, usize)>> {
    let mut executing = HashMap::new();
    let Ok(current) = crate::compat::import(py, "sys").and_then(|sys| sys.call_method0("_current_frames")) else {
        return executing;
    };
    let Ok(current) = current.cast_into::<pyo3::types::PyDict>() else {
        return executing;
    };
    for (ident, frame) in current.iter() {
        let (Ok(ident), Ok(frame)) = (ident.extract::<u64>(), frame.cast_into::<PyFrame>()) else {
            continue;
        };
        let mut frames = Vec::new();
        let mut current = Some(frame);
        while let Some(frame) = current {
            let code = crate::compat::frame_code_bound(&frame).as_ptr() as usize;
            frames.push((crate::compat::frame_identity(frame.as_borrowed()), code));
            current = crate::compat::frame_back(&frame);
        }
        executing.insert(ident, frames);
    }
    executing
}

/// The open spans of every thread, updated by one action's events.
pub struct Spans<T, S = ()> {
    threads: GilRefCell<ThreadSpans<T, S>>,
}

impl<T, S> Default for Spans<T, S> {
    fn default() -> Self {
        Spans { threads: GilRefCell::new(ThreadSpans::default()) }
    }
}

impl<T, S: Default> Spans<T, S> {
    /// Runs `change` on the stack of the event's thread, with the event's span and the spans dropped because
    /// their frames have ended. None (and nothing run) for an event without a live frame, or one whose session ended
    /// while it was handled (`handling::session_ended_while_handling`). `change` must not release Python objects: it
    /// returns what it removes, to be released after the update.
    pub fn update<R>(
        &self,
        py: Python<'_>,
        event: &EventData,
        change: impl FnOnce(&mut SpanStack<T, S>, &EventSpan<'_>, Vec<OpenSpan<T>>) -> R,
    ) -> Option<R> {
        let (span, frame) = EventSpan::of(py, event)?;
        // A builtin's frame is its caller, which keeps executing; a Python call's frame is new.
        let is_call = event.kind == Kind::Call && !event.builtin;
        self.update_at(py, &span, &frame, is_call, change)
    }

    /// [`Spans::update`] for the event of `span` in `frame`, a Python function's call when `is_call`.
    pub fn update_at<R>(
        &self,
        py: Python<'_>,
        span: &EventSpan<'_>,
        frame: &Bound<'_, PyFrame>,
        is_call: bool,
        change: impl FnOnce(&mut SpanStack<T, S>, &EventSpan<'_>, Vec<OpenSpan<T>>) -> R,
    ) -> Option<R> {
        if crate::handling::session_ended_while_handling() {
            return None;
        }
        let serial = crate::compat::current_thread_serial(py);
        // The frame walk runs before the update: it creates frame objects.
        let top = self.threads.with_mut(py, |threads| threads.top_frame(serial));
        let live_frames = top.and_then(|top| live_frames_until(frame, is_call, top));
        Some(self.threads.with_mut(py, |threads| {
            threads.with_thread(serial, |stack| {
                let finished = live_frames.map(|live| stack.drop_finished(&live)).unwrap_or_default();
                change(stack, span, finished)
            })
        }))
    }

    /// [`Spans::update_at`] for a Python function's event that pairs in order (see
    /// [`ThreadSpans::with_thread_in_order`]): `key`'s frame is the running frame of the current thread (of serial
    /// `serial`), `caller` its caller's identity. None, and nothing run, for any other event: [`Spans::update_at`]
    /// then walks the frames.
    pub fn update_in_order<R>(
        &self,
        py: Python<'_>,
        serial: u64,
        key: SpanKey,
        caller: usize,
        is_call: bool,
        change: impl FnOnce(&mut SpanStack<T, S>) -> R,
    ) -> Option<R> {
        self.threads.with_mut(py, |threads| threads.with_thread_in_order(serial, key, caller, is_call, change))
    }

    /// Removes every open span of every thread (at stop), each told apart by whether its frame is still
    /// executing (on its thread, as `sys._current_frames()` shows) or ended unseen. A Python call's frame must
    /// also run its code: a frame of a call that ended may have been freed and its address reused. Oldest thread
    /// first.
    pub fn close_all(&self, py: Python<'_>) -> Vec<AtStop<T, S>> {
        let stacks = self.threads.with_mut(py, ThreadSpans::close_all);
        if stacks.is_empty() {
            return Vec::new();
        }
        let executing = executing_frames(py);
        stacks
            .into_iter()
            .map(|(serial, mut stack)| {
                let frames = executing.get(&stack.ident).map_or(&[][..], Vec::as_slice);
                let executing = |key: &SpanKey| {
                    frames.iter().any(|&(frame, code)| frame == key.frame && (key.builtin || code == key.code))
                };
                let (running, ended) = stack.take_all().into_iter().partition(|span| executing(&span.key));
                AtStop { serial, running, ended, thread: stack.thread }
            })
            .collect()
    }

    /// Visits what the open spans hold, for the action's `__traverse__` (but code objects: [`tracked_by_collector`]).
    ///
    /// # Safety
    /// Only from `__traverse__`, where the collector holds the GIL.
    pub unsafe fn traverse(
        &self,
        visit: &PyVisit<'_>,
        held: impl Fn(&T) -> Option<&Py<PyAny>>,
    ) -> Result<(), PyTraverseError> {
        // SAFETY: from `__traverse__` (this function's contract).
        for span in unsafe { self.threads.during_gc() }.into_iter().flat_map(ThreadSpans::iter) {
            if let Some(object) = held(&span.data).filter(|object| tracked_by_collector(object)) {
                visit.call(object)?;
            }
        }
        Ok(())
    }
}

/// Whether the collector tracks `object`, so `__traverse__` is to visit it: not for a code object, which it does not
/// track (so no cycle it could collect runs through one). A long recording holds the code objects of almost all its
/// records (and every open span one), and a visit is a call of the collector's for each, at every full collection.
pub fn tracked_by_collector(object: &Py<PyAny>) -> bool {
    // SAFETY: a live object (held by `object`); only its type is compared.
    unsafe { ffi::PyCode_Check(object.as_ptr()) == 0 }
}

/// A duration as the timing actions show it: `850 ns`, `12.3 µs`, `1.234 ms`, `2.500 s` (three decimals from
/// microseconds up, the unit chosen so that the number is below 1000).
pub fn push_duration(out: &mut String, nanoseconds: u64) {
    use std::fmt::Write;
    let (unit_ns, unit) = match nanoseconds {
        0..=999 => {
            let _ = write!(out, "{nanoseconds} ns");
            return;
        }
        1_000..=999_999 => (1_000, "µs"),
        1_000_000..=999_999_999 => (1_000_000, "ms"),
        _ => (1_000_000_000, "s"),
    };
    // Thousandths of the unit, rounded half up, in integers (formatting a float costs more than the rest of a row).
    let thousandths = (u128::from(nanoseconds) * 1000 + unit_ns / 2) / unit_ns;
    let _ = write!(out, "{}.{:03} {unit}", thousandths / 1000, thousandths % 1000);
}

/// A duration in nanoseconds as the timing actions show it (`850 ns`, `12.345 µs`, `1.234 ms`, `2.500 s`).
#[pyfunction]
pub fn _format_duration(nanoseconds: u64) -> String {
    let mut out = String::new();
    push_duration(&mut out, nanoseconds);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(frame: usize) -> SpanKey {
        SpanKey { frame, code: frame * 10, builtin: false }
    }

    fn names(spans: &[OpenSpan<&'static str>]) -> Vec<&'static str> {
        spans.iter().map(|span| span.data).collect()
    }

    #[test]
    fn tick_scale_places_readings_on_the_line_through_its_two() {
        // A 3 GHz counter: 3 ticks a nanosecond.
        let scale = TickScale::between((9_000, 1_000_000_000), (3_009_000, 1_001_000_000));
        assert_eq!(scale.ns(9_000), 1_000_000_000);
        assert_eq!(scale.ns(3_009_000), 1_001_000_000);
        assert_eq!(scale.ns(1_509_000), 1_000_500_000);
        // Past the second reading, as readings converted later are.
        assert_eq!(scale.ns(6_009_000), 1_002_000_000);
        // Nanoseconds late in a long uptime stay exact.
        let late = 400 * 86_400 * 1_000_000_000 + 7;
        assert_eq!(TickScale::between((late, late), (late, late)).ns(late + 5), late + 5);
        assert_eq!(TickScale::between((late, late), (late, late)).ns(late - 5), late - 5);
    }

    #[test]
    fn pairs_returns_with_calls_by_frame() {
        let mut stack: SpanStack<&str> = SpanStack::default();
        stack.open(key(1), 100, "outer");
        stack.open(key(2), 150, "inner");
        let (inner, abandoned) = stack.close(key(2)).unwrap();
        assert_eq!((inner.data, inner.start), ("inner", 150));
        assert!(abandoned.is_empty());
        let (outer, _) = stack.close(key(1)).unwrap();
        assert_eq!(outer.data, "outer");
        assert!(stack.is_empty());
    }

    #[test]
    fn a_generator_resumed_is_a_new_span_of_the_same_frame() {
        let mut stack: SpanStack<&str> = SpanStack::default();
        stack.open(key(1), 0, "consumer");
        for resume in [10, 20, 30] {
            stack.open(key(7), resume, "generator");
            let (run, _) = stack.close(key(7)).unwrap();
            assert_eq!(run.start, resume);
        }
        assert_eq!(names(&stack.open), ["consumer"]);
    }

    #[test]
    fn an_outer_return_abandons_the_unpaired_calls_inside_it() {
        // An exception unwinding three frames where only the outer return was matched.
        let mut stack: SpanStack<&str> = SpanStack::default();
        stack.open(key(1), 0, "a");
        stack.open(key(2), 1, "b");
        stack.open(key(3), 2, "c");
        let (closed, abandoned) = stack.close(key(1)).unwrap();
        assert_eq!(closed.data, "a");
        assert_eq!(names(&abandoned), ["b", "c"]);
        assert!(stack.is_empty());
    }

    #[test]
    fn a_return_without_its_call_closes_nothing() {
        let mut stack: SpanStack<&str> = SpanStack::default();
        stack.open(key(1), 0, "a");
        assert!(stack.close(key(9)).is_none());
        // Same frame address, other code (the frame's memory reused): not the same call.
        assert!(stack.close(SpanKey { frame: 1, code: 99, builtin: false }).is_none());
        assert_eq!(names(&stack.open), ["a"]);
    }

    #[test]
    fn recursion_pairs_the_newest_call() {
        let mut stack: SpanStack<&str> = SpanStack::default();
        stack.open(SpanKey { frame: 1, code: 5, builtin: false }, 0, "first");
        stack.open(SpanKey { frame: 2, code: 5, builtin: false }, 1, "second");
        assert_eq!(stack.close(SpanKey { frame: 2, code: 5, builtin: false }).unwrap().0.data, "second");
        assert_eq!(stack.close(SpanKey { frame: 1, code: 5, builtin: false }).unwrap().0.data, "first");
    }

    /// Opens (a call from `caller`) or closes (a return) `frame`'s span on `thread` when that pairs in order.
    fn in_order(
        threads: &mut ThreadSpans<&'static str>,
        thread: u64,
        frame: usize,
        caller: usize,
        is_call: bool,
    ) -> bool {
        threads
            .with_thread_in_order(thread, key(frame), caller, is_call, |stack| {
                if is_call {
                    stack.open(key(frame), 0, "call");
                } else {
                    stack.close(key(frame));
                }
            })
            .is_some()
    }

    #[test]
    fn in_order_events_are_the_calls_made_from_the_newest_span_and_its_return() {
        let mut threads: ThreadSpans<&str> = ThreadSpans::default();
        assert!(in_order(&mut threads, 1, 10, 0, true), "a call on a thread with nothing open");
        assert!(in_order(&mut threads, 1, 11, 10, true), "a call made from the newest span's frame");
        assert!(!in_order(&mut threads, 1, 12, 99, true), "a call made from another frame (one ended unseen)");
        assert!(!in_order(&mut threads, 1, 10, 0, false), "a return of a span that is not the newest");
        assert!(!in_order(&mut threads, 1, 13, 0, false), "a return whose call was not seen");
        assert_eq!(threads.top_frame(1), Some(11), "nothing changed by the events refused");
        assert!(in_order(&mut threads, 1, 11, 0, false));
        assert!(in_order(&mut threads, 1, 10, 0, false));
        assert!(threads.threads.is_empty(), "a thread's stack goes when it has nothing open");
        assert!(!in_order(&mut threads, 1, 10, 0, false), "a return on a thread with nothing open");
    }

    #[test]
    fn threads_keep_their_own_spans_whichever_came_last() {
        let mut threads: ThreadSpans<&str> = ThreadSpans::default();
        assert!(in_order(&mut threads, 1, 10, 0, true));
        assert!(in_order(&mut threads, 2, 20, 0, true));
        assert!(in_order(&mut threads, 3, 30, 0, true));
        assert!(in_order(&mut threads, 1, 11, 10, true));
        assert!(!in_order(&mut threads, 2, 21, 10, true), "thread 1's frame is not thread 2's caller");
        assert!(in_order(&mut threads, 2, 20, 0, false));
        assert_eq!((threads.top_frame(1), threads.top_frame(2), threads.top_frame(3)), (Some(11), None, Some(30)));
        assert_eq!(
            threads.close_all().iter().map(|(thread, stack)| (*thread, stack.len())).collect::<Vec<_>>(),
            [(1, 2), (3, 1)]
        );
    }

    #[test]
    fn finished_frames_are_dropped_newest_first() {
        let mut stack: SpanStack<&str> = SpanStack::default();
        stack.open(key(1), 0, "a");
        stack.open(key(2), 0, "b");
        stack.open(key(3), 0, "c");
        // Frames 1 and 2 still execute (as seen from a later event), 3 ended unseen.
        assert_eq!(names(&stack.drop_finished(&[5, 2, 1])), ["c"]);
        assert_eq!(names(&stack.drop_finished(&[])), ["a", "b"]);
    }

    #[test]
    fn threads_are_separate_and_forgotten_when_empty() {
        let mut threads: ThreadSpans<&str> = ThreadSpans::default();
        threads.with_thread(1, |stack| stack.open(key(1), 0, "main"));
        threads.with_thread(2, |stack| stack.open(key(1), 0, "worker"));
        assert!(threads.with_thread(2, |stack| stack.close(key(1))).is_some());
        assert_eq!(threads.threads.len(), 1);
        let left = threads.close_all();
        assert_eq!(left.len(), 1);
        assert_eq!((left[0].0, names(&left[0].1.open)), (1, vec!["main"]));
        assert_eq!(threads.iter().count(), 0);
    }

    #[test]
    fn durations_pick_a_readable_unit() {
        let shown = _format_duration;
        assert_eq!(shown(0), "0 ns");
        assert_eq!(shown(999), "999 ns");
        assert_eq!(shown(1_000), "1.000 µs");
        assert_eq!(shown(12_345), "12.345 µs");
        assert_eq!(shown(1_234_567), "1.235 ms");
        assert_eq!(shown(2_500_000_000), "2.500 s");
    }
}
