"""Velocity profile along a polyline, pure numpy / scipy.

Given measurement points ``(x, y)`` (metres: the caller projects geographic layers), their velocity (and its
std when the layer has one, e.g. EGMS ``mean_velocity_std``), a polyline and a buffer distance, find the points
within the buffer and measure, for each:

* ``distance`` — chainage (m) from the line's first vertex: the cumulative length of the segments before the
  point's nearest segment plus the length of its projection on that segment;
* ``offset`` — signed distance (m) from the line: positive on the **left** of the line's direction (the side
  of a counter-clockwise turn, as QGIS' offset curves), negative on the right.

Rules (pinned by tests/core/analysis/test_profile.py):

* the nearest segment decides (Euclidean distance to the segment); a tie goes to the earlier segment;
* the ends are **flat**: a point whose projection falls before the first vertex or after the last one is left
  out (a profile swath, not a round-capped buffer);
* outside a bend a point nearest to the vertex itself gets the vertex's chainage and ``offset`` = ± its
  distance to the vertex (the sign of the side of the segment it was projected on);
* ``|offset| <= buffer`` is inclusive; points with a non-finite coordinate are left out; a NaN velocity is kept
  (the caller decides what to plot).

Candidates come from a k-d tree (``scipy.spatial.cKDTree``, reusable across profiles of one layer through
:func:`point_index`): balls along each segment that cover its buffer, then the exact distance of each candidate
to each segment whose balls found it — no pass over all points per segment, 10⁶ points are fine.

>>> import numpy as np
>>> p = velocity_profile([50.0, 110.0, 50.0], [10.0, 50.0, 40.0], [0, 100, 100], [0, 0, 100], buffer=20,
...                      velocity=[1.0, 2.0, 3.0])
>>> p.index.tolist(), p.distance.tolist(), p.offset.tolist(), p.velocity.tolist()
([0, 1], [50.0, 150.0], [10.0, -10.0], [1.0, 2.0])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError

MAX_BALLS_PER_SEGMENT = 4096
"""Most k-d tree balls along one segment (a long segment with a small buffer gets larger balls instead)."""


@dataclass
class Profile:
    """The points of a profile, ordered by ``distance`` (ties by input order)."""

    index: np.ndarray  # int64: positions of the points in the input arrays
    distance: np.ndarray  # m along the line from its first vertex
    offset: np.ndarray  # m, signed: + left of the line's direction
    velocity: np.ndarray  # as given (NaN when none was)
    std: np.ndarray  # as given (NaN when none was)
    segment: np.ndarray  # int64: the nearest segment, 0 = first
    length: float = 0.0  # m, of the whole line
    buffer: float = 0.0

    def __len__(self):
        return int(self.index.size)


def point_index(x, y):
    """A k-d tree of the finite points (to reuse across profiles): ``(tree, positions of its points)``."""
    from scipy.spatial import cKDTree

    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    ok = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
    return cKDTree(np.column_stack([x[ok], y[ok]])), ok


def line_vertices(line_x, line_y):
    """The polyline's vertices as float64 arrays, repeated vertices dropped; InputError for fewer than two distinct
    finite ones.

    >>> line_vertices([0, 0, 3], [0, 0, 4])
    (array([0., 3.]), array([0., 4.]))
    """
    lx, ly = np.asarray(line_x, dtype=np.float64).ravel(), np.asarray(line_y, dtype=np.float64).ravel()
    if lx.size != ly.size:
        raise InputError(f"the line has {lx.size} x and {ly.size} y coordinates")
    if not (np.isfinite(lx).all() and np.isfinite(ly).all()):
        raise InputError("the line has a vertex without finite coordinates")
    if lx.size:
        keep = np.r_[True, (np.diff(lx) != 0) | (np.diff(ly) != 0)]
        lx, ly = lx[keep], ly[keep]
    if lx.size < 2:
        raise InputError("the line needs at least two distinct vertices")
    return lx, ly


def chainage(line_x, line_y):
    """Cumulative length (m) at each vertex, from 0.

    >>> chainage([0, 3, 3], [0, 4, 10]).tolist()
    [0.0, 5.0, 11.0]
    """
    lx, ly = np.asarray(line_x, dtype=np.float64), np.asarray(line_y, dtype=np.float64)
    return np.r_[0.0, np.cumsum(np.hypot(np.diff(lx), np.diff(ly)))]


def _candidate_pairs(tree, lx, ly, buffer):
    """``(tree position, segment)`` of every point a ball along a segment found (balls cover the segment's
    buffer: centres ``step`` apart from end to end, radius √(buffer² + (step/2)²))."""
    pos, seg = [], []
    for k in range(lx.size - 1):
        length = float(np.hypot(lx[k + 1] - lx[k], ly[k + 1] - ly[k]))
        step = max(buffer, length / MAX_BALLS_PER_SEGMENT, 1e-9)
        n = int(np.ceil(length / step)) + 1
        t = np.linspace(0.0, 1.0, n)
        centres = np.column_stack([lx[k] + t * (lx[k + 1] - lx[k]), ly[k] + t * (ly[k + 1] - ly[k])])
        radius = float(np.hypot(buffer, 0.5 * length / max(n - 1, 1))) * (1 + 1e-9) + 1e-9
        found = tree.query_ball_point(centres, radius, return_sorted=False)
        hits = np.unique(np.fromiter((i for ball in found for i in ball), dtype=np.int64))
        pos.append(hits)
        seg.append(np.full(hits.size, k, dtype=np.int64))
    return np.concatenate(pos), np.concatenate(seg)


def velocity_profile(x, y, line_x, line_y, buffer, velocity=None, std=None, index=None):
    """The :class:`Profile` of the points ``(x, y)`` within ``buffer`` metres of the polyline ``(line_x, line_y)``.

    ``velocity`` and ``std`` (same length as ``x``) are carried along (NaN when absent); ``index`` is a
    :func:`point_index` of the same points, to reuse.  Raises InputError for a negative buffer, mismatched
    lengths or a line of fewer than two distinct vertices.
    """
    x, y = np.asarray(x, dtype=np.float64).ravel(), np.asarray(y, dtype=np.float64).ravel()
    if x.size != y.size:
        raise InputError(f"{x.size} x and {y.size} y coordinates")
    buffer = float(buffer)
    if not np.isfinite(buffer) or buffer < 0:
        raise InputError(f"the buffer must be a distance ≥ 0 m, not {buffer}")
    columns = []
    for name, values in (("velocity", velocity), ("std", std)):
        arr = np.full(x.size, np.nan) if values is None else np.asarray(values, dtype=np.float64).ravel()
        if arr.size != x.size:
            raise InputError(f"{arr.size} {name} values for {x.size} points")
        columns.append(arr)
    lx, ly = line_vertices(line_x, line_y)
    at_vertex = chainage(lx, ly)
    empty = Profile(np.empty(0, np.int64), np.empty(0), np.empty(0), np.empty(0), np.empty(0), np.empty(0, np.int64),
                    float(at_vertex[-1]), buffer)
    if x.size == 0:
        return empty
    tree, positions = index if index is not None else point_index(x, y)
    if positions.size == 0:
        return empty
    pos, seg = _candidate_pairs(tree, lx, ly, buffer)
    if pos.size == 0:
        return empty
    pts = positions[pos]
    ax, ay = lx[seg], ly[seg]
    dx, dy = lx[seg + 1] - ax, ly[seg + 1] - ay
    seg_len2 = dx * dx + dy * dy
    px, py = x[pts] - ax, y[pts] - ay
    t_raw = (px * dx + py * dy) / seg_len2
    t = np.clip(t_raw, 0.0, 1.0)
    gap = np.hypot(px - t * dx, py - t * dy)  # Euclidean distance to the segment
    side = np.sign(dx * py - dy * px)  # + left of the segment's direction
    # the nearest segment per point (ties: the earlier segment), by sorting on (point, distance, segment)
    order = np.lexsort((seg, gap, pts))
    first = np.r_[True, pts[order][1:] != pts[order][:-1]]
    best = order[first]
    n_seg = lx.size - 1
    inside = gap[best] <= buffer
    inside &= ~((seg[best] == 0) & (t_raw[best] < 0.0)) & ~((seg[best] == n_seg - 1) & (t_raw[best] > 1.0))
    best = best[inside]
    seg_len = np.sqrt(seg_len2[best])
    distance = at_vertex[seg[best]] + t[best] * seg_len
    offset = side[best] * gap[best]
    ids = pts[best]
    order = np.lexsort((ids, distance))
    ids, distance, offset = ids[order], distance[order], offset[order]
    return Profile(index=ids.astype(np.int64), distance=distance, offset=offset, velocity=columns[0][ids],
                   std=columns[1][ids], segment=seg[best][order].astype(np.int64), length=float(at_vertex[-1]),
                   buffer=buffer)
