"""EGMS export: text formatting, the real file reproduced, export → import round trips, bad input."""

import datetime as dt
import os
import re
import zipfile

import numpy as np
import pytest

from egms_plugin.core.egms import export as egms_export
from egms_plugin.core.egms import importer as egms_import
from egms_plugin.core.egms.pid import decode_l2_pid
from egms_plugin.core.errors import InputError
from egms_plugin.core.io.points import PointTable, read_points


def test_format_matches_python_repr_of_rounded_values():
    rng = np.random.default_rng(0)
    a = rng.normal(0, 30, 5000)
    a[::7] = np.nan
    a[:9] = [-0.04, -0.0, 0.0, 0.05, 123456.75, -1e-9, -0.05, 0.25, 2.675]  # ties of the binary product
    lat_ties = np.array([0.1234565, 1.0000005, -3.2500005])
    lat = rng.uniform(-90, 90, 5000)
    lat[:3] = lat_ties
    ints = rng.integers(-5, 70000, 5000).astype(float)
    pid = [f"p{i:05d}" for i in range(5000)]
    text = egms_export.format_csv_rows([pid, a, lat, ints], [None, 1, 6, 0]).decode()
    expected = "".join(f"{p},{'' if np.isnan(x) else repr(round(float(x), 1))},{round(float(y), 6)!r},{int(z)}\n"
                       for p, x, y, z in zip(pid, a, lat, ints))
    assert text == expected


def test_full_precision_and_text_columns():
    text = egms_export.format_csv_rows([np.array([0.1 + 0.2, np.nan, 1e300]), ["a", None, "c"]], [None, None])
    assert text.decode() == "0.30000000000000004,a\n,\n1e+300,c\n"


@pytest.fixture(scope="module")
def real_table(egms_sample, tmp_path_factory):
    out = tmp_path_factory.mktemp("exp") / "real.gpkg"
    egms_import.import_egms(egms_sample, out)
    return read_points(out)


def test_real_file_written_back_identically(real_table, egms_sample, tmp_path):
    """Import → export gives back the published CSV byte for byte, except that GeoPackage (SQLite)
    cannot store −0.0, so published "-0.0" cells come back as "0.0"; the XML header is the original."""
    out = tmp_path / "EGMS_L2b_022_0845_IW2_VV_2020_2024_1.zip"
    egms_export.export_egms(real_table, out)
    with zipfile.ZipFile(egms_sample) as a, zipfile.ZipFile(out) as b:
        assert sorted(b.namelist()) == sorted(a.namelist())
        original = a.read("EGMS_L2b_022_0845_IW2_VV_2020_2024_1.csv").decode()
        written = b.read("EGMS_L2b_022_0845_IW2_VV_2020_2024_1.csv").decode()
        assert b.read("EGMS_L2b_022_0845_IW2_VV_2020_2024_1.xml") == a.read("EGMS_L2b_022_0845_IW2_VV_2020_2024_1.xml")
    assert original != written and re.sub(r"(?<=,)-0\.0(?=[,\n])", "0.0", original) == written


def test_csv_inside_is_named_like_the_zip(real_table, tmp_path):
    out = tmp_path / "my_area.zip"
    egms_export.export_egms(real_table, out, naming="specification")
    with zipfile.ZipFile(out) as zf:
        assert sorted(zf.namelist()) == ["my_area.csv", "my_area.xml"]
        header = zf.read("my_area.csv").decode().split("\n", 1)[0].split(",")
    assert header[6:8] == ["height", "height_wgs84"] and "rmse" in header and "rmse_ts" not in header


def test_round_trip_lossless_to_the_spec_decimals(tmp_path):
    """Any values survive export → import rounded to the specification's decimals; unknown fields exactly."""
    rng = np.random.default_rng(4)
    n = 500
    dates = [dt.date(2021, 1, 1) + dt.timedelta(days=6 * k) for k in range(25)]
    cols = {"pid": np.array([f"{k:010d}" for k in range(n)], dtype=object),
            "mp_type": np.zeros(n, np.int64), "latitude": rng.uniform(40, 41, n), "longitude": rng.uniform(5, 6, n),
            "easting": rng.uniform(4e6, 4.1e6, n), "northing": rng.uniform(2e6, 2.1e6, n),
            "height": rng.normal(100, 30, n), "line": np.arange(n), "pixel": np.arange(n) * 3,
            "rmse": rng.uniform(0, 3, n), "temporal_coherence": rng.uniform(0.5, 1, n),
            "los_east": rng.uniform(-0.7, -0.5, n), "mean_velocity": rng.normal(0, 5, n),
            "acceleration": rng.normal(0, 1, n), "height_error": rng.normal(0, 5, n)}
    for d in dates:
        cols[d.strftime("%Y%m%d")] = np.where(rng.random(n) < 0.03, np.nan, rng.normal(0, 10, n))
    table = PointTable(cols, cols["easting"], cols["northing"], "EPSG:3035", {"EGMS_PRODUCT_LEVEL": "L2a"})
    out = tmp_path / "EGMS_L2a_001_0002_IW1_VV_2021_2021_1.zip"
    egms_export.export_egms(table, out, block_rows=128)
    egms_import.import_egms(out, tmp_path / "back.gpkg")
    back = read_points(tmp_path / "back.gpkg")
    assert set(back.columns) == set(cols)
    from egms_plugin.core.egms.format import column_decimals

    for name, values in cols.items():
        got = back.columns[name]
        if name == "pid":
            assert list(got) == list(values)
            continue
        d = column_decimals(name, "L2a")
        want = [v if d is None or v != v else round(v, d) for v in np.asarray(values, float).tolist()]
        np.testing.assert_array_equal(np.asarray(got, float), want, err_msg=name)
    assert back.metadata["EGMS_PRODUCT_LEVEL"] == "L2a"


def test_any_layer_with_prefixed_dates_gets_ids_and_coordinates(tmp_path):
    """A layer of another tool (D_yyyymmdd fields, another CRS, no pid/easting/lat) exports as EGMS."""
    from pyproj import Transformer

    n = 40
    lon, lat = np.linspace(13.0, 13.1, n), np.linspace(38.6, 38.7, n)
    x, y = Transformer.from_crs(4326, 32633, always_xy=True).transform(lon, lat)
    cols = {"line": np.arange(n), "pixel": np.arange(n) + 7, "VEL": np.linspace(-3, 3, n),
            "D_20200103": np.zeros(n), "D_20200115": np.linspace(-1, 1, n)}
    table = PointTable(cols, np.asarray(x), np.asarray(y), "EPSG:32633")
    out = tmp_path / "other.zip"
    egms_export.export_egms(table, out, level="L2a")
    with zipfile.ZipFile(out) as zf:
        lines = zf.read("other.csv").decode().splitlines()
    header = lines[0].split(",")
    assert header == ["pid", "latitude", "longitude", "easting", "northing", "line", "pixel", "VEL", "20200103", "20200115"]
    first = lines[1].split(",")
    assert decode_l2_pid(first[0])["line"] == 0 and decode_l2_pid(first[0])["pixel"] == 7
    assert float(first[1]) == pytest.approx(38.6, abs=1e-6) and float(first[2]) == pytest.approx(13.0, abs=1e-6)
    e, nn = Transformer.from_crs(4326, 3035, always_xy=True).transform(13.0, 38.6)
    assert float(first[3]) == pytest.approx(e, abs=0.01) and float(first[4]) == pytest.approx(nn, abs=0.01)


def test_bad_input(tmp_path):
    table = PointTable({"pid": np.array(["a"], dtype=object), "v": np.ones(1)}, [4e6], [3e6])
    with pytest.raises(InputError, match="has no date fields"):
        egms_export.export_egms(table, tmp_path / "x.zip")
    empty = PointTable({"20200101": np.zeros(0)}, np.zeros(0), np.zeros(0))
    with pytest.raises(InputError, match="has no points to export"):
        egms_export.export_egms(empty, tmp_path / "y.zip")
    frac = PointTable({"line": np.array([1.5]), "20200101": np.ones(1)}, [4e6], [3e6])
    with pytest.raises(InputError, match="'line' must hold integers"):
        egms_export.export_egms(frac, tmp_path / "z.zip")
    assert os.listdir(tmp_path) == []
