"""Displacement series shown in the dock: the data, and the arithmetic done on them before plotting.

No QGIS here (the dock reads features into :class:`Series`; :mod:`.plot` draws
:class:`PlottedSeries`), so everything the user sees as a number is computed in
one place and exported as plotted.

Conventions: values in mm (LOS displacement positive towards the satellite, or
vertical/east for Ortho layers), NaN = NULL date (a gap in the plot); model
curves and statistics come from :mod:`..core.stats` — the same code as
``egms:fittimeseries``.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np

SECONDS_PER_DAY = 86400.0
_EPOCH = dt.date(1970, 1, 1).toordinal()


def to_timestamps(dates):
    """POSIX seconds (UTC midnight) of dates: the x values of the plot's date axis."""
    return (np.array([d.toordinal() for d in dates], dtype=np.float64) - _EPOCH) * SECONDS_PER_DAY


def from_timestamp(seconds):
    """``datetime.date`` of a plot x value (POSIX seconds), rounded to the nearest day."""
    return dt.date.fromordinal(int(round(seconds / SECONDS_PER_DAY)) + _EPOCH)


def values_from_attributes(attributes):
    """float64 array of attribute values; NULL, empty and non-numeric values become NaN."""
    try:  # the usual case: numbers and None only
        return np.array(attributes, dtype=np.float64)
    except (TypeError, ValueError):
        pass
    out = np.empty(len(attributes), dtype=np.float64)
    for k, value in enumerate(attributes):
        kind = type(value)
        if kind is float or kind is int:
            out[k] = value
        elif kind is str:
            try:
                out[k] = float(value)
            except ValueError:
                out[k] = math.nan
        else:  # QVariant NULL, None, bool-like oddities
            out[k] = math.nan
    return out


def values_from_rows(rows):
    """float64 (n_rows, n_values) of attribute rows, as :func:`values_from_attributes` row by row."""
    try:
        return np.array(rows, dtype=np.float64).reshape(len(rows), -1)
    except (TypeError, ValueError):
        return np.vstack([values_from_attributes(row) for row in rows])


@dataclass
class Series:
    """One displacement series read from a layer: a point, or the mean of the points in an area."""

    layer_id: str
    layer_name: str
    point_id: str
    dates: list
    values: np.ndarray
    rmse: float | None = None  # mm, for error bars (points only)
    std: np.ndarray | None = None  # mm per date, area series only (population std over the points)
    count: np.ndarray | None = None  # valid points per date, area series only
    n_points: int = 1
    capped: bool = False  # area: more points were inside than were read
    fids: list = field(default_factory=list)
    geometry: object = None  # QgsGeometry in layer CRS (the point, or the area), for map highlights
    member_geometry: object = None  # QgsGeometry (multipoint) of the points of an area

    @property
    def is_area(self):
        return self.std is not None

    @property
    def label(self):
        return f"{self.layer_name} · {self.point_id}"

    def key(self):
        """Identity of a series for "already plotted?" checks."""
        return (self.layer_id, self.point_id, tuple(self.fids[:3]), len(self.fids))


def area_series(values, dates, **kwargs):
    """Mean series of an area from ``values`` (n_points, n_dates): mean, population std, count per date."""
    values = np.asarray(values, dtype=np.float64)
    count = np.isfinite(values).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        total = np.nansum(values, axis=0)
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
        dev = np.where(np.isfinite(values), values - mean, 0.0)
        std = np.where(count > 0, np.sqrt((dev * dev).sum(axis=0) / np.maximum(count, 1)), np.nan)
    return Series(dates=list(dates), values=mean, std=std, count=count, n_points=values.shape[0], **kwargs)


def reference_on(reference, dates):
    """Reference values at ``dates``: exact on shared dates, linear in time between the reference's
    valid dates otherwise, NaN outside its span (a series of another geometry/layer)."""
    ref_x = np.array([d.toordinal() for d in reference.dates], dtype=np.float64)
    ref_y = np.asarray(reference.values, dtype=np.float64)
    ok = np.isfinite(ref_y)
    x = np.array([d.toordinal() for d in dates], dtype=np.float64)
    if not ok.any():
        return np.full(x.size, np.nan)
    out = np.interp(x, ref_x[ok], ref_y[ok])
    out[(x < ref_x[ok][0]) | (x > ref_x[ok][-1])] = np.nan
    lookup = dict(zip(reference.dates, ref_y))
    for k, d in enumerate(dates):  # exact where the date exists (NaN there stays a gap)
        if d in lookup:
            out[k] = lookup[d]
    return out


def linear_trend(values, dates):
    """The straight line ``v·t + c`` of the EGMS linear + seasonal model (the mean velocity), on ``dates``.

    Subtracting it ("detrend") leaves the seasonal and non-linear motion; None when too few dates.
    """
    from ..core.egms import stats

    fit = stats.fit_model(values, dates, "linear")
    if fit is None:
        return None
    coef = fit[0]
    t = stats.egms_time(dates)
    return coef[0] * t + coef[1]


@dataclass
class PlottedSeries:
    """What the plot shows for one series, after reference and detrend, with its model."""

    series: Series
    colour: str  # "#rrggbb"
    x: np.ndarray  # POSIX seconds
    y: np.ndarray  # mm, NaN gaps
    std: np.ndarray | None = None
    model_name: str | None = None
    model_x: np.ndarray | None = None  # dense curve for drawing
    model_y: np.ndarray | None = None
    model_on_dates: np.ndarray | None = None  # the model at the series' dates (CSV)
    model_summary: dict | None = None  # core.stats.model_summary of the fitted coefficients
    statistics: dict | None = None  # EGMS statistics of y (core.stats.egms_statistics)
    note: str = ""  # why there is no model/statistics, if so

    @property
    def label(self):
        return self.series.label


def model_dates(dates, step_days=3):
    """A dense daily grid (every ``step_days``) from the first to the last date, for smooth model curves."""
    first, last = dates[0].toordinal(), dates[-1].toordinal()
    grid = [dt.date.fromordinal(o) for o in range(first, last + 1, step_days)]
    if grid[-1] != dates[-1]:
        grid.append(dates[-1])
    return grid


def prepare(series, colour, reference=None, detrend=False, model=None, wavelength_m=None):
    """The :class:`PlottedSeries` of ``series``: minus the reference, detrended, with its model and statistics."""
    from ..core.egms import stats

    y = np.array(series.values, dtype=np.float64)
    if reference is not None:
        y = y - reference_on(reference, series.dates)
    if detrend:
        trend = linear_trend(y, series.dates)
        if trend is not None:
            y = y - trend
    out = PlottedSeries(series=series, colour=colour, x=to_timestamps(series.dates), y=y,
                        std=None if series.std is None else np.array(series.std, dtype=np.float64))
    valid = int(np.isfinite(y).sum())
    if valid < stats.MIN_DATES:
        out.note = f"{valid} valid dates: too few for a model (needs {stats.MIN_DATES})"
        return out
    kwargs = {} if wavelength_m is None else {"wavelength_m": wavelength_m}
    s = stats.egms_statistics(y[None, :], series.dates, **kwargs)
    out.statistics = {key: float(value[0]) for key, value in s.items()}
    if model:
        dense = model_dates(series.dates)
        fit = stats.fit_model(y, series.dates, model, eval_dates=dense)
        if fit is not None:
            coef, curve = fit
            out.model_name = model
            out.model_x = to_timestamps(dense)
            out.model_y = curve
            out.model_on_dates = stats.design_matrix(stats.egms_time(series.dates), model) @ coef
            out.model_summary = stats.model_summary(coef, model)
    return out


def summary_text(plotted, label=None):
    """One line per series: EGMS velocity ± std, acceleration ± std, seasonality ± std, RMSE."""
    label = plotted.label if label is None else label
    s = plotted.statistics
    if s is None:
        return f"{label}: {plotted.note}"
    if not math.isfinite(s["mean_velocity"]):
        return f"{label}: gaps leave the model undetermined"
    text = (f"{label}: v = {s['mean_velocity']:.2f} ± {s['mean_velocity_std']:.2f} mm/yr, "
            f"a = {s['acceleration']:.2f} ± {s['acceleration_std']:.2f} mm/yr², "
            f"seasonality = {s['seasonality']:.1f} ± {s['seasonality_std']:.1f} mm, RMSE = {s['rmse']:.1f} mm")
    m = plotted.model_summary
    if m is not None:
        text += f"; {plotted.model_name} model: v₀ = {m['velocity']:.2f} mm/yr"
        if m["acceleration"] is not None:
            text += f", a = {m['acceleration']:.2f} mm/yr²"
        text += f", seasonal {m['seasonality']:.1f} mm"
    if plotted.series.is_area and plotted.series.point_id not in label:  # the label usually says it already
        text += f" (mean of {plotted.series.n_points} points{', capped' if plotted.series.capped else ''})"
    return text
