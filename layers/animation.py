"""Displacement animation: a point layer with date fields plays in QGIS' Temporal Controller.

Nothing is copied: the layer keeps one feature per point.  :func:`animate_layer`

* gives it a graduated renderer whose value is an expression of the frame's time
  (:func:`.timeline.displacement_expression`: the displacement interpolated between
  the dates around ``@map_start_time``, or at the nearest date), on the diverging
  ramp and classes of the velocity style (:func:`.styling.velocity_renderer`),
  symmetric around 0, limits ± the nice 98th percentile of |displacement| over all
  dates (of at most :data:`SAMPLE_POINTS` points), legend in mm;
* sets its temporal properties active in "redraw layer only" mode (QGIS ≥ 3.22):
  every feature is drawn at every frame and the map redraws when the frame changes
  (a fixed temporal range would let the canvas reuse its cached image);
* :func:`set_project_time` sets the project's time settings (range, step = the
  median date spacing in days) and, given the canvas' navigation object, its
  extents and frame step, and switches it to "animated", so ▶ plays at once.

:func:`animation_problem` is the user-facing check (no layer, not a point layer, no
date fields); :func:`run_action` is what the menu action calls.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from qgis.core import Qgis, QgsDateTimeRange, QgsFeatureRequest, QgsInterval, QgsVectorLayer
from qgis.PyQt.QtCore import QDate, QDateTime, Qt, QTime

from ..compat import NAVIGATION_ANIMATED, POINT_GEOMETRY, REQUEST_NO_GEOMETRY, TEMPORAL_DAYS, VECTOR_TEMPORAL_REDRAW
from ..core.io.points import date_fields
from . import styling, timeline

TITLE = "Animate displacement"
SAMPLE_POINTS = 20000
"""Points read to set the colour limits (the first ones of the layer)."""
FRAMES_PER_SECOND = 4.0
MODE_PROPERTY = "egms_plugin/animation_mode"
"""Layer custom property: the mode the layer is animated with ("interpolated" / "nearest")."""


@dataclass
class Animation:
    """What :func:`animate_layer` set up."""

    fields: list  # [(name, date), …] sorted by date
    mode: str
    limit: float  # mm, the colour range is ± limit
    step_days: int
    expression: str

    @property
    def dates(self):
        return [d for _n, d in self.fields]

    def summary(self):
        how = "interpolated between dates" if self.mode == "interpolated" else "nearest date"
        return (f"{len(self.fields)} dates {self.dates[0]:%Y-%m-%d} … {self.dates[-1]:%Y-%m-%d}, "
                f"colours ±{self.limit:g} mm, {how}, one frame every {self.step_days} days")


def numeric_date_fields(layer):
    """``[(name, date), …]`` of the layer's numeric date fields (the dock's date-field rules), sorted by date."""
    fields = layer.fields()
    return [(n, d) for n, d in date_fields(fields.names()) if fields.field(n).isNumeric()]


def animation_problem(layer):
    """Why ``layer`` cannot be animated, as a message for the message bar; None when it can."""
    if layer is None:
        return ("No layer selected: select a point layer with displacement dates (fields named YYYYMMDD, "
                "DYYYYMMDD or D_YYYYMMDD) in the Layers panel, then choose “Animate displacement” again.")
    name = layer.name()
    if not isinstance(layer, QgsVectorLayer):
        return f"“{name}” is not a vector layer: select a measurement-point layer to animate."
    if not layer.isValid():
        return f"“{name}” is not valid (its data source cannot be read)."
    if layer.geometryType() != POINT_GEOMETRY:
        return f"“{name}” is not a point layer: the animation colours measurement points."
    fields = numeric_date_fields(layer)
    if not fields:
        return (f"“{name}” has no displacement dates: the animation needs numeric fields named YYYYMMDD, "
                "DYYYYMMDD or D_YYYYMMDD (one per acquisition, mm).")
    if len(fields) < 2:
        return f"“{name}” has a single date field ({fields[0][0]}): there is nothing to animate."
    return None


def displacement_values(layer, fields, limit=SAMPLE_POINTS):
    """float64 (n_points, n_dates) of the date fields of the first ``limit`` points (NULL → NaN)."""
    from .series import values_from_rows

    index = [layer.fields().indexOf(n) for n, _d in fields]
    request = QgsFeatureRequest().setFlags(REQUEST_NO_GEOMETRY).setSubsetOfAttributes(index)
    if limit:
        request.setLimit(int(limit))
    rows = [[f.attributes()[i] for i in index] for f in layer.getFeatures(request)]
    if not rows:
        return np.empty((0, len(fields)))
    return values_from_rows(rows)


def animate_layer(layer, mode=timeline.DEFAULT_MODE):
    """Make ``layer`` animate by displacement (see the module); returns the :class:`Animation`.

    Raises ValueError with :func:`animation_problem`'s message when the layer cannot be animated.
    """
    problem = animation_problem(layer)
    if problem:
        raise ValueError(problem)
    fields = numeric_date_fields(layer)
    expression = timeline.displacement_expression(fields, mode)
    limit = styling.nice_limit(displacement_values(layer, fields))
    renderer = styling.velocity_renderer(np.array([-limit, limit]), field=expression, unit="mm")
    layer.setRenderer(renderer)
    props = layer.temporalProperties()
    props.setMode(VECTOR_TEMPORAL_REDRAW)
    props.setIsActive(True)
    layer.setCustomProperty(MODE_PROPERTY, mode)
    layer.triggerRepaint()
    return Animation(fields=fields, mode=mode, limit=float(limit), step_days=timeline.time_step_days(
        [d for _n, d in fields]), expression=expression)


def utc_midnight(date):
    """QDateTime of ``date`` at 00:00 UTC (the time axis of :mod:`.timeline`)."""
    return QDateTime(QDate(date.year, date.month, date.day), QTime(0, 0), Qt.TimeSpec.UTC)


def frame_range(animation):
    """The Temporal Controller's extent: first date … last date + one step, so the last frame starts on the last
    date."""
    dates = animation.dates
    return QgsDateTimeRange(utc_midnight(dates[0]), utc_midnight(dates[-1] + dt.timedelta(days=animation.step_days)))


def set_project_time(project, animation, navigation=None):
    """Project time settings (and the canvas' navigation object, when given) set to play ``animation``."""
    extent = frame_range(animation)
    settings = project.timeSettings()
    settings.setTemporalRange(extent)
    settings.setTimeStepUnit(TEMPORAL_DAYS)
    settings.setTimeStep(float(animation.step_days))
    settings.setFramesPerSecond(FRAMES_PER_SECOND)
    if navigation is None or not hasattr(navigation, "setTemporalExtents"):
        return
    navigation.setNavigationMode(NAVIGATION_ANIMATED)
    navigation.setTemporalExtents(extent)
    navigation.setFrameDuration(QgsInterval(float(animation.step_days), TEMPORAL_DAYS))
    navigation.setFramesPerSecond(FRAMES_PER_SECOND)
    navigation.setCurrentFrameNumber(0)


def _show_temporal_controller(iface):
    """Open the Temporal Controller panel (QGIS' own action), if this QGIS has it under its usual name."""
    from ..compat import QAction

    window = iface.mainWindow() if hasattr(iface, "mainWindow") else None
    action = window.findChild(QAction, "mActionTemporalController") if window is not None else None
    if action is not None and action.isCheckable() and not action.isChecked():
        action.trigger()


def run_action(iface, mode=None):
    """The "Animate displacement" action on the active layer: animate it, or say why not in the message bar.

    ``mode`` None: the layer's previous mode, else interpolated.  Returns the :class:`Animation` or None.
    """
    from qgis.core import QgsProject

    bar = iface.messageBar()
    layer = iface.activeLayer()
    problem = animation_problem(layer)
    if problem:
        bar.pushMessage(TITLE, problem, level=Qgis.MessageLevel.Warning, duration=10)
        return None
    if mode is None:
        mode = layer.customProperty(MODE_PROPERTY, timeline.DEFAULT_MODE)
        mode = mode if mode in timeline.MODES else timeline.DEFAULT_MODE
    animation = animate_layer(layer, mode)
    canvas = iface.mapCanvas()
    set_project_time(QgsProject.instance(), animation, canvas.temporalController() if canvas is not None else None)
    _show_temporal_controller(iface)
    text = f"“{layer.name()}”: {animation.summary()}. Press ▶ in the Temporal Controller to play."
    _push_with_switch(iface, text, layer, animation.mode)
    return animation


def _push_with_switch(iface, text, layer, mode):
    """The success message, with a button that re-animates the layer in the other mode."""
    bar = iface.messageBar()
    other = "nearest" if mode == "interpolated" else "interpolated"
    try:
        from qgis.PyQt.QtWidgets import QPushButton

        widget = bar.createMessage(TITLE, text)
        button = QPushButton("Nearest date" if other == "nearest" else "Interpolate", widget)
        layer_id = layer.id()

        def switch():
            if iface.activeLayer() is None or iface.activeLayer().id() != layer_id:
                iface.setActiveLayer(layer)
            bar.popWidget(widget)
            run_action(iface, other)

        button.clicked.connect(switch)
        widget.layout().addWidget(button)
        bar.pushWidget(widget, Qgis.MessageLevel.Success, 15)
    except (AttributeError, TypeError):  # a message bar without widgets (tests' mock): text only
        bar.pushMessage(TITLE, text, level=Qgis.MessageLevel.Success, duration=15)
