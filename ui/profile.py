"""The dock's velocity profile: the points of a layer within a buffer of a line drawn on the map.

:func:`read_profile` reads only the points in the boxes around the line's segments (one limited
``QgsFeatureRequest`` per segment, the provider's spatial index), measures them in metres — the layer's CRS, or
for a layer in degrees the UTM zone of the line (:func:`..core.analysis.output.metric_crs`, as
``egms:velocityprofile``) — and hands them to :func:`..core.analysis.profile.velocity_profile`, the algorithm's
own computation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsFeatureRequest,
    QgsGeometry,
    QgsProject,
    QgsRectangle,
)

from ..core.analysis.output import metric_crs
from ..core.analysis.profile import swath_wkt, velocity_profile
from ..core.egms.format import POINT_ID_FIELDS
from ..core.errors import InputError
from ..core.io.points import PointTable
from ..layers.query import first_field
from ..layers.sources import transform_table
from ..layers.styling import velocity_field

PROFILE_CAP = 200_000
"""Most points read near a line (the boxes around its segments); a longer line is cut to them, with a note."""


@dataclass
class ProfileData:
    """A profile of one layer: the core's :class:`~..core.analysis.profile.Profile` and, per profile point, its
    feature id and point id."""

    layer_id: str
    layer_name: str
    velocity_field: str
    std_field: str | None
    profile: object
    fids: np.ndarray
    point_ids: list
    line: QgsGeometry  # map CRS
    metric_crs: str
    notes: list = field(default_factory=list)
    swath: QgsGeometry | None = None  # map CRS: the area the points come from (flat ends)

    def __len__(self):
        return len(self.profile)


def _crs_text(crs):
    return (crs.authid() or crs.toWkt()) if crs.isValid() else ""


def _line_points(geometry):
    geom = QgsGeometry(geometry)
    parts = geom.asMultiPolyline() if geom.isMultipart() else [geom.asPolyline()]
    pts = parts[0] if parts else []
    return np.array([p.x() for p in pts], dtype=np.float64), np.array([p.y() for p in pts], dtype=np.float64)


def read_profile(layer, line_map, map_settings, buffer, cap=PROFILE_CAP):
    """The :class:`ProfileData` of ``layer``'s points within ``buffer`` m of ``line_map`` (a polyline in the map
    CRS of ``map_settings``).  Raises InputError (a message for the user) when the layer has no velocity field or
    the line is degenerate."""
    vel = velocity_field(layer)
    if vel is None:
        raise InputError(f"“{layer.name()}” has no velocity field (mean_velocity, velocity, …) for a profile.")
    fields = layer.fields()
    std = f"{vel}_std" if fields.indexOf(f"{vel}_std") >= 0 else None
    pid = first_field(layer, [n for n in POINT_ID_FIELDS if n != "fid"])
    layer_crs = _crs_text(layer.crs())
    if not layer_crs:
        raise InputError(f"“{layer.name()}” has no coordinate reference system.")
    line_layer = QgsGeometry(line_map)
    to_layer = QgsCoordinateTransform(map_settings.destinationCrs(), layer.crs(), QgsProject.instance())
    if not to_layer.isShortCircuited():
        line_layer.transform(to_layer)
    lx, ly = _line_points(line_layer)
    metric = metric_crs(layer_crs, lx, ly, f"“{layer.name()}”")
    line_m = transform_table(PointTable({}, lx, ly, layer_crs), metric, "the line")
    from_metric = QgsCoordinateTransform(QgsCoordinateReferenceSystem(metric), layer.crs(), QgsProject.instance())
    indices = [fields.indexOf(n) for n in (vel, std, pid) if n]
    fids, xs, ys, attrs, notes = [], [], [], [], []
    seen = set()
    for k in range(line_m.x.size - 1):
        box = QgsRectangle(min(line_m.x[k], line_m.x[k + 1]) - buffer, min(line_m.y[k], line_m.y[k + 1]) - buffer,
                           max(line_m.x[k], line_m.x[k + 1]) + buffer, max(line_m.y[k], line_m.y[k + 1]) + buffer)
        if not from_metric.isShortCircuited() and metric != layer_crs:
            box = from_metric.transformBoundingBox(box)
        request = QgsFeatureRequest().setFilterRect(box).setSubsetOfAttributes(indices)
        request.setLimit(cap - len(fids) + 1)
        for feature in layer.getFeatures(request):
            if feature.id() in seen:
                continue
            geom = feature.geometry()
            if geom.isNull():
                continue
            if len(fids) >= cap:
                notes.append(f"more than {cap} points near the line: the profile uses the first {cap} "
                             "(draw a shorter line or a narrower buffer)")
                break
            seen.add(feature.id())
            p = geom.vertexAt(0)
            fids.append(feature.id())
            xs.append(p.x())
            ys.append(p.y())
            attrs.append(feature.attributes())
        if notes:
            break
    table = PointTable({}, np.array(xs, dtype=np.float64), np.array(ys, dtype=np.float64), layer_crs)
    table = transform_table(table, metric, f"“{layer.name()}”")

    def column(name):
        i = fields.indexOf(name)
        return np.array([_number(a[i]) for a in attrs], dtype=np.float64)

    profile = velocity_profile(table.x, table.y, line_m.x, line_m.y, buffer, velocity=column(vel),
                               std=column(std) if std else None)
    fid_arr = np.array(fids, dtype=np.int64)[profile.index]
    if pid:
        i = fields.indexOf(pid)
        point_ids = [str(attrs[j][i]) for j in profile.index]
    else:
        point_ids = [f"fid {f}" for f in fid_arr]
    swath = QgsGeometry.fromWkt(swath_wkt(line_m.x, line_m.y, buffer))
    to_map = QgsCoordinateTransform(QgsCoordinateReferenceSystem(metric), map_settings.destinationCrs(),
                                    QgsProject.instance())
    if not swath.isEmpty() and not to_map.isShortCircuited():
        swath.transform(to_map)
    return ProfileData(layer.id(), layer.name(), vel, std, profile, fid_arr, point_ids, QgsGeometry(line_map),
                       metric, notes, swath)


def _number(value):
    try:
        return float(value) if value is not None and not (hasattr(value, "isNull") and value.isNull()) else np.nan
    except (TypeError, ValueError):
        return np.nan
