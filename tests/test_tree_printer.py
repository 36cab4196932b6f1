"""TreePrinter: the matched calls of each thread as a box-drawn tree, printed when the root call returns, with each
call's duration (bounds only), bounded by max_rows, and what is still open printed at stop."""

import io
import re

import pytest

import hunter
import timing_samples
from hunter.actions import TreePrinter
from timing_helpers import DURATION
from timing_helpers import SAMPLES
from timing_helpers import SLEEP
from timing_helpers import backend  # noqa: F401 (a fixture)
from timing_helpers import seconds_shown


def tree(func, *args, predicate=SAMPLES, **options):
    stream = io.StringIO()
    with hunter.Tracer().trace(hunter.When(predicate, TreePrinter(stream=stream, filename_alignment=0, **options))):
        func(*args)
    return stream.getvalue().splitlines()


def without_filename(line):
    """The row after its `filename:lineno` column (the line number is padded to 5, then a space)."""
    column = re.match(r'.*?:(\d+)', line)
    return line[column.end() + max(5 - len(column[1]), 0) + 1 :]


def shape(lines):
    """The rows without the filename column, durations masked."""
    return [DURATION.sub(' [T]', without_filename(line)) for line in lines]


def test_the_tree_of_calls_with_branches(backend):
    lines = tree(timing_samples.catch, 2, 0)
    assert shape(lines) == [
        'catch(depth=2, seconds=0) [T]',
        '└─ unwind(depth=2, seconds=0) [T]',
        '   └─ unwind(depth=1, seconds=0) [T]',
        '      └─ unwind(depth=0, seconds=0) [T]',
        '         └─ sleeper(seconds=0) [T]',
    ]


def test_siblings_and_generator_runs(backend):
    lines = tree(timing_samples.consume, 0)
    assert shape(lines) == [
        'consume(seconds=0) [T]',
        '├─ resumed(seconds=0) [T]',
        '├─ resumed(seconds=0) [T]',
        '└─ resumed(seconds=0) [T]',
    ]
    lines = tree(timing_samples.pair, SLEEP)
    assert shape(lines) == ['pair(seconds=0.02) [T]', '├─ sleeper(seconds=0.02) [T]', '└─ sleeper(seconds=0.02) [T]']
    assert all(seconds_shown(line) >= SLEEP for line in lines[1:])
    assert seconds_shown(lines[0]) >= seconds_shown(lines[1]) + seconds_shown(lines[2])


def test_the_filename_column_and_colours_are_the_printers(backend):
    stream = io.StringIO()
    with hunter.Tracer().trace(hunter.When(SAMPLES, TreePrinter(stream=stream, force_colors=True))):
        timing_samples.sleeper(0)
    (row,) = stream.getvalue().splitlines()
    assert 'timing_samples.py' in row and '\x1b[' in row
    assert re.search(r'sleeper.*\(.*seconds.*=.*0.*\).*\[\d', row)


def test_coroutine_runs_and_the_await_between(backend):
    lines = tree(timing_samples.run_coroutine, SLEEP)
    rows = shape(lines)
    assert rows[0] == "run_coroutine(seconds=0.02) [T]"
    # The coroutine's runs are children of whatever resumed them (the event loop is not matched).
    assert any('awaiting(seconds=0.02)' in row for row in rows)
    assert any('sleeper(seconds=0.02)' in row for row in rows)
    assert seconds_shown(lines[0]) >= 2 * SLEEP


def test_each_thread_has_its_own_tree(backend):
    lines = tree(timing_samples.in_threads, 3, SLEEP)
    roots = [index for index, row in enumerate(shape(lines)) if not row.startswith(('├', '└', '│', ' '))]
    # The main thread's tree is printed last (its root returns last); each worker's comes whole.
    assert [shape(lines)[index] for index in roots] == ['pair(seconds=0.02) [T]'] * 3 + ['in_threads(count=3, seconds=0.02) [T]']
    for root in roots[:3]:
        assert shape(lines[root : root + 3])[1:] == ['├─ sleeper(seconds=0.02) [T]', '└─ sleeper(seconds=0.02) [T]']


def test_a_tree_has_one_thread_column_when_a_second_thread_starts_inside_it(backend):
    # The root was called while one thread was seen (no thread column), its children after a second one was: the
    # tree, written at once, still lines up.
    lines = tree(timing_samples.thread_then_here, 0)
    assert [line.split()[0] for line in lines] == ['worker'] + ['MainThread'] * 4
    assert shape(lines) == [
        'sleeper(seconds=0) [T]',
        'thread_then_here(seconds=0) [T]',
        '└─ pair(seconds=0) [T]',
        '   ├─ sleeper(seconds=0) [T]',
        '   └─ sleeper(seconds=0) [T]',
    ]
    assert len({line.index(':') for line in lines}) == 1


def test_recursion_nests(backend):
    lines = tree(timing_samples.recurse, 2, SLEEP)
    assert shape(lines) == [
        'recurse(depth=2, seconds=0.02) [T]',
        '└─ recurse(depth=1, seconds=0.02) [T]',
        '   └─ recurse(depth=0, seconds=0.02) [T]',
        '      └─ sleeper(seconds=0.02) [T]',
    ]
    durations = [seconds_shown(line) for line in lines]
    assert durations == sorted(durations, reverse=True) and durations[-1] >= SLEEP


def test_max_rows_bounds_a_tree(backend):
    lines = tree(timing_samples.many, 30, max_rows=5)
    assert len(lines) == 6
    assert shape(lines) == ['many(count=30) [T]'] + ['├─ sleeper(seconds=0) [T]'] * 4 + ['└─ ... 26 more calls not shown (max_rows=5)']


def test_max_rows_must_be_positive():
    with pytest.raises(ValueError, match='max_rows'):
        TreePrinter(max_rows=0)


# The max_rows a `nested` call sets on `PRINTER[0]` when it reaches n=2 (once).
PRINTER = []
PENDING = []


def nested(n):
    if n == 2 and PENDING:
        PRINTER[0].max_rows = PENDING.pop()
    if n:
        nested(n - 1)


def forest():
    nested(4)
    nested(1)


@pytest.mark.parametrize('before, after', [(2, 100), (100, 1), (3, 2)])
def test_max_rows_set_while_a_tree_is_built_applies_from_the_next_tree(backend, before, after):
    stream = io.StringIO()
    printer = TreePrinter(stream=stream, filename_alignment=0, max_rows=before)
    PRINTER[:], PENDING[:] = [printer], [after]
    predicate = hunter.Q(function_in=('nested', 'forest'), kind_in=('call', 'return'))
    with hunter.Tracer().trace(hunter.When(predicate, printer)):
        forest()
        forest()
    assert printer.max_rows == after

    def bounded(limit):
        """The tree of `forest()` (8 calls) with at most `limit` rows."""
        rows = ['forest() [T]', '├─ nested(n=4) [T]', '│  └─ nested(n=3) [T]', '│     └─ nested(n=2) [T]']
        rows += ['│        └─ nested(n=1) [T]', '│           └─ nested(n=0) [T]', '└─ nested(n=1) [T]', '   └─ nested(n=0) [T]']
        if limit >= len(rows):
            return rows
        # The last kept row has no later sibling shown but the footer.
        kept = rows[:limit]
        return kept + [f'└─ ... {len(rows) - limit} more calls not shown (max_rows={limit})']

    # The first tree keeps the bound it began with (no row under a parent left out), and its footer says which.
    first, second = bounded(before), bounded(after)
    assert shape(stream.getvalue().splitlines()) == first + second


def test_max_rows_set_on_the_instance_is_checked_as_the_constructor_checks_it(backend):
    for value in (0, -1, 'x', True, 1.5):
        with pytest.raises(ValueError) as constructed:
            TreePrinter(max_rows=value)
        stream = io.StringIO()
        printer = TreePrinter(stream=stream, filename_alignment=0, max_rows=3)
        with hunter.Tracer().trace(hunter.When(SAMPLES, printer)):
            with pytest.raises(ValueError) as assigned:
                printer.max_rows = value
            timing_samples.many(4)
        assert str(assigned.value) == str(constructed.value)
        assert printer.max_rows == 3
        assert shape(stream.getvalue().splitlines()) == [
            'many(count=4) [T]',
            '├─ sleeper(seconds=0) [T]',
            '├─ sleeper(seconds=0) [T]',
            '└─ ... 2 more calls not shown (max_rows=3)',
        ]


def test_calls_open_at_stop_are_printed_as_still_running(backend):
    stream = io.StringIO()
    predicate = SAMPLES | hunter.Q(function='test_calls_open_at_stop_are_printed_as_still_running')
    tracer = hunter.Tracer().trace(hunter.When(predicate, TreePrinter(stream=stream, filename_alignment=0)))

    def inner():
        timing_samples.sleeper(SLEEP)
        tracer.stop()

    timing_samples.sleeper(0)
    assert stream.getvalue().count('sleeper') == 1  # that root ended: printed
    inner()
    lines = stream.getvalue().splitlines()[1:]
    assert shape(lines) == ['sleeper(seconds=0.02) [T]']
    assert 'still running' not in stream.getvalue()


def test_a_call_still_executing_at_stop(backend):
    stream = io.StringIO()
    action = TreePrinter(stream=stream, filename_alignment=0)
    tracer = hunter.Tracer()

    def stop_inside(seconds):
        timing_samples.sleeper(seconds)
        tracer.stop()

    tracer.trace(hunter.When(hunter.Q(function_in=('stop_inside', 'sleeper'), kind_in=('call', 'return')), action))
    stop_inside(SLEEP)
    lines = stream.getvalue().splitlines()
    assert shape(lines) == ['stop_inside(seconds=0.02) [T]', '└─ sleeper(seconds=0.02) [T]']
    assert lines[0].endswith(', still running]') and seconds_shown(lines[0]) >= SLEEP
    assert 'still running' not in lines[1]


def test_returns_not_matched_show_no_duration(backend):
    # Calls only: each call's frame is known to have ended when a later call shows it gone.
    lines = tree(timing_samples.pair, 0, predicate=hunter.Q(module='timing_samples', kind='call'))
    assert [without_filename(line) for line in lines] == ['pair(seconds=0) [?]', '├─ sleeper(seconds=0) [?]', '└─ sleeper(seconds=0) [?]']


def test_returns_only_print_nothing(backend):
    assert tree(timing_samples.pair, 0, predicate=hunter.Q(module='timing_samples', kind='return')) == []


def test_exported():
    assert hunter.TreePrinter is TreePrinter
    assert 'TreePrinter' in hunter.__all__
