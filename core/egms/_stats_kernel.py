"""The compiled EGMS statistics kernel (numba): one fused pass per point over its dates.

Private to :mod:`.stats` (which imports this module only when a large table is
fitted, so numba is never imported with the plugin).  :func:`stats_rows` fills
the statistics of a range of rows; threads of :func:`.stats._fit_compiled` run
it on disjoint ranges (no GIL).  It gives the numbers of the numpy path of
:mod:`.stats` to ~1e-12 (``tests/core/egms/test_stats.py``).

The numbers of published products depend on this code's exact floating-point
form: the literal sizes 6, 4, 5 and 15 are the column counts of the cubic,
linear and quadratic models and of their stacked pseudo-inverses (checked by
the caller), kept literal so that the compiled loops stay the same.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(nogil=True, cache=True, error_model="numpy", fastmath={"reassoc", "contract"})
def stats_rows(y, start, stop, g3, g1, g2, p_all, factors, phase_scale, min_dates, columns, out):  # pragma: no cover
    """Statistics of rows ``start:stop`` of ``y`` into ``out`` (8, n) in :data:`.stats.STAT_FIELDS` order,
    except row 7, which receives the seasonal variance ``Q_cos,cos + Q_sin,sin`` of the row's cubic model
    (the caller turns it into ``seasonality_std`` with :func:`.stats.seasonality_std_factor`).

    ``g*`` are the transposed design matrices (k, m) of the cubic, linear and quadratic models; complete rows
    use their shared pseudo-inverses ``inv(GᵀG)·Gᵀ`` stacked in ``p_all`` (15, m) and ``factors`` =
    (seasonal variance of the cubic model, sqrt(inv(G1ᵀG1)[v, v]), sqrt(inv(G2ᵀG2)[a, a])); rows with NaN
    solve their own normal equations on their valid dates.  ``columns`` = (v, a, cos, sin): the column of
    the velocity in the linear model, of the acceleration in the quadratic model, of the annual cos and sin
    terms in the cubic model (:data:`.stats.LINEAR`, :data:`.stats.QUADRATIC`, :data:`.stats.CUBIC`).
    """
    i_vel, i_acc, i_cos, i_sin = columns[0], columns[1], columns[2], columns[3]
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
            q_season, f1, f2 = factors[0], factors[1], factors[2]
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
                    q_season = work[i_cos, q + i_cos] + work[i_sin, q + i_sin]
                elif model == 1:
                    f1 = np.sqrt(work[i_vel, q + i_vel])
                else:
                    f2 = np.sqrt(work[i_acc, q + i_acc])
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
        out[2, i] = c1[i_vel]
        out[3, i] = f1 * np.sqrt(max(s2_1 / nv - (s1_1 / nv) ** 2, 0.0))
        out[4, i] = c2[i_acc]
        out[5, i] = f2 * np.sqrt(max(s2_2 / nv - (s1_2 / nv) ** 2, 0.0))
        out[6, i] = np.sqrt(c3[i_cos] * c3[i_cos] + c3[i_sin] * c3[i_sin])
        out[7, i] = q_season
