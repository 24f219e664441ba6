"""The velocity-profile plot (pyqtgraph): velocity against distance along the line, ± std error bars, a hover
readout, a click that picks a point.

Imported with the dock (never at plugin start-up).  :attr:`ProfilePlot.scatter` holds exactly the plotted
points and :attr:`ProfilePlot.error_bars` the bars, so tests and exports read what is shown.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from qgis.PyQt.QtCore import Qt, pyqtSignal
from qgis.PyQt.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from .plot import BACKGROUND, FOREGROUND, export_png, quiet_removal

POINT_COLOUR = "#555555"
PICKED_COLOUR = "#1b9e77"
PICK_PIXELS = 8
"""A click picks the nearest point within this many screen pixels."""


class ProfilePlot(QWidget):
    """Velocity (mm/yr) against distance (m); :attr:`pointPicked` emits the profile row of a clicked point."""

    pointPicked = pyqtSignal(int)  # noqa: N815  (row of the clicked point in the profile)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.widget = pg.PlotWidget(background=BACKGROUND)
        self.plot_item = self.widget.getPlotItem()
        self.plot_item.showGrid(x=True, y=True, alpha=0.2)
        self.plot_item.setMenuEnabled(False)
        for name, text in (("left", "Velocity (mm/yr)"), ("bottom", "Distance along the line (m)")):
            axis = self.plot_item.getAxis(name)
            axis.enableAutoSIPrefix(False)
            axis.setPen(FOREGROUND)
            axis.setTextPen(FOREGROUND)
            self.plot_item.setLabel(name, text, color=FOREGROUND)
        self.widget.setMinimumHeight(160)
        self.readout = QLabel(" ")
        self.readout.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.readout.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.widget, 1)
        layout.addWidget(self.readout)
        self.data = None  # ProfileData shown
        self.scatter = None
        self.error_bars = None
        self.zero_line = None
        self.marker = pg.ScatterPlotItem(size=12, pen=pg.mkPen("k", width=1.5), brush=None, symbol="o")
        self.marker.setZValue(50)
        self.picked = pg.ScatterPlotItem(size=10, pen=pg.mkPen(PICKED_COLOUR, width=2), brush=pg.mkBrush(PICKED_COLOUR))
        self.picked.setZValue(40)
        self.widget.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.widget.scene().sigMouseClicked.connect(self._on_mouse_clicked)

    def _add(self, item):
        self.plot_item.addItem(quiet_removal(item))

    def clear(self):
        self.plot_item.clear()
        self.data = self.scatter = self.error_bars = self.zero_line = None
        self.readout.setText(" ")

    def show_profile(self, data):
        """Draw ``data`` (:class:`~.profile.ProfileData`): its points with a finite velocity."""
        self.clear()
        self.data = data
        p = data.profile
        ok = np.isfinite(p.velocity)
        x, y = p.distance[ok], p.velocity[ok]
        self.zero_line = pg.InfiniteLine(pos=0.0, angle=0, pen=pg.mkPen("#999999", width=1))
        self._add(self.zero_line)
        std = p.std[ok]
        has_std = np.isfinite(std)
        if has_std.any():
            beam = 0.004 * max(float(p.length), 1.0)
            self.error_bars = pg.ErrorBarItem(x=x[has_std], y=y[has_std], top=std[has_std], bottom=std[has_std],
                                              beam=beam, pen=pg.mkPen(POINT_COLOUR, width=1))
            self._add(self.error_bars)
        self.scatter = pg.ScatterPlotItem(x, y, size=6, pen=pg.mkPen(POINT_COLOUR), brush=pg.mkBrush(POINT_COLOUR),
                                          data=np.flatnonzero(ok))
        self._add(self.scatter)
        self._add(self.marker)
        self._add(self.picked)
        self.marker.setData([], [])
        self.picked.setData([], [])
        self.plot_item.setXRange(0.0, max(float(p.length), 1.0), padding=0.02)
        self.plot_item.enableAutoRange(axis="y")
        what = f"± {data.std_field}" if data.std_field else "(no std field)"
        self.plot_item.setTitle(f"{data.layer_name}: {data.velocity_field} {what}, {len(p)} points within "
                                f"{p.buffer:g} m of the line", color=FOREGROUND, size="9pt")

    # ------------------------------------------------------------------ hover and click
    def nearest_row(self, x, y, pixels=None):
        """Profile row of the plotted point nearest to view coordinates (x, y) in screen terms (None: none, or
        none within ``pixels``)."""
        if self.scatter is None or self.data is None:
            return None
        px, py = self.scatter.getData()
        if not len(px):
            return None
        vb = self.plot_item.vb
        sx, sy = vb.viewPixelSize()
        d = np.hypot((px - x) / (sx or 1.0), (py - y) / (sy or 1.0))
        k = int(np.argmin(d))
        if pixels is not None and d[k] > pixels:
            return None
        return int(np.flatnonzero(np.isfinite(self.data.profile.velocity))[k])

    def describe(self, row):
        """Readout text of profile row ``row``."""
        d, p = self.data, self.data.profile
        text = f"{d.point_ids[row]}   {p.distance[row]:.1f} m along, offset {p.offset[row]:+.1f} m   " \
               f"{p.velocity[row]:+.2f}"
        if np.isfinite(p.std[row]):
            text += f" ± {p.std[row]:.2f}"
        return text + " mm/yr"

    def readout_at(self, x, y):
        row = self.nearest_row(x, y)
        if row is None:
            self.readout.setText(" ")
            self.marker.setData([], [])
            return ""
        text = self.describe(row)
        self.readout.setText(text)
        p = self.data.profile
        self.marker.setData([p.distance[row]], [p.velocity[row]])
        return text

    def show_picked(self, row):
        """Mark profile row ``row`` as the picked point (None: no mark)."""
        if row is None or self.data is None:
            self.picked.setData([], [])
            return
        p = self.data.profile
        self.picked.setData([p.distance[row]], [p.velocity[row]])

    def _on_mouse_moved(self, scene_pos):
        if self.scatter is None or not self.plot_item.vb.sceneBoundingRect().contains(scene_pos):
            return
        pos = self.plot_item.vb.mapSceneToView(scene_pos)
        self.readout_at(pos.x(), pos.y())

    def _on_mouse_clicked(self, event):
        if self.scatter is None or event.button() != Qt.MouseButton.LeftButton:
            return
        scene_pos = event.scenePos()
        if not self.plot_item.vb.sceneBoundingRect().contains(scene_pos):
            return
        pos = self.plot_item.vb.mapSceneToView(scene_pos)
        row = self.nearest_row(pos.x(), pos.y(), pixels=PICK_PIXELS)
        if row is not None:
            self.pointPicked.emit(row)

    # ------------------------------------------------------------------ export
    def export_png(self, path, width=1200):
        """Write the profile plot as PNG, ``width`` pixels wide (without the hover marker)."""
        visible = self.marker.isVisible()
        self.marker.setVisible(False)
        try:
            export_png(self.plot_item, path, width)
        finally:
            self.marker.setVisible(visible)
        return path

    def export_svg(self, path):
        pg.exporters.SVGExporter(self.plot_item).export(path)
        return path
