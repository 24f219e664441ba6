"""The plugin loads like QGIS loads it, registers its algorithms, and survives missing packages."""

import os
import subprocess
import sys
import textwrap

from qgis.core import QgsApplication

from egms_plugin.processing import provider as provider_module

# DESIGN §4: the fixed ids
DESIGN_IDS = {"simulatestack", "interferograms", "selectscatterers", "computevelocities", "importegms",
              "fittimeseries", "decompose", "calibrategnss", "exportegms", "activeareas", "velocityprofile"}
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_every_algorithm_registered_under_its_fixed_id(plugin):
    registry = QgsApplication.processingRegistry()
    provider = registry.providerById("egms")
    assert provider is not None and provider.name() == "EGMS ground motion"
    listed = {alg.alg_name for _m, alg, _r in provider_module.algorithm_modules()}
    assert listed == DESIGN_IDS
    registered = {alg.name() for alg in provider.algorithms()}
    assert registered == DESIGN_IDS
    for name in registered:
        alg = registry.algorithmById(f"egms:{name}")
        assert alg is not None and alg.shortHelpString().strip(), name
        for param in alg.parameterDefinitions():
            assert param.name() == param.name().upper(), f"{name}: parameter {param.name()} not in capitals"


def test_init_processing_is_idempotent(plugin):
    before = plugin.provider
    plugin.initProcessing()
    assert plugin.provider is before
    assert len([p for p in QgsApplication.processingRegistry().providers() if p.id() == "egms"]) == 1


def test_gui_adds_and_removes_everything(qgis_iface, without_session_provider):
    import egms_plugin

    instance = egms_plugin.classFactory(qgis_iface)
    instance.initGui()
    try:
        assert instance.actions, "no menu actions"
        assert QgsApplication.processingRegistry().providerById("egms") is not None
    finally:
        instance.unload()
    assert instance.actions == [] and instance.toolbar is None and instance.provider is None
    assert QgsApplication.processingRegistry().providerById("egms") is None


def test_missing_dependency_registers_what_can_work(without_session_provider, monkeypatch):
    messages = []
    QgsApplication.messageLog().messageReceived.connect(lambda msg, tag, level: messages.append((tag, msg)))
    monkeypatch.setitem(sys.modules, "rasterio", None)  # what an absent package looks like to import
    prov = provider_module.EgmsProvider()
    assert QgsApplication.processingRegistry().addProvider(prov)
    try:
        QgsApplication.processEvents()
        assert "rasterio" in prov.missing_packages
        needing = {alg.alg_name for _m, alg, needs in provider_module.algorithm_modules() if "rasterio" in needs}
        assert needing and needing <= set(prov.skipped)
        assert not needing & {a.name() for a in prov.algorithms()}
        log = [m for tag, m in messages if tag == "EGMS ground motion"]
        assert len(log) == 1 and "python3-rasterio" in log[0] and "egms:simulatestack" in log[0]
    finally:
        QgsApplication.processingRegistry().removeProvider(prov)


def test_plugin_import_does_not_import_numba_or_pyqtgraph():
    """Fresh interpreter: classFactory + initProcessing with numba and pyqtgraph blocked."""
    code = textwrap.dedent(f"""
        import os, sys
        sys.modules["numba"] = None; sys.modules["pyqtgraph"] = None
        sys.path.insert(0, {os.path.join(ROOT, '.build', 'plugins')!r})
        from qgis.core import QgsApplication
        app = QgsApplication([], False); app.initQgis()
        import egms_plugin
        plugin = egms_plugin.classFactory(None)
        plugin.initProcessing()
        names = sorted(a.name() for a in plugin.provider.algorithms())
        print("registered", names, "missing", plugin.provider.missing_packages)
        plugin.unload()
    """)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    assert "registered ['simulatestack'" in out.stdout or "registered [" in out.stdout
    assert "Traceback" not in out.stderr
