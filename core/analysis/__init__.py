"""Analyses of measurement-point layers (no QGIS).

Modules (import the one you need; this package imports none of them):

* :mod:`.ada` — active deformation areas (``find_active_areas``, ``write_areas``, ``robust_std``).
* :mod:`.profile` — velocity profile along a polyline (``velocity_profile``, ``point_index``).
"""

__all__ = ["ada", "profile"]
