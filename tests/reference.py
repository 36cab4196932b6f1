"""Locate (and optionally create) an interpreter that has the real hunter 3.9.0 installed.

The differential tests run code under this *reference* interpreter and under the current one,
then compare. The reference must be the same CPython minor version as the current interpreter.

Discovery order:

1. ``HUNTER_REFERENCE_PYTHON`` (path of a python executable);
2. ``$HUNTER_REFERENCE_VENVS/<major.minor>/bin/python`` (default ``/work/refvenvs``);
3. ``<repo>/.venv-ref-<major.minor>/bin/python``;
4. if ``HUNTER_REFERENCE_CREATE=1``, that last venv is created with
   ``pip install --only-binary=:all: hunter==3.9.0``.

A candidate is accepted only if it really imports hunter 3.9.0 on the right Python version.
"""

import contextlib
import fcntl
import functools
import json
import os
import subprocess
import sys
import venv
from pathlib import Path

REFERENCE_HUNTER_VERSION = '3.9.0'
PYTHON_VERSION = f'{sys.version_info[0]}.{sys.version_info[1]}'
REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_REFVENV_PYTHON = Path(os.environ.get('HUNTER_REFERENCE_VENVS', '/work/refvenvs')) / PYTHON_VERSION / 'bin' / 'python'
LOCAL_REFVENV = REPO_ROOT / f'.venv-ref-{PYTHON_VERSION}'

# Variables that would make a child interpreter start tracing, load config, or import from elsewhere.
_INHERITED_VARIABLES_TO_DROP = ('PYTHONHUNTER', 'PYTHONHUNTERCONFIG', 'PYTHONPATH', 'PUREPYTHONHUNTER', 'PYTHONHOME')


def child_env(extra=None):
    """Environment for child interpreters: no hunter activation, fixed hash seed, no inherited import paths."""
    env = {key: value for key, value in os.environ.items() if key not in _INHERITED_VARIABLES_TO_DROP}
    env['PYTHONHASHSEED'] = '0'
    env['PYTHONDONTWRITEBYTECODE'] = '1'
    env.update(extra or {})
    return env


@contextlib.contextmanager
def exclusively(name):
    """Holds the cross-process lock ``name`` (a file under the repository's ``.cache/locks``): the pytest-xdist
    workers share the reference venvs, which only one at a time may create or install into."""
    locks = REPO_ROOT / '.cache' / 'locks'
    locks.mkdir(parents=True, exist_ok=True)
    with open(locks / f'{name}.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _is_reference_interpreter(python):
    probe = 'import sys, hunter; print("%d.%d" % sys.version_info[:2], hunter.__version__)'
    try:
        result = subprocess.run([python, '-c', probe], capture_output=True, text=True, env=child_env(), timeout=60)
    except OSError:
        return False
    return result.returncode == 0 and result.stdout.split() == [PYTHON_VERSION, REFERENCE_HUNTER_VERSION]


def _venv_python(venv_dir):
    return Path(venv_dir) / 'bin' / 'python'


def create_reference_venv(venv_dir=LOCAL_REFVENV):
    """Create ``venv_dir`` from the current interpreter's base and install the real hunter 3.9.0 wheel into it."""
    venv.EnvBuilder(with_pip=True, clear=True).create(venv_dir)
    python = str(_venv_python(venv_dir))
    subprocess.run(
        [python, '-m', 'pip', 'install', '--quiet', '--only-binary=:all:', f'hunter=={REFERENCE_HUNTER_VERSION}'],
        check=True,
        env=child_env(),
    )
    return python


@functools.lru_cache(maxsize=None)
def reference_python():
    """Path of a python executable with the real hunter 3.9.0 for this Python minor version, or None."""
    explicit = os.environ.get('HUNTER_REFERENCE_PYTHON')
    candidates = [explicit] if explicit else []
    candidates += [str(SHARED_REFVENV_PYTHON), str(_venv_python(LOCAL_REFVENV))]
    for candidate in candidates:
        if Path(candidate).exists() and _is_reference_interpreter(candidate):
            return candidate
    if os.environ.get('HUNTER_REFERENCE_CREATE') == '1':
        with exclusively(LOCAL_REFVENV.name):
            # Another worker may have made it while this one waited.
            python = str(_venv_python(LOCAL_REFVENV))
            if not (Path(python).exists() and _is_reference_interpreter(python)):
                python = create_reference_venv()
            if _is_reference_interpreter(python):
                return python
    return None


def run_python(python, code, args=(), *, env=None, input=None, timeout=600):
    """Run ``python -c code *args`` with a clean environment (see ``child_env``) and capture text output."""
    return subprocess.run(
        [python, '-c', code, *args],
        input=input,
        capture_output=True,
        text=True,
        env=child_env(env),
        cwd=str(REPO_ROOT),
        timeout=timeout,
    )


def run_reference(code, args=(), *, env=None, input=None, timeout=600):
    """Like ``run_python`` under the reference interpreter. Raises RuntimeError if there is none."""
    python = reference_python()
    if python is None:
        raise RuntimeError(f'no reference interpreter with hunter {REFERENCE_HUNTER_VERSION} for Python {PYTHON_VERSION}')
    return run_python(python, code, args, env=env, input=input, timeout=timeout)


def require_reference_python():
    """The reference interpreter's path; skips the calling test when there is none."""
    import pytest

    python = reference_python()
    if python is None:
        pytest.skip(f'no reference interpreter with hunter {REFERENCE_HUNTER_VERSION} for Python {PYTHON_VERSION}')
    return python


def run_json_script(python, script, *args):
    """Runs ``script`` (a path) with ``python`` in a clean environment and returns the JSON it prints."""
    result = subprocess.run(
        [python, str(script), *args], capture_output=True, text=True, env=child_env(), timeout=300
    )
    if result.returncode:
        raise AssertionError(f'{python} {script} failed:\n{result.stderr}')
    return json.loads(result.stdout)


def run_on_both(script, *args):
    """Runs ``script`` under the reference interpreter and under the one running the tests (each a fresh process
    with the same hash seed); returns ``(reference_output, our_output)``."""
    return run_json_script(require_reference_python(), script, *args), run_json_script(sys.executable, script, *args)


def run_script_on_pure_and_ours(script, backend=None):
    """Runs the Python file ``script`` as ``__main__`` under the reference interpreter with hunter's pure build
    (``PUREPYTHONHUNTER``) and under the one running the tests (on ``backend``, when given); returns both completed
    processes, ``(reference, ours)``."""
    code = f'import runpy; runpy.run_path({str(script)!r}, run_name="__main__")'
    expected = run_python(require_reference_python(), code, env={'PUREPYTHONHUNTER': '1'})
    ours = run_python(sys.executable, code, env={'PYTHONHUNTERBACKEND': backend} if backend else None)
    return expected, ours
