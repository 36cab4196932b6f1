"""
Differential tests for hunter.actions: every scenario of actions_differential/driver.py must print exactly what
the real hunter 3.9.0 prints (after masking memory addresses and pids).

The reference side runs in /work/refvenvs/<version> (override the location with HUNTER_REFVENVS), on the same
Python version as the candidate. The candidate is our whole package (tracer + actions) as installed for the
interpreter running the tests; HUNTER_CANDIDATE_PYTHON names another interpreter that has it installed.
"""

import functools
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import reference

HERE = Path(__file__).parent
SCENARIO_DIR = HERE / 'actions_differential'
REFVENVS = Path(os.environ.get('HUNTER_REFVENVS', '/work/refvenvs'))
CANDIDATE_PYTHON = os.environ.get('HUNTER_CANDIDATE_PYTHON', sys.executable)
VERSION = subprocess.run(
    [CANDIDATE_PYTHON, '-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], capture_output=True, text=True, check=True
).stdout.strip()
# Upstream's tracer, Event and predicates come in two builds (Cython and pure Python) with visible differences.
# Ours is compared with the Cython build, except where our engine deliberately behaves like the pure one:
# an Event keeps threading_support=None (so thread names appear once a second thread runs; Cython turns None
# into False), and the stack events Backlog makes up keep their frame's module (Cython's have the module '', which
# its module filters drop).
IMPLEMENTATION = 'cython'
PURE_BUILD_SCENARIOS = {
    'call_repr_limits',
    'threads_auto',
    'vars_threads_auto',
    'backlog',
    'backlog_stack_events_keep_their_module',
    'backlog_code_printer',
}
# On 3.9 the Cython build reports stale line numbers in profile mode (it sets f_trace, which makes 3.9 return the
# f_lineno that line tracing would maintain, and nothing maintains it while profiling); the pure build is right.
if VERSION == '3.9':
    PURE_BUILD_SCENARIOS.add('profile_mode')

# Addresses, including the pieces of one that survive truncation by repr_limit ('... [...] x7f31cf5edfc0>').
ADDRESS = re.compile(r'0x[0-9a-fA-F]+|(?<![0-9A-Za-z_])x?(?=[a-f]*[0-9])[0-9a-f]{5,}(?![0-9A-Za-z_])')
PID = re.compile(r'^\[\d+\] *', re.MULTILINE)
HEADER = re.compile(r'^=== (\w+)\n', re.MULTILINE)


def ref_python(version):
    """The real hunter 3.9.0 for ``version``: HUNTER_REFVENVS/<version>, else what tests/reference.py finds (it
    creates a venv when HUNTER_REFERENCE_CREATE=1) for the running interpreter's version."""
    candidate = REFVENVS / version / 'bin' / 'python'
    if not candidate.exists() and version == reference.PYTHON_VERSION and reference.reference_python():
        candidate = Path(reference.reference_python())
    return candidate


def normalise(output):
    # A pid prefix is padded to a fixed width, so masking it must keep the width.
    output = PID.sub(lambda match: '[PID]'.ljust(len(match.group())), output)
    # Our hunter.util.safe_repr is native: the default repr_func shows as a builtin in the actions' reprs.
    output = re.sub(r'<function safe_repr at 0x[0-9a-f]+>', '<built-in function safe_repr>', output)
    return ADDRESS.sub('0xADDR', output)


def split_scenarios(output):
    parts = HEADER.split(output)
    assert parts[0] == '', f'unexpected output before the first scenario: {parts[0][:500]!r}'
    return dict(zip(parts[1::2], parts[2::2]))


@functools.lru_cache(maxsize=None)
def scenario_dir(version):
    # Both sides run the very same files, so the traced file names and line numbers match.
    target = Path(os.environ.get('TMPDIR', '/tmp')) / f'hunter-actions-differential-{os.getpid()}-{version}'
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(SCENARIO_DIR, target, ignore=shutil.ignore_patterns('__pycache__'))
    return target


def run_driver(python_command, version, implementation, *driver_args):
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE='1', PYTHONHASHSEED='0')
    for name in ('PYTHONHUNTER', 'PYTHONHUNTERCONFIG', 'PUREPYTHONHUNTER', 'NO_COLOR'):
        env.pop(name, None)
    if implementation == 'pure':
        env['PUREPYTHONHUNTER'] = '1'
    result = subprocess.run(
        [*python_command, str(scenario_dir(version) / 'driver.py'), *driver_args],
        capture_output=True,
        text=True,
        env=env,
        cwd=scenario_dir(version),
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    return split_scenarios(normalise(result.stdout))


@functools.lru_cache(maxsize=None)
def reference_output(version, implementation):
    return run_driver([str(ref_python(version))], version, implementation)


def candidate_command():
    return [CANDIDATE_PYTHON]


@functools.lru_cache(maxsize=None)
def candidate_output(version):
    return run_driver(candidate_command(), version, IMPLEMENTATION)


SCENARIOS = re.findall(r'^@scenario\ndef (\w+)', (SCENARIO_DIR / 'driver.py').read_text(), re.MULTILINE)


@pytest.mark.parametrize('scenario', SCENARIOS)
def test_same_output_as_hunter(scenario):
    if not ref_python(VERSION).exists():
        pytest.skip(f'no reference venv for {VERSION}')
    expected = reference_output(VERSION, 'pure' if scenario in PURE_BUILD_SCENARIOS else IMPLEMENTATION)[scenario]
    assert 'SCENARIO CRASHED' not in expected, expected
    assert candidate_output(VERSION)[scenario] == expected
