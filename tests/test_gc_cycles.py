"""Reference cycles through hunter's native objects are collected (issue 13, item 5).

Each test builds a cycle through one native class, with a weakly referenced marker object in it, drops
every outside reference and checks that one `gc.collect()` frees the marker. Without `__traverse__` the
collector cannot see the class's references and keeps the whole cycle alive.
"""

import gc
import importlib
import io
import os
import subprocess
import sys
import textwrap
import weakref

import pytest

import hunter
from hunter._hunter import And, Backlog, Event, From, Not, Or, Query, Tracer, When


class Marker:
    """A weakly referenceable object whose attributes close a cycle."""


def collected(build):
    """Whether the marker of the cycle `build(marker)` makes is freed once the cycle is unreachable."""
    marker = Marker()
    build(marker)
    alive = weakref.ref(marker)
    del marker
    gc.collect()
    return alive() is None


class Callback:
    """A predicate/action whose attributes can point back at what holds it."""

    def __call__(self, event):
        return True


def test_event_in_a_local_of_its_own_frame_is_collected():
    # The case, in a fresh interpreter so that its memory figure means something.
    script = textwrap.dedent(
        """
        import gc, weakref, hunter
        def rss_mb():
            with open('/proc/self/statm') as statm:
                return int(statm.read().split()[1]) * 4096 / 1e6
        pending = []
        def keep_call_event(event):
            if event.kind == 'call' and event.function == 'target':
                pending.append(event)
        def target():
            event = pending.pop()  # this call's own event, now in a local of the frame it holds
            ballast = bytearray(10000)
            return weakref.ref(event)
        gc.collect()
        before = rss_mb()
        hunter.trace(keep_call_event)
        alive = [target() for _ in range(20000)]
        hunter.stop()
        gc.collect()
        print(sum(ref() is not None for ref in alive), round(rss_mb() - before))
        """
    )
    output = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True, check=True).stdout
    still_alive, growth_mb = map(int, output.split())
    assert still_alive == 0
    assert growth_mb < 30  # was 213 MB (hunter: 4)


def test_event_whose_arg_holds_it():
    def build(marker):
        box = [marker]
        event = Event(sys._getframe(), 'return', box)
        marker.event = event

    assert collected(build)


def test_event_whose_cached_locals_hold_it():
    def build(marker):
        def frame_with_event():
            holder = marker
            event = Event(sys._getframe(), 'line')
            event.locals  # cached in the event: a dict holding the marker
            holder.event = event

        frame_with_event()

    assert collected(build)


def test_query_with_a_value_holding_it():
    def build(marker):
        values = [marker]
        marker.query = Query(function_in=values)
        values.append(marker.query)

    assert collected(build)


def test_junctions_and_not_holding_a_predicate_that_holds_them():
    def combined_with(combine):
        def build(marker):
            callback = Callback()
            callback.marker = marker
            callback.owner = combine(callback)

        return build

    assert collected(combined_with(lambda callback: And(callback, Query(module='x'))))
    assert collected(combined_with(lambda callback: Or(callback, Query(module='x'))))
    assert collected(combined_with(Not))
    assert collected(combined_with(lambda callback: When(Query(), callback)))
    assert collected(combined_with(lambda callback: When(callback, hunter.CallPrinter(stream=io.StringIO()))))
    assert collected(combined_with(From))
    assert collected(combined_with(lambda callback: From(Query(), callback)))
    assert collected(
        combined_with(lambda callback: Backlog(callback, action=hunter.CallPrinter(stream=io.StringIO())))
    )


def test_backlog_whose_queued_events_hold_it():
    def build(marker):
        backlog = Backlog(Query(function='never'), size=10, action=hunter.CallPrinter(stream=io.StringIO()))

        def traced():
            holder = marker
            holder.backlog = backlog
            backlog(Event(sys._getframe(), 'line'))  # rejected: queued, with this frame

        traced()

    assert collected(build)


def test_printer_whose_stream_holds_it():
    class Stream(io.StringIO):
        pass

    def build(marker):
        stream = Stream()
        printer = hunter.CallPrinter(stream=stream)
        printer(Event(sys._getframe(), 'call'))  # reads its options natively
        stream.printer = printer
        stream.marker = marker

    assert collected(build)


def test_running_tracer_shows_its_handler_to_the_collector():
    # A stopped tracer drops its handler, and a running one is referenced by the interpreter: a cycle is
    # only collected once the tracer stops, but the collector must see what it holds all along.
    # Traced in a frame of its own: the settrace backend makes itself the `f_trace` of the frames it sees (as hunter
    # does), which holds it until they finish.
    def trace_and_stop():
        callback = Callback()
        tracer = Tracer()
        callback.tracer = tracer
        tracer.trace(callback)
        try:
            assert callback in gc.get_referents(tracer)
        finally:
            tracer.stop()
        return weakref.ref(tracer)

    alive = trace_and_stop()
    gc.collect()
    assert alive() is None


def test_call_stack_shows_its_calls_to_the_collector():
    printer = hunter.CallPrinter(stream=io.StringIO())
    try:

        def traced():
            printer(Event(sys._getframe(), 'call'))

        traced()
        stacks = [stack for stack in printer.locals.values() if len(stack)]
        assert stacks
        assert 'traced' in gc.get_referents(stacks[0])
    finally:
        printer.cleanup()


def test_collection_during_tracing_keeps_everything_working():
    # A collection in the middle of events traverses live events, predicates and printers.
    stream = io.StringIO()
    printer = hunter.CallPrinter(stream=stream)
    seen = []

    def collect_and_count(event):
        gc.collect()
        seen.append(event.function)

    def target(n):
        return [n] * 3

    with hunter.trace(hunter.Q(function='target', actions=[printer, collect_and_count])):
        for n in range(3):
            target(n)
    assert seen.count('target') >= 3
    assert 'target' in stream.getvalue()


def test_collection_while_an_event_is_being_made():
    # CPython 3.11 makes an Event's instance dict after tracking the object and before its fields are written; with a
    # collection at every allocation, that one traverses the half-made event (it read zeroed memory: a segfault).
    script = textwrap.dedent("""
        import gc, sys, hunter
        gc.set_threshold(1)
        kept = []
        def traced(i):
            return i
        with hunter.trace(function='traced', kind='call', action=kept.append):
            for i in range(50):
                traced(i)
        made = [hunter.Event(sys._getframe(), 'line', None) for _ in range(50)]
        clones = [made[0].clone() for _ in range(50)]
        print(len(kept), len(made), len(clones), {event.function for event in kept})
    """)
    result = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True, timeout=120)
    assert (result.returncode, result.stdout, result.stderr) == (0, "50 50 50 {'traced'}\n", '')


BACKENDS = ('settrace', 'monitoring') if sys.version_info >= (3, 12) else ('settrace',)

# Portable mode cannot read a dict's version: its caches hold the globals they know (see `compat::DictIdentity`), and
# keep what they found for them.
PORTABLE = getattr(importlib.import_module('hunter._hunter'), 'PORTABLE', False)
holds_globals = pytest.mark.skipif(PORTABLE, reason='portable mode: the per-code caches hold their globals')
sees_no_change = pytest.mark.skipif(PORTABLE, reason='portable mode: the facts first found for globals stay')

# Handlers that judge code by its module facts (a per-code verdict), or build events (which read them).
HANDLERS = {
    'function query': lambda: hunter.Q(function='fn', action=lambda event: None),
    'stdlib=False': lambda: hunter.Q(stdlib=False, action=lambda event: None),
    'module_startswith': lambda: hunter.Q(module_startswith='namespace', action=lambda event: None),
    'CallPrinter': lambda: hunter.CallPrinter(stream=io.StringIO()),
    'Timeline of a module': lambda: hunter.Q(module='namespace', action=hunter.actions.Timeline(os.devnull)),
}


def run_in_namespace(marker, source, name='namespace'):
    """Runs `fn` of `source` exec'd into a fresh namespace holding `marker`: a cycle (namespace -> fn -> its
    code's globals), as a module dropped from `sys.modules` or an `exec`'d template leaves."""
    namespace = {'__name__': name, 'marker': marker}
    exec(compile(source, f'<{name}>', 'exec'), namespace)
    namespace['fn']()


@holds_globals
@pytest.mark.parametrize('handler', HANDLERS)
@pytest.mark.parametrize('backend', BACKENDS)
def test_globals_of_traced_code_are_collected_while_tracing(handler, backend, monkeypatch):
    # The code's cached facts (in the code object's extra, which the collector cannot see) must not hold its globals.
    monkeypatch.setenv('PYTHONHUNTERBACKEND', backend)
    tracer = hunter.Tracer()
    tracer.trace(HANDLERS[handler]())
    try:
        assert all(collected(lambda marker: run_in_namespace(marker, 'def fn():\n    return 1\n')) for _ in range(3))
    finally:
        tracer.stop()
    assert collected(lambda marker: run_in_namespace(marker, 'def fn():\n    return 2\n'))


@pytest.mark.parametrize('backend', BACKENDS)
def test_code_run_with_successive_globals_has_each_ones_module(backend, monkeypatch):
    # One code object exec'd into fresh namespaces, each freed before the next (so often at the same address): the
    # facts and verdicts cached for one must not be taken for the next.
    monkeypatch.setenv('PYTHONHUNTERBACKEND', backend)
    code = compile('def fn():\n    return __name__\nfn()\n', '<shared>', 'exec')
    names = [f'namespace{number}' for number in range(6)]

    def traced(predicate):
        seen = []
        with hunter.trace(hunter.Q(predicate, kind='call', action=lambda event: seen.append(event.module))):
            for name in names:
                exec(code, {'__name__': name})
        return seen

    assert traced(hunter.Q(filename='<shared>')) == [name for name in names for _ in ('<module>', 'fn')]
    assert traced(hunter.Q(module='namespace3')) == ['namespace3', 'namespace3']


@sees_no_change
@pytest.mark.parametrize('backend', BACKENDS)
def test_globals_renamed_while_traced_show_their_new_module(backend, monkeypatch):
    # Changing `__name__` changes the module the code's later events are of (hunter reads f_globals at each event).
    monkeypatch.setenv('PYTHONHUNTERBACKEND', backend)
    namespace = {'__name__': 'before'}
    exec(compile('def fn():\n    return 1\n', '<renamed>', 'exec'), namespace)
    modules = []
    with hunter.trace(hunter.Q(filename='<renamed>', kind='call', action=lambda event: modules.append(event.module))):
        namespace['fn']()
        namespace['__name__'] = 'after'
        namespace['fn']()
    assert modules == ['before', 'after']
