"""The plugin object QGIS loads: Processing provider, menu, toolbar and dock."""

from __future__ import annotations

import os

from qgis.core import Qgis, QgsApplication, QgsMessageLog

PLUGIN_DIR = os.path.dirname(__file__)
MENU = "&EGMS ground motion"
LOG_TAG = "EGMS ground motion"

# Algorithms offered in the menu (dialogs open through Processing); the rest are in the Toolbox.
MENU_ALGORITHMS = (
    "simulatestack",
    "interferograms",
    "computevelocities",
    "importegms",
    "fittimeseries",
    "calibrategnss",
    "decompose",
    "exportegms",
)


class EgmsPlugin:
    def __init__(self, iface):
        self.iface = iface
        self.provider = None
        self.actions = []
        self.toolbar = None
        self.gui_extensions = []

    # Called by QGIS (and by qgis_process, which calls nothing else): no GUI objects here.
    def initProcessing(self):  # noqa: N802
        if self.provider is not None:
            return
        from .processing.provider import EgmsProvider

        provider = EgmsProvider()
        if QgsApplication.processingRegistry().addProvider(provider):
            self.provider = provider
        else:  # another copy of the plugin already registered the "egms" provider
            QgsMessageLog.logMessage(
                "A Processing provider with id 'egms' is already registered (is the plugin installed twice?).",
                LOG_TAG,
                Qgis.Warning,
            )

    def initGui(self):  # noqa: N802
        from qgis.PyQt.QtGui import QIcon
        from qgis.PyQt.QtWidgets import QAction

        self.initProcessing()
        self.toolbar = self.iface.addToolBar("EGMS ground motion")
        self.toolbar.setObjectName("EgmsGroundMotionToolbar")
        icon = QIcon(os.path.join(PLUGIN_DIR, "resources", "icons", "egms.svg"))
        for alg_name in MENU_ALGORITHMS:
            alg = self.provider.algorithm(alg_name) if self.provider else None
            if alg is None:
                continue
            action = QAction(icon, alg.displayName() + "…", self.iface.mainWindow())
            action.setToolTip(alg.shortDescription() or alg.displayName())
            action.triggered.connect(lambda _checked=False, a=f"egms:{alg_name}": self._open_dialog(a))
            self.iface.addPluginToMenu(MENU, action)
            self.actions.append(action)
            if alg_name in ("computevelocities", "importegms"):
                self.toolbar.addAction(action)
        self._install_gui_extensions()

    def _install_gui_extensions(self):
        """The time-series dock and layer tools (ui/), when their packages are importable."""
        from .core import deps

        lacking = deps.missing(("numpy", "pyqtgraph"))
        if lacking:
            QgsMessageLog.logMessage(
                f"Time-series dock unavailable. {deps.install_message(lacking)}", LOG_TAG, Qgis.Warning
            )
            return
        from .ui import install_gui

        self.gui_extensions.append(install_gui(self.iface, MENU, self.toolbar))

    def _open_dialog(self, alg_id):
        import processing

        processing.execAlgorithmDialog(alg_id)

    def unload(self):
        for ext in self.gui_extensions:
            ext.unload()
        self.gui_extensions = []
        for action in self.actions:
            self.iface.removePluginMenu(MENU, action)
            if self.toolbar is not None:
                self.toolbar.removeAction(action)
            action.deleteLater()
        self.actions = []
        if self.toolbar is not None:
            self.toolbar.deleteLater()
            self.toolbar = None
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
