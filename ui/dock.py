"""The "Ground-motion time series" dock: click measurement points, read their displacement history.

The dock owns the state (plotted series, references, highlights, settings);
its :class:`~.maptool.SeriesMapTool` only reports clicks, rectangles and
polygons.  Each click reads one feature by id after a limited spatial request
(:mod:`.layerquery`), so a click costs the same on a layer of 100 or 10⁷ points.

* Click: the nearest point within the search radius in the active layer, or with
  "All layers" the nearest point of every visible layer with date fields.
  Shift+click adds series; a rectangle or polygon plots the mean of the points
  inside with a ± 1σ band and the count.  Areas are read and averaged in a
  ``QgsTask`` (:mod:`.areatask`): the dock shows its progress and a Cancel button,
  and any new selection cancels an area still being read.
* Reference: the next point/area becomes the reference of its layer; its series
  is subtracted from every series of that layer (reset to go back).
* Model (linear/quadratic/cubic + seasonal), velocity ± std etc. come from
  :mod:`..core.stats` (the code of ``egms:fittimeseries``); replicas at ± λ/2.
* Export PNG/SVG/CSV; layer tools: velocity styling and an undoable quality filter.
"""

from __future__ import annotations

import os

import numpy as np
from qgis.core import QgsApplication, QgsGeometry, QgsProject, QgsSettings
from qgis.gui import QgsCollapsibleGroupBox, QgsDockWidget, QgsMapLayerComboBox
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtGui import QIcon
from qgis.PyQt.QtWidgets import (
    QAction,
    QActionGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QMenu,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..core.conventions import SENTINEL1_WAVELENGTH, half_wavelength_mm
from ..layers import quality as layertools
from ..layers.areas import AreaMeanTask
from ..layers.query import SeriesLayer, is_point_layer
from .export import with_suffix, write_csv
from .highlights import MapHighlights
from .maptool import POINT, POLYGON, RECTANGLE, SeriesMapTool
from .plot import TimeSeriesPlot
from .selection import Selection

TITLE = "Ground-motion time series"
SETTINGS_GROUP = "egms_plugin/timeseries"
DEFAULTS = {
    "radius_px": 8,
    "all_layers": False,
    "model": "",
    "error_bars": False,
    "replicas": False,
    "replica_mm": round(half_wavelength_mm(), 2),
    "detrend": False,
    "area_cap": 5000,
    "mode": POINT,
    "min_coherence": 0.7,
    "max_rmse": 5.0,
}
MODEL_CHOICES = (("", "No model"), ("linear", "Linear + seasonal"), ("quadratic", "Quadratic + seasonal"),
                 ("cubic", "Cubic + seasonal"))
DATE_NAMES = "YYYYMMDD, DYYYYMMDD or D_YYYYMMDD"
ICON_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "resources", "icons")


def setting(key):
    default = DEFAULTS[key]
    return QgsSettings().value(f"{SETTINGS_GROUP}/{key}", default, type(default))


def set_setting(key, value):
    QgsSettings().setValue(f"{SETTINGS_GROUP}/{key}", value)


def _theme_icon(name):
    return QgsApplication.getThemeIcon(name)


class TimeSeriesDock(QgsDockWidget):
    """The dock; ``iface`` is injected (tests pass pytest-qgis' ``qgis_iface``)."""

    def __init__(self, iface, parent=None):
        super().__init__(TITLE, parent if parent is not None else iface.mainWindow())
        self.setObjectName("EgmsTimeSeriesDock")
        self.iface = iface
        self.canvas = iface.mapCanvas()
        self.selection = Selection()  # the series shown, their colours, the references
        self._series_layers = {}  # layer id -> (field names, SeriesLayer)
        self._connections = []
        self.area_task = None  # the AreaMeanTask whose result the dock is waiting for
        self.highlights = MapHighlights(self.canvas)
        self.map_tool = SeriesMapTool(self.canvas)
        self._build_ui()
        self._load_settings()
        self._connect(self.map_tool.pointClicked, self.on_point_clicked)
        self._connect(self.map_tool.rectangleSelected, self.on_rectangle_selected)
        self._connect(self.map_tool.polygonSelected, self.on_polygon_selected)
        project = QgsProject.instance()
        self._connect(project.cleared, self.on_project_cleared)
        self._connect(project.layersWillBeRemoved, self.on_layers_removed)
        self._connect(self.canvas.destinationCrsChanged, self._draw_highlights)
        current_layer_changed = getattr(iface, "currentLayerChanged", None)
        if current_layer_changed is not None and hasattr(current_layer_changed, "connect"):
            self._connect(current_layer_changed, self.on_current_layer_changed)
        self._connect(self.dockLocationChanged, self._on_dock_location)
        self._connect(self.closed, self._on_closed)
        self._connect(self.opened, self._draw_highlights)
        self.show_message("Click a measurement point on the map (Shift+click adds a series; draw a rectangle or "
                          "polygon for the mean of an area).")

    # ================================================================== UI
    def _build_ui(self):
        body = QWidget(self)
        outer = QVBoxLayout(body)
        outer.setContentsMargins(4, 2, 4, 4)
        outer.setSpacing(3)

        self.toolbar = QToolBar(body)
        self.toolbar.setIconSize(self.toolbar.iconSize() * 0.8)
        self.toolbar.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        group = QActionGroup(self)
        self.mode_actions = {}
        for mode, icon, text, tip in (
            (POINT, "/mActionIdentify.svg", "Point", "Click: the nearest point (Shift+click adds a series)"),
            (RECTANGLE, "/mActionSelectRectangle.svg", "Rectangle", "Drag a rectangle: mean of the points inside"),
            (POLYGON, "/mActionSelectPolygon.svg", "Polygon",
             "Click vertices, right click or double click to close: mean of the points inside"),
        ):
            action = QAction(_theme_icon(icon), text, self)
            action.setToolTip(tip)
            action.setCheckable(True)
            action.triggered.connect(lambda _c=False, m=mode: self.set_mode(m))
            group.addAction(action)
            self.toolbar.addAction(action)
            self.mode_actions[mode] = action
        self.toolbar.addSeparator()
        self.reference_action = QAction(QIcon(os.path.join(ICON_DIR, "timeseries.svg")), "Reference", self)
        self.reference_action.setCheckable(True)
        self.reference_action.setToolTip("The next point or area you select becomes the reference of its layer: "
                                         "its series is subtracted from that layer's series")
        self.reference_action.toggled.connect(self._on_reference_toggled)
        self.toolbar.addAction(self.reference_action)
        self.reset_reference_action = QAction(_theme_icon("/mActionUndo.svg"), "Reset reference", self)
        self.reset_reference_action.triggered.connect(self.reset_reference)
        self.toolbar.addAction(self.reset_reference_action)
        self.toolbar.addSeparator()
        self.clear_action = QAction(_theme_icon("/mActionDeselectAll.svg"), "Clear", self)
        self.clear_action.setToolTip("Remove every series from the plot and the map")
        self.clear_action.triggered.connect(self.clear_series)
        self.toolbar.addAction(self.clear_action)
        export_menu = QMenu(self)
        self.export_png_action = export_menu.addAction("Plot as PNG…", lambda: self._export_dialog("png"))
        self.export_svg_action = export_menu.addAction("Plot as SVG…", lambda: self._export_dialog("svg"))
        self.export_csv_action = export_menu.addAction("Series as CSV…", lambda: self._export_dialog("csv"))
        export_button = QToolButton(self.toolbar)
        export_button.setText("Export")
        export_button.setIcon(_theme_icon("/mActionFileSave.svg"))
        export_button.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        export_button.setPopupMode(QToolButton.InstantPopup)
        export_button.setMenu(export_menu)
        self.toolbar.addWidget(export_button)
        outer.addWidget(self.toolbar)

        message_row = QHBoxLayout()
        message_row.setSpacing(6)
        self.message = QLabel(body)
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextSelectableByMouse)
        message_row.addWidget(self.message, 1)
        self.progress_bar = QProgressBar(body)  # an area being read (AreaMeanTask)
        self.progress_bar.setRange(0, 100)
        self.progress_bar.setFixedWidth(150)
        self.progress_bar.setMaximumHeight(16)
        self.progress_bar.setVisible(False)
        message_row.addWidget(self.progress_bar)
        self.cancel_button = QToolButton(body)
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip("Stop reading the points of the area")
        self.cancel_button.setToolButtonStyle(Qt.ToolButtonTextOnly)
        self.cancel_button.setAutoRaise(True)
        self.cancel_button.clicked.connect(lambda _c=False: self.cancel_area("Cancelled: the area was not averaged."))
        self.cancel_button.setVisible(False)
        message_row.addWidget(self.cancel_button)
        outer.addLayout(message_row)

        self.splitter = QSplitter(Qt.Horizontal, body)
        left = QWidget(self.splitter)
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        self.plot = TimeSeriesPlot(left)
        left_layout.addWidget(self.plot, 1)
        self.summary = QLabel(left)
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.RichText)
        self.summary.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.summary.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        left_layout.addWidget(self.summary)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self._build_side_panel(self.splitter))
        self.splitter.setStretchFactor(0, 4)
        self.splitter.setStretchFactor(1, 1)
        outer.addWidget(self.splitter, 1)
        self.setWidget(body)

    def _build_side_panel(self, parent):
        panel = QWidget(parent)
        layout = QVBoxLayout(panel)
        layout.setContentsMargins(4, 0, 0, 0)
        display = QgsCollapsibleGroupBox("Display", panel)
        form = QFormLayout(display)
        form.setContentsMargins(6, 4, 6, 4)
        self.model_combo = QComboBox(display)
        for key, text in MODEL_CHOICES:
            self.model_combo.addItem(text, key)
        self.model_combo.setToolTip("Model fitted by least squares (the EGMS statistics recipe, as egms:fittimeseries)")
        form.addRow("Model", self.model_combo)
        self.error_bars_check = QCheckBox("Error bars (± rmse)", display)
        form.addRow(self.error_bars_check)
        replica_row = QHBoxLayout()
        self.replicas_check = QCheckBox("Replicas ±", display)
        self.replicas_check.setToolTip("Copies of each series shifted by ± λ/2 (one phase cycle): "
                                       "where an unwrapping error would put the points")
        self.replica_spin = QDoubleSpinBox(display)
        self.replica_spin.setRange(0.1, 500.0)
        self.replica_spin.setDecimals(2)
        self.replica_spin.setSuffix(" mm")
        self.replica_spin.setToolTip("λ/2: 27.73 mm for Sentinel-1 (C band)")
        replica_row.addWidget(self.replicas_check)
        replica_row.addWidget(self.replica_spin, 1)
        form.addRow(replica_row)
        self.detrend_check = QCheckBox("Detrend (remove mean velocity)", display)
        form.addRow(self.detrend_check)
        self.all_layers_check = QCheckBox("All visible layers", display)
        self.all_layers_check.setToolTip("A click plots the nearest point of every visible layer with date fields "
                                         "(ascending, descending, vertical, east …)")
        form.addRow(self.all_layers_check)
        self.radius_spin = QSpinBox(display)
        self.radius_spin.setRange(1, 100)
        self.radius_spin.setSuffix(" px")
        self.radius_spin.setToolTip("Search radius around a click, in screen pixels")
        form.addRow("Radius", self.radius_spin)
        self.cap_spin = QSpinBox(display)
        self.cap_spin.setRange(10, 1_000_000)
        self.cap_spin.setSingleStep(1000)
        self.cap_spin.setToolTip("Most points averaged for a rectangle or polygon")
        form.addRow("Area cap", self.cap_spin)
        layout.addWidget(display)

        tools = QgsCollapsibleGroupBox("Layer tools", panel)
        tools_layout = QFormLayout(tools)
        tools_layout.setContentsMargins(6, 4, 6, 4)
        self.layer_combo = QgsMapLayerComboBox(tools)
        self.layer_combo.setFilters(_point_layer_filter())
        tools_layout.addRow(self.layer_combo)
        self.style_button = QPushButton("Style by velocity", tools)
        self.style_button.setToolTip("Diverging colours symmetric around 0, ± the 98th percentile of |v|, mm/yr")
        self.style_button.clicked.connect(self.style_layer)
        tools_layout.addRow(self.style_button)
        self.coherence_spin = QDoubleSpinBox(tools)
        self.coherence_spin.setRange(0.0, 1.0)
        self.coherence_spin.setSingleStep(0.05)
        self.coherence_spin.setDecimals(2)
        tools_layout.addRow("Coherence ≥", self.coherence_spin)
        self.rmse_spin = QDoubleSpinBox(tools)
        self.rmse_spin.setRange(0.0, 1000.0)
        self.rmse_spin.setDecimals(1)
        self.rmse_spin.setSuffix(" mm")
        tools_layout.addRow("RMSE ≤", self.rmse_spin)
        buttons = QHBoxLayout()
        self.filter_button = QPushButton("Filter", tools)
        self.filter_button.setToolTip("Keep points with temporal coherence ≥ and rmse ≤ the values (subset string)")
        self.filter_button.clicked.connect(self.apply_quality_filter)
        self.unfilter_button = QPushButton("Undo filter", tools)
        self.unfilter_button.clicked.connect(self.undo_quality_filter)
        buttons.addWidget(self.filter_button)
        buttons.addWidget(self.unfilter_button)
        tools_layout.addRow(buttons)
        layout.addWidget(tools)
        layout.addStretch(1)
        return panel

    def _load_settings(self):
        self.model_combo.setCurrentIndex(max(0, self.model_combo.findData(setting("model"))))
        self.error_bars_check.setChecked(setting("error_bars"))
        self.replicas_check.setChecked(setting("replicas"))
        self.replica_spin.setValue(setting("replica_mm"))
        self.detrend_check.setChecked(setting("detrend"))
        self.all_layers_check.setChecked(setting("all_layers"))
        self.radius_spin.setValue(setting("radius_px"))
        self.cap_spin.setValue(setting("area_cap"))
        self.coherence_spin.setValue(setting("min_coherence"))
        self.rmse_spin.setValue(setting("max_rmse"))
        mode = setting("mode")
        self.set_mode(mode if mode in self.mode_actions else POINT)
        # save on change, then redraw when the change affects the plot
        self.model_combo.currentIndexChanged.connect(lambda _i: self._changed("model", self.model_combo.currentData()))
        self.error_bars_check.toggled.connect(lambda v: self._changed("error_bars", v))
        self.replicas_check.toggled.connect(lambda v: self._changed("replicas", v))
        self.replica_spin.valueChanged.connect(lambda v: self._changed("replica_mm", v))
        self.detrend_check.toggled.connect(lambda v: self._changed("detrend", v))
        self.all_layers_check.toggled.connect(lambda v: self._changed("all_layers", v, replot=False))
        self.radius_spin.valueChanged.connect(lambda v: self._changed("radius_px", v, replot=False))
        self.cap_spin.valueChanged.connect(lambda v: self._changed("area_cap", v, replot=False))
        self.coherence_spin.valueChanged.connect(lambda v: self._changed("min_coherence", v, replot=False))
        self.rmse_spin.valueChanged.connect(lambda v: self._changed("max_rmse", v, replot=False))

    def _changed(self, key, value, replot=True):
        set_setting(key, value)
        if replot:
            self.replot()

    def _connect(self, signal, slot):
        signal.connect(slot)
        self._connections.append((signal, slot))

    # ================================================================== messages
    def show_message(self, text, warning=False):
        colour = "#a05a00" if warning else "#444444"
        self.message.setText(text)
        self.message.setStyleSheet(f"color: {colour};")

    def message_text(self):
        return self.message.text()

    # ================================================================== tool
    def set_mode(self, mode):
        self.map_tool.setMode(mode)
        self.mode_actions[mode].setChecked(True)
        set_setting("mode", mode)

    def activate_tool(self):
        self.canvas.setMapTool(self.map_tool)

    def _on_reference_toggled(self, on):
        self.selection.picking_reference = on
        if on:
            self.show_message("Select the reference: click a point or draw an area (in its layer).")

    # ================================================================== clicks
    def series_layer(self, layer):
        """The :class:`SeriesLayer` of ``layer``, cached until its fields change (date parsing costs ~10 ms
        for 300 fields)."""
        names = tuple(layer.fields().names())
        cached = self._series_layers.get(layer.id())
        if cached is None or cached[0] != names or cached[1].layer is not layer:
            cached = (names, SeriesLayer(layer))
            self._series_layers[layer.id()] = cached
        return cached[1]

    def _target_layers(self):
        """``(layers, message)``: the layers a selection reads, or a message telling why there are none."""
        if self.all_layers_check.isChecked():
            layers = [lyr for lyr in self.canvas.layers() if is_point_layer(lyr) and self.series_layer(lyr).has_dates]
            if not layers:
                return [], f"No visible point layer has date fields (named {DATE_NAMES})."
            return layers, ""
        layer = self.iface.activeLayer()
        if layer is None:
            return [], ("Select a layer of measurement points in the Layers panel (or tick “All visible layers”).")
        if not is_point_layer(layer):
            return [], f"“{layer.name()}” is not a point layer: select a layer of measurement points."
        if not self.series_layer(layer).has_dates:
            return [], (f"“{layer.name()}” has no date fields (named {DATE_NAMES}): "
                        "select a layer of measurement points with a displacement time series.")
        return [layer], ""

    def on_point_clicked(self, map_point, modifiers=Qt.NoModifier):
        self.cancel_area()  # a new selection replaces an area still being read
        layers, problem = self._target_layers()
        if problem:
            self.show_message(problem, warning=True)
            return
        settings = self.canvas.mapSettings()
        radius_px = self.radius_spin.value()
        radius = radius_px * self.canvas.mapUnitsPerPixel()
        found, notes = [], []
        for layer in layers:
            source = self.series_layer(layer)
            hit = source.nearest(settings, map_point, radius)
            if hit is None:
                notes.append(f"No measurement point within {radius_px} px of the click in “{layer.name()}”.")
                continue
            series = source.read_point(hit[0])
            if series is None:
                notes.append(f"“{layer.name()}”: the point could not be read.")
                continue
            if not np.isfinite(series.values).any():
                notes.append(f"Point {series.point_id} of “{layer.name()}” has no displacement values "
                             "(every date is NULL).")
                continue
            found.append(series)
        self._use_selection(found, notes, modifiers)

    def on_rectangle_selected(self, rect, modifiers=Qt.NoModifier):
        self._on_area(QgsGeometry.fromRect(rect), "rectangle", modifiers, is_rectangle=True)

    def on_polygon_selected(self, polygon, modifiers=Qt.NoModifier):
        self._on_area(polygon, "polygon", modifiers)

    def _on_area(self, area, what, modifiers, is_rectangle=False):
        """Start reading the mean of the points inside ``area`` (map CRS) in a task; plotted when it finishes."""
        self.cancel_area()  # a new selection replaces an area still being read
        layers, problem = self._target_layers()
        if problem:
            self.show_message(problem, warning=True)
            return None
        settings = self.canvas.mapSettings()
        cap = self.cap_spin.value()
        requests = [self.series_layer(layer).area_request(settings, area, cap, is_rectangle=is_rectangle)
                    for layer in layers]
        task = AreaMeanTask(requests, f"{TITLE}: mean of the points inside the {what}")
        task.setDependentLayers(layers)  # removing a layer cancels the task
        reference = self.selection.picking_reference

        def done(finished_task, ok):
            self._area_finished(finished_task, ok, what, cap, modifiers, reference)

        task.on_finished = done
        task.progressChanged.connect(self._on_area_progress)
        self.area_task = task
        self.progress_bar.setValue(0)
        self.progress_bar.setVisible(True)
        self.cancel_button.setVisible(True)
        names = ", ".join(f"“{layer.name()}”" for layer in layers)
        self.show_message(f"Reading the points inside the {what} in {names}…")
        QgsApplication.taskManager().addTask(task)
        return task

    def _on_area_progress(self, percent):
        if self.area_task is not None and self.sender() is self.area_task:
            self.progress_bar.setValue(int(percent))

    def cancel_area(self, message=None):
        """Stop waiting for (and cancel) the area being read, if any; ``message`` tells the user."""
        task, self.area_task = self.area_task, None
        self.progress_bar.setVisible(False)
        self.cancel_button.setVisible(False)
        if task is None:
            return
        task.on_finished = None
        self._disconnect_task(task)
        try:
            task.cancel()
        except RuntimeError:  # the task manager already deleted the finished task
            pass
        if message:
            self.show_message(message)

    def _disconnect_task(self, task):
        try:
            task.progressChanged.disconnect(self._on_area_progress)
        except (TypeError, RuntimeError):  # already disconnected, or the task is gone
            pass

    def _area_finished(self, task, ok, what, cap, modifiers, reference):
        self._disconnect_task(task)  # the task manager deletes the task later; the dock is done with it
        if task is not self.area_task:
            return
        self.area_task = None
        self.progress_bar.setVisible(False)
        self.cancel_button.setVisible(False)
        if task.error is not None:
            self.show_message(f"Could not average the points inside the {what}: {task.error}", warning=True)
            return
        if not ok:
            self.show_message(f"Cancelled: the points inside the {what} were not averaged.", warning=True)
            return
        found, notes = [], []
        for request, series in task.results:
            name = request.layer_name
            if series is None:
                notes.append(f"No measurement point inside the {what} in “{name}”.")
                continue
            if not np.isfinite(series.values).any():
                notes.append(f"The {series.n_points} points inside the {what} in “{name}” have no "
                             "displacement values (every date is NULL).")
                continue
            if series.capped:
                notes.append(f"“{name}”: more than {cap} points inside the {what}; the mean uses the first "
                             f"{cap} (raise “Area cap” or draw a smaller area).")
            found.append(series)
        self._use_selection(found, notes, modifiers, reference=reference)

    def _use_selection(self, found, notes, modifiers, reference=None):
        """Plot ``found`` series (or take them as references); ``reference`` overrides the Reference button."""
        if self.selection.picking_reference if reference is None else reference:
            if found:
                self.selection.set_references(found)
                self.reference_action.setChecked(False)
                names = ", ".join(s.label for s in found)
                notes.insert(0, f"Reference: {names}.")
                self.replot()
            self.show_message(" ".join(notes) if notes else "", warning=not found)
            return
        add = bool(int(modifiers) & int(Qt.ShiftModifier))
        if found:
            self.selection.show(found, add=add)
            self.replot()
        self.show_message(" ".join(notes) if notes else self.selection.status_text(),
                          warning=bool(notes) and not found)

    # ================================================================== plot
    def half_wavelength(self):
        """``(λ/2 in mm, λ in m)`` of the replica setting; exactly Sentinel-1's while the box shows 27.73 mm."""
        value = self.replica_spin.value()
        if abs(value - half_wavelength_mm()) < 0.5 * 10 ** -self.replica_spin.decimals():
            return half_wavelength_mm(), SENTINEL1_WAVELENGTH
        return value, 2.0 * value / 1000.0

    def plot_options(self):
        half, wavelength = self.half_wavelength()
        return dict(model=self.model_combo.currentData() or None, detrend=self.detrend_check.isChecked(),
                    error_bars=self.error_bars_check.isChecked(),
                    replica_mm=half if self.replicas_check.isChecked() else None, wavelength_m=wavelength)

    def replot(self):
        opts = self.plot_options()
        plotted = self.selection.prepare(detrend=opts["detrend"], model=opts["model"],
                                         wavelength_m=opts["wavelength_m"])
        self.plot.show_series(plotted, error_bars=opts["error_bars"], replica_mm=opts["replica_mm"],
                              title=self.selection.caption(detrend=opts["detrend"]))
        self.summary.setText(self.selection.summary_html())
        self._draw_highlights()

    def clear_series(self):
        self.cancel_area()
        self.selection.clear()
        self.plot.clear()
        self.summary.setText("")
        self._draw_highlights()
        self.show_message("Cleared. Click a measurement point on the map.")

    def reset_reference(self):
        self.selection.reset_references()
        self.reference_action.setChecked(False)
        self.replot()
        self.show_message("Reference reset: series are shown as stored in their layers.")

    # ================================================================== highlights
    def _draw_highlights(self, *_args):
        """Mark the plotted points/areas on the map in their plot colours, the references in black."""
        self.highlights.show(self.selection.marks())

    def highlight_colours(self):
        """Colours of the map highlights (plotted series first; white halos left out), for tests and the demo."""
        return self.highlights.colours()

    # ================================================================== export
    def _export_dialog(self, kind):
        if not self.selection.plotted:
            self.show_message("Nothing to export: plot a series first.", warning=True)
            return
        filters = {"png": "PNG image (*.png)", "svg": "SVG drawing (*.svg)", "csv": "CSV table (*.csv)"}
        folder = QgsSettings().value(f"{SETTINGS_GROUP}/export_folder", os.path.expanduser("~"), str)
        path, _ = QFileDialog.getSaveFileName(self, "Export time series", os.path.join(folder, f"timeseries.{kind}"),
                                              filters[kind])
        if not path:
            return
        path = with_suffix(path, "." + kind)
        set_setting("export_folder", os.path.dirname(path))
        self.export(path, kind)

    def export(self, path, kind=None):
        """Write the plot (png/svg) or the plotted series (csv) to ``path``; returns the path."""
        kind = kind or os.path.splitext(path)[1].lstrip(".").lower()
        try:
            if kind == "png":
                self.plot.export_png(path)
            elif kind == "svg":
                self.plot.export_svg(path)
            elif kind == "csv":
                write_csv(path, self.selection.plotted, reference_label=self.selection.reference_label(),
                          detrended=self.detrend_check.isChecked())
            else:
                raise ValueError(f"unknown export type {kind!r}")
        except OSError as err:
            self.show_message(f"Could not write {path}: {err.strerror or err}", warning=True)
            return None
        self.show_message(f"Wrote {path}")
        return path

    # ================================================================== layer tools
    def tool_layer(self):
        return self.layer_combo.currentLayer()

    def style_layer(self):
        ok, text = layertools.style_by_velocity(self.tool_layer())
        self.show_message(text, warning=not ok)
        return ok

    def apply_quality_filter(self):
        layer = self.tool_layer()
        ok, text = layertools.apply_quality_filter(layer, self.coherence_spin.value(), self.rmse_spin.value())
        self.show_message(text, warning=not ok)
        return ok

    def undo_quality_filter(self):
        ok, text = layertools.undo_quality_filter(self.tool_layer())
        self.show_message(text, warning=not ok)
        return ok

    # ================================================================== project life
    def on_current_layer_changed(self, layer):
        if layer is not None and is_point_layer(layer):
            self.layer_combo.setLayer(layer)

    def on_project_cleared(self):
        self.cancel_area()
        self.selection.clear_all()
        self._series_layers = {}
        self.reference_action.setChecked(False)
        self.plot.clear()
        self.summary.setText("")
        self.highlights.remove()
        self.show_message("New project: click a measurement point on the map.")

    def on_layers_removed(self, layer_ids):
        gone = set(layer_ids)
        if self.area_task is not None and any(r.layer_id in gone for r in self.area_task.requests):
            self.cancel_area("Cancelled: a layer of the area was removed.")
        for layer_id in gone:
            self._series_layers.pop(layer_id, None)
        if self.selection.forget_layers(gone):
            self.replot()

    def _on_dock_location(self, area):
        vertical = area in (Qt.LeftDockWidgetArea, Qt.RightDockWidgetArea)
        self.splitter.setOrientation(Qt.Vertical if vertical else Qt.Horizontal)

    def _on_closed(self):
        self.highlights.remove()
        if self.canvas.mapTool() is self.map_tool:
            self.canvas.unsetMapTool(self.map_tool)

    def teardown(self):
        """Disconnect everything, remove highlights and the map tool (plugin unload)."""
        for signal, slot in self._connections:
            try:
                signal.disconnect(slot)
            except (TypeError, RuntimeError):
                pass
        self._connections = []
        self.cancel_area()
        self._series_layers = {}
        self.selection.clear_all()
        self.highlights.remove()
        self.map_tool.reset()
        if self.canvas.mapTool() is self.map_tool:
            self.canvas.unsetMapTool(self.map_tool)
        self.plot.clear()


def _point_layer_filter():
    from qgis.core import QgsMapLayerProxyModel

    return QgsMapLayerProxyModel.PointLayer
