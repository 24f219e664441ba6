"""Multilooked interferograms and coherence of a pair network, in one fused pass per block.

For a pair ``(i, k)`` (i earlier than k) and a window of ``row_looks × col_looks``
pixels, with ``S = Σ s_i · conj(s_k)`` over the window:

* phase  ``φ_ik = arg S`` (rad, wrapped to (−π, π]); by ARCHITECTURE.md §Conventions
  ``d_k − d_i = −λ/(4π) · φ_ik`` (LOS, positive towards the satellite);
* coherence ``γ_ik = |S| / sqrt(Σ|s_i|² · Σ|s_k|²)`` in [0, 1].

A window where either date is all zero (no data, or a masked border) has
coherence 0 and phase 0; NaN or infinite SLC values count as 0 (no data), so
they never spread into a NaN output.  Rows and columns beyond the last whole window are
dropped: the output has ``rows // row_looks`` rows and ``cols // col_looks``
columns, and output pixel (r, c) covers input rows
``[r·row_looks, (r+1)·row_looks)`` and columns ``[c·col_looks, (c+1)·col_looks)``.

:func:`multilook_interferograms` does one block held in memory, in float32
(float32 precision: each sum is within the float32 dot-product bound
γ_2n·Σ|s_i||s_k| of the exact sum, n = looks; windows whose power would overflow
or underflow float32 are rescaled first); :func:`form_interferograms` runs a
whole stack folder block by block and writes one GeoTIFF per pair plus
``pairs.csv``.

Example
-------
>>> import numpy as np
>>> slc = np.ones((3, 4, 4), np.complex64) * np.exp(1j * np.array([0.0, 0.5, 1.0]))[:, None, None]
>>> phase, coherence = multilook_interferograms(slc, [(0, 1), (0, 2)], 2, 2)
>>> phase.shape, round(float(phase[1, 0, 0]), 6), float(coherence[0, 0, 0])
((2, 2, 2), -1.0, 1.0)
"""

from __future__ import annotations

import csv
import os
import re

import numpy as np

from ..conventions import day_numbers
from ..errors import InputError
from ..geo import scaled_transform
from ..io.atomic import folder_on_success
from ..io.space import check_free_space
from ..progress import ensure
from ._interferogram_kernel import fill_interferograms
from .pairs import build_network, parse_reference_date

DEFAULT_BLOCK_MB = 256.0
"""Default memory budget of one block (SLCs of all dates + per-pair outputs)."""
RADAR_LOOKS = (2, 8)
"""Default (row, column) looks of a stack in radar geometry: Sentinel-1 IW pixels are about 14 m
(azimuth) × 3.7 m (ground range), so 2 × 8 looks give about 28 m × 30 m on the ground."""
TARGET_LOOK_SIZE_M = 30.0
"""Default looks of a geocoded stack: the number of pixels nearest this size (m) along each axis."""
MAX_OPEN_FILES = 256
"""Pair files kept open between blocks; larger networks reopen each file per block."""
_METRES_PER_DEGREE = 111_320.0
_OUTPUT_RE = re.compile(r"^(\d{8}_\d{8}\.tif(\.aux\.xml)?|pairs\.csv)$")


# ------------------------------------------------------------------ one block
def multilooked_shape(shape, row_looks, col_looks):
    """Output ``(rows, cols)`` of an input ``(rows, cols)``: the remainder rows/columns are dropped."""
    return shape[0] // row_looks, shape[1] // col_looks


def _check_looks(row_looks, col_looks):
    for name, value in (("row looks", row_looks), ("column looks", col_looks)):
        if int(value) != value or value < 1:
            raise InputError(f"{name} = {value}: looks must be whole numbers ≥ 1.")
    return int(row_looks), int(col_looks)


def multilook_interferograms(slc, pairs, row_looks=1, col_looks=1, phase=None, coherence=None):
    """Multilooked phase and coherence of every pair of an SLC block.

    Parameters
    ----------
    slc : complex array (n_dates, rows, cols)
        SLC values of all dates (complex64; other complex types are converted).
        Not modified.
    pairs : int array-like (n_pairs, 2)
        Date indices ``(i, k)``; the interferogram is ``s_i · conj(s_k)``.
    row_looks, col_looks : int
        Window size; rows/cols beyond the last whole window are ignored.
    phase, coherence : float32 arrays (n_pairs, rows // row_looks, cols // col_looks), optional
        Output arrays to fill (allocated when None).

    Returns
    -------
    phase : float32, rad in (−π, π]; 0 where a window is all zero in either date.
    coherence : float32 in [0, 1]; 0 where a window is all zero in either date.

    Computed in float32: with n = row_looks · col_looks, T = Σ|s_i||s_k| and u = 2^-24,
    the coherence is within √2·γ_2n·T/√(Σ|s_i|²Σ|s_k|²) + (γ_2n + 10u)·γ of the exact value
    (γ_2n = 2n·u/(1 − 2n·u)) and the phase within √2·γ_2n·T/|S| + 2 ulp(π) rad.
    A pair (i, i) has phase 0 exactly and (k, i) the opposite phase of (i, k).
    """
    slc = np.asarray(slc)
    if slc.ndim != 3 or not np.iscomplexobj(slc):
        raise InputError(f"SLC block: expected a complex (dates, rows, cols) array, got {slc.dtype} {slc.shape}.")
    slc = np.ascontiguousarray(slc, dtype=np.complex64)
    row_looks, col_looks = _check_looks(row_looks, col_looks)
    pairs = np.ascontiguousarray(np.asarray(pairs, dtype=np.int64).reshape(-1, 2))
    n_dates = slc.shape[0]
    if pairs.size and (pairs.min() < 0 or pairs.max() >= n_dates):
        raise InputError(f"pairs: date indices must be in 0…{n_dates - 1}.")
    out_rows, out_cols = multilooked_shape(slc.shape[1:], row_looks, col_looks)
    if out_rows == 0 or out_cols == 0:
        raise InputError(
            f"looks {row_looks} × {col_looks} (rows × columns) exceed the block of "
            f"{slc.shape[1]} rows × {slc.shape[2]} columns."
        )
    shape = (len(pairs), out_rows, out_cols)
    for name, arr in (("phase", phase), ("coherence", coherence)):
        if arr is not None and (arr.shape != shape or arr.dtype != np.float32 or not arr.flags.c_contiguous):
            raise InputError(f"{name}: output array must be C-contiguous float32 of shape {shape}.")
    phase = np.empty(shape, dtype=np.float32) if phase is None else phase
    coherence = np.empty(shape, dtype=np.float32) if coherence is None else coherence
    if len(pairs):
        fill_interferograms(slc, pairs, row_looks, col_looks, phase, coherence)
    return phase, coherence


# ------------------------------------------------------------------ defaults and block size
def default_looks(stack):
    """``(row_looks, col_looks)`` giving about 30 m × 30 m windows.

    Geocoded stack: per axis the number of pixels nearest 30 m (pixel size from
    the geotransform, degrees × 111.32 km for a geographic CRS), at least 1.
    Radar geometry (no CRS): :data:`RADAR_LOOKS` = 2 × 8, made for Sentinel-1 IW.
    """
    if not stack.geocoded:
        return RADAR_LOOKS
    t = stack.transform
    size_x, size_y = np.hypot(t.a, t.d), np.hypot(t.b, t.e)
    if stack.crs.is_geographic:
        size_x, size_y = size_x * _METRES_PER_DEGREE, size_y * _METRES_PER_DEGREE
    else:
        from rasterio.errors import CRSError

        try:
            unit = float(stack.crs.linear_units_factor[1])
        except (CRSError, AttributeError, TypeError, ValueError):  # a CRS without a linear unit: assume metres
            unit = 1.0
        size_x, size_y = size_x * unit, size_y * unit
    return (max(1, int(TARGET_LOOK_SIZE_M / size_y + 0.5)), max(1, int(TARGET_LOOK_SIZE_M / size_x + 0.5)))


def block_rows(cols, n_dates, n_pairs, row_looks, col_looks, block_mb=DEFAULT_BLOCK_MB):
    """Input rows per block (a multiple of ``row_looks``, at least ``row_looks``) within ``block_mb``.

    Counts the complex64 SLCs of all dates (8 bytes per pixel-date) and the two
    float32 outputs per pair (8 bytes per multilooked pixel-pair).
    """
    windows = int(block_mb * 2**20 // window_row_bytes(cols, n_dates, n_pairs, row_looks, col_looks))
    return max(1, windows) * row_looks


def window_row_bytes(cols, n_dates, n_pairs, row_looks, col_looks):
    """Bytes of one row of windows: ``row_looks`` SLC rows of every date and one output row of every pair."""
    return row_looks * cols * n_dates * 8 + n_pairs * (cols // col_looks) * 8


# ------------------------------------------------------------------ the whole stack
def _check_output_folder(folder):
    """The output folder may be new, empty, or a previous interferogram output (replaced at the end)."""
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise InputError(f"{folder}: exists and is not a folder; choose a folder for the interferograms.")
    if os.path.isdir(folder):
        others = [n for n in os.listdir(folder) if not _OUTPUT_RE.match(n)]
        if others:
            raise InputError(
                f"{folder}: holds other files ({', '.join(sorted(others)[:5])}{' …' if len(others) > 5 else ''}); "
                "choose a new or empty folder (a previous interferogram output is replaced)."
            )


def _is_previous_output(folder):
    """True when every name in ``folder`` is one this function writes (the folder is then replaced)."""
    return all(_OUTPUT_RE.match(n) for n in os.listdir(folder))


GCP_SPACING = 16
"""Ground control points of a radar-geometry output: one every this many output pixels (and the last)."""


def radar_gcps(stack, out_rows, out_cols, row_looks, col_looks, spacing=GCP_SPACING):
    """Ground control points (WGS84 lon/lat of the lat/lon rasters) of a multilooked radar-geometry grid.

    Each GCP is an input pixel near a window's centre; its position in the output raster is that
    pixel's centre in output coordinates, ``((line + 0.5) / row_looks, (pixel + 0.5) / col_looks)``,
    so GDAL/QGIS warp the interferograms onto the map exactly where the SLC pixels are.
    """
    from rasterio.control import GroundControlPoint

    def axis(n_out, looks):
        out = np.unique(np.append(np.arange(0, n_out, spacing), n_out - 1))
        return out * looks + looks // 2

    lines, pixels = np.meshgrid(axis(out_rows, row_looks), axis(out_cols, col_looks), indexing="ij")
    lines, pixels = lines.ravel(), pixels.ravel()
    lon, lat = stack.lonlat(lines, pixels)
    ok = np.isfinite(lon) & np.isfinite(lat)
    return [GroundControlPoint(row=(r + 0.5) / row_looks, col=(c + 0.5) / col_looks, x=float(x), y=float(y), z=0.0)
            for r, c, x, y in zip(lines[ok], pixels[ok], lon[ok], lat[ok])]


def form_interferograms(stack, output_folder, network="sequential", reference_date=None, neighbours=3,
                        max_temporal_days=48.0, max_perpendicular_m=150.0, row_looks=None, col_looks=None,
                        block_mb=DEFAULT_BLOCK_MB, progress=None, phase_linking=None):
    """Write the multilooked interferograms of a network into ``output_folder``.

    Parameters
    ----------
    stack : :class:`~.stack.StackFolder` or str (stack folder)
    output_folder : str
        New, empty, or holding a previous output of this function (replaced).
        Everything is written into a temporary sibling folder and moved into
        place at the end, so a failed or cancelled run leaves nothing behind.
    network : one of :data:`.pairs.NETWORKS`
    reference_date : str ``YYYYMMDD`` or None
        Single-reference network only; None = the date nearest the middle of the time span.
    neighbours : int — sequential network: each date with its next ``neighbours``.
    max_temporal_days, max_perpendicular_m : float — small-baseline limits (B⊥ only with ``baselines.csv``).
    row_looks, col_looks : int or None — None: :func:`default_looks`.
    block_mb : float — memory budget of one block.
    phase_linking : :class:`~egms_plugin.core.psi.ds.scan.DsParameters` or None — form the pairs from the
        phase-linked histories instead (:mod:`egms_plugin.core.psi.ds.linked`: SHPs, coherence matrix, EMI at each
        window's centre; looks act as strides; coherence = the pair's sample coherence over the SHPs); blocks are
        read with a halo of half the SHP window.

    Writes ``<YYYYMMDD>_<YYYYMMDD>.tif`` per pair (earlier date first; Float32,
    band 1 wrapped phase rad, band 2 coherence; geotransform of a geocoded stack
    scaled by the looks; for a radar-geometry stack, WGS84 ground control points from its lat/lon
    rasters, :func:`radar_gcps`) and ``pairs.csv``
    (``reference,secondary,temporal_baseline_days,perpendicular_baseline_m,file``;
    the perpendicular baseline is B⊥,secondary − B⊥,reference, empty without
    ``baselines.csv``).

    Returns a dict: ``folder``, ``pairs`` (n_pairs, 2), ``files``, ``looks``,
    ``shape`` (multilooked rows, cols), ``dropped`` (rows, cols), ``block_rows``, ``warnings``.
    """
    from .amplitude import small_gdal_cache
    from .stack import StackFolder

    progress = ensure(progress)
    if not isinstance(stack, StackFolder):
        stack = StackFolder(stack)
    for message in stack.warnings:
        progress.warn(message)
    output_folder = os.path.abspath(os.fspath(output_folder))
    _check_output_folder(output_folder)

    ref_index = parse_reference_date(reference_date, stack.dates) if reference_date else None
    pairs, net_warnings = build_network(network, stack.dates, stack.bperp, ref_index, neighbours,
                                        max_temporal_days, max_perpendicular_m)
    for message in net_warnings:
        progress.warn(message)

    auto = default_looks(stack)
    row_looks, col_looks = _check_looks(row_looks or auto[0], col_looks or auto[1])
    rows, cols = stack.shape
    out_rows, out_cols = multilooked_shape(stack.shape, row_looks, col_looks)
    if out_rows == 0 or out_cols == 0:
        raise InputError(
            f"{stack.folder}: looks {row_looks} × {col_looks} (rows × columns) are larger than the image of "
            f"{rows} rows × {cols} columns."
        )
    dropped = (rows - out_rows * row_looks, cols - out_cols * col_looks)
    if any(dropped):
        progress.info(f"{dropped[0]} last row(s) and {dropped[1]} last column(s) do not fill a whole "
                      f"{row_looks} × {col_looks} window and are dropped.")
    if block_mb <= 0:
        raise InputError(f"block size {block_mb} MB must be positive.")
    halo = 0
    if phase_linking is not None:
        from ..psi.ds.linked import block_rows_linked

        phase_linking.validate(stack)
        halo = phase_linking.window_rows // 2
        n_block_rows = block_rows_linked(cols, stack.n_dates, len(pairs), row_looks, col_looks, halo, block_mb)
        needed_mb = (row_looks + 2 * halo) * cols * stack.n_dates * 16 / 2**20
    else:
        n_block_rows = block_rows(cols, stack.n_dates, len(pairs), row_looks, col_looks, block_mb)
        needed_mb = window_row_bytes(cols, stack.n_dates, len(pairs), row_looks, col_looks) / 2**20
    n_block_rows = min(n_block_rows, out_rows * row_looks)
    if needed_mb > block_mb:
        progress.warn(f"one row of windows needs {needed_mb:.1f} MB, more than the block size of {block_mb:g} MB; "
                      "using it anyway.")
    blocks = [(r0, min(r0 + n_block_rows, out_rows * row_looks)) for r0 in range(0, out_rows * row_looks, n_block_rows)]

    progress.info(f"{len(pairs)} pairs; looks {row_looks} × {col_looks} (rows × columns) → {out_cols} × {out_rows} "
                  f"pixels; {len(blocks)} block(s) of up to {n_block_rows} rows"
                  + (f" (with a halo of {halo} rows); phase linking over {phase_linking.window_cols} × "
                     f"{phase_linking.window_rows} SHP windows, looks as strides." if phase_linking else "."))
    names = stack.date_strings
    days = day_numbers(stack.dates)
    files = [f"{names[i]}_{names[k]}.tif" for i, k in pairs]
    geo = {}
    if stack.geocoded:
        geo = dict(crs=stack.crs, transform=scaled_transform(stack.transform, col_looks, row_looks))
    elif stack.lat_path is not None:
        geo = dict(gcps=radar_gcps(stack, out_rows, out_cols, row_looks, col_looks), crs="EPSG:4326")
    check_free_space(output_folder, len(pairs) * out_rows * out_cols * 2 * 4)

    with folder_on_success(output_folder, replace=_is_previous_output) as work:
        _write_pairs_csv(os.path.join(work, "pairs.csv"), pairs, names, days, stack.bperp, files)
        writers = _PairWriters(work, files, geo, (out_rows, out_cols), pairs, names, days, stack.bperp,
                               (row_looks, col_looks), MAX_OPEN_FILES, linked=phase_linking)
        try:
            with small_gdal_cache(), stack:
                for b, (r0, phase, coherence) in enumerate(_block_results(stack, blocks, pairs, row_looks, col_looks,
                                                                          out_cols, phase_linking)):
                    writers.write(phase, coherence, r0 // row_looks)
                    del phase, coherence
                    progress.update((b + 1) / len(blocks))
                    progress.check()
            writers.close()
        finally:
            writers.abandon()
        progress.check()
    return {
        "folder": output_folder,
        "pairs": pairs,
        "files": files,
        "looks": (row_looks, col_looks),
        "shape": (out_rows, out_cols),
        "dropped": dropped,
        "block_rows": n_block_rows,
        "warnings": list(stack.warnings) + net_warnings,
    }


def _block_results(stack, blocks, pairs, row_looks, col_looks, out_cols, phase_linking):
    """(first row, phase, coherence) of every block: multilooked, or from the linked phases (blocks with a halo)."""
    if phase_linking is None:
        for r0, r1 in blocks:
            slc = stack.read_block(r0, r1, 0, out_cols * col_looks)
            yield (r0, *multilook_interferograms(slc, pairs, row_looks, col_looks))
            del slc
        return
    from ..psi.ds.linked import linked_interferograms
    from ..psi.ds.scan import halo_blocks

    n_block_rows = blocks[0][1] - blocks[0][0]
    for r0, r1, h0, slc in halo_blocks(stack, n_block_rows, phase_linking.window_rows // 2, end=blocks[-1][1]):
        yield (r0, *linked_interferograms(slc, pairs, row_looks, col_looks, phase_linking, rows=(r0 - h0, r1 - h0),
                                          out_cols=out_cols))
        del slc


def _write_pairs_csv(path, pairs, names, days, bperp, files):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(["reference", "secondary", "temporal_baseline_days", "perpendicular_baseline_m", "file"])
        for (i, k), name in zip(pairs.tolist(), files):
            b = "" if bperp is None else f"{bperp[k] - bperp[i]:.3f}"
            out.writerow([names[i], names[k], int(days[k] - days[i]), b, name])


class _PairWriters:
    """One GeoTIFF per pair (:class:`..io.raster.GeoTiff`: every write and the close checked), written window
    by window and flushed after each, so GDAL's cache stays small and a full disk stops the run at the window
    that does not fit.

    Files stay open between blocks while there are few enough of them (``max_open``); beyond that each is
    reopened for every block, so a network of thousands of pairs never runs out of file handles.
    """

    def __init__(self, folder, files, geo, shape, pairs, names, days, bperp, looks, max_open, linked=None):
        from ..io.raster import GeoTiff

        self._geotiff = GeoTiff
        self.paths = [os.path.join(folder, f) for f in files]
        self.keep_open = len(files) <= max_open
        self.open = []
        rows, cols = shape
        for path, (i, k) in zip(self.paths, pairs.tolist()):
            tags = dict(
                REFERENCE_DATE=names[i], SECONDARY_DATE=names[k], TEMPORAL_BASELINE_DAYS=str(int(days[k] - days[i])),
                PERPENDICULAR_BASELINE_M="" if bperp is None else f"{bperp[k] - bperp[i]:.3f}",
                LOOKS_ROWS_COLS=f"{looks[0]} x {looks[1]}",
                CONVENTION="phase = arg(sum s_ref * conj(s_sec)); d_sec - d_ref = -wavelength/(4 pi) * phase",
            )
            if linked is not None:
                tags.update(PHASE_LINKING=f"EMI over SHPs of {linked.window_cols} x {linked.window_rows} windows "
                                          f"({linked.test.upper()} alpha {linked.alpha:g}); looks as strides",
                            CONVENTION="phase = arg(exp(j theta_ref) * conj(exp(j theta_sec))) of the linked phases; "
                                       "d_sec - d_ref = -wavelength/(4 pi) * phase; coherence = |C_ref,sec| over the SHPs")
            ds = GeoTiff(path, cols, rows, 2, np.float32, descriptions=["wrapped phase (rad)", "coherence"],
                         tags=tags, flush=True, **geo)
            if self.keep_open:
                self.open.append(ds)
            else:
                ds.close()

    def write(self, phase, coherence, row0):
        for p, path in enumerate(self.paths):
            ds = self.open[p] if self.keep_open else self._geotiff(path, update=True, flush=True)
            try:
                ds.write(phase[p], 1, row0=row0)
                ds.write(coherence[p], 2, row0=row0)
            except BaseException:
                ds.abandon()
                raise
            if not self.keep_open:
                ds.close()

    def close(self):
        """Close every file (checked: a block GDAL could not write raises)."""
        opened, self.open = self.open, []
        for ds in opened:
            ds.close()

    def abandon(self):
        opened, self.open = self.open, []
        for ds in opened:
            ds.abandon()


def read_pairs_csv(path):
    """Rows of a ``pairs.csv`` as dicts (strings), for checks and downstream tools."""
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


