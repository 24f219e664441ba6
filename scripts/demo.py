"""`make demo`: run the main job end to end on built-in data and say what was written.

Simulates a Sentinel-1 stack through ``qgis_process`` (private profile), runs
the persistent-scatterer chain ``egms:computevelocities`` on it (GeoPackage of
measurement points), draws a PNG map of the points coloured by velocity (the
layer's own style, rendered by QGIS offscreen) and prints the accuracy against
the simulator's truth.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, ".build", "plugins"))
QGIS_PROCESS = os.path.join(ROOT, "scripts", "qgis_process.sh")
OUT = os.path.join(ROOT, ".build", "demo")


def qgis_process(*args):
    print("$ scripts/qgis_process.sh " + " ".join(args), flush=True)
    run = subprocess.run([QGIS_PROCESS, *args], capture_output=True, text=True)
    if run.returncode != 0:
        print(run.stdout[-3000:], run.stderr[-3000:], sep="\n")
        raise SystemExit(f"qgis_process failed ({run.returncode})")
    return run.stdout


def main():
    if not os.path.lexists(os.path.join(ROOT, ".build", "plugins", "egms_plugin")):
        os.makedirs(os.path.join(ROOT, ".build", "plugins"), exist_ok=True)
        os.symlink(ROOT, os.path.join(ROOT, ".build", "plugins", "egms_plugin"))
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    stack_dir = os.path.join(OUT, "stack")
    qgis_process("run", "egms:simulatestack", "--", f"OUTPUT_FOLDER={stack_dir}", "WIDTH=400", "HEIGHT=400",
                 "N_DATES=60", "SEED=1")

    from egms_plugin.core.sar.simulate import read_truth
    from egms_plugin.core.sar.stack import StackFolder

    stack = StackFolder(stack_dir)
    truth = read_truth(stack_dir)
    print()
    print(stack.describe())
    v = truth["velocity"][truth["ps_mask"] == 1]
    print(f"  truth: {int(truth['ps_mask'].sum())} scatterers, LOS velocity {v.min():.1f} … {v.max():.1f} mm/yr")
    print()

    gpkg = os.path.join(OUT, "velocities.gpkg")
    log = qgis_process("run", "egms:computevelocities", "--", f"INPUT={stack_dir}", f"OUTPUT={gpkg}")
    for line in log.splitlines():  # stage timings and counts (after qgis_process' progress dots)
        found = re.search(r"([A-Za-z][^.]*: \d+\.\d s|\d+ candidates → .*|Reference: .*)$", line)
        if found:
            print("   " + found.group(1))
    png = os.path.join(OUT, "velocities.png")
    draw_map(gpkg, png)
    print()
    print_accuracy(gpkg, stack_dir)
    print()
    print("Look at it:")
    print(f"  {png}   (measurement points coloured by LOS velocity)")
    print(f"  qgis {gpkg}   (click a point with the EGMS time-series dock)")
    print(f"  qgis {os.path.join(stack_dir, 'truth', 'velocity.tif')}   (true LOS velocity, mm/yr)")
    print(f"  gdalinfo {os.path.join(stack_dir, stack.date_strings[0] + '.tif')}   (one complex SLC)")


def print_accuracy(gpkg, stack_dir):
    """Accuracy of the written points against the simulator's truth (what the tests assert)."""
    import numpy as np

    from egms_plugin.core.io.points import read_points
    from egms_plugin.core.sar.simulate import read_truth

    table = read_points(gpkg)
    truth = read_truth(stack_dir)
    c = table.columns
    lines, pixels = c["line"].astype(int), c["pixel"].astype(int)
    mask = truth["ps_mask"].astype(bool)
    is_ps = mask[lines, pixels]
    dv = (c["mean_velocity"] - truth["velocity"][lines, pixels])[is_ps]
    dh = (c["height_error"] - truth["height_error"][lines, pixels])[is_ps]
    series, _ = table.displacement()
    ds = series[is_ps] - truth["displacement"][:, lines, pixels].T[is_ps]
    rms = lambda e: float(np.sqrt(np.mean(e**2)))  # noqa: E731
    print(f"Accuracy against the truth ({len(lines)} points written, {int(mask.sum())} true scatterers):")
    print(f"  scatterers found      {100 * is_ps.sum() / mask.sum():6.1f} %   (target ≥ 90 %)")
    print(f"  clutter among points  {100 * (1 - is_ps.mean()):6.1f} %   (target ≤ 5 %)")
    print(f"  velocity RMSE         {rms(dv - dv.mean()):6.2f} mm/yr  (one constant removed; target ≤ 1.0, EGMS 0.7)")
    print(f"  height-error RMSE     {rms(dh - dh.mean()):6.2f} m      (one constant removed; target ≤ 2)")
    print(f"  time-series RMSE      {rms(ds - ds.mean(axis=0)):6.2f} mm     (one value per date removed; "
          "target ≤ 4, EGMS Basic)")


def draw_map(gpkg, png, size=900):
    """Render the GeoPackage (with the velocity style it carries) to a PNG with a title and a legend."""
    from qgis.core import QgsApplication, QgsMapRendererCustomPainterJob, QgsMapSettings, QgsVectorLayer
    from qgis.PyQt.QtCore import QRectF, QSize, Qt
    from qgis.PyQt.QtGui import QColor, QFont, QImage, QPainter

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = QgsApplication([], False)
    app.initQgis()
    layer = QgsVectorLayer(gpkg, "velocities", "ogr")
    if not layer.isValid():
        raise SystemExit(f"{gpkg}: cannot be opened")
    from egms_plugin.layers.styling import apply_velocity_style

    apply_velocity_style(layer)
    legend_w = 230
    image = QImage(QSize(size + legend_w, size), QImage.Format.Format_ARGB32)
    image.fill(QColor("white"))
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(layer.crs())
    extent = layer.extent()
    extent.scale(1.05)
    settings.setExtent(extent)
    settings.setOutputSize(QSize(size, size))
    settings.setBackgroundColor(QColor("white"))
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    job = QgsMapRendererCustomPainterJob(settings, painter)
    job.start()
    job.waitForFinished()
    painter.setPen(QColor("black"))
    painter.setFont(QFont("Sans", 13, QFont.Weight.Bold))
    left = Qt.AlignmentFlag.AlignLeft
    painter.drawText(QRectF(10, 8, size, 30), left, f"LOS velocity, {layer.featureCount()} measurement points")
    painter.setFont(QFont("Sans", 10))
    y = 60
    painter.drawText(QRectF(size + 10, y - 30, legend_w, 24), left, "mm/yr (+ towards satellite)")
    renderer = layer.renderer()
    for rng in reversed(renderer.ranges()) if hasattr(renderer, "ranges") else []:
        painter.fillRect(QRectF(size + 10, y, 28, 18), rng.symbol().color())
        painter.drawText(QRectF(size + 46, y, legend_w - 50, 18), left | Qt.AlignmentFlag.AlignVCenter, rng.label())
        y += 22
    painter.end()
    image.save(png)
    del job, settings, layer
    app.exitQgis()


if __name__ == "__main__":
    main()
