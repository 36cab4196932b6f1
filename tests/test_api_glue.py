"""
The Python layer of ``hunter``: the ``Q``/``And``/``Or``/``Not``/``From``/``Backlog`` wrappers, ``trace``/``stop``/
``wrap``, configuration (``PYTHONHUNTERCONFIG``), environment activation (``PYTHONHUNTER``) and the stdlib paths.

Every test also passes against the real hunter 3.9.0 (run this file with a reference venv's python, without our
package on the path), except where we deliberately differ: those tests use ``REFERENCE`` to assert hunter's
behaviour there and ours here, or are marked ``ours_only``.
"""

import asyncio
import atexit
import importlib.util
import inspect
import os
import re
import subprocess
import sys
import warnings

import pytest

import hunter
from conftest import hunter_under_test_is_reference
from hunter import And
from hunter import Backlog
from hunter import CallPrinter
from hunter import CodePrinter
from hunter import Debugger
from hunter import From
from hunter import Not
from hunter import Or
from hunter import Q
from hunter import Query
from hunter import Stop
from hunter import When
from hunter import wrap

#: True when this file runs against the real hunter (which has no ``hunter._hunter`` native module).
REFERENCE = importlib.util.find_spec('hunter._hunter') is None
ours_only = pytest.mark.skipif(REFERENCE, reason='hunter-rs extension (hunter has no equivalent)')


def first(event):
    return 'first'


def second(event):
    return 'second'


def third(event):
    return 'third'


class PlainPrinter(CallPrinter):
    """A CallPrinter subclass, to tell the exact-class rules of Q's printer deduplication from isinstance ones."""


@pytest.fixture(autouse=True)
def _isolate_global_state(monkeypatch):
    """Tests change hunter's module globals; put them back, and never leave a tracer running."""
    trace_before = sys.gettrace()
    profile_before = sys.getprofile()
    monkeypatch.setattr(hunter, '_default_trace_args', hunter._default_trace_args)
    monkeypatch.setattr(hunter, '_last_tracer', None)
    if not REFERENCE:
        # Ours embeds once per process (hunter.pth can run twice); each test embeds afresh.
        monkeypatch.setattr(hunter, '_embedded', False)
    saved_config = dict(hunter._default_config)
    yield
    sys.settrace(trace_before)
    sys.setprofile(profile_before)
    hunter._default_config.clear()
    hunter._default_config.update(saved_config)


def run_python(code, **environ):
    """Run ``code`` in a fresh interpreter with extra environment variables; returns the completed process."""
    env = {key: value for key, value in os.environ.items() if not key.startswith('PYTHONHUNTER')}
    env.update(environ)
    return subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True, timeout=60)


def error_of(call):
    try:
        call()
    except Exception as exc:
        return exc
    raise AssertionError(f'{call} raised nothing')


def syntax_error_of(source):
    try:
        compile(source, '<string>', 'eval')
    except SyntaxError as exc:
        return exc
    raise AssertionError(f'{source!r} compiles')


# -- module surface ---------------------------------------------------------------------------------------------------


def test_all_names():
    # hunter-rs adds its timing actions (not in hunter 3.9.0), in the same sorted order.
    added = () if hunter_under_test_is_reference() else ('Profile', 'Timeline', 'TreePrinter')
    assert hunter.__all__ == tuple(sorted(UPSTREAM_ALL_NAMES + added))


UPSTREAM_ALL_NAMES = (
    'And',
    'Backlog',
    'CallPrinter',
    'CodePrinter',
    'Debugger',
    'ErrorSnooper',
    'From',
    'Manhole',
    'Not',
    'Or',
    'Q',
    'Query',
    'StackPrinter',
    'VarsPrinter',
    'VarsSnooper',
    'When',
    'stop',
    'trace',
)


@pytest.mark.parametrize(
    'name',
    [
        'wrap', 'Event', 'Tracer', 'Stop', 'load_config', 'Action', '_Backlog', '_And', '_Or', '_Not', '_From',
        '_prepare_predicate', '_apply_config', '_prepare_config', '_merge', '_flatten', '_embed_via_environment',
        '_default_stream', '_default_config', '_default_trace_args', '_last_tracer',
    ],
)  # fmt: skip
def test_semi_public_names_exist(name):
    assert hasattr(hunter, name)


def test_version():
    assert hunter.__version__ == '3.9.0'


def test_tracer_option_names():
    assert hunter.THREADING_SUPPORT_ALIASES == (
        'threading_support',
        'threads_support',
        'thread_support',
        'threadingsupport',
        'threadssupport',
        'threadsupport',
        'threading',
        'threads',
        'thread',
    )
    hunters_options = hunter.THREADING_SUPPORT_ALIASES + ('clear_env_var', 'profile')
    # hunter-rs adds `backend` (sys.monitoring or settrace) after hunter's own options.
    assert hunter.TRACER_OPTION_NAMES[: len(hunters_options)] == hunters_options
    assert set(hunter.TRACER_OPTION_NAMES[len(hunters_options) :]) <= {'backend'}


def test_stop_is_an_action():
    assert issubclass(Stop, hunter.Action)


@ours_only
def test_public_modules_own_the_native_classes():
    import hunter.event
    import hunter.predicates
    import hunter.tracer

    assert hunter.tracer.Tracer is hunter.Tracer
    assert hunter.event.Event is hunter.Event
    for name in ('And', 'Or', 'Not', 'From', 'Backlog'):
        assert getattr(hunter.predicates, name) is getattr(hunter, f'_{name}')
    assert hunter.predicates.Query is Query
    assert hunter.predicates.When is When
    assert hunter.Tracer.__module__ == 'hunter.tracer'
    assert hunter.Event.__module__ == 'hunter.event'
    assert Query.__module__ == 'hunter.predicates'


@pytest.mark.pure_semantics
def test_import_hunter_makes_the_public_submodules_attributes():
    # In a fresh interpreter: `import hunter` alone, then the submodules as attributes, as hunter's own code and its
    # users reach them (`hunter.predicates.When`); `hunter.const` is imported on first use.
    code = (
        'import sys, hunter\n'
        'print(hunter.tracer.Tracer is hunter.Tracer, hunter.event.Event is hunter.Event, '
        'hunter.predicates.Query is hunter.Query, hunter.predicates.When is hunter.When)\n'
        "print(all(key in sys.modules for key in ('hunter.event', 'hunter.predicates', 'hunter.tracer')))\n"
        'print(hunter.const.SYS_PREFIX_PATHS == sys.modules["hunter.const"].SYS_PREFIX_PATHS)\n'
        'try:\n'
        '    hunter.no_such_module\n'
        'except AttributeError as error:\n'
        '    print(error)\n'
    )
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines() == [
        'True True True True',
        'True',
        'True',
        "module 'hunter' has no attribute 'no_such_module'",
    ]


def test_import_machinery_events_are_named_as_importlib_names_them():
    # hunter imports importlib (through inspect), which names its frozen bootstrap modules after itself: the events
    # of the import machinery are of module `importlib._bootstrap`, not `_frozen_importlib`, whatever the program
    # imported before `import hunter`.
    code = (
        'import hunter\n'
        'modules = set()\n'
        "with hunter.trace(hunter.Q(kind='call', action=lambda event: modules.add(event.module))):\n"
        '    import colorsys\n'
        'print(sorted(module for module in modules if "importlib" in module))\n'
    )
    result = subprocess.run([sys.executable, '-I', '-c', code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "['importlib._bootstrap', 'importlib._bootstrap_external']"


def test_predicates_allowed_operators():
    import hunter.predicates

    assert hunter.predicates.ALLOWED_OPERATORS == (
        'startswith', 'endswith', 'in', 'contains', 'regex', 'sw', 'ew', 'has', 'rx', 'gt', 'gte', 'lt', 'lte',
    )  # fmt: skip


def test_predicates_allowed_keys():
    import hunter.predicates

    expected = (
        'arg', 'builtin', 'calls', 'code', 'depth', 'filename', 'fullsource', 'function', 'globals', 'instruction',
        'kind', 'lineno', 'locals', 'module', 'source', 'stdlib', 'threadid', 'threadname',
    )  # fmt: skip
    if REFERENCE:
        # hunter derives the list from Event's attributes and picks up two methods and a key Query cannot parse.
        expected = tuple(sorted(expected + ('clone', 'detach', 'function_object')))
    assert hunter.predicates.ALLOWED_KEYS == expected


def test_import_emits_no_warnings():
    result = run_python('import hunter, hunter.config, hunter.const, hunter.predicates; print("ok")', PYTHONWARNINGS='error')
    assert (result.returncode, result.stdout, result.stderr) == (0, 'ok\n', '')


# -- Q ----------------------------------------------------------------------------------------------------------------


def test_q_keywords_only_is_a_query():
    assert Q(module='a', function='b') == Query(module='a', function='b')
    assert Q() == Query()


@pytest.mark.parametrize(
    ('call', 'message'),
    [
        (lambda: Q('foobar'), "Predicate 'foobar' is not callable."),
        (lambda: Q(first, 1), 'Predicate 1 is not callable.'),
        (lambda: Q(action='x'), "Action 'x' is not callable."),
        (lambda: Q(module='a', actions=[first, 1]), 'Action 1 is not callable.'),
        # Predicates are checked before actions.
        (lambda: Q('x', action='y'), "Predicate 'x' is not callable."),
    ],
)
def test_q_not_callable(call, message):
    with pytest.raises(TypeError) as excinfo:
        call()
    # hunter's message, which ours extends with a hint for strings (test_string_predicate_error_says_what_is_valid).
    assert str(excinfo.value) == message or str(excinfo.value).startswith(message + ' A')


@pytest.mark.deliberate_change('a string given as predicate or action gets a hint (upstream #70)')
def test_string_predicate_error_says_what_is_valid():
    with pytest.raises(TypeError) as excinfo:
        Q('module')
    message = str(excinfo.value)
    assert message.startswith("Predicate 'module' is not callable. A string is not a filter")
    assert "Q(module='module')" in message and 'Fields: arg, builtin, calls' in message
    with pytest.raises(TypeError, match=r"^Action 'x' is not callable\. An action is a callable, such as CallPrinter"):
        Q(module='a', action='x')
    with pytest.raises(TypeError, match=r'^Predicate 1 is not callable\.$'):
        Q(1)


def test_q_single_predicate_is_returned_as_is():
    assert Q(first) is first


def test_q_predicates_and_keywords():
    assert Q(first, module='a') == hunter._And(first, Query(module='a'))
    assert Q(first, second) == hunter._And(first, second)


def test_q_action_makes_a_when():
    assert Q(first, action=second) == When(first, second)
    assert Q(module='a', action=second) == When(Query(module='a'), second)


def test_q_actions_list_then_action():
    assert Q(first, second, module=3, actions=[third, first], action=second) == When(
        hunter._And(first, second, Query(module=3)), third, first, second
    )


def test_q_instantiates_action_classes_given_as_predicates():
    result = Q(CodePrinter)
    assert type(result) is CodePrinter


def test_q_printer_predicate_drops_printer_actions():
    assert type(Q(CodePrinter, action=CallPrinter)) is CodePrinter
    assert type(Q(CallPrinter(), action=CodePrinter())) is CallPrinter
    # A printer subclass instance as the predicate counts, and so does one given as the action.
    assert type(Q(PlainPrinter, action=CallPrinter)) is PlainPrinter
    assert type(Q(CodePrinter, action=PlainPrinter())) is CodePrinter
    # Other actions stay.
    assert Q(CodePrinter(), action=first) == When(CodePrinter(), first)


def test_q_printer_dedup_compares_classes_exactly():
    result = Q(CodePrinter, action=PlainPrinter)
    assert isinstance(result, When)
    assert [type(action) for action in result.actions] == [PlainPrinter]


def test_q_printer_dedup_removes_every_printer_action():
    result = Q(CodePrinter(), actions=[CallPrinter, CallPrinter, first])
    if REFERENCE:
        # hunter removes from the list while iterating over it, so every other printer survives.
        assert [type(action) for action in result.actions] == [CallPrinter, type(first)]
    else:
        assert result == When(CodePrinter(), first)


def test_q_does_not_mutate_the_callers_actions():
    actions = [first, CallPrinter]
    Q(CodePrinter(), actions=actions, action=second)
    if REFERENCE:
        # hunter appends ``action`` to the caller's list and removes printers from it.
        assert actions == [first, second]
    else:
        assert actions == [first, CallPrinter]


def test_prepare_predicate_adds_callprinter():
    assert hunter._prepare_predicate(module='x') == When(Query(module='x'), CallPrinter)
    assert hunter._prepare_predicate() == When(Query(), CallPrinter)
    assert hunter._prepare_predicate(module='x', actions=[first]) == When(Query(module='x'), first)
    assert type(hunter._prepare_predicate(CodePrinter)) is CodePrinter


def test_prepare_predicate_nested_when():
    # The example from hunter's docs: trace(Q(function='foobar', action=Debugger), module='foo').
    assert hunter._prepare_predicate(Q(function='foobar', action=Debugger), module='foo') == When(
        hunter._And(When(Query(function='foobar'), Debugger), Query(module='foo')), CallPrinter
    )


# -- And / Or / Not ---------------------------------------------------------------------------------------------------


def test_and_or_single_predicate_is_returned_as_is():
    assert And(first) is first
    assert Or(first) is first
    inner = hunter._And(first, second)
    assert And(inner) is inner


def test_and_or_need_a_predicate():
    for combinator in (And, Or):
        with pytest.raises(TypeError, match="missing 1 required positional argument: 'predicate'"):
            combinator()


def test_and_keywords_become_one_query():
    assert And(first, module='a', kind='call') == hunter._And(first, Query(module='a', kind='call'))
    assert And(module='a') == Query(module='a')


def test_or_keywords_become_one_query_each():
    assert Or(module='a', function='b') == hunter._Or(Query(module='a'), Query(function='b'))
    assert Or(first, kind='call') == hunter._Or(first, Query(kind='call'))


def test_and_or_flatten_top_level_only():
    assert And(hunter._And(first, second), third) == hunter._And(first, second, third)
    assert And(first, And(second, And(third, first))) == hunter._And(first, second, third, first)
    assert Or(first, hunter._Or(second, third)) == hunter._Or(first, second, third)
    # No flattening across types.
    assert And(hunter._Or(first, second), third) == hunter._And(hunter._Or(first, second), third)
    assert Or(hunter._And(first, second), third) == hunter._Or(hunter._And(first, second), third)


def test_flatten():
    inner = hunter._And(first, second)
    assert hunter._flatten(hunter._Or, inner) is inner
    assert hunter._flatten(hunter._Or, first, inner) == hunter._Or(first, inner)


def test_not():
    assert Not(first) == hunter._Not(first)
    assert Not(first, second) == hunter._Not(hunter._And(first, second))
    assert Not(module='a') == hunter._Not(Query(module='a'))
    assert Not(first, module='a', kind='call') == hunter._Not(hunter._And(first, Query(module='a', kind='call')))


# -- From ---------------------------------------------------------------------------------------------------------------


def test_from_splits_keywords():
    result = From(module='a', depth_lt=2, calls_gt=3, kind='call')
    assert result == hunter._From(Query(module='a', kind='call'), Query(depth_lt=2, calls_gt=3))
    assert result.watermark == 0


def test_from_keywords_go_through_q():
    assert From(module='a', action=first) == hunter._From(When(Query(module='a'), first), Query())


def test_from_without_arguments():
    assert From() == hunter._From(Query(), Query())


def test_from_positional():
    result = From(first, second, 3)
    assert (result.condition, result.predicate, result.watermark) == (first, second, 3)
    result = From(first)
    assert (result.condition, result.predicate, result.watermark) == (first, None, 0)


@pytest.mark.parametrize(
    'call',
    [lambda: From(first, module='a'), lambda: From(condition=first, module='a'), lambda: From(predicate=first, module='a')],
)
def test_from_mixing_positional_and_keywords(call):
    with pytest.raises(TypeError) as excinfo:
        call()
    assert str(excinfo.value).startswith(
        "Unexpected arguments dict_keys(['module']). Don't combine positional with keyword arguments."
    )


# -- Backlog ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize('kwargs', [{}, {'size': 1, 'filter': first, 'action': CodePrinter}])
def test_backlog_needs_a_condition(kwargs):
    with pytest.raises(TypeError) as excinfo:
        Backlog(**kwargs)
    assert str(excinfo.value) == (
        "Backlog needs at least 1 condition (it doesn't have any effect without one besides making everything "
        'incredibly slow).'
    )


def test_backlog_defaults():
    result = Backlog(first)
    assert isinstance(result, hunter._Backlog)
    assert (result.condition, result.size, result.stack, result.vars, result.strip) == (first, 100, 10, False, True)
    assert type(result.action) is CallPrinter
    assert str(result).endswith('filter=None)')


def test_backlog_options_and_merged_condition():
    result = Backlog(first, second, module='a', size=3, stack=2, vars=True, strip=False, filter=third, action=CodePrinter)
    assert result.condition == hunter._And(first, second, Query(module='a'))
    assert (result.size, result.stack, result.vars, result.strip) == (3, 2, True, False)
    assert type(result.action) is CodePrinter
    assert str(result).endswith(f'filter={third!r})')


def test_backlog_keywords_only():
    assert Backlog(module='a').condition == Query(module='a')


def test_backlog_action_must_be_a_color_stream_action():
    with pytest.raises(TypeError) as excinfo:
        Backlog(first, action=1)
    assert str(excinfo.value) == 'Action 1 must be a ColorStreamAction.'


def test_merge():
    assert hunter._merge() == Query()
    assert hunter._merge(module='a') == Query(module='a')
    assert hunter._merge(first) is first
    assert hunter._merge(first, second) == hunter._And(first, second)
    assert hunter._merge(first, module='a') == hunter._And(first, Query(module='a'))


# -- trace / stop / Stop ----------------------------------------------------------------------------------------------

NOTHING = {'module': 'no such module, hunter-rs tests'}


@pytest.mark.settrace_backend
def test_trace_installs_and_stop_uninstalls():
    before = sys.gettrace()
    tracer = hunter.trace(**NOTHING)
    assert hunter._last_tracer is tracer
    assert sys.gettrace() is tracer
    assert tracer.handler == When(Query(**NOTHING), CallPrinter)
    hunter.stop()
    assert hunter._last_tracer is None
    assert sys.gettrace() is before


@pytest.mark.settrace_backend
def test_trace_as_context_manager():
    before = sys.gettrace()
    with hunter.trace(**NOTHING) as tracer:
        assert sys.gettrace() is tracer
    assert sys.gettrace() is before


def test_trace_invalid_option_starts_nothing():
    before = sys.gettrace()
    with pytest.raises(TypeError, match="^Unexpected argument 'bogus'"):
        hunter.trace(bogus=1)
    assert hunter._last_tracer is None
    assert sys.gettrace() is before


def test_trace_threading_aliases_last_one_wins():
    tracer = hunter.trace(threading_support=True, thread=False, **NOTHING)
    assert tracer.threading_support is False
    hunter.stop()
    tracer = hunter.trace(threadsupport=False, threading=True, **NOTHING)
    assert tracer.threading_support is True
    hunter.stop()
    tracer = hunter.trace(**NOTHING)
    assert tracer.threading_support is None
    hunter.stop()


@pytest.mark.settrace_backend
def test_trace_profile():
    before = sys.getprofile()
    tracer = hunter.trace(profile=True, **NOTHING)
    assert tracer.profiling_mode is True
    assert sys.getprofile() is tracer
    hunter.stop()
    assert sys.getprofile() is before


@pytest.mark.settrace_backend
@pytest.mark.parametrize(('profile', 'profiling'), [(1, True), ('yes', True), (0, False), (None, False), ('', False)])
def test_trace_profile_takes_any_truth_value(profile, profiling):
    # As hunter tests it: `if self.profiling_mode`.
    tracer = hunter.trace(profile=profile, **NOTHING)
    try:
        assert tracer.profiling_mode is profiling
        assert (sys.getprofile() is tracer) is profiling
    finally:
        hunter.stop()


@pytest.mark.parametrize('clear', [True, False])
def test_trace_clear_env_var(monkeypatch, clear):
    monkeypatch.setenv('PYTHONHUNTER', 'module="x"')
    hunter.trace(clear_env_var=clear, **NOTHING)
    hunter.stop()
    assert ('PYTHONHUNTER' in os.environ) is not clear


@pytest.mark.deliberate_change('every running tracer is stopped at exit by one hook, not only those of trace()')
def test_running_tracers_are_stopped_at_exit():
    before = sys.gettrace()
    direct = hunter.Tracer(backend='settrace').trace(Query(module='no such module'))
    traced = hunter.trace(**NOTHING)
    hunter._stop_tracers_at_exit()
    assert direct.handler is None and traced.handler is None
    assert sys.gettrace() is before


SHUTDOWN_WITH_A_TRACED_DAEMON_THREAD = """
import sys, threading, time, hunter
def spin():
    while True:
        sum(range(10))
if sys.argv[1] == 'trace':
    hunter.trace(module='__main__', threading_support=True, backend=sys.argv[2])
else:
    hunter.Tracer(threading_support=True, backend=sys.argv[2]).trace(hunter.Q(module='__main__', action=hunter.CallPrinter))
threading.Thread(target=spin, daemon=True).start()
time.sleep(0.05)
print('done')
"""


@pytest.mark.deliberate_change('hunter-rs backends')
@pytest.mark.parametrize('start', ['trace', 'Tracer'])
@pytest.mark.parametrize('backend', ['settrace', 'auto'])
def test_interpreter_exit_with_a_traced_daemon_thread(start, backend):
    """A daemon thread printing trace output while the interpreter exits must not crash it."""
    result = subprocess.run(
        [sys.executable, '-c', SHUTDOWN_WITH_A_TRACED_DAEMON_THREAD, start, backend],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout == 'done\n'


def test_stop_without_tracer_warns():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        hunter.stop()
    assert [(str(warning.message), warning.category, warning.filename) for warning in caught] == [
        ('There is no tracer to stop.', UserWarning, __file__)
    ]


@pytest.mark.deliberate_change
def test_stop_without_tracer_where_nothing_can_be_imported_is_quiet():
    # As at interpreter exit (modules gone, nothing importable), where a finalizer calling hunter.stop() got an
    # ImportError from importing warnings.
    code = 'import sys, hunter\nsys.modules.pop("warnings", None)\nsys.meta_path = None\nhunter.stop()\nprint("ran on")\n'
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=60)
    assert (result.stdout, result.stderr, result.returncode) == ('ran on\n', '', 0)


def test_stop_action_stops_tracing():
    def traced_function():
        return 1

    before = sys.gettrace()
    hunter.trace(function='traced_function', kind='call', action=Stop)
    traced_function()
    assert hunter._last_tracer is None
    assert sys.gettrace() is before


def test_trace_applies_config(monkeypatch):
    monkeypatch.setattr(hunter, '_default_trace_args', ([second], {'kind': 'call', 'module': 'config'}))
    handler = hunter.trace(first, **NOTHING).handler
    hunter.stop()
    assert handler == When(hunter._And(first, second, Query(kind='call', **NOTHING)), CallPrinter)


# -- wrap -------------------------------------------------------------------------------------------------------------

WRAPPED_NAMES = {
    'wrapped_leaf',
    'wrapped_middle',
    'wrapped_plain',
    'wrapped_local',
    'wrapped_generator',
    'wrapped_coroutine',
    'wrapped_async_generator',
}
recorded = []


def record(event):
    if event.function in WRAPPED_NAMES:
        recorded.append((event.kind, event.function))


@pytest.fixture
def events():
    recorded.clear()
    yield recorded
    recorded.clear()


def wrapped_leaf():
    return 1


def wrapped_middle():
    return wrapped_leaf() + 1


@wrap(actions=[record])
def wrapped_plain(value):
    """Doc."""
    return wrapped_middle() + value


@wrap(local=True, actions=[record])
def wrapped_local():
    return wrapped_middle() + 1


@wrap(actions=[record])
def wrapped_generator():
    received = yield 1
    yield received
    return 'done'


@wrap(actions=[record])
async def wrapped_coroutine(value):
    await asyncio.sleep(0)
    return wrapped_leaf() + value


@wrap(actions=[record])
async def wrapped_async_generator():
    received = yield 1
    yield received


def test_wrap_plain(events):
    before = sys.gettrace()
    assert wrapped_plain(1) == 3
    assert sys.gettrace() is before
    assert events == [
        ('call', 'wrapped_plain'),
        ('line', 'wrapped_plain'),
        ('call', 'wrapped_middle'),
        ('line', 'wrapped_middle'),
        ('call', 'wrapped_leaf'),
        ('line', 'wrapped_leaf'),
        ('return', 'wrapped_leaf'),
        ('return', 'wrapped_middle'),
        ('return', 'wrapped_plain'),
    ]


def test_wrap_local_hides_nested_calls(events):
    assert wrapped_local() == 3
    assert events == [
        ('call', 'wrapped_local'),
        ('line', 'wrapped_local'),
        ('call', 'wrapped_middle'),
        ('return', 'wrapped_middle'),
        ('return', 'wrapped_local'),
    ]


def test_wrap_repeated_calls_start_at_the_call():
    seen = []

    @wrap(actions=[lambda event: seen.append((event.kind, event.function))])
    def wrapped_twice():
        return 1

    wrapped_twice()
    assert seen[0] == ('call', 'wrapped_twice')
    seen.clear()
    wrapped_twice()
    if REFERENCE:
        # hunter builds the From once per decorated function; left active by the first call, it makes the second
        # call also show hunter's own frames (the return from trace(), the wrapper's lines).
        assert seen[0] == ('return', 'trace')
    else:
        assert seen[0] == ('call', 'wrapped_twice')


def test_wrap_of_a_callable_without_a_name_fails_as_it_is_decorated():
    import functools

    with pytest.raises(AttributeError, match="'functools.partial' object has no attribute '__name__'"):
        wrap(functools.partial(max, 1))


def test_wrap_local_applies_to_every_function_one_decorator_decorates():
    seen = []
    decorator = wrap(local=True, actions=[lambda event: seen.append((event.kind, event.function))])

    def leaf():
        return 1

    def middle():
        return leaf()

    def outer():
        return middle()

    functions = [decorator(outer), decorator(outer)]
    for function in functions:
        seen.clear()
        function()
        called = {function for kind, function in seen if kind == 'call'}
        if REFERENCE and function is functions[1]:
            # hunter takes `local` out of the options it shares as it decorates the first function.
            assert called == {'outer', 'middle', 'leaf'}
        else:
            assert called == {'outer', 'middle'}


def test_wrap_keeps_function_metadata_and_kind():
    assert wrapped_plain.__name__ == 'wrapped_plain'
    assert wrapped_plain.__doc__ == 'Doc.'
    assert inspect.isgeneratorfunction(wrapped_generator)
    assert inspect.iscoroutinefunction(wrapped_coroutine)
    assert inspect.isasyncgenfunction(wrapped_async_generator)
    assert wrapped_plain.__wrapped__.__name__ == 'wrapped_plain'


def test_wrap_without_arguments(events):
    def bare():
        return 'bare'

    before = sys.gettrace()
    assert wrap(bare)() == 'bare'
    assert sys.gettrace() is before


def test_wrap_generator(events):
    before = sys.gettrace()
    generator = wrapped_generator()
    assert next(generator) == 1
    # Back at the wrapper's depth: Stop ended tracing at the first yield.
    assert generator.send('x') == 'x'
    with pytest.raises(StopIteration) as excinfo:
        next(generator)
    assert excinfo.value.value == (None if REFERENCE else 'done')  # hunter drops the generator's return value
    assert sys.gettrace() is before
    assert events == [('call', 'wrapped_generator'), ('line', 'wrapped_generator'), ('return', 'wrapped_generator')]


@pytest.mark.parametrize('local', [False, True])
def test_wrap_shows_none_of_its_own_frames(local):
    # The wrapper's frame runs as tracing starts, so it is traced too (difference 15): a generator wrapper's
    # suspension, a return of it, was printed after the generator's own (`<= tracing_wrapper: 0`).
    seen = []

    @wrap(local=local, actions=[lambda event: seen.append((event.kind, event.function))])
    def numbers(count):
        yield from range(count)

    @wrap(local=local, actions=[lambda event: seen.append((event.kind, event.function))])
    async def increment(value):
        return value + 1

    assert list(numbers(2)) == [0, 1]
    assert asyncio.run(increment(1)) == 2
    assert [function for _, function in seen if function not in ('numbers', 'increment')] == []
    assert seen[0] == ('call', 'numbers') and ('call', 'increment') in seen


def test_wrap_coroutine(events):
    before = sys.gettrace()
    assert asyncio.run(wrapped_coroutine(1)) == 2
    assert sys.gettrace() is before
    assert events[:2] == [('call', 'wrapped_coroutine'), ('line', 'wrapped_coroutine')]


def test_wrap_async_generator(events):
    async def consume():
        generator = wrapped_async_generator()
        first_item = await generator.__anext__()
        second_item = await generator.asend('y')
        with pytest.raises(StopAsyncIteration):
            await generator.__anext__()
        return first_item, second_item

    before = sys.gettrace()
    # hunter re-yields with ``async for``, so the value sent in never reaches the wrapped generator.
    assert asyncio.run(consume()) == (1, None if REFERENCE else 'y')
    assert sys.gettrace() is before
    assert events[:2] == [('call', 'wrapped_async_generator'), ('line', 'wrapped_async_generator')]


@ours_only
def test_wrap_async_generator_forwards_athrow_and_aclose():
    log = []

    @wrap(actions=[record])
    async def wrapped_async_generator():
        try:
            while True:
                try:
                    yield 'item'
                except ValueError as exc:
                    log.append(f'caught {exc}')
        finally:
            log.append('closed')

    async def consume():
        generator = wrapped_async_generator()
        await generator.__anext__()
        assert await generator.athrow(ValueError('boom')) == 'item'
        await generator.aclose()

    asyncio.run(consume())
    assert log == ['caught boom', 'closed']


# -- config -----------------------------------------------------------------------------------------------------------


def test_config_default_resolves_lazily():
    from hunter.config import Default
    from hunter.config import resolve

    default = Default('stream', 'fallback')
    assert resolve(default) == default.resolve() == 'fallback'
    hunter._default_config['stream'] = 'configured'
    assert resolve(default) == 'configured'
    # repr/str show the built-in default (they appear in signatures and docs).
    assert (repr(default), str(default)) == ("'fallback'", 'fallback')
    assert resolve(42) == 42


def test_prepare_config_sorts_arguments(capsys):
    predicates, options = hunter._prepare_config(
        first,
        'not callable',
        Stdlib=False,
        FORCE_PID=True,
        bogus=1,
        threads=True,
        clear_env_var=1,
        Profile=True,
        module_sw='x',
        depth_lt=2,
        actions=[first],
        stream=sys.stdout,
        repr_limit=10,
    )
    assert predicates == [first]
    assert options == {
        'stdlib': False,
        'threads': True,
        'clear_env_var': 1,
        'profile': True,
        'module_sw': 'x',
        'depth_lt': 2,
        'actions': [first],
    }
    assert hunter._default_config == {'force_pid': True, 'stream': sys.stdout, 'repr_limit': 10}
    assert capsys.readouterr().err == (
        'Discarded config from PYTHONHUNTERCONFIG bogus=1: Unknown option\n'
        'Discarded config from PYTHONHUNTERCONFIG not callable (position 1): Not a callable\n'
    )


def test_prepare_config_replaces_previous_action_config():
    config = hunter._default_config
    hunter._prepare_config(stream=1)
    hunter._prepare_config(force_colors=True)
    assert hunter._default_config is config
    assert config == {'force_colors': True}


class StreamSnapshot(hunter.Action):
    """Records the configured default stream as an action sees it when constructed."""

    seen = []

    def __init__(self):
        from hunter.config import Default

        self.seen.append(Default('stream', None).resolve())

    def __call__(self, event):
        pass


def test_prepare_config_sets_action_defaults_before_checking_actions():
    # Checking that ``action=`` is a valid option constructs the action: it must already see the whole config.
    StreamSnapshot.seen.clear()
    hunter._prepare_config(action=StreamSnapshot, stream=1)
    assert StreamSnapshot.seen == [1]


def test_prepare_config_value_errors_propagate():
    with pytest.raises(ValueError, match="Value 5 for 'module_sw' is invalid"):
        hunter._prepare_config(module_sw=5)


def test_load_config_with_arguments():
    hunter.load_config(first, module='b')
    assert hunter._default_trace_args == ([first], {'module': 'b'})
    with pytest.raises(ValueError):
        hunter.load_config(module_sw=5)


def test_apply_config():
    hunter._default_trace_args = None
    assert hunter._apply_config((first,), {'a': 1}) == ((first,), {'a': 1})
    hunter._default_trace_args = ([second], {'depth': 1, 'kind': 'line'})
    assert hunter._apply_config((first,), {'kind': 'call'}) == ((first, second), {'depth': 1, 'kind': 'call'})


def test_pythonhunterconfig_unset():
    result = run_python('import hunter; print(hunter._default_trace_args, hunter._default_config)')
    assert (result.stdout, result.stderr) == ('([], {}) {}\n', '')


def test_pythonhunterconfig_applies():
    result = run_python(
        'import sys, hunter; print(hunter._default_trace_args, hunter._default_config["stream"] is sys.stdout)',
        PYTHONHUNTERCONFIG='stdlib=False, force_pid=True, stream=sys.stdout',
    )
    assert (result.stdout, result.stderr) == ("([], {'stdlib': False}) True\n", '')


def test_pythonhunterconfig_discards():
    result = run_python(
        'import hunter; print(hunter._default_trace_args)',
        PYTHONHUNTERCONFIG='Q(module="x"), 5, "zz", kind="call", zzz=1',
    )
    assert result.stdout == "([<hunter.predicates.Query: query_eq=(('module', 'x'),)>], {'kind': 'call'})\n"
    # hunter.pth may import hunter too (a venv's lib64 symlink makes site run it twice): compare distinct lines.
    assert set(result.stderr.splitlines()) == {
        'Discarded config from PYTHONHUNTERCONFIG zzz=1: Unknown option',
        'Discarded config from PYTHONHUNTERCONFIG 5 (position 1): Not a callable',
        'Discarded config from PYTHONHUNTERCONFIG zz (position 2): Not a callable',
    }


@pytest.mark.parametrize(
    ('config', 'error'),
    [
        ('bogus(', lambda: syntax_error_of('_prepare_config(bogus()')),
        ('module_sw=5', lambda: ValueError("Value 5 for 'module_sw' is invalid. Must be a string, list, tuple or set.")),
        ('undefined_name', lambda: NameError("name 'undefined_name' is not defined")),
    ],
)
def test_pythonhunterconfig_fails(config, error):
    result = run_python('import hunter; print(hunter._default_trace_args)', PYTHONHUNTERCONFIG=config)
    assert result.stdout == '((), ())\n'
    if REFERENCE or config == 'module_sw=5':
        expected = f'Failed to load hunter config from PYTHONHUNTERCONFIG {config!r}: {error()!r}'
        assert set(result.stderr.splitlines()) == {expected}
    else:
        # Deliberate change: parsed, not eval-ed; the error names the position (tests/test_activation.py has more).
        assert result.stderr.startswith('hunter: cannot parse PYTHONHUNTERCONFIG at column ')


# -- PYTHONHUNTER -----------------------------------------------------------------------------------------------------


def test_embed_via_environment_unset(monkeypatch):
    monkeypatch.delenv('PYTHONHUNTER', raising=False)
    hunter._embed_via_environment()
    assert hunter._last_tracer is None


def test_embed_via_environment_starts_tracing(monkeypatch):
    monkeypatch.setenv('PYTHONHUNTER', 'module="no such module", kind="call"')
    hunter._embed_via_environment()
    handler = hunter._last_tracer.handler
    hunter.stop()
    assert handler == When(Query(module='no such module', kind='call'), CallPrinter)


def test_embed_via_environment_empty_value_traces_everything(monkeypatch):
    monkeypatch.setenv('PYTHONHUNTER', '')
    hunter._embed_via_environment()
    handler = hunter._last_tracer.handler
    hunter.stop()
    assert handler == When(Query(), CallPrinter)


@pytest.mark.parametrize(
    ('value', 'error', 'our_error'),
    [
        ('bogus(', lambda: syntax_error_of('trace(bogus()'), 'at column 7: expected a name, a call or a literal'),
        ('stop', lambda: NameError("name 'stop' is not defined"), "at column 1: expected one of And, "),
        ('wrap', lambda: NameError("name 'wrap' is not defined"), "but found unknown name 'wrap'"),
        ('os', lambda: NameError("name 'os' is not defined"), "but found unknown name 'os'"),
        ("'module'", lambda: error_of(lambda: Q('module')), 'but found a string'),
    ],
)
def test_embed_via_environment_errors(monkeypatch, capsys, value, error, our_error):
    monkeypatch.setenv('PYTHONHUNTER', value)
    hunter._embed_via_environment()
    assert hunter._last_tracer is None
    stderr = capsys.readouterr().err
    if REFERENCE:
        assert stderr == f'Failed to load hunter from PYTHONHUNTER environ variable {value!r}: {error()!r}\n'
    else:
        # Deliberate change: parsed, not eval-ed; one error naming the position, with a caret under it.
        header, shown, caret = stderr.splitlines()
        assert header.startswith('hunter: cannot parse PYTHONHUNTER ') and our_error in header, header
        assert shown == f'    {value}' and caret.endswith('^')


def test_embed_via_environment_stop_action(monkeypatch):
    """hunter's eval namespace lacks Stop, which its cookbook uses (``~Q(calls_gt=1000, action=Stop)``); ours has it."""
    monkeypatch.setenv('PYTHONHUNTER', '~Q(calls_gt=1000, action=Stop)')
    hunter._embed_via_environment()
    if REFERENCE:
        assert hunter._last_tracer is None
    else:
        handler = hunter._last_tracer.handler
        hunter.stop()
        # Stop instances do not compare equal: compare the structure through the repr.
        assert repr(handler).startswith(
            "<hunter.predicates.When: condition=<hunter.predicates.Not: predicate=<hunter.predicates.When: "
            "condition=<hunter.predicates.Query: query_gt=(('calls', 1000),)>, actions=(<hunter.Stop object at "
        )


def test_embed_via_environment_sees_the_public_names(monkeypatch):
    monkeypatch.setenv('PYTHONHUNTER', 'Or(Q(module="a"), Not(module="b")), action=CodePrinter, threads=0')
    hunter._embed_via_environment()
    tracer = hunter._last_tracer
    handler = tracer.handler
    hunter.stop()
    assert tracer.threading_support == 0
    assert handler == When(Or(Q(module='a'), Not(module='b')), CodePrinter)


def test_pth_line_activates_tracing():
    pth_line = 'import hunter; hunter._embed_via_environment()'
    result = run_python(
        f'{pth_line}\nimport hunter\nprint(hunter._last_tracer.handler is not None, repr(hunter._last_tracer.handler))',
        PYTHONHUNTER='module="no such module"',
    )
    # hunter's Cython When reports itself as hunter._predicates.When.
    assert re.match(r'True <hunter\._?predicates\.When: condition=<hunter\.predicates\.Query: ', result.stdout)
    assert result.stderr == ''


# -- stdlib paths -----------------------------------------------------------------------------------------------------


def test_sys_prefix_paths_as_hunter_computes_them():
    from hunter.const import SYS_PREFIX_PATHS

    for path in (sys.prefix, sys.exec_prefix, sys.base_prefix, os.path.dirname(os.__file__), '<frozen zipimport>'):
        assert path in SYS_PREFIX_PATHS
    assert list(SYS_PREFIX_PATHS) == sorted(SYS_PREFIX_PATHS, key=len, reverse=True)


def test_site_packages_paths():
    import sysconfig

    from hunter.const import SITE_PACKAGES_PATHS

    assert sysconfig.get_path('purelib') in SITE_PACKAGES_PATHS
    assert os.path.dirname(os.path.dirname(hunter.__file__)) in SITE_PACKAGES_PATHS


@ours_only
def test_stdlib_paths():
    from hunter.const import STDLIB_PATHS

    assert list(STDLIB_PATHS) == sorted(STDLIB_PATHS, key=len, reverse=True)
    assert os.__file__.startswith(STDLIB_PATHS)
    assert inspect.__file__.startswith(STDLIB_PATHS)
    assert not os.path.join(sys.prefix, 'myscript.py').startswith(STDLIB_PATHS)
    assert not os.path.join(sys.base_prefix, 'bin', 'myscript.py').startswith(STDLIB_PATHS)


def event_from(filename, module):
    """An Event for a frame of code that claims to come from ``filename`` in module ``module``."""
    namespace = {'__name__': module, 'sys': sys}
    exec(compile('frame = sys._getframe(0)', filename, 'exec'), namespace)
    kind = 0 if '_event' in hunter.Event.__module__ else 'call'  # hunter's Cython Event takes an int kind
    return hunter.Event(namespace['frame'], kind, None, 0, 0, False)


def test_event_stdlib_script_under_sys_prefix():
    # A script kept inside a virtualenv directory: hunter calls it stdlib (issue #103), we do not.
    assert event_from(os.path.join(sys.prefix, 'myscript.py'), 'myscript').stdlib is REFERENCE


def test_event_stdlib_real_stdlib_and_site_packages():
    assert event_from(inspect.__file__, 'inspect').stdlib is True
    assert event_from(pytest.__file__, 'pytest').stdlib is False


def test_event_stdlib_frozen_modules():
    # hunter only knows three frozen importlib modules; 3.11+ freezes more of the stdlib (issue #125 area).
    assert event_from('<frozen importlib._bootstrap>', 'importlib._bootstrap').stdlib is True
    assert event_from('<frozen posixpath>', 'posixpath').stdlib is not REFERENCE


def test_a_printer_copied_keeps_its_options_and_prints_as_its_original():
    # As hunter's printers: `copy.copy` makes one with the same options (and stream); what the native side keeps
    # (formatted prefixes, open calls) starts afresh.
    import copy
    import io

    stream = io.StringIO()
    for original in [
        hunter.CallPrinter(stream=stream, repr_limit=10, filename_alignment=20),
        hunter.VarsPrinter('a', stream=stream),
        hunter.StackPrinter(stream=stream, depth=2),
            ]:
        made = copy.copy(original)
        assert type(made) is type(original) and made is not original
        assert repr(made) == repr(original) and made.stream is stream
    printed = []
    for printer in [hunter.CallPrinter(stream=io.StringIO(), repr_limit=10), None]:
        printer = printer or copy.copy(printed_with)
        printed_with = printer
        with hunter.trace(function='copied_printer_target', action=printer):
            copied_printer_target('x' * 50)
        printed.append(printer.stream.getvalue())
    assert printed[1] == printed[0] * 2 and "a='xxxx" in printed[0]


def copied_printer_target(a):
    return a
