//! The threads a monitoring tracer delivers events of (sys.monitoring is process-wide, settrace per thread).

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use pyo3::prelude::*;

use crate::gilcell::GilCell;

/// The threads a monitoring tracer delivers events of, as settrace would: each thread has one installed
/// tracer, the latest one started on it (or admitted by `threading.settrace` when the thread started), and a
/// tracer that stops puts back, on the thread that stops it, the one it replaced there. So a handler that
/// starts another tracer sees the same events on both backends.
///
/// A thread records the session (generation) of its installed tracer in a thread-local: a thread ident can be
/// reused by a new thread once the old one is gone, a thread-local cannot.
pub(crate) struct TracedThreads {
    session: AtomicU64,
    /// The session installed on the starting thread before this one, put back when this one stops there.
    replaced: AtomicU64,
    /// The last thread found to have this session installed: `(thread serial, INSTALLATIONS then)`, so that the
    /// usual event, of the same thread, skips the thread-local (a call into the dynamic linker from a shared library).
    last_included: GilCell<(u64, u64)>,
}

thread_local! {
    /// The session of the tracer installed on this thread (0 for none).
    static INSTALLED_SESSION: Cell<u64> = const { Cell::new(0) };
}

/// How many times a thread's installed session changed, in any tracer: what `last_included` was found at is
/// stale once it moves.
static INSTALLATIONS: AtomicU64 = AtomicU64::new(1);

/// Sets this thread's installed session.
fn install_on_current_thread(installed: &Cell<u64>, session: u64) -> u64 {
    INSTALLATIONS.fetch_add(1, Ordering::Relaxed);
    installed.replace(session)
}

impl Default for TracedThreads {
    fn default() -> Self {
        TracedThreads { session: AtomicU64::new(0), replaced: AtomicU64::new(0), last_included: GilCell::new((0, 0)) }
    }
}

impl TracedThreads {
    /// A new tracing session, installed on the current thread in place of the one there (returned; 0 for none).
    pub fn start(&self, _py: Python<'_>, session: u64) -> u64 {
        self.session.store(session, Ordering::Relaxed);
        let replaced =
            INSTALLED_SESSION.try_with(|installed| install_on_current_thread(installed, session)).unwrap_or(0);
        self.replaced.store(replaced, Ordering::Relaxed);
        replaced
    }

    /// Installs this session on the current thread (a thread `threading.settrace` admits).
    pub fn admit_current_thread(&self) {
        let session = self.session.load(Ordering::Relaxed);
        let _ = INSTALLED_SESSION.try_with(|installed| install_on_current_thread(installed, session));
    }

    /// Stops delivering this thread's events (as CPython uninstalls a settrace function that raised).
    pub fn dismiss_current_thread(&self) {
        self.uninstall_current_thread(0);
    }

    /// The session stops: the current thread gets back the session it replaced (returned), if this one is still
    /// installed there.
    pub fn stop(&self) -> Option<u64> {
        let replaced = self.replaced.load(Ordering::Relaxed);
        self.uninstall_current_thread(replaced).then_some(replaced).filter(|replaced| *replaced != 0)
    }

    /// Whether this session was installed on the current thread (and so replaced by `successor`).
    fn uninstall_current_thread(&self, successor: u64) -> bool {
        let session = self.session.load(Ordering::Relaxed);
        INSTALLED_SESSION
            .try_with(|installed| {
                let was_installed = installed.get() == session;
                if was_installed {
                    install_on_current_thread(installed, successor);
                }
                was_installed
            })
            .unwrap_or(false)
    }

    #[inline]
    pub fn includes_current_thread(&self) -> bool {
        let session = self.session.load(Ordering::Relaxed);
        INSTALLED_SESSION.try_with(|installed| installed.get() == session).unwrap_or(false)
    }

    /// [`TracedThreads::includes_current_thread`], `serial` being the current thread's serial
    /// (`compat::current_thread_serial`), which tells threads apart for good (a thread-local cannot be read cheaply).
    #[inline]
    pub fn includes_thread(&self, py: Python<'_>, serial: u64) -> bool {
        let installations = INSTALLATIONS.load(Ordering::Relaxed);
        if self.last_included.get(py) == (serial, installations) {
            return true;
        }
        let included = self.includes_current_thread();
        if included {
            self.last_included.set(py, (serial, installations));
        }
        included
    }
}
