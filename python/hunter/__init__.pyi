# Types of the public API of ``hunter`` (a stub: the module itself imports nothing it does not need at start-up).
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal, TypeVar, overload

from typing_extensions import TypeAlias

from . import _hunter
from . import const as const
from . import event as event
from . import predicates as predicates
from . import tracer as tracer
from ._hunter import Event as Event
from ._hunter import ExpressionError as ExpressionError
from ._hunter import Query as Query
from ._hunter import Tracer as Tracer
from ._hunter import When as When
from ._hunter import __version__ as __version__
from .actions import Action as Action
from .actions import CallPrinter as CallPrinter
from .actions import CodePrinter as CodePrinter
from .actions import Debugger as Debugger
from .actions import ErrorSnooper as ErrorSnooper
from .actions import Manhole as Manhole
from .actions import Profile as Profile
from .actions import StackPrinter as StackPrinter
from .actions import Timeline as Timeline
from .actions import TreePrinter as TreePrinter
from .actions import VarsPrinter as VarsPrinter
from .actions import VarsSnooper as VarsSnooper

__all__ = (
    'And',
    'Backlog',
    'CallPrinter',
    'CodePrinter',
    'Debugger',
    'ErrorSnooper',
    'From',
    'Manhole',
    'Not',
    'Or',
    'Profile',
    'Q',
    'Query',
    'StackPrinter',
    'Timeline',
    'TreePrinter',
    'VarsPrinter',
    'VarsSnooper',
    'When',
    'stop',
    'trace',
)

# What predicates and actions may be: any callable taking an event, or an action class (instantiated with its
# default options).
_EventCallback: TypeAlias = Callable[[Event], object]
_PredicateLike: TypeAlias = _EventCallback | type[Action]
_ActionLike: TypeAlias = _EventCallback | type[Action]
_Backend: TypeAlias = Literal['auto', 'monitoring', 'settrace']
_P = TypeVar('_P', bound=_PredicateLike)
_F = TypeVar('_F', bound=Callable[..., Any])

THREADING_SUPPORT_ALIASES: tuple[str, ...]
TRACER_OPTION_NAMES: tuple[str, ...]

# ``**query`` everywhere: the fields of :class:`Query` (``module='foo'``, ``function_in=[...]``, ``depth_lt=3``...).
def Q(
    *predicates: _PredicateLike,
    action: _ActionLike = ...,
    actions: Iterable[_ActionLike] = ...,
    **query: Any,
) -> Query | _hunter.And | When: ...

# A single predicate comes back as is; keyword arguments alone make one Query.
@overload
def And(predicate: _P, /) -> _P: ...
@overload
def And(**query: Any) -> Query: ...
@overload
def And(predicate: _PredicateLike, /, *predicates: _PredicateLike, **query: Any) -> _hunter.And: ...
@overload
def Or(predicate: _P, /) -> _P: ...
@overload
def Or(predicate: _PredicateLike, /, *predicates: _PredicateLike, **query: Any) -> _hunter.Or: ...
@overload
def Or(**query: Any) -> _hunter.Or | Query: ...
def Not(*predicates: _PredicateLike, **query: Any) -> _hunter.Not: ...
# Either a condition (and a predicate), or keyword arguments only: ``depth*``/``calls*`` ones filter the events after
# the match, the others make the condition.
def From(
    condition: _PredicateLike | None = None,
    predicate: _PredicateLike | None = None,
    watermark: int = 0,
    **query: Any,
) -> _hunter.From: ...
def Backlog(
    *conditions: _PredicateLike,
    size: int = 100,
    stack: int = 10,
    vars: bool = False,
    strip: bool = True,
    action: _ActionLike = ...,
    filter: _PredicateLike | None = None,
    **query: Any,
) -> _hunter.Backlog: ...

class Stop(Action):
    """An action that stops tracing, e.g. ``~Q(calls_gt=1000, action=Stop)``."""

    def __call__(self, event: Event) -> None: ...

def trace(
    *predicates: _PredicateLike,
    action: _ActionLike = ...,
    actions: Iterable[_ActionLike] = ...,
    clear_env_var: bool = False,
    threading_support: bool | None = None,
    profile: bool = False,
    backend: _Backend | None = None,
    **query: Any,
) -> Tracer: ...
def stop() -> None: ...
@overload
def wrap(function_to_trace: _F, /) -> _F: ...
@overload
def wrap(
    function_to_trace: None = None,
    *,
    local: bool = False,
    action: _ActionLike = ...,
    actions: Iterable[_ActionLike] = ...,
    clear_env_var: bool = False,
    threading_support: bool | None = None,
    profile: bool = False,
    backend: _Backend | None = None,
    **query: Any,
) -> Callable[[_F], _F]: ...
def load_config(*args: _PredicateLike, **kwargs: Any) -> None: ...

# Internals other modules of the package use.
_default_stream: Any
_default_config: dict[str, Any]
_default_trace_args: tuple[Sequence[_PredicateLike], Mapping[str, Any]] | None
_last_tracer: Tracer | None
_embedded: bool

def _evaluate_arguments(
    text: str, source_name: str, predicates_only: bool = True
) -> tuple[tuple[Any, ...], dict[str, Any]]: ...
def _embed_via_environment() -> None: ...
