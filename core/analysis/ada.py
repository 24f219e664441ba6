"""Active deformation areas (ADA; Barra et al. 2017, Navarro et al. 2019), pure numpy / scipy / shapely.

1. **Active points**: ``|v − median(v)| > threshold``; the default threshold is ``sigmas`` × the robust
   standard deviation of the layer's velocities, ``1.4826 · MAD`` (the MAD is blind to the moving points
   themselves, whereas the plain std grows with every planted area and hides small ones).
2. **Areas**: active points of the same sign (uplift and subsidence are never merged) lying within
   ``distance`` of each other are connected (``scipy.spatial.cKDTree.query_pairs`` over the active points
   only, components by ``scipy.sparse.csgraph.connected_components``: O(n log n), no quadratic loop);
   components with fewer than ``min_points`` points are dropped.
3. **Polygons**: the convex hull of an area's points buffered by ``buffer`` metres (shapely).

Per area: ``n_points``, ``mean_velocity``, ``max_abs_velocity`` (the signed velocity of the point with the
largest |v|), ``mean_acceleration`` (NaN without accelerations), ``area_m2`` (of the polygon), the mean
displacement series (NaN-aware, one value per date) and ``quality``:

    quality = S / (S + N),  S = |mean_velocity| · T,  N = mean over the area's points of the RMS of the
    residuals of their series to a straight line in time (t in years = days / 365.25), T = time span (years)

i.e. the share of signal in signal + noise: 1 for a clean trend, → 0 when noise dominates the motion;
NaN without date fields.  Coordinates must be in metres (the caller projects geographic layers).

>>> import numpy as np
>>> x = np.r_[np.arange(6.0), 100 + np.arange(50.0)]; y = np.zeros(56)
>>> v = np.r_[np.full(6, -20.0), np.random.default_rng(0).normal(0, 1, 50)]
>>> r = find_active_areas(x, y, v, distance=1.5, buffer=1.0)
>>> r.n_points.tolist(), round(float(r.mean_velocity[0]), 1)
([6], -20.0)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError

MAD_TO_STD = 1.4826
"""1 / Φ⁻¹(3/4): the MAD of Gaussian noise times this is its standard deviation."""
DEFAULT_SIGMAS = 2.0
DEFAULT_MIN_POINTS = 5
DISTANCE_PER_SPACING = 1.5
SPACING_PERCENTILE = 90.0
"""Default neighbour distance: DISTANCE_PER_SPACING × this percentile of the distances of the points to their nearest
neighbour (a percentile, not the median: real layers cluster points on buildings a few metres apart, with gaps of
tens of metres between the buildings that the areas must bridge)."""


@dataclass
class ActiveAreas:
    """The areas found (one entry per area, ordered by decreasing size) and how they were found."""

    n_points: np.ndarray
    mean_velocity: np.ndarray
    max_abs_velocity: np.ndarray
    mean_acceleration: np.ndarray
    area_m2: np.ndarray
    quality: np.ndarray
    series: np.ndarray  # (n_areas, n_dates)
    polygons: list  # shapely Polygons
    labels: np.ndarray  # per input point: area index or -1
    threshold: float = 0.0
    distance: float = 0.0
    buffer: float = 0.0
    n_active: int = 0
    notes: list = field(default_factory=list)

    def __len__(self):
        return int(self.n_points.size)


def robust_std(values):
    """``1.4826 · median(|v − median(v)|)`` of the finite values (NaN when there are none).

    >>> robust_std(np.array([-1.0, 0.0, 1.0, 100.0]))
    1.4826
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan")
    return float(MAD_TO_STD * np.median(np.abs(v - np.median(v))))


def point_spacing(x, y, percentile=SPACING_PERCENTILE, sample=50_000, seed=0):
    """``percentile`` of the distances from a point to its nearest neighbour (a random sample of at most
    ``sample`` points)."""
    from scipy.spatial import cKDTree

    pts = np.column_stack([x, y])
    tree = cKDTree(pts)
    if len(pts) > sample:
        pts = pts[np.random.default_rng(seed).choice(len(pts), sample, replace=False)]
    d, _ = tree.query(pts, k=2)
    d = d[:, 1][np.isfinite(d[:, 1]) & (d[:, 1] > 0)]
    return float(np.percentile(d, percentile)) if d.size else float("nan")


def _components(x, y, distance):
    """Connected-component label of every point (neighbours within ``distance``)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    n = x.size
    if n == 0:
        return np.empty(0, dtype=np.int64)
    pairs = cKDTree(np.column_stack([x, y])).query_pairs(distance, output_type="ndarray")
    graph = coo_matrix((np.ones(len(pairs), dtype=np.int8), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _n, labels = connected_components(graph, directed=False)
    return labels.astype(np.int64)


def _label_areas(x, y, velocity, active, distance, min_points):
    """Area index per point (-1: none), areas ordered by decreasing size, same-sign points only."""
    labels = np.full(x.size, -1, dtype=np.int64)
    groups = []
    for sign_mask in (active & (velocity < 0), active & (velocity > 0)):
        idx = np.flatnonzero(sign_mask)
        comp = _components(x[idx], y[idx], distance)
        if comp.size == 0:
            continue
        counts = np.bincount(comp)
        big = np.flatnonzero(counts >= min_points)
        if big.size == 0:
            continue
        keep = counts[comp] >= min_points
        order = np.argsort(comp[keep], kind="stable")
        groups += np.split(idx[keep][order], np.cumsum(counts[big])[:-1])
    groups.sort(key=lambda g: (-g.size, int(g.min())))
    for k, g in enumerate(groups):
        labels[g] = k
    return labels, len(groups)


def _group_mean(labels, n, values):
    """NaN-aware mean of ``values`` (n_points,) or (n_points, k) per label 0 … n-1 (labels < 0 ignored)."""
    sel = labels >= 0
    lab, vals = labels[sel], values[sel]
    if vals.ndim == 1:
        ok = np.isfinite(vals)
        s = np.bincount(lab[ok], vals[ok], minlength=n)
        c = np.bincount(lab[ok], minlength=n)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(c > 0, s / np.maximum(c, 1), np.nan)
    out = np.full((n, vals.shape[1]), np.nan)
    for j in range(vals.shape[1]):
        out[:, j] = _group_mean(lab, n, vals[:, j])
    return out


def series_noise(series, years):
    """RMS of the residuals of each row of ``series`` (mm, NaN = missing) to its least-squares straight line
    in ``years``; NaN for rows with fewer than 3 values."""
    w = np.isfinite(series)
    y = np.where(w, series, 0.0)
    t = np.broadcast_to(np.asarray(years, dtype=np.float64), series.shape)
    tw = np.where(w, t, 0.0)
    s0, s1, s2 = w.sum(1), tw.sum(1), (tw * tw).sum(1)
    sy, sty = y.sum(1), (tw * y).sum(1)
    det = s0 * s2 - s1 * s1
    with np.errstate(invalid="ignore", divide="ignore"):
        b = (s0 * sty - s1 * sy) / det
        a = (sy - b * s1) / s0
        r = np.where(w, y - a[:, None] - b[:, None] * t, 0.0)
        rms = np.sqrt((r * r).sum(1) / s0)
    return np.where((s0 >= 3) & (det > 0), rms, np.nan)


def _polygons(x, y, labels, n, buffer):
    from shapely.geometry import MultiPoint

    if n == 0:
        return []
    order = np.argsort(labels, kind="stable")
    order = order[labels[order] >= 0]
    counts = np.bincount(labels[order], minlength=n)
    polys = []
    for members in np.split(order, np.cumsum(counts)[:-1]):
        hull = MultiPoint(np.column_stack([x[members], y[members]])).convex_hull
        polys.append(hull.buffer(buffer))
    return polys


def _threshold(velocity, threshold, sigmas):
    if threshold is not None:
        if not threshold > 0:
            raise InputError(f"the stability threshold must be positive, not {threshold} mm/yr.")
        return float(threshold)
    sd = robust_std(velocity)
    if not sd > 0:
        raise InputError("the velocities do not vary (robust std 0): give the stability threshold in mm/yr.")
    return float(sigmas * sd)


def find_active_areas(x, y, velocity, *, acceleration=None, series=None, years=None, threshold=None,
                      sigmas=DEFAULT_SIGMAS, distance=None, min_points=DEFAULT_MIN_POINTS, buffer=None):
    """Active deformation areas of the points ``(x, y)`` (metres) with ``velocity`` (mm/yr); see the module.

    ``threshold`` (mm/yr) overrides ``sigmas`` × robust std; ``distance`` defaults to
    :data:`DISTANCE_PER_SPACING` × :func:`point_spacing`, ``buffer`` to half the distance.  ``series``
    (n_points, n_dates) in mm with ``years`` (n_dates,) gives the mean series and the quality index.
    Raises InputError when no point has a velocity.
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    velocity = np.asarray(velocity, np.float64)
    ok = np.isfinite(velocity) & np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        raise InputError("no point has a velocity (all NULL).")
    notes = []
    thr = _threshold(velocity[ok], threshold, sigmas)
    if distance is None:
        distance = DISTANCE_PER_SPACING * point_spacing(x[ok], y[ok])
        if not np.isfinite(distance):
            raise InputError("the points all lie at one place: give the neighbour distance in metres.")
        notes.append(f"neighbour distance {distance:.4g} m ({DISTANCE_PER_SPACING} × the {SPACING_PERCENTILE:g}th "
                     "percentile of the nearest-neighbour distances)")
    buffer = 0.5 * distance if buffer is None else float(buffer)
    centre = float(np.median(velocity[ok]))
    active = ok & (np.abs(velocity - centre) > thr)
    labels, n = _label_areas(x, y, velocity - centre, active, float(distance), int(min_points))
    in_area = labels >= 0
    n_points = np.bincount(labels[in_area], minlength=n).astype(np.int64)
    mean_v = _group_mean(labels, n, velocity)
    max_abs = np.full(n, np.nan)
    idx = np.flatnonzero(in_area)
    by_abs = idx[np.argsort(np.abs(velocity[idx]), kind="stable")]
    max_abs[labels[by_abs]] = velocity[by_abs]  # the last write per area is its largest |v|
    acc = (np.full(n, np.nan) if acceleration is None
           else _group_mean(labels, n, np.asarray(acceleration, np.float64)))
    quality = np.full(n, np.nan)
    series = np.empty((x.size, 0)) if series is None else np.asarray(series, np.float64)
    mean_series = np.empty((n, series.shape[1]))
    if series.shape[1] and n:
        mean_series = _group_mean(labels, n, series)
        noise = np.full(x.size, np.nan)
        noise[idx] = series_noise(series[idx], years)
        span = float(np.max(years) - np.min(years))
        signal = np.abs(mean_v) * span
        quality = signal / (signal + _group_mean(labels, n, noise))
    polys = _polygons(x, y, labels, n, buffer)
    return ActiveAreas(n_points, mean_v, max_abs, acc, np.array([p.area for p in polys]), quality, mean_series,
                       polys, labels, thr, float(distance), buffer, int(active.sum()), notes)
