# Types of the actions: each printer's options are keyword arguments (``_StreamOptions``), also accepted by the
# printers that take more of their own.
import os
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any, ClassVar, Generic, Literal, TypeVar, overload

from _typeshed import SupportsWrite
from typing_extensions import Self, TypeAlias, TypedDict, Unpack

from ._hunter import CallStack, Event, NativeStreamAction

__all__ = [
    'Action',
    'CallPrinter',
    'CodePrinter',
    'Debugger',
    'Manhole',
    'VarsPrinter',
]

_T = TypeVar('_T')

# ``repr_func``: a callable, or the name of a built-in one.
_ReprFunc: TypeAlias = Callable[[Any], object] | Literal['repr', 'safe_repr']
# ``stream``: a text stream, or the path of a file to append to.
_Stream: TypeAlias = SupportsWrite[str] | str

class _StreamOptions(TypedDict, total=False):
    stream: _Stream | None
    force_colors: bool
    force_pid: bool
    filename_alignment: int
    thread_alignment: int
    pid_alignment: int
    repr_limit: int
    repr_func: _ReprFunc

BUILTIN_REPR_FUNCS: dict[str, Callable[[Any], str]]
RETURN_OPCODES: tuple[int, ...]
TRUNCATION_FORMAT: str
PRINTER_HOOKS: frozenset[str]
BANNER_WIDTH: int

class Action:
    def __call__(self, event: Event) -> None: ...

class LazyImportPdb:
    def __call__(self, **kwargs: Any) -> Any: ...

class Debugger(Action):
    klass: Callable[..., Any]
    kwargs: dict[str, Any]
    def __init__(self, klass: Callable[..., Any] = ..., **kwargs: Any) -> None: ...

class Manhole(Action):
    options: dict[str, Any]
    def __init__(self, **options: Any) -> None: ...

# An option the native printing code reads (setting one makes it read the options again); reads as its value.
class _Option(Generic[_T]):
    name: str
    check: Callable[[Any], _T] | None
    def __init__(self, check: Callable[[Any], _T] | None = None) -> None: ...
    def __set_name__(self, owner: type[Any], name: str) -> None: ...
    @overload
    def __get__(self, instance: None, owner: type[Any]) -> Self: ...
    @overload
    def __get__(self, instance: object, owner: type[Any]) -> _T: ...
    def __set__(self, instance: object, value: _T) -> None: ...
    def __delete__(self, instance: object) -> None: ...

class ColorStreamAction(NativeStreamAction, Action):
    """Base class for actions that write to a stream, with hunter's prefixes and colours."""

    _stream_cache: ClassVar[dict[str, SupportsWrite[str]]]
    OTHER_COLORS: ClassVar[dict[str, str]]
    EVENT_COLORS: ClassVar[dict[str, str]]
    force_colors: _Option[bool]
    force_pid: _Option[bool]
    filename_alignment: _Option[int]
    thread_alignment: _Option[int]
    pid_alignment: _Option[int]
    repr_limit: _Option[int]
    event_colors: _Option[dict[str, str]]
    other_colors: _Option[dict[str, str]]
    seen_threads: _Option[set[int]]
    seen_pid: _Option[int]
    __hash__: ClassVar[None]  # type: ignore[assignment]
    def __init__(
        self,
        stream: _Stream | None = ...,
        force_colors: bool = ...,
        force_pid: bool = ...,
        filename_alignment: int = ...,
        thread_alignment: int = ...,
        pid_alignment: int = ...,
        repr_limit: int = ...,
        repr_func: _ReprFunc = ...,
    ) -> None: ...
    def __eq__(self, other: object) -> bool: ...
    @property
    def stream(self) -> SupportsWrite[str]: ...
    @stream.setter
    def stream(self, value: _Stream) -> None: ...
    @property
    def repr_func(self) -> Callable[[Any], object]: ...
    @repr_func.setter
    def repr_func(self, value: _ReprFunc) -> None: ...
    def output(self, format_str: str, *args: object, **kwargs: object) -> None: ...
    def cleanup(self) -> None: ...

class CodePrinter(ColorStreamAction):
    """Prints the code being executed: filename, line number and source."""

class CallPrinter(CodePrinter):
    """Prints the code being executed, indented by call depth, with the arguments of calls."""

    locals: ClassVar[defaultdict[int, CallStack]]
    durations: _Option[bool]
    def __init__(self, *args: Any, durations: bool = False, **kwargs: Unpack[_StreamOptions]) -> None: ...
    @classmethod
    def cleanup(cls) -> None: ...  # type: ignore[override]

class VarsPrinter(ColorStreamAction):
    """Prints the values of the given variables or expressions."""

    names: _Option[dict[str, set[str]]]
    def __init__(self, *names: str, **options: Unpack[_StreamOptions]) -> None: ...

class VarsSnooper(ColorStreamAction):
    """Prints the local variables that are new or changed since the last event in the same code."""

    stored_reprs: _Option[defaultdict[Any, dict[str, str]]]
    def __init__(self, **options: Unpack[_StreamOptions]) -> None: ...

class ErrorSnooper(CodePrinter):
    """Prints the events around exceptions that are raised and then silenced."""

    max_backlog: int
    backlog: deque[Event]
    max_events: int
    max_depth: int
    origin: Event | None
    events: list[Event] | None
    def __init__(
        self,
        *args: Any,
        max_backlog: int = 10,
        max_events: int = 50,
        max_depth: int = 0,
        **kwargs: Unpack[_StreamOptions],
    ) -> None: ...
    def dump_events(self) -> None: ...

class StackPrinter(ColorStreamAction):
    """Prints a one-line stack trace for each event: ``function <= path:lineno:caller <= ...``."""

    depth: _Option[int]
    limit: _Option[int]
    def __init__(self, depth: int = 15, limit: int = 2, **options: Unpack[_StreamOptions]) -> None: ...

class TreePrinter(ColorStreamAction):
    """Prints the matched calls of each thread as a tree, with each call's duration."""

    max_rows: _Option[int]
    def __init__(self, *args: Any, max_rows: int = 10000, **kwargs: Unpack[_StreamOptions]) -> None: ...

_SortKey: TypeAlias = Literal['total', 'own', 'calls']

class _ProfileRow(TypedDict):
    module: str
    function: str
    filename: str
    lineno: int
    calls: int
    total: float
    own: float

class Profile(ColorStreamAction):
    """Per function, the count, total and own time of the matched calls; a table at stop."""

    SORT_KEYS: ClassVar[tuple[str, ...]]
    sort: _SortKey
    limit: int | None
    def __init__(
        self, *args: Any, sort: _SortKey = 'total', limit: int | None = None, **kwargs: Unpack[_StreamOptions]
    ) -> None: ...
    def stats(self) -> list[_ProfileRow]: ...
    def clear(self) -> None: ...
    def report(self) -> str: ...

_OnFull: TypeAlias = Literal['ring', 'stop']

class Timeline(ColorStreamAction):
    """Records the matched calls of every thread; writes a Chrome Trace Event Format file at stop and at exit."""

    ON_FULL: ClassVar[tuple[str, ...]]
    path: _Option[str]
    size: _Option[int]
    on_full: _Option[_OnFull]
    args: _Option[bool]
    def __init__(
        self,
        path: str | os.PathLike[str],
        size: int = 1000000,
        on_full: _OnFull = 'ring',
        args: bool = False,
        repr_limit: int = 1024,
    ) -> None: ...
    def clear(self) -> None: ...
    def events(self) -> dict[str, Any]: ...
    def dumps(self) -> str: ...
    def write(self, path: str | None = None) -> str: ...
