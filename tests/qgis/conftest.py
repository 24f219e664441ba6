"""Fixtures for tests that need QGIS (pytest-qgis, offscreen)."""

from __future__ import annotations

import configparser
import importlib
import os
import subprocess
import sys

import pytest
from qgis.core import QgsApplication

# QGIS' own Python plugins (processing) live outside site-packages.
_QGIS_PLUGINS = os.path.join(QgsApplication.pkgDataPath(), "python", "plugins")
if os.path.isdir(_QGIS_PLUGINS) and _QGIS_PLUGINS not in sys.path:
    sys.path.append(_QGIS_PLUGINS)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QGIS_PROCESS = os.path.join(ROOT, "scripts", "qgis_process.sh")


@pytest.fixture(scope="session", autouse=True)
def _no_qgis_objects_after_exit(qgis_app):
    """Collect garbage while QGIS still runs: pytest-qgis calls exitQgis() when this session ends, and a QGIS
    layer freed by a garbage collection after that (pytest's own, at exit) crashes in GDAL (seen on 3.44: a
    failed test's traceback held a processing context with its layers)."""
    yield
    import gc

    for name in ("last_type", "last_value", "last_traceback", "last_exc"):
        sys.__dict__.pop(name, None)
    gc.collect()


@pytest.fixture(scope="session")
def plugin(qgis_iface, qgis_processing):
    """The plugin loaded as QGIS loads it: metadata.txt, classFactory(iface), initProcessing()."""
    meta = configparser.ConfigParser()
    meta.read(os.path.join(ROOT, "metadata.txt"), encoding="utf-8")
    assert meta["general"]["hasProcessingProvider"] == "yes"
    package = importlib.import_module("egms_plugin")
    instance = package.classFactory(qgis_iface)
    instance.initProcessing()
    yield instance
    instance.unload()


@pytest.fixture
def without_session_provider(plugin):
    """Unregister the session plugin's provider for a test that loads its own; restore it after."""
    plugin.unload()
    yield
    plugin.initProcessing()


@pytest.fixture(scope="session")
def run_qgis_process(tmp_path_factory):
    """Run ``scripts/qgis_process.sh`` (private profile, plugin enabled); returns CompletedProcess."""
    profile = tmp_path_factory.mktemp("qgis-profile")

    def run(*args, timeout=600):
        env = dict(os.environ, EGMS_QGIS_PROFILE=str(profile))
        return subprocess.run([QGIS_PROCESS, *args], capture_output=True, text=True, timeout=timeout, env=env)

    return run


@pytest.fixture
def run_alg(plugin):
    """``processing.run`` of an egms algorithm, returning its result dict."""
    import processing
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback

    def run(alg_id, params, feedback=None):
        context = QgsProcessingContext()
        return processing.run(alg_id, params, context=context, feedback=feedback or QgsProcessingFeedback())

    return run
