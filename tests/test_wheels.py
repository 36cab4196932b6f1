"""The logic of CI's wheels lane (.ci/wheels.py): wheel names, manylinux tags, glibc symbol versions, the checks."""

import importlib.util
import re
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / '.ci' / 'wheels.py'
pytestmark = pytest.mark.skipif(not SCRIPT.exists(), reason='needs the checkout (.ci/wheels.py)')

# The report auditwheel 6.8.2 gave on a wheel built by the lane (maturin 1.16 --zig --compatibility manylinux2014).
GOOD_NAME = 'hunter_rs-3.9.0-cp312-cp312-manylinux2014_x86_64.manylinux_2_17_x86_64.whl'
GOOD_REPORT = {
    'overall_tag': 'manylinux_2_17_x86_64',
    'versioned_symbols': {
        'libc.so.6': ['GLIBC_2.14', 'GLIBC_2.17', 'GLIBC_2.2.5', 'GLIBC_2.3', 'GLIBC_2.3.4'],
        'libdl.so.2': ['GLIBC_2.2.5'],
        'libpthread.so.0': ['GLIBC_2.2.5'],
    },
    'external_libs': {},
}


@pytest.fixture(scope='module')
def wheels():
    spec = importlib.util.spec_from_file_location('ci_wheels', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_wheel_name_with_a_compressed_tag_set(wheels):
    assert wheels.parse_wheel_name(GOOD_NAME) == {
        'distribution': 'hunter_rs',
        'version': '3.9.0',
        'build': None,
        'python': ['cp312'],
        'abi': ['cp312'],
        'platform': ['manylinux2014_x86_64', 'manylinux_2_17_x86_64'],
    }


def test_wheel_name_with_a_build_tag(wheels):
    parsed = wheels.parse_wheel_name('hunter_rs-3.9.0-1-cp39-cp39-linux_x86_64.whl')
    assert (parsed['build'], parsed['python'], parsed['platform']) == ('1', ['cp39'], ['linux_x86_64'])


@pytest.mark.parametrize('name', ['hunter_rs-3.9.0.tar.gz', 'hunter_rs-3.9.0-cp39-linux_x86_64.whl', 'x.whl'])
def test_names_that_are_not_wheels_are_refused(wheels, name):
    with pytest.raises(ValueError, match='not a wheel file name'):
        wheels.parse_wheel_name(name)


def test_expanded_tags_multiply_out_every_tag_set(wheels):
    assert wheels.expanded_tags(GOOD_NAME) == {
        'cp312-cp312-manylinux2014_x86_64',
        'cp312-cp312-manylinux_2_17_x86_64',
    }
    assert wheels.expanded_tags('x-1-py2.py3-none-any.whl') == {'py2-none-any', 'py3-none-any'}


@pytest.mark.parametrize(
    'tag, expected',
    [
        ('manylinux_2_17_x86_64', ((2, 17), 'x86_64')),
        ('manylinux2014_x86_64', ((2, 17), 'x86_64')),
        ('manylinux2014_aarch64', ((2, 17), 'aarch64')),
        ('manylinux2010_x86_64', ((2, 12), 'x86_64')),
        ('manylinux1_i686', ((2, 5), 'i686')),
        ('manylinux_2_34_x86_64', ((2, 34), 'x86_64')),
        ('manylinux_2_5_x86_64', ((2, 5), 'x86_64')),
        ('linux_x86_64', None),
        ('musllinux_1_2_x86_64', None),
        ('macosx_11_0_arm64', None),
        ('manylinux2015_x86_64', None),
    ],
)
def test_manylinux_glibc(wheels, tag, expected):
    assert wheels.manylinux_glibc(tag) == expected


def test_newest_glibc_symbol_compares_numbers_not_strings(wheels):
    # As strings, 'GLIBC_2.3.4' > 'GLIBC_2.17' > 'GLIBC_2.14'.
    assert wheels.newest_glibc_symbol({'libc.so.6': ['GLIBC_2.3.4', 'GLIBC_2.14', 'GLIBC_2.3']}) == (2, 14)
    assert wheels.newest_glibc_symbol(GOOD_REPORT['versioned_symbols']) == (2, 17)


def test_newest_glibc_symbol_ignores_other_version_namespaces(wheels):
    symbols = {'libgcc_s.so.1': ['GCC_4.2.0'], 'libstdc++.so.6': ['GLIBCXX_3.4.30'], 'libc.so.6': ['GLIBC_2.2.5']}
    assert wheels.newest_glibc_symbol(symbols) == (2, 2, 5)
    assert wheels.newest_glibc_symbol({}) == (0,)


def test_a_manylinux2014_wheel_passes(wheels):
    assert wheels.tag_problems(GOOD_NAME, GOOD_REPORT) == []
    older = dict(GOOD_REPORT, overall_tag='manylinux_2_5_x86_64')  # consistent with an older glibc than promised
    assert wheels.tag_problems('hunter_rs-3.9.0-cp39-cp39-manylinux_2_17_x86_64.whl', older) == []


def test_a_plain_linux_wheel_fails(wheels):
    # What `pip wheel .` gives on this machine (issue 16): auditwheel would only grant manylinux_2_34.
    report = dict(GOOD_REPORT, overall_tag='manylinux_2_34_x86_64')
    (problem,) = wheels.tag_problems('hunter_rs-3.9.0-cp312-cp312-linux_x86_64.whl', report)
    assert 'not manylinux' in problem and 'linux_x86_64' in problem


def test_a_file_name_that_promises_more_than_auditwheel_grants_fails(wheels):
    report = dict(GOOD_REPORT, overall_tag='manylinux_2_28_x86_64')
    problems = wheels.tag_problems(GOOD_NAME, report)
    assert problems == ['the file name promises glibc (2, 17) but auditwheel says manylinux_2_28_x86_64']


def test_a_newer_manylinux_tag_fails_even_when_honest(wheels):
    report = dict(GOOD_REPORT, overall_tag='manylinux_2_28_x86_64')
    problems = wheels.tag_problems('hunter_rs-3.9.0-cp312-cp312-manylinux_2_28_x86_64.whl', report)
    assert problems == ["tags newer than glibc 2.17: ['manylinux_2_28_x86_64']"]


def test_symbols_newer_than_the_limit_fail_whatever_the_tag_says(wheels):
    symbols = dict(GOOD_REPORT['versioned_symbols'], **{'libc.so.6': ['GLIBC_2.2.5', 'GLIBC_2.18']})
    problems = wheels.tag_problems(GOOD_NAME, dict(GOOD_REPORT, versioned_symbols=symbols))
    assert problems == ['needs symbols of glibc 2.18, newer than 2.17']


def test_external_libraries_and_mixed_architectures_fail(wheels):
    report = dict(GOOD_REPORT, external_libs={'libpython3.12.so.1.0': {}}, overall_tag='manylinux_2_17_aarch64')
    problems = wheels.tag_problems(GOOD_NAME, report)
    assert problems == [
        "architectures disagree: ['aarch64', 'x86_64']",
        "links libraries outside the manylinux policy: ['libpython3.12.so.1.0']",
    ]


def test_an_audit_without_a_manylinux_tag_fails(wheels):
    (problem,) = wheels.tag_problems(GOOD_NAME, dict(GOOD_REPORT, overall_tag='linux_x86_64'))
    assert problem == "auditwheel finds no manylinux tag it is consistent with: 'linux_x86_64'"


def test_missing_files_takes_paths_and_patterns(wheels):
    names = ['hunter/py.typed', 'hunter/_hunter.cpython-39-x86_64-linux-gnu.so']
    so = re.compile(r'hunter/_hunter\.cpython-39-.*\.so')
    required = ['hunter/py.typed', 'hunter.pth', so, re.compile('LICENSE')]
    assert wheels.missing_files(names, required) == ['hunter.pth', 'LICENSE']


def test_rows_missing_in_order(wheels):
    output = 'a call => main()\nb line x\nc return <= main: 1\n'
    assert wheels.rows_missing_in_order(output, ['=> main()', '<= main: 1']) == []
    # Out of order: the second row is only before the first.
    assert wheels.rows_missing_in_order(output, ['<= main: 1', '=> main()']) == ['=> main()']
    # A missing row does not hide the rows after it.
    rows = ['=> main()', 'nowhere', 'line x', 'nor here']
    assert wheels.rows_missing_in_order(output, rows) == ['nowhere', 'nor here']


def test_install_step_path_has_no_rust(wheels, tmp_path):
    rust_bin, other_bin = tmp_path / 'cargo-bin', tmp_path / 'bin'
    for directory, tool in ((rust_bin, 'cargo'), (other_bin, 'python3')):
        directory.mkdir()
        (directory / tool).write_text('#!/bin/sh\n')
        (directory / tool).chmod(0o755)
    env = wheels.without_rust({'PATH': f'{rust_bin}:{other_bin}', 'HOME': '/h'})
    assert env == {'PATH': str(other_bin), 'HOME': '/h'}
