"""QGIS point layers ↔ :class:`..core.io.points.PointTable`, for the product algorithms.

:func:`source_to_table` reads a Processing feature-source parameter into numpy
columns.  An OGR-backed layer used whole (no subset string, not "selected
features only") is read straight from its file with :func:`..core.io.points.read_points`
(GDAL's Arrow interface: about a million points × 300 dates in tens of seconds);
anything else is read feature by feature through QGIS.  Coordinates are
transformed to EPSG:3035 (the EGMS CRS) unless asked otherwise.
"""

from __future__ import annotations

import os

import numpy as np
from qgis.core import (
    QgsFeatureRequest,
    QgsProcessingFeatureSourceDefinition,
    QgsProcessingUtils,
    QgsProviderRegistry,
    QgsVectorLayer,
    QgsWkbTypes,
)

from ..compat import NULL_GEOMETRY, POINT_GEOMETRY, is_bool_type, is_double_type, is_integer_type
from ..core.errors import InputError
from ..core.io.points import PointTable, read_points

EGMS_CRS = "EPSG:3035"


def _selected_only(value):
    return isinstance(value, QgsProcessingFeatureSourceDefinition) and value.selectedFeaturesOnly


def _crs_text(crs):
    if not crs.isValid():
        return ""
    return crs.authid() if crs.authid() else crs.toWkt()


def input_layer(alg, parameters, name, context):
    """The vector layer of the feature-source parameter ``name``, also when only its selected features are used."""
    layer = alg.parameterAsVectorLayer(parameters, name, context)
    value = parameters.get(name)
    if layer is None and isinstance(value, QgsProcessingFeatureSourceDefinition):
        found = QgsProcessingUtils.mapLayerFromString(value.source.staticValue(), context)
        layer = found if isinstance(found, QgsVectorLayer) else None
    return layer


def layer_file(layer):
    """The file behind a map layer (GeoPackage, shapefile, CSV …), or None for memory and database layers."""
    if layer is None:
        return None
    parts = QgsProviderRegistry.instance().decodeUri(layer.providerType(), layer.source())
    path = parts.get("path") or ""
    return path if path and os.path.exists(path) else None


def transform_table(table: PointTable, dst_crs=EGMS_CRS, label="the layer") -> PointTable:
    """``table`` with coordinates in ``dst_crs`` (pyproj, vectorised); unchanged if already there.

    Raises InputError naming ``label`` when the table has no CRS, or when its coordinates cannot be in its CRS
    (metres read as degrees — what a layer whose CRS got lost and was taken for WGS84 looks like).
    """
    if not table.crs:
        raise InputError(f"{label}: the layer has no coordinate reference system; set one before processing.")
    if table.crs == dst_crs:
        return table
    from pyproj import CRS, Transformer

    src = CRS.from_user_input(table.crs)
    dst = CRS.from_user_input(dst_crs)
    if src == dst:
        table.crs = dst_crs
        return table
    finite = np.isfinite(table.x) & np.isfinite(table.y)
    x, y = Transformer.from_crs(src, dst, always_xy=True).transform(table.x, table.y)
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    lost = finite & ~(np.isfinite(x) & np.isfinite(y))
    if src.is_geographic:
        lost |= finite & ((np.abs(table.x) > 360) | (np.abs(table.y) > 90))
    if lost.any():
        xs, ys = table.x[finite], table.y[finite]
        crs_name = table.crs if len(table.crs) < 40 else src.name
        raise InputError(f"{label}: {int(lost.sum())} of {len(table)} points cannot be in the layer's coordinate "
                         f"reference system {crs_name} (x {xs.min():.6g} … {xs.max():.6g}, y {ys.min():.6g} … "
                         f"{ys.max():.6g}); is the CRS right? A layer whose CRS was lost is often taken for WGS84 "
                         "degrees — set its real CRS (EGMS: EPSG:3035).")
    return PointTable(table.columns, x, y, dst_crs, table.metadata)


def _read_through_qgis(source, columns, feedback, skip=()):
    fields = source.fields()
    names = [f.name() for f in fields] if columns is None else [n for n in (f.name() for f in fields) if n in set(columns)]
    names = [n for n in names if n not in skip or (columns is not None and n in columns)]
    idx = [fields.indexOf(n) for n in names]
    request = QgsFeatureRequest().setSubsetOfAttributes(idx)
    total = max(source.featureCount(), 1)
    raw = {n: [] for n in names}
    xs, ys = [], []
    for k, feature in enumerate(source.getFeatures(request)):
        attrs = feature.attributes()
        for n, i in zip(names, idx):
            raw[n].append(attrs[i])
        geom = feature.geometry()
        if geom.isNull() or geom.isEmpty():
            xs.append(np.nan)
            ys.append(np.nan)
        else:
            p = geom.constGet()
            if QgsWkbTypes.isMultiType(geom.wkbType()):
                p = p.geometryN(0) if p.numGeometries() else None
            xs.append(p.x() if p is not None else np.nan)
            ys.append(p.y() if p is not None else np.nan)
        if k % 10000 == 0 and feedback is not None:
            if feedback.isCanceled():
                from ..core.errors import Cancelled

                raise Cancelled()
            feedback.setProgress(int(100 * k / total))
    cols = {}
    for n in names:
        ftype = fields.field(n).type()
        values = [None if (v is None or (hasattr(v, "isNull") and v.isNull())) else v for v in raw[n]]
        if is_double_type(ftype) or (is_integer_type(ftype) and None in values):
            cols[n] = np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
        elif is_integer_type(ftype):
            cols[n] = np.array(values, dtype=np.int64)
        elif is_bool_type(ftype) and None not in values:
            cols[n] = np.array(values, dtype=bool)
        else:
            cols[n] = np.array([None if v is None else str(v) for v in values], dtype=object)
    return cols, np.array(xs, dtype=np.float64), np.array(ys, dtype=np.float64)


_NULL_TEXT = {"", "nan", "null", "none", "na"}


def as_float(values, field, label):
    """``values`` as float64 (NULL, empty or "nan" text → NaN); numbers stored as text are parsed.

    Raises InputError naming the layer, the field, the first value that is not a number and its feature.
    """
    arr = np.asarray(values)
    if arr.dtype.kind in "fiub":
        return arr.astype(np.float64, copy=False)  # no copy of float64 columns (a million points × 300 dates)
    try:
        return np.array(arr, dtype=np.float64)  # numpy parses numeric text in one go
    except (TypeError, ValueError):
        pass
    out = np.empty(arr.size, dtype=np.float64)
    for i, v in enumerate(arr.tolist()):
        if v is None:
            out[i] = np.nan
            continue
        text = str(v).strip()
        if text.lower() in _NULL_TEXT:
            out[i] = np.nan
            continue
        try:
            out[i] = float(text)
        except ValueError:
            raise InputError(f"{label}: field {field} holds {text!r} (feature {i + 1}), not a number") from None
    return out


def require_numeric(table: PointTable, names, label) -> PointTable:
    """Convert the columns ``names`` of ``table`` to float64 in place (see :func:`as_float`); returns ``table``."""
    for name in names:
        table.columns[name] = as_float(table.columns[name], name, label)
    return table


def source_to_table(alg, parameters, name, context, feedback=None, columns=None, keep_crs=False):
    """Read the point-layer parameter ``name`` into a PointTable (EPSG:3035 unless ``keep_crs``).

    Returns ``(table, source)``.  Raises InputError naming the layer when it is missing, not a point
    layer, empty, or lacks requested columns.
    """
    source = alg.parameterAsSource(parameters, name, context)
    if source is None:
        raise InputError(f"{name}: no layer given or the layer cannot be read.")
    layer = input_layer(alg, parameters, name, context)
    label = layer.name() if layer is not None else str(parameters.get(name))
    if QgsWkbTypes.geometryType(source.wkbType()) == NULL_GEOMETRY:
        raise InputError(f"{label}: not a point layer (a table without geometry). Load a CSV as a delimited-text "
                         "layer with its easting/northing (EPSG:3035) or longitude/latitude fields as X/Y, or import "
                         "an EGMS product first.")
    if QgsWkbTypes.geometryType(source.wkbType()) != POINT_GEOMETRY:
        raise InputError(f"{label}: not a point layer ({QgsWkbTypes.displayString(source.wkbType())}); "
                         "measurement points are expected.")
    if source.featureCount() == 0:
        raise InputError(f"{label}: the layer is empty.")
    if columns is not None:
        missing = [c for c in columns if source.fields().indexOf(c) < 0]
        if missing:
            raise InputError(f"{label}: no field(s) {', '.join(missing)}.")
    crs = _crs_text(source.sourceCrs())
    fast = (layer is not None and layer.providerType() == "ogr" and not layer.subsetString()
            and not _selected_only(parameters.get(name)))
    table = None
    if fast:
        parts = QgsProviderRegistry.instance().decodeUri("ogr", layer.source())
        path, layer_name = parts.get("path"), parts.get("layerName") or None
        if path and not parts.get("layerId"):
            try:
                table = read_points(path, layer=layer_name, columns=columns)
                if len(table) != source.featureCount():
                    table = None  # e.g. a layer the provider filters: take the safe route
            except InputError:
                table = None
    if table is None:
        # the provider's own feature id (a GeoPackage's fid shown as a field) is not an attribute of the points:
        # read_points leaves it out too, and a writer must make its own
        skip = set()
        if layer is not None and layer.dataProvider() is not None:
            skip = {layer.fields().at(i).name() for i in layer.dataProvider().pkAttributeIndexes()
                    if 0 <= i < layer.fields().count()}
        cols, x, y = _read_through_qgis(source, columns, feedback, skip)
        table = PointTable(cols, x, y, crs)
    else:
        table.crs = crs or table.crs
    if not keep_crs:
        table = transform_table(table, EGMS_CRS, label)
    return table, source
