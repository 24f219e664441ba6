"""Layer styling shared by the dock and the Processing outputs.

:func:`apply_velocity_style` gives any measurement-point layer a diverging
graduated renderer on its velocity field: red for motion away from the
satellite (subsidence), blue towards it (uplift), symmetric around zero, the
range set by the 98th percentile of |v| so a few outliers do not wash it out,
legend labels in mm/yr.  Reading the values uses a no-geometry, one-attribute
request.
"""

from __future__ import annotations

import math

import numpy as np
from qgis.core import (
    QgsClassificationRange,
    QgsFeatureRequest,
    QgsFillSymbol,
    QgsGradientColorRamp,
    QgsGraduatedSymbolRenderer,
    QgsMarkerSymbol,
    QgsRendererRange,
    QgsStyle,
    QgsVectorLayer,
)
from qgis.PyQt.QtGui import QColor

from ..compat import POLYGON_GEOMETRY, REQUEST_NO_GEOMETRY, SHADER_INTERPOLATED

VELOCITY_FIELDS = ("mean_velocity", "velocity", "vel", "mean_vel", "v_los", "los_velocity")
"""Field names tried, in order, when the caller does not name the velocity field."""

N_CLASSES = 10


def velocity_field(layer):
    """The layer's velocity field name (case-insensitive match of :data:`VELOCITY_FIELDS`), or None."""
    names = {f.name().lower(): f.name() for f in layer.fields()}
    for candidate in VELOCITY_FIELDS:
        if candidate in names:
            return names[candidate]
    return None


def nice_limit(values, percentile=98.0, minimum=1.0):
    """Symmetric colour limit: the ``percentile`` of |v| rounded up to 1, 2 or 5 × 10^k (≥ ``minimum``)."""
    v = np.abs(np.asarray(values, dtype=np.float64))
    v = v[np.isfinite(v)]
    limit = float(np.percentile(v, percentile)) if v.size else minimum
    limit = max(limit, minimum)
    exp = math.floor(math.log10(limit))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if step * 10**exp >= limit - 1e-12:
            return step * 10**exp
    return 10.0 ** (exp + 1)


def _ramp():
    ramp = QgsStyle.defaultStyle().colorRamp("RdBu")
    if ramp is None:  # a profile without the default ramps
        ramp = QgsGradientColorRamp(QColor("#b2182b"), QColor("#2166ac"))
        ramp.setStops([])
    return ramp


def _symbol(polygon):
    if polygon:  # areas: translucent fill, thin dark outline, so the points below stay visible
        return QgsFillSymbol.createSimple({"outline_color": "#333333", "outline_width": "0.3"})
    return QgsMarkerSymbol.createSimple({"name": "circle", "size": "1.8", "outline_style": "no"})


def velocity_renderer(values, field="mean_velocity", unit="mm/yr", n_classes=N_CLASSES, polygon=False):
    """Graduated renderer, diverging and symmetric around 0, limits ± :func:`nice_limit` of ``values``.

    Values beyond the limits take the end colours (the outer classes are open-ended).  ``polygon``: fill
    symbols (e.g. active deformation areas) instead of point markers.
    """
    limit = nice_limit(values)
    edges = np.linspace(-limit, limit, n_classes + 1)
    ramp = _ramp()
    ranges = []
    for i in range(n_classes):
        lo, hi = float(edges[i]), float(edges[i + 1])
        symbol = _symbol(polygon)
        symbol.setColor(ramp.color(i / (n_classes - 1)))
        if polygon:
            symbol.setOpacity(0.75)
        label = f"{lo:+.3g} … {hi:+.3g} {unit}"
        if i == 0:
            lo, label = -1e12, f"< {hi:+.3g} {unit}"
        elif i == n_classes - 1:
            hi, label = 1e12, f"> {lo:+.3g} {unit}"
        ranges.append(QgsRendererRange(QgsClassificationRange(label, lo, hi), symbol))
    renderer = QgsGraduatedSymbolRenderer(field, ranges)
    renderer.setSourceColorRamp(ramp.clone())
    return renderer


def field_values(layer, field, limit=None):
    """float64 values of one field (NULL → NaN), read without geometries."""
    idx = layer.fields().indexOf(field)
    request = QgsFeatureRequest().setFlags(REQUEST_NO_GEOMETRY).setSubsetOfAttributes([idx])
    if limit:
        request.setLimit(limit)
    out = []
    for feature in layer.getFeatures(request):
        value = feature[idx]
        try:
            out.append(float(value))
        except (TypeError, ValueError):
            out.append(np.nan)
    return np.array(out, dtype=np.float64)


def apply_velocity_style(layer, field=None, unit="mm/yr"):
    """Style ``layer`` by velocity; True when styled, False when it has no (numeric) velocity field."""
    if not isinstance(layer, QgsVectorLayer) or not layer.isValid():
        return False
    field = field or velocity_field(layer)
    if field is None or layer.fields().indexOf(field) < 0 or not layer.fields().field(field).isNumeric():
        return False
    polygon = layer.geometryType() == POLYGON_GEOMETRY
    layer.setRenderer(velocity_renderer(field_values(layer, field), field, unit, polygon=polygon))
    layer.triggerRepaint()
    return True


def apply_velocity_raster_style(layer, unit="mm/yr", n_stops=11):
    """Style a one-band velocity raster like the point layers: the diverging RdBu ramp, symmetric around 0, limits
    ± the nice 98th percentile of |v| (ui.styling.nice_limit), values beyond them in the end colours.

    True when styled.
    """
    from osgeo import gdal
    from qgis.core import QgsColorRampShader, QgsRasterShader, QgsSingleBandPseudoColorRenderer

    if layer is None or not layer.isValid() or layer.bandCount() != 1:
        return False
    dataset = gdal.Open(layer.source())
    if dataset is None:
        return False
    band = dataset.GetRasterBand(1)
    values = band.ReadAsArray().astype("float64")
    nodata = band.GetNoDataValue()
    if nodata is not None:
        values = values[values != nodata]
    limit = nice_limit(values)
    ramp = _ramp()
    shader = QgsColorRampShader(-limit, limit)
    shader.setColorRampType(SHADER_INTERPOLATED)
    shader.setSourceColorRamp(ramp.clone())
    items = []
    for k in range(n_stops):
        fraction = k / (n_stops - 1)
        value = -limit + 2.0 * limit * fraction
        items.append(QgsColorRampShader.ColorRampItem(value, ramp.color(fraction), f"{value:+.3g} {unit}"))
    shader.setColorRampItemList(items)
    shader.setClip(False)
    raster_shader = QgsRasterShader()
    raster_shader.setRasterShaderFunction(shader)
    renderer = QgsSingleBandPseudoColorRenderer(layer.dataProvider(), 1, raster_shader)
    renderer.setClassificationMin(-limit)
    renderer.setClassificationMax(limit)
    layer.setRenderer(renderer)
    layer.triggerRepaint()
    return True
