"""QA: input layers as users have them — numbers stored as text (CSV loaded without type detection), tables
without geometry."""

import datetime as dt

import numpy as np
import pytest
from qgis.core import QgsProcessingException, QgsVectorLayer

from egms_plugin.core.io.points import PointTable, read_points, write_points
from egms_plugin.testing.synthetic_egms import noise_free_los_columns

NUMERIC = ("rmse", "los_east", "los_north", "los_up", "mean_velocity", "mean_velocity_std")
DATES = [dt.date(2021, 1, 1) + dt.timedelta(days=12 * k) for k in range(30)]
X0, Y0 = 4_600_000.0, 1_740_000.0


def columns_of(orbit, n=300, seed=0):
    """Noise-free LOS layer over 1 km², EGMS schema, one decimal like EGMS."""
    return noise_free_los_columns(orbit, DATES, n, seed, origin=(X0, Y0), decimals=1)


def as_text(columns, blanks=()):
    """Every numeric column as text (repr of the float), '' at the (field, row) places in ``blanks``."""
    out = {}
    for name, values in columns.items():
        if values.dtype.kind == "f":
            text = np.array([repr(float(v)) for v in values], dtype=object)
            for field, row in blanks:
                if field == name:
                    text[row] = ""
            out[name] = text
        else:
            out[name] = values
    return out


@pytest.fixture(scope="module")
def layers(tmp_path_factory):
    folder = tmp_path_factory.mktemp("qa_layers")
    paths = {}
    for orbit, seed in (("ascending", 1), ("descending", 2)):
        columns, x, y = columns_of(orbit, seed=seed)
        write_points(str(folder / f"{orbit}.gpkg"), PointTable(columns, x, y, "EPSG:3035"))
        blanks = [("mean_velocity", 3), ("20210113", 5), ("los_up", 7)]
        write_points(str(folder / f"{orbit}_text.gpkg"), PointTable(as_text(columns, blanks), x, y, "EPSG:3035"))
        paths[orbit] = str(folder / f"{orbit}.gpkg")
        paths[f"{orbit}_text"] = str(folder / f"{orbit}_text.gpkg")
    lines = ["#Latitude,Longitude,N,E,Up,SigmaN,SigmaE,SigmaUP,easting,northing"]
    for gx in (X0 - 50_000, X0 + 50_000):
        for gy in (Y0 - 50_000, Y0 + 50_000):
            lines.append(f"38.7,13.1,0.0,1.0,-3.0,0.3,0.3,0.8,{gx:.1f},{gy:.1f}")
    (folder / "gnss.csv").write_text("\n".join(lines) + "\n")
    paths["gnss"] = str(folder / "gnss.csv")
    return paths


def test_calibrate_reads_numbers_stored_as_text_with_blanks(run_alg, layers, tmp_path):
    assert QgsVectorLayer(layers["descending_text"]).fields().field("mean_velocity").typeName().lower() == "string"
    ref = read_points(run_alg("egms:calibrategnss", {"INPUT": layers["descending"], "GNSS": layers["gnss"],
                                                     "OUTPUT": str(tmp_path / "ref.gpkg")})["OUTPUT"])
    out = read_points(run_alg("egms:calibrategnss", {"INPUT": layers["descending_text"], "GNSS": layers["gnss"],
                                                     "OUTPUT": str(tmp_path / "text.gpkg")})["OUTPUT"])
    v, v_ref = out.columns["mean_velocity"], ref.columns["mean_velocity"]
    assert np.isnan(v[3]) and np.isnan(out.columns["20210113"][5]) and np.isnan(out.columns["gnss_velocity"][7])
    keep = np.ones(v.size, dtype=bool)
    keep[[3, 7]] = False  # the blank velocity, and the blank LOS (not covered: its correction comes from a neighbour)
    # the same numbers: the surface sees one point less, a smooth 100 km surface over 1 km moves by < 1e-3 mm/yr
    np.testing.assert_allclose(v[keep], v_ref[keep], atol=1e-3)


def test_decompose_reads_numbers_stored_as_text_with_blanks(run_alg, layers, tmp_path):
    def run(asc, desc, tag):
        return run_alg("egms:decompose", {"ASCENDING": [asc], "DESCENDING": [desc],
                                          "OUTPUT": str(tmp_path / f"{tag}_u.gpkg"),
                                          "OUTPUT_EAST": str(tmp_path / f"{tag}_e.gpkg"),
                                          "OUTPUT_VERTICAL_RASTER": str(tmp_path / f"{tag}_u.tif"),
                                          "OUTPUT_EAST_RASTER": str(tmp_path / f"{tag}_e.tif")})
    up = read_points(run(layers["ascending_text"], layers["descending_text"], "text")["OUTPUT"])
    up_ref = read_points(run(layers["ascending"], layers["descending"], "ref")["OUTPUT"])
    assert len(up) == len(up_ref)
    diff = np.abs(up.columns["mean_velocity"] - up_ref.columns["mean_velocity"])
    # the blanks (one velocity, one date value, one LOS vector per layer) touch at most 4 of the ~95 cells
    assert (diff < 1e-9).sum() >= len(up) - 4 and diff.max() < 0.1


def test_text_that_is_not_a_number_is_named(run_alg, layers, tmp_path):
    columns, x, y = columns_of("descending")
    text = as_text(columns)
    text["los_up"][11] = "n/a"
    path = tmp_path / "odd.gpkg"
    write_points(str(path), PointTable(text, x, y, "EPSG:3035"))
    with pytest.raises(QgsProcessingException, match="odd: field los_up holds 'n/a' \\(feature 12\\), not a number"):
        run_alg("egms:calibrategnss", {"INPUT": str(path), "GNSS": layers["gnss"], "OUTPUT": str(tmp_path / "o.gpkg")})
    assert not (tmp_path / "o.gpkg").exists()


def test_table_without_geometry_says_how_to_get_points(run_alg, layers, tmp_path):
    csv = tmp_path / "points.csv"
    csv.write_text("pid;easting;northing;los_east;los_north;los_up;mean_velocity\nA;4600000;1740000;0.6;-0.1;0.8;-1\n")
    with pytest.raises(QgsProcessingException, match="points: not a point layer \\(a table without geometry\\).*"
                                                     "easting/northing"):
        run_alg("egms:calibrategnss", {"INPUT": str(csv), "GNSS": layers["gnss"], "OUTPUT": str(tmp_path / "o.gpkg")})


def test_calibrate_a_filtered_or_selected_part_of_a_geopackage(run_alg, layers, tmp_path):
    """The features are read through QGIS then, which shows the GeoPackage's fid as a field."""
    from qgis.core import QgsProcessingFeatureSourceDefinition

    full = read_points(run_alg("egms:calibrategnss", {"INPUT": layers["descending"], "GNSS": layers["gnss"],
                                                      "METHOD": 1, "POLYNOMIAL_ORDER": 0,
                                                      "OUTPUT": str(tmp_path / "full.gpkg")})["OUTPUT"])
    subset = QgsVectorLayer(layers["descending"] + "|subset=\"pid\" < 'P000000100'", "first hundred", "ogr")
    selected = QgsVectorLayer(layers["descending"], "selection", "ogr")
    selected.selectByIds(list(range(1, 101)))
    sources = {"subset": subset, "selection": QgsProcessingFeatureSourceDefinition(selected.id(), True)}
    import processing
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback, QgsProject

    QgsProject.instance().addMapLayer(selected)
    try:
        for tag, source in sources.items():
            context = QgsProcessingContext()
            context.setProject(QgsProject.instance())  # where the selection lives
            result = processing.run("egms:calibrategnss", {"INPUT": source, "GNSS": layers["gnss"], "METHOD": 1,
                                                           "POLYNOMIAL_ORDER": 0, "OUTPUT": str(tmp_path / f"{tag}.gpkg")},
                                    context=context, feedback=QgsProcessingFeedback())
            out = read_points(result["OUTPUT"])
            assert out.metadata["egms_calibration"].startswith("GNSS covers 100 of 100 points")
            assert len(out) == 100 and "fid" not in out.columns
            assert list(out.columns)[:3] == ["pid", "rmse", "los_east"]
            assert out.columns["pid"].tolist() == full.columns["pid"][:100].tolist()
            # noise-free uniform motion: the offset surface is the same whatever part of the layer is used
            np.testing.assert_allclose(out.columns["mean_velocity"], full.columns["mean_velocity"][:100], atol=1e-9)
    finally:
        QgsProject.instance().removeMapLayer(selected.id())


def test_decompose_uses_a_layer_given_twice_once(run_alg, layers, tmp_path):
    from qgis.core import QgsProcessingFeedback

    warnings = []
    feedback = QgsProcessingFeedback()
    feedback.pushWarning = warnings.append

    def run(asc, tag, fb=None):
        return run_alg("egms:decompose", {"ASCENDING": asc, "DESCENDING": [layers["descending"]],
                                          "OUTPUT": str(tmp_path / f"{tag}_u.gpkg"),
                                          "OUTPUT_EAST": str(tmp_path / f"{tag}_e.gpkg"),
                                          "OUTPUT_VERTICAL_RASTER": str(tmp_path / f"{tag}_u.tif"),
                                          "OUTPUT_EAST_RASTER": str(tmp_path / f"{tag}_e.tif")}, feedback=fb)
    once = read_points(run([layers["ascending"]], "once")["OUTPUT"])
    twice = read_points(run([layers["ascending"], layers["ascending"]], "twice", feedback)["OUTPUT"])
    assert any("ascending: given twice in ASCENDING; used once" in w for w in warnings), warnings
    assert twice.columns["n_geometries"].tolist() == once.columns["n_geometries"].tolist() == [2] * len(once)
    np.testing.assert_array_equal(twice.columns["mean_velocity"], once.columns["mean_velocity"])


@pytest.mark.parametrize("alg", ["calibrategnss", "decompose"])
def test_layer_without_crs_is_named_with_the_reason(run_alg, layers, tmp_path, alg):
    """A GeoPackage whose CRS got lost: QGIS may assume WGS84 for it, which turns EPSG:3035 metres into nonsense."""
    columns, x, y = columns_of("descending")
    path = tmp_path / "lost_crs.gpkg"
    write_points(str(path), PointTable(columns, x, y, ""))
    if alg == "calibrategnss":
        params = {"INPUT": str(path), "GNSS": layers["gnss"], "OUTPUT": str(tmp_path / "o.gpkg")}
    else:
        params = {"ASCENDING": [layers["ascending"]], "DESCENDING": [str(path)], "OUTPUT": str(tmp_path / "u.gpkg"),
                  "OUTPUT_EAST": str(tmp_path / "e.gpkg"), "OUTPUT_VERTICAL_RASTER": str(tmp_path / "u.tif"),
                  "OUTPUT_EAST_RASTER": str(tmp_path / "e.tif")}
    with pytest.raises(QgsProcessingException, match="lost_crs: .*(coordinate reference system|CRS)"):
        run_alg(f"egms:{alg}", params)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lost_crs.gpkg"]
