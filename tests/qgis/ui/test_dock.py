"""The time-series dock driven with real mouse events on a map canvas (pytest-qgis, offscreen).

A memory layer holds points with known series; clicks, Shift+clicks, rectangles
and polygons are real QMouseEvents at the canvas pixels of those points, and the
assertions read the arrays back from the pyqtgraph items the dock drew.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import time

import numpy as np
import pytest
from qgis.core import (
    QgsFeature,
    QgsGeometry,
    QgsPointXY,
    QgsProject,
    QgsRectangle,
    QgsSettings,
    QgsVectorFileWriter,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QPoint, Qt
from qgis.PyQt.QtGui import QImage
from qgis.PyQt.QtTest import QTest
from qgis.PyQt.QtWidgets import QApplication

from egms_plugin.core.conventions import half_wavelength_mm
from egms_plugin.core.egms import stats
from egms_plugin.layers import query as layerquery
from egms_plugin.layers.series import to_timestamps
from egms_plugin.ui import dock as dock_module

DATES = [dt.date(2020, 1, 3) + dt.timedelta(days=12 * k) for k in range(45)]
X0, Y0, STEP = 4_000_000.0, 3_000_000.0, 100.0  # EPSG:3035, a 5 × 4 grid of points 100 m apart
NULL_DATES = (5, 6, 30)  # point p03 has these dates NULL
ALL_NULL = 7  # point p07 has every date NULL

# writeAsVectorFormatV3 from QGIS 3.20; V2 is deprecated from 3.40
WRITE_VECTOR = getattr(QgsVectorFileWriter, "writeAsVectorFormatV3", None) or QgsVectorFileWriter.writeAsVectorFormatV2


def _truth():
    """Known series of 20 points: velocity, seasonal term and noise."""
    rng = np.random.default_rng(5)
    t = stats.egms_time(DATES)
    values = np.empty((20, len(DATES)))
    for k in range(20):
        values[k] = (k - 10) * 1.5 * t + (1 + k % 3) * np.sin(2 * np.pi * t + k) + 0.3 * k * t * t
        values[k] += rng.normal(0, 0.8, len(DATES))
    values = np.round(values, 1)
    values[3, list(NULL_DATES)] = np.nan
    values[ALL_NULL] = np.nan
    return values


TRUTH = _truth()



def position(k):
    return QgsPointXY(X0 + STEP * (k % 5), Y0 + STEP * (k // 5))


def make_layer(name="ascending", prefix="", values=TRUTH, offset=0.0, with_dates=True):
    fields = "&".join(["field=pid:string", "field=rmse:double", "field=temporal_coherence:double",
                       "field=mean_velocity:double"]
                      + ([f"field={prefix}{d:%Y%m%d}:double" for d in DATES] if with_dates else []))
    layer = QgsVectorLayer(f"Point?crs=EPSG:3035&{fields}", name, "memory")
    features = []
    for k in range(values.shape[0]):
        f = QgsFeature(layer.fields())
        p = position(k)
        f.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(p.x() + offset, p.y() + offset)))
        series = [None if math.isnan(v) else float(v) for v in values[k]] if with_dates else []
        f.setAttributes([f"p{k:02d}", 0.5 + 0.1 * k, 0.5 + 0.025 * k, (k - 10) * 1.5] + series)
        features.append(f)
    assert layer.dataProvider().addFeatures(features)
    layer.updateExtents()
    return layer


@pytest.fixture
def canvas(qgis_canvas, qgis_parent):
    """The pytest-qgis canvas, shown at 600 × 600 px over the points (EPSG:3035)."""
    qgis_parent.resize(700, 700)
    qgis_canvas.resize(600, 600)
    qgis_parent.show()
    qgis_canvas.show()
    from qgis.core import QgsCoordinateReferenceSystem

    qgis_canvas.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:3035"))
    QApplication.processEvents()
    yield qgis_canvas
    qgis_canvas.unsetMapTool(qgis_canvas.mapTool())
    qgis_canvas.setLayers([])
    QgsProject.instance().removeAllMapLayers()


@pytest.fixture
def layer(canvas, qgis_iface):
    lyr = make_layer()
    QgsProject.instance().addMapLayer(lyr)
    canvas.setLayers([lyr])
    canvas.setExtent(QgsRectangle(X0 - 150, Y0 - 150, X0 + 550, Y0 + 450))
    QApplication.processEvents()
    qgis_iface.setActiveLayer(lyr)
    return lyr


@pytest.fixture
def dock(qgis_iface, canvas):
    QgsSettings().remove(dock_module.SETTINGS_GROUP)
    d = dock_module.TimeSeriesDock(qgis_iface)
    d.resize(1000, 420)
    d.show()
    d.activate_tool()
    QApplication.processEvents()
    yield d
    d.teardown()
    d.deleteLater()
    QgsSettings().remove(dock_module.SETTINGS_GROUP)


def pixel(canvas, point):
    p = canvas.getCoordinateTransform().transform(point)
    return QPoint(int(round(p.x())), int(round(p.y())))


def click(canvas, point, modifiers=Qt.KeyboardModifier.NoModifier, button=Qt.MouseButton.LeftButton):
    QTest.mouseClick(canvas.viewport(), button, modifiers, pixel(canvas, point))


def drag(canvas, a, b, modifiers=Qt.KeyboardModifier.NoModifier, dock=None):
    """Press at ``a``, move and release at ``b``; with ``dock``, wait until the area it selected is plotted."""
    QTest.mousePress(canvas.viewport(), Qt.MouseButton.LeftButton, modifiers, pixel(canvas, a))
    QTest.mouseMove(canvas.viewport(), pixel(canvas, b))
    QTest.mouseRelease(canvas.viewport(), Qt.MouseButton.LeftButton, modifiers, pixel(canvas, b))
    if dock is not None:
        wait_for_area(dock)


def wait_for_area(dock, timeout=10.0):
    """Process events until the dock's area task has finished and the dock has used its result."""
    deadline = time.monotonic() + timeout
    while dock.area_task is not None:
        assert time.monotonic() < deadline, f"the area task did not finish within {timeout} s"
        QTest.qWait(5)


def near(k, dx=3.0, dy=-2.0):
    """A map point a few metres (≈ 3 px at 1.17 m/px) off point k."""
    p = position(k)
    return QgsPointXY(p.x() + dx, p.y() + dy)


def plotted_arrays(dock):
    return [(d.data.getOriginalDataset()[0], d.data.getOriginalDataset()[1]) for d in dock.plot.drawn]


# --------------------------------------------------------------------------- clicks
def test_click_plots_the_nearest_points_series(layer, dock, canvas):
    click(canvas, near(3))
    assert len(dock.plot.drawn) == 1
    x, y = plotted_arrays(dock)[0]
    np.testing.assert_array_equal(x, to_timestamps(DATES))
    np.testing.assert_array_equal(y, TRUTH[3])  # NULL dates stay NaN (gaps)
    assert np.isnan(y[list(NULL_DATES)]).all()
    legend = [label.text for _sample, label in dock.plot.legend.items]
    assert any("ascending" in text and "p03" in text for text in legend), legend
    # highlighted on the map in the series' colour
    colour = dock.plot.drawn[0].plotted.colour
    assert dock.highlight_colours() == [colour]
    assert dock.plot.drawn[0].data.opts["pen"].color().name() == colour


def test_shift_click_adds_and_plain_click_replaces(layer, dock, canvas):
    click(canvas, near(12))
    click(canvas, near(18), Qt.KeyboardModifier.ShiftModifier)
    ids = [d.plotted.series.point_id for d in dock.plot.drawn]
    assert ids == ["p12", "p18"]
    for (_x, y), k in zip(plotted_arrays(dock), (12, 18)):
        np.testing.assert_array_equal(y, TRUTH[k])
    colours = [d.plotted.colour for d in dock.plot.drawn]
    assert len(set(colours)) == 2 and dock.highlight_colours() == colours
    click(canvas, near(1))
    assert [d.plotted.series.point_id for d in dock.plot.drawn] == ["p01"]


def test_rectangle_plots_mean_with_std_band_and_count(layer, dock, canvas):
    dock.set_mode("rectangle")
    # points 6, 7 (all NULL), 8, 11, 12, 13: columns 1-3 of rows 1-2
    drag(canvas, QgsPointXY(X0 + 50, Y0 + 50), QgsPointXY(X0 + 350, Y0 + 250), dock=dock)
    inside = [6, 7, 8, 11, 12, 13]
    drawn = dock.plot.drawn[0]
    series = drawn.plotted.series
    assert sorted(series.fids) == sorted(k + 1 for k in inside)  # memory-layer fids start at 1
    assert series.n_points == 6
    ref = TRUTH[inside]
    np.testing.assert_allclose(drawn.data.getOriginalDataset()[1], np.nanmean(ref, axis=0), rtol=1e-12)
    np.testing.assert_allclose(drawn.plotted.std, np.nanstd(ref, axis=0), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(series.count, np.isfinite(ref).sum(axis=0))
    assert series.count.max() == 5  # the all-NULL point counts nowhere
    assert drawn.band is not None
    lo, hi = drawn.band.curves[0].yData, drawn.band.curves[1].yData
    np.testing.assert_allclose(hi - lo, 2 * np.nanstd(ref, axis=0), rtol=1e-9)
    assert "6 points" in series.point_id and dock.panel.summary.text().count("mean of 6 points") == 1  # said once
    assert dock.highlight_colours()[0] == drawn.plotted.colour  # area outline in the plot colour


def test_polygon_plots_mean_of_the_points_inside(layer, dock, canvas):
    dock.set_mode("polygon")
    # a triangle around points 0, 1, 5 (not 6)
    for p in (QgsPointXY(X0 - 50, Y0 - 50), QgsPointXY(X0 + 160, Y0 - 50), QgsPointXY(X0 - 50, Y0 + 160)):
        click(canvas, p)
    click(canvas, QgsPointXY(X0 - 50, Y0 + 160), button=Qt.MouseButton.RightButton)
    wait_for_area(dock)
    drawn = dock.plot.drawn[0]
    assert sorted(drawn.plotted.series.fids) == [1, 2, 6]
    np.testing.assert_allclose(drawn.data.getOriginalDataset()[1], np.nanmean(TRUTH[[0, 1, 5]], axis=0), rtol=1e-12)


def test_reference_point_is_subtracted_and_reset(layer, dock, canvas):
    click(canvas, near(12))
    dock.panel.reference_action.setChecked(True)
    click(canvas, near(16))
    assert not dock.panel.reference_action.isChecked()
    np.testing.assert_allclose(plotted_arrays(dock)[0][1], TRUTH[12] - TRUTH[16], rtol=0, atol=1e-12)
    assert "relative to ascending · p16" in dock.plot.caption
    assert "#000000" in dock.highlight_colours()  # the reference is marked on the map
    click(canvas, near(3))  # new series are referred too; NULLs of either stay gaps
    np.testing.assert_allclose(plotted_arrays(dock)[0][1], TRUTH[3] - TRUTH[16], rtol=0, atol=1e-12)
    dock.reset_reference()
    np.testing.assert_array_equal(plotted_arrays(dock)[0][1], TRUTH[3])


def test_reference_area_is_subtracted(layer, dock, canvas):
    click(canvas, near(0))
    dock.panel.reference_action.setChecked(True)
    dock.set_mode("rectangle")
    drag(canvas, QgsPointXY(X0 + 250, Y0 + 150), QgsPointXY(X0 + 450, Y0 + 350), dock=dock)  # points 13, 14, 18, 19
    expected = TRUTH[0] - np.nanmean(TRUTH[[13, 14, 18, 19]], axis=0)
    np.testing.assert_allclose(plotted_arrays(dock)[0][1], expected, rtol=0, atol=1e-12)


def test_model_overlay_and_statistics_equal_core_stats(layer, dock, canvas):
    dock.panel.model_combo.setCurrentIndex(dock.panel.model_combo.findData("cubic"))
    click(canvas, near(3))
    drawn = dock.plot.drawn[0]
    from egms_plugin.layers.series import model_dates

    dense = model_dates(DATES)
    _coef, curve = stats.fit_model(TRUTH[3], DATES, "cubic", eval_dates=dense)
    mx, my = drawn.model.getOriginalDataset()
    np.testing.assert_array_equal(mx, to_timestamps(dense))
    np.testing.assert_allclose(my, curve, rtol=1e-12, atol=1e-12)
    s = stats.egms_statistics(TRUTH[3][None, :], DATES)
    for key in stats.STAT_FIELDS:
        assert drawn.plotted.statistics[key] == pytest.approx(s[key][0], rel=1e-12), key
    text = dock.panel.summary.text()
    assert f"v = {s['mean_velocity'][0]:.2f} ± {s['mean_velocity_std'][0]:.2f} mm/yr" in text
    assert f"a = {s['acceleration'][0]:.2f} ± {s['acceleration_std'][0]:.2f}" in text
    assert f"seasonality = {s['seasonality'][0]:.1f} ± {s['seasonality_std'][0]:.1f} mm" in text
    # switching the model redraws from the same data
    dock.panel.model_combo.setCurrentIndex(dock.panel.model_combo.findData("linear"))
    _coef, curve = stats.fit_model(TRUTH[3], DATES, "linear", eval_dates=dense)
    np.testing.assert_allclose(dock.plot.drawn[0].model.getOriginalDataset()[1], curve, rtol=1e-12, atol=1e-12)


def test_detrend_removes_the_linear_model_trend(layer, dock, canvas):
    click(canvas, near(2))
    dock.panel.detrend_check.setChecked(True)
    y = plotted_arrays(dock)[0][1]
    coef, _ = stats.fit_model(TRUTH[2], DATES, "linear")
    t = stats.egms_time(DATES)
    np.testing.assert_allclose(y, TRUTH[2] - (coef[0] * t + coef[1]), atol=1e-9)
    assert abs(dock.selection.plotted[0].statistics["mean_velocity"]) < 1e-9  # nothing left of the velocity


def test_replicas_and_error_bars(layer, dock, canvas):
    dock.panel.replicas_check.setChecked(True)
    dock.panel.error_bars_check.setChecked(True)
    click(canvas, near(4))
    drawn = dock.plot.drawn[0]
    h = half_wavelength_mm()
    assert dock.panel.replica_spin.value() == pytest.approx(h, abs=0.005)  # 27.73 mm for Sentinel-1
    up, down = (r.getOriginalDataset()[1] for r in drawn.replicas)
    np.testing.assert_allclose(up - TRUTH[4], h, rtol=1e-12)  # exactly λ/2 of Sentinel-1 by default
    np.testing.assert_allclose(down - TRUTH[4], -h, rtol=1e-12)
    dock.panel.replica_spin.setValue(15.0)  # another sensor's λ/2, typed by the user
    up = dock.plot.drawn[0].replicas[0].getOriginalDataset()[1]
    np.testing.assert_allclose(up - TRUTH[4], 15.0, rtol=1e-12)
    bars = drawn.error_bars.opts
    assert bars["top"] == pytest.approx(0.5 + 0.1 * 4) and bars["bottom"] == pytest.approx(0.9)  # the rmse field


def test_export_csv_png_svg(layer, dock, canvas, tmp_path):
    dock.panel.model_combo.setCurrentIndex(dock.panel.model_combo.findData("linear"))
    click(canvas, near(3))
    click(canvas, near(9), Qt.KeyboardModifier.ShiftModifier)
    path = dock.export(str(tmp_path / "series.csv"))
    rows = list(csv.DictReader(open(path, encoding="utf-8")))
    assert len(rows) == 2 * len(DATES)
    by_point = {}
    for row in rows:
        by_point.setdefault(row["point_id"], []).append(row)
    assert set(by_point) == {"p03", "p09"}
    for pid, k in (("p03", 3), ("p09", 9)):
        got = np.array([float(r["displacement_mm"]) if r["displacement_mm"] else np.nan for r in by_point[pid]])
        np.testing.assert_array_equal(got, TRUTH[k])
        assert [r["date"] for r in by_point[pid]] == [d.isoformat() for d in DATES]
        assert {r["layer"] for r in by_point[pid]} == {"ascending"}
        coef, model = stats.fit_model(TRUTH[k], DATES, "linear")
        np.testing.assert_allclose([float(r["model_mm"]) for r in by_point[pid]], model, rtol=1e-12)

    png = dock.export(str(tmp_path / "plot.png"))
    image = QImage(png)
    assert image.width() >= 1000
    grey = np.array([[image.pixelColor(x, y).value() for x in range(0, image.width(), 7)]
                     for y in range(0, image.height(), 7)], dtype=float)
    assert grey.std() > 10  # curves, axes and text, not a blank canvas
    svg = dock.export(str(tmp_path / "plot.svg"))
    text = open(svg, encoding="utf-8").read()
    assert text.lstrip().startswith("<?xml") and "<path" in text


# --------------------------------------------------------------------------- messages
def test_click_on_empty_area_says_so(layer, dock, canvas):
    click(canvas, QgsPointXY(X0 + 50, Y0 + 50))  # 70 m from every point ≈ 60 px > 8 px radius
    assert dock.plot.drawn == []
    assert "No measurement point within 8 px" in dock.message_text()


def test_layer_without_date_fields_says_so(canvas, dock, qgis_iface):
    lyr = make_layer(name="plain points", with_dates=False)
    QgsProject.instance().addMapLayer(lyr)
    canvas.setLayers([lyr])
    canvas.setExtent(QgsRectangle(X0 - 150, Y0 - 150, X0 + 550, Y0 + 450))
    qgis_iface.setActiveLayer(lyr)
    click(canvas, near(3))
    assert dock.plot.drawn == []
    assert "“plain points” has no date fields" in dock.message_text()


def test_all_null_point_says_so(layer, dock, canvas):
    click(canvas, near(ALL_NULL))
    assert dock.plot.drawn == []
    assert f"Point p{ALL_NULL:02d} of “ascending” has no displacement values" in dock.message_text()


def test_no_point_layer_selected_says_so(layer, dock, canvas, qgis_iface):
    qgis_iface._active_layer_id = None
    click(canvas, near(3))
    assert dock.plot.drawn == [] and "Select a layer of measurement points" in dock.message_text()


# --------------------------------------------------------------------------- layers and life cycle
def test_all_layers_plots_every_visible_layer(layer, dock, canvas):
    desc_values = -TRUTH * 0.5
    descending = make_layer(name="descending", prefix="D_", values=desc_values, offset=6.0)
    QgsProject.instance().addMapLayer(descending)
    canvas.setLayers([layer, descending])
    dock.panel.all_layers_check.setChecked(True)
    click(canvas, near(11))
    got = {d.plotted.series.layer_name: d.data.getOriginalDataset()[1] for d in dock.plot.drawn}
    assert set(got) == {"ascending", "descending"}
    np.testing.assert_array_equal(got["ascending"], TRUTH[11])
    np.testing.assert_array_equal(got["descending"], desc_values[11])


def test_area_cap_is_reported(layer, dock, canvas):
    dock.panel.cap_spin.setValue(10)
    dock.set_mode("rectangle")
    drag(canvas, QgsPointXY(X0 - 100, Y0 - 100), QgsPointXY(X0 + 500, Y0 + 400), dock=dock)
    series = dock.plot.drawn[0].plotted.series
    assert series.capped and series.n_points == 10
    assert "more than 10 points inside the rectangle" in dock.message_text()


def dense_layer(xy):
    """Memory point layer (EPSG:3035) of the points ``xy``, fid k + 1 with pid "k" and one date field = k."""
    lyr = QgsVectorLayer("Point?crs=EPSG:3035&field=pid:string&field=20200101:double", "dense", "memory")
    feats = []
    for k, (x, y) in enumerate(xy):
        f = QgsFeature(lyr.fields())
        f.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(x, y)))
        f.setAttributes([str(k), float(k)])
        feats.append(f)
    lyr.dataProvider().addFeatures(feats)
    return lyr


def test_nearest_is_exact_when_the_search_square_overflows(canvas, monkeypatch):
    """A dense layer and a tiny request limit force the narrowing search; it must still find the nearest."""
    rng = np.random.default_rng(3)
    n = 3000
    xy = np.column_stack([X0 + rng.uniform(0, 500, n), Y0 + rng.uniform(0, 500, n)])
    lyr = dense_layer(xy)
    QgsProject.instance().addMapLayer(lyr)
    canvas.setExtent(QgsRectangle(X0, Y0, X0 + 500, Y0 + 500))
    settings = canvas.mapSettings()
    source = layerquery.SeriesLayer(lyr)
    for _ in range(25):
        q = rng.uniform(0, 500, 2) + (X0, Y0)
        d = np.hypot(xy[:, 0] - q[0], xy[:, 1] - q[1])
        fid, dist, _pt = source.nearest(settings, QgsPointXY(*q), radius=60.0, limit=8)
        assert fid == int(np.argmin(d)) + 1 and dist == pytest.approx(d.min(), rel=1e-9)
    assert source.nearest(settings, QgsPointXY(X0 - 1000, Y0), radius=60.0, limit=8) is None


def test_settings_are_remembered(qgis_iface, dock):
    dock.panel.model_combo.setCurrentIndex(dock.panel.model_combo.findData("quadratic"))
    dock.panel.radius_spin.setValue(15)
    dock.panel.all_layers_check.setChecked(True)
    dock.set_mode("polygon")
    again = dock_module.TimeSeriesDock(qgis_iface)
    try:
        assert again.panel.model_combo.currentData() == "quadratic"
        assert again.panel.radius_spin.value() == 15 and again.panel.all_layers_check.isChecked()
        assert again.map_tool.mode == "polygon"
    finally:
        again.teardown()
        again.deleteLater()


def test_teardown_disconnects_every_signal_the_dock_connected(dock):
    panel, tool, project = dock.panel, dock.map_tool, QgsProject.instance()
    signals = [(panel, panel.plotOptionsChanged), (panel, panel.modeChosen), (tool, tool.pointClicked),
               (tool, tool.polygonSelected), (panel.reference_action, panel.reference_action.toggled),
               (panel.cancel_button, panel.cancel_button.clicked), (panel.style_button, panel.style_button.clicked)]
    before = [sender.receivers(signal) for sender, signal in signals]
    cleared = project.receivers(project.cleared)
    assert all(n >= 1 for n in before)
    dock.teardown()
    assert [sender.receivers(signal) for sender, signal in signals] == [0] * len(signals)
    assert project.receivers(project.cleared) == cleared - 1


def test_dock_survives_project_changes(layer, dock, canvas):
    click(canvas, near(3))
    assert dock.plot.drawn and dock.highlight_colours()
    QgsProject.instance().removeMapLayer(layer.id())  # the plotted layer goes: its series go
    assert dock.plot.drawn == [] and dock.highlight_colours() == []
    again = make_layer()
    QgsProject.instance().addMapLayer(again)
    canvas.setLayers([again])
    dock.iface.setActiveLayer(again)
    click(canvas, near(5))
    assert [d.plotted.series.point_id for d in dock.plot.drawn] == ["p05"]
    QgsProject.instance().clear()  # a new project: the dock stays, empty, and still works
    assert dock.plot.drawn == [] and dock.highlight_colours() == [] and "New project" in dock.message_text()
    third = make_layer()
    QgsProject.instance().addMapLayer(third)
    canvas.setLayers([third])
    dock.iface.setActiveLayer(third)
    click(canvas, near(6))
    np.testing.assert_array_equal(plotted_arrays(dock)[0][1], TRUTH[6])


def test_quality_filter_applies_and_undoes(layer, dock, canvas):
    layer.setSubsetString('"mean_velocity" < 10')  # a filter the user had: restored by undo
    assert layer.featureCount() == 17
    dock.panel.layer_combo.setLayer(layer)
    dock.panel.coherence_spin.setValue(0.6)  # coherence 0.5 + 0.025 k >= 0.6  <=>  k >= 4
    dock.panel.rmse_spin.setValue(2.0)  # rmse 0.5 + 0.1 k <= 2.0  <=>  k <= 15
    assert dock.apply_quality_filter()
    kept = sorted(int(f["pid"][1:]) for f in layer.getFeatures())
    assert kept == [k for k in range(4, 16) if (k - 10) * 1.5 < 10]
    assert "temporal_coherence" in layer.subsetString() and "mean_velocity" in layer.subsetString()
    click(canvas, near(2))  # filtered out: clicks do not see it
    assert "No measurement point" in dock.message_text()
    dock.panel.rmse_spin.setValue(1.0)  # applying again replaces the filter instead of stacking
    assert dock.apply_quality_filter()
    assert sorted(int(f["pid"][1:]) for f in layer.getFeatures()) == list(range(4, 6))
    assert dock.undo_quality_filter()
    assert layer.subsetString() == '"mean_velocity" < 10' and layer.featureCount() == 17
    assert not dock.undo_quality_filter() and "No quality filter" in dock.message_text()


def test_quality_filter_on_layer_without_quality_fields(canvas, dock):
    lyr = QgsVectorLayer("Point?crs=EPSG:3035&field=pid:string&field=20200101:double", "bare", "memory")
    QgsProject.instance().addMapLayer(lyr)
    dock.panel.layer_combo.setLayer(lyr)
    assert not dock.apply_quality_filter()
    assert "has no temporal_coherence or rmse/rmse_ts field" in dock.message_text()
    assert lyr.subsetString() == ""


def test_date_field_conventions():
    names = ["pid", "20200103", "D20200115", "D_20200109", "d_20200127", "2020010", "X20200103", "20201341",
             "rmse"]
    lyr = QgsVectorLayer("Point?crs=EPSG:3035&" + "&".join(f"field={n}:double" for n in names), "x", "memory")
    source = layerquery.SeriesLayer(lyr)
    assert source.pid_field == "pid" and source.rmse_field == "rmse"
    assert source.date_fields == [("20200103", dt.date(2020, 1, 3)), ("D_20200109", dt.date(2020, 1, 9)),
                                  ("D20200115", dt.date(2020, 1, 15)), ("d_20200127", dt.date(2020, 1, 27))]


def test_install_gui_and_unload_remove_everything(qgis_iface, canvas, layer):
    from qgis.PyQt.QtWidgets import QToolBar

    from egms_plugin.ui import install_gui

    toolbar = QToolBar()
    gui = install_gui(qgis_iface, "&EGMS ground motion", toolbar)
    assert [a.text() for a in toolbar.actions()] == ["Ground-motion time series…"]
    assert gui.dock is None  # created (and pyqtgraph imported) on first use
    d = gui.open()
    assert canvas.mapTool() is d.map_tool and gui.action.isChecked()
    click(canvas, near(3))
    assert d.plot.drawn and d.highlight_colours()
    bands = list(d.highlights.bands)
    assert all(b.scene() is canvas.scene() for b in bands)
    gui.unload()
    assert toolbar.actions() == []
    assert canvas.mapTool() is not d.map_tool
    assert all(b.scene() is None for b in bands)
    QgsProject.instance().clear()  # disconnected: no slot of the dead dock runs



def test_reprojected_canvas_clicks_and_areas(layer, dock, canvas):
    """Canvas in Web Mercator over an EPSG:3035 layer: the click and the rectangle are transformed."""
    from qgis.core import QgsCoordinateReferenceSystem, QgsCoordinateTransform

    mercator = QgsCoordinateReferenceSystem("EPSG:3857")
    to_map = QgsCoordinateTransform(layer.crs(), mercator, QgsProject.instance())
    canvas.setDestinationCrs(mercator)
    canvas.setExtent(to_map.transformBoundingBox(QgsRectangle(X0 - 150, Y0 - 150, X0 + 550, Y0 + 450)))
    QApplication.processEvents()
    click(canvas, to_map.transform(near(17)))
    np.testing.assert_array_equal(plotted_arrays(dock)[0][1], TRUTH[17])
    dock.set_mode("rectangle")
    drag(canvas, to_map.transform(QgsPointXY(X0 + 150, Y0 - 50)), to_map.transform(QgsPointXY(X0 + 250, Y0 + 150)),
         dock=dock)
    assert sorted(dock.plot.drawn[0].plotted.series.fids) == [3, 8]  # points 2 and 7
    canvas.setDestinationCrs(layer.crs())


def test_plugin_gui_imports_pyqtgraph_only_when_the_dock_opens():
    """Fresh interpreter: initGui adds the action without importing pyqtgraph; the first use imports it;
    unload leaves no receiver on the project's signals."""
    import os
    import subprocess
    import sys
    import textwrap

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {os.path.join(root, '.build', 'plugins')!r})
        from qgis.core import QgsApplication, QgsProject
        app = QgsApplication([], True); app.initQgis()
        from qgis.gui import QgsMapCanvas
        from qgis.PyQt.QtWidgets import QMainWindow, QToolBar

        class Iface:  # the QgisInterface calls the plugin makes; the rest do nothing
            def __init__(self):
                self.window = QMainWindow()
                self.canvas = QgsMapCanvas(self.window)
            def mainWindow(self):
                return self.window
            def mapCanvas(self):
                return self.canvas
            def addToolBar(self, name):
                return QToolBar(name, self.window)
            def activeLayer(self):
                return None
            def __getattr__(self, name):
                return lambda *args, **kwargs: None

        iface = Iface()
        project = QgsProject.instance()
        before = project.receivers(project.cleared), project.receivers(project.layersWillBeRemoved)
        import egms_plugin
        plugin = egms_plugin.classFactory(iface)
        plugin.initGui()
        print("after initGui", "pyqtgraph" in sys.modules)
        gui = plugin.gui_extensions[0]
        gui.action.trigger()
        print("after open", "pyqtgraph" in sys.modules, gui.dock is not None)
        plugin.unload()
        from qgis.PyQt.QtCore import QCoreApplication, QEvent
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)  # the dock's deleteLater
        after = project.receivers(project.cleared), project.receivers(project.layersWillBeRemoved)
        print("receivers", before == after, before, after)
    """)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    assert "after initGui False" in out.stdout
    assert "after open True True" in out.stdout
    assert "receivers True" in out.stdout
    assert "Traceback" not in out.stderr


def test_style_by_velocity_is_symmetric_and_in_mm_per_year(layer, dock):
    from egms_plugin.layers.styling import nice_limit

    dock.panel.layer_combo.setLayer(layer)
    assert dock.style_layer()
    renderer = layer.renderer()
    assert renderer.type() == "graduatedSymbol" and renderer.classAttribute() == "mean_velocity"
    limit = nice_limit([(k - 10) * 1.5 for k in range(20)])  # 98th percentile of |v| = 14.4 → 20 mm/yr
    assert limit == 20.0
    inner = [(r.lowerValue(), r.upperValue()) for r in renderer.ranges()[1:-1]]
    assert inner[0][0] == pytest.approx(-limit + 4.0) and inner[-1][1] == pytest.approx(limit - 4.0)
    assert all("mm/yr" in r.label() for r in renderer.ranges())
    assert "from −20 to +20 mm/yr" in dock.message_text()


def test_style_by_velocity_without_a_velocity_field_says_so(canvas, dock):
    lyr = QgsVectorLayer("Point?crs=EPSG:3035&field=pid:string&field=20200101:double", "no velocity", "memory")
    QgsProject.instance().addMapLayer(lyr)
    dock.panel.layer_combo.setLayer(lyr)
    renderer = lyr.renderer().type()
    assert not dock.style_layer()
    assert "“no velocity” has no velocity field" in dock.message_text() and lyr.renderer().type() == renderer


# --------------------------------------------------------------------------- areas are read in a task
class HoldAreaTasks:
    """Holds every area task in its worker thread at its first cancellation check, until :meth:`release`."""

    def __init__(self, monkeypatch):
        import threading

        from egms_plugin.layers import areas as areatask

        self.reached = threading.Event()
        self._release = threading.Event()
        self.threads = set()
        original = areatask._TaskProgress.is_cancelled
        hold = self

        def is_cancelled(progress):
            if threading.current_thread() is not threading.main_thread():
                hold.threads.add(threading.get_ident())
                if not hold._release.is_set():
                    hold.reached.set()
                    hold._release.wait(10)
            return original(progress)

        monkeypatch.setattr(areatask._TaskProgress, "is_cancelled", is_cancelled)

    def wait_reached(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while not self.reached.is_set():
            assert time.monotonic() < deadline, "no area task reached its worker thread"
            QTest.qWait(5)

    def release(self):
        self._release.set()


def wait_for_task_end(task, timeout=10.0):
    from egms_plugin.layers import areas as areatask

    deadline = time.monotonic() + timeout
    while task in areatask._RUNNING:
        assert time.monotonic() < deadline, f"the task did not end within {timeout} s"
        QTest.qWait(5)


def test_area_is_read_in_a_worker_thread_with_progress(layer, dock, canvas, monkeypatch):
    import threading

    hold = HoldAreaTasks(monkeypatch)
    shown = []
    monkeypatch.setattr(dock.panel.progress_bar, "setValue", lambda v: (shown.append(v), type(dock.panel.progress_bar).setValue(
        dock.panel.progress_bar, v)))
    dock.set_mode("rectangle")
    drag(canvas, QgsPointXY(X0 + 50, Y0 + 50), QgsPointXY(X0 + 350, Y0 + 250))  # points 6, 7, 8, 11, 12, 13
    hold.wait_reached()
    # the GUI thread is free while the worker reads: the dock says so, offers Cancel, plots nothing yet
    assert dock.area_task is not None and dock.plot.drawn == []
    assert dock.panel.progress_bar.isVisible() and dock.panel.cancel_button.isVisible()
    assert "Reading the points inside the rectangle in “ascending”" in dock.message_text()
    assert threading.get_ident() not in hold.threads
    hold.release()
    wait_for_area(dock)
    assert not dock.panel.progress_bar.isVisible() and not dock.panel.cancel_button.isVisible()
    assert shown[-1] == 100 and shown == sorted(shown)
    np.testing.assert_allclose(plotted_arrays(dock)[0][1], np.nanmean(TRUTH[[6, 7, 8, 11, 12, 13]], axis=0), rtol=1e-12)
    assert dock.message_text() == "1 series plotted (Shift+click to add more)."


def test_a_new_selection_cancels_the_area_being_read(layer, dock, canvas, monkeypatch):
    hold = HoldAreaTasks(monkeypatch)
    dock.set_mode("rectangle")
    drag(canvas, QgsPointXY(X0 - 50, Y0 - 50), QgsPointXY(X0 + 150, Y0 + 150))  # points 0, 1, 5, 6
    hold.wait_reached()
    first = dock.area_task
    terminated = []
    first.taskTerminated.connect(lambda: terminated.append(True))
    drag(canvas, QgsPointXY(X0 + 250, Y0 + 150), QgsPointXY(X0 + 450, Y0 + 350))  # points 13, 14, 18, 19
    second = dock.area_task
    assert second is not first and first.isCanceled()
    hold.release()
    wait_for_area(dock)
    wait_for_task_end(first)
    assert terminated == [True] and first.results == []  # stopped at its first check, never plotted
    assert len(dock.plot.drawn) == 1
    np.testing.assert_allclose(plotted_arrays(dock)[0][1], np.nanmean(TRUTH[[13, 14, 18, 19]], axis=0), rtol=1e-12)

    # a click cancels an area too: the point is plotted, the area never
    hold._release.clear()
    hold.reached.clear()
    drag(canvas, QgsPointXY(X0 - 50, Y0 - 50), QgsPointXY(X0 + 150, Y0 + 150))
    hold.wait_reached()
    third = dock.area_task
    click(canvas, near(9))
    assert dock.area_task is None and third.isCanceled()
    hold.release()
    wait_for_task_end(third)
    QTest.qWait(20)
    assert [d.plotted.series.point_id for d in dock.plot.drawn] == ["p09"]


def test_cancel_button_stops_the_area(layer, dock, canvas, monkeypatch):
    hold = HoldAreaTasks(monkeypatch)
    click(canvas, near(2))
    dock.set_mode("polygon")
    for p in (QgsPointXY(X0 - 50, Y0 - 50), QgsPointXY(X0 + 160, Y0 - 50), QgsPointXY(X0 - 50, Y0 + 160)):
        click(canvas, p)
    click(canvas, QgsPointXY(X0 - 50, Y0 + 160), button=Qt.MouseButton.RightButton)
    hold.wait_reached()
    task = dock.area_task
    QTest.mouseClick(dock.panel.cancel_button, Qt.MouseButton.LeftButton)
    assert dock.area_task is None and task.isCanceled() and not dock.panel.progress_bar.isVisible()
    assert "Cancelled" in dock.message_text()
    hold.release()
    wait_for_task_end(task)
    QTest.qWait(20)
    assert [d.plotted.series.point_id for d in dock.plot.drawn] == ["p02"]  # the plot is as it was


def test_area_read_error_is_a_message(layer, dock, canvas, monkeypatch):
    from egms_plugin.layers import areas as areatask

    def broken(request, fids, progress):
        raise OSError("disk unreadable")

    monkeypatch.setattr(areatask, "_provider_values", broken)
    dock.set_mode("rectangle")
    drag(canvas, QgsPointXY(X0 + 50, Y0 + 50), QgsPointXY(X0 + 350, Y0 + 250), dock=dock)
    assert dock.plot.drawn == []
    assert dock.message_text() == ("Could not average the points inside the rectangle: “ascending”: "
                                   "disk unreadable")


def test_removing_the_layer_cancels_its_area(layer, dock, canvas, monkeypatch):
    hold = HoldAreaTasks(monkeypatch)
    dock.set_mode("rectangle")
    drag(canvas, QgsPointXY(X0 + 50, Y0 + 50), QgsPointXY(X0 + 350, Y0 + 250))
    hold.wait_reached()
    task = dock.area_task
    QgsProject.instance().removeMapLayer(layer.id())
    assert dock.area_task is None and task.isCanceled()
    assert "a layer of the area was removed" in dock.message_text()
    hold.release()
    wait_for_task_end(task)
    assert dock.plot.drawn == []


def test_unloading_while_an_area_is_read_is_clean(qgis_iface, canvas, layer, monkeypatch, capfd):
    import sys

    from qgis.PyQt import sip
    from qgis.PyQt.QtCore import QCoreApplication, QEvent
    from qgis.PyQt.QtWidgets import QToolBar

    from egms_plugin.ui import install_gui

    errors = []
    monkeypatch.setattr(sys, "excepthook", lambda *exc: errors.append(exc))
    hold = HoldAreaTasks(monkeypatch)
    QgsSettings().remove(dock_module.SETTINGS_GROUP)
    toolbar = QToolBar()
    gui = install_gui(qgis_iface, "&EGMS ground motion", toolbar)
    d = gui.open()
    d.set_mode("rectangle")
    drag(canvas, QgsPointXY(X0 - 100, Y0 - 100), QgsPointXY(X0 + 500, Y0 + 400))
    hold.wait_reached()
    task = d.area_task
    gui.unload()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert sip.isdeleted(d)  # the dock is gone while its task still runs
    hold.release()
    wait_for_task_end(task)
    QTest.qWait(50)
    QgsProject.instance().clear()
    assert errors == [] and task.results == []
    assert "Traceback" not in capfd.readouterr().err
    QgsSettings().remove(dock_module.SETTINGS_GROUP)


# --------------------------------------------------------------------------- GeoPackage fast path
@pytest.fixture
def gpkg_layer(canvas, qgis_iface, tmp_path):
    from qgis.core import QgsCoordinateTransformContext, QgsVectorFileWriter

    memory = make_layer()
    options = QgsVectorFileWriter.SaveVectorOptions()
    options.driverName = "GPKG"
    options.layerName = "points"
    path = str(tmp_path / "points.gpkg")
    error, message, *_ = WRITE_VECTOR(memory, path, QgsCoordinateTransformContext(),
                                                                   options)
    assert error == QgsVectorFileWriter.WriterError.NoError, message
    lyr = QgsVectorLayer(f"{path}|layername=points", "gpkg points", "ogr")
    assert lyr.isValid() and lyr.featureCount() == 20
    QgsProject.instance().addMapLayer(lyr)
    canvas.setLayers([lyr])
    canvas.setExtent(QgsRectangle(X0 - 150, Y0 - 150, X0 + 550, Y0 + 450))
    QApplication.processEvents()
    qgis_iface.setActiveLayer(lyr)
    return lyr


def _spy_readers(monkeypatch):
    from egms_plugin.layers import areas as areatask

    calls = []
    for name in ("_gpkg_values", "_provider_values"):
        original = getattr(areatask, name)

        def spy(request, fids, progress, _name=name, _original=original):
            calls.append(_name)
            return _original(request, fids, progress)

        monkeypatch.setattr(areatask, name, spy)
    return calls


def test_geopackage_areas_are_read_from_the_file(gpkg_layer, dock, canvas, monkeypatch):
    from egms_plugin.layers import areas as areatask

    calls = _spy_readers(monkeypatch)
    monkeypatch.setattr(areatask, "FID_CHUNK", 4)  # several id chunks and date groups on a small layer
    monkeypatch.setattr(areatask, "FIELDS_PER_PASS", 7)
    dock.set_mode("rectangle")
    drag(canvas, QgsPointXY(X0 + 50, Y0 + 50), QgsPointXY(X0 + 350, Y0 + 250), dock=dock)  # 6, 7 (NULL), 8, 11-13
    series = dock.plot.drawn[0].plotted.series
    inside = [6, 7, 8, 11, 12, 13]
    assert calls == ["_gpkg_values"] and sorted(series.fids) == [k + 1 for k in inside]
    np.testing.assert_allclose(series.values, np.nanmean(TRUTH[inside], axis=0), rtol=1e-12)
    np.testing.assert_array_equal(series.count, np.isfinite(TRUTH[inside]).sum(axis=0))  # NULLs stay NULL
    # the same numbers as reading through QGIS, for a polygon too
    source = layerquery.SeriesLayer(gpkg_layer)
    triangle = QgsGeometry.fromPolygonXY([[QgsPointXY(X0 - 50, Y0 - 50), QgsPointXY(X0 + 460, Y0 - 50),
                                           QgsPointXY(X0 - 50, Y0 + 360)]])
    request = source.area_request(canvas.mapSettings(), triangle, 5000)
    assert request.gpkg is not None
    fast = areatask.read_area_mean(request)
    request.gpkg = None
    slow = areatask.read_area_mean(request)
    assert fast.fids == slow.fids and len(fast.fids) == 10  # the triangle's lower-left half: 4+3+2+1 points
    np.testing.assert_array_equal(fast.values, slow.values)
    np.testing.assert_array_equal(fast.std, slow.std)


def test_geopackage_with_unsaved_edits_is_read_through_qgis(gpkg_layer, dock, canvas, monkeypatch):
    calls = _spy_readers(monkeypatch)
    field = gpkg_layer.fields().indexOf(f"{DATES[0]:%Y%m%d}")
    assert gpkg_layer.startEditing()
    assert gpkg_layer.changeAttributeValue(13, field, 1000.0)  # point 12 (fid 13), first date, not saved
    try:
        dock.set_mode("rectangle")
        drag(canvas, QgsPointXY(X0 + 150, Y0 + 50), QgsPointXY(X0 + 250, Y0 + 250), dock=dock)  # points 7, 12
        assert calls == ["_provider_values"]
        values = plotted_arrays(dock)[0][1]
        assert values[0] == pytest.approx(1000.0)  # point 7 is NULL everywhere: the mean is point 12's value
        np.testing.assert_array_equal(values[1:], TRUTH[12][1:])
    finally:
        gpkg_layer.rollBack()


def test_geopackage_clicks_use_the_rtree_and_find_the_same_point(canvas, tmp_path, monkeypatch):
    """A click on a GeoPackage layer reads the file's R-tree (float32 boxes) instead of the rows; the few
    candidates that may be nearest are read exactly, so it finds the provider's answer — on points closer
    together than the float32 rounding of their coordinates too; a filtered layer uses the provider."""
    from qgis.core import QgsCoordinateTransformContext, QgsVectorFileWriter

    rng = np.random.default_rng(8)
    n = 4000
    xy = np.column_stack([X0 + rng.uniform(0, 800, n), Y0 + rng.uniform(0, 800, n)])
    xy[1::2] = xy[0::2] + rng.uniform(-0.2, 0.2, (n // 2, 2))  # pairs 0.3 m apart: below float32's 0.5 m step
    memory = dense_layer(xy)
    options = QgsVectorFileWriter.SaveVectorOptions()
    options.driverName, options.layerName = "GPKG", "points"
    path = str(tmp_path / "dense.gpkg")
    error, message, *_ = WRITE_VECTOR(memory, path, QgsCoordinateTransformContext(),
                                                                   options)
    assert error == QgsVectorFileWriter.WriterError.NoError, message
    lyr = QgsVectorLayer(f"{path}|layername=points", "dense gpkg", "ogr")
    assert lyr.isValid()
    QgsProject.instance().addMapLayer(lyr)
    canvas.setExtent(QgsRectangle(X0, Y0, X0 + 800, Y0 + 800))
    settings = canvas.mapSettings()
    source = layerquery.SeriesLayer(lyr)
    used = []
    original = layerquery._rtree_candidates

    def spy(*args):
        rows = original(*args)
        used.append(rows is not None)
        return rows

    monkeypatch.setattr(layerquery, "_rtree_candidates", spy)
    clicks = [rng.uniform(-20, 820, 2) + (X0, Y0) for _ in range(60)] + [xy[k] + 0.05 for k in range(0, 40, 2)]
    for q in clicks:
        for radius in (3.0, 40.0):
            fast = source.nearest(settings, QgsPointXY(*q), radius=radius)
            d = np.hypot(xy[:, 0] - q[0], xy[:, 1] - q[1])
            if d.min() > radius:
                assert fast is None
            else:
                assert fast[0] == int(np.argmin(d)) + 1 and fast[1] == pytest.approx(d.min(), rel=1e-9, abs=1e-9)
    assert used and all(used)
    used.clear()
    lyr.setSubsetString('"pid" <> \'0\'')  # a filter: the R-tree still holds point 0, the provider does not
    source = layerquery.SeriesLayer(lyr)
    found = source.nearest(settings, QgsPointXY(*xy[0]), radius=40.0)
    assert not used and found is not None and found[0] != 1


class _WindowIface:
    """pytest-qgis' iface with a real 1280 × 800 QMainWindow holding the docks (its own mainWindow() does not)."""

    def __init__(self, iface):
        from qgis.PyQt.QtWidgets import QLabel, QMainWindow

        self._iface = iface
        self.window = QMainWindow()
        self.map = QLabel("map")
        self.window.setCentralWidget(self.map)
        self.window.resize(1280, 800)
        self.window.show()

    def __getattr__(self, name):
        return getattr(self._iface, name)

    def mainWindow(self):  # noqa: N802 (QGIS API)
        return self.window

    def addDockWidget(self, area, dock):  # noqa: N802 (QGIS API)
        self.window.addDockWidget(area, dock)

    def removeDockWidget(self, dock):  # noqa: N802 (QGIS API)
        self.window.removeDockWidget(dock)


def _settle():
    from qgis.PyQt.QtWidgets import QApplication

    for _ in range(5):
        QApplication.processEvents()


def test_dock_opens_leaving_the_map_usable_and_remembers_its_place(qgis_iface, canvas, layer):
    """Tour item of issue 11: on 1280 × 800 the dock took two thirds (the map a 110 px strip)."""
    from qgis.PyQt.QtCore import Qt
    from qgis.PyQt.QtWidgets import QToolBar

    from egms_plugin.ui import install_gui, placement

    QgsSettings().remove(dock_module.SETTINGS_GROUP)
    iface = _WindowIface(qgis_iface)
    toolbar = QToolBar()
    gui = install_gui(iface, "&EGMS ground motion", toolbar)
    d = gui.open()
    _settle()
    window = iface.window
    assert window.dockWidgetArea(d) == Qt.DockWidgetArea.BottomDockWidgetArea
    assert d.height() <= placement.DEFAULT_HEIGHT_PX + 2  # 360 px of 800 at most (a third: 266)
    assert iface.map.height() >= 0.55 * window.height()  # the map keeps more than half the window
    # the user moves it to the right and makes it 500 px wide; closing QGIS (unload) remembers that
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, d)
    window.resizeDocks([d], [500], Qt.Orientation.Horizontal)
    _settle()
    width = d.width()
    assert 480 <= width <= 520
    gui.unload()
    toolbar2 = QToolBar()
    iface2 = _WindowIface(qgis_iface)
    gui2 = install_gui(iface2, "&EGMS ground motion", toolbar2)
    d2 = gui2.open()
    _settle()
    assert iface2.window.dockWidgetArea(d2) == Qt.DockWidgetArea.RightDockWidgetArea
    assert abs(d2.width() - width) <= 2
    # floating: its geometry comes back
    d2.setFloating(True)
    d2.setGeometry(100, 120, 700, 420)
    _settle()
    d2.close()  # closing the dock remembers too
    _settle()
    gui2.unload()
    gui3 = install_gui(iface2, "&EGMS ground motion", QToolBar())
    d3 = gui3.open()
    _settle()
    assert d3.isFloating() and (d3.width(), d3.height()) == (700, 420)
    gui3.unload()
    QgsSettings().remove(dock_module.SETTINGS_GROUP)
    QgsProject.instance().clear()


def test_the_place_is_stored_when_the_user_changes_it_not_only_on_close(qgis_iface, canvas, layer):
    """A QGIS that crashes never unloads the plugin: the place must already be stored after the gesture."""
    import time

    from qgis.PyQt.QtCore import Qt
    from qgis.PyQt.QtWidgets import QApplication, QToolBar

    from egms_plugin.ui import install_gui, placement
    from egms_plugin.ui.settings import setting

    QgsSettings().remove(dock_module.SETTINGS_GROUP)
    iface = _WindowIface(qgis_iface)
    gui = install_gui(iface, "&EGMS ground motion", QToolBar())
    d = gui.open()
    _settle()
    iface.window.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, d)
    iface.window.resizeDocks([d], [430], Qt.Orientation.Horizontal)
    _settle()
    deadline = time.monotonic() + 3 * placement.PlaceKeeper.DELAY_MS / 1000
    while time.monotonic() < deadline and setting("dock_area") != "left":
        QApplication.processEvents()
        time.sleep(0.02)
    assert setting("dock_area") == "left" and abs(int(setting("dock_size")) - d.width()) <= 2
    assert 410 <= d.width() <= 450
    gui.unload()
    QgsSettings().remove(dock_module.SETTINGS_GROUP)
    QgsProject.instance().clear()
