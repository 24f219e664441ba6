"""Arc estimation: grid steps from the data, recovery of known Δv/Δh, agreement with the numpy reference."""

import numpy as np
import pytest

from egms_plugin.core import conventions as cv
from egms_plugin.core.psi.arcs import arc_coherence, estimate_arc_parameters, make_search
from egms_plugin.testing.psi_reference import estimate_arc_parameters_numpy

LAMBDA_MM = cv.SENTINEL1_WAVELENGTH * 1000


def geometry(n=60, seed=0):
    rng = np.random.default_rng(seed)
    days = np.concatenate([[0], np.cumsum(rng.choice([6, 12, 24], n - 1, p=[0.2, 0.7, 0.1]))])
    t = days / 365.25
    bperp = rng.uniform(-150, 150, n)
    f = cv.height_error_factor_mm_per_m(bperp - bperp[0], 875000.0, 39.0)
    return t, f


def arc_phasors(t, f, dv, dh, noise_rad, rng, return_phase=False):
    """Point pairs (2 per arc) whose phase difference is the model of (dv, dh) plus noise and an offset."""
    n_arcs = len(dv)
    phase = cv.mm_to_phase(dv[:, None] * t + dh[:, None] * f) + rng.normal(0, noise_rad, (n_arcs, t.size))
    common = rng.uniform(-np.pi, np.pi, (n_arcs, t.size))  # both points share a random phase per date
    z = np.empty((2 * n_arcs, t.size), dtype=np.complex64)
    z[0::2] = np.exp(1j * common)
    z[1::2] = np.exp(1j * (common + phase + rng.uniform(-np.pi, np.pi, (n_arcs, 1))))
    arcs = np.column_stack([np.arange(0, 2 * n_arcs, 2), np.arange(1, 2 * n_arcs, 2)])
    return (z, arcs, phase) if return_phase else (z, arcs)


def least_squares_oracle(phase, t, f):
    """(Δv, Δh) of a least-squares fit of the unwrapped arc phase with a constant: the optimum for small noise."""
    g = np.column_stack([np.ones_like(t), cv.mm_to_phase(t), cv.mm_to_phase(f)])
    coef = phase @ np.linalg.pinv(g).T
    return coef[:, 1], coef[:, 2]


def test_grid_steps_follow_the_data():
    t, f = geometry()
    s = make_search(t, f, max_velocity=60, max_height=60)
    # a step moves the model phase by at most π/2 over the span: Δv ≤ λ/(8 T), Δh ≤ λ R sinθ/(8 B⊥ span)
    assert s.velocity_step <= LAMBDA_MM / (8 * np.ptp(t)) + 1e-12
    assert s.height_step <= LAMBDA_MM / (8 * np.ptp(f)) + 1e-12
    assert s.velocity_step > 0.9 * LAMBDA_MM / (8 * np.ptp(t))  # not needlessly fine
    assert s.velocities[0] == -60 and s.velocities[-1] == 60 and s.heights[-1] == 60
    assert s.ev_re.shape[1] % 16 == 0 and np.all(s.ev_re[:, t.size:] == 0)  # zero padding
    no_baselines = make_search(t, None, max_velocity=60, max_height=60)
    assert no_baselines.heights.tolist() == [0.0]


def test_recovers_known_parameters():
    rng = np.random.default_rng(1)
    t, f = geometry()
    n = 400
    dv = rng.uniform(-50, 50, n)
    dh = rng.uniform(-50, 50, n)
    z, arcs, phase = arc_phasors(t, f, dv, dh, 0.3, rng, return_phase=True)
    est = estimate_arc_parameters(z, arcs, t, f, max_velocity=60, max_height=60)
    v_ls, h_ls = least_squares_oracle(phase, t, f)
    # Gauss–Newton on the wrapped residuals converges to the least-squares fit of the unwrapped phase
    # (residuals ≪ π); 1e-4 is far below the noise (σ(Δv) ≈ 0.3 rad/(|K|·std(t)·√60) ≈ 0.28 mm/yr, σ(Δh) ≈ 1 m)
    # and a wrong lobe would be ≥ 7 mm/yr off
    assert np.abs(est.velocity - v_ls).max() < 1e-4
    assert np.abs(est.height - h_ls).max() < 1e-4
    assert np.sqrt(np.mean((est.velocity - dv) ** 2)) == pytest.approx(0.28, rel=0.25)
    # γ of a 0.3-rad Gaussian phase noise is exp(−0.3²/2) = 0.956
    assert np.median(est.coherence) == pytest.approx(np.exp(-0.045), abs=0.01)


def test_random_phases_have_low_coherence():
    rng = np.random.default_rng(2)
    t, f = geometry()
    z = np.exp(1j * rng.uniform(-np.pi, np.pi, (200, t.size))).astype(np.complex64)
    arcs = np.column_stack([np.arange(0, 200, 2), np.arange(1, 200, 2)])
    est = estimate_arc_parameters(z, arcs, t, f)
    # max over ~400 grid points of |mean of 60 random phasors|: P(γ > x) ≈ G·exp(−N x²) ⇒ below 0.45
    assert est.coherence.max() < 0.45


def test_matches_numpy_reference():
    rng = np.random.default_rng(3)
    t, f = geometry(n=40, seed=3)
    z, arcs = arc_phasors(t, f, rng.uniform(-30, 30, 60), rng.uniform(-30, 30, 60), 0.8, rng)
    s = make_search(t, f, max_velocity=40, max_height=40)
    est = estimate_arc_parameters(z, arcs, None, search=s)
    v, h, g = estimate_arc_parameters_numpy(z, arcs, s)
    # float32 grid sums vs complex128: the same grid peak, then identical float64 refinement
    np.testing.assert_allclose(est.velocity, v, atol=1e-6)
    np.testing.assert_allclose(est.height, h, atol=1e-5)
    np.testing.assert_allclose(est.coherence, g, atol=1e-9)


def test_arc_coherence_of_given_parameters():
    rng = np.random.default_rng(4)
    t, f = geometry()
    dv, dh = np.array([5.0, -3.0]), np.array([10.0, 0.0])
    z, arcs = arc_phasors(t, f, dv, dh, 0.0, rng)
    g, off = arc_coherence(z, arcs, t, f, dv, dh)
    np.testing.assert_allclose(g, 1.0, atol=1e-5)
    g_wrong, _ = arc_coherence(z, arcs, t, f, dv + 13.9, dh)  # half a cycle per year off
    assert g_wrong.max() < 0.5


def test_without_height_term():
    rng = np.random.default_rng(5)
    t, _ = geometry()
    dv = rng.uniform(-40, 40, 50)
    z, arcs, phase = arc_phasors(t, np.zeros_like(t), dv, np.zeros(50), 0.2, rng, return_phase=True)
    est = estimate_arc_parameters(z, arcs, t, None)
    v_ls = phase @ np.linalg.pinv(np.column_stack([np.ones_like(t), cv.mm_to_phase(t)])).T
    assert np.abs(est.velocity - v_ls[:, 1]).max() < 1e-4 and np.all(est.height == 0)


def _grid_magnitudes(z, arcs, s):
    """|Σ_k w_k · conj(model_k)| on the whole grid, complex128: (n_arcs, n_v, n_h)."""
    n = s.t.size
    w = (z[arcs[:, 1]] * np.conj(z[arcs[:, 0]])).astype(np.complex128)
    ev = np.exp(-1j * s.rad_per_mm * s.velocities[:, None] * s.t[None, :])
    eh = np.exp(-1j * s.rad_per_mm * s.heights[:, None] * s.f[None, :])
    return np.abs(np.einsum("ak,vk,hk->avh", w, ev, eh)), n


def test_coarse_to_fine_bound_holds():
    """|S| at a grid neighbour never exceeds |S| here plus the tabulated bound (random phases: the widest spread)."""
    rng = np.random.default_rng(6)
    t, f = geometry()
    s = make_search(t, f, max_velocity=30, max_height=30)
    z = np.exp(1j * rng.uniform(-np.pi, np.pi, (80, t.size))).astype(np.complex64)
    mags, _ = _grid_magnitudes(z, np.column_stack([np.arange(0, 80, 2), np.arange(1, 80, 2)]), s)
    n_v, n_h = mags.shape[1:]
    worst = -np.inf
    for a in (-1, 0, 1):
        for b in (-1, 0, 1):
            here = mags[:, max(0, -a):n_v - max(0, a), max(0, -b):n_h - max(0, b)]
            there = mags[:, max(0, a):n_v + min(0, a), max(0, b):n_h + min(0, b)]
            worst = max(worst, float((there - here - s.bound[a + 1, b + 1]).max()))
    assert worst < 0.0
    assert s.bound[1, 1] == pytest.approx(1e-3 * t.size)  # no offset: the float32 margin only
    assert s.bound.max() < 0.6 * t.size  # a useful bound: one step moves the phase by ≤ π/2 over the span


@pytest.mark.parametrize("noise", [0.3, 1.2, None])
def test_coarse_to_fine_finds_the_exhaustive_peak(monkeypatch, noise):
    """The grid point chosen is the exhaustive grid's maximum (to float32 ties), coherent or random arcs."""
    from egms_plugin.core.psi import arcs as arcs_module

    rng = np.random.default_rng(7)
    t, f = geometry()
    s = make_search(t, f, max_velocity=60, max_height=60)
    if noise is None:  # pure random phases: no clear peak, most coarse points stay candidates
        z = np.exp(1j * rng.uniform(-np.pi, np.pi, (600, t.size))).astype(np.complex64)
        arcs = np.column_stack([np.arange(0, 600, 2), np.arange(1, 600, 2)])
    else:
        z, arcs = arc_phasors(t, f, rng.uniform(-55, 55, 300), rng.uniform(-55, 55, 300), noise, rng)
    monkeypatch.setattr(arcs_module, "REFINE_ITERATIONS", 0)  # report the grid point itself
    est = estimate_arc_parameters(z, arcs, None, search=s)
    mags, n = _grid_magnitudes(z, arcs, s)
    i = np.searchsorted(s.velocities, est.velocity - 1e-9)
    j = np.searchsorted(s.heights, est.height - 1e-9)
    np.testing.assert_allclose(s.velocities[i], est.velocity, atol=1e-9)
    chosen = mags[np.arange(len(arcs)), i, j]
    # float32 sums of 60 unit terms are good to ~1e-5; a different lobe would be ≫ 1e-3 lower
    assert np.all(chosen >= mags.reshape(len(arcs), -1).max(axis=1) - 1e-3)
    np.testing.assert_allclose(est.coherence, chosen / n, atol=1e-6)

