"""EGMS import: the real file, synthetic files of every level/release, merges, and every kind of bad input."""

import csv
import io
import os
import zipfile

import numpy as np
import pytest

from egms_plugin.core.egms import importer as egms_import
from egms_plugin.core.errors import Cancelled, InputError
from egms_plugin.core.io.points import read_points
from egms_plugin.core.progress import Progress
from egms_plugin.testing.synthetic_egms import write_synthetic_egms


def _ogr_types(path):
    from osgeo import ogr

    ds = ogr.Open(str(path))
    defn = ds.GetLayer(0).GetLayerDefn()
    return {defn.GetFieldDefn(i).GetName(): defn.GetFieldDefn(i).GetTypeName() for i in range(defn.GetFieldCount())}


def _csv_rows(path):
    if str(path).endswith(".zip"):
        with zipfile.ZipFile(path) as zf:
            name = next(n for n in zf.namelist() if n.endswith(".csv"))
            text = zf.read(name).decode()
    else:
        text = open(path).read()
    rows = list(csv.reader(io.StringIO(text)))
    return rows[0], rows[1:]


def _left_over(folder):
    return [f for f in os.listdir(folder) if f.endswith(".gpkg") or ".tmp" in f]


@pytest.fixture(scope="module")
def real_import(egms_sample, tmp_path_factory):
    out = tmp_path_factory.mktemp("real") / "real.gpkg"
    result = egms_import.import_egms(egms_sample, out)
    return result, read_points(out), out


def test_real_file_every_point_value_and_type(real_import, egms_sample):
    result, table, out = real_import
    header, rows = _csv_rows(egms_sample)
    assert result.n_points == len(table) == len(rows) == 11590 and result.n_duplicates == 0
    assert list(table.columns) == header  # every column, file order
    types = _ogr_types(out)
    assert types["pid"] == "String"
    assert {types[c] for c in ("mp_type", "line", "pixel")} == {"Integer"}
    assert {t for c, t in types.items() if c not in ("pid", "mp_type", "line", "pixel")} == {"Real"}
    for j, name in enumerate(header):  # parsed exactly like Python's float()
        col = table.columns[name]
        if name == "pid":
            assert list(col) == [r[j] for r in rows]
        else:
            np.testing.assert_array_equal(np.asarray(col, dtype=np.float64), [float(r[j]) for r in rows], err_msg=name)
    assert table.date_fields()[0][0] == "20200103" and len(table.date_fields()) == 210


def test_real_file_coordinates(real_import):
    from pyproj import Transformer

    _result, table, _out = real_import
    assert table.crs == "EPSG:3035"
    np.testing.assert_array_equal(table.x, table.columns["easting"])
    np.testing.assert_array_equal(table.y, table.columns["northing"])
    e, n = Transformer.from_crs(4326, 3035, always_xy=True).transform(table.columns["longitude"], table.columns["latitude"])
    # lat/lon carry 6 decimals (≤ 0.06 m) and easting/northing 2 (≤ 0.005 m): agreement to 0.1 m
    assert np.max(np.hypot(e - table.x, n - table.y)) < 0.1


def test_real_file_metadata(real_import, egms_sample):
    result, table, _out = real_import
    meta = table.metadata
    assert meta["EGMS_PRODUCT_LEVEL"] == "L2b" and meta["EGMS_TRACK"] == "022" and meta["EGMS_BURST"] == "0845"
    assert meta["EGMS_SWATH"] == "2" and meta["EGMS_RELEASE"] == "2020_2024" and meta["EGMS_VERSION"] == "1"
    assert meta["EGMS_ORBIT_DIRECTION"] == "descending"  # los_east > 0 in this file
    with zipfile.ZipFile(egms_sample) as zf:
        assert meta["EGMS_XML_HEADER"] == zf.read("EGMS_L2b_022_0845_IW2_VV_2020_2024_1.xml").decode()
    assert meta["EGMS_SOURCE_FILES"] == os.path.basename(egms_sample)
    assert result.info.describe().startswith("L2b (Calibrated), track 022, burst 0845, IW2, descending")


def test_l2a_old_names_with_cluster_label(tmp_path):
    syn = write_synthetic_egms(tmp_path, level="L2a", naming="specification", release="", n_points=700,
                               n_dates=40, orbit="ascending", block_rows=300, seed=3)
    assert os.path.basename(syn.path) == "EGMS_L2a_022_0845_IW2_VV.zip"  # oldest naming
    result = egms_import.import_egms(syn.path, tmp_path / "l2a.gpkg")
    table = read_points(tmp_path / "l2a.gpkg")
    header, rows = _csv_rows(syn.path)
    assert list(table.columns) == header and header[1] == "cluster_label" and "height" in header and "rmse" in header
    types = _ogr_types(tmp_path / "l2a.gpkg")
    assert types["cluster_label"] == "Integer" and types["height"] == "Real" and types["rmse"] == "Real"
    np.testing.assert_array_equal(table.columns["cluster_label"], [int(r[1]) for r in rows])
    assert result.info.level == "L2a" and result.info.orbit == "ascending" and result.info.release is None


def test_l3_tile(tmp_path):
    syn = write_synthetic_egms(tmp_path, level="L3", n_points=500, n_dates=30)
    result = egms_import.import_egms(syn.path, tmp_path / "l3.gpkg")
    table = read_points(tmp_path / "l3.gpkg")
    assert result.info.level == "L3" and result.info.tile == "E45N17" and table.metadata["EGMS_TILE"] == "E45N17"
    assert "latitude" not in table.columns and "los_east" not in table.columns
    np.testing.assert_array_equal(table.x, table.columns["easting"])
    assert np.all(table.x % 100 == 50) and result.info.orbit is None
    steps = np.diff([d.toordinal() for _n, d in table.date_fields()])
    assert np.all(steps == 6)


def test_nan_cells_and_unknown_columns(tmp_path):
    syn = write_synthetic_egms(tmp_path, n_points=400, n_dates=30, nan_fraction=0.05, zipped=False,
                               extra_columns=[("quality", "real"), ("remark", "text")])
    egms_import.import_egms(syn.path, tmp_path / "nan.gpkg")
    table = read_points(tmp_path / "nan.gpkg")
    header, rows = _csv_rows(syn.path)
    types = _ogr_types(tmp_path / "nan.gpkg")
    assert types["quality"] == "Real" and types["remark"] == "String"
    assert list(table.columns["remark"]) == [r[header.index("remark")] for r in rows]
    y, _dates = table.displacement()
    empty = np.array([[r[j] == "" for j in range(len(header)) if header[j].isdigit()] for r in rows])
    assert empty.sum() > 0 and np.array_equal(np.isnan(y), empty)  # empty cell ⇔ NULL
    assert np.isnan(table.columns["height_ortho"]).sum() == sum(r[header.index("height_ortho")] == "" for r in rows)


def test_numbers_python_must_parse(tmp_path):
    text = ("pid,easting,northing,odd,20200101,20200107\n"
            "a,4321000.5,3210000.25,1e-3,0.12345678901234567,nan\n"
            "b,4321001,3210001, 7 ,-1.5E2,\n")
    (tmp_path / "odd.csv").write_text(text)
    egms_import.import_egms(tmp_path / "odd.csv", tmp_path / "odd.gpkg")
    t = read_points(tmp_path / "odd.gpkg")
    assert list(t.columns["odd"]) == [1e-3, 7.0]
    assert t.columns["20200101"][0] == 0.12345678901234567 and t.columns["20200101"][1] == -150.0
    assert np.isnan(t.columns["20200107"]).all()


def _split_csv(syn_path, folder, ranges, names):
    header, rows = _csv_rows(syn_path)
    paths = []
    for (a, b), name in zip(ranges, names):
        path = os.path.join(folder, name)
        with open(path, "w") as fh:
            fh.write(",".join(header) + "\n" + "".join(",".join(r) + "\n" for r in rows[a:b]))
        paths.append(path)
    return header, rows, paths


def test_merge_removes_duplicates_of_overlapping_bursts(tmp_path):
    syn = write_synthetic_egms(tmp_path / "src", n_points=900, n_dates=25, zipped=False, seed=5)
    header, rows, paths = _split_csv(syn.path, tmp_path, [(0, 600), (400, 900)],
                                     ["EGMS_L2b_022_0845_IW2_VV_2020_2024_1.csv", "EGMS_L2b_022_0846_IW2_VV_2020_2024_1.csv"])
    result = egms_import.import_egms(paths, tmp_path / "merged.gpkg")
    assert result.n_points == 900 and result.n_duplicates == 200
    table = read_points(tmp_path / "merged.gpkg")
    assert len(table) == 900 and len(set(table.columns["pid"])) == 900
    assert table.metadata["EGMS_BURST"] == "0845,0846" and table.metadata["EGMS_DUPLICATES_REMOVED"] == "200"
    # the count survives GDAL reading (feature count table updated)
    from osgeo import ogr

    assert ogr.Open(str(tmp_path / "merged.gpkg")).GetLayer(0).GetFeatureCount() == 900


def test_merge_across_release_namings(tmp_path):
    syn = write_synthetic_egms(tmp_path / "src", n_points=300, n_dates=20, zipped=False, seed=6)
    header, rows, paths = _split_csv(syn.path, tmp_path, [(0, 150), (150, 300)], ["new.csv", "old.csv"])
    old = [{"height_ortho": "height", "height_ellipse": "height_wgs84", "rmse_ts": "rmse"}.get(h, h) for h in header]
    old = [h for h in old if h != "gnss_velocity"]
    keep = [j for j, h in enumerate(header) if h != "gnss_velocity"]
    with open(paths[1], "w") as fh:  # the second burst in the specification's naming, one date less
        fh.write(",".join(old[:-1]) + "\n" + "".join(",".join(r[j] for j in keep[:-1]) + "\n" for r in rows[150:]))
    egms_import.import_egms(paths, tmp_path / "mixed.gpkg")
    table = read_points(tmp_path / "mixed.gpkg")
    assert list(table.columns) == header  # the first file's naming
    np.testing.assert_array_equal(table.columns["rmse_ts"], [float(r[header.index("rmse_ts")]) for r in rows])
    assert np.isnan(table.columns["gnss_velocity"][150:]).all() and np.isnan(table.columns[header[-1]][150:]).all()


@pytest.mark.parametrize("case, message", [
    ("missing", "does not exist"),
    ("empty", "the file is empty"),
    ("truncated", "damaged or truncated"),
    ("corrupt", "damaged or truncated"),
    ("no_csv", "holds no .csv file"),
    ("no_coordinates", "no easting and northing column"),
    ("not_egms", "not an EGMS product"),
    ("header_only", "has a header but no measurement points"),
    ("short_row", "line 3 has 26 values for 27 columns"),
    ("not_a_number", "line 2: 20200209 = 'abc' is not a number"),
    ("no_dates", "no displacement columns"),
])
def test_bad_input_is_named_and_leaves_nothing(tmp_path, egms_sample, case, message):
    src = tmp_path / "in"
    src.mkdir()
    path = src / "EGMS_L2b_001_0001_IW1_VV_2020_2024_1.csv"
    good = "pid,mp_type,easting,northing,height_ortho,line,pixel,rmse_ts,mean_velocity," + \
        ",".join(f"2020{m:02d}09" for m in range(1, 13)) + "," + ",".join(f"2021{m:02d}09" for m in range(1, 7)) + "\n"
    row = "0aaaaaaaaa,0,4321000.0,3210000.0,12.5,1,2,1.2,-0.4," + ",".join(["1.0"] * 18) + "\n"
    if case == "missing":
        path = src / "nowhere.zip"
    elif case == "empty":
        path.write_bytes(b"")
    elif case == "truncated":
        data = open(egms_sample, "rb").read()
        path = src / "EGMS_L2b_022_0845_IW2_VV_2020_2024_1.zip"
        path.write_bytes(data[: len(data) // 2])
    elif case == "corrupt":  # central directory intact, compressed data damaged mid-way
        data = bytearray(open(egms_sample, "rb").read())
        data[len(data) // 2: len(data) // 2 + 64] = bytes(64)
        path = src / "EGMS_L2b_022_0845_IW2_VV_2020_2024_1.zip"
        path.write_bytes(bytes(data))
    elif case == "no_csv":
        path = src / "EGMS_L2b_001_0001_IW1_VV_2020_2024_1.zip"
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("EGMS_L2b_001_0001_IW1_VV_2020_2024_1.xml", "<BURST/>")
    elif case == "no_coordinates":
        path.write_text(good.replace("easting,northing,", "") + row.replace("4321000.0,3210000.0,", ""))
    elif case == "not_egms":
        path.write_text("name,value\nx,1\n")
    elif case == "header_only":
        path.write_text(good)
    elif case == "short_row":
        path.write_text(good + row + row.replace(",1.0\n", "\n"))
    elif case == "not_a_number":
        path.write_text(good + row.replace("-0.4,1.0,1.0", "-0.4,1.0,abc"))
    elif case == "no_dates":
        path.write_text("pid,easting,northing\na,1,2\n")
    out = tmp_path / "out" / "result.gpkg"
    with pytest.raises(InputError, match=message) as err:
        egms_import.import_egms([path], out)
    assert os.path.basename(str(path)) in str(err.value)  # the message names the file
    assert not out.exists()
    assert not (tmp_path / "out").exists() or _left_over(tmp_path / "out") == []


def test_cancel_leaves_nothing(tmp_path):
    syn = write_synthetic_egms(tmp_path, n_points=3000, n_dates=30, zipped=False)

    class StopAfterFirstBlock(Progress):
        calls = 0

        def is_cancelled(self):
            self.calls += 1
            return self.calls > 1

    out = tmp_path / "out" / "cancelled.gpkg"
    with pytest.raises(Cancelled):
        egms_import.import_egms(syn.path, out, chunk_bytes=64 << 10, progress=StopAfterFirstBlock())
    assert not out.exists() and _left_over(tmp_path / "out") == []


def test_synthetic_statistics_follow_the_recipe(tmp_path):
    """The synthetic writer's statistics columns are the recipe applied to the written (rounded) series."""
    from egms_plugin.core.egms.stats import egms_statistics

    syn = write_synthetic_egms(tmp_path, n_points=300, n_dates=120, zipped=False, seed=9)
    egms_import.import_egms(syn.path, tmp_path / "s.gpkg")
    t = read_points(tmp_path / "s.gpkg")
    y, dates = t.displacement()
    s = egms_statistics(y, dates)
    for name, col, tol in (("mean_velocity", "mean_velocity", 0.05), ("rmse", "rmse_ts", 0.05),
                           ("acceleration", "acceleration", 0.005), ("seasonality", "seasonality", 0.05)):
        assert np.max(np.abs(s[name] - t.columns[col])) <= tol + 1e-9, name  # half a unit of the written decimals
    # and the series follow the truth: velocity within noise (1.5 mm over ~2 years ⇒ σ_v ≈ 0.5 mm/yr)
    assert np.sqrt(np.mean((t.columns["mean_velocity"] - syn.truth["velocity"]) ** 2)) < 1.5
