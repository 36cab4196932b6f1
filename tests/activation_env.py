"""An interpreter environment with ``hunter.pth`` installed, as a wheel install lays it out, for activation tests.

``maturin develop`` does not install ``hunter.pth``. ``pth_venv()`` makes a venv whose site-packages has the repo's
``hunter.pth`` next to a path file that makes the ``hunter`` under test (and its dependencies) importable, so that
``PYTHONHUNTER`` activates at start-up exactly as in a real install.
"""

import subprocess
import sysconfig
import venv
from pathlib import Path

from reference import child_env

REPO_ROOT = Path(__file__).resolve().parent.parent
PTH_SOURCE = REPO_ROOT / 'python' / 'hunter.pth'


def site_packages(venv_dir):
    return Path(sysconfig.get_path('purelib', vars={'base': str(venv_dir), 'platbase': str(venv_dir)}))


def venv_python(venv_dir):
    return Path(venv_dir) / 'bin' / 'python'


def make_pth_venv(venv_dir):
    """A venv of the current interpreter that imports the ``hunter`` under test and runs its ``hunter.pth``."""
    import hunter
    import manhole

    venv.EnvBuilder(with_pip=False, symlinks=True).create(venv_dir)
    target = site_packages(venv_dir)
    import_roots = {str(Path(module.__file__).resolve().parent.parent) for module in (hunter, manhole)}
    # Sorted before hunter.pth (site reads .pth files in name order), so hunter is importable when it runs.
    (target / '_hunter_under_test.pth').write_text(''.join(f'{root}\n' for root in sorted(import_roots)))
    (target / 'hunter.pth').write_bytes(PTH_SOURCE.read_bytes())
    return venv_python(venv_dir)


def run(python, args, *, env=None, cwd=None, timeout=120):
    """Run ``python args...`` with a clean environment plus ``env``; returns the CompletedProcess (text)."""
    return subprocess.run(
        [str(python), *args], capture_output=True, text=True, env=child_env(env), cwd=cwd, timeout=timeout
    )
