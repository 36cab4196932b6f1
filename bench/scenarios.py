"""What the benchmark measures: one scenario per table row (per implementation it runs on).

A scenario is a name, a row title, the implementations it runs on and a Python snippet that installs the
tracer. The worker executes the snippet right before it starts the clock, in a fresh namespace; the
snippet may bind
  stop      a callable the worker calls after the clock stops (outside the timed region, e.g. to flush,
            close or delete output),
  describe  a callable the worker calls after `stop`; its string is recorded with the sample (the backend
            that ran, the coverage core, the bytes written), so a run shows what it really measured;
  recorded_events  an int (set by `stop` at the latest): how many events the tracer recorded, kept with the
            sample as `events` (the Timeline rows: report.py turns it into a cost per event).

Implementations (see implementations.py):
  plain            the bare interpreter
  floor            the bare interpreter, with the `_floortrace` no-op C extension importable
  tools            a venv with VizTracer and coverage.py (reference points)
  hunter           a venv with the real hunter 3.9.0 (Cython build)
  ours             a venv with this project's package, PYTHONHUNTERBACKEND=settrace
  ours_monitoring  the same venv, PYTHONHUNTERBACKEND=monitoring (3.12+)
A scenario that runs on hunter and ours gets one row per implementation, and speed-up rows.

To add a scenario, append it to SCENARIOS; nothing else changes. This module is imported by the
orchestrator and by the worker, so it must run on every supported interpreter (3.9+) with the
standard library only.
"""

from dataclasses import dataclass

HUNTER_IMPLEMENTATIONS = ("hunter", "ours", "ours_monitoring")
# Both backends of ours: the rows of actions hunter 3.9.0 does not have.
OURS_IMPLEMENTATIONS = ("ours", "ours_monitoring")
# The module the `timeline_one_module` row's query matches: a small part of the `stdlib` workload's events (8 or 9
# of its ~7,900 calls per iteration); the other shared workloads run nothing but their own module, so there it
# matches nothing (see README.md).
TIMELINE_MODULE = "textwrap"
# The event kinds that the monitoring floors subscribe to: what a settrace-style tracer needs to see.
MONITORING_FLOOR_EVENTS = ("PY_START", "PY_RESUME", "PY_RETURN", "PY_YIELD", "LINE")
# 0-2 and 5 are the tool ids PEP 669 reserves for debuggers, coverage, profilers and optimizers.
MONITORING_FLOOR_TOOL_ID = 4


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    runs_on: tuple[str, ...]
    install: str
    min_python: tuple[int, int] = (3, 9)


UNTRACED = "untraced"


def monitoring_floor(callback):
    """Snippet registering the C callback `_floortrace.<callback>` for MONITORING_FLOOR_EVENTS."""
    events = [f"events.{event}" for event in MONITORING_FLOOR_EVENTS]
    return (
        "import sys, _floortrace\n"
        "monitoring = sys.monitoring\n"
        "events = monitoring.events\n"
        f"monitoring.use_tool_id({MONITORING_FLOOR_TOOL_ID}, 'bench floor')\n"
        f"for event in ({', '.join(events)}):\n"
        f"    monitoring.register_callback({MONITORING_FLOOR_TOOL_ID}, event, _floortrace.{callback})\n"
        f"monitoring.set_events({MONITORING_FLOOR_TOOL_ID}, {' | '.join(events)})\n"
        "def stop():\n"
        f"    monitoring.set_events({MONITORING_FLOOR_TOOL_ID}, 0)\n"
        f"    monitoring.free_tool_id({MONITORING_FLOOR_TOOL_ID})\n"
    )


def hunter_trace(arguments, output="devnull"):
    """Snippet running `hunter.trace(<arguments>)`; `stream` names the open output file in `arguments`.

    output="devnull" opens os.devnull; output="file" a temporary file, deleted by `stop` (its size is
    recorded by `describe`). `describe` reports the backend: hunter-rs' `Tracer.backend`, and
    'settrace' for hunter 3.9.0, which has no other.
    """
    if output == "devnull":
        opening = "import os\nstream = open(os.devnull, 'w')\n"
        closing = "    stream.close()\n"
        written = ""
    else:
        # A plain file object: NamedTemporaryFile's wrapper would put a Python call in front of every write.
        opening = (
            "import os, tempfile\n"
            "descriptor, path = tempfile.mkstemp(prefix='hunter-bench-')\n"
            "stream = open(descriptor, 'w')\n"
        )
        closing = "    stream.close()\n    global written\n    written = os.path.getsize(path)\n    os.unlink(path)\n"
        written = " + ', %d bytes written' % written"
    return (
        "import hunter\n"
        f"{opening}"
        f"tracer = hunter.trace({arguments})\n"
        "def stop():\n"
        "    hunter.stop()\n"
        f"{closing}"
        f"describe = lambda: 'backend=' + getattr(tracer, 'backend', 'settrace'){written}\n"
    )


def timeline_trace(query="", profile=False):
    """Snippet recording `hunter.trace(<query>)`'s events (in profile mode: Python and C calls, no lines or exceptions)
    with a default `hunter.actions.Timeline` into a temporary file; `stop` stops the tracer (which writes the file: outside the clock, like VizTracer's save()), counts the
    records the Timeline took (spans and exception instants in the file, plus those the full buffer dropped) into
    `recorded_events`, and deletes the file.

    The records are counted in the text: quotes inside JSON strings are escaped, so `"ph":"X"` occurs once per
    complete event and nowhere else (json.load of a million events would take longer than writing them)."""
    arguments = f"{query}, action=timeline" if query else "action=timeline"
    if profile:
        arguments += ", profile=True"
    return (
        "import hunter, json, os, tempfile\n"
        "directory = tempfile.mkdtemp(prefix='hunter-bench-')\n"
        "path = os.path.join(directory, 'timeline.json')\n"
        "timeline = hunter.actions.Timeline(path)\n"
        f"tracer = hunter.trace({arguments})\n"
        "def stop():\n"
        "    global recorded_events, written\n"
        "    hunter.stop()\n"
        "    with open(path, encoding='utf-8') as stream:\n"
        "        text = stream.read()\n"
        "    written = len(text)\n"
        "    os.unlink(path)\n"
        "    os.rmdir(directory)\n"
        "    other, _ = json.JSONDecoder().raw_decode(text, text.rindex('\"otherData\":') + len('\"otherData\":'))\n"
        "    recorded_events = text.count('\"ph\":\"X\"') + text.count('\"ph\":\"i\"') + other['dropped']\n"
        "describe = lambda: 'backend=%s, %d events recorded, %d characters written' % (\n"
        "    tracer.backend, recorded_events, written)\n"
    )


def coverage_run(core=None):
    """Snippet measuring with coverage.py (no data file, no config); `core` sets COVERAGE_CORE first."""
    environment = f"import os\nos.environ['COVERAGE_CORE'] = {core!r}\n" if core else ""
    return (
        f"{environment}"
        "import coverage\n"
        "cov = coverage.Coverage(data_file=None, config_file=False)\n"
        "cov.start()\n"
        "stop = cov.stop\n"
        "describe = lambda: 'core=' + dict(cov.sys_info())['core']\n"
    )


CALL_PRINTER = "action=hunter.CallPrinter(stream=stream)"

SCENARIOS = (
    Scenario(UNTRACED, "untraced", ("plain",), ""),
    Scenario(
        "c_settrace_noop",
        "C PyEval_SetTrace no-op (floor)",
        ("floor",),
        "import _floortrace\n_floortrace.install()\nstop = _floortrace.uninstall\n",
    ),
    Scenario(
        "c_monitoring_disable",
        "C sys.monitoring callback returning DISABLE (floor)",
        ("floor",),
        monitoring_floor("mon_disable"),
        min_python=(3, 12),
    ),
    Scenario(
        "c_monitoring_none",
        "C sys.monitoring callback returning None (floor)",
        ("floor",),
        monitoring_floor("mon_none"),
        min_python=(3, 12),
    ),
    Scenario(
        "viztracer",
        "VizTracer 1.1.1, defaults (save() not run)",
        ("tools",),
        "import os, viztracer\n"
        "tracer = viztracer.VizTracer(output_file=os.devnull, verbose=0)\n"
        "tracer.start()\n"
        "stop = tracer.stop\n",
    ),
    Scenario("coverage", "coverage.py 7.17.4, default core", ("tools",), coverage_run()),
    Scenario(
        "coverage_sysmon",
        "coverage.py 7.17.4, COVERAGE_CORE=sysmon",
        ("tools",),
        coverage_run("sysmon"),
        min_python=(3, 12),
    ),
    Scenario(
        "nomatch",
        "trace(module='nonexistent_module_xyz')",
        HUNTER_IMPLEMENTATIONS,
        hunter_trace(f"module='nonexistent_module_xyz', {CALL_PRINTER}"),
    ),
    Scenario(
        "one_function",
        "trace(function='iteration'): one function of many",
        HUNTER_IMPLEMENTATIONS,
        hunter_trace(f"function='iteration', {CALL_PRINTER}"),
    ),
    Scenario(
        "stdlib_false",
        "trace(stdlib=False)",
        HUNTER_IMPLEMENTATIONS,
        hunter_trace(f"stdlib=False, {CALL_PRINTER}"),
    ),
    Scenario(
        "cookbook_overview",
        "cookbook overview: ~Q(kind='line'), ~Q(module_in=[...]), ~Q(filename=''), stdlib=False",
        HUNTER_IMPLEMENTATIONS,
        hunter_trace(
            "~hunter.Q(kind='line'), ~hunter.Q(module_in=['six', 'pkg_resources']), ~hunter.Q(filename=''),"
            f" stdlib=False, {CALL_PRINTER}"
        ),
    ),
    Scenario(
        "callprinter_devnull",
        "CallPrinter on everything, to /dev/null",
        HUNTER_IMPLEMENTATIONS,
        hunter_trace(CALL_PRINTER),
    ),
    Scenario(
        "callprinter_file",
        "CallPrinter on everything, to a file",
        HUNTER_IMPLEMENTATIONS,
        hunter_trace(CALL_PRINTER, output="file"),
    ),
    Scenario(
        "varsprinter",
        "trace(stdlib=False, action=VarsPrinter('self', 'n', 'x'))",
        HUNTER_IMPLEMENTATIONS,
        hunter_trace("stdlib=False, action=hunter.VarsPrinter('self', 'n', 'x', stream=stream)"),
    ),
    Scenario(
        "backlog",
        "Backlog(kind='exception', size=100) replaying to CallPrinter",
        HUNTER_IMPLEMENTATIONS,
        hunter_trace(f"hunter.Backlog(hunter.Q(kind='exception'), size=100, {CALL_PRINTER}), {CALL_PRINTER}"),
    ),
    Scenario(
        "from",
        "From(Q(kind='exception'), Q(depth_lt=2))",
        HUNTER_IMPLEMENTATIONS,
        hunter_trace(f"hunter.From(hunter.Q(kind='exception'), hunter.Q(depth_lt=2)), {CALL_PRINTER}"),
    ),
    Scenario(
        "timeline_all",
        "Timeline recording everything (written at stop, outside the clock)",
        OURS_IMPLEMENTATIONS,
        timeline_trace(),
    ),
    Scenario(
        "timeline_profile",
        "Timeline recording everything in profile mode (Python and C calls, VizTracer's events)",
        OURS_IMPLEMENTATIONS,
        timeline_trace(profile=True),
    ),
    Scenario(
        "timeline_one_module",
        f"Timeline of one module: trace(module={TIMELINE_MODULE!r}, action=Timeline)",
        OURS_IMPLEMENTATIONS,
        timeline_trace(f"module={TIMELINE_MODULE!r}"),
    ),
    Scenario(
        "callprinter_durations",
        "CallPrinter(durations=True) on everything, to /dev/null",
        OURS_IMPLEMENTATIONS,
        hunter_trace("action=hunter.CallPrinter(stream=stream, durations=True)"),
    ),
)

BY_NAME = {scenario.name: scenario for scenario in SCENARIOS}
# Implementations a --smoke run does not prepare: their venv takes minutes to make, and they test no code of ours.
NOT_IN_SMOKE = ("tools",)
# The only scenario hunter 3.9.0 runs in --smoke runs: it proves the venv works. Its printing rows (400x to
# 5000x untraced) would cost most of the run, and they test no code of ours either.
HUNTER_SMOKE_SCENARIO = "nomatch"
SMOKE_NOTE = (
    "smoke run: 1 short sample per cell, no thresholds, numbers mean nothing; left out: VizTracer and coverage.py, "
    f"and hunter 3.9.0 except for `{HUNTER_SMOKE_SCENARIO}`"
)


def in_smoke_run(scenario, implementation):
    if implementation in NOT_IN_SMOKE:
        return False
    return implementation != "hunter" or scenario.name == HUNTER_SMOKE_SCENARIO
