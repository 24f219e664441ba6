"""GUI of the plugin: the time-series dock (:mod:`.dock`, with :mod:`.panel`, :mod:`.selection`,
:mod:`.highlights`, :mod:`.settings`), its map tool (:mod:`.maptool`), plot (:mod:`.plot`) and exports.

:func:`install_gui` adds the "Ground-motion time series" action (menu and
toolbar); the dock itself — and pyqtgraph with it — is created the first time
the action is used, so QGIS starts as fast without it.
"""

from __future__ import annotations

import os

ACTION_TEXT = "Ground-motion time series"
ICON = os.path.join(os.path.dirname(os.path.dirname(__file__)), "resources", "icons", "timeseries.svg")


class GuiInstallation:
    """What :func:`install_gui` added; :meth:`unload` removes all of it."""

    def __init__(self, iface, menu, toolbar):
        from qgis.PyQt.QtGui import QIcon

        from ..compat import QAction

        self.iface = iface
        self.menu = menu
        self.toolbar = toolbar
        self.dock = None
        self.place_keeper = None
        self.action = QAction(QIcon(ICON), ACTION_TEXT + "…", iface.mainWindow())
        self.action.setObjectName("EgmsTimeSeriesAction")
        self.action.setToolTip("Open the time-series dock and click measurement points on the map to plot "
                               "their displacement history")
        self.action.setCheckable(True)
        self.action.triggered.connect(self.open)
        iface.addPluginToMenu(menu, self.action)
        if toolbar is not None:
            toolbar.addAction(self.action)

    def open(self, _checked=False):
        """Show the dock (created on first use) and activate its map tool."""
        if self.dock is None:
            from .dock import TimeSeriesDock
            from .placement import PlaceKeeper, place_dock, remember_place

            self.dock = TimeSeriesDock(self.iface)
            self.dock.map_tool.setAction(self.action)
            place_dock(self.iface, self.dock)
            self.place_keeper = PlaceKeeper(self.iface, self.dock)
            self.dock.closed.connect(lambda dock=self.dock: remember_place(self.iface, dock))
        self.dock.setUserVisible(True)
        self.dock.raise_()
        self.dock.activate_tool()
        self.action.setChecked(True)
        return self.dock

    def unload(self):
        if self.dock is not None:
            from .placement import remember_place

            self.place_keeper.timer.stop()
            if self.dock.isVisible():
                remember_place(self.iface, self.dock)
            self.dock.teardown()
            self.iface.removeDockWidget(self.dock)
            self.dock.map_tool.deleteLater()
            self.dock.deleteLater()
            self.dock = None
            self.place_keeper = None
        if self.action is not None:
            self.iface.removePluginMenu(self.menu, self.action)
            if self.toolbar is not None:
                self.toolbar.removeAction(self.action)
            self.action.deleteLater()
            self.action = None


def install_gui(iface, menu, toolbar):
    """Add the dock's action to ``menu`` and ``toolbar``; returns an object whose ``unload()`` removes everything."""
    return GuiInstallation(iface, menu, toolbar)
