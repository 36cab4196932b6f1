"""
Actions: the callables that receive each matching :class:`hunter.Event`.

The printers reproduce hunter 3.9.0's output byte for byte (coloured or not). Deliberate departures, each a fix
for a known upstream problem:

* ``stream='some/path'`` opens the file for appending (line buffered); upstream raises ``ValueError``.
* :class:`CallPrinter` drops call-stack entries of frames that are no longer executing, so its indentation no
  longer grows forever when ``return`` events are filtered out (upstream issue #123). When every return is seen,
  nothing is dropped and the output is unchanged.
* The colour conventions of the environment are honoured, in CPython 3.13's order (see ``_colours_wanted``).
* Colour output is written to the stream directly; colorama's ``AnsiToWin32`` wrapper is only used on Windows.
"""

import collections
import opcode
import os
from collections import defaultdict
from os import getpid

from . import config
from ._hunter import CallStack
from ._hunter import NativeStreamAction
from ._hunter import _closest_name
from ._hunter import clip_ends
from .util import CALL_COLORS
from .util import CODE_COLORS
from .util import OTHER_COLORS
from .util import iter_symbols
from .util import safe_repr

# Same (incomplete) list as hunter: star-imports must not bring in more names than upstream.
__all__ = [
    'Action',
    'CallPrinter',
    'CodePrinter',
    'Debugger',
    'Manhole',
    'VarsPrinter',
]

BUILTIN_REPR_FUNCS = {'repr': repr, 'safe_repr': safe_repr}

# Opcodes a frame is sitting on when it returns normally (as opposed to unwinding because of an exception).
RETURN_OPCODES = (opcode.opmap['RETURN_VALUE'],)
if 'RETURN_CONST' in opcode.opmap:
    RETURN_OPCODES += (opcode.opmap['RETURN_CONST'],)

TRUNCATION_FORMAT = '{} {CONT}[...]{RESET} {}'

# The methods hunter's printers call on themselves. A printer whose class or instance replaces one of them
# runs each event through all of them, called where and as hunter 3.9.0 calls them (each row goes to
# ``output``); one that replaces none prints natively. Which applies is decided when the native side reads
# the options (the first event, and again after any option changes); setting one on an instance counts as
# an option change. Replacing one on a class after its instances have printed is not noticed.
PRINTER_HOOKS = frozenset(('output', 'pid_prefix', 'thread_prefix', 'filename_prefix', 'try_repr', 'try_str', 'try_source'))
BANNER_WIDTH = 46


class Action:
    def __call__(self, event):
        raise NotImplementedError


class LazyImportPdb:
    """Stands in for ``pdb.Pdb`` so that importing hunter does not import pdb."""

    def __repr__(self):
        return "<class 'pdb.Pdb'>"

    __str__ = __repr__

    def __call__(self, **kwargs):
        from pdb import Pdb

        return Pdb(**kwargs)


class Debugger(Action):
    """
    An action that starts ``pdb`` (or ``klass``) at the frame of the matching event.
    """

    def __init__(self, klass=config.Default('klass', LazyImportPdb()), **kwargs):
        self.klass = config.resolve(klass)
        self.kwargs = kwargs

    def __eq__(self, other):
        return type(self) is type(other) and self.klass == other.klass and self.kwargs == other.kwargs

    def __str__(self):
        return f'{type(self).__name__}(klass={self.klass}, kwargs={self.kwargs})'

    def __repr__(self):
        return f'{type(self).__name__}(klass={self.klass!r}, kwargs={self.kwargs!r})'

    def __call__(self, event):
        """
        Runs a ``pdb.set_trace`` at the matching frame.
        """
        self.klass(**self.kwargs).set_trace(event.frame)


class Manhole(Action):
    """
    An action that installs a manhole and waits for one connection.
    """

    def __init__(self, **options):
        self.options = options

    def __eq__(self, other):
        return type(self) is type(other) and self.options == other.options

    def __str__(self):
        return f'{type(self).__name__}(options={self.options})'

    def __repr__(self):
        return f'{type(self).__name__}(options={self.options!r})'

    def __call__(self, event):
        import manhole

        manhole.install(strict=False, thread=False, **self.options).handle_oneshot()


def _colours_wanted(stream, force_colors):
    """
    Whether a printer writing to ``stream`` colours its output. ``force_colors`` is the option when it was given (as
    an argument, by PYTHONHUNTERCONFIG or by pyproject.toml), None when left at its default. In order, as CPython
    3.13 decides for its own tracebacks: ``force_colors=True``; a non-empty ``NO_COLOR`` (no-color.org) turns
    colours off; a non-empty ``FORCE_COLOR`` (force-color.org) turns them on unless ``force_colors=False`` was
    given; ``TERM=dumb`` turns them off; else the stream's ``isatty()`` (hunter's only rule) decides.
    """
    if force_colors:
        return True
    if os.environ.get('NO_COLOR'):
        return False
    if force_colors is None and os.environ.get('FORCE_COLOR'):
        return True
    if os.environ.get('TERM') == 'dumb':
        return False
    isatty = getattr(stream, 'isatty', None)
    return bool(isatty and isatty())


def _ansi_stream(stream):
    """Legacy Windows consoles need colorama to turn the ANSI codes into console calls; elsewhere write as is."""
    if os.name != 'nt':
        return stream
    try:
        from colorama import AnsiToWin32
    except ImportError:
        return stream
    return AnsiToWin32(stream, strip=False)


class _Option:
    """An option the native printing code reads: setting it makes the native side read the options again.
    The value lives in the instance ``__dict__`` under the option's own name, as a plain attribute would."""

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, instance, owner):
        if instance is None:
            return self
        try:
            return instance.__dict__[self.name]
        except KeyError:
            raise AttributeError(self.name) from None

    def __set__(self, instance, value):
        instance.__dict__[self.name] = value
        instance._options_changed()


def _option_names(cls):
    """The keyword parameters of every ``__init__`` along ``cls``'s MRO: the options its constructor takes."""
    names = []
    for klass in cls.__mro__:
        init = vars(klass).get('__init__')
        code = getattr(getattr(init, '__wrapped__', init), '__code__', None)
        if code is not None:
            names.extend(code.co_varnames[1 : code.co_argcount + code.co_kwonlyargcount])
    return names


def _suggesting_options(init):
    """Wraps a printer's ``__init__`` so that an unknown option gets "Did you mean 'X'?" after Python's own
    "unexpected keyword argument" message, with the closest option of the printer's class."""

    def __init__(self, *args, **kwargs):
        try:
            init(self, *args, **kwargs)
        except TypeError as exc:
            # Only the call's own argument binding: an error raised inside ``init`` has a frame of its own.
            if exc.__traceback__.tb_next is not None:
                raise
            known = _option_names(type(self))
            unknown = [name for name in kwargs if name not in known]
            match = _closest_name(unknown[0], list(known)) if unknown else None
            if match is None:
                raise
            raise TypeError(f"{exc}. Did you mean '{match}'?") from None

    __init__.__wrapped__ = init
    __init__.__doc__ = init.__doc__
    __init__.__qualname__ = init.__qualname__
    return __init__


class ColorStreamAction(NativeStreamAction, Action):
    """
    Baseclass for your custom action. Just implement your own ``__call__``.

    The per-event work of the built-in printers (prefixes, value rendering, writing) is native; the options are
    resolved here and read back by the native side whenever one changes. Colour dicts are read as a whole: assign
    a new ``event_colors``/``other_colors`` dict rather than changing one in place.
    """

    # Files opened for ``stream='path'``, shared so that several actions writing to one path share one handle.
    _stream_cache = {}
    _stream = None
    _tty = None
    _repr_func = None
    # False while force_colors is the built-in default (not given, configured or assigned): the environment decides.
    _force_colors_given = True
    # Which rows the native ``__call__`` prints: None (abstract), 'code', 'call', 'vars', 'vars_snooper' or 'stack'.
    _native_printer = None

    OTHER_COLORS = OTHER_COLORS
    EVENT_COLORS = CODE_COLORS

    force_colors = _Option()
    force_pid = _Option()
    filename_alignment = _Option()
    thread_alignment = _Option()
    pid_alignment = _Option()
    repr_limit = _Option()
    event_colors = _Option()
    other_colors = _Option()
    seen_threads = _Option()
    seen_pid = _Option()

    @_suggesting_options
    def __init__(
        self,
        stream=config.Default('stream', None),
        force_colors=config.Default('force_colors', False),
        force_pid=config.Default('force_pid', False),
        filename_alignment=config.Default('filename_alignment', 40),
        thread_alignment=config.Default('thread_alignment', 12),
        pid_alignment=config.Default('pid_alignment', 9),
        repr_limit=config.Default('repr_limit', 1024),
        repr_func=config.Default('repr_func', 'safe_repr'),
    ):
        # force_colors first: the stream setter reads it.
        self.force_colors = config.resolve(force_colors)
        if not config.is_set(force_colors):
            self._force_colors_given = False
        self.force_pid = config.resolve(force_pid)
        stream = config.resolve(stream)
        if stream is None:
            import hunter

            stream = hunter._default_stream
        self.stream = stream
        self.filename_alignment = config.resolve(filename_alignment)
        self.thread_alignment = config.resolve(thread_alignment)
        self.pid_alignment = config.resolve(pid_alignment)
        self.repr_limit = config.resolve(repr_limit)
        self.repr_func = config.resolve(repr_func)
        self.seen_threads = set()
        self.seen_pid = getpid()

    def __eq__(self, other):
        return (
            isinstance(other, type(self))
            and self.stream == other.stream
            and self.force_colors == other.force_colors
            and self.filename_alignment == other.filename_alignment
            and self.thread_alignment == other.thread_alignment
            and self.pid_alignment == other.pid_alignment
            and self.repr_limit == other.repr_limit
            and self.repr_func == other.repr_func
        )

    # Python classes with __eq__ are unhashable, as upstream's actions are.
    __hash__ = None

    def __setattr__(self, name, value):
        super().__setattr__(name, value)
        if name in PRINTER_HOOKS:
            self._options_changed()
        elif name == 'force_colors':
            super().__setattr__('_force_colors_given', True)

    def _overrides_hooks(self):
        """Whether this printer replaces any of :data:`PRINTER_HOOKS` (read by the native side)."""
        cls = type(self)
        instance_attributes = getattr(self, '__dict__', {})
        return any(
            name in instance_attributes or getattr(cls, name) is not getattr(ColorStreamAction, name) for name in PRINTER_HOOKS
        )

    # Both forms keep upstream's missing comma before "repr_limit": existing code compares these strings.
    def __str__(self):
        return (
            f'{type(self).__name__}(stream={self.stream}, force_colors={self.force_colors}, '
            f'filename_alignment={self.filename_alignment}, thread_alignment={self.thread_alignment}, '
            f'pid_alignment={self.pid_alignment} repr_limit={self.repr_limit}, repr_func={self.repr_func})'
        )

    def __repr__(self):
        return (
            f'{type(self).__name__}(stream={self.stream!r}, force_colors={self.force_colors!r}, '
            f'filename_alignment={self.filename_alignment!r}, thread_alignment={self.thread_alignment!r}, '
            f'pid_alignment={self.pid_alignment!r} repr_limit={self.repr_limit!r}, repr_func={self.repr_func!r})'
        )

    @property
    def stream(self):
        return self._stream

    @stream.setter
    def stream(self, value):
        if isinstance(value, str):
            value = self._open_path(value)
        if _colours_wanted(value, self.force_colors if self._force_colors_given else None):
            self._stream = _ansi_stream(value)
            self._tty = True
            self.event_colors = self.EVENT_COLORS
            self.other_colors = self.OTHER_COLORS
        else:
            self._stream = value
            self._tty = False
            self.event_colors = dict.fromkeys(self.EVENT_COLORS, '')
            self.other_colors = dict.fromkeys(self.OTHER_COLORS, '')

    @classmethod
    def _open_path(cls, path):
        # Line buffered: every output() call ends with a newline, so each line reaches the file right away.
        stream = cls._stream_cache.get(path)
        if stream is None:
            stream = cls._stream_cache[path] = open(path, 'a', buffering=1, encoding='utf-8', errors='backslashreplace')  # noqa: SIM115
        return stream

    @property
    def repr_func(self):
        return self._repr_func

    @repr_func.setter
    def repr_func(self, value):
        if callable(value):
            self._repr_func = value
        elif value in BUILTIN_REPR_FUNCS:
            self._repr_func = BUILTIN_REPR_FUNCS[value]
        else:
            raise TypeError(f'Expected a callable or either "repr" or "safe_repr" strings, not {value!r}.')
        self._options_changed()

    def _clip(self, text):
        """``try_repr``'s newline escaping and ``repr_limit`` clipping of a rendered value the native side does not
        handle (a ``repr_func`` that returns something other than a ``str``, or a ``repr_limit`` that is not a
        non-negative int). The clipping rule itself is the native one (``clip_ends``)."""
        text = text.replace('\n', r'\n')
        ends = clip_ends(text, self.repr_limit)
        return text if ends is None else TRUNCATION_FORMAT.format(*ends, **self.other_colors)

    def output(self, format_str, *args, **kwargs):
        """
        Write ``format_str.format(*args, **ANSI_COLORS, **kwargs)`` to ``self.stream``.

        For ANSI coloring you can place these in the ``format_str``: ``{BRIGHT}``, ``{DIM}``, ``{NORMAL}``,
        ``{RESET}``, ``{fore(BLACK)}``, ``{fore(RED)}``, ``{fore(GREEN)}``, ``{fore(YELLOW)}``, ``{fore(BLUE)}``,
        ``{fore(MAGENTA)}``, ``{fore(CYAN)}``, ``{fore(WHITE)}``, ``{fore(RESET)}`` and the same ``{back(...)}``
        names, plus the named colours of ``OTHER_COLORS`` (``{KIND}``, ``{CONT}``, ``{VARS}``, ...).
        """
        colours = dict(self.other_colors, **kwargs) if kwargs else self.other_colors
        self.stream.write(format_str.format(*args, **colours))

    def cleanup(self):
        pass


class CodePrinter(ColorStreamAction):
    """
    An action that just prints the code being executed: filename, line number and source code; for ``return``
    and ``exception`` events also the value.

    Args:
        stream (file-like or path): Stream to write to. Default: ``sys.stderr``.
        filename_alignment (int): Default size for the filename column (files are right-aligned). Default: ``40``.
        force_colors (bool): Force coloring. Default: ``False``.
        repr_limit (int): Limit length of ``repr()`` output. Default: ``1024``.
        repr_func (string or callable): Function to use instead of ``repr``.
            If string must be one of 'repr' or 'safe_repr'. Default: ``'safe_repr'``.
    """

    _native_printer = 'code'


class CallPrinter(CodePrinter):
    """
    An action that prints the code being executed, like :obj:`hunter.CodePrinter`, but indented by call depth and
    showing the arguments of calls.

    The call stacks (one per thread) live on the class and are shared by every instance. ``CallPrinter.cleanup()``
    resets them.

    Args:
        stream (file-like or path): Stream to write to. Default: ``sys.stderr``.
        filename_alignment (int): Default size for the filename column (files are right-aligned). Default: ``40``.
        force_colors (bool): Force coloring. Default: ``False``.
        repr_limit (int): Limit length of ``repr()`` output. Default: ``1024``.
        repr_func (string or callable): Function to use instead of ``repr``.
            If string must be one of 'repr' or 'safe_repr'. Default: ``'safe_repr'``.

    .. versionadded:: 1.2.0
    """

    _native_printer = 'call'
    EVENT_COLORS = CALL_COLORS

    # thread ident -> the calls that have not returned yet, a sequence of (module, function, id of the frame or None).
    locals = defaultdict(CallStack)

    @classmethod
    def cleanup(cls):
        cls.locals = defaultdict(CallStack)


class VarsPrinter(ColorStreamAction):
    """
    An action that prints local variables and optionally global variables visible from the current executing frame.

    Each expression is evaluated in the event's frame when every name it uses is defined there (a local, a global
    or a builtin). An expression raising ``AttributeError`` or ``KeyError`` shows nothing; other exceptions show as
    ``FAILED EVAL``.

    Args:
        *names (strings): Names to evaluate. Expressions can be used (will only try to evaluate if all the variables are
            present on the frame.
        stream (file-like or path): Stream to write to. Default: ``sys.stderr``.
        filename_alignment (int): Default size for the filename column (files are right-aligned). Default: ``40``.
        force_colors (bool): Force coloring. Default: ``False``.
        repr_limit (int): Limit length of ``repr()`` output. Default: ``1024``.
        repr_func (string or callable): Function to use instead of ``repr``.
            If string must be one of 'repr' or 'safe_repr'. Default: ``'safe_repr'``.
    """

    _native_printer = 'vars'
    # expression -> the set of names it uses.
    names = _Option()

    def __init__(self, *names, **options):
        if not names:
            raise TypeError('VarsPrinter requires at least one variable name/expression.')
        self.names = {name: set(iter_symbols(name)) for name in names}
        super().__init__(**options)


class VarsSnooper(ColorStreamAction):
    """
    A PySnooper-inspired action, similar to :class:`~hunter.actions.VarsPrinter`, but only show variable changes:
    the locals that are new (``name := value``) or changed (``name : old => new``) since the last event in the same
    code object.

    .. warning:: Should be considered experimental. Use judiciously.

        * It stores reprs for all seen variables, therefore it can use lots of memory.
        * Will leak memory if you filter the return events (eg: ``~Q(kind="return")``).
        * Not thoroughly tested. May misbehave on code with closures/nonlocal variables.

    Args:
        stream (file-like or path): Stream to write to. Default: ``sys.stderr``.
        filename_alignment (int): Default size for the filename column (files are right-aligned). Default: ``40``.
        force_colors (bool): Force coloring. Default: ``False``.
        repr_limit (int): Limit length of ``repr()`` output. Default: ``1024``.
        repr_func (string or callable): Function to use instead of ``repr``.
            If string must be one of 'repr' or 'safe_repr'. Default: ``'safe_repr'``.
    """

    _native_printer = 'vars_snooper'
    # event.code (or event.function) -> {name: rendered value}, until that code returns.
    stored_reprs = _Option()

    def __init__(self, **options):
        super().__init__(**options)
        self.stored_reprs = defaultdict(dict)


class ErrorSnooper(CodePrinter):
    """
    An action that prints events around silenced exceptions. Note that it inherits the output of
    :class:`~hunter.actions.CodePrinter` so no fancy call indentation.

    .. warning::

        Should be considered experimental. May show lots of false positives especially if you're tracing lots of
        clumsy code like:

        .. sourcecode:: python

            try:
                stuff = something[key]
            except KeyError:
                stuff = "default"

    Args:
        max_backlog (int): Maximum number of events to record and display before the silenced exception is raised.
            Set to 0 to disable and get a speed boost. Default: ``10``.
        max_events (int): Maximum number of events to record and display for each detected silenced exception.
            Default: ``50``.
        max_depth (int): Increase if you want to drill into subsequent calls after an exception is raised. If you
            increase this you might want to also increase ``max_events`` since subsequent calls may have so many
            events you won't get to see the return event. Default: ``0`` (doesn't drill into any calls).

        stream (file-like or path): Stream to write to. Default: ``sys.stderr``.
        filename_alignment (int): Default size for the filename column (files are right-aligned). Default: ``40``.
        force_colors (bool): Force coloring. Default: ``False``.
        repr_limit (int): Limit length of ``repr()`` output. Default: ``1024``.
        repr_func (string or callable): Function to use instead of ``repr``.
            If string must be one of 'repr' or 'safe_repr'. Default: ``'safe_repr'``.

    .. versionadded:: 3.1.0
    """

    def __init__(self, *args, max_backlog=10, max_events=50, max_depth=0, **kwargs):
        self.max_backlog = max_backlog
        self.backlog = collections.deque(maxlen=max_backlog)
        self.max_events = max_events
        self.max_depth = max_depth
        # The shallowest exception event of the episode being recorded, and the events recorded since.
        self.origin = None
        self.events = None
        super().__init__(*args, **kwargs)

    def __call__(self, event):
        detached = None
        if self.max_backlog:
            detached = event.detach(self.try_repr)
            self.backlog.append(detached)

        if event.kind == 'exception':
            detached = self._detached(event, detached)
            if self.origin is None:
                self.events = list(self.backlog)
                self.origin = detached
            else:
                self.events.append(detached)
                if self.origin.depth > event.depth:
                    self.origin = detached
        elif self.origin is None:
            return
        elif event.kind == 'return':
            self.events.append(self._detached(event, detached))
            if event.depth == self.origin.depth - 1:
                # The function that raised is returning. It swallowed the exception if it returns normally.
                if event.instruction in RETURN_OPCODES:
                    self.dump_events()
                    self.output('{BRIGHT}{fore(BLACK)}{} function exit{RESET}\n', '-' * BANNER_WIDTH)
                self.origin = None
                self.events = None
        elif event.depth > self.origin.depth + self.max_depth:
            return
        elif len(self.events) > self.max_events:
            self.dump_events()
            self.output('{BRIGHT}{fore(BLACK)}{} too many lines{RESET}\n', '-' * BANNER_WIDTH)
        else:
            self.events.append(self._detached(event, detached))

    def _detached(self, event, already_detached):
        return event.detach(self.try_repr) if already_detached is None else already_detached

    def dump_events(self):
        self.output(
            '{BRIGHT}{fore(BLUE)}{} tracing {fore(YELLOW)}{}{fore(BLUE)} on {fore(RED)}{}{RESET}\n',
            '>' * BANNER_WIDTH,
            self.origin.function,
            self.origin.arg,
        )
        for event in self.events:
            super().__call__(event)
        self.origin = None
        self.events = None


class StackPrinter(ColorStreamAction):
    """
    An action that prints a one-line stacktrace: the event's function followed by its callers,
    ``function <= path:lineno:caller <= ...``.

    Args:
        depth (int): The maximum number of frames to show.
        limit (int): The maximum number of components to show in path. Eg: ``limit=2`` means it will show 1 parent: ``foo/bar.py``.
        stream (file-like or path): Stream to write to. Default: ``sys.stderr``.
        filename_alignment (int): Default size for the filename column (files are right-aligned). Default: ``40``.
        force_colors (bool): Force coloring. Default: ``False``.
        repr_limit (int): Limit length of ``repr()`` output. Default: ``1024``.
        repr_func (string or callable): Function to use instead of ``repr``.
            If string must be one of 'repr' or 'safe_repr'. Default: ``'safe_repr'``.
    """

    _native_printer = 'stack'
    depth = _Option()
    limit = _Option()

    def __init__(self, depth=15, limit=2, **options):
        self.limit = limit
        self.depth = depth
        super().__init__(**options)
