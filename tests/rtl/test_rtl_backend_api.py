"""The `rtl` backend behind the common accelerator API: the factory opens it, bad settings fail
with one clear error before anything runs, and the sweep runs a point on it."""

from __future__ import annotations

import numpy as np
import pytest

from noisybnn.backends import BACKENDS, Accelerator, NoiseSetting, load

pytestmark = pytest.mark.rtl


@pytest.fixture
def tfc_rtl(verilator, finn_build):
    acc = load("rtl", finn_build("tfc-w1a1"))
    yield acc
    acc.close()


def test_factory_opens_rtl_backend(tfc_rtl):
    assert "rtl" in BACKENDS
    assert isinstance(tfc_rtl, Accelerator)
    assert tfc_rtl.num_classes == 10 and tfc_rtl.injector_widths == [64, 64, 64]


def test_bad_settings_are_refused(tfc_rtl):
    with pytest.raises(ValueError, match="layer 5 has no injector"):
        tfc_rtl.configure_noise(NoiseSetting(mode="flip", p=0.1, layers=(5,)))
    with pytest.raises(ValueError, match="fault mask for layer 0"):
        tfc_rtl.configure_noise(NoiseSetting(mode="stuck0", fault_masks={0: (True,) * 3}))
    with pytest.raises(ValueError, match="images must"):
        tfc_rtl.execute(np.zeros((2, 10), np.uint8))


def test_backpressure_is_checked(verilator, finn_build):
    from noisybnn.backends.rtl import RtlAccelerator

    with pytest.raises(ValueError, match="backpressure"):
        RtlAccelerator(finn_build("tfc-w1a1"), backpressure=1.0)


def test_counters_restart_on_reset(tfc_rtl):
    from noisybnn import data

    x = data.load("mnist", "test")[0][:5]
    tfc_rtl.configure_noise(NoiseSetting(mode="flip", p=0.2, seed=9))
    first = tfc_rtl.execute(x)
    assert sum(tfc_rtl.flip_counts()) > 0 and tfc_rtl.beat_counts() == [160, 320, 320]
    tfc_rtl.reset_noise()
    assert tfc_rtl.flip_counts() == [0, 0, 0]
    np.testing.assert_array_equal(tfc_rtl.execute(x), first)  # reseed: the same run again
