"""Living beside the real hunter (issue 16, item 2): ``import hunter`` warns, once, when another installed
distribution (the hunter from PyPI) owns the ``hunter/`` folder that ours is in, and names the command that fixes it.

Each test builds a fake site-packages: a symlink ``hunter`` to our package and the metadata folder pip would leave,
then imports hunter from it in a fresh interpreter. (The real thing, ``pip install hunter==3.9.0`` next to a built
wheel in a venv, is described in the README's install section.)
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import hunter_under_test_is_reference

pytestmark = pytest.mark.skipif(hunter_under_test_is_reference(), reason='a check of hunter-rs')

FIX_COMMAND = 'pip uninstall -y hunter hunter-rs && pip install hunter-rs'
RECORD_OF_HUNTER = 'hunter/__init__.py,sha256=abc,100\nhunter/actions.py,sha256=def,200\n'


def fake_site(tmp_path, metadata):
    """A site-packages folder holding our ``hunter`` package and the given ``{relative path: text}`` files."""
    import hunter

    site = tmp_path / 'site-packages'
    site.mkdir()
    (site / 'hunter').symlink_to(Path(hunter.__file__).parent, target_is_directory=True)
    for relative_path, text in metadata.items():
        path = site / relative_path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return site


def import_hunter_from(site, code='import hunter'):
    env = {key: value for key, value in os.environ.items() if not key.startswith(('PYTHONHUNTER', 'PYTHONWARNINGS'))}
    env['PYTHONPATH'] = str(site)
    result = subprocess.run(
        [sys.executable, '-c', code + '; print(hunter.__file__)'], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(site / 'hunter' / '__init__.py')  # ours, through the fake site
    return result.stderr


def test_warns_once_when_hunter_from_pypi_owns_the_folder(tmp_path):
    site = fake_site(tmp_path, {'hunter-3.9.0.dist-info/RECORD': RECORD_OF_HUNTER})
    stderr = import_hunter_from(site, 'import hunter, importlib; importlib.reload(hunter); import hunter')
    assert stderr.count('RuntimeWarning') == 1, stderr
    assert f'hunter-rs and hunter 3.9.0 (the hunter from PyPI) are both installed in {site}' in stderr
    assert 'share its hunter/ folder' in stderr
    assert FIX_COMMAND in stderr


def test_warns_for_an_egg_info_install(tmp_path):
    site = fake_site(tmp_path, {'hunter-3.8.0-py3.12.egg-info/top_level.txt': 'hunter\n'})
    stderr = import_hunter_from(site)
    assert 'hunter-rs and hunter 3.8.0 (the hunter from PyPI)' in stderr
    assert FIX_COMMAND in stderr


def test_the_warning_can_be_filtered(tmp_path):
    site = fake_site(tmp_path, {'hunter-3.9.0.dist-info/RECORD': RECORD_OF_HUNTER})
    code = "import warnings; warnings.filterwarnings('ignore', 'hunter-rs and hunter', RuntimeWarning); import hunter"
    assert import_hunter_from(site, code) == ''


@pytest.mark.parametrize(
    'metadata',
    [
        {},
        {'hunter_rs-3.9.0.dist-info/RECORD': RECORD_OF_HUNTER},  # ours
        {'hunter-3.9.0.dist-info/RECORD': 'hunter_plugin/__init__.py,sha256=abc,100\n'},  # owns something else
        {'hunter-3.9.0.dist-info/METADATA': 'Name: hunter\n'},  # no RECORD to read
        {'hunter-3.9.0-py3.12.egg-info/top_level.txt': 'hunterlib\n'},
        {'hunterlib-1.0.dist-info/RECORD': RECORD_OF_HUNTER},
    ],
    ids=['alone', 'own-metadata', 'other-package', 'no-record', 'egg-other-package', 'other-name'],
)
def test_no_warning_without_another_owner(tmp_path, metadata):
    site = fake_site(tmp_path, metadata)
    assert import_hunter_from(site) == ''
