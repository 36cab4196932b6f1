//! Tokens of the activation language: Python's literal syntax (strings in every quoting form, numbers), names
//! and the little punctuation that `trace(...)` arguments need. Everything else is an error with a position.

use super::ast::{ParseError, StrPiece};

#[derive(Debug, Clone, PartialEq)]
pub enum TokenKind {
    Name(String),
    Str(Vec<StrPiece>),
    Bytes(Vec<u8>),
    /// The literal's text (underscores and radix prefix kept), as Python's `int(text, 0)` reads it.
    Int(String),
    /// The literal's text, as Python's `float(text)` reads it.
    Float(String),
    /// One of `( ) [ ] { } , = ~ | & - : .` or any other single character the grammar has no use for.
    Punct(char),
    End,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub kind: TokenKind,
    /// Character offset of the token's first character.
    pub at: usize,
}

impl TokenKind {
    /// How an error message names this token.
    pub fn describe(&self) -> String {
        match self {
            TokenKind::Name(name) => format!("name '{name}'"),
            TokenKind::Str(_) => "a string".to_owned(),
            TokenKind::Bytes(_) => "a bytes literal".to_owned(),
            TokenKind::Int(_) | TokenKind::Float(_) => "a number".to_owned(),
            TokenKind::Punct(c) => format!("'{c}'"),
            TokenKind::End => "the end of the text".to_owned(),
        }
    }
}

pub fn tokenize(text: &str) -> Result<Vec<Token>, ParseError> {
    let mut lexer = Lexer { chars: text.chars().collect(), pos: 0 };
    let mut tokens = Vec::new();
    loop {
        let token = lexer.next_token()?;
        let done = token.kind == TokenKind::End;
        tokens.push(token);
        if done {
            return Ok(tokens);
        }
    }
}

struct Lexer {
    chars: Vec<char>,
    pos: usize,
}

fn is_name_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn is_name_continue(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

impl Lexer {
    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).copied()
    }

    fn peek(&self) -> Option<char> {
        self.peek_at(0)
    }

    fn error(&self, at: usize, expected: impl Into<String>) -> ParseError {
        let found = match self.chars.get(at) {
            Some(c) => format!("'{}'", c.escape_debug()),
            None => "the end of the text".to_owned(),
        };
        ParseError { at, expected: expected.into(), found }
    }

    fn next_token(&mut self) -> Result<Token, ParseError> {
        // Python's blanks only (a no-break space is no blank to Python's tokenizer); newlines too, as inside brackets.
        while self.peek().is_some_and(|c| matches!(c, ' ' | '\t' | '\x0c' | '\n' | '\r')) {
            self.pos += 1;
        }
        let at = self.pos;
        let Some(c) = self.peek() else {
            return Ok(Token { kind: TokenKind::End, at });
        };
        let kind = if c.is_ascii_digit() || (c == '.' && self.peek_at(1).is_some_and(|d| d.is_ascii_digit())) {
            self.number()?
        } else if is_name_start(c) {
            let start = self.pos;
            while self.peek().is_some_and(is_name_continue) {
                self.pos += 1;
            }
            let word: String = self.chars[start..self.pos].iter().collect();
            match self.peek() {
                Some('\'' | '"') if word.len() <= 2 => self.string(&word, at)?,
                _ => TokenKind::Name(word),
            }
        } else if c == '\'' || c == '"' {
            self.string("", at)?
        } else {
            self.pos += 1;
            TokenKind::Punct(c)
        };
        Ok(Token { kind, at })
    }

    /// Digits of `radix` with single underscores between them; returns how many digits were read.
    fn digits(&mut self, radix: u32) -> Result<usize, ParseError> {
        let mut count = 0;
        loop {
            match self.peek() {
                Some(c) if c.is_digit(radix) => {
                    count += 1;
                    self.pos += 1;
                }
                Some('_') if count > 0 && self.peek_at(1).is_some_and(|c| c.is_digit(radix)) => self.pos += 1,
                Some('_') => return Err(self.error(self.pos, "a digit (underscores only go between digits)")),
                _ => return Ok(count),
            }
        }
    }

    fn number(&mut self) -> Result<TokenKind, ParseError> {
        let start = self.pos;
        let prefixed_radix = match (self.peek(), self.peek_at(1)) {
            (Some('0'), Some('x' | 'X')) => Some(16),
            (Some('0'), Some('o' | 'O')) => Some(8),
            (Some('0'), Some('b' | 'B')) => Some(2),
            _ => None,
        };
        let mut is_float = false;
        if let Some(radix) = prefixed_radix {
            self.pos += 2;
            if self.peek() == Some('_') {
                self.pos += 1; // Python allows one underscore right after the prefix: 0x_ff.
            }
            if self.digits(radix)? == 0 {
                return Err(self.error(self.pos, format!("a base-{radix} digit")));
            }
        } else {
            let integer_digits = self.digits(10)?;
            if self.peek() == Some('.') {
                is_float = true;
                self.pos += 1;
                self.digits(10)?;
            }
            if matches!(self.peek(), Some('e' | 'E')) {
                is_float = true;
                self.pos += 1;
                if matches!(self.peek(), Some('+' | '-')) {
                    self.pos += 1;
                }
                if self.digits(10)? == 0 {
                    return Err(self.error(self.pos, "the digits of the exponent"));
                }
            }
            let integer_part = &self.chars[start..start + integer_digits];
            if !is_float
                && integer_part.len() > 1
                && integer_part[0] == '0'
                && integer_part.iter().any(|&c| c != '0' && c != '_')
            {
                return Err(ParseError {
                    at: start,
                    expected: "a number without leading zeros (use 0o for octal)".to_owned(),
                    found: format!("'{}'", integer_part.iter().collect::<String>()),
                });
            }
        }
        if self.peek().is_some_and(|c| is_name_continue(c) || c == '.') {
            let expected = if matches!(self.peek(), Some('j' | 'J')) {
                "a real number (complex numbers are not supported)"
            } else {
                "the end of the number"
            };
            return Err(self.error(self.pos, expected));
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        Ok(if is_float { TokenKind::Float(text) } else { TokenKind::Int(text) })
    }

    /// A string literal whose prefix (possibly empty) has been read; `at` is where the prefix starts.
    fn string(&mut self, prefix: &str, at: usize) -> Result<TokenKind, ParseError> {
        let lower = prefix.to_ascii_lowercase();
        // An f-string is taken when it has no replacement field (`f'__main__'`): it is then a plain string.
        let (raw, bytes, formatted) = match lower.as_str() {
            "" | "u" => (false, false, false),
            "r" => (true, false, false),
            "b" => (false, true, false),
            "br" | "rb" => (true, true, false),
            "f" => (false, false, true),
            "rf" | "fr" => (true, false, true),
            _ if lower.contains('t') => {
                return Err(ParseError {
                    at,
                    expected: "a plain string (t-strings could run code)".to_owned(),
                    found: format!("a {prefix}-string"),
                })
            }
            _ => return Err(self.error(at, "a name or a string prefix (r, b, u, f, rb, br, rf, fr)")),
        };
        let quote = self.chars[self.pos];
        let triple = self.peek_at(1) == Some(quote) && self.peek_at(2) == Some(quote);
        self.pos += if triple { 3 } else { 1 };

        let mut body = LiteralBody::new(bytes);
        loop {
            let Some(c) = self.peek() else {
                let what = if triple { "the closing triple quote" } else { "the closing quote" };
                return Err(ParseError {
                    at,
                    expected: format!("{what} of this string"),
                    found: "the end of the text".to_owned(),
                });
            };
            if c == quote && (!triple || (self.peek_at(1) == Some(quote) && self.peek_at(2) == Some(quote))) {
                self.pos += if triple { 3 } else { 1 };
                return Ok(body.finish());
            }
            if c == '\n' && !triple {
                return Err(self.error(self.pos, "the closing quote before the end of the line"));
            }
            if bytes && !c.is_ascii() {
                return Err(self.error(self.pos, "an ASCII character (bytes literals hold only ASCII)"));
            }
            self.pos += 1;
            if formatted && matches!(c, '{' | '}') {
                // `{{` and `}}` are the braces themselves; anything else is a replacement field, which runs code.
                if self.peek() != Some(c) {
                    return Err(ParseError {
                        at: self.pos - 1,
                        expected: "an f-string without replacement fields (they could run code)".to_owned(),
                        found: format!("'{c}'"),
                    });
                }
                self.pos += 1;
                body.push_char(c);
                continue;
            }
            if c != '\\' {
                body.push_char(c);
                continue;
            }
            let Some(escaped) = self.peek() else {
                continue; // Reported as an unterminated string on the next turn.
            };
            self.pos += 1;
            if raw {
                // Raw literals keep the backslash, which still stops the next character from closing the string.
                body.push_char('\\');
                body.push_char(escaped);
                continue;
            }
            self.escape(escaped, &mut body)?;
        }
    }

    /// The escape sequence after a backslash (its first character already consumed), as Python reads it.
    fn escape(&mut self, escaped: char, body: &mut LiteralBody) -> Result<(), ParseError> {
        let escape_at = self.pos - 2;
        let simple = match escaped {
            '\n' => return Ok(()),
            '\\' => Some('\\'),
            '\'' => Some('\''),
            '"' => Some('"'),
            'a' => Some('\x07'),
            'b' => Some('\x08'),
            'f' => Some('\x0c'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\x0b'),
            _ => None,
        };
        if let Some(c) = simple {
            body.push_char(c);
            return Ok(());
        }
        match escaped {
            '0'..='7' => {
                let mut value = escaped.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    match self.peek().and_then(|c| c.to_digit(8)) {
                        Some(digit) => {
                            value = value * 8 + digit;
                            self.pos += 1;
                        }
                        None => break,
                    }
                }
                if body.bytes.is_some() && value > 0xff {
                    return Err(ParseError {
                        at: escape_at,
                        expected: "an octal escape up to \\377 in a bytes literal".to_owned(),
                        found: format!("\\{value:o}"),
                    });
                }
                body.push_code_point(value);
            }
            'x' => {
                let value = self.hex_digits(2, escape_at)?;
                body.push_code_point(value);
            }
            'u' | 'U' | 'N' if body.bytes.is_some() => {
                // Not escapes in bytes literals: both characters stay.
                body.push_char('\\');
                body.push_char(escaped);
            }
            'u' => {
                let value = self.hex_digits(4, escape_at)?;
                body.push_code_point(value);
            }
            'U' => {
                let value = self.hex_digits(8, escape_at)?;
                if value > 0x10ffff {
                    return Err(ParseError {
                        at: escape_at,
                        expected: "a code point up to \\U0010ffff".to_owned(),
                        found: format!("\\U{value:08x}"),
                    });
                }
                body.push_code_point(value);
            }
            'N' => {
                if self.peek() != Some('{') {
                    return Err(self.error(self.pos, "'{' starting a character name, as in \\N{BULLET}"));
                }
                let name_start = self.pos + 1;
                let Some(length) = self.chars[name_start..].iter().position(|&c| c == '}' || c == '\n') else {
                    return Err(self.error(self.chars.len(), "'}' closing the character name"));
                };
                if self.chars[name_start + length] != '}' || length == 0 {
                    return Err(self.error(name_start + length, "a character name closed by '}'"));
                }
                let name: String = self.chars[name_start..name_start + length].iter().collect();
                self.pos = name_start + length + 1;
                body.push_piece(StrPiece::Named { name, at: escape_at });
            }
            other => {
                // Python keeps unknown escapes as they are (with a warning).
                body.push_char('\\');
                body.push_char(other);
            }
        }
        Ok(())
    }

    fn hex_digits(&mut self, count: usize, escape_at: usize) -> Result<u32, ParseError> {
        let mut value = 0u32;
        for _ in 0..count {
            match self.peek().and_then(|c| c.to_digit(16)) {
                Some(digit) => {
                    value = value * 16 + digit;
                    self.pos += 1;
                }
                None => {
                    return Err(ParseError {
                        at: escape_at,
                        expected: format!("{count} hex digits in this escape"),
                        found: match self.peek() {
                            Some(c) => format!("'{}'", c.escape_debug()),
                            None => "the end of the text".to_owned(),
                        },
                    })
                }
            }
        }
        Ok(value)
    }
}

/// The decoded contents of a string or bytes literal, as they are read.
struct LiteralBody {
    pieces: Vec<StrPiece>,
    bytes: Option<Vec<u8>>,
}

impl LiteralBody {
    fn new(bytes: bool) -> Self {
        LiteralBody { pieces: Vec::new(), bytes: bytes.then(Vec::new) }
    }

    fn push_char(&mut self, c: char) {
        match &mut self.bytes {
            // Only ASCII reaches here for bytes: the lexer rejects anything else first.
            Some(bytes) => bytes.push(c as u8),
            None => match self.pieces.last_mut() {
                Some(StrPiece::Text(text)) => text.push(c),
                _ => self.pieces.push(StrPiece::Text(c.to_string())),
            },
        }
    }

    fn push_code_point(&mut self, value: u32) {
        if let Some(bytes) = &mut self.bytes {
            bytes.push(value as u8); // At most 0xff: checked by the caller.
            return;
        }
        match char::from_u32(value) {
            Some(c) => self.push_char(c),
            // Lone surrogates are valid in Python strings but not in Rust ones.
            None => self.pieces.push(StrPiece::Surrogate(value)),
        }
    }

    fn push_piece(&mut self, piece: StrPiece) {
        self.pieces.push(piece);
    }

    fn finish(self) -> TokenKind {
        match self.bytes {
            Some(bytes) => TokenKind::Bytes(bytes),
            None => TokenKind::Str(self.pieces),
        }
    }
}
