"""The time grid of EGMS Ortho (L3): regular 6-day epochs from 2014-04-03, and linear resampling onto it.

>>> import datetime as dt
>>> grid_epochs(dt.date(2020, 1, 1), dt.date(2020, 1, 20))
[datetime.date(2020, 1, 2), datetime.date(2020, 1, 8), datetime.date(2020, 1, 14), datetime.date(2020, 1, 20)]
"""

from __future__ import annotations

import datetime as _dt

import numpy as np

from ...conventions import day_numbers
from ...errors import InputError

GRID_ORIGIN = _dt.date(2014, 4, 3)
"""Origin of the EGMS L3 6-day time grid (first Sentinel-1A acquisitions)."""
GRID_STEP_DAYS = 6
MIN_EPOCHS = 7
"""Fewest common epochs: the statistics' cubic + seasonal model needs 7 dates."""


def grid_epochs(first, last, origin=GRID_ORIGIN, step_days=GRID_STEP_DAYS):
    """Dates of the regular grid (origin + k·step) within [first, last], inclusive."""
    k0 = -((origin - first).days // step_days)  # ceil((first − origin) / step)
    k1 = (last - origin).days // step_days
    return [origin + _dt.timedelta(days=step_days * k) for k in range(k0, k1 + 1)]


def common_epochs(spans, origin=GRID_ORIGIN, step_days=GRID_STEP_DAYS, names=None):
    """Grid epochs inside every ``(first, last)`` date span; :class:`InputError` if fewer than :data:`MIN_EPOCHS`."""
    first = max(s[0] for s in spans)
    last = min(s[1] for s in spans)
    epochs = grid_epochs(first, last, origin, step_days) if first <= last else []
    if len(epochs) < MIN_EPOCHS:
        names = names or [f"layer {i + 1}" for i in range(len(spans))]
        listing = "; ".join(f"{n}: {a} … {b}" for n, (a, b) in zip(names, spans))
        raise InputError(f"the input layers share {len(epochs)} epochs of the {step_days}-day grid, at least "
                         f"{MIN_EPOCHS} are needed — their time spans must overlap ({listing})")
    return epochs


def resampling_weights(dates, epochs):
    """Index j and fraction f per epoch with value = (1 − f)·y[j] + f·y[j + 1] (linear, no extrapolation)."""
    ordinals = day_numbers(dates)
    target = day_numbers(epochs)
    if target.size and (target[0] < ordinals[0] or target[-1] > ordinals[-1]):
        raise ValueError("epochs outside the dates: resampling never extrapolates")
    j = np.clip(np.searchsorted(ordinals, target, side="right") - 1, 0, max(ordinals.size - 2, 0))
    if ordinals.size == 1:
        return j, np.zeros(target.size)
    f = (target - ordinals[j]) / (ordinals[j + 1] - ordinals[j])
    return j, f
