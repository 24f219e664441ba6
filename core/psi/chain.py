"""The persistent-scatterer chain: stack folder → measurement points in the EGMS schema.

:func:`compute_velocities` strings the steps together and returns numpy
columns; writing them is the caller's business (``egms:computevelocities``
writes a GeoPackage).  Memory is bounded by the block size: the stack is read
once in row blocks (amplitude statistics and the candidates' phasors in the
same pass), everything after works on the candidates only.

Steps and where they live:

1. candidates — :func:`~egms_plugin.core.sar.amplitude.scan_stack` (D_A below the threshold);
2. arcs — :func:`.network.build_network` (Delaunay + nearest neighbours, maximum length);
3. arc parameters — :func:`.arcs.estimate_arc_parameters` (γ maximisation over Δv, Δh);
4. cleaning — :func:`.cleaning.clean_network`: candidates without a coherent arc out, the network
   rebuilt on the rest, rejected candidates re-admitted when they have two coherent arcs to accepted
   points (densification), the largest coherent component kept; after integration
   (:func:`.cleaning.integrate_network`), arcs whose coherence with the integrated parameters is
   low are dropped and the integration repeated — points isolated by that are
   dropped, never tied in by an incoherent arc (a patch moving faster than the
   unwrapping limit is a separate component and is dropped);
5. integration — :class:`.integration.NetworkSolver` (γ-weighted least squares);
6. time series — residual phases unwrapped on the network date by date, each
   point's own phase then taken with the ambiguity of the network solution
   (:func:`.integration.unwrap_residual_phases`, :func:`.integration.own_phases`);
7. atmosphere — :func:`.atmosphere.estimate_aps` (smooth in space, random in time)
   removed; height error re-estimated on the corrected series (:func:`.heights.heights_and_screen`);
8. selection — temporal coherence of every point's phase against its model
   and the spatially smooth signal of its neighbours (StaMPS-style), then the
   EGMS statistics (:func:`~egms_plugin.core.egms.stats.egms_statistics`), the RMSE cap and the
   spatial reference (:func:`.reference.reference_series`: median of all points, or the point nearest
   to a given position); the columns (:func:`.columns.measurement_point_columns`).

Steps 2–7 run at once on all candidates (:func:`.measure.measure_candidates`), or patch by patch
when their phases do not fit in the memory budget (:func:`.patches.measure_patches`).

Signs and units follow :mod:`egms_plugin.core.conventions` (ARCHITECTURE.md §Conventions):
interferometric phase ``arg(s_first · conj(s_k))``, LOS displacement in mm positive towards the
satellite, first date 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from ..progress import Stages, ensure
from .columns import ATTRIBUTE_FIELDS, measurement_point_columns
from .ds import DEFAULT_SHP_TEST
from .geometry import acquisition_geometry
from .measure import INTEGRATION_STAGE, MIN_POINTS, NETWORK_STAGE, SERIES_STAGE, measure_candidates
from .network import local_metric_coordinates
from .patches import MIN_PATCH_CANDIDATES, measure_patches
from .reference import reference_series

__all__ = ["ATTRIBUTE_FIELDS", "STAGES", "PsiParameters", "PsiResult", "compute_velocities"]

BYTES_PER_CANDIDATE_DATE = 160
"""Peak working memory of the chain per candidate and date (measured: 1127 MB for 120 272 candidates × 60
dates, including the read buffer and the interpreter)."""
READ_STAGE = "read stack, amplitude statistics, candidates"
PRODUCTS_STAGE = "statistics and products"
STAGES = ((READ_STAGE, 0.55), (NETWORK_STAGE, 0.2), (INTEGRATION_STAGE, 0.08), (SERIES_STAGE, 0.1),
          (PRODUCTS_STAGE, 0.07))
"""The chain's stages and their shares of the progress bar, in order."""


@dataclass
class PsiParameters:
    """Parameters of :func:`compute_velocities` (defaults are the EGMS-like settings)."""

    dispersion_threshold: float = 0.25
    """Candidates have amplitude dispersion below this (EGMS: 0.25)."""
    coherence_threshold: float = 0.7
    """Final selection on temporal coherence (EGMS quotes 0.7; with ≥ 24 dates a random phase
    reaches it with probability < 1e−5, the EGMS false-alarm target)."""
    max_rmse_mm: float = 5.0
    """Final selection: RMSE of the cubic + seasonal fit (mm); 0 disables."""
    max_arc_length_m: float = 1000.0
    neighbours: int = 6
    """Nearest neighbours added to the Delaunay arcs of every point (redundancy; 4, 6 and 8 give the same
    accuracy on the simulated stacks, 6 costs 18 % fewer arcs than 8)."""
    max_velocity_diff: float = 60.0
    """mm/yr searched on an arc (±)."""
    max_height_diff: float = 60.0
    """m of height-error difference searched on an arc (±)."""
    arc_coherence_threshold: float = 0.5
    """Arcs below this temporal coherence are not used (raised automatically for short stacks)."""
    aps_filter_m: float = 0.0
    """σ of the spatial Gaussian of the atmospheric filter (m); 0: automatic, twice the median
    distance between neighbouring points, at least 100 m."""
    height_filter_m: float = 400.0
    """σ of the spatial Gaussian separating smooth atmosphere from scatterers' height errors (m)."""
    aps_window_days: float = 90.0
    """σ of the temporal Gaussian that separates non-linear motion from atmosphere (days)."""
    calibrate_amplitude: bool = False
    block_size_mb: float = 256.0
    """Memory for one block of rows of every date while reading the stack (MB)."""
    memory_mb: float = 2048.0
    """Memory for the candidates measured at once (MB): when their phases and working arrays would need
    more (about :data:`BYTES_PER_CANDIDATE_DATE` per candidate and date), the scene is measured in
    overlapping patches that are tied together on their common points."""
    reference_lonlat: tuple | None = None
    """(lon, lat) WGS84 of the reference position; None: median of all points."""
    estimate_height: bool = True
    """Estimate height errors when the stack has baselines and the geometry is known."""
    scatterers: str = "ps"
    """``"ps"``: persistent scatterers only; ``"ps_ds"``: also distributed scatterers (:mod:`.ds`)."""
    ds_window_rows: int = 11
    """DS: SHP window height (odd, pixels)."""
    ds_window_cols: int = 11
    """DS: SHP window width (odd, pixels)."""
    ds_alpha: float = 0.05
    """DS: significance of the SHP test."""
    ds_test: str = DEFAULT_SHP_TEST
    """DS: SHP test, ``"glrt"`` (power means of Rayleigh amplitudes) or ``"ks"`` (Kolmogorov–Smirnov)."""
    ds_min_shp: int = 20
    """DS: fewest SHPs (centre included)."""
    ds_coherence: float = 0.5
    """DS: fewest phase-linking temporal coherence."""
    ds_cell_m: float = 100.0
    """DS: at most one DS per grid cell of this size (m)."""

    def ds_parameters(self):
        """The :class:`.ds.scan.DsParameters` of these parameters."""
        from .ds.scan import DsParameters

        return DsParameters(window_rows=self.ds_window_rows, window_cols=self.ds_window_cols, alpha=self.ds_alpha,
                            test=self.ds_test, min_shp=self.ds_min_shp, coherence=self.ds_coherence, cell_m=self.ds_cell_m)


@dataclass
class PsiResult:
    """Columns of the measurement points in the order of :data:`.columns.ATTRIBUTE_FIELDS` (the EGMS Basic
    schema) followed by the date fields, and what happened."""

    columns: dict
    lon: np.ndarray
    lat: np.ndarray
    dates: list
    date_fields: list
    timings: dict = field(default_factory=dict)
    counts: dict = field(default_factory=dict)
    messages: list = field(default_factory=list)
    reference: dict = field(default_factory=dict)

    @property
    def n_points(self):
        return int(self.lon.size)


def compute_velocities(stack, params: PsiParameters | None = None, progress=None):
    """Run the PSI chain on a :class:`~egms_plugin.core.sar.stack.StackFolder`; returns a :class:`PsiResult`.

    Raises :class:`~egms_plugin.core.errors.InputError` when nothing can be measured (no
    candidate, no coherent network, no coherent point), naming the stack and
    the threshold to change; :class:`~egms_plugin.core.errors.Cancelled` when cancelled.
    """
    from ..egms.stats import egms_statistics
    from ..jit import CHAIN_KERNEL_MODULES, DS_KERNEL_MODULES, announce_compilation
    from ..sar.amplitude import scan_stack

    p = params or PsiParameters()
    progress = ensure(progress)
    announce_compilation(progress, CHAIN_KERNEL_MODULES + (DS_KERNEL_MODULES if p.scatterers == "ps_ds" else ()))
    stages = Stages(progress, STAGES)
    wavelength = float(stack.geometry.wavelength_m)
    messages = list(stack.warnings)
    for w in stack.warnings:
        progress.warn(w)
    if not stack.georeferenced:
        raise InputError(f"{stack.folder}: cannot georeference — the SLCs carry no CRS/geotransform and the folder "
                         "has no lat*/lon* rasters (WGS84 degrees per pixel).")
    n_dates = stack.n_dates
    counts = {}

    # 1. one pass over the stack (and one more for distributed scatterers) ---------------------
    if p.scatterers not in ("ps", "ps_ds"):
        raise InputError(f"scatterers {p.scatterers!r}: expected 'ps' or 'ps_ds'.")
    with_ds = p.scatterers == "ps_ds"
    ds_params = p.ds_parameters() if with_ds else None
    if ds_params is not None:
        ds_params.validate(stack)  # before the long read
    span = stages.begin(READ_STAGE)
    limit = max(MIN_PATCH_CANDIDATES, int(p.memory_mb * 2**20 / (BYTES_PER_CANDIDATE_DATE * n_dates)))
    cand = scan_stack(stack, p.dispersion_threshold, p.calibrate_amplitude, p.block_size_mb, keep_phasors=True,
                      phasor_limit=limit, progress=span.span(0.0, 0.35) if with_ds else span)
    mp_type = np.zeros(cand.size, dtype=np.int64)
    if with_ds:
        cand, mp_type = _with_distributed_scatterers(stack, cand, ds_params, p, span.span(0.35, 1.0), counts)
    stages.end()
    counts["pixels"] = cand.n_pixels
    counts["candidates"] = cand.size
    progress.info(f"{cand.size} candidates with amplitude dispersion < {p.dispersion_threshold:g} "
                  f"({100.0 * cand.size / max(cand.n_pixels, 1):.2f} % of {cand.n_pixels} pixels)")
    if cand.size < MIN_POINTS:
        raise InputError(f"{stack.folder}: only {cand.size} pixel(s) have an amplitude dispersion below "
                         f"{p.dispersion_threshold:g}; nothing to measure. Raise DISPERSION_THRESHOLD or check the stack.")

    # 2–7. network, arcs, integration, time series, atmosphere: at once, or patch by patch ------
    lon, lat = stack.lonlat(cand.lines, cand.pixels)
    lon, lat = np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    centre = (float(np.median(lon)), float(np.median(lat)))
    x, y = local_metric_coordinates(lon, lat, centre)
    geometry = acquisition_geometry(stack, cand.lines, cand.pixels, p, progress)
    if cand.phasors is not None:
        idx, series, u = measure_candidates(stack, cand.phasors, x, y, geometry, p, wavelength, stages, counts)
        cand.phasors = None
    else:
        idx, series, u = measure_patches(stack, cand, x, y, geometry, p, wavelength, stages, counts, limit,
                                         READ_STAGE)

    # 8. products -------------------------------------------------------------------------------
    span = stages.begin(PRODUCTS_STAGE)
    xs, ys = x[idx], y[idx]
    d, ref_info = reference_series(series, p.reference_lonlat, xs, ys, centre, progress)
    stats = egms_statistics(d, stack.dates, wavelength)
    final = stats["temporal_coherence"] >= p.coherence_threshold
    if p.max_rmse_mm and p.max_rmse_mm > 0:
        final &= stats["rmse"] <= p.max_rmse_mm
    counts["rejected_by_statistics"] = int((~final).sum())
    if final.sum() < MIN_POINTS:
        stages.end()
        raise InputError(f"{stack.folder}: no point passes the final selection (temporal coherence ≥ "
                         f"{p.coherence_threshold:g}, RMSE ≤ {p.max_rmse_mm:g} mm); nothing is written.")
    if not final.all():
        series, idx, xs, ys = series[final], idx[final], xs[final], ys[final]
        u = u[final] if u is not None else None
        d, ref_info = reference_series(series, p.reference_lonlat, xs, ys, centre, progress)
        stats = egms_statistics(d, stack.dates, wavelength, progress=span)
    if ref_info.get("mode") == "point":
        i = ref_info["index"]
        ref_info.update(line=int(cand.lines[idx[i]]), pixel=int(cand.pixels[idx[i]]))
    counts["points"] = int(idx.size)

    columns = measurement_point_columns(stack, cand, idx, lon, lat, geometry, stats, u, d)
    columns["mp_type"] = mp_type[idx]
    if with_ds:
        counts["ds_points"] = int((mp_type[idx] > 0).sum())
    stages.end()
    progress.update(1.0)
    date_fields = list(stack.date_strings)
    return PsiResult(columns=columns, lon=lon[idx], lat=lat[idx], dates=list(stack.dates), date_fields=date_fields,
                     timings=stages.timings, counts=counts, messages=messages, reference=ref_info)


def _with_distributed_scatterers(stack, cand, ds_params, p, progress, counts):
    """The candidates followed by the distributed scatterers (:func:`.ds.scan.find_distributed_scatterers`), and
    the ``mp_type`` of all (0 for the PS candidates, the DS area in m² for the DS)."""
    from dataclasses import replace

    from .ds.scan import find_distributed_scatterers

    mp_type = np.zeros(cand.size, dtype=np.int64)
    if cand.phasors is None:
        progress.warn("distributed scatterers are not searched: the scene is measured in patches (more candidates "
                      "than MEMORY_MB holds); raise MEMORY_MB to add them.")
        return cand, mp_type
    ds = find_distributed_scatterers(stack, ds_params, cand.lines, cand.pixels, p.block_size_mb, progress)
    counts["ds_candidates"] = ds.size
    progress.info(f"{ds.size} distributed scatterers (one per {ds_params.cell_m:g} m cell of {ds.n_eligible_cells} with "
                  f"≥ {ds_params.min_shp} homogeneous pixels, phase-linking coherence ≥ {ds_params.coherence:g})")
    if not ds.size:
        return cand, mp_type
    cand = replace(cand, lines=np.concatenate([cand.lines, ds.lines]), pixels=np.concatenate([cand.pixels, ds.pixels]),
                   dispersion=np.concatenate([cand.dispersion, ds.dispersion]),
                   mean_amplitude=np.concatenate([cand.mean_amplitude, ds.mean_amplitude]),
                   phasors=np.concatenate([cand.phasors, ds.phasors]))
    return cand, np.concatenate([mp_type, ds.mp_type])
