"""egms:fittimeseries — EGMS statistics (velocity, acceleration, seasonality, RMSE, their std, coherence)
for every point of any layer with date fields."""

from __future__ import annotations

import numpy as np
from qgis.core import (
    QgsProcessing,
    QgsProcessingOutputNumber,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterNumber,
    QgsProcessingParameterVectorDestination,
)

from ..core.errors import InputError
from .base import EgmsAlgorithm

_DROPPED_METADATA = ("GPKG_METADATA_ITEM_",)  # QGIS/foreign metadata documents GDAL lists as items


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

    def initAlgorithm(self, config=None):  # noqa: N802
        self.add_parameter(
            QgsProcessingParameterFeatureSource(self.INPUT, self.tr("Points with date fields"),
                                                [QgsProcessing.TypeVectorPoint]),
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
                                                    QgsProcessing.TypeVectorPoint),
            "GeoPackage (.gpkg) to write: the input points with the statistics fields.")
        self.addOutput(QgsProcessingOutputNumber("N_POINTS", self.tr("Number of points")))
        self.addOutput(QgsProcessingOutputNumber("N_WITHOUT_STATISTICS",
                                                 self.tr("Points with too few dates for statistics")))

    def compute(self, parameters, context, feedback, progress):
        from ..core.conventions import SENTINEL1_WAVELENGTH
        from ..core.egms.format import STATISTIC_COLUMNS, release_name
        from ..core.egms.stats import egms_statistics
        from ..core.io.points import PointTable, write_points
        from ..layers.sources import source_to_table

        layer = self.parameterAsVectorLayer(parameters, self.INPUT, context)
        label = layer.name() if layer is not None else str(parameters.get(self.INPUT))
        out = self.output_gpkg(parameters, self.OUTPUT, context)
        wavelength = SENTINEL1_WAVELENGTH
        if parameters.get("WAVELENGTH") not in (None, ""):
            wavelength = self.parameterAsDouble(parameters, "WAVELENGTH", context)
        table, _source = source_to_table(self, parameters, self.INPUT, context, feedback, keep_crs=True)
        dates = table.date_fields()
        if not dates:
            raise InputError(f"{label}: no date fields — the displacement series must be in fields named "
                             "YYYYMMDD, DYYYYMMDD or D_YYYYMMDD.")
        if len(dates) < 7:
            raise InputError(f"{label}: only {len(dates)} date fields; the EGMS models need at least 7 dates.")
        names = list(table.columns)
        lowered = {n.lower(): n for n in names}
        out_names = {}
        for stat in STATISTIC_COLUMNS:
            name = release_name(stat, names)
            out_names[stat] = lowered.get(name.lower(), name)  # reuse an existing field whatever its case
        n = len(table)
        feedback.pushInfo(f"{label}: {n} points × {len(dates)} dates ({dates[0][1]} … {dates[-1][1]}).")
        stats = {k: np.full(n, np.nan) for k in STATISTIC_COLUMNS}
        date_names = [name for name, _d in dates]
        block = max(1, min(n, 4_000_000 // len(dates)))  # ≈ 32 MB of float64 per block
        fit = progress.span(0.0, 0.6)
        for start in range(0, n, block):
            stop = min(start + block, n)
            y = np.empty((stop - start, len(dates)))
            for j, name in enumerate(date_names):
                y[:, j] = table.columns[name][start:stop]
            for key, value in egms_statistics(y, [d for _n, d in dates], wavelength_m=wavelength).items():
                stats[key][start:stop] = value
            progress.check()
            fit.update(stop / n)
        # statistics the layer already has are replaced in place; new ones go before the first date field
        existing = {out_names[s]: s for s in STATISTIC_COLUMNS if out_names[s] in table.columns}
        new = [s for s in STATISTIC_COLUMNS if out_names[s] not in table.columns]
        first_date = min(date_names, key=names.index)
        columns = {}
        for name, values in table.columns.items():
            if name == first_date:
                columns.update((out_names[s], stats[s]) for s in new)
            columns[name] = stats[existing[name]] if name in existing else values
        metadata = {k: v for k, v in (table.metadata or {}).items() if not k.startswith(_DROPPED_METADATA)}
        metadata["EGMS_STATISTICS"] = "EGMS recipe (egms:fittimeseries)"
        result = PointTable(columns, table.x, table.y, table.crs, metadata)
        write_points(out, result, progress=progress.span(0.6, 1.0))
        missing = int(np.isnan(stats["mean_velocity"]).sum())
        if missing:
            feedback.pushInfo(f"{missing} points have fewer than 7 valid dates: their statistics are NULL.")
        feedback.pushInfo("Wrote " + ", ".join(out_names[s] for s in STATISTIC_COLUMNS) + f" for {n} points.")
        self.style_on_load(context, out, out_names["mean_velocity"])
        return {self.OUTPUT: out, "N_POINTS": n, "N_WITHOUT_STATISTICS": missing}


ALGORITHM = FitTimeSeriesAlgorithm
REQUIRES = ("numpy",)
