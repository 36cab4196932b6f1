"""Behaviour of hunter.Event (spec §3): construction, attributes, detach/clone, identity, pickling."""

import dis
import functools
import importlib
import os
import pickle
import posixpath
import re
import shutil
import sys
import tempfile
import threading

import pytest

import hunter
import reference
from tracing_helpers import first, record_events

HAS_FROZEN_STDLIB = sys.version_info >= (3, 11)


def traced_function(alpha, beta=2):
    total = alpha + beta
    return total


def decorate(func):
    @functools.wraps(func)
    def wrapper(*args):
        return func(*args)

    return wrapper


@decorate
@decorate
def decorated_function(value):
    return (value +
            1)  # fmt: skip


def raises_and_catches():
    try:
        raise ValueError('boom')
    except ValueError:
        return 'caught'


def calls_posixpath():
    return posixpath.join('a', 'b')


class Holder:
    def method(self):
        return 'm'

    @staticmethod
    def static():
        return 's'

    @classmethod
    def klass(cls):
        return 'c'


def calls_methods():
    holder = Holder()
    return holder.method(), Holder.static(), Holder.klass()


def nested_local():
    def local():
        return 'l'

    return local()


def uses_builtin():
    return len([1, 2, 3])


def current_frame_event(kind, *args, **kwargs):
    return hunter.Event(sys._getframe(1), kind, *args, **kwargs)


@pytest.fixture(scope='module')
def events():
    return record_events(traced_function, 1)[1]


@pytest.fixture(scope='module')
def captured_call():
    """A live (not detached) call event whose lazy attributes were all read while the frame was running, and a copy
    of its locals taken then (``event.locals`` is the frame's live mapping, which keeps changing)."""
    captured = []

    def capture(event):
        for name in ('function', 'module', 'filename', 'lineno', 'source', 'fullsource', 'stdlib', 'threadid', 'threadname',
                     'instruction', 'code', 'locals', 'globals', 'builtin'):  # fmt: skip
            getattr(event, name)
        captured.append((event, dict(event.locals)))

    record_events(traced_function, 1, predicate=hunter.When(hunter.Query(kind='call', function='traced_function'), capture))
    return captured[0]


@pytest.fixture(scope='module')
def live_call_event(captured_call):
    return captured_call[0]


# --------------------------------------------------------------------------------------------- construction


@pytest.mark.pure_semantics  # hunter 3.9.0's Cython Event takes an int kind
def test_positional_construction_with_str_kind():
    event = current_frame_event('line', None, 0, 0, False)
    assert (event.kind, event.builtin, event.depth, event.calls, event.detached) == ('line', False, 0, 0, False)
    assert event.function == 'test_positional_construction_with_str_kind'
    assert event.threading_support is False


@pytest.mark.pure_semantics
def test_keyword_construction():
    frame = sys._getframe(0)
    event = hunter.Event(frame=frame, kind='call', arg='x', threading_support=None, depth=3, calls=-1)
    assert (event.frame, event.kind, event.arg, event.depth, event.calls) == (frame, 'call', 'x', 3, -1)
    assert event.threading_support is None


@pytest.mark.pure_semantics
@pytest.mark.parametrize('kind', ['call', 'return', 'exception'])
def test_c_kinds_are_builtin(kind):
    event = current_frame_event(f'c_{kind}', len, 0, 0, False)
    assert (event.kind, event.builtin) == (kind, True)
    assert (event.function, event.module) == ('len', 'builtins')


# --------------------------------------------------------------------------------------------- attributes


def test_call_event_attributes(captured_call):
    event, locals_at_call = captured_call
    assert event.kind == 'call'
    assert event.function == 'traced_function'
    assert event.module == __name__
    assert event.filename == __file__.replace('.pyc', '.py')
    assert event.lineno == traced_function.__code__.co_firstlineno
    assert event.source == 'def traced_function(alpha, beta=2):\n'
    assert event.fullsource == 'def traced_function(alpha, beta=2):\n'
    assert event.code is traced_function.__code__
    assert event.arg is None
    assert (event.depth, event.calls) == (0, 0)
    assert event.builtin is False
    assert event.stdlib is False
    assert event.threadid is None
    assert event.threadname == 'MainThread'
    assert event.globals is globals()
    assert locals_at_call == {'alpha': 1, 'beta': 2}
    assert event.detached is False
    assert event.frame is not None


def test_instruction(events):
    call = first(events, kind='call')
    ret = first(events, kind='return')
    if sys.version_info >= (3, 11):
        assert call.instruction == dis.opmap['RESUME']
    else:
        assert call.instruction is None
    return_opcodes = {dis.opmap[name] for name in ('RETURN_VALUE', 'RETURN_CONST') if name in dis.opmap}
    assert ret.instruction in return_opcodes


def test_line_return_and_exception_events():
    _, events = record_events(raises_and_catches)
    kinds = [event.kind for event in events]
    assert kinds[0] == 'call' and kinds[-1] == 'return'
    exception = first(events, kind='exception')
    exc_type, exc_value, traceback = exception.arg
    assert exc_type is ValueError and str(exc_value) == 'boom' and traceback is not None
    assert exception.source.strip() == "raise ValueError('boom')"
    assert first(events, kind='return').arg == 'caught'
    line_sources = [event.source.strip() for event in events if event.kind == 'line']
    assert line_sources[:2] == ['try:', "raise ValueError('boom')"]


EXCEPT_STAR_SCRIPT = """\
import io, hunter
def handled():
    try:
        raise ExceptionGroup('group', [ValueError(1)])
    except* ValueError:
        pass
returns = []
with hunter.trace(function='handled', kind='return', action=lambda event: returns.append(event)):
    handled()
print([(event.lineno, event.source, event.fullsource) for event in returns])
stream = io.StringIO()
with hunter.trace(function='handled', action=hunter.CallPrinter(stream=stream, force_colors=False)):
    handled()
print(stream.getvalue().splitlines()[-1].split(':', 1)[-1])
"""


@pytest.mark.skipif(sys.version_info < (3, 12), reason='3.11 returns from except* at its line')
def test_a_return_at_no_line_has_lineno_minus_one_and_no_source(tmp_path):
    # The implicit return after an except* clause has no line (its frame's f_lineno is None): hunter's pure build
    # gives lineno None, and its printer fails on it and stops tracing; here it is -1, as in hunter's Cython build
    # (README difference 33).
    script = tmp_path / 'except_star.py'
    script.write_text(EXCEPT_STAR_SCRIPT)
    expected, ours = reference.run_script_on_pure_and_ours(script)
    assert expected.stdout.splitlines()[0].startswith("[(None, '??? NO SOURCE: TypeError(")
    assert 'Disabling tracer because handler' in expected.stderr
    assert expected.stdout.splitlines()[1] == '6     line         pass'
    assert (ours.returncode, ours.stderr) == (0, '')
    assert ours.stdout.splitlines() == ["[(-1, '', '')]", '-1    return    <= handled: None']


def test_depth_and_calls_of_nested_calls():
    _, events = record_events(calls_methods)
    summary = [(event.kind, event.function, event.depth, event.calls) for event in events if event.kind != 'line']
    assert summary == [
        ('call', 'calls_methods', 0, 0),
        ('call', 'method', 1, 1),
        ('return', 'method', 1, 2),
        ('call', 'static', 1, 2),
        ('return', 'static', 1, 3),
        ('call', 'klass', 1, 3),
        ('return', 'klass', 1, 4),
        ('return', 'calls_methods', 0, 4),
    ]


def test_fullsource_of_decorated_function_spans_the_decorators():
    _, events = record_events(decorated_function, 1)
    call = first(events, kind='call', function='decorated_function')
    assert call.source == '@decorate\n'
    assert call.fullsource == '@decorate\n@decorate\ndef decorated_function(value):\n'
    wrapper_call = first(events, kind='call', function='wrapper')
    assert wrapper_call.fullsource == '    @functools.wraps(func)\n    def wrapper(*args):\n'


def import_source(tmp_path, name, source):
    path = tmp_path / f'{name}.py'
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fullsource_indentation_is_spaces_and_tabs(tmp_path):
    # As hunter measures it: a form feed ends a line's indentation, so the decorator and the def below it still
    # share theirs.
    module = import_source(tmp_path, 'form_feed', 'def d(f): return f\nclass K:\n  \x0c  @d\n  def m(self):\n        return 1\n')
    _, events = record_events(lambda: module.K().m(), predicate=hunter.Query(function='m', kind='call'))
    assert [event.fullsource for event in events] == ['  \x0c  @d\n  def m(self):\n']


def test_fullsource_of_lines_the_tokenizer_refuses_is_no_source(tmp_path):
    # A generator resumed inside a call whose arguments are indented raggedly: tokenizing from the yield raises
    # IndentationError, which hunter reports as the event's source (only an unfinished statement is passed over).
    source = 'def gen():\n    x = foo(1,\n            (yield 1),\n                 2,\n               3)\n    yield 2\n'
    module = import_source(tmp_path, 'ragged', source + 'def foo(*a): return a\n')

    def run():
        generator = module.gen()
        next(generator)
        next(generator)

    _, events = record_events(run, predicate=hunter.Query(function='gen', kind='call'))
    # (after them, its close resumes it once more at the second yield, on some versions)
    assert [event.lineno for event in events[:2]] == [1, 3]
    assert events[0].fullsource == 'def gen():\n'
    assert events[1].fullsource.startswith("??? NO SOURCE: IndentationError('unindent does not match any outer ")


def test_multi_line_statement_lines_are_not_joined():
    _, events = record_events(decorated_function, 1)
    lines = [event.source for event in events if event.kind == 'line' and event.function == 'decorated_function']
    assert lines[0] == '    return (value +\n'
    assert all(event.fullsource == event.source for event in events if event.kind == 'line')


def test_function_object():
    captured = []

    def capture(event):
        captured.append((event.function, event.function_object))

    record_events(calls_methods, predicate=hunter.When(hunter.Query(kind='call'), capture))
    record_events(nested_local, predicate=hunter.When(hunter.Query(kind='call'), capture))
    found = dict(captured)
    assert found['calls_methods'] is calls_methods
    assert found['method'] is Holder.method
    assert found['static'] is Holder.__dict__['static'].__func__
    assert found['klass'] is Holder.__dict__['klass'].__func__
    assert found['nested_local'] is nested_local
    assert found['local'] is None


@decorate
def wrapped_function():
    return 1


class WithProperties:
    @property
    def read_only(self):
        return 1

    @property
    def read_write(self):
        return 2

    @read_write.setter
    def read_write(self, value):
        pass


@staticmethod
def module_static():
    return 3


def test_function_object_is_the_function_running_the_code():
    # As hunter: the function a decorator wraps (not the decorator's wrapper, which the global names), the getter of
    # a read-only property only, and the function a module-level staticmethod holds (callable from 3.10).
    captured = {}

    def capture(event):
        captured[event.function] = event.function_object

    def run():
        wrapped_function()
        WithProperties().read_only
        WithProperties().read_write
        if sys.version_info >= (3, 10):
            module_static()

    record_events(run, predicate=hunter.When(hunter.Query(kind='call'), capture))
    assert captured['wrapped_function'] is wrapped_function.__wrapped__
    assert captured['read_only'] is WithProperties.read_only.fget
    assert captured['read_write'] is None
    if sys.version_info >= (3, 10):
        assert captured['module_static'] is module_static.__func__



def test_function_object_of_a_detached_event_is_found_in_its_own_namespaces():
    # As hunter: looked up in the event's globals and locals, which a plain `detach()` leaves empty and
    # `detach(value_filter)` copies; not in a frame, which a detached event does not have.
    events = []
    record_events(calls_methods, predicate=hunter.When(hunter.Query(kind='call'), events.append))
    by_function = {event.function: event for event in events}
    assert by_function['calls_methods'].detach().function_object is None
    assert by_function['calls_methods'].detach(lambda value: value).function_object is calls_methods
    assert by_function['method'].detach(lambda value: value).function_object is Holder.method
    assert by_function['method'].detach().function_object is None


def test_function_object_reads_globals_set_on_the_event():
    found = []

    def capture(event):
        event.globals = {'calls_methods': len}
        found.append(event.function_object)
        clone = event.clone()
        clone.globals = {}
        clone.locals = {}
        found.append(clone.function_object)

    record_events(calls_methods, predicate=hunter.When(hunter.Query(kind='call', function='calls_methods'), capture))
    # `len` has no code object of the event's: not the function; nothing else to find with empty namespaces.
    assert found == [None, None]


def test_builtin_events_in_profile_mode():
    # live events: hunter 3.9.0's Cython Event.globals is a sentinel on builtin events, which breaks detach(filter)
    _, events = record_events(uses_builtin, profiling_mode=True, detach=False)
    assert 'line' not in {event.kind for event in events}
    call = first(events, kind='call', builtin=True)
    assert (call.function, call.module) == ('len', 'builtins')
    assert call.arg is len
    assert call.filename == first(events, function='uses_builtin').filename  # the caller's file
    assert call.locals == {}
    ret = first(events, kind='return', builtin=True)
    assert ret.function == 'len'



@pytest.mark.deliberate_change("a builtin event's function_object is the builtin (hunter: its builtin flag, True)")
def test_function_object_of_a_builtin_event_is_the_builtin():
    _, events = record_events(uses_builtin, profiling_mode=True, detach=False)
    builtin_events = [event for event in events if event.builtin and event.function == 'len']
    assert {event.kind for event in builtin_events} == {'call', 'return'}
    assert all(event.function_object is len for event in builtin_events)

def test_stdlib_of_stdlib_module():
    _, events = record_events(calls_posixpath, predicate=hunter.Query(kind='call'))
    assert first(events, function='calls_posixpath').stdlib is False
    join_call = first(events, function='join')
    assert join_call.module == 'posixpath'
    if not HAS_FROZEN_STDLIB:
        assert join_call.stdlib is True


@pytest.mark.skipif(not HAS_FROZEN_STDLIB, reason='stdlib modules are not frozen before Python 3.11')
@pytest.mark.deliberate_change('frozen stdlib modules count as stdlib and have source (upstream #125)')
def test_frozen_stdlib_module_event():
    _, events = record_events(calls_posixpath, predicate=hunter.Query(kind='call', function='join'))
    join_call = events[0]
    assert join_call.filename == '<frozen posixpath>'
    assert join_call.stdlib is True
    assert re.match(r'def join\(a, \*p\):\n$', join_call.source)
    assert join_call.fullsource.startswith('def join(')


def test_threadid_and_threadname_in_a_thread():
    def in_thread():
        results.append(record_events(traced_function, 1)[1])

    results = []
    worker = threading.Thread(target=in_thread, name='event-test-worker')
    worker.start()
    worker.join()
    event = results[0][0]
    assert event.threadid == worker.ident
    assert event.threadname == 'event-test-worker'


@pytest.mark.deliberate_change('user code under sys.prefix is not stdlib (upstream #103)')
def test_user_module_under_sys_prefix_is_not_stdlib():
    directory = tempfile.mkdtemp(prefix='hunter-test-', dir=sys.prefix)
    try:
        with open(os.path.join(directory, 'prefix_user_module.py'), 'w') as module_file:
            module_file.write('def user_function():\n    return 1\n')
        sys.path.insert(0, directory)
        try:
            module = importlib.import_module('prefix_user_module')
            _, events = record_events(module.user_function)
        finally:
            sys.path.remove(directory)
            sys.modules.pop('prefix_user_module', None)
    finally:
        shutil.rmtree(directory)
    assert events and all(event.stdlib is False for event in events)


# --------------------------------------------------------------------------------------------- identity, repr


def test_repr(live_call_event):
    assert repr(live_call_event) == (
        f"<Event kind='call' function='traced_function' module={__name__!r} filename={live_call_event.filename!r} "
        f'lineno={traced_function.__code__.co_firstlineno}>'
    )


def test_getitem(live_call_event):
    assert live_call_event['function'] == 'traced_function'
    assert live_call_event['lineno'] == live_call_event.lineno
    with pytest.raises(AttributeError):
        live_call_event['no_such_attribute']


def test_equality_is_identity(live_call_event):
    assert live_call_event == live_call_event
    assert live_call_event != live_call_event.clone()
    assert live_call_event != live_call_event.detach()


def test_pickling_is_refused(live_call_event):
    for event in (live_call_event, live_call_event.detach()):
        with pytest.raises(TypeError, match=r"can.+t pickle '?hunter\._?event\.Event'? objects?"):
            pickle.dumps(event)


# --------------------------------------------------------------------------------------------- detach / clone


COPIED_BY_DETACH = ('code', 'filename', 'fullsource', 'function', 'lineno', 'module', 'source', 'stdlib', 'threadid',
                    'threadname', 'instruction', 'kind', 'builtin', 'depth', 'calls')  # fmt: skip


def test_detach_without_value_filter(live_call_event):
    detached = live_call_event.detach()
    assert detached.frame is None
    assert detached.detached is True
    for name in COPIED_BY_DETACH:
        assert getattr(detached, name) == getattr(live_call_event, name), name
    assert detached.arg is None
    assert detached.locals == {}
    assert detached.globals == {}


def test_detach_with_value_filter():
    _, events = record_events(traced_function, 1, detach=False, predicate=hunter.Query(kind='return', function='traced_function'))
    detached = events[0].detach(repr)
    assert detached.arg == '3'
    assert detached.locals == {'alpha': '1', 'beta': '2', 'total': '3'}
    assert detached.globals['__name__'] == repr(__name__)


def test_detached_event_keeps_serving_its_snapshot(live_call_event):
    detached = live_call_event.detach(lambda value: value)
    assert detached.function == 'traced_function'
    assert repr(detached) == repr(live_call_event)


def test_clone_shares_frame_and_values(live_call_event):
    clone = live_call_event.clone()
    assert clone is not live_call_event
    assert clone.frame is live_call_event.frame
    assert clone.detached is False
    for name in COPIED_BY_DETACH:
        assert getattr(clone, name) == getattr(live_call_event, name), name


@pytest.mark.pure_semantics  # hunter 3.9.0's Cython Event attributes are readonly
def test_writable_attributes(live_call_event):
    for event in (live_call_event.clone(), live_call_event.detach()):
        event.depth = 7
        event.calls = 8
        event.detached = True
        event.locals = {'x': 1}
        event.globals = {'y': 2}
        event.frame = None
        assert (event.depth, event.calls, event.detached, event.locals, event.globals, event.frame) == (7, 8, True, {'x': 1}, {'y': 2}, None)


@pytest.mark.parametrize('backend', ['settrace', 'monitoring'] if sys.version_info >= (3, 12) else ['settrace'])
def test_what_an_action_writes_is_what_later_predicates_and_printers_read(backend):
    # As with hunter's pure-Python build: the native printers and queries after the action read the fields it set
    # (they read the event's own data before, and printed or matched the values the action had replaced).
    script = os.path.join(os.path.dirname(__file__), 'samples', 'event_writes.py')
    expected, ours = reference.run_script_on_pure_and_ours(script, backend)
    assert expected.returncode == 0, expected.stderr
    assert ours.returncode == 0, ours.stderr
    mask = lambda text: re.sub(r' at 0x[0-9a-f]+', ' at 0xADDR', text)  # noqa: E731
    assert mask(ours.stdout) == mask(expected.stdout)
    assert "matched after the rewrite: [('call', 'renamed', 'elsewhere', 999)" in ours.stdout
    assert '<= renamed: ' in ours.stdout


@pytest.mark.pure_semantics  # hunter 3.9.0's Cython Event attributes are readonly
def test_every_field_is_writable_and_read_back_by_predicates(live_call_event):
    # As on hunter's pure-Python events (ordinary instances): an action may annotate or rewrite the event it is given,
    # and what it set is what later predicates and actions read.
    values = {
        'arg': 'ARG',
        'code': 'CODE',
        'filename': '/elsewhere.py',
        'fullsource': 'FULL',
        'function': 'renamed',
        'function_object': len,
        'instruction': 'INSTR',
        'lineno': 99,
        'module': 'mod.ule',
        'source': 'SRC',
        'stdlib': True,
        'threadid': 42,
        'threadname': 'T',
        'threading_support': True,
        'builtin': True,
    }
    for event in (live_call_event.clone(), live_call_event.detach()):
        for name, value in values.items():
            setattr(event, name, value)
        assert {name: getattr(event, name) for name in values} == values
        assert hunter.Q(module='mod.ule', function='renamed', lineno=99, filename_endswith='elsewhere.py')(event)
        event.kind = 'return'
        assert (event.kind, event['kind']) == ('return', 'return')
        assert hunter.Q(kind='return', module='mod.ule')(event)
        event.own_note = 'mine'
        assert event.own_note == 'mine'
