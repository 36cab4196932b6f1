"""Subclasses of hunter.Tracer and hunter.Event, which hunter's pure-Python build allows (they are plain classes there):
a constructor of one's own, a trace function of one's own (`__call__`), an event with more properties."""

import gc
import os
import sys
import weakref

import pytest

import hunter
import reference

BACKENDS = ['settrace', 'monitoring'] if sys.version_info >= (3, 12) else ['settrace']


@pytest.mark.parametrize('backend', BACKENDS)
def test_subclasses_behave_as_in_hunters_pure_build(backend):
    script = os.path.join(os.path.dirname(__file__), 'samples', 'tracer_subclasses.py')
    expected, ours = reference.run_script_on_pure_and_ours(script, backend)
    assert expected.returncode == 0, expected.stderr
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == expected.stdout
    assert "recording seen [('call', 'work'), ('line', 'work')" in ours.stdout
    assert "declining handled [('call', 'work')]" in ours.stdout
    assert "stops ['Noted', 'Noted', 'NotedOwnCall']" in ours.stdout
    assert 'predicates read its properties True False' in ours.stdout
    assert ours.stdout.endswith('end of program\nstopped at exit by its own stop()\n')


def work():
    return sum(range(3))


class Counting(hunter.Tracer):
    def __call__(self, frame, kind, arg):
        if frame.f_code is work.__code__:
            self.kinds.append(kind)
        return super().__call__(frame, kind, arg)


@pytest.mark.parametrize('backend', BACKENDS)
def test_a_trace_function_of_its_own_is_what_cpython_calls(backend):
    handled = []
    tracer = Counting(backend=backend)
    tracer.kinds = []
    tracer.trace(lambda event: handled.append(event.kind) if event.function == 'work' else None)
    try:
        assert sys.gettrace() is tracer
        # Only the settrace backend calls a trace function.
        assert tracer.backend == 'settrace'
        work()
    finally:
        tracer.stop()
    assert sys.gettrace() is None
    assert tracer.kinds == ['call', 'line', 'return']
    assert handled == ['call', 'line', 'return']


@pytest.mark.parametrize('backend', BACKENDS)
def test_a_subclass_that_keeps_the_base_trace_function_keeps_its_backend(backend):
    class Named(hunter.Tracer):
        name = 'named'

    handled = []
    tracer = Named(backend=backend)
    with tracer.trace(lambda event: handled.append(event.kind) if event.function == 'work' else None):
        work()
    assert tracer.backend == backend
    assert handled == ['call', 'line', 'return']


def test_a_constructor_that_skips_the_base_one_gets_the_defaults():
    # hunter's pure build fails there (its attributes are set by the base constructor); the defaults are the
    # least surprising instead.
    class Silent(hunter.Tracer):
        def __init__(self, label):
            self.label = label

    tracer = Silent('quiet')
    assert (tracer.label, tracer.threading_support, tracer.profiling_mode, tracer.handler) == ('quiet', None, False, None)
    handled = []
    with tracer.trace(lambda event: handled.append(event.function)):
        work()
    assert 'work' in handled


def test_a_constructor_of_its_own_hands_the_options_on():
    class Profiling(hunter.Tracer):
        def __init__(self, label, *, backend=None):
            super().__init__(None, True, backend)
            self.label = label

    tracer = Profiling('mine', backend='settrace')
    assert (tracer.label, tracer.threading_support, tracer.profiling_mode, tracer.backend) == (
        'mine',
        None,
        True,
        'settrace',
    )
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        Profiling('x', colour=1)


def test_the_options_can_be_set_again_before_the_first_trace_only():
    tracer = hunter.Tracer()
    tracer.__init__(threading_support=False, profiling_mode=True)
    assert (tracer.threading_support, tracer.profiling_mode) == (False, True)
    handled = []
    with tracer.trace(handled.append):
        work()
    assert handled
    with pytest.raises(RuntimeError, match="cannot change once it has traced"):
        tracer.__init__(profiling_mode=False)
    assert tracer.profiling_mode is True
    # The tracer still works as it was.
    handled.clear()
    with tracer.trace(handled.append):
        work()
    assert {event.kind for event in handled} >= {'call', 'return'}
    assert 'line' not in {event.kind for event in handled}


@pytest.mark.parametrize('backend', BACKENDS)
def test_a_trace_function_of_its_own_may_stop_its_tracer(backend):
    class StopsAtFirstLine(hunter.Tracer):
        def __call__(self, frame, kind, arg):
            if kind == 'line' and frame.f_code is work.__code__:
                self.stop()
                return None
            return super().__call__(frame, kind, arg)

    tracer = StopsAtFirstLine(backend=backend)
    handled = []
    tracer.trace(lambda event: handled.append(event.kind) if event.function == 'work' else None)
    assert work() == 3
    assert sys.gettrace() is None
    assert handled == ['call']
    tracer.stop()


def test_a_subclass_in_a_reference_cycle_is_collected():
    class Holder(hunter.Tracer):
        pass

    tracer = Holder()
    tracer.itself = tracer
    with tracer.trace(lambda event: None):
        work()
    gone = weakref.ref(tracer)
    del tracer
    gc.collect()
    assert gone() is None


def test_an_event_subclass_keeps_its_type_and_fields():
    class Described(hunter.Event):
        @property
        def where(self):
            return f'{self.function}:{self.kind}:{self.depth}'

    event = Described(sys._getframe(), 'call', None, 4, 5, None)
    assert type(event) is Described
    assert event.where == 'test_an_event_subclass_keeps_its_type_and_fields:call:4'
    assert hunter.Q(function='test_an_event_subclass_keeps_its_type_and_fields')(event)
    event.note = 'extra'
    assert event.note == 'extra'
