"""Sizes that come from users never abort the process (issue 13, item 9).

A failed Rust allocation aborts: widths given to the printers are bounded before anything is padded. An
alignment above 100,000 is refused when the printer reads its options (its first event): the tracer reports
the failure and stops, and the traced program runs on.
"""

import resource
import subprocess
import sys
import textwrap

import pytest

from activation_env import make_pth_venv
from activation_env import run as run_in_venv

ABSURD = ['10**9', '2**62', '2**64 - 1', '10**23']


def limit_memory():
    # Keeps a regression from taking the machine's memory: 2 GB of address space for the child.
    resource.setrlimit(resource.RLIMIT_AS, (2 * 1024**3, 2 * 1024**3))


def run_python(code, **kwargs):
    return subprocess.run(
        [sys.executable, '-c', textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limit_memory,
        **kwargs,
    )


@pytest.mark.parametrize('value', ABSURD)
@pytest.mark.parametrize('option', ['filename_alignment', 'thread_alignment', 'pid_alignment'])
def test_absurd_alignment_is_refused_and_the_program_runs(option, value):
    result = run_python(
        f"""
        import io, hunter
        def target():
            return 1
        stream = io.StringIO()
        printer = hunter.CallPrinter(stream=stream, force_pid=True, {option}={value})
        with hunter.trace(function='target', action=printer, threading_support=True):
            target()
        print('program ran on', target(), repr(stream.getvalue()))
        """
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "program ran on 1 ''" in result.stdout
    assert f'{option} must be at most 100000, not {eval(value)}' in result.stderr


def test_widest_alignment_still_pads():
    result = run_python(
        """
        import io, hunter
        def target():
            return 1
        stream = io.StringIO()
        with hunter.trace(function='target', action=hunter.CallPrinter(stream=stream, filename_alignment=100000)):
            target()
        first = stream.getvalue().splitlines()[0]
        print(len(first) > 100000, first.lstrip().split(':')[0].endswith('<string>'))
        """
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ['True', 'True']


@pytest.mark.slow
def test_absurd_alignment_in_pythonhunterconfig_lets_the_program_run(tmp_path):
    python = make_pth_venv(tmp_path / 'venv')
    program = tmp_path / 'program.py'
    program.write_text('def target():\n    return 1\n\n\ntarget()\nprint("program ran")\n')
    result = run_in_venv(
        python,
        [str(program)],
        env={'PYTHONHUNTER': "function='target'", 'PYTHONHUNTERCONFIG': 'filename_alignment=4611686018427387904'},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout == 'program ran\n'
    assert 'filename_alignment must be at most 100000' in result.stderr


def test_a_timeline_buffer_that_memory_cannot_hold_is_full_not_an_abort(tmp_path):
    # Rust aborts the process when an allocation fails: the buffer grows only as far as memory lets it, and then
    # is full (ring: the oldest records make way). The address space is limited only while recording, so that the
    # file can be written afterwards.
    path = tmp_path / 'trace.json'
    result = run_python(
        f"""
        import json, resource, hunter
        def leaf():
            return 1
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        with open('/proc/self/statm') as statm:
            in_use = int(statm.read().split()[0]) * resource.getpagesize()
        timeline = hunter.Timeline({str(path)!r}, size=2**62)
        tracer = hunter.Tracer().trace(hunter.When(hunter.Q(function='leaf'), timeline))
        resource.setrlimit(resource.RLIMIT_AS, (in_use + 24 * 1024**2, hard))
        for _ in range(400_000):
            leaf()
        resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
        tracer.stop()
        document = json.loads(open({str(path)!r}).read())
        spans = sum(1 for event in document['traceEvents'] if event.get('ph') == 'X')
        print('program ran on', spans, document['otherData']['dropped'])
        """
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith('program ran on'), result.stdout
    spans, dropped = map(int, result.stdout.split()[3:])
    assert spans + dropped == 400_000 and 0 < spans < 400_000 and dropped > 0
