"""NASA OPERA CSLC-S1: a folder of ``OPERA_L2_CSLC-S1_<burst>_<date>T…_<pol>_v*.h5`` bursts (README "Stack layouts").

Read with h5py, lazily by row blocks: pixels ``/data/<pol>`` (complex64); the grid from ``/data/x_coordinates``
/ ``/data/y_coordinates`` (pixel centres) and ``/data/projection`` (EPSG); the date from the file name; the
wavelength, ``starting_range``, ``range_pixel_spacing`` and ``shape`` from
``/metadata/processing_information/input_burst_metadata`` (slant range at the burst's middle sample); the pass
from ``/identification/orbit_pass_direction``; the LOS from the ``…-STATIC_…`` file's ``los_east``/``los_north``
at the scene centre (incidence = asin √(e² + n²), heading = atan2(n, −e), the inverse of
``core.conventions.los_vector``).  Baselines from a ``baselines.csv`` beside the files, else from the files'
orbit state vectors (``/metadata/orbit``, :mod:`.orbits`, at the scene centre, the middle date the reference);
where neither exists, none (height errors not estimated; said in the log).  Several bursts in one folder:
an error listing them, or the ``burst`` argument chooses one.
"""

from __future__ import annotations

import glob
import math
import os
import re

import numpy as np

from ...errors import InputError
from ..stack import StackGeometry, parse_date_in_name
from .base import LayoutStack, sidecar_baselines

_NAME_RE = re.compile(r"^OPERA_L2_CSLC-S1_(T\d{3}-\d{6}-IW\d)_(\d{8})T\d{6}Z_.*\.h5$", re.IGNORECASE)
_STATIC_RE = re.compile(r"^OPERA_L2_CSLC-S1-STATIC_(T\d{3}-\d{6}-IW\d)_.*\.h5$", re.IGNORECASE)
_BURST_META = "metadata/processing_information/input_burst_metadata"


def _h5py():
    try:
        import h5py
    except ImportError:
        raise InputError("reading OPERA CSLC-S1 files needs the Python package h5py "
                         "(python3-h5py, or pip install h5py).") from None
    return h5py


def _h5open(path):
    try:
        return _h5py().File(path, "r")
    except OSError as exc:
        raise InputError(f"{path}: not a readable HDF5 file ({exc}).") from None


class H5Reader:
    """One CSLC burst's ``/data/<pol>``, read by windows."""

    def __init__(self, path, dataset):
        self.path, self.dataset, self._file = path, dataset, None
        self.name = f'{path}://{dataset}'

    def open(self):
        if self._file is None:
            self._file = _h5open(self.path)

    def close(self):
        if self._file is not None:
            self._file.close()
            self._file = None

    def read(self, window, out):
        self.open()
        (r0, r1), (c0, c1) = window.toranges()
        self._file[self.dataset].read_direct(out, np.s_[r0:r1, c0:c1])


def _bursts(folder):
    by_burst, statics = {}, {}
    for path in sorted(glob.glob(os.path.join(glob.escape(folder), "*.h5"))):
        name = os.path.basename(path)
        m, s = _NAME_RE.match(name), _STATIC_RE.match(name)
        if s:
            statics[s.group(1).upper()] = path
        elif m:
            by_burst.setdefault(m.group(1).upper(), []).append((parse_date_in_name(m.group(2)), path))
    return by_burst, statics


def _choose_burst(folder, by_burst, burst):
    if not by_burst:
        raise InputError(f"{folder}: no OPERA_L2_CSLC-S1_<burst>_<date>…h5 file.")
    if burst:
        key = burst.upper().replace("_", "-")
        if key not in by_burst:
            raise InputError(f"{folder}: no CSLC of burst {burst}; the folder holds {', '.join(sorted(by_burst))}.")
        return key
    if len(by_burst) > 1:
        raise InputError(f"{folder}: CSLCs of {len(by_burst)} bursts ({', '.join(sorted(by_burst))}); a stack is "
                         "one burst: keep one burst's files in the folder (or choose one with burst=).")
    return next(iter(by_burst))


def _dated_files(folder, files):
    by_date = {}
    for date, path in files:
        by_date.setdefault(date, []).append(path)
    repeated = {d: p for d, p in by_date.items() if len(p) > 1}
    if repeated:
        listing = "; ".join(f"{d.isoformat()}: {', '.join(os.path.basename(p) for p in ps)}"
                            for d, ps in sorted(repeated.items()))
        raise InputError(f"{folder}: dates repeated across files of one burst ({listing}); keep one file per date.")
    return {d: ps[0] for d, ps in by_date.items()}


def _grid(path, f, dataset):
    from affine import Affine
    from rasterio.crs import CRS

    if dataset not in f:
        present = [k for k in f.get("data", {}) if k.upper() in ("VV", "VH", "HH", "HV")]
        raise InputError(f"{path}: no /{dataset} (the file holds {', '.join(present) or 'no polarisation'}); "
                         "choose the polarisation it has.")
    x, y = f["data/x_coordinates"][()], f["data/y_coordinates"][()]
    dx = float(x[1] - x[0]) if x.size > 1 else float(f["data/x_spacing"][()])
    dy = float(y[1] - y[0]) if y.size > 1 else float(f["data/y_spacing"][()])
    proj = f["data/projection"]
    epsg = int(proj.attrs.get("epsg_code", proj[()]))
    transform = Affine(dx, 0.0, float(x[0]) - dx / 2.0, 0.0, dy, float(y[0]) - dy / 2.0)
    return f[dataset].shape, CRS.from_epsg(epsg), transform, (x, y)


def _scalar(f, name):
    if name not in f:
        return None
    value = f[name][()]
    return value.decode() if isinstance(value, bytes) else value


def _geometry(f, shape):
    g = StackGeometry()
    items = []
    wavelength = _scalar(f, f"{_BURST_META}/wavelength")
    if wavelength:
        g.wavelength_m = float(wavelength)
        items.append("input_burst_metadata/wavelength")
    r0, dr = _scalar(f, f"{_BURST_META}/starting_range"), _scalar(f, f"{_BURST_META}/range_pixel_spacing")
    samples = f[f"{_BURST_META}/shape"][()][1] if f"{_BURST_META}/shape" in f else shape[1]
    if r0 is not None and dr is not None:
        g.slant_range_m = float(r0) + float(dr) * (int(samples) - 1) / 2.0
        items.append("starting_range + range_pixel_spacing")
    orbit = (_scalar(f, "identification/orbit_pass_direction") or "").lower()
    if orbit in ("ascending", "descending"):
        g.orbit = orbit
    return g, items


def _static_los(static, grid_xy, g, items):
    with _h5open(static) as s:
        if "data/los_east" not in s or "data/los_north" not in s:
            return
        sx, sy = s["data/x_coordinates"][()], s["data/y_coordinates"][()]
        x, y = grid_xy
        j = int(np.argmin(np.abs(sx - x[x.size // 2])))
        i = int(np.argmin(np.abs(sy - y[y.size // 2])))
        e, n = float(s["data/los_east"][i, j]), float(s["data/los_north"][i, j])
    g.incidence_deg = math.degrees(math.asin(min(1.0, math.hypot(e, n))))
    g.heading_deg = math.degrees(math.atan2(n, -e))
    items.append(f"{static} los_east/los_north (scene centre)")


def _orbit(f):
    g = f.get("metadata/orbit")
    if g is None or not all(k in g for k in ("time", "position_x", "velocity_x")):
        return None
    return (g["time"][()].astype(np.float64), np.stack([g[f"position_{a}"][()] for a in "xyz"], axis=1),
            np.stack([g[f"velocity_{a}"][()] for a in "xyz"], axis=1))


def _orbit_baselines(files, dates, crs, xy):
    from pyproj import Transformer

    from .orbits import geodetic_to_ecef, perpendicular_baselines

    orbits = []
    for d in dates:
        with _h5open(files[d]) as f:
            orbit = _orbit(f)
        if orbit is None:
            return None, f"none — {files[d]} has no /metadata/orbit and there is no baselines.csv"
        orbits.append(orbit)
    x, y = xy
    lon, lat = Transformer.from_crs(crs.to_wkt(), "EPSG:4326", always_xy=True).transform(x[x.size // 2],
                                                                                        y[y.size // 2])
    ref = len(dates) // 2
    bperp = perpendicular_baselines(geodetic_to_ecef(lat, lon), orbits, ref)
    return bperp, (f"the files' /metadata/orbit state vectors (scene centre, reference "
                   f"{dates[ref].strftime('%Y%m%d')})")


def open_opera(path, polarisation="VV", burst=None, overrides=None):
    """A :class:`LayoutStack` of a folder of OPERA CSLC-S1 bursts (or the folder of one given .h5 file)."""
    path = os.path.abspath(os.fspath(path))
    folder = path if os.path.isdir(path) else os.path.dirname(path)
    by_burst, statics = _bursts(folder)
    key = _choose_burst(folder, by_burst, burst)
    files = _dated_files(folder, by_burst[key])
    dates = sorted(files)
    dataset = f"data/{polarisation.upper()}"
    ref = None
    for d in dates:
        with _h5open(files[d]) as f:
            shape, crs, transform, xy = _grid(files[d], f, dataset)
            if ref is None:
                ref = (files[d], shape, crs, transform)
                geometry, items = _geometry(f, shape)
            elif (shape, crs, transform) != ref[1:]:
                raise InputError(f"{files[d]}: grid {shape[1]} × {shape[0]} {crs} {tuple(transform)[:6]} differs from "
                                 f"{ref[0]}'s; the CSLCs of a stack share one grid.")
    if key in statics:
        _static_los(statics[key], xy, geometry, items)
    bperp = sidecar_baselines(folder, dates)
    if bperp is not None:
        bperp_origin = os.path.join(folder, "baselines.csv")
    else:
        bperp, bperp_origin = _orbit_baselines(files, dates, ref[2], xy)
    return LayoutStack(
        folder, dates=dates, readers=[H5Reader(files[d], dataset) for d in dates], shape=ref[1],
        dtype="complex64", geometry=geometry, bperp=bperp, crs=ref[2], transform=ref[3], overrides=overrides,
        origins={"layout": f"OPERA CSLC-S1 burst {key} ({polarisation.upper()})", "dates": "the file names",
                 "baselines": bperp_origin + ("" if bperp is not None else ": height errors are not estimated"),
                 "geometry": ", ".join(items) or "none",
                 "georeferencing": f"{ref[0]}: /data/x_coordinates, /data/y_coordinates, /data/projection"})
