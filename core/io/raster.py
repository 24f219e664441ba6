"""The one GeoTIFF writer: windows of rows written through GDAL, every write, flush and close checked.

rasterio only logs the errors GDAL raises while it flushes cached blocks (a full disk shows as
``_tiffWriteProc:No space left on device`` lines and a truncated file, with no exception), so the writer
talks to GDAL directly and collects, per thread, every error GDAL signals while it writes (a pushed error
handler); any error makes the write fail — as :class:`~..errors.DiskFullError` when the disk is full —
and the caller discards the temporary file (:mod:`.atomic`).

Used by the interferograms (one file per pair, in a folder committed whole), the amplitude statistics of
the scatterer selection (:class:`RasterOutput`: a temporary file renamed on commit) and the Ortho velocity
rasters.

>>> with RasterOutput("/tmp/d.tif", 400, 300, descriptions=["amplitude dispersion"]) as out:  # doctest: +SKIP
...     out.raster.write(block, row0=0)
"""

from __future__ import annotations

import contextlib
import os

import numpy as np

from ..errors import EgmsError
from .atomic import PendingFile
from .gdal_errors import RasterWriteError, gdal_errors
from .space import disk_full_error, is_disk_full

_TYPES = {np.dtype(np.float32): "Float32", np.dtype(np.float64): "Float64", np.dtype(np.int16): "Int16",
          np.dtype(np.uint8): "Byte", np.dtype(np.int32): "Int32"}


def _gdal():
    from osgeo import gdal

    return gdal


def _srs_wkt(crs):
    if crs is None:
        return ""
    if hasattr(crs, "to_wkt"):
        return crs.to_wkt()
    from osgeo import osr

    srs = osr.SpatialReference()
    srs.SetFromUserInput(str(crs))
    return srs.ExportToWkt()


def _gdal_gcps(gcps):
    """GDAL GCPs from rasterio ``GroundControlPoint``s (``row``, ``col``, ``x``, ``y``, ``z``) or GDAL's own."""
    gdal = _gdal()
    out = []
    for g in gcps:
        if isinstance(g, gdal.GCP):
            out.append(g)
        else:
            out.append(gdal.GCP(float(g.x), float(g.y), float(g.z or 0.0), float(g.col), float(g.row)))
    return out


def creation_options(width, height, tiled=False, compress=None, predictor=None, interleave="band"):
    """GTiff creation options: tiles of 256 × 256 only when both sides reach 256 (else strips)."""
    options = [f"INTERLEAVE={interleave.upper()}"]
    if tiled and width >= 256 and height >= 256:
        options += ["TILED=YES", "BLOCKXSIZE=256", "BLOCKYSIZE=256"]
    if compress:
        options.append(f"COMPRESS={compress.upper()}")
        if predictor:
            options.append(f"PREDICTOR={predictor}")
    return options


class GeoTiff:
    """A GeoTIFF at ``path`` (created, or reopened with ``update=True``), written by windows of rows.

    ``crs`` (a rasterio CRS, WKT or ``"EPSG:…"``) with ``transform`` (an affine.Affine) for a geocoded raster,
    or ``gcps`` (with ``crs`` the GCPs' CRS); ``nodata`` for every band; ``descriptions`` per band; ``tags``:
    dataset metadata; ``flush``: write the blocks to disk after every window (strip rasters written once, in
    order: bounds GDAL's cache and finds a full disk at the window that does not fit); ``label``: the name
    errors give (the final name of a file written under a temporary one).
    """

    def __init__(self, path, width=None, height=None, count=1, dtype=np.float32, *, crs=None, transform=None,
                 gcps=None, nodata=None, descriptions=(), tags=None, options=None, update=False, flush=False,
                 label=None):
        gdal = _gdal()
        self.path = os.fspath(path)
        self.label = os.fspath(label) if label is not None else self.path  # the name errors give
        self.flush = flush
        self._ds = None
        with gdal_errors(self.label, "raster", exceptions=False):
            if update:
                self._ds = gdal.Open(self.path, gdal.GA_Update)
            else:
                driver = gdal.GetDriverByName("GTiff")
                kind = gdal.GetDataTypeByName(_TYPES[np.dtype(dtype)])
                opts = creation_options(width, height) if options is None else list(options)
                self._ds = driver.Create(self.path, int(width), int(height), int(count), kind, opts)
                if self._ds is not None:
                    self._describe(crs, transform, gcps, nodata, descriptions, tags)
        if self._ds is None:
            raise RasterWriteError(f"{self.label}: GDAL could not {'open' if update else 'create'} the raster.")

    def _describe(self, crs, transform, gcps, nodata, descriptions, tags):
        ds = self._ds
        if gcps:
            ds.SetGCPs(_gdal_gcps(gcps), _srs_wkt(crs))
        elif crs is not None and transform is not None:
            ds.SetProjection(_srs_wkt(crs))
            ds.SetGeoTransform(tuple(transform.to_gdal()) if hasattr(transform, "to_gdal") else tuple(transform))
        for b in range(1, ds.RasterCount + 1):
            band = ds.GetRasterBand(b)
            if nodata is not None:
                band.SetNoDataValue(float(nodata))
            if b <= len(descriptions):
                band.SetDescription(descriptions[b - 1])
        if tags:
            ds.SetMetadata({str(k): str(v) for k, v in tags.items()})

    def write(self, array, band=1, row0=0, col0=0):
        """Write the 2-D ``array`` into ``band`` with its top-left pixel at (``row0``, ``col0``)."""
        with gdal_errors(self.label, "raster", exceptions=False):
            rc = self._ds.GetRasterBand(band).WriteArray(np.ascontiguousarray(array), int(col0), int(row0))
            if rc not in (0, None):
                raise RuntimeError(f"writing band {band} at row {row0} failed")
            if self.flush:
                self._ds.FlushCache()

    def close(self):
        """Flush and close; raises when a cached block could not be written."""
        ds, self._ds = self._ds, None
        if ds is None:
            return
        with gdal_errors(self.label, "raster", exceptions=False):
            try:
                ds.FlushCache()
            finally:
                try:
                    _close(ds)  # GDALClose writes the directory; its errors reach the handler
                finally:
                    del ds  # older bindings close here, still inside the handler
            _check_blocks(self.path)

    def abandon(self):
        """Close without reporting errors (the file is being discarded)."""
        ds, self._ds = self._ds, None
        if ds is not None:
            # the file is being discarded: its errors do not matter
            with contextlib.suppress(EgmsError), gdal_errors(self.label, "raster", exceptions=False):
                try:
                    _close(ds)
                finally:
                    del ds

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *_):
        if exc_type is None:
            self.close()
        else:
            self.abandon()
        return False


def _check_blocks(path):
    """Raise when a block of the closed GeoTIFF ``path`` lies (partly) beyond the end of the file.

    GDAL 3.10 with libtiff 4.7 can close a file whose last strips could not be written (a full disk) without
    any error reaching the handler: the file opens, its reads fail.  Reading the offsets and sizes of the
    blocks from the directory (no pixel is read) finds it.
    """
    gdal = _gdal()
    size = os.path.getsize(path)
    ds = gdal.Open(path)
    if ds is None:
        raise RuntimeError("the written file cannot be opened")
    try:
        for b in range(1, ds.RasterCount + 1):
            band = ds.GetRasterBand(b)
            bx, by = band.GetBlockSize()
            nx, ny = -(-ds.RasterXSize // bx), -(-ds.RasterYSize // by)
            for j in range(ny):
                for i in range(nx):
                    offset = band.GetMetadataItem(f"BLOCK_OFFSET_{i}_{j}", "TIFF")
                    count = band.GetMetadataItem(f"BLOCK_SIZE_{i}_{j}", "TIFF")
                    if offset is None or count is None or int(offset) + int(count) > size:
                        raise RuntimeError(f"block {i},{j} of band {b} was not written completely")
    finally:
        band = None
        ds = None


def _close(ds):
    """Close a GDAL dataset now, its errors raised here (GDAL >= 3.8 ``Close``); older bindings close when
    the caller drops its last reference, and report through the error handler only."""
    close = getattr(ds, "Close", None)
    if close is not None:
        rc = close()
        if rc not in (0, None):
            raise RuntimeError("closing the raster failed")


class RasterOutput:
    """A :class:`GeoTiff` under a temporary name beside ``path``, renamed into place by :meth:`commit` only when
    every write and the close succeeded; :meth:`discard` (or leaving the ``with`` block by an exception)
    removes it.  Arguments after ``path`` are :class:`GeoTiff`'s."""

    def __init__(self, path, width, height, count=1, dtype=np.float32, **kwargs):
        self.path = os.path.abspath(os.fspath(path))
        self._pending = PendingFile(self.path, ".tif")
        self.tmp = self._pending.tmp
        try:
            self.raster = GeoTiff(self.tmp, width, height, count, dtype, label=self.path, **kwargs)
        except BaseException:
            self._pending.discard()
            raise

    def finish(self):
        """Close and check the file under its temporary name (no rename yet): several outputs written as one
        set are all finished before any is committed."""
        try:
            self.raster.close()
        except BaseException:
            self._pending.discard()
            raise

    def commit(self):
        self.finish()
        try:
            return self._pending.commit()
        except OSError as exc:
            self._pending.discard()
            if is_disk_full(exc):
                raise disk_full_error(self.path) from None
            raise

    def discard(self):
        try:
            self.raster.abandon()
        finally:
            self._pending.discard()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *_):
        if exc_type is None:
            self.commit()
        else:
            self.discard()
        return False
