"""Randomised hostile use of events, predicates and actions: real, finished, foreign and stand-in frames with
missing or wrong-typed attributes, wrong-typed event fields, and handlers that stop, restart or re-enter
tracing from inside an event. Every case may raise a Python exception; none may crash the interpreter.

``HUNTER_FUZZ_CASES`` sets the number of cases (CI runs a bounded number; the long run in the issue's
closing note used 1,000,000) and ``HUNTER_FUZZ_SEED`` the seed (random by default, printed on failure).
"""

import io
import os
import random
import sys
import types

import pytest

import hunter
from hunter import Backlog
from hunter import From
from hunter import Not
from hunter import Q
from hunter import When

CASES = int(os.environ.get('HUNTER_FUZZ_CASES', '3000'))
SEED = int(os.environ.get('HUNTER_FUZZ_SEED', random.SystemRandom().randrange(2**32)))
KINDS = ['call', 'line', 'return', 'exception', 'c_call', 'c_return', 'c_exception']


def sample(a, b=2, *rest, key=None, **options):
    inner = a
    return sys._getframe()


def running_frames():
    """Frames that are still executing (this test's own stack)."""
    frame = sys._getframe()
    frames = []
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back
    return frames


class StandIn:
    """A frame stand-in whose attributes the fuzzer chooses."""


class Hostile:
    """A value whose dunder methods misbehave."""

    def __repr__(self):
        raise RuntimeError('no repr')

    def __eq__(self, other):
        raise RuntimeError('no eq')

    __hash__ = None

    def __len__(self):
        raise RuntimeError('no len')

    def __getattr__(self, name):
        raise RuntimeError(f'no {name}')


class Fuzzer:
    def __init__(self, seed):
        self.random = random.Random(seed)
        self.completed = 0
        self.finished = [sample(1), sample('x', 3, 4, 5, key=6, z=7)]
        cleared = sample(9)
        cleared.clear()
        self.finished.append(cleared)

    def choice(self, options):
        return self.random.choice(options)

    def value(self, depth=0):
        choices = [
            None, 0, -1, 2**63, 2**70, 'text', b'bytes', 3.5, [], {}, (), {'__name__': 5}, {'__name__': None},
            Hostile(), sample.__code__, object(), self.choice(self.finished), StandIn(), int, KINDS[0], '',
            list(range(50)), 'x' * 5000, {'a': 1, 'rest': (1,)}, types.SimpleNamespace(co_name=1),
        ]
        if depth < 2 and self.random.random() < 0.2:
            return [self.value(depth + 1) for _ in range(self.random.randrange(3))]
        return self.choice(choices)

    def stand_in(self):
        frame = StandIn()
        attributes = {
            'f_code': lambda: self.choice([sample.__code__, self.fake_code(), self.value()]),
            'f_globals': lambda: self.choice([{'__name__': 'fuzz', '__file__': __file__}, globals(), self.value()]),
            'f_locals': lambda: self.choice([{'a': 1, 'b': 2}, self.value()]),
            'f_lineno': lambda: self.choice([1, 10**6, -5, self.value()]),
            'f_lasti': lambda: self.choice([0, 2, 10**9, -1, self.value()]),
            'f_back': lambda: self.choice([None, self.choice(self.finished), StandIn(), self.value()]),
        }
        for name, make in attributes.items():
            if self.random.random() < 0.8:
                setattr(frame, name, make())
        return frame

    def fake_code(self):
        code = types.SimpleNamespace()
        for name, value in [('co_name', 'fake'), ('co_filename', self.choice(['', 'f.py', 'x.so', 5])),
                            ('co_code', self.choice([b'\x01\x02', b'', 'abc', 7])), ('co_varnames', ('a',)),
                            ('co_argcount', self.choice([0, 1, 5, -1])), ('co_kwonlyargcount', 0), ('co_flags', 0),
                            ('co_cellvars', ())]:
            if self.random.random() < 0.85:
                setattr(code, name, value)
        return code

    def frame(self):
        return self.choice([
            lambda: self.choice(self.finished),
            lambda: self.choice(running_frames()),
            self.stand_in,
            lambda: None,
            self.value,
        ])()

    def event(self):
        kind = self.choice(KINDS + [self.value()])
        event = hunter.Event(self.frame(), kind, self.value(), self.choice([0, 3, -2]), self.choice([0, 9]),
                             self.choice([None, True, False]))
        for _ in range(self.random.randrange(3)):
            self.choice([
                lambda: setattr(event, 'frame', self.frame()),
                lambda: setattr(event, 'locals', self.value()),
                lambda: setattr(event, 'globals', self.value()),
                lambda: setattr(event, 'depth', self.choice([0, 5, -1])),
                lambda: setattr(event, 'detached', self.choice([True, False])),
            ])()
        if self.random.random() < 0.2:
            event = event.detach(self.choice([None, repr, lambda value: value]))
        return event

    def query(self):
        field = self.choice(['function', 'module', 'filename', 'lineno', 'kind', 'depth', 'calls', 'stdlib',
                             'source', 'fullsource', 'locals', 'globals', 'arg', 'code', 'instruction',
                             'threadname', 'threadid', 'builtin'])
        operator = self.choice(['', '_in', '_contains', '_startswith', '_endswith', '_regex', '_lt', '_gte', '_has'])
        value = self.choice(['sample', 'fuzz', 1, ['call', 'line'], ('a', 'b'), '.*', self.value()])
        return Q(**{field + operator: value})

    def predicate(self, depth=0):
        simple = [self.query, lambda: Q(kind='call'), lambda: Q(function='sample')]
        if depth > 1:
            return self.choice(simple)()
        return self.choice(simple + [
            lambda: self.predicate(depth + 1) & self.predicate(depth + 1),
            lambda: self.predicate(depth + 1) | self.predicate(depth + 1),
            lambda: Not(self.predicate(depth + 1)),
            lambda: When(self.predicate(depth + 1), self.action()),
            lambda: From(self.predicate(depth + 1), self.predicate(depth + 1), watermark=self.choice([0, -1, 2])),
            lambda: Backlog(self.predicate(depth + 1), size=self.choice([1, 5]), stack=self.choice([0, 3, 20]),
                            vars=self.choice([True, False]), action=self.printer()),
        ])()

    def printer(self):
        stream = io.StringIO()
        options = dict(stream=stream, repr_limit=self.choice([0, 5, 1024]), force_colors=self.choice([True, False]),
                       filename_alignment=self.choice([0, 40]))
        return self.choice([
            lambda: hunter.CallPrinter(**options),
            lambda: hunter.CodePrinter(**options),
            lambda: hunter.VarsPrinter('a', 'a.b', 'rest[0]', **options),
            lambda: hunter.VarsSnooper(**options),
            lambda: hunter.StackPrinter(depth=self.choice([1, 3]), **options),
            lambda: hunter.ErrorSnooper(max_backlog=3, **options),
        ])()

    def action(self):
        return self.choice([self.printer, lambda: (lambda event: None)])()

    def run_case(self):
        """One case; building its event, predicate or printer may itself be rejected with an exception."""
        try:
            self.run_case_unguarded()
            self.completed += 1
        except Exception:
            pass

    def run_case_unguarded(self):
        event = self.event()
        operation = self.choice(['attributes', 'predicate', 'printer'])
        if operation == 'attributes':
            for name in ['function', 'module', 'filename', 'lineno', 'locals', 'globals', 'stdlib', 'source',
                         'fullsource', 'code', 'instruction', 'threadid', 'threadname', 'function_object']:
                swallow(getattr, event, name)
            swallow(repr, event)
            swallow(event.detach, self.choice([None, repr]))
            swallow(event.clone)
        elif operation == 'predicate':
            predicate = self.predicate()
            for _ in range(self.random.randrange(1, 4)):
                swallow(lambda: predicate(self.choice([event, self.event()])))
        else:
            printer = self.printer()
            for _ in range(self.random.randrange(1, 4)):
                swallow(lambda: printer(self.choice([event, self.event()])))


def swallow(function, *args):
    try:
        function(*args)
    except Exception:
        pass


def test_hostile_events_through_every_predicate_and_action():
    fuzzer = Fuzzer(SEED)
    print(f'HUNTER_FUZZ_SEED={SEED}')
    for _ in range(CASES):
        fuzzer.run_case()
    hunter.CallPrinter.cleanup()
    # Most cases must get past building their inputs, or the fuzzer would only be testing the constructors.
    assert fuzzer.completed > CASES // 2


def traced_work(depth):
    if depth:
        return traced_work(depth - 1) + 1
    return 0


@pytest.mark.filterwarnings('ignore:There is no tracer to stop')
@pytest.mark.parametrize('backend', ['settrace', 'monitoring'])
def test_handlers_that_stop_restart_and_reenter_tracing(backend):
    if backend == 'monitoring' and sys.version_info < (3, 12):
        pytest.skip('sys.monitoring is 3.12+')
    rng = random.Random(SEED)
    print(f'HUNTER_FUZZ_SEED={SEED}')
    stream = io.StringIO()
    tracers = []

    def chaotic(event):
        move = rng.randrange(8)
        if move == 0:
            hunter.stop()
        elif move == 1 and len(tracers) < 4:
            tracers.append(hunter.trace(Q(function='traced_work', action=hunter.CallPrinter(stream=stream)),
                                        backend=backend))
        elif move == 2 and tracers:
            tracers.pop().stop()
        elif move == 3:
            traced_work(2)
        elif move == 4:
            event.frame = rng.choice([None, StandIn(), sys._getframe()])
            swallow(hunter.CallPrinter(stream=stream), event)
        elif move == 5:
            sys.settrace(sys.gettrace())

    for _ in range(max(CASES // 20, 20)):
        tracer = hunter.Tracer(backend=backend)
        tracer.trace(Q(function='traced_work', action=chaotic))
        try:
            traced_work(rng.randrange(5))
        finally:
            tracer.stop()
            while tracers:
                tracers.pop().stop()
    assert traced_work(3) == 3
