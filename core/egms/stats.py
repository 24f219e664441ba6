"""EGMS time-series statistics — the exact published recipe (ARCHITECTURE.md, EGMS statistics recipe).

One module used by the velocity chain, ``egms:fittimeseries``, the Ortho
decomposition and the time-series dock.  With ``t`` = days since the first
date / 365 and y the displacement in mm, ordinary least squares of:

* cubic + seasonal ``[t³, t², t, 1, cos 2πt, sin 2πt]`` → ``rmse``
  (RMS residual), ``seasonality`` (amplitude of the annual term) and
  ``seasonality_std = sqrt((4 − π)/2 · (Q_cos,cos + Q_sin,sin)/2) · rmse``
  (:func:`seasonality_std_factor`);
* linear + seasonal ``[t, 1, cos, sin]`` → ``mean_velocity`` (mm/yr) and
  ``mean_velocity_std = sqrt(inv(GᵀG)[t,t]) · std(residual)``;
* quadratic + seasonal ``[t²/2, t, 1, cos, sin]`` → ``acceleration``
  (mm/yr²) and its std likewise;
* ``temporal_coherence = |mean(exp(j·4π/λ·r))|`` over the linear + seasonal
  residuals r.

The column order of each model is named once, in :data:`LINEAR`,
:data:`QUADRATIC` and :data:`CUBIC` (:class:`ModelLayout`): code that picks a
coefficient or a diagonal entry of ``inv(GᵀG)`` asks the layout for its index.

NaN dates are dropped per point.  Large tables (≥ :data:`NUMBA_MIN_POINTS` points)
go through a compiled kernel (:mod:`._stats_kernel`) when numba is installed —
one fused pass per point, rows split over threads, gaps solved per point —
about 100 000 points × 300 dates per second on two cores; otherwise points are
processed in chunks with numpy, grouped by their pattern of valid dates.  Both
give the same numbers.

Example
-------
>>> import datetime as dt, numpy as np
>>> dates = [dt.date(2020, 1, 1) + dt.timedelta(days=12 * k) for k in range(60)]
>>> t = (np.arange(60) * 12) / 365.0
>>> s = egms_statistics((5.0 * t)[None, :], dates)
>>> round(float(s["mean_velocity"][0]), 6)
5.0
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..conventions import EGMS_DAYS_PER_YEAR, SENTINEL1_WAVELENGTH, day_numbers, days_since_first, rad_per_mm
from .format import STATISTIC_COLUMNS

STAT_FIELDS = STATISTIC_COLUMNS
"""Statistics computed by :func:`egms_statistics`, under their EGMS column names (:mod:`.format`)."""


class ModelLayout(NamedTuple):
    """The columns of one model's design matrix — and so of its coefficients — in the recipe's order.

    ``terms`` name the columns: ``"t3"`` (t³), ``"t2"`` (t²), ``"t2/2"`` (t²/2), ``"t"``, ``"1"``,
    ``"cos"`` and ``"sin"`` (of 2πt).

    >>> LINEAR.velocity, QUADRATIC.acceleration, (CUBIC.cos, CUBIC.sin), CUBIC.index("t2")
    (0, 0, (4, 5), 1)
    """

    model: str
    terms: tuple

    @property
    def n_columns(self):
        return len(self.terms)

    def index(self, term):
        """Column of ``term``."""
        return self.terms.index(term)

    @property
    def velocity(self):
        """Column of ``t``: the coefficient is the velocity (mm/yr; at t = 0 for the higher orders)."""
        return self.index("t")

    @property
    def acceleration(self):
        """Column of ``t²/2`` (quadratic model): the coefficient is the acceleration (mm/yr²)."""
        return self.index("t2/2")

    @property
    def cos(self):
        """Column of the annual ``cos 2πt`` term."""
        return self.index("cos")

    @property
    def sin(self):
        """Column of the annual ``sin 2πt`` term."""
        return self.index("sin")


LINEAR = ModelLayout("linear", ("t", "1", "cos", "sin"))
"""Linear + seasonal: ``[t, 1, cos 2πt, sin 2πt]`` → ``mean_velocity``."""
QUADRATIC = ModelLayout("quadratic", ("t2/2", "t", "1", "cos", "sin"))
"""Quadratic + seasonal: ``[t²/2, t, 1, cos 2πt, sin 2πt]`` → ``acceleration``."""
CUBIC = ModelLayout("cubic", ("t3", "t2", "t", "1", "cos", "sin"))
"""Cubic + seasonal: ``[t³, t², t, 1, cos 2πt, sin 2πt]`` → ``rmse``, ``seasonality``."""
LAYOUTS = {layout.model: layout for layout in (LINEAR, QUADRATIC, CUBIC)}

MODELS = tuple(LAYOUTS)
"""Time-series models (each + annual seasonal term): ``("linear", "quadratic", "cubic")``."""

MIN_DATES = 7
"""Fewest valid dates for statistics (6 parameters of the cubic model + 1)."""


def egms_time(dates):
    """EGMS time axis: days since the first date / 365 (float64)."""
    return days_since_first(dates) / EGMS_DAYS_PER_YEAR


def _column(term, t, c, s):
    if term == "t3":
        return t**3
    if term == "t2":
        return t**2
    if term == "t2/2":
        return t * t / 2.0
    if term == "t":
        return t
    if term == "1":
        return np.ones_like(t)
    return c if term == "cos" else s


def design_matrix(t, model):
    """Design matrix of a model + annual seasonal term on time ``t`` (years), columns as its :class:`ModelLayout`.

    ``linear``: ``[t, 1, cos, sin]``; ``quadratic``: ``[t²/2, t, 1, cos, sin]``;
    ``cubic``: ``[t³, t², t, 1, cos, sin]`` — the column orders of the recipe.
    """
    layout = LAYOUTS.get(model)
    if layout is None:
        raise ValueError(f"unknown model {model!r}; expected one of {MODELS}")
    t = np.asarray(t, dtype=np.float64)
    c, s = np.cos(2 * np.pi * t), np.sin(2 * np.pi * t)
    return np.stack([_column(term, t, c, s) for term in layout.terms], axis=1)


def seasonal_variance(q):
    """``Q_cos,cos + Q_sin,sin`` of ``q = inv(G3ᵀG3)`` of the cubic model (per unit residual variance)."""
    return q[CUBIC.cos, CUBIC.cos] + q[CUBIC.sin, CUBIC.sin]


def seasonality_std_factor(q_season):
    """``sqrt((4 − π)/2 · q_season/2)``: ``seasonality_std`` per mm of ``rmse``, ``q_season`` from
    :func:`seasonal_variance` (the std of the amplitude of a two-component Gaussian, EGMS recipe)."""
    return np.sqrt((4.0 - np.pi) / 2.0 * q_season / 2.0)


def first_date_reference(series_mm, dates):
    """Series (n_points, n_dates) referred in time to the first date: 0 there, the rest shifted by the model.

    EGMS refers a series to the value of its cubic + seasonal model at the first
    date (in published files that model value is 0 and the first sample is not);
    the plugin's convention (ARCHITECTURE.md, conventions) is a first sample of exactly 0.  Every
    date is shifted by the model value at the first date — a fit over all dates,
    so the noise of one acquisition (its residual atmosphere) does not offset
    the whole series — and the first sample, the temporal reference, is then set
    to 0.  Returns a new float64 array; rows with NaN, or a time axis too short
    for the model, are shifted by their first sample instead.

    >>> import datetime as dt
    >>> dates = [dt.date(2020, 1, 1) + dt.timedelta(days=12 * k) for k in range(60)]
    >>> y = 5.0 + 2.0 * egms_time(dates)            # 2 mm/yr from 5 mm
    >>> y[0] += 3.0                                   # a noisy first acquisition
    >>> r = first_date_reference(y[None, :], dates)[0]
    >>> float(r[0]), round(float(r[30] - 2.0 * egms_time(dates)[30]), 2)   # 30 % of the 3 mm
    (0.0, -0.9)
    """
    y = np.array(series_mm, dtype=np.float64, copy=True)
    if y.ndim != 2 or y.shape[1] == 0:
        return y
    t = egms_time(dates)
    shift = y[:, 0].copy()
    if _conditioned(t):
        g = design_matrix(t, "cubic")
        row = g[0] @ np.linalg.pinv(g)  # model value at the first date, as weights on the samples
        ok = np.isfinite(y).all(axis=1)
        shift[ok] = y[ok] @ row
    y -= shift[:, None]
    y[:, 0] = 0.0
    return y


def _fit_shared(y, t, phase_scale):
    """Statistics for rows of ``y`` (no NaN) sharing the time axis ``t``; dict of arrays.

    ``phase_scale``: rad per mm (4π/λ) for the temporal coherence."""
    out = {}
    n = t.size
    g3 = design_matrix(t, "cubic")
    q3 = np.linalg.inv(g3.T @ g3)
    c3 = y @ (q3 @ g3.T).T
    r3 = y - c3 @ g3.T
    rmse = np.sqrt(np.mean(r3 * r3, axis=1))
    out["rmse"] = rmse
    out["seasonality"] = np.hypot(c3[:, CUBIC.cos], c3[:, CUBIC.sin])
    out["seasonality_std"] = seasonality_std_factor(seasonal_variance(q3)) * rmse

    g1 = design_matrix(t, "linear")
    q1 = np.linalg.inv(g1.T @ g1)
    c1 = y @ (q1 @ g1.T).T
    r1 = y - c1 @ g1.T
    v = LINEAR.velocity
    out["mean_velocity"] = c1[:, v]
    out["mean_velocity_std"] = np.sqrt(q1[v, v]) * np.std(r1, axis=1)
    phase = r1 * phase_scale
    out["temporal_coherence"] = np.hypot(np.cos(phase).sum(axis=1), np.sin(phase).sum(axis=1)) / n

    g2 = design_matrix(t, "quadratic")
    q2 = np.linalg.inv(g2.T @ g2)
    c2 = y @ (q2 @ g2.T).T
    r2 = y - c2 @ g2.T
    a = QUADRATIC.acceleration
    out["acceleration"] = c2[:, a]
    out["acceleration_std"] = np.sqrt(q2[a, a]) * np.std(r2, axis=1)
    return out


# ---------------------------------------------------------------- compiled kernel (optional, large tables)
NUMBA_MIN_POINTS = 2000
"""From this many points :func:`egms_statistics` uses the compiled kernel when numba is available."""


_KERNEL = []


def _kernel():
    """The compiled kernel (:func:`._stats_kernel.stats_rows`), or None without numba (imported only here)."""
    if not _KERNEL:
        try:
            from ._stats_kernel import stats_rows
        except ImportError:
            _KERNEL.append(None)
        else:
            _KERNEL.append(stats_rows)
    return _KERNEL[0]


def _fit_compiled(kernel, y, t, phase_scale, out, offset):
    """Fill ``out[key][offset:offset + len(y)]`` with the kernel, rows split over threads."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    g_t, p_rows = [], []
    factors = np.empty(3)
    for layout, size in ((CUBIC, 6), (LINEAR, 4), (QUADRATIC, 5)):  # the kernel's literal sizes
        assert layout.n_columns == size
        g = design_matrix(t, layout.model)
        q = np.linalg.inv(g.T @ g)
        g_t.append(np.ascontiguousarray(g.T))
        p_rows.append(q @ g.T)
        if layout is CUBIC:
            factors[0] = seasonal_variance(q)
        elif layout is LINEAR:
            factors[1] = np.sqrt(q[LINEAR.velocity, LINEAR.velocity])
        else:
            factors[2] = np.sqrt(q[QUADRATIC.acceleration, QUADRATIC.acceleration])
    mats = (*g_t, np.ascontiguousarray(np.vstack(p_rows)))
    columns = np.array([LINEAR.velocity, QUADRATIC.acceleration, CUBIC.cos, CUBIC.sin], dtype=np.int64)
    n = y.shape[0]
    res = np.full((len(STAT_FIELDS), n), np.nan)
    threads = max(1, min(os.cpu_count() or 1, n // 500))
    bounds = np.linspace(0, n, 4 * threads + 1).astype(np.int64)
    args = (*mats, factors, phase_scale, MIN_DATES, columns, res)
    if threads == 1:
        kernel(y, 0, n, *args)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda ab: kernel(y, ab[0], ab[1], *args), zip(bounds[:-1], bounds[1:])))
    res[7] = seasonality_std_factor(res[7]) * res[0]  # the kernel leaves the seasonal variance in row 7
    for j, key in enumerate(STAT_FIELDS):
        out[key][offset:offset + n] = res[j]


def _conditioned(t):
    """True when the cubic + seasonal model is determined on ``t``."""
    if t.size < MIN_DATES:
        return False
    g3 = design_matrix(t, "cubic")
    return np.linalg.matrix_rank(g3) == g3.shape[1]


# argument checks, then the small-table and the threaded numba path (C901)
def egms_statistics(displacement_mm, dates, wavelength_m=SENTINEL1_WAVELENGTH, chunk_size=20000, progress=None,  # noqa: C901
                    engine="auto"):
    """EGMS statistics of every row of ``displacement_mm`` (n_points, n_dates).

    Parameters
    ----------
    displacement_mm : array_like (n_points, n_dates)
        LOS (or vertical/east) displacement in mm; NaN marks a missing date.
    dates : sequence of datetime.date, length n_dates.
    wavelength_m : float
        Radar wavelength for the temporal coherence (Sentinel-1 by default).
    engine : "auto", "numpy" or "numba"
        "auto" uses the compiled kernel (threads, no GIL) from :data:`NUMBA_MIN_POINTS` points when numba
        is installed, else numpy; both give the same numbers to ~1e-12.

    Returns
    -------
    dict of float64 arrays (n_points,) keyed by :data:`STAT_FIELDS`; NaN where a
    point has fewer than :data:`MIN_DATES` valid dates or an ill-posed model.
    """
    y_all = np.asarray(displacement_mm)
    if y_all.ndim != 2 or y_all.shape[1] != len(dates):
        raise ValueError(f"displacement must be (n_points, {len(dates)}), got {y_all.shape}")
    t_all = egms_time(dates)
    phase_scale = rad_per_mm(wavelength_m)
    n_points = y_all.shape[0]
    out = {k: np.full(n_points, np.nan) for k in STAT_FIELDS}
    kernel = None
    if engine == "numba" or (engine == "auto" and n_points >= NUMBA_MIN_POINTS):
        kernel = _kernel()
        if kernel is None and engine == "numba":
            raise ImportError("numba is not installed")
    elif engine not in ("auto", "numpy"):
        raise ValueError(f"engine must be 'auto', 'numpy' or 'numba', not {engine!r}")
    for start in range(0, n_points, chunk_size):
        stop = min(start + chunk_size, n_points)
        y = np.ascontiguousarray(y_all[start:stop], dtype=np.float64)
        if kernel is not None:
            if _conditioned(t_all):
                _fit_compiled(kernel, y, t_all, phase_scale, out, start)
            if progress is not None:
                progress.check()
                progress.update(stop / max(n_points, 1))
            continue
        valid = np.isfinite(y)
        full = valid.all(axis=1)
        groups = []
        if full.all():
            groups.append((np.arange(stop - start), None))
        else:
            if full.any():
                groups.append((np.flatnonzero(full), None))
            rest = np.flatnonzero(~full)
            patterns, inverse = np.unique(np.packbits(valid[rest], axis=1), axis=0, return_inverse=True)
            inverse = inverse.ravel()
            order = np.argsort(inverse, kind="stable")
            bounds = np.searchsorted(inverse[order], np.arange(patterns.shape[0] + 1))
            for p in range(patterns.shape[0]):
                rows = rest[order[bounds[p]:bounds[p + 1]]]
                groups.append((rows, valid[rows[0]]))
        for rows, mask in groups:
            t = t_all if mask is None else t_all[mask]
            if not _conditioned(t):
                continue
            yy = y[rows] if mask is None else y[np.ix_(rows, np.flatnonzero(mask))]
            for key, value in _fit_shared(yy, t, phase_scale).items():
                out[key][start + rows] = value
        if progress is not None:
            progress.check()
            progress.update(stop / max(n_points, 1))
    return out


def fit_model(displacement_mm, dates, model="linear", eval_dates=None):
    """Least-squares model (with annual term) of one series, for plotting.

    Returns ``(coefficients, curve)``: coefficients in the column order of
    :func:`design_matrix` and the model evaluated on ``eval_dates`` (default:
    ``dates``).  NaN dates are ignored; None when fewer than the model's
    parameters + 1 dates are valid.
    """
    y = np.asarray(displacement_mm, dtype=np.float64)
    t = egms_time(dates)
    ok = np.isfinite(y)
    g = design_matrix(t[ok], model)
    if ok.sum() <= g.shape[1]:
        return None
    coef, *_ = np.linalg.lstsq(g, y[ok], rcond=None)
    if eval_dates is None:
        t_eval = t
    else:
        t_eval = day_numbers(eval_dates, origin=dates[0]) / EGMS_DAYS_PER_YEAR
    return coef, design_matrix(t_eval, model) @ coef


def model_summary(coefficients, model):
    """Velocity (mm/yr), acceleration (mm/yr², None for linear) and seasonal amplitude (mm) of fit coefficients."""
    c = np.asarray(coefficients)
    layout = LAYOUTS[model]
    if layout is LINEAR:
        acceleration = None
    elif layout is QUADRATIC:
        acceleration = c[QUADRATIC.acceleration]
    else:  # cubic: second derivative at t = 0 of c·t³ + b·t² + v·t
        acceleration = 2.0 * c[CUBIC.index("t2")]
    return {"velocity": float(c[layout.velocity]), "acceleration": None if acceleration is None else float(acceleration),
            "seasonality": float(np.hypot(c[layout.cos], c[layout.sin]))}
