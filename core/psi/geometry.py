"""Acquisition geometry of the candidates: time axis, height-error factor, incidence and heading.

The chain's model of an arc or a point is ``v · t_k + u · f_k`` (mm): ``t`` years since the first date
(:func:`~egms_plugin.core.conventions.years_since_first`), ``f`` the apparent LOS displacement of one metre
of height error on each date (:func:`~egms_plugin.core.conventions.height_error_factor_mm_per_m`, B⊥
relative to the first date) at one reference incidence.  With per-pixel incidence the height error of a
point is ``u · height_scale`` (the factor scales with 1 / sin θ).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import conventions as cv


@dataclass
class Geometry:
    """Time axis and geometry of a set of candidates (see the module docstring)."""

    t: np.ndarray            # years since first date
    days: np.ndarray
    f0: np.ndarray | None    # mm per m of height error at the reference incidence (B⊥ relative to the first date)
    incidence: np.ndarray | None   # per candidate (deg) or None
    heading: float | None
    height_scale: np.ndarray | None  # h = u · height_scale per point (per-pixel incidence)


def acquisition_geometry(stack, lines, pixels, params, progress):
    """:class:`Geometry` of the candidates at ``lines``, ``pixels`` of ``stack``.

    ``f0`` is None — height errors are not estimated, with a note or a warning saying why — when
    ``params.estimate_height`` is off, the stack has no baselines, the slant range or the incidence is
    unknown, or all baselines are equal.
    """
    g = stack.geometry
    days = cv.days_since_first(stack.dates)
    t = cv.years_since_first(stack.dates)
    incidence = stack.incidence_at(lines, pixels)
    f0 = scale = None
    if params.estimate_height and stack.bperp is not None:
        missing = [n for n, v in (("slant range (SLANT_RANGE)", g.slant_range_m),
                                  ("incidence angle (INCIDENCE_ANGLE)", g.incidence_deg if incidence is None else 1.0))
                   if v is None]
        if missing:
            progress.warn(f"{stack.folder}: baselines.csv is present but the {' and '.join(missing)} is unknown "
                          "(stack.json or the parameters); height errors are not estimated.")
        elif np.ptp(stack.bperp) <= 0:
            progress.warn(f"{stack.folder}: all perpendicular baselines are equal; height errors are not estimated.")
        else:
            inc_ref = float(g.incidence_deg) if g.incidence_deg is not None else float(np.median(incidence))
            f0 = cv.height_error_factor_mm_per_m(stack.bperp - stack.bperp[0], g.slant_range_m, inc_ref)
            f0 = np.asarray(f0, dtype=np.float64)
            if incidence is not None:
                scale = np.sin(np.deg2rad(incidence)) / np.sin(np.deg2rad(inc_ref))
    elif params.estimate_height:
        progress.info(f"{stack.folder}: no baselines.csv — height errors are not estimated.")
    return Geometry(t=t, days=days, f0=f0, incidence=incidence, heading=g.heading_deg, height_scale=scale)
