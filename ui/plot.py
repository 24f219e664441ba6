"""The time-series plot (pyqtgraph): a date axis, one colour per series, models, replicas, readout.

Imported only when the dock is created (pyqtgraph is never imported at plugin
start-up).  :class:`TimeSeriesPlot` draws a list of
:class:`~..layers.series.PlottedSeries`; the pyqtgraph items of every series are kept
in :attr:`TimeSeriesPlot.drawn` so tests (and exports) read exactly what is
shown.
"""

from __future__ import annotations

import contextlib
import weakref
from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
import pyqtgraph.exporters  # noqa: F401  (registers pg.exporters)
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtGui import QColor
from qgis.PyQt.QtWidgets import QGraphicsItem, QLabel, QSizePolicy, QVBoxLayout, QWidget

from ..layers.series import SECONDS_PER_DAY, from_timestamp
from .selection import PALETTE as PALETTE  # the series colours, importable from here as before

LEGEND_ROW = 18
"""Height of a legend row (px)."""
BACKGROUND = "w"
FOREGROUND = "#333333"


_ABOUT_TO_CHANGE = (QGraphicsItem.GraphicsItemChange.ItemParentChange, QGraphicsItem.GraphicsItemChange.ItemSceneChange)


class _TolerantItemChange:
    """``itemChange`` of one of the plot's own items: pyqtgraph's, but quiet when the item leaves the scene.

    Once ``qgis.core`` is imported, PyQt cannot convert the null parent/scene that Qt
    passes to ``itemChange`` when an item is removed, so every removal prints
    "TypeError: unable to convert a QVariant back to a Python object" from pyqtgraph's
    ``GraphicsObject.itemChange`` (pyqtgraph issue #774).  For those two "about to
    change" notifications the base class only returns the value, and a null value is
    what None converts to, so answer None when the conversion fails.

    Set on each item's instance (sip looks a virtual up in the instance dictionary
    first), never on a pyqtgraph class: other pyqtgraph users in the QGIS session keep
    pyqtgraph's behaviour.  The item is held weakly, so the override makes no cycle.
    """

    __slots__ = ("_item",)

    def __init__(self, item):
        self._item = weakref.ref(item)

    def __call__(self, change, value):
        item = self._item()
        if item is None:  # the wrapper is being collected: nothing left to update
            return None if change in _ABOUT_TO_CHANGE else value
        try:
            return type(item).itemChange(item, change, value)
        except TypeError:
            if change in _ABOUT_TO_CHANGE:
                return None
            raise


def quiet_removal(item):
    """Make ``item`` and its child items (a PlotDataItem's curve and scatter) leave a scene quietly; returns ``item``."""
    from pyqtgraph.graphicsItems.GraphicsObject import GraphicsObject

    pending = [item]
    while pending:
        obj = pending.pop()
        if isinstance(obj, GraphicsObject) and not isinstance(obj.__dict__.get("itemChange"), _TolerantItemChange):
            obj.itemChange = _TolerantItemChange(obj)
        pending.extend(obj.childItems())
    return item


def export_png(plot_item, path, width=1200):
    """Write ``plot_item`` as PNG, ``width`` pixels wide (the height keeps the on-screen aspect); returns ``path``."""
    exporter = pg.exporters.ImageExporter(plot_item)
    params = exporter.parameters()
    ratio = params["height"] / max(params["width"], 1)
    params["width"] = int(width)
    params["height"] = int(round(width * ratio)) if ratio > 0 else int(width * 0.5)
    exporter.export(path)
    return path


def _faded(colour, alpha):
    c = QColor(colour)
    c.setAlpha(alpha)
    return c


@dataclass
class DrawnSeries:
    """The pyqtgraph items of one plotted series."""

    plotted: object  # PlottedSeries
    data: object  # PlotDataItem: markers + lines, NaN = gap
    model: object = None  # PlotDataItem of the model curve
    band: object = None  # FillBetweenItem of mean ± 1σ
    error_bars: object = None  # ErrorBarItem of ± rmse
    replicas: list = field(default_factory=list)  # PlotDataItems at ± λ/2


class TimeSeriesPlot(QWidget):
    """A pyqtgraph plot with a date axis and a hover readout of the nearest data point."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.date_axis = pg.DateAxisItem(orientation="bottom", utcOffset=0)
        self.widget = pg.PlotWidget(axisItems={"bottom": self.date_axis}, background=BACKGROUND)
        self.plot_item = self.widget.getPlotItem()
        self.plot_item.showGrid(x=True, y=True, alpha=0.2)
        left = self.plot_item.getAxis("left")
        left.enableAutoSIPrefix(False)
        self.plot_item.setLabel("left", "Displacement (mm)")
        for name in ("left", "bottom"):
            axis = self.plot_item.getAxis(name)
            axis.setPen(FOREGROUND)
            axis.setTextPen(FOREGROUND)
        # the legend sits above the data (in the title row), so it never hides a series
        self.plot_item.layout.removeItem(self.plot_item.titleLabel)
        self.plot_item.titleLabel.setVisible(False)
        self.legend = pg.LegendItem(labelTextColor=FOREGROUND, labelTextSize="8pt", verSpacing=0, horSpacing=12)
        self.legend.layout.setContentsMargins(0, 0, 0, 0)
        self.legend.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Maximum)
        self.plot_item.layout.addItem(self.legend, 0, 1)
        self.plot_item.layout.setAlignment(self.legend, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.plot_item.layout.setRowFixedHeight(0, 0)
        self.caption = ""
        self.plot_item.setMenuEnabled(False)
        self.widget.setMinimumHeight(180)
        self.readout = QLabel(" ")
        self.readout.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.readout.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.marker = pg.ScatterPlotItem(size=11, pen=pg.mkPen("k", width=1.5), brush=None, symbol="o")
        self.marker.setZValue(50)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.widget, 1)
        layout.addWidget(self.readout)
        self.drawn: list[DrawnSeries] = []
        self.replica_offset = None
        self.widget.scene().sigMouseMoved.connect(self._on_mouse_moved)

    # ------------------------------------------------------------------ drawing
    def _add(self, item):
        """Add one of the plot's own items to the view (quiet when it leaves the scene again)."""
        self.plot_item.addItem(quiet_removal(item))

    def clear(self):
        self.plot_item.clear()
        self.legend.clear()
        self.plot_item.layout.setRowFixedHeight(0, 0)
        self.drawn = []
        self.readout.setText(" ")
        self.set_caption("")

    def set_caption(self, text):
        """Text under the date axis (reference, detrend), part of the exported picture."""
        self.caption = text or ""
        axis = self.plot_item.getAxis("bottom")
        if self.caption:
            self.plot_item.setLabel("bottom", self.caption, color=FOREGROUND)
        else:
            axis.showLabel(False)

    def _legend_add(self, item, name):
        self.legend.addItem(item, name)
        sample, label = self.legend.items[-1]
        sample.setFixedHeight(LEGEND_ROW)
        sample.setFixedWidth(24)
        label.setFixedHeight(LEGEND_ROW)
        label.setFixedWidth(label.item.boundingRect().width() + 6)

    def _layout_legend(self):
        n = len(self.legend.items)
        if not n:
            self.plot_item.layout.setRowFixedHeight(0, 0)
            return
        widest = max(24 + label.width() + 12 for _sample, label in self.legend.items)
        columns = max(1, min(n, int(max(self.widget.width() - 60, widest) // widest)))
        self.legend.setColumnCount(columns)
        rows = -(-n // columns)
        self.plot_item.layout.setRowFixedHeight(0, rows * LEGEND_ROW + 4)
        self.legend.updateSize()

    def show_series(self, plotted, error_bars=False, replica_mm=None, title=None):
        """Draw ``plotted`` (list of PlottedSeries); ``replica_mm`` draws copies at ± that offset."""
        self.clear()
        self.replica_offset = replica_mm
        for p in plotted:
            drawn = self._draw(p, error_bars, replica_mm)
            self.drawn.append(drawn)
            self._legend_add(drawn.data, p.label if not p.series.is_area else f"{p.label} ± 1σ")
        models = sorted({p.model_name for p in plotted if p.model_x is not None})
        if models:  # one entry for the models: the dashed line in each series' colour
            sample = pg.PlotDataItem([], [], pen=pg.mkPen("#555555", width=2, style=Qt.PenStyle.DashLine))
            self._legend_add(sample, " / ".join(models) + " + seasonal model")
        if replica_mm and plotted:
            sample = pg.PlotDataItem([], [], pen=None, symbol="o", symbolSize=5, symbolPen=pg.mkPen("#888888"),
                                     symbolBrush=None)
            self._legend_add(sample, f"± λ/2 replicas ({replica_mm:.1f} mm)")
        self._layout_legend()
        self._add(self.marker)
        self.marker.setData([], [])
        self.set_caption(title)
        self.plot_item.enableAutoRange()

    def _draw(self, p, error_bars, replica_mm):
        colour = p.colour
        finite = np.isfinite(p.y)
        drawn = DrawnSeries(plotted=p, data=None)
        if p.std is not None:
            ok = finite & np.isfinite(p.std)
            if ok.sum() >= 2:
                lo = pg.PlotCurveItem(p.x[ok], p.y[ok] - p.std[ok], pen=pg.mkPen(_faded(colour, 90), width=1))
                hi = pg.PlotCurveItem(p.x[ok], p.y[ok] + p.std[ok], pen=pg.mkPen(_faded(colour, 90), width=1))
                drawn.band = pg.FillBetweenItem(lo, hi, brush=pg.mkBrush(_faded(colour, 55)))
                self._add(lo)
                self._add(hi)
                self._add(drawn.band)
        if replica_mm:
            for sign in (1.0, -1.0):
                item = pg.PlotDataItem(p.x, p.y + sign * replica_mm, pen=None, symbol="o", symbolSize=4,
                                       symbolPen=pg.mkPen(_faded(colour, 110)), symbolBrush=None)
                self._add(item)
                drawn.replicas.append(item)
        if error_bars and p.series.rmse is not None and finite.any():
            drawn.error_bars = pg.ErrorBarItem(x=p.x[finite], y=p.y[finite], top=p.series.rmse, bottom=p.series.rmse,
                                               beam=1.5 * SECONDS_PER_DAY, pen=pg.mkPen(_faded(colour, 120)))
            self._add(drawn.error_bars)
        drawn.data = pg.PlotDataItem(p.x, p.y, pen=pg.mkPen(colour, width=1.2), connect="finite", symbol="o",
                                     symbolSize=5, symbolPen=pg.mkPen(colour), symbolBrush=pg.mkBrush(colour),
                                     antialias=True)
        self._add(drawn.data)
        if p.model_x is not None:
            drawn.model = pg.PlotDataItem(p.model_x, p.model_y, pen=pg.mkPen(colour, width=2.2, style=Qt.PenStyle.DashLine),
                                          antialias=True)
            drawn.model.setZValue(10)
            self._add(drawn.model)
        return drawn

    # ------------------------------------------------------------------ readout
    def nearest_point(self, x, y):
        """``(drawn, index)`` of the data point nearest to view coordinates (x s, y mm), in screen terms."""
        view = self.plot_item.vb.viewRect()
        sx = view.width() or 1.0
        sy = view.height() or 1.0
        best, best_d = None, np.inf
        for drawn in self.drawn:
            p = drawn.plotted
            ok = np.flatnonzero(np.isfinite(p.y))
            if not ok.size:
                continue
            d = ((p.x[ok] - x) / sx) ** 2 + ((p.y[ok] - y) / sy) ** 2
            k = int(np.argmin(d))
            if d[k] < best_d:
                best, best_d = (drawn, int(ok[k])), d[k]
        return best

    def readout_at(self, x, y):
        """Show (and return) the readout text of the data point nearest to view coordinates (x, y)."""
        hit = self.nearest_point(x, y)
        if hit is None:
            self.readout.setText(" ")
            self.marker.setData([], [])
            return ""
        drawn, k = hit
        p = drawn.plotted
        text = f"{from_timestamp(p.x[k]).isoformat()}   {p.y[k]:+.1f} mm"
        if p.std is not None and np.isfinite(p.std[k]):
            text += f" ± {p.std[k]:.1f} (n = {int(p.series.count[k])})"
        if p.model_on_dates is not None:
            text += f"   model {p.model_on_dates[k]:+.1f} mm"
        text += f"   — {p.label}"
        self.readout.setText(f"<span style='color:{p.colour}'>●</span> {text}")
        self.marker.setData([p.x[k]], [p.y[k]])
        return text

    def _on_mouse_moved(self, scene_pos):
        if not self.drawn or not self.plot_item.vb.sceneBoundingRect().contains(scene_pos):
            return
        view_pos = self.plot_item.vb.mapSceneToView(scene_pos)
        self.readout_at(view_pos.x(), view_pos.y())

    # ------------------------------------------------------------------ export
    def export_png(self, path, width=1200):
        """Write the plot as PNG, ``width`` pixels wide (the height keeps the on-screen aspect)."""
        with self._without_hover_marker():
            export_png(self.plot_item, path, width)
        return path

    def export_svg(self, path):
        with self._without_hover_marker():
            pg.exporters.SVGExporter(self.plot_item).export(path)
        return path

    @contextlib.contextmanager
    def _without_hover_marker(self):
        visible = self.marker.isVisible()
        self.marker.setVisible(False)
        try:
            yield
        finally:
            self.marker.setVisible(visible)
