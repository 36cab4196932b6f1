//! The expression language of `PYTHONHUNTER`, `PYTHONHUNTERCONFIG`, `hunter-trace` and `python -m hunter`: the
//! argument list of a `trace(...)` call, parsed instead of `eval`-ed so that an environment variable cannot run
//! arbitrary code. It has hunter's names, calls with positional and keyword arguments, Python literals (strings
//! in every quoting form, numbers, `True`/`False`/`None`, lists, tuples, sets, dicts), `~`, `&`, `|` with
//! Python's precedence, and parentheses. Nothing else: no attribute access (a dotted name such as `sys.stdout` is
//! looked up whole, among the names the caller allows), subscripts, lambdas or builtins.
//!
//! Parsing is pure Rust (and fuzzed); `evaluate` turns the tree into Python objects with the caller's names.
//!
//! The files, each using only the ones above it:
//! - `ast`: the syntax tree (`Expr`, `Value`, `Argument`, `StrPiece`), `ParseError`, how an error is shown
//!   (`render_at`) and which expressions are literals rather than predicates.
//! - `lexer`: the text into tokens (Python's literal syntax, names, punctuation).
//! - `parser`: the tokens into an argument list (`parse_arguments`), with Python's precedence and a nesting bound.
//! - `evaluate`: the argument list into Python objects, and the `ExpressionError` / `evaluate_arguments` that
//!   `register` adds to the native module.

mod ast;
mod evaluate;
mod lexer;
mod parser;

pub use ast::{is_literal, not_a_predicate, render_at, Argument, Expr, ParseError, StrPiece, Value};
pub use evaluate::register;
pub use parser::parse_arguments;

#[cfg(test)]
mod tests;
