"""Velocity profile: core.analysis.profile on 1 000 000 points (a 20 km square) and a 10-vertex, ~25 km line with a
50 m buffer, next to the plain-numpy brute force of the same computation (every point against every segment)."""

import time

import numpy as np


def _brute_force(x, y, lx, ly, buffer):
    """Nearest segment per point over all points and segments (the same rules, no prefilter)."""
    best_gap = np.full(x.size, np.inf)
    best_d = np.zeros(x.size)
    valid = np.zeros(x.size, bool)
    at = np.r_[0, np.cumsum(np.hypot(np.diff(lx), np.diff(ly)))]
    last = lx.size - 2
    for k in range(lx.size - 1):
        dx, dy = lx[k + 1] - lx[k], ly[k + 1] - ly[k]
        tr = ((x - lx[k]) * dx + (y - ly[k]) * dy) / (dx * dx + dy * dy)
        t = np.clip(tr, 0, 1)
        gap = np.hypot(x - lx[k] - t * dx, y - ly[k] - t * dy)
        better = gap < best_gap
        best_gap[better] = gap[better]
        best_d[better] = at[k] + t[better] * np.hypot(dx, dy)
        ends = ((k == 0) & (tr < 0)) | ((k == last) & (tr > 1))
        valid[better] = ~ends[better]
    keep = np.flatnonzero(valid & (best_gap <= buffer))
    return keep[np.argsort(best_d[keep], kind="stable")]


def run(record):
    from egms_plugin.core.analysis.profile import point_index, velocity_profile

    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 20_000, 1_000_000), rng.uniform(0, 20_000, 1_000_000)
    v = rng.normal(0, 2, x.size)
    lx = np.linspace(1000, 19000, 10)
    ly = 10000 + 6000 * np.sin(np.linspace(0, 3 * np.pi, 10))
    t0 = time.perf_counter()
    profile = velocity_profile(x, y, lx, ly, 50.0, velocity=v)
    first = time.perf_counter() - t0
    index = point_index(x, y)
    t0 = time.perf_counter()
    again = velocity_profile(x, y, lx, ly, 50.0, velocity=v, index=index)
    reused = time.perf_counter() - t0
    t0 = time.perf_counter()
    want = _brute_force(x, y, lx, ly, 50.0)
    brute = time.perf_counter() - t0
    assert np.array_equal(np.sort(profile.index), np.sort(want)) and len(again) == len(profile)
    record("profile 1e6 points, 9 segments, 50 m buffer (index built)", first, "s", brute,
           "numpy brute force, all points × all segments", target="< 1 s",
           note=f"{len(profile)} points, {profile.length:.0f} m; with the index reused {reused * 1000:.0f} ms")
