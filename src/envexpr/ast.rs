//! The syntax tree of the activation language (what the parser builds and the evaluator reads), the parse error
//! and the small rules about both: where an error is shown, which expressions are literals.

/// Part of a string literal's value.
#[derive(Debug, Clone, PartialEq)]
pub enum StrPiece {
    Text(String),
    /// A `\ud800`-style escape of a lone surrogate, which Python strings allow and Rust strings do not.
    Surrogate(u32),
    /// A `\N{...}` escape, resolved with Python's `unicodedata`; `at` is where the escape starts.
    Named {
        name: String,
        at: usize,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Name(String),
    Call {
        callee: String,
        arguments: Vec<Argument>,
    },
    Str(Vec<StrPiece>),
    Bytes(Vec<u8>),
    Int(String),
    Float(String),
    Bool(bool),
    None,
    List(Vec<Expr>),
    Tuple(Vec<Expr>),
    Set(Vec<Expr>),
    Dict(Vec<(Expr, Expr)>),
    Invert(Box<Expr>),
    /// `a | b | c`: the first operand, then each further one with the offset of the `|` before it. A chain, not a
    /// tree nested once per operator, so that its length costs no stack (to build, evaluate or drop).
    Or(Box<Expr>, Vec<(usize, Expr)>),
    /// `a & b & c`, as `Or`.
    And(Box<Expr>, Vec<(usize, Expr)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub value: Value,
    /// Character offset where the expression (for operators: the operator) starts.
    pub at: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Argument {
    Positional(Expr),
    Keyword { name: String, at: usize, value: Expr },
}

/// Why and where the text could not be parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    /// Character offset of the problem.
    pub at: usize,
    pub expected: String,
    pub found: String,
}

impl ParseError {
    /// `expected X but found Y`.
    pub fn render_message(&self) -> String {
        format!("expected {} but found {}", self.expected, self.found)
    }
}

/// `at column N: {message}` (with the line when the text has several), then that line with a caret under `at`.
pub fn render_at(text: &str, at: usize, message: &str) -> String {
    let mut line_start = 0;
    let mut line_number = 1;
    for (index, c) in text.chars().enumerate().take(at) {
        if c == '\n' {
            line_start = index + 1;
            line_number += 1;
        }
    }
    let line: String = text.chars().skip(line_start).take_while(|&c| c != '\n').collect();
    let column = at - line_start;
    let place = if text.contains('\n') {
        format!("line {line_number}, column {}", column + 1)
    } else {
        format!("column {}", column + 1)
    };
    // Tabs stay tabs under the caret so that it lines up whatever the terminal's tab width.
    let padding: String = line.chars().take(column).map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
    format!("at {place}: {message}\n    {line}\n    {padding}^")
}

/// Whether the expression is a literal (a string, number, container...), which can never be a predicate.
pub fn is_literal(expr: &Expr) -> bool {
    !matches!(expr.value, Value::Name(_) | Value::Call { .. } | Value::Invert(_) | Value::Or(..) | Value::And(..))
}

fn describe_literal(expr: &Expr) -> &'static str {
    match expr.value {
        Value::Str(_) => "a string",
        Value::Bytes(_) => "a bytes literal",
        Value::Int(_) | Value::Float(_) => "a number",
        Value::Bool(_) => "a boolean",
        Value::None => "None",
        Value::List(_) => "a list",
        Value::Tuple(_) => "a tuple",
        Value::Set(_) => "a set",
        Value::Dict(_) => "a dict",
        _ => "a predicate",
    }
}

/// The error for a literal where a predicate must be.
pub fn not_a_predicate(expr: &Expr, context: &str) -> ParseError {
    ParseError {
        at: expr.at,
        expected: format!("a predicate such as Q(module=\"foo\") {context}"),
        found: describe_literal(expr).to_owned(),
    }
}
