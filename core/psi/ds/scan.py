"""Distributed scatterers of a stack: SHPs, phase linking and the selection of one DS per grid cell.

:func:`find_distributed_scatterers` reads the stack a second time (after the PS pass of
:func:`~egms_plugin.core.sar.amplitude.scan_stack`) in row blocks with a halo of half a window, so memory is
bounded by the block size.  In every block:

1. the SHPs of every pixel (:func:`._shp_kernel.find_shps`: the GLRT of the power means or the KS test of the
   amplitude series, :attr:`DsParameters.test`; connected to the centre);
2. the selection — **one DS per grid cell** of :attr:`DsParameters.cell_m` (100 m, the EGMS Ortho grid; cells
   aligned on the image's first line and pixel): among the cell's pixels that are not PS candidates and have at
   least :attr:`DsParameters.min_shp` SHPs, the one with the most SHPs (ties: nearest the cell centre) — so a
   homogeneous field gives one point per cell, not a cloud of identical neighbours;
3. a screen — the mean coherence of consecutive dates above twice the noise level of its SHPs
   (:data:`SCREEN_FACTOR`) — then its coherence matrix over the SHPs and phase linking
   (:func:`._linking_kernel.link_pixels`, EMI with the EVD fallback); kept when the phase-linking temporal
   coherence reaches :attr:`DsParameters.coherence`.

A DS carries the linked phases as the chain's single-reference interferogram phasors ``s_0 · conj(s_k)``
(:func:`._linking_kernel.interferogram_phasors`), its own amplitude dispersion and mean amplitude, and
``mp_type`` = number of SHPs × pixel area (m², EGMS_FORMAT §2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import InputError
from ...progress import ensure
from . import DEFAULT_SHP_TEST

DS_BLOCK_MB = 64.0
"""Largest block (all dates, complex64) of the DS pass, halo included."""
SCREEN_FACTOR = 2.0
"""A cell's pixel is phase-linked only when its consecutive-date coherence exceeds this × the noise level
``√(π / 4L)`` of its L SHPs: pure clutter (measured 0.9–1.1 × that level) is not linked, which saves 7/8 of the
linking on a scene of 11 % DS; a DS of phase-linking coherence 0.5 has consecutive coherences far above it."""


@dataclass
class DsParameters:
    """Parameters of the distributed-scatterer pass (the advanced ``DS_*`` parameters of the chain)."""

    window_rows: int = 11
    """SHP window height (odd, pixels)."""
    window_cols: int = 11
    """SHP window width (odd, pixels)."""
    alpha: float = 0.05
    """Significance of the SHP test: the fraction of truly homogeneous neighbours rejected."""
    test: str = DEFAULT_SHP_TEST
    """SHP test: ``"glrt"`` (power means of Rayleigh amplitudes, O(1) per pair) or ``"ks"`` (Kolmogorov–Smirnov)."""
    min_shp: int = 20
    """Fewest SHPs (centre included) of a DS."""
    coherence: float = 0.5
    """Fewest phase-linking temporal coherence of a DS."""
    cell_m: float = 100.0
    """Grid cell (m) holding at most one DS."""
    beta: float = 0.01
    """Regularisation of the coherence magnitude before its inversion (EMI)."""

    def validate(self, stack):
        from ._shp_kernel import check_window

        for name in ("window_rows", "window_cols"):
            v = getattr(self, name)
            if v < 1 or v % 2 == 0:
                raise InputError(f"DS window {self.window_cols} × {self.window_rows}: expected odd sizes (e.g. 11 × 11).")
        check_window(stack.n_dates, stack.shape[0], stack.shape[1], self.window_rows // 2, self.window_cols // 2,
                     self.alpha, where=str(stack.folder), method=self.test)
        if self.min_shp > self.window_rows * self.window_cols:
            raise InputError(f"DS_MIN_SHP {self.min_shp}: more than the {self.window_rows * self.window_cols} pixels of "
                             "the window.")
        if not 0.0 <= self.coherence <= 1.0 or self.cell_m <= 0:
            raise InputError("DS coherence threshold must be 0–1 and the DS cell size positive.")


@dataclass
class DistributedScatterers:
    """The selected DS (sorted by line then pixel)."""

    lines: np.ndarray           # int64 (n,)
    pixels: np.ndarray          # int64 (n,)
    n_shp: np.ndarray           # int32 (n,)
    coherence: np.ndarray       # float32 (n,) phase-linking temporal coherence
    phasors: np.ndarray         # complex64 (n, n_dates): s_0 · conj(s_k) of the linked phases
    dispersion: np.ndarray      # float32 (n,)
    mean_amplitude: np.ndarray  # float32 (n,)
    evd: np.ndarray             # bool (n,) the EVD fallback was used
    pixel_area_m2: float
    cell_pixels: tuple
    n_eligible_cells: int = 0

    @property
    def size(self):
        return int(self.lines.size)

    @property
    def mp_type(self):
        """EGMS ``mp_type`` (m²): number of SHPs × pixel area, rounded to whole m² (≥ 1)."""
        return np.maximum(1, np.rint(self.n_shp * self.pixel_area_m2)).astype(np.int64)


def pixel_spacing_m(stack):
    """(row spacing, column spacing) in metres at the scene centre, from the stack's georeferencing."""
    from ..network import local_metric_coordinates

    rows, cols = stack.shape
    r, c = max(0, rows // 2 - 1), max(0, cols // 2 - 1)
    lon, lat = stack.lonlat(np.array([r, r + 1, r]), np.array([c, c, c + 1]))
    x, y = local_metric_coordinates(np.asarray(lon, float), np.asarray(lat, float))
    dy = float(np.hypot(x[1] - x[0], y[1] - y[0]))
    dx = float(np.hypot(x[2] - x[0], y[2] - y[0]))
    if not (dy > 0 and dx > 0 and np.isfinite(dy) and np.isfinite(dx)):
        raise InputError(f"{stack.folder}: cannot tell the pixel size from the georeferencing (needed for the DS grid).")
    return dy, dx


def halo_blocks(stack, block_rows, halo, end=None, scratch=None):
    """Row blocks of ``stack`` with a halo: yields ``(r0, r1, h0, slc)`` for the centre rows ``r0:r1`` (blocks of
    ``block_rows`` up to row ``end``, default the last), ``slc`` = rows ``h0:h1`` of every date (complex64, all
    columns), ``h0 = max(0, r0 − halo)``, ``h1 = min(rows, r1 + halo)`` — the one reader of the DS passes
    (:func:`find_distributed_scatterers`, :func:`.linked.form_linked_block`'s callers): memory is bounded by the
    block, every window of a centre row is inside its block.  With a :class:`~egms_plugin.core.scratch.Scratch`,
    every block is read into the same buffer (valid until the next block is yielded)."""
    rows = stack.shape[0]
    end = rows if end is None else int(end)
    for r0 in range(0, end, block_rows):
        r1 = min(end, r0 + block_rows)
        h0, h1 = max(0, r0 - halo), min(rows, r1 + halo)
        out = None if scratch is None else scratch.get("slc", (stack.n_dates, h1 - h0, stack.shape[1]), np.complex64)
        yield r0, r1, h0, stack.read_block(h0, h1, out=out)


def _select_per_cell(counts, eligible, row0, cell_r, cell_c):
    """(rows, cols) of the best eligible pixel of every cell in a block of centre rows starting at ``row0``."""
    rr, cc = np.nonzero(eligible)
    if rr.size == 0:
        return rr, cc
    ar = rr + row0
    cell = (ar // cell_r) * (counts.shape[1] // cell_c + 1) + cc // cell_c
    centre_r, centre_c = (ar // cell_r + 0.5) * cell_r - 0.5, (cc // cell_c + 0.5) * cell_c - 0.5
    dist = (ar - centre_r) ** 2 + (cc - centre_c) ** 2
    order = np.lexsort((dist, -counts[rr, cc], cell))
    first = np.ones(order.size, dtype=bool)
    first[1:] = cell[order][1:] != cell[order][:-1]
    pick = order[first]
    return rr[pick], cc[pick]


def find_distributed_scatterers(stack, params: DsParameters | None = None, ps_lines=None, ps_pixels=None,
                                block_mb=256.0, progress=None):
    """Select and phase-link the distributed scatterers of ``stack`` (a
    :class:`~egms_plugin.core.sar.stack.StackFolder`); PS candidates (``ps_lines``, ``ps_pixels``) are never DS.
    Returns :class:`DistributedScatterers`."""
    from ...sar.amplitude import small_gdal_cache
    from ...scratch import Scratch
    from ._linking_kernel import consecutive_coherence, interferogram_phasors, link_pixels, to_pixel_major
    from ._shp_kernel import find_shps

    q = params or DsParameters()
    q.validate(stack)
    progress = ensure(progress)
    rows, cols = stack.shape
    hr, hc = q.window_rows // 2, q.window_cols // 2
    dy, dx = pixel_spacing_m(stack)
    cell_r, cell_c = max(1, int(round(q.cell_m / dy))), max(1, int(round(q.cell_m / dx)))
    ps = np.zeros((rows, cols), dtype=bool)
    if ps_lines is not None and len(ps_lines):
        ps[np.asarray(ps_lines), np.asarray(ps_pixels)] = True
    per_row = stack.n_dates * cols * 8
    block_rows = max(cell_r, int(min(float(block_mb), DS_BLOCK_MB) * 2**20 // per_row) - 2 * hr)
    block_rows = max(cell_r, block_rows // cell_r * cell_r)  # blocks hold whole cells
    out = {k: [] for k in ("lines", "pixels", "n_shp", "coherence", "phasors", "dispersion", "mean", "evd")}
    n_eligible = 0
    scratch = Scratch()
    n_blocks = -(-rows // block_rows)
    with small_gdal_cache(), stack:
        for i, (r0, r1, h0, slc) in enumerate(halo_blocks(stack, block_rows, hr, scratch=scratch)):
            progress.check()
            amp = np.abs(slc, out=scratch.get("amp", slc.shape, np.float32))
            masks, counts = find_shps(amp, hr, hc, q.alpha, rows=(r0 - h0, r1 - h0), method=q.test, scratch=scratch)
            eligible = (counts >= q.min_shp) & ~ps[r0:r1]
            sr, sc = _select_per_cell(counts, eligible, r0, cell_r, cell_c)
            n_eligible += sr.size
            if sr.size:  # the screen: decorrelated clutter is not worth an eigendecomposition
                pm = to_pixel_major(slc, scratch.get("pixel-major", slc.shape[1:] + slc.shape[:1], np.complex64))
                level = SCREEN_FACTOR * np.sqrt(np.pi / (4.0 * counts[sr, sc]))
                screened = consecutive_coherence(pm, sr + (r0 - h0), sc, masks[sr, sc], pixel_major=True) > level
                sr, sc = sr[screened], sc[screened]
            if sr.size:
                linked, coh, evd = link_pixels(pm, sr + (r0 - h0), sc, masks[sr, sc], q.beta, pixel_major=True)
                keep = coh >= q.coherence
                sr, sc = sr[keep], sc[keep]
                a = amp[:, sr + (r0 - h0), sc].astype(np.float64)
                mean = a.mean(axis=0)
                out["lines"].append(sr + r0)
                out["pixels"].append(sc)
                out["n_shp"].append(counts[sr, sc])
                out["coherence"].append(coh[keep])
                out["phasors"].append(interferogram_phasors(linked[keep]))
                out["dispersion"].append((a.std(axis=0) / np.where(mean > 0, mean, 1.0)).astype(np.float32))
                out["mean"].append(mean.astype(np.float32))
                out["evd"].append(evd[keep])
            progress.update((i + 1) / n_blocks)

    def cat(key, dtype, shape=(0,)):
        return np.concatenate(out[key]).astype(dtype) if out[key] else np.zeros(shape, dtype)

    lines, pixels = cat("lines", np.int64), cat("pixels", np.int64)
    order = np.lexsort((pixels, lines))
    return DistributedScatterers(
        lines=lines[order], pixels=pixels[order], n_shp=cat("n_shp", np.int32)[order],
        coherence=cat("coherence", np.float32)[order],
        phasors=cat("phasors", np.complex64, (0, stack.n_dates))[order],
        dispersion=cat("dispersion", np.float32)[order], mean_amplitude=cat("mean", np.float32)[order],
        evd=cat("evd", bool)[order], pixel_area_m2=dy * dx, cell_pixels=(cell_r, cell_c), n_eligible_cells=n_eligible)
