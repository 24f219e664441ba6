"""The dock's marks on the map canvas: the plotted points and areas in their plot colours, the references in black.

A :class:`MapHighlights` owns the rubber bands it puts on one canvas and
removes them all again (:meth:`MapHighlights.remove`); what to mark comes from
:meth:`.selection.Selection.marks`.
"""

from __future__ import annotations

from qgis.core import QgsProject
from qgis.gui import QgsRubberBand
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtGui import QColor

from ..compat import POINT_GEOMETRY, POLYGON_GEOMETRY

HALO_COLOUR = "#ffffff"
"""The white ring under a point's mark, so it reads on any symbology."""


class MapHighlights:
    """Rubber bands on ``canvas`` marking series (points and areas, with their layer CRS)."""

    def __init__(self, canvas):
        self.canvas = canvas
        self.bands = []  # the QgsRubberBands on the canvas

    def show(self, marks, project=None):
        """Replace the marks by ``marks``: ``(series, colour, is_reference)``; series of layers no longer in
        ``project`` (default: the current one) and series without geometry are left out."""
        self.remove()
        project = project or QgsProject.instance()
        for series, colour, reference in marks:
            self._mark(series, colour, project, reference=reference)

    def remove(self):
        scene = self.canvas.scene()
        for band in self.bands:
            scene.removeItem(band)
        self.bands = []

    def colours(self):
        """Colours of the marks in drawing order (plotted series first; white halos left out)."""
        return [band.strokeColor().name() for band in self.bands if band.strokeColor().name() != HALO_COLOUR]

    def _band(self, geometry_type, colour, width=2, icon=None, size=None, fill=None, line_style=None):
        band = QgsRubberBand(self.canvas, geometry_type)
        band.setColor(QColor(colour))
        band.setWidth(width)
        if icon is not None:
            band.setIcon(icon)
            band.setIconSize(size)
        band.setFillColor(QColor(0, 0, 0, 0) if fill is None else fill)
        if line_style is not None:
            band.setLineStyle(line_style)
        self.bands.append(band)
        return band

    def _mark(self, series, colour, project, reference=False):
        layer = project.mapLayer(series.layer_id)
        if layer is None or series.geometry is None:
            return
        if series.is_area:  # the outline (dashed for a reference), lightly filled, and its points
            fill = QColor(colour)
            fill.setAlpha(35)
            outline = self._band(POLYGON_GEOMETRY, colour, width=2, fill=fill,
                                 line_style=Qt.PenStyle.DashLine if reference else Qt.PenStyle.SolidLine)
            outline.setToGeometry(series.geometry, layer)
            if series.member_geometry is not None:
                members = self._band(POINT_GEOMETRY, colour, width=1, icon=QgsRubberBand.IconType.ICON_CIRCLE, size=5)
                members.setToGeometry(series.member_geometry, layer)
        else:  # a ring (a cross for a reference) on a white halo
            icon = QgsRubberBand.IconType.ICON_X if reference else QgsRubberBand.IconType.ICON_CIRCLE
            halo = self._band(POINT_GEOMETRY, HALO_COLOUR, width=6, icon=icon, size=18)
            halo.setToGeometry(series.geometry, layer)
            band = self._band(POINT_GEOMETRY, colour, width=3, icon=icon, size=18)
            band.setToGeometry(series.geometry, layer)
