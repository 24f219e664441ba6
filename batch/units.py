"""The units of a batch run, found on the client before anything is submitted.

* ``computevelocities``: every UNIT (a list or glob) is a stack (folder, or a ``.dim`` / ``.tif`` / ``.vrt``
  file), named by its base name (a file's without the extension);
* ``importegms``: every UNIT is an EGMS ``.zip`` / ``.csv``, named by its base name without the extension;
* ``decompose``: the tiles of the EPSG:3035 grid (``--tile-size``, default the EGMS 100 km) meeting an
  ascending and a descending layer's extent; UNITs, when given, are tile names restricting the run.  The epochs
  common to all layers are planned here from the field names (as ``egms:decompose`` does), so every tile
  decomposes on the same epochs; each tile's unit lists only the layers whose extent meets it.
"""

from __future__ import annotations

import os

from .jobs import Unit
from .params import UsageError, expand_files
from .tiles import check_tile_size, tile_bounds, tile_name, tiles_over

RESERVED = ("index", "merged")
"""Names of the run's own files in DIR: no unit may take them."""


def unit_name(path):
    base = os.path.basename(os.path.normpath(path))
    stem, ext = os.path.splitext(base)
    return stem if ext.lower() in (".zip", ".csv", ".dim", ".tif", ".tiff", ".vrt", ".h5", ".data") else base


def _named(paths):
    units, seen = [], {}
    for path in paths:
        name = unit_name(path)
        if name.lower() in RESERVED:
            raise UsageError(f"{path}: a unit may not be named {name!r} (DIR/{name}.gpkg is the run's own file)")
        if name in seen:
            raise UsageError(f"{path} and {seen[name]} have the same name {name!r}: their outputs would collide")
        seen[name] = path
        units.append(Unit(name, [os.path.abspath(path)]))
    return units


def plan_units(job, words, params, tile_m=None):
    """``(units, options)`` of ``job``: UNIT words expanded (lists, globs) into :class:`~.jobs.Unit`; ``options``
    go to every task (decompose: the tile size, the epochs and every layer's field names)."""
    if job in ("computevelocities", "importegms"):
        paths = [p for word in words for p in expand_files(word)]
        if not paths:
            raise UsageError(f"{job}: no UNIT given (stack folders or EGMS files, a list or a glob)")
        missing = [p for p in paths if not os.path.exists(p)]
        if missing:
            raise UsageError(f"{missing[0]}: does not exist")
        return _named(paths), {}
    return _plan_tiles(words, params, tile_m)


def _layer_info(path):
    """``(field names, extent)`` of the first layer of ``path``; UsageError unless a point layer in EPSG:3035."""
    from ..core.io.gpkg import ogr_modules

    ogr, osr = ogr_modules()
    try:
        ds = ogr.Open(path)
    except RuntimeError as exc:
        raise UsageError(f"{path}: cannot be opened as a vector file ({exc})") from None
    if ds is None or ds.GetLayerCount() == 0:
        raise UsageError(f"{path}: no vector layer in the file")
    lyr = ds.GetLayer(0)
    srs = lyr.GetSpatialRef()
    laea = osr.SpatialReference()
    laea.ImportFromEPSG(3035)
    epsg = srs is not None and (srs.GetAuthorityName(None), srs.GetAuthorityCode(None)) == ("EPSG", "3035")
    if not epsg and (srs is None or not srs.IsSame(laea, ["IGNORE_DATA_AXIS_TO_SRS_AXIS_MAPPING=YES"])):
        raise UsageError(f"{path}: the batch decomposition reads layers in EPSG:3035 (the EGMS CRS); reproject it")
    defn = lyr.GetLayerDefn()
    names = [defn.GetFieldDefn(i).GetName() for i in range(defn.GetFieldCount())]
    x0, x1, y0, y1 = lyr.GetExtent()
    return names, (x0, y0, x1, y1)


def _plan_tiles(words, params, tile_m):
    from ..core.errors import InputError
    from ..core.products import ortho

    cell = float(params.get("CELL_SIZE") or ortho.DEFAULT_CELL_SIZE)
    tile_m = float(tile_m or 100_000.0)
    try:
        check_tile_size(tile_m, cell)
    except ValueError as exc:
        raise UsageError(f"--tile-size: {exc}") from None
    layers, fields, plans = [], {}, []
    for key, orbit in (("ASCENDING", "ascending"), ("DESCENDING", "descending")):
        if not params.get(key):
            raise UsageError(f"decompose: {key}=… is needed (one or more {orbit} point layers, a list or a glob)")
        for path in params[key]:
            if path in fields:
                raise UsageError(f"{path}: given twice (in ASCENDING and DESCENDING, or twice in one)")
            names, extent = _layer_info(path)
            fields[path] = names
            name = os.path.splitext(os.path.basename(path))[0]
            try:
                plans.append(ortho.plan_layer(name, names, orbit))
            except InputError as exc:
                raise UsageError(str(exc)) from None
            layers.append((path, name, orbit, extent))
    try:
        epochs, _message = ortho.plan_epochs(plans)
    except InputError as exc:
        raise UsageError(str(exc)) from None
    grid = {orbit: set() for orbit in ("ascending", "descending")}
    for _path, _name, orbit, extent in layers:
        grid[orbit].update(tiles_over(extent, tile_m))
    tiles = sorted(grid["ascending"] & grid["descending"], key=lambda t: (t[1], t[0]))
    wanted = set(words)
    units = []
    for tx, ty in tiles:
        name = tile_name(tx, ty, tile_m)
        if wanted and name not in wanted:
            continue
        bounds = tile_bounds(tx, ty, tile_m)
        near = [(p, n, o) for p, n, o, e in layers if _meets(e, bounds, cell)]
        units.append(Unit(name, near, bounds=bounds, tile=(tx, ty)))
    unknown = wanted - {u.name for u in units}
    if unknown:
        raise UsageError(f"decompose: no tile {', '.join(sorted(unknown))} among the tiles of the inputs "
                         f"({', '.join(tile_name(tx, ty, tile_m) for tx, ty in tiles[:8])}{' …' if len(tiles) > 8 else ''})")
    if not units:
        raise UsageError("decompose: no tile is covered by both an ascending and a descending layer")
    return units, {"tile_m": tile_m, "epochs": epochs, "fields": fields}


def _meets(extent, bounds, margin):
    x0, y0, x1, y1 = extent
    return not (x1 < bounds[0] - margin or x0 > bounds[2] + margin or y1 < bounds[1] - margin or y0 > bounds[3] + margin)
