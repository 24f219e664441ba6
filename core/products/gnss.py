"""GNSS velocity models: read, interpolate to measurement points, project on the LOS.

A model is a set of 3-D constant velocities (east, north, up; mm/yr, up
positive) at stations or grid nodes, with EPSG:3035 coordinates — the A-EPND
model that EGMS calibrates with (ARCHITECTURE.md, EGMS format: Calibrated), or any point layer with
east/north/up velocity fields.

Interpolation rule (:func:`interpolate`): inside the convex hull of the
stations, piecewise-linear on their Delaunay triangulation (scipy
``LinearNDInterpolator``).  Outside, a point takes the value at the *nearest
point of the hull boundary* (linear along the boundary edge, so the field is
continuous across the hull) if that point is within ``max_extrapolation_m``
(default 50 km, one node spacing of the A-EPND grid); farther points are *not
covered* and get NaN.  With fewer than three stations, or all of them on one
line, the same boundary rule applies to the station polyline (one station:
its value within the distance).

Example
-------
>>> model = gnss_from_arrays([0.0, 1e5, 0.0], [0.0, 0.0, 1e5], east=[1, 2, 1], north=[0, 0, 0], up=[0, 0, 3])
>>> e, n, u = interpolate(model, [2.5e4], [2.5e4])
>>> float(e[0]), float(u[0])
(1.25, 0.75)
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ..conventions import project_to_los
from ..errors import InputError

MAX_EXTRAPOLATION_M = 50_000.0
"""Default reach beyond the stations' convex hull (m): the A-EPND grid spacing."""

AEPND_COLUMNS = ("Latitude", "Longitude", "N", "E", "Up", "SigmaN", "SigmaE", "SigmaUP", "easting", "northing")
"""Columns of the A-EPND model file (ARCHITECTURE.md, EGMS format: Calibrated), velocities in mm/yr."""

# accepted spellings (lower case) of each A-EPND quantity
_ALIASES = {
    "east": ("e", "ve", "east", "v_e", "vel_e"),
    "north": ("n", "vn", "north", "v_n", "vel_n"),
    "up": ("up", "u", "vu", "v_u", "vel_u", "vertical"),
    "sigma_east": ("sigmae", "sigma_e", "se", "sig_e"),
    "sigma_north": ("sigman", "sigma_n", "sn", "sig_n"),
    "sigma_up": ("sigmaup", "sigmau", "sigma_up", "sigma_u", "su", "sig_u"),
    "easting": ("easting", "x_3035"),
    "northing": ("northing", "y_3035"),
    "latitude": ("latitude", "lat"),
    "longitude": ("longitude", "lon", "long"),
}


@dataclass
class GnssModel:
    """3-D velocities (mm/yr) at stations with EPSG:3035 coordinates (m)."""

    easting: np.ndarray
    northing: np.ndarray
    east: np.ndarray
    north: np.ndarray
    up: np.ndarray
    sigma_east: np.ndarray | None = None
    sigma_north: np.ndarray | None = None
    sigma_up: np.ndarray | None = None
    source: str = "GNSS model"
    n_dropped: int = 0
    """Stations of the source left out for a non-finite coordinate or velocity."""

    def __len__(self):
        return int(self.easting.size)

    def describe(self) -> str:
        """One line for the log: stations, extent, velocity ranges."""
        dropped = (f" ({self.n_dropped} without finite coordinates or velocities ignored)" if self.n_dropped else "")
        return (f"{self.source}: {len(self)} stations{dropped}, easting {self.easting.min():.0f}–{self.easting.max():.0f} m, "
                f"northing {self.northing.min():.0f}–{self.northing.max():.0f} m (EPSG:3035); "
                f"E {self.east.min():.2f}…{self.east.max():.2f}, N {self.north.min():.2f}…{self.north.max():.2f}, "
                f"U {self.up.min():.2f}…{self.up.max():.2f} mm/yr")


# ---------------------------------------------------------------- construction
def gnss_from_arrays(easting, northing, east, north, up, sigma_east=None, sigma_north=None, sigma_up=None,
                     source="GNSS layer") -> GnssModel:
    """A :class:`GnssModel` from arrays (EPSG:3035 m; mm/yr).

    Stations with a non-finite coordinate or velocity are dropped; stations at
    the same position are merged (velocities averaged).  Raises
    :class:`InputError` naming ``source`` when nothing usable remains.
    """
    cols = [np.asarray(a, dtype=np.float64).ravel() for a in (easting, northing, east, north, up)]
    n = cols[0].size
    if any(c.size != n for c in cols):
        raise InputError(f"{source}: coordinates and velocities differ in length")
    sigmas = [None if s is None else np.asarray(s, dtype=np.float64).ravel() for s in (sigma_east, sigma_north, sigma_up)]
    ok = np.ones(n, dtype=bool)
    for c in cols:
        ok &= np.isfinite(c)
    if not ok.any():
        raise InputError(f"{source}: no station with finite coordinates and east/north/up velocities")
    cols = [c[ok] for c in cols]
    sigmas = [None if s is None else s[ok] for s in sigmas]
    xy = np.column_stack(cols[:2])
    unique, inverse, counts = np.unique(xy, axis=0, return_inverse=True, return_counts=True)
    if unique.shape[0] < xy.shape[0]:
        inverse = inverse.ravel()

        def merge(v):
            return None if v is None else np.bincount(inverse, weights=v) / counts

        cols = [unique[:, 0], unique[:, 1]] + [merge(c) for c in cols[2:]]
        sigmas = [merge(s) for s in sigmas]
    return GnssModel(*cols, *sigmas, source=source, n_dropped=int(n - ok.sum()))


def _split(line, delimiter):
    """Cells of one line, blanks and the quotes of spreadsheet exports ("E" or '0.5') removed."""
    cells = line.split(delimiter) if delimiter else line.split()
    out = []
    for cell in cells:
        cell = cell.strip()
        if len(cell) >= 2 and cell[0] == cell[-1] and cell[0] in "\"'":
            cell = cell[1:-1].strip()
        out.append(cell)
    return out


def _find(names, key):
    lower = [n.lower() for n in names]
    for alias in _ALIASES[key]:
        if alias in lower:
            return lower.index(alias)
    return None


def velocity_fields(names):
    """``{"east": name, "north": name, "up": name}`` among field ``names`` (A-EPND spellings such as E/N/Up,
    ve/vn/vu, east/north/up; case-insensitive); None where absent."""
    names = list(names)
    found = {}
    for key in ("east", "north", "up"):
        i = _find(names, key)
        found[key] = None if i is None else names[i]
    return found


def read_aepnd_csv(path) -> GnssModel:  # noqa: C901 - one pass over a user-edited text file, each branch one named problem with its own message
    """Read a GNSS velocity model in the A-EPND CSV format (ARCHITECTURE.md, EGMS format: Calibrated).

    Header ``Latitude, Longitude, N, E, Up, SigmaN, SigmaE, SigmaUP, easting,
    northing`` (may start with ``#``; names matched case-insensitively; comma,
    semicolon, tab or blank separated; cells may be quoted; with semicolons
    a comma is the decimal mark); velocities in mm/yr.  EPSG:3035
    ``easting``/``northing`` are used when present, else WGS84
    ``Latitude``/``Longitude`` are projected.  Lines starting with ``#`` other
    than the header are comments.  Any problem raises :class:`InputError`
    naming the file, the line and the column.
    """
    name = os.path.basename(str(path))
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the GNSS file ({exc.strerror or exc})") from None
    if b"\x00" in raw[:4096]:
        raise InputError(f"{path}: cannot read the GNSS file — a binary file (GeoPackage, spreadsheet …), not an "
                         "A-EPND CSV text; export the model as CSV, or load it as a point layer (GNSS_LAYER)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:  # saved by a spreadsheet in the Windows code page: only comments/names differ
        text = raw.decode("cp1252", errors="replace")
    lines = text.splitlines()
    header_at, names, delimiter = None, None, None
    for i, raw in enumerate(lines):
        text = raw.strip().lstrip("#").strip()
        if not text:
            continue
        delimiter = next((d for d in (",", ";", "\t") if d in text), None)
        fields = _split(text, delimiter)
        if all(_find(fields, key) is not None for key in ("east", "north", "up")):
            header_at, names = i, fields
            break
        if not raw.lstrip().startswith("#"):
            break  # first non-comment line is not a header
    if header_at is None:
        raise InputError(f"{path}: not an A-EPND GNSS velocity CSV — no header naming the columns "
                         f"{', '.join(AEPND_COLUMNS)} (E, N, Up in mm/yr are required)")
    index = {key: _find(names, key) for key in _ALIASES}
    has_xy = index["easting"] is not None and index["northing"] is not None
    has_ll = index["latitude"] is not None and index["longitude"] is not None
    if not (has_xy or has_ll):
        raise InputError(f"{path}: the GNSS CSV has neither easting/northing (EPSG:3035) nor Latitude/Longitude columns")
    wanted = [k for k, i in index.items() if i is not None]
    values = {k: [] for k in wanted}
    for i in range(header_at + 1, len(lines)):
        text = lines[i].strip()
        if not text or text.startswith("#"):
            continue
        fields = _split(text, delimiter)
        if len(fields) != len(names):
            raise InputError(f"{path}: line {i + 1} has {len(fields)} values, the header has {len(names)}")
        for key in wanted:
            cell = fields[index[key]]
            if delimiter == ";":  # a European spreadsheet: the comma can only be the decimal mark
                cell = cell.replace(",", ".")
            try:
                values[key].append(float(cell) if cell not in ("", "nan", "NaN", "NA") else np.nan)
            except ValueError:
                raise InputError(f"{path}: line {i + 1}: {cell!r} in column {names[index[key]]} is not a number") from None
    if not values["east"]:
        raise InputError(f"{path}: the GNSS CSV has a header but no data lines")
    arr = {k: np.asarray(v, dtype=np.float64) for k, v in values.items()}
    if has_xy and np.isfinite(arr["easting"]).all() and np.isfinite(arr["northing"]).all():
        x, y = arr["easting"], arr["northing"]
    elif has_ll:
        lat, lon = arr["latitude"], arr["longitude"]
        bad = np.isfinite(lat) & ((np.abs(lat) > 90) | (np.abs(lon) > 180))
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise InputError(f"{path}: station {k + 1} has latitude {lat[k]} / longitude {lon[k]} outside WGS84 ranges")
        x, y = wgs84_to_laea(lon, lat)
    else:
        raise InputError(f"{path}: easting/northing have empty values and there are no Latitude/Longitude columns")
    return gnss_from_arrays(x, y, arr["east"], arr["north"], arr["up"], arr.get("sigma_east"), arr.get("sigma_north"),
                            arr.get("sigma_up"), source=name)


def wgs84_to_laea(lon, lat):
    """EPSG:4326 longitude/latitude (degrees) → EPSG:3035 easting/northing (m)."""
    from pyproj import Transformer

    transformer = Transformer.from_crs("EPSG:4326", "EPSG:3035", always_xy=True)
    return transformer.transform(np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64))


# ---------------------------------------------------------------- interpolation
def _boundary_segments(xy):
    """(Delaunay or None, segment start indices, segment end indices) of the stations' hull boundary."""
    from scipy.spatial import Delaunay, QhullError

    n = xy.shape[0]
    if n >= 3:
        try:
            tri = Delaunay(xy)
            return tri, tri.convex_hull[:, 0], tri.convex_hull[:, 1]
        except QhullError:
            pass  # collinear stations: fall through to the polyline
    if n == 1:
        return None, np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64)
    direction = xy[-1] - xy[0] if np.ptp(xy[:, 0]) + np.ptp(xy[:, 1]) > 0 else np.array([1.0, 0.0])
    order = np.argsort(xy @ direction, kind="stable")
    return None, order[:-1], order[1:]


def _nearest_on_segments(px, py, ax, ay, bx, by):
    """For each point, (distance, segment index, fraction along it) of the nearest point on any segment."""
    step = max(1, 2_000_000 // ax.size)  # bound the (points × segments) temporaries to a few 10 MB
    if px.size > step:
        parts = [_nearest_on_segments(px[i:i + step], py[i:i + step], ax, ay, bx, by) for i in range(0, px.size, step)]
        return tuple(np.concatenate(p) for p in zip(*parts))
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    safe = np.where(length2 > 0, length2, 1.0)
    s = ((px[:, None] - ax) * dx + (py[:, None] - ay) * dy) / safe
    s = np.clip(np.where(length2 > 0, s, 0.0), 0.0, 1.0)
    qx, qy = ax + s * dx - px[:, None], ay + s * dy - py[:, None]
    d2 = qx * qx + qy * qy
    best = np.argmin(d2, axis=1)
    rows = np.arange(px.size)
    return np.sqrt(d2[rows, best]), best, s[rows, best]


def interpolate(model: GnssModel, x, y, max_extrapolation_m=MAX_EXTRAPOLATION_M, chunk_size=200_000):
    """East, north, up velocities (mm/yr) of ``model`` at points ``x, y`` (EPSG:3035 m).

    Linear inside the stations' convex hull; outside, the value at the
    nearest point of the hull boundary when it is within
    ``max_extrapolation_m``, else NaN (not covered).  See the module docstring.
    """
    from scipy.interpolate import LinearNDInterpolator

    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if x.size != y.size:
        raise ValueError("x and y differ in length")
    origin = np.array([model.easting.mean(), model.northing.mean()])
    xy = np.column_stack([model.easting, model.northing]) - origin
    values = np.column_stack([model.east, model.north, model.up])
    tri, seg_a, seg_b = _boundary_segments(xy)
    linear = LinearNDInterpolator(tri, values, fill_value=np.nan) if tri is not None else None
    out = np.full((x.size, 3), np.nan)
    ax, ay, bx, by = xy[seg_a, 0], xy[seg_a, 1], xy[seg_b, 0], xy[seg_b, 1]
    for start in range(0, x.size, chunk_size):
        stop = min(start + chunk_size, x.size)
        px, py = x[start:stop] - origin[0], y[start:stop] - origin[1]
        block = out[start:stop]
        if linear is not None:
            block[:] = linear(px, py)
        outside = np.flatnonzero(~np.isfinite(block[:, 0]) & np.isfinite(px) & np.isfinite(py))
        if outside.size:
            dist, seg, frac = _nearest_on_segments(px[outside], py[outside], ax, ay, bx, by)
            near = dist <= max_extrapolation_m
            rows, seg, frac = outside[near], seg[near], frac[near][:, None]
            block[rows] = (1.0 - frac) * values[seg_a[seg]] + frac * values[seg_b[seg]]
    return out[:, 0], out[:, 1], out[:, 2]


def los_velocity(model: GnssModel, x, y, los_east, los_north, los_up, max_extrapolation_m=MAX_EXTRAPOLATION_M):
    """The GNSS model on each point's line of sight (mm/yr, positive towards the satellite).

    Returns ``(los, east, north, up)``: the projection
    :func:`~.conventions.project_to_los` of the interpolated 3-D velocity and
    its components; NaN where the point is not covered.
    """
    east, north, up = interpolate(model, x, y, max_extrapolation_m)
    los = project_to_los(east, north, up, np.asarray(los_east, dtype=np.float64), np.asarray(los_north, dtype=np.float64),
                         np.asarray(los_up, dtype=np.float64))
    return los, east, north, up
