"""
Path prefixes that ``Event.stdlib`` classifies filenames with. Computed once, on first import.

All tuples are sorted longest first, so the most specific prefix is tried first.
"""

import collections
import os
import site
import stat
import sys
import sysconfig


def _longest_first(paths):
    return tuple(sorted({path for path in paths if path}, key=len, reverse=True))


def _site_packages_paths():
    for scheme in sysconfig.get_scheme_names():
        if scheme == 'posix_home':
            # The --home scheme points at an arbitrary user directory, not at an installation.
            continue
        for name in ('platlib', 'purelib'):
            try:
                yield sysconfig.get_path(name, scheme)
            except KeyError:
                pass
    yield site.getusersitepackages()
    if sys.version_info < (3, 10):
        # Debian-patched interpreters only report dist-packages through distutils.
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            from distutils.sysconfig import get_python_lib

        yield get_python_lib()
    # Wherever this package is installed (an editable install, a --target dir...) is never stdlib.
    yield os.path.dirname(os.path.dirname(__file__))


def _stdlib_paths():
    base_vars = {
        'base': sys.base_prefix,
        'installed_base': sys.base_prefix,
        'platbase': sys.base_exec_prefix,
        'installed_platbase': sys.base_exec_prefix,
    }
    for config_vars in (None, base_vars):
        for name in ('stdlib', 'platstdlib'):
            yield sysconfig.get_path(name, vars=config_vars)
    for module in (os, stat, collections):
        yield os.path.dirname(module.__file__)
    yield from (entry for entry in sys.path if os.path.basename(entry) == 'lib-dynload')


def _sys_prefix_paths():
    yield from ('<frozen zipimport>', '<frozen importlib._bootstrap>', '<frozen importlib._bootstrap_external>')
    for name in ('prefix', 'exec_prefix', 'real_prefix', 'real_exec_prefix', 'base_prefix', 'base_exec_prefix'):
        yield getattr(sys, name, None)
    for module in (os, stat, collections):
        yield os.path.dirname(module.__file__)


#: Installation directories for third-party code. A file under any of them is not stdlib, even if it is also
#: under a stdlib directory (``.../lib/python3.X/site-packages`` is inside ``.../lib/python3.X``).
SITE_PACKAGES_PATHS = _longest_first(_site_packages_paths())

#: The directories the standard library is actually loaded from, each with a trailing separator so that
#: ``/usr/lib/python3.1`` cannot claim ``/usr/lib/python3.11x``. Unlike hunter (issue #103), a file that is merely
#: under ``sys.prefix`` (a script kept inside a virtualenv directory) is not stdlib.
STDLIB_PATHS = _longest_first(os.path.join(os.path.normpath(path), '') for path in _stdlib_paths())

#: hunter's own, prefix-based stdlib paths. Kept for code that imports the name; ``Event.stdlib`` does not use it.
SYS_PREFIX_PATHS = _longest_first(_sys_prefix_paths())
