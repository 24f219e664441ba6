"""A multi-band raster (GeoTIFF, VRT, any GDAL format): one complex band per date (README "Stack layouts").

Dates from the band descriptions (``YYYYMMDD``, or the first 8-digit date in it), ``baselines.csv`` and
``stack.json`` beside the file (same formats as in a plain stack folder), georeferencing from the raster.
"""

from __future__ import annotations

import os

from ...errors import InputError
from ..stack import COMPLEX_DTYPES, parse_date_in_name
from .base import BandReader, LayoutStack, open_raster, sidecar_baselines, sidecar_geometry

RASTER_SUFFIXES = (".tif", ".tiff", ".vrt", ".img", ".nc")


def open_multiband(path, overrides=None):
    """A :class:`LayoutStack` of a multi-band complex raster."""
    path = os.path.abspath(os.fspath(path))
    folder = os.path.dirname(path)
    with open_raster(path) as ds:
        shape, dtypes, crs, transform = (ds.height, ds.width), ds.dtypes, ds.crs, ds.transform
        descriptions = list(ds.descriptions)
    if dtypes[0] not in COMPLEX_DTYPES:
        raise InputError(f"{path}: not a complex raster (data type {dtypes[0]}); a multi-band stack holds one "
                         "CInt16/CFloat32 band per date.")
    by_date = {}
    for band, text in enumerate(descriptions, start=1):
        date = parse_date_in_name(text or "")
        if date is None:
            raise InputError(f"{path}: band {band} has no date in its description ({text!r}); each band's "
                             "description must be its date YYYYMMDD.")
        if date in by_date:
            raise InputError(f"{path}: bands {by_date[date]} and {band} are both dated {date.isoformat()}.")
        by_date[date] = band
    dates = sorted(by_date)
    geocoded = crs is not None and not transform.is_identity
    stack = LayoutStack(
        path, dates=dates, readers=[BandReader(path, by_date[d]) for d in dates], shape=shape, dtype=dtypes[0],
        geometry=sidecar_geometry(folder), crs=crs if geocoded else None, transform=transform,
        overrides=overrides, origins={
            "layout": f"multi-band raster ({len(dates)} bands)", "dates": f"{path}: band descriptions",
            "georeferencing": f"{path}: CRS and geotransform" if geocoded else "none (no CRS on the raster)"})
    stack.bperp = sidecar_baselines(folder, dates)
    bl = os.path.join(folder, "baselines.csv")
    stack.origins["baselines"] = bl if stack.bperp is not None else "none (no baselines.csv beside it)"
    js = os.path.join(folder, "stack.json")
    stack.origins["geometry"] = js if os.path.isfile(js) else "none (no stack.json beside it)"
    return stack
