"""egms:exportegms: the real product written back, export → import round trip, bad input, qgis_process."""

import os
import zipfile

import numpy as np
import pytest
from qgis.core import QgsProcessingException, QgsProject, QgsVectorLayer

from egms_plugin.core.egms import importer as egms_import
from egms_plugin.core.io import points as mpio


@pytest.fixture(scope="module")
def real_gpkg(egms_sample, tmp_path_factory):
    path = tmp_path_factory.mktemp("export") / "real.gpkg"
    egms_import.import_egms(egms_sample, path)
    return path


def test_round_trip_through_processing_is_lossless(run_alg, real_gpkg, egms_sample, tmp_path):
    out = tmp_path / "EGMS_L2b_022_0845_IW2_VV_2020_2024_1.zip"
    res = run_alg("egms:exportegms", {"INPUT": str(real_gpkg), "OUTPUT": str(out)})
    assert res["N_POINTS"] == 11590 and res["OUTPUT"] == str(out)
    with zipfile.ZipFile(out) as zf, zipfile.ZipFile(egms_sample) as orig:
        assert sorted(zf.namelist()) == sorted(orig.namelist())  # CSV and XML named like the zip
        assert zf.read(out.stem + ".xml") == orig.read(out.stem + ".xml")
    back = tmp_path / "back.gpkg"
    run_alg("egms:importegms", {"INPUT": [str(out)], "OUTPUT": str(back)})
    first, second = mpio.read_points(real_gpkg), mpio.read_points(back)
    assert list(second.columns) == list(first.columns)
    for name, values in first.columns.items():  # the file is already at the spec's decimals: identical
        if values.dtype == object:
            assert list(second.columns[name]) == list(values)
        else:
            np.testing.assert_array_equal(second.columns[name], values, err_msg=name)
    np.testing.assert_array_equal(second.x, first.x)
    assert {k: v for k, v in second.metadata.items() if k.startswith("EGMS_") and k != "EGMS_SOURCE_FILES"} == \
        {k: v for k, v in first.metadata.items() if k.startswith("EGMS_") and k != "EGMS_SOURCE_FILES"}


def test_specification_naming_and_selection(run_alg, real_gpkg, tmp_path):
    from qgis.core import QgsProcessingContext, QgsProcessingFeatureSourceDefinition

    layer = QgsVectorLayer(str(real_gpkg), "real", "ogr")
    QgsProject.instance().addMapLayer(layer)
    try:
        layer.selectByIds([1, 2, 3])
        import processing

        context = QgsProcessingContext()
        context.setProject(QgsProject.instance())
        out = tmp_path / "sel.zip"
        processing.run("egms:exportegms", {"INPUT": QgsProcessingFeatureSourceDefinition(layer.id(), True),
                                           "NAMING": 1, "OUTPUT": str(out)}, context=context)
    finally:
        QgsProject.instance().removeMapLayer(layer.id())
    with zipfile.ZipFile(out) as zf:
        lines = zf.read("sel.csv").decode().splitlines()
    header = lines[0].split(",")
    assert len(lines) == 4 and header[6:8] == ["height", "height_wgs84"] and header[10] == "rmse"
    assert lines[1].startswith("166ax5Ofja,0,38.690708,13.171103,4598603.43,1739722.18,-46.6,-3.0,1217,4670,2.4,")


@pytest.mark.parametrize("case, message", [
    ("no_dates", "nodates: no date fields"),
    ("not_zip", "the EGMS product is a .zip file"),
    ("empty", "nothing: the layer is empty"),
    ("lines", "roads: not a point layer"),
])
def test_bad_input_leaves_nothing(run_alg, tmp_path, case, message):
    from qgis.core import QgsFeature, QgsGeometry, QgsPointXY

    if case == "empty":
        layer = QgsVectorLayer("Point?crs=EPSG:3035&field=20200101:double", "nothing", "memory")
    elif case == "lines":
        layer = QgsVectorLayer("LineString?crs=EPSG:3035&field=20200101:double", "roads", "memory")
    else:
        layer = QgsVectorLayer("Point?crs=EPSG:3035&field=pid:string&field=mean_velocity:double", "nodates", "memory")
        f = QgsFeature(layer.fields())
        f.setAttributes(["a", 1.0])
        f.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(4e6, 3e6)))
        layer.dataProvider().addFeatures([f])
    out = tmp_path / "out" / ("x.csv" if case == "not_zip" else "x.zip")
    out.parent.mkdir()
    with pytest.raises(QgsProcessingException, match=message):
        run_alg("egms:exportegms", {"INPUT": layer, "OUTPUT": str(out)})
    assert os.listdir(tmp_path / "out") == []


def test_qgis_process_exports(run_qgis_process, real_gpkg, tmp_path):
    out = tmp_path / "qp.zip"
    run = run_qgis_process("run", "egms:exportegms", "--", f"INPUT={real_gpkg}", f"OUTPUT={out}", "LEVEL=2")
    assert run.returncode == 0, run.stdout + run.stderr
    with zipfile.ZipFile(out) as zf:
        assert sorted(zf.namelist()) == ["qp.csv", "qp.xml"]
        assert zf.read("qp.csv").count(b"\n") == 11591
