"""Layer tools of the dock: one-click velocity styling and an undoable quality filter.

The quality filter keeps points with ``temporal_coherence >= minimum`` and
``rmse (or rmse_ts) <= maximum`` by setting the layer's subset string (so map,
attribute table, clicks and Processing all see the filtered layer).  The subset
the layer had before is remembered in a layer custom property (it travels with
the project) and restored by :func:`undo_quality_filter`; applying the filter
again replaces it instead of stacking.
"""

from __future__ import annotations

from .query import COHERENCE_FIELDS, RMSE_FIELDS, first_field, is_point_layer

PREVIOUS_SUBSET = "egms_plugin/quality_filter/previous_subset"
APPLIED_SUBSET = "egms_plugin/quality_filter/applied_subset"


def _quote(name):
    return '"' + name.replace('"', '""') + '"'


def quality_expression(layer, min_coherence=None, max_rmse=None):
    """``(expression, used_fields)`` of the filter on ``layer``; the expression is "" when no field applies."""
    clauses, used = [], []
    coherence = first_field(layer, COHERENCE_FIELDS)
    if min_coherence is not None and coherence:
        clauses.append(f"{_quote(coherence)} >= {float(min_coherence)!r}")
        used.append(coherence)
    rmse = first_field(layer, RMSE_FIELDS)
    if max_rmse is not None and rmse:
        clauses.append(f"{_quote(rmse)} <= {float(max_rmse)!r}")
        used.append(rmse)
    return " AND ".join(clauses), used


def has_quality_filter(layer):
    return layer.customProperty(APPLIED_SUBSET) is not None and layer.subsetString() == layer.customProperty(APPLIED_SUBSET)


def apply_quality_filter(layer, min_coherence, max_rmse):
    """Filter ``layer``; returns ``(ok, message)`` for the dock."""
    if not is_point_layer(layer):
        return False, "Choose a point layer for the quality filter."
    expression, used = quality_expression(layer, min_coherence, max_rmse)
    if not expression:
        return False, (f"“{layer.name()}” has no temporal_coherence or rmse/rmse_ts field: nothing to filter on.")
    base = layer.customProperty(PREVIOUS_SUBSET) if has_quality_filter(layer) else layer.subsetString()
    base = base or ""
    subset = f"({base}) AND ({expression})" if base else expression
    if not layer.setSubsetString(subset):
        return False, f"“{layer.name()}” refused the filter {expression!r} (its provider does not support it)."
    layer.setCustomProperty(PREVIOUS_SUBSET, base)
    layer.setCustomProperty(APPLIED_SUBSET, layer.subsetString())
    layer.triggerRepaint()
    missing = [label for label, names in (("coherence", COHERENCE_FIELDS), ("rmse", RMSE_FIELDS))
               if not first_field(layer, names)]
    note = f" (no {' or '.join(missing)} field)" if missing else ""
    return True, f"“{layer.name()}” filtered: {expression}; {layer.featureCount()} points shown{note}."


def undo_quality_filter(layer):
    """Restore the subset ``layer`` had before the filter; returns ``(ok, message)``."""
    if layer is None or layer.customProperty(APPLIED_SUBSET) is None:
        return False, "No quality filter to undo on this layer."
    previous = layer.customProperty(PREVIOUS_SUBSET) or ""
    if not has_quality_filter(layer):
        # the subset was edited since: keep the user's edit, just forget ours
        layer.removeCustomProperty(PREVIOUS_SUBSET)
        layer.removeCustomProperty(APPLIED_SUBSET)
        return False, f"The filter of “{layer.name()}” was changed since; left as it is."
    layer.setSubsetString(previous)
    layer.removeCustomProperty(PREVIOUS_SUBSET)
    layer.removeCustomProperty(APPLIED_SUBSET)
    layer.triggerRepaint()
    return True, f"“{layer.name()}” filter undone ({layer.featureCount()} points shown)."


def style_by_velocity(layer):
    """One-click velocity styling (:func:`.styling.apply_velocity_style`); returns ``(ok, message)``."""
    from .styling import apply_velocity_style, velocity_field

    if not is_point_layer(layer):
        return False, "Choose a point layer to style."
    field = velocity_field(layer)
    if field is None:
        return False, f"“{layer.name()}” has no velocity field (mean_velocity, velocity, …) to style by."
    if not apply_velocity_style(layer, field):
        return False, f"“{layer.name()}”: the field {field} is not numeric; nothing styled."
    ranges = layer.renderer().ranges()
    step = ranges[1].upperValue() - ranges[1].lowerValue()
    limit = ranges[-1].lowerValue() + step
    return True, (f"“{layer.name()}” styled by {field}: diverging colours from −{limit:g} to +{limit:g} mm/yr "
                  "(98th percentile of |v|), red = away from the satellite.")
