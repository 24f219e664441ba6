"""The "Ground-motion time series" dock: click measurement points, read their displacement history.

The dock owns the state and the logic; its parts each do one thing:

* :class:`~.panel.TimeSeriesPanel` — the widgets (toolbar, plot, summary, options), kept in step with the
  saved settings (:mod:`.settings`);
* :class:`~.selection.Selection` — which series are shown, in which colours, and the reference of each layer
  (plain Python);
* :class:`~.highlights.MapHighlights` — the marks of the shown series and references on the map;
* :class:`~.maptool.SeriesMapTool` — only reports clicks, rectangles and polygons.

Each click reads one feature by id after a limited spatial request
(:mod:`..layers.query`), so a click costs the same on a layer of 100 or 10⁷ points.

* Click: the nearest point within the search radius in the active layer, or with
  "All layers" the nearest point of every visible layer with date fields.
  Shift+click adds series; a rectangle or polygon plots the mean of the points
  inside with a ± 1σ band and the count.  Areas are read and averaged in a
  ``QgsTask`` (:mod:`..layers.areas`): the dock shows its progress and a Cancel button,
  and any new selection cancels an area still being read.
* Reference: the next point/area becomes the reference of its layer; its series
  is subtracted from every series of that layer (reset to go back).
* Model (linear/quadratic/cubic + seasonal), velocity ± std etc. come from
  :mod:`..core.egms.stats` (the code of ``egms:fittimeseries``); replicas at ± λ/2.
* Profile: draw a line (click its vertices, right click or double click to end); the points of the active
  layer within the buffer are plotted as velocity ± std against the distance along the line
  (:mod:`.profile`, the computation of ``egms:velocityprofile``); hovering names a point, a click plots its
  series.
* Export PNG/SVG/CSV (series and profile); layer tools: velocity styling and an undoable quality filter.

The dock connects every signal through :meth:`TimeSeriesDock._connect` and
:meth:`TimeSeriesDock.teardown` (plugin unload) disconnects them all.
"""

from __future__ import annotations

import os

import numpy as np
from qgis.core import QgsApplication, QgsGeometry, QgsProject
from qgis.gui import QgsDockWidget
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtWidgets import QFileDialog

from ..layers import quality as layertools
from ..layers.areas import AreaMeanTask
from ..layers.query import SeriesLayer, is_point_layer
from .export import with_suffix, write_csv, write_profile_csv
from .highlights import MapHighlights
from .maptool import POINT, SeriesMapTool
from .panel import TimeSeriesPanel
from .profile_mode import DATE_NAMES, ProfileMode
from .selection import Selection
from .settings import SETTINGS_GROUP, set_setting, setting

__all__ = ["TimeSeriesDock", "TITLE", "SETTINGS_GROUP"]

TITLE = "Ground-motion time series"


class TimeSeriesDock(ProfileMode, QgsDockWidget):
    """The dock; ``iface`` is injected (tests pass pytest-qgis' ``qgis_iface``)."""

    def __init__(self, iface, parent=None):
        super().__init__(TITLE, parent if parent is not None else iface.mainWindow())
        self.setObjectName("EgmsTimeSeriesDock")
        self.iface = iface
        self.canvas = iface.mapCanvas()
        self.selection = Selection()  # the series shown, their colours, the references
        self._series_layers = {}  # layer id -> (field names, SeriesLayer)
        self._connections = []  # (signal, slot) of every connection the dock made, undone in teardown()
        self.area_task = None  # the AreaMeanTask whose result the dock is waiting for
        self.profile = None  # the ProfileData shown in the profile plot
        self.profile_band = None  # the profile's line on the map
        self.highlights = MapHighlights(self.canvas)
        self.map_tool = SeriesMapTool(self.canvas)
        self.panel = TimeSeriesPanel(self)
        self.plot = self.panel.plot
        self.setWidget(self.panel)
        self.panel.load_settings()
        mode = setting("mode")
        self.set_mode(mode if mode in self.panel.mode_actions else POINT)
        self._connect_panel()
        self._connect(self.map_tool.pointClicked, self.on_point_clicked)
        self._connect(self.map_tool.rectangleSelected, self.on_rectangle_selected)
        self._connect(self.map_tool.polygonSelected, self.on_polygon_selected)
        self._connect(self.map_tool.lineDrawn, self.on_line_drawn)
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

    def _connect_panel(self):
        panel = self.panel
        self._connect(panel.modeChosen, self.set_mode)
        self._connect(panel.plotOptionsChanged, self.replot)
        self._connect(panel.reference_action.toggled, self._on_reference_toggled)
        self._connect(panel.reset_reference_action.triggered, self.reset_reference)
        self._connect(panel.clear_action.triggered, self.clear_series)
        for kind, action in panel.export_actions.items():
            self._connect(action.triggered, lambda _c=False, k=kind: self._export_dialog(k))
        self._connect(panel.cancel_button.clicked,
                      lambda _c=False: self.cancel_area("Cancelled: the area was not averaged."))
        self._connect(panel.style_button.clicked, self.style_layer)
        self._connect(panel.filter_button.clicked, self.apply_quality_filter)
        self._connect(panel.unfilter_button.clicked, self.undo_quality_filter)
        self._connect(panel.profile_plot.pointPicked, self.on_profile_point)
        self._connect(panel.buffer_spin.valueChanged, self._on_buffer_changed)

    def _connect(self, signal, slot):
        signal.connect(slot)
        self._connections.append((signal, slot))

    # ================================================================== messages
    def show_message(self, text, warning=False):
        self.panel.show_message(text, warning=warning)

    def message_text(self):
        return self.panel.message_text()

    @property
    def model_combo(self):
        """The model choice of the panel (``panel.model_combo``), by the name bench/bench_dock.py uses."""
        return self.panel.model_combo

    # ================================================================== tool
    def set_mode(self, mode):
        self.map_tool.setMode(mode)
        self.panel.check_mode(mode)
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
        if self.panel.all_layers_check.isChecked():
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

    def on_point_clicked(self, map_point, modifiers=Qt.KeyboardModifier.NoModifier):
        self.cancel_area()  # a new selection replaces an area still being read
        layers, problem = self._target_layers()
        if problem:
            self.show_message(problem, warning=True)
            return
        settings = self.canvas.mapSettings()
        radius_px = self.panel.radius_spin.value()
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

    def on_rectangle_selected(self, rect, modifiers=Qt.KeyboardModifier.NoModifier):
        self._on_area(QgsGeometry.fromRect(rect), "rectangle", modifiers, is_rectangle=True)

    def on_polygon_selected(self, polygon, modifiers=Qt.KeyboardModifier.NoModifier):
        self._on_area(polygon, "polygon", modifiers)

    def _on_area(self, area, what, modifiers, is_rectangle=False):
        """Start reading the mean of the points inside ``area`` (map CRS) in a task; plotted when it finishes."""
        self.cancel_area()  # a new selection replaces an area still being read
        layers, problem = self._target_layers()
        if problem:
            self.show_message(problem, warning=True)
            return None
        settings = self.canvas.mapSettings()
        cap = self.panel.cap_spin.value()
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
        self.panel.show_area_progress(True)
        names = ", ".join(f"“{layer.name()}”" for layer in layers)
        self.show_message(f"Reading the points inside the {what} in {names}…")
        QgsApplication.taskManager().addTask(task)
        return task

    def _on_area_progress(self, percent):
        if self.area_task is not None and self.sender() is self.area_task:
            self.panel.progress_bar.setValue(int(percent))

    def cancel_area(self, message=None):
        """Stop waiting for (and cancel) the area being read, if any; ``message`` tells the user."""
        task, self.area_task = self.area_task, None
        self.panel.show_area_progress(False)
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
        self.panel.show_area_progress(False)
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
                self.panel.reference_action.setChecked(False)
                names = ", ".join(s.label for s in found)
                notes.insert(0, f"Reference: {names}.")
                self.replot()
            self.show_message(" ".join(notes) if notes else "", warning=not found)
            return
        add = bool(modifiers & Qt.KeyboardModifier.ShiftModifier)
        if found:
            self.selection.show(found, add=add)
            self.replot()
        self.show_message(" ".join(notes) if notes else self.selection.status_text(),
                          warning=bool(notes) and not found)

    # ================================================================== plot
    def replot(self):
        opts = self.panel.plot_options()
        plotted = self.selection.prepare(detrend=opts["detrend"], model=opts["model"],
                                         wavelength_m=opts["wavelength_m"])
        self.plot.show_series(plotted, error_bars=opts["error_bars"], replica_mm=opts["replica_mm"],
                              title=self.selection.caption(detrend=opts["detrend"]))
        self.panel.summary.setText(self.selection.summary_html())
        self._draw_highlights()

    def clear_series(self):
        self.cancel_area()
        self.selection.clear()
        self.plot.clear()
        self.panel.summary.setText("")
        self._draw_highlights()
        self.show_message("Cleared. Click a measurement point on the map.")

    def reset_reference(self):
        self.selection.reset_references()
        self.panel.reference_action.setChecked(False)
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
        profile = kind.startswith("profile_")
        suffix = kind.split("_", 1)[-1]
        if profile and self.profile is None:
            self.show_message("Nothing to export: draw a profile line first (Profile mode).", warning=True)
            return
        if not profile and not self.selection.plotted:
            self.show_message("Nothing to export: plot a series first.", warning=True)
            return
        filters = {"png": "PNG image (*.png)", "svg": "SVG drawing (*.svg)", "csv": "CSV table (*.csv)"}
        folder = setting("export_folder")
        name = "profile" if profile else "timeseries"
        path, _ = QFileDialog.getSaveFileName(self, "Export velocity profile" if profile else "Export time series",
                                              os.path.join(folder, f"{name}.{suffix}"), filters[suffix])
        if not path:
            return
        path = with_suffix(path, "." + suffix)
        set_setting("export_folder", os.path.dirname(path))
        self.export(path, kind)

    def export(self, path, kind=None):
        """Write the plot (png/svg) or the plotted series (csv) to ``path``; ``kind`` "profile_png", "profile_svg",
        "profile_csv" writes the profile instead; returns the path."""
        kind = kind or os.path.splitext(path)[1].lstrip(".").lower()
        try:
            if kind.startswith("profile_") and self.profile is None:
                raise ValueError("no profile drawn")
            if kind == "profile_png":
                self.panel.profile_plot.export_png(path)
            elif kind == "profile_svg":
                self.panel.profile_plot.export_svg(path)
            elif kind == "profile_csv":
                write_profile_csv(path, self.profile)
            elif kind == "png":
                self.plot.export_png(path)
            elif kind == "svg":
                self.plot.export_svg(path)
            elif kind == "csv":
                write_csv(path, self.selection.plotted, reference_label=self.selection.reference_label(),
                          detrended=self.panel.detrend_check.isChecked())
            else:
                raise ValueError(f"unknown export type {kind!r}")
        except OSError as err:
            self.show_message(f"Could not write {path}: {err.strerror or err}", warning=True)
            return None
        self.show_message(f"Wrote {path}")
        return path

    # ================================================================== layer tools
    def tool_layer(self):
        return self.panel.layer_combo.currentLayer()

    def style_layer(self):
        ok, text = layertools.style_by_velocity(self.tool_layer())
        self.show_message(text, warning=not ok)
        return ok

    def apply_quality_filter(self):
        layer = self.tool_layer()
        ok, text = layertools.apply_quality_filter(layer, self.panel.coherence_spin.value(), self.panel.rmse_spin.value())
        self.show_message(text, warning=not ok)
        return ok

    def undo_quality_filter(self):
        ok, text = layertools.undo_quality_filter(self.tool_layer())
        self.show_message(text, warning=not ok)
        return ok

    # ================================================================== project life
    def on_current_layer_changed(self, layer):
        if layer is not None and is_point_layer(layer):
            self.panel.layer_combo.setLayer(layer)

    def on_project_cleared(self):
        self.cancel_area()
        self.selection.clear_all()
        self._series_layers = {}
        self.panel.reference_action.setChecked(False)
        self.plot.clear()
        self.panel.summary.setText("")
        self.highlights.remove()
        self.clear_profile()
        self.show_message("New project: click a measurement point on the map.")

    def on_layers_removed(self, layer_ids):
        gone = set(layer_ids)
        if self.area_task is not None and any(r.layer_id in gone for r in self.area_task.requests):
            self.cancel_area("Cancelled: a layer of the area was removed.")
        for layer_id in gone:
            self._series_layers.pop(layer_id, None)
        if self.profile is not None and self.profile.layer_id in gone:
            self.clear_profile()
        if self.selection.forget_layers(gone):
            self.replot()

    def _on_dock_location(self, area):
        self.panel.set_vertical(area in (Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea))

    def _on_closed(self):
        self.highlights.remove()
        self._remove_profile_line()
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
        self.clear_profile()
        self.plot.clear()

