"""The ``egms`` Processing provider.

Algorithms are listed in :data:`ALGORITHMS` with the packages they need; an
algorithm whose packages cannot be imported is not registered and the provider
logs one message naming what is missing and how to install it.  Algorithm
modules import their heavy core modules (numba kernels) inside
``processAlgorithm``, so loading the provider stays cheap.
"""

from __future__ import annotations

import importlib
import os

from qgis.core import Qgis, QgsMessageLog, QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from ..core import deps

ICON = os.path.join(os.path.dirname(os.path.dirname(__file__)), "resources", "icons", "egms.svg")
LOG_TAG = "EGMS ground motion"

# (algorithm id without the provider prefix, module, class, required packages)
ALGORITHMS = (
    ("simulatestack", "simulatestack", "SimulateStackAlgorithm", ("numpy", "rasterio", "scipy")),
)


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

    def loadAlgorithms(self):  # noqa: N802
        self.missing_packages, self.skipped = [], []
        for alg_id, module_name, class_name, needs in ALGORITHMS:
            lacking = deps.missing(needs)
            if lacking:
                self.skipped.append(alg_id)
                self.missing_packages += [p for p in lacking if p not in self.missing_packages]
                continue
            module = importlib.import_module(f"{__package__}.{module_name}")
            self.addAlgorithm(getattr(module, class_name)())
        if self.missing_packages:
            QgsMessageLog.logMessage(
                f"{deps.install_message(self.missing_packages)} "
                f"Not registered until then: {', '.join('egms:' + a for a in self.skipped)}.",
                LOG_TAG,
                Qgis.Warning,
            )
