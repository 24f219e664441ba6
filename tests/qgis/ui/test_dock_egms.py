"""The dock on real EGMS points: plotted series and shown statistics against the file's published columns."""

from __future__ import annotations

import csv
import io
import os
import zipfile

import numpy as np
import pytest
from qgis.core import QgsCoordinateReferenceSystem, QgsFeature, QgsGeometry, QgsPointXY, QgsProject, QgsSettings, QgsVectorLayer
from qgis.PyQt.QtCore import QPoint, Qt
from qgis.PyQt.QtTest import QTest
from qgis.PyQt.QtWidgets import QApplication

from egms_plugin.ui import dock as dock_module

N_ROWS = 60


def _rows(path):
    name = os.path.splitext(os.path.basename(path))[0] + ".csv"
    with zipfile.ZipFile(path) as zf, zf.open(name) as fh:
        reader = csv.reader(io.TextIOWrapper(fh, encoding="utf-8"))
        header = next(reader)
        rows = [next(reader) for _ in range(N_ROWS)]
    return header, rows


@pytest.fixture
def egms_layer(egms_sample, qgis_canvas, qgis_parent, qgis_iface):
    header, rows = _rows(egms_sample)
    numeric = [h for h in header if h != "pid"]
    spec = "&".join(["field=pid:string"] + [f"field={h}:double" for h in numeric])
    layer = QgsVectorLayer(f"Point?crs=EPSG:3035&{spec}", "EGMS L2b 022 0845", "memory")
    feats = []
    for row in rows:
        record = dict(zip(header, row))
        f = QgsFeature(layer.fields())
        f.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(float(record["easting"]), float(record["northing"]))))
        f.setAttributes([record["pid"]] + [float(record[h]) if record[h] != "" else None for h in numeric])
        feats.append(f)
    layer.dataProvider().addFeatures(feats)
    layer.updateExtents()
    QgsProject.instance().addMapLayer(layer)
    qgis_parent.resize(700, 700)
    qgis_canvas.resize(600, 600)
    qgis_parent.show()
    qgis_canvas.show()
    qgis_canvas.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:3035"))
    qgis_canvas.setLayers([layer])
    qgis_canvas.setExtent(layer.extent().buffered(20))
    QApplication.processEvents()
    qgis_iface.setActiveLayer(layer)
    QgsSettings().remove(dock_module.SETTINGS_GROUP)
    yield layer, header, rows
    qgis_canvas.setLayers([])
    QgsProject.instance().removeAllMapLayers()
    QgsSettings().remove(dock_module.SETTINGS_GROUP)


def test_real_points_plot_their_series_and_the_published_statistics(egms_layer, qgis_iface, qgis_canvas):
    layer, header, rows = egms_layer
    dates = [h for h in header if h.isdigit()]
    dock = dock_module.TimeSeriesDock(qgis_iface)
    try:
        dock.activate_tool()
        dock.panel.radius_spin.setValue(1)  # real points can sit a pixel apart: take the one under the cursor
        checked = 0
        for row in rows[::6]:
            record = dict(zip(header, row))
            p = qgis_canvas.getCoordinateTransform().transform(float(record["easting"]), float(record["northing"]))
            QTest.mouseClick(qgis_canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                             QPoint(round(p.x()), round(p.y())))
            plotted = dock.selection.plotted[0]
            if plotted.series.point_id != record["pid"]:
                continue  # another point shares this pixel
            checked += 1
            np.testing.assert_array_equal(plotted.y, [float(record[d]) for d in dates])
            s = plotted.statistics
            # published columns are rounded to 0.1 (0.01 for acceleration): half a unit plus ≤ 0.005 from the
            # 0.1-mm rounding of the series itself (as tests/core/egms/test_stats.py); velocity within 0.1 mm/yr
            assert s["mean_velocity"] == pytest.approx(float(record["mean_velocity"]), abs=0.1)
            assert s["mean_velocity_std"] == pytest.approx(float(record["mean_velocity_std"]), abs=0.055)
            assert s["acceleration"] == pytest.approx(float(record["acceleration"]), abs=0.01)
            assert s["acceleration_std"] == pytest.approx(float(record["acceleration_std"]), abs=0.01)
            assert s["seasonality"] == pytest.approx(float(record["seasonality"]), abs=0.055)
            assert s["rmse"] == pytest.approx(float(record["rmse_ts"]), abs=0.055)
            assert dock.plot.drawn[0].error_bars is None  # off by default; rmse_ts is the error-bar field
            assert dock.series_layer(layer).rmse_field == "rmse_ts"
        assert checked >= 6
    finally:
        dock.teardown()
        dock.deleteLater()
