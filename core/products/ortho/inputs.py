"""Which fields of a point layer the Ortho decomposition reads, decided from the field names alone.

``egms:decompose`` plans every input layer before reading any data
(:func:`plan_layer`): the LOS vector (:data:`~...egms.format.LOS_FIELDS`,
required), the date fields (YYYYMMDD, DYYYYMMDD or D_YYYYMMDD, at least two),
the precision (the first of :data:`~...egms.format.RMSE_FIELDS` present, and
``mean_velocity_std``) and the height (:data:`~...egms.format.HEIGHT_FIELDS`).
:func:`plan_epochs` gives the epochs common to all layers from their date
spans; :meth:`LayerPlan.add_to` hands a layer's table to an
:class:`~.decomposer.OrthoDecomposer`.

>>> plan = plan_layer("asc", ["pid", "los_east", "los_north", "los_up", "rmse_ts", "20200103", "20200109"])
>>> plan.rmse, plan.std, plan.columns[3:]
('rmse_ts', None, ['rmse_ts', '20200103', '20200109'])
"""

from __future__ import annotations

from dataclasses import dataclass

from ...egms.format import HEIGHT_FIELDS, LOS_FIELDS, RMSE_FIELDS, first_present
from ...errors import InputError
from ...io.points import date_fields
from .epochs import GRID_ORIGIN, GRID_STEP_DAYS, common_epochs

VELOCITY_STD_FIELD = "mean_velocity_std"


@dataclass
class LayerPlan:
    """The fields of one input layer the decomposition reads (None: the layer lacks that field)."""

    name: str
    dates: list
    """``[(field name, date)]`` of the date fields, by date."""
    rmse: str | None = None
    std: str | None = None
    height: str | None = None
    orbit: str | None = None
    """Orbit direction the layer was given as (checked against its LOS vectors), or None."""

    @property
    def columns(self):
        """The fields to read, in order: LOS vector, precision, height, dates."""
        return list(LOS_FIELDS) + [f for f in (self.rmse, self.std, self.height) if f] + [n for n, _ in self.dates]

    @property
    def span(self):
        """``(first date, last date)``."""
        return self.dates[0][1], self.dates[-1][1]

    def describe(self, n_points):
        """One line for the log: points, dates, orbit and precision fields."""
        return (f"{self.name}: {n_points} points, {len(self.dates)} dates ({self.span[0]} … {self.span[1]}), "
                f"{self.orbit}; precision from {self.rmse or 'no rmse'} / {self.std or 'no mean_velocity_std'}")

    def add_to(self, decomposer, table, progress=None):
        """Average ``table`` (a :class:`~...io.points.PointTable` holding :attr:`columns` as float64, EPSG:3035)
        into ``decomposer``; returns the orbit direction found from its LOS vectors."""
        columns = table.columns
        return decomposer.add_layer(self.name, table.x, table.y, *(columns[f] for f in LOS_FIELDS),
                                    [columns[n] for n, _ in self.dates], [d for _, d in self.dates],
                                    rmse=columns[self.rmse] if self.rmse else None,
                                    mean_velocity_std=columns[self.std] if self.std else None,
                                    height=columns[self.height] if self.height else None, orbit=self.orbit,
                                    progress=progress)


def plan_layer(name, field_names, orbit=None) -> LayerPlan:
    """The :class:`LayerPlan` of a layer named ``name`` with fields ``field_names``.

    Raises :class:`~...errors.InputError` naming the layer when it lacks the LOS vector or date fields.
    """
    names = list(field_names)
    missing = [f for f in LOS_FIELDS if f not in names]
    if missing:
        raise InputError(f"{name}: no field {', '.join(missing)} — the decomposition needs LOS unit vectors "
                         "(los_east, los_north, los_up)")
    dates = date_fields(names)
    if len(dates) < 2:
        raise InputError(f"{name}: no date fields (YYYYMMDD, DYYYYMMDD or D_YYYYMMDD) — the decomposition "
                         "needs displacement time series")
    return LayerPlan(name, dates, rmse=first_present(names, RMSE_FIELDS),
                     std=VELOCITY_STD_FIELD if VELOCITY_STD_FIELD in names else None,
                     height=first_present(names, HEIGHT_FIELDS), orbit=orbit)


def plan_epochs(plans):
    """``(epochs, message)``: the 6-day grid epochs common to all planned layers, and a line for the log.

    Raises :class:`~...errors.InputError` listing the layers' spans when they share too few epochs.
    """
    epochs = common_epochs([p.span for p in plans], names=[p.name for p in plans])
    message = (f"{len(epochs)} epochs of the {GRID_STEP_DAYS}-day grid from {GRID_ORIGIN:%Y-%m-%d}: "
               f"{epochs[0]} … {epochs[-1]} (the span common to all layers)")
    return epochs, message
