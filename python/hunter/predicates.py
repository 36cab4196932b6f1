"""Public home of the predicate classes; the classes themselves are native (``hunter._hunter``)."""

from ._hunter import ALLOWED_KEYS
from ._hunter import ALLOWED_OPERATORS
from ._hunter import And
from ._hunter import Backlog
from ._hunter import From
from ._hunter import Not
from ._hunter import Or
from ._hunter import Query
from ._hunter import When

__all__ = ('And', 'Backlog', 'From', 'Not', 'Or', 'Query', 'When')

# ALLOWED_KEYS: the Event fields ``Query`` filters on, sorted. Unlike hunter's pure-Python list, it has none of
# the accidental entries: ``clone`` and ``detach`` (methods) or ``function_object`` (the ``_`` makes it parse
# as an operator). ALLOWED_OPERATORS: the operator suffixes, in hunter's order. Both are read from the native
# Query's own tables, so the two languages cannot disagree.
