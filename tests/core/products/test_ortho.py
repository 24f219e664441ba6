"""Ortho decomposition: truth recovered from synthetic asc/desc layers built on the real file's LOS vectors."""

import csv
import datetime as dt
import io
import zipfile

import numpy as np
import pytest

from egms_plugin.core import conventions as cv
from egms_plugin.core.egms.stats import egms_statistics, egms_time
from egms_plugin.core.errors import InputError
from egms_plugin.core.products import gnss, ortho


def sample_columns(path, names):
    """Columns ``names`` (float arrays) and the dates of the real EGMS zip, read with the csv module."""
    with zipfile.ZipFile(path) as zf:
        member = next(n for n in zf.namelist() if n.endswith(".csv"))
        with zf.open(member) as fh:
            reader = csv.reader(io.TextIOWrapper(fh, encoding="utf-8"))
            header = next(reader)
            index = [header.index(n) for n in names]
            rows = [[float(row[i]) for i in index] for row in reader]
    dates = [cv.parse_date(h) for h in header if len(h) == 8 and h.isdigit()]
    return dict(zip(names, np.array(rows).T)), dates


@pytest.fixture(scope="module")
def geometry(egms_sample):
    """The sample's descending points and LOS, and an ascending twin mirrored per core/conventions.py (heading α → 180° − α)."""
    cols, dates = sample_columns(egms_sample, ["easting", "northing", "los_east", "los_north", "los_up", "rmse_ts"])
    desc = dict(x=cols["easting"], y=cols["northing"], los_east=cols["los_east"], los_north=cols["los_north"],
                los_up=cols["los_up"], rmse=cols["rmse_ts"])
    rng = np.random.default_rng(11)
    keep = rng.random(cols["easting"].size) < 0.8  # ascending points elsewhere: a subset, shifted
    asc = dict(x=cols["easting"][keep] + 37.0, y=cols["northing"][keep] - 23.0, los_east=-cols["los_east"][keep],
               los_north=cols["los_north"][keep], los_up=cols["los_up"][keep], rmse=cols["rmse_ts"][keep])
    return asc, desc, dates


def truth_fields(x, y, cell=100.0):
    """East and up velocity (mm/yr) per 100 m cell: a subsidence bowl and an eastward-sliding band."""
    cx, cy = (np.floor(x / cell) + 0.5) * cell, (np.floor(y / cell) + 0.5) * cell
    up = 1.0 - 9.0 * np.exp(-((cx - 4_599_000) ** 2 + (cy - 1_741_400) ** 2) / (2 * 700.0**2))
    east = 2.5 * np.sin(2 * np.pi * (cy - 1_739_700) / 2500.0) - 0.8
    return east, up


def build_layer(name, geom, dates, noise=True, seed=0, north=0.0, seasonal=0.0):
    """A point layer (dict) whose series are the truth on its LOS (+ white noise of the points' rmse)."""
    rng = np.random.default_rng(seed)
    east, up = truth_fields(geom["x"], geom["y"])
    t = egms_time(dates)
    rate = cv.project_to_los(east, north, up, geom["los_east"], geom["los_north"], geom["los_up"])
    series = rate[:, None] * t + seasonal * geom["los_up"][:, None] * np.sin(2 * np.pi * t)
    if noise:
        series = series + rng.normal(0.0, 1.0, series.shape) * geom["rmse"][:, None]
    stats = egms_statistics(series, dates)  # the layer's own columns, as a real product carries them
    return dict(name=name, x=geom["x"], y=geom["y"], los_east=geom["los_east"], los_north=geom["los_north"],
                los_up=geom["los_up"], date_columns=list(series.T), dates=dates, rmse=stats["rmse"],
                mean_velocity_std=stats["mean_velocity_std"])


def test_grid_epochs_on_the_2014_04_03_grid():
    epochs = ortho.grid_epochs(dt.date(2020, 1, 3), dt.date(2020, 3, 1))
    assert epochs[0] == dt.date(2020, 1, 8)  # 2020-01-03 is one day past a grid date
    assert all((e - dt.date(2014, 4, 3)).days % 6 == 0 for e in epochs)
    assert np.all(np.diff([e.toordinal() for e in epochs]) == 6) and epochs[-1] > dt.date(2020, 2, 23)
    assert ortho.grid_epochs(dt.date(2014, 4, 3), dt.date(2014, 4, 9)) == [dt.date(2014, 4, 3), dt.date(2014, 4, 9)]


def test_resampling_is_linear_and_never_extrapolates():
    dates = [dt.date(2020, 1, 3) + dt.timedelta(days=d) for d in (0, 12, 18, 30, 36)]
    epochs = ortho.grid_epochs(dates[0], dates[-1])
    j, f = ortho.resampling_weights(dates, epochs)
    y = 2.0 + 0.5 * np.array([(d - dates[0]).days for d in dates])
    expect = 2.0 + 0.5 * np.array([(e - dates[0]).days for e in epochs])
    np.testing.assert_allclose((1 - f) * y[j] + f * y[j + 1], expect, atol=1e-12)
    with pytest.raises(ValueError, match="never extrapolates"):
        ortho.resampling_weights(dates, [dates[0] - dt.timedelta(days=1)])


def test_noise_free_decomposition_is_exact(geometry):
    asc, desc, dates = geometry
    layers = [build_layer("asc", asc, dates, noise=False), build_layer("desc", desc, dates, noise=False)]
    for layer in layers:  # a noise-free series has rmse 0: give the weights the floor-free precision of 1 mm
        layer["rmse"] = np.ones_like(layer["rmse"])
    res = ortho.decompose(layers)
    east, up = truth_fields(res.easting, res.northing)
    np.testing.assert_allclose(res.stats_east["mean_velocity"], east, atol=1e-6)
    np.testing.assert_allclose(res.stats_up["mean_velocity"], up, atol=1e-6)
    t = egms_time(res.epochs)
    np.testing.assert_allclose(res.up, up[None, :] * t[:, None], atol=1e-6)  # series too, first epoch 0
    np.testing.assert_allclose(res.east, east[None, :] * t[:, None], atol=1e-6)
    assert res.epochs[0] == dt.date(2020, 1, 8) and res.epochs[-1] <= dates[-1]
    assert res.n_cells > 600 and res.n_cells_ill_conditioned == 0 and res.n_empty_cell_epochs == 0
    assert np.all(res.easting % 100 == 50) and np.all(res.northing % 100 == 50)


def test_noisy_decomposition_within_propagated_uncertainty(geometry):
    asc, desc, dates = geometry
    res = ortho.decompose([build_layer("asc", asc, dates, seed=1, seasonal=2.0),
                           build_layer("desc", desc, dates, seed=2, seasonal=2.0)])
    east, up = truth_fields(res.easting, res.northing)
    for est, truth, sigma in ((res.stats_east["mean_velocity"], east, res.propagated_velocity_std_east),
                              (res.stats_up["mean_velocity"], up, res.propagated_velocity_std_up)):
        z = (est - truth) / sigma
        # ~650 cells: z is standard normal; bounds ≈ 4 standard errors (mean ± 0.15, std 1 ± 0.15)
        assert abs(np.mean(z)) < 0.15
        assert 0.85 < np.std(z) < 1.15
        assert np.mean(np.abs(z) < 2) == pytest.approx(0.954, abs=0.03)
    assert res.weight_source == "rmse"
    # the per-epoch propagated std matches the actual scatter of the decomposed series about the truth
    t_layer = np.array([(e - dates[0]).days for e in res.epochs]) / 365.0  # time axis of the input series
    u_true = up[None, :] * t_layer[:, None] + 2.0 * np.sin(2 * np.pi * t_layer)[:, None]
    resid = res.up - (u_true - u_true[:1])
    ratio = np.std(resid, axis=0) / res.propagated_displacement_std_up
    # linear resampling between dates (gaps of 12+ days) averages white noise: variance × ((1 − f)² + f²)
    _, f = ortho.resampling_weights(dates, res.epochs)
    assert np.median(ratio) == pytest.approx(np.sqrt(np.mean((1 - f) ** 2 + f**2)), abs=0.05)


def test_weighted_least_squares_matches_an_independent_solver():
    rng = np.random.default_rng(5)
    dates = [dt.date(2020, 1, 3) + dt.timedelta(days=6 * k) for k in range(30)]
    n = 60
    x = 4_600_000 + rng.uniform(0, 200, n)  # four cells
    y = 1_740_000 + rng.uniform(0, 200, n)
    geoms = [(-0.62, -0.11, 0.78, 1.0), (-0.50, -0.09, 0.86, 3.0), (0.60, -0.12, 0.79, 2.0)]  # two asc tracks + desc
    layers, lines = [], []
    for g, (le, ln, lu, sigma) in enumerate(geoms):
        series = rng.normal(0, 5, (n, len(dates)))
        series[:, 0] = 0.0
        layers.append(dict(name=f"g{g}", x=x, y=y, los_east=np.full(n, le), los_north=np.full(n, ln),
                           los_up=np.full(n, lu), date_columns=list(series.T), dates=dates, rmse=np.full(n, sigma)))
        lines.append(series)
    res = ortho.decompose(layers)
    j, f = ortho.resampling_weights(dates, res.epochs)
    for c in range(res.n_cells):
        inside = (np.floor(x / 100) == res.ix[c]) & (np.floor(y / 100) == res.iy[c])
        a = np.array([[le, lu] for le, _, lu, _ in geoms])
        sig = np.array([s / np.sqrt(inside.sum()) for *_, s in geoms])
        d = np.array([(1 - f) * s[inside][:, j].mean(0) + f * s[inside][:, j + 1].mean(0) for s in lines])  # (3, k)
        sw = 1 / sig
        sol, *_ = np.linalg.lstsq(a * sw[:, None], d * sw[:, None], rcond=None)
        sol -= sol[:, :1]
        np.testing.assert_allclose(res.east[:, c], sol[0], atol=1e-9)
        np.testing.assert_allclose(res.up[:, c], sol[1], atol=1e-9)
        cov = np.linalg.inv(a.T @ np.diag(sw**2) @ a)
        assert res.propagated_displacement_std_east[c] == pytest.approx(np.sqrt(cov[0, 0]), rel=1e-9)
        assert res.propagated_displacement_std_up[c] == pytest.approx(np.sqrt(cov[1, 1]), rel=1e-9)
        assert res.n_points_asc[c] == 2 * inside.sum() and res.n_points_desc[c] == inside.sum()
    assert set(res.n_geometries) == {3}


def test_north_motion_removed_with_gnss(geometry):
    asc, desc, dates = geometry
    north = 6.0  # mm/yr, uniform: leaks −0.12 × 6 into both LOS if not removed
    layers = [build_layer("asc", asc, dates, noise=False, north=north),
              build_layer("desc", desc, dates, noise=False, north=north)]
    for layer in layers:
        layer["rmse"] = np.ones_like(layer["rmse"])
    model = gnss.gnss_from_arrays([4.55e6, 4.65e6, 4.55e6, 4.65e6], [1.70e6, 1.70e6, 1.80e6, 1.80e6], [0.0] * 4,
                                  [north] * 4, [0.0] * 4)
    res = ortho.decompose(layers, gnss=model)
    east, up = truth_fields(res.easting, res.northing)
    np.testing.assert_allclose(res.stats_up["mean_velocity"], up, atol=1e-6)
    biased = ortho.decompose(layers)
    assert np.abs(biased.stats_up["mean_velocity"] - up).mean() == pytest.approx(6.0 * 0.12 / 0.795, rel=0.02)


def _two_cell_layers(dates, asc_cells, desc_cells, asc_los=(-0.6, -0.1, 0.79), desc_los=(0.6, -0.1, 0.79)):
    out = []
    for name, cells, los in (("asc", asc_cells, asc_los), ("desc", desc_cells, desc_los)):
        x = np.array([c[0] * 100 + 50.0 for c in cells])
        y = np.array([c[1] * 100 + 50.0 for c in cells])
        t = egms_time(dates)
        series = np.outer(np.full(x.size, 1.0), t)
        out.append(dict(name=name, x=x, y=y, los_east=np.full(x.size, los[0]), los_north=np.full(x.size, los[1]),
                        los_up=np.full(x.size, los[2]), date_columns=list(series.T), dates=dates,
                        rmse=np.ones(x.size)))
    return out


DATES = [dt.date(2020, 1, 8) + dt.timedelta(days=6 * k) for k in range(20)]


def test_one_orbit_cells_dropped_and_counted():
    layers = _two_cell_layers(DATES, [(46000, 17400), (46001, 17400), (46002, 17400)], [(46000, 17400), (46005, 17400)])
    res = ortho.decompose(layers)
    assert res.n_cells == 1 and res.n_cells_one_orbit == 3
    assert (res.ix[0], res.iy[0]) == (46000, 17400)


def test_ill_conditioned_cells_dropped_and_counted():
    layers = _two_cell_layers(DATES, [(1, 1), (2, 2)], [(1, 1), (2, 2)])
    # a third, descending geometry nearly parallel to the ascending one fixes nothing: make cell (3, 3) only
    # visible from two almost-vertical looks (cond ≈ 20)
    steep = _two_cell_layers(DATES, [(3, 3)], [(3, 3)], asc_los=(-0.05, 0.0, 0.9987), desc_los=(0.05, 0.0, 0.9987))
    res = ortho.decompose(layers + steep)
    assert res.n_cells == 2 and res.n_cells_ill_conditioned == 1
    res = ortho.decompose(layers + steep, max_condition=25)
    assert res.n_cells == 3 and res.n_cells_ill_conditioned == 0


def test_epoch_without_one_orbit_left_empty():
    layers = _two_cell_layers(DATES, [(1, 1), (2, 2)], [(1, 1), (2, 2)])
    layers[1]["date_columns"][5] = np.array([np.nan, 3.0])  # desc cell (1, 1) has no data on date 5
    res = ortho.decompose(layers)
    assert res.n_empty_cell_epochs == 1  # dates on the grid: only the epoch of the missing date in cell (1, 1)
    assert np.flatnonzero(np.isnan(res.up[:, 0])).tolist() == [5] and not np.isnan(res.up[:, 1]).any()
    assert np.isnan(res.east[5, 0]) and res.up[6, 0] == pytest.approx(egms_time(DATES)[6] / 0.79)


@pytest.mark.parametrize("case, message", [
    ("only-ascending", "only ascending geometries given (a1, a2): the decomposition needs at least one ascending"),
    ("no-overlap", "no cell of 100 m holds points of both an ascending and a descending layer (4 cells"),
    ("no-common-time", "the input layers share 0 epochs of the 6-day grid"),
    ("misfiled", "desc: given as ascending but its LOS vectors (los_east > 0) are those of a descending geometry"),
    ("no-dates", "desc: needs date fields"),
    ("empty", "desc: the layer has no points"),
])
def test_mismatched_inputs_have_clear_messages(case, message):
    layers = _two_cell_layers(DATES, [(1, 1), (2, 2)], [(1, 1), (2, 2)])
    if case == "only-ascending":
        layers = [dict(layers[0], name="a1"), dict(layers[0], name="a2")]
    elif case == "no-overlap":
        layers = _two_cell_layers(DATES, [(1, 1), (2, 2)], [(5, 5), (6, 6)])
    elif case == "no-common-time":
        later = [d + dt.timedelta(days=365) for d in DATES]
        layers[1]["dates"] = later
    elif case == "misfiled":
        layers[1]["orbit"] = "ascending"
    elif case == "no-dates":
        layers[1]["date_columns"], layers[1]["dates"] = [], []
    elif case == "empty":
        layers[1].update(x=np.array([]), y=np.array([]), los_east=np.array([]), los_north=np.array([]),
                         los_up=np.array([]), date_columns=[np.array([])] * len(DATES))
    with pytest.raises(InputError) as err:
        if case == "no-dates":
            ortho.decompose(layers, epochs=DATES)
        else:
            ortho.decompose(layers)
    assert message in str(err.value)


def test_velocity_geotiff_aligned_with_nodata(tmp_path):
    import rasterio

    layers = _two_cell_layers(DATES, [(46000, 17400), (46003, 17402)], [(46000, 17400), (46003, 17402)])
    res = ortho.decompose(layers)
    path = ortho.write_velocity_geotiff(str(tmp_path / "up.tif"), res, "up")
    with rasterio.open(path) as src:
        band = src.read(1)
        assert src.crs.to_epsg() == 3035 and src.nodata == -9999 and src.dtypes[0] == "float32"
        assert src.transform.c == 4_600_000 and src.transform.f == 1_740_300 and src.res == (100.0, 100.0)
        assert band.shape == (3, 4)
        row, col = src.index(4_600_050, 1_740_050)
        # unit LOS rate 1 mm/yr on both looks (±0.6, 0.79): U = 1 / 0.79, E = 0
        assert band[row, col] == pytest.approx(1 / 0.79, rel=1e-6)
        assert band[src.index(4_600_350, 1_740_250)] == pytest.approx(1 / 0.79, rel=1e-6)
        assert (band == -9999).sum() == 10
    assert sorted(p.name for p in tmp_path.iterdir()) == ["up.tif"]


def test_l3_table_schema_round_trips_through_geopackage(tmp_path):
    from egms_plugin.core.egms.pid import decode_base62
    from egms_plugin.core.io.points import read_points, write_points

    layers = _two_cell_layers(DATES, [(46000, 17400), (46003, 17402)], [(46000, 17400), (46003, 17402)])
    layers[0]["height"] = np.array([10.0, 30.0])
    layers[1]["height"] = np.array([20.0, np.nan])
    res = ortho.decompose(layers)
    path = write_points(str(tmp_path / "u.gpkg"), ortho.l3_table(res, "up"))
    table = read_points(path)
    names = list(table.columns)
    assert names[:11] == list(ortho.L3_FIELDS) and names[11:16] == list(ortho.EXTRA_FIELDS)
    assert names[16:] == [f"{e:%Y%m%d}" for e in res.epochs] == [f"{d:%Y%m%d}" for d in DATES]
    assert table.crs == "EPSG:3035" and table.metadata["egms_component"] == "U"
    np.testing.assert_array_equal(table.columns["easting"], [4_600_050, 4_600_350])
    assert table.columns["easting"].dtype.kind == "i"
    np.testing.assert_array_equal(table.x, [4_600_050.0, 4_600_350.0])
    # L3 pid: base62(IPE 0) + base62(floor(N/100)·2³² + floor(E/100), 9)
    assert decode_base62(table.columns["pid"][0][1:]) == 17400 * 2**32 + 46000 and table.columns["pid"][0][0] == "0"
    np.testing.assert_allclose(table.columns["height"], [15.0, 30.0])  # mean over both layers' points in the cell
    np.testing.assert_allclose(table.columns["mean_velocity"], 1 / 0.79, rtol=1e-9)
    np.testing.assert_array_equal(table.columns["n_points_asc"], [1, 1])
    np.testing.assert_array_equal(table.columns[names[-1]], res.up[-1])


def test_layer_plan_reads_the_los_vector_the_precision_the_height_and_the_dates():
    """The fields a layer is read for, from its names alone; the errors name the layer."""
    names = ["pid", "los_east", "los_north", "los_up", "RMSE", "height_ortho", "mean_velocity_std",
             "20200115", "D20200103"]
    plan = ortho.plan_layer("asc", names, "ascending")
    assert (plan.rmse, plan.std, plan.height) == ("RMSE", "mean_velocity_std", "height_ortho")
    assert plan.columns == ["los_east", "los_north", "los_up", "RMSE", "mean_velocity_std", "height_ortho",
                            "D20200103", "20200115"]  # dates by date
    assert plan.span == (dt.date(2020, 1, 3), dt.date(2020, 1, 15))
    bare = ortho.plan_layer("desc", ["los_east", "los_north", "los_up", "20200103", "20200109"])
    assert (bare.rmse, bare.std, bare.height) == (None, None, None)
    with pytest.raises(InputError, match="desc: no field los_north — the decomposition needs LOS unit vectors"):
        ortho.plan_layer("desc", ["los_east", "los_up", "20200103", "20200109"])
    with pytest.raises(InputError, match="desc: no date fields"):
        ortho.plan_layer("desc", ["los_east", "los_north", "los_up", "20200103"])
    short = ortho.plan_layer("short", ["los_east", "los_north", "los_up", "20200103", "20200115"])
    with pytest.raises(InputError, match="share 2 epochs"):
        ortho.plan_epochs([short])
