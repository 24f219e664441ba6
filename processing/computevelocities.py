"""egms:computevelocities — the persistent-scatterer chain: SLC stack → EGMS measurement points."""

from __future__ import annotations

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsProcessingMultiStepFeedback,
    QgsProcessingOutputNumber,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterCrs,
    QgsProcessingParameterEnum,
    QgsProcessingParameterNumber,
    QgsProcessingParameterPoint,
    QgsProcessingParameterVectorDestination,
    QgsProject,
)

from .base import EgmsAlgorithm, FeedbackProgress, StepsProgress
from .parameters import (
    add_dispersion_threshold,
    add_ds_window_parameters,
    add_stack_folder,
    ds_window_from_parameters,
    stack_from_parameters,
)

SCATTERER_LABELS = ("PS only", "PS and DS")
SCATTERER_VALUES = ("ps", "ps_ds")
"""SCATTERERS options and the :class:`~egms_plugin.core.psi.chain.PsiParameters` ``scatterers`` they set."""


class ComputeVelocitiesAlgorithm(EgmsAlgorithm):
    alg_name = "computevelocities"
    display = "Compute EGMS velocities"
    group_name = "SAR stack"
    group_key = "sarstack"
    help_text = (
        "Persistent-scatterer processing of a coregistered SLC stack into measurement points in the EGMS Basic "
        "(L2a) schema: LOS velocity, height error, displacement time series and the EGMS statistics.\n\n"
        "Input: a stack folder — one complex raster per acquisition (date YYYYMMDD in the file name), "
        "georeferenced (CRS on the SLCs, or lat*/lon* rasters), optional baselines.csv (date,bperp; without it "
        "height errors are not estimated) and stack.json (wavelength_m, incidence_deg, heading_deg, "
        "slant_range_m). WAVELENGTH, INCIDENCE_ANGLE, HEADING and SLANT_RANGE override stack.json.\n\n"
        "Chain: candidates with amplitude dispersion below the threshold (stack read once, in row blocks); "
        "Delaunay + nearest-neighbour arcs up to the maximum arc length; per arc, the velocity and height-error "
        "differences that maximise the temporal coherence; incoherent arcs and candidates out, the largest "
        "coherent network kept; weighted least-squares integration; residual phases unwrapped on the network "
        "date by date; atmospheric screen (smooth in space, random in time) removed; final selection on "
        "temporal coherence and RMSE.\n\n"
        "Output (GeoPackage): pid, mp_type, latitude, longitude, easting, northing (EPSG:3035), height (empty: "
        "no DEM), line, pixel, rmse (mm), temporal_coherence, amplitude_dispersion, incidence_angle, "
        "track_angle (= heading), los_east/north/up (ground → satellite), mean_velocity (mm/yr), "
        "mean_velocity_std, acceleration (mm/yr²), acceleration_std, seasonality (mm), seasonality_std, "
        "height_error (m, relative), then one field per date YYYYMMDD: LOS displacement in mm, positive towards "
        "the satellite, first date 0 (the other dates shifted by the cubic + seasonal model's value at the first "
        "date, the EGMS temporal reference). Statistics follow the published EGMS recipe (the same code as Fit "
        "time-series models). Values are relative: by default the median of all points is the spatial "
        "reference (EGMS style); give REFERENCE to refer everything to the nearest point instead.\n\n"
        "Points moving faster than λ/4 (≈ 14 mm) between acquisitions cannot be unwrapped and are dropped. A "
        "stack where nothing is coherent stops with a message and writes nothing.\n\n"
        "Memory: one block of rows while reading (Block size), and the candidates (about 160 bytes per candidate "
        "and date). A scene whose candidates need more than 'Memory for candidates' is measured in overlapping "
        "patches tied together on their common points (the log says how many).\n\n"
        "Distributed scatterers (SCATTERERS = PS and DS): fields, slopes and villages without point scatterers. "
        "For every pixel its statistically homogeneous neighbours (SHPs: a test of the amplitude series within the "
        "DS window, DS_SHP_TEST — GLRT of the mean powers by default, or Kolmogorov–Smirnov — connected to the "
        "pixel), their coherence matrix and the phase-linked history "
        "(EMI, eigenvector fallback). One DS per DS cell (100 m): the pixel with the most SHPs that is not a PS "
        "candidate, kept when it has at least DS_MIN_SHP SHPs and a phase-linking coherence of at least "
        "DS_COHERENCE. DS join the PS in one network; their mp_type is the number of SHPs × the pixel area (m²), "
        "PS have mp_type 0. The stack is read a second time for them."
    )

    INPUT = "INPUT"
    OUTPUT = "OUTPUT"

    def initAlgorithm(self, config=None):  # noqa: N802, ARG002 (QGIS API)
        num = QgsProcessingParameterNumber
        add_stack_folder(self, "Folder of coregistered SLCs (one complex raster per date), with optional "
                               "baselines.csv and stack.json.")
        add_dispersion_threshold(self, "Pixels with amplitude dispersion σ_A/μ_A below this are candidates (EGMS: 0.25).")
        self.add_parameter(num("COHERENCE_THRESHOLD", self.tr("Temporal coherence threshold"), num.Double, 0.7,
                               minValue=0.0, maxValue=1.0),
                           "Points whose temporal coherence is below this are not written. 0.7 is the EGMS level; "
                           "with 24 or more dates a random phase reaches it with probability below 1e-5.")
        self.add_parameter(num("MAX_RMSE", self.tr("Maximum RMSE (mm)"), num.Double, 5.0, minValue=0.0),
                           "Points whose time series deviate from the cubic + seasonal model by more than this RMS "
                           "(mm) are not written; 0 disables the cap.")
        self.add_parameter(num("MAX_ARC_LENGTH", self.tr("Maximum arc length (m)"), num.Double, 1000.0, minValue=10.0),
                           "Longest arc between two points of the network. Longer arcs see more atmosphere; raise "
                           "it where scatterers are sparse.")
        self.add_parameter(QgsProcessingParameterPoint("REFERENCE", self.tr("Reference position"), optional=True),
                           "Optional: refer all velocities and series to the measurement point nearest to this "
                           "position. Empty: the median of all points is the reference (EGMS style).")
        # optional with a default: qgis_process 3.22 rejects a missing mandatory CRS even when it has a default
        self.add_parameter(QgsProcessingParameterCrs("OUTPUT_CRS", self.tr("Output CRS"), "EPSG:3035", optional=True),
                           "CRS of the output layer (default and EGMS: EPSG:3035). easting/northing are always "
                           "EPSG:3035.")
        self.add_parameter(QgsProcessingParameterEnum("SCATTERERS", self.tr("Scatterers"), options=list(SCATTERER_LABELS),
                                                      defaultValue=0),
                           "PS only: persistent scatterers (point-like, stable amplitude). PS and DS: also distributed "
                           "scatterers — phase-linked homogeneous areas (fields, slopes) with mp_type = their area in "
                           "m²; on simulated stacks they keep the PS accuracy and cover DS areas, at the cost of a "
                           "second read of the stack.")
        self.add_parameter(num("WAVELENGTH", self.tr("Wavelength (m)"), num.Double, None, optional=True,
                               minValue=0.001), "Overrides wavelength_m of stack.json (Sentinel-1: 0.05546576).",
                           advanced=True)
        self.add_parameter(num("INCIDENCE_ANGLE", self.tr("Incidence angle (degrees)"), num.Double, None,
                               optional=True, minValue=1.0, maxValue=89.0),
                           "Overrides incidence_deg of stack.json (LOS vector, height-error factor).", advanced=True)
        self.add_parameter(num("HEADING", self.tr("Heading (degrees)"), num.Double, None, optional=True,
                               minValue=-360.0, maxValue=360.0),
                           "Overrides heading_deg of stack.json: flight direction clockwise from north (≈ −10 "
                           "ascending, ≈ 190 descending).", advanced=True)
        self.add_parameter(num("SLANT_RANGE", self.tr("Slant range (m)"), num.Double, None, optional=True,
                               minValue=1000.0), "Overrides slant_range_m of stack.json (height-error factor).",
                           advanced=True)
        self.add_parameter(QgsProcessingParameterBoolean("CALIBRATE_AMPLITUDE", self.tr("Calibrate amplitudes"), False),
                           "Divide each image by its mean amplitude before the dispersion (for stacks with gain "
                           "changes between acquisitions).", advanced=True)
        self.add_parameter(num("MAX_VELOCITY_DIFF", self.tr("Velocity search range per arc (mm/yr)"), num.Double, 60.0,
                               minValue=1.0), "Velocity differences searched between neighbouring points (±).",
                           advanced=True)
        self.add_parameter(num("MAX_HEIGHT_DIFF", self.tr("Height-error search range per arc (m)"), num.Double, 60.0,
                               minValue=0.0), "Height-error differences searched between neighbouring points (±).",
                           advanced=True)
        self.add_parameter(num("APS_FILTER", self.tr("Atmospheric filter length (m)"), num.Double, 0.0, minValue=0.0),
                           "σ of the spatial Gaussian that estimates the atmosphere; 0 = automatic (twice the median "
                           "distance between neighbouring points, at least 100 m).", advanced=True)
        self.add_parameter(num("APS_TIME_WINDOW", self.tr("Atmospheric filter time window (days)"), num.Double, 90.0,
                               minValue=0.0),
                           "σ of the temporal Gaussian separating non-linear motion (kept) from atmosphere (removed).",
                           advanced=True)
        self.add_parameter(num("BLOCK_SIZE_MB", self.tr("Block size (MB)"), num.Double, 256.0, minValue=8.0),
                           "Memory for one block of rows of all SLCs; bounds the memory use of the read pass.",
                           advanced=True)
        self.add_parameter(num("MEMORY_MB", self.tr("Memory for candidates (MB)"), num.Double, 2048.0, minValue=16.0),
                           "Memory for the candidates measured at once (about 160 bytes per candidate and date). A "
                           "scene with more candidates is measured in overlapping patches tied together on their "
                           "common points, so memory no longer grows with the scene (only the output, 4 bytes per "
                           "point and date, does).", advanced=True)
        add_ds_window_parameters(self)
        self.add_parameter(num("DS_MIN_SHP", self.tr("DS minimum homogeneous pixels"), num.Integer, 20, minValue=2),
                           "Fewest homogeneous pixels (the pixel itself included) of a distributed scatterer.",
                           advanced=True)
        self.add_parameter(num("DS_COHERENCE", self.tr("DS minimum phase-linking coherence"), num.Double, 0.5,
                               minValue=0.0, maxValue=1.0),
                           "Fewest phase-linking temporal coherence (fit of the linked phases to the coherence matrix) "
                           "of a distributed scatterer; decorrelated clutter stays near 0.2 with 60 dates.",
                           advanced=True)
        self.add_parameter(num("DS_CELL_SIZE", self.tr("DS cell size (m)"), num.Double, 100.0, minValue=1.0),
                           "At most one distributed scatterer per grid cell of this size (the best pixel of the cell), "
                           "so a homogeneous area gives one point per cell, not a cloud of identical neighbours.",
                           advanced=True)
        self.add_parameter(QgsProcessingParameterVectorDestination(self.OUTPUT, self.tr("Measurement points")),
                           "GeoPackage (.gpkg) of measurement points in the EGMS schema.")
        self.addOutput(QgsProcessingOutputNumber("N_POINTS", self.tr("Number of measurement points")))

    # ------------------------------------------------------------------------------------------
    def _optional_number(self, parameters, name, context):
        value = parameters.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return self.parameterAsDouble(parameters, name, context)

    def _reference_lonlat(self, parameters, context, output_crs):
        value = parameters.get("REFERENCE")
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        point = self.parameterAsPoint(parameters, "REFERENCE", context)
        crs = self.parameterAsPointCrs(parameters, "REFERENCE", context)
        if not crs.isValid():
            crs = output_crs
        wgs84 = QgsCoordinateReferenceSystem("EPSG:4326")
        if crs != wgs84:
            point = QgsCoordinateTransform(crs, wgs84, QgsProject.instance()).transform(point)
        return float(point.x()), float(point.y())

    def compute(self, parameters, context, feedback, progress):
        from ..core.errors import InputError
        from ..core.psi.chain import STAGES, PsiParameters, compute_velocities
        output = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        path = output.split("|")[0]
        if not path.lower().endswith(".gpkg"):
            raise InputError(f"{path}: the measurement points are written as a GeoPackage; "
                             "choose an output file ending in .gpkg.")
        out_crs = self.parameterAsCrs(parameters, "OUTPUT_CRS", context)
        if not out_crs.isValid():
            out_crs = QgsCoordinateReferenceSystem("EPSG:3035")
        stack = stack_from_parameters(self, parameters, context,
                                      wavelength_m=self._optional_number(parameters, "WAVELENGTH", context),
                                      incidence_deg=self._optional_number(parameters, "INCIDENCE_ANGLE", context),
                                      heading_deg=self._optional_number(parameters, "HEADING", context),
                                      slant_range_m=self._optional_number(parameters, "SLANT_RANGE", context))
        feedback.pushInfo(stack.describe())
        ds_window = ds_window_from_parameters(self, parameters, context)
        params = PsiParameters(
            dispersion_threshold=self.parameterAsDouble(parameters, "DISPERSION_THRESHOLD", context),
            coherence_threshold=self.parameterAsDouble(parameters, "COHERENCE_THRESHOLD", context),
            max_rmse_mm=self.parameterAsDouble(parameters, "MAX_RMSE", context),
            max_arc_length_m=self.parameterAsDouble(parameters, "MAX_ARC_LENGTH", context),
            max_velocity_diff=self.parameterAsDouble(parameters, "MAX_VELOCITY_DIFF", context),
            max_height_diff=self.parameterAsDouble(parameters, "MAX_HEIGHT_DIFF", context),
            aps_filter_m=self.parameterAsDouble(parameters, "APS_FILTER", context),
            aps_window_days=self.parameterAsDouble(parameters, "APS_TIME_WINDOW", context),
            calibrate_amplitude=self.parameterAsBool(parameters, "CALIBRATE_AMPLITUDE", context),
            block_size_mb=self.parameterAsDouble(parameters, "BLOCK_SIZE_MB", context),
            memory_mb=self.parameterAsDouble(parameters, "MEMORY_MB", context),
            reference_lonlat=self._reference_lonlat(parameters, context, out_crs),
            scatterers=SCATTERER_VALUES[self.parameterAsEnum(parameters, "SCATTERERS", context)],
            ds_window_rows=ds_window["window_rows"], ds_window_cols=ds_window["window_cols"],
            ds_alpha=ds_window["alpha"], ds_test=ds_window["test"],
            ds_min_shp=self.parameterAsInt(parameters, "DS_MIN_SHP", context),
            ds_coherence=self.parameterAsDouble(parameters, "DS_COHERENCE", context),
            ds_cell_m=self.parameterAsDouble(parameters, "DS_CELL_SIZE", context),
        )
        # one Processing step per stage of the chain, and one for writing the GeoPackage
        multi = QgsProcessingMultiStepFeedback(len(STAGES) + 1, feedback)
        result = compute_velocities(stack, params, StepsProgress(multi, STAGES))
        for stage, seconds in result.timings.items():
            feedback.pushInfo(f"  {stage}: {seconds:.1f} s")
        counts = result.counts
        feedback.pushInfo(
            f"{counts.get('candidates', 0)} candidates → {counts.get('network_points', 0)} in the coherent network "
            f"({counts.get('network_arcs', 0)} arcs) → {result.n_points} measurement points"
            + (f"; measured in {counts['patches_measured']} of {counts['patches']} overlapping patches (network "
               "figures count the points of an overlap once per patch)" if counts.get("patches") else "")
            + (f"; {counts['ds_points']} of them distributed scatterers" if "ds_points" in counts else ""))
        if result.reference.get("mode") == "point":
            feedback.pushInfo(f"Reference: the point at line {result.reference['line']}, pixel "
                              f"{result.reference['pixel']} ({result.reference['distance_m']:.0f} m from REFERENCE)")
        else:
            feedback.pushInfo("Reference: median of all measurement points")
        progress.check()
        multi.setCurrentStep(len(STAGES))
        self.partial_output(path)
        write_measurement_points(path, result, out_crs, stack, FeedbackProgress(multi))
        self.style_on_load(context, path)
        return {self.OUTPUT: path, "N_POINTS": result.n_points}


def _crs_text(crs):
    return crs.authid() if crs.authid() else crs.toWkt()


def write_measurement_points(path, result, out_crs, stack, progress):
    """Write the chain's columns as a GeoPackage point layer (temp file renamed on success): the core's one writer
    (:func:`~egms_plugin.core.psi.output.write_measurement_points`, shared with the batch runner)."""
    from ..core.psi.output import write_measurement_points as write

    return write(path, result, stack, _crs_text(out_crs), progress)


ALGORITHM = ComputeVelocitiesAlgorithm
REQUIRES = ("numpy", "scipy", "numba", "rasterio", "pyproj")
