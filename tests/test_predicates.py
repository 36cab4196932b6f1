"""Behaviour of Query, When, And, Or, Not, From, Backlog and the Q/And/Or/Not/From/Backlog helpers (spec §2)."""

import io
import re
import sys

import pytest

import hunter
from hunter import Backlog, CallPrinter, CodePrinter, From, Not, Q, Query, When
from hunter.actions import ColorStreamAction
from conftest import hunter_under_test_is_reference
from tracing_helpers import first, normalise_module_name, record_events

# Fields every Query build accepts (the Cython build's fixed tuple; pure accepts these too).
COMMON_FIELDS = (
    'arg', 'builtin', 'calls', 'depth', 'filename', 'fullsource', 'function', 'globals', 'instruction',
    'kind', 'lineno', 'locals', 'module', 'source', 'stdlib', 'threadid', 'threadname',
)  # fmt: skip
OPERATORS = ('startswith', 'endswith', 'in', 'contains', 'regex', 'sw', 'ew', 'has', 'rx', 'gt', 'gte', 'lt', 'lte')


def target_function(alpha, beta=2):
    total = alpha + beta
    return total


def outer(n):
    middle(n)
    return 'outer done'


def middle(n):
    inner(n)
    inner(n + 1)
    return n


def inner(n):
    return n * 2


@pytest.fixture(scope='module')
def target_events():
    _, events = record_events(target_function, 1)
    return events


@pytest.fixture(scope='module')
def call_event(target_events):
    return first(target_events, kind='call')


@pytest.fixture(scope='module')
def nested_events():
    return record_events(outer, 3)[1]


# --------------------------------------------------------------------------------------------- Query fields


@pytest.mark.parametrize('field', COMMON_FIELDS)
def test_every_field_matches_its_own_value(field, call_event):
    value = getattr(call_event, field)
    assert Query(**{field: value})(call_event) is True


@pytest.mark.parametrize(
    'field, other_value',
    [
        ('arg', 'nope'),
        ('builtin', True),
        ('calls', 99),
        ('depth', 99),
        ('filename', 'nope.py'),
        ('fullsource', 'nope'),
        ('function', 'nope'),
        ('globals', {}),
        ('instruction', -1),
        ('kind', 'line'),
        ('lineno', 1),
        ('locals', {}),
        ('module', 'nope'),
        ('source', 'nope'),
        ('stdlib', True),
        ('threadid', 12345),
        ('threadname', 'nope'),
    ],
)
def test_every_field_rejects_another_value(field, other_value, call_event):
    assert Query(**{field: other_value})(call_event) is False


def test_call_event_field_values(call_event):
    assert call_event.function == 'target_function'
    assert call_event.module == __name__
    assert call_event.kind == 'call'
    assert call_event.locals == {'alpha': 1, 'beta': 2}
    assert Query(function='target_function', module=__name__, kind='call', depth=0, calls=0, stdlib=False)(call_event)


# --------------------------------------------------------------------------------------------- operators


@pytest.mark.parametrize(
    'query, expected',
    [
        ({'function_startswith': 'target'}, True),
        ({'function_sw': 'target'}, True),
        ({'function_startswith': 'function'}, False),
        ({'function_startswith': ['x', 'targ']}, True),
        ({'function_sw': ('x', 'y')}, False),
        ({'function_startswith': {'targ'}}, True),
        ({'function_endswith': 'function'}, True),
        ({'function_ew': 'function'}, True),
        ({'function_ew': ['x', 'ion']}, True),
        ({'function_endswith': 'target'}, False),
        ({'function_in': ['target_function', 'x']}, True),
        ({'function_in': ('x',)}, False),
        ({'function_in': 'xx target_function yy'}, True),
        ({'function_contains': 'get_fun'}, True),
        ({'function_has': 'get_fun'}, True),
        ({'function_contains': 'nope'}, False),
        ({'function_regex': 'tar.et_'}, True),
        ({'function_rx': r'\w+_function$'}, True),
        ({'function_regex': 'function'}, False),  # match() is anchored at the start, not search()
        ({'lineno_gt': 0}, True),
        ({'lineno_gt': 10**6}, False),
        ({'depth_gte': 0}, True),
        ({'depth_gte': 1}, False),
        ({'calls_lt': 1}, True),
        ({'calls_lt': 0}, False),
        ({'depth_lte': 0}, True),
        ({'depth_lte': -1}, False),
        ({'function_sw': 'target', 'depth_lt': 1, 'kind_in': ['call']}, True),
        ({'function_sw': 'target', 'depth_lt': 0}, False),
    ],
)
def test_operators(query, expected, call_event):
    assert Query(**query)(call_event) is expected


@pytest.mark.pure_semantics
@pytest.mark.parametrize(
    'query, expected',
    [
        ({'lineno_in': [0]}, False),
        ({'depth_in': [0, 1]}, True),
        ({'locals_contains': 'alpha'}, True),
        ({'locals_has': 'gamma'}, False),
        ({'globals_contains': 'target_function'}, True),
    ],
)
def test_in_and_contains_accept_non_str_event_values(query, expected, call_event):
    assert Query(**query)(call_event) is expected


@pytest.mark.parametrize('operator', ['startswith', 'sw', 'endswith', 'ew'])
@pytest.mark.parametrize('value', [1, None, {'a': 1}])
def test_startswith_endswith_reject_other_value_types(operator, value):
    key = f'module_{operator}'
    with pytest.raises(ValueError, match=re.escape(f'Value {value!r} for {key!r} is invalid. Must be a string, list, tuple or set.')):
        Query(**{key: value})


def test_startswith_sequences_are_stored_as_tuples():
    assert Query(module_startswith=['a', 'b']) == Query(module_sw=('a', 'b'))
    assert str(Query(module_startswith=['a', 'b'])) == "Query(module_startswith=('a', 'b'))"


def test_regex_is_compiled_at_construction():
    with pytest.raises(re.error):
        Query(module_regex='(')
    assert str(Query(module_rx='a+')) == "Query(module_regex=re.compile('a+'))"


# --------------------------------------------------------------------------------------------- key parsing


@pytest.mark.parametrize(
    'spelling', ['module_startswith', 'module__startswith', '_module_sw', 'module_sw_', '__module___startswith__']
)
def test_empty_key_parts_are_ignored(spelling):
    assert Query(**{spelling: 'a'}) == Query(module_startswith='a')


@pytest.mark.parametrize('key', ['module_startswith_foo', 'a_b_c'])
def test_too_many_key_parts(key):
    with pytest.raises(TypeError, match=rf"^Unexpected argument {key!r}\. Must be one of \(.*'function'.*\) with optional operators like: "):
        Query(**{key: 'a'})


@pytest.mark.parametrize('key', ['foo', 'foo_sw', 'frame', 'tracer', 'action', 'actions', 'threading_support'])
def test_unknown_fields(key):
    with pytest.raises(TypeError, match=rf"^Unexpected (argument {key!r}\. Must be one of \(.*'function'.*\)|operator)"):
        Query(**{key: 'a'})


def test_unknown_field_message():
    with pytest.raises(TypeError) as excinfo:
        Query(foo=1)
    message = str(excinfo.value)
    assert message.startswith("Unexpected argument 'foo'. Must be one of (")
    for field in COMMON_FIELDS:
        assert repr(field) in message


def test_unknown_operator_message():
    with pytest.raises(TypeError) as excinfo:
        Query(module_like='a')
    assert str(excinfo.value) == f"Unexpected operator 'like'. Must be one of {OPERATORS}."


@pytest.mark.parametrize('operator', OPERATORS)
def test_every_operator_is_accepted(operator):
    value = '.' if operator in ('regex', 'rx') else 'x'
    assert Query(**{f'module_{operator}': value}) == Query(**{f'module_{operator}': value})


# --------------------------------------------------------------------------------------------- str / repr


def test_query_str_orders_groups_and_sorts_keys():
    query = Query(
        module_gte=1, module_gt=2, module_lte=3, module_lt=4, module_rx='r', module_ew='e', module_sw='s',
        module_has='c', module_in=['i'], module='eq', function='f',
    )  # fmt: skip
    assert str(query) == (
        "Query(function='f', module='eq', module_in=['i'], module_contains='c', module_startswith='s', "
        "module_endswith='e', module_regex=re.compile('r'), module_lt=4, module_lte=3, module_gt=2, module_gte=1)"
    )
    assert str(Query()) == 'Query()'


def test_query_repr():
    assert repr(Query(module='a', function='b')) == "<hunter.predicates.Query: query_eq=(('function', 'b'), ('module', 'a'))>"
    assert repr(Query(module='a', function_sw='b', depth_lt=2)) == (
        "<hunter.predicates.Query: query_eq=(('module', 'a'),) query_startswith=(('function', 'b'),) query_lt=(('depth', 2),)>"
    )


def test_query_fields_are_exposed_as_sorted_tuples():
    query = Query(module='a', function='b', depth_lt=2, kind_in=['call'])
    # values are compared through repr: the Cython build wraps them in a QueryEntry whose repr is the value's
    assert [(key, repr(value)) for key, value in query.query_eq] == [('function', "'b'"), ('module', "'a'")]
    assert [(key, repr(value)) for key, value in query.query_lt] == [('depth', '2')]
    assert [(key, repr(value)) for key, value in query.query_in] == [('kind', "['call']")]
    assert query.query_startswith == query.query_endswith == query.query_regex == query.query_gt == ()


def test_compound_str_forms():
    class Foobar:
        def __repr__(self):
            return 'Foobar'

        def __call__(self, event):
            return True

    foobar = Foobar()
    assert str(hunter.And(foobar, Query(module=1))) == 'And(Foobar, Query(module=1))'
    assert str(hunter.Or(Query(module=1), foobar)) == 'Or(Query(module=1), Foobar)'
    assert str(Not(Query(module=1))) == 'Not(Query(module=1))'
    assert str(When(Query(module=1), foobar)) == 'When(Query(module=1), Foobar)'
    assert str(When(Query(module='a'), 'foo')) == "When(Query(module='a'), 'foo')"
    assert str(From(Query(module=1), Query(depth=2))) == 'From(Query(module=1), Query(depth=2), watermark=0)'
    assert str(From(Query(module=1), watermark=-1)) == 'From(Query(module=1), None, watermark=-1)'
    backlog_str = str(Backlog(Query(module=1)))
    assert backlog_str.startswith('Backlog(Query(module=1), size=100, stack=10, vars=False, action=CallPrinter(')
    assert backlog_str.endswith(', filter=None)')


def test_compound_repr_forms():
    query_repr = "<hunter.predicates.Query: query_eq=(('module', 'a'),)>"
    assert normalise_module_name(repr(When(Query(module='a'), 'foo'))) == (
        f"<hunter.predicates.When: condition={query_repr}, actions=('foo',)>"
    )
    assert normalise_module_name(repr(hunter.And(Query(module='a'), Query(module='a')))) == (
        f'<hunter.predicates.And: predicates=({query_repr}, {query_repr})>'
    )
    assert normalise_module_name(repr(hunter.Or(Query(module='a'), Query(module='a')))) == (
        f'<hunter.predicates.Or: predicates=({query_repr}, {query_repr})>'
    )
    assert normalise_module_name(repr(Not(Query(module='a')))) == f'<hunter.predicates.Not: predicate={query_repr}>'
    assert normalise_module_name(repr(From(Query(module='a'), None, 2))) == (
        f'<hunter.predicates.From: condition={query_repr}, predicate=None, watermark=2>'
    )
    backlog_repr = normalise_module_name(repr(Backlog(Query(module='a'))))
    assert backlog_repr.startswith(f'<hunter.predicates.Backlog: condition={query_repr}, size=100, stack=10, vars=False, action=CallPrinter(')


# --------------------------------------------------------------------------------------------- algebra


A, B, C, D = Query(module='a'), Query(module='b'), Query(module='c'), Query(module='d')
# The predicate classes themselves; the hunter.And/hunter.Or helpers flatten nested instances.
RawAnd, RawOr = type(A & B), type(A | B)


def _plain_callable(event):
    return True


@pytest.mark.parametrize(
    'expression, expected',
    [
        (lambda: A | B, lambda: hunter.Or(A, B)),
        (lambda: A & B, lambda: hunter.And(A, B)),
        (lambda: ~A, lambda: Not(A)),
        (lambda: hunter.Or(A, B) | C, lambda: hunter.Or(A, B, C)),
        (lambda: hunter.Or(A, B) | hunter.Or(C, D), lambda: hunter.Or(A, B, C, D)),
        (lambda: hunter.And(A, B) & C, lambda: hunter.And(A, B, C)),
        (lambda: hunter.And(A, B) & hunter.And(C, D), lambda: hunter.And(A, B, C, D)),
        (lambda: hunter.And(A, B) | C, lambda: hunter.Or(hunter.And(A, B), C)),
        (lambda: hunter.Or(A, B) & C, lambda: hunter.And(hunter.Or(A, B), C)),
        (lambda: C | hunter.Or(A, B), lambda: RawOr(C, RawOr(A, B))),
        (lambda: C & hunter.And(A, B), lambda: RawAnd(C, RawAnd(A, B))),
        (lambda: ~~A, lambda: A),
        (lambda: ~Not(A), lambda: A),
        (lambda: Not(A) | Not(B), lambda: Not(hunter.And(A, B))),
        (lambda: Not(A) & Not(B), lambda: Not(hunter.Or(A, B))),
        (lambda: Not(A) | B, lambda: hunter.Or(Not(A), B)),
        (lambda: Not(A) & B, lambda: hunter.And(Not(A), B)),
        (lambda: ~hunter.And(A, B), lambda: Not(hunter.And(A, B))),
        (lambda: ~hunter.Or(A, B), lambda: Not(hunter.Or(A, B))),
        (lambda: When(A, 'x') | B, lambda: hunter.Or(When(A, 'x'), B)),
        (lambda: When(A, 'x') & B, lambda: hunter.And(When(A, 'x'), B)),
        (lambda: ~When(A, 'x'), lambda: Not(When(A, 'x'))),
        (lambda: From(A) | B, lambda: hunter.Or(From(A), B)),
        (lambda: From(A) & B, lambda: hunter.And(From(A), B)),
        (lambda: ~From(A), lambda: Not(From(A))),
        (lambda: Backlog(A) | B, lambda: hunter.Or(Backlog(A), B)),
        (lambda: Backlog(A) & B, lambda: hunter.And(Backlog(A), B)),
        (lambda: ~Backlog(A, size=5), lambda: Backlog(Not(A), size=5)),
        (lambda: _plain_callable | A, lambda: hunter.Or(_plain_callable, A)),
        (lambda: _plain_callable & A, lambda: hunter.And(_plain_callable, A)),
        (lambda: _plain_callable | hunter.Or(A, B), lambda: hunter.Or(_plain_callable, A, B)),
        (lambda: _plain_callable & hunter.And(A, B), lambda: hunter.And(_plain_callable, A, B)),
        (lambda: _plain_callable | Not(A), lambda: hunter.Or(_plain_callable, Not(A))),
        (lambda: _plain_callable & When(A, 'x'), lambda: hunter.And(_plain_callable, When(A, 'x'))),
    ],
)
def test_operator_algebra(expression, expected):
    result = expression()
    assert result == expected()
    assert type(result) is type(expected())


def test_inverted_backlog_is_a_backlog():
    inverted = ~Backlog(A, size=5, stack=2)
    assert isinstance(inverted, type(Backlog(A)))
    assert inverted.condition == Not(A)
    assert (inverted.size, inverted.stack) == (5, 2)


# --------------------------------------------------------------------------------------------- equality


def test_equality_semantics():
    assert Query(module='a') == Query(module='a')
    assert Query(module='a') != Query(module='b')
    assert Query(module='a') != Query(module_sw='a')
    assert Query(module='a') != 'a'
    assert hunter.And(A, B) == hunter.And(A, B)
    assert hunter.And(A, B) != hunter.And(B, A)
    assert hunter.And(A, B) != hunter.Or(A, B)
    assert Not(A) == Not(A) and Not(A) != Not(B)
    assert When(A, 'x') == When(A, 'x')
    assert When(A, 'x') != When(A, 'y')
    assert When(A, 'x') != When(B, 'x')
    assert From(A, B, watermark=1) == From(A, B, watermark=2)  # the watermark is ignored
    assert From(A, B) != From(A, C)
    assert Backlog(A, filter=B, strip=True) == Backlog(A, filter=C, strip=False)  # filter and strip are ignored
    assert Backlog(A, size=1) != Backlog(A, size=2)
    assert Backlog(A, stack=1) != Backlog(A, stack=2)
    assert Backlog(A, vars=True) != Backlog(A, vars=False)


# --------------------------------------------------------------------------------------------- Q() and helpers


def test_q_without_arguments_is_an_empty_query():
    assert Q() == Query()
    assert Q(module='a') == Query(module='a')


def test_q_action_makes_a_when():
    assert Q(module='a', action=CallPrinter) == When(Query(module='a'), CallPrinter)
    assert Q(module='a', actions=[CallPrinter, CodePrinter]) == When(Query(module='a'), CallPrinter, CodePrinter)
    result = Q(module='a', actions=[CodePrinter], action=CallPrinter)
    assert result == When(Query(module='a'), CodePrinter, CallPrinter)


def test_when_instantiates_action_classes():
    when = When(A, CallPrinter)
    assert len(when.actions) == 1 and isinstance(when.actions[0], CallPrinter)


def test_when_requires_an_action():
    with pytest.raises(TypeError, match='^Must give at least one action.$'):
        When(A)


def test_q_with_positional_predicates():
    assert Q(A) is A
    assert Q(A, B) == hunter.And(A, B)
    assert Q(A, module='z') == hunter.And(A, Query(module='z'))


def test_q_combines_positional_predicates_and_actions():
    first_printer, second_printer = CallPrinter(stream=io.StringIO()), CodePrinter(stream=io.StringIO())
    result = Q(_plain_callable, module=3, actions=[first_printer, second_printer])
    assert result == When(hunter.And(_plain_callable, Query(module=3)), first_printer, second_printer)


def test_q_instantiates_action_classes_given_as_predicates():
    result = Q(CallPrinter)
    assert isinstance(result, CallPrinter)


def test_q_drops_printer_actions_when_a_printer_is_a_predicate():
    printer = CodePrinter(stream=io.StringIO())
    assert Q(printer, action=CallPrinter) is printer
    assert Q(printer, module='a', action=CallPrinter) == hunter.And(printer, Query(module='a'))
    other_action = hunter.VarsPrinter('x', stream=io.StringIO())
    assert Q(printer, action=other_action) == When(printer, other_action)


def test_q_rejects_non_callables():
    with pytest.raises(TypeError, match=r"^Predicate 'foobar' is not callable\."):
        Q('foobar')
    with pytest.raises(TypeError, match=r"^Action 'foobar' is not callable\."):
        Q(module='a', action='foobar')


def test_helper_and_or_not_accept_keyword_queries():
    assert hunter.And(A, module='z') == hunter.And(A, Query(module='z'))
    assert hunter.And(hunter.And(A, B), C) == hunter.And(A, B, C)
    assert hunter.And(A) is A
    assert hunter.Or(module='a', function='b') == hunter.Or(Query(module='a'), Query(function='b'))
    assert hunter.Or(hunter.Or(A, B), C) == hunter.Or(A, B, C)
    assert hunter.Or(A) is A
    assert hunter.Not(A) == Not(A)
    assert hunter.Not(A, B) == Not(hunter.And(A, B))
    assert hunter.Not(module='a') == Not(Query(module='a'))


def test_from_helper_splits_keywords():
    assert From(module='a', depth_lt=2, calls_gt=1) == From(Query(module='a'), Query(depth_lt=2, calls_gt=1))
    assert From(module='a', function='b') == From(Query(module='a', function='b'), Query())
    with pytest.raises(TypeError, match=r"^Unexpected arguments dict_keys\(\['module'\]\)\. Don't combine positional with keyword"):
        From(A, module='a')


def test_backlog_helper():
    assert Backlog(module='a') == Backlog(Query(module='a'))
    assert Backlog(A, module='b') == Backlog(hunter.And(A, Query(module='b')))
    with pytest.raises(TypeError, match='^Backlog needs at least 1 condition'):
        Backlog()


def test_backlog_requires_a_color_stream_action():
    with pytest.raises(TypeError, match=r'^Action .* must be a ColorStreamAction\.$'):
        Backlog(A, action=_plain_callable)


# --------------------------------------------------------------------------------------------- semantics on events


def test_and_or_not_evaluate(call_event):
    yes, no = Query(kind='call'), Query(kind='line')
    assert hunter.And(yes, yes)(call_event) is True
    assert hunter.And(yes, no)(call_event) is False
    assert hunter.Or(no, yes)(call_event) is True
    assert hunter.Or(no, no)(call_event) is False
    assert Not(no)(call_event) is True
    assert Not(yes)(call_event) is False


def test_and_or_short_circuit(call_event):
    seen = []

    def spy(event):
        seen.append(event)
        return True

    hunter.And(Query(kind='line'), spy)(call_event)
    hunter.Or(Query(kind='call'), spy)(call_event)
    assert seen == []


def test_when_runs_actions_in_order_only_on_match(call_event):
    calls = []
    when = When(Query(kind='call'), lambda event: calls.append(1), lambda event: calls.append(2))
    assert when(call_event)
    assert calls == [1, 2]
    assert not When(Query(kind='line'), lambda event: calls.append(3))(call_event)
    assert calls == [1, 2]


@pytest.mark.pure_semantics
def test_when_returns_a_bool(call_event):
    assert When(lambda event: 'truthy', lambda event: None)(call_event) is True
    assert When(lambda event: 0, lambda event: None)(call_event) is False


def _names(events):
    return [(event.kind, event.function) for event in events]


def test_from_starts_at_condition_and_stops_below_its_depth(nested_events):
    from_middle = From(Query(kind='call', function='middle'))
    matched = _names(event for event in nested_events if from_middle(event))
    # middle's call has depth 1, like the lines of outer that run after it returns; only outer's return is below
    assert matched[0] == ('call', 'middle')
    assert matched[-1] == ('line', 'outer')
    assert ('return', 'outer') not in matched
    assert matched.count(('call', 'inner')) == 2
    assert len(matched) == len(nested_events) - 3


def test_from_predicate_sees_relative_depth_and_calls(nested_events):
    seen = []

    def spy(event):
        seen.append((event.kind, event.function, event.depth, event.calls))
        return True

    from_middle = From(Query(kind='call', function='middle'), spy)
    matched = [event for event in nested_events if from_middle(event)]
    assert seen[:5] == [
        ('call', 'middle', 0, 0),
        ('line', 'middle', 1, 1),
        ('call', 'inner', 1, 1),
        ('line', 'inner', 2, 2),
        ('return', 'inner', 1, 2),
    ]
    assert len(matched) == len(seen)
    # the events themselves keep their absolute depth
    assert [event.depth for event in matched[:2]] == [1, 2]


def test_from_predicate_filters(nested_events):
    from_middle = From(Query(kind='call', function='middle'), Query(depth_lt=2, kind='call'))
    assert _names(event for event in nested_events if from_middle(event)) == [('call', 'middle'), ('call', 'inner'), ('call', 'inner')]


def test_from_watermark(nested_events):
    from_inner = From(Query(kind='call', function='inner'))
    matched = _names(event for event in nested_events if from_inner(event))
    assert matched[0] == ('call', 'inner')
    assert matched.count(('call', 'inner')) == 2
    assert matched[-1] == ('line', 'middle')  # middle's return is one level below inner's call: reset

    from_inner_one_level_up = From(Query(kind='call', function='inner'), watermark=-1)
    matched = _names(event for event in nested_events if from_inner_one_level_up(event))
    assert matched[-2:] == [('return', 'middle'), ('line', 'outer')]


def test_from_waits_for_the_condition_again_after_reset(nested_events):
    from_inner = From(Query(kind='call', function='inner'), Query(depth=0))
    first_pass = _names(event for event in nested_events if from_inner(event))
    assert first_pass == [('call', 'inner'), ('return', 'inner'), ('line', 'middle')] * 2
    second_pass = _names(event for event in nested_events if from_inner(event))
    assert second_pass == first_pass


def test_from_passes_the_raw_predicate_result(call_event):
    assert From(Query(kind='call'), lambda event: 'raw')(call_event) == 'raw'
    assert From(Query(kind='call'), lambda event: None)(call_event) is None
    assert From(Query(kind='line'), lambda event: 'raw')(call_event) is False


class RecordingAction(ColorStreamAction):
    def __init__(self, **options):
        super().__init__(stream=io.StringIO(), **options)
        self.seen = []

    def __call__(self, event):
        self.seen.append((event.kind, event.function, event.depth, event.detached))


def test_backlog_replays_buffered_events_on_match(nested_events):
    action = RecordingAction()
    backlog = Backlog(Query(kind='call', function='inner'), size=3, stack=0, action=action)
    results = []
    for event in nested_events:
        results.append(backlog(event))
        if results[-1]:
            break
    assert results[-1] is True and not any(results[:-1])
    # the three events before the first call of inner, without the matching event itself
    assert [entry[:2] for entry in action.seen] == [('line', 'outer'), ('call', 'middle'), ('line', 'middle')]
    assert all(detached for *_, detached in action.seen)


def test_backlog_builds_fake_stack_events(nested_events):
    action = RecordingAction()
    backlog = Backlog(Query(kind='call', function='inner'), size=1, stack=10, action=action)
    live_events = record_events(outer, 3, detach=False)[1]
    for event in live_events:
        if backlog(event):
            break
    # size=1 keeps only `line middle`; the missing frames above it are synthesised as call events
    kinds_and_functions = [entry[:2] for entry in action.seen]
    assert kinds_and_functions[-1] == ('line', 'middle')
    assert ('call', 'outer') in kinds_and_functions[:-1]
    assert len(nested_events) == len(live_events)


def test_backlog_stack_events_keep_their_module(nested_events):
    # Without `vars` the stack events carry no globals, but their module is their frame's, as in hunter's pure
    # Event: a module filter keeps them (their module was '', so it dropped them).
    modules = []
    action = RecordingAction()
    backlog = Backlog(Query(kind='call', function='inner'), size=1, stack=10, action=action)
    backlog = backlog.filter(lambda event: modules.append((event.function, event.module)) or event.module == __name__)
    for event in record_events(outer, 3, detach=False)[1]:
        if backlog(event):
            break
    assert ('outer', __name__) in modules and ('middle', __name__) in modules
    assert [entry[:2] for entry in action.seen] == [('call', 'outer'), ('call', 'middle'), ('line', 'middle')]


def test_backlog_filter_method_returns_a_new_backlog():
    backlog = Backlog(A, action=RecordingAction)
    filtered = backlog.filter(B, function='x')
    assert filtered is not backlog
    assert filtered == backlog  # filter does not take part in equality


def test_backlog_filter_limits_replayed_events(nested_events):
    action = RecordingAction()
    backlog = Backlog(Query(kind='call', function='inner'), size=10, stack=0, action=action).filter(kind='line')
    for event in nested_events:
        if backlog(event):
            break
    assert action.seen and all(kind == 'line' for kind, *_ in action.seen)


def subclassed_target(value):
    return value + 1


def subclassed_other():
    return 0


@pytest.mark.parametrize('backend', ['settrace', 'monitoring'] if sys.version_info >= (3, 12) else ['settrace'])
def test_predicates_can_be_subclassed_as_hunters_can(backend, monkeypatch):
    # As hunter's predicate classes: a subclass is made with the base's arguments and is evaluated through its own
    # `__call__`, also inside the other predicates, never skipped by what the engine knows of its base class.
    monkeypatch.setenv('PYTHONHUNTERBACKEND', backend)
    seen = []

    class Watched(Query):
        def __call__(self, event):
            seen.append((event.function, event.kind))
            return super().__call__(event)

    class Named(Query):
        pass

    condition = Q(function='x')
    predicates = hunter.predicates
    for base, args, options in [
        (predicates.When, (condition, CallPrinter), {}),
        (predicates.And, (condition, condition), {}),
        (predicates.Or, (condition, condition), {}),
        (predicates.Not, (condition,), {}),
        (predicates.From, (condition,), {}),
        (predicates.Backlog, (condition,), {'action': CallPrinter}),
    ]:
        made = type('Sub' + base.__name__, (base,), {})(*args, **options)
        assert isinstance(made, base) and type(made).__name__ == 'Sub' + base.__name__
        assert repr(made) == repr(base(*args, **options))
    assert isinstance(Named(function='f'), Query) and repr(Named(function='f')) == repr(Q(function='f'))

    watched = Watched(function='subclassed_target', kind='call')
    _, events = record_events(subclassed_target, 1, predicate=watched)
    assert [(event.function, event.kind) for event in events] == [('subclassed_target', 'call')]
    assert ('subclassed_target', 'call') in seen and ('subclassed_target', 'return') in seen

    seen.clear()
    combined = Watched(function='nothing_matches') | Q(function='subclassed_other', kind='call')
    _, events = record_events(subclassed_other, predicate=combined)
    assert [event.function for event in events] == ['subclassed_other']
    assert ('subclassed_other', 'call') in seen


class Tagged(Query):
    """A subclass with an attribute of its own (module level, so that pickle finds it)."""


@pytest.mark.parametrize('operation', ['copy', 'deepcopy', 'pickle'])
def test_predicates_are_copied_and_pickled_as_made(operation):
    import copy
    import pickle

    remake = {
        'copy': copy.copy,
        'deepcopy': copy.deepcopy,
        'pickle': lambda predicate: pickle.loads(pickle.dumps(predicate)),
    }[operation]
    predicates = hunter.predicates
    condition = Q(module='foo', function_in=['a', 'b'], lineno_gt=3, filename_regex='x.py$')
    for predicate in [
        condition,
        condition & ~Q(kind='line'),
        condition | Q(stdlib=False),
        predicates.When(condition, CallPrinter(stream=io.StringIO())),
        predicates.From(condition, Q(depth_lt=2), watermark=1),
        predicates.Backlog(
            condition, size=5, stack=2, vars=True, strip=False, action=CallPrinter(stream=io.StringIO()), filter=Q(kind='call')
        ),
    ]:
        made = remake(predicate)
        assert type(made) is type(predicate) and made is not predicate
        assert made == predicate or isinstance(predicate, (predicates.When, predicates.Backlog)), made
        if operation == 'copy' or not isinstance(predicate, (predicates.When, predicates.Backlog)):
            # A deep copy's actions are other objects (another stream), whose reprs tell them apart.
            assert repr(made) == repr(predicate)
    tagged = Tagged(module='foo')
    tagged.tag = 'kept'
    made = remake(tagged)
    assert type(made) is Tagged and made.tag == 'kept' and made == Q(module='foo')


def test_predicates_can_be_weakly_referenced():
    import weakref

    predicate = Q(module='foo') & ~Q(kind='line')
    reference = weakref.ref(predicate)
    assert reference() is predicate
    del predicate
    assert reference() is None


class StandInEvent:
    """An object given to predicates in place of an Event, as tests of filters write: fields as attributes and as
    `event[key]` (what hunter's pure Query reads), `clone()` (what its From makes the relative event of)."""

    def __init__(self, **fields):
        self.__dict__.update(fields)

    def __getitem__(self, key):
        return getattr(self, key)

    def clone(self):
        return StandInEvent(**self.__dict__)


@pytest.mark.parametrize(
    ('predicate', 'expected'),
    [
        (Q(function='parse'), True),
        (Q(function='parse', depth_lt=2), True),
        (Q(function='parse', depth_gt=2), False),
        (Q(kind='call', module_sw='json'), True),
        (Q(kind_in=['return', 'call'], filename_regex=r'.*decoder\.py$'), True),
        (Q(function='parse') & Q(module='json.decoder'), True),
        (Q(function='other') | Q(lineno_gte=10), True),
        (~Q(function='parse'), False),
        (Not(Q(function='other')), True),
    ],
    ids=str,
)
def test_predicates_take_a_mapping_in_place_of_an_event(predicate, expected):
    fields = {'function': 'parse', 'depth': 1, 'kind': 'call', 'module': 'json.decoder', 'filename': '/x/decoder.py'}
    fields['lineno'] = 12
    assert predicate(fields) is expected
    assert predicate(StandInEvent(**fields)) is expected


def test_when_gives_its_actions_the_stand_in_itself():
    seen = []
    stand_in = {'function': 'parse'}
    assert When(Q(function='parse'), seen.append)(stand_in) is True
    assert When(Q(function='other'), seen.append)(stand_in) is False
    assert seen == [stand_in]
    assert seen[0] is stand_in


def test_a_stand_in_lacking_a_field_raises_what_reading_it_raises():
    with pytest.raises(KeyError, match='function'):
        Q(function='parse')({'module': 'json'})
    with pytest.raises(TypeError, match="'NoneType' object is not subscriptable"):
        Q(function='parse')(None)
    # Conditions are tried in order (eq before lt) and stop at the first that fails, as hunter's do.
    assert Q(function='other', depth_lt=1)({'function': 'parse'}) is False


def test_from_reads_a_stand_ins_counters_and_clones_it_for_the_relative_event():
    from_parse = From(Q(function='parse'), Q(depth_lt=2))
    events = [('main', 0), ('parse', 1), ('scan', 2), ('scan_deeper', 3), ('back_in_main', 0)]
    verdicts = [from_parse(StandInEvent(function=name, depth=depth, calls=index)) for index, (name, depth) in enumerate(events)]
    assert verdicts == [False, True, True, False, False]
    with pytest.raises(AttributeError, match="no attribute 'depth'"):
        From(Q(function='parse'))({'function': 'parse'})


@pytest.mark.skipif(hunter_under_test_is_reference(), reason="hunter's fail reading an attribute the stand-in lacks")
def test_printers_and_backlog_still_need_an_event():
    with pytest.raises(TypeError, match='Event'):
        CallPrinter(stream=io.StringIO())({'function': 'parse'})
    with pytest.raises(TypeError, match='Event'):
        Backlog(Q(function='other'))({'function': 'parse', 'depth': 0})
