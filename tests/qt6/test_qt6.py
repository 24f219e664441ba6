"""Qt 6 (QGIS 4): the plugin's code names only what PyQt6 has, and its pure-Qt parts run on PyQt6.

No QGIS 4 build exists for Debian; PyQt6 (``python3-pyqt6``) stands in.  Both checks run
in subprocesses, so PyQt5 (QGIS 3) and PyQt6 never share a process.
"""

import datetime as dt
import os
import subprocess
import sys
import textwrap

import pytest

from egms_plugin.testing import qt6

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLUGIN_CODE = [os.path.join(ROOT, p) for p in ("__init__.py", "egms_plugin.py", "compat.py", "core", "layers",
                                                  "processing", "ui")]
EVERYTHING = PLUGIN_CODE + [os.path.join(ROOT, p) for p in ("tests", "testing", "scripts", "bench")]


def _has_pyqt6():
    done = subprocess.run([sys.executable, "-c", "import PyQt6.QtCore"], capture_output=True)
    return done.returncode == 0


needs_pyqt6 = pytest.mark.skipif(not _has_pyqt6(), reason="PyQt6 missing: make setup installs python3-pyqt6")


@needs_pyqt6
def test_plugin_code_names_only_what_pyqt6_has():
    uses, missing = qt6.check([p for p in PLUGIN_CODE if os.path.exists(p)])
    assert len(uses) > 100  # the scan sees the dock, plot and map tool (a scan that finds nothing proves nothing)


@needs_pyqt6
def test_tests_scripts_and_benchmarks_too():
    """So the test suite itself can run on QGIS 4 one day."""
    uses, missing = qt6.check([p for p in EVERYTHING if os.path.exists(p) and p not in PLUGIN_CODE])
    assert len(uses) > 50
    assert not missing, "\n".join(qt6.describe(u).replace(ROOT + os.sep, "") for u in missing)


@needs_pyqt6
def test_a_planted_unscoped_enum_is_caught(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text(textwrap.dedent("""
        from qgis.PyQt.QtCore import Qt
        from qgis.PyQt.QtWidgets import QDialog, QSizePolicy
        try:
            from qgis.PyQt.QtGui import QAction
        except ImportError:
            from qgis.PyQt.QtWidgets import QAction   # Qt 5 fallback: exempt
        ok = (Qt.MouseButton.LeftButton, QSizePolicy.Policy.Maximum, QAction)
        bad = Qt.LeftButton
        QDialog().exec_()
        legacy = Qt.RightButton  # qt5-only: exempt by marker
    """))
    uses, missing = qt6.check([str(planted)])
    found = sorted((u.line, u.name) for u in missing)
    assert found == [(9, "QtCore.Qt.LeftButton"), (10, "@removed.exec_")], found
    assert {u.name for u in uses} >= {"QtCore.Qt.MouseButton.LeftButton", "QtWidgets.QSizePolicy.Policy.Maximum",
                                      "QtGui.QAction"}


STAND_IN = {
    # QGIS 4's qgis.PyQt modules are ``from PyQt6.QtX import *`` (python/PyQt/PyQt6 in QGIS' tree)
    "qgis/__init__.py": "",
    "qgis/PyQt/__init__.py": "",
    "qgis/PyQt/QtCore.py": "from PyQt6.QtCore import *  # noqa\n",
    "qgis/PyQt/QtGui.py": "from PyQt6.QtGui import *  # noqa\n",
    "qgis/PyQt/QtWidgets.py": "from PyQt6.QtWidgets import *  # noqa\n",
    "qgis/PyQt/QtSvg.py": "from PyQt6.QtSvg import *  # noqa\n",
}

SMOKE = r"""
import datetime as dt, os, sys
import numpy as np
from qgis.PyQt.QtWidgets import QApplication
app = QApplication([])
import pyqtgraph as pg
from egms_plugin.layers.series import Series, prepare
from egms_plugin.ui.export import write_csv
from egms_plugin.ui.plot import PALETTE, TimeSeriesPlot
assert pg.Qt.QT_LIB == "PyQt6", pg.Qt.QT_LIB
assert "PyQt5" not in sys.modules

dates = [dt.date(2020, 1, 1) + dt.timedelta(days=6 * k) for k in range(40)]
values = np.round(-5.0 * np.arange(40) * 6 / 365.25, 1)
series = Series(layer_id="L", layer_name="points", point_id="P1", dates=dates, values=values, rmse=1.0)
plotted = prepare(series, PALETTE[0], model="linear")
plot = TimeSeriesPlot()
plot.resize(800, 400)
plot.show_series([plotted], error_bars=True)
x, y = plot.drawn[0].data.getData()
assert np.allclose(y, values), (y[:3], values[:3])
out = sys.argv[1]
plot.export_png(os.path.join(out, "plot.png"))
plot.export_svg(os.path.join(out, "plot.svg"))
assert write_csv(os.path.join(out, "plot.csv"), [plotted]) == 40
text = plot.readout_at(x[10], y[10])
assert text.startswith(dates[10].isoformat()), text
plot.show_series([])
plot.close()
print("ok")
"""


@needs_pyqt6
def test_plot_series_and_export_run_on_pyqt6(tmp_path):
    stand_in = tmp_path / "stand_in"
    for rel, text in STAND_IN.items():
        (stand_in / rel).parent.mkdir(parents=True, exist_ok=True)
        (stand_in / rel).write_text(text)
    out = tmp_path / "out"
    out.mkdir()
    plugins = os.path.join(ROOT, ".build", "plugins")  # holds the egms_plugin link (tests/conftest.py)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(stand_in), plugins]), PYQTGRAPH_QT_LIB="PyQt6",
               QT_QPA_PLATFORM="offscreen", XDG_RUNTIME_DIR=str(tmp_path))
    done = subprocess.run([sys.executable, "-P", "-c", SMOKE, str(out)], capture_output=True, text=True, timeout=300,
                          env=env, cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stdout[-3000:] + done.stderr[-3000:]
    png = (out / "plot.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    assert (out / "plot.svg").read_text().lstrip().startswith("<?xml")
    rows = (out / "plot.csv").read_text().splitlines()
    assert len(rows) == 41 and dt.date(2020, 1, 1).isoformat() in rows[1]


def test_metadata_declares_qt6_and_qgis4():
    import configparser

    meta = configparser.ConfigParser()
    meta.read(os.path.join(ROOT, "metadata.txt"), encoding="utf-8")
    general = meta["general"]
    assert general["supportsQt6"] == "True" and general["qgisMaximumVersion"] == "4.99"
    assert general["qgisMinimumVersion"] == "3.22"
