"""The units of each job and the task a worker runs on one unit (core API only; no QGIS on the workers).

A :class:`Unit` is what one task does: one stack (``computevelocities``), one EGMS file (``importegms``) or one
tile (``decompose``).  :func:`run_unit` runs it: the output lock of :mod:`core.io.guard` (a killed worker's
temporaries are swept by the next writer), the core function, the output written by the core's writer under a
temporary name renamed when complete (:mod:`core.io.atomic`) — and returns a :class:`UnitResult` instead of
raising, so a failed unit never stops the others.  :func:`output_complete` tells a finished unit's output from a
missing or broken one (resuming).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from ..core.errors import Cancelled, EgmsError, InputError
from .tiles import check_tile_size, in_tile, polygon_wkt

JOBS = ("computevelocities", "importegms", "decompose")
DECOMPOSE_LAYERS = ("up", "east")
"""The layers of a decompose tile's GeoPackage: vertical (U) and east–west (E) L3 points."""


@dataclass
class Unit:
    """One task: ``name`` (its output is ``<name>.gpkg``), ``inputs`` (files or folders), ``bounds`` (a tile's
    rectangle in EPSG:3035), ``tile`` (tx, ty)."""

    name: str
    inputs: list
    bounds: tuple | None = None
    tile: tuple | None = None


@dataclass
class UnitResult:
    """What happened to one unit (a row of the index)."""

    name: str
    status: str
    """``done``, ``failed`` or ``skipped`` (output already complete, or nothing to compute in the unit)."""
    message: str = ""
    n_points: int = 0
    seconds: float = 0.0
    output: str = ""
    footprint: str | None = None
    """WKT polygon in EPSG:3035 (a stack's corners, a file's or tile's extent), or None when unknown."""
    host: str = ""
    pid: int = 0
    extra: dict = field(default_factory=dict)


def output_path(output_dir, unit):
    return os.path.join(os.path.abspath(output_dir), f"{unit.name}.gpkg")


def expected_layers(job, unit):
    return list(DECOMPOSE_LAYERS) if job == "decompose" else [unit.name]


def output_complete(job, unit, output_dir):
    """``(n_points, extent)`` of a complete output of ``unit`` (it exists — the writers rename only complete files
    into place —, opens as a GeoPackage and holds its layers with a known feature count), else None."""
    path = output_path(output_dir, unit)
    if not os.path.isfile(path):
        return None
    from ..core.io.gpkg import ogr_modules

    ogr, _osr = ogr_modules()
    try:
        ds = ogr.Open(path)
        if ds is None:
            return None
        n, extent = 0, None
        for name in expected_layers(job, unit):
            lyr = ds.GetLayerByName(name)
            if lyr is None:
                return None
            count = lyr.GetFeatureCount(force=0)
            if count < 0:
                return None
            n = n if job == "decompose" and name != "up" else n + count
            if count and extent is None:
                x0, x1, y0, y1 = lyr.GetExtent()
                extent = (x0, y0, x1, y1)
        return n, extent
    except RuntimeError:
        return None


def describe_error(exc):
    """One line for the index: the user's problem as the core words it, never a traceback."""
    from ..core.io.space import disk_full_error, is_disk_full

    if isinstance(exc, InputError | EgmsError):
        return str(exc)
    if is_disk_full(exc):
        return str(disk_full_error(getattr(exc, "filename", None) or "output"))
    if isinstance(exc, Cancelled):
        return "cancelled"
    if isinstance(exc, MemoryError):
        return "out of memory — reduce BLOCK_SIZE_MB / MEMORY_MB or run fewer workers per machine"
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror or exc} — the file system refused the operation"
    return f"failed unexpectedly: {type(exc).__name__}: {exc}{_where(exc)}"


def _where(exc):
    """`` (at <file>:<line> in <function>)`` of the innermost frame that raised ``exc`` — one line a bug report can
    quote (paths relative to the plugin folder), not a traceback; empty when there is none."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ is not None else []
    if not frames:
        return ""
    last = frames[-1]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.path.relpath(last.filename, root) if last.filename.startswith(root + os.sep) else os.path.basename(
        last.filename)
    return f" (at {path}:{last.lineno} in {last.name})"


def run_unit(job, unit, params, output_dir, options=None):
    """Run ``job`` on ``unit`` (on a worker) and write ``DIR/<unit>.gpkg``; returns a :class:`UnitResult`."""
    import socket

    from ..core.io.guard import OutputLocks

    t0 = time.perf_counter()
    out = output_path(output_dir, unit)
    result = UnitResult(unit.name, "failed", output=out, host=socket.gethostname(), pid=os.getpid(),
                        footprint=polygon_wkt(unit.bounds) if unit.bounds else None)
    try:
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with OutputLocks([(unit.name, out)]):
            RUNNERS[job](unit, params, out, result, options or {})
        if result.status == "failed":
            result.status = "done"
    except Exception as exc:  # noqa: BLE001 - every failure becomes the unit's message; the others go on
        result.status, result.message = "failed", describe_error(exc)
    except KeyboardInterrupt:
        result.status, result.message = "failed", "cancelled"
    result.seconds = time.perf_counter() - t0
    if result.status != "done":
        result.output = "" if not os.path.exists(out) else out
    return result


# ------------------------------------------------------------------------------ computevelocities
def psi_parameters(params):
    """The :class:`~..core.psi.chain.PsiParameters` and output CRS of the computevelocities ``NAME=value``."""
    from ..core.psi.chain import PsiParameters

    fields = {"DISPERSION_THRESHOLD": "dispersion_threshold", "COHERENCE_THRESHOLD": "coherence_threshold",
              "MAX_RMSE": "max_rmse_mm", "MAX_ARC_LENGTH": "max_arc_length_m", "MAX_VELOCITY_DIFF": "max_velocity_diff",
              "MAX_HEIGHT_DIFF": "max_height_diff", "APS_FILTER": "aps_filter_m", "APS_TIME_WINDOW": "aps_window_days",
              "CALIBRATE_AMPLITUDE": "calibrate_amplitude", "BLOCK_SIZE_MB": "block_size_mb", "MEMORY_MB": "memory_mb",
              "DS_WINDOW_ROWS": "ds_window_rows", "DS_WINDOW_COLS": "ds_window_cols", "DS_SIGNIFICANCE": "ds_alpha",
              "DS_MIN_SHP": "ds_min_shp", "DS_COHERENCE": "ds_coherence", "DS_CELL_SIZE": "ds_cell_m"}
    kwargs = {fields[k]: v for k, v in params.items() if k in fields and v is not None}
    crs = params.get("OUTPUT_CRS") or "EPSG:3035"
    if params.get("SCATTERERS") is not None:
        kwargs["scatterers"] = ("ps", "ps_ds")[params["SCATTERERS"]]
    if params.get("DS_SHP_TEST") is not None:
        from ..core.psi.ds import SHP_TESTS

        kwargs["ds_test"] = SHP_TESTS[params["DS_SHP_TEST"]]
    if params.get("REFERENCE") is not None:
        from pyproj import Transformer

        x, y, point_crs = params["REFERENCE"]
        lon, lat = Transformer.from_crs(point_crs or crs, "EPSG:4326", always_xy=True).transform(x, y)
        kwargs["reference_lonlat"] = (float(lon), float(lat))
    return PsiParameters(**kwargs), crs


def effective_parameters(job, params):
    """The values a job's outputs depend on, defaults filled in (``MAX_RMSE`` not given and ``MAX_RMSE=<default>``
    are the same run); what only bounds memory per block (``BLOCK_SIZE_MB``) is left out."""
    import dataclasses

    from ..core.products import ortho

    if job == "computevelocities":
        psi, crs = psi_parameters(params)
        values = {k: v for k, v in dataclasses.asdict(psi).items() if k != "block_size_mb"}
        return {**values, "output_crs": crs}
    if job == "decompose":
        return {"cell": float(params.get("CELL_SIZE") or ortho.DEFAULT_CELL_SIZE),
                "max_condition": params.get("MAX_CONDITION") or ortho.DEFAULT_MAX_CONDITION,
                "max_extrapolation": params.get("MAX_EXTRAPOLATION"), "gnss": params.get("GNSS"),
                "ascending": params.get("ASCENDING"), "descending": params.get("DESCENDING")}
    return dict(params)


def stack_footprint(stack):
    """WKT of the stack's corner pixels' polygon in EPSG:3035, or None when it cannot be told."""
    try:
        import numpy as np

        from ..core.geo import project_lonlat

        rows, cols = stack.shape
        lines, pixels = np.array([0, 0, rows - 1, rows - 1]), np.array([0, cols - 1, cols - 1, 0])
        x, y = project_lonlat(*stack.lonlat(lines, pixels), "EPSG:3035")
        ring = ",".join(f"{float(a)!r} {float(b)!r}" for a, b in zip([*x, x[0]], [*y, y[0]]))  # numpy 2: no np.float64()
        return f"POLYGON (({ring}))"
    except Exception:  # noqa: BLE001 - the footprint is a courtesy; the chain reports the stack's problems
        return None


def _computevelocities(unit, params, out, result, _options):
    from ..core.psi.chain import compute_velocities
    from ..core.psi.output import write_measurement_points
    from ..core.sar.sources import open_stack

    polarisation = (params.get("POLARISATION") or "VV").strip().upper()
    if polarisation not in ("VV", "VH", "HH", "HV"):
        raise InputError(f"POLARISATION: {polarisation!r} is not one of VV, VH, HH, HV.")
    psi, crs = psi_parameters(params)
    stack = open_stack(unit.inputs[0], polarisation=polarisation, wavelength_m=params.get("WAVELENGTH"),
                       incidence_deg=params.get("INCIDENCE_ANGLE"), heading_deg=params.get("HEADING"),
                       slant_range_m=params.get("SLANT_RANGE"))
    result.footprint = stack_footprint(stack)
    chain = compute_velocities(stack, psi)
    write_measurement_points(out, chain, stack, crs)
    result.n_points = chain.n_points
    result.extra = {"candidates": chain.counts.get("candidates", 0)}


# ------------------------------------------------------------------------------ importegms
def _importegms(unit, _params, out, result, _options):
    from ..core.egms.importer import import_egms

    imported = import_egms(unit.inputs, out)
    result.n_points = imported.n_points
    done = output_complete("importegms", unit, os.path.dirname(out))
    if done and done[1]:
        result.footprint = polygon_wkt(done[1])


# ------------------------------------------------------------------------------ decompose
def _decompose(unit, params, out, result, options):
    """One tile: from every input layer the points whose cell lies in the tile (read through the R-tree with a
    bbox one cell larger than the tile), decomposed on the epochs common to the whole inputs (``options``), both
    components written as the layers ``up`` and ``east`` of one GeoPackage."""
    from ..core.io.atomic import PendingFile
    from ..core.io.points import read_points, write_points
    from ..core.products import ortho
    from ..core.products.gnss import read_aepnd_csv

    cell = float(params.get("CELL_SIZE") or ortho.DEFAULT_CELL_SIZE)
    k = check_tile_size(options["tile_m"], cell)
    gnss = read_aepnd_csv(params["GNSS"]) if params.get("GNSS") else None
    condition = params.get("MAX_CONDITION") or ortho.DEFAULT_MAX_CONDITION
    decomposer = ortho.OrthoDecomposer(options["epochs"], cell, gnss, condition, params.get("MAX_EXTRAPOLATION"))
    x0, y0, x1, y1 = unit.bounds
    bbox = (x0 - cell, y0 - cell, x1 + cell, y1 + cell)
    orbits, counts = set(), {}
    for path, name, orbit in unit.inputs:
        plan = ortho.plan_layer(name, options["fields"][path], orbit)
        table = read_points(path, columns=plan.columns, bbox=bbox)
        keep = in_tile(table.x, table.y, *unit.tile, cell, k)
        counts[name] = int(keep.sum())
        if not keep.any():
            continue
        table.columns = {n: v[keep] for n, v in table.columns.items()}
        table.x, table.y = table.x[keep], table.y[keep]
        orbits.add(plan.add_to(decomposer, table))
    missing = {"ascending", "descending"} - orbits
    if missing:
        result.status, result.message = "skipped", f"no {' and no '.join(sorted(missing))} point in the tile"
        return
    solved = decomposer.solve()
    if solved.n_cells == 0:
        result.status, result.message = "skipped", "no cell of the tile is seen from both orbit directions"
        return
    pending = PendingFile(out, ".gpkg")
    try:
        for component in DECOMPOSE_LAYERS:
            write_points(pending.tmp, ortho.l3_table(solved, component, {"egms_tile": unit.name}), layer=component,
                         add_layer=True)
        pending.commit()
    except BaseException:
        pending.discard()
        raise
    result.n_points = solved.n_cells
    result.message = (f"{solved.n_cells} cells; dropped {solved.n_cells_one_orbit} seen from one orbit direction, "
                      f"{solved.n_cells_ill_conditioned} ill-conditioned")


RUNNERS = {"computevelocities": _computevelocities, "importegms": _importegms, "decompose": _decompose}
