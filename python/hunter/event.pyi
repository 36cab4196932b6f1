from ._hunter import Event as Event

__all__ = ('Event',)
