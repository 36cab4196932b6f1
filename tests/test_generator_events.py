"""The events of loops over generators, of code on one line, and the rows of a throw() into a generator, are the same
on both backends as with hunter 3.9.0 (issues: the sys.monitoring backend reported an `exception` event for the
StopIteration ending a `for` loop over a generator where settrace does not, and missed it where settrace reports it
(3.13's uninstrumented loops, generators that return a value); 3.13 lost the line events of one-line functions after
their first call; CallPrinter lost a stack entry)."""

import re
import sys
from pathlib import Path

import pytest

import reference

BACKENDS = ['settrace', 'monitoring'] if sys.version_info >= (3, 12) else ['settrace']


def masked(text):
    return re.sub(r' at 0x[0-9a-f]+', ' at 0xADDR', text)


def same_as_hunter(sample, backend, *args):
    """The output of ``samples/<sample>`` run with ``args`` by hunter-rs on ``backend``, checked equal to hunter 3.9.0's."""
    script = str(Path(__file__).parent / 'samples' / sample)
    code = f'import runpy, sys; sys.argv = ["x", *{list(args)!r}]; runpy.run_path({script!r}, run_name="__main__")'
    expected = reference.run_python(reference.require_reference_python(), code)
    ours = reference.run_python(sys.executable, code, env={'PYTHONHUNTERBACKEND': backend})
    assert expected.returncode == 0, expected.stderr
    assert ours.returncode == 0, ours.stderr
    assert masked(ours.stdout) == masked(expected.stdout)
    return ours.stdout


@pytest.mark.parametrize('kind', ['exception', 'return'])
@pytest.mark.parametrize('backend', BACKENDS)
def test_generator_loops_report_what_hunter_reports(backend, kind):
    assert same_as_hunter('generator_loops.py', backend, kind).count('\n') >= 5


@pytest.mark.parametrize('kinds', ['line', 'line,return', 'line,exception'])
@pytest.mark.parametrize('backend', BACKENDS)
def test_one_line_bodies_report_what_hunter_reports(backend, kinds):
    assert same_as_hunter('one_line_bodies.py', backend, kinds).count('line      def one_line(x)') == 3


@pytest.mark.parametrize('backend', BACKENDS)
def test_throw_into_yield_from_is_indented_as_hunter_does(backend):
    # On 3.9 the inner generator's call came with a frame chain cut at the suspended outer generator, which made
    # CallPrinter drop the caller's entry from its stack: every row after it was indented one level too little.
    assert '=> inner()' in same_as_hunter('throw_into_yield_from.py', backend)
