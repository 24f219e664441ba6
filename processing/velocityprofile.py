"""egms:velocityprofile — the measurement points within a buffer of a line, with their distance along it, their
signed offset, velocity and std; the method is in :mod:`..core.analysis.profile`."""

from __future__ import annotations

from qgis.core import (
    QgsFeatureRequest,
    QgsGeometry,
    QgsProcessingOutputNumber,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterNumber,
    QgsProcessingParameterVectorDestination,
    QgsWkbTypes,
)

from ..compat import FIELD_NUMERIC, NUMBER_DOUBLE, SOURCE_VECTOR_LINE, SOURCE_VECTOR_POINT
from ..core.errors import InputError
from .base import EgmsAlgorithm

OUTPUT_FIELDS = ("distance", "offset", "velocity", "std", "segment")


def line_vertices_of(geometry):
    """``(xs, ys)`` of a line geometry's first part (curves segmentized), and the number of parts."""
    geom = QgsGeometry(geometry)
    if QgsWkbTypes.isCurvedType(geom.wkbType()):
        geom = QgsGeometry(geom.constGet().segmentize())
    parts = geom.asMultiPolyline() if geom.isMultipart() else [geom.asPolyline()]
    parts = [p for p in parts if len(p) >= 2]
    if not parts:
        return [], [], 0
    return [p.x() for p in parts[0]], [p.y() for p in parts[0]], len(parts)


class VelocityProfileAlgorithm(EgmsAlgorithm):
    alg_name = "velocityprofile"
    display = "Velocity profile along a line"
    group_name = "EGMS analysis"
    group_key = "egmsanalysis"
    help_text = (
        "The measurement points within BUFFER metres of a line, measured along it: a velocity profile (a swath "
        "across a landslide, along a road, a dam crest or a tunnel).\n"
        "LINE is a line layer; its first feature is used — tick “Selected features only” to use the selected one "
        "(of a multi-line, the first part).\n"
        "For every point within BUFFER of the line: distance = chainage in metres from the line's first vertex "
        "(the point projected on its nearest segment), offset = signed distance from the line in metres, positive "
        "on the LEFT of the line's direction, negative on the right. The ends are flat: points beyond the first or "
        "last vertex are left out; outside a bend a point nearest to the vertex gets the vertex's distance.\n"
        "Distances are in metres: a projected layer is measured in its CRS (metres required); a layer in degrees "
        "in the WGS84 UTM zone of its median longitude. The line is transformed to that CRS.\n\n"
        "Output: a point layer (the input points, in the input's CRS, ordered by distance) with the fields "
        "distance (m), offset (m), velocity (mm/yr, from VELOCITY_FIELD), std (mm/yr, from STD_FIELD; NULL "
        "without one), segment (1 = first segment of the line) and the point's id field (pid, code or id when the "
        "layer has one). Styled by velocity; the dock's Profile mode draws the same profile on the fly."
    )

    INPUT = "INPUT"
    LINE = "LINE"
    OUTPUT = "OUTPUT"

    def initAlgorithm(self, config=None):  # noqa: N802, ARG002 (QGIS API)
        self.add_parameter(
            QgsProcessingParameterFeatureSource(self.INPUT, self.tr("Measurement points"), [SOURCE_VECTOR_POINT]),
            "Point layer with a velocity field (mm/yr), e.g. an imported EGMS product.")
        self.add_parameter(
            QgsProcessingParameterFeatureSource(self.LINE, self.tr("Profile line"), [SOURCE_VECTOR_LINE]),
            "Line layer; its first feature (or, with “Selected features only”, the first selected one) is the "
            "profile's line, from its first vertex (distance 0) to its last.")
        self.add_parameter(
            QgsProcessingParameterNumber("BUFFER", self.tr("Buffer (m)"), NUMBER_DOUBLE, 50.0, minValue=0.0),
            "Half-width of the swath: points at most this many metres from the line are kept.")
        self.add_parameter(
            QgsProcessingParameterField("VELOCITY_FIELD", self.tr("Velocity field (mm/yr)"), "mean_velocity",
                                        parentLayerParameterName=self.INPUT, type=FIELD_NUMERIC, optional=True),
            "Field holding the velocity in mm/yr; empty: mean_velocity (EGMS).")
        self.add_parameter(
            QgsProcessingParameterField("STD_FIELD", self.tr("Velocity std field (mm/yr) [empty: <velocity>_std]"),
                                        None, parentLayerParameterName=self.INPUT, type=FIELD_NUMERIC,
                                        optional=True),
            "Field holding the velocity's standard deviation; empty: VELOCITY_FIELD + “_std” when the layer has it "
            "(mean_velocity_std in EGMS), else none (std is NULL).", advanced=True)
        self.add_parameter(
            QgsProcessingParameterVectorDestination(self.OUTPUT, self.tr("Velocity profile")),
            "GeoPackage (.gpkg) to write: one point per measurement point within the buffer, fields as above.")
        self.addOutput(QgsProcessingOutputNumber("N_POINTS", self.tr("Number of points in the profile")))
        self.addOutput(QgsProcessingOutputNumber("LENGTH", self.tr("Length of the line (m)")))

    def _fields(self, parameters, context, label):
        """``(velocity, std or None, id fields)`` of the INPUT layer."""
        from ..core.egms.format import POINT_ID_FIELDS

        source = self.parameterAsSource(parameters, self.INPUT, context)
        names = [f.name() for f in source.fields()] if source is not None else []
        velocity = self.parameterAsString(parameters, "VELOCITY_FIELD", context) or "mean_velocity"
        if source is not None and velocity not in names:
            raise InputError(f"{label}: no velocity field {velocity!r}; choose the field holding mm/yr "
                             "(VELOCITY_FIELD).")
        std = self.parameterAsString(parameters, "STD_FIELD", context) or None
        if std is None and f"{velocity}_std" in names:
            std = f"{velocity}_std"
        ids = [n for n in POINT_ID_FIELDS if n in names and n.lower() != "fid"][:1]
        return velocity, std, ids

    def _line(self, parameters, context, feedback):
        """``(xs, ys, crs text, label)`` of the LINE's first (selected) feature."""
        source = self.parameterAsSource(parameters, self.LINE, context)
        if source is None:
            raise InputError(f"{self.LINE}: no line layer given or the layer cannot be read.")
        label = source.sourceName() or self.LINE
        features = list(source.getFeatures(QgsFeatureRequest().setLimit(1)))
        if not features:
            raise InputError(f"{label}: the line layer has no feature (or none is selected).")
        if source.featureCount() > 1:
            feedback.pushInfo(f"{label}: {source.featureCount()} features; the profile uses the first one "
                              "(select one and tick “Selected features only” to choose).")
        xs, ys, n_parts = line_vertices_of(features[0].geometry())
        if not xs:
            raise InputError(f"{label}: the first feature has no line geometry (two vertices at least).")
        if n_parts > 1:
            feedback.pushInfo(f"{label}: a multi-line of {n_parts} parts; the profile follows the first part.")
        crs = source.sourceCrs()
        crs_text = (crs.authid() or crs.toWkt()) if crs.isValid() else ""
        return xs, ys, crs_text, label

    def compute(self, parameters, context, feedback, progress):
        import numpy as np

        from ..core.analysis.output import metric_crs
        from ..core.analysis.profile import velocity_profile
        from ..core.io.points import PointTable, write_points
        from ..layers.sources import input_layer, require_numeric, source_to_table, transform_table

        layer = input_layer(self, parameters, self.INPUT, context)
        label = layer.name() if layer is not None else str(parameters.get(self.INPUT))
        out = self.output_gpkg(parameters, self.OUTPUT, context)
        velocity, std, ids = self._fields(parameters, context, label)
        buffer = self.parameterAsDouble(parameters, "BUFFER", context)
        lx, ly, line_crs, line_label = self._line(parameters, context, feedback)
        numeric = [velocity] + ([std] if std else [])
        table, _source = source_to_table(self, parameters, self.INPUT, context, feedback, columns=numeric + ids,
                                         keep_crs=True)
        progress.update(0.4)
        require_numeric(table, numeric, label)
        metric = transform_table(table, metric_crs(table.crs, table.x, table.y, label), label)
        line = PointTable({}, np.asarray(lx, float), np.asarray(ly, float), line_crs or table.crs)
        line = transform_table(line, metric.crs, line_label)
        try:
            profile = velocity_profile(metric.x, metric.y, line.x, line.y, buffer,
                                       velocity=table.columns[velocity], std=table.columns[std] if std else None)
        except InputError as exc:
            raise InputError(f"{line_label}: {exc}") from None
        progress.update(0.7)
        if len(profile) == 0:
            ok = np.isfinite(metric.x) & np.isfinite(metric.y)
            x0, x1, y0, y1 = metric.x[ok].min(), metric.x[ok].max(), metric.y[ok].min(), metric.y[ok].max()
            if (line.x.max() < x0 - buffer or line.x.min() > x1 + buffer or line.y.max() < y0 - buffer
                    or line.y.min() > y1 + buffer):
                raise InputError(f"{line_label}: the line lies outside the points of {label} (the line spans x "
                                 f"{line.x.min():.1f} … {line.x.max():.1f}, y {line.y.min():.1f} … {line.y.max():.1f}; "
                                 f"the points x {x0:.1f} … {x1:.1f}, y {y0:.1f} … {y1:.1f}, in {metric.crs}); "
                                 "is it the right line, in the right CRS?")
            raise InputError(f"{label}: no point within {buffer:g} m of the line {line_label} (between its ends); "
                             "widen BUFFER or move the line.")
        idx = profile.index
        columns = {name: np.asarray(table.columns[name])[idx] for name in ids}
        columns.update(distance=profile.distance, offset=profile.offset, velocity=profile.velocity,
                       std=profile.std, segment=profile.segment + 1)
        write_points(out, PointTable(columns, table.x[idx], table.y[idx], table.crs), layer="velocity_profile",
                     progress=None)
        n_vel = int(np.isfinite(profile.velocity).sum())
        feedback.pushInfo(f"{len(profile)} points within {buffer:g} m of the line ({profile.length:.1f} m long, "
                          f"measured in {metric.crs}); {n_vel} with a velocity.")
        self.style_on_load(context, out, "velocity")
        return {self.OUTPUT: out, "N_POINTS": len(profile), "LENGTH": profile.length}


ALGORITHM = VelocityProfileAlgorithm
REQUIRES = ("numpy",)
