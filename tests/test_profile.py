"""Profile: per function, the count, total and own time of the matched calls (bounds only), recursion counted as
cProfile counts it, the table written once when the tracer stops (or at exit), the data returned by stats()."""

import io
import os
import subprocess
import sys
import textwrap
import time

import pytest

import hunter
import timing_samples
from hunter.actions import Profile
from timing_helpers import SAMPLES
from timing_helpers import SLEEP
from timing_helpers import backend  # noqa: F401 (a fixture)


def profiled(func, *args, predicate=SAMPLES, **options):
    stream = io.StringIO()
    action = Profile(stream=stream, **options)
    with hunter.Tracer().trace(hunter.When(predicate, action)):
        func(*args)
    return action, stream.getvalue()


def by_function(action):
    return {row['function']: row for row in action.stats()}


def test_counts_total_and_own_times(backend):
    action, _ = profiled(timing_samples.pair, SLEEP)
    rows = by_function(action)
    assert set(rows) == {'pair', 'sleeper'}
    sleeper, pair = rows['sleeper'], rows['pair']
    assert (sleeper['calls'], pair['calls']) == (2, 1)
    assert sleeper['total'] >= 2 * SLEEP and sleeper['own'] == sleeper['total']
    assert pair['total'] >= sleeper['total']
    # pair's own time excludes its matched children.
    assert 0 <= pair['own'] < SLEEP
    assert pair['own'] == pytest.approx(pair['total'] - sleeper['total'], abs=1e-6)
    assert sleeper['module'] == 'timing_samples'
    assert sleeper['filename'] == timing_samples.__file__
    assert sleeper['lineno'] == timing_samples.sleeper.__code__.co_firstlineno


def test_recursion_total_is_not_counted_twice(backend):
    action, _ = profiled(timing_samples.recurse, 3, SLEEP)
    recurse = by_function(action)['recurse']
    assert recurse['calls'] == 4
    # The outermost call's time only: under twice the sleep, though four nested calls each lasted longer than it.
    assert SLEEP <= recurse['total'] < 2 * SLEEP
    assert recurse['own'] < SLEEP
    assert by_function(action)['sleeper']['total'] >= SLEEP


def test_generators_coroutines_and_exceptions(backend):
    action, _ = profiled(timing_samples.consume, SLEEP)
    resumed = by_function(action)['resumed']
    assert resumed['calls'] == 3 and resumed['total'] >= SLEEP
    action, _ = profiled(timing_samples.run_coroutine, SLEEP)
    rows = by_function(action)
    assert rows['awaiting']['calls'] >= 2
    # The await's sleep is not the coroutine's own time: only the sleeper's is inside its runs.
    assert rows['awaiting']['own'] < SLEEP
    assert rows['awaiting']['total'] >= SLEEP
    action, _ = profiled(timing_samples.catch, 3, SLEEP)
    rows = by_function(action)
    assert rows['unwind']['calls'] == 4 and rows['unwind']['total'] >= SLEEP
    assert rows['catch']['total'] >= rows['unwind']['total']


def test_threads_add_up(backend):
    action, _ = profiled(timing_samples.in_threads, 3, SLEEP)
    rows = by_function(action)
    assert rows['sleeper']['calls'] == 6 and rows['pair']['calls'] == 3
    # Three threads sleep side by side: each thread's calls are timed on their own.
    assert rows['sleeper']['total'] >= 6 * SLEEP
    assert rows['in_threads']['total'] >= 2 * SLEEP


def test_unmatched_returns_count_calls_without_time(backend):
    action, _ = profiled(timing_samples.pair, 0, predicate=hunter.Q(module='timing_samples', kind='call'))
    rows = by_function(action)
    assert rows['sleeper']['calls'] == 2
    assert rows['sleeper']['total'] == rows['sleeper']['own'] == 0


def test_the_table_is_written_once_at_stop_sorted(backend):
    action, text = profiled(timing_samples.pair, SLEEP)
    lines = text.splitlines()
    assert lines[0] == 'hunter Profile: 3 calls of 2 functions, sorted by total'
    assert lines[1].split() == ['calls', 'total', 'own', 'function']
    assert [line.split()[-2] for line in lines[2:]] == ['timing_samples.pair', 'timing_samples.sleeper']
    assert lines[2].split()[-1] == f'({timing_samples.__file__}:{timing_samples.pair.__code__.co_firstlineno})'
    assert len(lines) == 4
    # No new call since: stopping again writes nothing.
    action._tracer_stopped()
    assert action.stream.getvalue() == text


@pytest.mark.parametrize('sort', ['own', 'calls'])
def test_sort_keys(backend, sort):
    action, _ = profiled(timing_samples.pair, SLEEP, sort=sort)
    assert [row['function'] for row in action.stats()] == ['sleeper', 'pair']


def test_limit_and_clear(backend):
    action, text = profiled(timing_samples.pair, 0, limit=1)
    assert text.splitlines()[-1] == '... 1 more functions (limit=1)'
    action.clear()
    assert action.stats() == []


def test_options_are_checked():
    with pytest.raises(ValueError, match='sort'):
        Profile(sort='name')
    with pytest.raises(ValueError, match='limit'):
        Profile(limit=-1)


def test_calls_executing_at_stop_are_timed_to_the_stop(backend):
    stream = io.StringIO()
    action = Profile(stream=stream)
    tracer = hunter.Tracer()

    def stop_inside():
        timing_samples.sleeper(SLEEP)
        tracer.stop()

    tracer.trace(hunter.When(hunter.Q(function_in=('stop_inside', 'sleeper'), kind_in=('call', 'return')), action))
    stop_inside()
    # The qualified name from 3.11 on (`co_qualname`), the plain name before.
    (stopped_inside,) = [row for name, row in by_function(action).items() if name.endswith('stop_inside')]
    assert stopped_inside['calls'] == 1 and stopped_inside['total'] >= SLEEP
    assert 'stop_inside' in stream.getvalue()


PROGRAM = textwrap.dedent(
    """
    import sys, time, hunter
    def work():
        time.sleep(0.01)
    hunter.trace(function='work', kind_in=('call', 'return'), action=hunter.Profile(stream=sys.stdout))
    work()
    {end}
    """
)


@pytest.mark.parametrize('end', ['pass', 'raise SystemExit(3)', 'hunter.stop()'])
def test_the_table_is_written_at_exit_once(backend, end):
    result = subprocess.run([sys.executable, '-c', PROGRAM.format(end=end)], capture_output=True, text=True, timeout=60)
    assert result.stdout.count('hunter Profile: 1 calls of 1 functions, sorted by total') == 1, result.stderr
    assert '__main__.work' in result.stdout
    assert result.stderr == ''


def test_a_table_written_to_a_closed_stream_is_one_line_on_stderr(backend):
    # As a printer's closed stream while tracing: no traceback of hunter's own frames.
    program = PROGRAM.format(end='stream.close()').replace('Profile(stream=sys.stdout)', 'Profile(stream=stream)')
    program = program.replace('import sys, time, hunter', 'import io, sys, time, hunter\nstream = io.StringIO()')
    result = subprocess.run([sys.executable, '-c', program], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert result.stderr == 'hunter: the output stream took no more at stop (ValueError: I/O operation on closed file)\n'


@pytest.mark.skipif(not os.path.exists('/dev/full'), reason='needs /dev/full')
def test_a_table_written_to_a_full_device_is_one_line_on_stderr(backend):
    program = PROGRAM.format(end='pass').replace('Profile(stream=sys.stdout)', "Profile(stream='/dev/full')")
    result = subprocess.run([sys.executable, '-c', program], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert result.stderr == (
        'hunter: the output stream took no more at stop (OSError: [Errno 28] No space left on device)\n'
    ), result.stderr


def test_reachable_actions_are_found_through_predicates():
    from hunter.actions import _actions_reached

    first, second, third = Profile(), Profile(), Profile()
    handler = hunter.Q(module='x', action=first) | hunter.Backlog(hunter.Q(function='f'), action=second) & ~hunter.When(
        hunter.Q(kind='call'), third, hunter.CallPrinter
    )
    found = _actions_reached(handler)
    assert [action for action in found if isinstance(action, Profile)] == [first, second, third]


def test_a_failing_stop_hook_is_reported_not_raised(monkeypatch):
    class Failing(hunter.CallPrinter):
        def _tracer_stopped(self):
            raise RuntimeError('hook failed')

    reported = []
    monkeypatch.setattr(sys, 'unraisablehook', reported.append)
    told = Profile(stream=io.StringIO())
    tracer = hunter.Tracer().trace(hunter.When(hunter.Q(function='sleeper'), Failing(), told))
    timing_samples.sleeper(0)
    tracer.stop()
    assert [str(report.exc_value) for report in reported] == ['hook failed']
    # The other actions are still told.
    assert 'timing_samples.sleeper' in told.stream.getvalue()


@pytest.mark.parametrize('exception', [KeyboardInterrupt, SystemExit])
def test_a_stop_hook_raising_what_belongs_to_the_program_reaches_it(exception, monkeypatch):
    class Interrupted(hunter.CallPrinter):
        def _tracer_stopped(self):
            raise exception('from the hook')

    reported = []
    monkeypatch.setattr(sys, 'unraisablehook', reported.append)
    told = Profile(stream=io.StringIO())
    tracer = hunter.Tracer().trace(hunter.When(hunter.Q(function='sleeper'), Interrupted(), told))
    timing_samples.sleeper(0)
    with pytest.raises(exception, match='from the hook'):
        tracer.stop()
    assert reported == []
    # Raised once every action has been told, and the tracer is stopped all the same.
    assert 'timing_samples.sleeper' in told.stream.getvalue()
    assert sys.gettrace() is None


def test_exported():
    assert hunter.Profile is Profile
    assert 'Profile' in hunter.__all__


def test_the_timing_actions_are_in_the_environment_language():
    _, options = hunter._evaluate_arguments('action=Profile(sort="calls"), actions=[TreePrinter(max_rows=3)]', 'PYTHONHUNTER')
    assert isinstance(options['action'], Profile) and options['action'].sort == 'calls'
    assert options['actions'][0].max_rows == 3


def test_the_code_objects_of_one_function_share_its_row(backend):
    # Source compiled again and again (templates, namedtuple-style generated code) makes a code object each time:
    # one function all the same (same module, name, file and first line), as cProfile counts it. Each had a row.
    source = 'def generated(n):\n    return n + 1\n'

    def run_generated():
        for number in range(50):
            namespace = {'__name__': 'generated_module'}
            exec(compile(source, '<generated>', 'exec'), namespace)
            namespace['generated'](number)

    action, output = profiled(run_generated, predicate=hunter.Q(module='generated_module'))
    rows = [row for row in action.stats() if row['function'] == 'generated']
    assert len(rows) == 1
    assert (rows[0]['calls'], rows[0]['filename'], rows[0]['lineno']) == (50, '<generated>', 1)
    assert rows[0]['own'] <= rows[0]['total']
    assert 'of 2 functions' in output


def test_an_action_shared_by_nested_tracers_is_told_when_the_last_stops(backend):
    # A Profile (or any timing action) given to a tracer and to one nested in it: the inner tracer's stop closed the
    # outer tracer's open calls, which then counted no time past it.
    action = Profile(stream=io.StringIO())

    def outer():
        with hunter.trace(function='inner', action=action):
            inner()
        time.sleep(SLEEP)

    def inner():
        return 1

    with hunter.trace(hunter.Q(function='outer') | hunter.Q(function='inner'), action=action):
        outer()
    rows = {row['lineno']: row for row in action.stats()}
    assert rows[outer.__code__.co_firstlineno]['total'] >= SLEEP
    assert rows[inner.__code__.co_firstlineno]['calls'] == 1
