"""egms:fittimeseries: reproduces the real file's published statistics; any date-field convention; bad input."""

import datetime as dt
import os

import numpy as np
import pytest
from qgis.core import QgsApplication, QgsProcessingException, QgsProject, QgsVectorLayer

from egms_plugin.core.egms import importer as egms_import
from egms_plugin.core.egms.stats import STAT_FIELDS, egms_statistics
from egms_plugin.core.io import points as mpio


@pytest.fixture(scope="module")
def real_gpkg(egms_sample, tmp_path_factory):
    path = tmp_path_factory.mktemp("fit") / "real.gpkg"
    egms_import.import_egms(egms_sample, path)
    return path


def test_reproduces_the_published_columns(run_alg, real_gpkg, tmp_path):
    """Published values are rounded to 0.1 (0.01 for acceleration): error ≤ half a unit plus ≤ 0.005 from
    the 0.1-mm rounding of the input series (tests/core/egms/test_stats.py); mean_velocity sits ~0.03 off."""
    out = tmp_path / "fit.gpkg"
    res = run_alg("egms:fittimeseries", {"INPUT": str(real_gpkg), "OUTPUT": str(out)})
    assert res["N_POINTS"] == 11590 and res["N_WITHOUT_STATISTICS"] == 0
    published, fitted = mpio.read_points(real_gpkg), mpio.read_points(out)
    assert list(fitted.columns) == list(published.columns)  # every field kept, statistics in place (rmse_ts)
    tolerances = {"rmse_ts": 0.055, "seasonality": 0.055, "seasonality_std": 0.055, "mean_velocity_std": 0.055,
                  "acceleration": 0.01, "acceleration_std": 0.01, "mean_velocity": 0.1}
    for name, tol in tolerances.items():
        err = np.abs(fitted.columns[name] - published.columns[name])
        assert np.max(err) <= tol, f"{name}: max |Δ| {np.max(err):.4f} > {tol}"
        assert not np.array_equal(fitted.columns[name], published.columns[name])  # recomputed, not copied
    assert np.median(np.abs(fitted.columns["temporal_coherence"] - published.columns["temporal_coherence"])) < 0.03
    for name in ("pid", "gnss_velocity", "20200103", "20241225", "los_east"):
        assert list(fitted.columns[name]) == list(published.columns[name])
    np.testing.assert_array_equal(fitted.x, published.x)
    assert fitted.metadata["EGMS_TRACK"] == "022" and fitted.metadata["EGMS_STATISTICS"].startswith("EGMS recipe")
    layer = QgsVectorLayer(str(out), "fit", "ogr")
    assert layer.renderer().type() == "graduatedSymbol" and layer.renderer().classAttribute() == "mean_velocity"


def test_prefixed_dates_with_gaps_and_specification_names(run_alg, tmp_path):
    """A layer of another tool: D_YYYYMMDD fields with NULL gaps, UTM coordinates, no statistics fields."""
    rng = np.random.default_rng(8)
    n, dates = 60, [dt.date(2019, 1, 1) + dt.timedelta(days=12 * k) for k in range(50)]
    t = np.array([(d - dates[0]).days for d in dates]) / 365.0
    y = rng.normal(0, 2, (n, 50)) + np.outer(rng.normal(0, 5, n), t)
    y[3, [4, 9, 30]] = np.nan
    y[5, 8:] = np.nan  # 8 dates left: still fitted
    y[6, 5:] = np.nan  # 5 dates: too few
    cols = {"code": np.arange(n), "height": rng.uniform(0, 50, n)}
    cols.update({f"D_{d:%Y%m%d}": y[:, k] for k, d in enumerate(dates)})
    path = mpio.write_points(tmp_path / "tre.gpkg", mpio.PointTable(cols, rng.uniform(4e5, 5e5, n),
                                                                    rng.uniform(4.2e6, 4.3e6, n), "EPSG:32633"))
    res = run_alg("egms:fittimeseries", {"INPUT": path, "OUTPUT": str(tmp_path / "out.gpkg")})
    assert res["N_WITHOUT_STATISTICS"] == 1
    out = mpio.read_points(tmp_path / "out.gpkg")
    names = list(out.columns)
    assert names[:2] == ["code", "height"] and names[2:10] == list(STAT_FIELDS)  # before the dates, spec names
    assert names[10:] == [f"D_{d:%Y%m%d}" for d in dates] and out.crs == "EPSG:32633"
    ref = egms_statistics(y, dates)
    for name in STAT_FIELDS:
        np.testing.assert_allclose(out.columns[name], ref[name], rtol=1e-12, atol=1e-12, equal_nan=True)
    assert np.isnan(out.columns["mean_velocity"][6]) and np.isfinite(out.columns["mean_velocity"][5])


def _memory_layer(definition, name):
    layer = QgsVectorLayer(definition, name, "memory")
    QgsProject.instance().addMapLayer(layer)
    return layer


@pytest.mark.parametrize("case, message", [
    ("no_dates", "nodates: no date fields"),
    ("empty", "nothing: the layer is empty"),
    ("lines", "roads: not a point layer"),
])
def test_bad_input(run_alg, tmp_path, case, message):
    from qgis.core import QgsFeature, QgsGeometry, QgsPointXY

    if case == "no_dates":
        layer = _memory_layer("Point?crs=EPSG:3035&field=pid:string&field=mean_velocity:double", "nodates")
        f = QgsFeature(layer.fields())
        f.setAttributes(["a", 1.0])
        f.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(4e6, 3e6)))
        layer.dataProvider().addFeatures([f])
    elif case == "empty":
        layer = _memory_layer("Point?crs=EPSG:3035&field=20200101:double", "nothing")
    else:
        layer = _memory_layer("LineString?crs=EPSG:3035&field=20200101:double", "roads")
    out = tmp_path / "out" / "fit.gpkg"
    try:
        with pytest.raises(QgsProcessingException, match=message):
            run_alg("egms:fittimeseries", {"INPUT": layer, "OUTPUT": str(out)})
    finally:
        QgsProject.instance().removeMapLayer(layer.id())
    assert not out.exists() and (not (tmp_path / "out").exists() or os.listdir(tmp_path / "out") == [])


def test_qgis_process_fits(run_qgis_process, real_gpkg, tmp_path):
    out = tmp_path / "qp_fit.gpkg"
    run = run_qgis_process("run", "egms:fittimeseries", "--", f"INPUT={real_gpkg}", f"OUTPUT={out}")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "N_POINTS:\t11590" in run.stdout
    fitted, published = mpio.read_points(out, columns=["mean_velocity"]), mpio.read_points(real_gpkg, columns=["mean_velocity"])
    assert np.max(np.abs(fitted.columns["mean_velocity"] - published.columns["mean_velocity"])) <= 0.1


def test_the_style_is_saved_into_the_file_itself_and_gdal_says_nothing(run_alg, real_gpkg, tmp_path, capfd):
    """QGIS 3.40 saved the style into the temporary output in WAL mode: after the rename GDAL printed
    "sqlite3_get_table(… gpkg_metadata …) failed: unable to open database file" (2 lines per run) and a -wal was
    left beside the output for as long as QGIS kept the dataset."""
    import sqlite3

    out = tmp_path / "fit.gpkg"
    capfd.readouterr()
    run_alg("egms:fittimeseries", {"INPUT": str(real_gpkg), "OUTPUT": str(out)})
    for _ in range(5):
        QgsApplication.processEvents()
    _out, err = capfd.readouterr()
    assert "unable to open database file" not in err and "gpkg_metadata" not in err, err[-500:]
    assert sorted(os.listdir(tmp_path)) == ["fit.gpkg"]
    with sqlite3.connect(f"file:{out}?mode=ro", uri=True) as con:  # the style row is in the file, not in a journal
        assert con.execute("PRAGMA journal_mode").fetchone()[0] != "wal"
        assert con.execute("SELECT styleName, useAsDefault FROM layer_styles").fetchall() == [("velocity", 1)]
