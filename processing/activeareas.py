"""egms:activeareas — active deformation areas (ADA) of a measurement-point layer; the method is in
:mod:`..core.analysis.ada`, the writer in :mod:`..core.analysis.output`."""

from __future__ import annotations

from qgis.core import (
    QgsProcessingOutputNumber,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterNumber,
    QgsProcessingParameterVectorDestination,
)

from ..compat import FIELD_NUMERIC, NUMBER_DOUBLE, NUMBER_INTEGER, SOURCE_VECTOR_POINT
from ..core.errors import InputError
from .base import EgmsAlgorithm

ACCELERATION_FIELDS = ("acceleration", "mean_acceleration", "acc")


class ActiveAreasAlgorithm(EgmsAlgorithm):
    alg_name = "activeareas"
    display = "Find active deformation areas"
    group_name = "EGMS analysis"
    group_key = "egmsanalysis"
    help_text = (
        "Finds the active deformation areas (ADA) of a measurement-point layer, after Barra et al. (2017) and "
        "Navarro et al. (2019):\n"
        "1. active points: |v − median(v)| above the stability threshold — THRESHOLD in mm/yr, or (empty) "
        "THRESHOLD_SIGMAS × the robust standard deviation of the layer's velocities, 1.4826 × MAD. The robust std "
        "is the default because the moving points themselves inflate the plain std (every planted or real area "
        "raises the threshold and hides the smaller ones); the MAD measures the stable majority only. With 2σ "
        "about 4.6 % of stable points pass by chance; on 10⁵ points of pure noise no area forms, on 10⁶ three chance "
        "areas of 5 points were measured — raise MIN_POINTS or THRESHOLD_SIGMAS for very large layers.\n"
        "2. areas: active points of the same sign (uplift and subsidence are never merged) within DISTANCE metres "
        "of each other are connected (a k-d tree, no quadratic loop: 10⁶ points take seconds); areas with fewer "
        "than MIN_POINTS points are dropped. Empty DISTANCE: 1.5 × the 90th percentile of the distances from a "
        "point to its nearest neighbour (real layers cluster points on buildings; the 90th percentile bridges the "
        "gaps between them — 21 m on the EGMS L2b sample, 29 m on a 20 m grid).\n"
        "3. polygons: the convex hull of an area's points buffered by BUFFER metres (empty: half of DISTANCE).\n\n"
        "Distances are in metres: a projected layer is used in its CRS (metres required); a layer in degrees is "
        "projected to the WGS84 UTM zone of its median longitude, which is also the output's CRS.\n\n"
        "Output fields per area: id (1 = largest), n_points, mean_velocity (mm/yr), max_abs_velocity (the signed "
        "velocity of the point with the largest |v|), mean_acceleration (mm/yr², NULL without an acceleration "
        "field), area_m2 (of the polygon), quality, and the area's mean displacement series under the input's "
        "date field names (mm, NULL dates left out point by point).\n"
        "quality = S / (S + N), S = |mean_velocity| × the time span in years, N = the mean over the area's points "
        "of the RMS of the residuals of their series to a straight line in time: 1 for a clean trend, towards 0 "
        "when noise dominates; NULL without date fields. The output is styled by mean_velocity."
    )

    INPUT = "INPUT"
    OUTPUT = "OUTPUT"

    def initAlgorithm(self, config=None):  # noqa: N802, ARG002 (QGIS API)
        self.add_parameter(
            QgsProcessingParameterFeatureSource(self.INPUT, self.tr("Measurement points"), [SOURCE_VECTOR_POINT]),
            "Point layer with a velocity field (mm/yr), e.g. an imported EGMS product; optional acceleration and "
            "date fields (YYYYMMDD, DYYYYMMDD, D_YYYYMMDD) give the mean acceleration, series and quality.")
        self.add_parameter(
            QgsProcessingParameterField("VELOCITY_FIELD", self.tr("Velocity field (mm/yr)"), "mean_velocity",
                                        parentLayerParameterName=self.INPUT, type=FIELD_NUMERIC, optional=True),
            "Field holding the velocity in mm/yr; empty: mean_velocity (EGMS).")
        num = QgsProcessingParameterNumber
        self.add_parameter(
            num("THRESHOLD", self.tr("Stability threshold (mm/yr) [empty: from the layer]"), NUMBER_DOUBLE, None,
                optional=True, minValue=0.0),
            "Points with |v − median(v)| above this are active. Empty: THRESHOLD_SIGMAS × 1.4826 × MAD of the "
            "velocities.")
        self.add_parameter(
            num("THRESHOLD_SIGMAS", self.tr("Threshold in robust standard deviations"), NUMBER_DOUBLE, 2.0,
                minValue=0.1),
            "Multiple of the robust std (1.4826 × MAD) used when THRESHOLD is empty; 2 as in the literature.")
        self.add_parameter(
            num("DISTANCE", self.tr("Neighbour distance (m) [empty: from the point spacing]"), NUMBER_DOUBLE, None,
                optional=True, minValue=0.0),
            "Active points closer than this belong to the same area. Empty: 1.5 × the 90th percentile of the "
            "nearest-neighbour distances of the layer.")
        self.add_parameter(
            num("MIN_POINTS", self.tr("Minimum number of points per area"), NUMBER_INTEGER, 5, minValue=1),
            "Areas with fewer active points are discarded.")
        self.add_parameter(
            num("BUFFER", self.tr("Buffer around the points' hull (m) [empty: half the distance]"), NUMBER_DOUBLE,
                None, optional=True, minValue=0.0),
            "The area polygon is the convex hull of its points buffered by this many metres.")
        self.add_parameter(
            QgsProcessingParameterVectorDestination(self.OUTPUT, self.tr("Active deformation areas")),
            "GeoPackage (.gpkg) to write: one polygon per area with the fields listed above.")
        self.addOutput(QgsProcessingOutputNumber("N_AREAS", self.tr("Number of areas")))
        self.addOutput(QgsProcessingOutputNumber("THRESHOLD_USED", self.tr("Stability threshold used (mm/yr)")))

    def _optional(self, parameters, name, context):
        if parameters.get(name) in (None, ""):
            return None
        return self.parameterAsDouble(parameters, name, context)

    def _columns(self, parameters, context, label):
        from ..core.io.points import date_fields

        source = self.parameterAsSource(parameters, self.INPUT, context)
        names = [f.name() for f in source.fields()] if source is not None else []
        velocity = self.parameterAsString(parameters, "VELOCITY_FIELD", context) or "mean_velocity"
        if source is not None and velocity not in names:
            raise InputError(f"{label}: no velocity field {velocity!r}; choose the field holding mm/yr "
                             "(VELOCITY_FIELD).")
        lower = {n.lower(): n for n in names}
        acceleration = next((lower[a] for a in ACCELERATION_FIELDS if a in lower), None)
        return velocity, acceleration, [n for n, _d in date_fields(names)]

    def compute(self, parameters, context, feedback, progress):
        from ..core.analysis.ada import find_active_areas
        from ..core.analysis.output import metric_crs, write_areas
        from ..layers.sources import require_numeric, source_to_table, transform_table

        layer = self.parameterAsVectorLayer(parameters, self.INPUT, context)
        label = layer.name() if layer is not None else str(parameters.get(self.INPUT))
        out = self.output_gpkg(parameters, self.OUTPUT, context)
        velocity, acceleration, dates = self._columns(parameters, context, label)
        wanted = [velocity] + ([acceleration] if acceleration else []) + dates
        table, _source = source_to_table(self, parameters, self.INPUT, context, feedback, columns=wanted,
                                         keep_crs=True)
        progress.update(0.4)
        require_numeric(table, wanted, label)
        table = transform_table(table, metric_crs(table.crs, table.x, table.y, label), label)
        series, years = None, None
        if dates:
            series, day_list = table.displacement()
            years = [(d - day_list[0]).days / 365.25 for d in day_list]
        try:
            areas = find_active_areas(
                table.x, table.y, table.columns[velocity],
                acceleration=table.columns[acceleration] if acceleration else None, series=series, years=years,
                threshold=self._optional(parameters, "THRESHOLD", context),
                sigmas=self.parameterAsDouble(parameters, "THRESHOLD_SIGMAS", context),
                distance=self._optional(parameters, "DISTANCE", context),
                min_points=self.parameterAsInt(parameters, "MIN_POINTS", context),
                buffer=self._optional(parameters, "BUFFER", context))
        except InputError as exc:
            raise InputError(f"{label}: field {velocity}: {exc}") from None
        progress.update(0.8)
        for note in areas.notes:
            feedback.pushInfo(note.capitalize() + ".")
        write_areas(out, areas, table.crs, [n for n, _d in table.date_fields()])
        feedback.pushInfo(f"{len(areas)} active areas ({areas.n_active} active points of {len(table)}, threshold "
                          f"{areas.threshold:.3g} mm/yr, distance {areas.distance:.4g} m).")
        self.style_on_load(context, out, "mean_velocity")
        return {self.OUTPUT: out, "N_AREAS": len(areas), "THRESHOLD_USED": areas.threshold}


ALGORITHM = ActiveAreasAlgorithm
REQUIRES = ("numpy", "scipy", "shapely")
