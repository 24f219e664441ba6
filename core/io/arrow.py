"""Reading OGR layers through GDAL's Arrow interface, a group of fields at a time.

The one Arrow reader behind :func:`.points.read_points` (whole layers into
numpy columns) and the dock's area reading (``layers/areas.py``: the date
values of a few thousand points, by feature id, in a worker thread).  Batches
come as dicts of numpy (masked) arrays; no QVariant or Python object per value.

GDAL 3.6's Arrow reader silently returns no rows beyond ~120 fields, so wide
layers (hundreds of date fields) are read in groups of
:data:`FIELDS_PER_PASS` (:func:`field_groups`), one stream per group.

The functions take an open OGR layer and never switch GDAL's Python
exceptions on or off (a QGIS worker thread shares them with other plugins):
a missing stream is reported as ``RuntimeError`` either way.

>>> field_groups(["a", "b", "c"], per_pass=2)
[['a', 'b'], ['c']]
>>> float_values(np.ma.masked_array([1, 2, 3], mask=[False, True, False])).tolist()
[1.0, nan, 3.0]
"""

from __future__ import annotations

import numpy as np

FIELDS_PER_PASS = 100
"""Most fields read in one Arrow stream (GDAL 3.6 returns no rows beyond ~120 fields)."""


def field_groups(names, per_pass=FIELDS_PER_PASS):
    """``names`` in consecutive groups of at most ``per_pass``."""
    names = list(names)
    return [names[i:i + per_pass] for i in range(0, len(names), per_pass)]


def arrow_batches(layer, fields, all_fields, geometry=False, batch_size=20000):
    """Arrow batches (dicts of numpy arrays keyed by field name, plus the FID column and, with ``geometry``,
    the WKB geometry column) of the fields ``fields`` of the OGR ``layer``.

    ``all_fields``: every field name of the layer (all but ``fields`` are ignored); the layer's attribute
    and spatial filters apply.  The reading restarts from the first feature; the stream is released when
    the iteration ends, so one stream per layer is open at a time.
    """
    keep = set(fields)
    layer.SetIgnoredFields([name for name in all_fields if name not in keep] + ([] if geometry else ["OGR_GEOMETRY"]))
    layer.ResetReading()
    stream = _open_stream(layer, [f"MAX_FEATURES_IN_BATCH={batch_size}"])
    try:
        yield from stream
    finally:
        del stream


STREAM_ATTEMPTS = 20
"""Tries to open a stream while GDAL still counts the previous one of the layer as in progress (see below)."""


def _open_stream(layer, options):
    """The layer's Arrow stream.  GDAL's generic stream (the one behind a spatial filter) is marked finished only
    when its last Python references are gone; a Dask worker saw the next stream on the same layer refused
    ("An arrow Arrow Stream is in progress on that layer", about 1 run in 20 under load, GDAL 3.6 and 3.10), so
    that refusal is retried after a garbage collection and a short wait (≤ 1 s in all)."""
    import gc
    import time

    for attempt in range(STREAM_ATTEMPTS):
        try:
            stream = layer.GetArrowStreamAsNumPy(options=options)
        except Exception as exc:  # noqa: BLE001 - RuntimeError with GDAL exceptions on, Exception without
            if "in progress" not in str(exc) and "GetArrowStream() failed" not in str(exc):
                raise
            stream = None
        if stream is not None:
            return stream
        if attempt < STREAM_ATTEMPTS - 1:
            gc.collect()
            time.sleep(0.05)
    raise RuntimeError("no Arrow stream (GDAL says one is still in progress on the layer)")


def float_values(part):
    """An Arrow batch column as float64, NaN where NULL."""
    return np.ma.filled(np.ma.asarray(part, dtype=np.float64), np.nan)
