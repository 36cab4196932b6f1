"""Public home of the predicate classes; the classes themselves are native (``hunter._hunter``)."""

from ._hunter import And
from ._hunter import Backlog
from ._hunter import From
from ._hunter import Not
from ._hunter import Or
from ._hunter import Query
from ._hunter import When

__all__ = ('And', 'Backlog', 'From', 'Not', 'Or', 'Query', 'When')

#: The Event fields ``Query`` filters on. Unlike hunter's pure-Python list, it has none of the accidental
#: entries: ``clone`` and ``detach`` (methods) or ``function_object`` (the ``_`` makes it parse as an operator).
ALLOWED_KEYS = (
    'arg',
    'builtin',
    'calls',
    'code',
    'depth',
    'filename',
    'fullsource',
    'function',
    'globals',
    'instruction',
    'kind',
    'lineno',
    'locals',
    'module',
    'source',
    'stdlib',
    'threadid',
    'threadname',
)
ALLOWED_OPERATORS = ('startswith', 'endswith', 'in', 'contains', 'regex', 'sw', 'ew', 'has', 'rx', 'gt', 'gte', 'lt', 'lte')
