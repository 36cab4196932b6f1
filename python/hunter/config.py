"""
Lazy defaults for action options that ``PYTHONHUNTERCONFIG`` (or :func:`hunter.load_config`) may override, and the
``[tool.hunter]`` table of pyproject.toml, which holds defaults under those of ``PYTHONHUNTERCONFIG``.
"""

import os
import re
import stat

#: Writes hunter's own message to ``sys.stderr``: nothing when the program runs without one (``2>&-``) or it takes
#: nothing more; never to the program's stdout, nor to file descriptor 2 (which such a program may have reused).
from ._hunter import say_on_stderr

#: ``(source name, table)`` or None, by working directory: each pyproject.toml is read at most once.
_pyproject_tables = {}


class Default:
    """
    A keyword-argument default that is looked up in ``hunter._default_config`` when the action is constructed,
    falling back to ``fallback_value`` when the config does not set ``key``.
    """

    def __init__(self, key, fallback_value):
        self.key = key
        self.fallback_value = fallback_value

    def resolve(self):
        # Looked up on every call: the config is loaded after the actions module is imported and can be reloaded.
        return _current_config().get(self.key, self.fallback_value)

    # Signatures and docs show the built-in default, not whatever the config currently says (as hunter does).
    def __str__(self):
        return str(self.fallback_value)

    def __repr__(self):
        return repr(self.fallback_value)


def is_set(value):
    """Whether ``value`` was chosen (given, or set by the config) rather than left at its built-in default."""
    return not isinstance(value, Default) or value.key in _current_config()


def resolve(value):
    """Return the configured value if ``value`` is a :class:`Default`, else ``value`` itself."""
    if isinstance(value, Default):
        return value.resolve()
    return value


def _current_config():
    from . import _default_config
    from . import _merge_pyproject_config

    _merge_pyproject_config()
    return _default_config


def pyproject_table():
    """
    ``(source name, table)`` of the ``[tool.hunter]`` table in the nearest pyproject.toml that has one, from the
    working directory upward, or None: also when no TOML parser is available (``tomllib``, or ``tomli`` before
    Python 3.11). An unreadable table is reported on stderr, once, and ignored.
    """
    try:
        directory = os.getcwd()
    except OSError:
        return None
    if directory not in _pyproject_tables:
        _pyproject_tables[directory] = _find_pyproject_table(directory)
    return _pyproject_tables[directory]


#: A line that can start the table, in any of its spellings: ``[tool.hunter]``, ``tool.hunter.key = ...`` and, in a
#: ``[tool]`` table, ``hunter = {...}`` or ``hunter.key = ...`` (quoted keys too).
_MAY_HAVE_TABLE = re.compile(
    rb'^[ \t]*(?:\[[ \t]*"?tool"?[ \t]*\.[ \t]*"?hunter"?[ \t]*[\].]|"?tool"?[ \t]*\.[ \t]*"?hunter"?[ \t]*[.=]|"?hunter"?[ \t]*[.=])',
    re.MULTILINE,
)


#: The largest pyproject.toml read; a larger one is ignored (it is read whole when tracing starts).
_PYPROJECT_SIZE_LIMIT = 1 << 20


def _read_pyproject(path):
    """The bytes of ``path`` when it is a regular file of this user's (or root's), of at most
    :data:`_PYPROJECT_SIZE_LIMIT` bytes; else ``b''``. Never blocks: a FIFO, a device or another user's file (in a
    shared ancestor such as ``/tmp``, it would set where every trace goes) is no configuration."""
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, 'O_NONBLOCK', 0))
    except OSError:
        return b''
    with os.fdopen(descriptor, 'rb') as file:
        status = os.fstat(descriptor)
        owners = (os.getuid(), 0) if hasattr(os, 'getuid') else (status.st_uid,)
        if not stat.S_ISREG(status.st_mode) or status.st_size > _PYPROJECT_SIZE_LIMIT:
            return b''
        if status.st_uid not in owners:
            if _MAY_HAVE_TABLE.search(file.read(_PYPROJECT_SIZE_LIMIT)):
                say_on_stderr(f'hunter: ignored the [tool.hunter] table of {path}: the file is another user\'s\n')
            return b''
        try:
            return file.read(_PYPROJECT_SIZE_LIMIT)
        except OSError:
            return b''


def _find_pyproject_table(directory):
    toml = None
    while True:
        path = os.path.join(directory, 'pyproject.toml')
        content = _read_pyproject(path)
        # Only a file that may have the table is parsed: parsing imports a TOML parser (tomli, before 3.11, is a
        # third-party module the traced program may import itself, and would then find imported already).
        if _MAY_HAVE_TABLE.search(content):
            toml = toml or _toml_parser()
            if toml is None:
                return None
            try:
                tool = toml.loads(content.decode('utf-8')).get('tool')
            except ValueError as exc:  # TOMLDecodeError and UnicodeDecodeError are ValueErrors.
                say_on_stderr(f'hunter: cannot read {path}: {exc}\n')
                return None
            table = tool.get('hunter') if isinstance(tool, dict) else None
            if isinstance(table, dict):
                return f'{path} [tool.hunter]', table
            if table is not None:
                say_on_stderr(f'hunter: tool.hunter in {path} is not a table of options\n')
                return None
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


def _toml_parser():
    try:
        import tomllib
    except ImportError:
        try:
            import tomli as tomllib
        except ImportError:
            return None
    return tomllib
