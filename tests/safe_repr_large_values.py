"""Large str, bytes and bytearray values (and big containers) for a differential test of their clipping by ``repr_limit``.

Run as a script, it prints ``{label: {limit: CallPrinter(repr_limit=limit).try_repr(value)}}`` as JSON, computed with
whatever hunter the running interpreter imports (the real hunter in a reference venv, ours otherwise). The values
cover what the bounded renderer escapes piecewise from either end: every byte value, every storage width of str,
characters ``repr()`` escapes (``\\xNN``, ``\\uNNNN``, ``\\UNNNNNNNN``), lone surrogates, quote choices that depend on a
quote far from both ends, and lengths around each limit.
"""

import io
import json
import sys

LIMITS = (0, 1, 2, 3, 9, 16, 40, 101, 256, 1024, 1025)


def build_values():
    every_byte = bytes(range(256))
    non_ascii = ''.join(map(chr, range(0x80, 0x800)))
    return {
        'bytes every byte value': every_byte * 400,
        'bytearray every byte value': bytearray(every_byte) * 400,
        'bytes with a single quote in the middle': b'x' * 50_000 + b"'" + b'y' * 50_000,
        'bytes with both quotes in the middle': b'x' * 50_000 + b'\'"' + b'y' * 50_000,
        'bytearray with a single quote in the middle': bytearray(b'x' * 50_000 + b"'" + b'y' * 50_000),
        'bytearray with a double quote in the middle': bytearray(b"'x" * 50_000 + b'"' + b"y'" * 50_000),
        'bytes of escapes': b'\t\n\r\\\x00\x7f\xff' * 10_000,
        'bytes around 1024': [b'x' * 1021, b'x' * 1022, b'x' * 1023, b'x' * 2045],
        'ASCII str': 'a' * 100_000,
        'ASCII str with a quote in the middle': 'a' * 50_000 + "'" + 'b' * 50_000,
        'ASCII str with controls': '\x00\x1b\x7f\t\n' * 20_000,
        'latin-1 str': '\xe9\xa0\xad\x85\xff' * 20_000 + "'",
        'BMP str': non_ascii * 60 + ''.join(map(chr, range(0x2000, 0x2100))) + '\u4e2d"' * 1000,
        'BMP str with surrogates': '\ud800\u4e2d\udfff' * 30_000,
        'astral str': '\U0001f600\U000e0001\U0010ffff\U000f0000x' * 20_000 + "'",
        'astral str with a double quote in the middle': "'\U0001f600" * 30_000 + '"' + "\U0001f600'" * 30_000,
        'str around 1024': ['\u4e2d' * 1021, '\u4e2d' * 1022, '\U0001f600' * 1023, '\xe9' * 2045],
        'str with newlines': '\u4e2d\n' * 50_000,
        'list of large values': [every_byte * 100, '\u4e2d' * 30_000, bytearray(b'x' * 30_000)],
        'list of 100k items': list(range(100_000)),
        'dict of 100k items': {f'k{key}': [key, '\xe9'] for key in range(100_000)},
    }


def render():
    import hunter

    printers = {limit: hunter.CallPrinter(stream=io.StringIO(), repr_limit=limit) for limit in LIMITS}
    return {label: {limit: printer.try_repr(value) for limit, printer in printers.items()} for label, value in build_values().items()}


if __name__ == '__main__':
    json.dump(render(), sys.stdout)
