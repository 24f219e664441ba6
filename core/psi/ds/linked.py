"""Interferograms from phase-linked histories (``egms:interferograms`` with ``PHASE_LINKING``).

For each output pixel of a ``row_looks × col_looks`` grid, at the window's centre pixel
``(r·row_looks + row_looks // 2, c·col_looks + col_looks // 2)``:

1. its SHPs in the ``window_rows × window_cols`` window (:func:`._shp_at.find_shps_at`: the test
   ``params.test`` of the amplitude series, 8-connected to the centre — the same SHPs as the DS pass of the chain);
2. the sample coherence matrix ``C`` over the SHPs and EMI phase linking (:func:`._linking_kernel.link_matrices`,
   the EVD fallback where ``|C|`` cannot be inverted): linked phasors ``e^{jθ_k}``;
3. per pair ``(i, k)`` (i earlier): **phase** ``arg(e^{jθ_i} · conj(e^{jθ_k})) = θ_i − θ_k`` wrapped to
   (−π, π] — unit amplitude, as dolphin's linked-phase interferograms ``ref · conj(sec)`` of its compressed
   phases, and the sign of :mod:`egms_plugin.core.sar.interferograms` (``arg Σ s_i · conj(s_k)``, ARCHITECTURE.md
   §Conventions); **coherence** ``|C_ik|``, the pair's sample coherence over the SHPs (the ordinary
   interferograms' coherence with the SHPs as the window; the linking's temporal coherence is one number per
   pixel for all pairs and is not written).

Looks act as strides (dolphin's ``strides``): the linked phase is already an average over up to
``window_rows × window_cols`` SHPs, so each output pixel is the pixel at its window's centre, linked over its own
SHP window — not averaged again.  The output grid is the ordinary interferograms' (same size, geotransform,
dropped rows and columns), so the two outputs can be swapped.  A pixel without data (zero amplitude on every date;
non-finite SLC values count as 0) gets phase 0 and coherence 0.  For a stack whose pixels share the same phase
history (a noise-free one), both outputs are equal within float32 precision (``tests/core/psi/ds/test_linked.py``).
"""

from __future__ import annotations

import numpy as np

CHUNK_PIXELS = 256
"""Pixels whose coherence matrices (N × N complex64 each) are held at once."""


def centre_pixels(out_rows, out_cols, row_looks, col_looks, row0=0):
    """(rows, cols) int64 of the centre pixels of an ``out_rows × out_cols`` grid of looks windows starting at block
    row ``row0`` (row-major)."""
    rr = row0 + np.arange(out_rows, dtype=np.int64) * row_looks + row_looks // 2
    cc = np.arange(out_cols, dtype=np.int64) * col_looks + col_looks // 2
    r, c = np.meshgrid(rr, cc, indexing="ij")
    return r.ravel(), c.ravel()


def linked_interferograms(slc, pairs, row_looks, col_looks, params, rows=None, out_cols=None):
    """Phase and coherence (n_pairs, out_rows, out_cols) float32 of the pairs from the linked phases of an SLC block.

    Parameters
    ----------
    slc : complex (n_dates, block_rows, cols) — the block with its halo (not modified).
    pairs : int (n_pairs, 2) — date indices ``(i, k)``; the interferogram is ``e^{jθ_i} · conj(e^{jθ_k})``.
    row_looks, col_looks : int — the output grid (strides).
    params : :class:`.scan.DsParameters` — window, SHP test (``test``), significance (``alpha``) and ``beta``.
    rows : (row0, row1) — the block rows of the centre windows (``row1 − row0`` a multiple of ``row_looks``);
        default all whole windows of the block.
    out_cols : int — output columns (default ``cols // col_looks``).
    """
    from ._linking_kernel import coherence_matrices, link_matrices, to_pixel_major
    from ._shp_at import find_shps_at

    slc = np.array(slc, dtype=np.complex64, copy=True)
    slc[~np.isfinite(slc)] = 0
    n_dates, block_rows, cols = slc.shape
    row0, row1 = (0, block_rows // row_looks * row_looks) if rows is None else (int(rows[0]), int(rows[1]))
    out_rows = (row1 - row0) // row_looks
    out_cols = cols // col_looks if out_cols is None else int(out_cols)
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    hr, hc = params.window_rows // 2, params.window_cols // 2
    r_idx, c_idx = centre_pixels(out_rows, out_cols, row_looks, col_looks, row0)
    masks, counts = find_shps_at(np.abs(slc), r_idx, c_idx, hr, hc, params.alpha, method=params.test)
    phase = np.zeros((len(pairs), r_idx.size), dtype=np.float32)
    coherence = np.zeros((len(pairs), r_idx.size), dtype=np.float32)
    i, k = pairs[:, 0], pairs[:, 1]
    pi = np.float32(np.pi)
    pm = to_pixel_major(slc)
    for p0 in range(0, r_idx.size, CHUNK_PIXELS):
        p1 = min(r_idx.size, p0 + CHUNK_PIXELS)
        c = coherence_matrices(pm, r_idx[p0:p1], c_idx[p0:p1], masks[p0:p1], pixel_major=True)
        linked, _tc, _evd = link_matrices(c, params.beta)
        ph = np.angle(linked[:, i] * np.conj(linked[:, k])).astype(np.float32).T
        ph[ph == -pi] = pi  # (−π, π] as the ordinary interferograms
        ph[i == k] = 0.0  # a pair (i, i) is 0 exactly (numpy 2's SIMD z·conj(z) may leave an imaginary ~1e-8)
        phase[:, p0:p1] = ph
        coherence[:, p0:p1] = np.abs(c[:, i, k]).T
    empty = counts == 0
    phase[:, empty] = 0.0
    coherence[:, empty] = 0.0
    shape = (len(pairs), out_rows, out_cols)
    return phase.reshape(shape), np.minimum(coherence, np.float32(1.0)).reshape(shape)


def block_rows_linked(cols, n_dates, n_pairs, row_looks, col_looks, halo, block_mb):
    """Centre rows per block (a multiple of ``row_looks``) of the linked pass within ``block_mb``: the complex64
    SLCs, their amplitudes and sorted series (8 + 4 + 4 bytes per pixel and date) of the rows and their halo, and
    the two float32 outputs of every pair."""
    per_row = cols * n_dates * 16 + n_pairs * (cols // col_looks) * 8 / row_looks
    rows = int(block_mb * 2**20 // per_row) - 2 * halo
    return max(1, rows // row_looks) * row_looks
