"""ESA SNAP BEAM-DIMAP coregistered stack: ``<name>.dim`` + ``<name>.data/`` (README "Stack layouts").

Read from the ``.dim``: the bands (``Image_Interpretation/Spectral_Band_Info``, ``i_<swath>_<pol>_mst|slv<k>|ref|
sec<k>_<ddMonYYYY>`` paired with their ``q_…`` band; dates from the names), their files
(``Data_Access/Data_File``: ENVI ``.hdr``/``.img``, big-endian, int16 or float32, opened by GDAL), the size, the
radar frequency (MHz → wavelength), ``PASS``, ``centre_heading``, ``incidence_near``/``far``,
``slant_range_to_first_pixel`` + ``range_spacing`` (→ slant range at the centre column), the perpendicular
baselines (``Abstracted_Metadata/Baselines/Ref_<date>/Secondary_<date>/Perp Baseline``, older
``Master: <date>``/``Slave: <date>``; the plugin's sign), and the georeferencing: ``Coordinate_Reference_System/WKT``
with ``Geoposition/IMAGE_TO_MODEL_TRANSFORM`` (terrain corrected), or the ``latitude``/``longitude``/
``incident_angle`` tie-point grids interpolated bilinearly to pixels (radar geometry).
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import re
import xml.etree.ElementTree as ET

import numpy as np

from ...errors import InputError
from ..stack import StackGeometry
from .base import LayoutStack, PairReader, baselines_in_order

SPEED_OF_LIGHT = 299_792_458.0
_MONTHS = {m: i + 1 for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                                           "nov", "dec"))}
_BAND_RE = re.compile(r"^([iq])_(.+)_(mst|ref|slv\d+|sec\d+)_(\d{2}[A-Za-z]{3}\d{4})$")
_REF_RE = re.compile(r"^(?:Ref_|Master: ?)(\d{2}[A-Za-z]{3}\d{4})$")
_SEC_RE = re.compile(r"^(?:Secondary_|Slave: ?)(\d{2}[A-Za-z]{3}\d{4})$")


def snap_date(text):
    """``06Jan2019`` → date (English month abbreviations, locale-independent), or None."""
    month = _MONTHS.get(text[2:5].lower())
    if month is None:
        return None
    try:
        return _dt.date(int(text[5:]), month, int(text[:2]))
    except ValueError:
        return None


def dim_paths(path):
    """``(dim, data folder)`` of a ``.dim`` or a ``.data`` folder; InputError when either is missing."""
    path = os.path.abspath(os.fspath(path))
    if path.lower().endswith(".data"):
        dim = path[:-5] + ".dim"
        if not os.path.isfile(dim):
            raise InputError(f"{path}: a SNAP .data folder without its {os.path.basename(dim)} beside it; "
                             "give the .dim of the stack.")
        return dim, path
    data = path[:-4] + ".data"
    if not os.path.isdir(data):
        raise InputError(f"{path}: its data folder {os.path.basename(data)} is missing; a BEAM-DIMAP product is "
                         "the .dim file and the .data folder beside it.")
    return path, data


def _mdelem(parent, name):
    return next((e for e in parent.findall("MDElem") if e.get("name") == name), None)


def _mdattr(elem, name):
    hit = next((a for a in elem.findall("MDATTR") if a.get("name") == name), None)
    return None if hit is None else hit.text


def _abstracted(root):
    for elem in root.iter("MDElem"):
        if elem.get("name") == "Abstracted_Metadata":
            return elem
    return None


def _float(elem, name):
    text = None if elem is None else _mdattr(elem, name)
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value != 99999.0 else None


def _band_files(dim, root):
    files = {}
    access = root.find("Data_Access")
    for f in ([] if access is None else access.findall("Data_File")):
        href = f.find("DATA_FILE_PATH")
        if href is not None:
            files[f.findtext("BAND_INDEX", "").strip()] = os.path.join(os.path.dirname(dim), href.get("href"))
    return files


def _pairs(dim, root, polarisation):
    """``{date: (i .img, q .img)}`` of the chosen polarisation, plus the reference date (mst/ref band)."""
    files = _band_files(dim, root)
    bands, swaths = {}, set()
    interp = root.find("Image_Interpretation")
    for info in ([] if interp is None else interp.findall("Spectral_Band_Info")):
        name = (info.findtext("BAND_NAME") or "").strip()
        m = _BAND_RE.match(name)
        if m is None or (info.findtext("VIRTUAL_BAND") or "").strip() == "true":
            continue
        part, pol = m.group(2).rsplit("_", 1) if "_" in m.group(2) else ("", m.group(2))
        if pol.upper() != polarisation.upper():
            continue
        swaths.add(part)
        href = files.get((info.findtext("BAND_INDEX") or "").strip())
        if href is None:
            raise InputError(f"{dim}: band {name} has no Data_File entry.")
        img = href[:-4] + ".img" if href.lower().endswith(".hdr") else href
        bands[(m.group(1), m.group(3), m.group(4))] = (name, img)
    if len(swaths) > 1:
        raise InputError(f"{dim}: bands of several swaths ({', '.join(sorted(swaths))}) for {polarisation}; "
                         "split the stack per swath (SNAP TOPSAR-Split) or merge it (TOPSAR-Deburst/Merge).")
    return _combine(dim, bands, polarisation)


def _combine(dim, bands, polarisation):
    pairs, ref = {}, None
    for (kind, role, stamp), (name, img) in sorted(bands.items()):
        other = ("q" if kind == "i" else "i", role, stamp)
        if other not in bands:
            raise InputError(f"{dim}: band {name} has no {other[0]} band ({other[0]}{name[1:]}); an SLC needs "
                             "both its i (real) and q (imaginary) bands.")
        if kind == "q":
            continue
        date = snap_date(stamp)
        if date is None:
            raise InputError(f"{dim}: band {name}: {stamp} is not a date (ddMonYYYY).")
        if date in pairs:
            raise InputError(f"{dim}: two {polarisation} SLCs dated {date.isoformat()} ({name} and another).")
        for path in (img, bands[other][1]):
            if not os.path.isfile(path):
                raise InputError(f"{path}: the file of band {os.path.basename(path)[:-4]} of {dim} is missing.")
        pairs[date] = (img, bands[other][1])
        if role in ("mst", "ref"):
            ref = date
    if not pairs:
        raise InputError(f"{dim}: no {polarisation} i/q band pair (i_<swath>_{polarisation}_mst_<date>, …); "
                         "is this a coregistered SLC stack of that polarisation?")
    return pairs, ref


def _baselines(dim, abstracted, dates, ref):
    elem = None if abstracted is None else _mdelem(abstracted, "Baselines")
    if elem is None or ref is None:
        return None, None
    refs = {}
    for r in elem.findall("MDElem"):
        m = _REF_RE.match(r.get("name", ""))
        if m:
            refs[snap_date(m.group(1))] = r
    if ref not in refs:
        return None, None
    values = {}
    for sec in refs[ref].findall("MDElem"):
        m = _SEC_RE.match(sec.get("name", ""))
        value = None if m is None else _float(sec, "Perp Baseline")
        if value is not None:
            values[snap_date(m.group(1))] = value
    values.setdefault(ref, 0.0)
    name = refs[ref].get("name")
    return baselines_in_order(f"{dim} (Baselines/{name})", dates, values), f"{dim}: Abstracted_Metadata/Baselines/{name}"


def _geometry(dim, abstracted, cols):
    g = StackGeometry()
    items = []
    freq = _float(abstracted, "radar_frequency")
    if freq:
        g.wavelength_m = SPEED_OF_LIGHT / (freq * 1e6)
        items.append("radar_frequency")
    near, far = _float(abstracted, "incidence_near"), _float(abstracted, "incidence_far")
    if near is not None and far is not None:
        g.incidence_deg = (near + far) / 2.0
        items.append("incidence_near/far")
    heading = _float(abstracted, "centre_heading")
    if heading is not None:
        g.heading_deg = (heading + 180.0) % 360.0 - 180.0
        items.append("centre_heading")
    r0, dr = _float(abstracted, "slant_range_to_first_pixel"), _float(abstracted, "range_spacing")
    if r0 is not None and dr is not None:
        g.slant_range_m = r0 + dr * (cols - 1) / 2.0
        items.append("slant_range_to_first_pixel + range_spacing")
    orbit = (_mdattr(abstracted, "PASS") or "").strip().lower() if abstracted is not None else ""
    if orbit in ("ascending", "descending"):
        g.orbit = orbit
        items.append("PASS")
    return g, f"{dim}: Abstracted_Metadata " + (", ".join(items) or "(nothing usable)")


def _crs_transform(dim, root):
    from affine import Affine
    from rasterio.crs import CRS

    wkt = (root.findtext("Coordinate_Reference_System/WKT") or "").strip()
    matrix = (root.findtext("Geoposition/IMAGE_TO_MODEL_TRANSFORM") or "").strip()
    if not wkt or not matrix:
        return None, None
    try:
        sx, shy, shx, sy, x0, y0 = (float(v) for v in matrix.split(","))
        return CRS.from_wkt(wkt), Affine(sx, shx, x0, shy, sy, y0)
    except Exception as exc:  # noqa: BLE001 -- rasterio's CRS errors and malformed numbers alike
        raise InputError(f"{dim}: Coordinate_Reference_System/IMAGE_TO_MODEL_TRANSFORM unreadable ({exc}).") from None


class _TiePoints:
    """Bilinear interpolation of SNAP tie-point grids (pixel-corner image coordinates, 0.5 = first centre)."""

    def __init__(self, data, root):
        from .base import open_raster

        self.grids = {}
        tpg = root.find("Tie_Point_Grids")
        for info in ([] if tpg is None else tpg.findall("Tie_Point_Grid_Info")):
            name = (info.findtext("TIE_POINT_GRID_NAME") or "").strip()
            path = os.path.join(data, "tie_point_grids", name + ".img")
            if name not in ("latitude", "longitude", "incident_angle") or not os.path.isfile(path):
                continue
            with open_raster(path) as ds:
                values = ds.read(1).astype(np.float64)
            geo = [float(info.findtext(k)) for k in ("OFFSET_X", "OFFSET_Y", "STEP_X", "STEP_Y")]
            self.grids[name] = (values, geo)

    def at(self, name, lines, pixels):
        values, (ox, oy, sx, sy) = self.grids[name]
        gx = np.clip((pixels + 0.5 - ox) / sx, 0, values.shape[1] - 1)
        gy = np.clip((lines + 0.5 - oy) / sy, 0, values.shape[0] - 1)
        x0 = np.minimum(gx.astype(np.int64), values.shape[1] - 2)
        y0 = np.minimum(gy.astype(np.int64), values.shape[0] - 2)
        fx, fy = gx - x0, gy - y0
        top = values[y0, x0] * (1 - fx) + values[y0, x0 + 1] * fx
        bottom = values[y0 + 1, x0] * (1 - fx) + values[y0 + 1, x0 + 1] * fx
        return top * (1 - fy) + bottom * fy

    def lonlat(self, lines, pixels):
        return self.at("longitude", lines, pixels), self.at("latitude", lines, pixels)


def open_snap(path, polarisation="VV", overrides=None):
    """A :class:`LayoutStack` of a BEAM-DIMAP stack (``.dim`` or ``.data``)."""
    dim, data = dim_paths(path)
    try:
        root = ET.parse(dim).getroot()
    except (OSError, ET.ParseError) as exc:
        raise InputError(f"{dim}: not a readable BEAM-DIMAP XML document ({exc}).") from None
    try:
        shape = (int(root.findtext("Raster_Dimensions/NROWS")), int(root.findtext("Raster_Dimensions/NCOLS")))
    except (TypeError, ValueError):
        raise InputError(f"{dim}: Raster_Dimensions NROWS/NCOLS missing.") from None
    pairs, ref = _pairs(dim, root, polarisation)
    dates = sorted(pairs)
    abstracted = _abstracted(root)
    bperp, bperp_origin = _baselines(dim, abstracted, dates, ref)
    geometry, geometry_origin = _geometry(dim, abstracted, shape[1])
    crs, transform = _crs_transform(dim, root)
    kwargs, georef = {}, f"{dim}: Coordinate_Reference_System + IMAGE_TO_MODEL_TRANSFORM"
    if crs is None:
        tie = _TiePoints(data, root)
        if "latitude" in tie.grids and "longitude" in tie.grids:
            kwargs["lonlat_fn"] = tie.lonlat
            georef = f"{data}/tie_point_grids latitude/longitude (bilinear)"
        else:
            georef = "none (no CRS, no latitude/longitude tie-point grids)"
        if "incident_angle" in tie.grids:
            kwargs["incidence_fn"] = lambda lines, pixels: tie.at("incident_angle", lines, pixels)
    _check_band_sizes(pairs, shape)
    return LayoutStack(
        dim, dates=dates, readers=[PairReader(*pairs[d]) for d in dates], shape=shape,
        dtype="complex64 (i + j·q)", geometry=geometry, bperp=bperp, crs=crs, transform=transform,
        overrides=overrides, origins={
            "layout": f"SNAP BEAM-DIMAP coregistered stack ({polarisation}, reference {ref})",
            "dates": f"{dim}: band names i_/q_…_<ddMonYYYY>",
            "baselines": bperp_origin or f"none in {dim} (no height-error estimation)",
            "geometry": geometry_origin, "georeferencing": georef},
        **kwargs)


def _check_band_sizes(pairs, shape):
    from .base import open_raster

    for i_path, q_path in pairs.values():
        for path in (i_path, q_path):
            with open_raster(path) as ds:
                if (ds.height, ds.width) != shape:
                    raise InputError(f"{path}: {ds.width} × {ds.height} pixels, but the .dim says "
                                     f"{shape[1]} × {shape[0]}.")
