"""What GDAL signals while it writes, collected per thread and raised as one error naming the file.

GDAL reports some failures only through its error handler (rasterio merely logs them; a GeoPackage
that cannot be created raises an empty ``RuntimeError`` in exceptions mode), so the writers of
:mod:`.raster` and :mod:`.gpkg` run their GDAL calls inside :func:`gdal_errors`: a full disk becomes
:class:`~..errors.DiskFullError`, anything else :class:`GdalWriteError` with GDAL's first message.
"""

from __future__ import annotations

import contextlib
from contextlib import contextmanager

from ..errors import EgmsError
from .space import disk_full_error, is_disk_full, probe_write


class GdalWriteError(EgmsError):
    """GDAL could not write a file (the message names the file and GDAL's reason)."""


RasterWriteError = GdalWriteError
"""The name the raster writer's callers know."""


@contextmanager
def gdal_errors(path, what="file", exceptions=True):
    """Collect the errors GDAL signals in this thread while the block runs; raise when there was one.

    Works whether or not GDAL's Python exceptions are switched on (their RuntimeError is folded in).
    ``exceptions=False`` switches them off inside the block (GDAL >= 3.7 ``ExceptionMgr``), for callers that
    check return codes: GDAL 3.10's bindings crash when a dataset whose ``Close`` raised is released.
    """
    from osgeo import gdal

    errors = []

    def handler(err_class, _err_no, message):
        if err_class >= gdal.CE_Failure:
            errors.append(str(message))

    manager = getattr(gdal, "ExceptionMgr", None)
    mode = manager(useExceptions=False) if manager is not None and not exceptions else contextlib.nullcontext()
    with mode:
        gdal.PushErrorHandler(handler)
        try:
            yield errors
        except RuntimeError as exc:  # GDAL's exceptions mode, or a caller's failed return code
            if str(exc):
                errors.append(str(exc))
            elif not errors:
                errors.append("no reason given")
        finally:
            gdal.PopErrorHandler()
    if errors:
        if any(is_disk_full(Exception(m)) for m in errors):
            raise disk_full_error(path)
        reason = probe_write(path)  # GDAL's message may have lost the system's reason (libtiff 4.7)
        if reason is not None and is_disk_full(reason):
            raise disk_full_error(path)
        system = ""
        if reason is not None and reason.strerror and reason.strerror.lower() not in errors[0].lower():
            system = f": {reason.strerror}"
        raise GdalWriteError(f"{path}: GDAL could not write the {what} ({errors[0]}{system}).")
