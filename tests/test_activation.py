"""
Activation without code changes (issue 4): ``PYTHONHUNTER`` through ``hunter.pth`` at start-up, parsed by the
expression language rather than ``eval``; ``PYTHONHUNTERCONFIG``; and the ``.pth`` importing nothing when unset.
Every test runs real child interpreters with ``hunter.pth`` installed (see ``activation_env``).
"""

import importlib.util
import os
import re
import subprocess
import sys
import textwrap

import pytest

from activation_env import REPO_ROOT
from activation_env import make_pth_venv
from activation_env import run
from activation_env import site_packages
from activation_env import venv_python
from conftest import hunter_under_test_is_reference
from conftest import runs_legacy_sub_interpreters
from reference import child_env
from reference import reference_python

pytestmark = pytest.mark.skipif(hunter_under_test_is_reference(), reason='tests the hunter-rs activation')

BUILDER_MODULE = '''\
class Builder:
    def __init__(self):
        self.bdist_dir = 'build/bdist'
        self.build_dir = 'build/lib'

    def run(self):
        target = self.build_dir + '/x'
        return target
'''

MAIN = '''\
import os
import sys

import wheel_helper


def child(x):
    return x * 2


def parent():
    return child(21)


def recurse(n):
    return n if n == 0 else recurse(n - 1)


def many(count):
    for _ in range(count):
        child(1)


print('pid', os.getpid())
print('result', parent(), wheel_helper.Builder().run())
recurse(20)
many(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
print('done')
'''


@pytest.fixture(scope='module')
def python(tmp_path_factory):
    return make_pth_venv(tmp_path_factory.mktemp('pth-venv') / 'venv')


@pytest.fixture(scope='module')
def program(tmp_path_factory):
    directory = tmp_path_factory.mktemp('program')
    (directory / 'wheel_helper.py').write_text(BUILDER_MODULE)
    (directory / 'main.py').write_text(MAIN)
    return directory


def run_main(python, program, env, *args):
    result = run(python, ['main.py', *args], env=env, cwd=program)
    assert result.returncode == 0, result.stderr
    assert 'result 42 build/lib/x' in result.stdout and 'done' in result.stdout, result
    return result


def trace_lines(stderr, kind=None):
    """The trace lines (``<file>:<line> <kind> ...``) of a CallPrinter/CodePrinter output."""
    pattern = re.compile(r'^\s*\S+:\d+\s+(call|line|return|exception)\s')
    lines = [line for line in stderr.splitlines() if pattern.match(line)]
    return [line for line in lines if kind is None or pattern.match(line).group(1) == kind]


# -- the forms of hunter's docs and cookbook, verbatim --------------------------------------------------------------


def test_cookbook_filters_without_lines_and_stdlib(python, program):
    value = '~Q(kind="line"),~Q(module_in=["six","pkg_resources"]),~Q(filename=""),stdlib=False'
    stderr = run_main(python, program, {'PYTHONHUNTER': value}).stderr
    assert trace_lines(stderr, 'line') == []
    calls = trace_lines(stderr, 'call')
    assert any('=> parent()' in line for line in calls), stderr
    assert any('=> child(x=21)' in line for line in calls), stderr
    assert not any('/lib/python' in line for line in trace_lines(stderr)), 'stdlib=False'


def test_module_startswith_with_code_and_vars_printers(python, program):
    value = 'module_startswith=["setuptools", "distutils", "wheel"], actions=[CodePrinter, VarsPrinter("self.bdist_dir")]'
    stderr = run_main(python, program, {'PYTHONHUNTER': value}).stderr
    assert "self.bdist_dir = 'build/bdist'" in stderr, stderr
    assert re.search(r"self\.bdist_dir => 'build/bdist'", stderr), stderr
    assert all('wheel_helper.py' in line for line in trace_lines(stderr)), stderr
    assert 'def parent' not in stderr


def test_source_contains_with_vars_printer(python, program):
    value = 'source_contains=".build_dir", actions=[CodePrinter, VarsPrinter("self.build_dir")]'
    stderr = run_main(python, program, {'PYTHONHUNTER': value}).stderr
    lines = trace_lines(stderr)
    assert lines and all('.build_dir' in line for line in lines), stderr
    assert re.search(r"self\.build_dir => 'build/lib'", stderr), stderr


def test_stop_after_a_thousand_calls(python, program):
    stderr = run_main(python, program, {'PYTHONHUNTER': '~Q(calls_gt=1000, action=Stop)'}, '3000').stderr
    child_calls = [line for line in trace_lines(stderr, 'call') if '=> child(x=1)' in line]
    # Tracing stops at the 1001st call: the 3000 calls of the loop are far from all printed.
    assert 500 < len(child_calls) < 1001, len(child_calls)
    assert 'done' not in stderr


def test_depth_limit(python, program):
    stderr = run_main(python, program, {'PYTHONHUNTER': 'depth_lt=10'}).stderr
    recursion = [line for line in trace_lines(stderr, 'call') if '=> recurse(' in line]
    assert 1 <= len(recursion) < 10, stderr


def test_relative_filenames_only(python, program):
    stderr = run_main(python, program, {'PYTHONHUNTER': '~Q(filename_startswith="/")'}).stderr
    lines = trace_lines(stderr)
    # Python makes the script's path absolute: what is left is frozen modules ("<frozen site>") and the like.
    assert lines and not any('main.py' in line for line in lines), stderr
    # Only relative paths and pseudo-files such as "<frozen site>" are left (long paths would be shown as "[...]").
    filenames = {re.match(r'\s*(.+?):\d+\s', line).group(1) for line in lines}
    assert not [name for name in filenames if name.startswith(('/', '[...]'))], filenames


def test_empty_value_traces_everything(python, program):
    stderr = run_main(python, program, {'PYTHONHUNTER': ''}).stderr
    assert any('=> parent()' in line for line in trace_lines(stderr, 'call'))
    assert trace_lines(stderr, 'line')


@pytest.mark.parametrize(
    'value',
    [
        "module='__main__', function='parent'",
        "module=r'''__main__''', function=u\"par\" 'ent'",
        'Q(module="__main__") & Q(function="parent")',
        'Q(function="nope") | Q(function="parent") & Q(module_in=("__main__",))',
        "(Q(function='parent')), kind_in={'call', 'return'}",
        r"function='\x70arent', kind='\u0063all'",
        'function="parent", depth_lt=0x10, calls_lt=1_000, lineno_gt=-1',
        'When(Q(function="parent"), CallPrinter(repr_limit=40, force_colors=False))',
        'Q(function="parent", kind="call", actions=[CallPrinter, VarsPrinter("x")])',
        'Or(Q(function="parent"), Q(function="xyz")), kind="call"',
        'From(Q(function="parent"), Q(depth_lt=2)), kind="call", function="parent"',
        '~Not(Q(function="parent")), stdlib=False, kind="call",',
    ],
)
def test_expression_forms(python, program, value):
    stderr = run_main(python, program, {'PYTHONHUNTER': value}).stderr
    assert 'cannot' not in stderr and 'Failed' not in stderr, stderr
    assert any('=> parent()' in line for line in trace_lines(stderr, 'call')), stderr
    assert not any('=> recurse(' in line for line in trace_lines(stderr)), stderr


# -- malformed values: one clear error with a caret, and an untraced, successful run ------------------------------


@pytest.mark.parametrize(
    ('value', 'column', 'message'),
    [
        ('Q(module="a"', 13, "expected ',' or ')' closing the call's arguments but found the end of the text"),
        ('Q(module="a"))', 14, "expected ',' or the end of the arguments but found ')'"),
        ('module_in=["a", "b"', 20, "expected ',' or ']' but found the end of the text"),
        ('(Q(module="a")', 15, "expected ',' or ')' but found the end of the text"),
        ('Bogus(module="a")', 1, "but found unknown name 'Bogus'"),
        ('module="a", actions=[Printer]', 22, "but found unknown name 'Printer'"),
        ('"foo"', 1, 'expected a predicate such as Q(module="foo") as a positional argument but found a string'),
        ('Q(module="a") | "b"', 17, 'expected a predicate such as Q(module="foo") as the operand of \'|\' but found a string'),
        ('__import__("os")', 1, "but found unknown name '__import__'"),
        ('__import__("os").system("echo pwned >&2")', 17, 'attribute access is not supported'),
        ('Q(module=__import__("os").system("echo pwned >&2"))', 26, 'attribute access is not supported'),
        ('Q(module=__import__("os"))', 10, "but found unknown name '__import__'"),
        ('Q.__init__.__globals__', 1, "but found unknown name 'Q.__init__.__globals__'"),
        ('sys.modules', 1, "but found unknown name 'sys.modules'"),
        ('Q(module="a")[0]', 14, 'subscripts are not supported'),
        ('lambda event: True', 1, "the Python keyword 'lambda'"),
        ('module=f"{1}"', 10, 'an f-string without replacement fields (they could run code)'),
        ('module=t"x"', 8, 't-strings could run code'),
        ('module="a",\u00a0kind="call"', 12, "a name, a call or a literal but found '\xa0'"),
        ('module="a", module="b"', 13, "'module' repeated"),
        ('module="a", Q()', 13, 'a positional argument after keyword arguments'),
        ("module='a", 8, 'the closing quote of this string'),
        ('depth_lt=0777', 10, 'without leading zeros'),
    ],
)
def test_malformed_values(python, program, value, column, message):
    result = run_main(python, program, {'PYTHONHUNTER': value})
    lines = result.stderr.splitlines()
    assert len(lines) == 3, result.stderr
    header, shown, caret = lines
    assert header.startswith(f'hunter: cannot parse PYTHONHUNTER at column {column}: '), header
    assert message in header, header
    assert shown == f'    {value}'
    assert caret == ' ' * (4 + column - 1) + '^'
    assert 'pwned' not in result.stdout


@pytest.mark.parametrize(
    'value',
    [
        'Q(module="a"',  # malformed
        'kind="cal"',  # parsed, refused by trace()
        'function="parent", action=VarsPrinter("undefined_name.attribute")',  # a handler that fails at an event
    ],
)
def test_without_stderr_nothing_reaches_stdout(python, program, value):
    # `2>&-`: hunter's messages and reports have nowhere to go; they must not end up on the program's stdout.
    result = subprocess.run(
        [str(python), 'main.py'],
        stdout=subprocess.PIPE,
        text=True,
        cwd=program,
        env=child_env({'PYTHONHUNTER': value}),
        timeout=120,
        preexec_fn=lambda: os.close(2),
    )
    assert result.returncode == 0
    assert [line.split()[0] for line in result.stdout.splitlines()] == ['pid', 'result', 'done'], result.stdout


@pytest.mark.parametrize('operator', ['|', '&'])
def test_a_long_chain_of_one_operator(python, program, operator):
    # A chain is one node of the syntax tree, never deeper for being longer (2000 operands crashed the interpreter
    # with a native stack overflow); its length is bounded, as each operator makes a new flat Or/And.
    negation = '' if operator == '|' else '~'
    ok = f' {operator} '.join(['Q(module="__main__")'] + [f'{negation}Q(module="m{i}")' for i in range(999)])
    result = run_main(python, program, {'PYTHONHUNTER': ok})
    assert trace_lines(result.stderr, 'call'), result.stderr[:2000]
    too_long = ok + f' {operator} Q(module="x")'
    result = run_main(python, program, {'PYTHONHUNTER': too_long})
    header = result.stderr.splitlines()[0]
    column = len(ok) + 2
    assert header == (
        f"hunter: cannot parse PYTHONHUNTER at column {column}: expected at most 1000 operands of '{operator}' but "
        'found more'
    ), header
    assert not trace_lines(result.stderr)


def test_evaluation_errors_point_at_the_call(python, program):
    result = run_main(python, program, {'PYTHONHUNTER': 'stdlib=False, actions=[VarsPrinter()]'})
    header, shown, caret = result.stderr.splitlines()
    assert header.startswith('hunter: cannot use PYTHONHUNTER at column 24: VarsPrinter(...) raised TypeError: ')
    assert (shown, caret) == ('    stdlib=False, actions=[VarsPrinter()]', ' ' * 27 + '^')


def test_unknown_query_keyword_keeps_hunters_message(python, program):
    result = run_main(python, program, {'PYTHONHUNTER': 'bogus=1'})
    assert result.stderr.startswith(
        "Failed to load hunter from PYTHONHUNTER environ variable 'bogus=1': TypeError(\"Unexpected argument 'bogus'."
    )
    assert len(result.stderr.splitlines()) == 1


# -- the .pth file ------------------------------------------------------------------------------------------------


def test_pth_imports_nothing_when_unset(python, program):
    probe = "import sys; print(sorted(name for name in sys.modules if name.split('.')[0] in ('hunter', 'manhole')))"
    assert run(python, ['-c', probe]).stdout.strip() == '[]'
    # PYTHONHUNTERCONFIG alone does not activate either: it is read when the program imports hunter.
    assert run(python, ['-c', probe], env={'PYTHONHUNTERCONFIG': 'stdlib=False'}).stdout.strip() == '[]'
    activated = run(python, ['-c', probe], env={'PYTHONHUNTER': 'module="nothing-matches"'})
    assert "'hunter'" in activated.stdout and activated.stderr == ''


@pytest.mark.skipif(not runs_legacy_sub_interpreters(), reason='needs CPython test modules')
def test_a_sub_interpreter_leaves_the_main_interpreter_tracing(python):
    # A legacy sub-interpreter (as mod_wsgi makes) runs hunter.pth too: hunter-rs runs in the main interpreter only,
    # so the sub-interpreter says PYTHONHUNTER is not applied there, once, and the main one keeps tracing (its end
    # once stopped the main interpreter's tracers).
    program = textwrap.dedent(
        """
        import _testcapi
        def before(): pass
        def after(): pass
        before()
        _testcapi.run_in_subinterp('import sys')
        after()
        """
    )
    result = run(python, ['-c', program], env={'PYTHONHUNTER': "function_in=('before', 'after'), kind='call'"})
    assert result.returncode == 0, result.stderr
    assert [line.split()[-2:] for line in trace_lines(result.stderr)] == [['=>', 'before()'], ['=>', 'after()']]
    notices = [line for line in result.stderr.splitlines() if line.startswith('hunter:')]
    assert notices == [
        'hunter: PYTHONHUNTER is not applied in this sub-interpreter: hunter-rs runs in the main interpreter only: '
        'hunter cannot be imported in a sub-interpreter'
    ]
    assert 'Traceback' not in result.stderr


SUB_INTERPRETERS_MODULE = '_interpreters' if sys.version_info >= (3, 13) else '_xxsubinterpreters'


@pytest.mark.skipif(importlib.util.find_spec(SUB_INTERPRETERS_MODULE) is None, reason='no sub-interpreters module')
def test_each_sub_interpreter_says_once_that_pythonhunter_is_not_applied(python):
    # Made by the interpreters module (isolated from 3.12, whose import refusal has CPython's wording).
    program = textwrap.dedent(
        f"""
        import {SUB_INTERPRETERS_MODULE} as interpreters
        def before(): pass
        def after(): pass
        before()
        for _ in range(3):
            interpreters.destroy(interpreters.create())
        after()
        """
    )
    result = run(python, ['-c', program], env={'PYTHONHUNTER': "function_in=('before', 'after'), kind='call'"})
    assert result.returncode == 0, result.stderr
    assert [line.split()[-2:] for line in trace_lines(result.stderr)] == [['=>', 'before()'], ['=>', 'after()']]
    notices = [line for line in result.stderr.splitlines() if line.startswith('hunter:')]
    assert len(notices) == 3, result.stderr
    assert all(line.startswith('hunter: PYTHONHUNTER is not applied in this sub-interpreter: ') for line in notices)
    assert 'Traceback' not in result.stderr


def test_pth_is_one_import_line():
    lines = (REPO_ROOT / 'python' / 'hunter.pth').read_text().splitlines()
    # site.py executes only lines starting with "import"; a second line would be taken as a path.
    assert len(lines) == 1 and lines[0].startswith('import ')


@pytest.mark.slow
def test_real_wheel_install(tmp_path):
    """Build the wheel, install it into a fresh venv, and check the .pth lands at site-packages root and works."""
    maturin = subprocess.run([sys.executable, '-m', 'maturin', '--version'], capture_output=True)
    if maturin.returncode != 0:
        pytest.skip('maturin is not installed for this interpreter')
    wheels = tmp_path / 'wheels'
    build = subprocess.run(
        [sys.executable, '-m', 'maturin', 'build', '-q', '-o', str(wheels), '-i', sys.executable],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env=dict(os.environ, CARGO_TARGET_DIR=str(REPO_ROOT / 'target')),
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = wheels.glob('*.whl')
    venv_dir = tmp_path / 'venv'
    subprocess.run([sys.executable, '-m', 'venv', str(venv_dir)], check=True)
    python = venv_python(venv_dir)
    # No dependencies: manhole is only needed for hunter-trace, and the test must not need the network.
    install = run(python, ['-m', 'pip', 'install', '-q', '--no-deps', str(wheel)])
    assert install.returncode == 0, install.stderr
    assert (site_packages(venv_dir) / 'hunter.pth').read_text() == (REPO_ROOT / 'python' / 'hunter.pth').read_text()

    assert run(python, ['-c', "import sys; print('hunter' in sys.modules)"]).stdout.strip() == 'False'
    traced = run(python, ['-c', 'def f(): pass\nf()'], env={'PYTHONHUNTER': 'kind="call", function="f"'})
    assert '=> f()' in traced.stderr, traced.stderr


# -- PYTHONHUNTERCONFIG -------------------------------------------------------------------------------------------


def run_config(python, program, config, hunter_value='function="parent", kind="call"'):
    env = {'PYTHONHUNTERCONFIG': config}
    if hunter_value is not None:
        env['PYTHONHUNTER'] = hunter_value
    return run_main(python, program, env)


def test_config_action_defaults(python, program):
    result = run_config(python, program, 'stdlib=False,force_pid=True,filename_alignment=20')
    pid = re.search(r'pid (\d+)', result.stdout).group(1)
    (line,) = trace_lines(result.stderr.replace(f'[{pid}]', ''), 'call')
    assert result.stderr.startswith(f'[{pid}]') and '=> parent()' in line, result.stderr


def test_config_stream_path_writes_to_the_file(python, program, tmp_path):
    log = tmp_path / 'sub' / 'trace.log'
    log.parent.mkdir()
    result = run_config(python, program, f'stream="{log}"')
    assert result.stderr == ''
    assert '=> parent()' in log.read_text()


def test_config_filters_are_anded_and_the_callers_options_win(python, program):
    code = textwrap.dedent(
        """
        import hunter
        def child(): pass
        def parent(): child()
        with hunter.trace(kind='call', action=hunter.CallPrinter(stream=__import__('sys').stdout)):
            parent()
        """
    )
    result = run(python, ['-c', code], env={'PYTHONHUNTERCONFIG': 'Q(function="child"), kind="return"'})
    assert [line.split(None, 2)[1:] for line in result.stdout.splitlines()] == [['call', '=> child()']], result


def config_messages(python, config):
    return run(python, ['-c', 'import hunter'], env={'PYTHONHUNTERCONFIG': config}).stderr


@pytest.mark.parametrize(
    'config',
    [
        'bogus=1, stdlib=False',
        'Stdlib=False, nonsense="x"',
        '"text", 12, Q(module="x")',
        'repr_limit=10, force_colors=True, thread=False, clear_env_var=False, module_startswith="x"',
    ],
)
def test_config_messages_match_hunter(python, config):
    expected = config_messages(reference_python() or pytest.skip('no reference interpreter'), config)
    assert config_messages(python, config) == expected


def test_config_syntax_error_points_at_it(python):
    assert config_messages(python, 'stdlib=False, repr_limit=(') == (
        'hunter: cannot parse PYTHONHUNTERCONFIG at column 27: expected a name, a call or a literal but found the end '
        'of the text\n    stdlib=False, repr_limit=(\n                              ^\n'
    )
