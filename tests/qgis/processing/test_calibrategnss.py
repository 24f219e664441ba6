"""egms:calibrategnss through Processing and qgis_process: offset + ramp removed, fields kept, bad input refused."""

import datetime as dt
import os

import numpy as np
import pytest
from qgis.core import QgsProcessingException, QgsVectorLayer

from egms_plugin.core import conventions as cv
from egms_plugin.core.egms.stats import egms_statistics, egms_time
from egms_plugin.core.io.points import PointTable, read_points, write_points

DATES = [dt.date(2020, 1, 3) + dt.timedelta(days=12 * k) for k in range(60)]
X0, Y0 = 4_560_000.0, 1_720_000.0
EAST, NORTH, UP = 20.5, 15.2, -1.0  # uniform GNSS field, mm/yr


def aepnd_text():
    """A-EPND grid, 50 km spacing, around the layer; '#' header as in the EGMS files."""
    lines = ["#Latitude,Longitude,N,E,Up,SigmaN,SigmaE,SigmaUP,easting,northing"]
    for gx in np.arange(X0 - 50_000, X0 + 100_001, 50_000):
        for gy in np.arange(Y0 - 50_000, Y0 + 100_001, 50_000):
            lines.append(f"38.7,13.1,{NORTH},{EAST},{UP},0.3,0.3,0.8,{gx:.1f},{gy:.1f}")
    return "\n".join(lines) + "\n"


def make_basic(path, n=800, seed=0, with_dates=True, far=False):
    """Basic layer: truth (GNSS field on the LOS + local motion) + offset 2.5 + ramp + 0.2 mm/yr noise."""
    rng = np.random.default_rng(seed)
    x = X0 + rng.uniform(0, 40_000, n) + (2e6 if far else 0.0)
    y = Y0 + rng.uniform(0, 20_000, n)
    le, ln, lu = cv.los_vector(rng.uniform(30, 45, n), 190.0)
    truth = cv.project_to_los(EAST, NORTH, UP, le, ln, lu) + rng.normal(0, 0.5, n)
    nuisance = 2.5 + 0.05 * (x - X0) / 1000
    velocity = truth + nuisance + rng.normal(0, 0.2, n)
    columns = {"pid": np.array([f"P{i:09d}" for i in range(n)], dtype=object), "mp_type": np.zeros(n, dtype=np.int64),
               "easting": x, "northing": y, "rmse": np.full(n, 1.5), "los_east": le, "los_north": ln, "los_up": lu,
               "mean_velocity": velocity, "mean_velocity_std": np.full(n, 0.2), "seasonality": np.full(n, 1.0)}
    if with_dates:
        t = egms_time(DATES)
        for k, d in enumerate(DATES):
            columns[f"{d:%Y%m%d}"] = velocity * t[k]
    write_points(str(path), PointTable(columns, x, y, "EPSG:3035"))
    return str(path), truth


@pytest.fixture(scope="module")
def basic(tmp_path_factory):
    folder = tmp_path_factory.mktemp("calibrate")
    gnss = folder / "EGMS_AEPND_V2023.1.csv"
    gnss.write_text(aepnd_text())
    path, truth = make_basic(folder / "basic.gpkg")
    return path, truth, str(gnss)


def check_calibrated(path, truth):
    out = read_points(path)
    names = list(out.columns)
    assert names[:12] == ["pid", "mp_type", "easting", "northing", "rmse", "los_east", "los_north", "los_up",
                          "mean_velocity", "mean_velocity_std", "seasonality", "gnss_velocity"]
    assert names[12:] == [f"{d:%Y%m%d}" for d in DATES]
    v = out.columns["mean_velocity"]
    assert np.sqrt(np.mean((v - truth) ** 2)) < 0.3  # the requirement (0.2 mm/yr noise remains)
    expected = cv.project_to_los(EAST, NORTH, UP, out.columns["los_east"], out.columns["los_north"],
                                 out.columns["los_up"])
    np.testing.assert_allclose(out.columns["gnss_velocity"], expected, atol=1e-9)
    series, dates = out.displacement()
    np.testing.assert_allclose(egms_statistics(series, dates)["mean_velocity"], v, atol=1e-9)  # dates corrected too
    assert out.crs == "EPSG:3035" and out.columns["pid"][0] == "P000000000"
    return out


def test_processing_run_with_aepnd_file(run_alg, basic, tmp_path):
    path, truth, gnss = basic
    result = run_alg("egms:calibrategnss", {"INPUT": path, "GNSS": gnss, "OUTPUT": str(tmp_path / "cal.gpkg")})
    assert result["N_POINTS"] == 800 and result["N_COVERED"] == 800
    assert result["MEAN_CORRECTION"] == pytest.approx(2.5 + 0.05 * 20, abs=0.1)  # offset + ramp at mid-scene
    check_calibrated(result["OUTPUT"], truth)


def test_processing_run_with_gnss_point_layer_and_polynomial(run_alg, basic, tmp_path):
    path, truth, _ = basic
    stations = QgsVectorLayer("Point?crs=EPSG:3035&field=ve:double&field=vn:double&field=vu:double", "gnss", "memory")
    from qgis.core import QgsFeature, QgsGeometry, QgsPointXY

    feats = []
    for gx in (X0 - 50_000, X0 + 100_000):
        for gy in (Y0 - 50_000, Y0 + 100_000):
            f = QgsFeature(stations.fields())
            f.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(gx, gy)))
            f.setAttributes([EAST, NORTH, UP])
            feats.append(f)
    stations.dataProvider().addFeatures(feats)
    result = run_alg("egms:calibrategnss", {"INPUT": path, "GNSS_LAYER": stations, "METHOD": 1, "POLYNOMIAL_ORDER": 1,
                                            "OUTPUT": str(tmp_path / "cal.gpkg")})
    check_calibrated(result["OUTPUT"], truth)


def test_qgis_process_runs_calibrategnss(run_qgis_process, basic, tmp_path):
    path, truth, gnss = basic
    out = tmp_path / "cal_qp.gpkg"
    run = run_qgis_process("run", "egms:calibrategnss", "--", f"INPUT={path}", f"GNSS={gnss}",
                           "SMOOTHING_WAVELENGTH=80000", f"OUTPUT={out}")
    assert run.returncode == 0, run.stdout + run.stderr
    check_calibrated(str(out), truth)


def test_zero_mean_fallback_when_gnss_does_not_cover(run_alg, basic, tmp_path):
    _, _, gnss = basic
    far, _ = make_basic(tmp_path / "island.gpkg", far=True)
    out = tmp_path / "cal.gpkg"
    with pytest.raises(QgsProcessingException, match="island: no usable GNSS coverage .* covers 0 of 800 points.*ZERO_MEAN"):
        run_alg("egms:calibrategnss", {"INPUT": far, "GNSS": gnss, "OUTPUT": str(out)})
    assert not out.exists()
    result = run_alg("egms:calibrategnss", {"INPUT": far, "GNSS": gnss, "ZERO_MEAN": True, "OUTPUT": str(out)})
    table = read_points(result["OUTPUT"])
    assert np.mean(table.columns["mean_velocity"]) == pytest.approx(0.0, abs=1e-9)
    assert np.isnan(table.columns["gnss_velocity"]).all() and result["N_COVERED"] == 0


def _assert_refused(run_alg, params, tmp_path, message):
    out = tmp_path / "out.gpkg"
    with pytest.raises(QgsProcessingException, match=message):
        run_alg("egms:calibrategnss", {**params, "OUTPUT": str(out)})
    assert not out.exists() and [p for p in os.listdir(tmp_path) if "out" in p] == []


def test_refuses_gnss_file_that_does_not_parse(run_alg, basic, tmp_path):
    bad = tmp_path / "velocities.csv"
    bad.write_text("#Latitude,Longitude,N,E,Up\n38.7,13.1,1.0,n/a,2.0\n")
    _assert_refused(run_alg, {"INPUT": basic[0], "GNSS": str(bad)}, tmp_path,
                    "velocities.csv: line 2: 'n/a' in column E is not a number")


def test_refuses_missing_gnss_model(run_alg, basic, tmp_path):
    _assert_refused(run_alg, {"INPUT": basic[0]}, tmp_path, "no GNSS velocity model given .*ZERO_MEAN")


def test_refuses_polygon_layer(run_alg, basic, tmp_path):
    polygons = QgsVectorLayer("Polygon?crs=EPSG:3035&field=mean_velocity:double", "parcels", "memory")
    _assert_refused(run_alg, {"INPUT": polygons, "GNSS": basic[2]}, tmp_path, "parcels")


def test_refuses_layer_without_los(run_alg, basic, tmp_path):
    layer = QgsVectorLayer("Point?crs=EPSG:3035&field=mean_velocity:double", "velocities", "memory")
    from qgis.core import QgsFeature, QgsGeometry, QgsPointXY

    f = QgsFeature(layer.fields())
    f.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(X0, Y0)))
    f.setAttributes([1.0])
    layer.dataProvider().addFeatures([f])
    _assert_refused(run_alg, {"INPUT": layer, "GNSS": basic[2]}, tmp_path,
                    "velocities: no field los_east, los_north, los_up — calibration needs")


def test_refuses_empty_layer(run_alg, basic, tmp_path):
    empty = QgsVectorLayer("Point?crs=EPSG:3035&field=los_east:double&field=los_north:double&field=los_up:double"
                           "&field=mean_velocity:double", "nothing", "memory")
    _assert_refused(run_alg, {"INPUT": empty, "GNSS": basic[2]}, tmp_path, "nothing")


def test_velocity_only_layer_is_calibrated_with_a_warning(run_alg, basic, tmp_path):
    path, truth = make_basic(tmp_path / "velocities.gpkg", with_dates=False)
    from qgis.core import QgsProcessingFeedback

    class Recorder(QgsProcessingFeedback):
        errors = []

        def pushWarning(self, warning):
            self.errors.append(warning)

    feedback = Recorder()
    result = run_alg("egms:calibrategnss", {"INPUT": path, "GNSS": basic[2], "OUTPUT": str(tmp_path / "c.gpkg")},
                     feedback=feedback)
    assert any("no date fields" in e for e in feedback.errors)
    v = read_points(result["OUTPUT"]).columns["mean_velocity"]
    assert np.sqrt(np.mean((v - truth) ** 2)) < 0.3


def test_refuses_gnss_layer_without_velocity_fields(run_alg, basic, tmp_path):
    stations = QgsVectorLayer("Point?crs=EPSG:3035&field=name:string&field=speed:double", "stations", "memory")
    _assert_refused(run_alg, {"INPUT": basic[0], "GNSS_LAYER": stations}, tmp_path,
                    "stations: no east/north/up velocity field found among name, speed; choose them with GNSS_EAST_FIELD")


def test_refuses_two_gnss_models(run_alg, basic, tmp_path):
    stations = QgsVectorLayer("Point?crs=EPSG:3035&field=E:double&field=N:double&field=Up:double", "stations", "memory")
    _assert_refused(run_alg, {"INPUT": basic[0], "GNSS": basic[2], "GNSS_LAYER": stations}, tmp_path,
                    "give either an A-EPND GNSS file \\(GNSS\\) or a GNSS point layer \\(GNSS_LAYER\\), not both")
