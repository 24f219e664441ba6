"""Each convention of DESIGN §7 pinned by a number."""

import numpy as np
import pytest

from egms_plugin.core import conventions as cv


def test_sentinel1_wavelength():
    assert pytest.approx(0.0554657647, abs=1e-10) == cv.SENTINEL1_WAVELENGTH
    assert cv.half_wavelength_mm() == pytest.approx(27.7328824, abs=1e-6)


def test_phase_to_mm_sign_and_scale():
    # φ_ik = −4π/λ·(d_k − d_i): a phase of −π is a quarter wavelength towards the satellite
    assert cv.phase_to_mm(-np.pi) == pytest.approx(cv.SENTINEL1_WAVELENGTH * 1000 / 4, rel=1e-12)
    d = np.array([-30.0, -1.0, 0.0, 2.5, 13.8])
    np.testing.assert_allclose(cv.phase_to_mm(cv.mm_to_phase(d)), d, rtol=1e-12)


def test_slc_phase_and_interferogram_convention():
    # range shrinks by d (motion towards the satellite): phase of s_i conj(s_k) = −4π/λ (d_k − d_i)
    lam, r0, d_i, d_k = cv.SENTINEL1_WAVELENGTH, 850000.0, 0.001, 0.004  # metres
    s_i = np.exp(1j * cv.slc_phase(r0 - d_i))
    s_k = np.exp(1j * cv.slc_phase(r0 - d_k))
    phi = np.angle(s_i * np.conj(s_k))
    assert phi == pytest.approx(-4 * np.pi / lam * (d_k - d_i), abs=1e-6)
    assert cv.phase_to_mm(phi) == pytest.approx((d_k - d_i) * 1000, abs=1e-6)


def test_height_error_term():
    # B⊥ 100 m, Δh 10 m, R 850 km, θ 39° → 100·10/(850000·sin39°) m
    expected = 100 * 10 / (850000 * np.sin(np.deg2rad(39))) * 1000
    assert cv.height_error_mm(100, 10, 850000, 39) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(1.8695, abs=1e-4)


def test_los_vector_ascending_descending():
    e, n, u = cv.los_vector(38.0, -10.0)  # ascending: looks east, LOS points west
    assert e == pytest.approx(-np.sin(np.deg2rad(38)) * np.cos(np.deg2rad(-10)))
    assert e < -0.6 and n < 0 and u == pytest.approx(np.cos(np.deg2rad(38)))
    e, n, u = cv.los_vector(37.31, 191.42)  # the real descending file: 0.594, -0.12, 0.795
    assert (e, n, u) == pytest.approx((0.594, -0.120, 0.795), abs=2e-3)
    assert np.hypot(np.hypot(e, n), u) == pytest.approx(1.0)
    assert cv.orbit_from_los_east([0.59, 0.6]) == "descending"
    assert cv.orbit_from_los_east([-0.6]) == "ascending"


def test_projection_uplift_positive():
    e, n, u = cv.los_vector(39.0, 190.0)
    assert cv.project_to_los(0.0, 0.0, 10.0, e, n, u) == pytest.approx(10 * np.cos(np.deg2rad(39)))


def test_time_axes():
    import datetime as dt

    dates = [dt.date(2020, 1, 1), dt.date(2021, 1, 1), dt.date(2022, 1, 1)]
    np.testing.assert_allclose(cv.years_since_first(dates), [0, 366 / 365.25, 731 / 365.25])
    np.testing.assert_allclose(cv.days_since_first(dates) / cv.EGMS_DAYS_PER_YEAR, [0, 366 / 365, 731 / 365])
