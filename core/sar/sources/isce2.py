"""ISCE2 ``topsStack`` / ``stripmapStack`` work folders (README "Stack layouts").

Read: ``merged/SLC/<YYYYMMDD>/<YYYYMMDD>.slc.full(.vrt)`` (topsStack) or ``….slc(.vrt)`` (stripmapStack), the
``.vrt`` when present; ``merged/geom_reference`` (older ``geom_master``) ``lat``/``lon``/``los`` ``.rdr.full``
or ``.rdr`` (los band 1 incidence, band 2 azimuth of target→satellite from north, counter-clockwise: heading =
90° − azimuth); baselines ``baselines/<ref>_<sec>/<ref>_<sec>.txt`` (``Bperp (average)``, mean over swaths) or
``baselines/<ref>_<sec>.txt`` (``PERP_BASELINE_BOTTOM``/``TOP``, mean), the reference 0, sign reversed to the
plugin's; wavelength, pass, starting range and range pixel size from ``reference/IW*.xml`` (topsStack).  A
``stack.json`` in the work folder fills what the files do not give.
"""

from __future__ import annotations

import glob
import os
import re
import xml.etree.ElementTree as ET

import numpy as np

from ...errors import InputError
from ..stack import parse_date_in_name
from .base import BandReader, LayoutStack, baselines_in_order, open_raster, sidecar_geometry

_PAIR_RE = re.compile(r"^(\d{8})_(\d{8})$")


def merged_folder(path):
    """The ``merged/`` folder of a work folder (or ``path`` itself when it is one); None when not ISCE2."""
    path = os.path.abspath(os.fspath(path))
    if os.path.isdir(os.path.join(path, "merged", "SLC")):
        return os.path.join(path, "merged")
    if os.path.basename(path) == "merged" and os.path.isdir(os.path.join(path, "SLC")):
        return path
    return None


def looks_like_work_folder(path):
    """True for a topsStack/stripmapStack work folder, with or without ``merged/``."""
    return any(os.path.isdir(os.path.join(path, n)) for n in ("run_files", "coreg_secondarys", "baselines")) and \
        any(os.path.isdir(os.path.join(path, n)) for n in ("reference", "configs", "run_files", "coreg_secondarys"))


def _first(folder, names):
    return next((os.path.join(folder, n) for n in names if os.path.isfile(os.path.join(folder, n))), None)


def _slcs(merged):
    slc_dir = os.path.join(merged, "SLC")
    found, kind = {}, None
    for name in sorted(os.listdir(slc_dir)):
        folder = os.path.join(slc_dir, name)
        date = parse_date_in_name(name) if len(name) == 8 else None
        if date is None or not os.path.isdir(folder):
            continue
        path = _first(folder, [f"{name}.slc.full.vrt", f"{name}.slc.full", f"{name}.slc.vrt", f"{name}.slc"])
        if path is None:
            raise InputError(f"{folder}: no {name}.slc.full(.vrt) or {name}.slc(.vrt) in it.")
        found[date] = path
        kind = kind or ("topsStack" if ".full" in path else "stripmapStack")
    if not found:
        raise InputError(f"{slc_dir}: no <YYYYMMDD>/<YYYYMMDD>.slc.full or .slc; is the merge step done?")
    return found, kind


def _geometry_files(merged):
    for sub in ("geom_reference", "geom_master"):
        folder = os.path.join(merged, sub)
        if os.path.isdir(folder):
            return folder, {key: _first(folder, [f"{key}.rdr.full.vrt", f"{key}.rdr.full", f"{key}.rdr.vrt",
                                                  f"{key}.rdr"]) for key in ("lat", "lon", "los")}
    return None, {}


def _read_pair_file(path):
    values = []
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                key, _, value = line.partition(":") if ":" in line else line.partition(" ")
                if key.strip().lower() in ("bperp (average)", "perp_baseline_bottom", "perp_baseline_top"):
                    values.append(float(value))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable ISCE2 baseline file ({exc}).") from None
    if not values:
        raise InputError(f"{path}: no 'Bperp (average)' or PERP_BASELINE_BOTTOM/TOP line.")
    return float(np.mean(values))


def _baselines(work, dates):
    folder = os.path.join(work, "baselines")
    if not os.path.isdir(folder):
        return None, None
    values, refs = {}, set()
    for name in sorted(os.listdir(folder)):
        stem = name[:-4] if name.endswith(".txt") else name
        m = _PAIR_RE.match(stem)
        if m is None:
            continue
        path = os.path.join(folder, name) if name.endswith(".txt") else os.path.join(folder, name, stem + ".txt")
        if not os.path.isfile(path):
            continue
        ref, sec = (parse_date_in_name(g) for g in m.groups())
        refs.add(ref)
        values[sec] = -_read_pair_file(path)  # topsStack/stripmapStack sign is the opposite of the plugin's
    if not values:
        return None, None
    if len(refs) > 1:
        raise InputError(f"{folder}: baselines relative to several references "
                         f"({', '.join(sorted(r.strftime('%Y%m%d') for r in refs))}); expected one.")
    ref = refs.pop()
    values.setdefault(ref, 0.0)
    return baselines_in_order(folder, dates, values), f"{folder} (reference {ref.strftime('%Y%m%d')}, sign reversed)"


def _swath_xml(work):
    paths = sorted(glob.glob(os.path.join(work, "reference", "IW*.xml")))
    if not paths:
        return None, {}
    try:
        root = ET.parse(paths[0]).getroot()
    except (OSError, ET.ParseError) as exc:
        raise InputError(f"{paths[0]}: not readable XML ({exc}).") from None
    burst = next((c for c in root.iter("component") if c.get("name", "").lower() == "burst1"), None)
    props = {}
    for prop in ([] if burst is None else burst.findall("property")):
        props[prop.get("name", "").lower()] = (prop.findtext("value") or "").strip()
    return paths[0], props


def _central(path, band, shape):
    from rasterio.windows import Window

    with open_raster(path) as ds:
        r, c = shape[0] // 2, shape[1] // 2
        return float(ds.read(band, window=Window(c, r, 1, 1))[0, 0])


def _geometry(work, shape, los):
    g = sidecar_geometry(work)
    items = ["stack.json"] if os.path.isfile(os.path.join(work, "stack.json")) else []
    xml_path, props = _swath_xml(work)
    if props.get("radarwavelength"):
        g.wavelength_m = float(props["radarwavelength"])
        items.append(f"{xml_path} radarwavelength")
    if props.get("passdirection"):
        g.orbit = props["passdirection"].lower()
    if props.get("startingrange") and props.get("rangepixelsize"):
        g.slant_range_m = float(props["startingrange"]) + float(props["rangepixelsize"]) * (shape[1] - 1) / 2.0
        items.append("startingrange + rangepixelsize (centre column)")
    if los is not None:
        g.incidence_deg = _central(los, 1, shape)
        g.heading_deg = (90.0 - _central(los, 2, shape) + 180.0) % 360.0 - 180.0
        items.append(f"{los} (incidence band 1, heading = 90° − azimuth band 2, scene centre)")
    return g, ", ".join(items) or "nothing (Sentinel-1 wavelength assumed)"


def open_isce2(path, overrides=None):
    """A :class:`LayoutStack` of an ISCE2 work folder or its ``merged/``."""
    merged = merged_folder(path)
    if merged is None:
        raise InputError(f"{path}: an ISCE2 work folder without merged/SLC; run the stack's merge step "
                         "(topsStack run_*_merge_reference_secondary_slc) first.")
    work = os.path.dirname(merged)
    slcs, kind = _slcs(merged)
    dates = sorted(slcs)
    with open_raster(slcs[dates[0]]) as ds:
        shape, dtype = (ds.height, ds.width), ds.dtypes[0]
    for d in dates[1:]:
        with open_raster(slcs[d]) as ds:
            if (ds.height, ds.width) != shape:
                raise InputError(f"{slcs[d]}: {ds.width} × {ds.height} pixels, but {slcs[dates[0]]} is "
                                 f"{shape[1]} × {shape[0]}.")
    geom_dir, files = _geometry_files(merged)
    bperp, bperp_origin = _baselines(work, dates)
    geometry, geometry_origin = _geometry(work, shape, files.get("los"))
    has_latlon = files.get("lat") and files.get("lon")
    return LayoutStack(
        work, dates=dates, readers=[BandReader(slcs[d]) for d in dates], shape=shape, dtype=dtype,
        geometry=geometry, bperp=bperp, overrides=overrides,
        lat_path=files.get("lat") if has_latlon else None, lon_path=files.get("lon") if has_latlon else None,
        incidence_path=files.get("los"),
        origins={"layout": f"ISCE2 {kind} ({merged})", "dates": f"{merged}/SLC/<YYYYMMDD> folders",
                 "baselines": bperp_origin or f"none in {work}/baselines (no height-error estimation)",
                 "geometry": geometry_origin,
                 "georeferencing": f"{geom_dir} lat/lon" if has_latlon else "none (no geom_reference lat/lon)"})
