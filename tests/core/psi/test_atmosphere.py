"""Atmospheric phase screen: temporal high-pass keeps motion, spatial low-pass recovers smooth fields."""

import numpy as np

from egms_plugin.core.egms.stats import design_matrix
from egms_plugin.core.psi.atmosphere import estimate_aps, neighbour_weights, spatial_lowpass, temporal_highpass_operator


def test_highpass_keeps_the_egms_time_functions_out():
    days = np.cumsum(np.r_[0, np.random.default_rng(0).choice([6, 12, 24], 59)]).astype(float)
    h = temporal_highpass_operator(days, 90.0)
    model = design_matrix((days - days[0]) / 365.25, "cubic")
    np.testing.assert_allclose(h @ model, 0.0, atol=1e-9)  # trends, acceleration, seasonal: not atmosphere
    white = np.random.default_rng(1).normal(size=(days.size, 2000))
    kept = (h @ white).std() / white.std()
    assert 0.8 < kept < 0.98  # most of a white series passes (6 model terms + the 90-day average remove a bit)


def test_spatial_lowpass_recovers_a_smooth_field_and_excludes_self():
    rng = np.random.default_rng(2)
    x, y = rng.uniform(0, 5000, 3000), rng.uniform(0, 5000, 3000)
    smooth = np.sin(x / 1500.0) + np.cos(y / 1100.0)
    noisy = smooth + rng.normal(0, 0.5, x.size)
    out = spatial_lowpass(x, y, noisy[:, None], 150.0)[:, 0]
    inner = (x > 500) & (x < 4500) & (y > 500) & (y < 4500)
    # ~13 neighbours within 3σ: noise 0.5/√13·(Gaussian weights) ≈ 0.16, curvature bias ≪ that
    assert np.std(out[inner] - smooth[inner]) < 0.2
    idx, w = neighbour_weights(x, y, 150.0)
    assert not np.any((idx == np.arange(x.size)[:, None]) & (w > 0))


def test_estimate_aps_separates_atmosphere_from_motion():
    rng = np.random.default_rng(3)
    n, n_dates = 2500, 40
    x, y = rng.uniform(0, 4000, n), rng.uniform(0, 4000, n)
    days = np.arange(n_dates) * 12.0
    # atmosphere: a smooth random field per date; motion: smooth in time (linear + seasonal), per point
    kx, ky = rng.normal(size=(2, n_dates)) / 2000.0
    atm = 3.0 * np.sin(np.outer(x, kx) + np.outer(y, ky) + rng.uniform(0, 6, n_dates))
    motion = np.outer(rng.normal(0, 10, n), days / 365.25) + np.outer(rng.normal(0, 3, n), np.sin(days / 58.1))
    noise = rng.normal(0, 0.5, (n, n_dates))
    aps, _ = estimate_aps(x, y, atm + motion + noise, days, sigma_m=200.0, window_days=90.0)
    expected = atm @ temporal_highpass_operator(days, 90.0).T  # the part of the atmosphere we can separate
    err = aps - expected
    assert np.sqrt(np.mean(err**2)) < 0.3  # against 3 mm of atmosphere, 0.5 mm of noise
    corrected = atm + motion + noise - aps
    assert np.sqrt(np.mean((corrected - motion - (atm - expected)) ** 2)) < 0.8  # motion kept


def test_grid_smoothing_matches_the_neighbour_average():
    from egms_plugin.core.psi.atmosphere import gaussian_smooth_points

    rng = np.random.default_rng(4)
    x, y = rng.uniform(0, 20000, 20000), rng.uniform(0, 20000, 20000)
    v = rng.normal(size=x.size) + np.sin(x / 3000.0)
    exact = spatial_lowpass(x, y, v[:, None], 400.0, max_neighbours=600)[:, 0]  # every neighbour within 3σ
    fast = gaussian_smooth_points(x, y, v, 400.0)
    # cells of σ/4 move each point by ≤ 70 m: a few % of the smoothed field's spread
    assert np.sqrt(np.mean((fast - exact) ** 2)) < 0.03 * np.sqrt(np.mean(exact**2))
    assert abs(gaussian_smooth_points(np.array([0.0, 5e4]), np.array([0.0, 0.0]), np.array([1.0, 2.0]), 100.0)[0]) == 0


def test_precomputed_neighbours_and_phase_coherence():
    from egms_plugin.core.psi.atmosphere import phase_coherence

    rng = np.random.default_rng(5)
    x, y = rng.uniform(0, 3000, 1500), rng.uniform(0, 3000, 1500)
    values = rng.normal(size=(x.size, 30))
    plain = spatial_lowpass(x, y, values, 200.0)
    again = spatial_lowpass(x, y, values, 200.0, neighbours=neighbour_weights(x, y, 200.0))
    np.testing.assert_array_equal(again, plain)  # the same neighbours and weights, the same sums
    phase, model = rng.uniform(-9, 9, (200, 30)), rng.uniform(-9, 9, (200, 30))
    np.testing.assert_allclose(phase_coherence(phase, model), np.abs(np.exp(1j * (phase - model)).mean(axis=1)),
                               atol=1e-14)
    np.testing.assert_allclose(phase_coherence(phase, phase), 1.0)
