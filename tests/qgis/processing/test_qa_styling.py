"""QA: decompose's velocity rasters come out styled like the point layers (diverging, symmetric around 0), both when
Processing loads them and when a user opens the files later."""

import pytest
from qgis.core import QgsProject, QgsRasterLayer, QgsSingleBandPseudoColorRenderer, QgsVectorLayer

from .conftest import decompose_outputs, make_layer


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("qa_styling")
    return make_layer(folder / "asc.gpkg", "ascending", seed=1), make_layer(folder / "desc.gpkg", "descending", seed=2)


def check_velocity_raster(layer):
    renderer = layer.renderer()
    assert isinstance(renderer, QgsSingleBandPseudoColorRenderer), type(renderer).__name__
    shader = renderer.shader().rasterShaderFunction()
    values = [item.value for item in shader.colorRampItemList()]
    # symmetric around 0; uniform −3 mm/yr up and +1 mm/yr east → the nice limit is 5 (up) or 1 (east)
    assert values[0] == -values[-1] and values[-1] in (1.0, 5.0) and 0.0 in values
    assert not shader.clip()  # values beyond the limits keep the end colours


def test_reopened_velocity_rasters_are_styled(run_alg, inputs, tmp_path):
    outputs = decompose_outputs(tmp_path)
    run_alg("egms:decompose", {"ASCENDING": [inputs[0]], "DESCENDING": [inputs[1]], **outputs})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["east.gpkg", "east.qml", "east.tif", "up.gpkg", "up.qml",
                                                          "up.tif"]  # no statistics side files of the styling
    for key in ("OUTPUT_VERTICAL_RASTER", "OUTPUT_EAST_RASTER"):
        check_velocity_raster(QgsRasterLayer(outputs[key], key, "gdal"))  # its default style (.qml) is read


def test_outputs_loaded_by_processing_are_styled(plugin, inputs, tmp_path, qgis_iface, monkeypatch):
    import processing
    from qgis.core import QgsLayerTreeModel
    from qgis.gui import QgsLayerTreeView

    # QGIS >= 3.44 hands iface.layerTreeView() to C++ when it loads results: pytest-qgis' stub iface returns a
    # MagicMock there, so give it a real view of the project's layer tree, as the QGIS window has
    view = QgsLayerTreeView()
    view.setModel(QgsLayerTreeModel(QgsProject.instance().layerTreeRoot(), view))
    monkeypatch.setattr(qgis_iface, "layerTreeView", lambda: view)

    outputs = decompose_outputs(tmp_path)
    project = QgsProject.instance()
    project.removeAllMapLayers()
    processing.runAndLoadResults("egms:decompose", {"ASCENDING": [inputs[0]], "DESCENDING": [inputs[1]], **outputs})
    try:
        loaded = {layer.source().split("|")[0]: layer for layer in project.mapLayers().values()}
        assert sorted(loaded) == sorted(outputs.values())
        for path in outputs.values():
            layer = loaded[path]
            if isinstance(layer, QgsVectorLayer):
                assert layer.renderer().classAttribute() == "mean_velocity"
            else:
                check_velocity_raster(layer)
    finally:
        project.removeAllMapLayers()
