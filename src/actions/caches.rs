//! What an action keeps from one event to the next, so that repeated work is done once: formatted filename
//! columns, CallPrinter's last call stack and its line rows.

use std::collections::HashMap;
use std::os::raw::c_int;

use pyo3::prelude::*;

use super::callstack::CallStack;
use crate::codeinfo::CodeInfo;
use crate::compat::DictIdentity;
use crate::gilcell::GilRc;

/// CallPrinter's `locals` dict, the version tag its class had then, a thread ident, and that thread's
/// stack in the dict.
pub(super) type CachedStack = (Py<PyAny>, u32, u64, Py<CallStack>);

/// How many formatted filename columns an action keeps.
pub(super) const FILENAME_COLUMN_SLOTS: usize = 16;

/// Filename columns by filename object (held, so that its address stays its own).
pub(super) type FilenameColumns = [Option<(Py<PyAny>, String)>; FILENAME_COLUMN_SLOTS];

/// A line row's text after the owner and before the indentation (location and kind columns), and after
/// it (the stripped source), for one line of one code object running with one globals dict (the filename
/// shown can depend on it).
pub(super) struct LineRow {
    /// Held so that the address in the key stays this code object's.
    pub(super) _code: GilRc<CodeInfo>,
    /// Not held: globals usually hold, through their functions, the printer (see `DictIdentity`).
    pub(super) globals: DictIdentity,
    /// The columns, then the source from `source_start` on (one allocation: rows are read far more often
    /// than made, and each allocation read is a likely cache miss).
    pub(super) text: Box<str>,
    pub(super) source_start: usize,
}

/// Hashes keys made of machine words (the `(address, line)` keys of the line rows, the thread idents of the open
/// calls) with a multiplication per word: SipHash, the default, costs more than the rest of a cached row.
#[derive(Default)]
pub(super) struct WordHasher(u64);

impl std::hash::Hasher for WordHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        bytes.iter().for_each(|&byte| self.write_u64(u64::from(byte)));
    }
    fn write_u64(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(26) ^ word).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    fn write_usize(&mut self, word: usize) {
        self.write_u64(word as u64);
    }
    fn write_i32(&mut self, word: i32) {
        self.write_u64(u64::from(word as u32));
    }
}

pub(super) type LineRows = HashMap<(usize, c_int), LineRow, std::hash::BuildHasherDefault<WordHasher>>;
