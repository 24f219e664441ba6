"""The spatial reference of the series (step 8 of the chain, :mod:`.chain`).

Basic products are relative: by default every date's median over all points is subtracted (EGMS
style), or the series of the point nearest a given position; a reference point more than
:data:`FAR_REFERENCE_M` from that position is warned about.
"""

from __future__ import annotations

import numpy as np

from .network import local_metric_coordinates

FAR_REFERENCE_M = 1000.0
"""Distance (m) from the given reference position beyond which the nearest point is warned about."""


def reference_series(d, lonlat_ref, x, y, centre, progress):
    """Subtract the spatial reference from the series ``d`` (n_points, n_dates); returns (referenced series,
    reference info).

    ``lonlat_ref`` None: the median of all points, date by date; else the point nearest that WGS84
    (lon, lat), found in the local metric coordinates ``x``, ``y`` (m) centred on ``centre``.
    """
    if lonlat_ref is None:
        return d - np.median(d, axis=0, keepdims=True), {"mode": "median of all points"}
    rx, ry = local_metric_coordinates(np.array([lonlat_ref[0]]), np.array([lonlat_ref[1]]), centre)
    dist = np.hypot(x - rx[0], y - ry[0])
    i = int(np.argmin(dist))
    if dist[i] > FAR_REFERENCE_M:
        progress.warn(f"the nearest measurement point to the reference position is {dist[i]:.0f} m away.")
    return d - d[i:i + 1], {"mode": "point", "index": i, "distance_m": float(dist[i])}
