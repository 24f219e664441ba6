"""egms:simulatestack through Processing and through qgis_process."""

import json
import os

import pytest
from qgis.core import QgsProcessingException

from egms_plugin.core.sar.stack import StackFolder


def test_processing_run_writes_a_readable_stack(run_alg, tmp_path):
    out = tmp_path / "stack"
    result = run_alg("egms:simulatestack", {"OUTPUT_FOLDER": str(out), "WIDTH": 40, "HEIGHT": 30, "N_DATES": 8,
                                            "ORBIT": 1, "SEED": 5, "START_DATE": "20210101"})
    assert result["OUTPUT_FOLDER"] == str(out) and result["N_DATES_WRITTEN"] == 8
    stack = StackFolder(out)
    assert stack.n_dates == 8 and stack.shape == (30, 40) and str(stack.dates[0]) == "2021-01-01"
    assert stack.geometry.orbit == "descending" and stack.geometry.heading_deg == 190.0
    assert result["N_SCATTERERS"] == json.load(open(out / "truth" / "simulation.json"))["n_scatterers"]


def test_processing_run_with_ds_areas_writes_the_ds_mask(run_alg, tmp_path):
    out = tmp_path / "ds"
    run_alg("egms:simulatestack", {"OUTPUT_FOLDER": str(out), "WIDTH": 40, "HEIGHT": 30, "N_DATES": 8, "SEED": 1,
                                   "DS_AREAS": 1, "DS_RADIUS": 150.0, "DS_GAMMA_INF": 0.5, "DS_TAU_DAYS": 30.0})
    sim = json.load(open(out / "truth" / "simulation.json"))
    assert (out / "truth" / "ds_mask.tif").exists() and sim["n_ds_pixels"] > 100
    assert sim["ds_gamma_inf"] == 0.5 and sim["ds_tau_days"] == 30.0


def test_processing_rejects_bad_date_and_keeps_folder_clean(run_alg, tmp_path):
    with pytest.raises(QgsProcessingException, match="start date '2021-01-01' is not YYYYMMDD"):
        run_alg("egms:simulatestack", {"OUTPUT_FOLDER": str(tmp_path / "s"), "START_DATE": "2021-01-01"})
    assert not (tmp_path / "s").exists() or os.listdir(tmp_path / "s") == []


def test_qgis_process_lists_and_runs_simulatestack(run_qgis_process, tmp_path):
    listing = run_qgis_process("list")
    assert listing.returncode == 0, listing.stderr
    assert "egms:simulatestack" in listing.stdout
    out = tmp_path / "qp_stack"
    run = run_qgis_process("run", "egms:simulatestack", "--", f"OUTPUT_FOLDER={out}", "WIDTH=48", "HEIGHT=36",
                           "N_DATES=22", "SEED=9", "ORBIT=1")
    assert run.returncode == 0, run.stdout + run.stderr
    stack = StackFolder(out)
    sim = json.load(open(out / "truth" / "simulation.json"))
    assert stack.date_strings == sim["dates"] and len(sim["dates"]) == 22
    assert list(stack.bperp.round(3)) == sim["bperp"]
    assert stack.geometry.los() == pytest.approx(tuple(sim["los_vector"]))
    assert stack.geometry.orbit == "descending" and stack.geometry.incidence_deg == 39.0
    assert stack.warnings == []


def test_qgis_process_reports_bad_input_without_traceback(run_qgis_process, tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x.txt").write_text("mine")
    run = run_qgis_process("run", "egms:simulatestack", "--", f"OUTPUT_FOLDER={tmp_path / 'busy'}", "N_DATES=3")
    assert run.returncode != 0
    assert "not an empty folder" in run.stdout + run.stderr
    assert "Traceback" not in run.stdout + run.stderr
