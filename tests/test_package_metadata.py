"""The installed distribution's metadata (issue 16, item 8): licence, classifiers, supported Pythons, keywords.

Read with ``importlib.metadata`` from the installed ``hunter-rs``, so a packaging change that loses any of it
(a maturin upgrade, an edited ``pyproject.toml``) fails here rather than on PyPI.
"""

import importlib.metadata
import re
import sys
from pathlib import Path

import pytest

from conftest import hunter_under_test_is_reference

pytestmark = pytest.mark.skipif(hunter_under_test_is_reference(), reason='metadata of hunter-rs, not of hunter')

REPO_LICENSE = Path(__file__).resolve().parent.parent / 'LICENSE'


@pytest.fixture(scope='module')
def distribution():
    return importlib.metadata.distribution('hunter-rs')


def supported_versions(requires_python):
    """The minor versions ``>=3.A,<3.B`` allows, e.g. ``['3.9', ..., '3.13']``; fails on any other form."""
    match = re.fullmatch(r'>=\s*3\.(\d+)\s*,\s*<\s*3\.(\d+)', requires_python)
    assert match, f'requires-python {requires_python!r} is not bounded as ">=3.A,<3.B"'
    lowest, first_unsupported = int(match.group(1)), int(match.group(2))
    return [f'3.{minor}' for minor in range(lowest, first_unsupported)]


def test_license_is_an_spdx_expression(distribution):
    assert distribution.metadata['License-Expression'] == 'BSD-2-Clause'
    assert distribution.metadata.get_all('License-File') == ['LICENSE']
    # PEP 639: no licence classifier next to an expression.
    assert not [c for c in distribution.metadata.get_all('Classifier') if c.startswith('License ::')]


def test_license_file_is_installed(distribution):
    installed = [file for file in distribution.files if file.name == 'LICENSE' and 'dist-info' in str(file)]
    assert installed, [str(file) for file in distribution.files]
    text = installed[0].read_text(encoding='utf-8')
    assert text.startswith('BSD 2-Clause License')
    assert 'Copyright (c) 2026, the hunter-rs authors' in text
    if REPO_LICENSE.exists():  # running from a checkout: the installed copy is the repository's
        assert text == REPO_LICENSE.read_text(encoding='utf-8')


def test_requires_python_is_bounded_and_holds_this_interpreter(distribution):
    versions = supported_versions(distribution.metadata['Requires-Python'])
    assert versions[0] == '3.9'
    assert '%d.%d' % sys.version_info[:2] in versions


def test_one_classifier_per_supported_python(distribution):
    classifiers = distribution.metadata.get_all('Classifier')
    versions = supported_versions(distribution.metadata['Requires-Python'])
    listed = [c.rpartition(' :: ')[2] for c in classifiers if re.fullmatch(r'Programming Language :: Python :: 3\.\d+', c)]
    assert listed == versions
    for classifier in (
        'Programming Language :: Python :: 3 :: Only',
        'Programming Language :: Python :: Implementation :: CPython',
        'Operating System :: POSIX :: Linux',
        'Typing :: Typed',
    ):
        assert classifier in classifiers


def test_typed_classifier_is_backed_by_py_typed(distribution):
    import hunter

    if 'Typing :: Typed' not in distribution.metadata.get_all('Classifier'):
        pytest.skip('not declared typed')
    marker = Path(hunter.__file__).with_name('py.typed')
    if not marker.exists():
        pytest.skip('python/hunter/py.typed is added with the stubs (issue 16, item 3); not in this checkout yet')
    assert marker.is_file()


def test_keywords(distribution):
    keywords = distribution.metadata['Keywords'].split(',')
    assert {'hunter', 'trace', 'tracer', 'debugger'} <= set(keywords)


def test_versions_agree(distribution):
    import hunter

    assert importlib.metadata.version('hunter-rs') == distribution.version == hunter.__version__
