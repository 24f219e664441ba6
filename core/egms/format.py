"""The EGMS columns (ARCHITECTURE.md, EGMS format: files and columns) and the field-name vocabularies.

Pure Python, no QGIS, no numba: what import, export, the statistics fit, the
products and the dock need to know about the columns of EGMS files and of
other producers' point layers.  File names are in :mod:`.names`, the XML
header, level and product metadata in :mod:`.product`.

* Columns: the specification's names and order (:data:`L2_COLUMNS`,
  :data:`L3_COLUMNS`), the renames of later releases (:data:`ALIASES`:
  ``height → height_ortho``, ``height_wgs84 → height_ellipse``,
  ``rmse → rmse_ts``), the field type of every column (:func:`column_kind`:
  ``pid`` text, ``mp_type``/``cluster_label``/``line``/``pixel`` integer, the
  rest real, unknown columns real unless they hold text) and the decimals the
  files are written with (:func:`column_decimals`).  Date columns are found by
  ``^\\d{8}$`` (:func:`date_columns`), never by position.
* Vocabularies: the names under which point layers of any producer hold the
  RMSE (:data:`RMSE_FIELDS`), the temporal coherence
  (:data:`COHERENCE_FIELDS`), the height (:data:`HEIGHT_FIELDS`), the point id
  (:data:`POINT_ID_FIELDS`) and the LOS vector (:data:`LOS_FIELDS`), each in
  order of preference (:func:`first_present`).

Example
-------
>>> canonical_name("rmse_ts"), release_name("rmse", ["pid", "height_ortho"])
('rmse', 'rmse_ts')
>>> first_present(["pid", "rmse_ts", "20200103"], RMSE_FIELDS)
'rmse_ts'
"""
from __future__ import annotations

import datetime as dt
import re

LEVELS = ("L2a", "L2b", "L3")
"""Product levels: Basic (L2a), Calibrated (L2b), Ortho (L3)."""

LEVEL_NAMES = {"L2a": "Basic", "L2b": "Calibrated", "L3": "Ortho"}

DATE_COLUMN_RE = re.compile(r"^\d{8}$")
"""Date columns of EGMS files: exactly eight digits, ``yyyymmdd``."""

# ------------------------------------------------------------------ columns
L2_COLUMNS = (
    "pid", "cluster_label", "mp_type", "latitude", "longitude", "easting", "northing", "height", "height_wgs84",
    "line", "pixel", "rmse", "temporal_coherence", "amplitude_dispersion", "incidence_angle", "track_angle",
    "los_east", "los_north", "los_up", "mean_velocity", "mean_velocity_std", "acceleration", "acceleration_std",
    "seasonality", "seasonality_std", "gnss_velocity",
)
"""L2a/L2b attribute columns in file order, specification names (``cluster_label`` only in L2a,
``gnss_velocity`` only in Calibrated files of the 2020–2024 release)."""

L3_COLUMNS = (
    "pid", "easting", "northing", "height", "rmse", "mean_velocity", "mean_velocity_std", "acceleration",
    "acceleration_std", "seasonality", "seasonality_std",
)
"""L3 attribute columns in file order, specification names."""

ALIASES = {
    "height": ("height_ortho",),
    "height_wgs84": ("height_ellipse",),
    "rmse": ("rmse_ts",),
}
"""Specification name → names used by later releases (2020–2024 Calibrated files)."""

_TO_CANONICAL = {alias: name for name, aliases in ALIASES.items() for alias in aliases}
NEW_RELEASE_MARKERS = frozenset(_TO_CANONICAL) | {"gnss_velocity"}
"""Columns that only exist in files with the later release naming."""

STRING_COLUMNS = frozenset({"pid"})
INTEGER_COLUMNS = frozenset({"mp_type", "cluster_label", "line", "pixel"})

DECIMALS = {
    "mp_type": 0, "cluster_label": 0, "line": 0, "pixel": 0,
    "latitude": 6, "longitude": 6, "easting": 2, "northing": 2, "height": 1, "height_wgs84": 1,
    "rmse": 1, "temporal_coherence": 2, "amplitude_dispersion": 2, "incidence_angle": 2, "track_angle": 2,
    "los_east": 3, "los_north": 3, "los_up": 3, "mean_velocity": 1, "mean_velocity_std": 1,
    "acceleration": 2, "acceleration_std": 2, "seasonality": 1, "seasonality_std": 1, "gnss_velocity": 1,
}
"""Decimals of each column in EGMS files (observed in the 2020–2024 release); 0 = written as an integer."""
DATE_DECIMALS = 1
"""Displacement (mm) is written with one decimal."""
L3_DECIMALS = {"easting": 0, "northing": 0}
"""L3 coordinates are the integer cell centres."""

STATISTIC_COLUMNS = (
    "rmse", "temporal_coherence", "mean_velocity", "mean_velocity_std", "acceleration", "acceleration_std",
    "seasonality", "seasonality_std",
)
"""Columns written by the EGMS statistics recipe (specification names)."""


def is_date_column(name) -> bool:
    """True for an EGMS date column name (``yyyymmdd`` that is a valid date)."""
    return parse_date_column(name) is not None


def parse_date_column(name):
    """The date of an EGMS date column name, or None."""
    if not isinstance(name, str) or not DATE_COLUMN_RE.match(name):
        return None
    try:
        return dt.datetime.strptime(name, "%Y%m%d").date()
    except ValueError:
        return None


def date_columns(names):
    """``[(name, date), ...]`` of the date columns among ``names``, in the given order."""
    out = []
    for name in names:
        day = parse_date_column(name)
        if day is not None:
            out.append((name, day))
    return out


def canonical_name(name: str) -> str:
    """Specification name of a column (``rmse_ts`` → ``rmse``); other names unchanged."""
    return _TO_CANONICAL.get(name, name)


def uses_new_names(names) -> bool:
    """True when ``names`` follow the later release naming (``height_ortho``, ``rmse_ts``, …)."""
    return any(n in NEW_RELEASE_MARKERS for n in names)


def release_name(name: str, names) -> str:
    """The name a column takes in a table whose columns are ``names``.

    The column itself when present under one of its names; otherwise the later
    release's name when ``names`` use that naming, else the specification name.
    """
    canon = canonical_name(name)
    names = list(names)
    for candidate in (canon, *ALIASES.get(canon, ())):
        if candidate in names:
            return candidate
    if canon in ALIASES and uses_new_names(names):
        return ALIASES[canon][0]
    return canon


def column_kind(name: str) -> str:
    """Field type of a column: ``"string"``, ``"integer"`` or ``"real"`` (dates and everything else)."""
    canon = canonical_name(name)
    if canon in STRING_COLUMNS:
        return "string"
    if canon in INTEGER_COLUMNS:
        return "integer"
    return "real"


def is_known_column(name: str) -> bool:
    """True for a column of the specification (under any release name) or a date column."""
    canon = canonical_name(name)
    return canon in L2_COLUMNS or canon in L3_COLUMNS or is_date_column(name)


def column_decimals(name: str, level: str | None = None):
    """Decimals a column is written with in EGMS files; None for unknown columns (full precision)."""
    canon = canonical_name(name)
    if is_date_column(name):
        return DATE_DECIMALS
    if level == "L3" and canon in L3_DECIMALS:
        return L3_DECIMALS[canon]
    return DECIMALS.get(canon)


def spec_order(level: str):
    """Attribute columns of a level in file order (specification names)."""
    if level == "L3":
        return L3_COLUMNS
    if level == "L2a":
        return tuple(c for c in L2_COLUMNS if c != "gnss_velocity")
    return tuple(c for c in L2_COLUMNS if c != "cluster_label")


def export_order(names, level: str):
    """Column order of an EGMS file holding ``names``: the specification's attribute
    columns present (in spec order, under their names in ``names``), then other
    attribute columns in their given order, then the date columns by date."""
    names = list(names)
    by_canon = {canonical_name(n): n for n in names if not is_date_column(n)}
    known = [by_canon[c] for c in spec_order(level) if c in by_canon]
    # a column of the other level's list (e.g. cluster_label in L2b) is kept as an extra
    extras = [n for n in names if not is_date_column(n) and n not in known]
    dates = sorted(date_columns(names), key=lambda item: item[1])
    return known + extras + [n for n, _ in dates]


NAMINGS = ("input", "specification", "2020_2024")
"""Column naming of a written EGMS file: as the layer has it, the specification's
(``height``, ``height_wgs84``, ``rmse``) or the 2020–2024 release's
(``height_ortho``, ``height_ellipse``, ``rmse_ts``)."""


# ------------------------------------------------------------------ field-name vocabularies
RMSE_FIELDS = ("rmse", *ALIASES["rmse"], "RMSE")
"""Fields holding a point's RMS model residual (mm), in order of preference: the specification's name, the
2020–2024 release's, and the upper-case name of other producers' exports (shapefiles, TRE-style tables)."""
COHERENCE_FIELDS = ("temporal_coherence", "coherence", "COHERENCE")
"""Fields holding a point's temporal coherence (0–1), in order of preference."""
HEIGHT_FIELDS = ("height", *ALIASES["height"])
"""Fields holding a point's (orthometric) height (m), in order of preference."""
POINT_ID_FIELDS = ("pid", "PID", "code", "CODE", "id", "ID", "fid")
"""Fields naming a point (EGMS ``pid``, TRE ``code``, generic ids), in order of preference."""
LOS_FIELDS = ("los_east", "los_north", "los_up")
"""The LOS unit vector ground → satellite (east, north, up components)."""


def first_present(names, candidates):
    """The first of ``candidates`` among ``names`` (exact, case-sensitive match), or None."""
    names = set(names)
    return next((c for c in candidates if c in names), None)
