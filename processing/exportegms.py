"""egms:exportegms — any measurement-point layer → an EGMS-format zip (CSV + XML header)."""

from __future__ import annotations

from qgis.core import (
    QgsProcessingOutputNumber,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterFileDestination,
)

from ..compat import SOURCE_VECTOR_POINT
from ..core.egms.format import LEVELS as EGMS_LEVELS
from ..core.egms.format import NAMINGS
from ..core.errors import InputError
from .base import EgmsAlgorithm

LEVELS = (None, *EGMS_LEVELS)
"""The LEVEL choices: from the layer, then L2a, L2b, L3."""


class ExportEgmsAlgorithm(EgmsAlgorithm):
    alg_name = "exportegms"
    display = "Export EGMS CSV"
    group_name = "EGMS products"
    group_key = "egmsproducts"
    help_text = (
        "Writes a measurement-point layer as an EGMS product: a .zip holding <name>.csv and <name>.xml, named "
        "like the zip, exactly as the European Ground Motion Service delivers them — so our own products "
        "(and layers of other tools) travel like official ones and re-import identically.\n\n"
        "CSV: comma separated, one header line, no quoting. Attribute columns first in the order of the EGMS "
        "specification (pid, [cluster_label], mp_type, latitude, longitude, easting, northing, height, …, "
        "seasonality_std), then the layer's other fields, then one column per acquisition named yyyymmdd "
        "in date order (fields named DYYYYMMDD or D_YYYYMMDD are renamed). Values are rounded to the "
        "decimals of the EGMS files (displacement 0.1 mm, velocity 0.1 mm/yr, acceleration 0.01 mm/yr², "
        "lat/lon 6 decimals, easting/northing 0.01 m, LOS vector 3 decimals, …); fields EGMS does not "
        "know are written at full precision. NULL is an empty cell.\n\n"
        "Missing pid, easting/northing (EPSG:3035) and, for L2, latitude/longitude are derived from the "
        "points (pid from line/pixel, or numbered). XML header: the original one when the layer was imported "
        "from an EGMS file, else a minimal one with level, track, burst and orbit. Name the zip like EGMS "
        "files (EGMS_L2a_<track>_<burst>_IW<swath>_VV_<yyyy>_<yyyy>_<version>.zip) for tools that read "
        "the name."
    )

    INPUT = "INPUT"
    OUTPUT = "OUTPUT"

    def initAlgorithm(self, config=None):  # noqa: N802, ARG002 (QGIS API)
        self.add_parameter(
            QgsProcessingParameterFeatureSource(self.INPUT, self.tr("Measurement points"), [SOURCE_VECTOR_POINT]),
            "Point layer with displacement fields named YYYYMMDD, DYYYYMMDD or D_YYYYMMDD (mm), e.g. an imported "
            "EGMS product or the output of Compute EGMS velocities. Selected features only is honoured.")
        self.add_parameter(
            QgsProcessingParameterEnum("LEVEL", self.tr("Product level"),
                                       options=[self.tr("From the layer (metadata, else columns)"), "L2a (Basic)",
                                                "L2b (Calibrated)", "L3 (Ortho)"], defaultValue=0),
            "Decides the column order (cluster_label is an L2a column) and the decimals of easting/northing "
            "(integers in L3).")
        self.add_parameter(
            QgsProcessingParameterEnum("NAMING", self.tr("Column names"),
                                       options=[self.tr("As in the layer"),
                                                self.tr("EGMS specification (height, height_wgs84, rmse)"),
                                                self.tr("2020–2024 release (height_ortho, height_ellipse, rmse_ts)")],
                                       defaultValue=0),
            "Names of the renamed columns in the CSV; 'As in the layer' re-imports to the same fields.",
            advanced=True)
        self.add_parameter(
            QgsProcessingParameterFileDestination(self.OUTPUT, self.tr("EGMS zip"), self.tr("Zip files (*.zip)")),
            "The .zip to write; the CSV and XML inside take its name.")
        self.addOutput(QgsProcessingOutputNumber("N_POINTS", self.tr("Number of points written")))

    def compute(self, parameters, context, feedback, progress):
        from ..core.egms.export import export_egms
        from ..layers.sources import source_to_table

        out = self.parameterAsFileOutput(parameters, self.OUTPUT, context)
        if not out.lower().endswith(".zip"):
            raise InputError(f"{self.OUTPUT}: the EGMS product is a .zip file, not {out!r}.")
        self.partial_output(out)
        level = LEVELS[self.parameterAsEnum(parameters, "LEVEL", context)]
        naming = NAMINGS[self.parameterAsEnum(parameters, "NAMING", context)]
        table, _source = source_to_table(self, parameters, self.INPUT, context, feedback, keep_crs=True)
        layer = self.parameterAsVectorLayer(parameters, self.INPUT, context)
        label = layer.name() if layer is not None else str(parameters.get(self.INPUT))
        if not table.date_fields():
            raise InputError(f"{label}: no date fields (YYYYMMDD, DYYYYMMDD or D_YYYYMMDD) — nothing to export as "
                             "an EGMS time series.")
        if not table.crs:
            raise InputError(f"{label}: the layer has no coordinate reference system; set one first.")
        feedback.pushInfo(f"Writing {len(table)} points × {len(table.date_fields())} dates to {out}")
        export_egms(table, out, level=level, naming=naming, progress=progress)
        return {self.OUTPUT: out, "N_POINTS": len(table)}


ALGORITHM = ExportEgmsAlgorithm
REQUIRES = ("numpy", "numba", "pyproj")
