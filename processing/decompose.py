"""egms:decompose — vertical and east motion from ascending + descending layers (EGMS Ortho, L3)."""

from __future__ import annotations

from qgis.core import (
    QgsProcessingOutputNumber,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterVectorDestination,
)

from ..compat import NUMBER_DOUBLE, POINT_GEOMETRY, SOURCE_VECTOR_POINT
from .base import EgmsAlgorithm
from .parameters import add_gnss_parameters, gnss_model_from_parameters


class DecomposeAlgorithm(EgmsAlgorithm):
    alg_name = "decompose"
    kernel_modules = ("products.ortho._wls_kernel",)
    display = "Decompose LOS to vertical/east"
    group_name = "EGMS products"
    group_key = "egmsproducts"
    help_text = (
        "Combines ascending and descending LOS layers into vertical (U, positive up) and east–west (E, positive "
        "east) motion on a grid, with the EGMS Ortho (L3) method.\n\n"
        "Inputs: one or more ascending and one or more descending point layers (Calibrated products or our own) "
        "with los_east, los_north, los_up and date fields (YYYYMMDD, DYYYYMMDD or D_YYYYMMDD; LOS displacement in "
        "mm, positive towards the satellite). The orbit direction is checked from the sign of los_east "
        "(ascending < 0). Precision: rmse (or rmse_ts or RMSE, mm) weights the geometries; mean_velocity_std (mm/yr) is "
        "propagated to the velocities. Without rmse, mean_velocity_std weights; without both, equal weights.\n\n"
        "Method: optional north–south removal (the GNSS model's north velocity × los_north × time is subtracted); "
        "points are averaged per layer in square cells aligned to multiples of the cell size in EPSG:3035 "
        "(default 100 m, centre at +50 m); each cell series is resampled linearly to the 6-day grid from 2014-04-03 "
        "over the span common to all layers (never extrapolated); per cell and epoch a weighted least squares "
        "solves d = E·los_east + U·los_up (north = 0) with weights 1/σ²; the E and U series start at 0 and the "
        "EGMS statistics are recomputed on them. Cells need at least one ascending and one descending layer and a "
        "design condition number ≤ the maximum; others are dropped and counted.\n\n"
        "Outputs: two GeoPackage point layers in the L3 schema (pid, easting, northing, height, rmse, "
        "mean_velocity, mean_velocity_std, acceleration(_std), seasonality(_std), then propagated_velocity_std "
        "(mm/yr), propagated_displacement_std (mm), n_points_asc, n_points_desc, n_geometries, then one field per "
        "epoch YYYYMMDD in mm) — vertical (OUTPUT) and east (OUTPUT_EAST); GeoTIFFs of the vertical and east mean "
        "velocity (mm/yr, Float32, nodata −9999, EPSG:3035, cell-aligned; a .qml beside each styles it). Note: "
        "on resampled series the recomputed mean_velocity_std is optimistic; propagated_velocity_std carries the "
        "input precision."
    )

    def initAlgorithm(self, config=None):  # noqa: N802, ARG002 (QGIS API)
        self.add_parameter(
            QgsProcessingParameterMultipleLayers("ASCENDING", self.tr("Ascending layers"), SOURCE_VECTOR_POINT),
            "Point layers of ascending geometries (los_east < 0) with LOS vectors and date fields.")
        self.add_parameter(
            QgsProcessingParameterMultipleLayers("DESCENDING", self.tr("Descending layers"), SOURCE_VECTOR_POINT),
            "Point layers of descending geometries (los_east > 0) with LOS vectors and date fields.")
        add_gnss_parameters(self, "Optional: its north velocity is removed from the LOS series before the "
                                  "decomposition (without it, north motion is neglected).")
        self.add_parameter(
            QgsProcessingParameterNumber("CELL_SIZE", self.tr("Cell size (m)"), NUMBER_DOUBLE,
                                         100.0, minValue=1.0),
            "Side of the square cells in EPSG:3035 metres, aligned to multiples of it (EGMS: 100 m). The L3 pid "
            "identifies 100 m cells, so it repeats for cells smaller than 100 m.")
        self.add_parameter(
            QgsProcessingParameterNumber("MAX_CONDITION", self.tr("Maximum condition number"),
                                         NUMBER_DOUBLE, 10.0, minValue=1.0),
            "Cells whose design [los_east, los_up] has a larger condition number are dropped as ill-conditioned "
            "(ascending + descending Sentinel-1 gives about 1.3–2).", advanced=True)
        self.add_parameter(
            QgsProcessingParameterVectorDestination("OUTPUT", self.tr("Vertical (U) points"), SOURCE_VECTOR_POINT),
            "L3 point layer of vertical motion (mm, mm/yr, positive up), GeoPackage.")
        self.add_parameter(
            QgsProcessingParameterVectorDestination("OUTPUT_EAST", self.tr("East–west (E) points"),
                                                    SOURCE_VECTOR_POINT),
            "L3 point layer of east–west motion (mm, mm/yr, positive east), GeoPackage.")
        self.add_parameter(
            QgsProcessingParameterRasterDestination("OUTPUT_VERTICAL_RASTER", self.tr("Vertical mean velocity raster"),
                                                    optional=True, createByDefault=False),
            "Optional GeoTIFF of the vertical mean velocity (mm/yr), one pixel per cell, nodata −9999.")
        self.add_parameter(
            QgsProcessingParameterRasterDestination("OUTPUT_EAST_RASTER", self.tr("East mean velocity raster"),
                                                    optional=True, createByDefault=False),
            "Optional GeoTIFF of the east mean velocity (mm/yr), one pixel per cell, nodata −9999.")
        self.addOutput(QgsProcessingOutputNumber("N_CELLS", self.tr("Cells decomposed")))
        self.addOutput(QgsProcessingOutputNumber("N_EPOCHS", self.tr("Epochs of the 6-day grid")))
        self.addOutput(QgsProcessingOutputNumber("N_DROPPED_ONE_ORBIT", self.tr("Cells dropped: one orbit direction only")))
        self.addOutput(QgsProcessingOutputNumber("N_DROPPED_ILL_CONDITIONED", self.tr("Cells dropped: ill-conditioned")))

    def compute(self, parameters, context, feedback, progress):
        from ..core.errors import InputError
        from ..core.products import ortho
        from ..layers.sources import require_numeric, source_to_table

        cell = self.parameterAsDouble(parameters, "CELL_SIZE", context)
        max_condition = self.parameterAsDouble(parameters, "MAX_CONDITION", context)
        out_up = self.output_gpkg(parameters, "OUTPUT", context)
        out_east = self.output_gpkg(parameters, "OUTPUT_EAST", context)
        rasters = {}
        for key, component in (("OUTPUT_VERTICAL_RASTER", "up"), ("OUTPUT_EAST_RASTER", "east")):
            path = self.parameterAsOutputLayer(parameters, key, context) if parameters.get(key) else ""
            if not path:
                continue  # optional: the vector layers alone
            if not path.lower().endswith((".tif", ".tiff")):
                raise InputError(f"{key}: the raster is written as GeoTIFF; give a file name ending in .tif, not {path!r}")
            rasters[key] = (component, self.writable_output(key, path))
        finals = [out_up, out_east] + [p for _c, p in rasters.values()]
        if len(set(finals)) < len(finals):
            raise InputError("OUTPUT, OUTPUT_EAST and the rasters must be different files")
        inputs, seen = [], {}
        for key, orbit in (("ASCENDING", "ascending"), ("DESCENDING", "descending")):
            layers = self.parameterAsLayerList(parameters, key, context)
            if not layers:
                raise InputError(f"{key}: no {orbit} layer given — the decomposition needs at least one ascending and "
                                 "one descending layer")
            for layer in layers:
                identity = (key, layer.providerType(), layer.source())
                if identity in seen:  # the same data twice would double its weight (in both lists: refused below)
                    feedback.pushWarning(f"{layer.name()}: given twice in {key}; used once")
                    continue
                seen[identity] = True
                inputs.append((key, orbit, layer))
        model = gnss_model_from_parameters(self, parameters, context, feedback)
        reach = self.parameterAsDouble(parameters, "MAX_EXTRAPOLATION", context)

        # field checks and the common time span from the field names, before reading any data
        plans = []
        for key, orbit, layer in inputs:
            if not hasattr(layer, "geometryType") or layer.geometryType() != POINT_GEOMETRY:
                raise InputError(f"{key}: {layer.name()} is not a point layer — give point layers of measurement points")
            plans.append((key, layer, ortho.plan_layer(layer.name(), layer.fields().names(), orbit)))
        epochs, message = ortho.plan_epochs([plan for _key, _layer, plan in plans])
        feedback.pushInfo(message)

        decomposer = ortho.OrthoDecomposer(epochs, cell, model, max_condition, reach)
        share = 0.6 / len(plans)
        for i, (key, layer, plan) in enumerate(plans):
            table, _source = source_to_table(self, {key: layer}, key, context, feedback, columns=plan.columns)
            require_numeric(table, plan.columns, plan.name)
            feedback.pushInfo(plan.describe(len(table)))
            plan.add_to(decomposer, table, progress.span(i * share, (i + 1) * share))
            del table
        for message in decomposer.messages:
            feedback.pushWarning(message)
        result = decomposer.solve(progress.span(0.6, 0.8))
        feedback.pushInfo(result.summary())
        if result.n_cells_one_orbit or result.n_cells_ill_conditioned:
            feedback.pushWarning(f"dropped {result.n_cells_one_orbit} cells seen from one orbit direction only and "
                                 f"{result.n_cells_ill_conditioned} ill-conditioned cells")
        if result.weight_source != "rmse":
            feedback.pushWarning(f"weights from {result.weight_source}: not every layer has rmse/rmse_ts/RMSE")

        results = self._write_as_one_set(context, result, out_up, out_east, rasters, progress.span(0.8, 1.0))
        return {**results, "N_CELLS": result.n_cells, "N_EPOCHS": len(epochs),
                "N_DROPPED_ONE_ORBIT": result.n_cells_one_orbit,
                "N_DROPPED_ILL_CONDITIONED": result.n_cells_ill_conditioned}


    def _write_as_one_set(self, context, result, out_up, out_east, rasters, progress):
        """Write every output under a temporary name, style it there, then rename the whole set into place in one
        short step (core/io/atomic.PendingSet): a run killed or failing before leaves the previous set whole, and
        every file carries the run's id (``egms_run_id`` / ``run_id``) so that a mix would be visible."""
        import os
        import uuid

        from ..core.io.atomic import PendingSet
        from ..core.products import ortho

        run_id = uuid.uuid4().hex
        paths = {"OUTPUT": (out_up, ".gpkg"), "OUTPUT_EAST": (out_east, ".gpkg")}
        paths.update({key: (path, ".tif") for key, (_c, path) in rasters.items()})
        with PendingSet(paths, companions={key: (".qml",) for key in rasters}) as pending:
            layers = {"up": os.path.splitext(os.path.basename(out_up))[0],
                      "east": os.path.splitext(os.path.basename(out_east))[0]}
            ortho.write_outputs(result, {"up": pending.tmp("OUTPUT"), "east": pending.tmp("OUTPUT_EAST")},
                                {c: pending.tmp(key) for key, (c, _p) in rasters.items()}, progress, layers, run_id)
            self.style_on_load(context, pending.tmp("OUTPUT"), final=out_up)
            self.style_on_load(context, pending.tmp("OUTPUT_EAST"), final=out_east)
            for key, (_c, path) in rasters.items():
                self.style_raster_on_load(context, pending.tmp(key), final=path)
            committed = pending.commit()
        return {"OUTPUT_VERTICAL_RASTER": None, "OUTPUT_EAST_RASTER": None, **committed}


ALGORITHM = DecomposeAlgorithm
REQUIRES = ("numpy", "scipy", "numba", "rasterio", "pyproj")
