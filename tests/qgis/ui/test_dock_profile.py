"""The dock's Profile mode with real mouse events (offscreen): a bent line drawn on the canvas plots the points
within the buffer at their hand-computed distances, with ± std error bars; hover names a point; a click plots
its series; the buffer spin box redraws; export."""

from __future__ import annotations

import csv
import datetime as dt

import numpy as np
import pytest
from qgis.core import QgsFeature, QgsGeometry, QgsPointXY, QgsProject, QgsRectangle, QgsSettings, QgsVectorLayer
from qgis.PyQt.QtCore import QPoint, QPointF, Qt
from qgis.PyQt.QtTest import QTest
from qgis.PyQt.QtWidgets import QApplication

from egms_plugin.ui import dock as dock_module
from egms_plugin.ui.maptool import PROFILE

X0, Y0 = 4_000_000.0, 3_000_000.0
DATES = [dt.date(2020, 1, 3) + dt.timedelta(days=12 * k) for k in range(10)]
# the line: east 200 m, then north 200 m; its vertices are drawn at the canvas pixels of these map points
LINE = [(X0, Y0), (X0 + 200.0, Y0), (X0 + 200.0, Y0 + 200.0)]
# (dx, dy, velocity, std) relative to (X0, Y0) and the expected (distance, offset); None: outside a 30 m buffer
POINTS = [
    (50.0, 10.0, -5.0, 0.5, (50.0, 10.0)),
    (120.0, -20.0, -8.0, 1.0, (120.0, -20.0)),
    (220.0, 100.0, 3.0, 0.8, (300.0, -20.0)),
    (190.0, 150.0, 1.0, 0.3, (350.0, 10.0)),
    (100.0, 60.0, 9.0, 0.2, None),  # 60 m from the first segment, 100 m from the second
    (-10.0, 0.0, 7.0, 0.2, None),  # before the start
]


def make_layer():
    fields = "&".join(["field=pid:string", "field=mean_velocity:double", "field=mean_velocity_std:double"]
                      + [f"field={d:%Y%m%d}:double" for d in DATES])
    layer = QgsVectorLayer(f"Point?crs=EPSG:3035&{fields}", "profiled", "memory")
    features = []
    for k, (dx, dy, v, s, _e) in enumerate(POINTS):
        f = QgsFeature(layer.fields())
        f.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(X0 + dx, Y0 + dy)))
        f.setAttributes([f"q{k}", v, s] + [float(v * j / 10.0 + k) for j in range(len(DATES))])
        features.append(f)
    assert layer.dataProvider().addFeatures(features)
    layer.updateExtents()
    return layer


@pytest.fixture
def setup(qgis_canvas, qgis_parent, qgis_iface):
    from qgis.core import QgsCoordinateReferenceSystem

    QgsSettings().remove(dock_module.SETTINGS_GROUP)
    qgis_parent.resize(700, 700)
    qgis_canvas.resize(600, 600)
    qgis_parent.show()
    qgis_canvas.show()
    qgis_canvas.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:3035"))
    layer = make_layer()
    QgsProject.instance().addMapLayer(layer)
    qgis_canvas.setLayers([layer])
    qgis_canvas.setExtent(QgsRectangle(X0 - 100, Y0 - 100, X0 + 350, Y0 + 300))
    QApplication.processEvents()
    qgis_iface.setActiveLayer(layer)
    d = dock_module.TimeSeriesDock(qgis_iface)
    d.resize(1000, 600)
    d.show()
    d.activate_tool()
    d.set_mode(PROFILE)
    d.panel.buffer_spin.setValue(30.0)
    QApplication.processEvents()
    yield d, qgis_canvas, layer
    d.teardown()
    d.deleteLater()
    qgis_canvas.unsetMapTool(qgis_canvas.mapTool())
    qgis_canvas.setLayers([])
    QgsProject.instance().removeAllMapLayers()
    QgsSettings().remove(dock_module.SETTINGS_GROUP)


def pixel(canvas, x, y):
    p = canvas.getCoordinateTransform().transform(QgsPointXY(x, y))
    return QPoint(int(round(p.x())), int(round(p.y())))


def draw_line(canvas, vertices):
    """Left clicks on the vertices, a right click to end (real mouse events); returns the drawn map vertices."""
    for x, y in vertices:
        QTest.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                         pixel(canvas, x, y))
    QTest.mouseClick(canvas.viewport(), Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier,
                     pixel(canvas, *vertices[-1]))
    t = canvas.getCoordinateTransform()
    return [t.toMapCoordinates(pixel(canvas, x, y)) for x, y in vertices]


def expected_profile(drawn):
    """Distances and offsets of POINTS on the polyline the clicks really drew (pixel-snapped vertices)."""
    from egms_plugin.core.analysis.profile import velocity_profile

    x = np.array([X0 + p[0] for p in POINTS])
    y = np.array([Y0 + p[1] for p in POINTS])
    return velocity_profile(x, y, [p.x() for p in drawn], [p.y() for p in drawn], 30.0,
                            velocity=[p[2] for p in POINTS], std=[p[3] for p in POINTS])


def test_drawn_line_plots_the_points_within_the_buffer(setup):
    dock, canvas, _layer = setup
    drawn = draw_line(canvas, LINE)
    data = dock.profile
    assert data is not None and dock.panel.profile_plot.isVisible()
    want = [k for k, p in enumerate(POINTS) if p[4] is not None]
    assert data.point_ids == [f"q{k}" for k in want]
    # the plotted arrays: distances within a pixel (0.75 m) of the hand-computed ones, exactly the core's for
    # the vertices the clicks drew; velocities and error bars as stored
    px, py = dock.panel.profile_plot.scatter.getData()
    assert np.abs(px - [POINTS[k][4][0] for k in want]).max() < 1.5
    ref = expected_profile(drawn)
    assert np.abs(px - ref.distance).max() < 1e-9 and py.tolist() == [POINTS[k][2] for k in want]
    bars = dock.panel.profile_plot.error_bars.opts
    assert np.asarray(bars["top"]).tolist() == [POINTS[k][3] for k in want]
    assert np.asarray(bars["x"]).tolist() == px.tolist()
    assert np.abs(data.profile.offset - ref.offset).max() < 1e-9
    assert "4 points" in dock.message_text() and dock.profile_band is not None


def test_hover_names_a_point_and_click_plots_its_series(setup):
    dock, canvas, layer = setup
    draw_line(canvas, LINE)
    plot = dock.panel.profile_plot
    p = dock.profile.profile
    text = plot.readout_at(p.distance[2] + 1.0, p.velocity[2])
    assert text.startswith("q2 ") and "+3.00 ± 0.80 mm/yr" in text
    QApplication.processEvents()
    vb = plot.plot_item.vb
    target = vb.mapViewToScene(QPointF(float(p.distance[1]), float(p.velocity[1])))
    view_pos = plot.widget.mapFromScene(target)
    QTest.mouseClick(plot.widget.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, view_pos)
    QApplication.processEvents()
    assert [s.point_id for s in dock.selection.series] == ["q1"]
    y = dock.plot.drawn[0].data.getOriginalDataset()[1]
    assert np.allclose(y, [-8.0 * j / 10.0 + 1 for j in range(len(DATES))])
    assert plot.picked.getData()[0].tolist() == [p.distance[1]]


def test_buffer_redraws_and_exports(setup, tmp_path):
    dock, canvas, _layer = setup
    draw_line(canvas, LINE)
    dock.panel.buffer_spin.setValue(15.0)
    QApplication.processEvents()
    assert dock.profile.point_ids == ["q0", "q3"] and "15 m" in dock.message_text()
    out = dock.export(str(tmp_path / "profile.csv"), "profile_csv")
    with open(out, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["point_id"] for r in rows] == ["q0", "q3"]
    assert float(rows[0]["velocity_mm_yr"]) == -5.0 and float(rows[0]["std_mm_yr"]) == 0.5
    assert abs(float(rows[1]["distance_m"]) - 350.0) < 1.5 and rows[1]["segment"] == "2"
    png = dock.export(str(tmp_path / "profile.png"), "profile_png")
    svg = dock.export(str(tmp_path / "profile.svg"), "profile_svg")
    from qgis.PyQt.QtGui import QImage

    assert QImage(png).width() == 1200 and open(svg, encoding="utf-8").read().count("<svg") >= 1


def test_layer_without_velocity_and_empty_profile_say_so(setup, qgis_iface):
    dock, canvas, _layer = setup
    draw_line(canvas, [(X0 + 300, Y0 + 250), (X0 + 340, Y0 + 250)])
    assert "No point of “profiled” within 30 m" in dock.message_text() and len(dock.profile) == 0
    bare = QgsVectorLayer("Point?crs=EPSG:3035&field=height:double", "bare", "memory")
    QgsProject.instance().addMapLayer(bare)
    qgis_iface.setActiveLayer(bare)
    draw_line(canvas, LINE)
    assert "“bare” has no velocity field" in dock.message_text()


def test_dock_and_algorithm_give_the_same_profile(setup, run_alg, tmp_path):
    """The dock's profile of a drawn line = egms:velocityprofile on the same layer and line (one computation)."""
    from osgeo import ogr

    dock, canvas, layer = setup
    draw_line(canvas, LINE)
    line = QgsVectorLayer("LineString?crs=EPSG:3035", "drawn", "memory")
    f = QgsFeature(line.fields())
    f.setGeometry(dock.profile.line)
    line.dataProvider().addFeatures([f])
    out = tmp_path / "alg.gpkg"
    res = run_alg("egms:velocityprofile", {"INPUT": layer, "LINE": line, "BUFFER": 30.0, "OUTPUT": str(out)})
    ds = ogr.Open(str(out))
    rows = [(f.GetField("pid"), f.GetField("distance"), f.GetField("offset")) for f in ds.GetLayer(0)]
    p = dock.profile.profile
    assert res["N_POINTS"] == len(p) == 4 and [r[0] for r in rows] == dock.profile.point_ids
    assert np.abs(np.array([r[1] for r in rows]) - p.distance).max() < 1e-9
    assert np.abs(np.array([r[2] for r in rows]) - p.offset).max() < 1e-9


def test_layer_in_degrees_is_measured_in_metres(setup, qgis_iface):
    """The same points stored in EPSG:4326, the canvas in EPSG:3035: the same points, distances within 0.5 m
    (UTM 32 against EPSG:3035 scale factors) of the metric layer's."""
    from pyproj import Transformer

    dock, canvas, layer = setup
    draw_line(canvas, LINE)
    metric = dock.profile
    to_geo = Transformer.from_crs("EPSG:3035", "EPSG:4326", always_xy=True)
    geo = QgsVectorLayer("Point?crs=EPSG:4326&field=pid:string&field=mean_velocity:double", "geo", "memory")
    features = []
    for k, (dx, dy, v, _s, _e) in enumerate(POINTS):
        f = QgsFeature(geo.fields())
        f.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(*to_geo.transform(X0 + dx, Y0 + dy))))
        f.setAttributes([f"q{k}", v])
        features.append(f)
    geo.dataProvider().addFeatures(features)
    QgsProject.instance().addMapLayer(geo)
    qgis_iface.setActiveLayer(geo)
    data = dock.on_line_drawn(metric.line)
    assert data.metric_crs.startswith("EPSG:326") and data.point_ids == metric.point_ids
    assert np.abs(data.profile.distance - metric.profile.distance).max() < 0.5
    assert np.isnan(data.profile.std).all() and dock.panel.profile_plot.error_bars is None


def test_the_swath_is_drawn_and_follows_the_buffer(setup):
    """The area the points come from is drawn on the map (flat ends, round join): it holds the four profile
    points and not the two left out; its area is 2·buffer·length − buffer² (the square inside the right-angle
    bend, counted twice) + the outer join's quarter disc; a new buffer redraws it; clearing removes both bands."""
    dock, canvas, _layer = setup
    drawn = draw_line(canvas, LINE)
    length = sum(np.hypot(b.x() - a.x(), b.y() - a.y()) for a, b in zip(drawn, drawn[1:]))

    def check(buffer):
        band = dock.swath_band
        assert band is not None and band.isVisible()
        geom = band.asGeometry()
        assert abs(geom.area() - (2 * buffer * length - buffer ** 2 + np.pi * buffer ** 2 / 4)) < 0.002 * geom.area()
        inside = [geom.contains(QgsGeometry.fromPointXY(QgsPointXY(X0 + p[0], Y0 + p[1]))) for p in POINTS]
        return inside

    assert check(30.0) == [p[4] is not None for p in POINTS]
    dock.panel.buffer_spin.setValue(15.0)
    QApplication.processEvents()
    assert check(15.0) == [True, False, False, True, False, False]
    dock.clear_profile()
    assert dock.swath_band is None and dock.profile_band is None
