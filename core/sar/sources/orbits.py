"""Perpendicular baselines from orbit state vectors (OPERA CSLC-S1 ``/metadata/orbit``).

For each date: the zero-Doppler position of its orbit (cubic Hermite through the state vectors, Newton on
``(P(t) − T) · V(t) = 0``) seen from the scene centre ``T`` (height 0, WGS84); B⊥ = ``(S − M) · ê`` with
``M`` the reference date's position, ``ê = unit(v̂ × û)``, ``û = unit(M − T)``, ``v̂`` the reference velocity:
positive when the secondary sees ``T`` at a smaller look angle (right-looking sensor) — the plugin's sign
(``testing/stack_layouts.py`` states and verifies it).
"""

from __future__ import annotations

import numpy as np

WGS84_A = 6378137.0
WGS84_E2 = (1.0 / 298.257223563) * (2.0 - 1.0 / 298.257223563)


def geodetic_to_ecef(lat_deg, lon_deg, h=0.0):
    lat, lon = np.deg2rad(lat_deg), np.deg2rad(lon_deg)
    n = WGS84_A / np.sqrt(1.0 - WGS84_E2 * np.sin(lat) ** 2)
    return np.array([(n + h) * np.cos(lat) * np.cos(lon), (n + h) * np.cos(lat) * np.sin(lon),
                     (n * (1.0 - WGS84_E2) + h) * np.sin(lat)])


def zero_doppler(target, times, positions, velocities, iterations=30):
    """``(position, velocity)`` of the orbit where the target is at zero Doppler."""
    from scipy.interpolate import CubicHermiteSpline

    p = CubicHermiteSpline(times, positions, velocities)
    v = CubicHermiteSpline(times, velocities, np.gradient(velocities, times, axis=0))
    dv = v.derivative()
    t = float(times[len(times) // 2])
    for _ in range(iterations):
        pt, vt = p(t), v(t)
        step = np.dot(pt - target, vt) / (np.dot(vt, vt) + np.dot(pt - target, dv(t)))
        t = min(max(t - step, float(times[0])), float(times[-1]))
        if abs(step) < 1e-9:
            break
    return p(t), v(t)


def perpendicular_baselines(target, orbits, ref):
    """B⊥ (m, plugin sign) of every orbit ``(times, positions, velocities)`` relative to ``orbits[ref]``."""
    states = [zero_doppler(target, *o) for o in orbits]
    m, vm = states[ref]
    u = (m - target) / np.linalg.norm(m - target)
    e = np.cross(vm / np.linalg.norm(vm), u)
    e /= np.linalg.norm(e)
    return np.array([float(np.dot(s - m, e)) for s, _ in states])
