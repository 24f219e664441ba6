"""Atmospheric phase screen: the residual that is smooth in space and random in time (step 7 of :mod:`.chain`).

After the point model (velocity, height error) is removed, the unwrapped
residual phase of a point holds atmosphere, unmodelled (non-linear) motion
and noise.  The atmosphere is correlated in space but independent from one
acquisition to the next, motion is smooth in time:

1. **spatial low-pass** — a Gaussian-weighted average (σ in metres) of the
   other points' residuals around every point (the point itself excluded, so
   its own noise does not leak into its screen);
2. **temporal high-pass** — of that smooth field, keep what a smooth time
   function does not explain: the part outside a cubic + annual model
   (the EGMS time functions), minus a Gaussian moving average (σ in days) of
   the rest.  As one linear operator on the dates:
   ``APS = LP_space · ((I − G)(I − P))ᵀ``.

Example
-------
>>> import numpy as np
>>> days = np.arange(30) * 12.0
>>> h = temporal_highpass_operator(days, 60.0)
>>> bool(np.allclose(h @ (1.0 + days / 365.0), 0.0))   # a trend is not atmosphere
True
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .. import conventions as cv
from ..egms.stats import design_matrix
from .phase_kernels import rotate

DEFAULT_FILTER_LENGTH_M = 400.0
DEFAULT_TIME_WINDOW_DAYS = 90.0
MAX_NEIGHBOURS = 48
CHUNK_POINTS = 20000
MAX_GRID_CELLS = 4e7


@numba.njit(nogil=True, parallel=True, cache=True)
def _weighted_average_kernel(values, idx, wts, out):
    n, k_max = idx.shape
    n_dates = values.shape[1]
    for p in numba.prange(n):
        total = 0.0
        for k in range(n_dates):
            out[p, k] = 0.0
        for j in range(k_max):
            w = wts[p, j]
            if w > 0.0:
                total += w
                q = idx[p, j]
                for k in range(n_dates):  # rows are contiguous: one neighbour's series at a time
                    out[p, k] += w * values[q, k]
        if total > 0.0:
            for k in range(n_dates):
                out[p, k] /= total


def neighbour_weights(x, y, sigma_m, max_neighbours=MAX_NEIGHBOURS, exclude_self=True):
    """Neighbour indices and Gaussian weights (n, max_neighbours + 1) within 3σ; weight 0 marks no neighbour.

    The neighbours :func:`spatial_lowpass` averages over; computed once, they serve several calls on the
    same points (``neighbours=``).
    """
    from scipy.spatial import cKDTree

    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n = x.size
    k = min(int(max_neighbours) + 1, n)
    if n == 0 or k == 0:
        return np.zeros((n, 0), dtype=np.int64), np.zeros((n, 0))
    xy = np.column_stack([x, y])
    dist, idx = cKDTree(xy).query(xy, k=k, distance_upper_bound=3.0 * sigma_m, workers=-1)
    dist = dist.reshape(n, k)
    idx = idx.reshape(n, k)
    ok = np.isfinite(dist) & (idx < n)
    if exclude_self:
        ok &= idx != np.arange(n)[:, None]
    wts = np.where(ok, np.exp(-0.5 * (np.where(ok, dist, 0.0) / sigma_m) ** 2), 0.0)
    return np.where(ok, idx, 0).astype(np.int64), wts


def spatial_lowpass(x, y, values, sigma_m=DEFAULT_FILTER_LENGTH_M, max_neighbours=MAX_NEIGHBOURS, exclude_self=True,
                    chunk=CHUNK_POINTS, neighbours=None):
    """Gaussian-weighted average (σ = ``sigma_m``) of the neighbours' rows of ``values`` (n, n_dates).

    Points without a neighbour within 3σ get 0.  Neighbours are searched for ``chunk`` points at a
    time, so memory stays at ``chunk × max_neighbours`` whatever the number of points — unless
    ``neighbours`` (the ``(indices, weights)`` of :func:`neighbour_weights` for these points and σ)
    are given, then they are used as they are.
    """
    from scipy.spatial import cKDTree

    values = np.ascontiguousarray(values, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    out = np.zeros_like(values)
    n = x.size
    k = min(int(max_neighbours) + 1, n)
    if n == 0 or values.shape[1] == 0 or k < 2:
        return out
    if neighbours is not None:
        idx, wts = neighbours
        if idx.shape[0] != n:
            raise ValueError("neighbours were computed for other points")
        _weighted_average_kernel(values, idx, wts, out)
        return out
    xy = np.column_stack([x, y])
    tree = cKDTree(xy)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        dist, idx = tree.query(xy[start:stop], k=k, distance_upper_bound=3.0 * sigma_m, workers=-1)
        ok = np.isfinite(dist) & (idx < n)
        if exclude_self:
            ok &= idx != np.arange(start, stop)[:, None]
        wts = np.where(ok, np.exp(-0.5 * (np.where(ok, dist, 0.0) / sigma_m) ** 2), 0.0)
        _weighted_average_kernel(values, np.where(ok, idx, 0).astype(np.int64), wts, out[start:stop])
    return out


def gaussian_smooth_points(x, y, values, sigma_m, exclude_self=True, max_cells=MAX_GRID_CELLS):
    """Gaussian-weighted average (σ = ``sigma_m``) of one value per point, through a grid.

    For wide kernels (hundreds of neighbours) binning to cells of σ/4, smoothing the sums and the
    counts with a Gaussian and reading them back at every point's cell costs O(n + cells) instead of a
    neighbour search; the point's own contribution is taken out when ``exclude_self``.  Points with
    no neighbour within reach get 0.
    """
    from scipy.ndimage import gaussian_filter

    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return np.zeros(0)
    x0, y0 = x.min(), y.min()
    span = max(x.max() - x0, y.max() - y0, sigma_m)
    cell = max(sigma_m / 4.0, span / np.sqrt(max_cells))
    pad = int(np.ceil(4.0 * sigma_m / cell))
    col = ((x - x0) / cell).astype(np.int64) + pad
    row = ((y - y0) / cell).astype(np.int64) + pad
    shape = (int(row.max()) + pad + 1, int(col.max()) + pad + 1)
    sums = np.zeros(shape)
    counts = np.zeros(shape)
    np.add.at(sums, (row, col), v)
    np.add.at(counts, (row, col), 1.0)
    s_cells = sigma_m / cell
    sums = gaussian_filter(sums, s_cells, mode="constant", truncate=4.0)
    counts = gaussian_filter(counts, s_cells, mode="constant", truncate=4.0)
    num, den = sums[row, col], counts[row, col]
    if exclude_self:
        unit = np.zeros((2 * pad + 1, 2 * pad + 1))
        unit[pad, pad] = 1.0
        g0 = gaussian_filter(unit, s_cells, mode="constant", truncate=4.0)[pad, pad]
        num, den = num - g0 * v, den - g0
    ok = den > 1e-6 * (1.0 / (2 * np.pi * s_cells**2))
    out = np.zeros_like(v)
    out[ok] = num[ok] / den[ok]
    return out


def temporal_highpass_operator(days, window_days=DEFAULT_TIME_WINDOW_DAYS):
    """(N, N) matrix H: ``H @ series`` is the part of a series that is random in time.

    ``H = (I − G)(I − P)``: P projects on the cubic + annual model (EGMS time
    functions; fewer terms for short series), G is a Gaussian moving average of
    width ``window_days`` (row-normalised).
    """
    days = np.asarray(days, dtype=np.float64)
    n = days.size
    eye = np.eye(n)
    t = (days - days[0]) / cv.DAYS_PER_YEAR
    model = design_matrix(t, "cubic")
    if n <= model.shape[1] + 1:
        model = design_matrix(t, "linear")[:, :2]
    proj = model @ np.linalg.pinv(model)
    if window_days > 0:
        g = np.exp(-0.5 * ((days[:, None] - days[None, :]) / window_days) ** 2)
        g /= g.sum(axis=1, keepdims=True)
    else:
        g = np.zeros((n, n))
    return (eye - g) @ (eye - proj)


def estimate_aps(x, y, residual, days, sigma_m=DEFAULT_FILTER_LENGTH_M, window_days=DEFAULT_TIME_WINDOW_DAYS,
                 max_neighbours=MAX_NEIGHBOURS, neighbours=None):
    """Atmospheric phase screen (same unit as ``residual``, (n, n_dates)) at every point.

    Returns ``(aps, smooth)``: the screen and the spatially low-passed residual it came from.
    ``neighbours``: see :func:`spatial_lowpass`.
    """
    smooth = spatial_lowpass(x, y, residual, sigma_m, max_neighbours, exclude_self=True, neighbours=neighbours)
    h = temporal_highpass_operator(days, window_days)
    return smooth @ h.T, smooth


@numba.njit(nogil=True, parallel=True, cache=True, error_model="numpy")
def _coherence_rows_kernel(a, b, out):
    n, n_dates = a.shape
    for i in numba.prange(n):
        re = np.ones(n_dates)
        im = np.zeros(n_dates)
        d = np.empty(n_dates)
        for k in range(n_dates):
            d[k] = b[i, k] - a[i, k]
        rotate(re, im, d)  # exp(j (a − b))
        sr = 0.0
        si = 0.0
        for k in range(n_dates):
            sr += re[k]
            si += im[k]
        out[i] = math.sqrt(sr * sr + si * si) / n_dates


def phase_coherence(phase, model):
    """``|mean_k exp(j (phase − model))|`` of every row (n, n_dates) of phases in radians."""
    a = np.ascontiguousarray(phase, dtype=np.float64)
    b = np.ascontiguousarray(model, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError("phase and model must be arrays of the same (n, n_dates) shape")
    out = np.zeros(a.shape[0])
    if a.shape[1]:
        _coherence_rows_kernel(a, b, out)
    return out
