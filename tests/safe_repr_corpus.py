"""A corpus of values for differential ``safe_repr`` tests.

Run as a script, it prints ``{label: {"repr": text} | {"error": "Type: message"}}`` as JSON, computed with whatever
``hunter.util.safe_repr`` the running interpreter imports (the real hunter in a reference venv, ours otherwise).
Memory addresses are replaced by ``0x?`` so two processes can be compared. The pseudo-case ``user code calls`` counts
how often user ``__repr__``/``__eq__``/``__getattr__`` code ran while rendering the whole corpus.
"""

import collections
import datetime
import decimal
import json
import re
import socket
import sys
import types

ADDRESS_RE = re.compile(r'0x[0-9a-fA-F]+')
USER_CODE_CALLS = []


def user_code_ran(what):
    USER_CODE_CALLS.append(what)


class Plain:
    def method(self):
        pass

    @classmethod
    def class_method(cls):
        pass


class LoudRepr:
    def __repr__(self):
        user_code_ran('LoudRepr.__repr__')
        return 'LOUD'

    def method(self):
        pass


class RaisingRepr:
    def __repr__(self):
        user_code_ran('RaisingRepr.__repr__')
        raise RuntimeError('repr')


class LyingClass:
    @property
    def __class__(self):
        user_code_ran('LyingClass.__class__')
        return dict


class RaisingEq:
    def __eq__(self, other):
        user_code_ran('RaisingEq.__eq__')
        raise RuntimeError('eq')

    def __hash__(self):
        return 7


class RaisingGetattribute:
    def __getattribute__(self, name):
        user_code_ran('RaisingGetattribute.__getattribute__')
        raise RuntimeError(name)


class LoudMeta(type):
    def __repr__(cls):
        user_code_ran('LoudMeta.__repr__')
        return 'META'


class WithLoudMeta(metaclass=LoudMeta):
    pass


class LoudError(Exception):
    def __repr__(self):
        user_code_ran('LoudError.__repr__')
        return 'LOUD'

    def __str__(self):
        user_code_ran('LoudError.__str__')
        return 'LOUD'


class ErrorWithMeta(Exception, metaclass=LoudMeta):
    pass


class DictSubclass(dict):
    def __repr__(self):
        user_code_ran('DictSubclass.__repr__')
        return 'DICT'


class ListSubclass(list):
    pass


class TupleSubclass(tuple):
    pass


Point = collections.namedtuple('Point', 'x y')


def recursive_list():
    items = [1]
    items.append(items)
    return items


def recursive_dict():
    mapping = {'a': 1}
    mapping['self'] = mapping
    return mapping


def nested(depth):
    value = 'leaf'
    for level in range(depth):
        value = [level, value] if level % 2 else {level: value}
    return value


def reordered_ordered_dict():
    mapping = collections.OrderedDict((key, key * 2) for key in 'abcde')
    mapping.move_to_end('b')
    mapping.move_to_end('d', last=False)
    return mapping


def closed_socket():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.close()
    return sock


def generator():
    yield 1


def build_corpus():
    """Returns ``{label: value}``; every value is built the same way in every process."""
    utc_plus_2 = datetime.timezone(datetime.timedelta(hours=2), 'X')
    corpus = {
        'int': 1,
        'negative int': -12345678901234567890,
        'huge int': 10**5000,
        'float': 1.5,
        'float specials': [float('nan'), float('inf'), -0.0, 1e300],
        'complex': 1 + 2j,
        'bools and None': [True, False, None, ..., NotImplemented],
        'str': 'hello',
        'str quotes and escapes': ['it\'s', '"q"', 'a\nb\tc\x00', '\u00e9\u4e2d\U0001f600', '\ud800'],
        'bytes': [b'', b'\x00\xffabc', bytearray(b'xy')],
        'bytes every byte value': [bytes(range(256)), bytearray(range(255, -1, -1))],
        'bytes quotes': [b"it's", b'say "hi"', b'both \' and "', bytearray(b"it's"), bytearray(b'say "hi"'), bytearray(b'\'"')],
        'bytes escapes': [b'\t\n\r\\\x00\x1f\x7f\x80', bytearray(b'\t\n\r\\\x00\x7f\xff')],
        'empty bytes and str': [b'', bytearray(), ''],
        'str of every width': ['\xe9\xa0\xad\x85', '\u4e2d\u2028\ufeff\u0378', '\U0001f600\U000e0001\U0010ffff\U000e01f0'],
        'str non-printable and surrogates': ['\x80\x9f\xa0', '\u200b\u3000\ud800\udfff', 'a\udc80b\U000f0000'],
        'str quotes with non-ASCII': ["it's \xe9", '\u4e2d "q"', "\U0001f600 ' \"", "'\u4e2d'"],
        'empty containers': [[], (), {}, set(), frozenset(), collections.deque()],
        'one-element tuples': [(1,), ((1,),), (((),),), ([],)],
        'tuple': (1, 'a', None),
        'list': [1, [2, [3]]],
        'dict': {'a': 1, 2: 'b', (3, 4): [5]},
        'set': {1, 2, 3},
        # (str hashes are seeded, so str sets would not iterate alike in two processes)
        'set with colliding ints': {8, 16, 1, 24, 0},
        'frozenset': frozenset({(1, 2), 3}),
        'deque': collections.deque([1, [2]], maxlen=5),
        'Counter': collections.Counter('abracadabra'),
        'OrderedDict reordered': reordered_ordered_dict(),
        'defaultdict': collections.defaultdict(list, {'a': [1]}),
        'nested depth 3': nested(3),
        'nested depth 7': nested(7),
        'nested depth 12': nested(12),
        'deep list': [[[[[[[[1]]]]]]]],
        'deep tuple keys': {(1, (2, (3, (4, (5, (6, (7,))))))): {'v': {'v': {'v': {'v': 1}}}}},
        'recursive list': recursive_list(),
        'recursive dict': recursive_dict(),
        'dict subclass': DictSubclass(a=1),
        'list subclass': ListSubclass([1, 2]),
        'tuple subclass': TupleSubclass((1,)),
        'namedtuple': Point(1, 2),
        'containers of subclasses': [DictSubclass(), {1: ListSubclass()}],
        'pattern': re.compile('a+'),
        'pattern with flags': re.compile(r'(?P<x>\d+)$', re.IGNORECASE | re.MULTILINE | re.VERBOSE),
        'bytes pattern': re.compile(b'x.y'),
        'bytes pattern with flags': re.compile(b'x', re.DOTALL | re.LOCALE),
        'ascii pattern': re.compile('\\w', re.ASCII),
        'date': datetime.date(2020, 1, 2),
        'timedelta': datetime.timedelta(days=1, seconds=5, microseconds=7),
        'datetime naive': datetime.datetime(2020, 1, 2, 3, 4, 5, 6),
        'datetime fold': datetime.datetime(2020, 1, 2, 3, 4, 5, fold=1),
        'datetime utc': datetime.datetime(2020, 1, 2, tzinfo=datetime.timezone.utc),
        'datetime fixed offset': datetime.datetime(2020, 1, 2, tzinfo=utc_plus_2),
        'time': datetime.time(1, 2),
        'time with tz': datetime.time(1, 2, 3, 4, tzinfo=utc_plus_2, fold=1),
        'tzinfo': utc_plus_2,
        'Decimal': [decimal.Decimal('1.5'), decimal.Decimal('-Infinity'), decimal.Decimal('NaN')],
        'Decimal tuple': decimal.Decimal('1.5').as_tuple(),
        'Decimal context': decimal.Context(prec=5),
        'exceptions': [ValueError('x'), KeyError('k'), OSError(2, 'gone'), StopIteration(), Exception()],
        'exception with nested args': RuntimeError([1, {2: (3,)}], ValueError('inner')),
        'user exception with loud repr': LoudError('boom', 1),
        'exception with metaclass': ErrorWithMeta('x'),
        'exception classes': [ValueError, LoudError],
        'bound method of plain object': Plain().method,
        'bound method of loud object': LoudRepr().method,
        'bound classmethod': Plain.class_method,
        'builtin bound method': [].append,
        'method inside containers': [{'m': Plain().method}],
        'types': [int, type, object, Plain, type(None), types.FunctionType],
        'class with metaclass': WithLoudMeta,
        'instance with metaclass': WithLoudMeta(),
        'functions': [len, print, build_corpus, lambda: None],
        'module': sys,
        'code object': build_corpus.__code__,
        'generator': generator(),
        'range and slice': [range(10), range(1, 10, 2), slice(1, 2), slice('a', [1], {'k': None})],
        'memoryview': memoryview(b'abc'),
        'property': property(),
        'staticmethod and classmethod of functions': [staticmethod(len), classmethod(generator)],
        'dict views of plain data': [{'a': 1}.keys(), {'a': [1]}.values(), {'a': (1,)}.items()],
        'OrderedDict views': [collections.OrderedDict(a=1).items()],
        'mappingproxy of plain data': types.MappingProxyType({'a': 1, 'b': [2]}),
        'class namespace': vars(Plain),
        'object': object(),
        'closed socket': closed_socket(),
        'loud repr': LoudRepr(),
        'raising repr': RaisingRepr(),
        'lying __class__': LyingClass(),
        'raising __eq__ as key': {RaisingEq(): RaisingEq()},
        'raising __getattribute__': RaisingGetattribute(),
        'evil objects in containers': [LoudRepr(), (RaisingRepr(),), {'k': LyingClass()}],
        'huge list': list(range(100_000)),
        'huge dict': {str(key): key for key in range(20_000)},
        'huge set': set(range(50_000)),
        'wide nested': [[list(range(100))] * 50] * 10,
    }
    if sys.version_info >= (3, 11):
        corpus['exception group'] = ExceptionGroup('many', [ValueError(1), TypeError(2)])  # noqa: F821
    try:
        import zoneinfo

        corpus['ZoneInfo'] = zoneinfo.ZoneInfo('UTC')
        corpus['datetime with ZoneInfo'] = datetime.datetime(2020, 1, 2, tzinfo=zoneinfo.ZoneInfo('UTC'))
    except Exception:  # noqa: S110 - no zoneinfo module or no tz database: the case is simply absent on both sides
        pass
    return corpus


def render_corpus(safe_repr):
    results = {}
    for label, value in build_corpus().items():
        try:
            results[label] = {'repr': ADDRESS_RE.sub('0x?', safe_repr(value))}
        except Exception as exc:
            results[label] = {'error': f'{type(exc).__name__}: {exc}'}
    for maxdepth in range(0, 4):
        results[f'maxdepth={maxdepth}'] = {'repr': safe_repr(nested(6), maxdepth)}
    results['user code calls'] = {'repr': repr(USER_CODE_CALLS)}
    return results


if __name__ == '__main__':
    from hunter.util import safe_repr

    json.dump(render_corpus(safe_repr), sys.stdout)
