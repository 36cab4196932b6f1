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
import contextlib
import errno
import itertools
import opcode
import os
import stat
import sys
from collections import defaultdict
from os import getpid

from . import _hunter as _native
from . import config
from ._hunter import CallStack
from ._hunter import NativeStreamAction
from ._hunter import _format_duration
from ._hunter import _untraced
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
    The value lives in the instance ``__dict__`` under the option's own name, as a plain attribute would.

    ``check``, when given, validates each value set, in the constructor and on the instance alike (a refused value
    raises there, and the option keeps its value): ``check(value)`` raises the error or returns the value to keep."""

    def __init__(self, check=None):
        self.check = check

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
        if self.check is not None:
            value = self.check(value)
        instance.__dict__[self.name] = value
        instance._options_changed()

    def __delete__(self, instance):
        # As deleting a plain attribute: gone, and the next event that needs it fails naming it.
        try:
            del instance.__dict__[self.name]
        except KeyError:
            raise AttributeError(self.name) from None
        instance._options_changed()


def _positive_int(name):
    """A ``check`` for :class:`_Option`: ``value`` must be an int (not a bool) of at least 1. Any size is taken; one
    beyond what memory could hold is no limit at all."""

    def check(value):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f'{name} must be a positive int, not {value!r}.')
        return value

    return check


def _one_of(name, choices):
    """A ``check`` for :class:`_Option`: ``value`` must be one of ``choices``."""

    def check(value):
        if value not in choices:
            raise ValueError(f'{name} must be one of {", ".join(map(repr, choices))}, not {value!r}.')
        return value

    return check


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
            # Python 3.13+ suggests a close name itself.
            if str(exc).endswith('?'):
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


class _MergedSignature:
    """``cls.__signature__`` of a printer whose ``__init__`` takes its own keyword options and passes ``*args`` and
    ``**kwargs`` on (``def __init__(self, *args, durations=False, **kwargs)``): the options it passes on are spelled
    out, from the next ``__init__`` along the MRO, so ``help()`` and ``inspect.signature`` show every option. Computed
    when asked, as importing ``inspect`` at start-up costs more than hunter's whole import."""

    def __get__(self, instance, owner):
        if instance is not None:
            return None  # an instance's signature is its __call__'s
        import inspect

        own = []
        for klass in owner.__mro__:
            init = vars(klass).get('__init__')
            if init is None:
                continue
            parameters = list(inspect.signature(getattr(init, '__wrapped__', init)).parameters.values())[1:]
            passes_on = {parameter.kind for parameter in parameters} >= {inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD}
            if not passes_on:
                names = {parameter.name for parameter in parameters}
                return inspect.Signature(parameters + [parameter for parameter in own if parameter.name not in names])
            own.extend(parameter for parameter in parameters if parameter.kind is inspect.Parameter.KEYWORD_ONLY)
        return None


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
    def _close_opened_paths(cls):
        """Closes the files opened for ``stream='path'`` (at exit, once every tracer has stopped): left to the
        interpreter's teardown, each is an unclosed file (a ``ResourceWarning`` under ``-X dev``)."""
        while cls._stream_cache:
            _, stream = cls._stream_cache.popitem()
            with contextlib.suppress(OSError):
                stream.close()

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
        durations (bool): Append the call's wall time to each ``return`` row, as ``[1.234 ms]`` (the unit adapts:
            ``ns``, ``µs``, ``ms``, ``s``; three decimals from microseconds up). A return is paired with its
            call by frame (each run of a generator or coroutine between a resume and a suspension is one call);
            a return whose call was not printed by this printer (the frame was already running when tracing
            started, or the predicate matched the return only) shows no duration. The time runs from after the
            call's row is written to before the return's row is formatted. Default: ``False`` (the output is
            then hunter's). Not in hunter 3.9.0.

    .. versionadded:: 1.2.0
    """

    _native_printer = 'call'
    EVENT_COLORS = CALL_COLORS
    durations = _Option()
    __signature__ = _MergedSignature()

    # thread ident -> the calls that have not returned yet, a sequence of (module, function, id of the frame or None).
    locals = defaultdict(CallStack)

    def __init__(self, *args, durations=False, **kwargs):
        self.durations = bool(durations)
        super().__init__(*args, **kwargs)

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


class TreePrinter(ColorStreamAction):
    """
    An action that prints the matched calls of each thread as a tree, with each call's duration::

        test.py:3     outer(n=2) [2.150 ms]
        test.py:7     ├─ inner(i=0) [1.052 ms]
        test.py:7     └─ inner(i=1) [1.060 ms]

    Only ``call`` and ``return`` events are used (give it a query that matches both). A call's row shows its
    arguments as they were at the call; its duration is the wall time from the call to its return, paired by
    frame (each run of a generator or coroutine between a resume and a suspension is one call).

    The tree of a root call (a matched call with no matched call open around it, on its thread) is printed when
    the root returns, as only then is it known which call is its parent's last (``└─``) and how long each took.
    So memory is bounded: at most ``max_rows`` rows are kept per thread; the calls beyond that are not shown, and
    the tree ends with a line saying how many were left out (and the bound). A tree keeps the ``max_rows`` in effect
    when its root was called: one set on the instance (checked as the constructor checks it) applies from the next
    root call on. A call whose return was not matched shows ``[?]``.
    When the tracer stops (or at exit), the trees of the calls still open are printed: those still executing show
    their time so far, marked ``still running``; those that ended unseen show ``[?]``.

    Args:
        max_rows (int): The most rows kept (and printed) per root call. Default: ``10000``.
        stream (file-like or path): Stream to write to. Default: ``sys.stderr``.
        filename_alignment (int): Default size for the filename column (files are right-aligned). Default: ``40``.
        force_colors (bool): Force coloring. Default: ``False``.
        repr_limit (int): Limit length of ``repr()`` output. Default: ``1024``.
        repr_func (string or callable): Function to use instead of ``repr``.
            If string must be one of 'repr' or 'safe_repr'. Default: ``'safe_repr'``.

    Not in hunter 3.9.0.
    """

    _native_printer = 'tree'
    EVENT_COLORS = CALL_COLORS
    # Validated when set, on the instance too. A tree is bounded by the max_rows in effect when its root was called:
    # a change applies from the next root call on (the tree being built keeps its bound, so it stays whole).
    max_rows = _Option(_positive_int('max_rows'))
    __signature__ = _MergedSignature()

    def __init__(self, *args, max_rows=10000, **kwargs):
        self.max_rows = max_rows
        super().__init__(*args, **kwargs)


class Profile(ColorStreamAction):
    """
    An action that profiles the matched calls: per function (module, qualified name, file and first line of
    its code), the number of calls, their total (inclusive) time and own (exclusive) time. cProfile's question,
    asked only about the calls a query selects. ``call`` and ``return`` events are used (give it a query that
    matches both).

    * A call's time is its wall time from the call to its return, paired by frame (each run of a generator or
      coroutine between a resume and a suspension is one call).
    * ``own``: the call's time minus that of the matched calls made inside it (its nearest matched descendants).
    * ``total``: as cProfile counts it, only the outermost call of a function on a thread's stack adds its time,
      so a recursive function's total is its outermost calls' time, not counted twice; ``own`` counts every call.
    * A call whose return was never matched is counted but adds no time. The calls still open when the tracer
      stops are timed up to the stop.

    When the tracer stops (or at exit, for a tracer still running), the table is written to ``stream``, sorted by
    ``sort`` (largest first), at most ``limit`` rows; a stop with no new call since the last table writes none.
    :meth:`stats` returns the data.

    Args:
        sort (str): ``'total'``, ``'own'`` or ``'calls'``. Default: ``'total'``.
        limit (int or None): The most rows the table shows. Default: ``None`` (all).
        stream (file-like or path): Stream to write to. Default: ``sys.stderr``.

    Not in hunter 3.9.0.
    """

    _native_printer = 'profile'
    SORT_KEYS = ('total', 'own', 'calls')
    __signature__ = _MergedSignature()

    def __init__(self, *args, sort='total', limit=None, **kwargs):
        if sort not in self.SORT_KEYS:
            raise ValueError(f'sort must be one of {", ".join(map(repr, self.SORT_KEYS))}, not {sort!r}.')
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
            raise ValueError(f'limit must be None or a non-negative int, not {limit!r}.')
        self.sort = sort
        self.limit = limit
        self._calls_reported = 0
        super().__init__(*args, **kwargs)

    def stats(self):
        """
        The profile so far: a list of dicts, one per function, sorted by ``sort`` (largest first), with ``module``,
        ``function`` (the qualified name; the plain name before Python 3.11), ``filename``, ``lineno`` (the code's first line), ``calls``, ``total`` and
        ``own`` (seconds, floats). Calls still open are not included until they return or the tracer stops.
        """
        key = self.sort
        return sorted(self._profile_stats(), key=lambda row: (-row[key], row['module'], row['function']))

    def clear(self):
        """Forgets the data recorded so far."""
        self._profile_clear()
        self._calls_reported = 0

    def report(self):
        """The table as text."""
        rows = self.stats()
        shown = rows if self.limit is None else rows[: self.limit]
        calls = sum(row['calls'] for row in rows)
        lines = [
            f'hunter Profile: {calls} calls of {len(rows)} functions, sorted by {self.sort}',
            f'{"calls":>9}  {"total":>11}  {"own":>11}  function',
        ]
        for row in shown:
            total = _format_duration(round(row['total'] * 1e9))
            own = _format_duration(round(row['own'] * 1e9))
            location = f'{row["filename"]}:{row["lineno"]}'
            lines.append(f'{row["calls"]:>9}  {total:>11}  {own:>11}  {row["module"]}.{row["function"]}  ({location})')
        if len(shown) < len(rows):
            lines.append(f'... {len(rows) - len(shown)} more functions (limit={self.limit})')
        return '\n'.join(lines) + '\n'

    def _tracer_stopped(self):
        super()._tracer_stopped()
        calls = sum(row['calls'] for row in self._profile_stats())
        if calls != self._calls_reported:
            self._calls_reported = calls
            self.stream.write(self.report())


def _replaceable(target, existing):
    """Whether the regular file ``target`` (its ``os.stat`` is ``existing``) can be replaced by a new file without
    anyone noticing but by its inode: it has no other hard link, is ours and writable (a read-only one is left to
    open(), which refuses it), and its directory takes a new file."""
    return (
        existing.st_nlink == 1
        and existing.st_uid == os.geteuid()
        and os.access(target, os.W_OK)
        and os.access(os.path.dirname(target), os.W_OK | os.X_OK)
    )


def _exists_but_is_no_regular_file(path):
    """Whether ``path`` (symlinks followed) is a device (``/dev/null``), a FIFO, a directory..."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode)


#: Numbers the temporary files of `Timeline.write` in this process, so that two writes of one path (two Timelines
#: stopping in two threads) never share one.
_temporary_serials = itertools.count()


def _timeline_path(path):
    """A ``check`` for :class:`_Option`: Timeline's ``path``, absolute (from the working directory of now: the program
    may change it before the file is written), decoded as the file system does (so that the temporary file's name can
    be made from it), and one that can be written (see :func:`_check_writable`)."""
    path = os.fsdecode(os.fspath(path))
    _check_writable(path)
    return os.path.abspath(path)


def _check_writable(path):
    """Raises the ``OSError`` that writing ``path`` at the end would meet, where it can be told now: a directory, or
    a new file in a directory that does not exist or is not writable."""
    if not path:
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
    if '\0' in path:
        raise ValueError('embedded null byte')
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
    if _exists_but_is_no_regular_file(path) or (os.path.isfile(path) and os.access(path, os.W_OK)):
        # Written into where it cannot be replaced (see Timeline.write).
        return
    directory = os.path.dirname(os.path.realpath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
    if not os.access(directory, os.W_OK | os.X_OK):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)


class Timeline(ColorStreamAction):
    """
    An action that records the matched calls of every thread as a timeline and writes it, as a Chrome Trace Event
    Format JSON file, to ``path`` when the tracer stops (also at exit, which covers ``SystemExit`` and an uncaught
    exception). The file opens in the Perfetto UI (https://ui.perfetto.dev), ``chrome://tracing`` and VizTracer's
    ``vizviewer``.

    Recording is native: ``call`` and ``return`` events make spans (paired by frame; each run of a generator or
    coroutine between a resume and a suspension is one span), ``c_call``/``c_return`` too in profile mode, and
    ``exception`` events are instants. Give it a query that matches calls and returns (``kind`` not restricted).
    Times are read from the monotonic clock of ``time.perf_counter_ns()``; ``ts`` in the file is in microseconds
    from the first event recorded.

    Spans whose start or end was not seen are closed consistently, so each thread's spans always nest:

    * a return whose call was not seen (the function was already running when tracing started) begins at the first
      event recorded, or at the start of the innermost matched call open around it, whichever is later;
    * a call whose return was not matched ends at the last matched event of its thread before its end was noticed
      (the last time it was known to run); its ``args.ended`` is ``"unseen"``;
    * calls still executing when the tracer stops end at the stop (``args.ended``: ``"running at stop"``).

    At most ``size`` records (spans and exceptions) are kept. ``on_full='ring'``: a new record evicts the oldest,
    so the file has the newest; ``on_full='stop'``: once full, new records are dropped, so the file has the oldest.
    A span is recorded when it closes (a caller after its callees), so either way the kept spans nest. The number
    dropped is in the file's ``otherData.dropped``. ``size``, ``on_full``, ``path`` and ``args`` set on the instance
    are taken as the constructor takes them; a smaller ``size`` applies at once (the records beyond it are let go as
    ``on_full`` says, and counted as dropped). A ``size`` too large to hold is no bound.

    Args:
        path (str, bytes or os.PathLike): The file written (a relative path is taken from the working directory when
            the Timeline is made). In a forked child process, the child's pid is added before
            the extension (``out.json`` becomes ``out.1234.json``). A device or a FIFO (``os.devnull``) is written
            into as it is; a file is replaced whole (through a symlink, the file it points to), keeping its
            permissions, but written into as ``open()`` writes where replacing it would show (other hard links,
            another owner, a directory that takes no new file; a read-only one is then refused). A path that cannot
            be written (a directory, or a new file in a directory that does not exist or is not writable) raises the
            ``OSError`` that ``open()`` would, here rather than when the tracer stops.
        size (int): The most records kept. Default: ``1000000``.
        on_full (str): ``'ring'`` or ``'stop'``. Default: ``'ring'``.
        args (bool): Record each call's arguments (and each exception's value) through the bounded safe repr.
            Default: ``False``.
        repr_limit (int): Limit length of each ``repr()`` (at least 1). Default: ``1024``.

    Not in hunter 3.9.0.
    """

    _native_printer = 'timeline'
    ON_FULL = ('ring', 'stop')
    # Validated when set, on the instance too (see _options_changed for a smaller size).
    size = _Option(_positive_int('size'))
    on_full = _Option(_one_of('on_full', ON_FULL))
    args = _Option(bool)
    path = _Option(_timeline_path)
    # hunter's clipping keeps the whole text, and more, for a limit below 1: not a bound, refused here.
    repr_limit = _Option(_positive_int('repr_limit'))

    def __init__(self, path, size=1000000, on_full='ring', args=False, repr_limit=1024):
        import io

        # Set first: the options check what they are given (see `_Option`).
        self.size = size
        self.on_full = on_full
        # Checked now, not after the whole program ran.
        self.path = path
        self.args = args
        self._pid = getpid()
        super().__init__(stream=io.StringIO(), force_colors=False, repr_limit=repr_limit, repr_func='safe_repr')

    def __repr__(self):
        return f'Timeline({self.path!r}, size={self.size!r}, on_full={self.on_full!r}, args={self.args!r})'

    def clear(self):
        """Forgets the records kept so far."""
        self._timeline_clear()

    def _options_changed(self):
        # A smaller size applies at once to what is kept: the records beyond it are let go as on_full lets them go
        # when full (ring: the oldest; stop: the newest), and counted as dropped.
        super()._options_changed()
        options = self.__dict__
        if 'size' in options and 'on_full' in options:
            self._timeline_trim(options['size'], options['on_full'] == 'ring')

    def events(self):
        """The trace as a Chrome Trace Event Format object (a dict with ``traceEvents``)."""
        import json

        return json.loads(self.dumps())

    def dumps(self):
        """The trace as Chrome Trace Event Format JSON text."""
        # hunter's own code: not recorded into the timeline it serialises (which may be recording meanwhile).
        return _untraced(self._dumps)

    def _dumps(self):
        from json import dumps

        records, threads, dropped = self._timeline_snapshot()
        pid = getpid()
        # A thread is called by its OS thread id, as VizTracer does (its ident, a pthread handle, is too large for
        # Perfetto, which then puts every thread on one track); by its order where there is none.
        tids = {
            ident: index if native_id is None else native_id
            for index, (ident, (_, native_id)) in enumerate(sorted(threads), 1)
        }
        origin = min((record[3] for record in records), default=0)
        described = {}

        def microseconds(nanoseconds):
            return f'{nanoseconds // 1000}.{nanoseconds % 1000:03d}'

        def describe(code, builtin):
            """(name, file, line) of a record's code, and the JSON text of a span of it around its times."""
            key = id(code)
            if key not in described:
                if builtin:
                    name = getattr(code, '__qualname__', None) or getattr(code, '__name__', None) or type(code).__name__
                    module = getattr(code, '__module__', None)
                    if module is None:
                        owner = getattr(code, '__self__', None)
                        module = getattr(owner, '__name__', None) if isinstance(owner, type(os)) else None
                    location = (f'{module}.{name}' if module else str(name), '', 0)
                else:
                    name = getattr(code, 'co_qualname', None) or code.co_name
                    location = (name, code.co_filename, code.co_firstlineno)
                name, filename, lineno = location
                head = f'{{"ph":"X","name":{dumps(name)},"cat":"{"builtin" if builtin else "python"}","pid":{pid},"tid":'
                tail = f',"args":{{"file":{dumps(filename)},"line":{lineno}'
                described[key] = location, head, tail
            return described[key]

        lines = [
            f'{{"ph":"M","name":"process_name","pid":{pid},"tid":0,"args":{{"name":{dumps(f"python {pid}")}}}}}',
        ]
        lines.extend(
            f'{{"ph":"M","name":"thread_name","pid":{pid},"tid":{tids[ident]},"args":{{"name":{dumps(_text_of(name))}}}}}'
            for ident, (name, _) in sorted(threads)
        )
        for ident, code, builtin, start, end, arguments, ending, exception in records:
            thread = tids[ident]
            (name, filename, lineno), head, tail = describe(code, builtin)
            if ending == 'exception':
                fields = {'file': filename, 'line': lineno, 'function': name}
                if arguments is not None:
                    fields['value'] = arguments
                exception_name = getattr(exception, '__qualname__', None) or repr(exception)
                lines.append(
                    f'{{"ph":"i","s":"t","name":{dumps(exception_name + " raised")},"cat":"exception","pid":{pid},'
                    f'"tid":{thread},"ts":{microseconds(start - origin)},"args":{dumps(fields)}}}'
                )
                continue
            extra = '' if arguments is None else f',"args":{dumps(arguments)}'
            if ending != 'return':
                extra += f',"ended":"{ending}"'
            lines.append(
                f'{head}{thread},"ts":{microseconds(start - origin)},"dur":{microseconds(end - start)}{tail}{extra}}}}}'
            )
        other = dumps({'tool': 'hunter Timeline', 'dropped': dropped, 'size': self.size, 'on_full': self.on_full})
        return '{"traceEvents":[\n' + ',\n'.join(lines) + f'\n],"displayTimeUnit":"ns","otherData":{other}}}\n'

    def write(self, path=None):
        """Writes the trace to ``path`` (default: the Timeline's path, with the pid added in a forked child unless it
        is a device or a FIFO)."""
        # hunter's own code, as dumps(): writing the file records nothing either.
        return _untraced(self._write, path)

    def _write(self, path):
        if path is None:
            path = self.path
            if getpid() != self._pid and not _exists_but_is_no_regular_file(path):
                stem, extension = os.path.splitext(path)
                path = f'{stem}.{getpid()}{extension}'
        text = self.dumps()
        target = os.path.realpath(path)
        try:
            existing = os.stat(target)
        except FileNotFoundError:
            existing = None
        if existing is not None and (not stat.S_ISREG(existing.st_mode) or not _replaceable(target, existing)):
            # Written into, as open() writes: a device or a FIFO (a new file moved over it would destroy it, and as
            # root that includes /dev/null; a directory fails here, naming it), a file with other hard links (they
            # would keep the old text), one of another owner, or one in a directory that cannot take a new file.
            with open(path, 'w', encoding='utf-8') as file:
                file.write(text)
            return path
        # A whole file or none: written beside the final target (through symlinks, which stay), then moved over it.
        temporary = f'{target}.{getpid()}-{next(_temporary_serials)}.tmp'
        try:
            with open(temporary, 'w', encoding='utf-8') as file:
                file.write(text)
            if existing is not None:
                # The file replaced keeps its permissions, as one written in place does.
                os.chmod(temporary, stat.S_IMODE(existing.st_mode))
            os.replace(temporary, target)
        except BaseException as exc:
            # Nothing half-written is left behind (the disk full, the directory gone or turned read-only).
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            if isinstance(exc, OSError) and exc.filename == temporary and exc.errno is not None:
                # The error names the file asked for, not the temporary one beside it.
                raise OSError(exc.errno, exc.strerror, path) from None
            raise
        return path

    def _tracer_stopped(self):
        # Written even if closing the open calls fails (an option the native side cannot read, say): what was
        # recorded is not lost; the failure is then reported (as unraisable) after the file is written.
        try:
            super()._tracer_stopped()
        finally:
            try:
                self.write()
            except OSError as exc:
                # At the stop, often at exit: one line says it better than a traceback of hunter's own frames.
                config.say_on_stderr(f'hunter: cannot write the timeline to {self.path!r}: {exc.strerror or exc}\n')
            except KeyboardInterrupt:
                # The program's; what was recorded is kept, for write().
                config.say_on_stderr(f'hunter: the timeline was not written to {self.path!r}: interrupted\n')
                raise


def _text_of(name):
    """A thread's name as text: its ``str()``, or its safe repr if that fails (one name must not cost the file)."""
    try:
        return str(name)
    except Exception:
        return safe_repr(name)


# The attributes through which hunter's predicates reach the predicates and actions they hold.
_HELD_ATTRIBUTES = ('condition', 'predicate', 'predicates', 'actions', 'action', '_filter')


def _actions_reached(handler):
    """The objects reachable from a tracer's ``handler`` (through hunter's predicates) that define
    ``_tracer_stopped()``: the actions told when that tracer stops. Only hunter's own predicates are looked into,
    so no user code runs."""
    # Not imported here: a stop running while a signal handler (or another thread) stops a tracer met the module
    # half imported.
    containers = (_native.And, _native.Backlog, _native.From, _native.Not, _native.Or, _native.When)
    found, seen, pending = [], set(), [handler]
    while pending:
        item = pending.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, (tuple, list)):
            pending.extend(reversed(item))
        elif isinstance(item, containers):
            pending.extend(getattr(item, name, None) for name in reversed(_HELD_ATTRIBUTES))
        elif not isinstance(item, type) and callable(getattr(type(item), '_tracer_stopped', None)):
            found.append(item)
    return found
