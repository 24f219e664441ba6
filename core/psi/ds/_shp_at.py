"""SHP masks of a sparse set of centre pixels (e.g. one per multilook window of the phase-linked interferograms):
every window pixel tested against the centre, with the tests and the connectivity of :mod:`._shp_kernel` — the
same masks :func:`._shp_kernel.find_shps` gives those pixels."""

from __future__ import annotations

import numba
import numpy as np

from . import DEFAULT_SHP_TEST
from ._shp_kernel import (
    check_block,
    check_window,
    connect_window,
    glrt_cutoff,
    glrt_similar,
    ks_d_max,
    ks_similar,
    log_powers,
    sorted_amplitudes,
)


@numba.njit(nogil=True, parallel=True, cache=True)
def _shp_at_kernel(glrt, logp, srt, valid, r_idx, c_idx, half_rows, half_cols, cutoff, d_max, connect, masks, counts):
    """SHP masks of the listed centre pixels only: every window pixel tested against the centre, by the GLRT of
    the log power means ``logp`` (``glrt``: cutoff) or the KS test of the sorted series ``srt`` (d_max); the other
    test's array may be a placeholder.  One kernel for both: the branch costs nothing next to the tests, and a test
    passed as a function argument would keep numba 0.56 from caching the kernel."""
    rows, cols = valid.shape
    n = srt.shape[2] - 1
    wy = 2 * half_rows + 1
    wx = 2 * half_cols + 1
    for p in numba.prange(r_idx.size):
        r = r_idx[p]
        c = c_idx[p]
        out = masks[p]
        out[:, :] = 0
        if not valid[r, c]:
            counts[p] = 0
            continue
        similar = np.zeros((wy, wx), dtype=np.uint8)
        for dy in range(wy):
            rr = r + dy - half_rows
            if rr < 0 or rr >= rows:
                continue
            for dx in range(wx):
                cc = c + dx - half_cols
                if not (0 <= cc < cols and valid[rr, cc]):
                    continue
                if rr == r and cc == c:
                    similar[dy, dx] = 1
                elif glrt:
                    similar[dy, dx] = glrt_similar(logp[r, c], logp[rr, cc], cutoff)
                else:
                    similar[dy, dx] = ks_similar(srt[r, c], srt[rr, cc], n, d_max)
        counts[p] = connect_window(similar, out, connect, half_rows, half_cols)


def find_shps_at(amplitude, r_idx, c_idx, half_rows, half_cols, alpha=0.05, connect=True, method=DEFAULT_SHP_TEST):
    """SHP masks of the listed pixels ``(r_idx, c_idx)`` of an amplitude block only (the same masks as
    :func:`find_shps` gives them with the same ``method``: window pixels outside the block are never SHPs); for a
    sparse set of centres, e.g. one per multilook window.  Returns ``masks`` uint8 (n, wy, wx) and ``counts`` int32
    (n,)."""
    amplitude = check_block(amplitude)
    n_dates, block_rows, cols = amplitude.shape
    r_idx = np.ascontiguousarray(r_idx, dtype=np.int64).ravel()
    c_idx = np.ascontiguousarray(c_idx, dtype=np.int64).ravel()
    if r_idx.size != c_idx.size or (r_idx.size and (r_idx.min() < 0 or r_idx.max() >= block_rows
                                                    or c_idx.min() < 0 or c_idx.max() >= cols)):
        raise ValueError("centre pixels outside the block")
    check_window(n_dates, max(block_rows, 2 * half_rows + 1), max(cols, 2 * half_cols + 1), half_rows, half_cols,
                 alpha, where="the amplitude block", method=method)
    wy, wx = 2 * half_rows + 1, 2 * half_cols + 1
    masks = np.zeros((r_idx.size, wy, wx), dtype=np.uint8)
    counts = np.zeros(r_idx.size, dtype=np.int32)
    if not r_idx.size:
        return masks, counts
    if method == "glrt":
        logp = log_powers(amplitude)
        srt = np.zeros((1, 1, 2), dtype=np.float32)  # placeholder
        valid, cutoff, d_max = logp > -np.inf, glrt_cutoff(n_dates, alpha), 0
    else:
        srt = sorted_amplitudes(amplitude)
        logp = np.zeros((1, 1))  # placeholder
        valid, cutoff, d_max = srt[:, :, n_dates - 1] > 0, 0.0, ks_d_max(n_dates, alpha)
    _shp_at_kernel(method == "glrt", logp, srt, valid, r_idx, c_idx, half_rows, half_cols, cutoff, d_max, connect,
                   masks, counts)
    return masks, counts
