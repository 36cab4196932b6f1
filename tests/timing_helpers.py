"""What the timing actions' tests share (test_durations.py, test_tree_printer.py, test_profile.py): the backends to
run on, the query selecting `timing_samples` calls and returns, and reading a shown duration back."""

import re
import sys

import pytest

import hunter

BACKENDS = ['settrace', 'monitoring'] if sys.version_info >= (3, 12) else ['settrace']
SAMPLES = hunter.Q(module='timing_samples', kind_in=('call', 'return'))
# How long the samples sleep: every bound is checked against it, never an exact time.
SLEEP = 0.02
# A duration at the end of a row: ` [1.234 ms]` (TreePrinter: also ` [1.234 ms, still running]`).
DURATION = re.compile(r' \[(\d+(?:\.\d+)?) (ns|µs|ms|s)(, still running)?\]$')
UNITS = {'ns': 1e-9, 'µs': 1e-6, 'ms': 1e-3, 's': 1.0}


def seconds_shown(line):
    """The duration at the end of `line` in seconds, or None when it shows none."""
    match = DURATION.search(line)
    return float(match[1]) * UNITS[match[2]] if match else None


@pytest.fixture(params=BACKENDS)
def backend(request, monkeypatch):
    """Runs the test on each backend (the tracers it creates read PYTHONHUNTERBACKEND)."""
    monkeypatch.setenv('PYTHONHUNTERBACKEND', request.param)
    return request.param
