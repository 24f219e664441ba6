"""Fit: EGMS statistics of 1 000 000 series × 300 dates (points/s) next to a per-point numpy least-squares loop."""

import datetime as dt
import time

import numpy as np


def _block(rng, n, t):
    """Synthetic series: velocity, acceleration, annual term and 1.5 mm noise, rounded to 0.1 mm like EGMS."""
    v, a, amp = rng.normal(0, 3, n), rng.normal(0, 0.4, n), rng.uniform(0, 3, n)
    y = np.outer(v, t) + np.outer(a / 2, t * t) + amp[:, None] * np.cos(2 * np.pi * t)[None, :]
    y += rng.normal(0, 1.5, y.shape)
    return np.round(y, 1)


def _per_point(y, t, wavelength_mm):
    """The same statistics one point at a time with np.linalg.lstsq (the plain-numpy baseline)."""
    from egms_plugin.core.egms.stats import design_matrix

    ok = np.isfinite(y)
    yy, tt = y[ok], t[ok]
    g3, g1, g2 = (design_matrix(tt, m) for m in ("cubic", "linear", "quadratic"))
    c3, *_ = np.linalg.lstsq(g3, yy, rcond=None)
    r3 = yy - g3 @ c3
    rmse = np.sqrt(np.mean(r3 * r3))
    q3 = np.linalg.inv(g3.T @ g3)
    c1, *_ = np.linalg.lstsq(g1, yy, rcond=None)
    r1 = yy - g1 @ c1
    c2, *_ = np.linalg.lstsq(g2, yy, rcond=None)
    r2 = yy - g2 @ c2
    return (rmse, np.abs(np.mean(np.exp(1j * 4 * np.pi / wavelength_mm * r1))), c1[0],
            np.sqrt(np.linalg.inv(g1.T @ g1)[0, 0]) * r1.std(), c2[0], np.sqrt(np.linalg.inv(g2.T @ g2)[0, 0]) * r2.std(),
            np.hypot(c3[4], c3[5]), np.sqrt((4 - np.pi) / 2 * (q3[4, 4] + q3[5, 5]) / 2) * rmse)


def run(record, n_points=1_000_000, n_dates=300, block=50_000, loop_points=1500):
    from egms_plugin.core.conventions import SENTINEL1_WAVELENGTH
    from egms_plugin.core.egms.stats import STAT_FIELDS, egms_statistics, egms_time

    dates = [dt.date(2019, 1, 4) + dt.timedelta(days=int(d)) for d in np.cumsum([0] + [6, 6, 6, 6, 12] * 60)[:n_dates]]
    t = egms_time(dates)
    egms_statistics(_block(np.random.default_rng(99), 4000, t), dates)  # compile / load the kernel once
    elapsed = 0.0
    last = None
    for start in range(0, n_points, block):
        y = _block(np.random.default_rng([1, start]), min(block, n_points - start), t)
        t0 = time.perf_counter()
        last = egms_statistics(y, dates)
        elapsed += time.perf_counter() - t0
    rate = n_points / elapsed

    t0 = time.perf_counter()
    ref = np.array([_per_point(y[i], t, SENTINEL1_WAVELENGTH * 1000) for i in range(loop_points)])
    loop_rate = loop_points / (time.perf_counter() - t0)
    for j, key in enumerate(STAT_FIELDS):  # same numbers as the baseline, or the comparison means nothing
        np.testing.assert_allclose(last[key][:loop_points], ref[:, j], rtol=1e-8, atol=1e-9, err_msg=key)

    y = _block(np.random.default_rng(7), block, t)
    t0 = time.perf_counter()
    egms_statistics(y, dates, engine="numpy")
    numpy_rate = block / (time.perf_counter() - t0)
    record("fit_timeseries", rate, "points/s", loop_rate, "per-point numpy lstsq loop", target="≥ 50× baseline",
           note=f"{n_points}×{n_dates}, all 8 statistics; loop timed on {loop_points} points; "
                f"chunked-numpy engine {numpy_rate:.0f} points/s")
