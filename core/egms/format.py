"""The EGMS product format (EGMS_FORMAT §1–2): names, columns, releases, XML header.

Pure Python, no QGIS, no numba: what import, export, the statistics fit and the
dock need to know about EGMS files.

* File names: :func:`parse_product_name` reads level, track, burst, swath,
  polarisation, L3 tile and component, release years and version from names
  such as ``EGMS_L2b_022_0845_IW2_VV_2020_2024_1`` or
  ``EGMS_L3_E43N17_100km_U_2019_2023_1`` (the oldest releases have no
  ``_yyyy_yyyy_v`` suffix); :func:`make_product_name` writes them.
* Columns: the specification's names and order (:data:`L2_COLUMNS`,
  :data:`L3_COLUMNS`), the renames of later releases (:data:`ALIASES`:
  ``height → height_ortho``, ``height_wgs84 → height_ellipse``,
  ``rmse → rmse_ts``), the field type of every column (:func:`column_kind`:
  ``pid`` text, ``mp_type``/``cluster_label``/``line``/``pixel`` integer, the
  rest real, unknown columns real unless they hold text) and the decimals the
  files are written with (:func:`column_decimals`).  Date columns are found by
  ``^\\d{8}$`` (:func:`date_columns`), never by position.
* Product level: :func:`detect_level` from the XML header, the file name or the
  columns; orbit direction from the sign of ``los_east``
  (:func:`orbit_direction`).
* XML header: :func:`parse_xml_header` flattens it, :func:`make_xml_header`
  writes a minimal one for our own products.
* :class:`ProductInfo` carries what the import records and stores as layer
  metadata items (:data:`META_KEYS`), so export and other tools can read it back.

Example
-------
>>> p = parse_product_name("EGMS_L2b_022_0845_IW2_VV_2020_2024_1.zip")
>>> (p.level, p.track, p.burst, p.swath, p.release, p.version)
('L2b', 22, 845, 2, '2020_2024', 1)
>>> canonical_name("rmse_ts"), release_name("rmse", ["pid", "height_ortho"])
('rmse', 'rmse_ts')
"""

from __future__ import annotations

import datetime as dt
import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

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


# ------------------------------------------------------------------ file names
_L2_NAME = re.compile(
    r"^EGMS_(?P<level>L2[ab])_(?P<track>\d{1,3})_(?P<burst>\d{1,4})_IW(?P<swath>[123])_(?P<pol>VV|VH|HH|HV)"
    r"(?:_(?P<y0>\d{4})_(?P<y1>\d{4})_(?P<version>\d+))?$",
    re.IGNORECASE,
)
_L3_NAME = re.compile(
    r"^EGMS_(?P<level>L3)_E(?P<e>\d{2,3})N(?P<n>\d{2,3})_100km_(?P<comp>[UE])"
    r"(?:_(?P<y0>\d{4})_(?P<y1>\d{4})_(?P<version>\d+))?$",
    re.IGNORECASE,
)
_KNOWN_SUFFIXES = (".csv", ".zip", ".xml", ".tif", ".tiff", ".gpkg")


@dataclass(frozen=True)
class ProductName:
    """Fields of an EGMS file name (None where the name does not say)."""

    stem: str
    level: str
    track: int | None = None
    burst: int | None = None
    swath: int | None = None
    polarisation: str | None = None
    tile_east: int | None = None
    """L3: easting of the tile's south-west corner in EPSG:3035 / 100 km."""
    tile_north: int | None = None
    """L3: northing of the tile's south-west corner in EPSG:3035 / 100 km."""
    component: str | None = None
    start_year: int | None = None
    end_year: int | None = None
    version: int | None = None

    @property
    def release(self):
        """``"2020_2024"`` or None (oldest releases)."""
        return None if self.start_year is None else f"{self.start_year}_{self.end_year}"

    @property
    def tile(self):
        """L3 tile as in the name, ``"E43N17"``, or None."""
        if self.tile_east is None:
            return None
        return f"E{self.tile_east:02d}N{self.tile_north:02d}"


def _stem(path) -> str:
    name = os.path.basename(str(path))
    while True:
        root, ext = os.path.splitext(name)
        if ext.lower() in _KNOWN_SUFFIXES:
            name = root
        else:
            return name


def parse_product_name(path):
    """:class:`ProductName` of an EGMS file name (path, with or without extension), or None."""
    stem = _stem(path)
    m = _L2_NAME.match(stem)
    years = {}
    if m:
        if m["y0"]:
            years = dict(start_year=int(m["y0"]), end_year=int(m["y1"]), version=int(m["version"]))
        level = "L2a" if m["level"].lower() == "l2a" else "L2b"
        return ProductName(stem, level, track=int(m["track"]), burst=int(m["burst"]), swath=int(m["swath"]),
                           polarisation=m["pol"].upper(), **years)
    m = _L3_NAME.match(stem)
    if m:
        if m["y0"]:
            years = dict(start_year=int(m["y0"]), end_year=int(m["y1"]), version=int(m["version"]))
        return ProductName(stem, "L3", tile_east=int(m["e"]), tile_north=int(m["n"]), component=m["comp"].upper(),
                           **years)
    return None


def make_product_name(level, track=None, burst=None, swath=None, polarisation="VV", tile=None, component="U",
                      start_year=None, end_year=None, version=1) -> str:
    """An EGMS file stem: ``EGMS_L2b_022_0845_IW2_VV_2020_2024_1`` or ``EGMS_L3_E43N17_100km_U_2019_2023_1``.

    ``tile`` is ``(easting_100km, northing_100km)`` of the south-west corner for L3.
    Without ``start_year`` the oldest-release form (no ``_yyyy_yyyy_v`` suffix) is written.
    """
    if level in ("L2a", "L2b"):
        stem = f"EGMS_{level}_{int(track or 0):03d}_{int(burst or 0):04d}_IW{int(swath or 1)}_{polarisation}"
    elif level == "L3":
        e, n = tile if tile is not None else (0, 0)
        stem = f"EGMS_L3_E{int(e):02d}N{int(n):02d}_100km_{component}"
    else:
        raise ValueError(f"unknown product level {level!r}; expected one of {LEVELS}")
    if start_year is not None:
        stem += f"_{int(start_year)}_{int(end_year)}_{int(version)}"
    return stem


# ------------------------------------------------------------------ XML header
def parse_xml_header(text: str) -> dict:
    """Flatten an EGMS XML header into ``{path: text}`` for its simple elements.

    Nested simple elements become ``parent/child`` (``dem/version``); repeated
    ``image`` entries are counted (``reference/count``, ``dataset/count``).
    Raises ``ValueError`` when the text is not XML.
    """
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ValueError(f"not a readable XML header ({exc})") from None
    out = {"root": root.tag}

    def walk(node, prefix):
        children = list(node)
        if not children:
            if node.text is not None and node.text.strip():
                out[prefix] = node.text.strip()
            return
        tags = [c.tag for c in children]
        for child in children:
            if tags.count(child.tag) > 1:
                continue
            walk(child, f"{prefix}/{child.tag}" if prefix else child.tag)
        for tag in set(tags):
            if tags.count(tag) > 1:
                out[f"{prefix}/count" if prefix else f"{tag}/count"] = str(tags.count(tag))

    walk(root, "")
    return out


def make_xml_header(info: ProductInfo, production_date=None) -> str:
    """A minimal EGMS-style XML header for our own products."""
    day = production_date or dt.date.today()
    root = ET.Element("TILE" if info.level == "L3" else "BURST")
    ET.SubElement(root, "product_level").text = info.level or ""
    if info.level == "L3":
        if info.tile:
            ET.SubElement(root, "tile").text = info.tile
        if info.component:
            ET.SubElement(root, "component").text = info.component
    else:
        ET.SubElement(root, "track").text = f"{int(info.track or 0):03d}"
        ET.SubElement(root, "burst_id").text = f"{int(info.burst or 0):04d}"
        ET.SubElement(root, "sub_swath").text = str(int(info.swath or 0))
        if info.orbit:
            ET.SubElement(root, "orbit_direction").text = info.orbit
    ET.SubElement(root, "production_facility").text = "0"
    ET.SubElement(root, "production_date").text = day.strftime("%d/%m/%Y")
    ET.SubElement(root, "producer").text = "egms_plugin"
    if hasattr(ET, "indent"):  # Python ≥ 3.9
        ET.indent(root)
    return "<?xml version='1.0' encoding='UTF-8'?>\n" + ET.tostring(root, encoding="unicode") + "\n"


# ------------------------------------------------------------------ level, orbit
def detect_level(names, product=None, xml=None):
    """Product level ``"L2a"``, ``"L2b"`` or ``"L3"`` from (in order of trust) the
    XML header's ``product_level``, the file name, or the columns.

    Columns: LOS vector or lat/lon present → L2 (``cluster_label`` → L2a, else L2b); else L3.
    """
    if xml:
        level = xml.get("product_level", "").strip()
        for candidate in LEVELS:
            if level.lower() == candidate.lower():
                return candidate
    if product is not None:
        return product.level
    names = set(names)
    if names & {"los_east", "latitude", "line", "temporal_coherence"}:
        return "L2a" if "cluster_label" in names else "L2b"
    return "L3"


def orbit_direction(los_east):
    """``"ascending"`` (``los_east`` < 0) or ``"descending"`` from the median of the values; None without values."""
    import numpy as np

    from ..conventions import orbit_from_los_east

    values = np.asarray(los_east, dtype=np.float64)
    if not np.isfinite(values).any():
        return None
    return orbit_from_los_east(values)


# ------------------------------------------------------------------ product info / metadata
META_KEYS = {
    "level": "EGMS_PRODUCT_LEVEL",
    "track": "EGMS_TRACK",
    "burst": "EGMS_BURST",
    "swath": "EGMS_SWATH",
    "polarisation": "EGMS_POLARISATION",
    "tile": "EGMS_TILE",
    "component": "EGMS_COMPONENT",
    "release": "EGMS_RELEASE",
    "version": "EGMS_VERSION",
    "orbit": "EGMS_ORBIT_DIRECTION",
    "source": "EGMS_SOURCE_FILES",
    "xml": "EGMS_XML_HEADER",
}
"""Layer metadata items written by the import (GeoPackage layer metadata, GDAL domain "")."""


@dataclass
class ProductInfo:
    """What is known about an EGMS product (one file, or several merged bursts)."""

    level: str | None = None
    track: int | None = None
    burst: int | None = None
    swath: int | None = None
    polarisation: str | None = None
    tile: str | None = None
    component: str | None = None
    release: str | None = None
    version: int | None = None
    orbit: str | None = None
    source: list = field(default_factory=list)
    xml: str | None = field(default=None, repr=False)
    bursts: list = field(default_factory=list)

    @classmethod
    def from_sources(cls, names, file_name=None, xml_text=None):
        """Level/track/burst/… of one file from its column names, file name and XML header text."""
        product = parse_product_name(file_name) if file_name else None
        xml = None
        if xml_text:
            try:
                xml = parse_xml_header(xml_text)
            except ValueError:
                xml = None
        level = detect_level(names, product, xml)
        info = cls(level=level, xml=xml_text or None, source=[os.path.basename(str(file_name))] if file_name else [])
        if product is not None:
            info.track, info.burst, info.swath = product.track, product.burst, product.swath
            info.polarisation, info.tile, info.component = product.polarisation, product.tile, product.component
            info.release, info.version = product.release, product.version
        if xml:
            info.track = _int_or(xml.get("track"), info.track)
            info.burst = _int_or(xml.get("burst_id"), info.burst)
            info.swath = _int_or(xml.get("sub_swath"), info.swath)
        if info.burst is not None:
            info.bursts = [info.burst]
        return info

    def merge(self, other: ProductInfo) -> ProductInfo:
        """Info of the union of two products (fields that differ become None, bursts accumulate)."""
        out = ProductInfo()
        for key in ("level", "track", "swath", "polarisation", "tile", "component", "release", "version", "orbit"):
            a, b = getattr(self, key), getattr(other, key)
            setattr(out, key, a if a == b else (a if b is None else (b if a is None else None)))
        out.bursts = list(dict.fromkeys(self.bursts + other.bursts))
        out.burst = out.bursts[0] if len(out.bursts) == 1 else None
        out.source = self.source + other.source
        out.xml = self.xml or other.xml
        return out

    def metadata_items(self) -> dict:
        """Layer metadata items ``{EGMS_*: text}`` (absent values left out)."""
        items = {}
        for key, meta in META_KEYS.items():
            if key == "burst":
                value = ",".join(f"{b:04d}" for b in self.bursts) if self.bursts else (
                    None if self.burst is None else f"{self.burst:04d}")
            elif key == "track":
                value = None if self.track is None else f"{self.track:03d}"
            elif key == "source":
                value = ";".join(self.source) if self.source else None
            else:
                value = getattr(self, key)
            if value is not None and value != "":
                items[meta] = str(value)
        return items

    @classmethod
    def from_metadata(cls, items) -> ProductInfo:
        """Inverse of :meth:`metadata_items` (unknown or missing items stay None)."""
        items = items or {}
        get = items.get
        bursts = [int(b) for b in get(META_KEYS["burst"], "").split(",") if b.strip().isdigit()]
        return cls(level=get(META_KEYS["level"]), track=_int_or(get(META_KEYS["track"]), None),
                   burst=bursts[0] if len(bursts) == 1 else None, swath=_int_or(get(META_KEYS["swath"]), None),
                   polarisation=get(META_KEYS["polarisation"]), tile=get(META_KEYS["tile"]),
                   component=get(META_KEYS["component"]), release=get(META_KEYS["release"]),
                   version=_int_or(get(META_KEYS["version"]), None), orbit=get(META_KEYS["orbit"]),
                   source=[s for s in get(META_KEYS["source"], "").split(";") if s], xml=get(META_KEYS["xml"]),
                   bursts=bursts)

    def describe(self) -> str:
        """One line for logs and layer abstracts: ``L2b (Calibrated), track 022, burst 0845, IW2, descending …``."""
        parts = [f"{self.level} ({LEVEL_NAMES.get(self.level, '?')})" if self.level else "EGMS product"]
        if self.track is not None:
            parts.append(f"track {self.track:03d}")
        if self.bursts:
            parts.append("burst " + ", ".join(f"{b:04d}" for b in self.bursts))
        if self.swath:
            parts.append(f"IW{self.swath}")
        if self.tile:
            parts.append(f"tile {self.tile}")
        if self.component:
            parts.append({"U": "vertical (U)", "E": "east-west (E)"}.get(self.component, self.component))
        if self.orbit:
            parts.append(self.orbit)
        if self.release:
            parts.append("release " + self.release.replace("_", "–"))
        if self.version is not None:
            parts.append(f"version {self.version}")
        return ", ".join(parts)


def _int_or(text, default):
    try:
        return int(str(text).strip())
    except (TypeError, ValueError):
        return default
