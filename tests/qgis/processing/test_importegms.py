"""egms:importegms through Processing and qgis_process."""

import os
import zipfile

import numpy as np
import pytest
from qgis.core import QgsFeatureRequest, QgsFeatureSource, QgsProcessingException, QgsVectorLayer

from egms_plugin.compat import field_type
from egms_plugin.testing.synthetic_egms import write_synthetic_egms


def _outputs(folder):
    return [f for f in os.listdir(folder) if f.endswith(".gpkg") or ".tmp" in f] if os.path.isdir(folder) else []


def test_real_file_loads_typed_indexed_styled_and_described(run_alg, egms_sample, tmp_path):
    out = tmp_path / "real.gpkg"
    res = run_alg("egms:importegms", {"INPUT": [egms_sample], "OUTPUT": str(out)})
    assert (res["N_POINTS"], res["N_DUPLICATES"], res["LEVEL"], res["ORBIT"]) == (11590, 0, "L2b", "descending")
    layer = QgsVectorLayer(str(out), "real", "ogr")
    assert layer.isValid() and layer.featureCount() == 11590 and layer.crs().authid() == "EPSG:3035"
    fields = layer.fields()
    assert fields.field("pid").type() == field_type("string")
    assert {fields.field(n).type() for n in ("mp_type", "line", "pixel")} == {field_type("int")}
    assert {fields.field(n).type() for n in ("los_east", "rmse_ts", "20200103", "20241225")} == {field_type("double")}
    assert layer.hasSpatialIndex() == QgsFeatureSource.SpatialIndexPresent
    feature = next(layer.getFeatures(QgsFeatureRequest().setFilterExpression("\"pid\" = '166ax5Ofja'")))
    point = feature.geometry().asPoint()
    assert (point.x(), point.y()) == (feature["easting"], feature["northing"]) == (4598603.43, 1739722.18)
    assert feature["20200109"] == -1.7 and feature["line"] == 1217
    # the QGIS metadata document shows what the file is
    md = layer.metadata()
    assert md.title() == "EGMS_L2b_022_0845_IW2_VV_2020_2024_1"
    assert "L2b (Calibrated), track 022, burst 0845, IW2, descending" in md.abstract()
    assert "11590 measurement points" in md.abstract() and "track 022" in md.keywords()["EGMS"]
    # styled by mean velocity when loaded (default style stored in the GeoPackage)
    renderer = layer.renderer()
    assert renderer.type() == "graduatedSymbol" and renderer.classAttribute() == "mean_velocity"


def test_bursts_merge_and_duplicates_are_reported(run_alg, tmp_path):
    src = tmp_path / "src"
    syn = write_synthetic_egms(src, n_points=600, n_dates=20, zipped=False, seed=2)
    lines = open(syn.path).read().splitlines(keepends=True)
    a, b = src / "EGMS_L2b_022_0845_IW2_VV_2020_2024_1.csv", src / "EGMS_L2b_022_0846_IW2_VV_2020_2024_1.csv"
    a.write_text("".join(lines[:1] + lines[1:401]))
    b.write_text("".join(lines[:1] + lines[301:601]))  # points 300–399 are in both bursts
    with zipfile.ZipFile(src / "b.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(b, b.name)
    res = run_alg("egms:importegms", {"INPUT": [str(a), str(src / "b.zip")], "OUTPUT": str(tmp_path / "m.gpkg")})
    assert res["N_POINTS"] == 600 and res["N_DUPLICATES"] == 100
    layer = QgsVectorLayer(str(tmp_path / "m.gpkg"), "m", "ogr")
    assert layer.featureCount() == 600
    pids = [f["pid"] for f in layer.getFeatures()]
    assert len(set(pids)) == 600


@pytest.mark.parametrize("case, message", [
    ("truncated", "damaged or truncated"),
    ("csv_without_coordinates", "no easting and northing column"),
])
def test_bad_input_message_names_file_and_leaves_nothing(run_alg, egms_sample, tmp_path, case, message):
    if case == "truncated":
        bad = tmp_path / "EGMS_L2b_022_0845_IW2_VV_2020_2024_1.zip"
        bad.write_bytes(open(egms_sample, "rb").read()[:500_000])
    else:
        bad = tmp_path / "points.csv"
        bad.write_text("pid,latitude,longitude,20200101\na,38.1,13.2,0.0\n")
    out = tmp_path / "out" / "x.gpkg"
    with pytest.raises(QgsProcessingException, match=message) as err:
        run_alg("egms:importegms", {"INPUT": [str(bad)], "OUTPUT": str(out)})
    assert bad.name in str(err.value) and "Traceback" not in str(err.value)
    assert not out.exists() and _outputs(tmp_path / "out") == []


def test_qgis_process_imports_and_reports_bad_input(run_qgis_process, egms_sample, tmp_path):
    out = tmp_path / "qp.gpkg"
    run = run_qgis_process("run", "egms:importegms", "--", f"INPUT={egms_sample}", f"OUTPUT={out}")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "N_POINTS:\t11590" in run.stdout and "ORBIT:\tdescending" in run.stdout
    layer = QgsVectorLayer(str(out), "qp", "ogr")
    assert layer.featureCount() == 11590
    values = np.array([f["mean_velocity"] for f in layer.getFeatures()])
    assert values.min() < 0 < values.max()

    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w") as zf:
        zf.writestr("readme.txt", "no csv here")
    bad = run_qgis_process("run", "egms:importegms", "--", f"INPUT={empty}", f"OUTPUT={tmp_path / 'bad.gpkg'}")
    assert bad.returncode != 0
    assert "empty.zip: the zip holds no .csv file" in bad.stdout + bad.stderr
    assert "Traceback" not in bad.stdout + bad.stderr and not (tmp_path / "bad.gpkg").exists()
