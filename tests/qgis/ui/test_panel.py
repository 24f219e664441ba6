"""The dock's widgets (ui/panel.py): saved settings, the options it reads, the signals the dock relies on."""

from __future__ import annotations

import pytest
from qgis.core import QgsSettings

from egms_plugin.core.conventions import SENTINEL1_WAVELENGTH, half_wavelength_mm
from egms_plugin.ui.panel import TimeSeriesPanel
from egms_plugin.ui.settings import DEFAULTS, SETTINGS_GROUP, setting


@pytest.fixture
def panel(qgis_app):
    QgsSettings().remove(SETTINGS_GROUP)
    widget = TimeSeriesPanel()
    widget.load_settings()
    yield widget
    widget.deleteLater()
    QgsSettings().remove(SETTINGS_GROUP)


def test_defaults_are_shown(panel):
    assert panel.model_combo.currentData() == DEFAULTS["model"] and panel.radius_spin.value() == DEFAULTS["radius_px"]
    assert panel.replica_spin.value() == pytest.approx(27.73) and panel.cap_spin.value() == 5000
    assert panel.coherence_spin.value() == pytest.approx(0.7) and panel.rmse_spin.value() == pytest.approx(5.0)


def test_changes_are_saved_and_only_display_options_ask_for_a_redraw(panel):
    redraws = []
    panel.plotOptionsChanged.connect(lambda: redraws.append(setting("model")))  # saved before the redraw
    panel.model_combo.setCurrentIndex(panel.model_combo.findData("cubic"))
    assert redraws == ["cubic"]
    panel.detrend_check.setChecked(True)
    assert len(redraws) == 2 and setting("detrend") is True
    panel.radius_spin.setValue(20)
    panel.all_layers_check.setChecked(True)
    panel.cap_spin.setValue(100)
    assert len(redraws) == 2  # they apply to the next click, not to the plot
    assert setting("radius_px") == 20 and setting("all_layers") is True and setting("area_cap") == 100
    again = TimeSeriesPanel()
    again.load_settings()
    try:
        assert again.model_combo.currentData() == "cubic" and again.radius_spin.value() == 20
    finally:
        again.deleteLater()


def test_plot_options_and_the_exact_sentinel1_half_wavelength(panel):
    assert panel.plot_options() == dict(model=None, detrend=False, error_bars=False, replica_mm=None,
                                        wavelength_m=SENTINEL1_WAVELENGTH)
    panel.replicas_check.setChecked(True)
    assert panel.plot_options()["replica_mm"] == half_wavelength_mm()  # not the 27.73 the box shows
    panel.replica_spin.setValue(15.0)  # another sensor's λ/2
    options = panel.plot_options()
    assert options["replica_mm"] == 15.0 and options["wavelength_m"] == pytest.approx(0.030)


def test_mode_actions_emit_the_chosen_mode(panel):
    chosen = []
    panel.modeChosen.connect(chosen.append)
    panel.mode_actions["polygon"].trigger()
    panel.check_mode("rectangle")  # the dock showing a mode is no choice of the user
    assert chosen == ["polygon"] and panel.mode_actions["rectangle"].isChecked()
    assert not panel.mode_actions["polygon"].isChecked()  # exclusive


def test_area_progress_and_messages(panel):
    panel.show()
    panel.progress_bar.setValue(70)
    panel.show_area_progress(True)
    assert panel.progress_bar.isVisible() and panel.cancel_button.isVisible() and panel.progress_bar.value() == 0
    panel.show_area_progress(False)
    assert not panel.progress_bar.isVisible() and not panel.cancel_button.isVisible()
    panel.show_message("careful", warning=True)
    assert panel.message_text() == "careful" and "#a05a00" in panel.message.styleSheet()
