"""Which optional Python packages are importable — without importing them.

The plugin must load (and register what can work) when numba, scipy, rasterio
or pyqtgraph is missing, and must never import numba at start-up, so this
module only asks the import system whether a package *could* be imported.
"""

from __future__ import annotations

import importlib.util
import sys

INSTALL_HINT = {
    "numpy": "python3-numpy",
    "scipy": "python3-scipy",
    "numba": "python3-numba",
    "rasterio": "python3-rasterio",
    "pyproj": "python3-pyproj",
    "shapely": "python3-shapely",
    "pyqtgraph": "python3-pyqtgraph",
}


def is_available(name: str) -> bool:
    """True when ``import name`` would find the package (blocked entries count as missing)."""
    if name in sys.modules:
        return sys.modules[name] is not None
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def missing(names) -> list[str]:
    """The packages of ``names`` that cannot be imported, in order, without repeats."""
    out = []
    for name in names:
        if name not in out and not is_available(name):
            out.append(name)
    return out


def install_message(names) -> str:
    """One sentence telling the user how to install ``names``."""
    debs = " ".join(INSTALL_HINT.get(n, f"python3-{n}") for n in names)
    pips = " ".join(names)
    return (
        f"Missing Python package(s): {', '.join(names)}. "
        f"On Debian/Ubuntu: sudo apt install {debs}; "
        f"elsewhere (e.g. the OSGeo4W shell): python -m pip install {pips}; then restart QGIS."
    )
