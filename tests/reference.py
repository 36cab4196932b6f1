"""Finds the interpreter with the real hunter 3.9.0 that differential tests compare against.

Set ``HUNTER_REFERENCE_PYTHON`` to a python executable that can ``import hunter`` (version 3.9.0); otherwise the
python of ``$HUNTER_REFERENCE_VENVS/<major>.<minor>`` (default ``/work/refvenvs``) matching the running interpreter
is used. The reference must run the same Python version as the tests, because several reprs differ by version.
"""

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REFERENCE_HUNTER_VERSION = '3.9.0'
DEFAULT_REFERENCE_VENVS = '/work/refvenvs'


@functools.lru_cache(maxsize=None)
def _find_reference_python():
    """Returns ``(python_path, None)`` or ``(None, reason it is unavailable)``."""
    explicit = os.environ.get('HUNTER_REFERENCE_PYTHON')
    if explicit:
        candidate = Path(explicit)
    else:
        venvs = Path(os.environ.get('HUNTER_REFERENCE_VENVS', DEFAULT_REFERENCE_VENVS))
        candidate = venvs / f'{sys.version_info[0]}.{sys.version_info[1]}' / 'bin' / 'python'
    if not candidate.exists():
        return None, f'no reference interpreter at {candidate} (set HUNTER_REFERENCE_PYTHON)'
    probe = subprocess.run(
        [str(candidate), '-c', 'import sys, hunter; print(hunter.__version__, *sys.version_info[:2])'],
        capture_output=True,
        text=True,
        env=clean_environment(),
    )
    if probe.returncode:
        return None, f'{candidate} cannot import hunter: {probe.stderr.strip()}'
    version, *python_version = probe.stdout.split()
    if version != REFERENCE_HUNTER_VERSION:
        return None, f'{candidate} has hunter {version}, not {REFERENCE_HUNTER_VERSION}'
    if tuple(map(int, python_version)) != sys.version_info[:2]:
        return None, f'{candidate} runs Python {".".join(python_version)}, the tests run {sys.version_info[0]}.{sys.version_info[1]}'
    return str(candidate), None


def reference_python():
    """The reference interpreter's path; skips the calling test when there is none."""
    path, reason = _find_reference_python()
    if path is None:
        pytest.skip(reason)
    return path


def clean_environment(**overrides):
    """The environment for subprocesses: no hunter activation variables, a fixed hash seed (set order)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(('PYTHONHUNTER', 'PUREPYTHONHUNTER'))}
    env['PYTHONHASHSEED'] = '0'
    env.update(overrides)
    return env


def run_json_script(python, script, *args):
    """Runs ``script`` (a path) with ``python`` and returns the JSON it prints on stdout."""
    result = subprocess.run(
        [python, str(script), *args],
        capture_output=True,
        text=True,
        env=clean_environment(),
        timeout=300,
    )
    if result.returncode:
        raise AssertionError(f'{python} {script} failed:\n{result.stderr}')
    return json.loads(result.stdout)


def run_on_both(script, *args):
    """Runs ``script`` with the reference interpreter and with the interpreter under test (so both see the same
    hash seed and a fresh process); returns ``(reference_output, our_output)``."""
    reference = reference_python()
    return run_json_script(reference, script, *args), run_json_script(sys.executable, script, *args)
