"""egms:calibrategnss — tie a Basic (LOS) layer to a GNSS velocity model (EGMS Calibrated, L2b)."""

from __future__ import annotations

from qgis.core import (
    QgsProcessingOutputNumber,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterNumber,
    QgsProcessingParameterVectorDestination,
)

from ..compat import NUMBER_DOUBLE, NUMBER_INTEGER, SOURCE_VECTOR_POINT
from ..core.egms.format import LOS_FIELDS
from .base import EgmsAlgorithm
from .parameters import add_gnss_parameters, gnss_model_from_parameters, layer_label

METHODS = ("gaussian", "polynomial")
METHOD_LABELS = ("Gaussian smoothing (wavelength)", "Polynomial surface (order)")


def require_fields(name, names, needed, what):
    from ..core.errors import InputError

    missing = [f for f in needed if f not in names]
    if missing:
        raise InputError(f"{name}: no field {', '.join(missing)} — {what}")


class CalibrateGnssAlgorithm(EgmsAlgorithm):
    alg_name = "calibrategnss"
    display = "Calibrate to GNSS"
    group_name = "EGMS products"
    group_key = "egmsproducts"
    help_text = (
        "Ties the LOS velocities of a Basic (L2a-like) point layer to a GNSS velocity model, as the EGMS "
        "Calibrated (L2b) product does.\n\n"
        "Input: a point layer with los_east, los_north, los_up (unit vector ground → satellite), mean_velocity "
        "(mm/yr, positive towards the satellite) and usually date fields (YYYYMMDD, DYYYYMMDD or D_YYYYMMDD, LOS "
        "displacement in mm) — an imported EGMS Basic product or one of our own.\n\n"
        "GNSS: an A-EPND CSV file (EGMS_AEPND_V*.csv: Latitude, Longitude, N, E, Up, SigmaN, SigmaE, SigmaUP, "
        "easting, northing; mm/yr) or a point layer with east/north/up velocity fields.\n\n"
        "Method: the model is interpolated linearly to every point (inside the stations' hull; up to MAX_EXTRAPOLATION, "
        "default 50 km, beyond it, the nearest hull value) and projected on the point's LOS → gnss_velocity. The difference "
        "mean_velocity − gnss_velocity is modelled by a smooth surface — a Gaussian filter with the given cut-off "
        "wavelength (default 100 km; a local plane, so offset + ramp are removed exactly) or a polynomial of the "
        "given order — fitted robustly: two refits leave out points more than 3 robust standard deviations from the "
        "surface, so local motion (a subsidence bowl, a landslide) does not bend it. The surface is subtracted "
        "from mean_velocity and, as rate × time (days since the first date / 365), from every date; the first "
        "date stays 0. Points the GNSS model does not cover take the surface value of the nearest covered point.\n\n"
        "Without usable GNSS coverage (fewer than 10 covered points) the algorithm stops and says so; with "
        "'Zero-mean fallback' it subtracts the layer's mean velocity instead (EGMS: islands without GNSS).\n\n"
        "Output: a GeoPackage (EPSG:3035) with every input field, corrected mean_velocity and dates, and "
        "gnss_velocity (mm/yr, the GNSS model on the LOS; NULL where not covered) before the dates."
    )

    def initAlgorithm(self, config=None):  # noqa: N802, ARG002 (QGIS API)
        self.add_parameter(
            QgsProcessingParameterFeatureSource("INPUT", self.tr("Basic (LOS) point layer"),
                                                [SOURCE_VECTOR_POINT]),
            "Measurement points with los_east, los_north, los_up, mean_velocity (mm/yr) and date fields (mm).")
        add_gnss_parameters(self, "Interpolated to every point and projected on its line of sight.")
        self.add_parameter(
            QgsProcessingParameterEnum("METHOD", self.tr("Correction surface"), options=list(METHOD_LABELS),
                                       defaultValue=0),
            "Gaussian smoothing: a local-plane Gaussian filter whose cut-off wavelength is SMOOTHING_WAVELENGTH. "
            "Polynomial: a 2-D polynomial of total degree POLYNOMIAL_ORDER (0 = offset, 1 = offset + ramp).")
        self.add_parameter(
            QgsProcessingParameterNumber("SMOOTHING_WAVELENGTH", self.tr("Smoothing wavelength (m)"),
                                         NUMBER_DOUBLE, 100000.0, minValue=1000.0),
            "Cut-off wavelength of the Gaussian surface (m): a pattern of this wavelength keeps half its amplitude "
            "(kernel σ ≈ 0.187 × wavelength). Longer = smoother correction.")
        self.add_parameter(
            QgsProcessingParameterNumber("POLYNOMIAL_ORDER", self.tr("Polynomial order"),
                                         NUMBER_INTEGER, 1, minValue=0, maxValue=5),
            "Total degree of the polynomial surface (used with the polynomial method).")
        self.add_parameter(
            QgsProcessingParameterBoolean("ZERO_MEAN", self.tr("Zero-mean fallback without GNSS coverage"), False),
            "When the GNSS model covers fewer than 10 points (or none is given), subtract the layer's mean "
            "velocity instead of stopping.")
        self.add_parameter(
            QgsProcessingParameterVectorDestination("OUTPUT", self.tr("Calibrated layer"),
                                                    SOURCE_VECTOR_POINT),
            "GeoPackage written with all input fields, corrected mean_velocity and dates, and gnss_velocity.")
        self.addOutput(QgsProcessingOutputNumber("N_POINTS", self.tr("Number of points")))
        self.addOutput(QgsProcessingOutputNumber("N_COVERED", self.tr("Points covered by the GNSS model")))
        self.addOutput(QgsProcessingOutputNumber("MEAN_CORRECTION", self.tr("Mean correction (mm/yr)")))

    def compute(self, parameters, context, feedback, progress):
        import numpy as np

        from ..core.errors import InputError
        from ..core.io.points import write_points
        from ..core.products import calibrate as cb
        from ..layers.sources import require_numeric, source_to_table

        method = METHODS[self.parameterAsEnum(parameters, "METHOD", context)]
        order = self.parameterAsInt(parameters, "POLYNOMIAL_ORDER", context)
        wavelength = self.parameterAsDouble(parameters, "SMOOTHING_WAVELENGTH", context)
        zero_mean = self.parameterAsBool(parameters, "ZERO_MEAN", context)
        reach = self.parameterAsDouble(parameters, "MAX_EXTRAPOLATION", context)
        out_path = self.output_gpkg(parameters, "OUTPUT", context)

        model = gnss_model_from_parameters(self, parameters, context, feedback)  # a bad GNSS file fails fast
        if model is None and not zero_mean:
            raise InputError("GNSS: no GNSS velocity model given — choose an A-EPND CSV file (GNSS) or a point layer "
                             "with velocity fields (GNSS_LAYER), or enable the zero-mean fallback (ZERO_MEAN)")
        progress.update(0.05)
        table, _source = source_to_table(self, parameters, "INPUT", context, feedback)
        name = layer_label(self, parameters, "INPUT", context)
        require_fields(name, table.columns, LOS_FIELDS + ("mean_velocity",),
                       "calibration needs a Basic layer with LOS unit vectors and mean_velocity (mm/yr)")
        dates = table.date_fields()
        require_numeric(table, LOS_FIELDS + ("mean_velocity",) + tuple(n for n, _ in dates), name)
        if not dates:
            feedback.pushWarning(f"{name}: no date fields (YYYYMMDD, DYYYYMMDD, D_YYYYMMDD): only mean_velocity "
                                 "is corrected")
        if "gnss_velocity" in table.columns:
            feedback.pushInfo(f"{name}: already has gnss_velocity (a Calibrated product?): it is replaced")
        feedback.pushInfo(f"{name}: {len(table)} points, {len(dates)} dates; surface: "
                          + (f"Gaussian, wavelength {wavelength / 1000:g} km" if method == "gaussian"
                             else f"polynomial of order {order}"))
        progress.update(0.3)
        velocity = np.asarray(table.columns["mean_velocity"], dtype=np.float64)
        cal = cb.calibrate_velocities(
            table.x, table.y, velocity, *(np.asarray(table.columns[f], dtype=np.float64) for f in LOS_FIELDS), model,
            method=method, order=order, wavelength_m=wavelength, zero_mean=zero_mean, max_extrapolation_m=reach,
            layer=name, progress=progress.span(0.3, 0.5))
        if cal.mode == "zero_mean" and model is not None:
            feedback.pushWarning(f"{name}: the GNSS model covers {cal.n_covered} points — not enough; zero-mean "
                                 "fallback used")
        feedback.pushInfo(cal.summary())
        progress.check()
        write_points(out_path, cal.apply(table), progress=progress.span(0.55, 1.0))
        self.style_on_load(context, out_path)
        finite = cal.correction[np.isfinite(cal.correction)]
        return {"OUTPUT": out_path, "N_POINTS": cal.n_points, "N_COVERED": cal.n_covered,
                "MEAN_CORRECTION": float(finite.mean()) if finite.size else float("nan")}


ALGORITHM = CalibrateGnssAlgorithm
REQUIRES = ("numpy", "scipy", "pyproj")
