"""The dock's map tool only reports what the mouse did, in map coordinates (real mouse events, offscreen)."""

from __future__ import annotations

import pytest
from qgis.core import QgsCoordinateReferenceSystem, QgsPointXY, QgsRectangle
from qgis.PyQt.QtCore import QPoint, Qt
from qgis.PyQt.QtTest import QTest
from qgis.PyQt.QtWidgets import QApplication

from egms_plugin.ui.maptool import POINT, POLYGON, PROFILE, RECTANGLE, SeriesMapTool


@pytest.fixture
def tool(qgis_canvas, qgis_parent):
    qgis_parent.resize(700, 700)
    qgis_canvas.resize(600, 600)
    qgis_parent.show()
    qgis_canvas.show()
    qgis_canvas.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:3035"))
    qgis_canvas.setExtent(QgsRectangle(0, 0, 600, 600))
    QApplication.processEvents()
    t = SeriesMapTool(qgis_canvas)
    qgis_canvas.setMapTool(t)
    events = []
    t.pointClicked.connect(lambda p, m: events.append(("point", QgsPointXY(p), m)))
    t.rectangleSelected.connect(lambda r, m: events.append(("rectangle", QgsRectangle(r), m)))
    t.polygonSelected.connect(lambda g, m: events.append(("polygon", g.asWkt(0), m)))
    t.lineDrawn.connect(lambda g, m: events.append(("line", g.asWkt(0), m)))
    t.events = events
    yield t
    qgis_canvas.unsetMapTool(t)
    t.deleteLater()


def px(canvas, x, y):
    p = canvas.getCoordinateTransform().transform(QgsPointXY(x, y))
    return QPoint(int(round(p.x())), int(round(p.y())))


def map_of(canvas, pixel):
    return canvas.getCoordinateTransform().toMapCoordinates(pixel.x(), pixel.y())


def test_click_emits_the_map_point_and_modifiers(tool):
    canvas = tool.canvas()
    pixel = px(canvas, 120, 480)
    QTest.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, pixel)
    assert len(tool.events) == 1
    kind, point, modifiers = tool.events[0]
    expected = map_of(canvas, pixel)
    assert kind == "point" and modifiers == Qt.KeyboardModifier.ShiftModifier
    assert point.x() == pytest.approx(expected.x()) and point.y() == pytest.approx(expected.y())
    assert abs(point.x() - 120) <= canvas.mapUnitsPerPixel() and abs(point.y() - 480) <= canvas.mapUnitsPerPixel()


def test_drag_in_point_mode_is_a_rectangle(tool):
    canvas = tool.canvas()
    a, b = px(canvas, 300, 100), px(canvas, 100, 250)  # from bottom right to top left
    QTest.mousePress(canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, a)
    QTest.mouseMove(canvas.viewport(), b)
    QTest.mouseRelease(canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, b)
    kind, rect, _m = tool.events[0]
    pa, pb = map_of(canvas, a), map_of(canvas, b)
    assert kind == "rectangle"
    assert rect.xMinimum() == pytest.approx(pb.x()) and rect.xMaximum() == pytest.approx(pa.x())  # normalised
    assert rect.yMinimum() == pytest.approx(pa.y()) and rect.yMaximum() == pytest.approx(pb.y())
    assert tool._band is None  # the drawing band is gone


def test_tiny_drag_in_rectangle_mode_is_a_click(tool):
    tool.setMode(RECTANGLE)
    canvas = tool.canvas()
    a = px(canvas, 200, 200)
    QTest.mousePress(canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, a)
    QTest.mouseRelease(canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, a + QPoint(2, 1))
    assert [e[0] for e in tool.events] == ["point"]


def test_polygon_by_clicks_closed_with_right_click(tool):
    tool.setMode(POLYGON)
    canvas = tool.canvas()
    corners = [px(canvas, 100, 100), px(canvas, 400, 100), px(canvas, 250, 400)]
    for c in corners:
        QTest.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, c)
    assert tool.events == []  # still drawing
    QTest.mouseClick(canvas.viewport(), Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier, corners[-1])
    kind, wkt, _m = tool.events[0]
    assert kind == "polygon"
    expected = [map_of(canvas, c) for c in corners]
    ring = ", ".join(f"{p.x():.0f} {p.y():.0f}" for p in expected + expected[:1])
    assert wkt == f"Polygon (({ring}))"


def test_polygon_closed_by_double_click_and_next_polygon_starts_clean(tool):
    tool.setMode(POLYGON)
    canvas = tool.canvas()
    corners = [px(canvas, 100, 100), px(canvas, 400, 100), px(canvas, 250, 400)]
    for c in corners[:2]:
        QTest.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, c)
    # what a user's double click delivers: press, release, double click, release
    QTest.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, corners[2])
    QTest.mouseDClick(canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, corners[2])
    QTest.mouseRelease(canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, corners[2])
    assert [e[0] for e in tool.events] == ["polygon"]
    assert tool.events[0][1].count(",") == 3  # three corners + closing vertex, no duplicate
    assert tool._vertices == []  # the trailing release started nothing
    for c in corners:  # the next polygon works as the first
        QTest.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, c)
    QTest.mouseClick(canvas.viewport(), Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier, corners[0])
    assert [e[0] for e in tool.events] == ["polygon", "polygon"] and tool.events[1][1] == tool.events[0][1]


def test_escape_cancels_a_polygon_and_too_few_vertices_emit_nothing(tool):
    tool.setMode(POLYGON)
    canvas = tool.canvas()
    for c in (px(canvas, 100, 100), px(canvas, 400, 100)):
        QTest.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, c)
    QTest.keyClick(canvas, Qt.Key.Key_Escape)
    assert tool._vertices == [] and tool._band is None
    QTest.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, px(canvas, 100, 100))
    QTest.mouseClick(canvas.viewport(), Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier, px(canvas, 100, 100))
    assert tool.events == []


def test_profile_line_ended_by_right_click_or_double_click(tool):
    tool.setMode(PROFILE)
    canvas = tool.canvas()
    vertices = [px(canvas, 100, 100), px(canvas, 400, 100), px(canvas, 400, 400)]
    for c in vertices:
        QTest.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, c)
    assert tool.events == []  # still drawing
    QTest.mouseClick(canvas.viewport(), Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier, vertices[-1])
    line = ", ".join(f"{p.x():.0f} {p.y():.0f}" for p in (map_of(canvas, c) for c in vertices))
    assert tool.events == [("line", f"LineString ({line})", Qt.KeyboardModifier.NoModifier)]
    # a double click ends a two-vertex line (its vertex not repeated); a single vertex emits nothing
    QTest.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, vertices[0])
    QTest.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, vertices[1])
    QTest.mouseDClick(canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, vertices[1])
    QTest.mouseRelease(canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, vertices[1])
    assert [e[0] for e in tool.events] == ["line", "line"] and tool.events[1][1].count(",") == 1
    QTest.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, vertices[0])
    QTest.mouseClick(canvas.viewport(), Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier, vertices[0])
    assert len(tool.events) == 2


def test_unknown_mode_is_rejected(tool):
    with pytest.raises(ValueError, match="unknown mode 'lasso'"):
        tool.setMode("lasso")
    tool.setMode(POINT)
    assert tool.mode == POINT
