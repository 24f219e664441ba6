"""The batch runner on a Dask LocalCluster (batch/): the same points as direct runs, a killed worker, resuming,
failed units, decompose over tiles = one decomposition, the command line.

Costs on the 2-core test machine with a warm numba cache (the whole file ≈ 60 s): the four direct runs ≈ 8 s (once,
fixture), each four-stack cluster run ≈ 5–6 s, the killed-worker run ≈ 12 s (the lost unit is run again, the
nanny restarts the worker), the command-line runs ≈ 6 s each (a new cluster each), the decompose tests ≈ 3 s.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from egms_plugin.batch.jobs import Unit
from egms_plugin.batch.runner import run_batch
from egms_plugin.batch.units import plan_units
from egms_plugin.core.io.points import read_points

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PLUGINS = os.path.join(ROOT, ".build", "plugins")


def assert_same_points(a, b):
    """Every column of two point files identical (values, NULLs, order), coordinates too."""
    ta, tb = read_points(a), read_points(b)
    assert list(ta.columns) == list(tb.columns)
    assert len(ta) == len(tb) > 0
    for name in ta.columns:
        va, vb = np.asarray(ta.columns[name]), np.asarray(tb.columns[name])
        if va.dtype.kind == "f":
            np.testing.assert_array_equal(va, vb, err_msg=name)  # NaN == NaN here, exact otherwise
        else:
            assert va.tolist() == vb.tolist(), name
    np.testing.assert_array_equal(ta.x, tb.x)
    np.testing.assert_array_equal(ta.y, tb.y)


def index_rows(folder):
    """``{name: (status, message, n_points, output)}`` of DIR/index.gpkg."""
    table = read_index(folder)
    return {n: (s, m, int(k), o) for n, s, m, k, o in zip(*(table[f] for f in ("name", "status", "message",
                                                                                 "n_points", "output")))}


def read_index(folder):
    from osgeo import ogr

    ds = ogr.Open(os.path.join(folder, "index.gpkg"))
    lyr = ds.GetLayerByName("index")
    assert lyr.GetGeomType() == ogr.wkbPolygon
    out = {f: [] for f in ("name", "status", "message", "n_points", "seconds", "output", "geom")}
    for feature in lyr:
        for f in out:
            out[f].append(feature.GetGeometryRef().ExportToWkt() if f == "geom" and feature.GetGeometryRef()
                          else None if f == "geom" else feature.GetField(f))
    return out


def stack_units(stacks):
    units, _options = plan_units("computevelocities", stacks, {})
    return units


def test_cluster_run_gives_the_points_of_direct_runs(stacks, direct, client, tmp_path):
    results = run_batch("computevelocities", stack_units(stacks), tmp_path, client=client)
    assert [r.status for r in results] == ["done"] * 4, [(r.name, r.status, r.message) for r in results]
    assert len({r.pid for r in results}) == 2  # both workers took units
    for r in results:
        assert r.output == str(tmp_path / f"{r.name}.gpkg")
        assert_same_points(r.output, direct[r.name])
        assert r.n_points == len(read_points(r.output)) > 100
    rows = index_rows(tmp_path)
    assert {n: s for n, (s, _m, _k, _o) in rows.items()} == {f"burst{i}": "done" for i in range(4)}
    footprints = read_index(tmp_path)["geom"]
    assert all(g.startswith("POLYGON") for g in footprints)
    assert sorted(os.listdir(tmp_path)) == sorted([f"burst{i}.gpkg" for i in range(4)] + ["index.gpkg", "run.json"])


def test_a_worker_killed_mid_unit_changes_nothing(stacks, direct, client, tmp_path):
    """SIGKILL to the worker process running a unit: Dask runs the unit again on a live worker, its lock is taken
    over from the dead pid and the temporaries swept; the outputs are those of the direct runs."""
    killed = {}

    def killer():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            if any(client.processing().values()):
                time.sleep(0.3)  # inside the unit (≈ 1.5 s of reading the stack and measuring)
                pids = client.run(os.getpid)
                busy = {w: keys for w, keys in client.processing().items() if keys}
                if busy:
                    worker = sorted(busy)[0]
                    os.kill(pids[worker], signal.SIGKILL)
                    killed.update(pid=pids[worker], keys=list(busy[worker]))
            time.sleep(0.05)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    results = run_batch("computevelocities", stack_units(stacks), tmp_path, client=client)
    thread.join(5)
    assert killed, "no unit was seen running"
    assert [r.status for r in results] == ["done"] * 4
    lost = [r for r in results if any(f"-{r.name}-" in k for k in killed["keys"])]
    assert lost and all(r.pid != killed["pid"] for r in lost)  # the unit it was running was run again elsewhere
    for r in results:
        assert_same_points(r.output, direct[r.name])
    assert sorted(os.listdir(tmp_path)) == sorted([f"burst{i}.gpkg" for i in range(4)] + ["index.gpkg", "run.json"])
    client.wait_for_workers(2, timeout=60)  # the nanny restarted it, for the next tests


def test_a_rerun_after_an_interruption_computes_only_the_missing_units(stacks, direct, client, tmp_path):
    """An interrupted run: two outputs complete, one unit left only a temporary and a stale lock (its process
    died), one a broken file (not a GeoPackage) — the rerun skips the two and computes the other two."""
    for name in ("burst0", "burst2"):
        shutil.copy(direct[name], tmp_path / f"{name}.gpkg")
    (tmp_path / ".burst1.gpkg.0123abcd.partial.gpkg").write_bytes(b"half a GeoPackage")
    (tmp_path / ".burst1.gpkg.lock").write_text(f"999999999 {os.uname().nodename}\n")
    (tmp_path / "burst3.gpkg").write_bytes(b"not a GeoPackage")
    before = {n: os.stat(tmp_path / f"{n}.gpkg").st_mtime_ns for n in ("burst0", "burst2")}
    results = run_batch("computevelocities", stack_units(stacks), tmp_path, client=client)
    assert {r.name: r.status for r in results} == {"burst0": "skipped", "burst1": "done", "burst2": "skipped",
                                                   "burst3": "done"}
    assert {n: s for n, (s, _m, _k, _o) in index_rows(tmp_path).items()} == {r.name: r.status for r in results}
    assert {n: os.stat(tmp_path / f"{n}.gpkg").st_mtime_ns for n in before} == before  # untouched
    assert [r.seconds for r in results if r.status == "skipped"] == [0.0, 0.0]
    for r in results:
        assert_same_points(r.output, direct[r.name])
        assert r.n_points == len(read_points(direct[r.name]))
    assert sorted(os.listdir(tmp_path)) == sorted([f"burst{i}.gpkg" for i in range(4)] + ["index.gpkg", "run.json"])
    again = run_batch("computevelocities", stack_units(stacks), tmp_path, client=client)
    assert [r.status for r in again] == ["skipped"] * 4


def test_a_unit_with_bad_input_fails_with_its_message_and_the_others_complete(stacks, direct, client, tmp_path):
    import rasterio

    empty = tmp_path / "in" / "empty"
    empty.mkdir(parents=True)
    real = tmp_path / "in" / "real"
    real.mkdir()
    for date in ("20200101", "20200113", "20200125"):
        with rasterio.open(real / f"{date}.tif", "w", driver="GTiff", width=8, height=8, count=1,
                           dtype="float32") as ds:
            ds.write(np.ones((1, 8, 8), dtype=np.float32))
    out = tmp_path / "out"
    units = stack_units([str(empty), stacks[0], str(real)])
    results = run_batch("computevelocities", units, out, client=client)
    assert [r.status for r in results] == ["failed", "done", "failed"]
    rows = index_rows(out)
    assert rows["burst0"][0] == "done" and rows["burst0"][2] == len(read_points(direct["burst0"]))
    for name, folder in (("empty", empty), ("real", real)):
        status, message, n_points, output = rows[name]
        assert (status, n_points, output) == ("failed", 0, "")
        assert str(folder) in message and "Traceback" not in message and "\n" not in message
    assert "complex" in rows["real"][1]
    assert sorted(os.listdir(out)) == ["burst0.gpkg", "index.gpkg", "run.json"]


# ------------------------------------------------------------------------------------------ decompose over tiles
def synthetic_layers(folder):
    """Ascending and descending point layers (EPSG:3035, 1600 points each over 4 km × 4 km straddling the 2 km
    tiles' corner at (4 602 000, 1 742 000), noisy series of 30 dates); 17 ascending points on the tile and cell
    boundaries themselves."""
    import datetime as dt

    from egms_plugin.core.io.points import PointTable, write_points
    from egms_plugin.testing.synthetic_egms import noise_free_los_columns

    dates = [dt.date(2020, 1, 3) + dt.timedelta(days=12 * k) for k in range(30)]
    paths = {}
    for i, orbit in enumerate(("ascending", "descending")):
        columns, x, y = noise_free_los_columns(orbit, dates, n=1600, seed=5 + i, east=1.5, up=-4.0,
                                               origin=(4_600_000.0, 1_740_000.0), size_m=4000.0)
        if orbit == "ascending":
            x[:17] = 4_602_000.0 + 100.0 * np.arange(-8, 9)
            y[:17] = 1_742_000.0
        rng = np.random.default_rng(i)
        for d in dates:
            columns[f"{d:%Y%m%d}"] = columns[f"{d:%Y%m%d}"] + rng.normal(0.0, 1.0, x.size)
        columns["rmse"] = rng.uniform(0.5, 2.0, x.size)
        paths[orbit] = write_points(str(folder / f"{orbit}.gpkg"), PointTable(columns, x, y, "EPSG:3035"))
    return paths


def single_decomposition(paths):
    from egms_plugin.core.products import ortho

    plans, tables = [], []
    for orbit, path in paths.items():
        names = list(read_points(path).columns)
        plans.append(ortho.plan_layer(orbit, names, orbit))
    epochs, _ = ortho.plan_epochs(plans)
    dec = ortho.OrthoDecomposer(epochs)
    for plan, path in zip(plans, paths.values()):
        tables.append(read_points(path, columns=plan.columns))
        plan.add_to(dec, tables[-1])
    result = dec.solve()
    return {c: ortho.l3_table(result, c) for c in ("up", "east")}


def test_decompose_over_2x2_tiles_equals_the_single_decomposition_cell_for_cell(client, tmp_path):
    paths = synthetic_layers(tmp_path)
    single = single_decomposition(paths)
    params = {"ASCENDING": [paths["ascending"]], "DESCENDING": [paths["descending"]]}
    units, options = plan_units("decompose", [], params, tile_m=2000.0)
    assert [u.name for u in units] == ["E4600N1740_2km", "E4602N1740_2km", "E4600N1742_2km", "E4602N1742_2km"]
    results = run_batch("decompose", units, tmp_path / "tiles", params, options, client=client, merge=True)
    assert [r.status for r in results] == ["done"] * 4, [(r.name, r.message) for r in results]
    for component in ("up", "east"):
        parts = [read_points(r.output, layer=component) for r in results]
        for r, part in zip(results, parts):  # every cell inside its tile
            x0, y0, x1, y1 = next(u.bounds for u in units if u.name == r.name)
            assert ((part.x > x0) & (part.x < x1) & (part.y > y0) & (part.y < y1)).all()
        ref = single[component]
        pid = np.concatenate([p.columns["pid"] for p in parts]).astype(str)
        order, ref_order = np.argsort(pid), np.argsort(ref.columns["pid"].astype(str))
        assert pid.size == len(ref) == 638  # the cells of the 4 km × 4 km square seen from both orbit directions
        for name in ref.columns:
            got = np.concatenate([np.asarray(p.columns[name]) for p in parts])[order]
            want = np.asarray(ref.columns[name])[ref_order]
            if want.dtype.kind == "f":
                np.testing.assert_array_equal(got, want, err_msg=name)
            else:
                assert got.tolist() == want.tolist(), name
        merged = read_points(tmp_path / "tiles" / "merged.gpkg", layer=component)
        assert len(merged) == 638
        np.testing.assert_array_equal(np.sort(merged.columns["mean_velocity"]), np.sort(ref.columns["mean_velocity"]))
    assert sum(r.n_points for r in results) == 638
    geoms = read_index(tmp_path / "tiles")["geom"]
    assert geoms[0] == "POLYGON ((4600000 1740000,4602000 1740000,4602000 1742000,4600000 1742000,4600000 1740000))"


def test_a_tile_size_must_be_a_multiple_of_the_cell(tmp_path):
    from egms_plugin.batch.params import UsageError

    paths = synthetic_layers(tmp_path)
    with pytest.raises(UsageError, match="--tile-size: the tile size 2050 m is not a multiple of the cell size 100 m"):
        plan_units("decompose", [], {"ASCENDING": [paths["ascending"]], "DESCENDING": [paths["descending"]]}, 2050.0)
    units, _ = plan_units("decompose", [], {"ASCENDING": [paths["ascending"]], "DESCENDING": [paths["descending"]]})
    assert [u.name for u in units] == ["E46N17"]  # the EGMS 100 km tile holding everything


# ------------------------------------------------------------------------------------------ command line
def run_cli(*args):
    env = dict(os.environ, PYTHONPATH=PLUGINS)
    return subprocess.run([sys.executable, "-m", "egms_plugin.batch", *args], capture_output=True, text=True,
                          env=env, timeout=600, cwd=os.path.dirname(PLUGINS))  # not ROOT: its egms_plugin.py


def test_the_command_line_runs_two_stacks_and_reports_failures(stacks, direct, tmp_path):
    out = tmp_path / "D"
    done = run_cli("computevelocities", stacks[0], stacks[1], "--output-dir", str(out), "--workers", "2")
    assert done.returncode == 0, done.stderr
    assert sorted(os.listdir(out)) == ["burst0.gpkg", "burst1.gpkg", "index.gpkg", "run.json"]
    for name in ("burst0", "burst1"):
        assert_same_points(out / f"{name}.gpkg", direct[name])
    assert "burst1: done" in done.stdout and "2 done, 0 failed, 0 skipped" in done.stdout  # plain lines: no tty
    (tmp_path / "empty").mkdir()
    again = run_cli("computevelocities", os.path.join(os.path.dirname(stacks[0]), "burst[01]"), str(tmp_path / "empty"),
                    "--output-dir", str(out), "--workers", "1", "COHERENCE_THRESHOLD=0.7", "SCATTERERS=0")
    assert again.returncode == 1
    assert "0 done, 1 failed, 2 skipped" in again.stdout
    assert again.stderr.startswith(f"empty: {tmp_path / 'empty'}") and "Traceback" not in again.stderr


@pytest.mark.parametrize(("words", "message"), [
    (["FOO=1"], "FOO: unknown parameter of computevelocities"),
    (["MAX_RMSE=abc"], "MAX_RMSE=abc: not a number"),
    (["SCATTERERS=7"], "SCATTERERS=7: not one of 0 = PS only, 1 = PS and DS"),
    (["OUTPUT=x.gpkg"], "OUTPUT: not a batch parameter"),
])
def test_a_bad_parameter_is_one_line_and_exit_2(stacks, tmp_path, words, message):
    bad = run_cli("computevelocities", stacks[0], "--output-dir", str(tmp_path / "D"), *words)
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and message in bad.stderr and "Traceback" not in bad.stderr
    assert not os.path.exists(tmp_path / "D")


def test_parameters_are_converted_as_processing_does():
    from egms_plugin.batch.jobs import psi_parameters
    from egms_plugin.batch.params import convert, parse_assignments

    units, values = parse_assignments(["a", "MAX_RMSE=3.5", "CALIBRATE_AMPLITUDE=true", "SCATTERERS=PS and DS",
                                       "DS_MIN_SHP=12", "REFERENCE=4321000,3210000 [EPSG:3035]", "b"])
    assert units == ["a", "b"]
    params = convert("computevelocities", values)
    assert params == {"MAX_RMSE": 3.5, "CALIBRATE_AMPLITUDE": True, "SCATTERERS": 1, "DS_MIN_SHP": 12,
                      "REFERENCE": (4321000.0, 3210000.0, "EPSG:3035")}
    psi, crs = psi_parameters(params)
    assert (psi.max_rmse_mm, psi.calibrate_amplitude, psi.scatterers, psi.ds_min_shp, crs) == (3.5, True, "ps_ds", 12,
                                                                                               "EPSG:3035")
    lon, lat = psi.reference_lonlat
    assert abs(lon - 10.0) < 1e-9 and abs(lat - 52.0) < 1e-9  # the false origin of EPSG:3035: 10° E, 52° N
    assert psi.ds_test == "glrt"  # the default
    for text, test in (("1", "ks"), ("Kolmogorov–Smirnov", "ks"), ("0", "glrt"), ("GLRT (Rayleigh amplitudes, fast)",
                                                                                    "glrt")):
        psi, _ = psi_parameters(convert("computevelocities", {"DS_SHP_TEST": text}))
        assert psi.ds_test == psi.ds_parameters().test == test


def test_a_unit_in_a_tile_takes_the_points_of_its_cells():
    from egms_plugin.batch.tiles import in_tile

    x = np.array([4_601_999.999, 4_602_000.0, 4_603_999.99, 4_604_000.0])
    assert in_tile(x, np.full(4, 1_740_000.0), 2300, 870, 100.0, 20).tolist() == [True, False, False, False]
    assert in_tile(x, np.full(4, 1_740_000.0), 2301, 870, 100.0, 20).tolist() == [False, True, True, False]
    assert Unit("a", []).bounds is None


def test_importing_the_batch_package_and_its_command_line_imports_nothing_heavy():
    code = ("import sys; import egms_plugin.batch, egms_plugin.batch.cli; "
            "print(sorted(m for m in ('numba', 'distributed', 'dask', 'scipy', 'qgis', 'rasterio') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=os.path.dirname(PLUGINS),
                         env=dict(os.environ, PYTHONPATH=PLUGINS))
    assert out.stdout.strip() == "[]", out.stderr


def test_other_parameters_into_the_same_folder_are_refused_unless_overwrite(stacks, direct, client, tmp_path):
    from egms_plugin.batch.params import UsageError
    from egms_plugin.core.psi.chain import PsiParameters

    units = stack_units(stacks[:1])
    first = run_batch("computevelocities", units, tmp_path, client=client)
    assert [r.status for r in first] == ["done"]
    default = PsiParameters().dispersion_threshold
    same = run_batch("computevelocities", units, tmp_path, {"DISPERSION_THRESHOLD": default, "BLOCK_SIZE_MB": 64.0},
                     client=client)
    assert [r.status for r in same] == ["skipped"]  # the default given explicitly and a block size: the same run
    with pytest.raises(UsageError, match=rf"dispersion_threshold={default} \(now 0.15\).*--overwrite"):
        run_batch("computevelocities", units, tmp_path, {"DISPERSION_THRESHOLD": 0.15}, client=client)
    assert_same_points(tmp_path / "burst0.gpkg", direct["burst0"])  # untouched
    shutil.copy(tmp_path / "burst0.gpkg", tmp_path / "burst7.gpkg")  # a unit of the old run not in this one
    again = run_batch("computevelocities", units, tmp_path, {"DISPERSION_THRESHOLD": 0.15}, client=client,
                      overwrite=True)
    assert [r.status for r in again] == ["done"]
    assert not (tmp_path / "burst7.gpkg").exists()  # old parameters: deleted, never taken as complete later
    assert again[0].n_points < first[0].n_points  # fewer candidates, fewer points
    cli = run_cli("computevelocities", stacks[0], "--output-dir", str(tmp_path), "--workers", "1")
    assert cli.returncode == 2 and f"dispersion_threshold=0.15 (now {default})" in cli.stderr
    assert "Traceback" not in cli.stderr
    os.remove(tmp_path / "burst0.gpkg")  # no unit output left (an interrupted first run): the folder is reused
    fresh = run_batch("computevelocities", units, tmp_path, client=client)
    assert [r.status for r in fresh] == ["done"] and fresh[0].n_points == first[0].n_points


def test_an_unexpected_error_says_where_it_was_raised_in_one_line():
    """A bug (not the user's input) gives the exception and its innermost frame, relative to the plugin, on one
    line — what a bug report needs — and never a traceback."""
    from egms_plugin.batch.jobs import describe_error

    def broken(value=None):
        return value[0]

    try:
        broken()
    except TypeError as exc:
        message = describe_error(exc)
    assert message.startswith("failed unexpectedly: TypeError: 'NoneType' object is not subscriptable (at ")
    assert message.endswith(" in broken)") and "\n" not in message and "Traceback" not in message
    assert "test_batch.py:" in message
    assert describe_error(TypeError("no frame")) == "failed unexpectedly: TypeError: no frame"
