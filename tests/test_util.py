from pathlib import Path

import pytest
import util_probe
from reference import run_on_both

from hunter import util

PROBE_SCRIPT = Path(util_probe.__file__)
PROBED = [
    'get_arguments',
    'iter_symbols',
    'get_func_in_mro',
    'get_func_in_mro missing',
    'if_same_code',
    'frame_iterator',
    'cached_property',
    'MISSING',
    'main thread',
    'BUILTIN_SYMBOLS',
    'regexes',
    'CALL_COLORS',
    'CODE_COLORS',
    'OTHER_COLORS',
    'Fore/Back/Style',
]


@pytest.fixture(scope='module')
def probe_outputs():
    return run_on_both(PROBE_SCRIPT)


def test_probe_covers_everything(probe_outputs):
    reference, ours = probe_outputs
    assert sorted(reference) == sorted(ours) == sorted(PROBED)


@pytest.mark.parametrize('observation', PROBED)
def test_matches_real_hunter(probe_outputs, observation):
    reference, ours = probe_outputs
    assert ours[observation] == reference[observation]


def test_colour_codes_are_ansi_sgr():
    # Spec §4.2: BRIGHT=1, NORMAL=22, RESET_ALL=0, fore 30-37 (RESET 39), back 40-47 (RESET 49).
    assert util.OTHER_COLORS['COLON'] == '\x1b[1m\x1b[30m'
    assert util.OTHER_COLORS['fore(RESET)'] == '\x1b[39m'
    assert util.OTHER_COLORS['back(RESET)'] == '\x1b[49m'
    assert util.OTHER_COLORS['INTERNAL-FAILURE'] == '\x1b[1m\x1b[41m\x1b[31m'


def test_if_same_code_stops_on_a_wrapped_cycle():
    # hunter loops forever here; returning None is the only useful answer.
    def func():
        pass

    def other():
        pass

    func.__wrapped__ = other
    other.__wrapped__ = func
    assert util.if_same_code(func, test_if_same_code_stops_on_a_wrapped_cycle.__code__) is None


def test_safe_repr_is_the_native_one():
    from hunter._hunter import safe_repr

    assert util.safe_repr is safe_repr
