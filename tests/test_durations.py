"""CallPrinter(durations=True): each return row of a seen call ends with the call's wall time; calls are paired
with returns by frame (generators, coroutines, threads, exceptions unwinding several frames, recursion); a return
without its call shows none; the default output is unchanged. Bounds only, never exact times."""

import io
import re
import time

import pytest

import hunter
import timing_samples
from hunter.actions import CallPrinter
from timing_helpers import DURATION
from timing_helpers import SAMPLES
from timing_helpers import SLEEP
from timing_helpers import backend  # noqa: F401 (a fixture)
from timing_helpers import seconds_shown


def trace(action, func, *args, predicate=SAMPLES, **tracer_options):
    with hunter.Tracer(**tracer_options).trace(hunter.When(predicate, action)):
        return func(*args)


def printed(func, *args, predicate=SAMPLES, durations=True, **tracer_options):
    stream = io.StringIO()
    trace(CallPrinter(stream=stream, durations=durations), func, *args, predicate=predicate, **tracer_options)
    return stream.getvalue().splitlines()


def returns(lines, function):
    """(seconds or None) of each return row of `function`, in order."""
    found = []
    for line in lines:
        if re.search(rf'(<=|<) {function}\b', line) and ' return ' in line:
            found.append(seconds_shown(line))
    return found


def test_a_sleep_is_timed_within_bounds(backend):
    before = time.perf_counter()
    lines = printed(timing_samples.pair, SLEEP)
    elapsed = time.perf_counter() - before
    sleepers = returns(lines, 'sleeper')
    assert len(sleepers) == 2
    assert all(SLEEP <= seconds < elapsed for seconds in sleepers), lines
    (pair,) = returns(lines, 'pair')
    assert 2 * SLEEP <= pair <= elapsed
    assert pair >= sum(sleepers)


def test_default_output_is_unchanged_and_durations_only_append(backend):
    default = io.StringIO()
    trace(CallPrinter(stream=default), timing_samples.catch, 2, 0)
    explicit = printed(timing_samples.catch, 2, 0, durations=False)
    timed = printed(timing_samples.catch, 2, 0)
    assert default.getvalue().splitlines() == explicit
    assert not any(DURATION.search(line) for line in explicit)
    # Take the durations away and the rows are the default ones.
    assert [DURATION.sub('', line) for line in timed] == explicit
    assert sum(1 for line in timed if DURATION.search(line)) == sum(1 for line in timed if ' return ' in line)


def test_each_run_of_a_generator_is_one_call(backend):
    lines = printed(timing_samples.consume, SLEEP)
    runs = returns(lines, 'resumed')
    # Up to the first yield, from it to the second (the sleep), and to the end.
    assert len(runs) == 3 and None not in runs, lines
    assert runs[0] < SLEEP <= runs[1]
    assert runs[2] < SLEEP


def test_a_coroutine_is_not_timed_while_suspended(backend):
    lines = printed(timing_samples.run_coroutine, SLEEP)
    runs = returns(lines, 'awaiting')
    assert len(runs) >= 2 and None not in runs, lines
    # The run after the await sleeps in `sleeper`; the await itself is not in any run.
    assert max(runs) >= SLEEP
    assert sum(runs) < 2 * SLEEP + 0.5 * SLEEP * len(runs)
    assert returns(lines, 'sleeper')[0] >= SLEEP


def test_threads_are_paired_separately(backend):
    lines = printed(timing_samples.in_threads, 3, SLEEP)
    sleepers = returns(lines, 'sleeper')
    assert len(sleepers) == 6
    assert all(seconds is not None and seconds >= SLEEP for seconds in sleepers), lines
    pairs = returns(lines, 'pair')
    assert len(pairs) == 3 and all(seconds >= 2 * SLEEP for seconds in pairs)


def test_an_exception_unwinding_frames_closes_each(backend):
    lines = printed(timing_samples.catch, 3, SLEEP)
    unwinds = returns(lines, 'unwind')
    assert len(unwinds) == 4 and None not in unwinds, lines
    # Innermost first: each enclosing frame took at least as long.
    assert unwinds == sorted(unwinds)
    assert unwinds[0] >= SLEEP


def test_an_outer_return_is_paired_when_the_inner_ones_are_not_matched(backend):
    # Every call, but the returns of `catch` only: the unwinding frames' returns are not seen.
    predicate = hunter.Q(module='timing_samples') & (hunter.Q(kind='call') | hunter.Q(kind='return', function='catch'))
    lines = printed(timing_samples.catch, 3, SLEEP, predicate=predicate)
    (catch,) = returns(lines, 'catch')
    assert catch is not None and catch >= SLEEP, lines


def test_recursion_pairs_each_level(backend):
    lines = printed(timing_samples.recurse, 4, SLEEP)
    levels = returns(lines, 'recurse')
    assert len(levels) == 5 and levels == sorted(levels) and levels[0] >= SLEEP, lines


def _start_tracing_mid_call(stream):
    tracer = hunter.Tracer().trace(hunter.When(SAMPLES | hunter.Q(function='_start_tracing_mid_call'), CallPrinter(stream=stream, durations=True)))
    timing_samples.sleeper(0)
    return tracer


def test_a_return_whose_call_was_not_seen_has_no_duration(backend):
    stream = io.StringIO()
    tracer = _start_tracing_mid_call(stream)
    tracer.stop()
    lines = stream.getvalue().splitlines()
    assert returns(lines, 'sleeper') != [None]
    assert returns(lines, '_start_tracing_mid_call') == [None], lines


def test_a_predicate_matching_returns_only_shows_no_durations(backend):
    lines = printed(timing_samples.pair, 0, predicate=hunter.Q(module='timing_samples', kind='return'))
    assert len(returns(lines, 'sleeper')) == 2
    assert not any(DURATION.search(line) for line in lines), lines


def test_builtin_calls_are_timed_in_profile_mode(backend):
    lines = printed(timing_samples.sleeper, SLEEP, predicate=hunter.Q(builtin=True, function='sleep'), profiling_mode=True)
    (sleep,) = [line for line in lines if ' <' in line]
    assert seconds_shown(sleep) >= SLEEP, lines


def append_twice(items):
    items.append(1)
    items.append(2)


def test_method_calls_of_builtins_are_timed_in_profile_mode(backend):
    # CPython 3.12+ reports the call and the return of `items.append(x)` with two bound methods, made for each event:
    # each return is still paired with its call.
    lines = printed(append_twice, [], predicate=hunter.Q(builtin=True, function='append'), profiling_mode=True)
    shown = [line for line in lines if ' <' in line]
    assert len(shown) == 2 and all(seconds_shown(line) is not None for line in shown), lines


def test_hook_mode_gets_the_timed_format(backend):
    class Collecting(CallPrinter):
        def output(self, format_str, *args, **kwargs):
            self.formats.append((format_str, args))

    action = Collecting(durations=True)
    action.formats = []
    trace(action, timing_samples.sleeper, 0)
    (returned,) = [(format_str, args) for format_str, args in action.formats if '<=' in format_str]
    assert returned[0].endswith(' {CONT}[{}]{RESET}\n')
    assert DURATION.search(f' [{returned[1][-1]}]')


def test_duration_units_adapt():
    from hunter._hunter import _format_duration

    assert [_format_duration(n) for n in (12, 1_500, 2_000_000, 3_250_000_000)] == ['12 ns', '1.500 µs', '2.000 ms', '3.250 s']


def test_durations_is_an_option():
    action = CallPrinter(durations=True)
    assert action.durations is True
    assert CallPrinter().durations is False
    with pytest.raises(TypeError, match="Did you mean 'durations'"):
        CallPrinter(duration=True)


def test_a_subclass_that_skips_callprinters_init_prints_without_durations(backend):
    class Bare(CallPrinter):
        def __init__(self, stream):
            super(CallPrinter, self).__init__(stream=stream)

    stream = io.StringIO()
    trace(Bare(stream), timing_samples.sleeper, 0)
    lines = stream.getvalue().splitlines()
    assert returns(lines, 'sleeper') == [None], lines


def stopped_session_outer(value):
    return stopped_session_inner(value)


def stopped_session_inner(value):
    return value


def later_session_call():
    return 1


def test_an_event_handled_after_its_session_ended_opens_no_span(backend, tmp_path):
    # The predicate stops tracing at the inner call: the timing actions are told (they close what is open) before
    # they get that event. Recording it would leave the inner call open into the same actions' next session.
    timeline = hunter.actions.Timeline(str(tmp_path / 'out.json'))
    profile = hunter.actions.Profile(stream=io.StringIO())
    tree_stream = io.StringIO()
    tree = hunter.actions.TreePrinter(stream=tree_stream)
    call_stream = io.StringIO()
    durations = CallPrinter(stream=call_stream, durations=True)
    actions = [timeline, profile, tree, durations]

    tracer = hunter.Tracer()

    def stop_at_the_inner_call(event):
        if event.function == 'stopped_session_inner' and event.kind == 'call':
            tracer.stop()
        return event.function.startswith(('stopped_session_', 'later_session_'))

    tracer.trace(hunter.When(stop_at_the_inner_call, *actions))
    stopped_session_outer(1)
    first_tree = tree_stream.getvalue()
    with hunter.Tracer().trace(hunter.When(hunter.Q(function='later_session_call'), *actions)):
        later_session_call()

    spans = [(event['name'], event['args'].get('ended')) for event in timeline.events()['traceEvents'] if event['ph'] == 'X']
    assert spans == [('stopped_session_outer', 'running at stop'), ('later_session_call', None)]
    assert sorted((row['function'], row['calls']) for row in profile.stats()) == [
        ('later_session_call', 1),
        ('stopped_session_outer', 1),
    ]
    assert 'stopped_session_outer' in first_tree and 'stopped_session_inner' not in tree_stream.getvalue()
    # The inner call's row is printed (as hunter prints it), but no later return is paired with it.
    assert 'stopped_session_inner' in call_stream.getvalue()
