"""Active deformation areas (core.analysis.ada): planted areas found exactly, none in pure noise."""

import time

import numpy as np
import pytest

from egms_plugin.core.analysis.ada import find_active_areas, robust_std, series_noise
from egms_plugin.core.errors import InputError

SPACING = 20.0
PLANTED = (  # (centre x, centre y, radius m, velocity mm/yr): different sizes, signs and speeds
    (1000.0, 1000.0, 150.0, -20.0),
    (3000.0, 2500.0, 90.0, +8.0),
    (2000.0, 3400.0, 50.0, -6.0),
)


def planted_layer(n_side=200, seed=3, noise=1.0):
    """A jittered 20 m grid of stable points, Gaussian velocity noise (σ = ``noise``) clipped at ±1.8σ, with the
    discs of PLANTED moving at their velocity (± 0.3 mm/yr).  Clipping the stable points below the 2σ default
    threshold makes the expected point counts exact by construction: every disc point, and only those, is active
    (the MAD, hence the threshold, is unchanged by clipping beyond its quartiles)."""
    rng = np.random.default_rng(seed)
    gx, gy = np.meshgrid(np.arange(n_side) * SPACING, np.arange(n_side) * SPACING)
    x = gx.ravel() + rng.uniform(-2, 2, gx.size)
    y = gy.ravel() + rng.uniform(-2, 2, gx.size)
    v = np.clip(rng.normal(0, noise, x.size), -1.8 * noise, 1.8 * noise)
    truth = np.full(x.size, -1)
    for k, (cx, cy, r, vel) in enumerate(PLANTED):
        inside = np.hypot(x - cx, y - cy) <= r
        v[inside] = vel + rng.uniform(-0.3, 0.3, inside.sum())
        truth[inside] = k
    return x, y, v, truth


def test_three_planted_areas_found_with_exact_counts():
    x, y, v, truth = planted_layer()
    expected = [int((truth == k).sum()) for k in range(3)]
    assert expected[0] > expected[1] > expected[2] >= 5  # three sizes
    r = find_active_areas(x, y, v)
    assert len(r) == 3
    assert r.n_points.tolist() == expected  # ordered by size = PLANTED order
    assert np.allclose(r.mean_velocity, [p[3] for p in PLANTED], atol=0.3)
    for k in range(3):  # the same points, not only the same counts
        assert np.array_equal(np.flatnonzero(r.labels == k), np.flatnonzero(truth == k))
        members = truth == k
        assert r.max_abs_velocity[k] == v[members][np.argmax(np.abs(v[members]))]
        # the hull of a disc's grid points (radius R, spacing s) lies between radii R − s and R; buffered by b
        radius = PLANTED[k][2]
        assert np.pi * (radius - SPACING + r.buffer) ** 2 < r.area_m2[k] < np.pi * (radius + r.buffer) ** 2
        assert r.polygons[k].contains(r.polygons[k].centroid)
    # 2 × the robust std of unit noise (planted points shift the MAD a little); the plain std is inflated by them
    assert abs(robust_std(v) - 1.0) < 0.05 and np.std(v) > 1.6
    assert r.threshold == pytest.approx(2 * robust_std(v))
    assert 1.5 * 18 < r.distance < 1.5 * 22  # 1.5 × the jittered grid's 90th-percentile neighbour spacing
    assert np.isnan(r.mean_acceleration).all()  # no acceleration given


def test_no_area_in_pure_noise_of_1e5_points():
    rng = np.random.default_rng(7)
    for layout in ("grid", "uniform"):
        if layout == "grid":
            gx, gy = np.meshgrid(np.arange(317) * SPACING, np.arange(317) * SPACING)
            x = gx.ravel()[:100_000] + rng.uniform(-4, 4, 100_000)
            y = gy.ravel()[:100_000] + rng.uniform(-4, 4, 100_000)
        else:
            x, y = rng.uniform(0, 6000, 100_000), rng.uniform(0, 6000, 100_000)
        v = rng.normal(0.5, 1.7, x.size)
        r = find_active_areas(x, y, v)
        assert len(r) == 0, layout
        assert r.threshold == pytest.approx(2 * 1.7, rel=0.02)
        assert r.n_active == pytest.approx(0.0455 * x.size, rel=0.08)  # two-sided 2σ tail of a Gaussian


def test_series_acceleration_and_quality():
    x, y, v, truth = planted_layer(n_side=160)
    days = np.arange(0, 6 * 100, 6.0)
    years = days / 365.25
    rng = np.random.default_rng(1)
    noise = rng.normal(0, 2.0, (x.size, days.size))
    series = v[:, None] * years[None, :] + noise
    acc = np.where(truth >= 0, 1.5 + truth, 0.0)
    r = find_active_areas(x, y, v, acceleration=acc, series=series, years=years)
    assert len(r) == 2  # the third disc lies outside the 160 × 160 grid
    for k in range(2):
        m = truth == k
        assert np.allclose(r.series[k], series[m].mean(0))
        assert r.mean_acceleration[k] == pytest.approx(1.5 + k)
        n_rms = series_noise(series[m], years).mean()
        assert n_rms == pytest.approx(2.0 * np.sqrt((days.size - 2) / days.size), rel=0.03)  # residual dof
        s = abs(r.mean_velocity[k]) * years[-1]
        assert r.quality[k] == pytest.approx(s / (s + n_rms))
    assert r.quality[0] > r.quality[1]  # −20 mm/yr is cleaner than +8 mm/yr under the same noise


def test_series_noise_skips_missing_dates():
    t = np.arange(12.0) / 4
    rng = np.random.default_rng(2)
    s = 3 * t + 1 + rng.normal(0, 1, (2, t.size))
    s[0, 3] = np.nan
    rms = series_noise(s, t)
    for row, value in zip(s, rms):  # reference: numpy's polyfit on the valid dates
        ok = np.isfinite(row)
        resid = row[ok] - np.polyval(np.polyfit(t[ok], row[ok], 1), t[ok])
        assert value == pytest.approx(np.sqrt(np.mean(resid**2)), rel=1e-9)
    assert np.isnan(series_noise(np.array([[1.0, np.nan, np.nan]]), np.arange(3.0)))[0]


def test_bad_input_is_a_clear_message():
    with pytest.raises(InputError, match="no point has a velocity"):
        find_active_areas(np.zeros(3), np.zeros(3), np.full(3, np.nan))
    with pytest.raises(InputError, match="do not vary"):
        find_active_areas(np.arange(9.0), np.zeros(9), np.zeros(9))
    with pytest.raises(InputError, match="must be positive"):
        find_active_areas(np.arange(9.0), np.zeros(9), np.arange(9.0), threshold=-1)


def test_a_million_points_in_seconds():
    rng = np.random.default_rng(0)
    gx, gy = np.meshgrid(np.arange(1000) * SPACING, np.arange(1000) * SPACING)
    x, y = gx.ravel() + rng.uniform(-2, 2, gx.size), gy.ravel() + rng.uniform(-2, 2, gx.size)
    v = rng.normal(0, 1.5, x.size)
    disc = np.hypot(x - 5000, y - 5000) < 100
    v[disc] = -15
    t0 = time.perf_counter()
    r = find_active_areas(x, y, v)
    elapsed = time.perf_counter() - t0
    # the disc, plus the few Gaussian-noise neighbours beyond 2σ of its sign that touch it
    assert set(np.flatnonzero(disc)) <= set(np.flatnonzero(r.labels == 0))
    assert disc.sum() <= r.n_points[0] <= disc.sum() + 3
    assert len(r) <= 4  # chance areas at 2σ: measured 3 of 5 points each in these 10^6 points of noise
    assert elapsed < 20  # measured 1.2 s here; a quadratic loop over 45 000 active points would take minutes


def test_no_area_with_series_gives_empty_tables():
    rng = np.random.default_rng(5)
    x, y = rng.uniform(0, 1000, 500), rng.uniform(0, 1000, 500)
    r = find_active_areas(x, y, rng.normal(0, 1, 500), series=rng.normal(0, 1, (500, 8)), years=np.arange(8.0))
    assert len(r) == 0 and r.polygons == [] and r.series.shape == (0, 8) and (r.labels == -1).all()
