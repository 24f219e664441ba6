"""Test-wide set-up: import the checkout as the package ``egms_plugin``.

QGIS loads the plugin as ``egms_plugin`` from a plugins folder; the checkout's
own folder name is arbitrary, so a link ``.build/plugins/egms_plugin`` → the
checkout is put on ``sys.path`` (the same folder serves as ``QGIS_PLUGINPATH``
for the qgis_process tests).
"""

from __future__ import annotations

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLUGINS = os.path.join(ROOT, ".build", "plugins")
SHARED_DATA = os.path.join(os.path.dirname(ROOT), "shared", "data")
EGMS_SAMPLE = os.path.join(SHARED_DATA, "egms", "EGMS_L2b_022_0845_IW2_VV_2020_2024_1.zip")

os.makedirs(PLUGINS, exist_ok=True)
_link = os.path.join(PLUGINS, "egms_plugin")
if not (os.path.islink(_link) and os.path.realpath(_link) == os.path.realpath(ROOT)):
    if os.path.lexists(_link):
        os.remove(_link)
    os.symlink(ROOT, _link)
if PLUGINS not in sys.path:
    sys.path.insert(0, PLUGINS)
os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(ROOT, ".build", "numba-cache"))
os.environ.setdefault("EGMS_NO_WARMUP", "1")  # no background kernel compilation when a test calls initGui


@pytest.fixture(scope="session")
def egms_sample():
    """Path of the real EGMS Calibrated file in ../shared/data (skips when absent)."""
    if not os.path.exists(EGMS_SAMPLE):
        pytest.skip(f"real EGMS sample not found at {EGMS_SAMPLE}")
    return EGMS_SAMPLE


@pytest.fixture(scope="session")
def small_stack(tmp_path_factory):
    """A small simulated stack (120 × 100 pixels, 30 dates), shared read-only by tests."""
    from egms_plugin.core.sar.simulate import SimulationParameters, simulate_stack

    folder = tmp_path_factory.mktemp("stacks") / "small"
    simulate_stack(folder, SimulationParameters(rows=100, cols=120, n_dates=30, seed=7))
    return str(folder)
