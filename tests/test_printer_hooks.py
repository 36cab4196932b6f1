"""
Printer subclasses that replace ``output``, ``pid_prefix``, ``thread_prefix``, ``filename_prefix``, ``try_repr``,
``try_str`` or ``try_source`` get them called exactly where hunter 3.9.0 calls them, with the same arguments, and
print the same bytes: each scenario of printer_hooks/driver.py (a printer class and the hook replaced; live and
detached events, colours off and on) must print exactly what the real hunter prints, hook calls included.

Compared with hunter's pure-Python build, which hunter-rs presents itself as: the Cython build's
``Event.detach`` filters ``globals`` and ``locals`` before ``arg``, which shows in the logged ``try_repr`` calls.
"""

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_actions_differential import VERSION
from test_actions_differential import normalise
from test_actions_differential import ref_python
from test_actions_differential import split_scenarios

HERE = Path(__file__).parent
DRIVER = HERE / 'printer_hooks' / 'driver.py'
SCENARIOS = [
    f'{printer}_{hook}'
    for printer in ('call', 'code', 'vars', 'snooper', 'stack', 'error_snooper')
    for hook in ('output', 'pid_prefix', 'thread_prefix', 'filename_prefix', 'try_repr', 'try_str', 'try_source', 'recording_all')
] + ['debug_printer', 'instance_hook']


@functools.lru_cache(maxsize=None)
def run_driver(python):
    # Both sides run the very same files, so file names and line numbers match.
    directory = Path(os.environ.get('TMPDIR', '/tmp')) / f'hunter-printer-hooks-{os.getpid()}'
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir()
    shutil.copy(DRIVER, directory)
    shutil.copy(HERE / 'actions_differential' / 'demo_target.py', directory)
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE='1', PYTHONHASHSEED='0', PUREPYTHONHUNTER='1')
    for name in ('PYTHONHUNTER', 'PYTHONHUNTERCONFIG', 'NO_COLOR'):
        env.pop(name, None)
    result = subprocess.run(
        [python, str(directory / 'driver.py')],
        capture_output=True,
        text=True,
        env=env,
        cwd=directory,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    return split_scenarios(normalise(result.stdout))


def test_every_scenario_is_checked():
    assert sorted(run_driver(sys.executable)) == sorted(SCENARIOS)


@pytest.mark.parametrize('scenario', SCENARIOS)
def test_same_hook_calls_and_output_as_hunter(scenario):
    if not ref_python(VERSION).exists():
        pytest.skip(f'no reference venv for {VERSION}')
    expected = run_driver(str(ref_python(VERSION)))[scenario]
    assert 'SCENARIO CRASHED' not in expected, expected
    assert run_driver(sys.executable)[scenario] == expected
