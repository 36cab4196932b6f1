"""Behaviour of hunter.Tracer and hunter.trace/stop (spec §5.1-§5.4)."""

import importlib
import io
import re
import subprocess
import sys
import threading
import warnings

import pytest

import hunter
from conftest import runs_legacy_sub_interpreters
from tracing_helpers import record_events

THIS_FILE = __file__.replace('.pyc', '.py')


def leaf(value):
    return value + 1


def branch(value):
    first = leaf(value)
    return leaf(first)


def reinstalls_the_tracer():
    sys.settrace(sys.gettrace())
    return leaf(1)


def uses_builtin():
    return len('abc')


@pytest.fixture(autouse=True)
def no_tracer_left_behind():
    previous_trace, previous_profile = sys.gettrace(), sys.getprofile()
    yield
    hunter._last_tracer = None
    sys.settrace(previous_trace)
    sys.setprofile(previous_profile)
    threading.settrace(None)
    threading.setprofile(None)


@pytest.fixture
def hunter_stream(monkeypatch):
    """hunter._default_stream (where tracer failures are reported) replaced by a StringIO."""
    stream = io.StringIO()
    monkeypatch.setattr(hunter, '_default_stream', stream)
    return stream


def collector():
    events = []

    def collect(event):
        if event.filename == THIS_FILE:
            events.append((event.kind, event.function, event.depth, event.calls))

    return events, collect


# --------------------------------------------------------------------------------------------- install / stop


@pytest.mark.settrace_backend
def test_trace_installs_the_tracer_itself():
    tracer = hunter.Tracer()
    assert tracer.trace(lambda event: None) is tracer
    try:
        assert sys.gettrace() is tracer
    finally:
        tracer.stop()
    assert sys.gettrace() is None


@pytest.mark.pure_semantics  # hunter 3.9.0's Cython stop() leaves no tracer instead of a Python-level previous one
@pytest.mark.settrace_backend
def test_handler_and_previous():
    def previous_tracer(frame, kind, arg):
        return previous_tracer

    def handler(event):
        pass

    sys.settrace(previous_tracer)
    tracer = hunter.Tracer()
    assert tracer.handler is None
    tracer.trace(handler)
    try:
        assert tracer.handler is handler
        assert tracer.previous is previous_tracer
    finally:
        tracer.stop()
    assert sys.gettrace() is previous_tracer
    assert tracer.handler is None
    assert tracer.previous is None


def test_stop_twice_is_harmless():
    tracer = hunter.Tracer()
    tracer.trace(lambda event: None)
    tracer.stop()
    tracer.stop()
    assert sys.gettrace() is None


@pytest.mark.settrace_backend
def test_context_manager():
    events, collect = collector()
    with hunter.Tracer().trace(collect) as tracer:
        assert sys.gettrace() is tracer
        leaf(1)
    assert sys.gettrace() is None
    assert [event[:2] for event in events if event[1] == 'leaf'] == [('call', 'leaf'), ('line', 'leaf'), ('return', 'leaf')]


def test_attributes_of_a_new_tracer():
    tracer = hunter.Tracer()
    assert (tracer.depth, tracer.calls, tracer.handler, tracer.previous) == (0, 0, None, None)
    assert tracer.threading_support is None or tracer.threading_support is False  # the Cython build coerces None
    assert tracer.profiling_mode is False
    assert hunter.Tracer(threading_support=True, profiling_mode=True).profiling_mode is True


@pytest.mark.pure_semantics  # hunter 3.9.0's Cython Tracer reports hunter._tracer.Tracer
def test_tracer_reports_the_pure_module_path():
    assert hunter.Tracer.__module__ == 'hunter.tracer'
    assert 'hunter.tracer.Tracer' in repr(hunter.Tracer)
    assert importlib.import_module('hunter.tracer').Tracer is hunter.Tracer
    tracer = hunter.Tracer()
    assert re.fullmatch(r'<hunter\.tracer\.Tracer at 0x[0-9a-f]+: threading_support=None, <stopped>>', repr(tracer))
    tracer.trace(hunter.Query(module='x'))
    try:
        assert re.fullmatch(
            r"<hunter\.tracer\.Tracer at 0x[0-9a-f]+: threading_support=None, handler=<hunter\.predicates\.Query: query_eq=\(\('module', 'x'\),\)>>",
            repr(tracer),
        )
    finally:
        tracer.stop()


@pytest.mark.settrace_backend
def test_tracer_is_callable_and_returns_itself():
    tracer = hunter.Tracer()
    seen = []
    tracer.trace(seen.append)
    try:
        frame = sys._getframe(0)
        assert tracer(frame, 'line', None) is tracer
    finally:
        tracer.stop()
    assert any(event.kind == 'line' and event.frame is frame for event in seen)


# --------------------------------------------------------------------------------------------- depth and calls


def test_depth_and_calls_values():
    events, collect = collector()
    tracer = hunter.Tracer()
    tracer.trace(collect)
    try:
        branch(1)
    finally:
        tracer.stop()
    assert [event for event in events if event[1] in ('branch', 'leaf')] == [
        ('call', 'branch', 0, 0),
        ('line', 'branch', 1, 1),
        ('call', 'leaf', 1, 1),
        ('line', 'leaf', 2, 2),
        ('return', 'leaf', 1, 2),
        ('line', 'branch', 1, 2),
        ('call', 'leaf', 1, 2),
        ('line', 'leaf', 2, 3),
        ('return', 'leaf', 1, 3),
        ('return', 'branch', 0, 3),
    ]


def test_depth_never_goes_negative():
    def returns_twice_up():
        return leaf(1)

    # start tracing inside two frames that were already running: their returns have no matching call
    events, collect = collector()

    def start_then_return():
        tracer.trace(collect)
        return returns_twice_up()

    tracer = hunter.Tracer()
    try:
        start_then_return()
    finally:
        tracer.stop()
    assert all(depth >= 0 for _, _, depth, _ in events)


# --------------------------------------------------------------------------------------------- hunter.trace / stop


@pytest.mark.settrace_backend
def test_trace_returns_the_active_tracer_with_a_compiled_handler():
    printer_stream = io.StringIO()
    tracer = hunter.trace(function='no-such-function', action=hunter.CallPrinter(stream=printer_stream))
    try:
        assert sys.gettrace() is tracer
        assert sys.gettrace().handler == hunter.When(hunter.Q(function='no-such-function'), hunter.CallPrinter(stream=printer_stream))
    finally:
        hunter.stop()
    assert sys.gettrace() is None
    assert printer_stream.getvalue() == ''


def test_trace_default_action_is_call_printer():
    tracer = hunter.trace(function='c')
    try:
        assert tracer.handler == hunter.When(hunter.Q(function='c'), hunter.CallPrinter)
    finally:
        hunter.stop()


@pytest.mark.settrace_backend
def test_trace_as_context_manager_and_profile_option():
    events, collect = collector()
    with hunter.trace(collect, profile=True) as tracer:
        assert sys.getprofile() is tracer
        uses_builtin()
    assert sys.getprofile() is None
    assert ('call', 'len') in [event[:2] for event in events]


def test_stop_without_tracer_warns():
    hunter._last_tracer = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        hunter.stop()
    assert [str(warning.message) for warning in caught] == ['There is no tracer to stop.']
    assert caught[0].category is UserWarning
    assert caught[0].filename == THIS_FILE


@pytest.mark.deliberate_change('stop() leaves a trace function it did not install')
def test_stop_leaves_a_trace_function_installed_while_tracing():
    seen = []

    def user_tracer(frame, kind, arg):
        seen.append(frame.f_code.co_name)
        return user_tracer

    def after_stop():
        pass

    tracer = hunter.Tracer()
    tracer.trace(lambda event: None)
    try:
        sys.settrace(user_tracer)
    finally:
        tracer.stop()
    try:
        installed = sys.gettrace()
        after_stop()
    finally:
        sys.settrace(None)
    assert installed is user_tracer
    assert 'after_stop' in seen



def test_stop_leaves_no_frame_holding_the_tracer():
    # Events set the frames' f_trace to the tracer (as hunter's do): left there after the stop, it kept the tracer
    # alive, and on 3.9 the frame reported the line tracing last saw as its f_lineno.
    tracer = hunter.Tracer().trace(hunter.Q(function='nothing-matches'))
    before = sys._getframe().f_lineno
    tracer.stop()
    after = sys._getframe().f_lineno
    assert (sys._getframe().f_trace, after - before) == (None, 2)

@pytest.mark.settrace_backend
def test_new_trace_replaces_the_previous_one():
    first = hunter.trace(lambda event: None, action=lambda event: None)
    second = hunter.trace(lambda event: None, action=lambda event: None)
    try:
        assert sys.gettrace() is second
        assert second.previous is first
    finally:
        hunter.stop()
    assert sys.gettrace() is first
    first.stop()


# --------------------------------------------------------------------------------------------- settrace interplay


@pytest.mark.settrace_backend
def test_reinstalling_the_tracer_keeps_tracing():
    events, collect = collector()
    tracer = hunter.Tracer()
    tracer.trace(collect)
    try:
        reinstalls_the_tracer()
        assert sys.gettrace() is tracer
        leaf(2)
    finally:
        tracer.stop()
    functions = [event[:2] for event in events]
    assert functions.count(('call', 'leaf')) == 2
    assert ('line', 'reinstalls_the_tracer') in functions
    assert ('return', 'reinstalls_the_tracer') in functions


# --------------------------------------------------------------------------------------------- threads


def _run_thread_under(tracer_options):
    events, collect = collector()
    tracer = hunter.Tracer(**tracer_options)
    tracer.trace(collect)
    try:
        worker = threading.Thread(target=leaf, args=(1,))
        worker.start()
        worker.join()
    finally:
        tracer.stop()
    return [event[:2] for event in events]


@pytest.mark.parametrize('threading_support', [None, True])
def test_new_threads_are_traced(threading_support):
    assert ('call', 'leaf') in _run_thread_under({'threading_support': threading_support})


def test_threads_are_not_traced_without_threading_support():
    assert ('call', 'leaf') not in _run_thread_under({'threading_support': False})


def test_threads_are_traced_in_profile_mode():
    assert ('call', 'leaf') in _run_thread_under({'profiling_mode': True})


def test_threading_hook_is_restored():
    def previous_hook(frame, kind, arg):
        return None

    threading.settrace(previous_hook)
    tracer = hunter.Tracer()
    tracer.trace(lambda event: None)
    assert threading._trace_hook is tracer
    tracer.stop()
    assert threading._trace_hook is previous_hook


def test_threads_already_running_are_not_traced():
    started, release = threading.Event(), threading.Event()

    def running_before_trace():
        started.set()
        release.wait()
        leaf(5)

    worker = threading.Thread(target=running_before_trace)
    worker.start()
    started.wait()
    events, collect = collector()
    tracer = hunter.Tracer()
    tracer.trace(collect)
    try:
        release.set()
        worker.join()
    finally:
        tracer.stop()
    assert ('call', 'leaf') not in [event[:2] for event in events]


# --------------------------------------------------------------------------------------------- profile mode


def test_profile_mode_events():
    _, events = record_events(uses_builtin, profiling_mode=True, detach=False)
    assert [(event.kind, event.function, event.builtin) for event in events] == [
        ('call', 'uses_builtin', False),
        ('call', 'len', True),
        ('return', 'len', True),
        ('return', 'uses_builtin', False),
    ]
    assert [(event.depth, event.calls) for event in events] == [(0, 0), (1, 1), (1, 1), (0, 1)]


@pytest.mark.settrace_backend
def test_profile_mode_installs_a_profiler():
    tracer = hunter.Tracer(profiling_mode=True)
    tracer.trace(lambda event: None)
    try:
        assert sys.getprofile() is tracer
        assert sys.gettrace() is None
    finally:
        tracer.stop()
    assert sys.getprofile() is None


# --------------------------------------------------------------------------------------------- handler errors


def test_failing_handler_is_reported_and_disables_the_tracer(hunter_stream):
    calls = []

    def failing_handler(event):
        calls.append(event.kind)
        if event.function == 'leaf':
            raise ValueError('handler broke')

    tracer = hunter.Tracer()
    tracer.trace(failing_handler)
    try:
        result = branch(10)
    finally:
        tracer.stop()
    assert result == 12  # the traced program carried on
    assert sys.gettrace() is None
    assert tracer.handler is None
    output = hunter_stream.getvalue()
    assert output.startswith('Traceback (most recent call last):\n')
    assert "ValueError: handler broke\n" in output
    assert re.search(
        r"Disabling tracer because handler <function .*failing_handler at 0x[0-9a-f]+> failed \(ValueError\('handler broke'\)\) "
        r"at <Event kind='call' function='leaf' module='test_tracer' filename='.*test_tracer.py' lineno=\d+>\.\n\n$",
        output,
    )
    assert calls.count('call') == 2  # branch, then leaf where it failed; nothing after that


@pytest.mark.settrace_backend
@pytest.mark.parametrize('previous', [None, 'python-level'])
def test_a_tracer_called_by_hand_handles_the_event_and_installs_nothing(previous):
    # As hunter's pure __call__: the event reaches the handler, whose own calls are not traced, and the thread's trace
    # function stays (the tracer installed itself on a `call`, replacing it, and then traced its own handler's calls).
    def user_trace(frame, kind, arg):
        return None

    seen = []

    def handler(event):
        seen.append((event.kind, event.function))
        leaf(1)

    tracer = hunter.Tracer()
    tracer.trace(handler)
    sys.settrace(user_trace if previous else None)
    try:
        assert tracer(sys._getframe(), 'call', None) is tracer
        assert sys.gettrace() is (user_trace if previous else None)
    finally:
        sys.settrace(None)
        tracer.stop()
    # (Line events of this frame reach the tracer too: tracing it set the frame's f_trace, as hunter does.)
    calls = [function for kind, function in seen if kind == 'call']
    assert calls == ['test_a_tracer_called_by_hand_handles_the_event_and_installs_nothing']


def test_a_tracer_called_by_hand_on_a_thread_it_monitors_keeps_its_trace_function():
    def user_trace(frame, kind, arg):
        return None

    tracer = hunter.Tracer()
    tracer.trace(hunter.Q(module='nothing'))
    sys.settrace(user_trace)
    try:
        tracer(sys._getframe(), 'call', None)
        assert sys.gettrace() is user_trace
    finally:
        sys.settrace(None)
        tracer.stop()


EVENT_MODULES_PROBE = """
import sys, hunter
before = {name for name in ('hunter._event_helpers', 'hunter.const', 'hunter.predicates') if name in sys.modules}
class NoPredicatesModule:
    # hunter.predicates imported while a tracer stops met it half imported (a signal handler's stop): not needed.
    def find_spec(self, name, path=None, target=None):
        if name == 'hunter.predicates':
            raise ImportError('hunter.predicates must not be needed')
sys.meta_path.insert(0, NoPredicatesModule())
unraisable = []
sys.unraisablehook = unraisable.append
tracer = hunter.Tracer().trace(hunter.When(hunter.Q(module='nothing'), hunter.CallPrinter()))
after = {name for name in ('hunter._event_helpers', 'hunter.const') if name in sys.modules}
tracer.stop()
print(sorted(before), sorted(after), unraisable)
"""


SUB_INTERPRETER_PROBE = """
import _testcapi, hunter
events = []
def g(): pass
tracer = hunter.trace(function='g', kind='call', action=lambda event: events.append(event.function))
g()
status = _testcapi.run_in_subinterp('import hunter')
g()
tracer.stop()
print(status, events)
"""


@pytest.mark.deliberate_change('hunter-rs runs in the main interpreter only')
@pytest.mark.skipif(not runs_legacy_sub_interpreters(), reason='needs CPython test modules')
def test_a_sub_interpreter_cannot_import_hunter_and_the_main_one_keeps_tracing():
    # The native core's state is the process's: a legacy sub-interpreter sharing it stopped the main interpreter's
    # tracers at its end, and its tracing took the code objects' extra index from the main one.
    result = subprocess.run([sys.executable, '-c', SUB_INTERPRETER_PROBE], capture_output=True, text=True, timeout=120)
    assert result.stdout == "-1 ['g', 'g']\n", result.stderr
    assert result.stderr.endswith(
        'ImportError: hunter-rs runs in the main interpreter only: hunter cannot be imported in a sub-interpreter\n'
    )


def test_the_modules_events_use_are_imported_before_tracing_starts():
    # Imported by the first event that needed them, on whichever thread: a fork while that import let the GIL go left
    # the child waiting for the module's lock for ever.
    result = subprocess.run([sys.executable, '-c', EVENT_MODULES_PROBE], capture_output=True, text=True, timeout=120)
    assert (result.returncode, result.stderr) == (0, '')
    # hunter.predicates comes with `import hunter` (as in hunter), so no stop can meet it half imported.
    assert result.stdout == "['hunter.predicates'] ['hunter._event_helpers', 'hunter.const'] []\n"


@pytest.mark.parametrize('action', ['CallPrinter', 'TreePrinter', 'Profile'])
def test_an_action_with_a_bad_option_is_reported_once(hunter_stream, monkeypatch, action):
    # The event reading the option reports it and stops the tracer; the stop reads the options again, and must not
    # report it a second time (hunter 3.9.0 reports it once).
    unraisable = []
    monkeypatch.setattr(sys, 'unraisablehook', unraisable.append)
    printer = getattr(hunter, action)(stream=io.StringIO(), filename_alignment=-5)
    tracer = hunter.Tracer()
    tracer.trace(hunter.When(hunter.Q(function='leaf'), printer))
    try:
        assert branch(10) == 12
    finally:
        tracer.stop()
    assert tracer.handler is None
    output = hunter_stream.getvalue()
    assert output.count('ValueError: filename_alignment must be a non-negative integer\n') == 1, output
    assert output.count('Disabling tracer because') == 1
    assert unraisable == []


@pytest.mark.pure_semantics  # as in test_handler_and_previous
def test_failing_handler_restores_previous_tracer(hunter_stream):
    def previous_tracer(frame, kind, arg):
        return None

    def failing_handler(event):
        raise RuntimeError('nope')

    sys.settrace(previous_tracer)
    tracer = hunter.Tracer()
    tracer.trace(failing_handler)
    leaf(1)
    assert sys.gettrace() is previous_tracer
    assert 'Disabling tracer because handler' in hunter_stream.getvalue()
