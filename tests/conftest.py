"""Shared pytest configuration.

The behavioural tests are written against hunter's public API, so they can run against the real
hunter 3.9.0 (to validate the tests themselves) as well as against ours. Two markers handle the places
where the expected behaviour is deliberately not hunter 3.9.0's:

* ``deliberate_change``: we fix an upstream bug (stdlib misclassification, #103; missing source for
  ``<frozen ...>`` modules, #125; ``hunter.tracer.Tracer`` as the reported class). Skipped when the
  ``hunter`` under test is the real one.
* ``pure_semantics``: hunter 3.9.0's Cython and pure builds disagree and ours follows the pure build.
  Skipped when the ``hunter`` under test is the real one's Cython build (run those with PUREPYTHONHUNTER=1).

A third marker, ``settrace_backend``, pins ``PYTHONHUNTERBACKEND=settrace`` for tests about what only the
settrace backend does (``sys.gettrace()`` is the tracer, ``sys.settrace(sys.gettrace())``...): on 3.12+
ours defaults to the sys.monitoring backend, which leaves ``sys.settrace`` alone.
"""

import importlib.util
import os

import pytest

# The colour conventions ours honours (FORCE_COLOR, NO_COLOR, TERM=dumb) must not leak in from the shell or CI: the
# tests, and the processes they start (ours and the reference hunter), choose colours explicitly.
for _name in ('FORCE_COLOR', 'NO_COLOR'):
    os.environ.pop(_name, None)
if os.environ.get('TERM') == 'dumb':
    os.environ['TERM'] = 'xterm'


def hunter_under_test_is_reference():
    """True when ``import hunter`` gives the real hunter 3.9.0 rather than ours (which has ``hunter._hunter``)."""
    return importlib.util.find_spec('hunter._hunter') is None


def runs_legacy_sub_interpreters():
    """Whether this CPython can start a legacy sub-interpreter from Python (``_testcapi.run_in_subinterp``)."""
    try:
        import _testcapi
    except ImportError:
        return False
    return hasattr(_testcapi, 'run_in_subinterp')


def hunter_under_test_is_reference_cython():
    import hunter

    return hunter_under_test_is_reference() and hunter.Event.__module__ == 'hunter._event'


def pytest_configure(config):
    config.addinivalue_line('markers', 'deliberate_change(reason): asserts behaviour we deliberately change from hunter 3.9.0')
    config.addinivalue_line('markers', 'slow: builds or installs something (a wheel, a venv); runs by default')
    config.addinivalue_line('markers', "pure_semantics: asserts pure hunter 3.9.0 behaviour where its Cython build differs")
    config.addinivalue_line('markers', 'settrace_backend: runs with PYTHONHUNTERBACKEND=settrace (sys.settrace semantics)')


@pytest.fixture(autouse=True)
def _backend_for_marked_tests(request, monkeypatch):
    if request.node.get_closest_marker('settrace_backend'):
        monkeypatch.setenv('PYTHONHUNTERBACKEND', 'settrace')


def pytest_collection_modifyitems(config, items):
    is_reference = hunter_under_test_is_reference()
    is_reference_cython = hunter_under_test_is_reference_cython()
    for item in items:
        marker = item.get_closest_marker('deliberate_change')
        if marker and is_reference:
            reason = marker.args[0] if marker.args else 'deliberate change'
            item.add_marker(pytest.mark.skip(reason=f'real hunter 3.9.0 differs on purpose: {reason}'))
        if item.get_closest_marker('pure_semantics') and is_reference_cython:
            item.add_marker(pytest.mark.skip(reason='real hunter 3.9.0 Cython build differs; run with PUREPYTHONHUNTER=1'))
