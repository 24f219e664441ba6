"""What the time-series dock remembers between sessions: QgsSettings under ``egms_plugin/timeseries``."""

from __future__ import annotations

import os

from qgis.core import QgsSettings

from ..core.conventions import half_wavelength_mm
from .maptool import POINT

SETTINGS_GROUP = "egms_plugin/timeseries"
DEFAULTS = {
    "radius_px": 8,
    "all_layers": False,
    "model": "",
    "error_bars": False,
    "replicas": False,
    "replica_mm": round(half_wavelength_mm(), 2),
    "detrend": False,
    "area_cap": 5000,
    "profile_buffer": 50.0,  # m, half-width of the profile's swath
    "mode": POINT,
    "min_coherence": 0.7,
    "max_rmse": 5.0,
    "export_folder": os.path.expanduser("~"),
    "dock_area": "bottom",
    "dock_size": 0,  # px along the free axis; 0: a third of the window (ui/placement.py)
    "dock_floating": False,
    "dock_geometry": "",  # base64 of QDockWidget.saveGeometry() when floating
}
"""Every setting and its default; the default's type is the type read back."""


def setting(key):
    default = DEFAULTS[key]
    return QgsSettings().value(f"{SETTINGS_GROUP}/{key}", default, type(default))


def set_setting(key, value):
    QgsSettings().setValue(f"{SETTINGS_GROUP}/{key}", value)
