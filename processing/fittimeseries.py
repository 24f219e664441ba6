"""egms:fittimeseries — EGMS statistics (velocity, acceleration, seasonality, RMSE, their std, coherence)
for every point of any layer with date fields."""

from __future__ import annotations

from qgis.core import (
    QgsProcessingOutputNumber,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterNumber,
    QgsProcessingParameterVectorDestination,
)

from ..compat import SOURCE_VECTOR_POINT
from .base import EgmsAlgorithm


class FitTimeSeriesAlgorithm(EgmsAlgorithm):
    alg_name = "fittimeseries"
    display = "Fit time-series models"
    group_name = "EGMS products"
    group_key = "egmsproducts"
    help_text = (
        "Computes the EGMS statistics for every point of a layer with displacement time series, with the "
        "exact published EGMS recipe (t = days since the first date / 365, ordinary least squares):\n"
        "• mean_velocity, mean_velocity_std (mm/yr): linear + annual model;\n"
        "• acceleration, acceleration_std (mm/yr²): quadratic + annual model (coefficient of t²/2);\n"
        "• seasonality, seasonality_std (mm): amplitude of the annual term of the cubic + annual model;\n"
        "• rmse (mm): RMS residual of the cubic + annual model;\n"
        "• temporal_coherence: |mean(exp(j·4π/λ·r))| over the linear + annual residuals r.\n\n"
        "Input: any point layer whose date fields are named YYYYMMDD (EGMS), DYYYYMMDD (TRE, PS Time Series "
        "Viewer) or D_YYYYMMDD (InSAR Explorer), holding displacement in mm. NULL dates are left out point "
        "by point; points with fewer than 7 valid dates get NULL statistics. The sign convention is the "
        "input's (EGMS: positive towards the satellite).\n\n"
        "Output: a copy of the layer with every input field, the statistics written under the EGMS column "
        "names — replacing the layer's own values where they exist, and following the layer's release "
        "naming (rmse_ts when the layer uses the 2020–2024 names). New statistics fields go before the date "
        "fields. The loaded layer is styled by mean_velocity."
    )

    INPUT = "INPUT"
    OUTPUT = "OUTPUT"

    def initAlgorithm(self, config=None):  # noqa: N802, ARG002 (QGIS API)
        self.add_parameter(
            QgsProcessingParameterFeatureSource(self.INPUT, self.tr("Points with date fields"),
                                                [SOURCE_VECTOR_POINT]),
            "Point layer with one field per acquisition (YYYYMMDD, DYYYYMMDD or D_YYYYMMDD) holding displacement "
            "in mm, e.g. an imported EGMS product or the output of Compute EGMS velocities.")
        num = QgsProcessingParameterNumber
        self.add_parameter(
            num("WAVELENGTH", self.tr("Radar wavelength (m) [empty: Sentinel-1]"), num.Double, None, optional=True,
                minValue=0.001, maxValue=1.0),
            "Wavelength used by the temporal coherence only; empty means Sentinel-1 C band "
            "(299792458 / 5.405e9 = 0.05546576 m).", advanced=True)
        self.add_parameter(
            QgsProcessingParameterVectorDestination(self.OUTPUT, self.tr("Points with EGMS statistics"),
                                                    SOURCE_VECTOR_POINT),
            "GeoPackage (.gpkg) to write: the input points with the statistics fields.")
        self.addOutput(QgsProcessingOutputNumber("N_POINTS", self.tr("Number of points")))
        self.addOutput(QgsProcessingOutputNumber("N_WITHOUT_STATISTICS",
                                                 self.tr("Points with too few dates for statistics")))

    def compute(self, parameters, context, feedback, progress):
        from ..core.conventions import SENTINEL1_WAVELENGTH
        from ..core.egms.fit import fit_table
        from ..core.egms.format import STATISTIC_COLUMNS
        from ..core.io.points import write_points
        from ..layers.sources import source_to_table

        layer = self.parameterAsVectorLayer(parameters, self.INPUT, context)
        label = layer.name() if layer is not None else str(parameters.get(self.INPUT))
        out = self.output_gpkg(parameters, self.OUTPUT, context)
        wavelength = SENTINEL1_WAVELENGTH
        if parameters.get("WAVELENGTH") not in (None, ""):
            wavelength = self.parameterAsDouble(parameters, "WAVELENGTH", context)
        table, _source = source_to_table(self, parameters, self.INPUT, context, feedback, keep_crs=True)
        fit = fit_table(table, label, wavelength, progress.span(0.0, 0.6))
        write_points(out, fit.table, progress=progress.span(0.6, 1.0))
        if fit.n_without_statistics:
            feedback.pushInfo(f"{fit.n_without_statistics} points have fewer than 7 valid dates: their statistics "
                              "are NULL.")
        feedback.pushInfo("Wrote " + ", ".join(fit.names[s] for s in STATISTIC_COLUMNS) + f" for {fit.n_points} points.")
        self.style_on_load(context, out, fit.names["mean_velocity"])
        return {self.OUTPUT: out, "N_POINTS": fit.n_points, "N_WITHOUT_STATISTICS": fit.n_without_statistics}


ALGORITHM = FitTimeSeriesAlgorithm
REQUIRES = ("numpy",)
