"""Events whose frame is not the running frame of their code: stand-in objects, frames of other functions,
finished frames, and sys.monitoring callbacks called by hand. Each must give hunter's values or a Python
exception, never undefined behaviour (these crashed the interpreter before frames became a checked type).
"""

import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

import hunter
import reference
from conftest import hunter_under_test_is_reference

SAMPLES = Path(__file__).parent / 'samples'
PRINTERS = [
    lambda stream: hunter.CallPrinter(stream=stream),
    lambda stream: hunter.CodePrinter(stream=stream),
    lambda stream: hunter.VarsPrinter('a', 'b', stream=stream),
    lambda stream: hunter.VarsSnooper(stream=stream),
    lambda stream: hunter.StackPrinter(stream=stream),
]


def test_stand_in_frames_print_as_in_pure_hunter():
    python = reference.require_reference_python()
    script = str(SAMPLES / 'stand_in_frames.py')
    expected = reference.run_python(python, script_runner(script), env={'PUREPYTHONHUNTER': 'yes'})
    ours = reference.run_python(sys.executable, script_runner(script))
    assert expected.returncode == 0, expected.stderr
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == expected.stdout
    assert 'call      => target(a=1, b=5, *rest=(6,), key=7, **options={' in ours.stdout


def script_runner(script):
    return f'import runpy; runpy.run_path({script!r}, run_name="__main__")'


class Bare:
    """A stand-in frame with no attributes at all."""


def live_call_event():
    events = []
    tracer = hunter.Tracer()
    tracer.trace(hunter.When(hunter.Q(function='sample', kind='call'), events.append))

    def sample(a, b=1):
        return a + b

    sample(3)
    tracer.stop()
    return events[0]


@pytest.mark.parametrize('field', ['code', 'function', 'module', 'filename', 'lineno', 'locals', 'globals',
                                   'stdlib', 'instruction', 'source', 'fullsource', 'function_object'])
def test_missing_attributes_of_a_stand_in_frame_are_attribute_errors(field):
    event = hunter.Event(Bare(), 'call', None, 0, 0, False)
    with pytest.raises(AttributeError) if field not in ('source', 'fullsource') else nullcontext():
        value = getattr(event, field)
        # hunter turns a failure to read the source into text.
        assert value.startswith('??? NO SOURCE: AttributeError(')


class nullcontext:
    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False


@pytest.mark.parametrize('make_printer', PRINTERS)
@pytest.mark.parametrize('frame', [Bare(), 42, 'frame', {'f_code': None}], ids=['bare', 'int', 'str', 'dict'])
def test_printers_given_events_with_unusable_frames_raise(make_printer, frame):
    event = hunter.Event(frame, 'call', None, 0, 0, False)
    with pytest.raises(Exception) as raised:
        make_printer(io.StringIO())(event)
    assert isinstance(raised.value, (AttributeError, TypeError))


@pytest.mark.parametrize('make_printer', PRINTERS)
def test_a_frame_of_another_function_is_read_as_that_function(make_printer):
    def other(x, y, z, w):
        import sys

        return sys._getframe()

    finished = other(1, 2, 3, 4)
    event = live_call_event()
    event.frame = finished
    assert event.function == 'other'
    assert event.locals['w'] == 4
    stream = io.StringIO()
    make_printer(stream)(event)
    output = stream.getvalue()
    assert 'sample' not in output
    if 'CallPrinter' in type(make_printer(io.StringIO())).__name__:
        assert 'other(x=1, y=2, z=3, w=4)' in output


def test_replacing_the_frame_drops_the_fields_derived_from_the_old_one():
    event = live_call_event()
    assert event.function == 'sample'
    event.locals  # noqa: B018 - computed, so cached
    frame = type('F', (), {'f_code': test_replacing_the_frame_drops_the_fields_derived_from_the_old_one.__code__,
                           'f_locals': {'q': 1}, 'f_globals': {'__name__': 'elsewhere'}, 'f_lineno': 7})()
    event.frame = frame
    assert event.frame is frame
    assert (event.function, event.module, event.lineno, event.locals) == (
        'test_replacing_the_frame_drops_the_fields_derived_from_the_old_one', 'elsewhere', 7, {'q': 1})


def test_fields_given_to_a_detached_event_survive_a_new_frame():
    event = live_call_event().detach(lambda value: value)
    event.frame = Bare()
    assert (event.function, event.kind) == ('sample', 'call')
    assert event.locals == {'a': 3, 'b': 1}


def test_a_cleared_finished_frame_shows_missing_arguments():
    def probe(a, b):
        import sys

        return sys._getframe()

    frame = probe(1, 2)
    frame.clear()
    event = live_call_event()
    event.frame = frame
    stream = io.StringIO()
    hunter.CallPrinter(stream=stream)(event)
    assert re.search(r'=> probe\(a=<hunter.util.MISSING', stream.getvalue()) or '=> probe()' in stream.getvalue()


def test_backlog_replays_events_of_stand_in_frames():
    stream = io.StringIO()
    backlog = hunter.Backlog(hunter.Q(kind='return'), size=5, stack=3, action=hunter.CallPrinter(stream=stream))
    event = live_call_event().detach(lambda value: value)
    event.detached = False
    event.depth = 2
    event.frame = type('F', (), {'f_back': Bare(), 'f_code': live_call_event.__code__, 'f_globals': {},
                                 'f_locals': {}, 'f_lineno': 1, 'f_lasti': 0})()
    with pytest.raises(AttributeError):
        # The stand-in's parent has no f_code: the stack walk reports it as hunter does.
        backlog(event)
        backlog(hunter.Event(event.frame, 'return', None, 3, 0, False))


@pytest.mark.skipif(sys.version_info < (3, 12), reason='sys.monitoring is 3.12+')
@pytest.mark.skipif(hunter_under_test_is_reference(), reason="hunter 3.9.0 has no sys.monitoring backend")
def test_monitoring_callbacks_called_by_hand_reject_bad_arguments():
    code = r'''
import sys, hunter
def target(a, b, c, d, e, f): return a
def other(): return 1
tracer = hunter.Tracer(backend='monitoring')
tracer.trace(hunter.Q(function='target', action=hunter.CallPrinter(stream=sys.stdout)))
tool = next(i for i in range(6) if sys.monitoring.get_tool(i) == 'hunter')
callback = sys.monitoring.register_callback(tool, sys.monitoring.events.PY_START, None)
sys.monitoring.register_callback(tool, sys.monitoring.events.PY_START, callback)
for bad in [(42, 0), (None, 0), ("code", 0)]:
    try:
        callback(*bad)
    except TypeError as error:
        print('TypeError', error)
# A code object that is not the running frame's: its slots must not be read from this frame.
callback(target.__code__, 0)
raised = sys.monitoring.register_callback(tool, sys.monitoring.events.RAISE, None)
sys.monitoring.register_callback(tool, sys.monitoring.events.RAISE, raised)
for not_an_exception in [123, ValueError, None]:
    try:
        raised(sys._getframe().f_code, 0, not_an_exception)
    except TypeError as error:
        print('TypeError', error)
target(1, 2, 3, 4, 5, 6)
tracer.stop()
print('alive')
'''
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count('TypeError hunter: a sys.monitoring callback takes a code object first') == 3
    # The tracer runs on (it prints the call below): the error is the caller's, not the handler's failure.
    expected = 'TypeError hunter: a sys.monitoring callback takes an exception as its third argument'
    assert result.stdout.count(expected) == 3, result.stdout
    assert 'target(a=1, b=2, c=3, d=4, e=5, f=6)' in result.stdout
    assert result.stdout.rstrip().endswith('alive')


@pytest.mark.skipif(sys.version_info < (3, 12), reason='sys.monitoring is 3.12+')
@pytest.mark.skipif(hunter_under_test_is_reference(), reason="hunter 3.9.0 has no sys.monitoring backend")
@pytest.mark.parametrize('profiling_mode', [False, True])
def test_monitoring_callbacks_called_by_hand_without_arguments(profiling_mode):
    code = r'''
import sys, hunter
tracer = hunter.Tracer(backend='monitoring', profiling_mode=PROFILING_MODE)
tracer.trace(hunter.Q(function='nothing_matches'))
tool = next(i for i in range(6) if sys.monitoring.get_tool(i) == 'hunter')
called = 0
for name, event in vars(sys.monitoring.events).items():
    if not name.isupper() or name == 'NO_EVENTS':
        continue
    callback = sys.monitoring.register_callback(tool, event, None)
    sys.monitoring.register_callback(tool, event, callback)
    if callback is None:
        continue
    called += 1
    try:
        print(name, callback())
    except TypeError as error:
        print(name, 'TypeError', error)
tracer.stop()
print('alive', called)
'''.replace('PROFILING_MODE', repr(profiling_mode))
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert 'PY_START TypeError hunter: a sys.monitoring callback takes a code object first' in result.stdout
    registered = 9 if profiling_mode else 10
    assert result.stdout.rstrip().endswith(f'alive {registered}'), result.stdout


@pytest.mark.skipif(sys.version_info < (3, 12), reason='sys.monitoring is 3.12+')
@pytest.mark.skipif(hunter_under_test_is_reference(), reason="hunter 3.9.0 has no sys.monitoring backend")
def test_monitoring_callback_objects_resist_misuse_and_are_collected():
    code = r'''
import gc, sys, weakref, functools, hunter
def target(a): return a
class Keeper:
    """An action that keeps what it is given: here the tracer's own callback, which holds the tracer (a cycle)."""
    def __init__(self): self.kept = None
    def __call__(self, event): print('event', event.kind, event.function)
keeper = Keeper()
tracer = hunter.Tracer(backend='monitoring')
tracer.trace(hunter.Q(function='target', kind='call', action=keeper))
tool = next(i for i in range(6) if sys.monitoring.get_tool(i) == 'hunter')
callback = sys.monitoring.register_callback(tool, sys.monitoring.events.PY_START, None)
sys.monitoring.register_callback(tool, sys.monitoring.events.PY_START, callback)
kind = type(callback)
print('type', kind.__module__, kind.__qualname__)
for attempt in [
    lambda: kind(),
    lambda: kind.__new__(kind),
    lambda: setattr(kind, '__call__', lambda *args: None),
    lambda: callback(target.__code__, 0, spare=1),
]:
    try:
        attempt()
        print('accepted')
    except TypeError as error:
        print('TypeError', error)
# By hand, through tp_call, with an empty keyword dict and through partial: a call of `target` that is not running.
print('by hand', callback(target.__code__, 0), callback(*(target.__code__, 0), **{}), functools.partial(callback, target.__code__)(0))
target(1)
tracer.stop()
print('after stop', callback(target.__code__, 0))
keeper.kept = callback
alive = weakref.ref(keeper)
del keeper, tracer, callback
gc.collect()
print('collected', alive() is None)
'''
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == 'type hunter._hunter MonitoringCallback'
    assert [line.split(' ', 1)[0] for line in lines[1:5]] == ['TypeError'] * 4, lines
    assert 'takes no keyword arguments' in lines[4]
    assert lines[5] == 'by hand None None None'
    assert lines[6:] == ['event call target', 'after stop None', 'collected True'], lines


@pytest.mark.skipif(hunter_under_test_is_reference(), reason="hunter binds its modules at import time")
def test_a_module_replaced_in_sys_modules_by_another_object_is_an_error_not_a_crash():
    code = r'''
import builtins, sys, types, hunter
def f(a):
    return a + 1
sys.modules['builtins'] = types.SimpleNamespace(**vars(builtins))
with hunter.trace(hunter.Q(function='f', kind='line', action=hunter.VarsPrinter('a + 1', stream=sys.stdout))):
    f(1)
sys.modules['builtins'] = builtins
print('alive')
'''
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.rstrip().endswith('alive')
    assert 'PanicException' not in result.stderr + result.stdout
    assert "'SimpleNamespace' object" in result.stderr + result.stdout


def test_builtin_events_of_stand_in_frames_take_the_module_from_the_function():
    frame = type('F', (), {'f_code': live_call_event.__code__, 'f_globals': {'__name__': 'stand.in'}})()
    event = hunter.Event(frame, 'c_call', len, 0, 0, False)
    assert (event.function, event.module, event.filename) == ('len', 'builtins', __file__)
    assert event.stdlib is False
