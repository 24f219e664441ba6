"""egms:importegms — EGMS product files (zip/CSV, L2a/L2b/L3, any release) → one indexed GeoPackage layer."""

from __future__ import annotations

import os

from qgis.core import (
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterVectorDestination,
)

from ..compat import SOURCE_FILE, SOURCE_VECTOR_POINT
from ..core.errors import InputError
from .base import EgmsAlgorithm


class ImportEgmsAlgorithm(EgmsAlgorithm):
    alg_name = "importegms"
    kernel_modules = ("egms._csv_kernel",)
    display = "Import EGMS product"
    group_name = "EGMS products"
    group_key = "egmsproducts"
    help_text = (
        "Converts EGMS product files as downloaded from the European Ground Motion Service — Basic (L2a), "
        "Calibrated (L2b) or Ortho (L3), any release, old or new column names — into one GeoPackage point "
        "layer with a spatial index, so that even a burst of a million points opens instantly.\n\n"
        "Input: one or more .zip files (the CSV is read inside the zip, never unpacked to disk) or .csv files. "
        "Several bursts merge into one layer: columns are matched across releases (height/height_ortho, "
        "height_wgs84/height_ellipse, rmse/rmse_ts) under the first file's names, and points whose pid was "
        "already imported (overlapping bursts) are dropped and counted.\n\n"
        "Output: points in EPSG:3035 (from easting/northing) with every column of the files: pid as text; "
        "mp_type, cluster_label, line, pixel as integers; everything else, and one field per acquisition "
        "named YYYYMMDD, as real numbers. Displacements are LOS mm (positive towards the satellite; vertical "
        "or east-west for L3), velocities mm/yr. Empty cells are NULL. The product level, track, burst(s), "
        "swath, orbit direction (from the sign of los_east), release and the file's XML header are stored "
        "as layer metadata (Layer Properties → Metadata). The loaded layer is styled by mean_velocity "
        "(diverging colours symmetric around 0).\n\n"
        "A truncated download, a zip without CSV, a CSV without easting/northing or a file that is not an "
        "EGMS product stops the import with a message naming the file; nothing is written then."
    )

    INPUT = "INPUT"
    OUTPUT = "OUTPUT"

    def initAlgorithm(self, config=None):  # noqa: N802, ARG002 (QGIS API)
        self.add_parameter(
            QgsProcessingParameterMultipleLayers(self.INPUT, self.tr("EGMS files (.zip or .csv)"), SOURCE_FILE),
            "One or more EGMS product files: the downloaded .zip (CSV + XML inside) or the .csv itself. "
            "Several bursts (or tiles) are merged into one layer, duplicates of overlapping bursts removed.")
        self.add_parameter(
            QgsProcessingParameterVectorDestination(self.OUTPUT, self.tr("Imported EGMS points"),
                                                    SOURCE_VECTOR_POINT),
            "GeoPackage (.gpkg) to write: one point layer in EPSG:3035 with a spatial index.")
        self.addOutput(QgsProcessingOutputNumber("N_POINTS", self.tr("Number of points imported")))
        self.addOutput(QgsProcessingOutputNumber("N_DUPLICATES", self.tr("Duplicate points removed")))
        self.addOutput(QgsProcessingOutputString("LEVEL", self.tr("Product level (L2a, L2b, L3)")))
        self.addOutput(QgsProcessingOutputString("ORBIT", self.tr("Orbit direction (ascending/descending)")))

    def compute(self, parameters, context, feedback, progress):
        from ..core.egms.importer import import_egms

        paths = self.parameterAsFileList(parameters, self.INPUT, context)
        if not paths:
            raise InputError(f"{self.INPUT}: no EGMS file given.")
        out = self.output_gpkg(parameters, self.OUTPUT, context)
        feedback.pushInfo(f"Importing {len(paths)} file(s) into {out}")
        result = import_egms(paths, out, progress=progress)
        feedback.pushInfo(f"{result.info.describe()}: {result.n_points} points, {len(result.fields)} fields.")
        if result.n_duplicates:
            feedback.pushInfo(f"Removed {result.n_duplicates} duplicate points (same pid) of overlapping bursts.")
        if context.willLoadLayerOnCompletion(out):
            stems = [os.path.splitext(os.path.basename(p))[0] for p in paths]
            context.layerToLoadOnCompletionDetails(out).name = stems[0] if len(stems) == 1 else \
                f"{stems[0]} + {len(stems) - 1} more"
        self.style_on_load(context, out)
        return {self.OUTPUT: out, "N_POINTS": result.n_points, "N_DUPLICATES": result.n_duplicates,
                "LEVEL": result.info.level or "", "ORBIT": result.info.orbit or ""}


ALGORITHM = ImportEgmsAlgorithm
REQUIRES = ("numpy", "numba")
