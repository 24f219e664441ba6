"""Where the time-series dock opens, and remembering where the user put it.

The first time, the dock opens at the bottom at a third of the main window's height at most (360 px), so the
map stays usable on a 1280 × 800 screen; after that it opens where the user left it — area, size, or floating
with its geometry — stored in QgsSettings with the dock's other settings (:mod:`.settings`).  The place is
stored as soon as the user changes it (:class:`PlaceKeeper`: half a second after the last move, resize, dock
or undock), so a QGIS that crashes keeps it too; closing the dock and unloading the plugin store it as well.
"""

from __future__ import annotations

from qgis.PyQt.QtCore import QByteArray, QEvent, QObject, Qt, QTimer
from qgis.PyQt.QtWidgets import QMainWindow

from .settings import set_setting, setting

AREAS = {
    "bottom": Qt.DockWidgetArea.BottomDockWidgetArea,
    "top": Qt.DockWidgetArea.TopDockWidgetArea,
    "left": Qt.DockWidgetArea.LeftDockWidgetArea,
    "right": Qt.DockWidgetArea.RightDockWidgetArea,
}
DEFAULT_HEIGHT_PX = 360
"""Largest first-time height of the dock at the bottom (a third of the window when that is smaller)."""
DEFAULT_WIDTH_PX = 560
"""Largest first-time width of the dock at a side (a third of the window when that is smaller)."""


def _is_vertical_area(area):
    return area in (Qt.DockWidgetArea.TopDockWidgetArea, Qt.DockWidgetArea.BottomDockWidgetArea)


def default_size(area, window_width, window_height):
    """Pixels along the dock's free axis the first time: its height at the top/bottom, its width at a side."""
    if _is_vertical_area(area):
        return max(200, min(DEFAULT_HEIGHT_PX, window_height // 3))
    return max(300, min(DEFAULT_WIDTH_PX, window_width // 3))


def place_dock(iface, dock):
    """Add ``dock`` to the main window where the user last had it (the bottom, a third high, the first time)."""
    area = AREAS.get(setting("dock_area"), Qt.DockWidgetArea.BottomDockWidgetArea)
    iface.addDockWidget(area, dock)
    window = iface.mainWindow()
    if not isinstance(window, QMainWindow) or window.dockWidgetArea(dock) == Qt.DockWidgetArea.NoDockWidgetArea:
        return  # a main window that does not hold docks (a test double)
    geometry = setting("dock_geometry")
    if setting("dock_floating") and geometry:
        dock.setFloating(True)
        dock.restoreGeometry(QByteArray.fromBase64(geometry.encode("ascii")))
        return
    size = setting("dock_size") or default_size(area, window.width(), window.height())
    orientation = Qt.Orientation.Vertical if _is_vertical_area(area) else Qt.Orientation.Horizontal
    window.resizeDocks([dock], [int(size)], orientation)


def remember_place(iface, dock):
    """Store the dock's area and size (or its floating geometry) for the next time it is opened."""
    window = iface.mainWindow()
    if not isinstance(window, QMainWindow):
        return
    area = window.dockWidgetArea(dock)
    names = {value: name for name, value in AREAS.items()}
    set_setting("dock_floating", bool(dock.isFloating()))
    if dock.isFloating():
        set_setting("dock_geometry", bytes(dock.saveGeometry().toBase64()).decode("ascii"))
        return
    if area in names:
        set_setting("dock_area", names[area])
        set_setting("dock_size", dock.height() if _is_vertical_area(area) else dock.width())


class PlaceKeeper(QObject):
    """Stores the dock's place (:func:`remember_place`) 500 ms after the user last moved, resized, docked or
    undocked it — one write per gesture, not one per pixel of a drag."""

    DELAY_MS = 500
    WATCHED = (QEvent.Type.Resize, QEvent.Type.Move)

    def __init__(self, iface, dock):
        super().__init__(dock)
        self.iface, self.dock = iface, dock
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(self.DELAY_MS)
        self.timer.timeout.connect(self.store)
        dock.dockLocationChanged.connect(self.later)
        dock.topLevelChanged.connect(self.later)
        dock.installEventFilter(self)

    def later(self, *_args):
        self.timer.start()

    def eventFilter(self, watched, event):  # noqa: N802 (Qt API)
        if watched is self.dock and event.type() in self.WATCHED and self.dock.isVisible():
            self.timer.start()
        return False

    def store(self):
        if self.dock.isVisible():
            remember_place(self.iface, self.dock)
