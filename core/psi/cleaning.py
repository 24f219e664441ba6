"""The coherent network: arc estimates cached by arc, cleaning before and after integration.

Steps 4–5 of the chain (:mod:`.chain`):

* :func:`clean_network` — candidates without a coherent arc out and the network rebuilt on the rest,
  rejected candidates re-admitted when they have two coherent arcs to accepted points (densification),
  the largest coherent component kept;
* :func:`integrate_network` — arcs integrated to points (:class:`.integration.NetworkSolver`); arcs whose
  coherence with the integrated parameters is low are dropped and the integration repeated.  Points
  isolated by that are dropped, never tied in by an incoherent arc (a patch moving faster than the
  unwrapping limit is a separate component and is dropped).

Arc estimates live in an :class:`ArcCache`, so a rebuilt network only estimates its new arcs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .network import build_network, largest_component, subset_arcs

if TYPE_CHECKING:
    from .integration import NetworkSolver


class ArcCache:
    """Arc estimates keyed by (p, q), so rebuilt networks only estimate new arcs.

    ``phasors`` (n, n_dates) of the candidates, their :class:`.geometry.Geometry`; the search range comes
    from ``params`` (:class:`.chain.PsiParameters`).
    """

    def __init__(self, phasors, geometry, params, wavelength_m):
        from .arcs import make_search

        self.z = phasors
        self.n = phasors.shape[0]
        self.search = make_search(geometry.t, geometry.f0, wavelength_m, params.max_velocity_diff,
                                  params.max_height_diff if geometry.f0 is not None else 0.0)
        self.keys = np.zeros(0, dtype=np.int64)
        self.v = np.zeros(0)
        self.h = np.zeros(0)
        self.g = np.zeros(0)
        self.n_estimated = 0

    def estimate(self, arcs, progress=None):
        """(Δv mm/yr, Δh m, γ) of every arc (p, q) of ``arcs`` (n_arcs, 2); only unseen arcs are estimated."""
        from .arcs import estimate_arc_parameters

        keys = arcs[:, 0] * self.n + arcs[:, 1]
        pos = np.searchsorted(self.keys, keys)
        known = (pos < self.keys.size) & (self.keys[np.minimum(pos, max(self.keys.size - 1, 0))] == keys) \
            if self.keys.size else np.zeros(keys.size, dtype=bool)
        new = ~known
        if new.any():
            est = estimate_arc_parameters(self.z, arcs[new], None, search=self.search, progress=progress)
            self.n_estimated += int(new.sum())
            keys_all = np.concatenate([self.keys, keys[new]])
            order = np.argsort(keys_all, kind="stable")
            self.keys = keys_all[order]
            self.v = np.concatenate([self.v, est.velocity])[order]
            self.h = np.concatenate([self.h, est.height])[order]
            self.g = np.concatenate([self.g, est.coherence])[order]
            pos = np.searchsorted(self.keys, keys)
        return self.v[pos], self.h[pos], self.g[pos]


def _good_degree(n, arcs, good):
    return np.bincount(arcs[good].ravel(), minlength=n)


def clean_network(x, y, cache, params, arc_threshold, progress):
    """Points and arcs of the coherent network: (point mask, arcs, Δv, Δh, γ) over all candidates.

    ``x``, ``y``: local metric coordinates (m) of the candidates; ``cache``: their :class:`ArcCache`;
    arcs are coherent at γ ≥ ``arc_threshold``.
    """
    n = x.size
    active = np.ones(n, dtype=bool)
    built_for = None
    for attempt in range(3):
        idx = np.flatnonzero(active)
        # first network: the nearest-neighbour arcs are estimated while the triangulation runs
        overlap = (lambda near, idx=idx: cache.estimate(idx[near], progress)) if attempt == 0 else None
        local, _len = build_network(x[idx], y[idx], params.max_arc_length_m, params.neighbours, overlap)
        arcs, built_for = idx[local], active.copy()
        _, _, g = cache.estimate(arcs, progress)
        degree = _good_degree(n, arcs, g >= arc_threshold)
        drop = active & (degree == 0)
        if not drop.any():
            break
        active &= ~drop
    # densification: re-admit rejected candidates with two coherent arcs to accepted points
    rejected = np.flatnonzero(~active)
    if rejected.size and active.sum() >= 2:
        acc = np.flatnonzero(active)
        k = min(params.neighbours, acc.size)
        from scipy.spatial import cKDTree

        dist, nn = cKDTree(np.column_stack([x[acc], y[acc]])).query(
            np.column_stack([x[rejected], y[rejected]]), k=k, distance_upper_bound=params.max_arc_length_m)
        dist, nn = dist.reshape(rejected.size, k), nn.reshape(rejected.size, k)
        ok = np.isfinite(dist)
        src = np.repeat(rejected, k).reshape(rejected.size, k)[ok]
        dst = acc[nn[ok]]
        if src.size:
            pairs = np.sort(np.column_stack([src, dst]), axis=1)
            _, _, g = cache.estimate(pairs, progress)
            readmit = _good_degree(n, pairs, g >= arc_threshold) >= 2
            active |= readmit & ~active
    if not np.array_equal(active, built_for):  # the network changed: rebuild it on the accepted points
        idx = np.flatnonzero(active)
        local, _len = build_network(x[idx], y[idx], params.max_arc_length_m, params.neighbours)
        arcs = idx[local]
    v, h, g = cache.estimate(arcs, progress)
    good = g >= arc_threshold
    arcs, v, h, g = arcs[good], v[good], h[good], g[good]
    keep = largest_component(n, arcs)
    inside = keep[arcs[:, 0]] & keep[arcs[:, 1]]
    return keep, arcs[inside], v[inside], h[inside], g[inside]


@dataclass
class NetworkSolution:
    """The integrated network of :func:`integrate_network` (indices into the candidates, values per point)."""

    points: np.ndarray         # int64: the candidates in the network
    solver: NetworkSolver      # the solver of the network (its point indices are into ``points``)
    velocity: np.ndarray       # mm/yr relative to the reference point
    height: np.ndarray         # m of height-error term relative to the reference point (zeros without baselines)
    arc_coherence: np.ndarray  # temporal coherence of every arc with the integrated solution
    offset: np.ndarray         # rad: constant phase offset of every arc
    reference: int             # index into ``points`` of the integration's reference point


def integrate_network(n, arcs, dv, dh, g, phasors, geometry, arc_threshold, wavelength_m, progress):
    """Integrate arcs to points; drop arcs inconsistent with the solution and repeat.

    Returns a :class:`NetworkSolution`, or None when no consistent network of at least two points is left.
    """
    from .arcs import arc_coherence
    from .integration import NetworkSolver, network_weights

    points = np.flatnonzero(largest_component(n, arcs))
    for _ in range(5):
        progress.check()
        keep = np.zeros(n, dtype=bool)
        keep[points] = True
        arcs_l, sel = subset_arcs(arcs, keep)
        dv_l, dh_l, g_l = dv[sel], dh[sel], g[sel]
        if points.size < 2 or len(arcs_l) == 0:
            return None
        # reference for the integration: the point with the most coherent arcs
        score = np.bincount(arcs_l.ravel(), weights=np.repeat(g_l, 2), minlength=points.size)
        ref = int(np.argmax(score))
        solver = NetworkSolver(points.size, arcs_l, network_weights(g_l), ref)
        vel = solver.solve(dv_l)
        hgt = solver.solve(dh_l) if geometry.f0 is not None else np.zeros(points.size)
        g_int, offset = arc_coherence(phasors[points], arcs_l, geometry.t, geometry.f0, solver.arc_differences(vel),
                                      solver.arc_differences(hgt), wavelength_m)
        ok = g_int >= arc_threshold
        if ok.all():
            break
        # arcs the solution does not explain (ambiguous arc estimates, unwrapping errors) go out;
        # points they isolated go with them, they are never tied in by an incoherent arc
        keep_l = largest_component(points.size, arcs_l[ok])
        arcs, dv, dh, g = points[arcs_l[ok]], dv_l[ok], dh_l[ok], g_l[ok]
        points = points[keep_l]
    else:
        return None
    return NetworkSolution(points=points, solver=solver, velocity=vel, height=hgt, arc_coherence=g_int,
                           offset=offset, reference=ref)
