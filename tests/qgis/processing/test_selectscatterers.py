"""egms:selectscatterers: candidates and rasters against numpy, warnings, bad input."""

import os

import numpy as np
import pytest
import rasterio
from qgis.core import QgsProcessingException, QgsProcessingFeedback, QgsVectorLayer

from egms_plugin.core.sar.simulate import SimulationParameters, simulate_stack
from egms_plugin.core.sar.stack import StackFolder


def test_candidates_and_rasters_equal_numpy(run_alg, small_stack, tmp_path):
    out = tmp_path / "cand.gpkg"
    result = run_alg("egms:selectscatterers", {
        "INPUT": small_stack, "OUTPUT": str(out), "DISPERSION_THRESHOLD": 0.3,
        "OUTPUT_DISPERSION": str(tmp_path / "da.tif"), "OUTPUT_MEAN_AMPLITUDE": str(tmp_path / "ma.tif"),
        "BLOCK_SIZE_MB": 8})
    stack = StackFolder(small_stack)
    amp = np.abs(stack.read_block(0, stack.shape[0]).astype(np.complex128))
    da = amp.std(axis=0) / amp.mean(axis=0)  # population std, ddof = 0
    rows, cols = np.nonzero(da < 0.3)
    assert result["N_CANDIDATES"] == len(rows)
    layer = QgsVectorLayer(str(out), "c", "ogr")
    assert layer.isValid() and layer.crs().authid() == "EPSG:3035"
    assert [f.name() for f in layer.fields()][-8:] == ["line", "pixel", "amplitude_dispersion", "mean_amplitude",
                                                       "latitude", "longitude", "easting", "northing"]
    got = sorted((f["line"], f["pixel"], f["amplitude_dispersion"], f.geometry().asPoint().x(), f["easting"])
                 for f in layer.getFeatures())
    assert [(g[0], g[1]) for g in got] == list(zip(rows.tolist(), cols.tolist()))
    np.testing.assert_allclose([g[2] for g in got], da[rows, cols], rtol=1e-6)
    np.testing.assert_allclose([g[3] for g in got], [g[4] for g in got], atol=1e-6)  # geometry in EPSG:3035
    with rasterio.open(tmp_path / "da.tif") as ds:
        np.testing.assert_allclose(ds.read(1), da, rtol=1e-6)
    with rasterio.open(tmp_path / "ma.tif") as ds:
        np.testing.assert_allclose(ds.read(1), amp.mean(axis=0), rtol=1e-6)


def test_warns_below_twenty_acquisitions(run_alg, tmp_path):
    simulate_stack(tmp_path / "short", SimulationParameters(rows=30, cols=30, n_dates=12, seed=1))
    messages = []
    feedback = QgsProcessingFeedback()
    feedback.pushWarning = messages.append  # how FeedbackProgress.warn reports
    feedback.reportError = lambda text, fatalError=False: messages.append(text)
    run_alg("egms:selectscatterers", {"INPUT": str(tmp_path / "short"), "OUTPUT": str(tmp_path / "c.gpkg")},
            feedback=feedback)
    assert any("12 acquisitions; amplitude dispersion is unreliable below 20" in m for m in messages)


def test_calibration_option_runs(run_alg, small_stack, tmp_path):
    plain = run_alg("egms:selectscatterers", {"INPUT": small_stack, "OUTPUT": str(tmp_path / "a.gpkg")})
    cal = run_alg("egms:selectscatterers", {"INPUT": small_stack, "OUTPUT": str(tmp_path / "b.gpkg"),
                                            "CALIBRATE_AMPLITUDE": True})
    # the simulator has no gain changes: calibration factors ≈ 1 and the same scatterers come out (±1 %)
    assert cal["N_CANDIDATES"] == pytest.approx(plain["N_CANDIDATES"], rel=0.01)


def test_not_a_folder(run_alg, tmp_path):
    with pytest.raises(QgsProcessingException, match="nothing: not a folder"):
        run_alg("egms:selectscatterers", {"INPUT": str(tmp_path / "nothing"), "OUTPUT": str(tmp_path / "c.gpkg")})


def test_cancel_leaves_no_raster(run_alg, small_stack, tmp_path):
    feedback = QgsProcessingFeedback()
    feedback.progressChanged.connect(lambda p: feedback.cancel() if p > 5 else None)
    with pytest.raises(QgsProcessingException, match="Cancelled"):
        run_alg("egms:selectscatterers", {"INPUT": small_stack, "OUTPUT": "TEMPORARY_OUTPUT", "BLOCK_SIZE_MB": 8,
                                          "OUTPUT_DISPERSION": str(tmp_path / "da.tif")}, feedback=feedback)
    assert os.listdir(tmp_path) == []


def test_qgis_process_lists_both_algorithms(run_qgis_process):
    listing = run_qgis_process("list")
    assert "egms:selectscatterers" in listing.stdout and "egms:computevelocities" in listing.stdout
