"""Per-arc estimation of velocity and height-error differences (DESIGN §8 step 5).

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

Example
-------
>>> import numpy as np
>>> from egms_plugin.core import conventions as cv
>>> t = np.arange(40) * 12 / 365.25
>>> z = np.ones((2, 40), np.complex64); z[1] = np.exp(1j * cv.mm_to_phase(4.0 * t))
>>> est = estimate_arc_parameters(z, np.array([[0, 1]]), t)
>>> round(float(est.velocity[0]), 3), round(float(est.coherence[0]), 3)
(4.0, 1.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from . import conventions as cv
from .progress import ensure

DEFAULT_MAX_VELOCITY_DIFF = 60.0
"""mm/yr: velocity differences searched on an arc (± this)."""
DEFAULT_MAX_HEIGHT_DIFF = 60.0
"""m: height-error differences searched on an arc (± this)."""
REFINE_ITERATIONS = 2
CHUNK_ARCS = 20000


@dataclass
class ArcSearch:
    """The search grid and its tables (shared by all arcs)."""

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
    return ArcSearch(t, f, rad_per_mm, velocities, heights,
                     c32(ev.real, np.float32), c32(ev.imag, np.float32),
                     c32(eh.real, np.float32), c32(eh.imag, np.float32),
                     c32(refine_v), c32(refine_h))


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
def _coarse(u_re, u_im, w_re, w_im, ev_re, ev_im, eh_re, eh_im):
    """Grid indices (velocity, height) of the largest |Σ w·conj(model)| (tables padded to a multiple of 16)."""
    n_v, n = ev_re.shape
    n_h = eh_re.shape[0]
    best = np.float32(-1.0)
    bi = 0
    bj = 0
    for j in range(n_h):
        hr = eh_re[j]
        hi = eh_im[j]
        for k in range(n):
            u_re[k] = w_re[k] * hr[k] - w_im[k] * hi[k]
            u_im[k] = w_re[k] * hi[k] + w_im[k] * hr[k]
        for i in range(0, n_v - 1, 2):
            p, q = _power2(u_re, u_im, ev_re[i], ev_im[i], ev_re[i + 1], ev_im[i + 1])
            if p > best:
                best = p
                bi = i
                bj = j
            if q > best:
                best = q
                bi = i + 1
                bj = j
        if n_v % 2 == 1:
            p = _power(u_re, u_im, ev_re[n_v - 1], ev_im[n_v - 1])
            if p > best:
                best = p
                bi = n_v - 1
                bj = j
    return bi, bj


@numba.njit(nogil=True, cache=True)
def _coherence(w_re, w_im, t, f, k_rad, v, h):
    n = t.size
    sr = 0.0
    si = 0.0
    for k in range(n):
        m = k_rad * (v * t[k] + h * f[k])
        c = math.cos(m)
        s = math.sin(m)
        sr += w_re[k] * c + w_im[k] * s
        si += w_im[k] * c - w_re[k] * s
    return math.sqrt(sr * sr + si * si) / n, math.atan2(si, sr)


@numba.njit(nogil=True, cache=True)
def _refine(c_re, c_im, t, f, k_rad, refine_v, refine_h, v, h, iterations):
    """Gauss–Newton from (v, h) on the wrapped residual phases; returns (v, h, γ at start, γ at the end).

    ``c`` holds the residual phasors ``w_k·exp(−j·model_k(v, h))`` on entry; they are rotated in place
    by each update, so one iteration costs one atan2 and one sincos per date.  The model is linear in
    (v, h), so one step reaches the least-squares optimum unless a residual wraps; two make sure.
    """
    n = t.size
    sr = 0.0
    si = 0.0
    for k in range(n):
        sr += c_re[k]
        si += c_im[k]
    g_start = math.sqrt(sr * sr + si * si) / n
    for _ in range(iterations):
        norm = math.sqrt(sr * sr + si * si)
        if norm == 0.0:
            break
        ur = sr / norm  # rotate by conj(S/|S|): remove the constant offset
        ui = -si / norm
        dv = 0.0
        dh = 0.0
        for k in range(n):
            r = math.atan2(c_im[k] * ur + c_re[k] * ui, c_re[k] * ur - c_im[k] * ui)
            dv += refine_v[k] * r
            dh += refine_h[k] * r
        v += dv
        h += dh
        sr = 0.0
        si = 0.0
        for k in range(n):
            m = k_rad * (dv * t[k] + dh * f[k])
            cs = math.cos(m)
            sn = math.sin(m)
            re = c_re[k] * cs + c_im[k] * sn
            im = c_im[k] * cs - c_re[k] * sn
            c_re[k] = re
            c_im[k] = im
            sr += re
            si += im
    return v, h, g_start, math.sqrt(sr * sr + si * si) / n


@numba.njit(nogil=True, parallel=True, cache=True)
def _search_kernel(z, p_idx, q_idx, ev_re, ev_im, eh_re, eh_im, t, f, k_rad, velocities, heights,
                   refine_v, refine_h, iterations, out_v, out_h, out_g):
    n_arcs = p_idx.size
    n = t.size
    n_pad = ev_re.shape[1]
    for a in numba.prange(n_arcs):
        p = p_idx[a]
        q = q_idx[a]
        w_re = np.zeros(n_pad, dtype=np.float32)
        w_im = np.zeros(n_pad, dtype=np.float32)
        u_re = np.empty(n_pad, dtype=np.float32)
        u_im = np.empty(n_pad, dtype=np.float32)
        c_re = np.empty(n, dtype=np.float64)
        c_im = np.empty(n, dtype=np.float64)
        for k in range(n):
            zq = z[q, k]
            zp = z[p, k]
            w_re[k] = zq.real * zp.real + zq.imag * zp.imag
            w_im[k] = zq.imag * zp.real - zq.real * zp.imag
        bi, bj = _coarse(u_re, u_im, w_re, w_im, ev_re, ev_im, eh_re, eh_im)
        v0 = velocities[bi]
        h0 = heights[bj]
        # residual phasors at the grid peak from the tables: w · conj(model) = w · ev[i] · eh[j]
        for k in range(n):
            er = np.float64(ev_re[bi, k]) * eh_re[bj, k] - np.float64(ev_im[bi, k]) * eh_im[bj, k]
            ei = np.float64(ev_re[bi, k]) * eh_im[bj, k] + np.float64(ev_im[bi, k]) * eh_re[bj, k]
            c_re[k] = w_re[k] * er - w_im[k] * ei
            c_im[k] = w_re[k] * ei + w_im[k] * er
        v1, h1, g0, g1 = _refine(c_re, c_im, t, f, k_rad, refine_v, refine_h, v0, h0, iterations)
        if g1 >= g0:  # the refinement climbs the peak; keep the grid point if it did not
            out_v[a] = v1
            out_h[a] = h1
            out_g[a] = g1
        else:
            out_v[a] = v0
            out_h[a] = h0
            out_g[a] = g0


@numba.njit(nogil=True, parallel=True, cache=True)
def _coherence_kernel(z, p_idx, q_idx, t, f, k_rad, dv, dh, out_g, out_off):
    n = t.size
    for a in numba.prange(p_idx.size):
        p = p_idx[a]
        q = q_idx[a]
        w_re = np.empty(n, dtype=np.float64)
        w_im = np.empty(n, dtype=np.float64)
        for k in range(n):
            zq = z[q, k]
            zp = z[p, k]
            w_re[k] = zq.real * zp.real + zq.imag * zp.imag
            w_im[k] = zq.imag * zp.real - zq.real * zp.imag
        g, off = _coherence(w_re, w_im, t, f, k_rad, dv[a], dh[a])
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
    s = search
    for start in range(0, n_arcs, CHUNK_ARCS):
        stop = min(start + CHUNK_ARCS, n_arcs)
        _search_kernel(z, p_idx[start:stop], q_idx[start:stop], s.ev_re, s.ev_im, s.eh_re, s.eh_im, s.t, s.f,
                       s.rad_per_mm, s.velocities, s.heights, s.refine_v, s.refine_h, REFINE_ITERATIONS,
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
                          g, off)
    return g, off
