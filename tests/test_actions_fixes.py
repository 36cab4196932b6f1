"""
The deliberate departures of hunter.actions from hunter 3.9.0 (spec §8): each test runs a snippet with our actions
and, where upstream's behaviour is the bug being fixed, also with the real hunter to show the difference.
"""

import os
import subprocess
import textwrap

import pytest
from test_actions_differential import VERSION
from test_actions_differential import candidate_command
from test_actions_differential import ref_python
from test_actions_differential import scenario_dir

PRELUDE = """
import io, os, sys
import hunter
from hunter import Q, CallPrinter, CodePrinter
import demo_target as demo
"""


def run_snippet(code, version=VERSION, ours=True, **env):
    if not ours and not ref_python(version).exists():
        pytest.skip(f'no reference venv for {version}')
    command = candidate_command() if ours else [str(ref_python(version))]
    environment = {name: value for name, value in os.environ.items() if name not in ('NO_COLOR', 'PYTHONHUNTER')}
    environment.update(PYTHONPATH=str(scenario_dir(version)), **env)
    result = subprocess.run(
        [*command, '-c', PRELUDE + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=environment,
        cwd=scenario_dir(version),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def call_indents(output):
    """(function, indentation) of every '=>' row."""
    rows = [line.split('call', 1)[1] for line in output.splitlines() if '=>' in line]
    return [(row.split('=> ')[1].split('(')[0], (len(row) - len(row.lstrip(" ")) - 6) // 3) for row in rows]


TRACE_MAIN = """
out = io.StringIO()
hunter.trace(Q(module='demo_target', kind_in={kinds!r}), action=CallPrinter(stream=out))
demo.main()
hunter.stop()
print(out.getvalue())
"""
CALLS_ONLY = TRACE_MAIN.format(kinds=('call',))
ALL_KINDS = TRACE_MAIN.format(kinds=('call', 'line', 'return', 'exception'))


@pytest.mark.parametrize('version', [VERSION])
def test_call_printer_indentation_follows_the_stack_when_returns_are_filtered(version):
    # With every event seen, upstream's indentation is right: filtering the returns must not change it.
    with_returns = call_indents(run_snippet(ALL_KINDS, version, ours=False))
    calls_only = call_indents(run_snippet(CALLS_ONLY, version))
    assert calls_only == with_returns
    assert max(indent for _, indent in calls_only) == 5


def test_upstream_indentation_grows_when_returns_are_filtered():
    upstream = call_indents(run_snippet(CALLS_ONLY, '3.11', ours=False))
    indents = [indent for _, indent in upstream]
    assert indents == sorted(indents)
    assert indents[-1] == len(indents) - 1


@pytest.mark.parametrize('version', [VERSION])
def test_line_rows_are_indented_by_the_live_stack(version):
    output = run_snippet(
        """
        out = io.StringIO()
        hunter.trace(Q(module='demo_target', kind_in=('call', 'line')), action=CallPrinter(stream=out))
        demo.main()
        hunter.stop()
        print(out.getvalue())
        """,
        version,
    )
    last_line_of_main = [line for line in output.splitlines() if 'return text, odd' in line][-1]
    assert last_line_of_main.split('line', 1)[1] == '         return text, odd'


@pytest.mark.parametrize('version', [VERSION])
def test_stale_stack_of_a_stopped_trace_does_not_indent_the_next_one(version):
    output = run_snippet(
        """
        def stop_inside():
            hunter.stop()

        def traced_then_stopped():
            stop_inside()

        CallPrinter.cleanup()
        out = io.StringIO()
        hunter.trace(Q(function_in=('traced_then_stopped', 'stop_inside', 'deep_fn')), action=CallPrinter(stream=out))
        traced_then_stopped()
        hunter.trace(Q(function='deep_fn'), action=CallPrinter(stream=out))
        demo.deep_fn(0)
        hunter.stop()
        print(out.getvalue())
        """,
        version,
    )
    assert call_indents(output) == [('traced_then_stopped', 0), ('stop_inside', 1), ('deep_fn', 0)]


@pytest.mark.parametrize('version', [VERSION])
def test_stream_path_appends_line_by_line(version, tmp_path):
    log = tmp_path / 'trace.log'
    log.write_text('existing\n')
    output = run_snippet(
        f"""
        first = CallPrinter(stream={str(log)!r})
        second = CodePrinter(stream={str(log)!r})
        print(first.stream is second.stream, first.stream.mode)
        hunter.trace(Q(module='demo_target', function='deep_fn'), action=first)
        demo.deep_fn(0)
        hunter.stop()
        print(open({str(log)!r}).read().count('deep_fn'))
        """,
        version,
    )
    assert output.splitlines() == ['True a', '2']
    lines = log.read_text().splitlines()
    assert lines[0] == 'existing'
    assert lines[1].endswith('call      => deep_fn(depth=0)')


def test_a_stream_path_is_closed_at_exit(tmp_path):
    # Left open to the interpreter's teardown, it was an unclosed file (a ResourceWarning under -X dev).
    log = tmp_path / 'trace.log'
    code = (
        'import hunter\n'
        'def f():\n    return 1\n'
        f'hunter.trace(hunter.Q(function="f"), action=hunter.CallPrinter(stream={str(log)!r}))\n'
        'f()\n'
    )
    result = subprocess.run(
        [*candidate_command(), '-X', 'dev', '-c', code], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert (result.returncode, result.stderr) == (0, '')
    assert log.read_text().splitlines()[-1].endswith('return    <= f: 1')


def test_upstream_stream_path_is_broken():
    output = run_snippet(
        """
        try:
            CallPrinter(stream='/dev/null')
        except ValueError as exc:
            print(exc)
        """,
        '3.11',
        ours=False,
    )
    assert output == "can't have unbuffered text I/O\n"


COLOUR_CHECK = """
class Terminal(io.StringIO):
    def isatty(self):
        return True

for options in ({}, {'force_colors': True}):
    printer = CodePrinter(stream=Terminal(), **options)
    print(printer._tty, repr(printer.try_source(type('E', (), {'source': '', 'fullsource': '', 'filename': 'f'})())))
"""


@pytest.mark.parametrize('version', [VERSION])
def test_no_color_turns_colours_off_unless_forced(version):
    coloured = "True \"\\x1b[1m\\x1b[43m\\x1b[33m??? NO SOURCE: \\x1b[37mSource code string for 'f' is empty.\""
    plain = "False \"??? NO SOURCE: Source code string for 'f' is empty.\""
    assert run_snippet(COLOUR_CHECK, version).splitlines() == [coloured, coloured]
    assert run_snippet(COLOUR_CHECK, version, NO_COLOR='1').splitlines() == [plain, coloured]
    assert run_snippet(COLOUR_CHECK, version, NO_COLOR='').splitlines() == [coloured, coloured]


@pytest.mark.parametrize('version', [VERSION])
def test_closed_stream_errors_reach_the_tracer(version):
    output = run_snippet(
        """
        stream = io.StringIO()
        printer = CallPrinter(stream=stream)
        stream.close()
        event = hunter.Event(sys._getframe(), 2 if '_event' in hunter.Event.__module__ else 'line', None, 0, 0, False)
        try:
            printer(event)
        except ValueError as exc:
            print('raised', exc)
        """,
        version,
    )
    assert output == 'raised I/O operation on closed file\n'
