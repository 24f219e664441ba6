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


def scaled_transform(transform, col_factor, row_factor):
    """The geotransform of a raster whose pixels are ``col_factor`` × ``row_factor`` pixels of ``transform``'s.

    The same as affine's ``transform * Affine.scale(col_factor, row_factor)``, written out so that it needs
    neither ``*`` (deprecated in affine 3.0) nor ``@`` (absent from affine 2.4, Debian 12 and 13).

    >>> from affine import Affine
    >>> scaled_transform(Affine(10.0, 0.0, 500.0, 0.0, -10.0, 900.0), 4, 2)
    Affine(40.0, 0.0, 500.0,
           0.0, -20.0, 900.0)
    """
    t = transform
    return type(t)(t.a * col_factor, t.b * row_factor, t.c, t.d * col_factor, t.e * row_factor, t.f)
