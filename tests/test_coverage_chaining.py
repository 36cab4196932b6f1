"""hunter-rs beside coverage.py (upstream issue #64): a C-level trace function already on a thread (coverage's
CTracer) is chained to, not replaced, so ``coverage run`` measures a program that hunter traces partway through.

Each case runs real coverage.py in a subprocess on a small program that starts ``hunter.trace()`` after some of its
code ran, and checks that coverage's per-line results are those of a run without hunter, and that hunter prints
what it prints without coverage. On 3.12+ both hunter backends run, and coverage's sys.monitoring core too.
"""

import importlib
import json
import os
import re
import subprocess
import sys
import textwrap

import pytest

from conftest import hunter_under_test_is_reference
from reference import child_env

HAS_MONITORING = sys.version_info >= (3, 12)
PORTABLE = not hunter_under_test_is_reference() and importlib.import_module('hunter._hunter').PORTABLE
BACKENDS = ('settrace', 'monitoring') if HAS_MONITORING else ('settrace',)
# None: coverage's default core (its C tracer, CTracer, on every supported Python with coverage 7.6).
CORES = (None, 'sysmon') if HAS_MONITORING else (None,)

pytestmark = [
    pytest.mark.skipif(hunter_under_test_is_reference(), reason='hunter 3.9.0 replaces coverage.py\'s tracer'),
    pytest.mark.filterwarnings('ignore::DeprecationWarning'),
]

# Measured by coverage: calls, loops, an exception, a generator, a thread body.
WORK = textwrap.dedent(
    """
    def classify(n):
        if n % 3 == 0:
            return 'fizz'
        elif n % 5 == 0:
            return 'buzz'
        return str(n)

    def never_called():
        return 'not executed'

    def squares(limit):
        for i in range(limit):
            yield i * i

    def run(start):
        labels = [classify(n) for n in range(start, start + 10)]
        try:
            int('x')
        except ValueError:
            labels.append('error')
        total = sum(squares(start))
        while total > 100:
            total //= 2
        return len(labels), total

    def late_only(flag):
        if flag:
            return 'late'
        return 'early'

    def in_thread(results):
        results.append(run(3))
        results.append(late_only(True))
    """
)

# Not measured (outside coverage's --include): coverage switches its line events off (f_trace_lines = False); hunter
# traces its lines all the same.
OTHER = textwrap.dedent(
    """
    def helper(values):
        total = 0
        for value in values:
            total += value
        return total
    """
)

# HUNTER_MODE: '' (no hunter), or '+'-joined words: 'trace' (start hunter midway), 'stop' (stop it again before the
# end), 'thread' (run a thread while tracing), 'raise' (hunter's action raises), 'nomatch' (a query matching nothing).
MAIN = textwrap.dedent(
    """
    import os, sys, threading
    import work, other

    mode = os.environ.get('HUNTER_MODE', '').split('+')
    print('early', work.run(1), work.late_only(False), other.helper([1, 2]))
    if 'trace' in mode:
        import hunter

        def failing_action(event):
            if event.kind == 'line':
                raise RuntimeError('the action fails on purpose')

        if 'raise' in mode:
            action = failing_action
        else:
            action = hunter.CallPrinter(stream=sys.stderr, force_colors=False)
        module = 'no_such_module' if 'nomatch' in mode else None
        if module:
            tracer = hunter.trace(module=module, action=action)
        else:
            tracer = hunter.trace(hunter.Q(module_in=['work', 'other'], action=action))
        print('hunter backend', tracer.backend, file=sys.stderr)
    print('late', work.run(5), work.late_only(True), other.helper([3, 4, 5]))
    if 'thread' in mode:
        results = []
        thread = threading.Thread(target=work.in_thread, args=(results,))
        thread.start()
        thread.join()
        print('thread', results)
    if 'stop' in mode:
        if 'trace' in mode:
            hunter.stop()
        print('after stop', work.classify(7), other.helper([6]))
    """
)


def run_program(directory, mode, backend, core=None, under_coverage=True):
    """Runs main.py (under ``coverage run`` unless told not to); returns (stdout, stderr, work.py's executed lines)."""
    environment = {key: value for key, value in child_env().items() if key != 'COVERAGE_CORE'}
    environment.update(HUNTER_MODE=mode, PYTHONHUNTERBACKEND=backend, PYTHONUNBUFFERED='1')
    if core is not None:
        environment['COVERAGE_CORE'] = core
    if under_coverage:
        command = [sys.executable, '-m', 'coverage', 'run', '--data-file', '.coverage', '--include', 'work.py', 'main.py']
    else:
        command = [sys.executable, 'main.py']
    run = subprocess.run(command, cwd=directory, env=environment, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    stderr = re.sub(r' at 0x[0-9a-f]+', ' at 0x...', run.stderr)
    if not under_coverage:
        return run.stdout, stderr, None
    report = subprocess.run(
        [sys.executable, '-m', 'coverage', 'json', '--data-file', '.coverage', '-o', 'coverage.json'],
        cwd=directory,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert report.returncode == 0, report.stderr
    with open(os.path.join(directory, 'coverage.json')) as file:
        files = json.load(file)['files']
    assert set(files) == {'work.py'}
    return run.stdout, stderr, files['work.py']['executed_lines']


@pytest.fixture
def program(tmp_path):
    pytest.importorskip('coverage', reason='coverage.py is in the test extras')
    (tmp_path / 'work.py').write_text(WORK)
    (tmp_path / 'other.py').write_text(OTHER)
    (tmp_path / 'main.py').write_text(MAIN)
    return tmp_path


def line_of(text):
    return next(number for number, line in enumerate(WORK.splitlines(), 1) if line.strip() == text)


MODES = ['trace', 'trace+stop', 'trace+thread', 'trace+thread+stop', 'trace+raise', 'trace+nomatch']


@pytest.mark.parametrize('core', CORES, ids=lambda core: core or 'default-core')
@pytest.mark.parametrize('backend', BACKENDS)
@pytest.mark.parametrize('mode', MODES)
def test_coverage_measures_the_same_lines_and_hunter_prints_the_same(program, mode, backend, core):
    if core == 'sysmon' and 'thread' not in mode and mode != 'trace':
        pytest.skip('sys.monitoring core: the plain and threaded runs are enough (no settrace to chain to)')
    if PORTABLE and core is None and (backend == 'settrace' or 'thread' in mode):
        pytest.skip("portable mode cannot read the thread state's trace function: it replaces coverage's, as hunter does")
    without_hunter_stdout, _, without_hunter = run_program(program, mode.replace('trace', 'off'), backend, core)
    stdout, stderr, with_hunter = run_program(program, mode, backend, core)
    assert stdout == without_hunter_stdout
    assert f'hunter backend {backend}' in stderr
    assert with_hunter == without_hunter
    # The lines only the late part runs, in the thread and after hunter started, are there.
    assert line_of("return 'late'") in with_hunter
    assert line_of("return 'not executed'") not in with_hunter
    if 'thread' in mode:
        assert line_of('results.append(late_only(True))') in with_hunter
    _, stderr_without_coverage, _ = run_program(program, mode, backend, under_coverage=False)
    assert stderr == stderr_without_coverage
    if 'raise' in mode:
        assert stderr.count('RuntimeError: the action fails on purpose') == 1
    elif 'nomatch' in mode:
        assert 'work.py' not in stderr
    else:
        # Hunter keeps the line events of code coverage does not measure (which it switches off for itself).
        assert 'other.py:5     line' in stderr and 'total += value' in stderr
        assert '=> late_only(flag=True)' in stderr


PYTHON_LEVEL_PREVIOUS = textwrap.dedent(
    """
    import sys, hunter
    seen = []

    def python_level(frame, kind, arg):
        seen.append((frame.f_code.co_name, kind))
        return python_level

    def work():
        return 1

    sys.settrace(python_level)
    work()
    tracer = hunter.trace(function='work', action=hunter.CallPrinter(stream=sys.stdout, force_colors=False))
    print('previous is the Python-level tracer', tracer.previous is python_level)
    seen.clear()
    work()
    print('python-level tracer called while hunter traces', [name for name, _ in seen if name == 'work'])
    hunter.stop()
    print('put back', sys.gettrace() is python_level)
    work()
    print('called again after stop', ('work', 'call') in seen)
    sys.settrace(None)
    """
)


@pytest.mark.parametrize('backend', ['settrace'])
def test_a_python_level_previous_tracer_is_replaced_as_hunter_does(backend):
    run = subprocess.run(
        [sys.executable, '-c', PYTHON_LEVEL_PREVIOUS],
        env=child_env({'PYTHONHUNTERBACKEND': backend}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert 'previous is the Python-level tracer True' in lines
    assert 'python-level tracer called while hunter traces []' in lines
    assert 'put back True' in lines
    assert 'called again after stop True' in lines
    assert sum('=> work()' in line for line in lines) == 1


FRAME_DISPATCHING_TRACER = '''
import ctypes, hunter

Py_tracefunc = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.py_object, ctypes.py_object, ctypes.c_int, ctypes.c_void_p)
KINDS = ('call', 'exception', 'line', 'return')
own = []


def per_frame(frame, kind, arg):
    own.append((kind, frame.f_code.co_name))
    return per_frame


@Py_tracefunc
def dispatcher(obj, frame, what, arg):
    # Like pydevd's: a call gets the frame's own tracer, the frame's other events go to its f_trace.
    if what == 0:
        frame.f_trace = per_frame
    elif what < len(KINDS) and frame.f_trace is not None:
        frame.f_trace(frame, KINDS[what], None)
    return 0


ctypes.pythonapi.PyEval_SetTrace.argtypes = (Py_tracefunc, ctypes.py_object)
ctypes.pythonapi.PyEval_SetTrace(dispatcher, object())


def work():
    total = 1
    return total


events = []
with hunter.trace(function='work', action=lambda event: events.append((event.kind, event.function))):
    work()
ctypes.pythonapi.PyEval_SetTrace(Py_tracefunc(0), None)
print(events)
print([entry for entry in own if entry[1] == 'work'])
'''


@pytest.mark.skipif(PORTABLE, reason='portable mode does not chain to C-level tracers')
def test_a_chained_tracer_that_hands_events_to_f_trace_keeps_them_and_hunter_sees_each_once():
    # hunter made itself the frame's f_trace after the chained tracer ran: one that hands a frame's events to its
    # f_trace (pydevd's, under debugpy) then handed them to hunter a second time (each line and return printed twice)
    # and lost its own.
    result = subprocess.run(
        [sys.executable, '-c', FRAME_DISPATCHING_TRACER],
        capture_output=True,
        text=True,
        env=child_env({'PYTHONHUNTERBACKEND': 'settrace'}),
        timeout=120,
    )
    assert result.stderr == ''
    hunter_events, own_events = result.stdout.splitlines()
    work = [(kind, 'work') for kind in ('call', 'line', 'line', 'return')]
    assert hunter_events == repr(work)
    assert own_events == repr(work[1:])
