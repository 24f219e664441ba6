"""The ``egms`` Processing provider.

Every module of this package that defines ``ALGORITHM`` (the algorithm class)
and ``REQUIRES`` (the Python packages it needs) is registered.  An algorithm
whose packages cannot be imported is skipped and the provider logs one message
naming what is missing and how to install it.  Algorithm modules import their
heavy core modules (numba kernels) inside ``compute``, so loading the provider
stays cheap and never imports numba.
"""

from __future__ import annotations

import importlib
import os
import pkgutil

from qgis.core import Qgis, QgsMessageLog, QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from ..core import deps

ICON = os.path.join(os.path.dirname(os.path.dirname(__file__)), "resources", "icons", "egms.svg")
LOG_TAG = "EGMS ground motion"

_NOT_ALGORITHMS = {"base", "parameters", "provider"}


def algorithm_modules():
    """``(module, algorithm class, required packages)`` of every algorithm module, by file name."""
    found = []
    for info in sorted(pkgutil.iter_modules([os.path.dirname(__file__)]), key=lambda i: i.name):
        if info.name in _NOT_ALGORITHMS or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__package__}.{info.name}")
        if hasattr(module, "ALGORITHM"):
            found.append((module, module.ALGORITHM, tuple(getattr(module, "REQUIRES", ()))))
    return found


class EgmsProvider(QgsProcessingProvider):
    def __init__(self):
        super().__init__()
        self.missing_packages: list[str] = []
        self.skipped: list[str] = []

    def id(self):
        return "egms"

    def name(self):
        return "EGMS ground motion"

    def longName(self):  # noqa: N802
        return "EGMS ground motion — European Ground Motion Service tools"

    def icon(self):
        return QIcon(ICON)

    # Outputs are GeoPackages written by core.io (fast bulk writes, spatial index, atomic): files only.
    def supportsNonFileBasedOutput(self):  # noqa: N802
        return False

    def supportedOutputVectorLayerExtensions(self):  # noqa: N802
        return ["gpkg"]

    def defaultVectorFileExtension(self, hasGeometry=True):  # noqa: N802, ARG002 (QGIS API signature)
        return "gpkg"

    def loadAlgorithms(self):  # noqa: N802
        self.missing_packages, self.skipped = [], []
        for _module, algorithm, needs in algorithm_modules():
            lacking = deps.missing(needs)
            if lacking:
                self.skipped.append(algorithm.alg_name)
                self.missing_packages += [p for p in lacking if p not in self.missing_packages]
                continue
            self.addAlgorithm(algorithm())
        if self.missing_packages:
            QgsMessageLog.logMessage(
                f"{deps.install_message(self.missing_packages)} "
                f"Not registered until then: {', '.join('egms:' + a for a in self.skipped)}.",
                LOG_TAG,
                Qgis.Warning,
            )
