"""Writing active deformation areas (:class:`.ada.ActiveAreas`) as a GeoPackage polygon layer (OGR).

Fields: ``id`` (1 … n, by decreasing size), ``n_points``, ``mean_velocity``, ``max_abs_velocity``,
``mean_acceleration``, ``area_m2``, ``quality``, then the mean displacement series under the input's date
field names.  NaN is written as NULL.  The file appears whole or not at all (``core.io.atomic``).
"""

from __future__ import annotations

import numpy as np

from ..io.atomic import replaced_on_success
from ..io.gpkg import ogr_modules

LAYER = "active_areas"
STAT_FIELDS = ("mean_velocity", "max_abs_velocity", "mean_acceleration", "area_m2", "quality")


def _set(feature, name, value):
    if value is None or not np.isfinite(value):
        feature.SetFieldNull(name)
    else:
        feature.SetField(name, float(value))


def write_areas(path, areas, crs, date_names=(), layer=LAYER):
    """Write ``areas`` to the GeoPackage ``path`` in ``crs`` (anything OSR reads); returns ``path``."""
    ogr, osr = ogr_modules()
    srs = osr.SpatialReference()
    srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    srs.SetFromUserInput(crs)
    with replaced_on_success(path, ".gpkg") as tmp:
        ds = ogr.GetDriverByName("GPKG").CreateDataSource(tmp)
        lyr = ds.CreateLayer(layer, srs, ogr.wkbPolygon, options=["SPATIAL_INDEX=YES", "GEOMETRY_NAME=geom",
                                                                   "FID=fid"])
        for name in ("id", "n_points"):
            lyr.CreateField(ogr.FieldDefn(name, ogr.OFTInteger))
        for name in (*STAT_FIELDS, *date_names):
            lyr.CreateField(ogr.FieldDefn(name, ogr.OFTReal))
        defn = lyr.GetLayerDefn()
        ds.StartTransaction()
        for k, polygon in enumerate(areas.polygons):
            feature = ogr.Feature(defn)
            feature.SetField("id", k + 1)
            feature.SetField("n_points", int(areas.n_points[k]))
            for name in STAT_FIELDS:
                _set(feature, name, getattr(areas, name)[k])
            for j, name in enumerate(date_names):
                _set(feature, name, areas.series[k, j])
            feature.SetGeometry(ogr.CreateGeometryFromWkb(polygon.wkb))
            lyr.CreateFeature(feature)
        ds.CommitTransaction()
        ds = None
    return path


def metric_crs(crs, x, y, label="the layer"):
    """The CRS to measure distances in: ``crs`` itself when projected in metres; for a geographic ``crs`` the
    WGS84 UTM zone of the points' median longitude / latitude (``"EPSG:326zz"`` / ``"EPSG:327zz"``).

    Raises InputError naming ``label`` for a projected CRS in other units (feet, …).

    >>> metric_crs("EPSG:4326", [9.1, 9.3], [45.4, 45.5]), metric_crs("EPSG:3035", [0], [0])
    ('EPSG:32632', 'EPSG:3035')
    """
    from pyproj import CRS

    from ..errors import InputError

    src = CRS.from_user_input(crs)
    if src.is_geographic:
        lon, lat = float(np.nanmedian(x)), float(np.nanmedian(y))
        zone = min(int((lon + 180.0) // 6.0) + 1, 60)
        return f"EPSG:{(32600 if lat >= 0 else 32700) + zone}"
    units = {a.unit_name for a in src.axis_info}
    if not units <= {"metre", "meter", "m"}:
        raise InputError(f"{label}: its CRS {src.name} is in {', '.join(sorted(units))}, not metres; reproject the "
                         "layer to a metric CRS (e.g. EPSG:3035 in Europe) first.")
    return crs
