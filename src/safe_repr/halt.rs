//! Why a rendering pass stopped before the end of the text ([`Halt`]), and where ([`HaltPath`]): the
//! vocabulary shared by the sinks, which stop a pass, and the clip passes, which compare where two passes
//! stopped.

use pyo3::prelude::*;

/// Why rendering stopped before the end.
pub(super) enum Halt {
    /// The sink has all the text it needs.
    Full,
    /// Boxed: every rendering step returns a `Result<(), Halt>`, which then fits in two registers.
    Failed(Box<PyErr>),
}

impl From<PyErr> for Halt {
    fn from(err: PyErr) -> Self {
        Halt::Failed(Box::new(err))
    }
}

impl Halt {
    /// For sinks that never fill up.
    pub(super) fn into_py_err(self) -> PyErr {
        match self {
            Halt::Failed(err) => *err,
            Halt::Full => unreachable!("an unbounded sink never reports Full"),
        }
    }
}

/// Where a pass stopped because its sink was full: the position of the piece it stopped in within each
/// container or composite around that piece, innermost first (see [`Piece::position`](super::renderer::Piece::position)). Unknown when a
/// container's length could not be read.
#[derive(Default)]
pub(super) struct HaltPath {
    positions: Vec<u64>,
    unknown: bool,
}

impl HaltPath {
    pub(super) fn note(&mut self, position: Option<u64>) {
        match position {
            Some(position) => self.positions.push(position),
            None => self.unknown = true,
        }
    }

    /// Whether the piece at `later` certainly comes after the piece at `earlier` in the text: they are in
    /// different items (or parts) of one container, the one of `later` the later one.
    pub(super) fn comes_after(later: &HaltPath, earlier: &HaltPath) -> bool {
        if later.unknown || earlier.unknown {
            return false;
        }
        let outermost_first = later.positions.iter().rev().zip(earlier.positions.iter().rev());
        for (later, earlier) in outermost_first {
            if later != earlier {
                return later > earlier;
            }
        }
        false
    }
}
