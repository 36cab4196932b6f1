"""The cookbook's "probe" recipes: tracing one function on demand, woven in with aspectlib."""

import functools
import io
import sys
import textwrap

import pytest

import hunter

aspectlib = pytest.importorskip('aspectlib', reason='aspectlib (a test dependency) is not installed')


@pytest.fixture
def target_module(tmp_path, monkeypatch):
    (tmp_path / 'probe_target.py').write_text(
        textwrap.dedent(
            """
            def helper(value):
                return value + 1

            def compute(value):
                return helper(value) * 2

            def untouched(value):
                return helper(value)
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import probe_target

    yield probe_target
    del sys.modules['probe_target']


def probe_with_tracer(qualname, *actions, **filters):
    """Trace only inside calls of ``qualname``, with a bare Tracer (no config, no atexit hook), as the cookbook does."""

    def tracing_decorator(func):
        @functools.wraps(func)
        def tracing_wrapper(*args, **kwargs):
            with hunter.Tracer().trace(hunter.When(hunter.Query(**filters), *actions)):
                return func(*args, **kwargs)

        return tracing_wrapper

    return aspectlib.weave(qualname, tracing_decorator)


def probe_with_wrap(qualname, *actions, **kwargs):
    return aspectlib.weave(qualname, functools.partial(hunter.wrap, actions=actions, **kwargs))


def call_lines(output):
    return [line.split('=> ')[1] for line in output.getvalue().splitlines() if '=> ' in line]


def test_probe_with_a_bare_tracer(target_module):
    output = io.StringIO()
    with probe_with_tracer('probe_target.compute', hunter.CallPrinter(stream=output), kind='call', module='probe_target'):
        assert target_module.compute(1) == 4
        assert target_module.untouched(1) == 2
    assert call_lines(output) == ['compute(value=1)', 'helper(value=1)']
    assert sys.gettrace() is None

    # Rolled back: no more tracing.
    target_module.compute(1)
    assert len(call_lines(output)) == 2


def test_probe_with_wrap(target_module):
    output = io.StringIO()
    with probe_with_wrap('probe_target.compute', hunter.CallPrinter(stream=output), kind='call'):
        assert target_module.compute(5) == 12
        assert target_module.untouched(5) == 6
        assert target_module.compute(6) == 14
    assert call_lines(output) == ['compute(value=5)', 'helper(value=5)', 'compute(value=6)', 'helper(value=6)']
    assert sys.gettrace() is None


def test_probe_with_wrap_local(target_module):
    output = io.StringIO()
    with probe_with_wrap('probe_target.compute', hunter.CallPrinter(stream=output), local=True):
        target_module.compute(1)
    events = [line.split()[1] for line in output.getvalue().splitlines()]
    # local=True: the wrapped function's own events and its direct calls, not what happens inside them.
    assert events == ['call', 'line', 'call', 'return', 'return'], output.getvalue()
