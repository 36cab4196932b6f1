from ._hunter import ALLOWED_KEYS as ALLOWED_KEYS
from ._hunter import ALLOWED_OPERATORS as ALLOWED_OPERATORS
from ._hunter import And as And
from ._hunter import Backlog as Backlog
from ._hunter import From as From
from ._hunter import Not as Not
from ._hunter import Or as Or
from ._hunter import Query as Query
from ._hunter import When as When

__all__ = ('And', 'Backlog', 'From', 'Not', 'Or', 'Query', 'When')
