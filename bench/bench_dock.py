"""Time-series dock: click-to-plot latency on a 1 000 000-point GeoPackage with 300 dates.

Real mouse press/release events on a map canvas showing the layer; the time runs
from the mouse release to the series plotted (pyqtgraph items hold the data) —
the whole synchronous path: map tool → dock → spatial request → feature by id →
statistics → plot.  Baselines measured in the same run: one bare
QgsFeatureRequest by fid reading the 300 dates (the floor of any click), and one
full-layer geometry scan (what a click must never do).  The layer is generated
once under .build/bench-data/ with core.mpio.write_points.

Areas (rectangles) are read in a QgsTask: their figures are the time from the
mouse release to the plotted mean, the time the GUI thread spent in the release
itself, and the longest gap between the beats of a 5 ms QTimer (a Python slot,
so it also sees the worker holding the GIL) while the task runs.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import statistics
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA_DIR = os.path.join(ROOT, ".build", "bench-data")
N_POINTS = 1_000_000
N_DATES = 300
SIDE_M = 20_000.0  # points spread over 20 km × 20 km: 2 500 points/km², an urban EGMS density
N_CLICKS = 30


def dataset_path():
    return os.path.join(DATA_DIR, f"dock_{N_POINTS}x{N_DATES}.gpkg")


def make_dataset(path):
    """1e6 points (EPSG:3035) with EGMS-like attributes and 300 dates of float32 displacement (mm)."""
    from egms_plugin.core.egms.pid import l2_pid
    from egms_plugin.core.io.points import PointTable, write_points

    rng = np.random.default_rng(42)
    x = 4_300_000.0 + rng.uniform(0, SIDE_M, N_POINTS)
    y = 3_200_000.0 + rng.uniform(0, SIDE_M, N_POINTS)
    dates = [dt.date(2020, 1, 3) + dt.timedelta(days=6 * k) for k in range(N_DATES)]
    t = (np.arange(N_DATES) * 6.0 / 365.0).astype(np.float32)
    velocity = (-15.0 * np.exp(-((x - x.mean()) ** 2 + (y - y.mean()) ** 2) / (2 * 3000.0**2))
                + rng.normal(0, 1.0, N_POINTS)).astype(np.float32)
    columns = {
        "pid": l2_pid(np.arange(N_POINTS) // 4096, np.arange(N_POINTS) % 4096, track=22, burst=845, swath=2),
        "rmse": rng.uniform(0.5, 4.0, N_POINTS).astype(np.float32),
        "temporal_coherence": rng.uniform(0.5, 1.0, N_POINTS).astype(np.float32),
        "mean_velocity": velocity,
    }
    season = np.sin(2 * np.pi * t).astype(np.float32)
    for k, d in enumerate(dates):
        noise = rng.normal(0, 1.5, N_POINTS).astype(np.float32)
        columns[d.strftime("%Y%m%d")] = np.round(velocity * t[k] + 2.0 * season[k] + noise, 1)
    table = PointTable(columns, x, y, "EPSG:3035")
    write_points(path, table, layer="points")
    return path


class _Iface:
    """The three iface methods the dock uses, for a canvas outside a QGIS main window."""

    def __init__(self, canvas, window, layer):
        self._canvas, self._window, self._layer = canvas, window, layer

    def mapCanvas(self):  # noqa: N802
        return self._canvas

    def mainWindow(self):  # noqa: N802
        return self._window

    def activeLayer(self):  # noqa: N802
        return self._layer


def _ms(seconds):
    return 1000.0 * seconds


def _wait_for_area(dock, timeout=120.0):
    """Run the event loop until the dock has plotted its area; the longest gap between 5 ms timer beats (s)."""
    from qgis.PyQt.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    state = {"last": time.perf_counter(), "worst": 0.0, "start": time.perf_counter()}

    def beat():
        now = time.perf_counter()
        state["worst"] = max(state["worst"], now - state["last"])
        state["last"] = now
        if dock.area_task is None or now - state["start"] > timeout:
            loop.quit()

    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(beat)
    timer.start()
    loop.exec()
    timer.stop()
    assert dock.area_task is None, "the area task did not finish"
    return state["worst"]


def run(record):  # noqa: C901 - one benchmark script, its steps in order
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from qgis.core import QgsApplication, QgsFeatureRequest, QgsRectangle, QgsVectorLayer
    from qgis.gui import QgsMapCanvas
    from qgis.PyQt.QtCore import QPoint, Qt
    from qgis.PyQt.QtTest import QTest
    from qgis.PyQt.QtWidgets import QApplication, QMainWindow

    LEFT, NO_MODIFIER = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier

    path = dataset_path()
    if not os.path.exists(path):
        os.makedirs(DATA_DIR, exist_ok=True)
        t0 = time.perf_counter()
        make_dataset(path)
        print(f"   generated {path} ({os.path.getsize(path) / 1e9:.2f} GB) in {time.perf_counter() - t0:.0f} s")

    app = QgsApplication.instance()
    own_app = app is None
    if own_app:
        app = QgsApplication([], True)
        app.initQgis()
    from qgis.core import QgsSettings

    from egms_plugin.ui.dock import SETTINGS_GROUP, TimeSeriesDock

    layer = QgsVectorLayer(f"{path}|layername=points", "points", "ogr")
    assert layer.isValid() and layer.featureCount() == N_POINTS, "benchmark layer unreadable"
    window = QMainWindow()
    canvas = QgsMapCanvas(window)
    window.setCentralWidget(canvas)
    window.resize(1200, 800)
    window.show()
    canvas.setDestinationCrs(layer.crs())
    canvas.setLayers([layer])
    canvas.setRenderFlag(False)  # time the click, not the map rendering of 10⁶ points
    QApplication.processEvents()

    saved = {k: QgsSettings().value(f"{SETTINGS_GROUP}/{k}") for k in ("model", "radius_px", "all_layers", "mode")}
    QgsSettings().remove(SETTINGS_GROUP)
    iface = _Iface(canvas, window, layer)
    dock = TimeSeriesDock(iface)
    dock.resize(1000, 380)
    dock.show()
    dock.activate_tool()

    # click targets: random features, their coordinates read before timing
    rng = np.random.default_rng(7)
    fids = [int(f) for f in rng.integers(1, N_POINTS + 1, N_CLICKS + 2)]
    targets = []
    for fid in fids:
        f = next(layer.getFeatures(QgsFeatureRequest(fid).setNoAttributes()))
        targets.append((fid, f.geometry().asPoint()))

    def clicks(width_m, model=""):
        dock.model_combo.setCurrentIndex(dock.model_combo.findData(model))
        times, missed = [], 0
        for _fid, point in targets:
            canvas.setExtent(QgsRectangle(point.x() - width_m / 2, point.y() - width_m / 3,
                                          point.x() + width_m / 2, point.y() + width_m / 3))
            QApplication.processEvents()
            p = canvas.getCoordinateTransform().transform(point)
            pixel = QPoint(int(round(p.x())), int(round(p.y())))
            QTest.mousePress(canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pixel)
            t0 = time.perf_counter()
            QTest.mouseRelease(canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pixel)
            elapsed = time.perf_counter() - t0
            drawn = dock.plot.drawn
            if not drawn or drawn[0].data.getOriginalDataset()[1].size != N_DATES:
                missed += 1
            times.append(elapsed)
        return times[2:], times[0], missed  # the first two clicks warm caches; reported separately

    near_times, first, missed_near = clicks(1200.0)  # a street-level view: 1 m per pixel
    model_times, _f, _m = clicks(1200.0, model="cubic")
    wide_times, _f, missed_wide = clicks(SIDE_M)  # the whole 20 km layer on screen: 17 m per pixel

    # what the dock drew is the clicked feature's series (the nearest point may be another one only when
    # two points share the clicked pixel)
    fid, point = targets[-1]
    dock.model_combo.setCurrentIndex(0)
    canvas.setExtent(QgsRectangle(point.x() - 50, point.y() - 50, point.x() + 50, point.y() + 50))
    QApplication.processEvents()
    p = canvas.getCoordinateTransform().transform(point)
    QTest.mouseClick(canvas.viewport(), LEFT, NO_MODIFIER, QPoint(int(round(p.x())), int(round(p.y()))))
    assert dock.plot.drawn[0].plotted.series.fids == [fid], "benchmark click plotted another point"

    # areas: the mean of the points in a square, read in a task
    from egms_plugin.layers import query as layerquery

    dock.set_mode("rectangle")

    def rectangles(half, view_half, fast=True):
        """Draw squares of ``2·half`` m around five targets; lists of the total time (s), the GUI-thread time
        (release + plotting the result, s), the longest event-loop gap (s) and the points averaged."""
        saved_location = layerquery.gpkg_location
        if not fast:  # the same task reading the values through QGIS instead of straight from the GeoPackage
            layerquery.gpkg_location = lambda *_args: None
        totals, gui, stalls, points, finish = [], [], [], [], []
        plot_area = dock._area_finished

        def timed_finish(*args):  # the GUI-thread work once the task is done: statistics, plot, highlights
            t = time.perf_counter()
            plot_area(*args)
            finish.append(time.perf_counter() - t)

        dock._area_finished = timed_finish
        try:
            for _fid, point in targets[2:7]:
                canvas.setExtent(QgsRectangle(point.x() - view_half, point.y() - view_half / 1.5,
                                              point.x() + view_half, point.y() + view_half / 1.5))
                QApplication.processEvents()
                a = canvas.getCoordinateTransform().transform(point.x() - half, point.y() + half)
                b = canvas.getCoordinateTransform().transform(point.x() + half, point.y() - half)
                QTest.mousePress(canvas.viewport(), LEFT, NO_MODIFIER, QPoint(int(a.x()), int(a.y())))
                t0 = time.perf_counter()
                QTest.mouseRelease(canvas.viewport(), LEFT, NO_MODIFIER, QPoint(int(b.x()), int(b.y())))
                gui.append(time.perf_counter() - t0)
                stalls.append(_wait_for_area(dock))
                totals.append(time.perf_counter() - t0)
                series = dock.plot.drawn[0].plotted.series
                assert series.is_area and dock.area_task is None, dock.message_text()
                points.append(series.n_points)
        finally:
            layerquery.gpkg_location = saved_location
            del dock._area_finished
        return totals, [g + f for g, f in zip(gui, finish)], stalls, points

    half = 450.0  # a 900 m square: ≈ 2 000 points × 300 dates
    area_times, area_gui, area_stalls, area_points = rectangles(half, 1200.0)
    area_slow, _g, slow_stalls, _p = rectangles(half, 1200.0, fast=False)
    cap_times, cap_gui, cap_stalls, cap_points = rectangles(800.0, 1700.0)  # 1.6 km: ≈ 6 400 points, capped
    cap_slow, _g, cap_slow_stalls, _p = rectangles(800.0, 1700.0, fast=False)
    dock.set_mode("point")
    date_names = [n for n in layer.fields().names() if n.isdigit()]
    area_bare = []
    for _fid, point in targets[2:7]:
        rect = QgsRectangle(point.x() - half, point.y() - half, point.x() + half, point.y() + half)
        t0 = time.perf_counter()
        for f in layer.getFeatures(QgsFeatureRequest().setFilterRect(rect).setSubsetOfAttributes(date_names,
                                                                                                 layer.fields())):
            f.attributes()
        area_bare.append(time.perf_counter() - t0)

    # baselines
    date_idx = [layer.fields().indexOf(n) for n in layer.fields().names() if n.isdigit()]
    fid_times = []
    for fid, _pt in targets[2:]:
        t0 = time.perf_counter()
        f = next(layer.getFeatures(QgsFeatureRequest(fid).setSubsetOfAttributes(date_idx)))
        f.attributes()
        fid_times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    n = sum(1 for _f in layer.getFeatures(QgsFeatureRequest().setNoAttributes()))
    scan = time.perf_counter() - t0
    assert n == N_POINTS

    dock.teardown()
    dock.deleteLater()
    canvas.stopRendering()
    canvas.setLayers([])
    window.close()
    window.deleteLater()
    QApplication.processEvents()
    # an OGR layer alive after exitQgis() crashes the interpreter at exit; without a running event loop PyQt keeps
    # the dock's signal lambdas (and so the dock and its iface) alive: the iface lets go of the layer
    iface._layer = iface._canvas = iface._window = None
    layer = canvas = window = dock = iface = None
    gc.collect()
    QgsSettings().remove(SETTINGS_GROUP)
    for key, value in saved.items():
        if value is not None:
            QgsSettings().setValue(f"{SETTINGS_GROUP}/{key}", value)
    if own_app:
        app.exitQgis()

    med = statistics.median
    fid_ms = _ms(med(fid_times))
    note = f"10⁶ points × {N_DATES} dates GeoPackage, {len(near_times)} clicks"
    record("dock click→plot, 1 m/px view", _ms(med(near_times)), "ms", fid_ms,
           "one QgsFeatureRequest by fid (300 dates)", target="≤ 50 ms",
           note=f"{note}; p90 {_ms(np.percentile(near_times, 90)):.1f} ms; first click {_ms(first):.1f} ms; "
                f"clicks without a series: {missed_near}")
    record("dock click→plot + cubic model & statistics", _ms(med(model_times)), "ms", fid_ms,
           "one QgsFeatureRequest by fid (300 dates)", target="≤ 50 ms", note=note)
    record("dock click→plot, whole layer on screen (17 m/px)", _ms(med(wide_times)), "ms", fid_ms,
           "one QgsFeatureRequest by fid (300 dates)", target="≤ 50 ms",
           note=f"{note}; p90 {_ms(np.percentile(wide_times, 90)):.1f} ms; clicks without a series: {missed_wide}")
    area_note = (f"GUI thread busy {_ms(med(area_gui)):.1f} ms (release + plotting the mean); event-loop gaps "
                 f"median {_ms(med(area_stalls)):.0f} ms, longest {_ms(max(area_stalls)):.0f} ms "
                 f"(through QGIS: {_ms(med(slow_stalls)):.0f} / {_ms(max(slow_stalls)):.0f} ms)")
    record("dock rectangle → mean ± 1σ plotted (task, GeoPackage read)", _ms(med(area_times)), "ms", _ms(med(area_bare)),
           "bare QgsFeatureRequest of the same rectangle with the 300 dates (the GUI freeze before)",
           note=f"{np.mean(area_points):.0f} points per rectangle (900 m square); {area_note}")
    record("dock rectangle → mean, GeoPackage read vs through QGIS", _ms(med(area_times)), "ms", _ms(med(area_slow)),
           "the same task reading the values through QgsFeatureRequest", note="900 m square")
    record("dock rectangle at the 5 000-point cap → mean plotted", _ms(med(cap_times)), "ms", _ms(med(cap_slow)),
           "the same task reading the values through QgsFeatureRequest",
           note=f"{np.mean(cap_points):.0f} points averaged (1.6 km square, capped); GUI thread busy "
                f"{_ms(med(cap_gui)):.1f} ms (release + plotting the mean); event-loop gaps median "
                f"{_ms(med(cap_stalls)):.0f} ms, longest {_ms(max(cap_stalls)):.0f} ms "
                f"(through QGIS: {_ms(med(cap_slow_stalls)):.0f} / {_ms(max(cap_slow_stalls)):.0f} ms)")
    record("dock click→plot vs a full-layer scan", _ms(med(near_times)), "ms", _ms(scan),
           "full-layer geometry scan (QgsFeatureRequest, no attributes)", note="what a click never does")
