"""Timeline: the matched calls recorded as a Chrome Trace Event Format file. Every file written here is checked
against the format's rules (required fields and their types, per thread spans nesting without partial overlap),
on generators, coroutines, threads, exceptions, recursion, profile mode, tracing started mid-call and stopped
mid-call, both buffer-full policies, and the ends of a program (exit, SystemExit, uncaught exception)."""

import collections
import errno
import gc
import json
import math
import os
import stat
import subprocess
import sys
import textwrap
import threading
import time
import weakref
from decimal import Decimal

import pytest

import hunter
import timing_samples
from hunter.actions import Timeline
from timing_helpers import SAMPLES
from timing_helpers import SLEEP
from timing_helpers import backend  # noqa: F401 (a fixture)

NUMBER = (int, Decimal)


def check_trace(document):
    """Asserts `document` (parsed with exact decimals) follows the Trace Event Format; returns its events."""
    assert isinstance(document, dict) and isinstance(document['traceEvents'], list)
    events = document['traceEvents']
    named_threads = set()
    spans = collections.defaultdict(list)
    for event in events:
        assert event['ph'] in ('X', 'i', 'M'), event
        assert isinstance(event['name'], str) and event['name'], event
        assert isinstance(event['pid'], int) and isinstance(event['tid'], int), event
        # Perfetto puts threads whose tid does not fit 32 bits on one track.
        assert 0 <= event['tid'] < 2**32, event
        if event['ph'] == 'M':
            assert isinstance(event['args']['name'], str)
            if event['name'] == 'thread_name':
                named_threads.add((event['pid'], event['tid']))
            continue
        assert isinstance(event['ts'], NUMBER) and event['ts'] >= 0, event
        assert isinstance(event['cat'], str)
        assert isinstance(event['args']['file'], str) and isinstance(event['args']['line'], int)
        if event['ph'] == 'i':
            assert event['s'] == 't'
            continue
        assert isinstance(event['dur'], NUMBER) and event['dur'] >= 0, event
        spans[event['pid'], event['tid']].append(event)
    for thread, thread_spans in spans.items():
        assert thread in named_threads
        # Sorted by start, the longer first: each span lies inside every span open around it.
        open_ends = []
        for span in sorted(thread_spans, key=lambda span: (span['ts'], -span['dur'])):
            end = span['ts'] + span['dur']
            while open_ends and open_ends[-1] <= span['ts'] and not (open_ends[-1] == span['ts'] == end):
                open_ends.pop()
            assert not open_ends or end <= open_ends[-1], f'{span} overlaps a span partially'
            open_ends.append(end)
    return events


def load(path):
    with open(path, encoding='utf-8') as file:
        return check_trace(json.load(file, parse_float=Decimal))


def record_into(path, func, *args, predicate=SAMPLES, profiling_mode=False, **options):
    """Runs `func(*args)` traced by `predicate` with a Timeline written to `path` at the stop."""
    action = Timeline(path, **options)
    with hunter.Tracer(profiling_mode=profiling_mode).trace(hunter.When(predicate, action)):
        func(*args)


def recorded(tmp_path, func, *args, **options):
    path = tmp_path / 'trace.json'
    record_into(path, func, *args, **options)
    return load(path)


def spans_of(events, name=None):
    return [event for event in events if event['ph'] == 'X' and (name is None or event['name'] == name)]


def names(events):
    return collections.Counter(event['name'] for event in spans_of(events))


def inside(inner, outer):
    return outer['ts'] <= inner['ts'] and inner['ts'] + inner['dur'] <= outer['ts'] + outer['dur']


def test_calls_are_complete_events_with_their_durations(tmp_path, backend):
    events = recorded(tmp_path, timing_samples.pair, SLEEP)
    assert names(events) == {'sleeper': 2, 'pair': 1}
    (pair,) = spans_of(events, 'pair')
    sleepers = spans_of(events, 'sleeper')
    assert all(inside(sleeper, pair) for sleeper in sleepers)
    assert all(Decimal(SLEEP * 1e6) <= sleeper['dur'] for sleeper in sleepers)
    assert pair['args'] == {'file': timing_samples.__file__, 'line': timing_samples.pair.__code__.co_firstlineno}
    assert {event['tid'] for event in events if event['ph'] == 'X'} == {pair['tid']}
    metadata = [event for event in events if event['ph'] == 'M' and event['name'] == 'thread_name']
    assert [event['args']['name'] for event in metadata] == ['MainThread']
    assert pair['pid'] == os.getpid()
    assert pair['tid'] == threading.get_native_id()


def test_a_fifo_is_written_into_and_stays_a_fifo(tmp_path):
    # A FIFO stands in for os.devnull: replacing either with a new file destroys it (as root, /dev/null itself).
    fifo = tmp_path / 'trace.fifo'
    os.mkfifo(fifo)
    received = []

    def read():
        with open(fifo, encoding='utf-8') as file:
            received.append(file.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    record_into(fifo, timing_samples.pair, 0)
    reader.join(timeout=30)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert received, 'the trace was not written into the FIFO'
    assert names(check_trace(json.loads(received[0], parse_float=Decimal))) == {'sleeper': 2, 'pair': 1}
    assert sorted(tmp_path.iterdir()) == [fifo]


@pytest.mark.skipif(not sys.platform.startswith('linux') or os.geteuid() != 0, reason='a device node: root on Linux')
def test_a_device_is_written_into_and_stays_a_device(tmp_path):
    null = tmp_path / 'null'
    os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # Linux's null device
    record_into(null, timing_samples.pair, 0)
    assert stat.S_ISCHR(os.stat(null).st_mode)
    assert sorted(tmp_path.iterdir()) == [null]


def test_a_symlink_stays_and_the_file_it_points_to_is_replaced(tmp_path):
    target = tmp_path / 'real.json'
    target.write_text('stale')
    link = tmp_path / 'trace.json'
    link.symlink_to(target)
    record_into(link, timing_samples.pair, 0)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert names(load(target)) == {'sleeper': 2, 'pair': 1}
    assert sorted(tmp_path.iterdir()) == [target, link]


def test_a_file_replaced_keeps_its_permissions(tmp_path):
    path = tmp_path / 'trace.json'
    path.write_text('stale')
    path.chmod(0o640)
    record_into(path, timing_samples.pair, 0)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert names(load(path)) == {'sleeper': 2, 'pair': 1}


def test_a_file_with_other_hard_links_is_written_into_so_they_see_it(tmp_path):
    path, other = tmp_path / 'trace.json', tmp_path / 'other-name.json'
    path.write_text('stale')
    os.link(path, other)
    record_into(path, timing_samples.pair, 0)
    assert os.stat(path).st_ino == os.stat(other).st_ino
    assert names(load(other)) == {'sleeper': 2, 'pair': 1}
    assert sorted(tmp_path.iterdir()) == [other, path]


@pytest.mark.skipif(os.geteuid() != 0, reason='giving a file away takes root')
def test_a_file_of_another_owner_keeps_its_owner(tmp_path):
    path = tmp_path / 'trace.json'
    path.write_text('stale')
    os.chown(path, 1234, 1234)
    record_into(path, timing_samples.pair, 0)
    assert (os.stat(path).st_uid, os.stat(path).st_gid) == (1234, 1234)
    assert names(load(path)) == {'sleeper': 2, 'pair': 1}


@pytest.mark.skipif(os.geteuid() == 0, reason='root may write a read-only file')
def test_a_read_only_file_is_refused_as_open_would_refuse_it(tmp_path):
    path = tmp_path / 'trace.json'
    path.write_text('kept')
    path.chmod(0o444)
    timeline = Timeline(tmp_path / 'other.json')
    with pytest.raises(PermissionError, match='trace.json'):
        timeline.write(path)
    assert path.read_text() == 'kept'


def test_a_directory_is_refused_by_name_and_left_alone(tmp_path):
    directory = tmp_path / 'trace.json'
    directory.mkdir()
    with pytest.raises(IsADirectoryError, match='trace.json'):
        Timeline(directory)
    timeline = Timeline(tmp_path / 'other.json')
    with pytest.raises(IsADirectoryError, match='trace.json'):
        timeline.write(directory)
    assert directory.is_dir() and not any(directory.iterdir())
    assert sorted(tmp_path.iterdir()) == [directory]


def test_a_path_that_cannot_be_written_is_refused_when_the_timeline_is_made(tmp_path):
    # Not after the whole program ran, when the tracer stops.
    with pytest.raises(FileNotFoundError) as raised:
        Timeline(tmp_path / 'missing' / 'trace.json')
    assert raised.value.filename == str(tmp_path / 'missing' / 'trace.json')
    with pytest.raises(hunter.ExpressionError, match=r"Timeline\(\.\.\.\) raised FileNotFoundError: .*missing"):
        hunter._evaluate_arguments(f'action=Timeline({str(tmp_path / "missing" / "t.json")!r})', 'PYTHONHUNTER')
    if hasattr(os, 'geteuid') and os.geteuid() != 0:
        locked = tmp_path / 'locked'
        locked.mkdir(mode=0o500)
        with pytest.raises(PermissionError):
            Timeline(locked / 'trace.json')
    for unusable, refused in [('', FileNotFoundError), (str(tmp_path / 'a\0b.json'), ValueError)]:
        with pytest.raises(refused):
            Timeline(unusable)
    assert Timeline(tmp_path / 'trace.json').path == str(tmp_path / 'trace.json')
    assert not any(tmp_path.glob('*.json'))



def test_options_set_on_the_instance_are_taken_as_the_constructor_takes_them(tmp_path, monkeypatch):
    timeline = Timeline(tmp_path / 'trace.json')
    with pytest.raises(FileNotFoundError) as raised:
        timeline.path = tmp_path / 'missing' / 'other.json'
    assert raised.value.filename == str(tmp_path / 'missing' / 'other.json')
    assert timeline.path == str(tmp_path / 'trace.json')
    monkeypatch.chdir(tmp_path)
    timeline.path = b'relative.json'
    assert timeline.path == str(tmp_path / 'relative.json')
    timeline.args = 5
    assert timeline.args is True
    assert repr(timeline) == f"Timeline({str(tmp_path / 'relative.json')!r}, size=1000000, on_full='ring', args=True)"
    # Deleted as a plain attribute is: gone, and asked for, an AttributeError naming it.
    del timeline.size
    with pytest.raises(AttributeError, match='size'):
        timeline.size
    with pytest.raises(AttributeError, match='size'):
        del timeline.size


def test_a_write_that_fails_names_the_file_asked_for(tmp_path):
    timeline = Timeline(tmp_path / 'trace.json')
    asked_for = str(tmp_path / 'gone' / 'trace.json')
    with pytest.raises(FileNotFoundError) as raised:
        timeline.write(asked_for)
    assert raised.value.filename == asked_for
    assert str(raised.value) == f'[Errno 2] No such file or directory: {asked_for!r}'

def traced_session(action, value):
    tracer = hunter.trace(kind_in=('call', 'return'), action=action)
    identity(value)
    tracer.stop()


def identity(value):
    return value


def test_a_timeline_reused_after_a_stop_begins_its_unseen_calls_in_the_new_session(tmp_path):
    # `trace()` returns into `traced_session` unseen at its call: its span began before tracing, in the second session
    # no earlier than that session's first event (it began at the first session's, enclosing its spans).
    path = tmp_path / 'trace.json'
    action = Timeline(path)
    traced_session(action, 1)
    traced_session(action, 2)
    spans = sorted(spans_of(load(path)), key=lambda span: span['ts'])
    assert [span['name'] for span in spans] == ['trace', 'identity', 'trace', 'identity']
    first_identity, second_trace = spans[1], spans[2]
    assert second_trace['args']['ended'] == 'began before tracing'
    assert second_trace['ts'] >= first_identity['ts'] + first_identity['dur']


def test_a_bytes_path_is_written(tmp_path):
    # It was taken, then the temporary file's name was made of its repr (b'...'): nothing was ever written.
    path = tmp_path / 'trace.json'
    with hunter.Tracer().trace(hunter.When(SAMPLES, Timeline(os.fsencode(path)))):
        timing_samples.pair(0)
    assert names(load(path))['pair'] == 1
    assert sorted(tmp_path.iterdir()) == [path]


def test_a_failed_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / 'trace.json'
    timeline = Timeline(path)

    def replace_fails(source, target):
        raise OSError(errno.EXDEV, 'moved away', target)

    monkeypatch.setattr(os, 'replace', replace_fails)
    with pytest.raises(OSError, match='moved away'):
        timeline.write()
    assert list(tmp_path.iterdir()) == []


def test_a_relative_path_is_from_the_working_directory_when_made(tmp_path, monkeypatch):
    # The program may change directory before the stop (python -m hunter --timeline rel.json script.py): the file
    # went there, or was lost when that directory was gone.
    monkeypatch.chdir(tmp_path)
    timeline = Timeline('relative.json')
    (tmp_path / 'elsewhere').mkdir()
    monkeypatch.chdir(tmp_path / 'elsewhere')
    with hunter.Tracer().trace(hunter.When(SAMPLES, timeline)):
        timing_samples.pair(0)
    assert timeline.path == str(tmp_path / 'relative.json')
    assert names(load(tmp_path / 'relative.json'))['pair'] == 1
    assert list((tmp_path / 'elsewhere').iterdir()) == []


@pytest.mark.skipif(not os.path.exists('/dev/full'), reason='needs /dev/full')
def test_a_write_that_fails_at_the_stop_is_one_line(capsys):
    with hunter.Tracer().trace(hunter.When(SAMPLES, Timeline('/dev/full'))):
        timing_samples.pair(0)
    assert capsys.readouterr().err == "hunter: cannot write the timeline to '/dev/full': No space left on device\n"


def test_an_interrupted_write_at_the_stop_says_so_and_keeps_the_records(tmp_path, monkeypatch, capsys):
    # Ctrl-C while the stop writes a large file: the KeyboardInterrupt is the program's, but it once lost the file
    # without a word.
    path = tmp_path / 'trace.json'
    timeline = Timeline(path)

    def interrupted(text, *args, **kwargs):
        raise KeyboardInterrupt

    tracer = hunter.Tracer().trace(hunter.When(SAMPLES, timeline))
    timing_samples.pair(0)
    monkeypatch.setattr(json, 'dumps', interrupted)
    with pytest.raises(KeyboardInterrupt):
        tracer.stop()
    monkeypatch.undo()
    assert capsys.readouterr().err == f"hunter: the timeline was not written to {str(path)!r}: interrupted\n"
    assert not path.exists()
    assert timeline.write() == str(path)
    assert names(load(path))['pair'] == 1


def test_two_writes_of_one_path_at_once_both_succeed(tmp_path, monkeypatch):
    # Two Timelines of one path stopping in two threads: the second write runs while the first is between writing its
    # temporary file and moving it (they once shared the temporary file, so the first move found it gone).
    path = tmp_path / 'trace.json'
    first, second = Timeline(path), Timeline(path)
    replace = os.replace
    interleaved = []

    def replace_after_the_other_write(source, target):
        if not interleaved:
            interleaved.append(source)
            second.write()
        replace(source, target)

    monkeypatch.setattr(os, 'replace', replace_after_the_other_write)
    first.write()
    assert interleaved
    assert json.loads(path.read_text())['otherData']['tool'] == 'hunter Timeline'
    assert sorted(tmp_path.iterdir()) == [path]


FORKING_PROGRAM = """
import os, sys, hunter

def before_fork():
    pass

def parent_work():
    pass

def child_work():
    pass

tracer = hunter.Tracer().trace(hunter.When(hunter.Q(module='__main__'), hunter.Timeline(sys.argv[1])))
before_fork()
child = os.fork()
if child == 0:
    try:
        child_work()
        tracer.stop()
    finally:
        os._exit(0)
os.waitpid(child, 0)
parent_work()
tracer.stop()
print(child)
"""


@pytest.mark.skipif(not hasattr(os, 'fork'), reason='os.fork is POSIX only')
def test_a_forked_child_writes_a_file_of_its_own(tmp_path, backend):
    # In a process of its own: pytest's may run threads, and forking those is unsafe.
    path = tmp_path / 'trace.json'
    run = subprocess.run([sys.executable, '-c', FORKING_PROGRAM, str(path)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    child = int(run.stdout)
    assert names(load(path)) == {'before_fork': 1, 'parent_work': 1}
    child_events = load(tmp_path / f'trace.{child}.json')
    assert names(child_events) == {'before_fork': 1, 'child_work': 1}
    assert {event['pid'] for event in spans_of(child_events)} == {child}
    if sys.platform == 'linux':
        # The thread that forked is called by its OS thread id in the child (a main thread's is its process id), also
        # in the records of what it ran before the fork, which the child has too.
        assert {event['tid'] for event in spans_of(child_events)} == {child}
    assert len(list(tmp_path.iterdir())) == 2


def test_each_run_of_a_generator_is_a_span(tmp_path, backend):
    events = recorded(tmp_path, timing_samples.consume, SLEEP)
    assert names(events) == {'resumed': 3, 'consume': 1}
    runs = sorted(spans_of(events, 'resumed'), key=lambda span: span['ts'])
    assert runs[1]['dur'] >= Decimal(SLEEP * 1e6) > runs[0]['dur']
    (consume,) = spans_of(events, 'consume')
    assert all(inside(run, consume) for run in runs)


def test_coroutines(tmp_path, backend):
    events = recorded(tmp_path, timing_samples.run_coroutine, SLEEP)
    counts = names(events)
    # Suspended at the sleep, resumed after it: two runs.
    assert counts['awaiting'] == 2 and counts['sleeper'] == 1 and counts['run_coroutine'] == 1


def test_threads_are_named_and_kept_apart(tmp_path, backend):
    events = recorded(tmp_path, timing_samples.in_threads, 3, SLEEP)
    # The list comprehension is a function of its own before 3.12 (named by its qualname from 3.11 on).
    counts = {name: count for name, count in names(events).items() if not name.endswith('<listcomp>')}
    assert counts == {'in_threads': 1, 'pair': 3, 'sleeper': 6}
    threads = {event['tid'] for event in spans_of(events, 'pair')}
    assert len(threads) == 3
    named = {event['tid']: event['args']['name'] for event in events if event['name'] == 'thread_name'}
    assert all(named[thread].startswith('Thread-') for thread in threads)


class Unprintable:
    def __str__(self):
        raise RuntimeError('no str')

    def __repr__(self):
        raise RuntimeError('no repr')


def test_a_thread_whose_name_is_no_text_is_named_by_its_safe_repr(tmp_path, backend):
    # A name set bypassing the `name` setter's str(): its failure once cost the whole file.
    def run():
        threading.current_thread()._name = Unprintable()
        timing_samples.pair(0)

    def in_a_badly_named_thread():
        thread = threading.Thread(target=run)
        thread.start()
        thread.join()

    events = recorded(tmp_path, in_a_badly_named_thread)
    [thread] = {event['tid'] for event in spans_of(events, 'pair')}
    [name] = [event['args']['name'] for event in events if event['name'] == 'thread_name' and event['tid'] == thread]
    assert name.startswith(f'<{__name__}.Unprintable object at 0x')


def one_thread_after_another(count):
    for _ in range(count):
        thread = threading.Thread(target=timing_samples.pair, args=(0,))
        thread.start()
        thread.join()


def test_threads_that_get_the_same_ident_are_kept_apart(tmp_path, backend):
    # A thread started after another ended usually gets its ident again (a pthread handle): each is its own
    # thread in the file all the same, with its own name.
    events = recorded(tmp_path, one_thread_after_another, 3)
    threads = {event['tid'] for event in spans_of(events, 'pair')}
    assert len(threads) == 3
    named = {event['tid']: event['args']['name'] for event in events if event['name'] == 'thread_name'}
    assert len({named[thread] for thread in threads}) == 3


def test_exceptions_are_instants(tmp_path, backend):
    events = recorded(tmp_path, timing_samples.catch, 2, SLEEP, predicate=hunter.Q(module='timing_samples'), args=True)
    instants = [event for event in events if event['ph'] == 'i']
    assert len(instants) >= 3 and {event['name'] for event in instants} == {'ValueError raised'}
    assert instants[0]['args']['function'] == 'unwind' and instants[0]['args']['value'] == "ValueError('unwound')"
    # Each unwound frame's return was matched: complete spans, nested.
    assert names(events) == {'catch': 1, 'unwind': 3, 'sleeper': 1}
    unwinds = sorted(spans_of(events, 'unwind'), key=lambda span: span['ts'])
    assert inside(unwinds[2], unwinds[1]) and inside(unwinds[1], unwinds[0])


def raises_once_traced(path):
    """Starts tracing while running, then raises: the first event recorded is the exception, on a thread the
    Timeline has not seen yet (so it is recorded the long way, naming the thread)."""
    tracer = hunter.Tracer()
    tracer.trace(hunter.When(hunter.Q(function='raises_once_traced'), Timeline(path)))
    try:
        raise KeyError('first')
    except KeyError:
        pass
    tracer.stop()


def test_an_exception_first_seen_is_an_instant_of_its_type(tmp_path, backend):
    path = tmp_path / 'trace.json'
    raises_once_traced(path)
    instants = [event for event in load(path) if event['ph'] == 'i']
    assert [(event['name'], event['args']['function']) for event in instants] == [('KeyError raised', 'raises_once_traced')]


def test_recursion_nests(tmp_path, backend):
    events = recorded(tmp_path, timing_samples.recurse, 3, 0)
    calls = sorted(spans_of(events, 'recurse'), key=lambda span: span['ts'])
    assert len(calls) == 4
    assert all(inside(inner, outer) and inner['ts'] > outer['ts'] for outer, inner in zip(calls, calls[1:]))


def test_profile_mode_records_builtins(tmp_path, backend):
    predicate = hunter.Q(function_in=('sleeper', 'sleep'))
    events = recorded(tmp_path, timing_samples.sleeper, SLEEP, predicate=predicate, profiling_mode=True)
    builtins = [event for event in spans_of(events) if event['cat'] == 'builtin']
    (sleep,) = [event for event in builtins if event['name'] == 'time.sleep']
    (sleeper,) = spans_of(events, 'sleeper')
    assert inside(sleep, sleeper) and sleep['dur'] >= Decimal(SLEEP * 1e6)


def square_root_or_none(number):
    try:
        return math.sqrt(number)
    except ValueError:
        return None


def test_profile_mode_a_builtin_that_raises_ends_its_span(tmp_path, backend):
    predicate = hunter.Q(function_in=('square_root_or_none', 'sqrt'))
    events = recorded(tmp_path, square_root_or_none, -1, predicate=predicate, profiling_mode=True)
    (sqrt,) = spans_of(events, 'math.sqrt')
    (caller,) = spans_of(events, 'square_root_or_none')
    assert 'ended' not in sqrt['args'] and inside(sqrt, caller)
    # Profile mode has no `exception` events (a builtin's c_exception carries no exception): no instant.
    assert [event for event in events if event['ph'] == 'i'] == []


def collect_words(words):
    found = []
    for word in words:
        found.append(word.strip())
    return ' '.join(found), dict(enumerate(found)).items()


def recorded_in_profile_mode(path, built, function, *args):
    """The events of `function(*args)` recorded by a Timeline given every event in profile mode: directly, or (`built`)
    with each event built for a handler that reads a condition per event."""
    action = Timeline(path)
    handler = hunter.When(hunter.Q(), action, lambda event: None) if built else hunter.Q(action=action)
    with hunter.Tracer(profiling_mode=True).trace(handler):
        function(*args)
    return load(path)


@pytest.mark.parametrize('built', [False, True], ids=['direct', 'built'])
def test_profile_mode_pairs_each_method_call_of_a_builtin(tmp_path, backend, built):
    # `found.append(x)`: CPython 3.12+ reports the call and the return of a method called on an object with two bound
    # methods, made for each event. Each call is still one span, closed by its own return.
    events = recorded_in_profile_mode(tmp_path / 'trace.json', built, collect_words, [' a', 'b ', ' c '])
    (caller,) = spans_of(events, 'collect_words')
    counts = names(events)
    assert (counts['list.append'], counts['str.strip'], counts['str.join'], counts['dict.items']) == (3, 3, 1, 1)
    for name in ('list.append', 'str.strip', 'str.join', 'dict.items'):
        for span in spans_of(events, name):
            assert 'ended' not in span['args'] and inside(span, caller), span


class Words(list):
    pass


class Unhelpful(type):
    """A metaclass that hides a builtin method's descriptor: looking `append` up raises, `insert` is another one."""

    def __getattribute__(cls, name):
        if name == 'append':
            raise RuntimeError(f'no {name} here')
        if name == 'insert':
            return str.upper
        return super().__getattribute__(name)


class Hidden(list, metaclass=Unhelpful):
    pass


def method_calls_on_instances(alive, count):
    for _ in range(count):
        words = Words(['a'])
        words.append('b')
        hidden = Hidden()
        hidden.append('c')
        hidden.insert(0, 'd')
        with open(__file__, encoding='utf-8') as file:
            file.readline()
        alive.extend(weakref.ref(instance) for instance in (words, file))


@pytest.mark.parametrize('built', [False, True], ids=['direct', 'built'])
def test_profile_mode_records_keep_no_instance_alive(tmp_path, backend, built):
    # A builtin method called on an instance (`file.readline()`) is recorded as the C function that ran, named by
    # the type that has it (a list subclass's append is `list.append`): the record does not hold the bound method,
    # which would keep the instance (a file, a buffer) alive until the file is written.
    path = tmp_path / 'trace.json'
    action = Timeline(path)
    handler = hunter.When(hunter.Q(), action, lambda event: None) if built else hunter.Q(action=action)
    alive = []
    with hunter.Tracer(profiling_mode=True).trace(handler):
        method_calls_on_instances(alive, 3)
        gc.collect()
        assert [reference for reference in alive if reference() is not None] == []
    counts = names(load(path))
    assert counts['list.append'] == 3 and counts['TextIOWrapper.readline'] == 3
    assert 'Words.append' not in counts
    # A type that hides the method's descriptor is named by the bound method, as before (kept alive).
    assert counts['Hidden.append'] == counts['Hidden.insert'] == 3 and 'str.upper' not in counts


def methods_sharing_a_c_function(lock):
    # `_thread.lock` runs `__exit__` and `release` with one C function, and `__enter__` and `acquire` with another.
    lock.__enter__()
    lock.__exit__(None, None, None)
    lock.acquire()
    lock.release()


@pytest.mark.xfail(hunter._hunter.PORTABLE, reason="portable mode cannot read a method's definition (README)", strict=True)
@pytest.mark.parametrize('built', [False, True], ids=['direct', 'built'])
def test_profile_mode_names_methods_that_share_a_c_function_apart(tmp_path, backend, built):
    # They were named by the first of them seen (`release` recorded as `lock.__exit__`).
    events = recorded_in_profile_mode(tmp_path / 'trace.json', built, methods_sharing_a_c_function, threading.Lock())
    spans = sorted(spans_of(events), key=lambda span: span['ts'])
    called = [span['name'] for span in spans if span['name'].startswith('lock.')]
    assert called == ['lock.__enter__', 'lock.__exit__', 'lock.acquire', 'lock.release']


def test_profile_mode_records_builtins_directly_as_when_each_event_is_built(tmp_path, backend):
    # A Timeline given every event records builtins without building them; a condition read per event (a second
    # action, here) makes each event built and the handler run. Same recording, builtins included.
    def program():
        timing_samples.pair(0)
        square_root_or_none(-1)
        timing_samples.through_c(2)
        timing_samples.catch(2, 0)

    def shape(events):
        spans = spans_by_parent(events, filename=None)
        return spans, collections.Counter((event['name'], event['args'].get('ended')) for event in spans_of(events))

    direct = tmp_path / 'direct.json'
    with hunter.Tracer(profiling_mode=True).trace(hunter.Q(action=Timeline(direct))):
        program()
    built = tmp_path / 'built.json'
    with hunter.Tracer(profiling_mode=True).trace(hunter.When(hunter.Q(), Timeline(built), lambda event: None)):
        program()
    direct, built = load(direct), load(built)
    assert shape(direct) == shape(built)
    spans = shape(direct)[0]
    assert spans[0, 'pair', 'sleeper'] == spans[0, 'through_c', 'sleeper'] == 2
    assert spans[0, 'sleeper', 'time.sleep'] >= 4 and spans[0, 'square_root_or_none', 'math.sqrt'] == 1


def methods_called_through_descriptors(count):
    words = Words(['a'])
    hidden = Hidden()
    for _ in range(count):
        [].append(1)
        words.append('b')
        list.append(words, 'c')
        'x'.upper()
        int.__sizeof__(True)
        type.mro(int)
        hidden.append('d')


def test_profile_mode_records_methods_left_unbound_as_when_each_event_is_built(tmp_path, backend):
    # On 3.12+ CPython reports `items.append(x)` as the method descriptor `list.append` and its `self`: the monitoring
    # backend records such a call without binding the method when it records every event directly, named and paired
    # as the bound method settrace reports (which a built event carries) is: by the instance's type, on instances of
    # subclasses too; on a type (`type.mro(int)`) or where the type hides its descriptor, by the bound method.
    def record(path, handler_of):
        action = Timeline(path)
        with hunter.Tracer(profiling_mode=True).trace(handler_of(action)):
            methods_called_through_descriptors(3)
        return load(path)

    direct = record(tmp_path / 'direct.json', lambda action: hunter.Q(action=action))
    built = record(tmp_path / 'built.json', lambda action: hunter.When(hunter.Q(), action, lambda event: None))
    assert spans_by_parent(direct, filename=None) == spans_by_parent(built, filename=None)
    assert names(direct) == names(built)
    counts = names(direct)
    assert counts['list.append'] == 9 and counts['str.upper'] == 3 and counts['int.__sizeof__'] == 3
    assert counts['Hidden.append'] == 3 and 'Words.append' not in counts
    (caller,) = spans_of(direct, 'methods_called_through_descriptors')
    for name in ('list.append', 'str.upper', 'int.__sizeof__', 'Hidden.append', 'type.mro'):
        for span in spans_of(direct, name):
            assert 'ended' not in span['args'] and inside(span, caller), span


def test_arguments_through_the_bounded_safe_repr(tmp_path):
    events = recorded(tmp_path, timing_samples.pair, 0, args=True)
    assert [span['args']['args'] for span in spans_of(events)] == ['seconds=0'] * 3
    events = recorded(tmp_path, echo, 'y' * 500, predicate=hunter.Q(function='echo'), args=True, repr_limit=20)
    shown = spans_of(events, 'echo')[0]['args']['args']
    assert shown.startswith("value='yyy") and len(shown) < 60


def echo(value):
    return value


def timeline_shape(events):
    """Each thread's spans and instants in order (by start, the outer first), with their endings, and each span's
    parent: all of a recording but its times."""
    spans = spans_by_parent(events, timing_samples.__file__)
    instants = sorted(event['name'] for event in events if event['ph'] == 'i')
    endings = collections.Counter((event['name'], event['args'].get('ended')) for event in spans_of(events))
    return spans, instants, endings


def sample_program():
    """Calls, a generator, exceptions unwinding frames, threads, and calls through C code."""
    timing_samples.pair(0)
    timing_samples.consume(0)
    timing_samples.catch(3, 0)
    timing_samples.in_threads(2, 0)
    timing_samples.through_c(2)


def test_recorded_directly_as_when_each_event_is_built(tmp_path, backend):
    # A condition known per code object lets the engine record the events without building them; one that reads
    # each event's line (or a second action) makes it build every event and run the handler. Same recording.
    built = hunter.Q(module='timing_samples', lineno_gte=0)
    direct = recorded(tmp_path, sample_program, predicate=hunter.Q(module='timing_samples'))
    assert timeline_shape(direct) == timeline_shape(recorded(tmp_path, sample_program, predicate=built))
    path = tmp_path / 'two-actions.json'
    with hunter.Tracer().trace(hunter.When(hunter.Q(module='timing_samples'), Timeline(path), lambda event: None)):
        sample_program()
    assert timeline_shape(direct) == timeline_shape(load(path))
    assert spans_of(direct, 'unwind') and [event for event in direct if event['ph'] == 'i']
    assert timeline_shape(direct)[0][0, 'through_c', 'sleeper'] == 2


def test_every_event_recorded_directly_as_when_each_event_is_built(tmp_path, backend):
    # A Timeline given every event records them with no verdict per code at all (and the monitoring backend switches
    # on at once what code would need: exceptions, unwinding); a second action makes each event built. Same recording.
    def shape(events):
        instants = sorted(
            (event['name'], event['args']['function'])
            for event in events
            if event['ph'] == 'i' and event['args']['file'] == timing_samples.__file__
        )
        return spans_by_parent(events, timing_samples.__file__), instants

    direct = tmp_path / 'direct.json'
    with hunter.Tracer().trace(hunter.Q(action=Timeline(direct))):
        sample_program()
    built = tmp_path / 'built.json'
    with hunter.Tracer().trace(hunter.When(hunter.Q(), Timeline(built), lambda event: None)):
        sample_program()
    direct, built = shape(load(direct)), shape(load(built))
    assert direct == built
    assert direct[0][0, 'pair', 'sleeper'] == 2 and direct[0][0, 'catch', 'unwind'] == 1
    assert ('ValueError raised', 'catch') in direct[1] and direct[1].count(('ValueError raised', 'unwind')) >= 3


def in_a_thread(func, *args):
    thread = threading.Thread(target=func, args=args)
    thread.start()
    thread.join()


def test_recording_everything_follows_the_tracer_installed_on_each_thread(tmp_path, backend):
    # Each thread delivers its events to the tracer installed on it, as settrace does: a tracer started on a thread
    # replaces the one there until it stops; a thread started later has none without threading support.
    outer_path, inner_path = tmp_path / 'outer.json', tmp_path / 'inner.json'
    outer = hunter.Tracer(threading_support=False).trace(hunter.Q(action=Timeline(outer_path)))
    try:
        timing_samples.pair(0)
        in_a_thread(timing_samples.pair, 0)
        inner = hunter.Tracer(threading_support=False).trace(hunter.Q(action=Timeline(inner_path)))
        try:
            timing_samples.pair(0)
            in_a_thread(timing_samples.pair, 0)
            timing_samples.pair(0)
        finally:
            inner.stop()
        timing_samples.pair(0)
        in_a_thread(timing_samples.pair, 0)
        timing_samples.pair(0)
    finally:
        outer.stop()
    outer_events, inner_events = load(outer_path), load(inner_path)
    assert (names(outer_events)['pair'], names(inner_events)['pair']) == (3, 2)
    assert (names(outer_events)['sleeper'], names(inner_events)['sleeper']) == (6, 4)
    assert len({event['tid'] for event in spans_of(outer_events + inner_events, 'pair')}) == 1


def test_the_tracer_lets_its_recording_go_at_stop(tmp_path, backend):
    timeline = Timeline(tmp_path / 'trace.json')
    gone = weakref.ref(timeline)
    tracer = hunter.Tracer()
    with tracer.trace(hunter.Q(action=timeline)):
        echo('traced')
    del timeline
    gc.collect()
    assert gone() is None, gc.get_referrers(gone())
    assert tracer.handler is None


def test_the_collector_sees_what_a_tracer_holds_while_recording(tmp_path, backend):
    timeline = Timeline(tmp_path / 'trace.json')
    tracer = hunter.Tracer()
    with tracer.trace(hunter.Q(action=timeline)):
        held = gc.get_referents(tracer)
    assert tracer.handler is None
    # The handler, and the recording it hands every event to directly.
    assert sum(referent is timeline for referent in held) == 1 and any(isinstance(r, hunter.When) for r in held)


def test_options_changed_while_recording_are_followed(tmp_path, backend):
    path = tmp_path / 'trace.json'
    action = Timeline(path)
    with hunter.Tracer().trace(hunter.When(hunter.Q(function='echo'), action)):
        echo('before')
        action.args = True
        echo('after')
    assert [span['args'].get('args') for span in spans_of(load(path), 'echo')] == [None, "value='after'"]


@pytest.mark.skipif(sys.version_info < (3, 12), reason='sys.monitoring is 3.12+')
def test_monitoring_callbacks_called_by_hand_leave_the_real_calls_recorded(tmp_path):
    # The quickest recording path reads the running frame from the thread state: a callback called by hand runs in
    # the caller's frame, with another function's code. That mismatch takes the path of any event (which records
    # the running frame, as a built event has it): no crash, and the real calls are recorded as ever.
    path = tmp_path / 'trace.json'
    code = f"""
import sys, hunter
from hunter.actions import Timeline
def target(n): return n
tracer = hunter.Tracer(backend='monitoring')
tracer.trace(hunter.When(hunter.Q(function='target'), Timeline({str(path)!r})))
tool = next(i for i in range(6) if sys.monitoring.get_tool(i) == 'hunter')
events = sys.monitoring.events
start = sys.monitoring.register_callback(tool, events.PY_START, None)
sys.monitoring.register_callback(tool, events.PY_START, start)
finish = sys.monitoring.register_callback(tool, events.PY_RETURN, None)
sys.monitoring.register_callback(tool, events.PY_RETURN, finish)
for n in range(3):
    start(target.__code__, 0)
    target(n)
    finish(target.__code__, 0, None)
tracer.stop()
print('alive')
"""
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ['alive']
    target_spans = spans_of(load(path), 'target')
    assert len(target_spans) == 3
    assert not any('ended' in span['args'] for span in target_spans)


def sample_leaf():
    return 1


def traced_from_inside(path):
    """Starts tracing while running (its call is not seen, its return is), and calls a leaf."""
    tracer = hunter.Tracer()
    tracer.trace(hunter.When(hunter.Q(function_in=('traced_from_inside', 'stopped_from_inside', 'sample_leaf')), Timeline(path)))
    sample_leaf()
    return tracer


def stopped_from_inside(tracer):
    """Stops the tracer while running: its span ends at the stop."""
    sample_leaf()
    tracer.stop()


def test_frames_running_at_start_and_calls_open_at_stop_are_closed(tmp_path, backend):
    path = tmp_path / 'trace.json'
    tracer = traced_from_inside(path)
    stopped_from_inside(tracer)
    events = load(path)
    assert names(events) == {'sample_leaf': 2, 'traced_from_inside': 1, 'stopped_from_inside': 1}
    (started,) = spans_of(events, 'traced_from_inside')
    (stopped,) = spans_of(events, 'stopped_from_inside')
    assert started['args']['ended'] == 'began before tracing' and started['ts'] == 0
    assert stopped['args']['ended'] == 'running at stop'
    leaves = sorted(spans_of(events, 'sample_leaf'), key=lambda span: span['ts'])
    assert inside(leaves[0], started) and inside(leaves[1], stopped)
    assert started['ts'] + started['dur'] <= stopped['ts']


def test_ring_keeps_the_newest(tmp_path, backend):
    path = tmp_path / 'trace.json'
    action = Timeline(path, size=5, on_full='ring')
    with hunter.Tracer().trace(hunter.When(SAMPLES, action)):
        timing_samples.many(20)
    document = json.loads(path.read_text(), parse_float=Decimal)
    events = check_trace(document)
    # 20 sleepers then `many` itself, which returns last.
    assert names(events) == {'sleeper': 4, 'many': 1}
    assert document['otherData']['dropped'] == 16
    assert all(inside(sleeper, spans_of(events, 'many')[0]) for sleeper in spans_of(events, 'sleeper'))


def test_an_eviction_that_frees_a_code_object_may_run_python_code(tmp_path, backend):
    # Code compiled, run and dropped on the fly is held by its record alone, so a full ring frees it when it evicts
    # that record: its weakref callback runs inside the trace callback, and stops the tracer there.
    path = tmp_path / 'trace.json'
    tracer = hunter.Tracer()
    freed = []

    def stop_when_freed(reference):
        freed.append(reference)
        tracer.stop()

    references = []
    with tracer.trace(hunter.Q(action=Timeline(path, size=3))):
        for index in range(50):
            code = compile(f'result = {index}', f'<made {index}>', 'exec')
            references.append(weakref.ref(code, stop_when_freed))
            namespace = {}
            exec(code, namespace)
            assert namespace['result'] == index
            del code
            if freed:
                break
    assert freed and tracer.handler is None
    assert 0 < len(spans_of(load(path))) <= 3


def raise_and_catch(exception_type):
    try:
        raise exception_type
    except exception_type:
        pass


def test_evicted_exception_instants_let_their_exception_types_go(tmp_path, backend):
    # A full ring evicts exception instants with their exception types (classes made here, so that nothing else
    # keeps them once the collector has run): every evicted one must be let go exactly once.
    path = tmp_path / 'trace.json'
    made = [type(f'Made{index}', (Exception,), {}) for index in range(30)]
    freed = []
    references = [weakref.ref(exception_type, freed.append) for exception_type in made]
    action = Timeline(path, size=4)
    with hunter.Tracer().trace(hunter.Q(function='raise_and_catch', action=action)):
        for exception_type in made:
            raise_and_catch(exception_type)
    instants = [event for event in load(path) if event['ph'] == 'i']
    assert instants and all(instant['name'].startswith('Made') for instant in instants)
    del exception_type
    made.clear()
    gc.collect()
    # At most the four records still in the ring hold a type (the action is still alive).
    assert len(freed) >= len(references) - 4
    assert [reference for reference in references if reference() is not None] == references[len(freed) :]


def test_stop_keeps_the_oldest(tmp_path, backend):
    path = tmp_path / 'trace.json'
    action = Timeline(path, size=5, on_full='stop')
    with hunter.Tracer().trace(hunter.When(SAMPLES, action)):
        timing_samples.many(20)
    document = json.loads(path.read_text(), parse_float=Decimal)
    events = check_trace(document)
    assert names(events) == {'sleeper': 5}
    assert document['otherData']['dropped'] == 16
    first = min(span['ts'] for span in spans_of(events))
    assert first == 0


def test_options_are_checked():
    with pytest.raises(ValueError, match='size'):
        Timeline('x.json', size=0)
    with pytest.raises(ValueError, match='on_full'):
        Timeline('x.json', on_full='drop')
    # hunter's clipping of a value's text would keep all of it, and more, below 1.
    for limit in (0, -1, 'x'):
        with pytest.raises(ValueError, match=f'^repr_limit must be a positive int, not {limit!r}.$'):
            Timeline('x.json', args=True, repr_limit=limit)


@pytest.mark.parametrize(
    'name, value',
    [('size', 0), ('size', -1), ('size', 'x'), ('size', True), ('size', 2.0), ('on_full', 'bogus'), ('repr_limit', 0)],
)
def test_options_set_on_the_instance_are_checked_as_the_constructor_checks_them(tmp_path, backend, name, value):
    path = tmp_path / 'trace.json'
    with pytest.raises(ValueError) as constructed:
        Timeline(path, **{name: value})
    action = Timeline(path, size=50)
    with hunter.Tracer().trace(hunter.Q(function='echo', action=action)):
        echo('before')
        with pytest.raises(ValueError) as assigned:
            setattr(action, name, value)
        echo('after')
    # Refused at the assignment, with the constructor's error; the old value stays and the recording goes on.
    assert str(assigned.value) == str(constructed.value)
    assert (action.size, action.on_full) == (50, 'ring')
    document = json.loads(path.read_text(), parse_float=Decimal)
    assert names(check_trace(document)) == {'echo': 2}
    assert (document['otherData']['size'], document['otherData']['on_full']) == (50, 'ring')


@pytest.mark.parametrize('on_full', ['ring', 'stop'])
def test_a_smaller_size_set_while_recording_applies_to_what_is_kept_at_once(tmp_path, backend, on_full):
    path = tmp_path / 'trace.json'
    action = Timeline(path, size=10, on_full=on_full)
    with hunter.Tracer().trace(hunter.When(SAMPLES, action)):
        timing_samples.many(8)
        action.size = 3
        # Trimmed at once as a full buffer lets records go: ring keeps the newest, stop the oldest.
        kept = action.events()
        expected = {'sleeper': 2, 'many': 1} if on_full == 'ring' else {'sleeper': 3}
        assert names(spans_of(kept['traceEvents'])) == expected
        assert (kept['otherData']['dropped'], kept['otherData']['size']) == (6, 3)
        timing_samples.many(5)
    document = json.loads(path.read_text(), parse_float=Decimal)
    events = check_trace(document)
    assert names(events) == expected
    assert document['otherData'] == {'tool': 'hunter Timeline', 'dropped': 12, 'size': 3, 'on_full': on_full}


def test_a_larger_size_set_while_recording_keeps_more(tmp_path, backend):
    path = tmp_path / 'trace.json'
    action = Timeline(path, size=2, on_full='stop')
    with hunter.Tracer().trace(hunter.When(SAMPLES, action)):
        timing_samples.many(3)
        action.size = 6
        timing_samples.many(3)
    document = json.loads(path.read_text(), parse_float=Decimal)
    # Two of the first run's records, then four of the second's (the buffer has room again).
    assert names(check_trace(document)) == {'sleeper': 5, 'many': 1}
    assert document['otherData']['dropped'] == 2


def test_a_size_too_large_for_memory_is_no_limit(tmp_path, backend):
    path = tmp_path / 'trace.json'
    action = Timeline(path, size=2**70)
    with hunter.Tracer().trace(hunter.When(SAMPLES, action)):
        timing_samples.many(2)
        action.size = 2**80
        timing_samples.many(2)
    document = json.loads(path.read_text(), parse_float=Decimal)
    assert names(check_trace(document)) == {'sleeper': 4, 'many': 2}
    assert (document['otherData']['dropped'], document['otherData']['size']) == (0, 2**80)


def outer_changing(action):
    echo('before')
    # Taken by the Python side, refused when the native side reads the options at the next event: the handler fails
    # and the tracer is disabled.
    action.filename_alignment = 10**6
    echo('after')


def test_the_file_keeps_the_recording_when_the_handler_fails(tmp_path, backend, monkeypatch):
    path = tmp_path / 'trace.json'
    reported = []
    monkeypatch.setattr(sys, 'unraisablehook', reported.append)
    action = Timeline(path)
    tracer = hunter.Tracer()
    tracer.trace(hunter.When(hunter.Q(function_in=('echo', 'outer_changing')), action))
    try:
        outer_changing(action)
    finally:
        tracer.stop()
    # Written all the same, with what was recorded before the failure (the call open then closed at the stop); the
    # failure, reported by the event that met it, is not reported again at the stop.
    events = load(path)
    assert names(events) == {'echo': 1, 'outer_changing': 1}
    assert 'ended' in spans_of(events, 'outer_changing')[0]['args']
    assert reported == []


def test_exported_and_in_the_environment_language():
    assert hunter.Timeline is Timeline and 'Timeline' in hunter.__all__
    _, options = hunter._evaluate_arguments('action=Timeline("t.json", size=10, on_full="stop")', 'PYTHONHUNTER')
    assert isinstance(options['action'], Timeline) and (options['action'].size, options['action'].on_full) == (10, 'stop')


PROGRAM = """
    import sys
    def leaf():
        return 1
    def main(how):
        leaf()
        if how == 'exit':
            sys.exit(3)
        if how == 'raise':
            raise KeyError('uncaught')
    main(sys.argv[1])
"""


@pytest.mark.parametrize(('how', 'returncode'), [('end', 0), ('exit', 3), ('raise', 1)])
def test_written_at_the_end_of_the_program(tmp_path, how, returncode):
    script = tmp_path / 'program.py'
    script.write_text(textwrap.dedent(PROGRAM))
    path = tmp_path / 'trace.json'
    # As PYTHONHUNTER starts it: a tracer left running, stopped at exit.
    starter = f'import hunter, runpy, sys; sys.argv = [{str(script)!r}, {how!r}]; hunter.trace(module="__main__", action=hunter.Timeline({str(path)!r})); runpy.run_path(sys.argv[0], run_name="__main__")'
    result = subprocess.run([sys.executable, '-c', starter], capture_output=True, text=True, timeout=60)
    assert result.returncode == returncode, result.stderr
    events = load(path)
    assert names(events)['leaf'] == 1 and names(events)['main'] == 1
    if how != 'end':
        assert any(event['ph'] == 'i' for event in events)


def test_command_line(tmp_path):
    script = tmp_path / 'program.py'
    script.write_text(textwrap.dedent(PROGRAM))
    path = tmp_path / 'trace.json'
    result = subprocess.run(
        [sys.executable, '-m', 'hunter', '--timeline', str(path), 'module="__main__"', str(script), 'end'],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ''  # the Timeline is the only action
    events = load(path)
    assert names(events) == {'<module>': 1, 'main': 1, 'leaf': 1}


def test_calls_whose_returns_are_not_matched_end_at_their_last_known_time(tmp_path, backend):
    calls_only = hunter.Q(module='timing_samples', kind='call')
    events = recorded(tmp_path, timing_samples.catch, 2, SLEEP, predicate=calls_only)
    assert names(events) == {'catch': 1, 'unwind': 3, 'sleeper': 1}
    # Closed at stop, none still running (even where a later frame took the address of an ended one).
    assert {span['args']['ended'] for span in spans_of(events)} == {'unseen'}
    # Nothing after the sleeper's call was matched: every span ends at that call, the last time each was known to run.
    (sleeper,) = spans_of(events, 'sleeper')
    assert {span['ts'] + span['dur'] for span in spans_of(events)} == {sleeper['ts']}


def test_the_checker_rejects_partial_overlap():
    def span(ts, dur):
        return {'ph': 'X', 'name': 'f', 'cat': 'python', 'pid': 1, 'tid': 2, 'ts': Decimal(ts), 'dur': Decimal(dur), 'args': {'file': '', 'line': 0}}

    thread = {'ph': 'M', 'name': 'thread_name', 'pid': 1, 'tid': 2, 'args': {'name': 'main'}}
    check_trace({'traceEvents': [thread, span(0, 10), span(2, 3), span(5, 5), span(10, 1)]})
    with pytest.raises(AssertionError, match='partially'):
        check_trace({'traceEvents': [thread, span(0, 10), span(5, 6)]})
    with pytest.raises(AssertionError):
        check_trace({'traceEvents': [span(0, 1)]})  # no thread name


DIFFERENTIAL_PROGRAM = """
    import threading

    def fib(n):
        return n if n < 2 else fib(n - 1) + fib(n - 2)

    def numbers(count):
        for number in range(count):
            yield fib(number)

    def fails():
        raise ValueError('caught')

    def guarded():
        try:
            fails()
        except ValueError:
            return sum(numbers(5))

    def main():
        worker = threading.Thread(target=guarded)
        worker.start()
        worker.join()
        return guarded() + fib(6)
"""


def spans_by_parent(events, filename):
    """Counter of (thread, parent span name, span name) over the X events of `filename` (of every file and builtin
    when None), each span's parent being the innermost span of the same thread around it (None at the top). The
    names without VizTracer's location."""
    spans = collections.defaultdict(list)
    for event in events:
        if event['ph'] != 'X':
            continue
        name = event['name']
        location = event.get('args', {}).get('file')
        if location is None:  # VizTracer: "name (file:line)"
            name, _, location = name.rpartition(' (')
            location = location.rstrip(')').rpartition(':')[0]
        if filename is None or location == filename:
            spans[event['tid']].append((event['ts'], -event['dur'], event['ts'] + event['dur'], name))
    threads = {tid: index for index, tid in enumerate(sorted(spans, key=lambda tid: min(spans[tid])))}
    counted = collections.Counter()
    for tid, thread_spans in spans.items():
        open_spans = []
        for start, _, end, name in sorted(thread_spans):
            while open_spans and open_spans[-1][0] <= start:
                open_spans.pop()
            counted[threads[tid], open_spans[-1][1] if open_spans else None, name] += 1
            open_spans.append((end, name))
    return counted


def test_the_same_spans_as_viztracer(tmp_path):
    viztracer = pytest.importorskip('viztracer')
    program = tmp_path / 'program.py'
    program.write_text(textwrap.dedent(DIFFERENTIAL_PROGRAM))
    runner = 'import sys; sys.path.insert(0, sys.argv[1]); import program; {start}; program.main(); {stop}'
    ours, theirs = tmp_path / 'ours.json', tmp_path / 'theirs.json'
    recorders = {
        ours: ('import hunter; tracer = hunter.trace(module="program", action=hunter.Timeline(sys.argv[2]))', 'tracer.stop()'),
        theirs: (
            'from viztracer import VizTracer; tracer = VizTracer(output_file=sys.argv[2], verbose=0); tracer.start()',
            'tracer.stop(); tracer.save()',
        ),
    }
    for output, (start, stop) in recorders.items():
        command = [sys.executable, '-c', runner.format(start=start, stop=stop), str(tmp_path), str(output)]
        subprocess.run(command, check=True, timeout=120)
    ours_spans = spans_by_parent(load(ours), str(program))
    with open(theirs, encoding='utf-8') as file:
        theirs_spans = spans_by_parent(json.load(file, parse_float=Decimal)['traceEvents'], str(program))
    assert viztracer.__version__
    assert ours_spans == theirs_spans
    assert sum(ours_spans.values()) > 20


def test_times_are_those_of_perf_counter_ns(tmp_path, backend):
    # The records are timed with a cheaper clock (the CPU's counter, where the kernel keeps time with it) and made
    # nanoseconds of perf_counter_ns's clock when read: each span lies between readings taken around it.
    action = Timeline(tmp_path / 'trace.json')
    readings = []
    with hunter.Tracer().trace(hunter.When(hunter.Q(function='sleeper'), action)):
        for _ in range(3):
            readings.append(time.perf_counter_ns())
            timing_samples.sleeper(SLEEP)
        readings.append(time.perf_counter_ns())
    records, _, _ = action._timeline_snapshot()
    spans = sorted((start, end) for _, _, _, start, end, *_ in records)
    assert len(spans) == 3
    # Raw counts would be off by seconds; converted ones are off by the time of a clock read, plus however far the
    # monotonic clock strays from the counter's constant rate meanwhile (NTP slews it): a millisecond is ample.
    slack = 1_000_000
    for (start, end), before, after in zip(spans, readings, readings[1:]):
        assert before - slack <= start <= end <= after + slack
        assert end - start >= SLEEP * 1e9


@pytest.mark.parametrize('profiling_mode', [False, True])
def test_writing_while_recording_records_none_of_the_writing(tmp_path, profiling_mode):
    # Checkpoints written by the traced program while its Timeline records everything: the serialisation is hunter's
    # own code, which recorded itself into the buffer (some four spans per record written: each checkpoint multiplied
    # the file). Only the program's calls are recorded, its calls of write() among them.
    path = tmp_path / 'trace.json'
    timeline = Timeline(str(path))

    def work():
        return sum(range(10))

    with hunter.Tracer(profiling_mode=profiling_mode).trace(timeline):
        for _ in range(4):
            work()
            timeline.write()
            timeline.dumps()
    events = load(path)
    assert names(events)[qualified_name(work)] == 4
    hunters_own = collections.Counter(
        span['name'] for span in spans_of(events) if span['args']['file'] == hunter.actions.__file__
    )
    assert hunters_own == {qualified_name(Timeline.write): 4, qualified_name(Timeline.dumps): 4}


def qualified_name(function):
    """A function's name in a Timeline: its qualified name (3.11+), else its name."""
    return getattr(function.__code__, 'co_qualname', function.__code__.co_name)
