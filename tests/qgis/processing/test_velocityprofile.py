"""egms:velocityprofile: the bent line's hand-computed projections written exactly (EPSG:3035 and degrees), the
selected line, the std field, qgis_process, bad input."""

import importlib.util
import os

import numpy as np
import pytest
from osgeo import ogr
from qgis.core import (
    QgsFeature,
    QgsGeometry,
    QgsPointXY,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeatureSourceDefinition,
    QgsProcessingFeedback,
    QgsProject,
    QgsVectorLayer,
)

from egms_plugin.core.io import points as mpio

_spec = importlib.util.spec_from_file_location(
    "profile_cases", os.path.join(os.path.dirname(__file__), "..", "..", "core", "analysis", "test_profile.py"))
cases = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cases)


@pytest.fixture(scope="module")
def points_gpkg(tmp_path_factory):
    x, y, v, s = cases._layer()
    cols = {"pid": np.array([f"p{i}" for i in range(x.size)], dtype=object), "mean_velocity": v,
            "mean_velocity_std": s, "height": np.zeros(x.size)}
    path = tmp_path_factory.mktemp("profile") / "points.gpkg"
    mpio.write_points(path, mpio.PointTable(cols, x, y, "EPSG:3035"))
    return str(path), v, s


def _line_layer(lines, crs="EPSG:3035", name="line"):
    layer = QgsVectorLayer(f"LineString?crs={crs}&field=name:string", name, "memory")
    features = []
    for k, (xs, ys) in enumerate(lines):
        f = QgsFeature(layer.fields())
        f.setAttributes([f"l{k}"])
        f.setGeometry(QgsGeometry.fromPolylineXY([QgsPointXY(a, b) for a, b in zip(xs, ys)]))
        features.append(f)
    layer.dataProvider().addFeatures(features)
    QgsProject.instance().addMapLayer(layer)
    return layer


def _rows(path):
    ds = ogr.Open(str(path))
    lyr = ds.GetLayer(0)
    defn = lyr.GetLayerDefn()
    names = [defn.GetFieldDefn(i).GetName() for i in range(defn.GetFieldCount())]
    rows = [{n: f.GetField(n) for n in names} | {"xy": f.GetGeometryRef().GetPoint_2D()} for f in lyr]
    return names, rows, lyr.GetSpatialRef().GetAuthorityCode(None)


def _expected():
    inside = [k for k, q in enumerate(cases.POINTS) if q[2] is not None]
    return sorted(inside, key=lambda k: (cases.POINTS[k][2], k))


def test_bent_line_written_exactly_and_styled(run_alg, points_gpkg, tmp_path):
    path, v, s = points_gpkg
    line = _line_layer([(cases.LINE_X, cases.LINE_Y)])
    out = tmp_path / "profile.gpkg"
    try:
        res = run_alg("egms:velocityprofile", {"INPUT": path, "LINE": line, "BUFFER": cases.BUFFER,
                                               "OUTPUT": str(out)})
    finally:
        QgsProject.instance().removeMapLayer(line.id())
    want = _expected()
    assert res["N_POINTS"] == len(want) == 10 and res["LENGTH"] == pytest.approx(260.0, abs=1e-9)
    names, rows, epsg = _rows(out)
    assert names == ["pid", "distance", "offset", "velocity", "std", "segment"] and epsg == "3035"
    assert [r["pid"] for r in rows] == [f"p{k}" for k in want]
    assert max(abs(r["distance"] - cases.POINTS[k][2]) for r, k in zip(rows, want)) < 1e-9
    assert max(abs(r["offset"] - cases.POINTS[k][3]) for r, k in zip(rows, want)) < 1e-9
    assert [r["velocity"] for r in rows] == v[want].tolist() and [r["std"] for r in rows] == s[want].tolist()
    assert rows[[r["pid"] for r in rows].index("p4")]["segment"] == 2
    assert rows[0]["xy"] == (cases.X0 + cases.POINTS[want[0]][0], cases.Y0 + cases.POINTS[want[0]][1])
    layer = QgsVectorLayer(str(out), "profile", "ogr")
    assert layer.isValid() and layer.renderer().type() == "graduatedSymbol"
    assert layer.renderer().classAttribute() == "velocity"


def test_degrees_and_the_selected_line(plugin, points_gpkg, tmp_path):
    """Points in EPSG:4326 are measured in UTM 32; the second (selected) line of a layer in EPSG:3035 is used."""
    import processing
    from pyproj import Transformer

    path, _v, _s = points_gpkg
    table = mpio.read_points(path)
    lon, lat = Transformer.from_crs("EPSG:3035", "EPSG:4326", always_xy=True).transform(table.x, table.y)
    geo = mpio.write_points(tmp_path / "geo.gpkg", mpio.PointTable(table.columns, lon, lat, "EPSG:4326"))
    far = (cases.LINE_X + 5e4, cases.LINE_Y)
    line = _line_layer([far, (cases.LINE_X, cases.LINE_Y)])
    line.selectByIds([2])  # memory-layer feature ids start at 1
    out = tmp_path / "geo_profile.gpkg"
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())  # a selection is found through the project
    try:
        res = processing.run("egms:velocityprofile", {
            "INPUT": str(geo), "LINE": QgsProcessingFeatureSourceDefinition(line.id(), selectedFeaturesOnly=True),
            "BUFFER": 19.0, "OUTPUT": str(out)}, context=context, feedback=QgsProcessingFeedback())
    finally:
        QgsProject.instance().removeMapLayer(line.id())
    _names, rows, epsg = _rows(out)
    assert epsg == "4326"
    # 3035 → UTM 32 keeps lengths within the two projections' scale factors (≈ 1e-3 here): the same 8 points
    # (the two at exactly 20 m are left out with a 19 m buffer), distances close to the hand-computed ones
    want = [k for k in _expected() if abs(cases.POINTS[k][3]) < 19.0]
    got = {r["pid"]: r for r in rows}
    assert sorted(got) == sorted(f"p{k}" for k in want) and res["N_POINTS"] == 8  # (ties at 150 m may swap)
    assert max(abs(got[f"p{k}"]["distance"] - cases.POINTS[k][2]) for k in want) < 0.5
    assert max(abs(got[f"p{k}"]["offset"] - cases.POINTS[k][3]) for k in want) < 0.05
    assert res["LENGTH"] == pytest.approx(260.0, rel=2e-3)


def test_qgis_process(run_qgis_process, points_gpkg, tmp_path):
    path, _v, _s = points_gpkg
    line = tmp_path / "line.gpkg"
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(line))
    from osgeo import osr

    srs = osr.SpatialReference()
    srs.ImportFromEPSG(3035)
    lyr = ds.CreateLayer("line", srs, ogr.wkbLineString)
    f = ogr.Feature(lyr.GetLayerDefn())
    wkt = "LINESTRING (" + ", ".join(f"{float(a)!r} {float(b)!r}" for a, b in zip(cases.LINE_X, cases.LINE_Y)) + ")"
    f.SetGeometry(ogr.CreateGeometryFromWkt(wkt))
    lyr.CreateFeature(f)
    ds = None
    out = tmp_path / "cli.gpkg"
    run = run_qgis_process("run", "egms:velocityprofile", "--", f"INPUT={path}", f"LINE={line}", "BUFFER=20",
                           f"OUTPUT={out}")
    assert run.returncode == 0, run.stderr + run.stdout
    _names, rows, _epsg = _rows(out)
    want = _expected()
    assert [r["pid"] for r in rows] == [f"p{k}" for k in want]
    assert max(abs(r["distance"] - cases.POINTS[k][2]) for r, k in zip(rows, want)) < 1e-9


@pytest.mark.parametrize("case, message", [
    ("no_velocity", "novel: no velocity field 'mean_velocity'"),
    ("outside", "the line lies outside the points of points"),
    ("empty", "no point within 20 m of the line"),
])
def test_bad_input(run_alg, points_gpkg, tmp_path, case, message):
    path, _v, _s = points_gpkg
    layer = None
    if case == "no_velocity":
        layer = QgsVectorLayer("Point?crs=EPSG:3035&field=height:double", "novel", "memory")
        f = QgsFeature(layer.fields())
        f.setAttributes([1.0])
        f.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(cases.X0, cases.Y0)))
        layer.dataProvider().addFeatures([f])
        QgsProject.instance().addMapLayer(layer)
        line = _line_layer([(cases.LINE_X, cases.LINE_Y)])
    elif case == "outside":
        line = _line_layer([(cases.LINE_X + 1e4, cases.LINE_Y)])
    else:  # inside the layer's extent, between the points
        line = _line_layer([(cases.X0 + np.array([20.0, 20.0]), cases.Y0 + np.array([50.0, 95.0]))])
    out = tmp_path / "out" / "profile.gpkg"
    try:
        with pytest.raises(QgsProcessingException, match=message):
            run_alg("egms:velocityprofile", {"INPUT": layer if layer is not None else path, "LINE": line,
                                             "BUFFER": 20.0, "OUTPUT": str(out)})
    finally:
        for lyr in (layer, line):
            if lyr is not None:
                QgsProject.instance().removeMapLayer(lyr.id())
    assert not out.exists() and (not (tmp_path / "out").exists() or os.listdir(tmp_path / "out") == [])
