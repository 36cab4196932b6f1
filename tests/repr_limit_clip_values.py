"""Texts, limits and ``repr_func`` results for a differential test of the ``repr_limit`` clipping rule.

Run as a script, it prints ``{label: str(printer.try_repr(value))}`` as JSON, computed with whatever hunter the running
interpreter imports (the real hunter in a reference venv, ours otherwise). Ours clips an exact str natively when the
limit is a non-negative int; everything else (a str subclass, another type, a negative, huge or non-int limit) goes
through the Python side of the printer, which must apply the same rule.
"""

import io
import json
import sys

TEXTS = {
    'empty': '',
    'one': 'a',
    'two': 'ab',
    'three': 'abc',
    'ascii': 'abcdefghij',
    'newlines': 'a\nb\nc\nd\n',
    'non-ASCII': '\xe9\u4e2d\U0001f600' * 4,
    'mixed': 'x\xe9\ny\u4e2dz\U0001f600' * 3,
}


class Label(str):
    """A str subclass: ours leaves it to the Python side of the printer."""


class SlicedList:
    """Not a str, yet it has every operation the rule uses: hunter clips the list its ``replace`` returns."""

    def replace(self, old, new):
        return list('abcdefghij')


def cases():
    for name, text in TEXTS.items():
        for limit in sorted({0, 1, 2, 3, 4, 5, len(text) - 1, len(text), len(text) + 1} - {-1}):
            for kind, value in (('str', text), ('str subclass', Label(text))):
                yield f'{name} ({kind}) limit {limit}', value, limit
        for limit in (-1, -2, -3, -7, 2**70, -(2**70), 3.0, 2.5, True, None, '5'):
            yield f'{name} limit {limit!r}', text, limit
    for label, value in (('int', 42), ('bytes', b'by\ntes'), ('list', list('abcdef')), ('sliced list', SlicedList())):
        for limit in (0, 3, 4, 100, -3):
            yield f'{label} result limit {limit}', value, limit


def render():
    import hunter

    outputs = {}
    for label, value, limit in cases():
        printer = hunter.CallPrinter(stream=io.StringIO(), force_colors=True, repr_limit=limit, repr_func=lambda obj: obj)
        try:
            # str(): hunter's try_repr returns an unclipped non-str result as it is, which its rows format with str().
            outputs[label] = str(printer.try_repr(value))
        except Exception as exc:  # noqa: BLE001 - recorded for comparison
            outputs[label] = f'raised {exc!r}'
    return outputs


if __name__ == '__main__':
    json.dump(render(), sys.stdout)
