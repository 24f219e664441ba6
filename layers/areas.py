"""Mean series of the points inside an area, read and averaged off the GUI thread (a ``QgsTask``).

The GUI thread prepares one :class:`AreaRequest` per layer — a thread-safe
``QgsVectorLayerFeatureSource`` snapshot of the layer, the area in the layer's
CRS, the date fields — and hands them to :class:`AreaMeanTask`, which reads and
averages them in a worker thread, reports progress, stops when cancelled and
calls back on the GUI thread when it is done.

Reading takes two passes.  (1) Geometries only, in the area's bounding box (the
spatial index), until ``cap + 1`` points inside are found: cheap, and it gives the
count the progress bar needs.  (2) The date values of those points, by feature
id through QGIS — or, for a GeoPackage layer without unsaved edits, straight from
the file with GDAL's Arrow interface (the core reader, :mod:`..core.io.arrow`), a few
times faster (no QVariant per value).
"""

from __future__ import annotations

import math
import operator
import traceback
from dataclasses import dataclass

import numpy as np
from qgis.core import Qgis, QgsFeatureRequest, QgsGeometry, QgsMessageLog, QgsPointXY, QgsTask

from ..compat import FIELD_ORIGIN_PROVIDER, REQUEST_NO_GEOMETRY
from ..core.errors import Cancelled
from ..core.io import arrow
from ..core.io.gpkg import quote
from ..core.progress import Progress, ensure
from .series import area_series, values_from_rows

LOG_TAG = "EGMS ground motion"
CHECK_EVERY = 64
"""Points read between two cancellation checks / progress updates."""
FID_CHUNK = 4000
"""Most feature ids in one GeoPackage request (SQLite limits the length of a statement)."""
FIELDS_PER_PASS = arrow.FIELDS_PER_PASS
"""Date fields read per Arrow stream (GDAL 3.6 returns no rows beyond ~120 fields: :mod:`..core.io.arrow`)."""
ARROW_BATCH = 1000
"""Points per Arrow batch (the worker holds the GIL while a batch becomes numpy arrays)."""


@dataclass
class AreaRequest:
    """What the worker thread needs to average one layer's points inside an area (built on the GUI thread)."""

    layer_id: str
    layer_name: str
    source: object  # QgsVectorLayerFeatureSource: a snapshot that is safe to read from another thread
    area: QgsGeometry  # in the layer's CRS
    bbox_only: bool  # the area is the axis-aligned rectangle itself: the bounding-box filter decides
    date_indices: list
    date_names: list
    dates: list
    cap: int
    gpkg: tuple | None = None  # (path, layer name or index) when the values may be read straight from the file


def gpkg_location(layer, date_indices):
    """``(path, layer)`` of a GeoPackage layer whose date values can be read from the file as QGIS shows them,
    or None (another format, unsaved edits, dates from joins or expressions)."""
    from qgis.core import QgsProviderRegistry

    if layer.providerType() != "ogr" or layer.dataProvider().storageType().upper() != "GPKG" or layer.isModified():
        return None
    fields = layer.fields()
    if any(fields.fieldOrigin(i) != FIELD_ORIGIN_PROVIDER for i in date_indices):
        return None
    parts = QgsProviderRegistry.instance().decodeUri("ogr", layer.source())
    path = parts.get("path") or ""
    if not path.lower().endswith(".gpkg"):
        return None
    name = parts.get("layerName") or None
    index = parts.get("layerId")
    return path, name if name else (int(index) if index not in (None, "") else 0)


# ------------------------------------------------------------------------------------------ reading
def read_area_mean(request, progress=None):
    """Mean :class:`~.series.Series` of the points of ``request`` inside its area (None when none is inside).

    ``progress`` (:class:`core.progress.Progress`) receives the fraction done and is checked between
    blocks of points (:class:`core.errors.Cancelled` when cancelled)."""
    progress = ensure(progress)
    fids, points, capped = _points_inside(request, progress.span(0.0, 0.1))
    if not fids:
        return None
    values = None
    if request.gpkg is not None:
        try:
            values = _gpkg_values(request, fids, progress.span(0.1, 1.0))
        except Cancelled:
            raise
        except Exception as err:  # noqa: BLE001 - any GDAL surprise: read through QGIS instead
            QgsMessageLog.logMessage(f"“{request.layer_name}”: reading the GeoPackage directly failed ({err}); "
                                     "reading through QGIS instead.", LOG_TAG, Qgis.Info)
    if values is None:
        values = _provider_values(request, fids, progress.span(0.1, 1.0))
    progress.check()
    n = len(fids)
    point_id = f"mean of {n}{'+' if capped else ''} point{'s' if n != 1 else ''}"
    series = area_series(values, request.dates, layer_id=request.layer_id, layer_name=request.layer_name,
                         point_id=point_id, capped=capped, fids=fids, geometry=QgsGeometry(request.area),
                         member_geometry=QgsGeometry.fromMultiPointXY(points))
    progress.update(1.0)
    return series


def _points_inside(request, progress):
    """``(fids, points, capped)`` of the points inside the area: geometries only, at most ``cap``."""
    engine = None
    if not request.bbox_only:
        engine = QgsGeometry.createGeometryEngine(request.area.constGet())
        engine.prepareGeometry()
    query = QgsFeatureRequest().setFilterRect(request.area.boundingBox()).setNoAttributes()
    fids, points, capped = [], [], False
    cap = request.cap
    for k, feature in enumerate(request.source.getFeatures(query)):
        if k % (16 * CHECK_EVERY) == 0:
            progress.check()
            progress.update(len(fids) / cap)
        geom = feature.geometry()
        if geom.isNull() or (engine is not None and not engine.intersects(geom.constGet())):
            continue
        if len(fids) >= cap:
            capped = True
            break
        p = geom.vertexAt(0)
        fids.append(feature.id())
        points.append(QgsPointXY(p.x(), p.y()))
    return fids, points, capped


def _provider_values(request, fids, progress):
    """float64 (len(fids), n_dates) of the date values of ``fids``, through the layer's provider."""
    indices = request.date_indices
    getter = operator.itemgetter(*indices)
    pick = getter if len(indices) > 1 else (lambda attrs: (getter(attrs),))
    query = QgsFeatureRequest().setFilterFids(fids).setSubsetOfAttributes(indices)
    query.setFlags(REQUEST_NO_GEOMETRY)
    row_of = {fid: k for k, fid in enumerate(fids)}
    rows = [None] * len(fids)
    n = len(fids)
    for k, feature in enumerate(request.source.getFeatures(query)):
        if k % CHECK_EVERY == 0:
            progress.check()
            progress.update(k / n)
        rows[row_of[feature.id()]] = pick(feature.attributes())
    missing = sum(row is None for row in rows)
    if missing:
        raise RuntimeError(f"{missing} of the {n} points inside could not be read again by id")
    return values_from_rows(rows)


def _gpkg_values(request, fids, progress):
    """As :func:`_provider_values`, straight from the GeoPackage with GDAL's Arrow interface."""
    from osgeo import gdal, ogr

    path, which = request.gpkg
    gdal.PushErrorHandler("CPLQuietErrorHandler")  # per thread; a failure falls back to the QGIS reading
    try:
        return _read_gpkg_values(gdal, ogr, path, which, request, fids, progress)
    finally:
        gdal.PopErrorHandler()


def _read_gpkg_values(gdal, ogr, path, which, request, fids, progress):
    # works with GDAL's Python exceptions on or off (another plugin may switch them on): every result is checked
    ds = gdal.OpenEx(path, gdal.OF_VECTOR | gdal.OF_READONLY)
    if ds is None:
        raise RuntimeError(f"cannot open {path}")
    layer = ds.GetLayerByName(which) if isinstance(which, str) else ds.GetLayer(which)
    if layer is None:
        raise RuntimeError(f"no layer {which!r} in {path}")
    defn = layer.GetLayerDefn()
    all_names = [defn.GetFieldDefn(i).GetName() for i in range(defn.GetFieldCount())]
    numeric = (ogr.OFTReal, ogr.OFTInteger, ogr.OFTInteger64)
    for name in request.date_names:
        i = defn.GetFieldIndex(name)
        if i < 0 or defn.GetFieldDefn(i).GetType() not in numeric:
            raise RuntimeError(f"field {name} is missing or not numeric in the file")
    fid_column = layer.GetFIDColumn() or "OGC_FID"
    quoted = quote(fid_column)
    column_of = {name: k for k, name in enumerate(request.date_names)}
    wanted = np.asarray(fids, dtype=np.int64)
    order = np.argsort(wanted)
    sorted_fids = wanted[order]
    out = np.full((wanted.size, len(request.date_names)), np.nan)
    groups = arrow.field_groups(request.date_names, FIELDS_PER_PASS)
    steps, done = -(-wanted.size // FID_CHUNK) * len(groups), 0
    for start in range(0, wanted.size, FID_CHUNK):
        chunk = sorted_fids[start:start + FID_CHUNK]
        if layer.SetAttributeFilter(f"{quoted} IN ({','.join(map(str, chunk.tolist()))})") != 0:
            raise RuntimeError(f"the file rejected a filter on {fid_column}")
        for group in groups:
            seen = 0
            for batch in arrow.arrow_batches(layer, group, all_names, batch_size=ARROW_BATCH):
                progress.check()
                batch_fids = np.asarray(batch[fid_column], dtype=np.int64)
                slot = np.minimum(np.searchsorted(sorted_fids, batch_fids), sorted_fids.size - 1)
                if (sorted_fids[slot] != batch_fids).any():
                    raise RuntimeError("the file returned points that were not asked for")
                rows = order[slot]
                for name in group:
                    out[rows, column_of[name]] = arrow.float_values(batch[name])
                seen += batch_fids.size
            if seen != chunk.size:
                raise RuntimeError(f"the file returned {seen} of {chunk.size} points")
            done += 1
            progress.update(done / steps)
    return out


# ------------------------------------------------------------------------------------------ the task
_RUNNING = set()
"""Tasks between start and finish: a Python QgsTask must outlive its run, whatever happens to the dock."""


class _TaskProgress(Progress):
    def __init__(self, task):
        self.task = task
        self.last = -1.0

    def is_cancelled(self):
        return self.task.isCanceled()

    def update(self, fraction):
        percent = math.floor(100.0 * min(max(fraction, 0.0), 1.0))
        if percent != self.last:
            self.last = percent
            self.task.setProgress(percent)


class AreaMeanTask(QgsTask):
    """Reads and averages the points inside an area in each of ``requests``, in a worker thread.

    When it ends (done, cancelled or failed) :attr:`on_finished` — set by the dock, cleared by it when it
    loses interest — is called on the GUI thread with ``(task, ok)``.  :attr:`results` holds
    ``(request, Series or None)`` per request; :attr:`error` the message of a failure.
    """

    def __init__(self, requests, description):
        super().__init__(description, QgsTask.Flag.CanCancel)
        self.requests = list(requests)
        self.results = []
        self.error = None
        self.on_finished = None
        _RUNNING.add(self)

    def run(self):
        progress = _TaskProgress(self)
        n = len(self.requests)
        current = None
        try:
            for k, request in enumerate(self.requests):
                current = request
                self.results.append((request, read_area_mean(request, progress.span(k / n, (k + 1) / n))))
            return True
        except Cancelled:
            return False
        except Exception as err:  # noqa: BLE001 - the user gets a message in the dock, the log the traceback
            where = f"“{current.layer_name}”: " if current is not None else ""
            self.error = f"{where}{err}"
            QgsMessageLog.logMessage(f"{self.description()} failed:\n{traceback.format_exc()}", LOG_TAG, Qgis.Warning)
            return False
        finally:
            self._release_sources()

    def _release_sources(self):
        """Drop the layer snapshots as soon as they are read: an OGR source must not outlive QGIS' providers."""
        for request in self.requests:
            request.source = None

    def finished(self, ok):
        _RUNNING.discard(self)
        self._release_sources()  # a task cancelled before it ran
        callback, self.on_finished = self.on_finished, None
        if callback is not None:
            callback(self, ok)
