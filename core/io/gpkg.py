"""Fast GeoPackage point-layer writing: OGR creates the layer, SQLite bulk-inserts the rows.

The one writer behind :func:`.points.write_points` and the EGMS import
(:func:`..egms.importer.import_egms`).  :func:`create_point_layer` lets GDAL
create the file and the empty layer, so the GeoPackage bookkeeping (contents,
geometry columns, spatial-reference table, R-tree and its triggers) is GDAL's
own.  :class:`BulkWriter` then opens the file with plain SQLite:

* 64 KiB pages (wide rows of hundreds of dates: ~20 % faster inserts, ~35 %
  smaller files), no journal, no sync — the file is a temporary one that is
  renamed into place only when complete (:mod:`.atomic`);
* GDAL's per-row triggers (the R-tree update through ``ST_*`` functions that
  plain SQLite lacks, the feature count) are dropped for the bulk insert and
  restored afterwards; the R-tree is filled directly from the coordinates and
  the feature count and extent are written once at the end;
* geometries are GeoPackage binary points built with numpy
  (:func:`point_blobs`); a point whose x or y is NaN gets a NULL geometry and
  no R-tree entry.

>>> with BulkWriter(tmp, "points") as writer:                        # doctest: +SKIP
...     sql = writer.insert_statement(["pid", "mean_velocity"])
...     writer.insert(sql, fids, x, y, [pids, velocities])
...     writer.restore_triggers()
...     writer.finish(len(fids))
"""

from __future__ import annotations

import os
import sqlite3

import numpy as np

from .gdal_errors import gdal_errors

PAGE_SIZE = 65536
"""Bytes per SQLite page: a 64 KiB page holds ~25 rows of 300 dates instead of one."""
FIELD_KINDS = ("string", "integer", "integer64", "real", "real32", "boolean")
"""Field kinds of :func:`create_point_layer` (OGR String, Integer, Integer64, Real, Real/Float32, Integer/Boolean)."""


def ogr_modules():
    """``(ogr, osr)`` with GDAL's Python exceptions switched on."""
    from osgeo import gdal, ogr, osr

    gdal.UseExceptions()
    ogr.UseExceptions()
    return ogr, osr


def quote(name):
    """An SQL identifier in double quotes (embedded quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


def create_point_layer(path, layer, crs, fields, metadata=None, add=False):
    """Create the GeoPackage ``path`` holding an empty point layer (``fid``, ``geom``, spatial index).

    ``crs``: anything ``OSRSetFromUserInput`` reads (``"EPSG:3035"``), or empty for none; ``fields``:
    ``[(name, kind)]`` with a kind of :data:`FIELD_KINDS`; ``metadata``: layer metadata items; ``add``: add the
    layer to the GeoPackage ``path`` (created when absent) instead of creating a new file.
    """
    ogr, osr = ogr_modules()
    with gdal_errors(path, "GeoPackage"):
        srs = None
        if crs:
            srs = osr.SpatialReference()
            srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
            srs.SetFromUserInput(crs)
        types = {"string": (ogr.OFTString, ogr.OFSTNone), "integer": (ogr.OFTInteger, ogr.OFSTNone),
                 "integer64": (ogr.OFTInteger64, ogr.OFSTNone), "real": (ogr.OFTReal, ogr.OFSTNone),
                 "real32": (ogr.OFTReal, ogr.OFSTFloat32), "boolean": (ogr.OFTInteger, ogr.OFSTBoolean)}
        if add and os.path.exists(path):
            ds = ogr.Open(path, 1)
        else:
            ds = ogr.GetDriverByName("GPKG").CreateDataSource(path)
        lyr = ds.CreateLayer(layer, srs, ogr.wkbPoint, options=["SPATIAL_INDEX=YES", "GEOMETRY_NAME=geom", "FID=fid"])
        for name, kind in fields:
            ftype, subtype = types[kind]
            fd = ogr.FieldDefn(name, ftype)
            fd.SetSubType(subtype)
            lyr.CreateField(fd)
        for key, value in (metadata or {}).items():
            lyr.SetMetadataItem(str(key), str(value))
        ds = None  # flush the schema


def point_blobs(x, y, srs_id):
    """GeoPackage binary points (little endian, no envelope) as ``bytes``; None where x or y is NaN."""
    n = x.size
    rec = np.zeros(n, dtype=[("magic", "S2"), ("version", "u1"), ("flags", "u1"), ("srs", "<i4"),
                             ("order", "u1"), ("type", "<u4"), ("x", "<f8"), ("y", "<f8")])
    rec["magic"] = b"GP"
    rec["flags"] = 1  # little endian, no envelope
    rec["srs"] = srs_id
    rec["order"] = 1
    rec["type"] = 1
    rec["x"] = x
    rec["y"] = y
    raw = rec.tobytes()
    size = rec.dtype.itemsize
    blobs = [raw[i:i + size] for i in range(0, n * size, size)]
    for i in np.flatnonzero(~(np.isfinite(x) & np.isfinite(y))).tolist():
        blobs[i] = None
    return blobs


class BulkWriter:
    """Bulk inserts into the point layer ``layer`` of a GeoPackage that :func:`create_point_layer` made.

    A context manager: on entry the pages are resized, the per-row triggers dropped and a transaction
    begun; :meth:`insert` adds rows; :meth:`restore_triggers` puts the triggers back (later SQL on
    :attr:`con` runs with them); :meth:`finish` writes the feature count and extent and commits.
    Leaving without :meth:`finish` leaves the transaction uncommitted (the caller discards the file).
    ``cache_kib``: SQLite page cache.
    """

    def __init__(self, path, layer, cache_kib=65536):
        self.path, self.layer, self.cache_kib = path, layer, cache_kib
        self.con = None
        self.srs_id = None
        self.rtree = None
        self.triggers = []
        self.rows = 0
        self._extent = [np.inf, np.inf, -np.inf, -np.inf]

    def __enter__(self):
        con = self.con = sqlite3.connect(self.path, isolation_level=None)
        con.execute(f"PRAGMA page_size={PAGE_SIZE}")
        con.execute("VACUUM")  # applies the page size; the database holds only GDAL's empty schema
        con.execute("PRAGMA synchronous=OFF")
        con.execute("PRAGMA journal_mode=OFF")
        con.execute(f"PRAGMA cache_size={-int(self.cache_kib)}")
        self.srs_id = con.execute("SELECT srs_id FROM gpkg_geometry_columns WHERE table_name=?",
                                  (self.layer,)).fetchone()[0]
        self.triggers = con.execute("SELECT name, sql FROM sqlite_master WHERE type='trigger' AND tbl_name=? "
                                    "AND (name LIKE 'rtree_%_insert' OR name LIKE 'trigger_insert_feature_count_%')",
                                    (self.layer,)).fetchall()
        for name, _sql in self.triggers:
            con.execute(f"DROP TRIGGER {quote(name)}")
        rtree = f"rtree_{self.layer}_geom"
        if con.execute("SELECT count(*) FROM sqlite_master WHERE name=?", (rtree,)).fetchone()[0]:
            self.rtree = rtree
        con.execute("BEGIN")
        return self

    def __exit__(self, *exc):
        self.con.close()
        return False

    def insert_statement(self, fields):
        """The INSERT statement for rows of ``fid``, ``geom`` and ``fields`` (in that order)."""
        names = ["fid", "geom", *fields]
        return (f"INSERT INTO {quote(self.layer)} ({', '.join(quote(n) for n in names)}) "
                f"VALUES ({', '.join('?' * len(names))})")

    def insert(self, statement, fids, x, y, columns):
        """Insert rows: ``fids`` (int64 array), coordinates ``x``, ``y`` (float64 arrays, NaN = no geometry)
        and ``columns`` (one sequence of SQLite values per field of ``statement``)."""
        fid_list = fids.tolist()
        self.con.executemany(statement, zip(fid_list, point_blobs(x, y, self.srs_id), *columns))
        ok = np.isfinite(x) & np.isfinite(y)
        if self.rtree:
            if ok.all():
                xl, yl = x.tolist(), y.tolist()
            else:
                fid_list, xl, yl = fids[ok].tolist(), x[ok].tolist(), y[ok].tolist()
            self.con.executemany(f"INSERT INTO {quote(self.rtree)} VALUES (?, ?, ?, ?, ?)",
                                 zip(fid_list, xl, xl, yl, yl))
        if ok.any():
            xs, ys = (x, y) if ok.all() else (x[ok], y[ok])
            e = self._extent
            self._extent = [min(e[0], xs.min()), min(e[1], ys.min()), max(e[2], xs.max()), max(e[3], ys.max())]
        self.rows += int(fids.size)

    @property
    def extent(self):
        """``[min_x, min_y, max_x, max_y]`` (floats) of the points inserted, or None when none has a geometry."""
        if not np.isfinite(self._extent[0]):
            return None
        return [float(v) for v in self._extent]

    def restore_triggers(self):
        """Put GDAL's per-row triggers back (the inserted rows are not seen by them)."""
        for _name, sql in self.triggers:
            self.con.execute(sql)
        self.triggers = []

    def finish(self, feature_count, description=None):
        """Write the feature count, the extent (and the layer ``description`` when given) and commit."""
        self.restore_triggers()
        con = self.con
        con.execute("UPDATE gpkg_ogr_contents SET feature_count=? WHERE lower(table_name)=lower(?)",
                    (int(feature_count), self.layer))
        extent = self.extent
        if extent is not None:
            if description is None:
                con.execute("UPDATE gpkg_contents SET min_x=?, min_y=?, max_x=?, max_y=? WHERE table_name=?",
                            (*extent, self.layer))
            else:
                con.execute("UPDATE gpkg_contents SET min_x=?, min_y=?, max_x=?, max_y=?, description=? "
                            "WHERE table_name=?", (*extent, description, self.layer))
        con.execute("COMMIT")


def write_polygon_layer(path, layer, crs, fields, rows):
    """Create the GeoPackage ``path`` holding the polygon layer ``layer`` (a few hundred features: an index of
    footprints, written through OGR).  ``fields``: ``[(name, kind)]`` (:data:`FIELD_KINDS`); ``rows``: ``[(wkt or
    None, {name: value})]``.  The caller writes ``path`` as a temporary name (:mod:`.atomic`)."""
    ogr, osr = ogr_modules()
    types = {"string": ogr.OFTString, "integer": ogr.OFTInteger, "integer64": ogr.OFTInteger64,
             "real": ogr.OFTReal, "real32": ogr.OFTReal, "boolean": ogr.OFTInteger}
    with gdal_errors(path, "GeoPackage"):
        srs = osr.SpatialReference()
        srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
        srs.SetFromUserInput(crs)
        ds = ogr.GetDriverByName("GPKG").CreateDataSource(path)
        lyr = ds.CreateLayer(layer, srs, ogr.wkbPolygon, options=["SPATIAL_INDEX=YES", "GEOMETRY_NAME=geom",
                                                                  "FID=fid"])
        for name, kind in fields:
            lyr.CreateField(ogr.FieldDefn(name, types[kind]))
        defn = lyr.GetLayerDefn()
        lyr.StartTransaction()
        for wkt, values in rows:
            feature = ogr.Feature(defn)
            for name, value in values.items():
                if value is not None:
                    feature.SetField(name, value)
            if wkt:
                feature.SetGeometry(ogr.CreateGeometryFromWkt(wkt))
            lyr.CreateFeature(feature)
        lyr.CommitTransaction()
        ds = None  # noqa: F841 - closes and flushes the file
