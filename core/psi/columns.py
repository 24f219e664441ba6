"""The measurement points' columns in the EGMS Basic schema (step 8 of the chain, :mod:`.chain`).

Field names, order, units and signs are a fixed contract (ARCHITECTURE.md, the measurement-point output):
LOS displacement and velocity positive towards the satellite, mm and mm/yr, heights and height error m.
"""

from __future__ import annotations

import numpy as np

from .. import conventions as cv
from ..errors import InputError

ATTRIBUTE_FIELDS = (
    "pid", "mp_type", "latitude", "longitude", "easting", "northing", "height", "line", "pixel", "rmse",
    "temporal_coherence", "amplitude_dispersion", "incidence_angle", "track_angle", "los_east", "los_north",
    "los_up", "mean_velocity", "mean_velocity_std", "acceleration", "acceleration_std", "seasonality",
    "seasonality_std", "height_error",
)
"""Attribute fields of the output, in order; the date fields (YYYYMMDD, LOS mm) follow."""


def _l2_pid(lines, pixels, folder):
    from ..egms.pid import l2_pid

    try:
        return l2_pid(lines, pixels, ipe=0)
    except ValueError as exc:
        raise InputError(f"{folder}: {exc}; EGMS point ids hold pixels < 65536 and lines < 13977.") from None


def measurement_point_columns(stack, cand, idx, lon, lat, geometry, stats, u, d):
    """Columns of the measurement points ``idx`` (indices into the candidates ``cand``), in the order of
    :data:`ATTRIBUTE_FIELDS` followed by one LOS mm column per date (``YYYYMMDD``).

    ``lon``, ``lat`` WGS84 of all candidates, their :class:`.geometry.Geometry`, the EGMS statistics
    ``stats`` and referenced series ``d`` (mm) of the points, their height-error terms ``u`` (m, or None:
    ``height_error`` NaN).  ``easting``/``northing`` are EPSG:3035; the height error is relative (median 0).
    """
    from pyproj import Transformer

    n = idx.size
    lines, pixels = cand.lines[idx], cand.pixels[idx]
    east, north = Transformer.from_crs("EPSG:4326", "EPSG:3035", always_xy=True).transform(lon[idx], lat[idx])
    inc = geometry.incidence[idx] if geometry.incidence is not None else np.full(n, np.nan)
    heading = np.full(n, np.nan if geometry.heading is None else float(geometry.heading))
    if geometry.incidence is not None and geometry.heading is not None:
        le, ln, lu = cv.los_vector(inc, heading)
    else:
        le = ln = lu = np.full(n, np.nan)
    if u is not None:
        height_error = u * (geometry.height_scale[idx] if geometry.height_scale is not None else 1.0)
        height_error = height_error - np.median(height_error)  # relative, like the velocities: median 0
    else:
        height_error = np.full(n, np.nan)
    cols = {
        "pid": _l2_pid(lines, pixels, stack.folder).astype(object),
        "mp_type": np.zeros(n, dtype=np.int64),
        "latitude": lat[idx].astype(np.float64),
        "longitude": lon[idx].astype(np.float64),
        "easting": np.asarray(east, dtype=np.float64),
        "northing": np.asarray(north, dtype=np.float64),
        "height": np.full(n, np.nan),
        "line": lines.astype(np.int64),
        "pixel": pixels.astype(np.int64),
        "rmse": stats["rmse"],
        "temporal_coherence": stats["temporal_coherence"],
        "amplitude_dispersion": cand.dispersion[idx].astype(np.float64),
        "incidence_angle": np.asarray(inc, dtype=np.float64),
        "track_angle": heading,
        "los_east": np.asarray(le, dtype=np.float64),
        "los_north": np.asarray(ln, dtype=np.float64),
        "los_up": np.asarray(lu, dtype=np.float64),
        "mean_velocity": stats["mean_velocity"],
        "mean_velocity_std": stats["mean_velocity_std"],
        "acceleration": stats["acceleration"],
        "acceleration_std": stats["acceleration_std"],
        "seasonality": stats["seasonality"],
        "seasonality_std": stats["seasonality_std"],
        "height_error": np.asarray(height_error, dtype=np.float64),
    }
    assert tuple(cols) == ATTRIBUTE_FIELDS
    for k, name in enumerate(stack.date_strings):
        cols[name] = d[:, k].astype(np.float64)
    return cols
