"""Whether gdb can do here what ``hunter-trace --gdb`` needs of it: attach to a process and call a function in it.

Some machines allow the first and not the second: gdb 13 cannot restore the registers of a process on a CPU with AMX
(Sapphire Rapids and later: "Couldn't write extended state status: Bad address"), so every call it makes in the
target fails. Used by this suite's gdb tests and by the runner of hunter's own suite (tests/hunter_suite/run.py)."""

import shutil
import subprocess
import sys


def gdb_unusable_reason():
    """Why gdb cannot inject code into a process here, or None when it can."""
    gdb = shutil.which('gdb')
    if gdb is None:
        return 'gdb is not installed'
    sleeper = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])
    try:
        probe = subprocess.run(
            [gdb, '-nx', '-batch', '-p', str(sleeper.pid), '-ex', 'info inferiors', '-ex', 'print (int) getpid()'],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except subprocess.TimeoutExpired:
        return 'gdb cannot attach to a process here: it did not finish within 60 s (ptrace not permitted?)'
    finally:
        sleeper.kill()
        sleeper.wait()
    output = probe.stdout + probe.stderr
    if f'process {sleeper.pid}' not in output:
        lines = [line for line in output.splitlines() if 'ptrace' in line or 'attach' in line.lower()]
        return 'gdb cannot attach to a process here: ' + (lines[0] if lines else f'exit {probe.returncode}')
    if f'= {sleeper.pid}' not in probe.stdout:
        lines = [line for line in probe.stderr.splitlines() if line.strip() and 'warning' not in line.lower()]
        return 'gdb cannot call a function in a process here: ' + (lines[-1] if lines else f'exit {probe.returncode}')
    return None
