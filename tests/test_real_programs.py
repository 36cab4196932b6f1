"""
Differential suite on real programs: third-party pure-Python libraries (Python-Markdown, pyparsing, tomli; pinned
in pyproject.toml's ``test`` extra) do real work on fixed inputs under every configuration of
real_programs/configurations.py, once with the real hunter 3.9.0 (Cython build) and once with hunter-rs, each in
its own process; the printed output must be the same byte for byte after masking only what differs between two runs
of the same program (memory addresses, the site-packages directory of the venv).

Processes: one driver per (program, implementation, backend) runs every code configuration in turn, each into its
own stream, and prints them under ``=== name`` headers; each ``PYTHONHUNTER`` configuration needs a process of its
own. On 3.12+ hunter-rs runs with both backends (sys.monitoring, the default, and settrace).

The harness is checked too: hunter 3.9.0 against itself agrees on every configuration, and a one-character change
in one output is reported with the configuration's name and a diff.

The libraries are installed into the reference venv (and into the running one if missing) at the pinned versions.
"""

import ast
import difflib
import functools
import hashlib
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import activation_env
import reference

HERE = Path(__file__).resolve().parent
PROGRAMS_DIR = HERE / 'real_programs'
DRIVER = PROGRAMS_DIR / 'driver.py'
PYPROJECT = HERE.parent / 'pyproject.toml'


def _load_configurations():
    spec = importlib.util.spec_from_file_location('real_programs_configurations', PROGRAMS_DIR / 'configurations.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CONFIGURATIONS = _load_configurations()
PROGRAMS = sorted(CONFIGURATIONS.PROGRAMS)
CODE_CONFIGURATIONS = list(CONFIGURATIONS.CODE_CONFIGURATIONS)
ENV_CONFIGURATIONS = list(CONFIGURATIONS.ENV_CONFIGURATIONS)
BACKENDS = ['monitoring', 'settrace'] if sys.version_info >= (3, 12) else ['settrace']

# Real differences of hunter-rs, each kept as a strict xfail until it is fixed: (program or None for all,
# configuration, backend or None for all) -> the bug in one line.
KNOWN_DIFFERENCES = {}


def library_pins():
    """The pinned requirements of the libraries, read from pyproject.toml's ``test`` extra (their one place)."""
    match = re.search(r'^test = (\[.*\])$', PYPROJECT.read_text(), re.MULTILINE)
    requirements = ast.literal_eval(match.group(1))
    pins = {}
    for requirement in requirements:
        name, _, version = requirement.partition('==')
        if name.lower() in PROGRAMS:
            pins[name.lower()] = version
    assert sorted(pins) == PROGRAMS, f'pyproject.toml pins {sorted(pins)}, the programs are {PROGRAMS}'
    return pins


_VERSIONS_PROBE = """
import json, sys
from importlib import metadata
versions = {}
for name in sys.argv[1:]:
    try:
        versions[name] = metadata.version(name)
    except metadata.PackageNotFoundError:
        versions[name] = None
print(json.dumps(versions))
"""


@functools.lru_cache(maxsize=None)
def with_libraries(python):
    """``python``, after installing the pinned libraries into its environment where they are missing or differ."""
    pins = library_pins()
    # Probed and installed under a lock: another worker may be installing them into the same environment.
    with reference.exclusively('libraries-' + hashlib.sha256(str(python).encode()).hexdigest()[:16]):
        probe = reference.run_python(python, _VERSIONS_PROBE, list(pins))
        assert probe.returncode == 0, probe.stderr
        if json.loads(probe.stdout) != pins:
            subprocess.run(
                [python, '-m', 'pip', 'install', '--quiet', '--disable-pip-version-check']
                + [f'{name}=={version}' for name, version in pins.items()],
                check=True,
                env=reference.child_env(),
                timeout=600,
            )
    return python


def reference_with_libraries():
    return with_libraries(reference.require_reference_python())


def ours_with_libraries():
    return with_libraries(sys.executable)


# Addresses, including the pieces of one that survive truncation by repr_limit ('... [...] x7f31cf5edfc0>').
ADDRESS = re.compile(r'0x[0-9a-fA-F]+|(?<![0-9A-Za-z_])x?(?=[a-f]*[0-9])[0-9a-f]{5,}(?![0-9A-Za-z_])')
# ... and the last few digits of one when the cut keeps fewer than five ('<xml.etree.ElementTr [...] 3100>').
ADDRESS_TAIL = re.compile(r'(?<= \[\.\.\.\] )x?[0-9a-f]{1,4}>')
# The absolute site-packages directory of each venv (shortened file names keep only its tail, the same in both).
SITE_PACKAGES = re.compile(r'''(?:/[^/\s'"<>:\[\]]+)+/site-packages/''')
SECTION = re.compile(r'^=== (\w+)\n', re.MULTILINE)


def mask(text):
    """Masks what differs between two runs of one program: memory addresses and the venv's site-packages path."""
    text = ADDRESS.sub('0xADDR', SITE_PACKAGES.sub('<site-packages>/', text))
    return ADDRESS_TAIL.sub('ADDR>', text)


def split_sections(output):
    parts = SECTION.split(output)
    assert parts[0] == '', f'unexpected output before the first section: {parts[0][:500]!r}'
    return dict(zip(parts[1::2], parts[2::2]))


def run(python, arguments, env):
    result = subprocess.run(
        [python, str(DRIVER), *arguments],
        capture_output=True,
        text=True,
        env=reference.child_env(env),
        cwd=str(PROGRAMS_DIR),
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, f'{python} {DRIVER} {" ".join(arguments)} failed:\n{result.stderr[-5000:]}'
    return result


def backend_env(backend):
    return {'PYTHONHUNTERBACKEND': backend} if backend else {}


# Configurations compared with hunter's pure-Python build, where ours behaves like it rather than like the Cython
# build: the stack events Backlog makes up keep their frame's module (Cython's have '', which the filter drops).
PURE_BUILD_CONFIGURATIONS = {'backlog_stack_module_filter'}


@functools.lru_cache(maxsize=None)
def code_outputs(python, program, backend, run_number=0, pure=False):
    """Every code configuration's masked output (and the program's result) of one driver process (of hunter's
    pure-Python build, if ``pure``). ``run_number`` tells apart repeated runs of the same interpreter (the
    self-check)."""
    result = run(python, [program], {**backend_env(backend), **({'PUREPYTHONHUNTER': '1'} if pure else {})})
    assert not result.stderr, f'the driver wrote to stderr:\n{result.stderr[-5000:]}'
    return split_sections(mask(result.stdout))


@functools.lru_cache(maxsize=None)
def env_output(python, program, configuration, backend, run_number=0):
    """The masked output of one ``PYTHONHUNTER`` run: the trace (stderr) and the program's result."""
    env = dict(backend_env(backend), PYTHONHUNTER=CONFIGURATIONS.env_value(program, configuration))
    result = run(python, [program, '--plain'], env)
    return mask(f'--- stderr\n{result.stderr}--- stdout\n{result.stdout}')


@pytest.fixture(scope='session')
def activating_python(tmp_path_factory):
    """An interpreter whose site-packages runs hunter-rs's hunter.pth (``maturin develop`` does not install it); it
    imports hunter-rs and the libraries from the running environment."""
    ours_with_libraries()
    return str(activation_env.make_pth_venv(tmp_path_factory.mktemp('real-programs-venv')))


def difference(configuration, expected, actual, expected_name='hunter 3.9.0', actual_name='hunter-rs'):
    """None when the outputs are equal, else a report naming the configuration with a unified diff."""
    if expected == actual:
        return None
    diff = list(
        difflib.unified_diff(
            expected.splitlines(keepends=True), actual.splitlines(keepends=True), expected_name, actual_name, n=2
        )
    )
    shown = ''.join(diff[:80])
    more = f'\n... {len(diff) - 80} more diff lines' if len(diff) > 80 else ''
    return f'configuration {configuration!r}: {actual_name} prints differently from {expected_name}:\n{shown}{more}'


def known_difference(program, configuration, backend):
    for key in ((program, configuration, backend), (None, configuration, backend), (program, configuration, None), (None, configuration, None)):
        if key in KNOWN_DIFFERENCES:
            return KNOWN_DIFFERENCES[key]
    return None


def cases(configurations):
    return list(_cases(configurations))


def _cases(configurations):
    for program in PROGRAMS:
        for configuration in configurations:
            for backend in BACKENDS:
                reason = known_difference(program, configuration, backend)
                marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
                yield pytest.param(program, configuration, backend, marks=marks, id=f'{program}-{configuration}-{backend}')


# Pieces of each program's untraced result: the library really did its work.
EXPECTED_RESULTS = {
    'markdown': ['<strong>strong</strong> text, a <a href="https://example.com">link</a>.</p>', '<td>2</td>'],
    'pyparsing': ["[9, 'rejected at column 2', ['1', '22'], ['333']]"],
    'tomli': ["'host': {'ip': '10.0.0.1', 'ports': [80, 1.5]}, 'notes': 'two\\nlines'", 'Unclosed array (at end'],
}


@pytest.mark.parametrize('program', PROGRAMS)
def test_library_does_real_work(program):
    result = code_outputs(reference_with_libraries(), program, None)['result']
    assert all(piece in result for piece in EXPECTED_RESULTS[program]), result


@pytest.mark.parametrize('program, configuration, backend', cases(['result', *CODE_CONFIGURATIONS]))
def test_code_configuration(program, configuration, backend):
    pure = configuration in PURE_BUILD_CONFIGURATIONS
    expected = code_outputs(reference_with_libraries(), program, None, pure=pure)[configuration]
    actual = code_outputs(ours_with_libraries(), program, backend)[configuration]
    assert 'CONFIGURATION FAILED' not in expected, expected
    report = difference(configuration, expected, actual)
    if report:
        pytest.fail(f'{program}, {backend} backend: {report}', pytrace=False)


@pytest.mark.parametrize('program, configuration, backend', cases(ENV_CONFIGURATIONS))
def test_env_configuration(program, configuration, backend, activating_python):
    expected = env_output(reference_with_libraries(), program, configuration, None)
    actual = env_output(activating_python, program, configuration, backend)
    report = difference(configuration, expected, actual)
    if report:
        pytest.fail(f'{program}, {backend} backend, PYTHONHUNTER: {report}', pytrace=False)


@pytest.mark.parametrize('program', PROGRAMS)
def test_reference_agrees_with_itself(program):
    """Two runs of hunter 3.9.0 print the same for every configuration: the masking hides nothing that matters
    and misses nothing that varies."""
    python = reference_with_libraries()
    first, second = code_outputs(python, program, None), code_outputs(python, program, None, run_number=1)
    assert list(first) == ['result', *CODE_CONFIGURATIONS]
    reports = [difference(name, first[name], second[name], 'first run', 'second run') for name in first]
    for configuration in ENV_CONFIGURATIONS:
        once = env_output(python, program, configuration, None)
        again = env_output(python, program, configuration, None, run_number=1)
        reports.append(difference(configuration, once, again, 'first run', 'second run'))
    assert [report for report in reports if report] == []
    assert all(first[name].strip() for name in first), [name for name in first if not first[name].strip()]


def test_harness_reports_a_one_character_change():
    outputs = code_outputs(reference_with_libraries(), 'tomli', None)
    original = outputs['call_printer']
    position = original.index('=> ', len(original) // 2) + 1
    perturbed = original[:position] + '<' + original[position + 1 :]
    assert difference('call_printer', original, original) is None
    report = difference('call_printer', original, perturbed)
    changed_line = perturbed[perturbed.rindex('\n', 0, position) + 1 : perturbed.index('\n', position)]
    assert report.startswith("configuration 'call_printer': hunter-rs prints differently from hunter 3.9.0")
    assert f'\n+{changed_line}\n' in report
    assert f'\n-{changed_line.replace("=<", "=>", 1)}\n' in report
