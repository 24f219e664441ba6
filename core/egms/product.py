"""What is known about an EGMS product: level, orbit, XML header, layer metadata (:class:`ProductInfo`).

Pure Python, no QGIS, no numba.

* Product level: :func:`detect_level` from the XML header, the file name
  (:mod:`.names`) or the columns; orbit direction from the sign of
  ``los_east`` (:func:`orbit_direction`).
* XML header: :func:`parse_xml_header` flattens it, :func:`make_xml_header`
  writes a minimal one for our own products.
* :class:`ProductInfo` carries what the import records and stores as layer
  metadata items (:data:`META_KEYS`), so export and other tools can read it back.

>>> info = ProductInfo.from_sources(["pid", "los_east", "20200103"], "EGMS_L2b_022_0845_IW2_VV_2020_2024_1.csv")
>>> info.describe()
'L2b (Calibrated), track 022, burst 0845, IW2, release 2020–2024, version 1'
"""

from __future__ import annotations

import datetime as dt
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from .format import LEVEL_NAMES, LEVELS
from .names import parse_product_name


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
