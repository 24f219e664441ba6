"""The pyqtgraph plot widget: date axis, gaps, band, hover readout, exports."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from qgis.PyQt.QtCore import QPoint
from qgis.PyQt.QtGui import QImage
from qgis.PyQt.QtWidgets import QApplication

from egms_plugin.layers.series import Series, area_series, prepare, to_timestamps
from egms_plugin.ui.plot import TimeSeriesPlot

DATES = [dt.date(2019, 12, 30) + dt.timedelta(days=6 * k) for k in range(60)]


def _point(values, pid="A1", rmse=1.2):
    return Series(layer_id="L", layer_name="asc", point_id=pid, dates=list(DATES), values=np.asarray(values, float),
                  rmse=rmse)


@pytest.fixture
def plot(qgis_app):
    widget = TimeSeriesPlot()
    widget.resize(900, 400)
    widget.show()
    QApplication.processEvents()
    yield widget
    widget.clear()
    widget.deleteLater()


def test_date_axis_is_utc_midnight_of_each_date(plot):
    import pyqtgraph as pg

    assert isinstance(plot.plot_item.getAxis("bottom"), pg.DateAxisItem)
    x = to_timestamps([dt.date(1970, 1, 2), dt.date(2020, 1, 3)])
    assert x[0] == 86400.0
    assert dt.datetime.fromtimestamp(x[1], dt.timezone.utc) == dt.datetime(2020, 1, 3, tzinfo=dt.timezone.utc)
    y = np.linspace(0, -20, len(DATES))
    plot.show_series([prepare(_point(y), "#1f77b4")])
    QApplication.processEvents()
    ticks = plot.date_axis.tickStrings(list(to_timestamps([dt.date(2020, 1, 1), dt.date(2020, 7, 1)])), 1.0,
                                       86400.0 * 365)
    assert ticks == ["2020", "2020"] or all("2020" in t for t in ticks)


def test_gaps_and_hover_readout(plot):
    y = np.linspace(0, -20, len(DATES))
    y[[10, 11]] = np.nan
    plotted = prepare(_point(y), "#d62728", model="linear")
    plot.show_series([plotted])
    drawn = plot.drawn[0]
    assert drawn.data.opts["connect"] == "finite"  # NULL dates break the line
    np.testing.assert_array_equal(drawn.data.getOriginalDataset()[1], y)
    text = plot.readout_at(to_timestamps([DATES[20]])[0] + 3600, y[20] + 0.01)
    assert text.startswith(f"{DATES[20].isoformat()}   {y[20]:+.1f} mm")
    assert "model" in text and "asc · A1" in text
    # the nearest *valid* point answers near a gap
    text = plot.readout_at(to_timestamps([DATES[10]])[0], y[9])
    assert DATES[10].isoformat() not in text


def test_area_band_is_mean_plus_minus_std(plot):
    rng = np.random.default_rng(0)
    values = rng.normal(0, 2, (30, len(DATES))) + np.linspace(0, -15, len(DATES))
    values[:5, 3] = np.nan
    s = area_series(values, DATES, layer_id="L", layer_name="asc", point_id="mean of 30 points")
    plot.show_series([prepare(s, "#2ca02c")])
    drawn = plot.drawn[0]
    lo, hi = (c.yData for c in drawn.band.curves)
    np.testing.assert_allclose(lo, np.nanmean(values, 0) - np.nanstd(values, 0), rtol=1e-12)
    np.testing.assert_allclose(hi, np.nanmean(values, 0) + np.nanstd(values, 0), rtol=1e-12)
    assert s.count[3] == 25 and s.count[4] == 30
    assert "n = 25" in plot.readout_at(to_timestamps([DATES[3]])[0], float(np.nanmean(values[:, 3])))


def test_png_export_is_not_blank(plot, tmp_path):
    y = 5 * np.sin(np.arange(len(DATES)) / 6.0)
    plot.show_series([prepare(_point(y), "#1f77b4", model="cubic")], error_bars=True, replica_mm=27.7)
    path = plot.export_png(str(tmp_path / "p.png"), width=800)
    image = QImage(path)
    assert image.width() == 800 and image.height() > 200
    pixels = np.array([[image.pixelColor(x, y).value() for x in range(0, 800, 5)]
                       for y in range(0, image.height(), 5)], dtype=float)
    assert pixels.std() > 10  # drawn curves on a white background
    blue = sum(image.pixelColor(x, y).name() == "#1f77b4" for x in range(0, 800, 2) for y in range(0, image.height(), 2))
    assert blue > 50  # the series colour is in the picture


def _viewport_pixel(plot, x, y):
    """The viewport pixel of view coordinates (x s, y mm)."""
    from qgis.PyQt.QtCore import QPointF

    scene = plot.plot_item.vb.mapViewToScene(QPointF(x, y))
    return plot.widget.mapFromScene(scene)


def _hover(plot, pixel):
    """A real mouse move (no button) to a viewport pixel, after pyqtgraph's rate limit for move events.

    Sent to the plot's window (QWindow overload of QTest.mouseMove), which hands it to the widget under the
    pixel as for a real mouse: the QWidget overload moves the cursor instead, and on the offscreen platform
    the move then goes to whichever top-level window lies under it (the canvas tests leave one open)."""
    import pyqtgraph as pg
    from qgis.PyQt.QtTest import QTest

    QTest.qWait(int(1000 / pg.getConfigOption("mouseRateLimit")) + 5)  # faster moves are dropped, as for a real mouse
    window = plot.window()
    QTest.mouseMove(window.windowHandle(), plot.widget.viewport().mapTo(window, pixel))
    QApplication.processEvents()


def test_hover_readout_follows_a_real_mouse(plot):
    """Mouse moves on the plot's viewport (no button): the readout names the date, value, model and series."""
    y = np.round(np.linspace(0, -20, len(DATES)) + 3 * np.sin(np.arange(len(DATES)) / 5.0), 1)
    point = prepare(_point(y, pid="A7"), "#d95f02", model="linear")
    other = prepare(_point(y + 40.0, pid="B2"), "#1b9e77")
    plot.show_series([point, other])
    QApplication.processEvents()
    plot.plot_item.vb.setRange(xRange=(point.x[0], point.x[-1]), yRange=(-30, 50), padding=0)
    QApplication.processEvents()
    for k in (7, 33):
        _hover(plot, _viewport_pixel(plot, point.x[k], point.y[k]))
        text = plot.readout.text()
        assert f"{DATES[k].isoformat()}   {y[k]:+.1f} mm" in text, text
        assert f"model {point.model_on_dates[k]:+.1f} mm" in text and "asc · A7" in text, text
        assert list(plot.marker.getData()[0]) == [point.x[k]] and list(plot.marker.getData()[1]) == [y[k]]
    # over the other series: its value, no model (none fitted for it)
    _hover(plot, _viewport_pixel(plot, other.x[20], other.y[20]))
    text = plot.readout.text()
    assert f"{DATES[20].isoformat()}   {y[20] + 40.0:+.1f} mm" in text and "asc · B2" in text and "model" not in text
    # outside the plotting area (on the axis) the readout stays as it was
    _hover(plot, _viewport_pixel(plot, point.x[0], point.y[0]) + QPoint(-60, 0))
    assert plot.readout.text() == text


def test_removing_the_plots_items_prints_nothing(plot, capfd):
    """pyqtgraph's "unable to convert a QVariant" message is silenced for the plot's own items only."""
    import pyqtgraph as pg
    from pyqtgraph.graphicsItems.GraphicsObject import GraphicsObject

    assert GraphicsObject.itemChange.__qualname__ == "GraphicsObject.itemChange"  # pyqtgraph's class untouched
    foreign = pg.PlotDataItem([0.0, 1.0], [0.0, 1.0])  # another pyqtgraph user's item, in the same session
    plot.plot_item.addItem(foreign)
    capfd.readouterr()
    plot.plot_item.removeItem(foreign)
    QApplication.processEvents()
    if "unable to convert a QVariant back to a Python object" not in capfd.readouterr().err:
        pytest.skip("this PyQt/pyqtgraph converts the null scene: nothing to silence")

    rng = np.random.default_rng(1)
    values = rng.normal(0, 2, (12, len(DATES)))
    area = prepare(area_series(values, DATES, layer_id="L", layer_name="asc", point_id="mean of 12 points"), "#1b9e77",
                   model="cubic")
    point = prepare(_point(np.linspace(0, -9, len(DATES))), "#d95f02", model="linear")
    plot.show_series([area, point], error_bars=True, replica_mm=27.7)  # band, replicas, error bars, models
    plot.readout_at(point.x[5], point.y[5])  # the hover marker holds a point
    QApplication.processEvents()
    capfd.readouterr()
    plot.show_series([point])  # removes every item drawn before
    plot.clear()
    QApplication.processEvents()
    err = capfd.readouterr().err
    assert "QVariant" not in err and "Traceback" not in err, err
