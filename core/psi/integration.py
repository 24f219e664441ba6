"""From arcs to points: weighted least squares on the network, cleaning, residual unwrapping.

Steps 5–6 of the chain (:mod:`.chain`).  Arc quantities (differences q − p) are integrated to
point quantities relative to a reference point by γ-weighted sparse least
squares: minimise ``Σ_a w_a (x_q − x_p − d_a)²`` with ``x_ref = 0``.  The
normal matrix ``AᵀWA`` (a weighted graph Laplacian without the reference row)
is factorised once (sparse LU, symmetric ordering) and reused for every
right-hand side: velocity and height-error differences, then the wrapped
residual phases of every date ("spatial unwrapping date by date": after the
model is removed the residuals are small, so the wrapped arc differences are
the true differences and least squares integrates them).

:func:`network_weights` turns arc coherences into weights
``γ² / (1 − γ²)`` — proportional to the inverse phase variance of a
coherence-γ phasor average — capped so a perfect arc does not dominate.

Example
-------
>>> import numpy as np
>>> arcs = np.array([[0, 1], [1, 2], [0, 2]])
>>> solver = NetworkSolver(3, arcs, np.ones(3), reference=0)
>>> solver.solve(np.array([1.0, 2.0, 3.0])).round(6).tolist()
[0.0, 1.0, 3.0]
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ..errors import EgmsError
from .phase_kernels import product_angles, rotate, rotated_angles

MAX_WEIGHT_COHERENCE = 0.995
CHUNK_ARCS = 100000


def network_weights(coherence):
    """Least-squares weights of arcs from their temporal coherence: γ²/(1 − γ²), γ capped at 0.995."""
    g = np.clip(np.asarray(coherence, dtype=np.float64), 0.0, MAX_WEIGHT_COHERENCE)
    return g * g / (1.0 - g * g)


class NetworkSolver:
    """Factorised weighted least-squares integration on a connected arc network.

    Parameters
    ----------
    n_points : int
    arcs : int (n_arcs, 2) — (p, q); an arc value is ``x_q − x_p``.
    weights : (n_arcs,) positive.
    reference : int — the point whose value is fixed to 0.
    """

    def __init__(self, n_points, arcs, weights, reference):
        from scipy import sparse
        from scipy.sparse.linalg import splu

        self.n_points = int(n_points)
        self.arcs = np.asarray(arcs, dtype=np.int64).reshape(-1, 2)
        self.weights = np.asarray(weights, dtype=np.float64)
        self.reference = int(reference)
        if self.weights.shape != (len(self.arcs),) or np.any(~(self.weights > 0)):
            raise ValueError("one positive weight per arc is needed")
        n, m = self.n_points, len(self.arcs)
        rows = np.repeat(np.arange(m), 2)
        cols = self.arcs.ravel()
        vals = np.tile([-1.0, 1.0], m)
        self.design = sparse.csr_matrix((vals, (rows, cols)), shape=(m, n))
        normal = (self.design.T @ sparse.diags(self.weights) @ self.design).tocsc()
        self.keep = np.ones(n, dtype=bool)
        self.keep[self.reference] = False
        reduced = normal[self.keep][:, self.keep].tocsc()
        try:
            # symmetric positive definite: a fill-reducing symmetric ordering kept by diagonal pivoting
            # (SuperLU's partial pivoting would otherwise wreck the ordering: 70× slower at 30 000 points)
            self._lu = splu(reduced, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                            options=dict(SymmetricMode=True)) if reduced.shape[0] else None
        except RuntimeError as exc:  # singular: the network is not connected
            raise EgmsError(f"the arc network is not connected ({exc}); cannot integrate") from None

    def solve_rhs(self, rhs):
        """Solution for a right-hand side ``Aᵀ W d`` given per point: (n_points,) or (n_points, k)."""
        rhs = np.asarray(rhs, dtype=np.float64)
        out = np.zeros(rhs.shape, dtype=np.float64)
        if self._lu is not None:
            out[self.keep] = self._lu.solve(np.ascontiguousarray(rhs[self.keep]))
        return out

    def solve(self, arc_values):
        """Point values (reference = 0) of arc differences (n_arcs,) or (n_arcs, k)."""
        d = np.asarray(arc_values, dtype=np.float64)
        wd = d * (self.weights if d.ndim == 1 else self.weights[:, None])
        return self.solve_rhs(self.design.T @ wd)

    def arc_differences(self, point_values):
        """``x_q − x_p`` of every arc."""
        x = np.asarray(point_values)
        return x[self.arcs[:, 1]] - x[self.arcs[:, 0]]


# ---------------------------------------------------------------- residual phases, date by date
@numba.njit(nogil=True, parallel=True, cache=True, error_model="numpy")
def _arc_residual_kernel(z, p_idx, q_idx, t, f, k_rad, dv, dh, offset, out):
    """Wrapped residual phase of every arc (rows, parallel over arcs) and date."""
    n_arcs = p_idx.size
    n_dates = t.size
    task = 64
    for c in numba.prange((n_arcs + task - 1) // task):
        re = np.empty(n_dates)
        im = np.empty(n_dates)
        m = np.empty(n_dates)
        for a in range(c * task, min((c + 1) * task, n_arcs)):
            p = p_idx[a]
            q = q_idx[a]
            for k in range(n_dates):
                zq = z[q, k]
                zp = z[p, k]
                re[k] = np.float64(zq.real) * zp.real + np.float64(zq.imag) * zp.imag
                im[k] = np.float64(zq.imag) * zp.real - np.float64(zq.real) * zp.imag
                m[k] = k_rad * (dv[a] * t[k] + dh[a] * f[k]) + offset[a]
            rotated_angles(re, im, m, out[a])


def unwrap_residual_phases(solver, phasors, t_years, height_factor, dv, dh, offset, rad_per_mm, chunk=CHUNK_ARCS,
                           progress=None):
    """Residual phase (rad) of every point and date, unwrapped on the network (reference point = 0).

    The arc residual of date k is ``wrap(Δφ_k − model_k(Δv, Δh) − offset)``; the
    per-date least-squares integration uses the solver's factorisation (all
    dates at once).  Arcs are processed in chunks (memory ``chunk × n_dates``).
    Returns float64 (n_points, n_dates).
    """
    z = np.ascontiguousarray(phasors, dtype=np.complex64)
    arcs = solver.arcs
    n_dates = z.shape[1]
    t = np.ascontiguousarray(t_years, dtype=np.float64)
    f = np.zeros(n_dates) if height_factor is None else np.ascontiguousarray(height_factor, dtype=np.float64)
    dv = np.ascontiguousarray(dv, dtype=np.float64)
    dh = np.ascontiguousarray(dh, dtype=np.float64)
    offset = np.ascontiguousarray(offset, dtype=np.float64)
    rhs = np.zeros((solver.n_points, n_dates), dtype=np.float64)
    design_t = solver.design.T.tocsc()  # column slices of the transposed design: one per arc chunk
    for start in range(0, len(arcs), chunk):
        stop = min(start + chunk, len(arcs))
        res = np.empty((stop - start, n_dates), dtype=np.float64)
        _arc_residual_kernel(z, np.ascontiguousarray(arcs[start:stop, 0]), np.ascontiguousarray(arcs[start:stop, 1]),
                             t, f, float(rad_per_mm), dv[start:stop], dh[start:stop], offset[start:stop], res)
        res *= solver.weights[start:stop, None]
        rhs += design_t[:, start:stop] @ res
        if progress is not None:
            progress.check()
    return solver.solve_rhs(rhs)


@numba.njit(nogil=True, parallel=True, cache=True, error_model="numpy")
def _own_phase_kernel(z, ref, t, f, k_rad, vel, hgt, unwrapped, out):
    n, n_dates = unwrapped.shape
    for i in numba.prange(n):
        p_re = np.empty(n_dates)
        p_im = np.empty(n_dates)
        m = np.empty(n_dates)
        for k in range(n_dates):
            zr = z[ref, k]
            zi = z[i, k]
            re = np.float64(zi.real) * zr.real + np.float64(zi.imag) * zr.imag
            im = np.float64(zi.imag) * zr.real - np.float64(zi.real) * zr.imag
            mag = math.sqrt(re * re + im * im)
            inv = 1.0 / mag if mag > 0.0 else 0.0
            p_re[k] = re * inv if mag > 0.0 else 1.0  # no amplitude: angle 0
            p_im[k] = im * inv
            m[k] = k_rad * (vel[i] * t[k] + hgt[i] * f[k]) + unwrapped[i, k]
        rotate(p_re, p_im, m)
        sr = 0.0
        si = 0.0
        for k in range(n_dates):
            sr += p_re[k]
            si += p_im[k]
        norm = math.sqrt(sr * sr + si * si)
        ur = sr / norm if norm > 0.0 else 1.0
        ui = -si / norm if norm > 0.0 else 0.0
        product_angles(p_re, p_im, ur, ui, m)
        for k in range(n_dates):
            out[i, k] = unwrapped[i, k] + m[k]


def own_phases(phasors, reference, t_years, height_factor, velocity, height, unwrapped, rad_per_mm):
    """Each point's own residual phase (rad) with the 2π ambiguity of the network solution ``unwrapped``.

    ``e_k = arg(z_k · conj(z_ref,k)) − model_k`` is the point's own (wrapped) residual, ``d_k = e_k − u_k``
    its difference to the network-unwrapped residual ``u``; the result is ``u_k + wrap(d_k − arg Σ e^{j d})``:
    the point's own phase, moved by whole cycles to the network solution and by one constant per point.
    Returns float64 (n_points, n_dates).
    """
    z = np.ascontiguousarray(phasors, dtype=np.complex64)
    u = np.ascontiguousarray(unwrapped, dtype=np.float64)
    n_dates = z.shape[1]
    if u.shape != z.shape:
        raise ValueError("phasors and unwrapped phases must have the same shape")
    t = np.ascontiguousarray(t_years, dtype=np.float64)
    f = np.zeros(n_dates) if height_factor is None else np.ascontiguousarray(height_factor, dtype=np.float64)
    out = np.empty_like(u)
    if u.size:
        _own_phase_kernel(z, int(reference), t, f, float(rad_per_mm), np.ascontiguousarray(velocity, dtype=np.float64),
                          np.ascontiguousarray(height, dtype=np.float64), u, out)
    return out
