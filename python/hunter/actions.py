"""STUB -- placeholder so that ``import hunter`` works on the ``glue`` branch.

The real ``hunter.actions`` is written on the ``actions`` branch; when merging, take that file and drop this one.
These classes only have the names, base classes and constructor shapes the glue layer and its tests rely on;
they print nothing.
"""

from .config import Default


class Action:
    def __call__(self, event):
        raise NotImplementedError()


class ColorStreamAction(Action):
    def __init__(self, stream=Default('stream', None), **options):
        self.stream = stream
        self.options = options

    def __eq__(self, other):
        return type(self) is type(other) and self.options == other.options

    __hash__ = Action.__hash__

    def __repr__(self):
        return f'{type(self).__name__}(stream={self.stream!r})'

    def __call__(self, event):
        pass


class CodePrinter(ColorStreamAction):
    pass


class CallPrinter(CodePrinter):
    @classmethod
    def cleanup(cls):
        pass


class VarsPrinter(ColorStreamAction):
    def __init__(self, *names, **options):
        super().__init__(**options)
        self.names = names


class VarsSnooper(ColorStreamAction):
    pass


class ErrorSnooper(CodePrinter):
    pass


class StackPrinter(ColorStreamAction):
    pass


class Debugger(Action):
    def __init__(self, klass=None, **kwargs):
        self.klass = klass
        self.kwargs = kwargs

    def __eq__(self, other):
        return type(self) is type(other) and (self.klass, self.kwargs) == (other.klass, other.kwargs)

    __hash__ = Action.__hash__


class Manhole(Action):
    def __init__(self, **options):
        self.options = options
