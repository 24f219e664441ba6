"""The arithmetic of the displacement animation, without QGIS: frame time → displacement.

:mod:`.animation` colours a point layer by an expression that QGIS evaluates for
every feature at every Temporal Controller frame; this module writes that
expression from the layer's date fields and holds its numpy twin
(:func:`values_at`), so what the map shows can be checked against numbers.

Time axis: days since 1970-01-01 UTC (a date's value sits at its UTC midnight);
the frame's time is the start of the frame, ``@map_start_time``.  Two modes:

* ``"interpolated"`` (default): linear in time between the two dates around the
  frame's time; when one of the two is NULL, the value of the other (the nearer
  one first); clamped to the first/last date outside the series.
* ``"nearest"``: the value of the nearest date (a tie goes to the later date);
  NULL there leaves the point undrawn for that frame.

When the map is not temporal (the Temporal Controller off) the expression shows
the last date.  The expression is a balanced tree of ``CASE`` tests (depth
log2 of the number of dates), so each feature costs a few comparisons per frame
even for 300 dates.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from .series import SECONDS_PER_DAY, to_timestamps

MODES = ("interpolated", "nearest")
DEFAULT_MODE = "interpolated"
TIME_VARIABLE = "egms_t"
"""Expression variable holding the frame time (days since 1970-01-01 UTC)."""


def day_numbers(dates):
    """float64 days since 1970-01-01 (UTC midnight) of ``datetime.date`` values."""
    return to_timestamps(dates) / SECONDS_PER_DAY


def day_number(when):
    """Days since 1970-01-01 UTC of a ``date`` or a ``datetime`` (naive = UTC), with the fraction of the day."""
    if isinstance(when, dt.datetime):
        if when.tzinfo is not None:
            when = when.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return (when - dt.datetime(1970, 1, 1)).total_seconds() / SECONDS_PER_DAY
    return float(day_numbers([when])[0])


def quoted_field(name):
    """A field reference for a QGIS expression (what ``QgsExpression.quotedColumnRef`` writes)."""
    return '"' + name.replace('"', '""') + '"'


def _number(x):
    return repr(float(x))


def _check(fields, mode):
    if mode not in MODES:
        raise ValueError(f"unknown animation mode {mode!r} (one of {', '.join(MODES)})")
    if len(fields) < 2:
        raise ValueError("an animation needs at least two date fields")
    days = day_numbers([d for _n, d in fields])
    if np.any(np.diff(days) <= 0):
        raise ValueError("date fields must be sorted by date, without repeats")
    return days


def displacement_expression(fields, mode=DEFAULT_MODE):
    """QGIS expression of the displacement at the frame's time.

    ``fields``: ``[(name, date), …]`` sorted by date (as :func:`core.io.points.date_fields` returns them).
    """
    days = _check(fields, mode)
    names = [quoted_field(n) for n, _d in fields]
    t = "@" + TIME_VARIABLE
    if mode == "nearest":
        def node(lo, hi):  # dates lo .. hi-1
            if hi - lo == 1:
                return names[lo]
            m = (lo + hi) // 2
            middle = _number((days[m - 1] + days[m]) / 2.0)
            return f"CASE WHEN {t} < {middle} THEN {node(lo, m)} ELSE {node(m, hi)} END"

        tree = node(0, len(names))
    else:
        def leaf(i):  # between date i and date i + 1
            a, b = names[i], names[i + 1]
            w = f"(({t} - {_number(days[i])}) / {_number(days[i + 1] - days[i])})"
            return (f"coalesce({a} + ({b} - {a}) * {w}, "
                    f"CASE WHEN {w} < 0.5 THEN coalesce({a}, {b}) ELSE coalesce({b}, {a}) END)")

        def node(lo, hi):  # segments lo .. hi-1
            if hi - lo == 1:
                return leaf(lo)
            m = (lo + hi) // 2
            return f"CASE WHEN {t} <= {_number(days[m])} THEN {node(lo, m)} ELSE {node(m, hi)} END"

        tree = node(0, len(names) - 1)
    frame = f"coalesce(epoch(@map_start_time) / {_number(SECONDS_PER_DAY * 1000.0)}, {_number(days[-1])})"
    clamped = f"clamp({_number(days[0])}, {frame}, {_number(days[-1])})"
    return f"with_variable('{TIME_VARIABLE}', {clamped}, {tree})"


def values_at(values, dates, when, mode=DEFAULT_MODE):
    """numpy twin of :func:`displacement_expression`: the displacement of every point at ``when``.

    ``values``: (n_points, n_dates) mm, NaN = NULL; ``dates`` sorted; ``when`` a date/datetime (naive = UTC) or
    None (the map not temporal: the last date).  Returns float64 (n_points,), NaN where the map draws nothing.
    """
    values = np.atleast_2d(np.asarray(values, dtype=np.float64))
    days = day_numbers(dates)
    t = days[-1] if when is None else min(max(day_number(when), days[0]), days[-1])
    if mode not in MODES:
        raise ValueError(f"unknown animation mode {mode!r}")
    if mode == "nearest":
        k = 0
        for m in range(1, days.size):  # the same midpoint tests as the expression (a tie → later date)
            if t >= (days[m - 1] + days[m]) / 2.0:
                k = m
        return values[:, k].copy()
    i = int(np.clip(np.searchsorted(days, t, side="left") - 1, 0, days.size - 2))  # t in (d_i, d_i+1]
    w = (t - days[i]) / (days[i + 1] - days[i])
    a, b = values[:, i], values[:, i + 1]
    out = a + (b - a) * w
    near, far = (a, b) if w < 0.5 else (b, a)
    fallback = np.where(np.isfinite(near), near, far)
    return np.where(np.isfinite(out), out, fallback)


def time_step_days(dates):
    """The animation step: the median spacing of the dates in whole days (≥ 1) — 6 or 12 for Sentinel-1."""
    days = day_numbers(dates)
    if days.size < 2:
        return 1
    return max(1, int(round(float(np.median(np.diff(days))))))
