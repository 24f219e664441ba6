"""Start-up script of ``make gui-demo`` (run by ``qgis --code``; see scripts/gui_demo.sh).

Inside a real QGIS: load the demo measurement points, style them by velocity,
open the time-series dock through the plugin's own action, click two points
with real mouse events on the map canvas (the second with Shift), show the
cubic model, save a screenshot of the whole window; then Shift+drag a rectangle
around the first point, save the dock while its mean is read in a QgsTask
(``dock_reading.png``), wait for the mean, save the dock as ``dock_area.png`` and quit.  Everything is
logged to ``$EGMS_GUI_DEMO_OUT/log.txt``; a failure writes "DEMO FAILED".
"""

import datetime as dt
import os
import re
import time
import traceback

import numpy as np
from qgis.core import (
    QgsApplication,
    QgsFeature,
    QgsFeatureRequest,
    QgsGeometry,
    QgsPointXY,
    QgsProject,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QPoint, Qt, QTimer
from qgis.PyQt.QtTest import QTest
from qgis.utils import iface, plugins

OUT = os.environ.get("EGMS_GUI_DEMO_OUT", os.path.join(os.getcwd(), ".build", "gui-demo"))
DATA = os.environ.get("EGMS_GUI_DEMO_DATA", "")
WIDTH, HEIGHT = 1600, 1000
state = {}


def log(message):
    with open(os.path.join(OUT, "log.txt"), "a", encoding="utf-8") as fh:
        fh.write(f"gui-demo: {message}\n")


def guarded(step):
    def run():
        try:
            step()
        except Exception:  # noqa: BLE001 - the demo must always end, and say why it failed
            log("DEMO FAILED\n" + traceback.format_exc())
            QTimer.singleShot(100, finish)

    return run


def simulated_layer():
    """A layer of 400 points with EGMS-like fields when no EGMS sample is available."""
    rng = np.random.default_rng(1)
    dates = [dt.date(2020, 1, 3) + dt.timedelta(days=6 * k) for k in range(250)]
    t = np.array([(d - dates[0]).days for d in dates]) / 365.0
    fields = ["field=pid:string", "field=temporal_coherence:double", "field=rmse:double",
              "field=mean_velocity:double"] + [f"field={d:%Y%m%d}:double" for d in dates]
    layer = QgsVectorLayer("Point?crs=EPSG:3035&" + "&".join(fields), "simulated points", "memory")
    feats = []
    for k in range(400):
        x, y = rng.uniform(0, 2000, 2)
        v = -12.0 * np.exp(-((x - 1000) ** 2 + (y - 1000) ** 2) / 4e5)
        series = v * t + 2.5 * np.sin(2 * np.pi * t) + rng.normal(0, 1.2, t.size)
        f = QgsFeature(layer.fields())
        f.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(4_300_000 + x, 3_200_000 + y)))
        f.setAttributes([f"sim{k:04d}", 0.9, 1.2, float(v)] + [float(round(s, 1)) for s in series])
        feats.append(f)
    layer.dataProvider().addFeatures(feats)
    return layer


@guarded
def start():
    window = iface.mainWindow()
    window.setGeometry(0, 0, WIDTH, HEIGHT)
    if DATA and os.path.exists(DATA):
        layer = QgsVectorLayer(DATA, os.path.splitext(os.path.basename(DATA))[0], "ogr")
    else:
        layer = simulated_layer()
    if not layer.isValid():
        raise RuntimeError(f"demo layer {DATA} is not valid")
    QgsProject.instance().addMapLayer(layer)
    iface.setActiveLayer(layer)
    state["layer"] = layer
    log(f"loaded {layer.name()}: {layer.featureCount()} points, {len(layer.fields())} fields")

    plugin = plugins.get("egms_plugin")
    if plugin is None or not plugin.gui_extensions:
        raise RuntimeError(f"plugin egms_plugin not loaded (loaded: {sorted(plugins)})")
    gui = plugin.gui_extensions[0]
    gui.action.trigger()  # what the user does: toolbar button / menu entry
    dock = gui.dock
    if dock is None:
        raise RuntimeError("the action did not open the dock")
    state["dock"] = dock
    window.resizeDocks([dock], [390], Qt.Orientation.Vertical)
    dock.panel.layer_combo.setLayer(layer)
    if dock.style_layer():
        log("styled by velocity: " + dock.message_text())
    else:
        log("velocity styling unavailable: " + dock.message_text())
    dock.panel.model_combo.setCurrentIndex(dock.panel.model_combo.findData("cubic"))
    iface.mapCanvas().setExtent(layer.extent().buffered(60))
    iface.mapCanvas().refresh()
    QTimer.singleShot(2500, click_points)


def pick_points(layer):
    """A fast-moving coherent point and a stable one, to show two contrasting series."""
    names = layer.fields().names()
    velocity = "mean_velocity" if "mean_velocity" in names else None
    coherence = "temporal_coherence" if "temporal_coherence" in names else None
    request = QgsFeatureRequest().setSubsetOfAttributes([f for f in (velocity, coherence) if f], layer.fields())
    rows = [(f.id(), f[velocity] if velocity else 0.0, f[coherence] if coherence else 1.0, f.geometry().asPoint())
            for f in layer.getFeatures(request)]
    good = [r for r in rows if r[2] is not None and r[2] >= 0.75 and r[1] is not None]
    moving = min(good, key=lambda r: r[1])
    stable = max((r for r in good if abs(r[1]) < 0.3), key=lambda r: r[2])
    return moving, stable


def pixel_of(point):
    canvas = iface.mapCanvas()
    p = canvas.getCoordinateTransform().transform(canvas.mapSettings().layerToMapCoordinates(state["layer"], point))
    return QPoint(int(round(p.x())), int(round(p.y())))


@guarded
def click_points():
    canvas = iface.mapCanvas()
    dock = state["dock"]
    moving, stable = pick_points(state["layer"])
    state["moving"] = moving
    QTest.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pixel_of(moving[3]))
    QTest.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, pixel_of(stable[3]))
    log("clicked: " + " | ".join(d.plotted.label for d in dock.plot.drawn))
    log("dock says: " + dock.message_text())
    for line in re.sub(r"<[^>]+>", "", dock.panel.summary.text().replace("<br>", "\n")).splitlines():
        log("  " + line)
    if len(dock.plot.drawn) != 2:
        raise RuntimeError(f"expected 2 plotted series, got {len(dock.plot.drawn)}")
    first = dock.plot.drawn[0]
    x, y = first.plotted.x, first.plotted.y
    k = int(np.flatnonzero(np.isfinite(y))[-12])
    log("hover readout: " + dock.plot.readout_at(x[k], y[k]))
    QTimer.singleShot(2500, screenshot)


@guarded
def screenshot():
    dock = state["dock"]
    window = iface.mainWindow()
    window.grab().save(os.path.join(OUT, "screenshot.png"))
    dock.grab().save(os.path.join(OUT, "dock.png"))
    dock.export(os.path.join(OUT, "plot.png"))
    dock.export(os.path.join(OUT, "series.csv"))
    log(f"screenshot {window.width()}×{window.height()} → {os.path.join(OUT, 'screenshot.png')}")
    QTimer.singleShot(300, draw_area)


@guarded
def draw_area():
    """Shift+drag a rectangle of ±40 px around the first point: its mean is read in a task, then added."""
    canvas = iface.mapCanvas()
    dock = state["dock"]
    dock.set_mode("rectangle")
    centre = pixel_of(state["moving"][3])
    a, b = centre - QPoint(40, 40), centre + QPoint(40, 40)
    QTest.mousePress(canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, a)
    QTest.mouseMove(canvas.viewport(), b)
    state["area_started"] = time.perf_counter()
    QTest.mouseRelease(canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, b)
    log(f"rectangle drawn (GUI thread back after {1000 * (time.perf_counter() - state['area_started']):.0f} ms): "
        + dock.message_text())
    dock.grab().save(os.path.join(OUT, "dock_reading.png"))  # the progress bar and Cancel while the task runs
    QTimer.singleShot(20, wait_for_area)


@guarded
def wait_for_area():
    dock = state["dock"]
    elapsed = time.perf_counter() - state["area_started"]
    if dock.area_task is not None:
        if elapsed > 60:
            raise RuntimeError("the area task did not finish within 60 s")
        QTimer.singleShot(20, wait_for_area)
        return
    areas = [d.plotted for d in dock.plot.drawn if d.plotted.series.is_area]
    if not areas:
        raise RuntimeError("no area mean plotted: " + dock.message_text())
    series = areas[0].series
    log(f"area mean plotted after {elapsed:.2f} s: {series.point_id}, {int(series.count.max())} values on the "
        f"fullest date; dock says: {dock.message_text()}")
    dock.set_mode("point")
    QTimer.singleShot(1500, area_screenshot)


@guarded
def area_screenshot():
    state["dock"].grab().save(os.path.join(OUT, "dock_area.png"))
    log(f"area screenshot → {os.path.join(OUT, 'dock_area.png')}")
    QTimer.singleShot(300, finish)


def finish():
    QgsProject.instance().setDirty(False)
    QgsApplication.exit(0)


QTimer.singleShot(1500, start)
