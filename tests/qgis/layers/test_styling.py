"""Velocity styling of measurement-point layers and reading layers into numpy."""

import numpy as np
import pytest
from qgis.core import QgsFeature, QgsGeometry, QgsPointXY, QgsVectorLayer

from egms_plugin.core.io import points as mpio
from egms_plugin.layers import styling


def _layer(values, field="mean_velocity"):
    layer = QgsVectorLayer(f"Point?crs=EPSG:3035&field={field}:double&field=pid:string", "mp", "memory")
    feats = []
    for i, v in enumerate(values):
        f = QgsFeature(layer.fields())
        f.setAttributes([None if v is None else float(v), f"p{i}"])
        f.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(4e6 + i, 2e6)))
        feats.append(f)
    layer.dataProvider().addFeatures(feats)
    return layer


def test_nice_limit():
    assert styling.nice_limit(np.r_[np.linspace(-7.3, 7.3, 99), 500.0]) == 10.0  # 98th pct of |v| ≈ 7.2 → 10
    assert styling.nice_limit([0.1, -0.2]) == 1.0
    assert styling.nice_limit(np.linspace(-18, 18, 1001)) == 20.0
    assert styling.nice_limit([np.nan, np.nan]) == 1.0


def test_velocity_renderer_symmetric_and_open_ended(qgis_app):
    layer = _layer(list(np.linspace(-4.5, 4.5, 50)) + [None, 80.0])
    assert styling.apply_velocity_style(layer)
    r = layer.renderer()
    assert r.classAttribute() == "mean_velocity"
    ranges = r.ranges()
    assert len(ranges) == styling.N_CLASSES
    inner = [(rg.lowerValue(), rg.upperValue()) for rg in ranges[1:-1]]
    assert inner[0][0] == pytest.approx(-4.0) and inner[-1][1] == pytest.approx(4.0)  # limit 5, edges every 1
    assert ranges[0].lowerValue() < -1e9 and ranges[-1].upperValue() > 1e9
    first, last = ranges[0].symbol().color(), ranges[-1].symbol().color()
    assert first.red() > first.blue() and last.blue() > last.red()  # red = away (subsidence), blue = towards
    assert "mm/yr" in ranges[0].label()


def test_layer_without_velocity_is_left_alone(qgis_app):
    layer = _layer([1.0, 2.0], field="height")
    before = layer.renderer().type()
    assert not styling.apply_velocity_style(layer)
    assert layer.renderer().type() == before


class _ReadAlg:
    """A bare algorithm with one point-layer parameter, to drive source_to_table."""

    @staticmethod
    def make():
        from qgis.core import QgsProcessingParameterFeatureSource

        from egms_plugin.processing.base import EgmsAlgorithm

        class Alg(EgmsAlgorithm):
            alg_name = "readprobe"

            def initAlgorithm(self, config=None):  # noqa: N802
                self.addParameter(QgsProcessingParameterFeatureSource("INPUT", "input"))

        alg = Alg()
        alg.initAlgorithm()
        return alg


def _gpkg(tmp_path, n=300):
    rng = np.random.default_rng(4)
    cols = {"pid": np.array([f"p{i}" for i in range(n)], dtype=object), "mean_velocity": rng.normal(0, 3, n),
            "20200103": np.zeros(n), "20200115": rng.normal(0, 2, n), "line": np.arange(n)}
    cols["20200115"][7] = np.nan
    table = mpio.PointTable(cols, rng.uniform(4.3e6, 4.31e6, n), rng.uniform(2.6e6, 2.61e6, n), "EPSG:3035")
    return mpio.write_points(tmp_path / "mp.gpkg", table), table


def test_source_to_table_fast_and_qgis_paths(plugin, tmp_path):
    from qgis.core import QgsProcessingContext, QgsProcessingFeatureSourceDefinition, QgsProject

    from egms_plugin.core.errors import InputError
    from egms_plugin.layers.sources import source_to_table

    path, table = _gpkg(tmp_path)
    alg = _ReadAlg.make()
    context = QgsProcessingContext()
    fast, _src = source_to_table(alg, {"INPUT": path}, "INPUT", context)
    layer = QgsVectorLayer(path, "mp", "ogr")
    layer.selectByIds(list(range(1, 301)))  # everything selected: the QGIS path must give the same table
    QgsProject.instance().addMapLayer(layer)
    try:
        context.setProject(QgsProject.instance())
        slow, _src = source_to_table(alg, {"INPUT": QgsProcessingFeatureSourceDefinition(layer.id(), True)}, "INPUT",
                                     context)
    finally:
        QgsProject.instance().removeMapLayer(layer.id())
    for got in (fast, slow):
        assert got.crs == "EPSG:3035" and len(got) == 300
        np.testing.assert_allclose(got.x, table.x)
        np.testing.assert_array_equal(got.columns["20200115"], table.columns["20200115"])
        assert list(got.columns["pid"]) == list(table.columns["pid"])
        np.testing.assert_array_equal(got.columns["line"], table.columns["line"])
    values, dates = slow.displacement()
    assert [d.isoformat() for d in dates] == ["2020-01-03", "2020-01-15"] and np.isnan(values[7, 1])

    lines = QgsVectorLayer("LineString?crs=EPSG:3035", "roads", "memory")
    QgsProject.instance().addMapLayer(lines)
    try:
        with pytest.raises(InputError, match="roads: not a point layer"):
            source_to_table(alg, {"INPUT": lines.id()}, "INPUT", context)
    finally:
        QgsProject.instance().removeMapLayer(lines.id())
    empty = _layer([])
    QgsProject.instance().addMapLayer(empty)
    try:
        with pytest.raises(InputError, match="mp: the layer is empty"):
            source_to_table(alg, {"INPUT": empty.id()}, "INPUT", context)
    finally:
        QgsProject.instance().removeMapLayer(empty.id())


def test_source_to_table_transforms_to_3035(plugin, tmp_path):
    from qgis.core import QgsProcessingContext

    from egms_plugin.layers.sources import source_to_table

    table = mpio.PointTable({"mean_velocity": np.array([1.0])}, np.array([13.171103]), np.array([38.690708]),
                            "EPSG:4326")
    path = mpio.write_points(tmp_path / "wgs.gpkg", table)
    got, _ = source_to_table(_ReadAlg.make(), {"INPUT": path}, "INPUT", QgsProcessingContext())
    # the real EGMS file's first point: lat/lon 38.690708, 13.171103 ↔ easting/northing 4598603.43, 1739722.18
    assert got.crs == "EPSG:3035"
    assert got.x[0] == pytest.approx(4598603.43, abs=0.05) and got.y[0] == pytest.approx(1739722.18, abs=0.05)


def test_style_saved_in_geopackage(plugin, tmp_path):
    from qgis.core import QgsProcessingContext

    path, _table = _gpkg(tmp_path)
    alg = _ReadAlg.make()
    alg.style_on_load(QgsProcessingContext(), path)
    reopened = QgsVectorLayer(path, "again", "ogr")  # default style from the GeoPackage's layer_styles
    assert reopened.renderer().type() == "graduatedSymbol"
    assert reopened.renderer().classAttribute() == "mean_velocity"
