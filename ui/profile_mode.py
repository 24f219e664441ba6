"""The dock's Profile mode (a mixin of :class:`~.dock.TimeSeriesDock`): a line drawn on the map, the velocity
profile of the active layer's points within the buffer (:mod:`.profile`), a click on the profile plots the
point's series in the dock's series plot.

The mixin uses the dock's ``iface``, ``canvas``, ``panel``, ``selection``, ``series_layer``, ``_use_selection``
and ``show_message``; its state is ``profile`` (the :class:`~.profile.ProfileData` shown), ``profile_band`` (its
line) and ``swath_band`` (the area its points come from).
"""

from __future__ import annotations

import numpy as np
from qgis.core import QgsProject
from qgis.gui import QgsRubberBand
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtGui import QColor

from ..compat import LINE_GEOMETRY, POLYGON_GEOMETRY
from ..core.errors import InputError
from ..layers.query import is_point_layer
from .profile import read_profile

DATE_NAMES = "YYYYMMDD, DYYYYMMDD or D_YYYYMMDD"
"""How the messages name the date-field conventions (:func:`..core.io.points.date_fields`)."""


class ProfileMode:
    profile = None  # the ProfileData shown in the profile plot
    profile_band = None  # the profile's line on the map
    swath_band = None  # the area its points come from (the buffer, flat ends)

    def on_line_drawn(self, line, modifiers=Qt.KeyboardModifier.NoModifier):  # noqa: ARG002 (the tool's signal)
        """Plot the velocity profile of the active layer's points within the buffer of ``line`` (map CRS)."""
        layer = self.iface.activeLayer()
        if layer is None or not is_point_layer(layer):
            self.show_message("Select a layer of measurement points in the Layers panel, then draw the profile "
                              "line.", warning=True)
            return None
        buffer = self.panel.buffer_spin.value()
        try:
            data = read_profile(layer, line, self.canvas.mapSettings(), buffer)
        except InputError as exc:
            self.show_message(str(exc), warning=True)
            return None
        self.profile = data
        self.panel.show_profile_plot(True)
        self.panel.profile_plot.show_profile(data)
        self._draw_profile_line()
        p = data.profile
        notes = [n.capitalize() + "." for n in data.notes]
        if not len(data):
            self.show_message(" ".join([f"No point of “{layer.name()}” within {buffer:g} m of the line (between its "
                                        "ends): widen the profile buffer or draw the line elsewhere."] + notes),
                              warning=True)
        else:
            n_vel = int(np.isfinite(p.velocity).sum())
            text = (f"Profile: {len(p)} points of “{layer.name()}” within {buffer:g} m of the line ({p.length:.0f} m"
                    f"{'' if n_vel == len(p) else f'; {n_vel} with a velocity'}). Hover a point to name it, click it "
                    "for its series.")
            self.show_message(" ".join([text] + notes), warning=bool(notes))
        return data

    def _on_buffer_changed(self, _value):
        """A new buffer redraws the current profile (same line and layer)."""
        if self.profile is None:
            return
        layer = QgsProject.instance().mapLayer(self.profile.layer_id)
        if layer is None:
            return
        if self.iface.activeLayer() is not layer:
            self.iface.setActiveLayer(layer)
        self.on_line_drawn(self.profile.line)

    def on_profile_point(self, row):
        """Plot the series of profile row ``row`` in the series plot (the point becomes the selection)."""
        data = self.profile
        if data is None or not 0 <= row < len(data):
            return
        self.panel.profile_plot.show_picked(row)
        layer = QgsProject.instance().mapLayer(data.layer_id)
        if layer is None:
            self.show_message("The profile's layer was removed.", warning=True)
            return
        source = self.series_layer(layer)
        text = self.panel.profile_plot.describe(row)
        if not source.has_dates:
            self.show_message(f"{text}. “{layer.name()}” has no date fields (named {DATE_NAMES}): no series to plot.")
            return
        series = source.read_point(int(data.fids[row]))
        if series is None:
            self.show_message(f"“{layer.name()}”: the point could not be read.", warning=True)
            return
        self._use_selection([series], [], Qt.KeyboardModifier.NoModifier)
        if not self.selection.picking_reference:
            self.show_message(f"{text}: its series is plotted below.")

    def _draw_profile_line(self):
        self._remove_profile_line()
        if self.profile is None:
            return
        band = QgsRubberBand(self.canvas, LINE_GEOMETRY)
        band.setColor(QColor(20, 20, 20, 220))
        band.setWidth(2)
        band.setLineStyle(Qt.PenStyle.DashLine)
        band.setToGeometry(self.profile.line, None)
        self.profile_band = band
        swath = self.profile.swath
        if swath is not None and not swath.isEmpty():
            area = QgsRubberBand(self.canvas, POLYGON_GEOMETRY)
            area.setStrokeColor(QColor(20, 20, 20, 110))
            area.setFillColor(QColor(20, 20, 20, 30))
            area.setWidth(1)
            area.setToGeometry(swath, None)
            self.swath_band = area

    def _remove_profile_line(self):
        for name in ("profile_band", "swath_band"):
            band = getattr(self, name)
            if band is not None:
                self.canvas.scene().removeItem(band)
                setattr(self, name, None)

    def clear_profile(self):
        self.profile = None
        self._remove_profile_line()
        self.panel.profile_plot.clear()
        self.panel.show_profile_plot(False)

