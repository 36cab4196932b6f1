"""Subclasses of hunter.Tracer and hunter.Event as hunter's pure-Python build lets a program write them: printed
results that do not depend on the implementation (tests/test_subclassing.py compares them with hunter 3.9.0's)."""

import sys
import threading

import hunter

handled = []
seen = []


def work(count):
    total = 0
    for number in range(count):
        total += number
    return total


def on_thread():
    return work(1)


def handler(event):
    if event.function in ('work', 'on_thread'):
        handled.append((event.kind, event.function))


def run(tracer, count, installed_hook=None):
    """Traces work(count) with `tracer`; returns whether `installed_hook()` (sys.gettrace, say) was the tracer."""
    tracer.trace(handler)
    installed = installed_hook is not None and installed_hook() is tracer
    work(count)
    tracer.stop()
    return installed


def report(title):
    print(title, 'handled', handled)
    print(title, 'seen', seen)
    handled.clear()
    seen.clear()


class Labelled(hunter.Tracer):
    """A subclass with a constructor of its own, handing the options on."""

    def __init__(self, label, **options):
        super().__init__(**options)
        self.label = label


class Recording(hunter.Tracer):
    """A trace function of its own that hands the events on: CPython calls it for every event."""

    def __call__(self, frame, kind, arg):
        if frame.f_code.co_name in ('work', 'on_thread'):
            seen.append((kind, frame.f_code.co_name))
        return super().__call__(frame, kind, arg)


class Filtering(hunter.Tracer):
    """One that keeps some events from the handler (hunter's cookbook-style override)."""

    def __call__(self, frame, kind, arg):
        if kind == 'line':
            return self
        return super().__call__(frame, kind, arg)


labelled = Labelled('mine', threading_support=False)
print('labelled', labelled.label, labelled.threading_support, labelled.profiling_mode, labelled.handler)
run(labelled, 2)
report('labelled')

recording = Recording()
installed = run(recording, 2, sys.gettrace)
print('recording installed itself', installed, 'left', sys.gettrace())
report('recording')

recording = Recording(threading_support=True)
recording.trace(handler)
thread = threading.Thread(target=on_thread)
thread.start()
thread.join()
recording.stop()
print('thread handled', sorted(set(handled)))
print('thread seen', sorted(set(seen)))
handled.clear()
seen.clear()

installed = run(Recording(profiling_mode=True), 1, sys.getprofile)
print('profiling installed itself', installed, 'left', sys.getprofile())
report('profiling')

run(Filtering(), 2)
report('filtering')


class Declining(hunter.Tracer):
    """The usual trace-function idiom: None at a frame's `call` leaves its lines untraced."""

    def __call__(self, frame, kind, arg):
        kept = super().__call__(frame, kind, arg)
        return None if frame.f_code is work.__code__ else kept


run(Declining(), 2)
report('declining')

stops = []


class Noted(hunter.Tracer):
    """A `stop()` of its own, which every way of stopping calls."""

    def stop(self):
        stops.append(type(self).__name__)
        super().stop()


class NotedOwnCall(Noted):
    def __call__(self, frame, kind, arg):
        return super().__call__(frame, kind, arg)


def failing(event):
    if event.function == 'work':
        raise RuntimeError('the handler fails')


with Noted(threading_support=False).trace(handler):
    work(1)
for tracer_class in (Noted, NotedOwnCall):
    failed = tracer_class(threading_support=False)
    failed.trace(failing)
    work(1)
    print('failed', tracer_class.__name__, 'handler', failed.handler)
print('stops', stops)
report('noted')


class Described(hunter.Event):
    @property
    def where(self):
        return f'{self.function}:{self.kind}'


described = Described(sys._getframe(), 'call', None, 0, 0, None)
print('event subclass', type(described).__name__, described.where, isinstance(described, hunter.Event))


class Tagged(hunter.Event):
    """A constructor of its own: the base one takes the event's fields."""

    def __init__(self, frame, kind, tag):
        super().__init__(frame, kind, None, 0, 0, None)
        self.tag = tag


tagged = Tagged(sys._getframe(), 'line', 'my-tag')
print('tagged', tagged.kind, tagged.function, tagged.tag)
hunter.Event.__init__(tagged, None, 'return', 'value', 7, 8, True)
print('initialised again', tagged.kind, tagged.arg, tagged.depth, tagged.calls, tagged.threading_support)


class Renamed(hunter.Event):
    @property
    def function(self):
        return 'renamed'


renamed = Renamed(sys._getframe(), 'call', None, 0, 0, None)
print('predicates read its properties', hunter.Q(function='renamed')(renamed), hunter.Q(function='<module>')(renamed))


class AtExit(hunter.Tracer):
    def stop(self):
        sys.stdout.write('stopped at exit by its own stop()\n')
        super().stop()


# hunter.trace() makes hunter.Tracer, which the program may replace; the tracer left running stops at exit.
hunter.Tracer = AtExit
hunter.trace(function='nothing_at_all')
print('end of program')
