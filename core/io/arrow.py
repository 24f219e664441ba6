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
    stream = layer.GetArrowStreamAsNumPy(options=[f"MAX_FEATURES_IN_BATCH={batch_size}"])
    if stream is None:
        raise RuntimeError("no Arrow stream")
    try:
        yield from stream
    finally:
        del stream


def float_values(part):
    """An Arrow batch column as float64, NaN where NULL."""
    return np.ma.filled(np.ma.asarray(part, dtype=np.float64), np.nan)
