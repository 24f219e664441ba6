"""Displacement animation: the frame expression, its numpy twin, rendered frames and the user messages."""

import datetime as dt
import math

import numpy as np
import pytest
from qgis.core import (
    QgsDateTimeRange,
    QgsExpression,
    QgsExpressionContext,
    QgsExpressionContextScope,
    QgsExpressionContextUtils,
    QgsFeature,
    QgsGeometry,
    QgsMapRendererSequentialJob,
    QgsMapSettings,
    QgsMarkerSymbol,
    QgsPointXY,
    QgsProject,
    QgsRasterLayer,
    QgsRectangle,
    QgsStyle,
    QgsTemporalNavigationObject,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QDate, QDateTime, QSize, Qt, QTime
from qgis.PyQt.QtGui import QColor

from egms_plugin import compat
from egms_plugin.layers import animation, timeline

DATES = [dt.date(2020, 1, 1), dt.date(2020, 1, 7), dt.date(2020, 1, 13), dt.date(2020, 1, 19)]
# one row per point, mm; None = NULL.  Values are chosen away from the class edges (every 2 mm for ±10 mm).
SERIES = [
    [0.3, -3.0, -5.0, -9.0],
    [0.3, 2.5, 4.5, 7.5],
    [-0.5, None, -7.0, -9.5],
    [0.3, 9.0, 9.5, 9.9],
]
X0, Y0, SPACING = 4_000_000.0, 2_000_000.0, 1000.0


def _layer(series=SERIES, dates=DATES, prefix="", kind="double", geometry="Point"):
    names = [prefix + f"{d:%Y%m%d}" for d in dates]
    uri = f"{geometry}?crs=EPSG:3035&field=pid:string" + "".join(f"&field={n}:{kind}" for n in names)
    layer = QgsVectorLayer(uri, "mp", "memory")
    feats = []
    for i, row in enumerate(series):
        f = QgsFeature(layer.fields())
        f.setAttributes([f"p{i}"] + [None if v is None else v for v in row])
        if geometry == "Point":
            f.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(X0 + i * SPACING, Y0)))
        else:
            f.setGeometry(QgsGeometry.fromWkt(f"LineString({X0} {Y0}, {X0 + 10} {Y0 + 10})"))
        feats.append(f)
    assert layer.dataProvider().addFeatures(feats)
    return layer


def _utc(date, hour=0):
    return QDateTime(QDate(date.year, date.month, date.day), QTime(hour, 0), Qt.TimeSpec.UTC)


def _values(series=SERIES):
    return np.array([[np.nan if v is None else v for v in row] for row in series], dtype=np.float64)


# ------------------------------------------------------------------------------------------ pure logic
def test_values_at_by_hand():
    v = _values()
    # 2020-01-03: a third of the way from 01-01 to 01-07; point 2 has NULL on 01-07 → its nearer value (01-01)
    np.testing.assert_allclose(timeline.values_at(v, DATES, dt.date(2020, 1, 3)),
                               [0.3 - 3.3 / 3, 0.3 + 2.2 / 3, -0.5, 0.3 + 8.7 / 3])
    # 2020-01-12: 5/6 of the way from 01-07 to 01-13; point 2 → 01-13 (nearer)
    np.testing.assert_allclose(timeline.values_at(v, DATES, dt.date(2020, 1, 12)),
                               [-3 - 2 * 5 / 6, 2.5 + 2 * 5 / 6, -7.0, 9 + 0.5 * 5 / 6])
    # after the last date: the last date; not temporal: the last date
    np.testing.assert_allclose(timeline.values_at(v, DATES, dt.date(2020, 1, 25)), v[:, -1])
    np.testing.assert_allclose(timeline.values_at(v, DATES, None), v[:, -1])
    np.testing.assert_allclose(timeline.values_at(v, DATES, dt.date(2019, 6, 1)), v[:, 0])
    near = timeline.values_at(v, DATES, dt.date(2020, 1, 12), "nearest")
    np.testing.assert_allclose(near, v[:, 2])
    assert math.isnan(timeline.values_at(v, DATES, dt.date(2020, 1, 8), "nearest")[2])  # NULL date: not drawn
    assert timeline.time_step_days(DATES) == 6
    assert timeline.time_step_days([dt.date(2020, 1, 1), dt.date(2020, 1, 13), dt.date(2020, 1, 19),
                                    dt.date(2020, 1, 31)]) == 12


def test_expression_rejects_bad_input():
    with pytest.raises(ValueError, match="two date fields"):
        timeline.displacement_expression([("20200101", DATES[0])])
    with pytest.raises(ValueError, match="mode"):
        timeline.displacement_expression([("a", DATES[0]), ("b", DATES[1])], "cubic")
    with pytest.raises(ValueError, match="sorted"):
        timeline.displacement_expression([("a", DATES[1]), ("b", DATES[0])])


@pytest.mark.parametrize("mode", timeline.MODES)
def test_expression_matches_numpy_twin(qgis_app, mode):
    """QGIS' evaluation of the expression = :func:`timeline.values_at`, on irregular dates with gaps, at random
    frame times inside and outside the series (and with no frame time)."""
    rng = np.random.default_rng(7)
    offsets = np.cumsum(rng.choice([6, 12, 18, 24], size=41))
    dates = [dt.date(2019, 12, 1) + dt.timedelta(days=int(o)) for o in offsets]
    values = rng.normal(0, 5, size=(5, dates.__len__()))
    values[rng.random(values.shape) < 0.15] = np.nan
    layer = _layer([[None if math.isnan(x) else float(x) for x in row] for row in values], dates, prefix="D_")
    fields = animation.numeric_date_fields(layer)
    assert [d for _n, d in fields] == dates
    expression = QgsExpression(timeline.displacement_expression(fields, mode))
    assert not expression.hasParserError(), expression.parserErrorString()
    feats = list(layer.getFeatures())
    times = [None] + [dt.datetime(2019, 11, 1) + dt.timedelta(hours=int(h)) for h in rng.integers(0, 24 * 640, 40)]
    for when in times:
        scope = QgsExpressionContextScope()
        if when is not None:
            scope.setVariable("map_start_time", QDateTime(QDate(when.year, when.month, when.day),
                                                          QTime(when.hour, 0), Qt.TimeSpec.UTC))
        context = QgsExpressionContext()
        context.appendScope(scope)
        expected = timeline.values_at(values, dates, when, mode)
        for feat, want in zip(feats, expected):
            context.setFeature(feat)
            got = expression.evaluate(context)
            assert not expression.hasEvalError(), expression.evalErrorString()
            if math.isnan(want):
                assert got is None or got != got or str(got) == "NULL", (when, got)
            else:
                assert got == pytest.approx(want, abs=1e-9), (when, mode)


# ---------------------------------------------------------------------------------------- the layer
def test_animate_layer_sets_renderer_and_time_without_copying(qgis_app):
    layer = _layer()
    anim = animation.animate_layer(layer)
    assert layer.featureCount() == len(SERIES)  # one feature per point, nothing duplicated
    assert anim.mode == "interpolated" and anim.limit == 10.0 and anim.step_days == 6
    renderer = layer.renderer()
    assert renderer.classAttribute() == anim.expression
    labels = [r.label() for r in renderer.ranges()]
    assert all(label.endswith(" mm") for label in labels) and labels[0] == "< -8 mm" and labels[-1] == "> +8 mm"
    props = layer.temporalProperties()
    assert props.isActive() and props.mode() == compat.VECTOR_TEMPORAL_REDRAW
    assert layer.customProperty(animation.MODE_PROPERTY) == "interpolated"

    project = QgsProject()
    navigation = QgsTemporalNavigationObject()
    animation.set_project_time(project, anim, navigation)
    extent = project.timeSettings().temporalRange()
    assert extent.begin() == _utc(DATES[0]) and extent.end() == _utc(DATES[-1] + dt.timedelta(days=6))
    assert project.timeSettings().timeStep() == 6.0
    assert project.timeSettings().timeStepUnit() == compat.TEMPORAL_DAYS
    assert navigation.navigationMode() == compat.NAVIGATION_ANIMATED
    assert navigation.totalFrameCount() == len(DATES)  # one frame per date, the last one starting on the last date
    for k, d in enumerate(DATES):
        assert navigation.dateTimeRangeForFrameNumber(k).begin() == _utc(d)


def _ramp_colour(value, limit=10.0, n_classes=10):
    """The velocity ramp's class colour of ``value`` (RdBu, classes every 2·limit/n, open-ended ends)."""
    ramp = QgsStyle.defaultStyle().colorRamp("RdBu")
    k = int(np.clip(math.floor((value + limit) / (2 * limit / n_classes)), 0, n_classes - 1))
    return ramp.color(k / (n_classes - 1))


def render_frame(layer, begin, end, size=240):
    """The layer rendered offscreen at the temporal frame [begin, end)."""
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(layer.crs())
    settings.setOutputSize(QSize(size, size // 3))
    settings.setBackgroundColor(QColor("white"))
    settings.setExtent(QgsRectangle(X0 - SPACING / 2, Y0 - SPACING, X0 + (len(SERIES) - 0.5) * SPACING, Y0 + SPACING))
    settings.setIsTemporal(True)
    settings.setTemporalRange(QgsDateTimeRange(begin, end))
    # as the map canvas (and the animation export) does: the map's variables, @map_start_time among them
    context = QgsExpressionContext()
    context.appendScope(QgsExpressionContextUtils.globalScope())
    context.appendScope(QgsExpressionContextUtils.mapSettingsScope(settings))
    settings.setExpressionContext(context)
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    return job.renderedImage(), settings


def _big_squares(layer):
    symbol = QgsMarkerSymbol.createSimple({"name": "square", "size": "8", "outline_style": "no"})
    layer.renderer().updateSymbols(symbol)  # keeps the class colours


@pytest.mark.parametrize("mode", timeline.MODES)
def test_rendered_frames_show_the_ramp_colour_of_the_displacement(qgis_app, mode):
    layer = _layer()
    animation.animate_layer(layer, mode)
    _big_squares(layer)
    values = _values()
    frames = [dt.date(2020, 1, 3), dt.date(2020, 1, 12), dt.date(2020, 1, 25)]
    seen = set()
    for day in frames:
        image, settings = render_frame(layer, _utc(day), _utc(day + dt.timedelta(days=6)))
        expected = timeline.values_at(values, DATES, day, mode)
        for i, value in enumerate(expected):
            pixel = settings.mapToPixel().transform(QgsPointXY(X0 + i * SPACING, Y0))
            got = QColor(image.pixel(int(round(pixel.x())), int(round(pixel.y()))))
            if math.isnan(value):
                assert got.name() == "#ffffff", (day, i)
                continue
            want = _ramp_colour(value)
            assert max(abs(got.red() - want.red()), abs(got.green() - want.green()),
                       abs(got.blue() - want.blue())) <= 2, (day, i, value, got.name(), want.name())
            seen.add(want.name())
    assert len(seen) >= 6  # the frames really differ


# -------------------------------------------------------------------------------------- bad input
def test_problem_messages(qgis_app):
    assert "No layer selected" in animation.animation_problem(None)
    assert "not a vector layer" in animation.animation_problem(QgsRasterLayer("", "raster"))
    assert "not a point layer" in animation.animation_problem(_layer(geometry="LineString"))
    no_dates = QgsVectorLayer("Point?crs=EPSG:3035&field=pid:string&field=height:double", "plain", "memory")
    assert "has no displacement dates" in animation.animation_problem(no_dates)
    assert "has no displacement dates" in animation.animation_problem(_layer(kind="string"))  # text "dates"
    assert "single date field" in animation.animation_problem(_layer([[1.0]], DATES[:1]))
    assert animation.animation_problem(_layer()) is None
    with pytest.raises(ValueError, match="not a point layer"):
        animation.animate_layer(_layer(geometry="LineString"))


class _Bar:
    def __init__(self):
        self.messages = []

    def pushMessage(self, title, text, level=None, duration=None):  # noqa: N802
        self.messages.append((title, text, level))


class _Iface:
    def __init__(self, layer):
        self.layer, self.bar = layer, _Bar()

    def activeLayer(self):  # noqa: N802
        return self.layer

    def messageBar(self):  # noqa: N802
        return self.bar

    def mapCanvas(self):  # noqa: N802
        return None


def test_run_action_reports_bad_input_in_the_message_bar(qgis_app):
    from qgis.core import Qgis

    for layer, words in ((None, "No layer selected"), (_layer(geometry="LineString"), "not a point layer")):
        iface = _Iface(layer)
        assert animation.run_action(iface) is None
        [(title, text, level)] = iface.bar.messages
        assert title == "Animate displacement" and words in text and level == Qgis.MessageLevel.Warning


def test_run_action_animates_the_active_layer(qgis_app, qgis_iface):
    layer = _layer()
    QgsProject.instance().addMapLayer(layer)
    try:
        qgis_iface.setActiveLayer(layer)
        anim = animation.run_action(qgis_iface)
        assert anim is not None and anim.mode == "interpolated"
        assert QgsProject.instance().timeSettings().temporalRange().begin() == _utc(DATES[0])
        layer.setCustomProperty(animation.MODE_PROPERTY, "nearest")  # the layer's last choice is kept
        assert animation.run_action(qgis_iface).mode == "nearest"
    finally:
        QgsProject.instance().removeMapLayer(layer.id())
