//! Tests of safe_repr through its API: the full text, and the clipped text against hunter's cut of it.

use pyo3::exceptions::{PyAttributeError, PyRecursionError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::{cut, safe_repr, safe_repr_clipped_into, DEFAULT_MAXDEPTH};

/// Evaluates `expr` with `collections`, `datetime`, `re` and `decimal` imported.
fn eval<'py>(py: Python<'py>, expr: &str) -> Bound<'py, PyAny> {
    let globals = PyDict::new(py);
    globals.set_item("__name__", "corpus").unwrap();
    for module in ["collections", "datetime", "re", "decimal"] {
        globals.set_item(module, py.import(module).unwrap()).unwrap();
    }
    let code = std::ffi::CString::new(expr).unwrap();
    py.eval(&code, Some(&globals), None).unwrap()
}

/// Runs the statements in `code` and returns the global `value` they set.
fn exec<'py>(py: Python<'py>, code: &str) -> Bound<'py, PyAny> {
    let globals = PyDict::new(py);
    let code = std::ffi::CString::new(code).unwrap();
    py.run(&code, Some(&globals), None).unwrap();
    globals.get_item("value").unwrap().unwrap()
}

/// The parts of a clipped text.
#[derive(Debug, PartialEq, Eq)]
enum Clipped {
    Whole(String),
    Cut { head: String, tail: String },
}

impl Clipped {
    fn join(&self, marker: &str) -> String {
        match self {
            Clipped::Whole(text) => text.clone(),
            Clipped::Cut { head, tail } => format!("{head}{marker}{tail}"),
        }
    }
}

const MARKER: &str = " [...] ";

fn clipped(obj: &Bound<'_, PyAny>, limit: usize, escape_newlines: bool) -> String {
    let mut out = String::from("before ");
    safe_repr_clipped_into(obj, DEFAULT_MAXDEPTH, limit, escape_newlines, MARKER, &mut out).unwrap();
    out.strip_prefix("before ").expect("appended to the buffer").to_owned()
}

/// hunter's `try_repr` truncation rule, applied to a complete text (checked against hunter 3.9.0:
/// `text[:limit // 2]` and `text[-(limit // 2):]`, which is the whole text when `limit // 2` is 0).
fn hunter_cut(text: &str, limit: usize) -> Clipped {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= limit {
        return Clipped::Whole(text.to_owned());
    }
    let tail_start = if limit / 2 == 0 { 0 } else { chars.len() - limit / 2 };
    Clipped::Cut { head: chars[..limit / 2].iter().collect(), tail: chars[tail_start..].iter().collect() }
}

const CORPUS: &[&str] = &[
    "1",
    "'a\\nb'",
    "[1, 2, [3, [4, [5, [6, [7]]]]]]",
    "(1,)",
    "((1,),)",
    "{'k': (1, 2), (3, 4): [5, {6}]}",
    "{(1, (2, (3, (4, (5, (6,)))))): 1}",
    "list(range(300))",
    "tuple(range(300))",
    "{i: str(i) * 3 for i in range(200)}",
    "set(range(500))",
    "frozenset(range(500))",
    "collections.deque(range(400))",
    "collections.Counter('abracadabra' * 20)",
    "collections.OrderedDict((i, [i] * 3) for i in range(200))",
    "collections.defaultdict(list, {i: {i: i} for i in range(100)})",
    "[[list(range(50))] * 10] * 10",
    "{'x': type('N\\nL', (), {})()}",
    "[re.compile('a+', re.I), re.compile(b'x')] * 40",
    "[datetime.datetime(2020, 1, 2, 3, 4, 5, 6)] * 30",
    "ValueError(list(range(300)), 'msg')",
    "[decimal.Decimal('1.5')] * 100",
    "([1, 2], {3: 4})",
    "'x' * 3000 + \"'\"",
    "'a\\tb\\\\c\\n' * 700",
    "['ab\\'c' * 50, 1.5, -2e-7, 10**30, 2**70] * 40",
    "'\\u00e9' * 600 + 'abc'",
    "[1e16, 0.1, True, None, -0.0, float('nan')] * 100",
    "[object(), type('K', (), {})()] * 60",
    // Head and tail ending in the same item, in neighbouring items, or in one leaf, near every limit.
    "['x' * 2000, 1]",
    "[1, 'x' * 2000]",
    "['a' * 9, 'b' * 9]",
    "{'k': list(range(400))}",
    "{'k' * 600: 1, 'v': 2}",
    "[[1, 2], [3, 4]]",
    "[list(range(i)) for i in range(40)]",
    "(list(range(30)),)",
    "[str(i) * (i % 7) for i in range(120)]",
    "[datetime.datetime(2020, 1, 2, 3, 4, 5, 6, tzinfo=datetime.timezone.utc)] * 3",
    "{i: {'a': [i, -i], 'b': str(i)} for i in range(30)}",
];

const LIMITS: &[usize] = &[0, 1, 2, 3, 4, 5, 7, 8, 9, 13, 20, 21, 22, 23, 40, 41, 64, 65, 255, 1024, 1025, 100_000];

fn check_clipped_matches_hunter_cut(
    exprs: &[&str],
    limits: impl Iterator<Item = usize> + Clone,
    escape_newlines: bool,
) {
    Python::attach(|py| {
        for expr in exprs {
            let obj = eval(py, expr);
            let mut full = safe_repr(&obj, DEFAULT_MAXDEPTH).unwrap();
            if escape_newlines {
                full = full.replace('\n', "\\n");
            }
            for limit in limits.clone() {
                let expected = hunter_cut(&full, limit).join(MARKER);
                assert_eq!(clipped(&obj, limit, escape_newlines), expected, "{expr} with limit {limit}");
            }
        }
    });
}

#[test]
fn clipped_equals_cutting_the_full_text() {
    check_clipped_matches_hunter_cut(CORPUS, LIMITS.iter().copied(), false);
}

#[test]
fn clipped_with_escaped_newlines_equals_cutting_the_escaped_text() {
    check_clipped_matches_hunter_cut(CORPUS, LIMITS.iter().copied(), true);
}

/// The head pass stops early and the tail pass tells whether the text was longer than the limit: every
/// limit around each text's length, where that decision flips, is checked.
#[test]
fn clipped_at_every_limit_up_to_past_the_length() {
    let exprs = [
        "[1, 22, 333, [4444, 55555], {'k': 'v' * 7}, (6,), 'x\\ny']",
        "{'a': [1, 2], 'bb': {'c': (3,)}, 'ddd': ['e' * 5, 'f']}",
        "[[[[1, 2], [3]], [[4], 5]], 6]",
        "('abc' * 10, [0.5, -1.25], None, True, {1, 2})",
    ];
    check_clipped_matches_hunter_cut(&exprs, 0..=120, false);
    check_clipped_matches_hunter_cut(&exprs, 0..=120, true);
}

/// str, bytes and bytearray, rendered natively in pieces from either end: every byte value, every storage width
/// of str, printable and non-printable characters, lone surrogates, each quote choice and the escapes.
const QUOTED_CORPUS: &[&str] = &[
    "''",
    "b''",
    "bytearray()",
    "bytes(range(256)) * 9",
    "bytearray(range(256)) * 9",
    "bytes(range(255, -1, -1)) * 5 + b\"'\"",
    "bytearray(range(255, -1, -1)) * 5 + b\"'\"",
    "b\"it's\" * 400",
    "bytearray(b\"it's\") * 400",
    "bytearray(b'say \"hi\"') * 300",
    "b'\\t\\n\\r\\\\\\x00\\x1f\\x7f\\x80\\xff\\'\"' * 300",
    "bytes(range(32, 127)) * 40",
    "b'x' * 1023",
    "b'x' * 1024",
    "bytearray(b'x') * 1025",
    "b'x' * 2048",
    "'x' * 1021 + \"'\"",
    "'\\u00e9\\xa0\\xad\\x85 ' * 700 + \"'\"",
    "''.join(map(chr, range(0x80, 0x3000))) + '\"\\''",
    "''.join(map(chr, range(0xd700, 0xe100))) + \"'\"",
    "''.join(map(chr, range(0x1f000, 0x1f800))) + \"'\"",
    "''.join(map(chr, range(0xe0000, 0xe0200))) + '\\u4e2d'",
    "'\\ud800x\\udfff\\U0010ffff' * 500",
    "'a' * 5000 + '\\n' + 'b' * 5000",
    "'\\u4e2d' * 1022 + 'x'",
    "[b'x' * 3000, bytearray(b'y' * 3000), '\\xe9' * 3000, '\\u4e2d\\n' * 3000]",
    "{'k': '\\U0001f600' * 2000, b'\\xff' * 600: bytearray(600)}",
    "bytes(range(256)) * 2_000",
    "'\\u20ac\"' * 100_000",
];

/// Clipped str, bytes and bytearray reprs are hunter's cut of CPython's own `repr()`, at every limit of
/// [`LIMITS`] and around each text's length.
#[test]
fn clipped_quoted_texts_equal_cutting_their_python_repr() {
    Python::attach(|py| {
        for expr in QUOTED_CORPUS {
            let obj = eval(py, expr);
            let full = obj.repr().unwrap().to_string().replace('\n', "\\n");
            assert_eq!(safe_repr(&obj, DEFAULT_MAXDEPTH).unwrap().replace('\n', "\\n"), full, "{expr}");
            let length = full.chars().count();
            // (The huge texts only at the usual limits: a limit near their length renders all of them.)
            let around_length = [length / 2, length - 1, length, length + 1, 2 * length].into_iter();
            let around_length = around_length.filter(|&limit| limit > 0 && length < 20_000);
            for limit in LIMITS.iter().copied().chain(around_length) {
                let expected = hunter_cut(&full, limit).join(MARKER);
                assert_eq!(clipped(&obj, limit, true), expected, "{expr} with limit {limit}");
            }
        }
    });
}

#[test]
fn clipping_skips_the_middle_of_a_huge_list() {
    Python::attach(|py| {
        // The middle item cannot be rendered at all: its class, created where `__name__` is unset, has
        // no `__module__`, so hunter's `type(obj).__module__` raises. Clipping succeeds only because it
        // never renders the middle.
        let obj = exec(
            py,
            "no_module = type('NoModule', (), {})\n\
             value = [[i, str(i)] for i in range(200_000)] + [no_module()]\n\
             value += [[i, str(i)] for i in range(200_000, 400_000)]",
        );
        let err = safe_repr(&obj, DEFAULT_MAXDEPTH).unwrap_err();
        assert!(err.is_instance_of::<PyAttributeError>(py));
        assert_eq!(clipped(&obj, 40, false), "[[0, '0'], [1, '1'], [...]  [399999, '399999']]");
    });
}

#[test]
fn depth_and_single_item_tuples() {
    Python::attach(|py| {
        let cases = [
            ("[[[[[[1]]]]]]", "[[[[[...]]]]]"),
            ("{(1, (2, (3, (4, (5,))))): 1}", "{(1, (2, (3, (4, (...,))))): 1}"),
            ("(1,)", "(1,)"),
            ("set()", "{}"),
            ("frozenset()", "frozenset({})"),
        ];
        for (expr, expected) in cases {
            assert_eq!(safe_repr(&eval(py, expr), DEFAULT_MAXDEPTH).unwrap(), expected);
        }
    });
}

#[test]
fn untrusted_objects_show_object_repr() {
    Python::attach(|py| {
        let values = exec(
            py,
            "class Outer:\n    class Inner:\n        def __repr__(self): raise AssertionError('user code ran')\n\
             class NoneModule: pass\n\
             NoneModule.__module__ = None\n\
             class IntModule: pass\n\
             IntModule.__module__ = 3\n\
             class Meta(type): pass\n\
             class WithMeta(metaclass=Meta): pass\n\
             import itertools\n\
             value = [Outer(), Outer.Inner(), NoneModule(), IntModule(), WithMeta(), object(), \
             itertools.count()]",
        );
        for value in values.try_iter().unwrap() {
            let value = value.unwrap();
            let expected = py.eval(c"object.__repr__", None, None).unwrap().call1((&value,)).unwrap().to_string();
            assert_eq!(safe_repr(&value, DEFAULT_MAXDEPTH).unwrap(), expected);
        }
    });
}

#[test]
fn negative_depth_on_a_cycle_raises_recursion_error() {
    Python::attach(|py| {
        let cycle = eval(py, "(lambda l: (l.append(l), l)[1])([])");
        let err = safe_repr(&cycle, -1).unwrap_err();
        assert!(err.is_instance_of::<PyRecursionError>(py));
    });
}

#[test]
fn cut_keeps_the_ends() {
    assert_eq!(cut("abcdef", 6), None);
    assert_eq!(cut("abcdefg", 4), Some(("ab".to_owned(), "fg".to_owned())));
    assert_eq!(cut("abcdefg", 5), Some(("ab".to_owned(), "fg".to_owned())));
    assert_eq!(cut("abc", 1), Some((String::new(), "abc".to_owned())));
}
