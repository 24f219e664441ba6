"""Files: measurement-point GeoPackages as numpy columns, and outputs that appear whole or not at all.

Modules (none is imported by this package; none imports numba):

* :mod:`.points` — ``PointTable``, ``read_points``, ``write_points``,
  ``date_fields`` (YYYYMMDD, DYYYYMMDD, D_YYYYMMDD field names);
* :mod:`.gpkg` — the one GeoPackage bulk writer (``create_point_layer``,
  ``BulkWriter``) behind ``write_points`` and the EGMS import;
* :mod:`.arrow` — the one reader of GDAL's Arrow interface, by groups of
  fields (``arrow_batches``), behind ``read_points`` and the dock's area reading;
* :mod:`.atomic` — ``replaced_on_success``, ``folder_on_success``,
  ``PendingFile``: temporary names renamed into place when complete;
* :mod:`.raster` — the one GeoTIFF writer (``GeoTiff``, ``RasterOutput``), every
  GDAL write and close checked (:mod:`.gdal_errors`);
* :mod:`.guard` — ``OutputLocks`` (one writer per output), ``sweep_partials``,
  ``cancel_on_sigterm``;
* :mod:`.space` — free space checked up front, a full disk told plainly
  (``check_free_space``, ``is_disk_full``, ``disk_full_error``).
"""

__all__ = ["arrow", "atomic", "gdal_errors", "gpkg", "guard", "points", "raster", "space"]
