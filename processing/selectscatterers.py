"""egms:selectscatterers — amplitude dispersion and persistent-scatterer candidates of a stack.

The candidates go to a feature sink rather than a fixed GeoPackage writer: the
layer is small next to a measurement-point layer (a handful of attributes, no
date columns), and a sink lets the user pick any format, a temporary layer, or
chain the algorithm in the modeler.
"""

from __future__ import annotations

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsFeature,
    QgsFeatureSink,
    QgsFields,
    QgsGeometry,
    QgsPointXY,
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterCrs,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
)

from ..compat import SOURCE_VECTOR_POINT, WKB_POINT, make_field
from .base import EgmsAlgorithm
from .parameters import add_dispersion_threshold, add_stack_folder, stack_from_parameters

FIELDS = (("line", "int"), ("pixel", "int"), ("amplitude_dispersion", "double"), ("mean_amplitude", "double"),
          ("latitude", "double"), ("longitude", "double"), ("easting", "double"), ("northing", "double"))
BATCH = 5000


class SelectScatterersAlgorithm(EgmsAlgorithm):
    alg_name = "selectscatterers"
    kernel_modules = ("sar.amplitude",)
    display = "Select scatterers"
    group_name = "SAR stack"
    group_key = "sarstack"
    help_text = (
        "Amplitude statistics of a coregistered SLC stack and its persistent-scatterer candidates.\n\n"
        "For every pixel: mean amplitude μ_A and amplitude dispersion D_A = σ_A / μ_A (population standard "
        "deviation, over all acquisitions), in one pass over the stack read in row blocks. With amplitude "
        "calibration each image is first divided by its mean amplitude (over a sample of rows), which removes "
        "gain changes between acquisitions. D_A needs 20 or more acquisitions to mean anything (a warning is "
        "given below that).\n\n"
        "Candidates are the pixels with D_A below the threshold (EGMS: 0.25; speckle has D_A ≈ 0.52). Output: a "
        "point layer with line, pixel (SLC row/column from 0), amplitude_dispersion, mean_amplitude, latitude, "
        "longitude (WGS84), easting, northing (EPSG:3035), in the output CRS (default EPSG:3035); optional "
        "GeoTIFFs of D_A and μ_A for the whole stack (georeferenced for geocoded stacks)."
    )

    INPUT = "INPUT"
    OUTPUT = "OUTPUT"

    def initAlgorithm(self, config=None):  # noqa: N802, ARG002 (QGIS API)
        num = QgsProcessingParameterNumber
        add_stack_folder(self, "Folder of coregistered SLCs (one complex raster per date).")
        add_dispersion_threshold(self, "Pixels with amplitude dispersion below this are candidates (EGMS: 0.25).")
        self.add_parameter(QgsProcessingParameterBoolean("CALIBRATE_AMPLITUDE", self.tr("Calibrate amplitudes"), False),
                           "Divide each image by its mean amplitude before computing the statistics.")
        self.add_parameter(QgsProcessingParameterCrs("OUTPUT_CRS", self.tr("Output CRS"), "EPSG:3035", optional=True),
                           "CRS of the candidate layer (default EPSG:3035).")
        self.add_parameter(num("BLOCK_SIZE_MB", self.tr("Block size (MB)"), num.Double, 256.0, minValue=8.0),
                           "Memory for one block of rows of all SLCs.", advanced=True)
        self.add_parameter(QgsProcessingParameterRasterDestination(
            "OUTPUT_DISPERSION", self.tr("Amplitude dispersion raster"), optional=True, createByDefault=False),
            "Optional GeoTIFF of the amplitude dispersion of every pixel (float32, NaN where the amplitude is 0).")
        self.add_parameter(QgsProcessingParameterRasterDestination(
            "OUTPUT_MEAN_AMPLITUDE", self.tr("Mean amplitude raster"), optional=True, createByDefault=False),
            "Optional GeoTIFF of the mean amplitude of every pixel (float32).")
        self.add_parameter(QgsProcessingParameterFeatureSink(self.OUTPUT, self.tr("Scatterer candidates"),
                                                             type=SOURCE_VECTOR_POINT),
                           "Point layer of the candidates.")
        self.addOutput(QgsProcessingOutputNumber("N_CANDIDATES", self.tr("Number of candidates")))

    def _raster_path(self, parameters, name, context):
        value = parameters.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        path = self.parameterAsOutputLayer(parameters, name, context)
        return path or None

    def compute(self, parameters, context, feedback, progress):
        from ..core.geo import project_lonlat
        from ..core.sar.amplitude import scan_stack
        threshold = self.parameterAsDouble(parameters, "DISPERSION_THRESHOLD", context)
        out_crs = self.parameterAsCrs(parameters, "OUTPUT_CRS", context)
        if not out_crs.isValid():
            out_crs = QgsCoordinateReferenceSystem("EPSG:3035")
        stack = stack_from_parameters(self, parameters, context)
        feedback.pushInfo(stack.describe())
        for warning in stack.warnings:
            progress.warn(warning)
        if not stack.georeferenced:
            from ..core.errors import InputError

            raise InputError(f"{stack.folder}: cannot georeference the candidates — the SLCs carry no "
                             "CRS/geotransform and the folder has no lat*/lon* rasters.")
        rasters = {name: self._raster_path(parameters, name, context)
                   for name in ("OUTPUT_DISPERSION", "OUTPUT_MEAN_AMPLITUDE")}
        for path in rasters.values():
            self.partial_output(path)
        cand = scan_stack(stack, threshold, self.parameterAsBool(parameters, "CALIBRATE_AMPLITUDE", context),
                          self.parameterAsDouble(parameters, "BLOCK_SIZE_MB", context), keep_phasors=False,
                          dispersion_path=rasters["OUTPUT_DISPERSION"],
                          mean_amplitude_path=rasters["OUTPUT_MEAN_AMPLITUDE"], progress=progress.span(0.0, 0.8))
        feedback.pushInfo(f"{cand.size} candidates with amplitude dispersion < {threshold:g} "
                          f"({100.0 * cand.size / max(cand.n_pixels, 1):.2f} % of {cand.n_pixels} pixels)")
        if cand.calibration is not None:
            feedback.pushInfo("Calibration factors: " + ", ".join(f"{c:.3f}" for c in cand.calibration))

        lon, lat = stack.lonlat(cand.lines, cand.pixels)
        east, north = project_lonlat(lon, lat, "EPSG:3035")
        crs_text = out_crs.authid() or out_crs.toWkt()
        x, y = project_lonlat(lon, lat, crs_text)
        fields = QgsFields()
        for name, kind in FIELDS:
            fields.append(make_field(name, kind))
        sink, dest_id = self.parameterAsSink(parameters, self.OUTPUT, context, fields, WKB_POINT, out_crs)
        if sink is None:
            raise QgsProcessingException(self.invalidSinkError(parameters, self.OUTPUT))
        columns = (cand.lines, cand.pixels, cand.dispersion, cand.mean_amplitude, lat, lon, east, north)
        n = cand.size
        write = progress.span(0.8, 1.0)
        for start in range(0, n, BATCH):
            progress.check()
            stop = min(start + BATCH, n)
            feats = []
            for i in range(start, stop):
                f = QgsFeature(fields)
                f.setAttributes([int(columns[0][i]), int(columns[1][i])] + [float(c[i]) for c in columns[2:]])
                f.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(float(x[i]), float(y[i]))))
                feats.append(f)
            sink.addFeatures(feats, QgsFeatureSink.Flag.FastInsert)
            write.update(stop / n)
        result = {self.OUTPUT: dest_id, "N_CANDIDATES": n}
        result.update({name: path for name, path in rasters.items() if path})
        return result


ALGORITHM = SelectScatterersAlgorithm
REQUIRES = ("numpy", "numba", "rasterio", "pyproj")
