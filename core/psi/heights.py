"""Atmosphere and height errors of the unwrapped series: the atmospheric filter length, and the split of
a per-date screen from the scatterers' height errors (step 7 of the chain, :mod:`.chain`).

Series are LOS mm (positive towards the satellite), height-error terms ``u`` m at the reference incidence
(:class:`.geometry.Geometry`), filter lengths m.
"""

from __future__ import annotations

import numpy as np

MIN_APS_FILTER_M = 100.0
"""Shortest automatic atmospheric filter length (σ, m)."""


def with_aps_filter(p, x, y, progress):
    """``p`` (:class:`.chain.PsiParameters`) with the automatic atmospheric filter length resolved: twice the
    median distance between neighbouring points ``x``, ``y`` (m), at least :data:`MIN_APS_FILTER_M`."""
    if p.aps_filter_m > 0:
        return p
    from dataclasses import replace

    from scipy.spatial import cKDTree

    dist, _ = cKDTree(np.column_stack([x, y])).query(np.column_stack([x, y]), k=2)
    sigma = max(MIN_APS_FILTER_M, 2.0 * float(np.median(dist[:, 1])))
    progress.info(f"atmospheric filter: σ = {sigma:.0f} m in space, {p.aps_window_days:g} days in time")
    return replace(p, aps_filter_m=sigma)


def heights_and_screen(observed, vel, x, y, geometry, p, progress, neighbours=None):
    """Height-error term u (m) and atmospheric screen (mm) of unwrapped series ``observed`` (mm).

    A per-date atmosphere projects on the baseline pattern like a height error
    does; they differ only in space: the atmosphere is smooth, height errors of
    scatterers are not.  The per-point fit ``u0`` of ``observed`` is split into
    its spatially smooth part (Gaussian of σ = ``height_filter_m``, the point
    itself excluded), attributed to the atmosphere, and the rest, the height
    error.  The screen is then estimated from the residual without that height
    error, and the height error is re-fitted on the corrected series.
    """
    from .atmosphere import estimate_aps, gaussian_smooth_points

    u0 = _refine_heights(observed, geometry)
    smooth = gaussian_smooth_points(x, y, u0, p.height_filter_m)
    u1 = u0 - smooth
    progress.check()
    residual = observed - vel[:, None] * geometry.t[None, :] - u1[:, None] * geometry.f0[None, :]
    aps_mm, _ = estimate_aps(x, y, residual, geometry.days, p.aps_filter_m, p.aps_window_days, neighbours=neighbours)
    return _refine_heights(observed - aps_mm, geometry), aps_mm


def _refine_heights(series_mm, geometry):
    """Height-error term u (m) per point of APS-corrected series, with a cubic + annual model."""
    from ..egms.stats import design_matrix

    t = geometry.t
    g = np.column_stack([design_matrix(t, "cubic"), geometry.f0])
    coef = series_mm @ np.linalg.pinv(g).T
    return coef[:, -1]
