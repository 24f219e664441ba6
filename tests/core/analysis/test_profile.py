"""Velocity profile (core.analysis.profile): hand-computed projections on a bent line, exact to 1e-9 m."""

import math

import numpy as np
import pytest

from egms_plugin.core.analysis.profile import point_index, velocity_profile
from egms_plugin.core.errors import InputError

X0, Y0 = 4.0e6, 3.0e6  # EPSG:3035-sized coordinates, so rounding at large values is part of the test
LINE_X = X0 + np.array([0.0, 100.0, 100.0, 160.0])  # east 100 m, north 100 m, east 60 m (two bends)
LINE_Y = Y0 + np.array([0.0, 0.0, 100.0, 100.0])
BUFFER = 20.0
# (x, y, expected distance along, expected offset) relative to (X0, Y0); None: outside the profile
POINTS = [
    (50.0, 10.0, 50.0, 10.0),  # left of the first (eastward) segment
    (30.0, -5.0, 30.0, -5.0),  # right of it
    (110.0, 50.0, 150.0, -10.0),  # right of the second (northward) segment
    (90.0, 50.0, 150.0, 10.0),  # left of it
    (97.0, 4.0, 104.0, 3.0),  # inside the first bend: 4 m from segment 1, 3 m from segment 2 -> segment 2
    (105.0, -5.0, 100.0, -math.hypot(5.0, 5.0)),  # outside the first bend: nearest is the vertex itself
    (100.0, 0.0, 100.0, 0.0),  # on the vertex
    (130.0, 120.0, 230.0, 20.0),  # on the buffer's edge of the third segment (inclusive)
    (130.0, 80.0, 230.0, -20.0),
    (0.0, 15.0, 0.0, 15.0),  # abeam the first vertex
    (-5.0, 0.0, None, None),  # before the start (flat end)
    (165.0, 100.0, None, None),  # after the end
    (50.0, 30.0, None, None),  # beyond the buffer
    (130.0, 120.000001, None, None),  # just beyond it
]


def _layer():
    x = X0 + np.array([p[0] for p in POINTS])
    y = Y0 + np.array([p[1] for p in POINTS])
    v = np.arange(len(POINTS), dtype=float) * 1.5 - 7.0
    s = np.linspace(0.5, 2.0, len(POINTS))
    return x, y, v, s


def test_bent_line_hand_computed_projections():
    x, y, v, s = _layer()
    p = velocity_profile(x, y, LINE_X, LINE_Y, BUFFER, velocity=v, std=s)
    inside = [k for k, q in enumerate(POINTS) if q[2] is not None]
    expected = sorted(inside, key=lambda k: (POINTS[k][2], k))
    assert p.index.tolist() == expected
    assert np.abs(p.distance - [POINTS[k][2] for k in expected]).max() < 1e-9
    assert np.abs(p.offset - [POINTS[k][3] for k in expected]).max() < 1e-9
    assert p.velocity.tolist() == v[expected].tolist() and p.std.tolist() == s[expected].tolist()
    assert p.length == 260.0 and p.buffer == BUFFER
    assert p.segment[p.index.tolist().index(4)] == 1  # the nearer second segment decided


def test_without_std_and_reusing_the_index():
    x, y, v, _s = _layer()
    index = point_index(x, y)
    a = velocity_profile(x, y, LINE_X, LINE_Y, BUFFER, velocity=v, index=index)
    b = velocity_profile(x, y, LINE_X[::-1], LINE_Y[::-1], BUFFER, velocity=v, index=index)
    assert np.isnan(a.std).all() and len(a) == 10
    # reversed line: the same points, distance L − d, offsets change sign
    order = np.argsort(b.index)
    back = {int(i): (d, o) for i, d, o in zip(b.index, b.distance, b.offset)}
    for i, d, o in zip(a.index, a.distance, a.offset):
        assert abs(back[int(i)][0] - (260.0 - d)) < 1e-9 and abs(back[int(i)][1] + o) < 1e-9
    assert order.size == len(a)


def test_nan_coordinates_left_out_empty_and_bad_input():
    x, y, v, _s = _layer()
    x[0] = np.nan
    p = velocity_profile(x, y, LINE_X, LINE_Y, BUFFER, velocity=v)
    assert 0 not in p.index.tolist() and len(p) == 9
    far = velocity_profile(x + 1e5, y, LINE_X, LINE_Y, BUFFER, velocity=v)
    assert len(far) == 0 and far.length == 260.0
    with pytest.raises(InputError, match="two distinct vertices"):
        velocity_profile(x, y, [1.0, 1.0], [2.0, 2.0], BUFFER)
    with pytest.raises(InputError, match="buffer"):
        velocity_profile(x, y, LINE_X, LINE_Y, -1.0)
    with pytest.raises(InputError, match="velocity values"):
        velocity_profile(x, y, LINE_X, LINE_Y, BUFFER, velocity=v[:3])


def test_million_points_match_brute_force():
    """10⁶ random points, a 5-vertex line: the sorted-x prefilter gives exactly the brute-force answer."""
    rng = np.random.default_rng(1)
    x, y = rng.uniform(0, 10_000, 1_000_000), rng.uniform(0, 10_000, 1_000_000)
    lx, ly = np.array([500.0, 3000, 6000, 6500, 9500]), np.array([500.0, 7000, 2000, 9000, 9400])
    p = velocity_profile(x, y, lx, ly, 35.0, velocity=x)
    # brute force over all points and segments
    best_gap = np.full(x.size, np.inf)
    best_d = np.zeros(x.size)
    valid = np.zeros(x.size, bool)
    at = np.r_[0, np.cumsum(np.hypot(np.diff(lx), np.diff(ly)))]
    for k in range(4):
        dx, dy = lx[k + 1] - lx[k], ly[k + 1] - ly[k]
        tr = ((x - lx[k]) * dx + (y - ly[k]) * dy) / (dx * dx + dy * dy)
        t = np.clip(tr, 0, 1)
        gap = np.hypot(x - lx[k] - t * dx, y - ly[k] - t * dy)
        better = gap < best_gap
        best_gap[better] = gap[better]
        best_d[better] = at[k] + t[better] * math.hypot(dx, dy)
        ends = (k == 0) & (tr < 0) | (k == 3) & (tr > 1)
        valid[better] = ~ends[better]
    want = np.flatnonzero(valid & (best_gap <= 35.0))
    assert np.array_equal(np.sort(p.index), want)
    assert np.abs(p.distance - best_d[p.index]).max() < 1e-6
    assert np.array_equal(p.velocity, x[p.index])


def test_swath_holds_exactly_the_profile_points():
    """The swath drawn on the map: 20 000 random points around a bent line — inside the polygon iff in the
    profile, except within the round joins' chord error (a point at ≥ buffer·cos(π/32) from the line, 8
    segments per quarter circle); a straight line's swath is the 2·buffer × length rectangle."""
    from shapely import wkt
    from shapely.geometry import Point
    from shapely.prepared import prep

    from egms_plugin.core.analysis.profile import swath_wkt

    rng = np.random.default_rng(4)
    x, y = rng.uniform(-100, 1100, 20_000), rng.uniform(-100, 1100, 20_000)
    lx, ly = [0.0, 600.0, 300.0, 1000.0], [0.0, 200.0, 700.0, 1000.0]
    p = velocity_profile(x, y, lx, ly, 80.0)
    swath = prep(wkt.loads(swath_wkt(lx, ly, 80.0)))
    inside = np.array([swath.contains(Point(a, b)) for a, b in zip(x, y)])
    in_profile = np.zeros(x.size, bool)
    in_profile[p.index] = True
    differ = np.flatnonzero(inside != in_profile)
    line = wkt.loads("LINESTRING (" + ", ".join(f"{a} {b}" for a, b in zip(lx, ly)) + ")")
    gaps = np.array([line.distance(Point(x[k], y[k])) for k in differ])
    assert in_profile.sum() > 3000 and differ.size < 10
    assert (gaps >= 80.0 * math.cos(math.pi / 32) - 1e-9).all()
    rect = wkt.loads(swath_wkt([0.0, 500.0], [0.0, 0.0], 20.0))
    assert rect.area == pytest.approx(2 * 20.0 * 500.0) and rect.bounds == (0.0, -20.0, 500.0, 20.0)
    assert swath_wkt([0.0, 500.0], [0.0, 0.0], 0.0) == "POLYGON EMPTY"
