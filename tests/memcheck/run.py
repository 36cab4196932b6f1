#!/usr/bin/env python3
"""Memory-checker lane: runs programs that reach every native entry point of hunter-rs under valgrind memcheck.

Each program runs with PYTHONMALLOC=malloc (so valgrind sees every Python allocation) and valgrind's XML output.
An error counts against hunter-rs when one of its stacks (where it happened, where the block was freed or
allocated) has a frame of the extension (`hunter/_hunter*.so`, `_hunter::`, `hunter_rs`) above the innermost
bytecode-interpreter frame: Python code that a test runs from inside the trace hook is not the extension's doing.
The run fails when any error counts against hunter-rs, or when a program dies of a signal or its pytest run
breaks down (exit status other than 0 or 1); test failures under valgrind's slowness are reported, not fatal.
Errors in CPython's own code are summarised; suppressions.supp keeps the known ones quiet.

    python tests/memcheck/run.py --python .venv-3.12/bin/python
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
OUR_OBJECT_MARKERS = ('/hunter/_hunter',)
OUR_FUNCTION_MARKERS = ('_hunter::', 'hunter_rs')
INTERPRETER_LOOP = '_PyEval_EvalFrameDefault'
FRAMES_SHOWN = 14  # per stack in the log; the XML kept on failure has them all

# Our tests that between them reach every native entry point: the Tracer with each backend, Event and its
# attributes, every predicate (Query fields and operators, And/Or/Not, When, From, Backlog), every printer, safe_repr,
# the PYTHONHUNTER/PYTHONHUNTERCONFIG expression language (envexpr) and the native stream actions.
PYTEST_SUBSET = [
    'tests/test_event.py',
    'tests/test_tracer.py',
    'tests/test_predicates.py',
    'tests/test_native_predicates.py',
    'tests/test_native_actions.py',
    'tests/test_actions_fixes.py',
    'tests/test_safe_repr.py',
    'tests/test_api_glue.py',
]
# test_api_glue.py is there for the expression language (config, embedding) and hunter.stop() from an action.
API_GLUE_SELECTION = 'pythonhunterconfig or embed_via_environment or prepare_config or stop_action or trace_'
# The same engine paths again with the settrace backend (on 3.12+ the default is sys.monitoring).
SETTRACE_SUBSET = ['tests/test_event.py', 'tests/test_tracer.py', 'tests/test_native_actions.py',
                   'tests/test_native_predicates.py']


def log(*args):
    print(*args, flush=True)


class Program:
    def __init__(self, name, argv, env=None, is_pytest=False):
        self.name, self.argv, self.env, self.is_pytest = name, argv, env or {}, is_pytest


def programs_for(python, version):
    # Under valgrind a test takes 20 to 50 times as long: the per-test timeout of pyproject.toml would cut it short.
    pytest = [python, '-m', 'pytest', '-p', 'no:cacheprovider', '-q', '--timeout=1800']
    stop_script = str(HERE / 'stop_in_action.py')
    backends = ['settrace', 'monitoring'] if version >= (3, 12) else ['settrace']
    programs = [Program(f'stop_in_action.py ({backend})', [python, stop_script], {'PYTHONHUNTERBACKEND': backend})
                for backend in backends]
    # -k keeps every test of the other files (their names do not contain test_api_glue).
    selection = ['-k', f'not test_api_glue or {API_GLUE_SELECTION}']
    programs.append(Program(f'pytest subset ({backends[-1]})', pytest + selection + PYTEST_SUBSET, is_pytest=True))
    if version >= (3, 12):
        programs.append(Program('pytest subset (settrace)', pytest + SETTRACE_SUBSET,
                                {'PYTHONHUNTERBACKEND': 'settrace'}, is_pytest=True))
    return programs


def is_ours(frame):
    obj, function = frame.findtext('obj') or '', frame.findtext('fn') or ''
    return any(marker in obj for marker in OUR_OBJECT_MARKERS) or any(marker in function for marker in OUR_FUNCTION_MARKERS)


def stack_is_ours(stack):
    for frame in stack.findall('frame'):
        if is_ours(frame):
            return True
        if (frame.findtext('fn') or '') == INTERPRETER_LOOP:
            return False
    return False


def describe(error):
    """The error's headline, then each stack's innermost frames up to the interpreter loop, for the log."""
    what = error.findtext('what') or error.findtext('xwhat/text') or error.findtext('kind')
    lines = [what]
    for stack_number, stack in enumerate(error.findall('stack')):
        if stack_number:
            auxwhat = error.findall('auxwhat')
            lines.append('  ' + (auxwhat[stack_number - 1].text if len(auxwhat) >= stack_number else 'and'))
        for frame in stack.findall('frame')[:FRAMES_SHOWN]:
            function = frame.findtext('fn') or frame.findtext('obj') or frame.findtext('ip')
            place = f"{frame.findtext('file')}:{frame.findtext('line')}" if frame.findtext('file') else ''
            lines.append(f'    {function} {place}'.rstrip())
            if function == INTERPRETER_LOOP:
                break
    return '\n'.join(lines)


def read_errors(xml_path):
    """Memory errors (leaks are not checked: CPython keeps much alive at exit) from valgrind's XML output, and
    whether the output was complete. A process killed before valgrind finished its file (a forked child ended with
    SIGKILL) leaves it cut short: the errors written up to then still count."""
    text = Path(xml_path).read_text(encoding='utf-8', errors='replace')
    complete = '</valgrindoutput>' in text
    if not complete:
        text = text[:text.rfind('</error>') + len('</error>')] if '</error>' in text else text[:text.find('<error>')]
        text += '</valgrindoutput>'
    root = ElementTree.fromstring(text)
    return [error for error in root.findall('error') if not (error.findtext('kind') or '').startswith('Leak_')], complete


def run_program(program, valgrind, work, args):
    stem = program.name.replace(' ', '_').replace('(', '').replace(')', '')
    # One file per process: a test that forks (os.fork keeps valgrind) would otherwise interleave two documents.
    command = [valgrind, '--tool=memcheck', '--leak-check=no', '--show-leak-kinds=none', '--num-callers=40',
               f'--suppressions={args.suppressions}', '--xml=yes', f'--xml-file={work / stem}.%p.xml', *program.argv]
    env = {name: value for name, value in os.environ.items() if not name.startswith(('PYTHONHUNTER', 'PUREPYTHONHUNTER'))}
    env.update(PYTHONMALLOC='malloc', **program.env)
    log(f'\n-- valgrind: {program.name} --\n$ ' + ' '.join(program.argv))
    started = time.monotonic()
    completed = subprocess.run(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL)
    elapsed = time.monotonic() - started
    problems = []
    if completed.returncode < 0 or completed.returncode >= 128:
        number = -completed.returncode if completed.returncode < 0 else completed.returncode - 128
        problems.append(f'died of signal {signal.Signals(number).name if number in signal.valid_signals() else number}')
    elif program.is_pytest and completed.returncode not in (0, 1):
        problems.append(f'pytest exit status {completed.returncode}')
    elif not program.is_pytest and completed.returncode != 0:
        problems.append(f'exit status {completed.returncode}')
    errors = []
    xml_paths = sorted(work.glob(f'{stem}.*.xml'))
    if not xml_paths:
        problems.append('valgrind wrote no output')
    incomplete = 0
    for xml_path in xml_paths:
        try:
            file_errors, complete = read_errors(xml_path)
        except (ElementTree.ParseError, OSError) as exc:
            problems.append(f'unreadable valgrind output {xml_path}: {exc}')
            continue
        errors += file_errors
        # A child that exec()s another program ends valgrind's report unfinished: only one with errors says more.
        incomplete += bool(file_errors) and not complete
    ours = [error for error in errors if any(stack_is_ours(stack) for stack in error.findall('stack'))]
    others = Counter(error.findtext('kind') for error in errors if error not in ours)
    for error in ours:
        log('HUNTER-RS MEMORY ERROR: ' + describe(error))
    if ours:
        problems.append(f"{len(ours)} memory error(s) in hunter-rs ({', '.join(sorted(set(e.findtext('kind') for e in ours)))})")
    notes = []
    if program.is_pytest and completed.returncode == 1:
        notes.append('some tests failed under valgrind (see above)')
    if incomplete:
        notes.append(f'{incomplete} process(es) with errors ended before valgrind completed its report')
    if others:
        notes.append('outside hunter-rs: ' + ', '.join(f'{count} {kind}' for kind, count in sorted(others.items())))
    return {'name': program.name, 'seconds': elapsed, 'problems': problems, 'notes': notes}


def python_version(python):
    output = subprocess.check_output([python, '-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], text=True)
    return tuple(int(part) for part in output.split('.'))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--python', default=sys.executable, help='interpreter of the venv under test (default: this one)')
    parser.add_argument('--suppressions', default=str(HERE / 'suppressions.supp'))
    parser.add_argument('--only', action='append', metavar='NAME', help='run only the programs whose name contains NAME')
    parser.add_argument('--output', metavar='DIR', default=str(ROOT / '.cache' / 'memcheck'),
                        help="where valgrind's XML files go, one per process (emptied first; default: .cache/memcheck)")
    args = parser.parse_args()
    valgrind = shutil.which('valgrind')
    if valgrind is None:
        log('valgrind is not installed (Debian: apt-get install valgrind)')
        return 2
    python = os.path.abspath(shutil.which(args.python) or args.python)  # not resolved: a venv's python is a symlink
    programs = [program for program in programs_for(python, python_version(python))
                if not args.only or any(name in program.name for name in args.only)]
    work = Path(args.output)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    results = [run_program(program, valgrind, work, args) for program in programs]
    log('\nvalgrind memcheck (PYTHONMALLOC=malloc):')
    for result in results:
        status = 'FAIL' if result['problems'] else 'PASS'
        details = '; '.join(result['problems'] + result['notes']) or 'no memory errors'
        log(f"  {status}  {result['name']:<32} {details} ({result['seconds']:.0f} s)")
    log(f"valgrind's XML output: {work}")
    return 1 if any(result['problems'] for result in results) else 0


if __name__ == '__main__':
    sys.exit(main())
