"""The chain's result written as a GeoPackage of measurement points — the one writer behind
``egms:computevelocities`` and the batch runner (``python3 -m egms_plugin.batch computevelocities``).

>>> write_measurement_points("/tmp/points.gpkg", result, stack)   # doctest: +SKIP
"""

from __future__ import annotations

PRODUCT = "Basic (L2a-like) measurement points computed by egms:computevelocities"


def write_measurement_points(path, result, stack, crs="EPSG:3035", progress=None, metadata=None, layer=None):
    """Write the :class:`~.chain.PsiResult` ``result`` of ``stack`` as a GeoPackage point layer at ``path`` in
    ``crs`` (an EPSG code or WKT; easting/northing stay EPSG:3035), under a temporary name renamed when complete
    (:func:`~..io.points.write_points`).  ``metadata``: extra layer metadata items.  Returns ``path``."""
    from ..geo import project_lonlat
    from ..io.points import PointTable, write_points

    x, y = project_lonlat(result.lon, result.lat, crs)
    items = {
        "egms_product": PRODUCT,
        "egms_stack": stack.folder,
        "egms_reference": result.reference.get("mode", ""),
        "egms_wavelength_m": f"{stack.geometry.wavelength_m:.10g}",
        "egms_orbit": stack.geometry.orbit or "",
        "egms_units": "displacement mm (LOS, positive towards the satellite), velocity mm/yr, height_error m",
    }
    items.update(metadata or {})
    return write_points(path, PointTable(columns=result.columns, x=x, y=y, crs=crs, metadata=items), layer=layer,
                        progress=progress)
