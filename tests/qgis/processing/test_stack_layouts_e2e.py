"""egms:computevelocities (and selectscatterers) on one simulated stack written in each processor's layout.

The measurement points must be those of the plain folder: same point ids, positions and values (to the
precision the layout stores: SNAP's baselines are Java floats, OPERA's baselines come from its orbits and its
LOS is float32 — see FIELDS).
"""

import os

import pytest
from osgeo import ogr

from egms_plugin.core.sar.simulate import SimulationParameters, simulate_stack
from egms_plugin.testing import stack_layouts as sl

# absolute tolerances: SNAP B⊥ are Java floats, OPERA's LOS float32 (incidence within 1e-5°), its B⊥ from orbits
FIELDS = {"mean_velocity": 1e-6, "height_error": 1e-4, "temporal_coherence": 1e-6, "latitude": 1e-9,
          "longitude": 1e-9, "incidence_angle": 1e-5}


@pytest.fixture(scope="module")
def stacks(tmp_path_factory):
    root = tmp_path_factory.mktemp("layouts_e2e")
    plain = str(root / "plain")
    simulate_stack(plain, SimulationParameters(rows=120, cols=120, n_dates=40, seed=3))
    return {
        "plain": plain,
        "snap": sl.write_snap_dimap(plain, str(root / "snap")),
        "isce2": sl.write_isce2_topsstack(plain, str(root / "tops")),
        "multiband": sl.write_multiband(plain, str(root / "mb" / "stack.vrt")),
        "opera": (sl.write_opera_cslc(plain, str(root / "opera")), str(root / "opera"))[1],
    }


def _points(path):
    ds = ogr.Open(str(path))
    layer = ds.GetLayer(0)
    defn = layer.GetLayerDefn()
    names = [defn.GetFieldDefn(i).GetName() for i in range(defn.GetFieldCount())]
    return names, {f.GetField("pid"): (f.GetGeometryRef().GetX(), f.GetGeometryRef().GetY(),
                                       {n: f.GetField(n) for n in names}) for f in layer}


@pytest.fixture(scope="module")
def plain_points(stacks, tmp_path_factory):
    import processing
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback

    out = tmp_path_factory.mktemp("plain_out") / "mp.gpkg"
    processing.run("egms:computevelocities", {"INPUT": stacks["plain"], "OUTPUT": str(out)},
                   context=QgsProcessingContext(), feedback=QgsProcessingFeedback())
    return _points(out)


class _Log:
    def __init__(self):
        from qgis.core import QgsProcessingFeedback

        self.feedback = QgsProcessingFeedback()
        self.lines = []
        self.feedback.pushInfo = self.lines.append


@pytest.mark.parametrize("layout", ["snap", "isce2", "multiband", "opera"])
def test_same_points_as_the_plain_folder(run_alg, plugin, stacks, plain_points, layout, tmp_path):
    out = tmp_path / "mp.gpkg"
    log = _Log()
    result = run_alg("egms:computevelocities", {"INPUT": stacks[layout], "OUTPUT": str(out)}, feedback=log.feedback)
    names, points = _points(out)
    want_names, want = plain_points
    assert names == want_names
    assert result["N_POINTS"] == len(points) == len(want) > 100
    assert set(points) == set(want)
    for pid, (x, y, values) in want.items():
        gx, gy, got = points[pid]
        assert gx == pytest.approx(x, abs=1e-6) and gy == pytest.approx(y, abs=1e-6)
        for name, tol in FIELDS.items():
            assert got[name] == pytest.approx(values[name], abs=tol), name
        dates = [n for n in names if n.isdigit()]
        assert [got[d] for d in dates] == pytest.approx([values[d] for d in dates], abs=1e-4)
    text = "\n".join(log.lines)
    assert "layout: " in text and "baselines from: " in text and "geometry from: " in text


def test_opera_without_baselines_has_no_height_error(run_alg, stacks, plain_points, tmp_path):
    """The documented difference: OPERA CSLCs without orbits (and no baselines.csv): no height error (NULL)."""
    import shutil

    import h5py

    folder = tmp_path / "opera"
    shutil.copytree(stacks["opera"], folder)
    with h5py.File(sorted(folder.glob("OPERA_L2_CSLC-S1_T*.h5"))[0], "r+") as f:
        del f["metadata/orbit"]
    log = _Log()
    run_alg("egms:computevelocities", {"INPUT": str(folder), "OUTPUT": str(tmp_path / "mp.gpkg")},
            feedback=log.feedback)
    names, points = _points(tmp_path / "mp.gpkg")
    assert names == plain_points[0] and len(points) > 0.8 * len(plain_points[1])
    assert all(v["height_error"] is None for _, _, v in points.values())
    assert "height errors are not estimated" in "\n".join(log.lines)


def test_opera_with_baselines_csv_equals_the_plain_folder(run_alg, stacks, plain_points, tmp_path):
    import shutil

    folder = tmp_path / "opera"
    shutil.copytree(stacks["opera"], folder)
    shutil.copyfile(os.path.join(stacks["plain"], "baselines.csv"), folder / "baselines.csv")
    run_alg("egms:computevelocities", {"INPUT": str(folder), "OUTPUT": str(tmp_path / "mp.gpkg")})
    points = _points(tmp_path / "mp.gpkg")[1]
    assert set(points) == set(plain_points[1])
    for pid, (_, _, values) in plain_points[1].items():
        assert points[pid][2]["mean_velocity"] == pytest.approx(values["mean_velocity"], abs=1e-4)
        assert points[pid][2]["height_error"] == pytest.approx(values["height_error"], abs=1e-3)


def test_qgis_process_accepts_a_dim_file(run_qgis_process, stacks, plain_points, tmp_path):
    out = tmp_path / "mp.gpkg"
    run = run_qgis_process("run", "egms:computevelocities", "--", f"INPUT={stacks['snap']}", f"OUTPUT={out}",
                           "POLARISATION=VV")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "layout: SNAP BEAM-DIMAP coregistered stack (VV" in run.stdout
    assert set(_points(out)[1]) == set(plain_points[1])


def test_qgis_process_polarisation_absent(run_qgis_process, stacks, tmp_path):
    run = run_qgis_process("run", "egms:computevelocities", "--", f"INPUT={stacks['snap']}",
                           f"OUTPUT={tmp_path / 'o.gpkg'}", "POLARISATION=VH")
    assert run.returncode != 0
    assert "no VH i/q band pair" in run.stdout + run.stderr and "Traceback" not in run.stdout + run.stderr
    assert not os.path.exists(tmp_path / "o.gpkg")


def test_selectscatterers_reads_a_layout(run_alg, stacks, tmp_path):
    got = run_alg("egms:selectscatterers", {"INPUT": stacks["isce2"], "OUTPUT": str(tmp_path / "a.gpkg")})
    want = run_alg("egms:selectscatterers", {"INPUT": stacks["plain"], "OUTPUT": str(tmp_path / "b.gpkg")})
    keys = [k for k in got if k != "OUTPUT"]
    assert keys and all(got[k] == want[k] for k in keys)
