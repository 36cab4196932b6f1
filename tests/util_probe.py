"""Exercises ``hunter.util`` and prints the observations as JSON (run by tests/test_util.py with both the
reference interpreter and the one under test)."""

import functools
import json
import sys
import threading

from hunter import util

SITE_HELPERS = {'copyright', 'credits', 'exit', 'help', 'license', 'quit'}

FUNCTION_SOURCES = [
    'def f(): pass',
    'def f(a, b=1): pass',
    'def f(*args): pass',
    'def f(**kwargs): pass',
    'def f(a, *args, k, **kwargs): x = 1',
    'def f(a, /, b, *, c, d=2): y = 2',
    'def f(a, /, *rest, c, **kw): pass',
    'def f(*, only): z = [i for i in range(3)]',
    'lambda a, *b, c=1, **d: a',
    'def f(self, x):\n    def inner(y):\n        return x + y\n    return inner',
]

EXPRESSIONS = [
    'a',
    'self.foobar',
    'self[foobar]',
    'a + b * c(d, e=f)',
    '[x for x in items if x > limit]',
    'lambda q: q + outer',
    'len(args) or kwargs.get("k", default)',
    '{k: v for k, v in mapping.items()}',
    'obj.attr.sub[index].call()',
]


def compile_function(source):
    namespace = {}
    if source.startswith('lambda'):
        return eval(source)
    exec(source, namespace)
    return namespace['f']


def arguments_of(source):
    return [list(item) for item in util.get_arguments(compile_function(source).__code__)]


class Probe:
    def method(self):
        pass

    @classmethod
    def class_method(cls):
        pass

    @staticmethod
    def static_method():
        pass

    @property
    def read_only(self):
        return 1

    @property
    def writable(self):
        return 1

    @writable.setter
    def writable(self, value):
        pass

    @functools.lru_cache(maxsize=None)  # noqa: B019 - a decorator with __wrapped__
    def cached(self):
        pass


def decorated(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return func(*args, **kwargs)

    return wrapper


@decorated
@decorated
def twice_decorated():
    pass


def code_of(name):
    """The code object that really runs for ``Probe.<name>``."""
    attribute = Probe.__dict__[name]
    if isinstance(attribute, (classmethod, staticmethod)):
        attribute = attribute.__func__
    elif isinstance(attribute, property):
        attribute = attribute.fget
    while hasattr(attribute, '__wrapped__'):
        attribute = attribute.__wrapped__
    return attribute.__code__


def describe(func):
    return None if func is None else func.__qualname__


def frames_depth():
    def level2():
        return [frame.f_code.co_name for frame in util.frame_iterator(sys._getframe())][:3]

    def level1():
        return level2()

    return level1()


class Computed:
    count = 0

    @util.cached_property
    def value(self):
        """Docstring of value."""
        Computed.count += 1
        return 42


def cached_property_observations():
    instance = Computed()
    first, second = instance.value, instance.value
    return {
        'values': [first, second],
        'computed': Computed.count,
        'in_dict': vars(instance),
        'class_access_is_descriptor': isinstance(Computed.value, util.cached_property),
        'doc': Computed.value.__doc__,
    }


def probe():
    inner_code = twice_decorated.__wrapped__.__wrapped__.__code__
    return {
        'get_arguments': {source: arguments_of(source) for source in FUNCTION_SOURCES},
        'iter_symbols': {expression: list(util.iter_symbols(expression)) for expression in EXPRESSIONS},
        'get_func_in_mro': {
            name: [describe(util.get_func_in_mro(Probe, code_of(name))), describe(util.get_func_in_mro(Probe(), code_of(name)))]
            for name in ['method', 'class_method', 'static_method', 'read_only', 'writable', 'cached']
        },
        'get_func_in_mro missing': describe(util.get_func_in_mro(Probe, frames_depth.__code__)),
        'if_same_code': [
            describe(util.if_same_code(twice_decorated, inner_code)),
            describe(util.if_same_code(twice_decorated, frames_depth.__code__)),
            describe(util.if_same_code(None, inner_code)),
        ],
        'frame_iterator': frames_depth(),
        'cached_property': cached_property_observations(),
        'MISSING': [repr(util.MISSING), str(util.MISSING), bool(util.MISSING), type(util.MISSING).__name__],
        'main thread': util.get_main_thread() is threading.main_thread(),
        # A snapshot of vars(builtins) at import time: when hunter is imported from hunter.pth, site has not yet
        # added its interactive helpers, so those depend on how the package was installed, not on util.
        'BUILTIN_SYMBOLS': sorted(util.BUILTIN_SYMBOLS - SITE_HELPERS),
        'regexes': {
            name: [getattr(util, name).pattern, getattr(util, name).flags]
            for name in ['CYTHON_SUFFIX_RE', 'LEADING_WHITESPACE_RE']
        },
        'CALL_COLORS': util.CALL_COLORS,
        'CODE_COLORS': util.CODE_COLORS,
        # hunter's table also holds dunder entries picked up by dir(); only the colour codes matter.
        'OTHER_COLORS': {key: value for key, value in util.OTHER_COLORS.items() if '__' not in key},
        'Fore/Back/Style': {name: vars(getattr(util, name)) for name in ['Fore', 'Back', 'Style']},
    }


if __name__ == '__main__':
    json.dump(probe(), sys.stdout)
