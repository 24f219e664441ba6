"""Per-arc estimation of velocity and height-error differences (step 3 of :mod:`.chain`).

For an arc between points p and q with single-reference interferogram
phasors ``z_p,k``, ``z_q,k`` the arc phase ``Δφ_k = arg(z_q,k · conj(z_p,k))``
is modelled as ``mm_to_phase(Δv · t_k + Δh · f_k)`` (t in years since the
first date, f the height-error factor in mm of apparent LOS displacement per
metre, :func:`conventions.height_error_factor_mm_per_m` with B⊥ relative to
the first date).  The estimate maximises the temporal coherence

    γ(Δv, Δh) = | 1/N Σ_k exp(j (Δφ_k − model_k(Δv, Δh))) |

first on a grid whose steps follow from the data — a step moves the model
phase by at most π/2 across the time span (``Δv ≤ λ/(8 T)``) or across the
baseline span (``Δh ≤ λ R sin θ / (8 B⊥ span)``), so the main lobe of γ is
never stepped over — then by Gauss–Newton on the wrapped residual phases,
which converges to the peak from anywhere inside its main lobe.

The grid search is a numba kernel parallel over arcs; the complex
exponentials of the model are tabulated once (velocity table × height table
is separable), so the inner loop is multiply–add only, in float32 (enough to
locate the peak; the refinement and the reported γ are float64).

The grid is searched coarse to fine without ever missing its peak: every
third point on both axes first, then only the fine points that can still beat
the best value found.  For an arc sum ``S = Σ_k u_k`` of unit phasors, moving
the model by one grid offset δ changes every term by ``exp(−j d_k)``, so

    |S(fine)| ≤ |S(coarse neighbour)| + min_c Σ_k |1 − exp(−j (d_k − c))|

(``c``: any constant, |S| does not see it).  The bound depends on the dates and
baselines only, is tabulated once per offset (:func:`_bound_table`), and a fine
point is skipped only when it cannot reach the best value: the peak is the
exhaustive grid's, bit for bit, while a coherent arc evaluates ≈ 75 of the
429 points of the default grid.  The Gauss–Newton refinement stops as soon as
the next step would be a no-op (no residual phase wraps), which is the case
after one step for all but noisy arcs.

Example
-------
>>> import numpy as np
>>> from egms_plugin.core import conventions as cv
>>> t = np.arange(40) * 12 / cv.DAYS_PER_YEAR
>>> z = np.ones((2, 40), np.complex64); z[1] = np.exp(1j * cv.mm_to_phase(4.0 * t))
>>> est = estimate_arc_parameters(z, np.array([[0, 1]]), t)
>>> round(float(est.velocity[0]), 3), round(float(est.coherence[0]), 3)
(4.0, 1.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numba
import numpy as np

from .. import conventions as cv
from ..progress import ensure
from .phase_kernels import atan2, product_angles, rotate

DEFAULT_MAX_VELOCITY_DIFF = 60.0
"""mm/yr: velocity differences searched on an arc (± this)."""
DEFAULT_MAX_HEIGHT_DIFF = 60.0
"""m: height-error differences searched on an arc (± this)."""
REFINE_ITERATIONS = 2
CHUNK_ARCS = 20000
TASK_ARCS = 64
"""Arcs per parallel task of the search kernel (its scratch arrays are allocated once per task)."""
COARSE_STRIDE = 3
"""Coarse grid: every third point on both axes (each fine point is one step from a coarse one)."""
DENSE_FACTOR = 12
"""Coarse points still in the running × this > the points left: scan the rest of the grid densely."""
BOUND_MARGIN = 1e-3
"""Safety margin of the coarse-to-fine bound, per date (float32 sums are accurate to ~1e−6)."""


class ArcSearch(NamedTuple):
    """The search grid and its tables (shared by all arcs).

    A named tuple of arrays (and one float), so the numba kernels take it whole as one argument.
    """

    t: np.ndarray            # years (N,)
    f: np.ndarray            # mm per m of height error (N,), zeros without baselines
    rad_per_mm: float        # interferometric phase of 1 mm of LOS displacement (negative)
    velocities: np.ndarray   # mm/yr (n_v,)
    heights: np.ndarray      # m (n_h,)
    ev_re: np.ndarray        # float32 (n_v, N padded to a multiple of 16 with 0): exp(−j·model of velocity)
    ev_im: np.ndarray
    eh_re: np.ndarray        # float32 (n_h, N padded)
    eh_im: np.ndarray
    refine_v: np.ndarray     # float64 (N,): Gauss–Newton rows (Δv, Δh) of a residual phase vector
    refine_h: np.ndarray
    bound: np.ndarray        # float32 (3, 3): largest change of |S| for a grid offset (a, b) ∈ {−1, 0, 1}²
    coarse_v: np.ndarray     # int64: coarse grid indices (every third, and the last), every index within one
    coarse_h: np.ndarray

    @property
    def velocity_step(self):
        return float(self.velocities[1] - self.velocities[0]) if self.velocities.size > 1 else 0.0

    @property
    def height_step(self):
        return float(self.heights[1] - self.heights[0]) if self.heights.size > 1 else 0.0

    @property
    def size(self):
        return self.velocities.size * self.heights.size


def _symmetric_grid(limit, max_step):
    if limit <= 0 or not np.isfinite(max_step) or max_step <= 0:
        return np.zeros(1)
    n = int(math.ceil(limit / max_step - 1e-9))
    return np.linspace(-n * (limit / n), n * (limit / n), 2 * n + 1)


def _bound_table(t, f, rad_per_mm, dv, dh, n_offsets=1025):
    """``B[a + 1, b + 1] ≥ max |S(p + (a, b)) − S(p)|`` over unit phasor sums S, for grid offsets a, b ∈ {−1, 0, 1}.

    ``|Σ u_k e^{−j d_k}| ≤ |Σ u_k| + Σ |1 − e^{−j (d_k − c)}|`` for any constant c, so any c gives a valid
    bound; the smallest over a fine set of c is taken.  A margin covers float32 rounding of the sums.
    """
    out = np.zeros((3, 3), dtype=np.float32)
    for a in (-1, 0, 1):
        for b in (-1, 0, 1):
            d = rad_per_mm * (a * dv * t + b * dh * f)
            if t.size == 0:
                continue
            c = np.linspace(d.min(), d.max(), n_offsets)
            val = (2.0 * np.abs(np.sin((d[None, :] - c[:, None]) / 2.0))).sum(axis=1).min()
            out[a + 1, b + 1] = val * (1.0 + 1e-6) + BOUND_MARGIN * t.size
    return out


def _coarse_indices(n, stride=COARSE_STRIDE):
    """Every ``stride``-th grid index, plus the last when it is more than one step from them."""
    idx = list(range(0, n, stride))
    if n - 1 - idx[-1] > 1:
        idx.append(n - 1)
    return np.array(idx, dtype=np.int64)


def make_search(t_years, height_factor=None, wavelength_m=cv.SENTINEL1_WAVELENGTH,
                max_velocity=DEFAULT_MAX_VELOCITY_DIFF, max_height=DEFAULT_MAX_HEIGHT_DIFF):
    """Search grid with data-derived steps (π/2 of model phase across the time / baseline span)."""
    t = np.asarray(t_years, dtype=np.float64)
    n = t.size
    f = np.zeros(n) if height_factor is None else np.asarray(height_factor, dtype=np.float64)
    if f.shape != t.shape:
        raise ValueError("height_factor must have one value per date")
    rad_per_mm = float(cv.mm_to_phase(1.0, wavelength_m))
    quarter_cycle_mm = abs(np.pi / 2 / rad_per_mm)  # λ/8 in mm
    t_span = float(t.max() - t.min()) if n else 0.0
    f_span = float(f.max() - f.min()) if n else 0.0
    velocities = _symmetric_grid(max_velocity, quarter_cycle_mm / t_span if t_span > 0 else np.inf)
    heights = _symmetric_grid(max_height, quarter_cycle_mm / f_span if f_span > 0 else np.inf)
    # tables padded with zeros to a multiple of 16 dates: the vectorised loops then have no scalar tail
    n_pad = -(-n // 16) * 16
    ev = np.zeros((velocities.size, n_pad), dtype=np.complex128)
    eh = np.zeros((heights.size, n_pad), dtype=np.complex128)
    ev[:, :n] = np.exp(-1j * rad_per_mm * velocities[:, None] * t[None, :])
    eh[:, :n] = np.exp(-1j * rad_per_mm * heights[:, None] * f[None, :])
    # Gauss–Newton: residual phase r ≈ K (δv (t − t̄) + δh (f − f̄)) + const
    tc, fc = t - t.mean(), f - f.mean()
    if f_span > 0:
        design = rad_per_mm * np.column_stack([tc, fc])
        pinv = np.linalg.pinv(design)
        refine_v, refine_h = pinv[0], pinv[1]
    else:
        refine_v = tc / (rad_per_mm * np.sum(tc * tc)) if t_span > 0 else np.zeros(n)
        refine_h = np.zeros(n)
    c32 = np.ascontiguousarray
    dv = float(velocities[1] - velocities[0]) if velocities.size > 1 else 0.0
    dh = float(heights[1] - heights[0]) if heights.size > 1 else 0.0
    return ArcSearch(t, f, rad_per_mm, velocities, heights,
                     c32(ev.real, np.float32), c32(ev.imag, np.float32),
                     c32(eh.real, np.float32), c32(eh.imag, np.float32),
                     c32(refine_v), c32(refine_h), _bound_table(t, f, rad_per_mm, dv, dh),
                     _coarse_indices(velocities.size), _coarse_indices(heights.size))


@numba.njit(nogil=True, cache=True, fastmath=True)
def _power(ur, ui, ar, ai):
    """|Σ_k u_k·e_k|² for one table row (1-D contiguous views, so the loop vectorises)."""
    s1 = np.float32(0.0)
    s2 = np.float32(0.0)
    s3 = np.float32(0.0)
    s4 = np.float32(0.0)
    for k in range(ur.size):
        s1 += ur[k] * ar[k]
        s2 += ui[k] * ai[k]
        s3 += ur[k] * ai[k]
        s4 += ui[k] * ar[k]
    sr = s1 - s2
    si = s3 + s4
    return sr * sr + si * si


@numba.njit(nogil=True, cache=True, fastmath=True)
def _power2(ur, ui, ar, ai, br, bi):
    """:func:`_power` of two table rows at once (u loaded once for both)."""
    s1 = np.float32(0.0)
    s2 = np.float32(0.0)
    s3 = np.float32(0.0)
    s4 = np.float32(0.0)
    t1 = np.float32(0.0)
    t2 = np.float32(0.0)
    t3 = np.float32(0.0)
    t4 = np.float32(0.0)
    for k in range(ur.size):
        x = ur[k]
        y = ui[k]
        s1 += x * ar[k]
        s2 += y * ai[k]
        s3 += x * ai[k]
        s4 += y * ar[k]
        t1 += x * br[k]
        t2 += y * bi[k]
        t3 += x * bi[k]
        t4 += y * br[k]
    sr = s1 - s2
    si = s3 + s4
    tr = t1 - t2
    ti = t3 + t4
    return sr * sr + si * si, tr * tr + ti * ti


@numba.njit(nogil=True, cache=True, fastmath=True)
def _row(u_re, u_im, w_re, w_im, hr, hi):
    """u = w · (height table row): the arc phasors with the height model of one grid row removed."""
    for k in range(u_re.size):
        u_re[k] = w_re[k] * hr[k] - w_im[k] * hi[k]
        u_im[k] = w_re[k] * hi[k] + w_im[k] * hr[k]


@numba.njit(nogil=True, cache=True)
def _better(p, i, j, best, bi, bj):
    """The exhaustive scan's order (height rows outer, velocities inner, first maximum wins)."""
    return p > best or (p == best and (j < bj or (j == bj and i < bi)))


@numba.njit(nogil=True, cache=True)
def _grid_peak(w_re, w_im, u_re, u_im, have, mags, s, bound_max):
    """Grid indices (velocity, height) of the largest |Σ w·conj(model)| on the grid of the :class:`ArcSearch`
    ``s``, coarse to fine (module docstring).

    ``s.coarse_v``, ``s.coarse_h``: the coarse grid's indices (every grid index within one step of one of them).
    Scratch: ``u_re/u_im`` (n_h, n_pad), ``have`` (n_h,), ``mags`` (n_v, n_h) float32.
    """
    ev_re, ev_im, eh_re, eh_im = s.ev_re, s.ev_im, s.eh_re, s.eh_im
    coarse_v, coarse_h, bound = s.coarse_v, s.coarse_h, s.bound
    n_v = ev_re.shape[0]
    n_h = eh_re.shape[0]
    n_cv = coarse_v.size
    mags[:, :] = -1.0
    have[:] = False
    best = np.float32(-1.0)
    bi = 0
    bj = 0
    # coarse (pairs of velocity rows share the loads of u)
    for jc in range(coarse_h.size):
        j = coarse_h[jc]
        ur = u_re[j]
        ui = u_im[j]
        _row(ur, ui, w_re, w_im, eh_re[j], eh_im[j])
        have[j] = True
        for ic in range(0, n_cv - 1, 2):
            i = coarse_v[ic]
            i2 = coarse_v[ic + 1]
            p, q = _power2(ur, ui, ev_re[i], ev_im[i], ev_re[i2], ev_im[i2])
            mags[i, j] = math.sqrt(p)
            mags[i2, j] = math.sqrt(q)
            if _better(p, i, j, best, bi, bj):
                best, bi, bj = p, i, j
            if _better(q, i2, j, best, bi, bj):
                best, bi, bj = q, i2, j
        if n_cv % 2 == 1:
            i = coarse_v[n_cv - 1]
            p = _power(ur, ui, ev_re[i], ev_im[i])
            mags[i, j] = math.sqrt(p)
            if _better(p, i, j, best, bi, bj):
                best, bi, bj = p, i, j
    sb = math.sqrt(best)
    alive = 0
    for jc in range(coarse_h.size):
        for ic in range(n_cv):
            if mags[coarse_v[ic], coarse_h[jc]] + bound_max >= sb:
                alive += 1
    if DENSE_FACTOR * alive > n_v * n_h - n_cv * coarse_h.size:
        # no clear peak (an incoherent arc): the rest of the grid, two points at a time, is cheaper than
        # the neighbourhoods of the coarse points still in the running (≤ 8 points each, one at a time)
        for j in range(n_h):
            ur = u_re[j]
            ui = u_im[j]
            if not have[j]:
                _row(ur, ui, w_re, w_im, eh_re[j], eh_im[j])
            pending = -1
            for i in range(n_v):
                if mags[i, j] >= 0.0:
                    continue
                if pending < 0:
                    pending = i
                    continue
                p, q = _power2(ur, ui, ev_re[pending], ev_im[pending], ev_re[i], ev_im[i])
                if _better(p, pending, j, best, bi, bj):
                    best, bi, bj = p, pending, j
                if _better(q, i, j, best, bi, bj):
                    best, bi, bj = q, i, j
                pending = -1
            if pending >= 0:
                p = _power(ur, ui, ev_re[pending], ev_im[pending])
                if _better(p, pending, j, best, bi, bj):
                    best, bi, bj = p, pending, j
        return bi, bj
    # fine: the neighbours of the best coarse point first, then of every coarse point that may still win;
    # a point is evaluated only when |S(coarse)| + bound[offset] reaches the best |S| so far
    ci = bi
    cj = bj
    for sweep in range(2):
        for jc in range(coarse_h.size):
            j = coarse_h[jc]
            for ic in range(n_cv):
                i = coarse_v[ic]
                if sweep == 0 and (i != ci or j != cj):
                    continue
                m = mags[i, j]
                sb = math.sqrt(best)
                if m + bound_max < sb:
                    continue
                for a in range(-1, 2):
                    ii = i + a
                    if ii < 0 or ii >= n_v:
                        continue
                    for c in range(-1, 2):
                        jj = j + c
                        if jj < 0 or jj >= n_h or mags[ii, jj] >= 0.0 or m + bound[a + 1, c + 1] < sb:
                            continue
                        if not have[jj]:
                            _row(u_re[jj], u_im[jj], w_re, w_im, eh_re[jj], eh_im[jj])
                            have[jj] = True
                        p = _power(u_re[jj], u_im[jj], ev_re[ii], ev_im[ii])
                        mags[ii, jj] = math.sqrt(p)
                        if _better(p, ii, jj, best, bi, bj):
                            best, bi, bj = p, ii, jj
                            sb = math.sqrt(best)
    return bi, bj


@numba.njit(nogil=True, cache=True, inline="always")
def _arc_phasors(z, p, q, w_re, w_im):
    """Interferogram of an arc per date, z_q · conj(z_p), in the precision of the phasors (complex64)."""
    for k in range(z.shape[1]):
        zq = z[q, k]
        zp = z[p, k]
        w_re[k] = zq.real * zp.real + zq.imag * zp.imag
        w_im[k] = zq.imag * zp.real - zq.real * zp.imag


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _coherence(w_re, w_im, m, t, f, k_rad, v, h):
    """γ and phase of Σ w·exp(−j model(v, h)); ``w`` is rotated in place, ``m``: scratch."""
    n = t.size
    for k in range(n):
        m[k] = k_rad * (v * t[k] + h * f[k])
    rotate(w_re, w_im, m)
    sr = 0.0
    si = 0.0
    for k in range(n):
        sr += w_re[k]
        si += w_im[k]
    return math.sqrt(sr * sr + si * si) / n, atan2(si, sr)


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _refine(c_re, c_im, r, m, s, v, h, iterations):
    """Gauss–Newton from (v, h) on the wrapped residual phases with the rows of the :class:`ArcSearch` ``s``;
    returns (v, h, γ at start, γ at the end).

    ``c`` holds the residual phasors ``w_k·exp(−j·model_k(v, h))`` on entry; they are rotated in place
    by each update, so one iteration costs one atan2 and one sincos per date (``r``, ``m``: scratch).  The model
    is linear in (v, h), so one step reaches the least-squares optimum unless a residual wraps.  The next
    step would see ``wrap(r_k − m_k − c)`` (``r_k`` this step's residuals, ``m_k`` its model change, ``c``
    the new sum's phase relative to the old one); when no such value wraps it equals ``r_k − m_k − c``,
    whose projection on the centred design is exactly zero, so the iterations stop there.
    """
    t, f, k_rad, refine_v, refine_h = s.t, s.f, s.rad_per_mm, s.refine_v, s.refine_h
    n = t.size
    sr = 0.0
    si = 0.0
    for k in range(n):
        sr += c_re[k]
        si += c_im[k]
    g_start = math.sqrt(sr * sr + si * si) / n
    for it in range(iterations):
        norm = math.sqrt(sr * sr + si * si)
        if norm == 0.0:
            break
        ur = sr / norm  # rotate by conj(S/|S|): remove the constant offset
        ui = -si / norm
        product_angles(c_re, c_im, ur, ui, r)
        dv = 0.0
        dh = 0.0
        for k in range(n):
            dv += refine_v[k] * r[k]
            dh += refine_h[k] * r[k]
        v += dv
        h += dh
        for k in range(n):
            m[k] = k_rad * (dv * t[k] + dh * f[k])
            r[k] -= m[k]
        rotate(c_re, c_im, m)
        sr = 0.0
        si = 0.0
        for k in range(n):
            sr += c_re[k]
            si += c_im[k]
        if it + 1 < iterations:
            c0 = atan2(si * ur + sr * ui, sr * ur - si * ui)
            lo = np.inf
            hi = -np.inf
            for k in range(n):
                e = r[k] - c0
                lo = min(lo, e)
                hi = max(hi, e)
            if lo > -math.pi + 1e-9 and hi < math.pi - 1e-9:
                break
    return v, h, g_start, math.sqrt(sr * sr + si * si) / n


@numba.njit(nogil=True, parallel=True, cache=True, error_model="numpy")
def _search_kernel(z, p_idx, q_idx, s, iterations, task, out_v, out_h, out_g):
    """(Δv, Δh, γ) of the arcs (p_idx, q_idx) on the grid of the :class:`ArcSearch` ``s``, refined."""
    ev_re, ev_im, eh_re, eh_im, bound = s.ev_re, s.ev_im, s.eh_re, s.eh_im, s.bound
    t, velocities, heights = s.t, s.velocities, s.heights
    n_arcs = p_idx.size
    n = t.size
    n_v, n_pad = ev_re.shape
    n_h = eh_re.shape[0]
    bound_max = np.float32(bound.max())
    n_tasks = (n_arcs + task - 1) // task
    # numba splits a prange into one contiguous range per thread; tasks are visited in a scattered order
    # (c → c·7919 mod n_tasks, a permutation) so a region of costly incoherent arcs is shared by all threads
    stride = 7919 if n_tasks % 7919 else 104729
    for c0 in numba.prange(n_tasks):
        c = (c0 * stride) % n_tasks
        w_re = np.zeros(n_pad, dtype=np.float32)
        w_im = np.zeros(n_pad, dtype=np.float32)
        u_re = np.empty((n_h, n_pad), dtype=np.float32)
        u_im = np.empty((n_h, n_pad), dtype=np.float32)
        have = np.empty(n_h, dtype=np.bool_)
        mags = np.empty((n_v, n_h), dtype=np.float32)
        c_re = np.empty(n, dtype=np.float64)
        c_im = np.empty(n, dtype=np.float64)
        r = np.empty(n, dtype=np.float64)
        m = np.empty(n, dtype=np.float64)
        for a in range(c * task, min((c + 1) * task, n_arcs)):
            p = p_idx[a]
            q = q_idx[a]
            _arc_phasors(z, p, q, w_re, w_im)
            bi, bj = _grid_peak(w_re, w_im, u_re, u_im, have, mags, s, bound_max)
            v0 = velocities[bi]
            h0 = heights[bj]
            # residual phasors at the grid peak from the tables: w · conj(model) = w · ev[i] · eh[j]
            for k in range(n):
                er = np.float64(ev_re[bi, k]) * eh_re[bj, k] - np.float64(ev_im[bi, k]) * eh_im[bj, k]
                ei = np.float64(ev_re[bi, k]) * eh_im[bj, k] + np.float64(ev_im[bi, k]) * eh_re[bj, k]
                c_re[k] = w_re[k] * er - w_im[k] * ei
                c_im[k] = w_re[k] * ei + w_im[k] * er
            v1, h1, g0, g1 = _refine(c_re, c_im, r, m, s, v0, h0, iterations)
            if g1 >= g0:  # the refinement climbs the peak; keep the grid point if it did not
                out_v[a] = v1
                out_h[a] = h1
                out_g[a] = g1
            else:
                out_v[a] = v0
                out_h[a] = h0
                out_g[a] = g0


@numba.njit(nogil=True, parallel=True, cache=True, error_model="numpy")
def _coherence_kernel(z, p_idx, q_idx, t, f, k_rad, dv, dh, task, out_g, out_off):
    n = t.size
    n_arcs = p_idx.size
    for c in numba.prange((n_arcs + task - 1) // task):
        w_re = np.empty(n, dtype=np.float64)
        w_im = np.empty(n, dtype=np.float64)
        m = np.empty(n, dtype=np.float64)
        for a in range(c * task, min((c + 1) * task, n_arcs)):
            p = p_idx[a]
            q = q_idx[a]
            _arc_phasors(z, p, q, w_re, w_im)
            g, off = _coherence(w_re, w_im, m, t, f, k_rad, dv[a], dh[a])
            out_g[a] = g
            out_off[a] = off


@dataclass
class ArcEstimates:
    velocity: np.ndarray   # mm/yr difference q − p (n_arcs,)
    height: np.ndarray     # m difference q − p
    coherence: np.ndarray  # temporal coherence at the estimate
    search: ArcSearch


def _check(phasors, arcs):
    z = np.ascontiguousarray(phasors, dtype=np.complex64)
    if z.ndim != 2:
        raise ValueError("phasors must be (n_points, n_dates)")
    arcs = np.asarray(arcs, dtype=np.int64).reshape(-1, 2)
    if arcs.size and (arcs.min() < 0 or arcs.max() >= z.shape[0]):
        raise ValueError("arc index out of range")
    return z, np.ascontiguousarray(arcs[:, 0]), np.ascontiguousarray(arcs[:, 1])


def estimate_arc_parameters(phasors, arcs, t_years, height_factor=None, wavelength_m=cv.SENTINEL1_WAVELENGTH,
                            max_velocity=DEFAULT_MAX_VELOCITY_DIFF, max_height=DEFAULT_MAX_HEIGHT_DIFF,
                            search=None, progress=None):
    """Velocity (mm/yr) and height-error (m) differences q − p maximising γ on every arc (p, q).

    Parameters
    ----------
    phasors : complex (n_points, n_dates) — unit single-reference interferogram phasors.
    arcs : int (n_arcs, 2) — point indices (p, q).
    t_years : (n_dates,) years since the first date.
    height_factor : (n_dates,) mm per m of height error, or None (no height-error term).
    search : a prepared :class:`ArcSearch` (else built from the other arguments).

    Returns
    -------
    :class:`ArcEstimates`
    """
    progress = ensure(progress)
    z, p_idx, q_idx = _check(phasors, arcs)
    if search is None:
        search = make_search(t_years, height_factor, wavelength_m, max_velocity, max_height)
    if z.shape[1] != search.t.size:
        raise ValueError("phasors and time axis disagree on the number of dates")
    n_arcs = p_idx.size
    out_v = np.empty(n_arcs)
    out_h = np.empty(n_arcs)
    out_g = np.empty(n_arcs)
    for start in range(0, n_arcs, CHUNK_ARCS):
        stop = min(start + CHUNK_ARCS, n_arcs)
        _search_kernel(z, p_idx[start:stop], q_idx[start:stop], search, REFINE_ITERATIONS, TASK_ARCS,
                       out_v[start:stop], out_h[start:stop], out_g[start:stop])
        progress.check()
        progress.update(stop / n_arcs)
    return ArcEstimates(out_v, out_h, out_g, search)


def arc_coherence(phasors, arcs, t_years, height_factor, dv, dh, wavelength_m=cv.SENTINEL1_WAVELENGTH):
    """Temporal coherence and constant phase offset (rad) of every arc for given Δv (mm/yr), Δh (m)."""
    z, p_idx, q_idx = _check(phasors, arcs)
    t = np.ascontiguousarray(t_years, dtype=np.float64)
    f = np.zeros_like(t) if height_factor is None else np.ascontiguousarray(height_factor, dtype=np.float64)
    g = np.empty(p_idx.size)
    off = np.empty(p_idx.size)
    if p_idx.size:
        _coherence_kernel(z, p_idx, q_idx, t, f, float(cv.mm_to_phase(1.0, wavelength_m)),
                          np.ascontiguousarray(dv, dtype=np.float64), np.ascontiguousarray(dh, dtype=np.float64),
                          TASK_ARCS, g, off)
    return g, off
