"""egms:interferograms through Processing and through qgis_process."""

import csv
import os

import numpy as np
import pytest
import rasterio
from qgis.core import QgsProcessingException, QgsProcessingFeedback

from egms_plugin.core.sar.interferograms import multilook_interferograms
from egms_plugin.core.sar.pairs import sequential_pairs
from egms_plugin.core.sar.simulate import SimulationParameters, simulate_stack
from egms_plugin.core.sar.stack import StackFolder

ALG = "egms:interferograms"


class RecordingFeedback(QgsProcessingFeedback):
    """Keeps the warnings (reportError or pushWarning) and info messages of a run."""

    def __init__(self, cancel_after_first_block=False):
        super().__init__()
        self.errors, self.infos = [], []
        if cancel_after_first_block:
            self.progressChanged.connect(lambda value: self.cancel() if value > 0 else None)

    def reportError(self, error, fatalError=False):
        self.errors.append(error)
        super().reportError(error, fatalError)

    def pushWarning(self, warning):
        self.errors.append(warning)
        super().pushWarning(warning)

    def pushInfo(self, info):
        self.infos.append(info)
        super().pushInfo(info)


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def test_single_reference_run_files_georeferencing_and_pairs_csv(run_alg, small_stack, tmp_path):
    stack = StackFolder(small_stack)
    names = stack.date_strings
    out = tmp_path / "ifg"
    feedback = RecordingFeedback()
    result = run_alg(ALG, {"INPUT": small_stack, "NETWORK": 0, "REFERENCE_DATE": names[5], "ROW_LOOKS": 3,
                           "COL_LOOKS": 4, "OUTPUT_FOLDER": str(out)}, feedback)
    assert result["OUTPUT_FOLDER"] == str(out) and result["N_PAIRS"] == 29
    assert any("1 last row(s) and 0 last column(s) do not fill a whole 3 × 4 window and are dropped" in i
               for i in feedback.infos)
    expected = sorted(f"{min(names[5], d)}_{max(names[5], d)}.tif" for d in names if d != names[5])
    assert sorted(f for f in os.listdir(out) if f.endswith(".tif")) == expected
    with rasterio.open(out / f"{names[0]}_{names[5]}.tif") as ds:
        assert ds.crs == stack.crs and (ds.height, ds.width) == (33, 30)  # 100 // 3, 120 // 4
        assert ds.transform == looks_transform(stack.transform, 4, 3)
        assert ds.transform.a == 80.0 and ds.transform.e == -60.0 and ds.transform.c == stack.transform.c
        assert ds.descriptions == ("wrapped phase (rad)", "coherence")
        with stack:
            slc = stack.read_block(0, 99)
        phase, coherence = multilook_interferograms(slc, [(0, 5)], 3, 4)
        np.testing.assert_array_equal(ds.read(1), phase[0])
        np.testing.assert_array_equal(ds.read(2), coherence[0])
    rows = read_csv(out / "pairs.csv")
    assert rows[0] == ["reference", "secondary", "temporal_baseline_days", "perpendicular_baseline_m", "file"]
    assert len(rows) == 30
    by_file = {r[4]: r for r in rows[1:]}
    row = by_file[f"{names[5]}_{names[9]}.tif"]
    assert row[:4] == [names[5], names[9], str((stack.dates[9] - stack.dates[5]).days),
                       f"{stack.bperp[9] - stack.bperp[5]:.3f}"]


def test_warnings_of_the_stack_and_network_reach_the_feedback(run_alg, tmp_path):
    folder = tmp_path / "short"
    simulate_stack(folder, SimulationParameters(rows=20, cols=24, n_dates=6, seed=3))
    dates = StackFolder(folder).dates
    gaps = [(b - a).days for a, b in zip(dates, dates[1:])]
    assert min(gaps) < max(gaps)  # so a limit just below the largest gap keeps pairs but splits the network
    feedback = RecordingFeedback()
    result = run_alg(ALG, {"INPUT": str(folder), "NETWORK": 2, "MAX_TEMPORAL_BASELINE": max(gaps) - 1,
                           "MAX_PERPENDICULAR_BASELINE": 1000, "ROW_LOOKS": 4, "COL_LOOKS": 5,
                           "OUTPUT_FOLDER": str(tmp_path / "out")}, feedback)
    assert any("6 acquisitions; amplitude dispersion is unreliable below 20" in e for e in feedback.errors)
    assert any("the small baseline network is disconnected" in e for e in feedback.errors)
    assert result["N_PAIRS"] == len(read_csv(tmp_path / "out" / "pairs.csv")) - 1 > 0


@pytest.mark.parametrize("case, params, message", [
    ("not a stack", {}, "no SLC found"),
    ("unknown date", {"NETWORK": 0, "REFERENCE_DATE": "20000101"},
     "reference date 20000101 is not an acquisition of the stack"),
    ("looks too large", {"ROW_LOOKS": 2, "COL_LOOKS": 121},
     "looks 2 × 121 \\(rows × columns\\) are larger than the image of 100 rows × 120 columns"),
])
def test_bad_input_gives_the_message_and_no_output(run_alg, small_stack, tmp_path, case, params, message):
    source = small_stack
    if case == "not a stack":
        source = tmp_path / "photos"
        source.mkdir()
        (source / "holiday_20200101.jpg").write_text("not a raster")
        (source / "notes.txt").write_text("x")
    with pytest.raises(QgsProcessingException, match=message):
        run_alg(ALG, {"INPUT": str(source), "OUTPUT_FOLDER": str(tmp_path / "out"), **params})
    assert not (tmp_path / "out").exists() or os.listdir(tmp_path / "out") == []
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".interferograms")]


def test_cancelled_run_leaves_no_files(run_alg, small_stack, tmp_path):
    feedback = RecordingFeedback(cancel_after_first_block=True)
    with pytest.raises(QgsProcessingException, match="Cancelled"):
        run_alg(ALG, {"INPUT": small_stack, "ROW_LOOKS": 1, "COL_LOOKS": 1, "BLOCK_SIZE_MB": 1,
                      "OUTPUT_FOLDER": str(tmp_path / "out")}, feedback)
    assert any("block(s) of up to 9 rows" in i for i in feedback.infos)  # 12 blocks: cancelled after the first
    leftovers = [os.path.join(d, f) for d, _, files in os.walk(tmp_path) for f in files]
    assert leftovers == []


def test_qgis_process_runs_a_sequential_network(run_qgis_process, small_stack, tmp_path):
    out = tmp_path / "qp_ifg"
    run = run_qgis_process("run", ALG, "--", f"INPUT={small_stack}", "NETWORK=1", "SEQUENTIAL_NEIGHBOURS=2",
                           "ROW_LOOKS=4", "COL_LOOKS=4", f"OUTPUT_FOLDER={out}")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "N_PAIRS:\t57" in run.stdout
    stack = StackFolder(small_stack)
    names = stack.date_strings
    pairs = sequential_pairs(stack.n_dates, 2)
    rows = read_csv(out / "pairs.csv")
    assert [r[4] for r in rows[1:]] == [f"{names[i]}_{names[k]}.tif" for i, k in pairs]
    assert sorted(os.listdir(out)) == sorted([r[4] for r in rows[1:]] + ["pairs.csv"])
    with rasterio.open(out / rows[1][4]) as ds:
        assert ds.transform == looks_transform(stack.transform, 4, 4) and (ds.height, ds.width) == (25, 30)
        coherence = ds.read(2)
        assert coherence.min() >= 0 and coherence.max() <= 1 and ds.read(1).max() <= np.float32(np.pi)


def looks_transform(t, col_looks, row_looks):
    """A north-up geotransform with pixels col_looks × row_looks as large, the same origin (written out)."""
    assert t.b == 0 and t.d == 0
    return rasterio.Affine(t.a * col_looks, 0.0, t.c, 0.0, t.e * row_looks, t.f)


def test_phase_linking_passes_the_ds_window_to_the_core(run_alg, small_stack, tmp_path):
    from egms_plugin.core.psi.ds.scan import DsParameters
    from egms_plugin.core.sar.interferograms import form_interferograms

    feedback = RecordingFeedback()
    params = {"INPUT": small_stack, "NETWORK": 1, "SEQUENTIAL_NEIGHBOURS": 1, "ROW_LOOKS": 2, "COL_LOOKS": 2,
              "PHASE_LINKING": True, "DS_WINDOW_ROWS": 7, "DS_WINDOW_COLS": 9, "DS_SIGNIFICANCE": 0.1}
    result = run_alg(ALG, {**params, "OUTPUT_FOLDER": str(tmp_path / "linked")}, feedback)
    assert any("phase-linked" in i for i in feedback.infos)
    reference = form_interferograms(StackFolder(small_stack), str(tmp_path / "core"), network="sequential",
                                    neighbours=1, row_looks=2, col_looks=2,
                                    phase_linking=DsParameters(window_rows=7, window_cols=9, alpha=0.1))
    plain = run_alg(ALG, {**params, "PHASE_LINKING": False, "OUTPUT_FOLDER": str(tmp_path / "plain")})
    assert result["N_PAIRS"] == len(reference["files"]) == plain["N_PAIRS"] == 29
    name = os.path.basename(reference["files"][3])
    with rasterio.open(tmp_path / "linked" / name) as a, rasterio.open(tmp_path / "core" / name) as b, \
            rasterio.open(tmp_path / "plain" / name) as c:
        np.testing.assert_array_equal(a.read(), b.read())
        assert a.transform == c.transform and a.shape == c.shape == (50, 60)
        assert not np.array_equal(a.read(1), c.read(1))  # linked, not boxcar looks
    # DS_SHP_TEST = 1: the KS test's SHPs, as the core gives them (and not the default GLRT's)
    run_alg(ALG, {**params, "DS_SHP_TEST": 1, "OUTPUT_FOLDER": str(tmp_path / "linked_ks")})
    form_interferograms(StackFolder(small_stack), str(tmp_path / "core_ks"), network="sequential", neighbours=1,
                        row_looks=2, col_looks=2, phase_linking=DsParameters(window_rows=7, window_cols=9, alpha=0.1,
                                                                             test="ks"))
    with rasterio.open(tmp_path / "linked_ks" / name) as a, rasterio.open(tmp_path / "core_ks" / name) as b, \
            rasterio.open(tmp_path / "linked" / name) as c:
        np.testing.assert_array_equal(a.read(), b.read())
        assert "KS alpha 0.1" in a.tags()["PHASE_LINKING"] and "GLRT alpha 0.1" in c.tags()["PHASE_LINKING"]
        assert not np.array_equal(a.read(), c.read())
