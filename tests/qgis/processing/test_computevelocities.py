"""egms:computevelocities through Processing and qgis_process: schema, CRS, reference, errors, cancel."""

import os

import numpy as np
import pytest
from osgeo import ogr
from qgis.core import QgsProcessingException, QgsProcessingFeedback, QgsVectorLayer

from egms_plugin.core.psi.chain import ATTRIBUTE_FIELDS, PsiParameters, compute_velocities
from egms_plugin.core.sar.simulate import SimulationParameters, read_truth, simulate_stack
from egms_plugin.core.sar.stack import StackFolder


@pytest.fixture(scope="module")
def psi_stack(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cv") / "stack"
    simulate_stack(folder, SimulationParameters(rows=150, cols=150, n_dates=60, seed=3))
    return str(folder)


def read_layer(path):
    ds = ogr.Open(str(path))
    layer = ds.GetLayer(0)
    defn = layer.GetLayerDefn()
    names = [defn.GetFieldDefn(i).GetName() for i in range(defn.GetFieldCount())]
    rows = [(f.GetGeometryRef().GetX(), f.GetGeometryRef().GetY(), [f.GetField(n) for n in names]) for f in layer]
    srs = layer.GetSpatialRef()
    return names, rows, srs.GetAuthorityCode(None) if srs else None


def test_processing_run_writes_the_egms_schema(run_alg, psi_stack, tmp_path):
    out = tmp_path / "mp.gpkg"
    result = run_alg("egms:computevelocities", {"INPUT": psi_stack, "OUTPUT": str(out)})
    assert result["OUTPUT"] == str(out) and os.path.exists(out)
    stack = StackFolder(psi_stack)
    names, rows, epsg = read_layer(out)
    assert names == list(ATTRIBUTE_FIELDS) + stack.date_strings and epsg == "3035"
    assert result["N_POINTS"] == len(rows) > 0.9 * read_truth(psi_stack)["ps_mask"].sum()
    core = compute_velocities(StackFolder(psi_stack)).columns  # the same numbers as the core chain
    by_pid = {r[2][0]: r for r in rows}
    for k in (0, len(core["pid"]) // 2):
        x, y, values = by_pid[core["pid"][k]]
        assert x == pytest.approx(core["easting"][k], abs=1e-6) and y == pytest.approx(core["northing"][k], abs=1e-6)
        for name in ("mean_velocity", "height_error", "temporal_coherence", stack.date_strings[-1]):
            assert values[names.index(name)] == pytest.approx(core[name][k], abs=1e-9)
        assert values[names.index("height")] is None  # no DEM: NULL, not a made-up number
    layer = QgsVectorLayer(str(out), "mp", "ogr")
    assert layer.isValid() and layer.featureCount() == len(rows) and layer.crs().authid() == "EPSG:3035"


def test_processing_run_with_distributed_scatterers(run_alg, tmp_path):
    """SCATTERERS = PS and DS: the layer holds PS (mp_type 0) and DS (mp_type = n_SHP × 400 m²), the DS on
    the simulated DS areas; the advanced DS parameters reach the chain (a 1 × 1 cell grid is refused)."""
    folder = tmp_path / "ds"
    simulate_stack(folder, SimulationParameters(rows=100, cols=100, n_dates=40, seed=4, ds_areas=2, ds_radius_m=400.0))
    out = tmp_path / "ds.gpkg"
    result = run_alg("egms:computevelocities", {"INPUT": str(folder), "OUTPUT": str(out), "SCATTERERS": 1,
                                                "DS_MIN_SHP": 25, "DS_COHERENCE": 0.6})
    names, rows, _ = read_layer(out)
    mp = np.array([r[2][names.index("mp_type")] for r in rows])
    lines = np.array([r[2][names.index("line")] for r in rows])
    pixels = np.array([r[2][names.index("pixel")] for r in rows])
    ds_mask = read_truth(folder)["ds_mask"].astype(bool)
    assert result["N_POINTS"] == len(rows) and (mp == 0).sum() > 100 and (mp > 0).sum() > 30
    assert mp[mp > 0].min() >= 25 * 399
    assert ds_mask[lines[mp > 0], pixels[mp > 0]].mean() >= 0.95
    # DS_SHP_TEST reaches the chain: the default is the GLRT, 1 the KS test (their DS differ)
    ds_params = dict(scatterers="ps_ds", ds_min_shp=25, ds_coherence=0.6)
    core = {test: compute_velocities(StackFolder(folder), PsiParameters(**ds_params, ds_test=test)).columns
            for test in ("glrt", "ks")}

    def ds_set(lines, pixels, mp):
        return sorted(zip(np.asarray(lines)[np.asarray(mp) > 0].tolist(), np.asarray(pixels)[np.asarray(mp) > 0].tolist(),
                          np.asarray(mp)[np.asarray(mp) > 0].tolist()))

    assert ds_set(lines, pixels, mp) == ds_set(core["glrt"]["line"], core["glrt"]["pixel"], core["glrt"]["mp_type"])
    assert ds_set(core["ks"]["line"], core["ks"]["pixel"], core["ks"]["mp_type"]) != ds_set(lines, pixels, mp)
    run_alg("egms:computevelocities", {"INPUT": str(folder), "OUTPUT": str(tmp_path / "ks.gpkg"), "SCATTERERS": 1,
                                       "DS_MIN_SHP": 25, "DS_COHERENCE": 0.6, "DS_SHP_TEST": 1})
    names, rows, _ = read_layer(tmp_path / "ks.gpkg")
    ks = [np.array([r[2][names.index(f)] for r in rows]) for f in ("line", "pixel", "mp_type")]
    assert ds_set(*ks) == ds_set(core["ks"]["line"], core["ks"]["pixel"], core["ks"]["mp_type"])
    with pytest.raises(QgsProcessingException, match="odd sizes"):
        run_alg("egms:computevelocities", {"INPUT": str(folder), "OUTPUT": str(tmp_path / "x.gpkg"), "SCATTERERS": 1,
                                           "DS_WINDOW_ROWS": 4})


def test_qgis_process_with_reference_and_output_crs(run_qgis_process, psi_stack, tmp_path):
    core = compute_velocities(StackFolder(psi_stack)).columns
    k = 40
    ref = f"{core['longitude'][k]:.9f},{core['latitude'][k]:.9f} [EPSG:4326]"
    out = tmp_path / "mp4326.gpkg"
    run = run_qgis_process("run", "egms:computevelocities", "--", f"INPUT={psi_stack}", f"OUTPUT={out}",
                           f"REFERENCE={ref}", "OUTPUT_CRS=EPSG:4326", "MAX_ARC_LENGTH=800")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "N_POINTS" in run.stdout and "network and arc estimation:" in run.stdout  # stage timings logged
    names, rows, epsg = read_layer(out)
    assert epsg == "4326"
    row = next(r for r in rows if r[2][0] == core["pid"][k])
    assert row[0] == pytest.approx(core["longitude"][k], abs=1e-9) and row[1] == pytest.approx(core["latitude"][k])
    dates = [n for n in names if n.isdigit()]
    assert all(row[2][names.index(d)] == 0.0 for d in dates)  # the reference point's series is zero
    assert row[2][names.index("mean_velocity")] == 0.0


def test_nothing_coherent_writes_nothing(run_alg, tmp_path):
    import rasterio
    from rasterio.transform import from_origin

    stack = tmp_path / "incoherent"
    stack.mkdir()
    rng = np.random.default_rng(0)
    for k in range(25):
        z = 100 * np.exp(1j * rng.uniform(-np.pi, np.pi, (30, 30)))
        with rasterio.open(stack / f"2020{1 + k // 28:02d}{1 + k % 28:02d}.tif", "w", driver="GTiff", width=30,
                           height=30, count=1, dtype="complex64", crs="EPSG:32632",
                           transform=from_origin(500000, 5000000, 20, 20)) as ds:
            ds.write(z.astype(np.complex64), 1)
    out = tmp_path / "out" / "mp.gpkg"
    out.parent.mkdir()
    with pytest.raises(QgsProcessingException, match=r"no coherent network — of \d+ candidates"):
        run_alg("egms:computevelocities", {"INPUT": str(stack), "OUTPUT": str(out)})
    assert os.listdir(out.parent) == []


def test_progress_is_one_step_per_stage(run_alg, psi_stack, tmp_path):
    """QgsProcessingMultiStepFeedback: one step per stage of the chain plus one for writing; the bar only
    moves forward and ends at 100 %."""
    from egms_plugin.core.psi.chain import STAGES

    feedback = QgsProcessingFeedback()
    seen = []
    feedback.progressChanged.connect(seen.append)
    run_alg("egms:computevelocities", {"INPUT": psi_stack, "OUTPUT": str(tmp_path / "mp.gpkg"), "BLOCK_SIZE_MB": 8},
            feedback=feedback)  # 8 MB: the 11 MB stack is read in two blocks, so the read stage reports too
    n = len(STAGES) + 1
    assert all(b >= a - 1e-9 for a, b in zip(seen, seen[1:])) and seen[-1] == pytest.approx(100.0)
    steps = {min(int(v * n / 100.0 + 1e-9), n - 1) for v in seen}
    assert steps == set(range(n))  # every stage, and the writing, reported progress


@pytest.mark.parametrize("at", [60.0, 92.5], ids=["while measuring", "while writing"])
def test_cancelled_run_leaves_no_output(run_alg, psi_stack, tmp_path, at):
    """Cancelled in the chain (60 %) or in the last step, writing the GeoPackage (from 100·5/6 ≈ 83 %)."""
    feedback = QgsProcessingFeedback()
    feedback.progressChanged.connect(lambda p: feedback.cancel() if p > at else None)
    out = tmp_path / "mp.gpkg"
    with pytest.raises(QgsProcessingException, match="Cancelled by the user; no output was written"):
        run_alg("egms:computevelocities", {"INPUT": psi_stack, "OUTPUT": str(out)}, feedback=feedback)
    assert os.listdir(tmp_path) == []


# ------------------------------------------------------------------------ bad input, one each
def test_input_not_a_folder(run_alg, tmp_path):
    with pytest.raises(QgsProcessingException, match="missing: not a folder"):
        run_alg("egms:computevelocities", {"INPUT": str(tmp_path / "missing"), "OUTPUT": str(tmp_path / "o.gpkg")})
    assert not (tmp_path / "o.gpkg").exists()


def test_input_with_a_real_valued_slc(run_alg, psi_stack, tmp_path):
    import shutil

    import rasterio

    bad = tmp_path / "bad"
    shutil.copytree(psi_stack, bad)
    first = sorted(p for p in os.listdir(bad) if p.endswith(".tif"))[0]
    with rasterio.open(bad / first) as ds:
        profile = ds.profile
    profile.update(dtype="float32")
    with rasterio.open(bad / first, "w", **profile) as ds:
        ds.write(np.ones((1, 150, 150), dtype=np.float32))
    with pytest.raises(QgsProcessingException, match=f"{first}: not a complex raster"):
        run_alg("egms:computevelocities", {"INPUT": str(bad), "OUTPUT": str(tmp_path / "o.gpkg")})


def test_baselines_missing_a_date(run_alg, psi_stack, tmp_path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(psi_stack, bad)
    lines = (bad / "baselines.csv").read_text().splitlines()
    (bad / "baselines.csv").write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(QgsProcessingException, match="baselines.csv: no baseline for 1 acquisition"):
        run_alg("egms:computevelocities", {"INPUT": str(bad), "OUTPUT": str(tmp_path / "o.gpkg")})


def test_output_must_be_a_geopackage(run_alg, psi_stack, tmp_path):
    with pytest.raises(QgsProcessingException, match="o.shp: the measurement points are written as a GeoPackage"):
        run_alg("egms:computevelocities", {"INPUT": psi_stack, "OUTPUT": str(tmp_path / "o.shp")})
    assert os.listdir(tmp_path) == []


def test_qgis_process_reports_bad_input_without_traceback(run_qgis_process, tmp_path):
    run = run_qgis_process("run", "egms:computevelocities", "--", f"INPUT={tmp_path}", f"OUTPUT={tmp_path / 'o.gpkg'}")
    assert run.returncode != 0
    assert "no SLC found" in run.stdout + run.stderr and "Traceback" not in run.stdout + run.stderr
