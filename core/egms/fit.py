"""EGMS statistics for every point of a table — the work of ``egms:fittimeseries``, without QGIS.

:func:`fit_table` reads the date fields of a :class:`~..io.points.PointTable`
(``YYYYMMDD``, ``DYYYYMMDD`` or ``D_YYYYMMDD``, displacement in mm), computes
the EGMS statistics (:func:`.stats.egms_statistics`) in blocks of about 32 MB
and returns a copy of the table with every input field and the statistics
under the EGMS column names — replacing the table's own values where it has
them (under its release naming: ``rmse_ts`` in a 2020–2024 layer, whatever
the case of the existing field), new ones placed before the first date field.

>>> import datetime as dt, numpy as np
>>> from egms_plugin.core.io.points import PointTable
>>> dates = [dt.date(2020, 1, 1) + dt.timedelta(days=12 * k) for k in range(30)]
>>> cols = {"pid": np.array(["a", "b"], dtype=object)}
>>> cols.update({f"{d:%Y%m%d}": np.array([0.0, 2.0]) * k for k, d in enumerate(dates)})
>>> fit = fit_table(PointTable(cols, np.zeros(2), np.zeros(2)), "demo")
>>> list(fit.table.columns)[:3], fit.n_without_statistics
(['pid', 'rmse', 'temporal_coherence'], 0)
>>> [round(float(v), 3) for v in fit.table.columns["mean_velocity"]]   # 2 mm per 12 days
[0.0, 60.833]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..conventions import SENTINEL1_WAVELENGTH
from ..errors import InputError
from ..io.points import PointTable
from ..progress import ensure
from .format import STATISTIC_COLUMNS, release_name
from .stats import MIN_DATES, egms_statistics

BLOCK_VALUES = 4_000_000
"""Series values (float64) fitted per block: ≈ 32 MB."""
DROPPED_METADATA = ("GPKG_METADATA_ITEM_",)
"""Metadata items not carried to the output (QGIS/foreign metadata documents GDAL lists as items)."""


@dataclass
class FitResult:
    """The table with statistics, the field name of each statistic in it, and the counts."""

    table: PointTable
    names: dict
    """Statistic (EGMS specification name) → its field in :attr:`table`."""
    n_points: int
    n_without_statistics: int
    """Points with fewer than :data:`.stats.MIN_DATES` valid dates (NULL statistics)."""


def statistic_names(field_names):
    """Statistic → the field that holds it in a table with ``field_names``: its release name
    (:func:`.format.release_name`), reusing an existing field whatever its case."""
    names = list(field_names)
    lowered = {n.lower(): n for n in names}
    out = {}
    for stat in STATISTIC_COLUMNS:
        name = release_name(stat, names)
        out[stat] = lowered.get(name.lower(), name)
    return out


def fit_table(table: PointTable, label, wavelength_m=SENTINEL1_WAVELENGTH, progress=None) -> FitResult:
    """:class:`FitResult` of the EGMS statistics of every point of ``table``.

    ``label`` names the layer in errors (:class:`~..errors.InputError` without date fields or with fewer
    than :data:`.stats.MIN_DATES` of them); ``wavelength_m`` is used by the temporal coherence only.
    ``progress`` covers the fit (cancel checked between blocks) and receives one info line.
    """
    progress = ensure(progress)
    dates = table.date_fields()
    if not dates:
        raise InputError(f"{label}: no date fields — the displacement series must be in fields named "
                         "YYYYMMDD, DYYYYMMDD or D_YYYYMMDD.")
    if len(dates) < MIN_DATES:
        raise InputError(f"{label}: only {len(dates)} date fields; the EGMS models need at least {MIN_DATES} dates.")
    names = list(table.columns)
    out_names = statistic_names(names)
    n = len(table)
    progress.info(f"{label}: {n} points × {len(dates)} dates ({dates[0][1]} … {dates[-1][1]}).")
    stats = {k: np.full(n, np.nan) for k in STATISTIC_COLUMNS}
    date_names = [name for name, _d in dates]
    block = max(1, min(n, BLOCK_VALUES // len(dates)))
    for start in range(0, n, block):
        stop = min(start + block, n)
        y = np.empty((stop - start, len(dates)))
        for j, name in enumerate(date_names):
            y[:, j] = table.columns[name][start:stop]
        for key, value in egms_statistics(y, [d for _n, d in dates], wavelength_m=wavelength_m).items():
            stats[key][start:stop] = value
        progress.check()
        progress.update(stop / n)
    # statistics the table already has are replaced in place; new ones go before the first date field
    existing = {out_names[s]: s for s in STATISTIC_COLUMNS if out_names[s] in table.columns}
    new = [s for s in STATISTIC_COLUMNS if out_names[s] not in table.columns]
    first_date = min(date_names, key=names.index)
    columns = {}
    for name, values in table.columns.items():
        if name == first_date:
            columns.update((out_names[s], stats[s]) for s in new)
        columns[name] = stats[existing[name]] if name in existing else values
    metadata = {k: v for k, v in (table.metadata or {}).items() if not k.startswith(DROPPED_METADATA)}
    metadata["EGMS_STATISTICS"] = "EGMS recipe (egms:fittimeseries)"
    missing = int(np.isnan(stats["mean_velocity"]).sum())
    return FitResult(PointTable(columns, table.x, table.y, table.crs, metadata), out_names, n, missing)
