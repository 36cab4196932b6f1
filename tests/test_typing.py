"""The types shipped with the package: ``py.typed`` and the stubs beside the modules, checked by mypy's stubtest
against the installed package, and ``typing/public_api.py`` (the whole public API, typed) under ``mypy --strict``.

The mypy checks run when mypy is installed (CI's types lane installs it: .ci/run); the rest runs everywhere.
"""

import os
import subprocess
import sys

import pytest

from conftest import hunter_under_test_is_reference
from reference import child_env

pytestmark = pytest.mark.skipif(hunter_under_test_is_reference(), reason='hunter 3.9.0 ships no types')

TESTS = os.path.dirname(os.path.abspath(__file__))
PUBLIC_API_EXAMPLE = os.path.join(TESTS, 'typing', 'public_api.py')
STUBTEST_ALLOWLIST = os.path.join(TESTS, 'typing', 'stubtest-allowlist.txt')
TYPED_MODULES = ('__init__', '_hunter', 'actions', 'config', 'const', 'event', 'predicates', 'remote', 'tracer', 'util')


def test_installed_package_is_marked_typed_and_has_every_stub():
    import hunter

    package = os.path.dirname(hunter.__file__)
    missing = [name for name in ('py.typed', *(f'{module}.pyi' for module in TYPED_MODULES)) if not os.path.isfile(os.path.join(package, name))]
    assert missing == []


def test_typed_example_runs():
    # The example type-checks only if it also does what it says at run time.
    result = subprocess.run(
        [sys.executable, PUBLIC_API_EXAMPLE], capture_output=True, text=True, env=child_env(), timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert ' events, ' in result.stdout


def run_mypy(*arguments):
    # From the tests directory: the checked package must be the installed one, not a source tree beside it.
    return subprocess.run(
        [sys.executable, '-m', *arguments], capture_output=True, text=True, env=child_env(), timeout=300, cwd=TESTS
    )


def test_stubs_match_the_installed_package():
    pytest.importorskip('mypy')
    result = run_mypy('mypy.stubtest', 'hunter', '--allowlist', STUBTEST_ALLOWLIST)
    assert result.returncode == 0, result.stdout + result.stderr


def test_public_api_example_passes_mypy_strict():
    pytest.importorskip('mypy')
    result = run_mypy('mypy', '--strict', '--cache-dir', os.devnull, PUBLIC_API_EXAMPLE)
    assert result.returncode == 0, result.stdout + result.stderr
