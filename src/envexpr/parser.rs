//! The recursive-descent parser: tokens in, an argument list of syntax trees out, with Python's precedence for
//! `~`, `&` and `|` and a bound on nesting.

use super::ast::{is_literal, not_a_predicate, Argument, Expr, ParseError, StrPiece, Value};
use super::lexer::{self, Token, TokenKind};

/// Deeper nesting is surely not a hunter query, and must not exhaust the stack.
pub(super) const MAX_NESTING: usize = 100;

/// Longer chains of one operator (`a | b | ...`) are surely not a hunter query either; and each operator makes a
/// new predicate holding all the operands before it (hunter's `Or` and `And` are flat), so a chain costs the square
/// of its length.
pub(super) const MAX_OPERANDS: usize = 1000;

/// Words that Python reserves: naming them is a syntax error, whatever the namespace holds.
pub(super) const PYTHON_KEYWORDS: &[&str] = &[
    "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del", "elif", "else", "except",
    "finally", "for", "from", "global", "if", "import", "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise",
    "return", "try", "while", "with", "yield",
];

/// Parse the text of an argument list (what goes between the parentheses of `trace(...)`).
pub fn parse_arguments(text: &str) -> Result<Vec<Argument>, ParseError> {
    let tokens = lexer::tokenize(text)?;
    let mut parser = Parser { tokens, pos: 0, depth: 0 };
    let arguments = parser.arguments(&TokenKind::End)?;
    parser.expect(&TokenKind::End, "',' or the end of the arguments")?;
    Ok(arguments)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> &Token {
        // The token list always ends with `End`, which is never consumed.
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn peek_kind(&self) -> &TokenKind {
        &self.peek().kind
    }

    fn advance(&mut self) -> Token {
        let token = self.peek().clone();
        if token.kind != TokenKind::End {
            self.pos += 1;
        }
        token
    }

    fn error(&self, expected: impl Into<String>) -> ParseError {
        let token = self.peek();
        ParseError { at: token.at, expected: expected.into(), found: token.kind.describe() }
    }

    fn is_punct(&self, c: char) -> bool {
        *self.peek_kind() == TokenKind::Punct(c)
    }

    fn expect(&mut self, kind: &TokenKind, expected: &str) -> Result<Token, ParseError> {
        if self.peek_kind() == kind {
            Ok(self.advance())
        } else {
            Err(self.error(expected))
        }
    }

    /// Comma-separated arguments up to (not including) `closing`; a trailing comma is allowed.
    fn arguments(&mut self, closing: &TokenKind) -> Result<Vec<Argument>, ParseError> {
        let mut arguments: Vec<Argument> = Vec::new();
        while self.peek_kind() != closing {
            let is_keyword = matches!(self.peek_kind(), TokenKind::Name(_))
                && self.tokens.get(self.pos + 1).is_some_and(|t| t.kind == TokenKind::Punct('='));
            if is_keyword {
                let name_token = self.advance();
                self.advance(); // '='
                let TokenKind::Name(name) = name_token.kind else { unreachable!("checked above") };
                if PYTHON_KEYWORDS.contains(&name.as_str()) || matches!(name.as_str(), "True" | "False" | "None") {
                    return Err(ParseError {
                        at: name_token.at,
                        expected: "a keyword argument name".to_owned(),
                        found: format!("the Python keyword '{name}'"),
                    });
                }
                let repeated = arguments
                    .iter()
                    .any(|argument| matches!(argument, Argument::Keyword { name: other, .. } if *other == name));
                if repeated {
                    return Err(ParseError {
                        at: name_token.at,
                        expected: "each keyword argument once".to_owned(),
                        found: format!("'{name}' repeated"),
                    });
                }
                let value = self.expression()?;
                arguments.push(Argument::Keyword { name, at: name_token.at, value });
            } else {
                let at = self.peek().at;
                let value = self.expression()?;
                if arguments.iter().any(|argument| matches!(argument, Argument::Keyword { .. })) {
                    return Err(ParseError {
                        at,
                        expected: "a keyword argument (name=value)".to_owned(),
                        found: "a positional argument after keyword arguments".to_owned(),
                    });
                }
                arguments.push(Argument::Positional(value));
            }
            if !self.is_punct(',') {
                break;
            }
            self.advance();
        }
        Ok(arguments)
    }

    fn expression(&mut self) -> Result<Expr, ParseError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(self.error(format!("at most {MAX_NESTING} levels of nesting")));
        }
        let result = self.binary_or();
        self.depth -= 1;
        result
    }

    fn binary_or(&mut self) -> Result<Expr, ParseError> {
        self.chain('|', Self::binary_and, Value::Or)
    }

    fn binary_and(&mut self) -> Result<Expr, ParseError> {
        self.chain('&', Self::unary, Value::And)
    }

    /// Operands of `operator` (each parsed by `operand`) chained left to right into one `chained` node; a lone
    /// operand is returned as it is. The node is at its first operator.
    fn chain(
        &mut self,
        operator: char,
        operand: fn(&mut Self) -> Result<Expr, ParseError>,
        chained: fn(Box<Expr>, Vec<(usize, Expr)>) -> Value,
    ) -> Result<Expr, ParseError> {
        let first = operand(self)?;
        let mut rest = Vec::new();
        let described = format!("'{operator}'");
        while self.is_punct(operator) {
            let at = self.advance().at;
            if rest.is_empty() {
                require_predicate(&first, &described)?;
            }
            if rest.len() + 1 == MAX_OPERANDS {
                return Err(ParseError {
                    at,
                    expected: format!("at most {MAX_OPERANDS} operands of {described}"),
                    found: "more".to_owned(),
                });
            }
            let next = operand(self)?;
            require_predicate(&next, &described)?;
            rest.push((at, next));
        }
        match rest.first() {
            None => Ok(first),
            Some(&(at, _)) => Ok(Expr { value: chained(Box::new(first), rest), at }),
        }
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        let at = self.peek().at;
        if self.is_punct('~') {
            self.advance();
            self.depth += 1;
            if self.depth > MAX_NESTING {
                return Err(self.error(format!("at most {MAX_NESTING} levels of nesting")));
            }
            let operand = self.unary();
            self.depth -= 1;
            let operand = operand?;
            require_predicate(&operand, "'~'")?;
            return Ok(Expr { value: Value::Invert(Box::new(operand)), at });
        }
        if self.is_punct('-') || self.is_punct('+') {
            let sign = if self.is_punct('-') { "-" } else { "" };
            self.advance();
            let value = match self.peek_kind() {
                TokenKind::Int(text) => Value::Int(format!("{sign}{text}")),
                TokenKind::Float(text) => Value::Float(format!("{sign}{text}")),
                _ => return Err(self.error(format!("a number after '{}'", if sign.is_empty() { '+' } else { '-' }))),
            };
            self.advance();
            return Ok(Expr { value, at });
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        let mut expr = self.atom()?;
        // `sys.stdout` is one dotted name, looked up whole in the namespace: never an attribute lookup.
        if let Value::Name(name) = &mut expr.value {
            while self.is_punct('.')
                && matches!(self.tokens.get(self.pos + 1), Some(Token { kind: TokenKind::Name(_), .. }))
            {
                self.advance();
                if let TokenKind::Name(part) = self.advance().kind {
                    name.push('.');
                    name.push_str(&part);
                }
            }
        }
        if self.is_punct('(') {
            let Value::Name(callee) = expr.value else {
                return Err(self.error("',' or a closing bracket (only hunter's names can be called)"));
            };
            self.advance();
            let arguments = self.arguments(&TokenKind::Punct(')'))?;
            self.expect(&TokenKind::Punct(')'), "',' or ')' closing the call's arguments")?;
            return self.no_trailer(Expr { value: Value::Call { callee, arguments }, at: expr.at });
        }
        self.no_trailer(expr)
    }

    /// Attribute access and subscripts are left out on purpose; say so rather than just "expected ','".
    fn no_trailer(&self, expr: Expr) -> Result<Expr, ParseError> {
        if self.is_punct('.') {
            Err(self.error("',' or an operator (attribute access is not supported)"))
        } else if self.is_punct('[') {
            Err(self.error("',' or an operator (subscripts are not supported)"))
        } else if self.is_punct('(') {
            Err(self.error("',' or an operator (only hunter's names can be called)"))
        } else {
            Ok(expr)
        }
    }

    fn atom(&mut self) -> Result<Expr, ParseError> {
        let token = self.peek().clone();
        let at = token.at;
        let value = match token.kind {
            TokenKind::Name(name) => {
                if PYTHON_KEYWORDS.contains(&name.as_str()) {
                    return Err(ParseError {
                        at,
                        expected: "a name, a call or a literal".to_owned(),
                        found: format!("the Python keyword '{name}', which is not supported"),
                    });
                }
                self.advance();
                match name.as_str() {
                    "True" => Value::Bool(true),
                    "False" => Value::Bool(false),
                    "None" => Value::None,
                    _ => Value::Name(name),
                }
            }
            TokenKind::Str(mut pieces) => {
                self.advance();
                // Adjacent literals concatenate, as in Python.
                while let TokenKind::Str(more) = self.peek_kind() {
                    for piece in more.clone() {
                        match (pieces.last_mut(), piece) {
                            (Some(StrPiece::Text(text)), StrPiece::Text(more_text)) => text.push_str(&more_text),
                            (_, piece) => pieces.push(piece),
                        }
                    }
                    self.advance();
                }
                if matches!(self.peek_kind(), TokenKind::Bytes(_)) {
                    return Err(self.error("a string (bytes and strings cannot be concatenated)"));
                }
                Value::Str(pieces)
            }
            TokenKind::Bytes(mut bytes) => {
                self.advance();
                while let TokenKind::Bytes(more) = self.peek_kind() {
                    bytes.extend_from_slice(more);
                    self.advance();
                }
                if matches!(self.peek_kind(), TokenKind::Str(_)) {
                    return Err(self.error("a bytes literal (bytes and strings cannot be concatenated)"));
                }
                Value::Bytes(bytes)
            }
            TokenKind::Int(text) => {
                self.advance();
                Value::Int(text)
            }
            TokenKind::Float(text) => {
                self.advance();
                Value::Float(text)
            }
            TokenKind::Punct('(') => {
                self.advance();
                if self.is_punct(')') {
                    self.advance();
                    Value::Tuple(Vec::new())
                } else {
                    let first = self.expression()?;
                    if self.is_punct(')') {
                        self.advance();
                        return Ok(first);
                    }
                    let mut items = vec![first];
                    self.expect(&TokenKind::Punct(','), "',' or ')'")?;
                    items.extend(self.items(')')?);
                    Value::Tuple(items)
                }
            }
            TokenKind::Punct('[') => {
                self.advance();
                Value::List(self.items(']')?)
            }
            TokenKind::Punct('{') => {
                self.advance();
                self.set_or_dict()?
            }
            _ => return Err(self.error("a name, a call or a literal")),
        };
        Ok(Expr { value, at })
    }

    /// Comma-separated expressions and the closing bracket; a trailing comma is allowed.
    fn items(&mut self, closing: char) -> Result<Vec<Expr>, ParseError> {
        let mut items = Vec::new();
        while !self.is_punct(closing) {
            items.push(self.expression()?);
            if !self.is_punct(',') {
                break;
            }
            self.advance();
        }
        self.expect(&TokenKind::Punct(closing), &format!("',' or '{closing}'"))?;
        Ok(items)
    }

    fn set_or_dict(&mut self) -> Result<Value, ParseError> {
        if self.is_punct('}') {
            self.advance();
            return Ok(Value::Dict(Vec::new()));
        }
        let first = self.expression()?;
        if !self.is_punct(':') {
            let mut items = vec![first];
            if self.is_punct(',') {
                self.advance();
                items.extend(self.items('}')?);
            } else {
                self.expect(&TokenKind::Punct('}'), "',' or '}'")?;
            }
            return Ok(Value::Set(items));
        }
        let mut entries = Vec::new();
        let mut key = first;
        loop {
            self.expect(&TokenKind::Punct(':'), "':' after the key")?;
            let value = self.expression()?;
            entries.push((key, value));
            if !self.is_punct(',') {
                break;
            }
            self.advance();
            if self.is_punct('}') {
                break;
            }
            key = self.expression()?;
        }
        self.expect(&TokenKind::Punct('}'), "',' or '}'")?;
        Ok(Value::Dict(entries))
    }
}

fn require_predicate(operand: &Expr, operator: &str) -> Result<(), ParseError> {
    if is_literal(operand) {
        return Err(not_a_predicate(operand, &format!("as the operand of {operator}")));
    }
    Ok(())
}
