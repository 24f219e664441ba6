"""EGMS file names (ARCHITECTURE.md, EGMS format: levels and files): read and write them.

:func:`parse_product_name` reads level, track, burst, swath, polarisation, L3
tile and component, release years and version from names such as
``EGMS_L2b_022_0845_IW2_VV_2020_2024_1`` or
``EGMS_L3_E43N17_100km_U_2019_2023_1`` (the oldest releases have no
``_yyyy_yyyy_v`` suffix); :func:`make_product_name` writes them.  Pure Python.

>>> p = parse_product_name("EGMS_L2b_022_0845_IW2_VV_2020_2024_1.zip")
>>> (p.level, p.track, p.burst, p.swath, p.release, p.version)
('L2b', 22, 845, 2, '2020_2024', 1)
>>> make_product_name("L3", tile=(43, 17), component="E", start_year=2019, end_year=2023)
'EGMS_L3_E43N17_100km_E_2019_2023_1'
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from .format import LEVELS

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
