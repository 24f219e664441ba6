"""Reference code of the PSI chain for tests and benchmarks (not shipped with the plugin).

:func:`estimate_arc_parameters_numpy` — a plain-numpy reference of the arc search of
:mod:`egms_plugin.core.psi.arcs`.  The same search — the same grid, the same Gauss–Newton refinement, the same
acceptance rule — written the direct vectorised-numpy way: the model phase of
every grid point is evaluated for a chunk of arcs at once,
``γ = |mean(exp(j(Δφ − model)))|``, then the arg-max, then the refinement on
all arcs of the chunk together.  Not used by the chain.

:func:`minimum_spanning_arcs` — a minimum spanning forest of an arc network (the classic way to keep a
cleaned network connected; the chain keeps the largest coherent component instead).
"""

from __future__ import annotations

import numpy as np


def _coherence(w, t, f, k_rad, v, h):
    model = k_rad * (v[:, None] * t[None, :] + h[:, None] * f[None, :])
    s = (w * np.exp(-1j * model)).sum(axis=1)
    return np.abs(s) / t.size, np.angle(s)


def estimate_arc_parameters_numpy(phasors, arcs, search, chunk=256, iterations=2):
    """(velocity, height, coherence) of every arc, as :func:`.arcs.estimate_arc_parameters` computes them."""
    z = np.asarray(phasors, dtype=np.complex64)
    arcs = np.asarray(arcs, dtype=np.int64).reshape(-1, 2)
    t, f, k = search.t, search.f, search.rad_per_mm
    vv, hh = np.meshgrid(search.velocities, search.heights, indexing="ij")  # (n_v, n_h)
    model = k * (vv[..., None] * t + hh[..., None] * f)                      # (n_v, n_h, N)
    n_arcs = len(arcs)
    out_v, out_h, out_g = np.empty(n_arcs), np.empty(n_arcs), np.empty(n_arcs)
    for start in range(0, n_arcs, chunk):
        a = arcs[start:start + chunk]
        w = (z[a[:, 1]] * np.conj(z[a[:, 0]])).astype(np.complex128)        # (m, N)
        power = np.abs(np.exp(1j * (np.angle(w)[:, None, None, :] - model[None])).sum(axis=-1))
        best = power.reshape(len(a), -1).argmax(axis=1)
        bi, bj = np.unravel_index(best, vv.shape)
        v0, h0 = search.velocities[bi], search.heights[bj]
        g0, _ = _coherence(w, t, f, k, v0, h0)
        v1, h1 = v0.copy(), h0.copy()
        for _ in range(iterations):
            _, off = _coherence(w, t, f, k, v1, h1)
            m = k * (v1[:, None] * t + h1[:, None] * f) + off[:, None]
            r = np.angle(w * np.exp(-1j * m))
            v1 = v1 + r @ search.refine_v
            h1 = h1 + r @ search.refine_h
        g1, _ = _coherence(w, t, f, k, v1, h1)
        keep = g1 >= g0
        out_v[start:start + chunk] = np.where(keep, v1, v0)
        out_h[start:start + chunk] = np.where(keep, h1, h0)
        out_g[start:start + chunk] = np.where(keep, g1, g0)
    return out_v, out_h, out_g


def minimum_spanning_arcs(n_points, arcs, cost):
    """Indices of the arcs of a minimum spanning forest for the given arc costs (e.g. 1 − γ)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import minimum_spanning_tree

    arcs = np.asarray(arcs, dtype=np.int64).reshape(-1, 2)
    if len(arcs) == 0:
        return np.zeros(0, dtype=np.int64)
    # costs must be > 0 for the sparse representation; ids ride along in a lookup
    c = np.asarray(cost, dtype=np.float64) + 1e-9
    graph = coo_matrix((c, (arcs[:, 0], arcs[:, 1])), shape=(n_points, n_points)).tocsr()
    tree = minimum_spanning_tree(graph).tocoo()
    lo, hi = np.minimum(tree.row, tree.col), np.maximum(tree.row, tree.col)
    key_tree = lo.astype(np.int64) * n_points + hi
    key_arcs = arcs[:, 0] * n_points + arcs[:, 1]
    order = np.argsort(key_arcs)
    pos = np.searchsorted(key_arcs[order], key_tree)
    return np.sort(order[pos])
