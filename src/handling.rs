//! Which tracer's handler the current thread is running, and whether that tracer's session ended while it ran (the
//! handler stopped it: a predicate, or a `__repr__` a printer calls, running `hunter.stop()`). Kept apart from the
//! engine, which marks it, so that the actions, which read it, need not depend on the engine.

use std::cell::Cell;

thread_local! {
    /// The engine (an identity, 0 outside of handlers) whose handler this thread is running, and whether its session
    /// ended meanwhile.
    static HANDLING: Cell<(usize, bool)> = const { Cell::new((0, false)) };
}

/// Marks the handler of the engine `engine` (an identity) as running on this thread; returns what was marked
/// before, for [`leave`] (handlers nest).
pub fn enter(engine: usize) -> (usize, bool) {
    HANDLING.try_with(|handling| handling.replace((engine, false))).unwrap_or((0, false))
}

/// Puts back what [`enter`] replaced.
pub fn leave(previous: (usize, bool)) {
    let _ = HANDLING.try_with(|handling| handling.set(previous));
}

/// Notes that the session of `engine` (an identity) ended, should its handler be running on this thread.
pub fn note_session_ended(engine: usize) {
    let _ = HANDLING.try_with(|handling| {
        if handling.get().0 == engine {
            handling.set((engine, true));
        }
    });
}

/// Whether the session whose handler this thread is running ended while it ran: its actions were told
/// (`_tracer_stopped()`), so whatever they do for the event comes after the session's end. The timing actions then
/// open and close no span: one opened would stay open into the action's next session.
pub fn session_ended_while_handling() -> bool {
    HANDLING.try_with(|handling| handling.get().1).unwrap_or(false)
}
