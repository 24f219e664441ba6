"""EGMS Ortho (L3): vertical and east motion from ascending + descending LOS layers (ARCHITECTURE.md, EGMS format: Ortho).

Method, per input layer ("geometry": one track/burst of one orbit direction):

1. optional north–south removal: the GNSS model's north velocity N at each
   point, as ``N · los_north`` × t, is subtracted from the series (the
   decomposition then assumes N = 0);
2. points are binned into square cells aligned to multiples of ``cell_size``
   in EPSG:3035 (centre at +cell/2); per cell, the layer's series, LOS vector
   and precision are averaged (a date is averaged over the points valid on it);
3. each averaged series is resampled linearly to the regular 6-day grid whose
   origin is 2014-04-03 (:data:`GRID_ORIGIN`), over the span common to all
   layers — never extrapolated;
4. per cell and epoch, weighted least squares for (E, U) with
   ``d_g = E·los_east_g + U·los_up_g``, weights ``1/σ_g²``; cells need at
   least one ascending and one descending geometry, and a design whose
   condition number is at most ``max_condition``; an epoch where a geometry has
   no data is solved from the others (empty when an orbit direction is lost);
5. the E and U series are referred to their first epoch (= 0) and the EGMS
   statistics are recomputed on them (:func:`~...egms.stats.egms_statistics`).

Precision and weights: σ_g of a cell average is ``sqrt(mean σ_i²/n)`` over the
n points (independent errors), each σ_i floored at :data:`SIGMA_FLOOR` (half the
0.1 rounding of published values).  The weights use the points' ``rmse`` (mm,
the per-date scatter — the precision of the displacements decomposed) when
every layer has it, else ``mean_velocity_std`` (mm/yr, proportional for equal
time spans), else equal weights.  Propagated standard deviations:
``propagated_displacement_std`` = sqrt(diag (AᵀWA)⁻¹) with σ from ``rmse`` (mm;
all geometries of the cell present), ``propagated_velocity_std`` = the
``mean_velocity_std`` of the inputs carried through the same linear
combination (mm/yr); NaN when the layers lack those columns.

Modules: :mod:`.epochs` (the 6-day time grid, resampling), :mod:`.decomposer`
(cells, the per-cell WLS, :func:`decompose`), :mod:`.l3` (L3 point tables and
velocity GeoTIFFs), :mod:`.inputs` (which fields of a point layer the
decomposition reads).  Their public names are importable from this package.
"""

from .decomposer import (
    DEFAULT_CELL_SIZE,
    DEFAULT_MAX_CONDITION,
    SIGMA_FLOOR,
    OrthoDecomposer,
    OrthoResult,
    decompose,
)
from .epochs import GRID_ORIGIN, GRID_STEP_DAYS, MIN_EPOCHS, common_epochs, grid_epochs, resampling_weights
from .inputs import LayerPlan, plan_epochs, plan_layer
from .l3 import COMPONENTS, EXTRA_FIELDS, L3_FIELDS, NODATA, l3_table, velocity_grid, write_outputs, write_velocity_geotiff

__all__ = [
    "COMPONENTS", "DEFAULT_CELL_SIZE", "DEFAULT_MAX_CONDITION", "EXTRA_FIELDS", "GRID_ORIGIN", "GRID_STEP_DAYS",
    "L3_FIELDS", "MIN_EPOCHS", "NODATA", "SIGMA_FLOOR", "LayerPlan", "OrthoDecomposer", "OrthoResult",
    "common_epochs", "decompose", "grid_epochs", "l3_table", "plan_epochs", "plan_layer", "resampling_weights",
    "velocity_grid", "write_outputs", "write_velocity_geotiff",
]
