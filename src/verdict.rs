//! `Verdict`: what a predicate is known to do for every event of one code object and kind. A leaf: the
//! predicates compute it, the per-code cache (`codeinfo`) stores it, the backends act on it.

/// What a predicate is known to do for every event of one code object and kind.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Verdict {
    /// Not computed yet (cache filler).
    Unknown,
    /// Always false, and evaluating it has no side effects: the event can be skipped.
    Never,
    /// Always true, with no side effects.
    Always,
    /// Depends on the event (line, depth, locals...), no side effects.
    Depends,
    /// Evaluating it may have side effects (actions, stateful predicates, Python callables), or raise.
    Effectful,
    /// Of a handler that records into its one action directly (see `engine::record_directly`): its condition is
    /// always true, so the event is recorded without being built or evaluated.
    Recorded,
}

impl Verdict {
    /// The verdict of `Not(predicate)`.
    pub fn negated(self) -> Verdict {
        match self {
            Verdict::Never => Verdict::Always,
            Verdict::Always => Verdict::Never,
            other => other,
        }
    }

    /// Whether an event with this verdict must be handled (else it can be skipped, or switched off).
    pub fn has_effect(self) -> bool {
        matches!(self, Verdict::Effectful | Verdict::Recorded)
    }

    /// The name the `_static_verdict` test hook returns.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Unknown => "unknown",
            Verdict::Never => "never",
            Verdict::Always => "always",
            Verdict::Depends => "depends",
            Verdict::Effectful => "effectful",
            Verdict::Recorded => "recorded",
        }
    }
}
