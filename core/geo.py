"""Coordinate reference systems: WGS84 positions into a layer's CRS (pyproj, no QGIS).

Example
-------
>>> x, y = project_lonlat([10.0], [52.0], "EPSG:3035")   # the centre of the ETRS89-LAEA grid
>>> round(float(x[0]), 3), round(float(y[0]), 3)
(4321000.0, 3210000.0)
"""

from __future__ import annotations

import numpy as np


def project_lonlat(lon, lat, crs):
    """Coordinates (x, y) in ``crs`` (EPSG code or WKT) of WGS84 longitude/latitude."""
    from pyproj import CRS, Transformer

    target = CRS.from_user_input(crs)
    if target.equals(CRS.from_epsg(4326), ignore_axis_order=True):
        return np.asarray(lon, dtype=np.float64).copy(), np.asarray(lat, dtype=np.float64).copy()
    x, y = Transformer.from_crs("EPSG:4326", target, always_xy=True).transform(lon, lat)
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
