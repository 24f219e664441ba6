"""The dock's map marks (ui/highlights.py): what each series puts on the canvas, and that remove() takes it all."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from qgis.core import QgsGeometry, QgsPointXY, QgsProject, QgsRectangle, QgsVectorLayer
from qgis.gui import QgsRubberBand

from egms_plugin.layers.series import Series, area_series
from egms_plugin.ui.highlights import HALO_COLOUR, MapHighlights

DATES = [dt.date(2020, 1, 1), dt.date(2020, 1, 13)]


@pytest.fixture
def layer():
    lyr = QgsVectorLayer("Point?crs=EPSG:3035", "points", "memory")
    QgsProject.instance().addMapLayer(lyr)
    yield lyr
    QgsProject.instance().removeAllMapLayers()


def point(layer, pid="p1"):
    return Series(layer_id=layer.id(), layer_name=layer.name(), point_id=pid, dates=DATES, values=np.zeros(2),
                  geometry=QgsGeometry.fromPointXY(QgsPointXY(4_000_000, 3_000_000)))


def area(layer):
    s = area_series(np.zeros((2, 2)), DATES, layer_id=layer.id(), layer_name=layer.name(), point_id="mean of 2 points")
    s.geometry = QgsGeometry.fromRect(QgsRectangle(4_000_000, 3_000_000, 4_000_100, 3_000_100))
    s.member_geometry = QgsGeometry.fromWkt("MultiPoint ((4000010 3000010), (4000050 3000050))")
    return s


def test_points_areas_and_references(qgis_canvas, layer):
    marks = MapHighlights(qgis_canvas)
    marks.show([(point(layer), "#1b9e77", False), (area(layer), "#d95f02", False), (point(layer, "r"), "#000000", True)])
    bands = marks.bands
    assert all(b.scene() is qgis_canvas.scene() for b in bands)
    # a point: white halo + ring; an area: outline + its member points; a reference point: halo + cross
    assert [b.strokeColor().name() for b in bands] == [HALO_COLOUR, "#1b9e77", "#d95f02", "#d95f02", HALO_COLOUR,
                                                       "#000000"]
    assert marks.colours() == ["#1b9e77", "#d95f02", "#d95f02", "#000000"]
    assert bands[1].icon() == QgsRubberBand.IconType.ICON_CIRCLE and bands[5].icon() == QgsRubberBand.IconType.ICON_X
    assert bands[2].fillColor().alpha() == 35 and bands[3].numberOfVertices() == 2
    marks.remove()
    assert marks.bands == [] and all(b.scene() is None for b in bands)


def test_series_without_geometry_or_of_removed_layers_are_not_marked(qgis_canvas, layer):
    marks = MapHighlights(qgis_canvas)
    bare = Series(layer_id=layer.id(), layer_name=layer.name(), point_id="x", dates=DATES, values=np.zeros(2))
    marks.show([(bare, "#d95f02", False)])
    assert marks.bands == []
    gone = point(layer)
    marks.show([(gone, "#1b9e77", False)])
    assert marks.colours() == ["#1b9e77"]
    QgsProject.instance().removeMapLayer(layer.id())
    marks.show([(gone, "#1b9e77", False)])  # redrawn (e.g. the canvas CRS changed) after its layer went
    assert marks.bands == []
