"""Reading series from QGIS point layers without ever scanning a whole layer.

A click asks the provider for the points in a small square around the click
(spatial index; geometry only, with a limit), picks the nearest, then reads that
one feature's date fields by id; on a GeoPackage it reads the square from the
file's R-tree instead, and only the few possible nearest points exactly.  An area asks for the points in its bounding
box, keeps those inside the polygon, and stops at a cap — in a worker thread
(:mod:`.areas`), as it may read thousands of points.
The field-name vocabularies (point id, RMSE, coherence) are those of
:mod:`..core.egms.format`.
"""

from __future__ import annotations

import math

import numpy as np
from qgis.core import (
    QgsCoordinateTransform,
    QgsFeatureRequest,
    QgsGeometry,
    QgsPointXY,
    QgsProject,
    QgsRectangle,
    QgsVectorLayer,
    QgsVectorLayerFeatureSource,
)

from ..compat import POINT_GEOMETRY
from ..core.egms.format import COHERENCE_FIELDS, POINT_ID_FIELDS, RMSE_FIELDS  # noqa: F401 - read here by .quality
from ..core.io.points import date_fields
from .areas import AreaRequest, gpkg_location
from .series import Series, values_from_attributes

CANDIDATE_LIMIT = 512
"""Most points a click reads (geometry only) before it narrows its search square."""


RTREE_LIMIT = 20000
"""Most R-tree entries a click reads; a denser square falls back to the provider's narrowing search."""


def _rtree_candidates(location, map_point, radius, limit):
    """``[(fid, minx, maxx, miny, maxy)]`` of the R-tree boxes within ``radius`` (layer CRS) of ``map_point``
    in the GeoPackage layer at ``location`` (``(path, layer)``, :func:`.areas.gpkg_location`), or None when
    the R-tree cannot be read (or holds more than ``limit`` of them)."""
    from osgeo import gdal

    path, which = location
    gdal.PushErrorHandler("CPLQuietErrorHandler")
    try:
        ds = gdal.OpenEx(path, gdal.OF_VECTOR | gdal.OF_READONLY, allowed_drivers=["GPKG"])
        if ds is None:
            return None
        lyr = ds.GetLayerByName(which) if isinstance(which, str) else ds.GetLayer(which)
        if lyr is None or not lyr.GetGeometryColumn():
            return None
        table = f"rtree_{lyr.GetName()}_{lyr.GetGeometryColumn()}".replace('"', '""')
        x, y = map_point.x(), map_point.y()
        sql = (f'SELECT id, minx, maxx, miny, maxy FROM "{table}" WHERE maxx >= {x - radius!r} AND '
               f"minx <= {x + radius!r} AND maxy >= {y - radius!r} AND miny <= {y + radius!r} LIMIT {limit + 1}")
        result = ds.ExecuteSQL(sql)
        if result is None:
            return None
        try:
            rows = [(f.GetField(0), f.GetField(1), f.GetField(2), f.GetField(3), f.GetField(4)) for f in result]
        finally:
            ds.ReleaseResultSet(result)
        if len(rows) > limit or any(v is None for row in rows for v in row):
            return None
        return rows
    except Exception:  # noqa: BLE001 - any GDAL surprise (exceptions switched on by another plugin): the slow path
        return None
    finally:
        gdal.PopErrorHandler()


def first_field(layer, names):
    """The first of ``names`` that ``layer`` has, or None."""
    fields = layer.fields()
    for name in names:
        if fields.indexOf(name) >= 0:
            return name
    return None


def is_point_layer(layer):
    return isinstance(layer, QgsVectorLayer) and layer.isValid() and layer.geometryType() == POINT_GEOMETRY


class SeriesLayer:
    """A point layer seen as measurement points: its date fields, point id and RMSE fields."""

    def __init__(self, layer):
        self.layer = layer
        fields = layer.fields()
        self.date_fields = date_fields(fields.names())
        self.dates = [d for _name, d in self.date_fields]
        self.date_indices = [fields.indexOf(name) for name, _d in self.date_fields]
        self.pid_field = first_field(layer, POINT_ID_FIELDS)
        self.rmse_field = first_field(layer, RMSE_FIELDS)
        self.pid_index = fields.indexOf(self.pid_field) if self.pid_field else -1
        self.rmse_index = fields.indexOf(self.rmse_field) if self.rmse_field else -1

    @property
    def has_dates(self):
        return bool(self.date_fields)

    def _point_id(self, feature):
        if self.pid_index >= 0:
            value = feature.attributes()[self.pid_index]
            if value is not None and type(value) in (str, int, float):
                return str(value)
        return f"fid {feature.id()}"

    # -------------------------------------------------------------- one point
    def nearest(self, map_settings, map_point, radius, limit=CANDIDATE_LIMIT):  # noqa: C901 - the R-tree path and the provider path of one click, with their fallbacks
        """``(fid, distance, layer point)`` of the point nearest to ``map_point`` (map CRS) within
        ``radius`` map units, or None.  Distances are measured in map units on the canvas.

        Each provider request reads geometries only and at most ``limit`` of them; when the
        square holds more, the square shrinks (and grows back between known bounds) until a
        request is complete, so the answer is the true nearest point.
        """
        layer = self.layer
        if map_settings.destinationCrs() == layer.crs():
            def to_map(p):
                return p

            def to_layer_rect(rect):
                return rect
        else:
            def to_map(p):
                return map_settings.layerToMapCoordinates(layer, p)

            def to_layer_rect(rect):
                return map_settings.mapToLayerCoordinates(layer, rect)
        if map_settings.destinationCrs() == layer.crs():
            found = self._nearest_from_rtree(map_point, radius)
            if found is not NotImplemented:
                return found
        r_hi, r_lo = math.inf, 0.0  # known: square(r_hi) overflows; square(r_lo) holds nothing
        r = radius
        for _attempt in range(40):
            rect_map = QgsRectangle(map_point.x() - r, map_point.y() - r, map_point.x() + r, map_point.y() + r)
            request = QgsFeatureRequest().setFilterRect(to_layer_rect(rect_map))
            request.setNoAttributes().setLimit(limit)
            best, n = None, 0
            for feature in layer.getFeatures(request):
                n += 1
                geom = feature.geometry()
                if geom.isNull():
                    continue
                pt_layer = QgsPointXY(geom.vertexAt(0))
                pt_map = to_map(pt_layer)
                d = math.hypot(pt_map.x() - map_point.x(), pt_map.y() - map_point.y())
                if d <= radius and (best is None or d < best[1]):
                    best = (feature.id(), d, pt_layer)
            if n >= limit:  # incomplete: narrow the square
                r_hi = r
                r = r / 4.0 if r_lo == 0.0 else math.sqrt(r_lo * r_hi)
                if r < 1e-9 * max(radius, 1.0):
                    return best
                continue
            if best is None:
                if r_hi is math.inf or r >= radius:
                    return None
                r_lo = r  # emptied by narrowing: widen between the bounds
                r = min(math.sqrt(r_lo * r_hi), radius)
                continue
            if best[1] <= r or r >= radius:  # any nearer point would lie inside this square
                return best
            r_lo, r = r, min(best[1], radius)
        return best

    def _nearest_from_rtree(self, map_point, radius):
        """:meth:`nearest` for a GeoPackage layer in the canvas CRS, from the file's R-tree (NotImplemented
        when it cannot be used: another format, unsaved edits, a filter on the layer, no R-tree).

        The R-tree holds each point as a float32 box around it, so a click reads a few index pages instead
        of the rows (one page per point) the provider would read for the geometries — what makes clicks on
        a large, uncached file slow.  The box centres are within half a box of the points; the few
        candidates that may still be the nearest are read exactly through the provider, so the answer is
        the same as the provider's."""
        layer = self.layer
        location = None if layer.subsetString() else gpkg_location(layer, self.date_indices)
        if location is None:
            return NotImplemented
        rows = _rtree_candidates(location, map_point, radius, RTREE_LIMIT)
        if rows is None:
            return NotImplemented
        if not rows:
            return None
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        box = np.array([r[1:] for r in rows], dtype=np.float64)  # minx, maxx, miny, maxy
        cx, cy = (box[:, 0] + box[:, 1]) / 2.0, (box[:, 2] + box[:, 3]) / 2.0
        slack = np.hypot((box[:, 1] - box[:, 0]) / 2.0, (box[:, 3] - box[:, 2]) / 2.0)
        d = np.hypot(cx - map_point.x(), cy - map_point.y())
        maybe = d - slack <= min(radius, float(np.min(d + slack)))
        if not maybe.any():
            return None
        request = QgsFeatureRequest().setFilterFids([int(i) for i in ids[maybe]]).setNoAttributes()
        best = None
        for feature in layer.getFeatures(request):
            geom = feature.geometry()
            if geom.isNull():
                continue
            pt = QgsPointXY(geom.vertexAt(0))
            dist = math.hypot(pt.x() - map_point.x(), pt.y() - map_point.y())
            if dist <= radius and (best is None or dist < best[1] or (dist == best[1] and feature.id() < best[0])):
                best = (feature.id(), dist, pt)
        return best

    def read_point(self, fid):
        """The :class:`Series` of feature ``fid`` (None when it does not exist)."""
        layer = self.layer
        wanted = list(self.date_indices) + [i for i in (self.pid_index, self.rmse_index) if i >= 0]
        request = QgsFeatureRequest(fid).setSubsetOfAttributes(wanted)
        feature = next(layer.getFeatures(request), None)
        if feature is None or not feature.isValid():
            return None
        attrs = feature.attributes()
        values = values_from_attributes([attrs[i] for i in self.date_indices])
        rmse = None
        if self.rmse_index >= 0:
            r = values_from_attributes([attrs[self.rmse_index]])[0]
            rmse = float(r) if math.isfinite(r) else None
        return Series(layer_id=layer.id(), layer_name=layer.name(), point_id=self._point_id(feature),
                      dates=list(self.dates), values=values, rmse=rmse, fids=[fid],
                      geometry=QgsGeometry(feature.geometry()))

    # -------------------------------------------------------------- an area
    def area_request(self, map_settings, area_map, cap, is_rectangle=False):
        """The :class:`~.areas.AreaRequest` of the points inside ``area_map`` (QgsGeometry, map CRS), at most
        ``cap`` of them; built on the GUI thread, read by :class:`~.areas.AreaMeanTask` in a worker thread.

        ``is_rectangle``: the area is an axis-aligned rectangle, so in the layer's own CRS the
        provider's rectangle filter alone decides what is inside."""
        layer = self.layer
        area_layer = QgsGeometry(area_map)
        transform = QgsCoordinateTransform(map_settings.destinationCrs(), layer.crs(), QgsProject.instance())
        same_crs = transform.isShortCircuited() or map_settings.destinationCrs() == layer.crs()
        if not same_crs:
            area_layer.transform(transform)
        return AreaRequest(layer_id=layer.id(), layer_name=layer.name(), source=QgsVectorLayerFeatureSource(layer),
                           area=area_layer, bbox_only=is_rectangle and same_crs,
                           date_indices=list(self.date_indices), date_names=[name for name, _d in self.date_fields],
                           dates=list(self.dates), cap=int(cap), gpkg=gpkg_location(layer, self.date_indices))
