"""The pyqtgraph plot widget: date axis, gaps, band, hover readout, exports."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from qgis.PyQt.QtGui import QImage
from qgis.PyQt.QtWidgets import QApplication

from egms_plugin.ui.plot import TimeSeriesPlot
from egms_plugin.ui.series import Series, area_series, prepare, to_timestamps

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
