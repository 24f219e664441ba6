"""Amplitude statistics of a stack and scatterer candidates, in one pass over the SLCs.

Per pixel, over the acquisitions k: mean amplitude ``μ_A = mean_k A_k`` and
amplitude dispersion ``D_A = σ_A / μ_A`` with the population standard
deviation (ddof = 0, ARCHITECTURE.md §Conventions).  With per-image calibration each image is
first divided by its calibration factor ``c_k`` (the image's mean amplitude
over a sample of rows, normalised so the factors average to 1), which removes
gain changes between acquisitions without changing the amplitude scale.

:func:`scan_stack` reads the stack once in row blocks (memory bounded by the
block size), computes both statistics per block with a numba kernel, and keeps
the candidates (``D_A`` below the threshold) together with their
single-reference interferogram phasors ``s_ref · conj(s_k) / |…|`` (reference
= the first date) — so the PSI chain never reads the stack twice.  Optional
GeoTIFFs of ``D_A`` and ``μ_A`` are written block by block.

Example
-------
>>> import numpy as np
>>> z = (np.arange(1, 13, dtype=np.float32) + 1j).reshape(3, 2, 2).astype(np.complex64)
>>> mean, disp = amplitude_statistics(z)
>>> a = np.abs(z.astype(np.complex128))
>>> bool(np.allclose(disp, a.std(axis=0) / a.mean(axis=0), rtol=1e-6))
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from ..errors import InputError
from ..progress import ensure

DEFAULT_DISPERSION_THRESHOLD = 0.25
"""EGMS candidate threshold on D_A (the EGMS products' own)."""
CALIBRATION_SAMPLE_ROWS = 256
"""Rows read (evenly spaced) to estimate the per-image calibration factors."""
READ_CACHE_BYTES = 64 * 2**20
"""GDAL block cache during the read pass: every block is read once, so a large cache only holds memory."""
SCAN_BLOCK_MB = 64.0
MULTILOOK_FRACTION = 0.5
"""More valid pixels than this fraction under the D_A threshold: a multilooked or interferogram-derived stack."""
MULTILOOK_PERCENTILE = 10.0
"""On such a stack, the candidates are the pixels of D_A at or below this percentile (of the valid pixels)."""
"""Largest block the read pass uses, whatever memory it is given: 64 MB blocks read as fast as 256 MB ones,
and on the development VM a 1000² × 60 pass took 0.80 s (median of 5) with them against 1.29 s with 256 MB
blocks, whose fresh memory cost 4× more system time (measured in the same process, alternating)."""


# ---------------------------------------------------------------- block kernel
@numba.njit(nogil=True, parallel=True, cache=True)
def _amplitude_kernel(block, inv_scale, mean_out, disp_out):
    n_dates, rows, cols = block.shape
    for r in numba.prange(rows):
        s1 = np.zeros(cols, dtype=np.float64)
        s2 = np.zeros(cols, dtype=np.float64)
        for k in range(n_dates):
            g = inv_scale[k]
            for c in range(cols):
                z = block[k, r, c]
                re = np.float64(z.real)
                im = np.float64(z.imag)
                a = np.sqrt(re * re + im * im) * g
                s1[c] += a
                s2[c] += a * a
        for c in range(cols):
            m = s1[c] / n_dates
            var = s2[c] / n_dates - m * m
            if var < 0.0:
                var = 0.0
            mean_out[r, c] = m
            disp_out[r, c] = np.sqrt(var) / m if m > 0.0 else np.nan


def amplitude_statistics(block, calibration=None):
    """Mean amplitude and amplitude dispersion of a block of SLCs.

    Parameters
    ----------
    block : complex array (n_dates, rows, cols)
    calibration : float array (n_dates,) or None
        Per-image factors; amplitudes are divided by them before the statistics.

    Returns
    -------
    mean_amplitude, dispersion : float32 arrays (rows, cols); dispersion is NaN
    where the mean amplitude is 0.  Accumulated in float64.
    """
    block = np.asarray(block)
    if block.ndim != 3 or not np.iscomplexobj(block):
        raise ValueError(f"expected a complex (n_dates, rows, cols) block, got {block.dtype} {block.shape}")
    n_dates = block.shape[0]
    if calibration is None:
        inv = np.ones(n_dates, dtype=np.float64)
    else:
        cal = np.asarray(calibration, dtype=np.float64)
        if cal.shape != (n_dates,) or not np.all(cal > 0):
            raise ValueError(f"calibration must be {n_dates} positive factors")
        inv = 1.0 / cal
    if block.dtype != np.complex64 and block.dtype != np.complex128:
        block = block.astype(np.complex64)
    mean = np.empty(block.shape[1:], dtype=np.float32)
    disp = np.empty(block.shape[1:], dtype=np.float32)
    if block.size:
        _amplitude_kernel(block, inv, mean, disp)
    return mean, disp


def calibration_factors(stack, sample_rows=CALIBRATION_SAMPLE_ROWS):
    """Per-image amplitude calibration factors (n_dates,), normalised to mean 1.

    Each factor is the image's mean amplitude over ``sample_rows`` evenly
    spaced full rows (StaMPS-style amplitude calibration).
    """
    rows = stack.shape[0]
    picks = np.unique(np.linspace(0, rows - 1, min(rows, sample_rows)).round().astype(int))
    sums = np.zeros(stack.n_dates, dtype=np.float64)
    for r in picks:
        sums += np.abs(stack.read_block(int(r), int(r) + 1)).reshape(stack.n_dates, -1).sum(axis=1, dtype=np.float64)
    if not np.all(sums > 0):
        zero = [stack.date_strings[k] for k in np.flatnonzero(~(sums > 0))]
        raise InputError(f"{stack.folder}: acquisition(s) {', '.join(zero[:5])} are all zero in the sampled rows; "
                         "cannot calibrate amplitudes (switch calibration off or check the SLCs).")
    return sums / sums.mean()


# ---------------------------------------------------------------- raster output
class RasterBlockWriter:
    """A single-band float32 GeoTIFF (deflate, tiles of 256 where the image allows) written block of rows by
    block, to a temporary file renamed on :meth:`commit` (:class:`..io.raster.RasterOutput`: every write and the
    close checked)."""

    def __init__(self, path, stack, description):
        from ..io.raster import RasterOutput, creation_options

        rows, cols = stack.shape
        geo = dict(crs=stack.crs, transform=stack.transform) if stack.geocoded else {}
        self._output = RasterOutput(path, cols, rows, 1, np.float32, nodata=np.nan, descriptions=[description],
                                    options=creation_options(cols, rows, tiled=True, compress="deflate", predictor=3),
                                    **geo)
        self.path, self.tmp = self._output.path, self._output.tmp

    def write(self, row0, data):
        self._output.raster.write(data.astype(np.float32, copy=False), 1, row0=row0)

    def finish(self):
        self._output.finish()

    def commit(self):
        return self._output.commit()

    def discard(self):
        self._output.discard()


# ---------------------------------------------------------------- one pass over the stack
def small_gdal_cache():
    """Context of a read pass over the stack: GDAL's block cache capped at :data:`READ_CACHE_BYTES` (restored
    after); every block is read once, so a larger cache would only hold memory."""
    import contextlib

    import rasterio

    try:
        from osgeo import gdal

        if gdal.GetCacheMax() <= READ_CACHE_BYTES:
            return contextlib.nullcontext()
    except ImportError:
        pass
    return rasterio.Env(GDAL_CACHEMAX=READ_CACHE_BYTES)


@dataclass
class Candidates:
    """Scatterer candidates of a stack (D_A below the threshold)."""

    lines: np.ndarray            # int64 (n,)
    pixels: np.ndarray           # int64 (n,)
    dispersion: np.ndarray       # float32 (n,)
    mean_amplitude: np.ndarray   # float32 (n,)
    phasors: np.ndarray | None   # complex64 (n, n_dates): unit phasors of s_ref·conj(s_k), or None
    calibration: np.ndarray | None
    n_pixels: int = 0
    n_valid: int = 0             # pixels with a finite D_A
    selection: str = "threshold"  # or "percentile" (multilooked stack, :func:`percentile_selection`)

    @property
    def size(self):
        return int(self.lines.size)


def unit_interferogram_phasors(slc):
    """Single-reference interferogram phasors ``s_0 · conj(s_k) / |…|`` (complex64) of SLC values ``slc``
    (n, n_dates), the first date the reference; 0 where an amplitude is 0."""
    ifg = slc[:, :1] * np.conj(slc)
    mag = np.abs(ifg)
    out = np.zeros_like(ifg)
    np.divide(ifg, mag, out=out, where=mag > 0)
    return out.astype(np.complex64, copy=False)


def scan_stack(stack, dispersion_threshold=DEFAULT_DISPERSION_THRESHOLD, calibrate=False, block_mb=256.0,
               keep_phasors=True, dispersion_path=None, mean_amplitude_path=None, progress=None, phasor_limit=None):
    """Read the stack once in row blocks: amplitude statistics, candidates and their phasors.

    Parameters
    ----------
    stack : StackFolder
    dispersion_threshold : float — candidates have D_A strictly below it.
    calibrate : bool — per-image amplitude calibration (:func:`calibration_factors`).
    block_mb : float — memory for one block of all dates (complex64), MB (at most :data:`SCAN_BLOCK_MB` is used).
    keep_phasors : bool — also return the candidates' interferogram phasors (for the PSI chain).
    phasor_limit : int or None — keep phasors only while there are at most this many candidates; beyond,
        they are dropped (``phasors`` None) and the caller reads them patch by patch.
    dispersion_path, mean_amplitude_path : optional GeoTIFF outputs (float32, NaN nodata).

    Returns
    -------
    :class:`Candidates`, sorted by line then pixel.
    """
    progress = ensure(progress)
    if not np.isfinite(dispersion_threshold) or dispersion_threshold <= 0:
        raise InputError(f"dispersion threshold {dispersion_threshold}: expected a positive number (EGMS uses 0.25).")
    cal = calibration_factors(stack) if calibrate else None
    progress.check()
    writers = []
    try:
        disp_writer = RasterBlockWriter(dispersion_path, stack, "amplitude dispersion") if dispersion_path else None
        if disp_writer:
            writers.append(disp_writer)
        mean_writer = (RasterBlockWriter(mean_amplitude_path, stack, "mean amplitude")
                       if mean_amplitude_path else None)
        if mean_writer:
            writers.append(mean_writer)
        block_rows = stack.block_rows_for(min(float(block_mb), SCAN_BLOCK_MB) * 2**20)
        blocks = stack.row_blocks(block_rows)
        lines, pixels, disps, means, phasors = [], [], [], [], []
        n_valid = 0
        buffer = None
        with small_gdal_cache(), stack:
            for i, (r0, r1) in enumerate(blocks):
                progress.check()
                shape = (stack.n_dates, r1 - r0, stack.shape[1])
                if buffer is None or buffer.shape != shape:
                    buffer = np.empty(shape, dtype=np.complex64)
                slc = stack.read_block(r0, r1, out=buffer)
                mean, disp = amplitude_statistics(slc, cal)
                n_valid += int(np.isfinite(disp).sum())
                if disp_writer:
                    disp_writer.write(r0, disp)
                if mean_writer:
                    mean_writer.write(r0, mean)
                rr, cc = np.nonzero(disp < dispersion_threshold)
                lines.append(rr + r0)
                pixels.append(cc)
                disps.append(disp[rr, cc])
                means.append(mean[rr, cc])
                if keep_phasors and phasor_limit is not None and sum(map(len, lines)) > phasor_limit:
                    keep_phasors, phasors = False, []  # too many to hold: the chain reads them by patch
                if keep_phasors:
                    phasors.append(unit_interferogram_phasors(slc[:, rr, cc].T))
                progress.update((i + 1) / len(blocks))
        for w in writers:  # both rasters complete before either takes its name
            w.finish()
        for w in writers:
            w.commit()
        writers = []
    finally:
        for w in writers:
            w.discard()
    n_dates = stack.n_dates
    cand = Candidates(
        lines=np.concatenate(lines).astype(np.int64) if lines else np.zeros(0, np.int64),
        pixels=np.concatenate(pixels).astype(np.int64) if pixels else np.zeros(0, np.int64),
        dispersion=np.concatenate(disps) if disps else np.zeros(0, np.float32),
        mean_amplitude=np.concatenate(means) if means else np.zeros(0, np.float32),
        phasors=(np.concatenate(phasors) if phasors else np.zeros((0, n_dates), np.complex64)) if keep_phasors else None,
        calibration=cal,
        n_pixels=stack.shape[0] * stack.shape[1],
        n_valid=n_valid,
    )
    return percentile_selection(cand, dispersion_threshold, progress)


def percentile_selection(cand, dispersion_threshold, progress=None):
    """``cand`` itself, or — when more than :data:`MULTILOOK_FRACTION` of the valid pixels are candidates, as
    on a multilooked or interferogram-derived stack where D_A no longer tells point scatterers apart — only
    the pixels with D_A at or below the :data:`MULTILOOK_PERCENTILE` percentile, with a warning."""
    if cand.n_valid == 0 or cand.size <= MULTILOOK_FRACTION * cand.n_valid:
        return cand
    k = max(1, int(np.ceil(cand.n_valid * MULTILOOK_PERCENTILE / 100.0)))
    cut = float(np.partition(cand.dispersion, k - 1)[k - 1])  # k < cand.size: the k lowest D_A are candidates
    keep = cand.dispersion <= cut
    ensure(progress).warn(
        f"{cand.size} of {cand.n_valid} pixels ({100.0 * cand.size / cand.n_valid:.0f} %) have an amplitude "
        f"dispersion below {dispersion_threshold:g}: the stack looks multilooked or interferogram-derived, where "
        f"D_A does not single out point scatterers; the candidates are instead the {int(keep.sum())} pixels of "
        f"lowest D_A ({MULTILOOK_PERCENTILE:g}th percentile, D_A ≤ {cut:.3f}).")
    return Candidates(
        lines=cand.lines[keep], pixels=cand.pixels[keep], dispersion=cand.dispersion[keep],
        mean_amplitude=cand.mean_amplitude[keep], phasors=None if cand.phasors is None else cand.phasors[keep],
        calibration=cand.calibration, n_pixels=cand.n_pixels, n_valid=cand.n_valid, selection="percentile")
