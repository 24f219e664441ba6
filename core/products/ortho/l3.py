"""The outputs of the Ortho decomposition: L3-schema point tables and mean-velocity GeoTIFFs.

:func:`l3_table` turns a component (``"up"`` or ``"east"``) of an
:class:`~.decomposer.OrthoResult` into a :class:`~...io.points.PointTable` in
the EGMS L3 schema; :func:`write_velocity_geotiff` writes its mean velocity as
a cell-aligned Float32 GeoTIFF (as EGMS L3); :func:`write_outputs` writes
both components, points and rasters, as ``egms:decompose`` does.
"""

from __future__ import annotations

import numpy as np

from ...progress import ensure
from .decomposer import OrthoResult
from .epochs import GRID_ORIGIN, GRID_STEP_DAYS

COMPONENTS = ("up", "east")
"""The decomposed components: vertical (U, positive up) and east–west (E, positive east)."""

NODATA = -9999.0
"""No-data value of the velocity GeoTIFFs (as EGMS L3)."""


def velocity_grid(result: OrthoResult, component):
    """(array (rows, cols) float32 with :data:`NODATA`, rasterio transform) of a component's mean velocity.

    The grid is aligned to multiples of the cell size in EPSG:3035: the
    raster's top-left corner is (min ix · cell, (max iy + 1) · cell).
    """
    from rasterio.transform import from_origin

    values = {"up": result.stats_up, "east": result.stats_east}[component]["mean_velocity"]
    cell = result.cell_size
    col = result.ix - result.ix.min()
    row = result.iy.max() - result.iy
    grid = np.full((int(row.max()) + 1, int(col.max()) + 1), NODATA, dtype=np.float32)
    finite = np.isfinite(values)
    grid[row[finite], col[finite]] = values[finite].astype(np.float32)
    return grid, from_origin(result.ix.min() * cell, (result.iy.max() + 1) * cell, cell, cell)


def write_velocity_geotiff(path, result: OrthoResult, component, run_id=None):
    """Write the mean velocity (mm/yr) of ``component`` (``"up"`` or ``"east"``) as a Float32 GeoTIFF.

    EPSG:3035, cells aligned to the grid, nodata −9999, deflate-compressed;
    written to a temporary file and renamed, so a failure leaves nothing.
    """
    from ...io.raster import RasterOutput, creation_options

    grid, transform = velocity_grid(result, component)
    tags = dict(component={"up": "U (vertical, positive up)", "east": "E (east-west, positive east)"}[component],
                unit="mm/yr", epochs=f"{result.epochs[0]:%Y%m%d}-{result.epochs[-1]:%Y%m%d}")
    if run_id:
        tags["run_id"] = run_id
    rows, cols = grid.shape
    with RasterOutput(path, cols, rows, 1, np.float32, crs="EPSG:3035", transform=transform, nodata=NODATA,
                      descriptions=[f"mean_velocity_{component}"], tags=tags,
                      options=creation_options(cols, rows, tiled=True, compress="deflate")) as out:
        out.raster.write(grid)
    return path


L3_FIELDS = ("pid", "easting", "northing", "height", "rmse", "mean_velocity", "mean_velocity_std", "acceleration",
             "acceleration_std", "seasonality", "seasonality_std")
"""L3 attribute columns (ARCHITECTURE.md, EGMS format: columns), before the extra fields and the dates."""
EXTRA_FIELDS = ("propagated_velocity_std", "propagated_displacement_std", "n_points_asc", "n_points_desc",
                "n_geometries")
"""Fields this plugin adds to L3 layers: propagated precision (mm/yr, mm) and per-cell point counts."""


def l3_table(result: OrthoResult, component, metadata=None):
    """The ``"up"`` or ``"east"`` component as an L3-schema :class:`~...io.points.PointTable` (EPSG:3035 cell centres).

    Fields :data:`L3_FIELDS` (``pid`` from :func:`~...egms.pid.l3_pid`; ``easting``/``northing``
    integers when the cell centres are), then :data:`EXTRA_FIELDS`, then one
    field per epoch named ``YYYYMMDD`` (mm, first epoch 0).
    """
    from ...egms.pid import l3_pid
    from ...io.points import PointTable

    stats = {"up": result.stats_up, "east": result.stats_east}[component]
    series = {"up": result.up, "east": result.east}[component]
    e, n = result.easting, result.northing
    integral = np.all(e == np.round(e)) and np.all(n == np.round(n))
    columns = {
        "pid": l3_pid(e, n),
        "easting": e.astype(np.int64) if integral else e,
        "northing": n.astype(np.int64) if integral else n,
        "height": result.height,
    }
    for key in L3_FIELDS[4:]:
        columns[key] = stats[key]
    columns["propagated_velocity_std"] = getattr(result, f"propagated_velocity_std_{component}")
    columns["propagated_displacement_std"] = getattr(result, f"propagated_displacement_std_{component}")
    columns["n_points_asc"] = result.n_points_asc
    columns["n_points_desc"] = result.n_points_desc
    columns["n_geometries"] = result.n_geometries
    for k, epoch in enumerate(result.epochs):
        columns[f"{epoch:%Y%m%d}"] = series[k]
    meta = {
        "egms_product_level": "L3",
        "egms_component": {"up": "U", "east": "E"}[component],
        "egms_cell_size_m": f"{result.cell_size:g}",
        "egms_time_grid": f"{GRID_STEP_DAYS}-day grid from {GRID_ORIGIN:%Y-%m-%d}",
        "egms_weights": result.weight_source,
        "egms_inputs": "; ".join(f"{name} ({orbit}, {count} points)" for name, orbit, count in result.layers),
    }
    meta.update(metadata or {})
    return PointTable(columns, e.astype(np.float64), n.astype(np.float64), "EPSG:3035", meta)


def write_outputs(result, points, rasters=None, progress=None, layers=None, run_id=None):
    """Write the components of ``result``: ``points`` ``{"up": path, "east": path}`` as L3 GeoPackages
    (:func:`l3_table`, :func:`..io.points.write_points`), ``rasters`` (same keys) as velocity GeoTIFFs.

    Either mapping may hold one component only; ``layers``: the GeoPackage layer name per component (when the
    paths are temporaries of :class:`..io.atomic.PendingSet`); ``run_id``: stamped on every output
    (``egms_run_id`` layer metadata, ``run_id`` raster tag) so that files of different runs are told apart.
    Returns nothing.
    """
    from ...io.points import write_points

    progress = ensure(progress)
    stamp = {"egms_run_id": run_id} if run_id else None
    shares = {"up": (0.0, 0.5), "east": (0.5, 0.85)}
    for component in COMPONENTS:
        if component in points:
            write_points(points[component], l3_table(result, component, stamp), layer=(layers or {}).get(component),
                         progress=progress.span(*shares[component]))
    for component in COMPONENTS:
        if component in (rasters or {}):
            write_velocity_geotiff(rasters[component], result, component, run_id)
    progress.update(1.0)
