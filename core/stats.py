"""EGMS time-series statistics — the exact published recipe (EGMS_FORMAT §4).

One module used by the velocity chain, ``egms:fittimeseries``, the Ortho
decomposition and the time-series dock.  With ``t`` = days since the first
date / 365 and y the displacement in mm, ordinary least squares of:

* cubic + seasonal ``[t³, t², t, 1, cos 2πt, sin 2πt]`` → ``rmse``
  (RMS residual), ``seasonality`` (amplitude of the annual term) and
  ``seasonality_std = sqrt((4 − π)/2 · (Q55 + Q66)/2) · rmse``;
* linear + seasonal ``[t, 1, cos, sin]`` → ``mean_velocity`` (mm/yr) and
  ``mean_velocity_std = sqrt(inv(GᵀG)[t,t]) · std(residual)``;
* quadratic + seasonal ``[t²/2, t, 1, cos, sin]`` → ``acceleration``
  (mm/yr²) and its std likewise;
* ``temporal_coherence = |mean(exp(j·4π/λ·r))|`` over the linear + seasonal
  residuals r.

NaN dates are dropped per point.  Points are processed in chunks and grouped by
their pattern of valid dates, so the usual case (no gaps) costs a few matrix
products per chunk.

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

import numpy as np

from .conventions import EGMS_DAYS_PER_YEAR, SENTINEL1_WAVELENGTH, days_since_first

STAT_FIELDS = (
    "rmse",
    "temporal_coherence",
    "mean_velocity",
    "mean_velocity_std",
    "acceleration",
    "acceleration_std",
    "seasonality",
    "seasonality_std",
)
"""Statistics computed by :func:`egms_statistics`, under their EGMS column names."""

MODELS = ("linear", "quadratic", "cubic")
"""Time-series models (each + annual seasonal term)."""

MIN_DATES = 7
"""Fewest valid dates for statistics (6 parameters of the cubic model + 1)."""


def egms_time(dates):
    """EGMS time axis: days since the first date / 365 (float64)."""
    return days_since_first(dates) / EGMS_DAYS_PER_YEAR


def design_matrix(t, model):
    """Design matrix of a model + annual seasonal term on time ``t`` (years).

    ``linear``: ``[t, 1, cos, sin]``; ``quadratic``: ``[t²/2, t, 1, cos, sin]``;
    ``cubic``: ``[t³, t², t, 1, cos, sin]`` — the column orders of the recipe.
    """
    t = np.asarray(t, dtype=np.float64)
    c, s = np.cos(2 * np.pi * t), np.sin(2 * np.pi * t)
    one = np.ones_like(t)
    if model == "linear":
        cols = (t, one, c, s)
    elif model == "quadratic":
        cols = (t * t / 2.0, t, one, c, s)
    elif model == "cubic":
        cols = (t**3, t**2, t, one, c, s)
    else:
        raise ValueError(f"unknown model {model!r}; expected one of {MODELS}")
    return np.stack(cols, axis=1)


# column of the coefficient of interest in each model
_RATE_COLUMN = {"linear": 0, "quadratic": 0}
_SEASON_COLUMNS = {"linear": (2, 3), "quadratic": (3, 4), "cubic": (4, 5)}


def _fit_shared(y, t, wavelength_mm):
    """Statistics for rows of ``y`` (no NaN) sharing the time axis ``t``; dict of arrays."""
    out = {}
    n = t.size
    g3 = design_matrix(t, "cubic")
    q3 = np.linalg.inv(g3.T @ g3)
    c3 = y @ (q3 @ g3.T).T
    r3 = y - c3 @ g3.T
    rmse = np.sqrt(np.mean(r3 * r3, axis=1))
    out["rmse"] = rmse
    out["seasonality"] = np.hypot(c3[:, 4], c3[:, 5])
    out["seasonality_std"] = np.sqrt((4.0 - np.pi) / 2.0 * (q3[4, 4] + q3[5, 5]) / 2.0) * rmse

    g1 = design_matrix(t, "linear")
    q1 = np.linalg.inv(g1.T @ g1)
    c1 = y @ (q1 @ g1.T).T
    r1 = y - c1 @ g1.T
    out["mean_velocity"] = c1[:, 0]
    out["mean_velocity_std"] = np.sqrt(q1[0, 0]) * np.std(r1, axis=1)
    phase = r1 * (4.0 * np.pi / wavelength_mm)
    out["temporal_coherence"] = np.hypot(np.cos(phase).sum(axis=1), np.sin(phase).sum(axis=1)) / n

    g2 = design_matrix(t, "quadratic")
    q2 = np.linalg.inv(g2.T @ g2)
    c2 = y @ (q2 @ g2.T).T
    r2 = y - c2 @ g2.T
    out["acceleration"] = c2[:, 0]
    out["acceleration_std"] = np.sqrt(q2[0, 0]) * np.std(r2, axis=1)
    return out


def _conditioned(t):
    """True when the cubic + seasonal model is determined on ``t``."""
    if t.size < MIN_DATES:
        return False
    g3 = design_matrix(t, "cubic")
    return np.linalg.matrix_rank(g3) == g3.shape[1]


def egms_statistics(displacement_mm, dates, wavelength_m=SENTINEL1_WAVELENGTH, chunk_size=20000, progress=None):
    """EGMS statistics of every row of ``displacement_mm`` (n_points, n_dates).

    Parameters
    ----------
    displacement_mm : array_like (n_points, n_dates)
        LOS (or vertical/east) displacement in mm; NaN marks a missing date.
    dates : sequence of datetime.date, length n_dates.
    wavelength_m : float
        Radar wavelength for the temporal coherence (Sentinel-1 by default).

    Returns
    -------
    dict of float64 arrays (n_points,) keyed by :data:`STAT_FIELDS`; NaN where a
    point has fewer than :data:`MIN_DATES` valid dates or an ill-posed model.
    """
    y_all = np.asarray(displacement_mm)
    if y_all.ndim != 2 or y_all.shape[1] != len(dates):
        raise ValueError(f"displacement must be (n_points, {len(dates)}), got {y_all.shape}")
    t_all = egms_time(dates)
    wavelength_mm = wavelength_m * 1000.0
    n_points = y_all.shape[0]
    out = {k: np.full(n_points, np.nan) for k in STAT_FIELDS}
    for start in range(0, n_points, chunk_size):
        stop = min(start + chunk_size, n_points)
        y = np.asarray(y_all[start:stop], dtype=np.float64)
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
            for key, value in _fit_shared(yy, t, wavelength_mm).items():
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
        t_eval = (np.array([d.toordinal() for d in eval_dates], dtype=np.float64) - dates[0].toordinal()) / EGMS_DAYS_PER_YEAR
    return coef, design_matrix(t_eval, model) @ coef


def model_summary(coefficients, model):
    """Velocity (mm/yr), acceleration (mm/yr², None for linear) and seasonal amplitude (mm) of fit coefficients."""
    c = np.asarray(coefficients)
    cs, ss = _SEASON_COLUMNS[model]
    if model == "linear":
        velocity, acceleration = c[0], None
    elif model == "quadratic":
        velocity, acceleration = c[1], c[0]
    else:  # cubic: derivative at t = 0 of t³·a + t²·b + t·v
        velocity, acceleration = c[2], 2.0 * c[1]
    return {"velocity": float(velocity), "acceleration": None if acceleration is None else float(acceleration),
            "seasonality": float(np.hypot(c[cs], c[ss]))}
