"""egms:decompose through Processing and qgis_process: truth recovered, rasters aligned, bad input refused."""

import datetime as dt
import os

import numpy as np
import pytest
from qgis.core import QgsProcessingException, QgsVectorLayer

from egms_plugin.core import conventions as cv
from egms_plugin.core.egms.stats import egms_time
from egms_plugin.core.io.points import PointTable, read_points, write_points

DATES = [dt.date(2021, 1, 1) + dt.timedelta(days=12 * k) for k in range(40)]  # 2021-01-01 is a grid date + 5 days


def truth(x, y):
    """East and up velocity (mm/yr) per 100 m cell."""
    cx, cy = np.floor(x / 100) * 100 + 50, np.floor(y / 100) * 100 + 50
    return 2.0 * np.sin(cx / 300.0), -3.0 + 4.0 * np.cos(cy / 400.0)


def make_layer(path, orbit, n=1500, seed=0, with_dates=True, shift=0.0, extent=1000.0):
    """Noise-free LOS layer over a 1 km square at (4 600 000, 1 740 000), EGMS schema, on disk as GeoPackage."""
    rng = np.random.default_rng(seed)
    x = 4_600_000 + shift + rng.uniform(0, extent, n)
    y = 1_740_000 + rng.uniform(0, extent, n)
    le, ln, lu = cv.los_vector(rng.uniform(35, 41, n), -10.0 if orbit == "ascending" else 190.0)
    east, up = truth(x, y)
    rate = cv.project_to_los(east, 0.0, up, le, ln, lu)
    columns = {"pid": np.array([f"P{i:09d}" for i in range(n)], dtype=object), "easting": x, "northing": y,
               "height_ortho": np.full(n, 12.0), "rmse_ts": np.full(n, 2.0), "los_east": le, "los_north": ln,
               "los_up": lu, "mean_velocity": rate, "mean_velocity_std": np.full(n, 0.3)}
    if with_dates:
        t = egms_time(DATES)
        for k, d in enumerate(DATES):
            columns[f"{d:%Y%m%d}"] = rate * t[k]
    write_points(str(path), PointTable(columns, x, y, "EPSG:3035"))
    return str(path)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("decompose")
    return make_layer(folder / "asc.gpkg", "ascending", seed=1), make_layer(folder / "desc.gpkg", "descending", seed=2)


def outputs(folder):
    return {"OUTPUT": str(folder / "up.gpkg"), "OUTPUT_EAST": str(folder / "east.gpkg"),
            "OUTPUT_VERTICAL_RASTER": str(folder / "up.tif"), "OUTPUT_EAST_RASTER": str(folder / "east.tif")}


def check_outputs(folder, n_cells):
    import rasterio

    up = read_points(str(folder / "up.gpkg"))
    east = read_points(str(folder / "east.gpkg"))
    assert len(up) == len(east) == n_cells > 90
    e_true, u_true = truth(up.x, up.y)
    # noise-free input: exact up to float rounding through the GeoPackage (doubles)
    np.testing.assert_allclose(up.columns["mean_velocity"], u_true, atol=1e-6)
    np.testing.assert_allclose(east.columns["mean_velocity"], e_true, atol=1e-6)
    dates = up.date_fields()
    assert dates[0][1] == dt.date(2021, 1, 2) and all((d - dt.date(2014, 4, 3)).days % 6 == 0 for _, d in dates)
    assert up.columns[dates[0][0]].tolist() == [0.0] * n_cells
    assert (up.columns["n_points_asc"] > 0).all() and (up.columns["n_points_desc"] > 0).all()
    with rasterio.open(folder / "up.tif") as src:
        band = src.read(1)
        assert src.crs.to_epsg() == 3035 and src.nodata == -9999 and src.res == (100.0, 100.0)
        assert src.transform.c % 100 == 0 and src.transform.f % 100 == 0
        rows, cols = zip(*[src.index(x, y) for x, y in zip(up.x, up.y)])
        np.testing.assert_allclose(band[rows, cols], u_true, atol=1e-4)  # Float32
    return up, east


def test_processing_run_recovers_truth(run_alg, inputs, tmp_path):
    asc, desc = inputs
    result = run_alg("egms:decompose", {"ASCENDING": [asc], "DESCENDING": [desc], **outputs(tmp_path)})
    assert result["N_CELLS"] == 100 and result["N_DROPPED_ONE_ORBIT"] == 0
    assert result["N_DROPPED_ILL_CONDITIONED"] == 0
    assert result["N_EPOCHS"] == (DATES[-1] - dt.date(2021, 1, 2)).days // 6 + 1
    check_outputs(tmp_path, result["N_CELLS"])


def test_cells_of_one_orbit_dropped_and_counted(run_alg, tmp_path):
    asc = make_layer(tmp_path / "a.gpkg", "ascending", seed=3)
    desc = make_layer(tmp_path / "d.gpkg", "descending", seed=4, shift=500.0)  # overlaps the east half only
    result = run_alg("egms:decompose", {"ASCENDING": [asc], "DESCENDING": [desc], **outputs(tmp_path)})
    assert result["N_CELLS"] == 50 and result["N_DROPPED_ONE_ORBIT"] == 100
    up = read_points(str(tmp_path / "up.gpkg"))
    assert up.x.min() == 4_600_550


def test_qgis_process_runs_decompose(run_qgis_process, inputs, tmp_path):
    asc, desc = inputs
    args = [f"{k}={v}" for k, v in outputs(tmp_path).items()]
    run = run_qgis_process("run", "egms:decompose", "--", f"ASCENDING={asc}", f"DESCENDING={desc}", *args)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "N_CELLS:\t100" in run.stdout and "N_DROPPED_ILL_CONDITIONED:\t0" in run.stdout
    check_outputs(tmp_path, 100)


def _assert_refused(run_alg, params, tmp_path, message):
    with pytest.raises(QgsProcessingException, match=message):
        run_alg("egms:decompose", {**params, **outputs(tmp_path / "out")})
    assert not (tmp_path / "out").exists() or os.listdir(tmp_path / "out") == []


def test_refuses_polygon_layer(run_alg, inputs, tmp_path):
    polygons = QgsVectorLayer("Polygon?crs=EPSG:3035&field=los_east:double", "parcels", "memory")
    _assert_refused(run_alg, {"ASCENDING": [polygons], "DESCENDING": [inputs[1]]}, tmp_path,
                    "parcels is not a point layer")


def test_refuses_layer_without_dates(run_alg, inputs, tmp_path):
    bare = make_layer(tmp_path / "bare.gpkg", "descending", with_dates=False)
    _assert_refused(run_alg, {"ASCENDING": [inputs[0]], "DESCENDING": [bare]}, tmp_path,
                    "bare: no date fields .* needs displacement time series")


def test_refuses_empty_layer(run_alg, inputs, tmp_path):
    fields = "".join(f"&field={d:%Y%m%d}:double" for d in DATES)
    empty = QgsVectorLayer("Point?crs=EPSG:3035&field=los_east:double&field=los_north:double&field=los_up:double"
                           + fields, "nothing", "memory")
    with pytest.raises(QgsProcessingException, match="nothing"):
        run_alg("egms:decompose", {"ASCENDING": [inputs[0]], "DESCENDING": [empty], **outputs(tmp_path / "out")})
    assert not (tmp_path / "out").exists() or os.listdir(tmp_path / "out") == []


def test_refuses_mismatched_geometries(run_alg, inputs, tmp_path):
    # a second ascending layer given as descending
    _assert_refused(run_alg, {"ASCENDING": [inputs[0]], "DESCENDING": [inputs[0]]}, tmp_path,
                    "asc: given as descending but its LOS vectors \\(los_east < 0\\) are those of an ascending")


def test_refuses_layers_that_do_not_overlap(run_alg, tmp_path):
    asc = make_layer(tmp_path / "a.gpkg", "ascending", seed=5)
    desc = make_layer(tmp_path / "d.gpkg", "descending", seed=6, shift=5000.0)
    _assert_refused(run_alg, {"ASCENDING": [asc], "DESCENDING": [desc]}, tmp_path, "the layers do not overlap")


def test_refuses_unparsable_gnss_file(run_alg, inputs, tmp_path):
    bad = tmp_path / "model.csv"
    bad.write_text("station;speed\nA;fast\n")
    _assert_refused(run_alg, {"ASCENDING": [inputs[0]], "DESCENDING": [inputs[1]], "GNSS": str(bad)}, tmp_path,
                    "model.csv: not an A-EPND GNSS velocity CSV")
