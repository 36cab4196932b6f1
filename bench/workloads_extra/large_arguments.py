"""A program that passes large values around: each iteration hands 50 MB of bytes, a 50 MB bytearray, a
17-million-character non-ASCII str, a 50-million-character ASCII str, a 100k-item list and a 100k-item dict to
small functions that look at a few items of them. Untraced, an iteration costs microseconds; a printer that
shows the arguments with ``repr_limit`` (1024 by default) should cost what it keeps of each, not its size.
"""

DEFAULT_ITERS = 100_000

SIZE = 50_000_000


def setup():
    return (
        b'\x00\x01data\xff"' * (SIZE // 8),
        bytearray(b"record's " * (SIZE // 9)),
        '\u4e2d\u6587 text ' * (17_000_000 // 7),
        'plain ascii text ' * (SIZE // 17),
        list(range(100_000)),
        {f'key{index}': index for index in range(100_000)},
    )


def first_item(x):
    return x[0]


def last_item(x):
    return x[-1]


def size_of(x):
    return len(x)


def lookup(x, key):
    return x[key]


def iteration(payloads):
    *sequences, mapping = payloads
    total = 0
    for sequence in sequences:
        total += size_of(sequence) + len(str(first_item(sequence))) + len(str(last_item(sequence)))
    return total + size_of(mapping) + lookup(mapping, 'key7')
