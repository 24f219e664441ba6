"""The map tool of the time-series dock: it reports clicks, rectangles and polygons, nothing more.

Like QGIS' ``QgsMapToolEmitPoint``, the tool owns only the rubber band it draws
while the user drags or draws; the dock receives the signals and owns the state.

* ``POINT`` mode: a click emits :attr:`pointClicked` (map CRS point, keyboard
  modifiers); a drag longer than a few pixels emits a rectangle instead.
* ``RECTANGLE`` mode: press–drag–release emits :attr:`rectangleSelected`; a
  click without drag is a point.
* ``POLYGON`` mode: left clicks add vertices, a right click or a double click
  closes the polygon (≥ 3 vertices) and emits :attr:`polygonSelected`;
  Backspace removes the last vertex, Esc cancels.
* ``PROFILE`` mode: the same clicks draw a line; a right click or a double click ends it
  (≥ 2 vertices) and emits :attr:`lineDrawn` (a polyline in the map CRS).
"""

from __future__ import annotations

from qgis.core import QgsGeometry, QgsPointXY, QgsRectangle
from qgis.gui import QgsMapTool, QgsRubberBand
from qgis.PyQt.QtCore import Qt, pyqtSignal
from qgis.PyQt.QtGui import QColor

from ..compat import LINE_GEOMETRY, POLYGON_GEOMETRY

POINT, RECTANGLE, POLYGON, PROFILE = "point", "rectangle", "polygon", "profile"
MODES = (POINT, RECTANGLE, POLYGON, PROFILE)
VERTEX_MODES = (POLYGON, PROFILE)
"""Modes drawn vertex by vertex (click, click, …, right click or double click)."""
DRAG_PIXELS = 4
"""A press–release farther apart than this (pixels) is a drag."""


class SeriesMapTool(QgsMapTool):
    pointClicked = pyqtSignal(QgsPointXY, object)  # noqa: N815  (map point, Qt.KeyboardModifiers)
    rectangleSelected = pyqtSignal(QgsRectangle, object)  # noqa: N815
    polygonSelected = pyqtSignal(QgsGeometry, object)  # noqa: N815
    lineDrawn = pyqtSignal(QgsGeometry, object)  # noqa: N815  (a polyline, map CRS)

    def __init__(self, canvas):
        super().__init__(canvas)
        self.mode = POINT
        self._press_pixel = None
        self._press_point = None
        self._vertices = []
        self._band = None
        self._swallow_release = False  # the release that follows a double click
        self.setCursor(Qt.CursorShape.CrossCursor)

    # ------------------------------------------------------------------ state
    def setMode(self, mode):  # noqa: N802 (Qt style, like the rest of the tool's API)
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; expected one of {MODES}")
        self.reset()
        self.mode = mode

    def reset(self):
        """Forget a drag or polygon in progress and remove its rubber band."""
        self._press_pixel = self._press_point = None
        self._vertices = []
        if self._band is not None:
            self.canvas().scene().removeItem(self._band)
            self._band = None

    def deactivate(self):
        self.reset()
        super().deactivate()

    def _rubber_band(self):
        if self._band is None:
            self._band = QgsRubberBand(self.canvas(), POLYGON_GEOMETRY)
            self._band.setColor(QColor(40, 40, 40, 200))
            self._band.setFillColor(QColor(120, 120, 120, 40))
            self._band.setWidth(1)
            self._band.setLineStyle(Qt.PenStyle.DashLine)
        return self._band

    def _show_rectangle(self, a, b):
        self._rubber_band().setToGeometry(QgsGeometry.fromRect(QgsRectangle(a, b)), None)

    def _show_polygon(self, moving=None):
        pts = list(self._vertices) + ([moving] if moving is not None else [])
        band = self._rubber_band()
        if len(pts) >= 3 and self.mode == POLYGON:
            band.setToGeometry(QgsGeometry.fromPolygonXY([pts]), None)
        else:
            band.reset(LINE_GEOMETRY)
            for p in pts:
                band.addPoint(p, True)

    # ------------------------------------------------------------------ events
    def canvasPressEvent(self, event):
        self._swallow_release = False  # only the release right after a double click is swallowed
        if event.button() != Qt.MouseButton.LeftButton or self.mode in VERTEX_MODES:
            return
        self._press_pixel = event.pixelPoint()
        self._press_point = event.mapPoint()

    def canvasMoveEvent(self, event):
        if self.mode in VERTEX_MODES and self._vertices:
            self._show_polygon(event.mapPoint())
        elif self._press_pixel is not None and self._is_drag(event.pixelPoint()):
            self._show_rectangle(self._press_point, event.mapPoint())

    def canvasReleaseEvent(self, event):
        modifiers = event.modifiers()
        if self.mode in VERTEX_MODES:
            if self._swallow_release:
                self._swallow_release = False
            elif event.button() == Qt.MouseButton.LeftButton:
                self._vertices.append(event.mapPoint())
                self._show_polygon()
            elif event.button() == Qt.MouseButton.RightButton:
                self._finish_polygon(modifiers)
            return
        if event.button() != Qt.MouseButton.LeftButton or self._press_pixel is None:
            return
        start, end = self._press_point, event.mapPoint()
        drag = self._is_drag(event.pixelPoint())
        self.reset()
        if drag:
            rect = QgsRectangle(start, end)
            rect.normalize()
            self.rectangleSelected.emit(rect, modifiers)
        else:
            self.pointClicked.emit(QgsPointXY(end), modifiers)

    def canvasDoubleClickEvent(self, event):
        if self.mode in VERTEX_MODES and event.button() == Qt.MouseButton.LeftButton:
            # the vertex under the double click (usually already added by the first release), then close;
            # the release that follows the double click must not start a new polygon
            self._vertices.append(event.mapPoint())
            self._swallow_release = True
            self._finish_polygon(event.modifiers())

    def keyPressEvent(self, event):
        if event.key() == Qt.Key.Key_Escape:
            self.reset()
            event.accept()
        elif event.key() in (Qt.Key.Key_Backspace, Qt.Key.Key_Delete) and self._vertices:
            self._vertices.pop()
            self._show_polygon()
            event.accept()
        else:
            event.ignore()

    def _is_drag(self, pixel):
        d = pixel - self._press_pixel
        return abs(d.x()) > DRAG_PIXELS or abs(d.y()) > DRAG_PIXELS

    def _finish_polygon(self, modifiers):
        vertices = []
        for p in self._vertices:  # a double click adds the same vertex twice
            if not vertices or p != vertices[-1]:
                vertices.append(QgsPointXY(p))
        self.reset()
        if self.mode == PROFILE:
            if len(vertices) >= 2:
                self.lineDrawn.emit(QgsGeometry.fromPolylineXY(vertices), modifiers)
        elif len(vertices) >= 3:
            self.polygonSelected.emit(QgsGeometry.fromPolygonXY([vertices]), modifiers)
