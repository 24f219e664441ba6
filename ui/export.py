"""Export of the plotted series and of the velocity profile as CSV (and the file-name helpers of the PNG/SVG
exports).

The CSV is a long table, one row per series and date, holding exactly what the
plot shows (after the reference and detrend), with the model at that date:

``layer, point_id, date, displacement_mm, model_mm, std_mm, count, model, reference, detrended``

``std_mm``/``count`` are filled for area means (population std and number of
points with a value on that date); empty cells are NULL dates or absent values.
"""

from __future__ import annotations

import csv
import math

from ..core.io.atomic import replaced_on_success
from ..layers.series import from_timestamp

CSV_COLUMNS = ("layer", "point_id", "date", "displacement_mm", "model_mm", "std_mm", "count", "model", "reference",
               "detrended")


def _number(value):
    value = float(value)
    return repr(value) if math.isfinite(value) else ""


def write_csv(path, plotted, reference_label="", detrended=False):
    """Write ``plotted`` (list of PlottedSeries) to ``path``; returns the number of data rows.

    Written to a temporary file in the same folder and renamed, so a failure leaves nothing.
    """
    rows = 0
    with replaced_on_success(path, ".csv") as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_COLUMNS)
        for p in plotted:
            s = p.series
            for k, x in enumerate(p.x):
                writer.writerow([
                    s.layer_name,
                    s.point_id,
                    from_timestamp(x).isoformat(),
                    _number(p.y[k]),
                    _number(p.model_on_dates[k]) if p.model_on_dates is not None else "",
                    _number(p.std[k]) if p.std is not None else "",
                    int(s.count[k]) if s.count is not None else "",
                    p.model_name or "",
                    reference_label,
                    "yes" if detrended else "no",
                ])
                rows += 1
    return rows


PROFILE_COLUMNS = ("layer", "point_id", "distance_m", "offset_m", "velocity_mm_yr", "std_mm_yr", "segment",
                   "velocity_field", "buffer_m")


def write_profile_csv(path, data):
    """Write the velocity profile ``data`` (:class:`~.profile.ProfileData`) to ``path``, one row per point in
    order of distance; returns the number of data rows.  Same temporary-then-rename as :func:`write_csv`."""
    p = data.profile
    with replaced_on_success(path, ".csv") as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(PROFILE_COLUMNS)
        for k in range(len(p)):
            writer.writerow([data.layer_name, data.point_ids[k], _number(p.distance[k]), _number(p.offset[k]),
                             _number(p.velocity[k]), _number(p.std[k]), int(p.segment[k]) + 1, data.velocity_field,
                             _number(p.buffer)])
    return len(p)


def with_suffix(path, suffix):
    """``path`` ending in ``suffix`` (".png", ".svg", ".csv"), added when the user typed none."""
    return path if path.lower().endswith(suffix) else path + suffix
