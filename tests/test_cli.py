"""``python -m hunter [QUERY ...] [-o FILE] (script.py | -m module) [args]``: runs programs as ``python`` would."""

import io
import os
import re
import subprocess
import sys
import textwrap

import pytest

from conftest import hunter_under_test_is_reference
from reference import child_env

pytestmark = pytest.mark.skipif(hunter_under_test_is_reference(), reason='hunter has no command line')

PROGRAM = textwrap.dedent(
    """
    import sys

    def child(x):
        return x + 1

    print('argv', sys.argv)
    print('name', __name__, __spec__ is None, sys.modules['__main__'].__dict__ is globals())
    print('path0', sys.path[0])
    child(1)
    if len(sys.argv) > 1 and sys.argv[1] == 'fail':
        raise ValueError('boom')
    sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    """
)


def hunter_cli(*args, cwd):
    return subprocess.run(
        [sys.executable, '-m', 'hunter', *args], capture_output=True, text=True, cwd=cwd, env=child_env(), timeout=120
    )


@pytest.fixture
def workdir(tmp_path):
    (tmp_path / 'prog.py').write_text(PROGRAM)
    package = tmp_path / 'pkg'
    package.mkdir()
    (package / '__init__.py').write_text('')
    (package / '__main__.py').write_text(PROGRAM)
    (package / 'tool.py').write_text(PROGRAM)
    return tmp_path


SHOWS_ITSELF = "import os, sys; print(__file__, sys.argv, __spec__ and __spec__.name, __name__)\n"


@pytest.fixture
def programs(tmp_path):
    """Programs that python starts in each of its ways (and fails to start), from ``tmp_path/run``."""
    (tmp_path / 'run').mkdir()
    app = tmp_path / 'dirapp'
    app.mkdir()
    (app / '__main__.py').write_text(SHOWS_ITSELF)
    import zipapp

    zipapp.create_archive(app, tmp_path / 'app.pyz')
    (tmp_path / 'empty').mkdir()
    (tmp_path / 'broken.py').write_text('def f(:\n')
    (tmp_path / 'moves.py').write_text(SHOWS_ITSELF + 'os.chdir("/")\nprint(open(os.path.join(os.path.dirname(__file__), "data.txt")).read())\n')
    (tmp_path / 'data.txt').write_text('found next to the script')
    (tmp_path / 'plainpkg').mkdir()
    (tmp_path / 'plainpkg' / '__init__.py').write_text('')
    return tmp_path


@pytest.mark.parametrize(
    'program',
    [['../dirapp', 'x'], ['../app.pyz', 'x'], ['../empty'], ['../broken.py'], ['../moves.py'], ['../missing.py'], ['-m', 'plainpkg']],
)
def test_started_and_failing_to_start_as_python_does(programs, program):
    # Directories and zip apps ran hunter's own __main__; the script's __file__ was relative (its data not found after
    # a chdir); a syntax error showed this runner's frames; a package without __main__ lacked python's reason.
    env = child_env({'PYTHONPATH': str(programs)})
    expected = subprocess.run([sys.executable, *program], capture_output=True, text=True, cwd=programs / 'run', env=env)
    result = subprocess.run(
        [sys.executable, '-m', 'hunter', 'module="nothing"', *program],
        capture_output=True,
        text=True,
        cwd=programs / 'run',
        env=env,
    )
    assert (result.returncode, result.stdout, result.stderr) == (expected.returncode, expected.stdout, expected.stderr)


def test_an_unknown_option_is_said_to_be_one(workdir):
    result = hunter_cli('--outptu', 'x.log', 'prog.py', cwd=workdir)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        "python -m hunter: error: unrecognized option '--outptu' (options of the program go after it)"
    )


def test_script_like_python(workdir):
    result = hunter_cli('kind="call"', 'function="child"', 'prog.py', '7', '--x', cwd=workdir)
    assert result.returncode == 7
    assert "argv ['prog.py', '7', '--x']" in result.stdout
    assert 'name __main__ True True' in result.stdout
    assert f'path0 {workdir}' in result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and re.search(r'prog\.py:4\s+call\s+=> child\(x=1\)$', lines[0]), result.stderr


def test_module_like_python_dash_m(workdir):
    result = hunter_cli('function="child"', 'kind="return"', '-m', 'pkg.tool', '0', cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert f"argv ['{workdir / 'pkg' / 'tool.py'}', '0']" in result.stdout
    assert 'name __main__ False True' in result.stdout
    assert f'path0 {workdir}' in result.stdout
    assert re.search(r'tool\.py:5\s+return\s+<= child: 2$', result.stderr), result.stderr


def test_package_main(workdir):
    result = hunter_cli('function="child"', 'kind="call"', '-m', 'pkg', '3', cwd=workdir)
    assert result.returncode == 3
    assert '__main__.py:4' in result.stderr


def test_output_file_and_default_query(workdir):
    result = hunter_cli('-o', 'trace.log', 'prog.py', cwd=workdir)
    assert result.returncode == 0 and result.stderr == ''
    log = (workdir / 'trace.log').read_text()
    assert '=> child(x=1)' in log and 'line' in log
    # The runner's own frames (hunter's package) are not part of the program's trace.
    assert 'hunter/' not in log and '__main__.py' not in log


def test_uncaught_exception(workdir):
    result = hunter_cli('kind="exception"', 'prog.py', 'fail', cwd=workdir)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == 'ValueError: boom'
    traceback_text = result.stderr[result.stderr.index('Traceback') :]
    assert 'hunter' not in traceback_text and 'prog.py' in traceback_text


def test_program_excepthook_reports_its_uncaught_exception(workdir):
    (workdir / 'hooked.py').write_text(
        'import sys, traceback\n'
        'def hook(kind, value, tb):\n'
        '    print("hooked", kind.__name__, [frame.f_code.co_name for frame, _ in traceback.walk_tb(tb)], file=sys.stderr)\n'
        'sys.excepthook = hook\n'
        'def fail():\n'
        '    raise ValueError("boom")\n'
        'fail()\n'
    )
    result = hunter_cli('function="nothing"', 'hooked.py', cwd=workdir)
    assert (result.returncode, result.stderr) == (1, "hooked ValueError ['<module>', 'fail']\n")


def test_keyboard_interrupt_ends_the_program_as_python_does(workdir):
    (workdir / 'interrupted.py').write_text('raise KeyboardInterrupt\n')
    plain = subprocess.run([sys.executable, 'interrupted.py'], capture_output=True, text=True, cwd=workdir, timeout=60)
    result = hunter_cli('function="nothing"', 'interrupted.py', cwd=workdir)
    assert (result.returncode, result.stderr) == (plain.returncode, plain.stderr)
    assert result.returncode == -2 and 'KeyboardInterrupt' in result.stderr


def test_program_that_does_not_compile_is_reported_as_python_does(workdir):
    (workdir / 'broken.py').write_text('x = (\n')
    plain = subprocess.run([sys.executable, 'broken.py'], capture_output=True, text=True, cwd=workdir, timeout=60)
    result = hunter_cli('function="nothing"', 'broken.py', cwd=workdir)
    assert result.returncode == plain.returncode == 1
    # 3.9's compile() places an error at the end of the text a line earlier than python's file reader: the rest is the same.
    assert result.stderr.splitlines()[-1] == plain.stderr.splitlines()[-1]
    assert result.stderr.startswith(f'  File "{workdir / "broken.py"}", line ') and 'Traceback' not in result.stderr


def test_package_init_runs_traced_with_the_program(workdir):
    (workdir / 'pkg' / '__init__.py').write_text('def setup():\n    return 1\nsetup()\n')
    result = hunter_cli('function="setup"', 'kind="call"', '-m', 'pkg.tool', cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert re.search(r'pkg/__init__\.py:1 +call +=> setup\(\)', result.stderr), result.stderr


def test_package_init_that_raises_has_no_runner_frames(workdir):
    (workdir / 'pkg' / '__init__.py').write_text('raise RuntimeError("bad package")\n')
    result = hunter_cli('function="nothing"', '-m', 'pkg.tool', cwd=workdir)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == 'RuntimeError: bad package'
    assert 'hunter' not in result.stderr and 'pkg/__init__.py' in result.stderr


def test_script_from_a_deleted_working_directory(workdir, tmp_path_factory):
    gone = tmp_path_factory.mktemp('gone')
    result = subprocess.run(
        [sys.executable, '-c', f'import os, runpy, sys; os.chdir({str(gone)!r}); os.rmdir({str(gone)!r}); '
         f'sys.argv = ["hunter", "function=\\"child\\"", {str(workdir / "prog.py")!r}]; '
         'runpy.run_module("hunter", run_name="__main__")'],
        capture_output=True, text=True, env=child_env(), timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert 'argv' in result.stdout and '=> child(x=1)' in result.stderr


def test_script_that_is_no_regular_file(workdir):
    result = subprocess.run(
        [sys.executable, '-m', 'hunter', 'function="child"', '/dev/stdin'],
        input=PROGRAM, capture_output=True, text=True, cwd=workdir, env=child_env(), timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert '=> child(x=1)' in result.stderr


@pytest.mark.parametrize(
    ('query', 'message'),
    [
        ('foo=1', "Unexpected argument 'foo'"),
        ('kind="cal"', "Value 'cal' for 'kind' is invalid"),
        ('backend="x"', 'Invalid backend value "x"'),
    ],
)
def test_query_that_cannot_be_made_is_a_usage_error(workdir, query, message):
    result = hunter_cli(query, 'prog.py', cwd=workdir)
    assert result.returncode == 2 and result.stdout == ''
    assert result.stderr.splitlines()[-1].startswith(f'python -m hunter: error: {message}'), result.stderr
    assert 'Traceback' not in result.stderr


def test_profile_takes_any_truth_value(workdir):
    result = hunter_cli('profile=1', 'function="child"', 'prog.py', cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert '=> child(x=1)' in result.stderr


def test_bad_query_is_a_usage_error(workdir):
    result = hunter_cli('Q(module="a"', 'prog.py', cwd=workdir)
    assert result.returncode == 2 and result.stdout == ''
    assert 'cannot parse the query at column 13' in result.stderr
    assert result.stderr.splitlines()[-1] == '                ^'


def test_missing_program(workdir):
    result = hunter_cli('stdlib=False', cwd=workdir)
    assert result.returncode == 2 and 'a script or -m module is required' in result.stderr
    assert hunter_cli('-m', 'no_such_module_x', cwd=workdir).returncode == 1


def test_help_has_examples(workdir):
    result = hunter_cli('--help', cwd=workdir)
    assert result.returncode == 0
    assert result.stdout.startswith('usage: python -m hunter')
    assert 'examples:' in result.stdout and 'python -m hunter stdlib=False' in result.stdout


def test_version(workdir):
    import hunter

    for option in ('--version', '-V'):
        result = hunter_cli('stdlib=False', option, 'prog.py', cwd=workdir)
        assert result.returncode == 0 and result.stderr == ''
        assert result.stdout == f'hunter-rs {hunter.__version__} (hunter 3.9.0 compatible)\n'


def test_double_dash_ends_the_queries(workdir):
    # What follows -- is the program and its own arguments, whatever they look like.
    (workdir / 'tool').write_text(PROGRAM)
    result = hunter_cli('kind="call"', 'function="child"', '--', 'tool', '3', '-o', '--', cwd=workdir)
    assert result.returncode == 3, result.stderr
    assert "argv ['tool', '3', '-o', '--']" in result.stdout
    assert re.search(r'tool:4\s+call\s+=> child\(x=1\)$', result.stderr), result.stderr

    result = hunter_cli('function="child"', 'kind="return"', '--', '-m', 'pkg.tool', '0', '--', cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert f"argv ['{workdir / 'pkg' / 'tool.py'}', '0', '--']" in result.stdout
    assert '<= child: 2' in result.stderr

    # After --, a name is the script even if it looks like a query: python's own error, not a parse error.
    result = hunter_cli('--', 'kind="call"', cwd=workdir)
    script = str(workdir / 'kind="call"')
    assert result.returncode == 2 and f"can't open file {script!r}" in result.stderr

    result = hunter_cli('kind="call"', '--', cwd=workdir)
    assert result.returncode == 2 and 'a script or -m module is required after --' in result.stderr


@pytest.mark.parametrize(('option', 'written'), [('-o', 'the trace'), ('--timeline', 'the timeline')])
@pytest.mark.parametrize(('path', 'reason'), [('missing-dir/trace.log', 'No such file or directory'), ('.', 'Is a directory')])
def test_unwritable_output_is_one_line_of_error_before_the_program_runs(workdir, option, written, path, reason):
    # A --timeline path was only met when the program had run, at its end: reported as unraisable, exit status 0.
    result = hunter_cli(option, path, 'prog.py', cwd=workdir)
    assert result.returncode == 2 and result.stdout == ''
    assert result.stderr == f'python -m hunter: error: cannot write {written} to {path!r}: {reason}\n'


@pytest.mark.skipif(sys.platform == 'win32' or not hasattr(os, 'geteuid') or os.geteuid() == 0, reason='root may write anywhere')
def test_output_permission_denied(workdir):
    locked = workdir / 'locked'
    locked.mkdir(mode=0o500)
    result = hunter_cli('-o', 'locked/trace.log', 'prog.py', cwd=workdir)
    assert result.returncode == 2
    assert result.stderr == "python -m hunter: error: cannot write the trace to 'locked/trace.log': Permission denied\n"


class Terminal(io.StringIO):
    def isatty(self):
        return True


def traced_sample(x):
    return x


@pytest.fixture
def colour_env(monkeypatch):
    import hunter

    for name in ('FORCE_COLOR', 'NO_COLOR', 'TERM'):
        monkeypatch.delenv(name, raising=False)
    saved = dict(hunter._default_config), hunter._default_trace_args
    yield monkeypatch
    hunter._default_config.clear()
    hunter._default_config.update(saved[0])
    hunter._default_trace_args = saved[1]


def coloured(stream, **options):
    """Whether a CallPrinter writing to ``stream`` coloured the trace of one call."""
    import hunter

    with hunter.trace(function='traced_sample', kind='call', action=hunter.CallPrinter(stream=stream, **options)):
        traced_sample(1)
    output = stream.getvalue()
    assert 'traced_sample(' in output and output.count('\n') == 1
    return '\x1b[' in output


@pytest.mark.parametrize(
    ('environment', 'tty', 'options', 'expected'),
    [
        ({}, False, {}, False),
        ({}, True, {}, True),
        ({'FORCE_COLOR': '1'}, False, {}, True),
        ({'FORCE_COLOR': '0'}, False, {}, True),  # Any non-empty value.
        ({'FORCE_COLOR': ''}, False, {}, False),
        ({'FORCE_COLOR': '1'}, False, {'force_colors': False}, False),  # The explicit option wins.
        ({'FORCE_COLOR': '1'}, True, {'force_colors': False}, True),  # False only declines forcing.
        ({'NO_COLOR': '1'}, True, {}, False),
        ({'NO_COLOR': '1', 'FORCE_COLOR': '1'}, False, {}, False),
        ({'NO_COLOR': '1'}, False, {'force_colors': True}, True),
        ({'TERM': 'dumb'}, True, {}, False),
        ({'TERM': 'dumb', 'FORCE_COLOR': '1'}, True, {}, True),
        ({'TERM': 'dumb'}, False, {'force_colors': True}, True),
        ({'TERM': 'xterm-256color'}, True, {}, True),
    ],
)
def test_colour_conventions(colour_env, environment, tty, options, expected):
    for name, value in environment.items():
        colour_env.setenv(name, value)
    assert coloured(Terminal() if tty else io.StringIO(), **options) is expected


def test_configured_force_colors_wins_over_force_color(colour_env):
    import hunter

    colour_env.setenv('FORCE_COLOR', '1')
    hunter.load_config(force_colors=False)
    assert not coloured(io.StringIO())
    hunter.load_config(repr_limit=100)
    assert coloured(io.StringIO())


PYPROJECT = """
[project]
name = "traced-project"

[tool.hunter]
kind = "call"
filename_alignment = 12
no_such_option = 1
"""


@pytest.fixture
def project(workdir):
    """``workdir`` as a project with a ``[tool.hunter]`` table, and a subdirectory to run from."""
    (workdir / 'pyproject.toml').write_text(PYPROJECT)
    (workdir / 'src').mkdir()
    return workdir


def run_python(code, cwd, **env):
    return subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=cwd, env=child_env(env), timeout=120)


def test_pyproject_holds_config_defaults(project):
    result = hunter_cli('function="child"', '../prog.py', cwd=project / 'src')
    assert result.returncode == 0
    unknown, trace_line = result.stderr.splitlines()
    assert unknown == f'Discarded config from {project / "pyproject.toml"} [tool.hunter] no_such_option=1: Unknown option'
    # kind='call', and the alignment of 12 (the script's filename is absolute, as python makes it).
    assert trace_line == '[...]prog.py:4     call      => child(x=1)'


@pytest.mark.parametrize('option', ['kind = "cal"', 'module_sw = 5', 'backend = "x"'])
def test_bad_pyproject_value_is_one_line_and_tracing_goes_on(workdir, option):
    (workdir / 'pyproject.toml').write_text(f'[tool.hunter]\n{option}\n')
    result = hunter_cli('function="child"', 'kind="call"', 'prog.py', cwd=workdir)
    assert result.returncode == 0
    message, trace_line = result.stderr.splitlines()
    source = f'{workdir / "pyproject.toml"} [tool.hunter]'
    assert message.startswith((f'Failed to load hunter config from {source}: ', f'Discarded config from {source} ')), message
    assert trace_line.endswith('=> child(x=1)')


@pytest.mark.parametrize('special', ['fifo', 'device'])
def test_pyproject_that_is_no_regular_file_is_no_configuration(workdir, special):
    # A FIFO blocked every trace() (and action) below it for ever; a device would be read without end.
    path = workdir / 'pyproject.toml'
    if special == 'fifo':
        os.mkfifo(path)
    else:
        path.symlink_to('/dev/zero')
    result = hunter_cli('function="child"', 'kind="call"', 'prog.py', cwd=workdir)
    assert result.returncode == 0
    assert result.stderr.splitlines()[-1].endswith('=> child(x=1)'), result.stderr


def test_pyproject_too_large_is_ignored(workdir):
    (workdir / 'pyproject.toml').write_text('[tool.hunter]\nkind = "return"\n' + '#' * (1 << 20) + '\n')
    result = hunter_cli('function="child"', 'kind="call"', 'prog.py', cwd=workdir)
    assert result.returncode == 0
    assert result.stderr.splitlines()[-1].endswith('=> child(x=1)'), result.stderr


@pytest.mark.skipif(not hasattr(os, 'geteuid') or os.geteuid() != 0, reason='needs root, to give the file away')
def test_pyproject_of_another_user_is_ignored(workdir):
    # In a shared ancestor (/tmp), another user's table would choose where every trace goes and what it shows.
    path = workdir / 'pyproject.toml'
    path.write_text('[tool.hunter]\nkind = "return"\n')
    os.chown(path, 65534, 65534)
    result = hunter_cli('function="child"', 'kind="call"', 'prog.py', cwd=workdir)
    assert result.returncode == 0
    note, trace_line = result.stderr.splitlines()
    assert note == f"hunter: ignored the [tool.hunter] table of {path}: the file is another user's"
    assert trace_line.endswith('=> child(x=1)')


def test_pythonhunterconfig_wins_over_pyproject(project):
    env = child_env({'PYTHONHUNTERCONFIG': 'kind="return", filename_alignment=15'})
    result = subprocess.run(
        [sys.executable, '-m', 'hunter', 'function="child"', 'prog.py'], capture_output=True, text=True, cwd=project, env=env
    )
    assert result.returncode == 0
    assert re.fullmatch(r'\[\.\.\.\].{3}prog\.py:5     return    <= child: 2', result.stderr.splitlines()[-1])


PYPROJECT_PROBE = """
import io, sys
import hunter
read_at_import = bool(hunter.config._pyproject_tables)
printer = hunter.CallPrinter(stream=io.StringIO())  # An action default (force_colors) from pyproject.toml.
print(read_at_import, printer._tty, [name for name in ('tomllib', 'tomli') if sys.modules.get(name)])
"""


def test_pyproject_is_read_when_tracing_is_configured_not_at_import(workdir):
    (workdir / 'pyproject.toml').write_text('[tool.hunter]\nforce_colors = true\n')
    result = run_python(PYPROJECT_PROBE, cwd=workdir)
    assert result.stderr == ''
    read_at_import, coloured, parsers = result.stdout.split(maxsplit=2)
    assert (read_at_import, coloured) == ('False', 'True') and parsers != '[]'


def test_pyproject_without_a_table_for_hunter_is_not_parsed(workdir):
    (workdir / 'pyproject.toml').write_text('[project]\nname = "other"\n')
    result = run_python(PYPROJECT_PROBE, cwd=workdir)
    assert result.stdout == 'False False []\n' and result.stderr == ''


def test_pyproject_is_ignored_without_a_toml_parser(workdir):
    (workdir / 'pyproject.toml').write_text('[tool.hunter]\nforce_colors = true\n')
    no_parser = "import sys\nsys.modules['tomllib'] = sys.modules['tomli'] = None\n"
    result = run_python(no_parser + PYPROJECT_PROBE, cwd=workdir)
    assert result.stdout == 'False False []\n' and result.stderr == ''


def test_malformed_pyproject_is_one_line_of_error(workdir):
    (workdir / 'pyproject.toml').write_text('[tool.hunter]\nkind = call\n')
    result = hunter_cli('function="child"', 'kind="call"', 'prog.py', cwd=workdir)
    assert result.returncode == 0
    error, trace_line = result.stderr.splitlines()
    assert error.startswith(f'hunter: cannot read {workdir / "pyproject.toml"}: ') and 'line 2' in error
    assert '=> child(x=1)' in trace_line


def test_pyproject_applies_when_pythonhunterconfig_is_malformed(project):
    env = child_env({'PYTHONHUNTERCONFIG': 'kind='})
    result = subprocess.run(
        [sys.executable, '-m', 'hunter', 'function="child"', 'prog.py'], capture_output=True, text=True, cwd=project, env=env
    )
    assert result.returncode == 0
    assert result.stderr.startswith('hunter: cannot parse PYTHONHUNTERCONFIG at column 6')
    assert result.stderr.splitlines()[-1] == '[...]prog.py:4     call      => child(x=1)'


def test_assigned_force_colors_counts_as_given(colour_env):
    import hunter

    colour_env.setenv('FORCE_COLOR', '1')
    printer = hunter.CallPrinter(stream=io.StringIO())
    assert printer._tty
    printer.force_colors = False
    printer.stream = io.StringIO()
    assert not printer._tty
    printer.force_colors = True
    colour_env.setenv('NO_COLOR', '1')
    printer.stream = io.StringIO()
    assert printer._tty
