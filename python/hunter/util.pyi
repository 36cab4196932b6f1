import weakref
from collections.abc import Callable, Iterator
from re import Pattern
from threading import Thread
from types import CodeType, FrameType
from typing import Any, Generic, TypeVar, overload

from typing_extensions import Self

from ._hunter import safe_repr as safe_repr

__all__ = [
    'BUILTIN_SYMBOLS',
    'CALL_COLORS',
    'CODE_COLORS',
    'CYTHON_SUFFIX_RE',
    'LEADING_WHITESPACE_RE',
    'MISSING',
    'OTHER_COLORS',
    'Back',
    'Fore',
    'Style',
    'cached_property',
    'frame_iterator',
    'get_arguments',
    'get_func_in_mro',
    'get_main_thread',
    'if_same_code',
    'iter_symbols',
    'safe_repr',
]

_T = TypeVar('_T')

class _AnsiCodes:
    # One attribute per code name, set from the constructor's keywords: Fore and Back have the colours and RESET,
    # Style has BRIGHT, DIM, NORMAL and RESET_ALL.
    BLACK: str
    RED: str
    GREEN: str
    YELLOW: str
    BLUE: str
    MAGENTA: str
    CYAN: str
    WHITE: str
    LIGHTBLACK_EX: str
    LIGHTRED_EX: str
    LIGHTGREEN_EX: str
    LIGHTYELLOW_EX: str
    LIGHTBLUE_EX: str
    LIGHTMAGENTA_EX: str
    LIGHTCYAN_EX: str
    LIGHTWHITE_EX: str
    RESET: str
    BRIGHT: str
    DIM: str
    NORMAL: str
    RESET_ALL: str
    def __init__(self, **codes: int) -> None: ...

Fore: _AnsiCodes
Back: _AnsiCodes
Style: _AnsiCodes
OTHER_COLORS: dict[str, str]
CALL_COLORS: dict[str, str]
CODE_COLORS: dict[str, str]

class _Missing: ...

MISSING: _Missing
BUILTIN_SYMBOLS: set[str]
CYTHON_SUFFIX_RE: Pattern[str]
LEADING_WHITESPACE_RE: Pattern[str]
get_main_thread: weakref.ReferenceType[Thread]

def get_arguments(code: CodeType) -> Iterator[tuple[str, str, str]]: ...

class cached_property(Generic[_T]):
    func: Callable[[Any], _T]
    def __init__(self, func: Callable[[Any], _T]) -> None: ...
    @overload
    def __get__(self, obj: None, cls: type[Any]) -> Self: ...
    @overload
    def __get__(self, obj: object, cls: type[Any]) -> _T: ...

def get_func_in_mro(obj: object, code: CodeType) -> Callable[..., Any] | None: ...
def if_same_code(func: object, code: CodeType) -> Callable[..., Any] | None: ...
def iter_symbols(code: str) -> Iterator[str]: ...
def is_plain_access(expression: object) -> bool: ...
def frame_iterator(frame: FrameType | None) -> Iterator[FrameType]: ...
