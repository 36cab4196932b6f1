"""Other tools that install their own trace function while hunter traces: they must get the thread."""

import subprocess
import sys

import pytest

SCRIPT = '''
import pdb, hunter
def work():
    pdb.set_trace()
    value = 41
    return value + 1
with hunter.trace(module='no_such_module', backend={backend!r}):
    print('result', work())
'''


@pytest.mark.parametrize('backend', ['settrace'] + (['monitoring'] if sys.version_info >= (3, 12) else []))
def test_pdb_set_trace_inside_a_trace_stops_in_pdb(backend):
    # pdb's set_trace sets the frames' f_trace and calls sys.settrace: a frame whose f_trace hunter set earlier must
    # not hand the thread back to hunter's C trace function (which would leave pdb without events).
    result = subprocess.run(
        [sys.executable, '-c', SCRIPT.format(backend=backend)],
        input='p value\nc\n', capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert '(Pdb)' in result.stdout
    assert 'result 42' in result.stdout
