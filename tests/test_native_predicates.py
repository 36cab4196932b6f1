"""Native specifics of the predicate classes: per-code verdicts, the fast comparison paths (which must
agree with hunter's pure-Python semantics), error messages, and event identity across callables.

Expected error messages and algebra results were checked against hunter 3.9.0 (pure and Cython)."""

import operator
import os
import re
import sys
import threading
import types

import pytest

import hunter
from hunter import _hunter as native
from hunter._hunter import And, Backlog, Event, From, Not, Or, Query, Tracer, When

try:
    from hunter.actions import Action, ColorStreamAction
except ImportError:
    # Until the facade's dependencies are merged, stand in for the two classes the predicates use.
    actions_module = types.ModuleType('hunter.actions')

    class Action:
        def __call__(self, event):
            pass

    class ColorStreamAction(Action):
        def try_repr(self, value):
            return repr(value)

        def cleanup(self):
            pass

    actions_module.Action = Action
    actions_module.ColorStreamAction = ColorStreamAction
    sys.modules['hunter.actions'] = actions_module


class Recorder(ColorStreamAction):
    """Records what Backlog replays; `cleanup` calls are recorded too."""

    def __init__(self):
        self.seen = []

    def __repr__(self):
        return 'Recorder()'

    __str__ = __repr__

    def __eq__(self, other):
        return self is other

    __hash__ = object.__hash__

    def try_repr(self, value):
        return f'<{type(value).__name__}>'

    def cleanup(self):
        self.seen.append('cleanup')

    def __call__(self, event):
        self.seen.append((event.kind, event.function, event.depth, event.calls, event.detached))


def make_event(kind='line', depth=0, calls=0, arg=None, frame=None):
    return Event(frame or sys._getframe(1), kind, arg, depth, calls, False)


def verdict(predicate, kind='line'):
    return native._static_verdict(predicate, sys._getframe(1), kind)


def callable_predicate(event):
    return True


THIS_MODULE = __name__


# --- static verdicts --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ('predicate', 'expected'),
    [
        (Query(module='nonexistent'), 'never'),
        (Query(module=THIS_MODULE), 'always'),
        (Query(module=THIS_MODULE, function='test_query_verdicts'), 'always'),
        (Query(module=THIS_MODULE, lineno_gt=1), 'depends'),
        (Query(kind='call'), 'never'),
        (Query(kind_in=('line', 'return')), 'always'),
        (Query(builtin=True), 'never'),
        (Query(stdlib=False, filename_ew='.py'), 'always'),
        (Query(module_sw=('zz', THIS_MODULE[:3])), 'always'),
        (Query(module_rx='nonex'), 'never'),
        (Query(depth_lt=2), 'depends'),
        (Query(threadid=None), 'depends'),
        (Query(source_has='verdict'), 'depends'),
        # Operations that can raise on some events (None threadid/instruction) or run user code (arg).
        (Query(threadid_gt=0), 'effectful'),
        (Query(instruction_gt=0), 'effectful'),
        (Query(arg=None), 'effectful'),
        (Query(locals_contains='x'), 'effectful'),
        # A static condition that raises is an effect too (the tracer would report and stop).
        (Query(module_contains=1), 'effectful'),
        # In evaluation order: a harmless dynamic condition, then a failing static one.
        (Query(lineno_in=[1, 2], module_sw='zz'), 'never'),
        # ... but a condition that raises (`x in 5`) comes first, so the events must be evaluated.
        (Query(lineno_in=5, module_sw='zz'), 'effectful'),
        (Not(Query(module='nonexistent')), 'always'),
        (Not(Query(depth=1)), 'depends'),
        (And(Query(module='nonexistent'), callable_predicate), 'never'),
        (And(callable_predicate, Query(module='nonexistent')), 'effectful'),
        (And(Query(depth=0), Query(module='nonexistent')), 'never'),
        (And(), 'always'),
        (Or(Query(module=THIS_MODULE), callable_predicate), 'always'),
        (Or(Query(module='x'), Query(module='y')), 'never'),
        (Or(Query(module='x'), Query(depth=2)), 'depends'),
        (Or(callable_predicate, Query(module=THIS_MODULE)), 'effectful'),
        (Or(), 'never'),
        (When(Query(module='nonexistent'), callable_predicate), 'never'),
        (When(Query(module=THIS_MODULE), callable_predicate), 'effectful'),
        (From(Query(module='nonexistent')), 'effectful'),
        (Backlog(Query(module='nonexistent'), action=Recorder()), 'effectful'),
        (callable_predicate, 'effectful'),
    ],
)
def test_query_verdicts(predicate, expected):
    assert verdict(predicate) == expected


def test_verdict_with_user_defined_query_value_is_effectful():
    class Anything:
        def __eq__(self, other):
            return True

        __hash__ = None

    assert verdict(Query(module=Anything())) == 'effectful'


def test_verdict_depends_on_event_kind():
    query = Query(kind='call', module=THIS_MODULE)
    assert verdict(query, 'call') == 'always'
    assert verdict(query, 'line') == 'never'


def test_uses_counters():
    assert not native._uses_counters(Query(module='a'))
    assert not native._uses_counters(Or(Query(module='a'), Not(Query(function='b'))))
    assert native._uses_counters(Query(module='a', depth_lt=3))
    assert native._uses_counters(And(Query(module='a'), Not(Query(calls=1))))
    assert native._uses_counters(When(Query(module='a'), callable_predicate))
    assert native._uses_counters(From(Query(module='a')))
    assert native._uses_counters(Backlog(Query(module='a'), action=Recorder()))
    assert native._uses_counters(callable_predicate)
    # The timing actions pair calls with returns by frame: the counters of code they never see are not kept, so
    # the monitoring backend can switch that code's calls off.
    for action in (hunter.Timeline(os.devnull), hunter.Profile(), hunter.TreePrinter()):
        assert not native._uses_counters(When(Query(module='a'), action))
        subclass = type('Counting' + type(action).__name__, (type(action),), {})
        assert native._uses_counters(When(Query(module='a'), subclass.__new__(subclass)))


def traced_workload():
    total = 0
    for i in range(3):
        total += i
    return total


class ThreadNameSpy:
    """Counts reads of `Thread.name`: computing an event's `threadname` makes one."""

    def __init__(self, monkeypatch):
        self.count = 0
        original = threading.Thread.name

        def spied_name(thread):
            self.count += 1
            return original.fget(thread)

        monkeypatch.setattr(threading.Thread, 'name', property(spied_name, original.fset))


def run_traced(predicate):
    tracer = Tracer(threading_support=False)
    tracer.trace(predicate)
    try:
        traced_workload()
    finally:
        tracer.stop()


def test_never_verdict_skips_events_without_evaluating_them(monkeypatch):
    hits = []
    spy = ThreadNameSpy(monkeypatch)
    # `threadname_in` is evaluated before `module_sw`, so evaluating any event would read the thread name.
    run_traced(When(Query(threadname_in=('MainThread',), module_sw='nonexistent'), hits.append))
    assert hits == []
    assert spy.count == 0


def test_matching_code_is_still_evaluated(monkeypatch):
    hits = []
    spy = ThreadNameSpy(monkeypatch)
    run_traced(When(Query(threadname_in=('MainThread',), function='traced_workload'), hits.append))
    kinds = [event.kind for event in hits]
    assert kinds[0] == 'call' and kinds[-1] == 'return' and set(kinds[1:-1]) == {'line'}
    assert spy.count == len(hits)


def test_python_handler_not_invoked_for_never_events():
    seen = []

    def handler(event):
        seen.append(event.function)
        return True

    run_traced(When(Query(function='traced_workload'), handler))
    assert set(seen) == {'traced_workload'}
    seen.clear()
    run_traced(When(Query(module='nonexistent') & Query(depth_lt=5), handler))
    assert seen == []


# --- fast paths agree with hunter's pure-Python semantics ------------------------------------------


def reference_match(event, key, value):
    """hunter's pure-Python Query semantics for one key (spec §2.2)."""
    field, _, op = key.partition('_')
    actual = getattr(event, field)
    if op in ('startswith', 'sw', 'endswith', 'ew') and not isinstance(value, str):
        value = tuple(value)
    checks = {
        '': lambda: not actual != value,
        'in': lambda: actual in value,
        'contains': lambda: value in actual,
        'has': lambda: value in actual,
        'sw': lambda: actual.startswith(value),
        'ew': lambda: actual.endswith(value),
        'rx': lambda: bool(re.compile(value).match(actual)),
        'lt': lambda: operator.lt(actual, value),
        'lte': lambda: operator.le(actual, value),
        'gt': lambda: operator.gt(actual, value),
        'gte': lambda: operator.ge(actual, value),
    }
    return bool(checks[op]())


class NeverEqualStr(str):
    def __eq__(self, other):
        return False

    def __ne__(self, other):
        return True

    __hash__ = str.__hash__


class Huge(int):
    pass


QUERIES = [
    ('module', THIS_MODULE),
    ('module', NeverEqualStr(THIS_MODULE)),
    ('module', 1),
    ('module_in', [THIS_MODULE, 'x']),
    ('module_in', 'xx' + THIS_MODULE + 'yy'),
    ('module_in', {THIS_MODULE: 1}),
    ('module_in', ('x', 1)),
    ('module_contains', THIS_MODULE[2:6]),
    ('module_sw', ('zz', THIS_MODULE[:4])),
    ('module_ew', [THIS_MODULE[-3:]]),
    ('module_lt', 'z'),
    ('module_gte', THIS_MODULE),
    ('module_rx', '.*native'),
    ('function', 'make_event'),
    ('function_in', {'make_event', 'other'}),
    ('function_lt', 'n\u00e9'),
    ('kind', 'line'),
    ('kind_in', ('call', 'return')),
    ('kind_sw', 'li'),
    ('kind_gt', 'exception'),
    ('depth', 2),
    ('depth', 2.0),
    ('depth', True),
    ('depth_in', [0, 1, 2]),
    ('depth_in', [2.0]),
    ('depth_in', range(3)),
    ('depth_lt', 3),
    ('depth_lte', 2.5),
    ('depth_gt', 10**30),
    ('depth_gte', Huge(2)),
    ('calls', 5),
    ('calls_in', (True, 5)),
    ('builtin', False),
    ('builtin', 0),
    ('builtin_in', [0]),
    ('stdlib', False),
    ('lineno_gt', 0),
    ('lineno_in', (1, 2)),
    ('arg', None),
    ('arg_in', [None]),
    ('threadid', None),
    ('threadname', 'MainThread'),
    ('threadname_sw', ['Main']),
    ('module', '\ud800'),
    ('module_in', ['\ud800', THIS_MODULE]),
]


def query_id(key, value):
    """The same id in every process (a set's repr follows the hash seed, and xdist workers compare ids)."""
    shown = '{' + ', '.join(sorted(map(repr, value))) + '}' if isinstance(value, (set, frozenset)) else repr(value)
    return f'{key}={shown}'


@pytest.mark.parametrize(('key', 'value'), QUERIES, ids=[query_id(key, value) for key, value in QUERIES])
def test_fast_paths_match_python_semantics(key, value):
    event = make_event(depth=2, calls=5)
    assert Query(**{key: value})(event) == reference_match(event, key, value)


@pytest.mark.parametrize(
    ('query', 'error'),
    [
        (dict(lineno_contains=1), TypeError),
        (dict(source_lt=1), TypeError),
        (dict(module_sw=['a', 1]), TypeError),
        (dict(module_in=None), TypeError),
        (dict(depth_sw='x'), AttributeError),
        (dict(module_rx=b'x'), TypeError),
    ],
)
def test_evaluation_errors_are_pythons(query, error):
    with pytest.raises(error):
        Query(**query)(make_event())


def test_evaluation_stops_at_first_failure():
    # `module` (eq) is checked before `lineno_contains` would raise.
    assert Query(module='zz', lineno_contains=1)(make_event()) is False
    with pytest.raises(TypeError):
        Query(module=THIS_MODULE, lineno_contains=1)(make_event())


def test_orderings_are_checked_gt_first():
    # hunter checks gt, gte, lt, lte in that order; only the gt comparison may run here.
    with pytest.raises(TypeError):
        Query(source_gt=1, source_lt='')(make_event())


# --- construction -----------------------------------------------------------------------------------

ALLOWED_KEYS = (
    "('arg', 'builtin', 'calls', 'code', 'depth', 'filename', 'fullsource', 'function', 'globals', "
    "'instruction', 'kind', 'lineno', 'locals', 'module', 'source', 'stdlib', 'threadid', 'threadname')"
)
ALLOWED_OPERATORS = "('startswith', 'endswith', 'in', 'contains', 'regex', 'sw', 'ew', 'has', 'rx', 'gt', 'gte', 'lt', 'lte')"


@pytest.mark.parametrize(
    ('query', 'error', 'message'),
    [
        (
            dict(a_b_c=1),
            TypeError,
            f"Unexpected argument 'a_b_c'. Must be one of {ALLOWED_KEYS} with optional operators like: {ALLOWED_OPERATORS}",
        ),
        (dict(foo=1), TypeError, f"Unexpected argument 'foo'. Must be one of {ALLOWED_KEYS}."),
        (dict(_module=1), TypeError, f"Unexpected argument '_module'. Must be one of {ALLOWED_KEYS}. Did you mean 'module'?"),
        (dict(foo_sw='x'), TypeError, f"Unexpected argument 'foo_sw'. Must be one of {ALLOWED_KEYS}."),
        (dict(module_foo=1), TypeError, f"Unexpected operator 'foo'. Must be one of {ALLOWED_OPERATORS}."),
        (dict(module_sw=1), ValueError, "Value 1 for 'module_sw' is invalid. Must be a string, list, tuple or set."),
        (dict(foo_ew=None), ValueError, "Value None for 'foo_ew' is invalid. Must be a string, list, tuple or set."),
    ],
)
def test_construction_errors(query, error, message):
    with pytest.raises(error) as excinfo:
        Query(**query)
    assert str(excinfo.value) == message


def test_allowed_names_are_exported():
    assert native.ALLOWED_KEYS == tuple(eval(ALLOWED_KEYS))
    assert native.ALLOWED_OPERATORS == tuple(eval(ALLOWED_OPERATORS))


def test_python_names_are_the_native_tables():
    import hunter.predicates

    # The very objects the native Query builds from its own tables: no second copy to drift.
    assert hunter.predicates.ALLOWED_KEYS is native.ALLOWED_KEYS
    assert hunter.predicates.ALLOWED_OPERATORS is native.ALLOWED_OPERATORS


CANONICAL_OPERATORS = {'sw': 'startswith', 'ew': 'endswith', 'has': 'contains', 'rx': 'regex'}


# A value each field's events can have: values that no event can match are refused (tests/test_error_messages.py).
SAMPLE_VALUES = {'kind': 'call', 'depth': 1, 'calls': 1, 'lineno': 1, 'instruction': 1, 'threadid': 1, 'stdlib': True, 'builtin': True}
TEXT_OPERATORS = {'startswith', 'endswith', 'contains', 'regex', 'sw', 'ew', 'has', 'rx'}


@pytest.mark.parametrize('key', native.ALLOWED_KEYS)
def test_every_allowed_key_takes_every_operator_and_a_near_miss_is_rejected(key):
    sample = SAMPLE_VALUES.get(key, 'x')
    assert Query(**{key: sample}).query_eq == ((key, sample),)
    for suffix in native.ALLOWED_OPERATORS:
        value = 'x' if suffix in TEXT_OPERATORS else [sample] if suffix == 'in' else sample
        query = Query(**{f'{key}_{suffix}': value})
        group = getattr(query, 'query_' + CANONICAL_OPERATORS.get(suffix, suffix))
        assert [name for name, _ in group] == [key], suffix
    with pytest.raises(TypeError) as excinfo:
        Query(**{key + 'x': 1})
    assert str(excinfo.value) == f"Unexpected argument '{key}x'. Must be one of {ALLOWED_KEYS}. Did you mean '{key}'?"
    with pytest.raises(TypeError) as excinfo:
        Query(**{key + '_eq': 1})
    assert str(excinfo.value) == f"Unexpected operator 'eq'. Must be one of {ALLOWED_OPERATORS}. Did you mean '{key}' (equality)?"


def test_key_normalisation_and_value_conversion():
    query = Query(_module_sw=['a', 'b'], function__ew={'x'}, lineno_rx='1', module='m')
    assert query.query_startswith == (('module', ('a', 'b')),)
    assert query.query_endswith == (('function', ('x',)),)
    assert query.query_regex == (('lineno', re.compile('1')),)
    assert query.query_eq == (('module', 'm'),)
    assert query.query_in == query.query_lt == query.query_gte == ()
    # Aliases of one operator on one field: the last one wins, as with hunter's dict.
    assert Query(module_sw='a', module_startswith='b').query_startswith == (('module', 'b'),)
    assert str(Query(module_sw='a', module_startswith='b')) == "Query(module_startswith='b')"


def test_query_str_and_repr_order():
    query = Query(lineno_gte=1, depth_gt=0, lineno_lte=9, depth_lt=5, source_rx='x', kind_in=['call'], module='a', function_has='b')
    assert str(query) == (
        "Query(module='a', kind_in=['call'], function_contains='b', source_regex=re.compile('x'), "
        'depth_lt=5, lineno_lte=9, depth_gt=0, lineno_gte=1)'
    )
    assert repr(query) == (
        "<hunter.predicates.Query: query_eq=(('module', 'a'),) query_in=(('kind', ['call']),) "
        "query_contains=(('function', 'b'),) query_regex=(('source', re.compile('x')),) query_lt=(('depth', 5),) "
        "query_lte=(('lineno', 9),) query_gt=(('depth', 0),) query_gte=(('lineno', 1),)>"
    )
    assert repr(Query()) == '<hunter.predicates.Query: >'


def test_predicates_are_unhashable_and_compare_by_value():
    for predicate in [Query(), And(), Or(), Not(1), When(1, 2), From(1), Backlog(1, action=Recorder())]:
        with pytest.raises(TypeError):
            hash(predicate)
        assert type(predicate).__module__ == 'hunter.predicates'
    assert Query(module_rx='x') == Query(module_regex='x')
    assert Query(module='a') != Query(module='b')
    assert Query(module='a') != 'a'
    assert From(1, 2, watermark=1) == From(1, 2, watermark=5)
    assert And(1, 2) != Or(1, 2)


def test_when_instantiates_action_classes_only():
    class MyAction(Action):
        def __call__(self, event):
            pass

    class NotAnAction:
        pass

    when = When(Query(), MyAction, NotAnAction, print)
    assert isinstance(when.actions[0], MyAction)
    assert when.actions[1:] == (NotAnAction, print)
    with pytest.raises(TypeError, match='^Must give at least one action.$'):
        When(Query())


def test_backlog_action_must_be_color_stream_action():
    with pytest.raises(TypeError, match='^Action None must be a ColorStreamAction.$'):
        Backlog(Query())
    with pytest.raises(TypeError, match='^Action <built-in function print> must be a ColorStreamAction.$'):
        Backlog(Query(), action=print)
    assert isinstance(Backlog(Query(), action=Recorder).action, Recorder)


# --- event identity and raw results -----------------------------------------------------------------


def test_callables_and_actions_see_the_given_event_object():
    event = make_event()
    seen = []
    predicate = When(And(Query(), lambda e: seen.append(e) or True), seen.append, seen.append)
    assert predicate(event) is True
    assert len(seen) == 3
    assert all(item is event for item in seen)


def test_tracer_hands_one_event_object_to_every_callable():
    seen = []
    run_traced(When(And(Query(function='traced_workload', kind='call'), lambda e: seen.append(e) or True), seen.append))
    assert len(seen) == 2
    assert seen[0] is seen[1]


def test_from_passes_the_predicate_result_through_and_tracks_origin():
    results = iter(['yes', None, 0])
    from_ = From(Query(depth=2), lambda event: next(results), watermark=0)
    assert from_.origin_depth is None
    assert from_(make_event(depth=1)) is False
    assert from_(make_event(depth=2, calls=7)) == 'yes'
    assert (from_.origin_depth, from_.origin_calls) == (2, 7)
    assert from_(make_event(depth=3, calls=9)) is None
    assert from_(make_event(depth=1, calls=9)) is False
    # Switching off forgets the depth only, as hunter does.
    assert (from_.origin_depth, from_.origin_calls) == (None, 7)


def test_from_predicate_sees_relative_counters():
    seen = []
    from_ = From(Query(depth=4), lambda event: seen.append((event.depth, event.calls)) or True)
    original = make_event(depth=4, calls=10)
    assert from_(original) is True
    assert from_(make_event(depth=6, calls=15)) is True
    assert seen == [(0, 0), (2, 5)]
    assert (original.depth, original.calls) == (4, 10)


def test_backlog_returns_the_condition_result_and_replays():
    recorder = Recorder()
    backlog = Backlog(lambda event: event.depth == 9 and 'match', size=2, stack=0, action=recorder)
    frame = sys._getframe()
    assert backlog(make_event(depth=1, calls=1, frame=frame)) is False
    assert backlog(make_event(depth=2, calls=2, frame=frame)) is False
    assert backlog(make_event(depth=3, calls=3, frame=frame)) is False
    assert recorder.seen == []
    assert backlog(make_event(depth=9, frame=frame)) == 'match'
    function = sys._getframe().f_code.co_name
    assert recorder.seen == ['cleanup', ('line', function, 2, 2, True), ('line', function, 3, 3, True)]


def test_backlog_strips_at_depth_zero():
    recorder = Recorder()
    backlog = Backlog(Query(depth=9), stack=0, action=recorder)
    backlog(make_event(depth=1))
    backlog(make_event(depth=0))
    backlog(make_event(depth=9))
    assert [item[2] for item in recorder.seen[1:]] == [0]
    recorder.seen.clear()
    no_strip = Backlog(Query(depth=9), stack=0, strip=False, action=recorder)
    no_strip(make_event(depth=1))
    no_strip(make_event(depth=0))
    no_strip(make_event(depth=9))
    assert [item[2] for item in recorder.seen[1:]] == [1, 0]


def test_backlog_fills_missing_stack_with_fake_calls():
    recorder = Recorder()

    def inner():
        backlog(make_event(kind='call', depth=3, calls=3, frame=sys._getframe()))
        backlog(make_event(depth=4, calls=3, frame=sys._getframe()))

    def outer():
        inner()

    backlog = Backlog(Query(calls=99), stack=2, action=recorder)
    outer()
    backlog(make_event(depth=4, calls=99))
    assert recorder.seen == [
        'cleanup',
        ('call', 'test_backlog_fills_missing_stack_with_fake_calls', 1, -1, True),
        ('call', 'outer', 2, -1, True),
        ('call', 'inner', 3, 3, True),
        ('line', 'inner', 4, 3, True),
    ]


def test_backlog_derivations():
    recorder = Recorder()
    backlog = Backlog(Query(module='a'), size=3, stack=4, vars=True, strip=False, action=recorder, filter=Query(kind='line'))
    inverted = ~backlog
    assert isinstance(inverted, Backlog)
    assert inverted.condition == Not(Query(module='a'))
    assert (inverted.size, inverted.stack, inverted.vars, inverted.strip) == (3, 4, True, True)
    assert inverted._filter == Query(kind='line')
    filtered = backlog.filter(Query(module=2), kind='call')
    assert filtered._filter == And(Query(kind='line'), Query(module=2), Query(kind='call'))
    assert filtered.strip is True
    assert Backlog(Query(), action=recorder).filter(kind='call')._filter == Query(kind='call')
    assert backlog == filtered
    assert str(backlog) == (
        "Backlog(Query(module='a'), size=3, stack=4, vars=True, action=Recorder(), filter=Query(kind='line'))"
    )


def test_reflected_operators_flatten_only_the_right_side():
    a, b = Query(module='a'), Query(module='b')
    assert (callable_predicate | Or(a, b)) == Or(callable_predicate, a, b)
    assert (callable_predicate & And(a, b)) == And(callable_predicate, a, b)
    assert (a | Or(b)) == Or(a, Or(b))
    assert (Not(a) | Not(b)) == Not(And(a, b))
    assert (Not(a) & Not(b)) == Not(Or(a, b))
    not_a = Not(a)
    assert ~not_a is a
    assert (1 | a) == Or(1, a)
