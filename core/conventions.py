"""The project's physical conventions — one formula, one place.

Signs and units (DESIGN §7, pinned by ``tests/core/test_conventions.py``):

* LOS displacement and velocity are positive **towards the satellite**
  (uplift reads positive in a pure-vertical case); mm and mm/yr.
* SLC phase is ``-(4π/λ)·(one-way range)``.  The interferogram of
  acquisitions i, k is ``I_ik = s_i · conj(s_k)``; its phase φ_ik relates to
  the LOS displacement by ``d_k − d_i = −λ/(4π) · φ_ik`` (dolphin, MintPy).
* A height error Δh (true minus DEM height, m) appears on date k as the
  apparent LOS displacement ``B⊥,k · Δh / (R · sin θ)`` (MintPy's DEM-error
  model), B⊥,k relative to the reference date.
* LOS unit vector ground → satellite for a right-looking sensor with heading α
  (flight direction, clockwise from north) and incidence θ:
  ``(east, north, up) = (−sin θ cos α, sin θ sin α, cos θ)``.
* Time for velocity estimation is years = days / 365.25 from the first date;
  the published EGMS statistics recipe uses days / 365
  (:data:`EGMS_DAYS_PER_YEAR`).
"""

from __future__ import annotations

import datetime as _dt

import numpy as np

SPEED_OF_LIGHT = 299_792_458.0
"""m/s"""
SENTINEL1_FREQUENCY = 5.405e9
"""Hz, Sentinel-1 C-band centre frequency."""
SENTINEL1_WAVELENGTH = SPEED_OF_LIGHT / SENTINEL1_FREQUENCY
"""m, = 0.0554657647…"""

DAYS_PER_YEAR = 365.25
"""Time axis of the velocity estimation (Julian year)."""
EGMS_DAYS_PER_YEAR = 365.0
"""Time axis of the published EGMS statistics recipe (kept as published)."""

DATE_FORMAT = "%Y%m%d"


# ---------------------------------------------------------------- phase <-> mm
def phase_to_mm(phase, wavelength=SENTINEL1_WAVELENGTH):
    """LOS displacement change (mm) ``d_k − d_i`` of an interferogram phase φ_ik (rad).

    ``d_k − d_i = −λ/(4π) · φ_ik``, positive towards the satellite.
    """
    return np.asarray(phase) * (-wavelength * 1000.0 / (4.0 * np.pi))


def mm_to_phase(mm, wavelength=SENTINEL1_WAVELENGTH):
    """Interferogram phase φ_ik (rad, unwrapped) of a displacement change ``d_k − d_i`` (mm)."""
    return np.asarray(mm) * (-4.0 * np.pi / (wavelength * 1000.0))


def slc_phase(one_way_range_m, wavelength=SENTINEL1_WAVELENGTH):
    """Phase (rad) of an SLC pixel at the given one-way range (m): ``−4π/λ · r``."""
    return np.asarray(one_way_range_m) * (-4.0 * np.pi / wavelength)


def rad_per_mm(wavelength=SENTINEL1_WAVELENGTH):
    """Phase scale 4π/λ in rad per mm of LOS displacement (the magnitude of :func:`mm_to_phase`'s factor).

    >>> round(rad_per_mm(), 6)
    0.226561
    """
    return 4.0 * np.pi / (wavelength * 1000.0)


def half_wavelength_mm(wavelength=SENTINEL1_WAVELENGTH):
    """λ/2 in mm: the LOS displacement of one 2π phase cycle (27.7 mm for Sentinel-1)."""
    return wavelength * 1000.0 / 2.0


# ---------------------------------------------------------------- height error
def height_error_mm(bperp_m, height_error_m, slant_range_m, incidence_deg):
    """Apparent LOS displacement (mm) of a height error: ``B⊥ · Δh / (R · sin θ)``.

    ``bperp_m`` relative to the reference date; broadcasts over arrays.
    """
    sin_inc = np.sin(np.deg2rad(incidence_deg))
    return np.asarray(bperp_m) * np.asarray(height_error_m) / (np.asarray(slant_range_m) * sin_inc) * 1000.0


def height_error_factor_mm_per_m(bperp_m, slant_range_m, incidence_deg):
    """mm of apparent LOS displacement per metre of height error, per date."""
    return height_error_mm(bperp_m, 1.0, slant_range_m, incidence_deg)


# ---------------------------------------------------------------- LOS geometry
def los_vector(incidence_deg, heading_deg):
    """Unit LOS vector ground → satellite ``(east, north, up)`` for a right-looking sensor.

    ``heading_deg`` is the flight direction clockwise from north (≈ −10°
    ascending, ≈ 190° descending); broadcasts over arrays.
    """
    inc = np.deg2rad(incidence_deg)
    head = np.deg2rad(heading_deg)
    return (-np.sin(inc) * np.cos(head), np.sin(inc) * np.sin(head), np.cos(inc))


def project_to_los(east, north, up, los_east, los_north, los_up):
    """LOS component of a 3-D motion: ``E·los_east + N·los_north + U·los_up``."""
    return east * los_east + north * los_north + up * los_up


def orbit_from_los_east(los_east):
    """``'ascending'`` when the LOS points west (los_east < 0), else ``'descending'``."""
    return "ascending" if float(np.nanmedian(np.asarray(los_east, dtype=float))) < 0 else "descending"


# ---------------------------------------------------------------- time axis
def parse_date(text):
    """``datetime.date`` of a ``YYYYMMDD`` string."""
    return _dt.datetime.strptime(text, DATE_FORMAT).date()


def format_date(date):
    return date.strftime(DATE_FORMAT)


def day_numbers(dates, origin=None):
    """Days (float64 array) of a sequence of ``datetime.date`` since ``origin`` (a date; default day 1 of year 1,
    i.e. proleptic Gregorian ordinals) — the one place where calendar dates become a time axis.

    >>> day_numbers([_dt.date(2020, 1, 3), _dt.date(2020, 1, 15)], origin=_dt.date(2020, 1, 1)).tolist()
    [2.0, 14.0]
    """
    ordinals = np.fromiter((d.toordinal() for d in dates), dtype=np.float64)
    return ordinals - origin.toordinal() if origin is not None else ordinals


def days_since_first(dates):
    """Days from the first date (float64 array) of a sequence of ``datetime.date``."""
    ordinals = day_numbers(dates)
    return ordinals - ordinals[0] if ordinals.size else ordinals


def years_since_first(dates, days_per_year=DAYS_PER_YEAR):
    """Years from the first date; ``days / 365.25`` unless told otherwise."""
    return days_since_first(dates) / days_per_year
