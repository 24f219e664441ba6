"""What differs between QGIS 3.22 … 4.x and Qt 5 / Qt 6, in one place.

Everything else in the plugin writes the form that works everywhere (scoped enums
such as ``Qt.MouseButton.LeftButton`` and ``Qgis.MessageLevel.Warning``, ``exec()``);
only what has no common form is here:

* ``QAction`` / ``QActionGroup`` live in QtWidgets on Qt 5 and in QtGui on Qt 6.
* Field types: QGIS ≥ 3.38 takes and returns ``QMetaType.Type``; before, ``QVariant.Type``
  (which PyQt6 no longer has).  :func:`make_field` and the ``is_*_type`` tests accept both.
* Processing, feature-request, field-origin and shader enums that moved into ``Qgis`` (3.36 / 3.38)
  and whose old homes QGIS 4 drops: :data:`SOURCE_VECTOR_POINT`, :data:`NUMBER_DOUBLE`, … (each the
  new form where the running QGIS has it, else the old one).
* Geometry and WKB types: ``Qgis.GeometryType`` / ``Qgis.WkbType`` from 3.30, the
  ``QgsWkbTypes`` enums before (removed in QGIS 4): :data:`POINT_GEOMETRY`, :data:`WKB_POINT`, ….
* The layer-combo filter "point layers": ``Qgis.LayerFilter.PointLayer`` from 3.34,
  ``QgsMapLayerProxyModel.Filter.PointLayer`` before (:func:`point_layer_filter`).
* Temporal animation (:mod:`layers.animation`): :data:`VECTOR_TEMPORAL_REDRAW` (``Qgis.VectorTemporalMode``,
  ``QgsVectorLayerTemporalProperties.TemporalMode`` before; "redraw layer only" exists from 3.22),
  :data:`TEMPORAL_DAYS` (``Qgis.TemporalUnit`` from 3.30, ``QgsUnitTypes.TemporalUnit`` before) and
  :data:`NAVIGATION_ANIMATED` (``Qgis.TemporalNavigationMode`` from 3.36, the navigation object's enum before).
* Saving styles: :func:`save_default_style`, :func:`save_style_to_database` (the
  forms of 3.22 are deprecated in later releases).
"""

from __future__ import annotations

import os

from qgis.core import (
    Qgis,
    QgsColorRampShader,
    QgsFeatureRequest,
    QgsField,
    QgsFields,
    QgsMapLayer,
    QgsProcessing,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterField,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsTemporalNavigationObject,
    QgsUnitTypes,
    QgsVectorLayerTemporalProperties,
    QgsWkbTypes,
)

try:
    from qgis.PyQt.QtGui import QAction, QActionGroup  # Qt 6 (QGIS 4)
except ImportError:
    from qgis.PyQt.QtWidgets import QAction, QActionGroup  # Qt 5 (QGIS 3)

__all__ = ["QAction", "QActionGroup", "field_type", "make_field", "is_integer_type", "is_double_type",
           "is_bool_type", "save_default_style", "save_style_to_database", "point_layer_filter", "QGIS_VERSION_INT",
           "WKB_POINT", "POINT_GEOMETRY", "LINE_GEOMETRY", "POLYGON_GEOMETRY", "NULL_GEOMETRY",
           "SOURCE_VECTOR_POINT", "SOURCE_VECTOR_LINE", "SOURCE_FILE", "NUMBER_DOUBLE", "NUMBER_INTEGER",
           "FILE_FOLDER", "FIELD_NUMERIC",
           "FLAG_ADVANCED", "REQUEST_NO_GEOMETRY", "FIELD_ORIGIN_PROVIDER", "SHADER_INTERPOLATED",
           "VECTOR_TEMPORAL_REDRAW", "TEMPORAL_DAYS", "NAVIGATION_ANIMATED"]

QGIS_VERSION_INT = Qgis.versionInt() if hasattr(Qgis, "versionInt") else Qgis.QGIS_VERSION_INT
_METATYPE_FIELDS = QGIS_VERSION_INT >= 33800


def _types():
    if _METATYPE_FIELDS:
        from qgis.PyQt.QtCore import QMetaType

        t = QMetaType.Type
        return {"int": t.Int, "int64": t.LongLong, "uint": t.UInt, "uint64": t.ULongLong, "double": t.Double,
                "string": t.QString, "bool": t.Bool, "date": t.QDate, "datetime": t.QDateTime}
    from qgis.PyQt.QtCore import QVariant

    v = QVariant  # qt5-only: QGIS < 3.38 runs on Qt 5, whose QVariant still has the type enum
    return {"int": v.Int, "int64": v.LongLong, "uint": v.UInt, "uint64": v.ULongLong,  # qt5-only
            "double": v.Double, "string": v.String, "bool": v.Bool, "date": v.Date,  # qt5-only
            "datetime": v.DateTime}  # qt5-only


_TYPES = _types()


def _first(*candidates):
    """The first ``(owner, "A.B")`` attribute path that exists: new enum homes first, old ones after."""
    for owner, path in candidates:
        value = owner
        try:
            for part in path.split("."):
                value = getattr(value, part)
            return value
        except AttributeError:
            continue
    raise AttributeError(f"none of {[p for _o, p in candidates]} exists in this QGIS")


SOURCE_VECTOR_POINT = _first((Qgis, "ProcessingSourceType.VectorPoint"), (QgsProcessing, "SourceType.TypeVectorPoint"))
SOURCE_VECTOR_LINE = _first((Qgis, "ProcessingSourceType.VectorLine"), (QgsProcessing, "SourceType.TypeVectorLine"))
SOURCE_FILE = _first((Qgis, "ProcessingSourceType.File"), (QgsProcessing, "SourceType.TypeFile"))
NUMBER_DOUBLE = _first((Qgis, "ProcessingNumberParameterType.Double"), (QgsProcessingParameterNumber, "Type.Double"))
NUMBER_INTEGER = _first((Qgis, "ProcessingNumberParameterType.Integer"), (QgsProcessingParameterNumber, "Type.Integer"))
FILE_FOLDER = _first((Qgis, "ProcessingFileParameterBehavior.Folder"), (QgsProcessingParameterFile, "Behavior.Folder"))
FIELD_NUMERIC = _first((Qgis, "ProcessingFieldParameterDataType.Numeric"),
                       (QgsProcessingParameterField, "DataType.Numeric"))
FLAG_ADVANCED = _first((Qgis, "ProcessingParameterFlag.Advanced"), (QgsProcessingParameterDefinition, "Flag.FlagAdvanced"))
REQUEST_NO_GEOMETRY = _first((Qgis, "FeatureRequestFlag.NoGeometry"), (QgsFeatureRequest, "Flag.NoGeometry"))
FIELD_ORIGIN_PROVIDER = _first((Qgis, "FieldOrigin.Provider"), (QgsFields, "FieldOrigin.OriginProvider"))
SHADER_INTERPOLATED = _first((Qgis, "ShaderInterpolationMethod.Linear"), (QgsColorRampShader, "Type.Interpolated"))
VECTOR_TEMPORAL_REDRAW = _first((Qgis, "VectorTemporalMode.RedrawLayerOnly"),
                                (QgsVectorLayerTemporalProperties, "TemporalMode.ModeRedrawLayerOnly"))
"""Vector temporal mode "redraw layer only": every feature drawn at every frame (3.22+; no filter by time)."""
TEMPORAL_DAYS = _first((Qgis, "TemporalUnit.Days"), (QgsUnitTypes, "TemporalUnit.TemporalDays"))
NAVIGATION_ANIMATED = _first((Qgis, "TemporalNavigationMode.Animated"),
                             (QgsTemporalNavigationObject, "NavigationMode.Animated"))
WKB_POINT = Qgis.WkbType.Point if hasattr(Qgis, "WkbType") else QgsWkbTypes.Point
"""The point WKB type (``Qgis.WkbType`` from 3.30; ``QgsWkbTypes.Type`` before, gone in QGIS 4)."""
if hasattr(Qgis, "GeometryType"):  # QGIS >= 3.30
    POINT_GEOMETRY, LINE_GEOMETRY, POLYGON_GEOMETRY, NULL_GEOMETRY = (
        Qgis.GeometryType.Point, Qgis.GeometryType.Line, Qgis.GeometryType.Polygon, Qgis.GeometryType.Null)
else:
    POINT_GEOMETRY, LINE_GEOMETRY, POLYGON_GEOMETRY, NULL_GEOMETRY = (
        QgsWkbTypes.PointGeometry, QgsWkbTypes.LineGeometry, QgsWkbTypes.PolygonGeometry, QgsWkbTypes.NullGeometry)
_INTEGER = {_TYPES[k] for k in ("int", "int64", "uint", "uint64")}


def field_type(kind):
    """The field type QgsField wants for ``kind``: "int", "int64", "double", "string", "bool", "date", "datetime"."""
    return _TYPES[kind]


def make_field(name, kind, type_name="", length=0, precision=0):
    """A :class:`QgsField` named ``name`` of ``kind`` (see :func:`field_type`)."""
    return QgsField(name, _TYPES[kind], type_name, length, precision)


def _same(a, b):
    try:
        return a == b or int(a) == int(b)
    except (TypeError, ValueError):
        return False


def is_integer_type(value):
    """True for an integer field type (``QgsField.type()``, either enum)."""
    return any(_same(value, t) for t in _INTEGER)


def is_double_type(value):
    return _same(value, _TYPES["double"])


def is_bool_type(value):
    return _same(value, _TYPES["bool"])


def save_default_style(layer):
    """Save ``layer``'s style as its default (a ``.qml`` beside a raster); returns (message, ok).

    Newer QGIS take the style categories (the argument-less form is deprecated); 3.22 has only that form.
    """
    try:
        return layer.saveDefaultStyle(QgsMapLayer.StyleCategory.AllStyleCategories)
    except TypeError:
        return layer.saveDefaultStyle()


def save_style_to_database(layer, name, description, use_as_default):
    """Store ``layer``'s style in its data source (the GeoPackage's ``layer_styles``); returns an error text or "".

    QGIS 3.44 deprecates ``saveStyleToDatabase`` for ``saveStyleToDatabaseV2``, which also never asks the user.
    """
    _forget_style(layer, name)
    if hasattr(layer, "saveStyleToDatabaseV2"):
        result = layer.saveStyleToDatabaseV2(name, description, use_as_default, "")
        return "" if not isinstance(result, tuple) else (result[-1] or "")
    return layer.saveStyleToDatabase(name, description, use_as_default, "") or ""


def _forget_style(layer, name):
    """Delete the GeoPackage's stored styles named ``name`` for ``layer``'s table: QGIS before 3.44 asks "a style
    of that name exists, overwrite?" in a modal box, which nobody can answer in ``qgis_process`` (it hangs)."""
    import sqlite3

    from qgis.core import QgsProviderRegistry

    parts = QgsProviderRegistry.instance().decodeUri("ogr", layer.source())
    path, table = parts.get("path", ""), parts.get("layerName") or ""
    if not path.lower().endswith(".gpkg") or not os.path.isfile(path):
        return
    try:
        con = sqlite3.connect(path, timeout=10)
        try:
            if con.execute("SELECT 1 FROM sqlite_master WHERE name='layer_styles'").fetchone():
                if table:
                    con.execute("DELETE FROM layer_styles WHERE styleName=? AND f_table_name=?", (name, table))
                else:
                    con.execute("DELETE FROM layer_styles WHERE styleName=?", (name,))
                con.commit()
        finally:
            con.close()
    except sqlite3.Error:
        pass  # QGIS' own save reports what is wrong with the file


def point_layer_filter():
    """The ``QgsMapLayerComboBox.setFilters`` value that lists point layers only."""
    if hasattr(Qgis, "LayerFilter"):  # QGIS >= 3.34
        return Qgis.LayerFilter.PointLayer
    from qgis.core import QgsMapLayerProxyModel

    return QgsMapLayerProxyModel.Filter.PointLayer
