"""Portable mode: the native core built to read CPython through its public C API only (README, "Supported
Pythons"). The whole suite is its behaviour test (CI's portable lane runs it against a portable build); this file
checks that the build under test is the one intended."""

import os
import sys
import sysconfig

import pytest

pytestmark = pytest.mark.deliberate_change('hunter-rs only: the native core of hunter-rs')


def native_module():
    return pytest.importorskip('hunter._hunter')


def test_portable_flag_is_a_bool():
    assert type(native_module().PORTABLE) is bool


def test_unmodelled_interpreters_run_portable():
    """A CPython whose layouts the core does not model gets portable mode automatically (build.rs)."""
    unmodelled = sys.version_info >= (3, 14) or bool(sysconfig.get_config_var('Py_GIL_DISABLED'))
    if unmodelled:
        assert native_module().PORTABLE is True
    else:
        pytest.skip('a modelled interpreter: either mode can be built')


@pytest.mark.skipif('HUNTER_EXPECT_PORTABLE' not in os.environ, reason='set by the CI lane that builds portable')
def test_the_build_is_the_one_the_lane_asked_for():
    """CI's portable lane sets HUNTER_EXPECT_PORTABLE=1: it cannot silently test the default build."""
    assert native_module().PORTABLE is (os.environ['HUNTER_EXPECT_PORTABLE'] == '1')

