"""The missing-package installer, as a Windows/macOS user meets it: pyqtgraph absent → one click → the dock works.

QGIS runs in a fresh interpreter in which pyqtgraph is hidden (a finder refuses the system copy).
The plugin offers the installation in the message bar; the button runs pip with QGIS' Python
into the plugin's own package folder (inside the private profile); the dock then opens
without a restart, its pyqtgraph imported from that folder.

pip must not need the network in CI: the wheel of the system's pyqtgraph version is fetched
once into ``.build/wheels`` (skipped when that is impossible) and pip is pointed there
(``EGMS_PIP_OPTIONS``).  pip itself does see the system pyqtgraph, which only QGIS' process
hides, so the test also passes ``--ignore-installed --no-deps``.
"""

import importlib.metadata
import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WHEELS = os.path.join(ROOT, ".build", "wheels")

SCRIPT = r"""
import importlib.abc, importlib.machinery, os, sys, time

class HideSystemPyqtgraph(importlib.abc.MetaPathFinder):
    # pyqtgraph exists only where the installer puts it
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] != "pyqtgraph":
            return None
        places = [p for p in (path or sys.path) if "dist-packages" not in p]
        spec = importlib.machinery.PathFinder.find_spec(name, places)
        if spec is None:
            raise ModuleNotFoundError(f"No module named {name!r} (hidden by the test)")
        return spec

sys.meta_path.insert(0, HideSystemPyqtgraph())
sys.path.insert(0, PLUGINS)
from qgis.core import QgsApplication
from qgis.gui import QgsMapCanvas
from qgis.PyQt.QtWidgets import QMainWindow, QPushButton
from pytest_qgis.mock_qgis_classes import MockMessageBar
from pytest_qgis.qgis_interface import QgisInterface
app = QgsApplication([], True); app.initQgis()

window = QMainWindow()
iface = QgisInterface(QgsMapCanvas(window), MockMessageBar(), window)
import egms_plugin
from egms_plugin.core import deps
assert deps.missing(["pyqtgraph"]) == ["pyqtgraph"]
plugin = egms_plugin.classFactory(iface)
plugin.initGui()
assert plugin.gui_extensions == [], "dock installed although pyqtgraph is missing"
assert plugin.installer is not None and plugin.installer.packages == ["pyqtgraph"]
buttons = [b for b in iface.messageBar().findChildren(QPushButton) if b.objectName() == "EgmsInstallPackages"]
assert len(buttons) == 1, "no install button in the message bar"
print("offered:", buttons[0].text())
buttons[0].click()
deadline = time.time() + 240
while plugin.installer.task is not None and time.time() < deadline:
    app.processEvents(); time.sleep(0.05)
assert plugin.installer.task is None, "pip did not finish"
import pyqtgraph
folder = deps.packages_folder(QgsApplication.qgisSettingsDirPath())
assert pyqtgraph.__file__.startswith(folder), pyqtgraph.__file__
assert len(plugin.gui_extensions) == 1, "the dock was not installed after pip"
gui = plugin.gui_extensions[0]
gui.action.trigger()
app.processEvents()
assert gui.dock is not None and gui.dock.plot is not None
print("dock:", type(gui.dock).__name__, "pyqtgraph", pyqtgraph.__version__, "from", pyqtgraph.__file__)
plugin.unload()
app.exitQgis()
"""


def _wheel_of_system_pyqtgraph():
    version = importlib.metadata.version("pyqtgraph")
    os.makedirs(WHEELS, exist_ok=True)
    if not any(n.startswith(f"pyqtgraph-{version}-") for n in os.listdir(WHEELS)):
        done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", WHEELS,
                               f"pyqtgraph=={version}"], capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            pytest.skip(f"cannot fetch the pyqtgraph {version} wheel: {done.stderr.strip()[-300:]}")
    return version


@pytest.mark.slow
def test_installer_brings_the_dock_back_when_pyqtgraph_is_missing(tmp_path):
    version = _wheel_of_system_pyqtgraph()
    code = textwrap.dedent(SCRIPT).replace("PLUGINS", repr(os.path.join(ROOT, ".build", "plugins")))
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QGIS_CUSTOM_CONFIG_PATH=str(tmp_path / "profile"),
               EGMS_PIP_OPTIONS=f"--no-index --find-links {WHEELS} --ignore-installed --no-deps",
               XDG_RUNTIME_DIR=str(tmp_path))
    os.chmod(tmp_path, 0o700)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=400, env=env,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    assert "offered: Install pyqtgraph" in done.stdout
    assert f"dock: TimeSeriesDock pyqtgraph {version} from {tmp_path / 'profile'}" in done.stdout, done.stdout
