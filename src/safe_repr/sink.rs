//! Where the renderer's text goes: the [`Sink`] trait and its three sinks, [`Unbounded`] (the whole text),
//! [`Head`] (the first characters, front to back) and [`Tail`] (the last characters, from pieces that arrive
//! back to front). The bounded sinks escape newlines as they take the pieces, and stop the pass with
//! [`Halt::Full`] once they have what they need.

use std::borrow::Cow;

use super::halt::{Halt, HaltPath};
use super::leaf_repr::{copy_short, SHORT};

/// Receives the rendered text piece by piece, front to back, or back to front when `BACKWARD`.
pub(super) trait Sink {
    const BACKWARD: bool;
    /// Any piece of text.
    fn put(&mut self, piece: &str) -> Result<(), Halt>;
    /// A piece that is ASCII without newlines (punctuation, natively rendered leaves): it needs neither
    /// escaping nor character counting, which is most of the cost of [`Sink::put`] for short pieces.
    fn put_plain(&mut self, piece: &str) -> Result<(), Halt>;
    /// How many more characters the sink wants (`usize::MAX` for "all of them").
    fn wanted(&self) -> usize;
    /// Notes, as a `Full` halt from this sink leaves a container or composite, the position of the piece it
    /// stopped in there (None when unknown): builds the sink's [`HaltPath`].
    fn note_halt(&mut self, position: Option<u64>);
}

/// hunter's actions escape newlines after `repr()`; a per-piece replace gives the same text.
fn escaped(piece: &str, escape_newlines: bool) -> Cow<'_, str> {
    if escape_newlines && piece.as_bytes().contains(&b'\n') {
        Cow::Owned(piece.replace('\n', "\\n"))
    } else {
        Cow::Borrowed(piece)
    }
}

#[derive(Default)]
pub(super) struct Unbounded {
    pub(super) text: String,
}

impl Sink for Unbounded {
    const BACKWARD: bool = false;
    fn put(&mut self, piece: &str) -> Result<(), Halt> {
        self.text.push_str(piece);
        Ok(())
    }
    fn put_plain(&mut self, piece: &str) -> Result<(), Halt> {
        self.put(piece)
    }
    fn wanted(&self) -> usize {
        usize::MAX
    }
    fn note_halt(&mut self, _: Option<u64>) {
        unreachable!("an unbounded sink never reports Full")
    }
}

/// Appends the text, front to back, to a buffer until it is longer than `limit` characters.
pub(super) struct Head<'a> {
    text: &'a mut String,
    /// How many more characters fit before the text is longer than `limit`.
    room: usize,
    escape_newlines: bool,
    pub(super) halt_path: HaltPath,
}

impl<'a> Head<'a> {
    pub(super) fn new(text: &'a mut String, limit: usize, escape_newlines: bool) -> Self {
        Head { text, room: limit.saturating_add(1), escape_newlines, halt_path: HaltPath::default() }
    }
}

impl Sink for Head<'_> {
    const BACKWARD: bool = false;
    fn put(&mut self, piece: &str) -> Result<(), Halt> {
        let piece = escaped(piece, self.escape_newlines);
        if piece.is_ascii() {
            return self.put_plain(&piece);
        }
        let piece_chars = piece.chars().count();
        if piece_chars < self.room {
            self.text.push_str(&piece);
            self.room -= piece_chars;
            Ok(())
        } else {
            self.text.extend(piece.chars().take(self.room));
            self.room = 0;
            Err(Halt::Full)
        }
    }
    /// Inlined: most pieces are a few bytes long, and take the short path (no call, not even to `memcpy`).
    #[inline(always)]
    fn put_plain(&mut self, piece: &str) -> Result<(), Halt> {
        // SAFETY: the bytes are only appended to below, with a whole `&str`, so the `String` stays UTF-8.
        let bytes = unsafe { self.text.as_mut_vec() };
        if piece.len() <= SHORT && piece.len() < self.room && bytes.capacity() - bytes.len() >= SHORT {
            // SAFETY: there is room for the piece, which is ASCII.
            unsafe {
                copy_short(piece.as_bytes(), bytes.as_mut_ptr().add(bytes.len()));
                bytes.set_len(bytes.len() + piece.len());
            }
            self.room -= piece.len();
            Ok(())
        } else {
            self.put_plain_slowly(piece)
        }
    }
    fn wanted(&self) -> usize {
        self.room
    }
    fn note_halt(&mut self, position: Option<u64>) {
        self.halt_path.note(position);
    }
}

impl Head<'_> {
    #[inline(never)]
    fn put_plain_slowly(&mut self, piece: &str) -> Result<(), Halt> {
        if piece.len() < self.room {
            self.text.reserve(piece.len().max(SHORT));
            self.text.push_str(piece);
            self.room -= piece.len();
            Ok(())
        } else {
            self.text.push_str(&piece[..self.room]);
            self.room = 0;
            Err(Halt::Full)
        }
    }
}

/// Collects the last `wanted` characters from pieces that arrive back to front, in a buffer that is
/// filled from its end towards its start.
pub(super) struct Tail {
    buffer: Vec<u8>,
    /// Where the text collected so far starts in `buffer`.
    start: usize,
    chars: usize,
    wanted: usize,
    escape_newlines: bool,
    pub(super) halt_path: HaltPath,
}

impl Tail {
    pub(super) fn new(wanted: usize, escape_newlines: bool) -> Self {
        // Sized for the usual case, ASCII pieces adding up to `wanted` characters.
        let capacity = wanted.saturating_add(16).min(4096);
        Tail {
            buffer: vec![0; capacity],
            start: capacity,
            chars: 0,
            wanted,
            escape_newlines,
            halt_path: HaltPath::default(),
        }
    }

    /// The collected text, in reading order.
    pub(super) fn text(&self) -> &str {
        // SAFETY: the buffer holds whole `&str`s, or their ends cut at a character boundary.
        unsafe { std::str::from_utf8_unchecked(&self.buffer[self.start..]) }
    }

    fn prepend(&mut self, bytes: &[u8]) {
        if bytes.len() > self.start {
            let used = self.buffer.len() - self.start;
            let size = (self.buffer.len() * 2).max(used + bytes.len());
            let mut grown = vec![0; size];
            grown[size - used..].copy_from_slice(&self.buffer[self.start..]);
            self.buffer = grown;
            self.start = size - used;
        }
        self.start -= bytes.len();
        self.buffer[self.start..self.start + bytes.len()].copy_from_slice(bytes);
    }
}

impl Sink for Tail {
    const BACKWARD: bool = true;
    fn put(&mut self, piece: &str) -> Result<(), Halt> {
        let piece = escaped(piece, self.escape_newlines);
        if piece.is_ascii() {
            return self.put_plain(&piece);
        }
        let room = self.wanted();
        let piece_chars = piece.chars().count();
        if piece_chars < room {
            self.prepend(piece.as_bytes());
            self.chars += piece_chars;
            Ok(())
        } else {
            let cut = piece.char_indices().nth(piece_chars - room).map_or(0, |(index, _)| index);
            self.prepend(&piece.as_bytes()[cut..]);
            self.chars += room;
            Err(Halt::Full)
        }
    }
    /// Inlined, like [`Head::put_plain`].
    #[inline(always)]
    fn put_plain(&mut self, piece: &str) -> Result<(), Halt> {
        let room = self.wanted();
        if piece.len() <= SHORT && piece.len() < room && piece.len() <= self.start {
            self.start -= piece.len();
            // SAFETY: `start` was at least `piece.len()`, so the piece fits in the buffer.
            unsafe { copy_short(piece.as_bytes(), self.buffer.as_mut_ptr().add(self.start)) };
            self.chars += piece.len();
            Ok(())
        } else {
            self.put_plain_slowly(piece)
        }
    }
    fn wanted(&self) -> usize {
        self.wanted - self.chars
    }
    fn note_halt(&mut self, position: Option<u64>) {
        self.halt_path.note(position);
    }
}

impl Tail {
    #[inline(never)]
    fn put_plain_slowly(&mut self, piece: &str) -> Result<(), Halt> {
        // Cut at a byte offset below: sound only for ASCII pieces, which is what `put_plain` takes.
        debug_assert!(piece.is_ascii(), "put_plain takes ASCII pieces");
        let room = self.wanted();
        if piece.len() < room {
            self.prepend(piece.as_bytes());
            self.chars += piece.len();
            Ok(())
        } else {
            self.prepend(&piece.as_bytes()[piece.len() - room..]);
            self.chars += room;
            Err(Halt::Full)
        }
    }
}
