"""The ``repr_limit`` clipping rule: one rule (native), the same on the printers' native and Python paths."""

import io
from pathlib import Path

import pytest
import repr_limit_clip_values
from conftest import hunter_under_test_is_reference
from reference import run_on_both

import hunter

VALUES_SCRIPT = Path(repr_limit_clip_values.__file__)
LABELS = [label for label, _, _ in repr_limit_clip_values.cases()]


@pytest.fixture(scope='module')
def clip_outputs():
    """``(reference, ours)``: every case's ``try_repr`` by the real hunter and by us."""
    return run_on_both(VALUES_SCRIPT)


@pytest.mark.parametrize('label', LABELS)
def test_clips_as_real_hunter(clip_outputs, label):
    reference, ours = clip_outputs
    assert ours[label] == reference[label]


@pytest.mark.parametrize('colours', [False, True])
@pytest.mark.parametrize('name', list(repr_limit_clip_values.TEXTS))
def test_exact_str_and_str_subclass_clip_alike(name, colours):
    # Ours clips an exact str natively and leaves a str subclass to the printer's Python side.
    text = repr_limit_clip_values.TEXTS[name]
    for limit in range(len(text) + 3):
        printer = hunter.CallPrinter(stream=io.StringIO(), force_colors=colours, repr_limit=limit, repr_func=lambda obj: obj)
        native = printer.try_repr(text)
        python = printer.try_repr(repr_limit_clip_values.Label(text))
        assert python == native, f'limit {limit}'
        escaped = text.replace('\n', r'\n')
        assert (native == escaped) == (len(escaped) <= limit), f'limit {limit}'


@pytest.mark.skipif(hunter_under_test_is_reference(), reason='hunter._hunter.clip_ends is ours')
def test_clip_ends_keeps_both_halves_of_a_longer_text():
    from hunter._hunter import clip_ends

    assert clip_ends('abcdef', 6) is None
    assert clip_ends('abcdefg', 4) == ('ab', 'fg')
    assert clip_ends('abcdefg', 5) == ('ab', 'fg')
    # `limit // 2` is 0: hunter's `text[-0:]` is the whole text.
    assert clip_ends('abc', 1) == ('', 'abc')
    assert clip_ends('abc', 0) == ('', 'abc')
    assert clip_ends('', 0) is None
    assert clip_ends('\xe9\u4e2d\U0001f600\xe9', 2) == ('\xe9', '\xe9')
    assert clip_ends('abcdef', -2) == ('abcde', 'bcdef')
    assert clip_ends(list('abcde'), 2) == (['a'], ['e'])
    with pytest.raises(TypeError):
        clip_ends('abcdef', 2.0)
