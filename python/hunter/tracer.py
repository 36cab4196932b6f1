"""Public home of :class:`Tracer`; the class itself is native (``hunter._hunter``)."""

from ._hunter import Tracer

__all__ = ('Tracer',)
