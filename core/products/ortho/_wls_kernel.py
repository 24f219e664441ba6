"""The per-cell weighted least squares of the Ortho decomposition (numba, parallel over cells).

Private to :mod:`.decomposer`, which imports it when a decomposition is solved
(so importing the package never imports numba).
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(nogil=True, parallel=True, cache=True)
def wls_cells(stacked, offsets, ae, au, w, is_asc, sigma_disp, sigma_vel, east, up, std_disp, std_vel, empty):
    """Per cell c (entries ``offsets[c]:offsets[c + 1]`` of the geometries seen in it) and epoch k: the weighted
    least squares ``stacked[k, j] = E·ae[j] + U·au[j]`` (weights ``w``) into ``east``/``up`` (n_epochs, n_cells),
    referred to the cell's first solved epoch; NaN and a count in ``empty`` where an epoch lacks an orbit
    direction.  ``std_disp``/``std_vel`` (n_cells, 2): ``sigma_disp``/``sigma_vel`` propagated (E, U)."""
    n_epochs = stacked.shape[0]
    n_cells = offsets.size - 1
    for c in numba.prange(n_cells):
        a, b = offsets[c], offsets[c + 1]
        # all geometries: propagated precision (epoch independent)
        n11 = n12 = n22 = 0.0
        for j in range(a, b):
            n11 += w[j] * ae[j] * ae[j]
            n12 += w[j] * ae[j] * au[j]
            n22 += w[j] * au[j] * au[j]
        det = n11 * n22 - n12 * n12
        i11, i12, i22 = n22 / det, -n12 / det, n11 / det
        ve = vu = de = du = 0.0
        for j in range(a, b):
            me = (i11 * ae[j] + i12 * au[j]) * w[j]  # row E of (AᵀWA)⁻¹AᵀW
            mu = (i12 * ae[j] + i22 * au[j]) * w[j]
            ve += me * me * sigma_vel[j] * sigma_vel[j]
            vu += mu * mu * sigma_vel[j] * sigma_vel[j]
            de += me * me * sigma_disp[j] * sigma_disp[j]
            du += mu * mu * sigma_disp[j] * sigma_disp[j]
        std_vel[c, 0], std_vel[c, 1] = np.sqrt(ve), np.sqrt(vu)
        std_disp[c, 0], std_disp[c, 1] = np.sqrt(de), np.sqrt(du)
        first_e = first_u = np.nan
        for k in range(n_epochs):
            n11 = n12 = n22 = r1 = r2 = 0.0
            has_asc = has_desc = False
            for j in range(a, b):
                d = stacked[k, j]
                if np.isfinite(d):
                    n11 += w[j] * ae[j] * ae[j]
                    n12 += w[j] * ae[j] * au[j]
                    n22 += w[j] * au[j] * au[j]
                    r1 += w[j] * ae[j] * d
                    r2 += w[j] * au[j] * d
                    if is_asc[j]:
                        has_asc = True
                    else:
                        has_desc = True
            det = n11 * n22 - n12 * n12
            if not (has_asc and has_desc) or not det > 1e-12 * n11 * n22:
                east[k, c] = np.nan
                up[k, c] = np.nan
                empty[c] += 1
                continue
            e = (n22 * r1 - n12 * r2) / det
            u = (n11 * r2 - n12 * r1) / det
            if np.isnan(first_e):
                first_e, first_u = e, u
            east[k, c] = e - first_e
            up[k, c] = u - first_u
