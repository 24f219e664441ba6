"""The widgets of the time-series dock: toolbar, message row, plot and summary, side panel.

:class:`TimeSeriesPanel` builds and lays out the widgets, keeps them in step
with the saved settings, and reads them (:meth:`TimeSeriesPanel.plot_options`);
it holds no selection and calls nothing of the dock.  The dock connects the
widgets' signals (and :attr:`TimeSeriesPanel.modeChosen`,
:attr:`TimeSeriesPanel.plotOptionsChanged`) to its own slots.
"""

from __future__ import annotations

import os

from qgis.core import QgsApplication
from qgis.gui import QgsCollapsibleGroupBox, QgsMapLayerComboBox
from qgis.PyQt.QtCore import Qt, pyqtSignal
from qgis.PyQt.QtGui import QIcon
from qgis.PyQt.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMenu,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..compat import QAction, QActionGroup, point_layer_filter
from ..core.conventions import SENTINEL1_WAVELENGTH, half_wavelength_mm
from .maptool import POINT, POLYGON, PROFILE, RECTANGLE
from .plot import TimeSeriesPlot
from .profile_plot import ProfilePlot
from .settings import set_setting, setting

MODEL_CHOICES = (("", "No model"), ("linear", "Linear + seasonal"), ("quadratic", "Quadratic + seasonal"),
                 ("cubic", "Cubic + seasonal"))
ICON_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "resources", "icons")
MODES = (
    (POINT, "/mActionIdentify.svg", "Point", "Click: the nearest point (Shift+click adds a series)"),
    (RECTANGLE, "/mActionSelectRectangle.svg", "Rectangle", "Drag a rectangle: mean of the points inside"),
    (POLYGON, "/mActionSelectPolygon.svg", "Polygon",
     "Click vertices, right click or double click to close: mean of the points inside"),
    (PROFILE, "/mActionMeasure.svg", "Profile",
     "Click the vertices of a line, right click or double click to end it: the velocity of the points within the "
     "buffer against the distance along the line (click a point of the profile for its series)"),
)
"""The selection modes of the toolbar: (mode, QGIS theme icon, text, tooltip)."""
EXPORTS = (("png", "Plot as PNG…"), ("svg", "Plot as SVG…"), ("csv", "Series as CSV…"),
           ("profile_png", "Profile as PNG…"), ("profile_svg", "Profile as SVG…"), ("profile_csv", "Profile as CSV…"))
PLOT_SETTINGS = ("model", "error_bars", "replicas", "replica_mm", "detrend")
"""Settings whose change redraws the plot (the others apply to the next selection or tool use)."""


def _theme_icon(name):
    return QgsApplication.getThemeIcon(name)


class TimeSeriesPanel(QWidget):
    """The dock's widget.  Its parts, for the dock to connect: :attr:`mode_actions` (mode → QAction),
    :attr:`reference_action`, :attr:`reset_reference_action`, :attr:`clear_action`, :attr:`export_actions`
    (kind → QAction), :attr:`cancel_button`, :attr:`style_button`, :attr:`filter_button`,
    :attr:`unfilter_button`; :attr:`plot` (:class:`~.plot.TimeSeriesPlot`) and :attr:`summary`."""

    modeChosen = pyqtSignal(str)  # noqa: N815  (the user picked a selection mode in the toolbar)
    plotOptionsChanged = pyqtSignal()  # noqa: N815  (a display option changed, and was saved)

    def __init__(self, parent=None):
        super().__init__(parent)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(4, 2, 4, 4)
        outer.setSpacing(3)
        outer.addWidget(self._build_toolbar())
        outer.addLayout(self._build_message_row())
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.addWidget(self._build_plot_area(self.splitter))
        self.splitter.addWidget(self._build_side_panel(self.splitter))
        self.splitter.setStretchFactor(0, 4)
        self.splitter.setStretchFactor(1, 1)
        outer.addWidget(self.splitter, 1)

    # ================================================================== construction
    def _build_toolbar(self):
        self.toolbar = QToolBar(self)
        self.toolbar.setIconSize(self.toolbar.iconSize() * 0.8)
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        group = QActionGroup(self)
        self.mode_actions = {}
        for mode, icon, text, tip in MODES:
            action = QAction(_theme_icon(icon), text, self)
            action.setToolTip(tip)
            action.setCheckable(True)
            action.triggered.connect(lambda _c=False, m=mode: self.modeChosen.emit(m))
            group.addAction(action)
            self.toolbar.addAction(action)
            self.mode_actions[mode] = action
        self.toolbar.addSeparator()
        self.reference_action = QAction(QIcon(os.path.join(ICON_DIR, "timeseries.svg")), "Reference", self)
        self.reference_action.setCheckable(True)
        self.reference_action.setToolTip("The next point or area you select becomes the reference of its layer: "
                                         "its series is subtracted from that layer's series")
        self.toolbar.addAction(self.reference_action)
        self.reset_reference_action = QAction(_theme_icon("/mActionUndo.svg"), "Reset reference", self)
        self.toolbar.addAction(self.reset_reference_action)
        self.toolbar.addSeparator()
        self.clear_action = QAction(_theme_icon("/mActionDeselectAll.svg"), "Clear", self)
        self.clear_action.setToolTip("Remove every series from the plot and the map")
        self.toolbar.addAction(self.clear_action)
        export_menu = QMenu(self)
        self.export_actions = {kind: export_menu.addAction(text) for kind, text in EXPORTS}
        export_button = QToolButton(self.toolbar)
        export_button.setText("Export")
        export_button.setIcon(_theme_icon("/mActionFileSave.svg"))
        export_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        export_button.setMenu(export_menu)
        self.toolbar.addWidget(export_button)
        return self.toolbar

    def _build_message_row(self):
        row = QHBoxLayout()
        row.setSpacing(6)
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        row.addWidget(self.message, 1)
        self.progress_bar = QProgressBar(self)  # an area being read (AreaMeanTask)
        self.progress_bar.setRange(0, 100)
        self.progress_bar.setFixedWidth(150)
        self.progress_bar.setMaximumHeight(16)
        self.progress_bar.setVisible(False)
        row.addWidget(self.progress_bar)
        self.cancel_button = QToolButton(self)
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip("Stop reading the points of the area")
        self.cancel_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.cancel_button.setAutoRaise(True)
        self.cancel_button.setVisible(False)
        row.addWidget(self.cancel_button)
        return row

    def _build_plot_area(self, parent):
        left = QWidget(parent)
        layout = QVBoxLayout(left)
        layout.setContentsMargins(0, 0, 0, 0)
        self.plot_splitter = QSplitter(Qt.Orientation.Vertical, left)
        self.profile_plot = ProfilePlot(self.plot_splitter)  # shown once a profile is drawn
        self.profile_plot.setVisible(False)
        self.plot = TimeSeriesPlot(self.plot_splitter)
        self.plot_splitter.addWidget(self.profile_plot)
        self.plot_splitter.addWidget(self.plot)
        layout.addWidget(self.plot_splitter, 1)
        self.summary = QLabel(left)
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        layout.addWidget(self.summary)
        return left

    def _build_side_panel(self, parent):
        """The Display and Layer tools boxes, scrolled when the dock is lower than they are (a low dock at the
        bottom leaves the map its room)."""
        scroll = QScrollArea(parent)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        panel = QWidget(scroll)
        layout = QVBoxLayout(panel)
        layout.setContentsMargins(4, 0, 0, 0)
        layout.addWidget(self._build_display_box(panel))
        layout.addWidget(self._build_tools_box(panel))
        layout.addStretch(1)
        scroll.setWidget(panel)
        scroll.setMinimumWidth(panel.sizeHint().width() + scroll.verticalScrollBar().sizeHint().width())
        return scroll

    def _build_display_box(self, parent):
        display = QgsCollapsibleGroupBox("Display", parent)
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
        self.buffer_spin = QDoubleSpinBox(display)
        self.buffer_spin.setRange(0.5, 10_000.0)
        self.buffer_spin.setDecimals(1)
        self.buffer_spin.setSingleStep(10.0)
        self.buffer_spin.setSuffix(" m")
        self.buffer_spin.setToolTip("Profile mode: points at most this far from the line are plotted (metres on the "
                                    "ground, also for layers in degrees)")
        form.addRow("Profile buffer", self.buffer_spin)
        return display

    def _build_tools_box(self, parent):
        tools = QgsCollapsibleGroupBox("Layer tools", parent)
        form = QFormLayout(tools)
        form.setContentsMargins(6, 4, 6, 4)
        self.layer_combo = QgsMapLayerComboBox(tools)
        self.layer_combo.setFilters(point_layer_filter())
        form.addRow(self.layer_combo)
        self.style_button = QPushButton("Style by velocity", tools)
        self.style_button.setToolTip("Diverging colours symmetric around 0, ± the 98th percentile of |v|, mm/yr")
        form.addRow(self.style_button)
        self.coherence_spin = QDoubleSpinBox(tools)
        self.coherence_spin.setRange(0.0, 1.0)
        self.coherence_spin.setSingleStep(0.05)
        self.coherence_spin.setDecimals(2)
        form.addRow("Coherence ≥", self.coherence_spin)
        self.rmse_spin = QDoubleSpinBox(tools)
        self.rmse_spin.setRange(0.0, 1000.0)
        self.rmse_spin.setDecimals(1)
        self.rmse_spin.setSuffix(" mm")
        form.addRow("RMSE ≤", self.rmse_spin)
        buttons = QHBoxLayout()
        self.filter_button = QPushButton("Filter", tools)
        self.filter_button.setToolTip("Keep points with temporal coherence ≥ and rmse ≤ the values (subset string)")
        self.unfilter_button = QPushButton("Undo filter", tools)
        buttons.addWidget(self.filter_button)
        buttons.addWidget(self.unfilter_button)
        form.addRow(buttons)
        return tools

    # ================================================================== settings
    def load_settings(self):
        """Show the saved settings, then save every change (and emit :attr:`plotOptionsChanged` after a change
        of :data:`PLOT_SETTINGS`).  The mode is the dock's (it sets the map tool too)."""
        self.model_combo.setCurrentIndex(max(0, self.model_combo.findData(setting("model"))))
        self.error_bars_check.setChecked(setting("error_bars"))
        self.replicas_check.setChecked(setting("replicas"))
        self.replica_spin.setValue(setting("replica_mm"))
        self.detrend_check.setChecked(setting("detrend"))
        self.all_layers_check.setChecked(setting("all_layers"))
        self.radius_spin.setValue(setting("radius_px"))
        self.cap_spin.setValue(setting("area_cap"))
        self.buffer_spin.setValue(setting("profile_buffer"))
        self.coherence_spin.setValue(setting("min_coherence"))
        self.rmse_spin.setValue(setting("max_rmse"))
        self.model_combo.currentIndexChanged.connect(lambda _i: self._changed("model", self.model_combo.currentData()))
        self.error_bars_check.toggled.connect(lambda v: self._changed("error_bars", v))
        self.replicas_check.toggled.connect(lambda v: self._changed("replicas", v))
        self.replica_spin.valueChanged.connect(lambda v: self._changed("replica_mm", v))
        self.detrend_check.toggled.connect(lambda v: self._changed("detrend", v))
        self.all_layers_check.toggled.connect(lambda v: self._changed("all_layers", v))
        self.radius_spin.valueChanged.connect(lambda v: self._changed("radius_px", v))
        self.cap_spin.valueChanged.connect(lambda v: self._changed("area_cap", v))
        self.buffer_spin.valueChanged.connect(lambda v: self._changed("profile_buffer", v))
        self.coherence_spin.valueChanged.connect(lambda v: self._changed("min_coherence", v))
        self.rmse_spin.valueChanged.connect(lambda v: self._changed("max_rmse", v))

    def _changed(self, key, value):
        set_setting(key, value)
        if key in PLOT_SETTINGS:
            self.plotOptionsChanged.emit()

    def check_mode(self, mode):
        self.mode_actions[mode].setChecked(True)

    # ================================================================== reading and showing
    def half_wavelength(self):
        """``(λ/2 in mm, λ in m)`` of the replica setting; exactly Sentinel-1's while the box shows 27.73 mm."""
        value = self.replica_spin.value()
        if abs(value - half_wavelength_mm()) < 0.5 * 10 ** -self.replica_spin.decimals():
            return half_wavelength_mm(), SENTINEL1_WAVELENGTH
        return value, 2.0 * value / 1000.0

    def plot_options(self):
        """What the display options ask of the plot: model name or None, detrend, error bars, replica offset (mm)
        or None, and the wavelength (m) of the statistics."""
        half, wavelength = self.half_wavelength()
        return dict(model=self.model_combo.currentData() or None, detrend=self.detrend_check.isChecked(),
                    error_bars=self.error_bars_check.isChecked(),
                    replica_mm=half if self.replicas_check.isChecked() else None, wavelength_m=wavelength)

    def show_message(self, text, warning=False):
        colour = "#a05a00" if warning else "#444444"
        self.message.setText(text)
        self.message.setStyleSheet(f"color: {colour};")

    def message_text(self):
        return self.message.text()

    def show_area_progress(self, visible):
        """Show (from 0 %) or hide the progress bar and Cancel button of an area being read."""
        if visible:
            self.progress_bar.setValue(0)
        self.progress_bar.setVisible(visible)
        self.cancel_button.setVisible(visible)

    def show_profile_plot(self, visible):
        """Show the profile plot above the series plot (or hide it)."""
        self.profile_plot.setVisible(visible)
        if visible:
            total = max(self.plot_splitter.height(), 2)
            self.plot_splitter.setSizes([total // 2, total - total // 2])

    def set_vertical(self, vertical):
        """Plot above the side panel (dock at the left or right of the window) or beside it."""
        self.splitter.setOrientation(Qt.Orientation.Vertical if vertical else Qt.Orientation.Horizontal)
