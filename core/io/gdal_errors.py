"""What GDAL signals while it writes, collected per thread and raised as one error naming the file.

GDAL reports some failures only through its error handler (rasterio merely logs them; a GeoPackage
that cannot be created raises an empty ``RuntimeError`` in exceptions mode), so the writers of
:mod:`.raster` and :mod:`.gpkg` run their GDAL calls inside :func:`gdal_errors`: a full disk becomes
:class:`~..errors.DiskFullError`, anything else :class:`GdalWriteError` with GDAL's first message.
"""

from __future__ import annotations

from contextlib import contextmanager

from ..errors import EgmsError
from .space import disk_full_error, is_disk_full


class GdalWriteError(EgmsError):
    """GDAL could not write a file (the message names the file and GDAL's reason)."""


RasterWriteError = GdalWriteError
"""The name the raster writer's callers know."""


@contextmanager
def gdal_errors(path, what="file"):
    """Collect the errors GDAL signals in this thread while the block runs; raise when there was one.

    Works whether or not GDAL's Python exceptions are switched on (their RuntimeError is folded in).
    """
    from osgeo import gdal

    errors = []

    def handler(err_class, _err_no, message):
        if err_class >= gdal.CE_Failure:
            errors.append(str(message))

    gdal.PushErrorHandler(handler)
    try:
        yield errors
    except RuntimeError as exc:  # GDAL's exceptions mode
        if str(exc):
            errors.append(str(exc))
        elif not errors:
            errors.append("no reason given")
    finally:
        gdal.PopErrorHandler()
    if errors:
        if any(is_disk_full(Exception(m)) for m in errors):
            raise disk_full_error(path)
        raise GdalWriteError(f"{path}: GDAL could not write the {what} ({errors[0]}).")
