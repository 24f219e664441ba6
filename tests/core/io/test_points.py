"""GeoPackage measurement-point files: lossless round trip, types, NULLs, index, atomicity."""

import datetime as dt
import os

import numpy as np
import pytest
from osgeo import ogr

from egms_plugin.core.errors import Cancelled, InputError
from egms_plugin.core.io import points as mpio
from egms_plugin.core.progress import Progress


def _table(n=1000, n_dates=150, seed=0):
    rng = np.random.default_rng(seed)
    cols = {
        "pid": np.array([f"0ABC{i:06d}" for i in range(n)], dtype=object),
        "mp_type": np.zeros(n, dtype=np.int64),
        "line": rng.integers(0, 3000, n),
        "mean_velocity": rng.normal(0, 5, n),
        "valid": rng.random(n) > 0.5,
        "amplitude_dispersion": rng.random(n).astype(np.float32),
    }
    dates = [dt.date(2020, 1, 3) + dt.timedelta(days=6 * k) for k in range(n_dates)]
    for d in dates:
        cols[d.strftime("%Y%m%d")] = rng.normal(0, 3, n).round(1)
    cols["mean_velocity"][[3, 7]] = np.nan
    cols["pid"][5] = None
    x = rng.uniform(4.0e6, 4.1e6, n)
    y = rng.uniform(2.0e6, 2.1e6, n)
    return mpio.PointTable(cols, x, y, "EPSG:3035", {"product_level": "L2b", "track": "022"}), dates


def test_round_trip(tmp_path):
    table, dates = _table()
    path = mpio.write_points(tmp_path / "mp.gpkg", table)
    back = mpio.read_points(path)
    assert back.crs == "EPSG:3035" and back.metadata == table.metadata
    assert list(back.columns) == list(table.columns)
    np.testing.assert_array_equal(back.x, table.x)
    np.testing.assert_array_equal(back.y, table.y)
    for name, col in table.columns.items():
        got = back.columns[name]
        if col.dtype.kind == "f":
            np.testing.assert_array_equal(got, col.astype(np.float64))
        elif col.dtype.kind == "b":
            np.testing.assert_array_equal(got.astype(bool), col)
        else:
            assert list(got) == list(col), name
    values, got_dates = back.displacement()
    assert got_dates == dates and values.shape == (1000, 150)
    # OGR sees the right types and a working spatial index
    ds = ogr.Open(str(path))
    lyr = ds.GetLayer(0)
    defn = lyr.GetLayerDefn()
    types = {defn.GetFieldDefn(i).GetName(): defn.GetFieldDefn(i).GetTypeName() for i in range(defn.GetFieldCount())}
    assert types["pid"] == "String" and types["line"] == "Integer64" and types["20200103"] == "Real"
    assert lyr.TestCapability("FastSpatialFilter")
    box = (4.02e6, 2.02e6, 4.03e6, 2.05e6)
    lyr.SetSpatialFilterRect(*box)
    got = sorted(f.GetFID() for f in lyr)
    inside = (table.x >= box[0]) & (table.x <= box[2]) & (table.y >= box[1]) & (table.y <= box[3])
    assert got == (np.flatnonzero(inside) + 1).tolist() and got


def test_read_subset_of_columns(tmp_path):
    table, _ = _table(n=50)
    path = mpio.write_points(tmp_path / "mp.gpkg", table)
    back = mpio.read_points(path, columns=["mean_velocity", "pid"])
    assert list(back.columns) == ["pid", "mean_velocity"]
    with pytest.raises(InputError, match="no field\\(s\\) nope"):
        mpio.read_points(path, columns=["nope"])


def test_date_fields_conventions():
    names = ["pid", "D20200115", "D_20200109", "20200103", "20201301", "height", "d20200121"]
    assert [n for n, _d in mpio.date_fields(names)] == ["20200103", "D_20200109", "D20200115", "d20200121"]


def test_bad_inputs(tmp_path):
    with pytest.raises(InputError, match="missing.gpkg: the file does not exist"):
        mpio.read_points(tmp_path / "missing.gpkg")
    (tmp_path / "junk.gpkg").write_bytes(b"not a geopackage")
    with pytest.raises(InputError, match="junk.gpkg"):
        mpio.read_points(tmp_path / "junk.gpkg")
    table, _ = _table(n=10, n_dates=3)
    path = mpio.write_points(tmp_path / "mp.gpkg", table)
    with pytest.raises(InputError, match="no layer named 'other'"):
        mpio.read_points(path, layer="other")
    with pytest.raises(ValueError, match="column 'a' has 2 values for 3 points"):
        mpio.PointTable({"a": np.zeros(2)}, np.zeros(3), np.zeros(3))


def test_cancel_leaves_nothing(tmp_path):
    class Stop(Progress):
        def is_cancelled(self):
            return True

    table, _ = _table(n=50000, n_dates=5)
    with pytest.raises(Cancelled):
        mpio.write_points(tmp_path / "mp.gpkg", table, progress=Stop())
    assert os.listdir(tmp_path) == []


def test_nan_coordinates_become_null_geometry(tmp_path):
    table, _ = _table(n=20, n_dates=2)
    table.x[4] = np.nan
    back = mpio.read_points(mpio.write_points(tmp_path / "mp.gpkg", table))
    assert np.isnan(back.x[4]) and np.isnan(back.y[4]) and np.isfinite(back.x[5])


@pytest.mark.parametrize("n_dates", [5, 250])  # one Arrow stream per read, and several groups of fields
def test_a_bbox_read_is_the_full_read_inside_the_box(tmp_path, n_dates):
    """The rows of read_points(bbox=) are exactly those of the whole layer inside the box, in file order, every
    field (Booleans too) aligned: the same filter for every stream (QGIS 3.40's GDAL filtered streams without the
    geometry by the R-tree's float32 boxes only)."""
    rng = np.random.default_rng(3)
    n = 5000
    x, y = rng.uniform(4.6e6, 4.61e6, n), rng.uniform(1.74e6, 1.75e6, n)
    cols = {"pid": np.array([f"p{i}" for i in range(n)]), "flag": rng.random(n) > 0.5,
            "mean_velocity": rng.normal(0, 3, n)}
    d0 = dt.date(2020, 1, 1)
    cols.update({(d0 + dt.timedelta(days=6 * k)).strftime("%Y%m%d"): rng.normal(0, 5, n).astype(np.float32)
                 for k in range(n_dates)})
    path = mpio.write_points(tmp_path / "p.gpkg", mpio.PointTable(cols, x, y, "EPSG:3035"))
    whole = mpio.read_points(path)
    box = (4.602e6 + 0.3, 1.743e6 + 0.7, 4.607e6 - 0.2, 1.748e6 - 0.9)  # edges between float32 steps
    part = mpio.read_points(path, bbox=box)
    inside = (whole.x >= box[0]) & (whole.x <= box[2]) & (whole.y >= box[1]) & (whole.y <= box[3])
    assert 0 < len(part) == inside.sum() < n
    np.testing.assert_array_equal(part.x, whole.x[inside])
    for name in whole.columns:
        assert np.array_equal(part.columns[name], whole.columns[name][inside]), name
