"""Helpers shared by hunter's actions and events (the public surface of ``hunter.util``)."""

import builtins
import re
import weakref
from threading import main_thread

from ._hunter import safe_repr

__all__ = [
    'BUILTIN_SYMBOLS',
    'CALL_COLORS',
    'CODE_COLORS',
    'CYTHON_SUFFIX_RE',
    'LEADING_WHITESPACE_RE',
    'MISSING',
    'OTHER_COLORS',
    'Back',
    'Fore',
    'Style',
    'cached_property',
    'frame_iterator',
    'get_arguments',
    'get_func_in_mro',
    'get_main_thread',
    'if_same_code',
    'iter_symbols',
    'safe_repr',
]


class _AnsiCodes:
    """A namespace of ANSI SGR escape sequences, one attribute per name (like colorama's Fore/Back/Style)."""

    def __init__(self, **codes):
        for name, code in codes.items():
            setattr(self, name, f'\x1b[{code}m')

    def __repr__(self):
        return f'{type(self).__name__}({", ".join(sorted(vars(self)))})'


_COLOR_OFFSETS = {'BLACK': 0, 'RED': 1, 'GREEN': 2, 'YELLOW': 3, 'BLUE': 4, 'MAGENTA': 5, 'CYAN': 6, 'WHITE': 7}


def _color_codes(normal_base, light_base):
    """The 8 standard colours, their LIGHT*_EX variants and RESET (base + 9)."""
    codes = {name: normal_base + offset for name, offset in _COLOR_OFFSETS.items()}
    codes.update({f'LIGHT{name}_EX': light_base + offset for name, offset in _COLOR_OFFSETS.items()})
    codes['RESET'] = normal_base + 9
    return codes


Fore = _AnsiCodes(**_color_codes(30, 90))
Back = _AnsiCodes(**_color_codes(40, 100))
Style = _AnsiCodes(BRIGHT=1, DIM=2, NORMAL=22, RESET_ALL=0)

OTHER_COLORS = {
    'COLON': Style.BRIGHT + Fore.BLACK,
    'LINENO': Style.RESET_ALL,
    'KIND': Fore.CYAN,
    'CONT': Style.BRIGHT + Fore.BLACK,
    'VARS': Style.BRIGHT + Fore.MAGENTA,
    'VARS-NAME': Style.NORMAL + Fore.MAGENTA,
    'INTERNAL-FAILURE': Style.BRIGHT + Back.RED + Fore.RED,
    'INTERNAL-DETAIL': Fore.WHITE,
    'SOURCE-FAILURE': Style.BRIGHT + Back.YELLOW + Fore.YELLOW,
    'SOURCE-DETAIL': Fore.WHITE,
    'BUILTIN': Style.NORMAL + Fore.MAGENTA,
    'RESET': Style.RESET_ALL,
}
# Format placeholders for raw codes: {BRIGHT}, {fore(RED)}, {back(YELLOW)} ...
# (hunter fills these from dir() of colorama's objects, which also drags in dunder entries; only the codes matter.)
OTHER_COLORS.update(sorted(vars(Style).items()))
OTHER_COLORS.update((f'fore({name})', code) for name, code in sorted(vars(Fore).items()))
OTHER_COLORS.update((f'back({name})', code) for name, code in sorted(vars(Back).items()))

CALL_COLORS = {
    'call': Style.BRIGHT + Fore.BLUE,
    'line': Fore.RESET,
    'return': Style.BRIGHT + Fore.GREEN,
    'exception': Style.BRIGHT + Fore.RED,
}
CODE_COLORS = {
    'call': Fore.RESET + Style.BRIGHT,
    'line': Fore.RESET,
    'return': Fore.YELLOW,
    'exception': Fore.RED,
}


class _Missing:
    """Placeholder for an argument that is not (yet) in a frame's locals; shown as ``?``."""

    __slots__ = ()

    def __repr__(self):
        return '?'


_Missing.__name__ = _Missing.__qualname__ = 'MISSING'
MISSING = _Missing()

BUILTIN_SYMBOLS = set(vars(builtins))
CYTHON_SUFFIX_RE = re.compile(r'([.].+)?[.](so|pyd)$', re.IGNORECASE)
LEADING_WHITESPACE_RE = re.compile('(^[ \t]*)(?:[^ \t\n])', re.MULTILINE)

get_main_thread = weakref.ref(main_thread())

# ``inspect``'s code flags, spelled out: importing ``inspect`` (and ``ast`` below) would double the cost of
# ``import hunter``, so they are imported by the functions that need them.
CO_VARARGS = 0x04
CO_VARKEYWORDS = 0x08


def get_arguments(code):
    """Yields ``(prefix, name, name)`` for each parameter of ``code``, in signature order:
    positional ones, then ``*args``, keyword-only ones, and ``**kwargs``."""
    names = code.co_varnames
    positional = code.co_argcount
    keyword_only = code.co_kwonlyargcount
    # Locals are laid out as: positional, keyword-only, *args, **kwargs.
    next_slot = positional + keyword_only
    for name in names[:positional]:
        yield '', name, name
    if code.co_flags & CO_VARARGS:
        yield '*', names[next_slot], names[next_slot]
        next_slot += 1
    for name in names[positional : positional + keyword_only]:
        yield '', name, name
    if code.co_flags & CO_VARKEYWORDS:
        yield '**', names[next_slot], names[next_slot]


class cached_property:
    """A non-data descriptor that computes the value once and stores it in the instance ``__dict__``."""

    def __init__(self, func):
        self.func = func
        self.__doc__ = func.__doc__

    def __get__(self, obj, cls):
        if obj is None:
            return self
        value = obj.__dict__[self.func.__name__] = self.func(obj)
        return value


def get_func_in_mro(obj, code):
    """Finds the function running ``code`` among ``obj``'s attributes, without invoking any descriptor."""
    from inspect import getattr_static

    attribute = getattr_static(obj, code.co_name, None)
    if attribute is None:
        return None
    if isinstance(attribute, (classmethod, staticmethod)):
        attribute = attribute.__func__
    elif isinstance(attribute, property) and attribute.fset is None and attribute.fdel is None:
        attribute = attribute.fget
    return if_same_code(attribute, code)


def if_same_code(func, code):
    """Returns ``func``, or the function it wraps (following ``__wrapped__``), whose ``__code__`` is ``code``."""
    seen = {}  # id -> object; holding the objects keeps their ids unique while we walk
    while func is not None and id(func) not in seen:
        if getattr(func, '__code__', None) is code:
            return func
        seen[id(func)] = func
        func = getattr(func, '__wrapped__', None)
    return None


def iter_symbols(code):
    """Yields every variable name used in the expression source ``code``,
    e.g. ``self`` for ``self.foobar`` and ``self``, ``foobar`` for ``self[foobar]``."""
    import ast

    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Name):
            yield node.id


def is_plain_access(expression):
    """Whether the expression source ``expression`` only reads a variable: a name followed by attribute accesses
    and subscripts by literals, e.g. ``self.x``, ``d['k']`` or ``a[0].b`` (but no call or operator). Checked without
    running anything."""
    if not isinstance(expression, str):
        return False
    import ast

    try:
        node = ast.parse(expression, mode='eval').body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    while not isinstance(node, ast.Name):
        if isinstance(node, ast.Attribute):
            node = node.value
        elif isinstance(node, ast.Subscript) and _is_literal(node.slice):
            node = node.value
        else:
            return False
    return True


def _is_literal(node):
    import ast

    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        node = node.operand
        return isinstance(node, ast.Constant) and type(node.value) in (int, float, complex)
    return isinstance(node, ast.Constant)


def frame_iterator(frame):
    """Yields ``frame`` and then each caller frame, outermost last."""
    while frame:
        yield frame
        frame = frame.f_back
