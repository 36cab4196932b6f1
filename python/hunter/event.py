"""Public home of :class:`Event`; the class itself is native (``hunter._hunter``)."""

from ._hunter import Event

__all__ = ('Event',)
