"""The PSI kernels' phase arithmetic (:mod:`egms_plugin.core.psi.phase_kernels`) against numpy."""

import numba
import numpy as np

from egms_plugin.core.psi.phase_kernels import atan2, product_angles, rotate, rotated_angles, sincos


def test_fast_trigonometry_matches_numpy():
    """The kernels' sincos / atan2 (polynomials, no libm call) agree with numpy to a few ulp."""
    @numba.njit
    def apply(x, y):
        out = np.empty((3, x.size))
        for i in range(x.size):
            out[0, i], out[1, i] = sincos(x[i])
            out[2, i] = atan2(y[i], x[i])
        return out

    rng = np.random.default_rng(8)
    x = np.concatenate([rng.uniform(-400, 400, 200000), rng.normal(0, 1, 200000), [0.0, 0.0, -1.0, 1.0, 0.0, 1.0, -2.0]])
    y = np.concatenate([rng.normal(0, 1, 200000), rng.uniform(-400, 400, 200000), [0.0, 1.0, 0.0, 0.0, -2.0, 1.0, 2.0]])
    out = apply(x, y)
    assert np.abs(out[0] - np.sin(x)).max() < 1e-15 and np.abs(out[1] - np.cos(x)).max() < 1e-15
    # within 5e-15 rad, the axes, the diagonals and (0, 0) included
    np.testing.assert_allclose(out[2], np.arctan2(y, x), rtol=0, atol=5e-15)



def test_phasor_loops_match_numpy():
    """rotate, product_angles and rotated_angles are the complex products they say, to float64 rounding."""
    rng = np.random.default_rng(9)
    z = rng.normal(size=500) + 1j * rng.normal(size=500)
    phase = rng.uniform(-50, 50, 500)
    re, im = z.real.copy(), z.imag.copy()
    rotate(re, im, phase)
    np.testing.assert_allclose(re + 1j * im, z * np.exp(-1j * phase), rtol=0, atol=1e-13)
    out = np.empty(500)
    rotated_angles(z.real.copy(), z.imag.copy(), phase, out)
    np.testing.assert_allclose(np.exp(1j * out), np.exp(1j * np.angle(z * np.exp(-1j * phase))), atol=1e-13)
    u = np.exp(0.7j)
    product_angles(z.real.copy(), z.imag.copy(), u.real, u.imag, out)
    np.testing.assert_allclose(np.exp(1j * out), np.exp(1j * np.angle(z * u)), atol=1e-13)
