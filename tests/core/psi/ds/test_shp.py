"""Homogeneous neighbours (SHP) of core.psi.ds: the two-population window, the false-alarm rate, bad input."""

import numpy as np
import pytest

from egms_plugin.core.errors import InputError
from egms_plugin.core.psi.ds import check_window, find_shps, ks_critical_value
from egms_plugin.testing.ds_reference import ks_similar_numpy, shp_masks_numpy


def _rayleigh(rng, n, rows, cols, scale=1.0):
    z = rng.standard_normal((n, rows, cols)) + 1j * rng.standard_normal((n, rows, cols))
    return (np.abs(z) * scale).astype(np.float32)


def test_two_populations_select_the_centre_population():
    """11 × 11 window, 60 dates: the left 5 columns are twice as bright (σ ratio 2, a field next to a
    road); the SHPs of the centre are its own population's pixels: none of the other population is
    selected and at most ~α of its own are missed."""
    rng = np.random.default_rng(0)
    amp = _rayleigh(rng, 60, 11, 11)
    amp[:, :, :5] *= 2.0
    masks, counts = find_shps(amp, 5, 5, alpha=0.05, rows=(5, 6))
    m = masks[0, 5].astype(bool)
    own = np.zeros((11, 11), bool)
    own[:, 5:] = True
    assert not (m & ~own).any()
    missed = (own & ~m).sum() / (own.sum() - 1)
    assert missed < 0.15, missed
    assert counts[0, 5] == m.sum()


def test_false_alarm_rate_near_the_significance():
    """One population, 60 dates, 48 × 48 pixels, 11 × 11 windows (~250 000 pairs): the fraction of pairs the
    test calls different is the false-alarm rate; measured 0.045 at α = 0.05 and 0.0081 at α = 0.01 (the
    KS distance is discrete in steps of 1/60, so the rate sits a little below α).  Asserted within
    [0.5 α, 1.2 α]."""
    rng = np.random.default_rng(1)
    amp = _rayleigh(rng, 60, 48, 48)
    for alpha in (0.05, 0.01):
        masks, _ = find_shps(amp, 5, 5, alpha=alpha, rows=(5, 43), connect=False)
        inner = masks[:, 5:43].astype(bool)  # windows fully inside the block
        rate = 1.0 - (inner.sum() - inner.shape[0] * inner.shape[1]) / (inner.size - inner.shape[0] * inner.shape[1])
        print(f"alpha {alpha}: false-alarm rate {rate:.4f}")
        assert 0.5 * alpha <= rate <= 1.2 * alpha


def test_kernel_equals_numpy_reference():
    rng = np.random.default_rng(2)
    amp = _rayleigh(rng, 24, 9, 10)
    amp[:, 3:6, 2:8] *= 1.8
    amp[:, 0, 0] = 0.0  # no data
    ref_sim = ks_similar_numpy(amp, 2, 3, 0.05)
    sim, _ = find_shps(amp, 2, 3, alpha=0.05, connect=False)
    assert np.array_equal(sim.astype(bool), ref_sim)
    ref_masks, ref_counts = shp_masks_numpy(amp, 2, 3, 0.05)
    masks, counts = find_shps(amp, 2, 3, alpha=0.05)
    assert np.array_equal(masks.astype(bool), ref_masks) and np.array_equal(counts, ref_counts)
    assert counts[0, 0] == 0
    # integer amplitudes (CInt16 stacks of low DN): many ties, handled exactly by the merge walk
    ties = np.round(amp * 2.0)
    assert np.array_equal(find_shps(ties, 2, 3, alpha=0.05, connect=False)[0].astype(bool),
                          ks_similar_numpy(ties, 2, 3, 0.05))


def test_critical_value():
    assert ks_critical_value(60, 0.05) == pytest.approx(0.2418, abs=5e-4)
    assert ks_critical_value(60, 0.01) > ks_critical_value(60, 0.05)


def test_too_few_dates_and_too_small_a_stack():
    amp = np.ones((5, 20, 20), np.float32)
    with pytest.raises(InputError, match="5 dates are too few for distributed scatterers"):
        find_shps(amp, 5, 5)
    with pytest.raises(InputError, match=r"9 × 7 pixels is smaller than the SHP window of 11 × 11"):
        check_window(60, 7, 9, 5, 5, 0.05, where="stack X")
    with pytest.raises(InputError, match="significance"):
        check_window(60, 70, 90, 5, 5, 1.5)
