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

NaN dates are dropped per point.  Large tables (≥ :data:`NUMBA_MIN_POINTS` points)
go through a compiled kernel when numba is installed — one fused pass per point,
rows split over threads, gaps solved per point — about 100 000 points × 300
dates per second on two cores; otherwise points are processed in chunks with
numpy, grouped by their pattern of valid dates.  Both give the same numbers.

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

from ..conventions import EGMS_DAYS_PER_YEAR, SENTINEL1_WAVELENGTH, days_since_first

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


def first_date_reference(series_mm, dates):
    """Series (n_points, n_dates) referred in time to the first date: 0 there, the rest shifted by the model.

    EGMS refers a series to the value of its cubic + seasonal model at the first
    date (in published files that model value is 0 and the first sample is not);
    the plugin's convention (DESIGN §7) is a first sample of exactly 0.  Every
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


# ---------------------------------------------------------------- numba kernel (optional, large tables)
NUMBA_MIN_POINTS = 2000
"""From this many points :func:`egms_statistics` uses the compiled kernel when numba is available."""


def _stats_rows(y, start, stop, g3, g1, g2, p_all, factors, phase_scale, min_dates, out):  # pragma: no cover
    """Statistics of rows ``start:stop`` of ``y`` into ``out`` (8, n) in :data:`STAT_FIELDS` order.

    Compiled lazily by :func:`_kernel` (numba, no GIL).  ``g*`` are the transposed design matrices
    (k, m); complete rows use the shared pseudo-inverses ``inv(GᵀG)·Gᵀ`` of the cubic, linear and
    quadratic models stacked in ``p_all`` (15, m); rows with NaN solve their own normal equations on
    their valid dates.
    """
    m = y.shape[1]
    n_rows = stop - start
    c3 = np.empty(6)
    c1 = np.empty(4)
    c2 = np.empty(5)
    work = np.empty((6, 12))
    valid = np.empty(m, dtype=np.bool_)
    r1 = np.empty(m)
    counts = np.zeros(n_rows, dtype=np.int64)
    full = np.empty(n_rows, dtype=np.int64)
    n_full = 0
    for i in range(start, stop):
        c = 0
        for k in range(m):
            c += np.isfinite(y[i, k])
        counts[i - start] = c
        if c == m:
            full[n_full] = i
            n_full += 1
    # coefficients of the complete rows: four rows per pass over the shared matrices (they stream from
    # cache once for four points), three coefficients per pass
    coefs = np.empty((n_rows, 15))
    b = 0
    while b < n_full:
        i0 = full[b]
        i1 = full[min(b + 1, n_full - 1)]
        i2 = full[min(b + 2, n_full - 1)]
        i3 = full[min(b + 3, n_full - 1)]
        for j in range(0, 15, 3):
            a00 = 0.0
            a01 = 0.0
            a02 = 0.0
            a10 = 0.0
            a11 = 0.0
            a12 = 0.0
            a20 = 0.0
            a21 = 0.0
            a22 = 0.0
            a30 = 0.0
            a31 = 0.0
            a32 = 0.0
            for k in range(m):
                q0 = p_all[j, k]
                q1 = p_all[j + 1, k]
                q2 = p_all[j + 2, k]
                y0 = y[i0, k]
                y1 = y[i1, k]
                y2 = y[i2, k]
                y3 = y[i3, k]
                a00 += q0 * y0
                a01 += q1 * y0
                a02 += q2 * y0
                a10 += q0 * y1
                a11 += q1 * y1
                a12 += q2 * y1
                a20 += q0 * y2
                a21 += q1 * y2
                a22 += q2 * y2
                a30 += q0 * y3
                a31 += q1 * y3
                a32 += q2 * y3
            coefs[i0 - start, j], coefs[i0 - start, j + 1], coefs[i0 - start, j + 2] = a00, a01, a02
            coefs[i1 - start, j], coefs[i1 - start, j + 1], coefs[i1 - start, j + 2] = a10, a11, a12
            coefs[i2 - start, j], coefs[i2 - start, j + 1], coefs[i2 - start, j + 2] = a20, a21, a22
            coefs[i3 - start, j], coefs[i3 - start, j + 1], coefs[i3 - start, j + 2] = a30, a31, a32
        b += 4
    for i in range(start, stop):
        n_valid = counts[i - start]
        if n_valid < min_dates:
            continue
        s2_3 = 0.0
        s1_1 = 0.0
        s2_1 = 0.0
        s1_2 = 0.0
        s2_2 = 0.0
        if n_valid == m:  # shared matrices, branch-free loops (vectorised)
            f3, f1, f2 = factors[0], factors[1], factors[2]
            c3[:] = coefs[i - start, 0:6]
            c1[:] = coefs[i - start, 6:10]
            c2[:] = coefs[i - start, 10:15]
            for k in range(m):
                yk = y[i, k]
                r = yk - (g3[0, k] * c3[0] + g3[1, k] * c3[1] + g3[2, k] * c3[2] + g3[3, k] * c3[3]
                          + g3[4, k] * c3[4] + g3[5, k] * c3[5])
                s2_3 += r * r
                r = yk - (g1[0, k] * c1[0] + g1[1, k] * c1[1] + g1[2, k] * c1[2] + g1[3, k] * c1[3])
                r1[k] = r
                s1_1 += r
                s2_1 += r * r
                r = yk - (g2[0, k] * c2[0] + g2[1, k] * c2[1] + g2[2, k] * c2[2] + g2[3, k] * c2[3]
                          + g2[4, k] * c2[4])
                s1_2 += r
                s2_2 += r * r
            re = 0.0
            im = 0.0
            big = 0.0
            for k in range(m):
                big = max(big, abs(phase_scale * r1[k]))
            if big > 1e5:  # beyond the reduction below (residuals of kilometres): libm
                for k in range(m):
                    phase = phase_scale * r1[k]
                    re += np.cos(phase)
                    im += np.sin(phase)
            else:  # Σ cos, Σ sin to 1 ulp per term, branch-free so it vectorises (fdlibm's reduction/polynomials)
                for k in range(m):
                    x = phase_scale * r1[k]
                    nq = np.floor(x * 0.6366197723675814 + 0.5)
                    z = ((x - nq * 1.57079632673412561417e+00) - nq * 6.07710050630396597660e-11) \
                        - nq * 2.02226624879595063154e-21
                    w = z * z
                    sz = z + z * w * (-1.66666666666666324348e-01 + w * (8.33333333332248946124e-03
                                      + w * (-1.98412698298579493134e-04 + w * (2.75573137070700676789e-06
                                      + w * (-2.50507602534068634195e-08 + w * 1.58969099521155010221e-10)))))
                    cz = 1.0 - 0.5 * w + w * w * (4.16666666666666019037e-02 + w * (-1.38888888888741095749e-03
                                                  + w * (2.48015872894767294178e-05 + w * (-2.75573143513906633035e-07
                                                  + w * (2.08757232129817482790e-09 + w * -1.13596475577881948265e-11)))))
                    quadrant = nq - 4.0 * np.floor(nq * 0.25)  # (cos, sin) → (c, s), (−s, c), (−c, −s), (s, −c)
                    half = np.floor(quadrant * 0.5)
                    odd = quadrant - 2.0 * half
                    sign = 1.0 - 2.0 * half
                    re += sign * (cz - odd * (cz + sz))
                    im += sign * (sz + odd * (cz - sz))
        else:
            for k in range(m):
                valid[k] = np.isfinite(y[i, k])
            ok = True
            for model in range(3):
                g = g3 if model == 0 else (g1 if model == 1 else g2)
                q = g.shape[0]
                for a in range(q):  # [GᵀG | I] over the valid dates, then Gauss-Jordan
                    for b in range(q):
                        acc = 0.0
                        for k in range(m):
                            if valid[k]:
                                acc += g[a, k] * g[b, k]
                        work[a, b] = acc
                        work[a, q + b] = 1.0 if a == b else 0.0
                scale = 0.0
                for a in range(q):
                    scale = max(scale, abs(work[a, a]))
                for col in range(q):
                    piv = col
                    for r in range(col + 1, q):
                        if abs(work[r, col]) > abs(work[piv, col]):
                            piv = r
                    # singular only where numpy's matrix_rank of G would be deficient: σ² ≤ (n·ε)²·σ²max
                    if abs(work[piv, col]) <= scale * (n_valid * 2.220446049250313e-16) ** 2:
                        ok = False
                        break
                    if piv != col:
                        for b in range(2 * q):
                            tmp = work[col, b]
                            work[col, b] = work[piv, b]
                            work[piv, b] = tmp
                    d = work[col, col]
                    for b in range(2 * q):
                        work[col, b] /= d
                    for r in range(q):
                        if r != col:
                            f = work[r, col]
                            if f != 0.0:
                                for b in range(2 * q):
                                    work[r, b] -= f * work[col, b]
                if not ok:
                    break
                c = c3 if model == 0 else (c1 if model == 1 else c2)
                for a in range(q):
                    acc = 0.0
                    for k in range(m):
                        if valid[k]:
                            gy = 0.0
                            for b in range(q):
                                gy += work[a, q + b] * g[b, k]
                            acc += gy * y[i, k]
                    c[a] = acc
                if model == 0:
                    f3 = np.sqrt((4.0 - np.pi) / 2.0 * (work[4, q + 4] + work[5, q + 5]) / 2.0)
                elif model == 1:
                    f1 = np.sqrt(work[0, q + 0])
                else:
                    f2 = np.sqrt(work[0, q + 0])
            if not ok:
                continue
            re = 0.0
            im = 0.0
            for k in range(m):
                if not valid[k]:
                    continue
                yk = y[i, k]
                r = yk
                for j in range(6):
                    r -= g3[j, k] * c3[j]
                s2_3 += r * r
                r = yk
                for j in range(4):
                    r -= g1[j, k] * c1[j]
                s1_1 += r
                s2_1 += r * r
                phase = phase_scale * r
                re += np.cos(phase)
                im += np.sin(phase)
                r = yk
                for j in range(5):
                    r -= g2[j, k] * c2[j]
                s1_2 += r
                s2_2 += r * r
        nv = float(n_valid)
        rmse = np.sqrt(s2_3 / nv)
        out[0, i] = rmse
        out[1, i] = np.sqrt(re * re + im * im) / nv
        out[2, i] = c1[0]
        out[3, i] = f1 * np.sqrt(max(s2_1 / nv - (s1_1 / nv) ** 2, 0.0))
        out[4, i] = c2[0]
        out[5, i] = f2 * np.sqrt(max(s2_2 / nv - (s1_2 / nv) ** 2, 0.0))
        out[6, i] = np.sqrt(c3[4] * c3[4] + c3[5] * c3[5])
        out[7, i] = f3 * rmse


_KERNEL = []


def _kernel():
    """The compiled :func:`_stats_rows`, or None without numba (numba is imported only here)."""
    if not _KERNEL:
        try:
            import numba
        except ImportError:
            _KERNEL.append(None)
        else:
            _KERNEL.append(numba.njit(nogil=True, cache=True, error_model="numpy", fastmath={"reassoc", "contract"})(_stats_rows))
    return _KERNEL[0]


def _fit_compiled(kernel, y, t, wavelength_mm, out, offset):
    """Fill ``out[key][offset:offset + len(y)]`` with the kernel, rows split over threads."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    g_t, p_rows = [], []
    factors = np.empty(3)
    for model in ("cubic", "linear", "quadratic"):
        g = design_matrix(t, model)
        q = np.linalg.inv(g.T @ g)
        g_t.append(np.ascontiguousarray(g.T))
        p_rows.append(q @ g.T)
        if model == "cubic":
            factors[0] = np.sqrt((4.0 - np.pi) / 2.0 * (q[4, 4] + q[5, 5]) / 2.0)
        else:
            factors[1 if model == "linear" else 2] = np.sqrt(q[0, 0])
    mats = (*g_t, np.ascontiguousarray(np.vstack(p_rows)))
    n = y.shape[0]
    res = np.full((len(STAT_FIELDS), n), np.nan)
    threads = max(1, min(os.cpu_count() or 1, n // 500))
    bounds = np.linspace(0, n, 4 * threads + 1).astype(np.int64)
    args = (*mats, factors, 4.0 * np.pi / wavelength_mm, MIN_DATES, res)
    if threads == 1:
        kernel(y, 0, n, *args)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda ab: kernel(y, ab[0], ab[1], *args), zip(bounds[:-1], bounds[1:])))
    for j, key in enumerate(STAT_FIELDS):
        out[key][offset:offset + n] = res[j]


def _conditioned(t):
    """True when the cubic + seasonal model is determined on ``t``."""
    if t.size < MIN_DATES:
        return False
    g3 = design_matrix(t, "cubic")
    return np.linalg.matrix_rank(g3) == g3.shape[1]


def egms_statistics(displacement_mm, dates, wavelength_m=SENTINEL1_WAVELENGTH, chunk_size=20000, progress=None,
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
    wavelength_mm = wavelength_m * 1000.0
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
                _fit_compiled(kernel, y, t_all, wavelength_mm, out, start)
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
