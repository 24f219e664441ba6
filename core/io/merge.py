"""Point layers of several GeoPackages merged into one indexed layer (the batch runner's ``--merge``).

One file at a time is read (:func:`.points.read_points`) and bulk-inserted by the one GeoPackage writer
(:mod:`.gpkg`: the R-tree filled from the coordinates); the output is written under a temporary name and
renamed when complete (:mod:`.atomic`).  The schema is the union of the inputs' fields: attributes in the
order first seen, then the date fields by date; a field an input lacks is NULL there.  Every input must be in
the same CRS.  Rows are kept as they are (a point of two overlapping inputs appears twice).

>>> merge_points(["a.gpkg", "b.gpkg"], "merged.gpkg", layer="up")   # doctest: +SKIP
"""

from __future__ import annotations

import os

import numpy as np

from ..errors import InputError
from ..progress import ensure
from .atomic import replaced_on_success
from .gpkg import BulkWriter, create_point_layer, ogr_modules
from .points import date_fields, field_kind, read_points, sql_values

_KIND_ORDER = ("boolean", "integer64", "real32", "real", "string")


def _schema(paths, layer):
    """``(crs, [(name, kind)])`` of the union of the inputs' fields (OGR metadata only, no rows read)."""
    ogr, _osr = ogr_modules()
    kinds, crs = {}, None
    names = {ogr.OFTReal: "real", ogr.OFTInteger: "integer64", ogr.OFTInteger64: "integer64"}
    for path in paths:
        ds = ogr.Open(path)
        lyr = ds.GetLayerByName(layer) if layer else ds.GetLayer(0)
        if lyr is None:
            raise InputError(f"{path}: no layer {layer!r} to merge.")
        srs = lyr.GetSpatialRef()
        this = srs.ExportToWkt() if srs is not None else ""
        if crs is None:
            crs = this
        elif this != crs:
            raise InputError(f"{path}: its CRS differs from the first input's; the merged layer needs one CRS.")
        defn = lyr.GetLayerDefn()
        for i in range(defn.GetFieldCount()):
            fd = defn.GetFieldDefn(i)
            kind = names.get(fd.GetType(), "string")
            if fd.GetSubType() == ogr.OFSTBoolean:
                kind = "boolean"
            old = kinds.get(fd.GetName())
            kinds[fd.GetName()] = kind if old is None else max(old, kind, key=_KIND_ORDER.index)
        ds = None
    dates = {name for name, _d in date_fields(kinds)}
    ordered = [n for n in kinds if n not in dates] + [n for n, _d in date_fields(kinds)]
    return crs or "", [(n, kinds[n]) for n in ordered]


def merge_points(paths, output, layer=None, out_layer=None, progress=None, add_layer=False):
    """Merge the point layer ``layer`` (default: each file's first) of every GeoPackage of ``paths`` into one
    layer ``out_layer`` (default: the output's base name) at ``output``; returns the number of points.
    ``add_layer``: add the layer to the GeoPackage ``output`` in place (a caller's temporary holding several)."""
    progress = ensure(progress)
    paths = [os.fspath(p) for p in paths]
    if not paths:
        raise InputError(f"{output}: nothing to merge.")
    out_layer = out_layer or os.path.splitext(os.path.basename(os.fspath(output)))[0]
    if add_layer:
        return _merge(paths, output, layer, out_layer, progress, add=True)
    with replaced_on_success(output, ".gpkg") as tmp:
        return _merge(paths, tmp, layer, out_layer, progress)


def _merge(paths, tmp, layer, out_layer, progress, add=False):
    crs, fields = _schema(paths, layer)
    names = [n for n, _k in fields]
    n_total = 0
    create_point_layer(tmp, out_layer, crs, fields, {"egms_merged_from": "; ".join(map(os.path.basename, paths))},
                       add=add)
    with BulkWriter(tmp, out_layer, cache_kib=200000) as writer:
        sql = writer.insert_statement(names)
        for k, path in enumerate(paths):
            table = read_points(path, layer=layer)
            n = len(table)
            columns = []
            for name, kind in fields:
                values = table.columns.get(name)
                if values is None:
                    columns.append([None] * n)
                else:
                    columns.append(sql_values(values if kind != "string" or field_kind(values) == "string"
                                              else np.asarray(values).astype(str)))
            if n:
                writer.insert(sql, np.arange(n_total + 1, n_total + n + 1, dtype=np.int64), table.x, table.y,
                              columns)
            n_total += n
            progress.check()
            progress.update((k + 1) / len(paths))
        writer.finish(n_total)
    return n_total
