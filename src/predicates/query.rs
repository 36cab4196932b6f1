//! `Query(**query)`: the field/operator filter, evaluated natively.
//!
//! Query values are converted once at construction (Rust strings, integers, string lists) so that the
//! common comparisons against str/int event values never go through Python; anything else falls back to
//! Python's own operators with the semantics of hunter's pure-Python `Query`.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::pyclass::CompareOp;
use pyo3::pyclass::{PyTraverseError, PyVisit};
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyFrozenSet, PyInt, PyList, PySet, PyString, PyTuple};

use super::facts::StaticFacts;
use crate::event::{EventData, EventRef, Field, Kind};
use crate::suggest;
use crate::verdict::Verdict;

/// hunter's operators, one row each in display order (`str()`, `repr()`, the `query_*` attributes): the
/// variant, its canonical name (the long suffix, printed by `str()`) and the attribute showing its
/// conditions. Hands the rows to `$consumer!`, after its own leading tokens, so that the `Operator` enum and
/// `Query`'s attributes are both generated from this one list.
macro_rules! operator_table {
    ($consumer:ident! { $($leading:tt)* }) => {
        $consumer! {
            { $($leading)* }
            Eq "eq" query_eq,
            In "in" query_in,
            Contains "contains" query_contains,
            StartsWith "startswith" query_startswith,
            EndsWith "endswith" query_endswith,
            Regex "regex" query_regex,
            Lt "lt" query_lt,
            Lte "lte" query_lte,
            Gt "gt" query_gt,
            Gte "gte" query_gte,
        }
    };
}

macro_rules! define_operators {
    ({} $($variant:ident $name:literal $attribute:ident,)*) => {
        #[derive(Clone, Copy, PartialEq, Eq, Debug)]
        enum Operator {
            $($variant,)*
        }

        impl Operator {
            const COUNT: usize = [$($name),*].len();

            /// The order of `str()`, `repr()` and the `query_*` attributes.
            const DISPLAY_ORDER: [Operator; Operator::COUNT] = [$(Operator::$variant),*];

            /// The canonical (long) name, as `str()` prints it and as the attribute is named.
            fn name(self) -> &'static str {
                match self {
                    $(Operator::$variant => $name,)*
                }
            }
        }
    };
}

operator_table!(define_operators! {});

/// The operator suffixes `Query` accepts, in hunter's order (shown in error messages), and their meaning.
const SUFFIXES: [(&str, Operator); 13] = [
    ("startswith", Operator::StartsWith),
    ("endswith", Operator::EndsWith),
    ("in", Operator::In),
    ("contains", Operator::Contains),
    ("regex", Operator::Regex),
    ("sw", Operator::StartsWith),
    ("ew", Operator::EndsWith),
    ("has", Operator::Contains),
    ("rx", Operator::Regex),
    ("gt", Operator::Gt),
    ("gte", Operator::Gte),
    ("lt", Operator::Lt),
    ("lte", Operator::Lte),
];

/// The operator suffixes `Query` accepts, in hunter's order.
pub fn allowed_operators() -> impl ExactSizeIterator<Item = &'static str> {
    SUFFIXES.iter().map(|(suffix, _)| *suffix)
}

impl Operator {
    /// hunter checks the orderings in a different order than it prints them (gt, gte, lt, lte).
    const EVALUATION_ORDER: [Operator; Operator::COUNT] = [
        Operator::Eq,
        Operator::In,
        Operator::Contains,
        Operator::StartsWith,
        Operator::EndsWith,
        Operator::Regex,
        Operator::Gt,
        Operator::Gte,
        Operator::Lt,
        Operator::Lte,
    ];

    fn from_suffix(suffix: &str) -> Option<Operator> {
        SUFFIXES.iter().find(|(name, _)| *name == suffix).map(|(_, operator)| *operator)
    }

    fn ordering(self) -> Option<CompareOp> {
        match self {
            Operator::Lt => Some(CompareOp::Lt),
            Operator::Lte => Some(CompareOp::Le),
            Operator::Gt => Some(CompareOp::Gt),
            Operator::Gte => Some(CompareOp::Ge),
            _ => None,
        }
    }

    fn display_index(self) -> usize {
        Operator::DISPLAY_ORDER.iter().position(|op| *op == self).expect("every operator is displayed")
    }
}

/// `('a', 'b', ...)`: the repr of a tuple of plain ASCII names, as hunter's messages show them.
fn names_repr<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let quoted: Vec<String> = names.into_iter().map(|name| format!("'{name}'")).collect();
    format!("({})", quoted.join(", "))
}

/// The field names `Query` accepts, sorted (the repr used in hunter's error messages).
pub fn allowed_keys() -> Vec<&'static str> {
    Field::ALL.iter().map(|field| field.name()).collect()
}

/// Every `field_operator` key, for suggesting one in place of a key that is not.
fn valid_keys_with_operators() -> Vec<String> {
    allowed_keys()
        .into_iter()
        .flat_map(|field| allowed_operators().map(move |suffix| format!("{field}_{suffix}")))
        .collect()
}

/// What an event's value of a field always is, for rejecting query values that no event can ever match.
#[derive(Clone, Copy)]
enum Domain {
    Kind,
    Int { or_none: bool },
    Bool,
}

/// The kinds an event can have, in the order error messages list them.
const KIND_NAMES: [&str; 4] = ["call", "line", "return", "exception"];

impl Domain {
    fn of(field: Field) -> Option<Domain> {
        Some(match field {
            Field::Kind => Domain::Kind,
            Field::Depth | Field::Calls | Field::Lineno => Domain::Int { or_none: false },
            Field::Instruction | Field::Threadid => Domain::Int { or_none: true },
            Field::Stdlib | Field::Builtin => Domain::Bool,
            _ => return None,
        })
    }

    fn description(self) -> String {
        match self {
            Domain::Kind => format!("one of {}", names_repr(KIND_NAMES)),
            Domain::Int { or_none: false } => "an int".to_owned(),
            Domain::Int { or_none: true } => "an int or None".to_owned(),
            Domain::Bool => "True or False".to_owned(),
        }
    }

    /// Whether an event value of this domain can equal `value`. Objects other than builtin data may define
    /// their own equality, so they are admitted.
    fn admits(self, value: &Bound<'_, PyAny>) -> PyResult<bool> {
        if !is_plain_data(value, 0)? {
            return Ok(true);
        }
        Ok(match self {
            Domain::Kind => exact_str(value).is_some_and(|name| KIND_NAMES.contains(&&*name)),
            Domain::Int { or_none } => {
                value.is_instance_of::<PyInt>()
                    || value.is_exact_instance_of::<PyFloat>()
                    || (or_none && value.is_none())
            }
            Domain::Bool => matches!(exact_int(value), Some(0 | 1)),
        })
    }

    /// For `field_in=value`: an item (or the whole value, for a string) that no event value can be in.
    fn unmatchable_member<'py>(self, value: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyAny>>> {
        if value.is_instance_of::<PyString>() || value.is_instance_of::<PyBytes>() {
            // Membership in a string is a substring test: only a kind (a str) can pass it.
            let holds_a_kind = matches!(self, Domain::Kind)
                && exact_str(value).is_some_and(|text| KIND_NAMES.iter().any(|kind| text.contains(kind)));
            return Ok((!holds_a_kind).then(|| value.clone()));
        }
        if is_collection(value) || value.is_exact_instance_of::<PyDict>() {
            for item in value.try_iter()? {
                let item = item?;
                if !self.admits(&item)? {
                    return Ok(Some(item));
                }
            }
        }
        Ok(None)
    }
}

/// Rejects a value that no event can ever match (`kind='cal'`, `depth_lt='3'`, `stdlib='no'`): hunter accepts
/// them and never matches. Only equality, ordering and membership are checked; other operators keep their
/// own (hunter's) errors.
fn check_value(key: &Bound<'_, PyAny>, field: Field, operator: Operator, value: &Bound<'_, PyAny>) -> PyResult<()> {
    let Some(domain) = Domain::of(field) else { return Ok(()) };
    let offender = match (operator, domain) {
        (Operator::Eq, _) | (Operator::Lt | Operator::Lte | Operator::Gt | Operator::Gte, Domain::Int { .. }) => {
            (!domain.admits(value)?).then(|| value.clone())
        }
        (Operator::In, _) => domain.unmatchable_member(value)?,
        _ => None,
    };
    let Some(offender) = offender else { return Ok(()) };
    let culprit = if offender.is(value) { String::new() } else { format!("{} can never match: ", offender.repr()?) };
    let hint = match (domain, exact_str(&offender)) {
        (Domain::Kind, Some(name)) => kind_hint(&name),
        _ => String::new(),
    };
    Err(PyValueError::new_err(format!(
        "Value {} for {} is invalid: {culprit}{} is always {}.{hint}",
        value.repr()?,
        key.repr()?,
        field.name(),
        domain.description()
    )))
}

/// What the user probably meant by an unknown kind: C function events are `call`/`return`/`exception` events
/// with `builtin=True`; otherwise the closest kind.
fn kind_hint(name: &str) -> String {
    match name.strip_prefix("c_") {
        Some(base) if KIND_NAMES.contains(&base) && base != "line" => {
            format!(" C function events have kind '{base}' and builtin=True.")
        }
        _ => suggest::did_you_mean(name, KIND_NAMES),
    }
}

/// A query value in the form the fast paths compare against; `Object` means "ask Python".
enum Native {
    Str(Box<str>),
    Int(i64),
    Strs(Box<[Box<str>]>),
    Ints(Box<[i64]>),
    /// The compiled pattern's bound `match` method, and whether the pattern is a str (not bytes) one.
    Pattern {
        matcher: Py<PyAny>,
        matches_str: bool,
    },
    Object,
}

fn exact_str(value: &Bound<'_, PyAny>) -> Option<Box<str>> {
    let text = value.cast_exact::<PyString>().ok()?;
    text.to_str().ok().map(Box::from)
}

fn exact_int(value: &Bound<'_, PyAny>) -> Option<i64> {
    if value.is_exact_instance_of::<PyInt>() || value.is_instance_of::<PyBool>() {
        value.extract().ok()
    } else {
        None
    }
}

fn is_collection(value: &Bound<'_, PyAny>) -> bool {
    value.is_exact_instance_of::<PyTuple>()
        || value.is_exact_instance_of::<PyList>()
        || value.is_exact_instance_of::<PySet>()
        || value.is_exact_instance_of::<PyFrozenSet>()
}

impl Native {
    fn scalar(value: &Bound<'_, PyAny>) -> Native {
        if let Some(text) = exact_str(value) {
            Native::Str(text)
        } else if let Some(number) = exact_int(value) {
            Native::Int(number)
        } else {
            Native::Object
        }
    }

    /// The elements of a tuple/list/set, if they are all exact str or all exact int.
    fn elements(value: &Bound<'_, PyAny>) -> PyResult<Native> {
        if !is_collection(value) {
            return Ok(Native::Object);
        }
        let items: Vec<Bound<'_, PyAny>> = value.try_iter()?.collect::<PyResult<_>>()?;
        if let Some(texts) = items.iter().map(exact_str).collect::<Option<Box<[_]>>>() {
            return Ok(Native::Strs(texts));
        }
        if let Some(numbers) = items.iter().map(exact_int).collect::<Option<Box<[_]>>>() {
            return Ok(Native::Ints(numbers));
        }
        Ok(Native::Object)
    }

    fn of(operator: Operator, value: &Bound<'_, PyAny>) -> PyResult<Native> {
        let py = value.py();
        Ok(match operator {
            Operator::Regex => Native::Pattern {
                matcher: value.getattr(pyo3::intern!(py, "match"))?.unbind(),
                matches_str: value.getattr(pyo3::intern!(py, "pattern"))?.is_exact_instance_of::<PyString>(),
            },
            Operator::In | Operator::StartsWith | Operator::EndsWith if !value.is_instance_of::<PyString>() => {
                Native::elements(value)?
            }
            _ => Native::scalar(value),
        })
    }
}

/// Built only of builtin data types, so comparing against it never runs user code.
fn is_plain_data(value: &Bound<'_, PyAny>, depth: u32) -> PyResult<bool> {
    if depth > 8 {
        return Ok(false);
    }
    if value.is_none()
        || value.is_instance_of::<PyBool>()
        || value.is_exact_instance_of::<PyInt>()
        || value.is_exact_instance_of::<PyFloat>()
        || value.is_exact_instance_of::<PyString>()
        || value.is_exact_instance_of::<PyBytes>()
    {
        return Ok(true);
    }
    if is_collection(value) {
        for item in value.try_iter()? {
            if !is_plain_data(&item?, depth + 1)? {
                return Ok(false);
            }
        }
        return Ok(true);
    }
    if let Ok(dict) = value.cast_exact::<PyDict>() {
        for (key, item) in dict.iter() {
            if !is_plain_data(&key, depth + 1)? || !is_plain_data(&item, depth + 1)? {
                return Ok(false);
            }
        }
        return Ok(true);
    }
    Ok(false)
}

/// What a field's event value can be, for deciding whether an operator may raise on it.
#[derive(PartialEq, Eq)]
enum ValueShape {
    Int,
    IntOrNone,
    Str,
    Code,
    /// arg, globals, locals: any object, possibly with user-defined operators.
    Arbitrary,
}

fn dynamic_shape(field: Field) -> ValueShape {
    match field {
        Field::Depth | Field::Calls | Field::Lineno => ValueShape::Int,
        Field::Instruction | Field::Threadid => ValueShape::IntOrNone,
        Field::Source | Field::Fullsource | Field::Threadname => ValueShape::Str,
        Field::Code => ValueShape::Code,
        _ => ValueShape::Arbitrary,
    }
}

/// An event attribute as read by a query: counters and flags stay native until Python needs them.
pub(crate) enum FieldValue<'py> {
    Int(i64),
    Bool(bool),
    Kind(Kind),
    Object(Bound<'py, PyAny>),
}

impl<'py> FieldValue<'py> {
    fn of_event(py: Python<'py>, data: &EventData, field: Field) -> PyResult<FieldValue<'py>> {
        Ok(match field {
            Field::Depth => FieldValue::Int(data.depth),
            Field::Calls => FieldValue::Int(data.calls),
            Field::Builtin => FieldValue::Bool(data.builtin),
            Field::Kind => FieldValue::Kind(data.kind),
            _ => FieldValue::Object(data.get(py, field)?),
        })
    }

    /// The value of a code-static field for the events a verdict is asked for (never builtin ones).
    fn of_facts(facts: &StaticFacts<'py>, field: Field) -> Option<FieldValue<'py>> {
        Some(match field {
            Field::Builtin => FieldValue::Bool(false),
            Field::Kind => FieldValue::Kind(facts.kind),
            Field::Function => FieldValue::Object(facts.function.clone()),
            Field::Module => FieldValue::Object(facts.module.clone()),
            Field::Filename => FieldValue::Object(facts.filename.clone()),
            Field::Stdlib => FieldValue::Bool(facts.stdlib),
            _ => return None,
        })
    }

    fn as_str(&self) -> Option<&str> {
        match self {
            FieldValue::Kind(kind) => Some(kind.name()),
            FieldValue::Object(value) => value.cast_exact::<PyString>().ok()?.to_str().ok(),
            _ => None,
        }
    }

    fn as_int(&self) -> Option<i64> {
        match self {
            FieldValue::Int(number) => Some(*number),
            FieldValue::Bool(flag) => Some(i64::from(*flag)),
            FieldValue::Object(value) => exact_int(value),
            FieldValue::Kind(_) => None,
        }
    }

    fn is_plain(&self) -> bool {
        match self {
            FieldValue::Object(value) => {
                value.is_none() || value.is_exact_instance_of::<PyString>() || value.is_instance_of::<PyBool>()
            }
            _ => true,
        }
    }

    fn to_object(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(match self {
            FieldValue::Int(number) => number.into_pyobject(py)?.into_any(),
            FieldValue::Bool(flag) => PyBool::new(py, *flag).to_owned().into_any(),
            FieldValue::Kind(kind) => kind.py_name(py).clone().into_any(),
            FieldValue::Object(value) => value.clone(),
        })
    }
}

struct Condition {
    field: Field,
    operator: Operator,
    value: Py<PyAny>,
    native: Native,
    plain: bool,
}

impl Condition {
    /// Whether the event value passes, with hunter's pure-Python semantics.
    fn test(&self, py: Python<'_>, event_value: &FieldValue<'_>) -> PyResult<bool> {
        if let Some(verdict) = self.test_natively(event_value) {
            return Ok(verdict);
        }
        let expected = self.value.bind(py);
        let actual = event_value.to_object(py)?;
        match self.operator {
            Operator::Eq => Ok(!actual.ne(expected)?),
            Operator::In => expected.contains(actual),
            Operator::Contains => actual.contains(expected),
            Operator::StartsWith => actual.call_method1(pyo3::intern!(py, "startswith"), (expected,))?.is_truthy(),
            Operator::EndsWith => actual.call_method1(pyo3::intern!(py, "endswith"), (expected,))?.is_truthy(),
            Operator::Regex => match &self.native {
                Native::Pattern { matcher, .. } => matcher.bind(py).call1((actual,))?.is_truthy(),
                _ => unreachable!("regex values are always compiled patterns"),
            },
            Operator::Lt | Operator::Lte | Operator::Gt | Operator::Gte => {
                let ordering = self.operator.ordering().expect("an ordering operator");
                actual.rich_compare(expected, ordering)?.is_truthy()
            }
        }
    }

    /// The result for str/int event values against pre-converted query values, or None to ask Python.
    fn test_natively(&self, event_value: &FieldValue<'_>) -> Option<bool> {
        match (self.operator, &self.native) {
            (Operator::Eq, Native::Str(expected)) => Some(event_value.as_str()? == &**expected),
            (Operator::Eq, Native::Int(expected)) => Some(event_value.as_int()? == *expected),
            (Operator::In, Native::Strs(options)) => {
                let actual = event_value.as_str()?;
                Some(options.iter().any(|option| **option == *actual))
            }
            (Operator::In, Native::Ints(options)) => Some(options.contains(&event_value.as_int()?)),
            (Operator::In, Native::Str(haystack)) => Some(haystack.contains(event_value.as_str()?)),
            (Operator::Contains, Native::Str(needle)) => Some(event_value.as_str()?.contains(&**needle)),
            (Operator::StartsWith, Native::Str(prefix)) => Some(event_value.as_str()?.starts_with(&**prefix)),
            (Operator::StartsWith, Native::Strs(prefixes)) => {
                let actual = event_value.as_str()?;
                Some(prefixes.iter().any(|prefix| actual.starts_with(&**prefix)))
            }
            (Operator::EndsWith, Native::Str(suffix)) => Some(event_value.as_str()?.ends_with(&**suffix)),
            (Operator::EndsWith, Native::Strs(suffixes)) => {
                let actual = event_value.as_str()?;
                Some(suffixes.iter().any(|suffix| actual.ends_with(&**suffix)))
            }
            (operator, Native::Int(expected)) if operator.ordering().is_some() => {
                Some(operator.ordering()?.matches(event_value.as_int()?.cmp(expected)))
            }
            // UTF-8 byte order is code point order, which is how Python orders str.
            (operator, Native::Str(expected)) if operator.ordering().is_some() => {
                Some(operator.ordering()?.matches(event_value.as_str()?.cmp(&**expected)))
            }
            _ => None,
        }
    }

    /// Whether evaluating this condition on any event value of its (non code-static) field can neither
    /// raise nor run user code.
    fn is_harmless_on_any_event(&self, py: Python<'_>) -> bool {
        let shape = dynamic_shape(self.field);
        if !self.plain || shape == ValueShape::Arbitrary {
            return false;
        }
        let value = self.value.bind(py);
        let is_str = value.is_exact_instance_of::<PyString>();
        match self.operator {
            Operator::Eq => true,
            // Every possible value (int, None, str, code) is hashable, so set/dict membership cannot raise.
            Operator::In => {
                is_collection(value) || value.is_exact_instance_of::<PyDict>() || (is_str && shape == ValueShape::Str)
            }
            Operator::Contains => is_str && shape == ValueShape::Str,
            Operator::StartsWith | Operator::EndsWith => {
                shape == ValueShape::Str && matches!(self.native, Native::Str(_) | Native::Strs(_))
            }
            Operator::Regex => {
                shape == ValueShape::Str && matches!(self.native, Native::Pattern { matches_str: true, .. })
            }
            Operator::Lt | Operator::Lte | Operator::Gt | Operator::Gte => {
                let is_number = exact_int(value).is_some() || value.is_exact_instance_of::<PyFloat>();
                (shape == ValueShape::Int && is_number) || (shape == ValueShape::Str && is_str)
            }
        }
    }
}

/// Event-filtering predicate: matches the events whose fields satisfy every keyword argument.
///
/// Each keyword argument is ``field=value`` (equality) or ``field_operator=value``. The fields are those of
/// :class:`hunter.event.Event`: ``arg``, ``builtin``, ``calls``, ``code``, ``depth``, ``filename``, ``frame``,
/// ``fullsource``, ``function``, ``globals``, ``kind``, ``lineno``, ``locals``, ``module``, ``source``,
/// ``stdlib``, ``threadid``, ``threadname`` (``ALLOWED_KEYS``). The operators are ``startswith`` (``sw``),
/// ``endswith`` (``ew``), ``in``, ``contains`` (``has``), ``regex`` (``rx``), ``lt``, ``lte``, ``gt`` and
/// ``gte`` (``ALLOWED_OPERATORS``); ``startswith`` and ``endswith`` also take a tuple of strings.
///
/// Args:
///     query: the criteria, all of which an event must satisfy.
///
/// Example::
///
///     Query(module='myapp', function_in=['load', 'save'], depth_lt=3)
///
/// ``Query`` objects combine with ``|``, ``&`` and ``~`` into :class:`Or`, :class:`And` and :class:`Not`.
/// ``hunter.Q`` builds one (and turns an ``action=`` argument into a :class:`When`).
#[pyclass(module = "hunter.predicates", name = "Query", frozen, subclass, weakref)]
pub struct Query {
    /// In evaluation order (operator group, then key).
    conditions: Box<[Condition]>,
    /// The `query_*` tuples of `(key, value)` pairs, in display order.
    groups: [Py<PyTuple>; Operator::COUNT],
}

impl Query {
    /// Whether the query has no filters, so that it accepts every event.
    pub(crate) fn accepts_all(&self) -> bool {
        self.conditions.is_empty()
    }

    /// Evaluates the query on an event: every condition in order, stopping at the first failure.
    pub(crate) fn matches(&self, py: Python<'_>, data: &EventData) -> PyResult<bool> {
        for condition in self.conditions.iter() {
            if !condition.test(py, &FieldValue::of_event(py, data, condition.field)?)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Whether `event` passes: its data, or the fields of a stand-in given in its place (see [`Query::matches_stand_in`]).
    pub(crate) fn matches_event(&self, py: Python<'_>, event: &EventRef<'_>) -> PyResult<bool> {
        match event.stand_in(py) {
            Some(stand_in) => self.matches_stand_in(stand_in),
            None => self.matches(py, &*event.data(py)?),
        }
    }

    /// Whether an object given in place of an event passes, its fields read as `event[key]` (`__getitem__`), as
    /// hunter's pure Query reads them: a dict of fields, say. What reading a field raises goes to the caller.
    pub(crate) fn matches_stand_in(&self, stand_in: &Bound<'_, PyAny>) -> PyResult<bool> {
        for condition in self.conditions.iter() {
            let value = stand_in.get_item(condition.field.name())?;
            if !condition.test(stand_in.py(), &FieldValue::Object(value))? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Decides what the query does on every event with these code-static facts, walking the conditions
    /// in evaluation order: a failing static condition only rules the events out if nothing before it
    /// can raise.
    pub(crate) fn static_verdict(&self, py: Python<'_>, facts: &StaticFacts<'_>) -> Verdict {
        let mut depends = false;
        for condition in self.conditions.iter() {
            match FieldValue::of_facts(facts, condition.field) {
                Some(value) => {
                    if !(condition.plain && value.is_plain()) {
                        return Verdict::Effectful;
                    }
                    match condition.test(py, &value) {
                        Ok(true) => {}
                        Ok(false) => return Verdict::Never,
                        // It raises whenever it is reached: the error is an observable effect.
                        Err(_) => return Verdict::Effectful,
                    }
                }
                None if condition.is_harmless_on_any_event(py) => depends = true,
                None => return Verdict::Effectful,
            }
        }
        if depends {
            Verdict::Depends
        } else {
            Verdict::Always
        }
    }

    pub(crate) fn reads_kind(&self) -> bool {
        self.conditions.iter().any(|condition| condition.field == Field::Kind)
    }

    pub(crate) fn uses_counters(&self) -> bool {
        self.conditions.iter().any(|condition| matches!(condition.field, Field::Depth | Field::Calls))
    }

    fn parse<'py>(query: Option<&Bound<'py, PyDict>>) -> PyResult<Vec<(Field, Operator, Bound<'py, PyAny>)>> {
        let mut entries: Vec<(Field, Operator, Bound<'py, PyAny>)> = Vec::new();
        let Some(query) = query else {
            return Ok(entries);
        };
        for (key, value) in query.iter() {
            let key_text: String = key.extract()?;
            let parts: Vec<&str> = key_text.split('_').filter(|part| !part.is_empty()).collect();
            let (prefix, operator, value) = match parts.as_slice() {
                [prefix, suffix] => {
                    let Some(operator) = Operator::from_suffix(suffix) else {
                        let hint = match Field::from_name(prefix) {
                            // Equality is the bare field name (`eq` is one edit from `ew`, which would mislead).
                            Some(_) if *suffix == "eq" => Some(format!(" Did you mean '{prefix}' (equality)?")),
                            Some(_) => suggest::closest(suffix, allowed_operators())
                                .map(|closest| format!(" Did you mean '{prefix}_{closest}'?")),
                            None => suggest::closest(&key_text, valid_keys_with_operators())
                                .map(|closest| format!(" Did you mean '{closest}'?")),
                        }
                        .unwrap_or_default();
                        return Err(PyTypeError::new_err(format!(
                            "Unexpected operator {}. Must be one of {}.{hint}",
                            PyString::new(key.py(), suffix).repr()?,
                            names_repr(allowed_operators())
                        )));
                    };
                    (*prefix, operator, Query::convert_value(&key, operator, value)?)
                }
                // hunter looks up the whole key here, so `_module` is rejected even though it has one part.
                [] | [_] => (key_text.as_str(), Operator::Eq, value),
                _ => {
                    let hint = match suggest::closest(&key_text, valid_keys_with_operators()) {
                        Some(closest) => format!(". Did you mean '{closest}'?"),
                        None => String::new(),
                    };
                    return Err(PyTypeError::new_err(format!(
                        "Unexpected argument {}. Must be one of {} with optional operators like: {}{hint}",
                        key.repr()?,
                        names_repr(allowed_keys()),
                        names_repr(allowed_operators())
                    )));
                }
            };
            let Some(field) = Field::from_name(prefix) else {
                // The key with the closest field and the operator as given (`modul_sw` -> `module_sw`).
                let hint = suggest::closest(prefix, allowed_keys()).map_or_else(String::new, |field| {
                    format!(" Did you mean '{}'?", key_text.replacen(prefix, field, 1))
                });
                return Err(PyTypeError::new_err(format!(
                    "Unexpected argument {}. Must be one of {}.{hint}",
                    key.repr()?,
                    names_repr(allowed_keys())
                )));
            };
            check_value(&key, field, operator, &value)?;
            entries.retain(|(f, op, _)| (*f, *op) != (field, operator));
            entries.push((field, operator, value));
        }
        Ok(entries)
    }

    /// hunter's construction-time value handling: prefixes/suffixes as str or tuple, regexes compiled.
    fn convert_value<'py>(
        key: &Bound<'py, PyAny>,
        operator: Operator,
        value: Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = value.py();
        match operator {
            Operator::StartsWith | Operator::EndsWith if !value.is_instance_of::<PyString>() => {
                let is_sequence = value.is_instance_of::<PyList>()
                    || value.is_instance_of::<PySet>()
                    || value.is_instance_of::<PyTuple>();
                if !is_sequence {
                    return Err(PyValueError::new_err(format!(
                        "Value {} for {} is invalid. Must be a string, list, tuple or set.",
                        value.repr()?,
                        key.repr()?
                    )));
                }
                Ok(PyTuple::new(py, value.try_iter()?.collect::<PyResult<Vec<_>>>()?)?.into_any())
            }
            Operator::Regex => crate::compat::import(py, "re")?.call_method1(pyo3::intern!(py, "compile"), (value,)),
            _ => Ok(value),
        }
    }

    fn group<'py>(&self, py: Python<'py>, operator: Operator) -> &Bound<'py, PyTuple> {
        self.groups[operator.display_index()].bind(py)
    }

    /// The non-empty groups, in display order.
    fn shown_groups<'py>(&self, py: Python<'py>) -> Vec<(Operator, Bound<'py, PyTuple>)> {
        Operator::DISPLAY_ORDER
            .into_iter()
            .map(|operator| (operator, self.group(py, operator).clone()))
            .filter(|(_, group)| !group.is_empty())
            .collect()
    }
}

impl super::remade::Remade for Query {
    /// `Query(**query)`: each condition under its key (`module`, `function_in`).
    fn constructor_arguments<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyTuple>, Bound<'py, PyDict>)> {
        let query = PyDict::new(py);
        for operator in Operator::DISPLAY_ORDER {
            let suffix = if operator == Operator::Eq { String::new() } else { format!("_{}", operator.name()) };
            for pair in self.group(py, operator).iter() {
                let (field, value): (String, Bound<'_, PyAny>) = pair.extract()?;
                query.set_item(format!("{field}{suffix}"), value)?;
            }
        }
        Ok((PyTuple::empty(py), query))
    }
}

/// Adds the `query_*` attributes of [`operator_table`] to `Query`'s methods.
macro_rules! query_pymethods {
    ({ $class:ident { $($methods:tt)* } } $($variant:ident $name:literal $attribute:ident,)*) => {
        predicate_pymethods!($class {
            $($methods)*

            $(
                #[doc = concat!("The ``(field, value)`` pairs of the ``", $name, "`` conditions, sorted by field.")]
                #[getter]
                fn $attribute<'py>(&self, py: Python<'py>) -> Bound<'py, PyTuple> {
                    self.group(py, Operator::$variant).clone()
                }
            )*
        });
    };
}

operator_table!(query_pymethods! { Query {
    #[new]
    #[pyo3(signature = (**query))]
    fn new(py: Python<'_>, query: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let mut entries = Query::parse(query)?;
        entries.sort_by_key(|(field, _, _)| field.name());
        let mut conditions = Vec::with_capacity(entries.len());
        for operator in Operator::EVALUATION_ORDER {
            for (field, _, value) in entries.iter().filter(|(_, op, _)| *op == operator) {
                conditions.push(Condition {
                    field: *field,
                    operator,
                    value: value.clone().unbind(),
                    native: Native::of(operator, value)?,
                    plain: operator == Operator::Regex || is_plain_data(value, 0)?,
                });
            }
        }
        let group = |operator: Operator| -> PyResult<Py<PyTuple>> {
            let pairs: Vec<_> =
                entries.iter().filter(|(_, op, _)| *op == operator).map(|(field, _, value)| (field.name(), value)).collect();
            Ok(PyTuple::new(py, pairs)?.unbind())
        };
        let groups: Vec<Py<PyTuple>> = Operator::DISPLAY_ORDER.into_iter().map(group).collect::<PyResult<_>>()?;
        let groups = groups.try_into().unwrap_or_else(|_| unreachable!("one group per operator"));
        Ok(Query { conditions: conditions.into_boxed_slice(), groups })
    }

    /// Its references never change: see [`predicate_pymethods`] for why there is no `__clear__`.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        for condition in self.conditions.iter() {
            visit.call(&condition.value)?;
            if let Native::Pattern { matcher, .. } = &condition.native {
                visit.call(matcher)?;
            }
        }
        for group in &self.groups {
            visit.call(group)?;
        }
        Ok(())
    }

    fn __call__(&self, event: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.matches_event(event.py(), &EventRef::of_object(event.clone().unbind()))
    }

    fn __str__(&self, py: Python<'_>) -> PyResult<String> {
        let mut parts = Vec::new();
        for (operator, group) in self.shown_groups(py) {
            let suffix = if operator == Operator::Eq { String::new() } else { format!("_{}", operator.name()) };
            for pair in group.iter() {
                let (key, value): (String, Bound<'_, PyAny>) = pair.extract()?;
                parts.push(format!("{key}{suffix}={}", value.repr()?));
            }
        }
        Ok(format!("Query({})", parts.join(", ")))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let mut parts = Vec::new();
        for (operator, group) in self.shown_groups(py) {
            parts.push(format!("query_{}={}", operator.name(), group.repr()?));
        }
        Ok(format!("<hunter.predicates.Query: {}>", parts.join(" ")))
    }

    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<bool> {
        let Ok(other) = other.cast_exact::<Query>() else { return Ok(false) };
        for (mine, theirs) in self.groups.iter().zip(other.get().groups.iter()) {
            if !mine.bind(py).eq(theirs)? {
                return Ok(false);
            }
        }
        Ok(true)
    }
}});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_suffixes_cover_every_allowed_name_and_both_orders_every_operator() {
        for suffix in allowed_operators() {
            assert!(Operator::from_suffix(suffix).is_some(), "{suffix}");
        }
        assert_eq!(Operator::from_suffix("eq"), None);
        assert_eq!(Operator::from_suffix("has"), Some(Operator::Contains));
        for operator in Operator::DISPLAY_ORDER {
            let long_suffix = Operator::from_suffix(operator.name());
            assert_eq!(long_suffix, (operator != Operator::Eq).then_some(operator), "{operator:?}");
            assert!(Operator::EVALUATION_ORDER.contains(&operator));
            assert_eq!(Operator::DISPLAY_ORDER[operator.display_index()], operator);
        }
    }

    #[test]
    fn names_are_shown_as_a_python_tuple() {
        assert_eq!(names_repr(["a", "bc"]), "('a', 'bc')");
        assert_eq!(allowed_keys().first(), Some(&"arg"));
        assert_eq!(allowed_keys().len(), Field::ALL.len());
    }

    fn query<'py>(py: Python<'py>, code: &std::ffi::CStr) -> Bound<'py, Query> {
        let kwargs = py.eval(code, None, None).unwrap().cast_into::<PyDict>().unwrap();
        Bound::new(py, Query::new(py, Some(&kwargs)).unwrap()).unwrap()
    }

    #[test]
    fn conditions_are_in_evaluation_order_with_native_values() {
        Python::attach(|py| {
            let query =
                query(py, c"dict(lineno_lt=3, depth_gt=1, module='m', function_sw=['a', 'b'], lineno_in=(1, True))");
            let conditions = &query.get().conditions;
            let order: Vec<_> = conditions.iter().map(|c| (c.field, c.operator)).collect();
            assert_eq!(
                order,
                [
                    (Field::Module, Operator::Eq),
                    (Field::Lineno, Operator::In),
                    (Field::Function, Operator::StartsWith),
                    (Field::Depth, Operator::Gt),
                    (Field::Lineno, Operator::Lt),
                ]
            );
            assert!(matches!(&conditions[0].native, Native::Str(text) if &**text == "m"));
            assert!(matches!(&conditions[1].native, Native::Ints(numbers) if **numbers == [1, 1]));
            assert!(matches!(&conditions[2].native, Native::Strs(texts) if texts.len() == 2));
            assert!(matches!(conditions[3].native, Native::Int(1)));
        });
    }

    #[test]
    fn native_comparisons_leave_mismatched_types_to_python() {
        Python::attach(|py| {
            let query = query(py, c"dict(depth=1, module_in=['x'], module_lt='b')");
            let [depth, module_in, module_lt] = &*query.get().conditions else { panic!("three conditions") };
            assert_eq!(depth.test_natively(&FieldValue::Int(1)), Some(true));
            assert_eq!(depth.test_natively(&FieldValue::Bool(true)), Some(true));
            assert_eq!(depth.test_natively(&FieldValue::Kind(Kind::Line)), None);
            let text = PyString::new(py, "a").into_any();
            assert_eq!(module_lt.test_natively(&FieldValue::Object(text.clone())), Some(true));
            assert_eq!(module_in.test_natively(&FieldValue::Object(text)), Some(false));
            let float = PyFloat::new(py, 1.0).into_any();
            assert_eq!(depth.test_natively(&FieldValue::Object(float.clone())), None);
            assert!(depth.test(py, &FieldValue::Object(float)).unwrap());
        });
    }

    #[test]
    fn static_verdicts_follow_the_evaluation_order() {
        Python::attach(|py| {
            let facts = StaticFacts {
                kind: Kind::Line,
                function: PyString::new(py, "f").into_any(),
                module: PyString::new(py, "pkg.mod").into_any(),
                filename: PyString::new(py, "/x/mod.py").into_any(),
                stdlib: false,
            };
            let verdict = |code: &std::ffi::CStr| query(py, code).get().static_verdict(py, &facts);
            assert_eq!(verdict(c"dict(module='pkg.mod', stdlib=False, kind='line')"), Verdict::Always);
            assert_eq!(verdict(c"dict(module_sw='pkg', lineno=3)"), Verdict::Depends);
            assert_eq!(verdict(c"dict(depth_in=[1], function='g')"), Verdict::Never);
            assert_eq!(verdict(c"dict(depth_in=1, function_sw='g')"), Verdict::Effectful);
            assert_eq!(verdict(c"dict(filename_has=1)"), Verdict::Effectful);
            let odd_module = StaticFacts { module: py.eval(c"object()", None, None).unwrap(), ..facts };
            assert_eq!(query(py, c"dict(module='x')").get().static_verdict(py, &odd_module), Verdict::Effectful);
        });
    }
}
