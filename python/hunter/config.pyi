from typing import Generic, TypeVar

_T = TypeVar('_T')

class Default(Generic[_T]):
    """A keyword-argument default looked up in the ``PYTHONHUNTERCONFIG`` defaults when the action is built."""

    key: str
    fallback_value: _T
    def __init__(self, key: str, fallback_value: _T) -> None: ...
    def resolve(self) -> object: ...

def resolve(value: Default[_T] | _T) -> _T: ...
