"""Random nested builtin values for a differential test of ``safe_repr`` and of its clipping by ``repr_limit``.

Run as a script with a seed and a count, it prints ``[{"full": ..., "clipped": {limit: ...}}, ...]`` as JSON:
``hunter.util.safe_repr(value)`` and ``CallPrinter(repr_limit=limit).try_repr(value)`` for every generated value,
computed with whatever hunter the running interpreter imports (the real hunter in a reference venv, ours otherwise).
The values are a pure function of the seed, so two processes of one Python version generate the same ones.

The mix aims at what the bounded renderer handles specially: containers read front to back and back to front
(lists, tuples, dicts, sets, deques, the dict subclasses), cuts inside strings that need escaping, newlines (escaped
after rendering), non-ASCII text (counted in characters), floats near ties and at the edges of positional notation,
ints beyond 64 bits, and nesting beyond the default ``maxdepth``.
"""

import collections
import io
import json
import random
import sys

LIMITS = (0, 1, 2, 3, 9, 16, 40, 101, 256, 1024)

STRING_PIECES = ('a', 'xyz', ' ', "'", '"', '\\', '\n', '\t', '\r', '\x00', '\x7f', '\x1b', 'é', '€', '\U0001f600', '\ud800')

FLOATS = (
    0.0, -0.0, 1.0, -1.5, 0.1, 0.1 + 0.2, 1e-4, 1e-5, 9.999e-5, 1e15, 1e16, 9.999999999999999e15, 123456789012345.6,
    5e-324, 1.7976931348623157e308, 2.2250738585072014e-308, 9007199254740993.0, float('nan'), float('inf'),
    float('-inf'), 2.0**-30, 0.3,
)


def random_float(rng):
    kind = rng.randrange(4)
    if kind == 0:
        return rng.choice(FLOATS)
    if kind == 1:
        return rng.random() * 10 ** rng.randint(-8, 20)
    if kind == 2:
        return rng.randint(-10**6, 10**6) / 100
    return -rng.random()


def random_str(rng):
    length = rng.choice((0, 1, 3, 8, 20, 90, 400))
    if rng.random() < 0.5:
        return ''.join(rng.choice('abcdefghij klm') for _ in range(length))
    return ''.join(rng.choice(STRING_PIECES) for _ in range(length))


def random_leaf(rng):
    kind = rng.randrange(9)
    if kind == 0:
        return rng.randint(-1000, 1000)
    if kind == 1:
        return rng.choice((2**63 - 1, -2**63, 2**64, -3**50, 10**30))
    if kind == 2:
        return random_float(rng)
    if kind in (3, 4, 5):
        return random_str(rng)
    if kind == 6:
        return rng.choice((None, True, False))
    if kind == 7:
        return random_str(rng).encode('utf-8', 'surrogatepass')
    return rng.random() * 1e-7


def random_key(rng):
    kind = rng.randrange(4)
    if kind == 0:
        return rng.randint(0, 50)
    if kind == 1:
        return random_str(rng)
    if kind == 2:
        number = random_float(rng)
        # hash(nan) is its address (3.10+), which would order sets differently in the two processes.
        return 0.5 if number != number else number
    return tuple(random_key(rng) for _ in range(rng.randrange(3)))


def random_value(rng, budget, depth=0):
    """A value of at most about ``budget[0]`` nodes (decremented as they are made)."""
    budget[0] -= 1
    if depth > 7 or budget[0] <= 0 or rng.random() < 0.3:
        return random_leaf(rng)
    size = min(rng.choice((0, 1, 2, 3, 5, 12, 60, 300)), max(budget[0], 0))
    items = [random_value(rng, budget, depth + 1) for _ in range(size)]
    kind = rng.randrange(10)
    if kind in (0, 1):
        return items
    if kind == 2:
        return tuple(items)
    if kind in (3, 4):
        return {random_key(rng): item for item in items}
    if kind == 5:
        return collections.OrderedDict((random_key(rng), item) for item in items)
    if kind == 6:
        return collections.defaultdict(list, {random_key(rng): item for item in items})
    if kind == 7:
        return collections.Counter({random_key(rng): rng.randint(-5, 5) for _ in items})
    if kind == 8:
        return collections.deque(items)
    leaves = [random_key(rng) for _ in items]
    return set(leaves) if rng.random() < 0.5 else frozenset(leaves)


def render(seed, count):
    import hunter
    from hunter.util import safe_repr

    rng = random.Random(seed)
    printers = {limit: hunter.CallPrinter(stream=io.StringIO(), repr_limit=limit) for limit in LIMITS}
    rendered = []
    for _ in range(count):
        value = random_value(rng, [rng.choice((5, 50, 1500))])
        rendered.append({'full': safe_repr(value), 'clipped': {limit: printer.try_repr(value) for limit, printer in printers.items()}})
    return rendered


if __name__ == '__main__':
    json.dump(render(int(sys.argv[1]), int(sys.argv[2])), sys.stdout)
