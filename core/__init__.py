"""Numerics and file formats of the EGMS plugin.

Plain numpy / numba / scipy / rasterio / pyproj code: nothing here imports QGIS,
so the package is usable from notebooks, batch jobs and cluster workers.
"""
