"""Homogeneous neighbours (SHP) of core.psi.ds, both tests (GLRT of the power means, Kolmogorov–Smirnov): the
two-population window, the false-alarm rate, the critical values, the numpy references, bad input."""

import numpy as np
import pytest

from egms_plugin.core.errors import InputError
from egms_plugin.core.psi.ds import check_window, find_shps, find_shps_at, glrt_cutoff, ks_critical_value
from egms_plugin.testing.ds_reference import glrt_similar_numpy, ks_similar_numpy, shp_masks_numpy


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
    masks, counts = find_shps(amp, 5, 5, alpha=0.05, rows=(5, 6), method="ks")
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
        masks, _ = find_shps(amp, 5, 5, alpha=alpha, rows=(5, 43), connect=False, method="ks")
        inner = masks[:, 5:43].astype(bool)  # windows fully inside the block
        rate = 1.0 - (inner.sum() - inner.shape[0] * inner.shape[1]) / (inner.size - inner.shape[0] * inner.shape[1])
        print(f"alpha {alpha}: false-alarm rate {rate:.4f}")
        assert 0.5 * alpha <= rate <= 1.2 * alpha


@pytest.mark.parametrize(("method", "similar_numpy"), [("ks", ks_similar_numpy), ("glrt", glrt_similar_numpy)])
def test_kernel_equals_numpy_reference(method, similar_numpy):
    rng = np.random.default_rng(2)
    amp = _rayleigh(rng, 24, 9, 10)
    amp[:, 3:6, 2:8] *= 1.8
    amp[:, 0, 0] = 0.0  # no data
    ref_sim = similar_numpy(amp, 2, 3, 0.05)
    sim, _ = find_shps(amp, 2, 3, alpha=0.05, connect=False, method=method)
    assert np.array_equal(sim.astype(bool), ref_sim)
    assert 0.3 < ref_sim.mean() < 0.9  # both outcomes occur
    ref_masks, ref_counts = shp_masks_numpy(amp, 2, 3, 0.05, method=method)
    masks, counts = find_shps(amp, 2, 3, alpha=0.05, method=method)
    assert np.array_equal(masks.astype(bool), ref_masks) and np.array_equal(counts, ref_counts)
    assert counts[0, 0] == 0
    other = "ks" if method == "glrt" else "glrt"
    assert not np.array_equal(ref_masks, shp_masks_numpy(amp, 2, 3, 0.05, method=other)[0])  # not the other test's
    # integer amplitudes (CInt16 stacks of low DN): many ties, handled exactly by the merge walk
    ties = np.round(amp * 2.0)
    assert np.array_equal(find_shps(ties, 2, 3, alpha=0.05, connect=False, method="ks")[0].astype(bool),
                          ks_similar_numpy(ties, 2, 3, 0.05))


def test_critical_value():
    assert ks_critical_value(60, 0.05) == pytest.approx(0.2418, abs=5e-4)
    assert ks_critical_value(60, 0.01) > ks_critical_value(60, 0.05)


@pytest.mark.parametrize("method, name", [("ks", "Kolmogorov–Smirnov"), ("glrt", "GLRT")])
def test_too_few_dates_and_too_small_a_stack(method, name):
    amp = np.ones((5, 20, 20), np.float32)
    with pytest.raises(InputError, match=f"5 dates are too few for distributed scatterers — the amplitude test \\({name}"):
        find_shps(amp, 5, 5, method=method)
    with pytest.raises(InputError, match="5 dates are too few"):
        find_shps_at(amp, [10], [10], 5, 5, method=method)
    with pytest.raises(InputError, match=r"9 × 7 pixels is smaller than the SHP window of 11 × 11"):
        check_window(60, 7, 9, 5, 5, 0.05, where="stack X", method=method)
    with pytest.raises(InputError, match="significance"):
        check_window(60, 70, 90, 5, 5, 1.5, method=method)
    with pytest.raises(InputError, match="significance"):
        check_window(60, 70, 90, 5, 5, 0.0, method=method)
    check_window(8, 20, 20, 5, 5, 0.05, method=method)  # MIN_DATES = 8 is enough at α = 0.05


def test_dates_needed_differ_between_the_tests():
    """At α = 10⁻⁴ the KS distance cannot reach its critical value with fewer than 11 dates; the GLRT keeps the
    8-date minimum of the coherence matrix."""
    with pytest.raises(InputError, match="need at least 11 dates"):
        check_window(9, 20, 20, 5, 5, 1e-4, method="ks")
    check_window(9, 20, 20, 5, 5, 1e-4, method="glrt")
    with pytest.raises(InputError, match="need at least 8 dates"):
        check_window(7, 20, 20, 5, 5, 0.05, method="glrt")


def test_unknown_test_is_clear():
    amp = np.ones((20, 20, 20), np.float32)
    for call in (lambda: find_shps(amp, 5, 5, method="t"), lambda: find_shps_at(amp, [3], [3], 5, 5, method="KS"),
                 lambda: check_window(20, 20, 20, 5, 5, 0.05, method="")):
        with pytest.raises(InputError, match="SHP test .*: expected one of 'glrt', 'ks'"):
            call()


# ------------------------------------------------------------------------------------------------ GLRT
@pytest.mark.parametrize("power_ratio", [4.0, 2.56])
def test_glrt_two_populations_select_the_centre_population(power_ratio):
    """11 × 11 window, 60 dates, seeds 0–9: the left 5 columns have ``power_ratio`` × the power (σ ratio 2 and 1.6).
    The centre's SHPs hold none of the other population, and miss 4.5 % of its own on average (measured; at most
    15 % in one window: a centre far in its population's tail rejects many at once).  A pixel of the brighter side
    (column 2), every similar pixel counted (not only connected ones): measured 0 of 330 of the other population
    similar at ratio 4, 2 of 330 at 2.56 (its own: 96 % similar)."""
    missed, other, own_b = [], [], []
    for seed in range(10):
        rng = np.random.default_rng(seed)
        amp = _rayleigh(rng, 60, 11, 11)
        amp[:, :, :5] *= np.float32(np.sqrt(power_ratio))
        masks, counts = find_shps(amp, 5, 5, alpha=0.05, rows=(5, 6), method="glrt")
        m = masks[0, 5].astype(bool)
        own = np.zeros((11, 11), bool)
        own[:, 5:] = True
        assert not (m & ~own).any(), seed
        assert counts[0, 5] == m.sum()
        missed.append((own & ~m).sum() / (own.sum() - 1))
        # column 2: its window's columns 3–7 are the image's 0–4 (its own population), 8–10 the image's 5–7
        mb = find_shps(amp, 5, 5, alpha=0.05, rows=(5, 6), method="glrt", connect=False)[0][0, 2].astype(bool)
        assert not mb[:, :3].any()  # outside the image
        other.append(mb[:, 8:].mean())
        own_b.append(mb[:, 3:8].mean())
    print(f"power ratio {power_ratio}: missed {np.mean(missed):.3f} (max {np.max(missed):.3f}), other population "
          f"{np.mean(other):.4f}, own {np.mean(own_b):.3f}")
    assert np.mean(missed) <= 0.08 and np.max(missed) <= 0.25
    assert np.mean(other) <= 0.01 and np.mean(own_b) >= 0.9


def test_glrt_false_alarm_rate_is_alpha_within_binomial_error():
    """100 000 independent pairs of one Rayleigh population (rows of 3 pixels, 1 × 3 windows, the pair (0, 1) of
    every row), 60 dates: the F test is exact, so the rejected fraction is α within its binomial error.  Asserted
    within 4 σ, σ = √(α(1 − α)/n): ±0.0028 at α = 0.05, ±0.0013 at α = 0.01 (measured 0.0497 and 0.0103).
    A test at α instead of α/2 per tail, or with N instead of 2N degrees of freedom, would fail it."""
    rng = np.random.default_rng(11)
    n = 100_000
    amp = _rayleigh(rng, 60, n, 3)
    for alpha in (0.05, 0.01):
        masks, _ = find_shps(amp, 0, 1, alpha=alpha, connect=False, method="glrt")
        rate = 1.0 - masks[:, 0, 0, 2].mean()
        sigma = np.sqrt(alpha * (1.0 - alpha) / n)
        print(f"alpha {alpha}: false-alarm rate {rate:.4f} (±{4 * sigma:.4f})")
        assert abs(rate - alpha) <= 4.0 * sigma


def test_glrt_false_alarm_rate_in_windows():
    """48 × 48 pixels, 11 × 11 windows (~250 000 overlapping pairs, not independent): measured 0.0529 at α = 0.05
    and 0.0103 at α = 0.01; asserted within [0.8 α, 1.2 α]."""
    rng = np.random.default_rng(1)
    amp = _rayleigh(rng, 60, 48, 48)
    for alpha in (0.05, 0.01):
        masks, _ = find_shps(amp, 5, 5, alpha=alpha, rows=(5, 43), connect=False, method="glrt")
        inner = masks[:, 5:43].astype(bool)
        rate = 1.0 - (inner.sum() - inner.shape[0] * inner.shape[1]) / (inner.size - inner.shape[0] * inner.shape[1])
        print(f"alpha {alpha}: false-alarm rate {rate:.4f}")
        assert 0.8 * alpha <= rate <= 1.2 * alpha


def test_glrt_cutoff_equals_a_monte_carlo_of_the_glrt_statistic():
    """The cutoff ln F⁻¹(1 − α/2; 2N, 2N) against the (1 − α) quantile of the GLRT statistic
    λ = 2 ln((1 + r)/2) − ln r of simulated circular-Gaussian pairs (200 000 pairs, 60 dates; no F distribution
    assumed): the quantile, mapped back to |ln r| (λ is even and increasing in ln r), is within 0.004 of the cutoff
    (5 Monte-Carlo standard errors of the 0.95 quantile, 2.7 of the 0.99 one); measured 0.3591 vs 0.3595 at
    α = 0.05, 0.4709 vs 0.4734 at α = 0.01 (1.7 standard errors)."""
    rng = np.random.default_rng(3)
    n, m = 60, 200_000
    power = []
    for _ in range(2):
        z = rng.standard_normal((m, n)) + 1j * rng.standard_normal((m, n))
        power.append(np.mean(np.abs(z) ** 2, axis=1))
    r = power[0] / power[1]
    lam = 2.0 * np.log((1.0 + r) / 2.0) - np.log(r)
    for alpha in (0.05, 0.01):
        c = np.quantile(lam, 1.0 - alpha)
        lo, hi = 0.0, 5.0  # solve λ(e^t) = c for t ≥ 0 by bisection
        for _ in range(100):
            t = 0.5 * (lo + hi)
            lo, hi = (t, hi) if 2.0 * np.log((1.0 + np.exp(t)) / 2.0) - t < c else (lo, t)
        print(f"alpha {alpha}: Monte-Carlo {t:.4f}, ln F quantile {glrt_cutoff(n, alpha):.4f}")
        assert abs(t - glrt_cutoff(n, alpha)) < 0.004
        # the test at that cutoff rejects the Monte-Carlo pairs at α
        assert abs(np.mean(np.abs(np.log(r)) > glrt_cutoff(n, alpha)) - alpha) < 4 * np.sqrt(alpha / m)
    assert glrt_cutoff(60, 0.05) == pytest.approx(0.35954, abs=1e-4)
    assert glrt_cutoff(60, 0.01) > glrt_cutoff(60, 0.05) > glrt_cutoff(120, 0.05)




@pytest.mark.parametrize("method", ["glrt", "ks"])
def test_find_shps_at_equals_find_shps(method):
    rng = np.random.default_rng(4)
    amp = _rayleigh(rng, 24, 20, 23)
    amp[:, 4:12, 6:15] *= 1.8
    amp[:, 0, 3] = 0.0  # no data
    for connect in (True, False):
        masks, counts = find_shps(amp, 3, 4, 0.05, connect=connect, method=method)
        rr, cc = np.nonzero(np.ones(amp.shape[1:], bool))
        m, c = find_shps_at(amp, rr, cc, 3, 4, 0.05, connect=connect, method=method)
        assert np.array_equal(m, masks.reshape(-1, 7, 9)) and np.array_equal(c, counts.ravel())
        assert c[3] == 0
        # centre rows of a block with a halo give the whole block's rows
        part, _ = find_shps(amp, 3, 4, 0.05, rows=(5, 11), connect=connect, method=method)
        assert np.array_equal(part, masks[5:11])


def test_bitmask_connectivity_equals_the_flood_fill():
    """The uint64 row-bitmask connectivity (windows up to 64 columns) gives the masks and counts of the flood fill,
    on random similarity patterns (many separate pieces, runs and diagonal links) and windows up to 64 wide."""
    from egms_plugin.core.psi.ds import _shp_kernel as k

    rng = np.random.default_rng(7)
    for hr, hc, p in ((5, 5, 0.5), (5, 5, 0.7), (2, 31, 0.6), (0, 3, 0.5), (4, 1, 0.4)):
        rows, cols = 2 * hr + 9, 2 * hc + 12
        offsets = k.forward_offsets(hr, hc)
        fwd = (rng.random((rows, cols, len(offsets))) < p).astype(np.uint8)
        valid = rng.random((rows, cols)) < 0.95
        for connect in (True, False):
            out = []
            for kernel in (k._shp_kernel, k._shp_bits_kernel):
                masks = np.zeros((rows - 2 * hr, cols, 2 * hr + 1, 2 * hc + 1), np.uint8)
                counts = np.zeros((rows - 2 * hr, cols), np.int32)
                kernel(fwd, valid, 0, hr, rows - hr, hr, hc, offsets, connect, masks, counts)
                out.append((masks, counts))
            assert np.array_equal(out[0][0], out[1][0]) and np.array_equal(out[0][1], out[1][1]), (hr, hc, p)
            assert np.array_equal(out[1][1], out[1][0].sum(axis=(2, 3)) * valid[hr:rows - hr])


@pytest.mark.parametrize("method", ["glrt", "ks"])
def test_windows_wider_than_64_columns_equal_the_reference(method):
    """A 3 × 67 window (radar geometry: many range pixels) takes the byte-mask flood fill: the reference's masks."""
    rng = np.random.default_rng(8)
    amp = _rayleigh(rng, 24, 6, 80)
    amp[:, 2:5, 10:60] *= 1.8
    amp[:, 3, 40:42] *= 3.0
    masks, counts = find_shps(amp, 1, 33, alpha=0.05, method=method)
    ref_masks, ref_counts = shp_masks_numpy(amp, 1, 33, 0.05, method=method)
    assert masks.shape[-1] == 67
    assert np.array_equal(masks.astype(bool), ref_masks) and np.array_equal(counts, ref_counts)


def test_glrt_cutoff_equals_the_f_quantile_of_scipy_stats():
    """The Beta-quantile form used by the kernel (no scipy.stats import) equals ln F⁻¹(1 − α/2; 2N, 2N)."""
    from scipy.stats import f

    for n in (8, 20, 60, 61, 250):
        for alpha in (0.001, 0.01, 0.05, 0.2):
            assert glrt_cutoff(n, alpha) == pytest.approx(np.log(f.ppf(1 - alpha / 2, 2 * n, 2 * n)), rel=1e-9)


@pytest.mark.parametrize("method", ["glrt", "ks"])
def test_find_shps_with_a_scratch_equals_fresh_arrays(method):
    """Blocks of different sizes through one Scratch (a large one, a smaller one, another large one with other
    data): each gives the masks and counts of fresh arrays — nothing left over from the block before."""
    from egms_plugin.core.scratch import Scratch

    rng = np.random.default_rng(21)
    scratch = Scratch()
    for rows, scale in ((30, 1.0), (17, 3.0), (30, 0.5)):
        amp = _rayleigh(rng, 24, rows, 26, scale)
        amp[:, rows // 2, :4] = 0  # pixels without data
        got_m, got_c = find_shps(amp, 3, 4, 0.05, rows=(3, rows - 3), method=method, scratch=scratch)
        ref_m, ref_c = find_shps(amp, 3, 4, 0.05, rows=(3, rows - 3), method=method)
        assert np.array_equal(got_m, ref_m) and np.array_equal(got_c, ref_c)
        assert got_c.max() > 1 and (got_c == 0).sum() == 4
