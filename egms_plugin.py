"""The plugin object QGIS loads: Processing provider, menu, toolbar and dock."""

from __future__ import annotations

import os

from qgis.core import Qgis, QgsApplication, QgsMessageLog

PLUGIN_DIR = os.path.dirname(__file__)
MENU = "&EGMS ground motion"
LOG_TAG = "EGMS ground motion"

GUI_PACKAGES = ("numpy", "pyqtgraph")
"""What the time-series dock needs."""

ANIMATE_ACTION = "egms_animate_displacement"

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
        from .core import deps

        self.iface = iface
        self.provider = None
        self.actions = []
        self.toolbar = None
        self.gui_extensions = []
        self.installer = None
        # packages the user installed from the plugin earlier (see ui/installer.py) become importable
        deps.activate(deps.packages_folder(QgsApplication.qgisSettingsDirPath()))

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
                Qgis.MessageLevel.Warning,
            )

    def initGui(self):  # noqa: N802
        self.initProcessing()
        self.toolbar = self.iface.addToolBar("EGMS ground motion")
        self.toolbar.setObjectName("EgmsGroundMotionToolbar")
        self._add_menu_actions()
        self._add_animation_action()
        self._install_gui_extensions()
        self._offer_missing_packages()
        self._warm_up_kernels()

    def _warm_up_kernels(self):
        """Compile the PSI chain's numba kernels in a background process (the first start after an installation
        or upgrade; a later start finds them cached and the process ends at once): the first run of "Compute
        EGMS velocities" then starts as fast as the later ones.  Desktop only (qgis_process never calls initGui)."""
        import sys
        import threading

        from .core import deps, jit

        if os.environ.get(jit.WARMUP_ENV) or deps.missing(["numba"]):
            return
        path = list(sys.path)
        thread = threading.Thread(target=lambda: jit.start_background_warmup(deps.find_python(), path),
                                  name="egms-kernel-warmup", daemon=True)
        thread.start()

    def _add_menu_actions(self):
        """Menu (and toolbar) actions of the registered algorithms of :data:`MENU_ALGORITHMS` not yet added."""
        from qgis.PyQt.QtGui import QIcon

        from .compat import QAction

        icon = QIcon(os.path.join(PLUGIN_DIR, "resources", "icons", "egms.svg"))
        present = {a.objectName() for a in self.actions}
        for alg_name in MENU_ALGORITHMS:
            alg = self.provider.algorithm(alg_name) if self.provider else None
            if alg is None or f"egms_{alg_name}" in present:
                continue
            action = QAction(icon, alg.displayName() + "…", self.iface.mainWindow())
            action.setObjectName(f"egms_{alg_name}")
            action.setToolTip(alg.shortDescription() or alg.displayName())
            action.triggered.connect(lambda _checked=False, a=f"egms:{alg_name}": self._open_dialog(a))
            self.iface.addPluginToMenu(MENU, action)
            self.actions.append(action)
            if alg_name in ("computevelocities", "importegms"):
                self.toolbar.addAction(action)

    def _add_animation_action(self):
        """"Animate displacement": the active point layer plays in the Temporal Controller (layers/animation.py)."""
        from qgis.PyQt.QtGui import QIcon

        from .compat import QAction

        if any(a.objectName() == ANIMATE_ACTION for a in self.actions):
            return
        icon = QIcon(os.path.join(PLUGIN_DIR, "resources", "icons", "egms.svg"))
        action = QAction(icon, "Animate displacement", self.iface.mainWindow())
        action.setObjectName(ANIMATE_ACTION)
        action.setToolTip("Colour the active point layer by its displacement at each Temporal Controller frame "
                          "(interpolated between its dates, mm); press ▶ in the Temporal Controller to play")
        action.triggered.connect(self._animate_displacement)
        self.iface.addPluginToMenu(MENU, action)
        self.toolbar.addAction(action)
        self.actions.append(action)

    def _animate_displacement(self, _checked=False):
        from .layers import animation

        animation.run_action(self.iface)

    def _install_gui_extensions(self):
        """The time-series dock and layer tools (ui/), when their packages are importable."""
        from .core import deps

        if self.gui_extensions:
            return
        lacking = deps.missing(GUI_PACKAGES)
        if lacking:
            QgsMessageLog.logMessage(
                f"Time-series dock unavailable. {deps.install_message(lacking)}", LOG_TAG, Qgis.MessageLevel.Warning
            )
            return
        from .ui import install_gui

        self.gui_extensions.append(install_gui(self.iface, MENU, self.toolbar))

    def missing_packages(self):
        """Packages that some algorithm or the dock needs and QGIS' Python lacks."""
        from .core import deps

        needed = list(self.provider.missing_packages) if self.provider is not None else []
        return needed + [p for p in deps.missing(GUI_PACKAGES) if p not in needed]

    def _offer_missing_packages(self):
        """A message-bar button that installs the missing packages (see ui/installer.py)."""
        lacking = self.missing_packages()
        if not lacking or self.iface is None or not hasattr(self.iface, "messageBar"):
            return
        from .ui.installer import PackageInstaller

        parts = []
        if self.provider is not None and self.provider.skipped:
            parts.append(", ".join("egms:" + a for a in self.provider.skipped))
        from .core import deps

        if deps.missing(GUI_PACKAGES):
            parts.append("the time-series dock")
        what = " and ".join(parts) or "The plugin"
        self.installer = PackageInstaller(self.iface, lacking, self._packages_installed, what)
        self.installer.offer()

    def _packages_installed(self):
        """After an installation: register the algorithms and the dock that can work now, without a restart."""
        if self.provider is not None:
            self.provider.refreshAlgorithms()  # emits algorithmsLoaded: the toolbox shows the new ones
            self._add_menu_actions()
        self._install_gui_extensions()

    def _open_dialog(self, alg_id):
        import processing

        processing.execAlgorithmDialog(alg_id)

    def unload(self):
        self.installer = None
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
