"""`make zip` gives a plugin zip that QGIS can install: egms_plugin/ inside, no tests or caches."""

import os
import shutil
import subprocess
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_zip_installs_and_registers(tmp_path):
    out = subprocess.run(["make", "-s", "zip"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    path = os.path.join(ROOT, ".build", "dist", "egms_plugin.zip")
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        assert all(n.startswith("egms_plugin/") for n in names)
        assert "egms_plugin/metadata.txt" in names and "egms_plugin/__init__.py" in names
        assert not [n for n in names if "/tests/" in n or "__pycache__" in n or n.endswith(".pyc")]
        assert not [n for n in names if n.startswith(("egms_plugin/testing/", "egms_plugin/bench/",
                                                       "egms_plugin/scripts/"))]  # test-only code does not ship
        for module in ("compat.py", "layers/styling.py", "core/psi/chain.py", "core/egms/importer.py", "ui/dock.py"):
            assert f"egms_plugin/{module}" in names
        z.extractall(tmp_path / "plugins")
    # what "Install from ZIP" does: unpack into a plugins folder; qgis_process then finds the provider
    env = dict(os.environ, QGIS_PLUGINPATH=str(tmp_path / "plugins"), QGIS_CUSTOM_CONFIG_PATH=str(tmp_path / "profile"),
               QT_QPA_PLATFORM="offscreen")
    # the unzipped copy must work on its own (not through the checkout link of scripts/qgis_process.sh)
    binary = shutil.which("qgis_process.bin") or shutil.which("qgis_process")
    subprocess.run([binary, "plugins", "enable", "egms_plugin"], env=env, capture_output=True, timeout=120)
    listing = subprocess.run([binary, "list"], env=env, capture_output=True, text=True, timeout=120)
    assert "egms:simulatestack" in listing.stdout, listing.stdout[-2000:] + listing.stderr[-2000:]
