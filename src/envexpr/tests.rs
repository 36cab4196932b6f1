use proptest::prelude::*;

use super::parser::{MAX_NESTING, MAX_OPERANDS, PYTHON_KEYWORDS};
use super::*;

fn parse_one(text: &str) -> Value {
    match parse_arguments(text).expect(text).as_slice() {
        [Argument::Positional(expr)] => expr.value.clone(),
        other => panic!("{text}: {other:?}"),
    }
}

fn text(value: &str) -> Value {
    Value::Str(vec![StrPiece::Text(value.to_owned())])
}

fn error_of(text: &str) -> ParseError {
    parse_arguments(text).expect_err(text)
}

#[test]
fn string_quoting_forms() {
    for (source, expected) in [
        ("'a'", "a"),
        ("\"a\"", "a"),
        ("'''a'b\nc'''", "a'b\nc"),
        ("\"\"\"a\"\"\"", "a"),
        ("u'a'", "a"),
        ("r'\\d\\''", "\\d\\'"),
        ("R\"\\n\"", "\\n"),
        ("'\\n\\t\\\\\\'\\x41\\101\\u00e9\\U0001F600\\q'", "\n\t\\'AAé😀\\q"),
        ("'a' \"b\" '''c'''", "abc"),
        ("'a\\\nb'", "ab"),
        ("f'__main__'", "__main__"),
        ("F'a{{b}}c'", "a{b}c"),
        ("rf'\\d{{'", "\\d{"),
        ("'a' f'b'", "ab"),
    ] {
        assert_eq!(parse_one(source), text(expected), "{source}");
    }
    assert_eq!(parse_one("b'\\x00a\\u'"), Value::Bytes(b"\x00a\\u".to_vec()));
    assert_eq!(parse_one("rb'\\x'"), Value::Bytes(b"\\x".to_vec()));
    assert_eq!(parse_one("'\\ud800'"), Value::Str(vec![StrPiece::Surrogate(0xd800)]));
    assert_eq!(
        parse_one("'x\\N{BULLET}'"),
        Value::Str(vec![StrPiece::Text("x".into()), StrPiece::Named { name: "BULLET".into(), at: 2 }])
    );
}

#[test]
fn numbers_keep_python_text() {
    assert_eq!(parse_one("1_000"), Value::Int("1_000".into()));
    assert_eq!(parse_one("0x_Ff"), Value::Int("0x_Ff".into()));
    assert_eq!(parse_one("-0o17"), Value::Int("-0o17".into()));
    assert_eq!(parse_one("000"), Value::Int("000".into()));
    assert_eq!(parse_one("- 1.5e-3"), Value::Float("-1.5e-3".into()));
    assert_eq!(parse_one(".5"), Value::Float(".5".into()));
    assert_eq!(parse_one("5."), Value::Float("5.".into()));
    for bad in ["0777", "1__0", "1_", "0x", "1e", "1j", "12abc", "1.2.3"] {
        parse_arguments(bad).expect_err(bad);
    }
}

#[test]
fn operators_follow_python_precedence() {
    let Value::Or(left, rest) = parse_one("~Q() | a & b") else { panic!() };
    assert!(matches!(left.value, Value::Invert(_)));
    assert!(matches!(rest[..], [(5, Expr { value: Value::And(..), .. })]));
    let Value::And(left, _) = parse_one("(a | b) & c") else { panic!() };
    assert!(matches!(left.value, Value::Or(..)));
}

#[test]
fn a_chain_of_one_operator_is_one_node() {
    let text = vec!["Q()"; MAX_OPERANDS].join(" | ");
    let Value::Or(_, rest) = parse_one(&text) else { panic!() };
    assert_eq!(rest.len(), MAX_OPERANDS - 1);
    assert_eq!(rest[1].0, "Q() | Q() ".len());
    let mixed = vec!["a & b"; MAX_OPERANDS].join(" | ");
    let Value::Or(first, rest) = parse_one(&mixed) else { panic!() };
    assert!(matches!(first.value, Value::And(_, ref operands) if operands.len() == 1));
    assert_eq!(rest.len(), MAX_OPERANDS - 1);
}

#[test]
fn a_longer_chain_is_refused_at_its_first_operator_too_many() {
    for operator in [" | ", " & "] {
        let text = vec!["Q()"; MAX_OPERANDS + 1].join(operator);
        let error = parse_arguments(&text).expect_err("too long");
        assert_eq!(error.at, MAX_OPERANDS * "Q()".len() + (MAX_OPERANDS - 1) * operator.len() + 1);
        assert_eq!(error.expected, format!("at most {MAX_OPERANDS} operands of '{}'", operator.trim()));
    }
}

#[test]
fn keyword_and_positional_arguments() {
    let arguments = parse_arguments("~Q(kind='line'), stdlib=False, actions=[CodePrinter, VarsPrinter('x')],").unwrap();
    assert_eq!(arguments.len(), 3);
    assert!(
        matches!(&arguments[1], Argument::Keyword { name, value: Expr { value: Value::Bool(false), .. }, .. } if name == "stdlib")
    );
    assert!(parse_arguments("").unwrap().is_empty());
    assert!(parse_arguments("  \n ").unwrap().is_empty());
}

#[test]
fn containers() {
    assert_eq!(parse_one("()"), Value::Tuple(vec![]));
    assert!(matches!(parse_one("(1,)"), Value::Tuple(items) if items.len() == 1));
    assert!(matches!(parse_one("(1)"), Value::Int(_)));
    assert!(matches!(parse_one("[1, 'a',]"), Value::List(items) if items.len() == 2));
    assert!(matches!(parse_one("{1, 2}"), Value::Set(items) if items.len() == 2));
    assert!(matches!(parse_one("{}"), Value::Dict(entries) if entries.is_empty()));
    assert!(matches!(parse_one("{'a': 1, 'b': [2],}"), Value::Dict(entries) if entries.len() == 2));
}

#[test]
fn errors_name_the_position_and_what_was_expected() {
    let error = error_of("Q(module='a'");
    assert_eq!((error.at, error.found.as_str()), (12, "the end of the text"));
    assert!(error.expected.contains("')'"), "{error:?}");

    assert_eq!(error_of("__import__('os').system('id')").at, 16);
    assert!(error_of("x().y").expected.contains("attribute access"));
    assert!(error_of("x.'a'").expected.contains("attribute access"));
    assert_eq!(parse_one("sys.stdout"), Value::Name("sys.stdout".into()));
    assert!(error_of("a[0]").expected.contains("subscripts"));
    assert!(error_of("lambda: 1").found.contains("lambda"));
    // An f-string with a replacement field, or a lone brace, could run code; t-strings always could.
    assert_eq!((error_of("f'{x}'").at, error_of("f'{x}'").found.as_str()), (2, "'{'"));
    assert_eq!(error_of("f'a}'").at, 3);
    assert!(error_of("t'x'").expected.contains("t-strings"));
    assert_eq!(error_of("fb'x'").at, 0);
    // Python's blanks only: a no-break space is an error there.
    assert_eq!(error_of("Q(module='a',\u{a0}kind='call')").at, 13);
    assert_eq!(parse_one(" \t\x0c\r\n5"), Value::Int("5".into()));
    assert_eq!(error_of("a=1, b").found, "a positional argument after keyword arguments");
    assert_eq!(error_of("a=1, a=2").found, "'a' repeated");
    assert_eq!(error_of("~'x'").found, "a string");
    assert_eq!(error_of("Q() | 1").found, "a number");
    assert_eq!(error_of("-Q()").expected, "a number after '-'");
    assert_eq!(error_of("+Q()").expected, "a number after '+'");
    assert_eq!(parse_one("+5"), Value::Int("5".into()));
    assert_eq!(parse_one("+1.5"), Value::Float("1.5".into()));
    assert_eq!(error_of("Q()()").at, 3);
    assert_eq!(error_of("'abc").at, 0);
    assert_eq!(error_of("(1, 2").found, "the end of the text");
    assert_eq!(error_of("Q(a=1))").at, 6);
    assert_eq!(error_of(&"(".repeat(1000)).expected, format!("at most {MAX_NESTING} levels of nesting"));
    assert_eq!(error_of(&"~".repeat(1000)).expected, format!("at most {MAX_NESTING} levels of nesting"));
}

#[test]
fn rendering_puts_a_caret_under_the_position() {
    assert_eq!(render_at("Q(x=1", 5, "oops"), "at column 6: oops\n    Q(x=1\n         ^");
    assert_eq!(render_at("a,\n\tb c", 6, "oops"), "at line 2, column 4: oops\n    \tb c\n    \t  ^");
}

/// Source text of valid expressions, built from the grammar's pieces.
fn valid_expression() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        "[A-Za-z_][A-Za-z0-9_]{0,8}".prop_filter("not a keyword", |name| !PYTHON_KEYWORDS.contains(&name.as_str())),
        "-?[1-9](_?[0-9]){0,5}|0|-?0x[0-9a-f]{1,6}".prop_map(String::from),
        "[a-z ]{0,6}".prop_map(|s| format!("'{s}'")),
        "[a-z\"]{0,6}".prop_map(|s| format!("r'''{s}'''")),
        Just("None".to_owned()),
        Just("True".to_owned()),
    ];
    leaf.prop_recursive(5, 48, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|items| format!("[{}]", items.join(", "))),
            prop::collection::vec(inner.clone(), 0..4).prop_map(|items| format!("f({})", items.join(", "))),
            (
                inner.clone(),
                "[a-z]{1,5}".prop_filter("not a keyword", |name| !PYTHON_KEYWORDS.contains(&name.as_str()))
            )
                .prop_map(|(value, key)| format!("Q({key}={value})")),
            "[A-Z][a-z]{0,4}"
                .prop_filter("not a constant", |name| !matches!(name.as_str(), "True" | "False" | "None"))
                .prop_map(|name| format!("~{name}()")),
            ("[A-Z][a-z]{0,4}", "[A-Z][a-z]{0,4}", prop_oneof![Just(" | "), Just(" & ")])
                .prop_map(|(a, b, op)| format!("({a}(){op}{b})")),
            inner.prop_map(|value| format!("({value},)")),
        ]
    })
}

proptest! {
    // PROPTEST_CASES raises the count for a longer fuzzing run; the default keeps `cargo test` quick.
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|cases| cases.parse().ok()).unwrap_or(3000)
    ))]

    /// Arbitrary text, mostly made of the characters the grammar cares about: never a panic, and every error
    /// points inside the text (or just past its end).
    #[test]
    fn arbitrary_text_never_panics(text in "[QA-z_0-9()\\[\\]{},=~|&:.'\"\\\\rbuxN \n-]{0,40}|\\PC{0,40}") {
        if let Err(error) = parse_arguments(&text) {
            prop_assert!(error.at <= text.chars().count(), "{error:?}");
            let rendered = render_at(&text, error.at, &error.render_message());
            prop_assert!(rendered.contains('^'));
        }
    }

    /// Generated valid expressions parse, as arguments and inside a call, and a cut-off prefix never panics.
    #[test]
    fn valid_expressions_parse(expression in valid_expression(), cut in 0usize..200) {
        let arguments = format!("{expression}, key={expression}");
        prop_assert_eq!(parse_arguments(&arguments).map(|parsed| parsed.len()), Ok(2), "{}", arguments);
        let truncated: String = arguments.chars().take(cut).collect();
        let _ = parse_arguments(&truncated);
    }
}
