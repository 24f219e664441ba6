"""Phase arithmetic for the PSI numba kernels: fast sin/cos and atan2, phasor rotation, angles.

Polynomial :func:`sincos` and :func:`atan2` (no libm call, accurate to a few ulp) and three loops over
1-D arrays built on them.  The loops live in small functions of 1-D arrays on purpose: LLVM vectorises
them there (4 lanes), not when they are inlined into a larger kernel.  Called from the kernels of
:mod:`.arcs`, :mod:`.integration` and :mod:`.atmosphere`; from Python they work as well:

>>> import numpy as np
>>> re, im = np.ones(2), np.zeros(2)
>>> rotate(re, im, np.array([0.0, np.pi / 2]))
>>> np.round(re, 12).tolist(), np.round(im, 12).tolist()
([1.0, 0.0], [0.0, -1.0])
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(nogil=True, cache=True, inline="always")
def sincos(x):
    """(sin x, cos x) to 2e−16 for |x| ≪ 1e6: Cody–Waite reduction by π/2, Taylor polynomials on ±π/4.

    About 5× faster than ``math.sin`` + ``math.cos`` in numba loops (no call, no int conversion).
    """
    k = np.floor(x * 0.6366197723675814 + 0.5)
    r = (x - k * 1.5707963267341256) - k * 6.077100506506192e-11
    r2 = r * r
    s = r + r * r2 * (-1.0 / 6.0 + r2 * (1.0 / 120.0 + r2 * (-1.0 / 5040.0 + r2 * (1.0 / 362880.0 + r2 * (
        -1.0 / 39916800.0 + r2 * (1.0 / 6227020800.0 + r2 * (-1.0 / 1307674368000.0)))))))
    c = 1.0 + r2 * (-0.5 + r2 * (1.0 / 24.0 + r2 * (-1.0 / 720.0 + r2 * (1.0 / 40320.0 + r2 * (
        -1.0 / 3628800.0 + r2 * (1.0 / 479001600.0 + r2 * (-1.0 / 87178291200.0 + r2 * (1.0 / 20922789888000.0))))))))
    q = k - 4.0 * np.floor(k * 0.25)  # quadrant 0..3 (np.floor stays a float: the loops vectorise)
    odd = q == 1.0 or q == 3.0
    sa = c if odd else s
    ca = s if odd else c
    sa = -sa if q >= 2.0 else sa
    ca = -ca if (q == 1.0 or q == 2.0) else ca
    return sa, ca


@numba.njit(nogil=True, cache=True, inline="always")
def atan2(y, x):
    """atan2(y, x) to 2e−15 rad: octant reduction to |z| ≤ tan(π/8), then a degree-17 odd polynomial
    (Chebyshev fit of atan(z)); ~2× faster than ``math.atan2`` in numba loops."""
    ax = abs(x)
    ay = abs(y)
    swap = ay > ax
    mx = ay if swap else ax
    mn = ax if swap else ay
    big = mn > 0.41421356237309503 * mx  # beyond π/8: atan(a) = π/4 + atan((a − 1)/(a + 1))
    num = mn - mx if big else mn
    den = mn + mx if big else mx
    z = num / (den if den > 0.0 else 1.0)  # one division
    s = z * z
    p = (-0.02723288406057488 * s + 0.05168834935919362) * s - 0.0655090730756309
    p = ((p * s + 0.07681045202742948) * s - 0.09090255952690657) * s + 0.11111089649211055
    p = ((p * s - 0.14285713930378566) * s + 0.19999999997724888) * s - 0.3333333333333093
    r = z + z * s * p
    r = r + 0.7853981633974483 if big else r
    r = 1.5707963267948966 - r if swap else r
    r = 3.141592653589793 - r if x < 0.0 else r
    return -r if y < 0.0 else r


@numba.njit(nogil=True, cache=True, error_model="numpy")
def rotate(re, im, phase):
    """``(re + j im) ← (re + j im) · exp(−j phase)`` element-wise, in place."""
    for k in range(re.size):
        s, c = sincos(phase[k])
        r = re[k] * c + im[k] * s
        im[k] = im[k] * c - re[k] * s
        re[k] = r


@numba.njit(nogil=True, cache=True, error_model="numpy")
def product_angles(re, im, ur, ui, out):
    """``out = arg((re + j im) · (ur + j ui))`` element-wise."""
    for k in range(re.size):
        out[k] = atan2(im[k] * ur + re[k] * ui, re[k] * ur - im[k] * ui)


@numba.njit(nogil=True, cache=True, error_model="numpy")
def rotated_angles(re, im, phase, out):
    """``out = arg((re + j im) · exp(−j phase))`` element-wise."""
    for k in range(re.size):
        s, c = sincos(phase[k])
        out[k] = atan2(im[k] * c - re[k] * s, re[k] * c + im[k] * s)
