"""Reader of the stack-folder contract (ARCHITECTURE.md).

A stack folder holds one coregistered complex SLC raster per acquisition (date
= first 8-digit ``YYYYMMDD`` group of the file name), georeferencing (a CRS and
geotransform on the SLCs, or ``lat*``/``lon*`` rasters), and optionally
``baselines.csv`` (``date,bperp``), ``stack.json`` (geometry) and an
``incidence*`` raster.  :class:`StackFolder` discovers and validates all of it
and reads blocks of rows across all dates.  Every problem raises
:class:`~.errors.InputError` naming the file.

Example
-------
>>> stack = StackFolder("/data/stack")                     # doctest: +SKIP
>>> with stack:                                            # doctest: +SKIP
...     for row0, row1 in stack.row_blocks(256):
...         slc = stack.read_block(row0, row1)             # (n_dates, rows, cols) complex64
"""

from __future__ import annotations

import csv
import datetime as _dt
import json
import os
import re
import warnings
from dataclasses import dataclass

import numpy as np

from ..conventions import SENTINEL1_WAVELENGTH, format_date, los_vector
from ..errors import InputError

MIN_DATES = 3
"""Fewer acquisitions than this is an error."""
MIN_DATES_RELIABLE = 20
"""Fewer acquisitions than this is a warning: amplitude statistics mean little."""

_DATE_RE = re.compile(r"(?<!\d)(\d{8})(?!\d)")
# Sidecars and non-raster files that never count as SLCs even when dated.
_IGNORED_SUFFIXES = (
    ".aux.xml", ".aux", ".xml", ".hdr", ".ovr", ".json", ".csv", ".txt", ".md", ".rst", ".png",
    ".jpg", ".jpeg", ".log", ".rsc", ".msk", ".kml", ".kmz", ".pdf", ".html", ".py", ".sh", ".zip",
    ".gz", ".tar", ".h5", ".nc", ".gpkg", ".shp", ".shx", ".dbf", ".prj", ".qml", ".qmd",
)
_AUX_PREFIXES = ("lat", "lon", "incidence")
COMPLEX_DTYPES = ("complex_int16", "complex64", "complex128", "complex")


@dataclass(frozen=True)
class Acquisition:
    date: _dt.date
    path: str


@dataclass
class StackGeometry:
    """Acquisition geometry from ``stack.json`` and/or user overrides."""

    wavelength_m: float = SENTINEL1_WAVELENGTH
    incidence_deg: float | None = None
    heading_deg: float | None = None
    slant_range_m: float | None = None
    orbit: str | None = None

    def los(self):
        """``(east, north, up)`` unit LOS vector, or None when incidence or heading is unknown."""
        if self.incidence_deg is None or self.heading_deg is None:
            return None
        return tuple(float(c) for c in los_vector(self.incidence_deg, self.heading_deg))


def parse_date_in_name(name: str):
    """The acquisition date of a file name (first valid 8-digit group), or None."""
    for match in _DATE_RE.finditer(name):
        try:
            return _dt.datetime.strptime(match.group(1), "%Y%m%d").date()
        except ValueError:
            continue
    return None


def _rasterio():
    import rasterio

    return rasterio


def _open(path):
    rasterio = _rasterio()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # NotGeoreferencedWarning for radar-geometry stacks
            return rasterio.open(path)
    except Exception as exc:  # noqa: BLE001 -- GDAL/rasterio raise many types here; the message names the file
        raise InputError(f"{path}: GDAL cannot open it as a raster ({exc}).") from None


class StackFolder:
    """A validated stack folder.

    Parameters
    ----------
    folder : str
        The stack folder.
    wavelength_m, incidence_deg, heading_deg, slant_range_m, orbit :
        Override the values of ``stack.json`` (None keeps the file's value).

    Attributes
    ----------
    acquisitions : list[Acquisition]   sorted by date
    shape : (rows, cols)
    bperp : float64 array (n_dates,) or None — perpendicular baselines (m) as in ``baselines.csv``
    geometry : StackGeometry
    crs, transform : rasterio CRS / Affine of a geocoded stack, else None
    warnings : list[str] — non-fatal issues (e.g. fewer than 20 acquisitions)
    """

    def __init__(self, folder, *, wavelength_m=None, incidence_deg=None, heading_deg=None,
                 slant_range_m=None, orbit=None):
        self.folder = os.path.abspath(os.fspath(folder))
        if not os.path.isdir(self.folder):
            raise InputError(f"{self.folder}: not a folder; the input must be a stack folder of SLC rasters.")
        self.warnings: list[str] = []
        self._datasets = None
        names = sorted(os.listdir(self.folder))
        self.acquisitions = self._discover_slcs(names)
        self._check_slcs()
        self.geometry = self._read_geometry()
        for key, value in (("wavelength_m", wavelength_m), ("incidence_deg", incidence_deg),
                           ("heading_deg", heading_deg), ("slant_range_m", slant_range_m), ("orbit", orbit)):
            if value is not None:
                setattr(self.geometry, key, value)
        self.bperp = self._read_baselines()
        self.lat_path, self.lon_path = self._find_latlon(names)
        self.incidence_path = self._find_aux(names, "incidence")

    # ------------------------------------------------------------------ discovery
    def _discover_slcs(self, names):
        candidates = {}
        for name in names:
            path = os.path.join(self.folder, name)
            low = name.lower()
            if not os.path.isfile(path) or low.startswith(".") or low.endswith(_IGNORED_SUFFIXES):
                continue
            if low.startswith(_AUX_PREFIXES):
                continue
            date = parse_date_in_name(name)
            if date is None:
                continue
            candidates[name] = Acquisition(date, path)
        # ISCE style: a raw file and its .vrt describe the same SLC; keep the .vrt.
        for name in list(candidates):
            if name + ".vrt" in candidates:
                del candidates[name]
        by_date = {}
        for acq in candidates.values():
            if acq.date in by_date:
                first, second = sorted((by_date[acq.date].path, acq.path))
                raise InputError(
                    f"{first} and {second}: both are dated {acq.date.isoformat()}; "
                    "a stack folder holds one SLC per acquisition."
                )
            by_date[acq.date] = acq
        acqs = [by_date[d] for d in sorted(by_date)]
        if not acqs:
            raise InputError(
                f"{self.folder}: no SLC found — expected one complex raster per acquisition "
                "with its date YYYYMMDD in the file name (e.g. 20200103.tif)."
            )
        if len(acqs) < MIN_DATES:
            raise InputError(
                f"{self.folder}: only {len(acqs)} acquisition(s); at least {MIN_DATES} are needed "
                "(20 or more for reliable amplitude statistics)."
            )
        if len(acqs) < MIN_DATES_RELIABLE:
            self.warnings.append(
                f"{self.folder}: {len(acqs)} acquisitions; amplitude dispersion is unreliable below "
                f"{MIN_DATES_RELIABLE}, expect noisy scatterer selection."
            )
        return acqs

    def _check_slcs(self):
        ref = None
        for acq in self.acquisitions:
            with _open(acq.path) as ds:
                dtype = ds.dtypes[0]
                if dtype not in COMPLEX_DTYPES:
                    raise InputError(
                        f"{acq.path}: not a complex raster (data type {dtype}); SLCs must be "
                        "CInt16, CFloat32 or CFloat64."
                    )
                if ref is None:
                    ref = (acq.path, ds.height, ds.width, ds.crs, ds.transform, dtype)
                elif (ds.height, ds.width) != ref[1:3]:
                    raise InputError(
                        f"{acq.path}: {ds.width} × {ds.height} pixels, but {ref[0]} is "
                        f"{ref[2]} × {ref[1]}; all SLCs of a stack must have the same size."
                    )
        _, rows, cols, crs, transform, dtype = ref
        self.shape = (rows, cols)
        self.dtype = dtype
        self.crs = crs if crs is not None and not transform.is_identity else None
        self.transform = transform if self.crs is not None else None

    def _read_geometry(self):
        geometry = StackGeometry()
        path = os.path.join(self.folder, "stack.json")
        if not os.path.exists(path):
            return geometry
        try:
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: not valid JSON ({exc}).") from None
        if not isinstance(data, dict):
            raise InputError(f"{path}: expected a JSON object with keys such as wavelength_m, incidence_deg.")
        for key in ("wavelength_m", "incidence_deg", "heading_deg", "slant_range_m"):
            if data.get(key) is not None:
                try:
                    value = float(data[key])
                except (TypeError, ValueError):
                    raise InputError(f"{path}: {key} = {data[key]!r} is not a number.") from None
                if not np.isfinite(value):
                    raise InputError(f"{path}: {key} = {data[key]!r} is not a finite number.")
                setattr(geometry, key, value)
        if geometry.wavelength_m <= 0:
            raise InputError(f"{path}: wavelength_m must be positive.")
        orbit = data.get("orbit")
        if orbit is not None:
            orbit = str(orbit).lower()
            if orbit not in ("ascending", "descending"):
                raise InputError(f"{path}: orbit must be \"ascending\" or \"descending\", not {data['orbit']!r}.")
            geometry.orbit = orbit
        return geometry

    def _read_baselines(self):
        path = os.path.join(self.folder, "baselines.csv")
        if not os.path.exists(path):
            return None
        values = {}
        try:
            with open(path, newline="", encoding="utf-8-sig") as fh:
                reader = csv.reader(fh)
                header = [h.strip().lower() for h in next(reader, [])]
                if "date" not in header or "bperp" not in header:
                    raise InputError(f"{path}: the header must be 'date,bperp' (found {','.join(header) or 'nothing'}).")
                i_date, i_bperp = header.index("date"), header.index("bperp")
                for lineno, row in enumerate(reader, start=2):
                    if not row or all(not c.strip() for c in row):
                        continue
                    if len(row) <= max(i_date, i_bperp):
                        raise InputError(f"{path} line {lineno}: expected 'date,bperp', got {','.join(row)!r}.")
                    date = parse_date_in_name(row[i_date].strip())
                    if date is None or len(row[i_date].strip()) != 8:
                        raise InputError(f"{path} line {lineno}: date {row[i_date]!r} is not YYYYMMDD.")
                    try:
                        bperp = float(row[i_bperp])
                    except ValueError:
                        raise InputError(f"{path} line {lineno}: bperp {row[i_bperp]!r} is not a number.") from None
                    if not np.isfinite(bperp):
                        raise InputError(f"{path} line {lineno}: bperp {row[i_bperp]!r} is not a finite number.")
                    if date in values:
                        raise InputError(f"{path} line {lineno}: date {row[i_date].strip()} is listed twice.")
                    values[date] = bperp
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: cannot be read ({exc}).") from None
        dates = self.dates
        lacking = [format_date(d) for d in dates if d not in values]
        extra = sorted(format_date(d) for d in values if d not in set(dates))
        if lacking:
            raise InputError(
                f"{path}: no baseline for {len(lacking)} acquisition(s) of the stack: {', '.join(lacking[:10])}"
                + (" …" if len(lacking) > 10 else "") + "."
            )
        if extra:
            raise InputError(
                f"{path}: {len(extra)} date(s) without an SLC in the folder: {', '.join(extra[:10])}"
                + (" …" if len(extra) > 10 else "") + "."
            )
        return np.array([values[d] for d in dates], dtype=np.float64)

    def _find_aux(self, names, prefix):
        found = [n for n in names if n.lower().startswith(prefix) and not n.lower().endswith(_IGNORED_SUFFIXES)
                 and os.path.isfile(os.path.join(self.folder, n))]
        # ISCE: prefer the .vrt of a raw file
        found = [n for n in found if n + ".vrt" not in found]
        if not found:
            return None
        if len(found) > 1:
            raise InputError(f"{self.folder}: several {prefix}* rasters ({', '.join(found)}); keep one.")
        path = os.path.join(self.folder, found[0])
        with _open(path) as ds:
            if (ds.height, ds.width) != self.shape:
                raise InputError(
                    f"{path}: {ds.width} × {ds.height} pixels, but the SLCs are {self.shape[1]} × {self.shape[0]}."
                )
            if ds.dtypes[0] in COMPLEX_DTYPES:
                raise InputError(f"{path}: a {prefix} raster must be real-valued, not {ds.dtypes[0]}.")
        return path

    def _find_latlon(self, names):
        lat = self._find_aux(names, "lat")
        lon = self._find_aux(names, "lon")
        if (lat is None) != (lon is None):
            have, lack = ("lat", "lon") if lat else ("lon", "lat")
            raise InputError(f"{self.folder}: a {have}* raster but no {lack}* raster; both are needed.")
        return lat, lon

    # ------------------------------------------------------------------ properties
    @property
    def dates(self):
        return [a.date for a in self.acquisitions]

    @property
    def date_strings(self):
        return [format_date(d) for d in self.dates]

    @property
    def paths(self):
        return [a.path for a in self.acquisitions]

    @property
    def n_dates(self):
        return len(self.acquisitions)

    @property
    def geocoded(self):
        """True when the SLCs carry a CRS and a geotransform."""
        return self.crs is not None

    @property
    def georeferenced(self):
        return self.geocoded or self.lat_path is not None

    # ------------------------------------------------------------------ reading
    def open(self):
        """Open every SLC once (done lazily by :meth:`read_block`); pair with :meth:`close`."""
        if self._datasets is None:
            self._datasets = [_open(p) for p in self.paths]
        return self

    def close(self):
        if self._datasets is not None:
            for ds in self._datasets:
                ds.close()
            self._datasets = None

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 -- a finaliser must never raise (interpreter shutdown)
            return

    def row_blocks(self, block_rows):
        """``(row0, row1)`` pairs covering all rows in blocks of ``block_rows``."""
        rows = self.shape[0]
        block_rows = max(1, int(block_rows))
        return [(r, min(r + block_rows, rows)) for r in range(0, rows, block_rows)]

    def block_rows_for(self, max_bytes, bytes_per_value=8):
        """Rows per block so one block of all dates (complex64) stays under ``max_bytes``."""
        per_row = self.shape[1] * self.n_dates * bytes_per_value
        return max(1, int(max_bytes // per_row))

    def read_block(self, row0, row1, col0=0, col1=None, out=None):
        """SLC values of rows [row0, row1) and columns [col0, col1) of every date.

        Returns complex64 of shape (n_dates, row1 − row0, col1 − col0).
        """
        from rasterio.windows import Window

        col1 = self.shape[1] if col1 is None else col1
        shape = (self.n_dates, row1 - row0, col1 - col0)
        if out is None:
            out = np.empty(shape, dtype=np.complex64)
        self.open()
        window = Window(col0, row0, col1 - col0, row1 - row0)
        for k, ds in enumerate(self._datasets):
            try:
                ds.read(1, window=window, out=out[k], out_dtype=np.complex64)
            except Exception as exc:  # noqa: BLE001 -- any GDAL read error: name the file and the rows
                raise InputError(f"{ds.name}: read failed at rows {row0}–{row1} ({exc}); is the file complete?") from None
        return out

    def read_pixels(self, lines, pixels, block_rows=256, progress=None):
        """SLC values at the given pixels, complex64 (n_points, n_dates), reading row blocks."""
        lines = np.asarray(lines, dtype=np.int64)
        pixels = np.asarray(pixels, dtype=np.int64)
        out = np.empty((lines.size, self.n_dates), dtype=np.complex64)
        if lines.size == 0:
            return out
        order = np.argsort(lines, kind="stable")
        sorted_lines = lines[order]
        blocks = self.row_blocks(block_rows)
        for i, (r0, r1) in enumerate(blocks):
            lo, hi = np.searchsorted(sorted_lines, [r0, r1])
            if hi > lo:
                idx = order[lo:hi]
                block = self.read_block(r0, r1)
                out[idx] = block[:, lines[idx] - r0, pixels[idx]].T
            if progress is not None:
                progress.check()
                progress.update((i + 1) / len(blocks))
        return out

    # ------------------------------------------------------------------ geolocation
    def _sample(self, path, lines, pixels, block_rows=512):
        """Values of a real raster of the stack's size at the given pixels, reading row blocks."""
        from rasterio.windows import Window

        out = np.empty(lines.size, dtype=np.float64)
        if lines.size == 0:
            return out
        order = np.argsort(lines, kind="stable")
        sorted_lines = lines[order]
        first = int(sorted_lines[0]) // block_rows * block_rows
        with _open(path) as ds:
            for r0 in range(first, int(sorted_lines[-1]) + 1, block_rows):
                lo, hi = np.searchsorted(sorted_lines, [r0, r0 + block_rows])
                if hi <= lo:
                    continue
                idx = order[lo:hi]
                r1 = min(r0 + block_rows, self.shape[0])
                block = ds.read(1, window=Window(0, r0, self.shape[1], r1 - r0))
                out[idx] = block[lines[idx] - r0, pixels[idx]]
        return out

    def map_coordinates(self, lines, pixels):
        """Pixel-centre coordinates ``(x, y)`` in :attr:`crs` of a geocoded stack."""
        if not self.geocoded:
            raise InputError(f"{self.folder}: the SLCs have no CRS/geotransform.")
        t = self.transform
        c = np.asarray(pixels, dtype=np.float64) + 0.5
        r = np.asarray(lines, dtype=np.float64) + 0.5
        return t.a * c + t.b * r + t.c, t.d * c + t.e * r + t.f

    def lonlat(self, lines, pixels):
        """WGS84 longitude, latitude (degrees) of the given pixels."""
        lines = np.asarray(lines, dtype=np.int64)
        pixels = np.asarray(pixels, dtype=np.int64)
        if self.geocoded:
            from pyproj import Transformer

            x, y = self.map_coordinates(lines, pixels)
            tr = Transformer.from_crs(self.crs.to_wkt(), "EPSG:4326", always_xy=True)
            return tr.transform(x, y)
        if self.lat_path is None:
            raise InputError(
                f"{self.folder}: cannot georeference — the SLCs carry no CRS/geotransform and the folder "
                "has no lat*/lon* rasters (WGS84 degrees per pixel)."
            )
        return self._sample(self.lon_path, lines, pixels), self._sample(self.lat_path, lines, pixels)

    def incidence_at(self, lines, pixels):
        """Incidence angle (deg) per pixel: the ``incidence*`` raster, else the stack's scalar value."""
        lines = np.asarray(lines, dtype=np.int64)
        if self.incidence_path is not None:
            return self._sample(self.incidence_path, lines, np.asarray(pixels, dtype=np.int64))
        if self.geometry.incidence_deg is None:
            return None
        return np.full(lines.shape, float(self.geometry.incidence_deg))

    def describe(self):
        """A few human-readable lines about the stack."""
        g = self.geometry
        rows, cols = self.shape
        lines = [
            f"Stack {self.folder}: {self.n_dates} acquisitions {self.dates[0]} … {self.dates[-1]}, "
            f"{cols} × {rows} pixels ({self.dtype})",
            "  georeferencing: " + (f"CRS {self.crs}" if self.geocoded else ("lat/lon rasters" if self.lat_path else "none")),
            "  baselines: " + (f"{self.bperp.min():.1f} … {self.bperp.max():.1f} m" if self.bperp is not None
                               else "none (no height-error estimation)"),
            "  geometry: " + _describe_geometry(g),
        ]
        return "\n".join(lines + [f"  warning: {w}" for w in self.warnings])


def _describe_geometry(g):
    """``λ = … m, incidence 39°, …``; the quantities stack.json did not give are named as missing."""
    known, missing = [], []
    for label, value, text in (("incidence", g.incidence_deg, lambda v: f"{v:g}°"),
                               ("heading", g.heading_deg, lambda v: f"{v:g}°"),
                               ("slant range", g.slant_range_m, lambda v: f"{v / 1000:g} km"),
                               ("orbit", g.orbit, str)):
        if value is None:
            missing.append(label)
        else:
            known.append(f"{label} {text(value)}")
    head = ", ".join([f"λ = {g.wavelength_m:.6f} m"] + known)
    return head + (f"; {', '.join(missing)} not given (stack.json)" if missing else "")
