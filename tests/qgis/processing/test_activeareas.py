"""egms:activeareas: planted areas found with exact counts (EPSG:3035 and degrees), fields and style, the real
EGMS sample, qgis_process, bad input."""

import datetime as dt
import importlib.util
import os

import numpy as np
import pytest
from osgeo import ogr
from qgis.core import QgsFeature, QgsGeometry, QgsPointXY, QgsProcessingException, QgsProject, QgsVectorLayer

from egms_plugin.core.egms import importer as egms_import
from egms_plugin.core.io import points as mpio

_spec = importlib.util.spec_from_file_location(
    "ada_planted", os.path.join(os.path.dirname(__file__), "..", "..", "core", "analysis", "test_ada.py"))
planted = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(planted)

X0, Y0 = 4.30e6, 3.20e6  # near the EPSG:3035 centre (10° E, 52° N)
DATES = [dt.date(2020, 1, 3) + dt.timedelta(days=12 * k) for k in range(40)]


@pytest.fixture(scope="module")
def planted_gpkg(tmp_path_factory):
    x, y, v, truth = planted.planted_layer()
    years = np.array([(d - DATES[0]).days for d in DATES]) / 365.25
    series = np.round(v[:, None] * years + np.random.default_rng(4).normal(0, 1.0, (v.size, years.size)), 1)
    cols = {"pid": np.array([f"p{i}" for i in range(v.size)], dtype=object), "mean_velocity": v,
            "acceleration": np.where(truth == 0, -2.0, 0.0)}
    cols.update({f"{d:%Y%m%d}": series[:, k] for k, d in enumerate(DATES)})
    path = tmp_path_factory.mktemp("ada") / "planted.gpkg"
    mpio.write_points(path, mpio.PointTable(cols, x + X0, y + Y0, "EPSG:3035"))
    return str(path), truth, series


def _features(path):
    ds = ogr.Open(str(path))
    lyr = ds.GetLayer(0)
    names = [lyr.GetLayerDefn().GetFieldDefn(i).GetName() for i in range(lyr.GetLayerDefn().GetFieldCount())]
    rows = [{n: f.GetField(n) for n in names} | {"area": f.GetGeometryRef().GetArea()} for f in lyr]
    return names, rows, lyr.GetSpatialRef().GetAuthorityCode(None)


def test_planted_areas_fields_and_style(run_alg, planted_gpkg, tmp_path):
    path, truth, series = planted_gpkg
    out = tmp_path / "ada.gpkg"
    res = run_alg("egms:activeareas", {"INPUT": path, "OUTPUT": str(out)})
    assert res["N_AREAS"] == 3 and 1.9 < res["THRESHOLD_USED"] < 2.2
    names, rows, epsg = _features(out)
    assert names[:7] == ["id", "n_points", "mean_velocity", "max_abs_velocity", "mean_acceleration", "area_m2",
                         "quality"]
    assert names[7:] == [f"{d:%Y%m%d}" for d in DATES] and epsg == "3035"
    assert [r["n_points"] for r in rows] == [int((truth == k).sum()) for k in range(3)]
    assert [r["id"] for r in rows] == [1, 2, 3]
    assert [round(r["mean_velocity"]) for r in rows] == [-20, 8, -6]
    assert rows[0]["mean_acceleration"] == pytest.approx(-2.0) and rows[1]["mean_acceleration"] == 0.0
    for k, row in enumerate(rows):
        assert row["area_m2"] == pytest.approx(row["area"], rel=1e-9)
        assert row[f"{DATES[-1]:%Y%m%d}"] == pytest.approx(series[truth == k, -1].mean(), abs=1e-9)
        assert 0 < row["quality"] < 1
    layer = QgsVectorLayer(str(out), "ada", "ogr")
    assert layer.isValid() and layer.featureCount() == 3
    renderer = layer.renderer()
    assert renderer.type() == "graduatedSymbol" and renderer.classAttribute() == "mean_velocity"
    assert renderer.ranges()[0].symbol().type() == layer.renderer().ranges()[-1].symbol().type()
    assert renderer.ranges()[0].symbol().__class__.__name__ == "QgsFillSymbol"


def test_degrees_are_measured_in_metres(run_alg, planted_gpkg, tmp_path):
    """The same points in EPSG:4326: projected to their UTM zone (32), same areas and counts."""
    path, truth, _series = planted_gpkg
    table = mpio.read_points(path)
    from pyproj import Transformer

    lon, lat = Transformer.from_crs("EPSG:3035", "EPSG:4326", always_xy=True).transform(table.x, table.y)
    geo = mpio.write_points(tmp_path / "geo.gpkg", mpio.PointTable(table.columns, lon, lat, "EPSG:4326"))
    out = tmp_path / "ada_geo.gpkg"
    res = run_alg("egms:activeareas", {"INPUT": str(geo), "OUTPUT": str(out)})
    _names, rows, epsg = _features(out)
    assert res["N_AREAS"] == 3 and epsg == "32632"
    assert [r["n_points"] for r in rows] == [int((truth == k).sum()) for k in range(3)]


def test_real_egms_sample_opens_styled(run_alg, egms_sample, tmp_path):
    gpkg = tmp_path / "real.gpkg"
    egms_import.import_egms(egms_sample, gpkg)
    out = tmp_path / "real_ada.gpkg"
    res = run_alg("egms:activeareas", {"INPUT": str(gpkg), "OUTPUT": str(out)})
    layer = QgsVectorLayer(str(out), "ada", "ogr")
    assert layer.isValid() and layer.featureCount() == res["N_AREAS"] > 0
    assert layer.renderer().type() == "graduatedSymbol" and layer.renderer().classAttribute() == "mean_velocity"
    n = [f["n_points"] for f in layer.getFeatures()]
    assert min(n) >= 5 and n == sorted(n, reverse=True)
    assert layer.fields().indexOf("20241225") >= 0 and layer.fields().indexOf("quality") >= 0


def test_qgis_process(run_qgis_process, planted_gpkg, tmp_path):
    path, truth, _series = planted_gpkg
    out = tmp_path / "cli.gpkg"
    run = run_qgis_process("run", "egms:activeareas", "--", f"INPUT={path}", f"OUTPUT={out}", "MIN_POINTS=30",
                           "DISTANCE=30", "BUFFER=5")
    assert run.returncode == 0, run.stderr + run.stdout
    _names, rows, _epsg = _features(out)
    assert [r["n_points"] for r in rows] == [int((truth == k).sum()) for k in range(2)]  # the 21-point one dropped


def _memory_layer(definition, name, values):
    layer = QgsVectorLayer(definition, name, "memory")
    features = []
    for k, value in enumerate(values):
        f = QgsFeature(layer.fields())
        f.setAttributes([value])
        f.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(4e6 + 20 * k, 3e6)))
        features.append(f)
    layer.dataProvider().addFeatures(features)
    QgsProject.instance().addMapLayer(layer)
    return layer


@pytest.mark.parametrize("case, message", [
    ("no_velocity", "novel: no velocity field 'mean_velocity'"),
    ("empty", "nothing: the layer is empty"),
    ("all_null", "nulls: field mean_velocity: no point has a velocity"),
])
def test_bad_input(run_alg, tmp_path, case, message):
    if case == "no_velocity":
        layer = _memory_layer("Point?crs=EPSG:3035&field=height:double", "novel", [1.0, 2.0])
    elif case == "empty":
        layer = _memory_layer("Point?crs=EPSG:3035&field=mean_velocity:double", "nothing", [])
    else:
        layer = _memory_layer("Point?crs=EPSG:3035&field=mean_velocity:double", "nulls", [None] * 10)
    out = tmp_path / "out" / "ada.gpkg"
    try:
        with pytest.raises(QgsProcessingException, match=message):
            run_alg("egms:activeareas", {"INPUT": layer, "OUTPUT": str(out)})
    finally:
        QgsProject.instance().removeMapLayer(layer.id())
    assert not out.exists() and (not (tmp_path / "out").exists() or os.listdir(tmp_path / "out") == [])
