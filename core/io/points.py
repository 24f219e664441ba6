"""Measurement-point files as numpy columns — GeoPackage read/write without QGIS.

:func:`read_points` reads any OGR point layer into a :class:`PointTable`; for
GeoPackage (and every driver with GDAL's Arrow interface) it streams batches
straight into numpy (:mod:`.arrow`).  :func:`write_points` writes a GeoPackage
point layer with the bulk writer of :mod:`.gpkg` (the layer created by OGR, rows
bulk-inserted with SQLite, the R-tree filled from the coordinates).  The file is
written under a temporary name and renamed when complete, so a failure or a
cancel leaves nothing behind.

Date fields (displacement per acquisition) are recognised by name:
``YYYYMMDD`` (EGMS), ``DYYYYMMDD`` (TRE, PS Time Series Viewer) and
``D_YYYYMMDD`` (InSAR Explorer) — :func:`date_fields`.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from ..progress import ensure
from .arrow import arrow_batches, field_groups, float_values
from .atomic import replaced_on_success
from .gpkg import BulkWriter, create_point_layer, ogr_modules
from .space import check_free_space

DATE_FIELD_RE = re.compile(r"^(?:D_?)?(\d{8})$", re.IGNORECASE)
_ROWS_PER_BATCH = 20000


def date_fields(names):
    """``[(name, date), …]`` of the date-like field names, sorted by date.

    >>> date_fields(["pid", "20200109", "D20200103", "height"])
    [('D20200103', datetime.date(2020, 1, 3)), ('20200109', datetime.date(2020, 1, 9))]
    """
    found = []
    for name in names:
        m = DATE_FIELD_RE.match(name)
        if not m:
            continue
        digits = m.group(1)
        try:  # int slicing: ~50× faster than strptime, which matters for 300 fields per click
            found.append((name, _dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))))
        except ValueError:
            continue
    return sorted(found, key=lambda item: item[1])


@dataclass
class PointTable:
    """A point layer in memory: attribute columns, coordinates, CRS and metadata."""

    columns: dict
    x: np.ndarray
    y: np.ndarray
    crs: str = "EPSG:3035"
    metadata: dict = field(default_factory=dict)

    def __post_init__(self):
        self.x = np.asarray(self.x, dtype=np.float64)
        self.y = np.asarray(self.y, dtype=np.float64)
        for name, col in self.columns.items():
            if len(col) != self.x.size:
                raise ValueError(f"column {name!r} has {len(col)} values for {self.x.size} points")

    def __len__(self):
        return int(self.x.size)

    def date_fields(self):
        return date_fields(self.columns)

    def displacement(self):
        """``(values, dates)``: the date fields as float64 (n_points, n_dates), NaN where NULL."""
        fields = self.date_fields()
        if not fields:
            return np.empty((len(self), 0)), []
        values = np.empty((len(self), len(fields)), dtype=np.float64)
        for j, (name, _d) in enumerate(fields):
            values[:, j] = self.columns[name]
        return values, [d for _n, d in fields]


# ---------------------------------------------------------------------------------------- reading
def _ogr():
    return ogr_modules()[0]


def _empty_column(ftype, n):
    """Preallocated column: float64 for Real, int64 for Integer, object for the rest."""
    ogr = _ogr()
    if ftype == ogr.OFTReal:
        return np.full(n, np.nan, dtype=np.float64)
    if ftype in (ogr.OFTInteger, ogr.OFTInteger64):
        return np.zeros(n, dtype=np.int64)
    return np.full(n, None, dtype=object)


def _fill_column(out, ftype, start, part):
    """Copy one Arrow batch into ``out[start:]``; the positions of NULLs (empty when none)."""
    ogr = _ogr()
    size = len(part)
    mask = np.ma.getmaskarray(part) if np.ma.isMaskedArray(part) else None
    nulls = np.flatnonzero(mask) + start if mask is not None else np.empty(0, dtype=np.int64)
    if ftype == ogr.OFTReal:
        out[start:start + size] = float_values(part)
        return nulls
    if ftype in (ogr.OFTInteger, ogr.OFTInteger64):
        out[start:start + size] = np.ma.filled(np.ma.asarray(part), 0)
        return nulls
    data = np.ma.getdata(part)
    values = [v.decode("utf-8") if isinstance(v, bytes) else (None if v is None else str(v)) for v in data.tolist()]
    if nulls.size:
        values = [None if m else v for v, m in zip(values, mask.tolist())]
    out[start:start + size] = values
    return nulls


def _xy_from_wkb(parts):
    xs, ys = [], []
    for p in parts:
        arr = np.asarray(p)
        if arr.dtype.kind == "V" and arr.dtype.itemsize == 21:  # fixed-size 2-D points
            raw = np.frombuffer(arr.tobytes(), dtype=np.uint8).reshape(-1, 21)
            little = raw[:, 0] == 1
            x = raw[:, 5:13].copy().view("<f8").ravel()
            y = raw[:, 13:21].copy().view("<f8").ravel()
            if not little.all():
                x[~little] = raw[~little, 5:13].copy().view(">f8").ravel()
                y[~little] = raw[~little, 13:21].copy().view(">f8").ravel()
            xs.append(x)
            ys.append(y)
        else:  # variable-size (NULL geometries, 3-D points): per feature
            ogr = _ogr()
            x = np.full(len(arr), np.nan)
            y = np.full(len(arr), np.nan)
            for k, blob in enumerate(arr):
                if blob is None or (np.ma.is_masked(blob)):
                    continue
                g = ogr.CreateGeometryFromWkb(bytes(blob))
                if g is not None and not g.IsEmpty():
                    x[k], y[k] = g.GetX(), g.GetY()
            xs.append(x)
            ys.append(y)
    if not xs:
        return np.empty(0), np.empty(0)
    return np.concatenate(xs), np.concatenate(ys)


def list_layers(path):
    """Names of the vector layers in a file."""
    ogr = _ogr()
    try:
        ds = ogr.Open(os.fspath(path))
    except RuntimeError as exc:
        raise InputError(f"{path}: cannot be opened as a vector file ({exc}).") from None
    if ds is None:
        raise InputError(f"{path}: cannot be opened as a vector file.")
    return [ds.GetLayer(i).GetName() for i in range(ds.GetLayerCount())]


def _open_point_layer(ogr, path, layer):
    """``(dataset, layer)`` of the point layer ``layer`` (default the first) of ``path``; InputError otherwise."""
    if not os.path.exists(path) and not path.startswith("/vsi"):
        raise InputError(f"{path}: the file does not exist.")
    try:
        ds = ogr.Open(path)
    except RuntimeError as exc:
        raise InputError(f"{path}: cannot be opened as a vector file ({exc}).") from None
    if ds is None:
        raise InputError(f"{path}: cannot be opened as a vector file.")
    if ds.GetLayerCount() == 0:
        raise InputError(f"{path}: no vector layer in the file.")
    lyr = ds.GetLayerByName(layer) if layer else ds.GetLayer(0)
    if lyr is None:
        raise InputError(f"{path}: no layer named {layer!r} (layers: {', '.join(list_layers(path))}).")
    if ogr.GT_Flatten(lyr.GetGeomType()) not in (ogr.wkbPoint, ogr.wkbUnknown):
        raise InputError(f"{path} ({lyr.GetName()}): not a point layer ({ogr.GeometryTypeToName(lyr.GetGeomType())}).")
    return ds, lyr


def _selected_fields(path, lyr, all_fields, columns):
    """The ``(name, type)`` fields to read (all, or ``columns`` in file order); the others are ignored by OGR."""
    if columns is None:
        return all_fields
    wanted = set(columns)
    missing = [c for c in columns if c not in {n for n, _t in all_fields}]
    if missing:
        raise InputError(f"{path} ({lyr.GetName()}): no field(s) {', '.join(missing)}.")
    lyr.SetIgnoredFields([n for n, _t in all_fields if n not in wanted])
    return [(n, t) for n, t in all_fields if n in wanted]


def _read_arrow(ogr, path, lyr, fields, all_fields, n_expected, progress, reopen=None):
    """Columns, x and y of ``lyr`` through GDAL's Arrow interface, preallocated and filled batch by batch
    (peak memory: the table plus one batch); wide layers in groups of fields, the geometry with the first.
    ``reopen``: returns a fresh ``(dataset, layer)`` for each group's stream (filtered reads), else ``lyr``."""
    total = max(n_expected, 1)
    geom_name = lyr.GetGeometryColumn() or "wkb_geometry"
    cols = {name: _empty_column(t, n_expected) for name, t in fields}
    null_ints = {name: [] for name, t in fields if t in (ogr.OFTInteger, ogr.OFTInteger64)}
    x = np.full(n_expected, np.nan)
    y = np.full(n_expected, np.nan)
    groups = field_groups(fields) or [[]]
    all_names = [name for name, _t in all_fields]
    for g, group in enumerate(groups):
        n = 0
        _own_ds, source = reopen() if reopen is not None else (None, lyr)
        for batch in arrow_batches(source, [name for name, _t in group], all_names,
                                   geometry=g == 0 or reopen is not None, batch_size=_ROWS_PER_BATCH):
            size = len(batch["fid"]) if "fid" in batch else len(next(iter(batch.values())))
            if n + size > n_expected:
                raise InputError(f"{path} ({lyr.GetName()}): more features than the {n_expected} announced; "
                                 "is the file being written?")
            for name, t in group:
                nulls = _fill_column(cols[name], t, n, batch[name])
                if nulls.size and name in null_ints:
                    null_ints[name].append(nulls)
            if g == 0:
                bx, by = _xy_from_wkb([batch[geom_name]])
                x[n:n + size], y[n:n + size] = bx, by
            n += size
            progress.check()
            progress.update(min((g + n / total) / len(groups), 1.0))
        del source, _own_ds
        if n != n_expected:
            raise InputError(f"{path} ({lyr.GetName()}): read {n} of {n_expected} features; is the file complete?")
    for name, nulls in null_ints.items():
        if nulls:  # NULL integers: float64 with NaN, like NULL reals
            cols[name] = cols[name].astype(np.float64)
            cols[name][np.concatenate(nulls)] = np.nan
    return cols, x, y


def _reread_booleans(ogr, lyr, fields, all_fields, cols):
    """GDAL 3.6's Arrow→numpy conversion garbles Boolean fields (bit-packed read as bytes): re-read those."""
    defn = lyr.GetLayerDefn()
    booleans = [name for name, _t in fields if defn.GetFieldDefn(defn.GetFieldIndex(name)).GetSubType() == ogr.OFSTBoolean]
    if not booleans:
        return
    filtered = lyr.GetSpatialFilter() is not None  # read the geometry too, so the filter is exact (see read_points)
    lyr.SetIgnoredFields([name for name, _t in all_fields if name not in booleans] + ([] if filtered else ["OGR_GEOMETRY"]))
    lyr.ResetReading()
    values = {name: [] for name in booleans}
    for feat in lyr:
        for name in booleans:
            values[name].append(feat.GetField(name))
    expected = len(next(iter(cols.values())))
    for name in booleans:
        v = values[name]
        if len(v) != expected:
            raise InputError(f"{lyr.GetName()}: {len(v)} values of {name} for {expected} features; is the file "
                             "being written?")
        cols[name] = (np.array(v, dtype=bool) if None not in v
                      else np.array([np.nan if b is None else float(b) for b in v]))


def read_points(path, layer=None, columns=None, progress=None, bbox=None):
    """Read a point layer into a :class:`PointTable`.

    Parameters
    ----------
    path : str — any OGR-readable vector file (GeoPackage is fastest).
    layer : str, optional — layer name (default: the first layer).
    columns : iterable of str, optional — read only these attribute fields (order kept as in the file).
    bbox : (min_x, min_y, max_x, max_y), optional — read only the points inside this rectangle (layer CRS,
        bounds included): OGR's spatial filter, which a GeoPackage answers from its R-tree, so only those rows
        are read; they come in file order (by fid), as without the filter.
    """
    ogr = _ogr()
    path = os.fspath(path)
    ds, lyr = _open_point_layer(ogr, path, layer)
    defn = lyr.GetLayerDefn()
    all_fields = [(defn.GetFieldDefn(i).GetName(), defn.GetFieldDefn(i).GetType()) for i in range(defn.GetFieldCount())]
    fields = _selected_fields(path, lyr, all_fields, columns)
    crs = _crs_string(lyr.GetSpatialRef())
    # GDAL lists GeoPackage metadata documents (e.g. QGIS layer metadata) as GPKG_METADATA_ITEM_n: not ours.
    metadata = {k: v for k, v in (lyr.GetMetadata() or {}).items() if not k.startswith("GPKG_METADATA_ITEM_")}
    progress = ensure(progress)
    if bbox is not None:
        lyr.SetSpatialFilterRect(*(float(v) for v in bbox))
    n_expected = lyr.GetFeatureCount()
    if not hasattr(lyr, "GetArrowStreamAsNumPy") or n_expected < 0:  # pragma: no cover - GDAL < 3.6
        return _read_by_feature(lyr, fields, crs, metadata)
    order = reopen = None
    if bbox is not None:  # the count of a filtered layer may be the R-tree's (float32 boxes): count the stream
        # Every stream of a filtered read on a layer of its own: GDAL's filtered (generic) Arrow streams on one
        # layer object, one after the other, were refused as "in progress" or came back short, now and then
        # (GDAL 3.6 and 3.10, in Dask workers under load).
        def reopen():
            ds_, lyr_ = _open_point_layer(ogr, path, layer)
            lyr_.SetSpatialFilterRect(*(float(v) for v in bbox))
            return ds_, lyr_

        # … and every one reads the geometry: without it GDAL 3.10's GeoPackage applies the filter by the R-tree's
        # boxes only, with it exactly, so a stream without geometry returned more rows than one with (QGIS 3.40).
        count_ds, count_lyr = reopen()
        fids = [np.array(batch["fid"]) for batch in arrow_batches(count_lyr, [], [n for n, _t in all_fields],
                                                                  geometry=True, batch_size=_ROWS_PER_BATCH)]
        del count_lyr, count_ds
        fids = np.concatenate(fids) if fids else np.empty(0, dtype=np.int64)
        n_expected = fids.size
        if fids.size > 1 and (np.diff(fids) < 0).any():
            order = np.argsort(fids, kind="stable")  # R-tree order → file order, as without the filter
    cols, x, y = _read_arrow(ogr, path, lyr, fields, all_fields, n_expected, progress, reopen)
    _reread_booleans(ogr, lyr, fields, all_fields, cols)  # in the streams' order, like the other columns …
    if order is not None:  # … then all of them into file order
        cols = {name: values[order] for name, values in cols.items()}
        x, y = x[order], y[order]
    del ds  # the layer's dataset stays open until here
    return PointTable(cols, x, y, crs, metadata)


def _read_by_feature(lyr, fields, crs, metadata):
    """Slow path for GDAL without the Arrow interface: one feature at a time."""
    ogr = _ogr()
    rows = {name: [] for name, _t in fields}
    gx, gy = [], []
    lyr.ResetReading()
    for feat in lyr:
        for name, _t in fields:
            rows[name].append(feat.GetField(name))
        g = feat.GetGeometryRef()
        gx.append(g.GetX() if g else np.nan)
        gy.append(g.GetY() if g else np.nan)
    cols = {}
    for name, t in fields:
        if t == ogr.OFTReal or (t in (ogr.OFTInteger, ogr.OFTInteger64) and None in rows[name]):
            cols[name] = np.array([np.nan if v is None else v for v in rows[name]], dtype=np.float64)
        elif t in (ogr.OFTInteger, ogr.OFTInteger64):
            cols[name] = np.array(rows[name], dtype=np.int64)
        else:
            cols[name] = np.array(rows[name], dtype=object)
    return PointTable(cols, np.array(gx, dtype=np.float64), np.array(gy, dtype=np.float64), crs, metadata)


def _crs_string(srs):
    if srs is None:
        return ""
    srs = srs.Clone()
    code = srs.GetAuthorityCode(None)
    name = srs.GetAuthorityName(None)
    if name and code:
        return f"{name}:{code}"
    return srs.ExportToWkt()


# ---------------------------------------------------------------------------------------- writing
def field_kind(values):
    """The :data:`.gpkg.FIELD_KINDS` kind of a column, from its dtype."""
    arr = np.asarray(values)
    kind = arr.dtype.kind
    if kind == "b":
        return "boolean"
    if kind in "iu":
        return "integer64"
    if kind == "f":
        return "real32" if arr.dtype == np.float32 else "real"
    return "string"


def sql_values(values):
    """Python list of a column for SQLite: NaN → None, numpy scalars → Python."""
    arr = np.asarray(values)
    if arr.dtype.kind == "f":
        out = arr.astype(np.float64).tolist()
        for i in np.flatnonzero(~np.isfinite(arr)):
            out[i] = None
        return out
    if arr.dtype.kind == "b":
        return arr.astype(np.int64).tolist()
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64).tolist()
    return [None if v is None or (isinstance(v, float) and not np.isfinite(v)) else str(v) for v in arr.tolist()]


def minimum_gpkg_bytes(table: PointTable):
    """A lower bound of the GeoPackage size of ``table``: SQLite stores every finite float in 8 bytes and every
    point geometry in a 29-byte blob, whatever else it adds (so a free-space check with it never refuses an output
    that would have fitted)."""
    size = 29 * int((np.isfinite(table.x) & np.isfinite(table.y)).sum())
    for values in table.columns.values():
        arr = np.asarray(values)
        if arr.dtype.kind == "f":
            size += 8 * int(np.isfinite(arr).sum())
    return size


def write_points(path, table: PointTable, layer=None, progress=None, add_layer=False):
    """Write ``table`` as a GeoPackage point layer at ``path`` (replaced if it exists); returns ``path``.

    Field types follow the column dtypes (float → Real (float32 → Real/Float32), int → Integer64,
    bool → Integer/Boolean, anything else → String); NaN and None are NULL; rows whose x or y is
    NaN get a NULL geometry.  Metadata items are stored on the layer.  ``add_layer``: add the layer to the
    GeoPackage ``path`` in place (created when absent) — for a caller that writes several layers into its own temporary
    file (:class:`.atomic.PendingFile`) and renames it when all are complete.
    """
    path = os.path.abspath(os.fspath(path))
    layer = layer or os.path.splitext(os.path.basename(path))[0]
    progress = ensure(progress)
    names = list(table.columns)
    lowered = [n.lower() for n in names]
    for reserved in ("fid", "geom"):
        if reserved in lowered:
            raise InputError(f"{path}: a field may not be named {reserved!r} in a GeoPackage written by this plugin.")
    if len(set(lowered)) != len(lowered):
        raise InputError(f"{path}: field names differ only by case: {names}")
    check_free_space(path, minimum_gpkg_bytes(table))
    if add_layer:
        _write_layer(path, layer, table, names, progress, add=True)
    else:
        with replaced_on_success(path, ".gpkg") as tmp:
            _write_layer(tmp, layer, table, names, progress)
    progress.update(1.0)
    return path


def _write_layer(path, layer, table, names, progress, add=False):
    create_point_layer(path, layer, table.crs, [(name, field_kind(table.columns[name])) for name in names],
                       table.metadata, add=add)
    progress.update(0.02)
    n = len(table)
    with BulkWriter(path, layer, cache_kib=200000) as writer:
        sql = writer.insert_statement(names)
        for start in range(0, n, _ROWS_PER_BATCH):
            stop = min(start + _ROWS_PER_BATCH, n)
            fids = np.arange(start + 1, stop + 1, dtype=np.int64)
            writer.insert(sql, fids, table.x[start:stop], table.y[start:stop],
                          [sql_values(table.columns[name][start:stop]) for name in names])
            progress.check()
            progress.update(0.02 + 0.95 * stop / max(n, 1))
        writer.finish(n)
