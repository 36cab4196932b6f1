"""
Differential tests for hunter.actions: every scenario of actions_differential/driver.py must print exactly what
the real hunter 3.9.0 prints (after masking memory addresses and pids).

The reference side always runs in /work/refvenvs/<version> (override the location with HUNTER_REFVENVS).
The candidate side is, by default, our hunter/actions.py substituted into the real hunter, so the actions are
checked independently of our tracer. Set HUNTER_CANDIDATE_PYTHON to a python that has our whole package
installed (same Python version as HUNTER_CANDIDATE_VERSION) to compare tracer + actions end to end.
"""

import functools
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
SCENARIO_DIR = HERE / 'actions_differential'
OUR_ACTIONS = HERE.parent / 'python' / 'hunter' / 'actions.py'
REFVENVS = Path(os.environ.get('HUNTER_REFVENVS', '/work/refvenvs'))
CANDIDATE_PYTHON = os.environ.get('HUNTER_CANDIDATE_PYTHON')
VERSIONS = ['3.9', '3.10', '3.11', '3.12', '3.13']
# Upstream's tracer and Event come in two builds, with visible differences (threading_support=None shows thread
# names only in the pure one). The actions must match both. Our package has a single build, compared with Cython.
IMPLEMENTATIONS = ['cython', 'pure']
if CANDIDATE_PYTHON:
    IMPLEMENTATIONS = ['cython']
    VERSIONS = [os.environ.get('HUNTER_CANDIDATE_VERSION', f'{sys.version_info[0]}.{sys.version_info[1]}')]

# Addresses, including the pieces of one that survive truncation by repr_limit ('... [...] x7f31cf5edfc0>').
ADDRESS = re.compile(r'0x[0-9a-fA-F]+|(?<![0-9A-Za-z_])x?(?=[a-f]*[0-9])[0-9a-f]{5,}(?![0-9A-Za-z_])')
PID = re.compile(r'^\[\d+\] *', re.MULTILINE)
HEADER = re.compile(r'^=== (\w+)\n', re.MULTILINE)


def ref_python(version):
    return REFVENVS / version / 'bin' / 'python'


def normalise(output):
    # A pid prefix is padded to a fixed width, so masking it must keep the width.
    output = PID.sub(lambda match: '[PID]'.ljust(len(match.group())), output)
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


@functools.lru_cache(maxsize=None)
def site_packages(version):
    return subprocess.run(
        [str(ref_python(version)), '-c', 'import sysconfig; print(sysconfig.get_path("purelib"))'],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def candidate_command(version):
    """The interpreter command line that runs our actions (substituted into the real hunter unless told otherwise)."""
    if CANDIDATE_PYTHON:
        return [CANDIDATE_PYTHON]
    return [str(ref_python(version)), '-S']


@functools.lru_cache(maxsize=None)
def candidate_output(version, implementation):
    if CANDIDATE_PYTHON:
        return run_driver(candidate_command(version), version, implementation)
    return run_driver(
        candidate_command(version),
        version,
        implementation,
        '--substitute-actions',
        str(OUR_ACTIONS),
        '--site-packages',
        site_packages(version),
    )


SCENARIOS = re.findall(r'^@scenario\ndef (\w+)', (SCENARIO_DIR / 'driver.py').read_text(), re.MULTILINE)


@pytest.mark.parametrize('scenario', SCENARIOS)
@pytest.mark.parametrize('implementation', IMPLEMENTATIONS)
@pytest.mark.parametrize('version', VERSIONS)
def test_same_output_as_hunter(version, implementation, scenario):
    if not ref_python(version).exists():
        pytest.skip(f'no reference venv for {version}')
    expected = reference_output(version, implementation)[scenario]
    assert 'SCENARIO CRASHED' not in expected, expected
    assert candidate_output(version, implementation)[scenario] == expected
