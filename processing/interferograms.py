"""egms:interferograms — multilooked interferograms and coherence of a pair network from a stack folder."""

from __future__ import annotations

from qgis.core import (
    QgsProcessingOutputNumber,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
)

from .base import EgmsAlgorithm
from .parameters import add_ds_window_parameters, add_stack_folder, ds_window_from_parameters, stack_from_parameters

# Same order as core.sar.pairs.NETWORKS (not imported here: the provider must load without numba).
NETWORKS = ("single reference", "sequential", "small baseline")


class InterferogramsAlgorithm(EgmsAlgorithm):
    alg_name = "interferograms"
    kernel_modules = ("sar._interferogram_kernel",)
    display = "Form interferograms"
    group_name = "SAR stack"
    group_key = "sarstack"
    help_text = (
        "Forms multilooked interferograms and their coherence for a network of acquisition pairs of a "
        "coregistered SLC stack folder (one complex raster per date named with YYYYMMDD; optional "
        "baselines.csv and lat/lon rasters).\n\n"
        "Networks: single reference — every date with one reference date (REFERENCE_DATE, default the "
        "date nearest the middle of the time span); sequential — every date with its next N dates; "
        "small baseline — every pair within a maximum temporal baseline (days) and a maximum "
        "perpendicular-baseline difference (m; only when baselines.csv exists, otherwise temporal only). A "
        "network that falls apart into unconnected groups of dates is reported as a warning.\n\n"
        "For each pair (earlier date i, later date k) and each window of row × column looks: "
        "phase = arg Σ s_i·conj(s_k) (rad, wrapped to (−π, π]) and coherence = |Σ s_i·conj(s_k)| / "
        "sqrt(Σ|s_i|²·Σ|s_k|²) (0–1). Sign: the LOS displacement change is d_k − d_i = −λ/(4π)·phase, "
        "positive towards the satellite. A window that is all zero in either date gets coherence 0 and phase 0 "
        "(NaN SLC values count as 0). Rows and columns beyond the last whole window are dropped (reported in the log).\n\n"
        "Phase linking (PHASE_LINKING, for fields, slopes and other distributed scatterers): each output pixel "
        "takes the pixel at the centre of its window of looks, finds its statistically homogeneous pixels (SHPs: "
        "test DS_SHP_TEST of the amplitude series — GLRT of the mean powers by default, or two-sample "
        "Kolmogorov–Smirnov — within a DS_WINDOW_COLS × DS_WINDOW_ROWS window, significance DS_SIGNIFICANCE), "
        "estimates their coherence matrix over all dates and its "
        "phase-linked history (EMI); each pair's phase is then the difference of the linked phases (same sign "
        "convention: arg of the reference times the conjugate of the secondary) and its coherence the pair's "
        "sample coherence over the SHPs. Less noisy than boxcar looks over mixed pixels (see README); slower, "
        "and the looks act as strides only.\n\n"
        "Outputs in OUTPUT_FOLDER: one GeoTIFF per pair named YYYYMMDD_YYYYMMDD.tif (earlier date first), "
        "Float32, band 1 wrapped phase (rad), band 2 coherence. A geocoded stack keeps "
        "its CRS and its geotransform scaled by the looks; a radar-geometry stack (lat/lon rasters) stays "
        "in radar geometry with WGS84 ground control points from its lat/lon rasters, which QGIS and GDAL "
        "use to place it on the map. pairs.csv lists reference, secondary, "
        "temporal_baseline_days, perpendicular_baseline_m (B⊥ secondary − B⊥ reference, empty without "
        "baselines.csv) and file. The output folder must be new, empty or a previous interferogram output "
        "(replaced). Nothing is written if the run fails or is cancelled."
    )

    INPUT = "INPUT"
    NETWORK = "NETWORK"
    REFERENCE_DATE = "REFERENCE_DATE"
    SEQUENTIAL_NEIGHBOURS = "SEQUENTIAL_NEIGHBOURS"
    MAX_TEMPORAL_BASELINE = "MAX_TEMPORAL_BASELINE"
    MAX_PERPENDICULAR_BASELINE = "MAX_PERPENDICULAR_BASELINE"
    ROW_LOOKS = "ROW_LOOKS"
    COL_LOOKS = "COL_LOOKS"
    BLOCK_SIZE_MB = "BLOCK_SIZE_MB"
    PHASE_LINKING = "PHASE_LINKING"
    OUTPUT_FOLDER = "OUTPUT_FOLDER"
    N_PAIRS = "N_PAIRS"

    def initAlgorithm(self, config=None):  # noqa: N802, ARG002 (QGIS API)
        num = QgsProcessingParameterNumber
        add_stack_folder(
            self,
            "Folder of coregistered complex SLC rasters (CInt16/CFloat32/CFloat64), one per date with YYYYMMDD in "
            "the file name; optional baselines.csv (date,bperp), stack.json, lat*/lon* rasters.")
        self.add_parameter(
            QgsProcessingParameterEnum(self.NETWORK, self.tr("Pair network"), options=list(NETWORKS), defaultValue=1),
            "single reference: every date with the reference date; sequential: every date with its next N dates; "
            "small baseline: every pair within the temporal and perpendicular baseline limits.")
        self.add_parameter(
            QgsProcessingParameterString(self.REFERENCE_DATE, self.tr("Reference date (YYYYMMDD, single reference)"),
                                         optional=True),
            "Reference acquisition of the single-reference network; must be a date of the stack. Empty: the date "
            "nearest the middle of the time span (keeps the longest temporal baseline short).")
        self.add_parameter(
            num(self.SEQUENTIAL_NEIGHBOURS, self.tr("Sequential neighbours (N)"), num.Integer, 3, minValue=1),
            "Sequential network: each date is paired with its next N dates (for n dates: N·n − N(N+1)/2 pairs).")
        self.add_parameter(
            num(self.MAX_TEMPORAL_BASELINE, self.tr("Maximum temporal baseline (days)"), num.Double, 48.0,
                minValue=1.0),
            "Small-baseline network: pairs at most this many days apart.")
        self.add_parameter(
            num(self.MAX_PERPENDICULAR_BASELINE, self.tr("Maximum perpendicular baseline (m)"), num.Double, 150.0,
                minValue=0.001),
            "Small-baseline network: pairs whose perpendicular baselines differ by at most this (m). Ignored "
            "(with a warning) when the stack has no baselines.csv.")
        self.add_parameter(
            num(self.ROW_LOOKS, self.tr("Row looks (0 = automatic)"), num.Integer, 0, minValue=0),
            "Rows (azimuth lines) averaged per output pixel. 0 = automatic, about 30 m × 30 m windows: for a "
            "geocoded stack the number of pixels nearest 30 m along each axis (square windows on the ground, "
            "e.g. 2 × 2 for 20 m pixels); for a radar-geometry stack 2 rows × 8 columns, made for Sentinel-1 IW "
            "(≈14 m azimuth × 3.7 m ground range pixels).")
        self.add_parameter(
            num(self.COL_LOOKS, self.tr("Column looks (0 = automatic)"), num.Integer, 0, minValue=0),
            "Columns (range pixels) averaged per output pixel; 0 = automatic (see row looks).")
        self.add_parameter(
            QgsProcessingParameterBoolean(self.PHASE_LINKING, self.tr("Phase linking over homogeneous pixels (DS)"),
                                          defaultValue=False),
            "Form each pair from the phase-linked histories of the pixel's statistically homogeneous neighbours "
            "instead of boxcar looks (distributed scatterers: fields, slopes). Slower; looks act as strides.")
        add_ds_window_parameters(self)
        self.add_parameter(
            num(self.BLOCK_SIZE_MB, self.tr("Block size (MB)"), num.Double, 256.0, minValue=1.0),
            "Memory budget of one block of rows: the SLCs of all dates plus the outputs of all pairs. Memory use "
            "is bounded by this, not by the scene size.", advanced=True)
        self.add_parameter(
            QgsProcessingParameterFolderDestination(self.OUTPUT_FOLDER, self.tr("Output folder")),
            "Folder for the YYYYMMDD_YYYYMMDD.tif interferograms and pairs.csv: new, empty, or a previous "
            "interferogram output (replaced as a whole at the end of the run).")
        self.addOutput(QgsProcessingOutputNumber(self.N_PAIRS, self.tr("Number of interferograms")))

    def run_kernel_modules(self, parameters, context):
        if self.parameterAsBool(parameters, self.PHASE_LINKING, context):
            from ..core.jit import DS_KERNEL_MODULES

            return (*self.kernel_modules, *DS_KERNEL_MODULES)
        return self.kernel_modules

    def compute(self, parameters, context, feedback, progress):
        from ..core.psi.ds.scan import DsParameters
        from ..core.sar.interferograms import form_interferograms
        network = NETWORKS[self.parameterAsEnum(parameters, self.NETWORK, context)]
        reference = (self.parameterAsString(parameters, self.REFERENCE_DATE, context) or "").strip()
        output = self.parameterAsString(parameters, self.OUTPUT_FOLDER, context)
        stack = stack_from_parameters(self, parameters, context)
        feedback.pushInfo("\n".join(line for line in stack.describe().splitlines() if "warning:" not in line))
        if reference and network != "single reference":
            feedback.pushInfo(f"Reference date {reference} ignored: it applies to the single-reference network only.")
            reference = ""
        linking = None
        if self.parameterAsBool(parameters, self.PHASE_LINKING, context):
            linking = DsParameters(**ds_window_from_parameters(self, parameters, context))
        result = form_interferograms(
            stack, output, network=network, reference_date=reference or None,
            neighbours=self.parameterAsInt(parameters, self.SEQUENTIAL_NEIGHBOURS, context),
            max_temporal_days=self.parameterAsDouble(parameters, self.MAX_TEMPORAL_BASELINE, context),
            max_perpendicular_m=self.parameterAsDouble(parameters, self.MAX_PERPENDICULAR_BASELINE, context),
            row_looks=self.parameterAsInt(parameters, self.ROW_LOOKS, context) or None,
            col_looks=self.parameterAsInt(parameters, self.COL_LOOKS, context) or None,
            block_mb=self.parameterAsDouble(parameters, self.BLOCK_SIZE_MB, context),
            progress=progress, phase_linking=linking,
        )
        rows, cols = result["shape"]
        feedback.pushInfo(
            f"Wrote {len(result['files'])} interferograms ({network} network, looks {result['looks'][0]} × "
            f"{result['looks'][1]} rows × columns" + (", phase-linked" if linking else "")
            + f", {cols} × {rows} pixels"
            + ("" if stack.geocoded else ", radar geometry georeferenced by WGS84 ground control points")
            + f") and pairs.csv into {result['folder']}"
        )
        return {self.OUTPUT_FOLDER: result["folder"], self.N_PAIRS: len(result["files"])}


ALGORITHM = InterferogramsAlgorithm
REQUIRES = ("numpy", "numba", "rasterio")
