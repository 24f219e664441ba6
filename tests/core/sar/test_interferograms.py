"""Interferograms: pair networks, the fused multilook kernel against numpy, conventions, coherence, writing."""

import csv
import datetime as dt
import math
import os
import warnings

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from egms_plugin.core import conventions as cv
from egms_plugin.core.errors import Cancelled, InputError
from egms_plugin.core.progress import Progress
from egms_plugin.core.sar import interferograms as ifg
from egms_plugin.core.sar.interferograms import form_interferograms, multilook_interferograms
from egms_plugin.core.sar.pairs import (
    build_network,
    connected_components,
    default_reference_index,
    parse_reference_date,
    sequential_pairs,
    single_reference_pairs,
    small_baseline_pairs,
)
from egms_plugin.core.sar.simulate import SimulationParameters, read_truth, simulate_stack
from egms_plugin.core.sar.stack import StackFolder

PI32 = np.float32(np.pi)


# ------------------------------------------------------------------ an independent numpy reference
U32 = 2.0**-24
"""Unit roundoff of float32."""
ULP_PI = 2.0**-22
"""Spacing of float32 numbers near π (rad)."""


def numpy_reference(slc, pairs, row_looks, col_looks):
    """Reshape-and-sum multilook in complex128.

    Returns float64 arrays (pairs, rows, cols): phase, coherence (0 and 0 where a window is empty), and
    the two scales of the float32 error bound: ``T / sqrt(P_i P_k)`` and ``T / |S|`` (inf where S = 0),
    with ``S = Σ s_i conj(s_k)``, ``T = Σ |s_i| |s_k|`` and ``P = Σ |s|²`` over each window.
    """
    s = np.asarray(slc).astype(np.complex128)
    n, rows, cols = s.shape
    out_r, out_c = rows // row_looks, cols // col_looks
    s = s[:, : out_r * row_looks, : out_c * col_looks]

    def looks(x):
        return x.reshape(x.shape[:-2] + (out_r, row_looks, out_c, col_looks)).sum(axis=(-3, -1))

    power = looks(np.abs(s) ** 2)
    phase = np.empty((len(pairs), out_r, out_c))
    coherence, t_by_amplitudes, t_by_sum = np.empty_like(phase), np.empty_like(phase), np.empty_like(phase)
    for p, (i, k) in enumerate(pairs):
        cross = looks(s[i] * np.conj(s[k]))
        t = looks(np.abs(s[i]) * np.abs(s[k]))
        amplitudes = np.sqrt(power[i] * power[k])
        empty = amplitudes == 0
        phase[p] = np.where(empty, 0.0, np.angle(cross))
        coherence[p] = np.where(empty, 0.0, np.abs(cross) / np.where(empty, 1.0, amplitudes))
        t_by_amplitudes[p] = np.where(empty, 0.0, t / np.where(empty, 1.0, amplitudes))
        with np.errstate(divide="ignore", invalid="ignore"):
            t_by_sum[p] = np.where(np.abs(cross) > 0, t / np.abs(cross), np.inf)
    return phase, coherence, t_by_amplitudes, t_by_sum


def as_float32_phase(phase):
    """float32 rounding of a float64 phase, with −π written as +π (the kernel's range is (−π, π])."""
    out = phase.astype(np.float32)
    out[out <= -PI32] = PI32
    return out


def assert_equals_reference(slc, pairs, row_looks, col_looks):
    phase, coherence = multilook_interferograms(slc, pairs, row_looks, col_looks)
    ref_phase, ref_coherence, t_by_amplitudes, t_by_sum = numpy_reference(slc, pairs, row_looks, col_looks)
    assert phase.shape == ref_phase.shape == (len(pairs), slc.shape[1] // row_looks, slc.shape[2] // col_looks)
    # Float32 precision.  The kernel sums the 2n products of a window (n = looks) in float32, so each of
    # Re S, Im S is within γ_2n·T of the exact sum (γ_k = k·u/(1 − k·u), u = 2^-24, T = Σ|s_i||s_k|:
    # the dot-product bound, Higham §3.1), i.e. |ΔS| ≤ √2·γ_2n·T.  The powers P are float32 sums of 2n
    # squares (relative γ_2n, so γ_2n for √(P_i P_k)), and |S| = √(x² + y²), P^-½ (√ and 1/·) and the two
    # products add ≤ 10u relative (first order: 8 roundings of ≤ u, |S| counted 2.5u).  So
    #   |Δcoherence| ≤ √2·γ_2n·T/√(P_i P_k) + (γ_2n + 10u)·coherence   (T/√(P_i P_k) ≤ 1: Cauchy–Schwarz)
    #   |Δphase|     ≤ √2·γ_2n·T/|S| + 2 ulp(π)   (float32 atan2: ≤ 1.1 ulp(π) over 2·10^5 angles)
    n2 = 2 * row_looks * col_looks
    gamma = n2 * U32 / (1 - n2 * U32)
    coherence_error = np.abs(coherence - ref_coherence)
    assert np.all(coherence_error <= np.sqrt(2) * gamma * t_by_amplitudes + (gamma + 10 * U32) * ref_coherence)
    phase_error = np.abs(np.angle(np.exp(1j * (phase - ref_phase))))
    assert np.all(phase_error <= np.sqrt(2) * gamma * t_by_sum + 2 * ULP_PI)
    # not only within the bound: typically far below it (these stacks are mostly incoherent clutter)
    assert np.median(phase_error) < ULP_PI and np.median(coherence_error) < 4 * U32
    empty = ref_coherence == 0
    assert np.all(phase[empty] == 0) and np.all(coherence[empty] == 0)
    assert phase.min() > -np.pi and phase.max() <= PI32 and coherence.min() >= 0 and coherence.max() <= 1
    return phase, coherence


def read_stack(folder):
    stack = StackFolder(folder)
    with stack:
        return stack, stack.read_block(0, stack.shape[0])


# ------------------------------------------------------------------ networks
DATES = [dt.date(2020, 1, 1) + dt.timedelta(days=d) for d in (0, 12, 24, 30, 42, 90, 102)]
BPERP = np.array([0.0, 120.0, -40.0, 30.0, 200.0, 10.0, -20.0])


def test_sequential_network_counts():
    assert sequential_pairs(10, 3).tolist()[:4] == [[0, 1], [0, 2], [0, 3], [1, 2]]
    assert len(sequential_pairs(10, 3)) == 3 * 10 - 3 * 4 // 2  # N·n − N(N+1)/2
    assert len(sequential_pairs(10, 1)) == 9
    assert len(sequential_pairs(5, 9)) == 10  # N ≥ n − 1: every pair once
    with pytest.raises(InputError, match="at least 1 is needed"):
        sequential_pairs(5, 0)


def test_single_reference_network_default_and_given_date():
    # the middle of 2020-01-01 … 2020-04-12 is 2020-02-21 (day 51): nearest is day 42 (index 4)
    assert default_reference_index(DATES) == 4
    pairs, warns = build_network("single reference", DATES)
    assert pairs.tolist() == [[0, 4], [1, 4], [2, 4], [3, 4], [4, 5], [4, 6]] and warns == []
    ref = parse_reference_date("20200113", DATES)
    assert ref == 1
    pairs, _ = build_network("single reference", DATES, reference_index=ref)
    assert pairs.tolist() == [[0, 1], [1, 2], [1, 3], [1, 4], [1, 5], [1, 6]]
    assert single_reference_pairs(3, 0).tolist() == [[0, 1], [0, 2]]


def test_small_baseline_network_counts_by_hand():
    # pairs within 24 days: (0,1)(0,2)(1,2)(1,3)(2,3)(2,4)(3,4)(5,6); |ΔB⊥| ≤ 100 m removes
    # (0,1) 120, (1,2) 160, (2,4) 240, (3,4) 170 → (0,2)(1,3)(2,3)(5,6)
    assert small_baseline_pairs(DATES, None, 24).tolist() == [[0, 1], [0, 2], [1, 2], [1, 3], [2, 3], [2, 4], [3, 4],
                                                               [5, 6]]
    pairs, warns = build_network("small baseline", DATES, BPERP, max_days=24, max_bperp_m=100)
    assert pairs.tolist() == [[0, 2], [1, 3], [2, 3], [5, 6]]
    assert connected_components(7, pairs).tolist() == [0, 0, 0, 0, 1, 2, 2]
    assert len(warns) == 1 and "disconnected: 3 groups" in warns[0] and "20200101, 20200212, 20200331" in warns[0]
    # within 60 days: 4 + 3 + 2 + 2 + 2 + 1 = 14 pairs, all |ΔB⊥| ≤ 250 m; ≤ 200 m drops (2,4) 240 m, (4,6) 220 m
    assert len(small_baseline_pairs(DATES, BPERP, 60, 250)) == 14
    pairs, warns = build_network("small baseline", DATES, BPERP, max_days=60, max_bperp_m=200)
    assert len(pairs) == 12 and [2, 4] not in pairs.tolist() and warns == []
    assert len(small_baseline_pairs(DATES, BPERP, 1000, 1000)) == 21


def test_small_baseline_without_baselines_warns_and_empty_network_fails():
    pairs, warns = build_network("small baseline", DATES, None, max_days=12)
    assert pairs.tolist() == [[0, 1], [1, 2], [2, 3], [3, 4], [5, 6]]
    assert "temporal baseline only" in warns[0] and "disconnected: 2 groups" in warns[1]
    with pytest.raises(InputError, match="no pair of dates is within 5 days and 3 m"):
        build_network("small baseline", DATES, BPERP, max_days=5, max_bperp_m=3)


def test_reference_date_errors():
    with pytest.raises(InputError, match="reference date 20200102 is not an acquisition of the stack; the dates are "
                                         "20200101, 20200113"):
        parse_reference_date("20200102", DATES)
    with pytest.raises(InputError, match="reference date '2020-01-13' is not YYYYMMDD"):
        parse_reference_date("2020-01-13", DATES)
    with pytest.raises(InputError, match="unknown network 'star'"):
        build_network("star", DATES)


# ------------------------------------------------------------------ the kernel against numpy
@pytest.mark.parametrize("looks", [(1, 1), (2, 3), (4, 4), (3, 7), (5, 5), (1, 8)])
def test_kernel_equals_numpy_on_simulated_stack(small_stack, looks):
    stack, slc = read_stack(small_stack)  # 100 rows × 120 cols: (3, 7) and (5, 5)… leave remainders
    pairs, _ = build_network("small baseline", stack.dates, stack.bperp, max_days=60, max_bperp_m=150)
    pairs = np.concatenate([pairs, sequential_pairs(stack.n_dates, 2)])
    assert len(pairs) > 50
    assert_equals_reference(slc, pairs, *looks)


@pytest.mark.parametrize("looks", [(1, 1), (2, 2), (3, 5)])
def test_kernel_equals_numpy_on_cint16_stack(tmp_path, looks):
    rng = np.random.default_rng(3)
    rows, cols = 23, 31
    for n, day in enumerate(("20210105", "20210117", "20210129", "20210210")):
        z = np.round(rng.normal(scale=300, size=(rows, cols)) + 1j * np.round(rng.normal(scale=300, size=(rows, cols))))
        if n == 2:
            z[:6, :10] = 0  # an all-zero corner on one date
        z[10:13, 0:5] = 30000 + 29000j  # near the CInt16 limit: exact in float32, large products
        with rasterio.open(tmp_path / f"S1_{day}.tif", "w", driver="GTiff", width=cols, height=rows, count=1,
                           dtype="complex_int16", crs="EPSG:32633",
                           transform=from_origin(400000, 5200000, 10, 10)) as ds:
            ds.write(z.astype(np.complex64)[None])
    stack, slc = read_stack(tmp_path)
    assert stack.dtype == "complex_int16"
    pairs = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    phase, coherence = assert_equals_reference(slc, pairs, *looks)
    empty = slice(0, 6 // looks[0]), slice(0, 10 // looks[1])
    assert np.all(coherence[1][empty] == 0) and np.all(phase[1][empty] == 0)


def test_extreme_amplitudes_are_rescaled_not_overflowed():
    # float32 |s|² overflows above |s| = 1.8e19 and is 0 below 4e-23: such windows are rescaled by a power
    # of 2 (exact; phase and coherence do not change when one date's window is scaled)
    rng = np.random.default_rng(7)
    z = rng.normal(size=(3, 8, 12)) + 1j * rng.normal(size=(3, 8, 12))
    z[1] = z[0] * np.exp(0.7j) + 0.3 * z[1]  # dates 0 and 1 coherent
    z[:, :4, :6] *= 1e30  # looks 2 × 3: windows (0…1, 0…1) huge on every date
    z[:, 4:, 6:] *= 1e-30  # windows (2…3, 2…3) tiny on every date
    z[0, 4:, :6] *= 1e25  # windows (2…3, 0…1): date 0 huge, the others normal
    z[2, :4, 6:] *= 1e-25  # windows (0…1, 2…3): date 2 tiny
    z[1, 0, 0] = 3e38  # one value near the float32 limit
    slc = z.astype(np.complex64)
    pairs = [(0, 1), (0, 2), (1, 2)]
    with np.errstate(over="ignore", under="ignore"):
        squares = np.abs(slc) * np.abs(slc)  # float32
    assert np.isinf(squares[1, 0, 0]) and np.all(squares[:, 4:, 6:] == 0)  # where float32 |s|² fails
    phase, coherence = assert_equals_reference(slc, pairs, 2, 3)  # float32 precision in every window
    assert np.median(coherence[0]) > 0.9 and coherence.min() > 0.01  # nothing zeroed by an underflow


def test_phase_quadrants_axes_and_sign_convention():
    # s_i = exp(jθ), s_k = 1 → phase θ; swapped → −θ (I_ik = s_i · conj(s_k)), 1 × 1 looks
    theta = np.concatenate([np.linspace(-np.pi, np.pi, 721), [0.5 * np.pi, -0.5 * np.pi, 1e-9, -1e-9]])
    z = np.exp(1j * theta).astype(np.complex64)
    z[:2] = [complex(-1, -0.0), complex(-1, 0.0)]  # arg = ∓π exactly: (−π, π] gives π for both
    z[2:5] = [1j, -1j, 1]
    slc = np.stack([z, np.ones_like(z)])[:, None, :]
    phase, coherence = multilook_interferograms(slc, [(0, 1), (1, 0)], 1, 1)
    expected = np.angle(z.astype(np.complex128))
    # the sums are exact here (s · 1), so only the float32 atan2 errs: ≤ 3 ulp of the result, measured
    # over 2·10^5 random angles and 6000 angles near 0 and ±π
    np.testing.assert_array_max_ulp(phase[0, 0], as_float32_phase(expected), maxulp=3)
    inside = np.abs(phase[0, 0]) < PI32  # (−π, π] holds π for both ±π
    np.testing.assert_array_equal(phase[1, 0][inside], -phase[0, 0][inside])  # conj S: exactly the opposite phase
    assert phase[0, 0, 0] == phase[0, 0, 1] == PI32 and phase[0, 0, 2] == np.float32(np.pi / 2)
    assert phase[1, 0, 0] == phase[1, 0, 1] == PI32 and phase[0, 0, 3] == -np.float32(np.pi / 2)
    assert phase[0, 0, 4] == 0 and np.all(np.sign(phase[0, 0, 5:]) == np.sign(theta[5:]))
    # unit amplitudes, S exact: |S|² and P the same two squares (≤ 2u apart), √, P^-½ (2), product: ≤ 6u
    np.testing.assert_allclose(coherence, 1.0, atol=6 * U32)


def test_empty_and_non_finite_windows():
    rng = np.random.default_rng(1)
    slc = (rng.normal(size=(3, 4, 6)) + 1j * rng.normal(size=(3, 4, 6))).astype(np.complex64)
    slc[1, :2, :3] = 0  # window (0, 0) of date 1 is empty
    with_nan = slc.copy()
    with_nan[0, 2, 4] = np.nan + 1j  # one NaN pixel in window (1, 1) of date 0
    with_nan[2, 3, 5] = np.inf
    zeroed = with_nan.copy()
    zeroed[0, 2, 4] = zeroed[2, 3, 5] = 0
    phase, coherence = multilook_interferograms(with_nan, [(0, 1), (0, 2), (1, 2)], 2, 3)
    assert np.all(np.isfinite(phase)) and np.all(np.isfinite(coherence))
    assert coherence[0, 0, 0] == 0 and phase[0, 0, 0] == 0 and coherence[2, 0, 0] == 0 and phase[2, 0, 0] == 0
    ref_phase, ref_coherence = multilook_interferograms(zeroed, [(0, 1), (0, 2), (1, 2)], 2, 3)
    np.testing.assert_array_equal(phase, ref_phase)  # NaN/inf count as 0 (no data)
    np.testing.assert_array_equal(coherence, ref_coherence)


def test_kernel_input_errors():
    slc = np.ones((3, 4, 5), np.complex64)
    with pytest.raises(InputError, match="looks 5 × 1 .* exceed the block of 4 rows × 5 columns"):
        multilook_interferograms(slc, [(0, 1)], 5, 1)
    with pytest.raises(InputError, match="date indices must be in 0…2"):
        multilook_interferograms(slc, [(0, 3)], 1, 1)
    with pytest.raises(InputError, match="expected a complex"):
        multilook_interferograms(slc.real, [(0, 1)], 1, 1)
    with pytest.raises(InputError, match="row looks = 0"):
        multilook_interferograms(slc, [(0, 1)], 0, 1)


# ------------------------------------------------------------------ conventions and coherence
@pytest.fixture(scope="module")
def noise_free_stack(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ifg") / "noise_free"
    simulate_stack(folder, SimulationParameters(rows=40, cols=48, n_dates=8, seed=11, noise_free=True,
                                                atmosphere_mm=0.0, deformation_scale=3.0))
    return str(folder)


def test_phase_at_scatterers_is_mm_to_phase_of_the_truth(noise_free_stack):
    stack, slc = read_stack(noise_free_stack)
    truth = read_truth(noise_free_stack)
    mask = truth["ps_mask"] == 1
    disp = truth["displacement"][:, mask].astype(np.float64)  # (dates, scatterers), mm
    dh = truth["height_error"][mask].astype(np.float64)
    g = stack.geometry
    pairs = np.concatenate([sequential_pairs(stack.n_dates, 3), single_reference_pairs(stack.n_dates, 6)])
    phase, coherence = multilook_interferograms(slc, pairs, 1, 1)
    spread = []
    for p, (i, k) in enumerate(pairs):
        height = cv.height_error_mm(stack.bperp[k] - stack.bperp[i], dh, g.slant_range_m, g.incidence_deg)
        expected = cv.mm_to_phase(disp[k] - disp[i] + height, g.wavelength_m)
        error = np.angle(np.exp(1j * (phase[p][mask] - expected)))
        # baselines.csv rounds B⊥ to 1 mm (≤ 2e-5 mm of height term ≈ 5e-6 rad), SLCs are complex64 (~1e-7 rad)
        assert np.abs(error).max() < 1e-4, (i, k)
        spread.append(np.ptp(expected))
    assert max(spread) > 3.0  # not vacuous: the truth phases span radians (a sign error would show)
    # one pixel: |S| = |s_i||s_k|, so the bound of assert_equals_reference with n = 1: (√2·γ_2 + γ_2 + 10u) < 15u
    np.testing.assert_allclose(coherence[:, mask], 1.0, atol=15 * U32)
    assert np.all(coherence[:, ~mask] == 0) and np.all(phase[:, ~mask] == 0)  # noise-free clutter is 0: empty


def _expected_zero_coherence(n_looks):
    """E[γ̂] for zero true coherence and N independent looks: γ̂² ~ Beta(1, N−1) ⇒ Γ(N)Γ(3/2)/Γ(N+1/2)."""
    return math.exp(math.lgamma(n_looks) + math.lgamma(1.5) - math.lgamma(n_looks + 0.5))


def test_coherence_of_clutter_scatterers_and_self_pairs(tmp_path):
    folder = tmp_path / "bright"
    simulate_stack(folder, SimulationParameters(rows=60, cols=75, n_dates=12, seed=4, ps_density=0.02,
                                                ps_dispersion=(0.03, 0.04), atmosphere_mm=2.0))
    stack, slc = read_stack(folder)
    mask = read_truth(folder)["ps_mask"].astype(bool)
    pairs = np.array([(i, k) for i in range(stack.n_dates) for k in range(i + 1, stack.n_dates)])
    phase, coherence = multilook_interferograms(slc, pairs, 5, 5)
    n_ps = mask.reshape(12, 5, 15, 5).sum(axis=(1, 3))
    clutter = coherence[:, n_ps == 0]
    assert clutter.size > 3000
    # clutter decorrelates completely between dates: γ̂ has the zero-coherence bias ≈ sqrt(π/(4N)),
    # 0.1777 for N = 25 (exact mean Γ(N)Γ(3/2)/Γ(N+½)); sd of γ̂ ≈ 0.09 over > 3000 windows ⇒ ± 0.01
    assert clutter.mean() == pytest.approx(_expected_zero_coherence(25), abs=0.01)
    assert abs(_expected_zero_coherence(25) - math.sqrt(math.pi / 100)) < 0.002
    # P(γ̂ > g) = (1 − g²)^(N−1): the 99th percentile is 0.418 for N = 25
    assert np.quantile(clutter, 0.99) < 0.45
    # one scatterer of D_A ≤ 0.04 has |A|²/σ² ≥ 1/(2·0.04²) = 312 against 24 clutter pixels:
    # γ ≈ 312 / (312 + 24) = 0.93, minus the scatterer × clutter term (~|A|σ/|A|² ≈ 0.06)
    single = coherence[:, n_ps == 1]
    assert single.size > 500
    assert np.median(single) > 0.9 and np.quantile(single, 0.05) > 0.8
    self_phase, self_coherence = multilook_interferograms(slc, [(3, 3), (7, 7)], 5, 5)
    # S and P: float32 sums of the same 50 squares in two orders (each within γ_50), + 10u: < (2·50 + 12)u
    np.testing.assert_allclose(self_coherence, 1.0, atol=(2 * 50 + 12) * U32)
    assert np.all(self_phase == 0)


# ------------------------------------------------------------------ the whole stack, written
def test_form_interferograms_writes_blocks_equal_to_one_pass(small_stack, tmp_path, monkeypatch):
    monkeypatch.setattr(ifg, "MAX_OPEN_FILES", 3)  # also exercise reopening each file per block
    out = tmp_path / "ifg"
    result = form_interferograms(small_stack, out, network="sequential", neighbours=2, row_looks=3, col_looks=7,
                                 block_mb=0.2)
    stack, slc = read_stack(small_stack)
    pairs = sequential_pairs(stack.n_dates, 2)
    assert result["block_rows"] % 3 == 0 and result["block_rows"] < 100  # several blocks
    assert result["shape"] == (33, 17) and result["dropped"] == (1, 1)
    phase, coherence = multilook_interferograms(slc, pairs, 3, 7)
    names = stack.date_strings
    files = sorted(f for f in os.listdir(out) if f.endswith(".tif"))
    assert files == sorted(f"{names[i]}_{names[k]}.tif" for i, k in pairs) and len(files) == 2 * 30 - 3
    for p in (0, 17, len(pairs) - 1):
        i, k = pairs[p]
        with rasterio.open(out / f"{names[i]}_{names[k]}.tif") as ds:
            assert ds.count == 2 and ds.dtypes == ("float32", "float32") and (ds.height, ds.width) == (33, 17)
            assert ds.descriptions == ("wrapped phase (rad)", "coherence")
            assert ds.crs == stack.crs and ds.transform == looks_transform(stack.transform, 7, 3)
            np.testing.assert_array_equal(ds.read(1), phase[p])
            np.testing.assert_array_equal(ds.read(2), coherence[p])
    with open(out / "pairs.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["reference", "secondary", "temporal_baseline_days", "perpendicular_baseline_m", "file"]
    i, k = pairs[5]
    days = (stack.dates[k] - stack.dates[i]).days
    assert rows[6] == [names[i], names[k], str(days), f"{stack.bperp[k] - stack.bperp[i]:.3f}", f"{names[i]}_{names[k]}.tif"]
    assert sorted(os.listdir(tmp_path)) == ["ifg"]  # no temporary folder left beside it


def test_lat_lon_stack_writes_gcps_and_no_baselines(tmp_path):
    """Radar geometry: no geotransform; WGS84 GCPs from the lat/lon rasters put every output pixel where its
    window is (lat/lon linear in line/pixel here, so the GCPs' affine fit must be exact)."""
    rng = np.random.default_rng(2)
    folder = tmp_path / "stack"
    folder.mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        for day in ("20200101", "20200113", "20200125"):
            z = (rng.normal(size=(16, 20)) + 1j * rng.normal(size=(16, 20))).astype(np.complex64)
            with rasterio.open(folder / f"{day}.slc.tif", "w", driver="GTiff", width=20, height=16, count=1,
                               dtype="complex64") as ds:
                ds.write(z[None])
        line, pixel = np.mgrid[0:16, 0:20].astype(np.float64)
        for name, value in (("lat.tif", 45.0 + 0.001 * line - 0.0001 * pixel), ("lon.tif", 9.0 + 0.0005 * pixel)):
            with rasterio.open(folder / name, "w", driver="GTiff", width=20, height=16, count=1, dtype="float64") as ds:
                ds.write(value[None])
    stack = StackFolder(folder)
    assert ifg.default_looks(stack) == (2, 8)
    result = form_interferograms(stack, tmp_path / "radar_ifg", network="single reference")
    assert result["looks"] == (2, 8) and result["shape"] == (8, 2) and result["dropped"] == (0, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with rasterio.open(tmp_path / "radar_ifg" / "20200101_20200113.tif") as ds:
            assert ds.transform.is_identity
            gcps, crs = ds.gcps
    assert crs.to_epsg() == 4326 and len(gcps) == 2 * 2  # every 16th output row/column and the last: rows 0, 7; cols 0, 1
    t = rasterio.transform.from_gcps(gcps)
    for r, c in ((0, 0), (7, 1), (3, 0)):
        # output pixel centre = centre of input rows 2r..2r+1, columns 8c..8c+7 (affine without * or @)
        lon, lat = t.c + t.a * (c + 0.5) + t.b * (r + 0.5), t.f + t.d * (c + 0.5) + t.e * (r + 0.5)
        assert lat == pytest.approx(45.0 + 0.001 * (2 * r + 0.5) - 0.0001 * (8 * c + 3.5), abs=1e-9)
        assert lon == pytest.approx(9.0 + 0.0005 * (8 * c + 3.5), abs=1e-9)
    rows = ifg.read_pairs_csv(tmp_path / "radar_ifg" / "pairs.csv")
    assert [(r["reference"], r["secondary"], r["perpendicular_baseline_m"]) for r in rows] == [
        ("20200101", "20200113", ""), ("20200113", "20200125", "")]


def test_default_looks_of_geocoded_stacks(small_stack):
    assert ifg.default_looks(StackFolder(small_stack)) == (2, 2)  # 20 m pixels: 30 m / 20 m rounds to 2


class CancelAfterFirstBlock(Progress):
    def __init__(self):
        self.updates = 0

    def update(self, fraction):
        self.updates += 1

    def is_cancelled(self):
        return self.updates >= 1


def test_cancelled_or_failed_run_leaves_nothing(small_stack, tmp_path, monkeypatch):
    progress = CancelAfterFirstBlock()
    with pytest.raises(Cancelled):
        form_interferograms(small_stack, tmp_path / "out", row_looks=2, col_looks=2, block_mb=0.5, progress=progress)
    assert progress.updates == 1 and os.listdir(tmp_path) == []

    def broken(*args, **kwargs):
        raise InputError("disk full")

    monkeypatch.setattr(ifg._PairWriters, "close", broken)  # fails after every block was written
    with pytest.raises(InputError, match="disk full"):
        form_interferograms(small_stack, tmp_path / "out", row_looks=4, col_looks=4)
    assert os.listdir(tmp_path) == []


def test_output_folder_rules(small_stack, tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="busy: holds other files \\(notes.txt\\); choose a new or empty folder"):
        form_interferograms(small_stack, tmp_path / "busy")
    first = form_interferograms(small_stack, tmp_path / "again", network="sequential", neighbours=3, row_looks=4,
                                col_looks=4)
    second = form_interferograms(small_stack, tmp_path / "again", network="sequential", neighbours=1, row_looks=4,
                                 col_looks=4)  # a previous output is replaced, not mixed
    assert len(first["files"]) == 84 and len(second["files"]) == 29
    assert sorted(os.listdir(tmp_path / "again")) == sorted(second["files"] + ["pairs.csv"])
    assert sorted(os.listdir(tmp_path)) == ["again", "busy"]
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(tmp_path / "again").st_mode & 0o777 == 0o777 & ~umask  # an ordinary folder, not mkdtemp's 0700


def test_block_size_smaller_than_one_row_of_windows_warns(small_stack, tmp_path):
    class Recording(Progress):
        warnings = []

        def warn(self, message):
            self.warnings.append(message)

    progress = Recording()
    result = form_interferograms(small_stack, tmp_path / "x", network="sequential", neighbours=1, row_looks=50,
                                 col_looks=1, block_mb=1, progress=progress)
    # 50 rows × 120 cols × 30 dates × 8 B + 29 pairs × 120 × 8 B = 1.40 MB > 1 MB: one row of windows per block
    assert result["block_rows"] == 50 and result["shape"] == (2, 120)
    assert progress.warnings == ["one row of windows needs 1.4 MB, more than the block size of 1 MB; using it anyway."]


def test_unwritable_output_folder(small_stack, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="file/out: cannot write there"):
        form_interferograms(small_stack, tmp_path / "file" / "out")


def test_looks_larger_than_the_image(small_stack, tmp_path):
    with pytest.raises(InputError, match="looks 101 × 1 \\(rows × columns\\) are larger than the image of 100 rows × "
                                         "120 columns"):
        form_interferograms(small_stack, tmp_path / "x", row_looks=101, col_looks=1)


def looks_transform(t, col_looks, row_looks):
    """A north-up geotransform with pixels col_looks × row_looks as large, the same origin (written out)."""
    assert t.b == 0 and t.d == 0
    return rasterio.Affine(t.a * col_looks, 0.0, t.c, 0.0, t.e * row_looks, t.f)
