"""What the benchmark measures: one scenario per table row (per implementation it runs on).

A scenario is a name, a row title, the implementations it runs on and a Python snippet that installs the
tracer. The worker executes the snippet right before it starts the clock, in a fresh namespace; the
snippet may bind `stop` to a callable, which the worker calls after the clock stops (outside the timed
region, e.g. to flush or save output).

Implementations (see implementations.py):
  plain   the bare interpreter
  floor   the bare interpreter, with the `_floortrace` no-op C extension importable
  hunter  a venv with the real hunter 3.9.0 (Cython build)
  ours    a venv with this project's package
A scenario that runs on both `hunter` and `ours` gets one row per implementation, and a speedup row.

To add a scenario, append it to SCENARIOS; nothing else changes. This module is imported by the
orchestrator and by the worker, so it must run on every supported interpreter (3.9+) with the
standard library only.
"""

from dataclasses import dataclass

HUNTER_IMPLEMENTATIONS = ("hunter", "ours")


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    runs_on: tuple[str, ...]
    install: str
    min_python: tuple[int, int] = (3, 9)


UNTRACED = "untraced"

SCENARIOS = (
    Scenario(UNTRACED, "untraced", ("plain",), ""),
    Scenario(
        "c_settrace_noop",
        "C PyEval_SetTrace no-op (floor)",
        ("floor",),
        "import _floortrace\n_floortrace.install()\nstop = _floortrace.uninstall\n",
    ),
    Scenario(
        "nomatch",
        "trace(module='nonexistent_module_xyz')",
        HUNTER_IMPLEMENTATIONS,
        "import hunter\nhunter.trace(module='nonexistent_module_xyz')\nstop = hunter.stop\n",
    ),
    Scenario(
        "callprinter_devnull",
        "trace(action=CallPrinter(stream=devnull)), every event printed",
        HUNTER_IMPLEMENTATIONS,
        "import os, hunter\nstream = open(os.devnull, 'w')\nhunter.trace(action=hunter.CallPrinter(stream=stream))\n"
        "def stop():\n    hunter.stop()\n    stream.close()\n",
    ),
    Scenario(
        "callprinter_file",
        "trace(action=CallPrinter(stream=<temporary file>)), every event printed",
        HUNTER_IMPLEMENTATIONS,
        "import hunter, tempfile\nstream = tempfile.TemporaryFile('w')\nhunter.trace(action=hunter.CallPrinter(stream=stream))\n"
        "def stop():\n    hunter.stop()\n    stream.close()\n",
    ),
)

BY_NAME = {scenario.name: scenario for scenario in SCENARIOS}
