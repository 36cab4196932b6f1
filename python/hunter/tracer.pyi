from ._hunter import Tracer as Tracer

__all__ = ('Tracer',)
