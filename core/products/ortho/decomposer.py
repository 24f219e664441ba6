"""The Ortho decomposition: layers averaged per cell, then per cell and epoch WLS for (E, U).

:class:`OrthoDecomposer` takes the layers one at a time (each can be freed
after :meth:`~OrthoDecomposer.add_layer`), :meth:`~OrthoDecomposer.solve`
resamples the cell series to the common epochs (:mod:`.epochs`), solves every
cell seen from both orbit directions (a numba kernel, parallel over cells) and
recomputes the EGMS statistics; :func:`decompose` does both for in-memory
layers.  The method, weights and precision are described in the package
docstring (:mod:`egms_plugin.core.products.ortho`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...conventions import orbit_from_los_east
from ...egms.stats import egms_statistics, egms_time
from ...errors import InputError
from ...progress import ensure
from .epochs import MIN_EPOCHS, common_epochs, resampling_weights

DEFAULT_CELL_SIZE = 100.0
"""m, EGMS L3 cells."""
DEFAULT_MAX_CONDITION = 10.0
"""Largest condition number of the per-cell design [los_east, los_up] accepted (asc + desc ≈ 1.3–2)."""
SIGMA_FLOOR = 0.05
"""mm or mm/yr: smallest precision of a point (published values are rounded to 0.1; 0.0 occurs)."""


@dataclass
class _LayerCells:
    """One layer averaged per cell: (n_dates, n_cells) series on its own dates."""

    name: str
    orbit: str
    keys: np.ndarray
    counts: np.ndarray
    los_east: np.ndarray
    los_up: np.ndarray
    sigma_disp: np.ndarray | None
    sigma_vel: np.ndarray | None
    height_sum: np.ndarray | None
    series: np.ndarray
    dates: list
    n_points: int


@dataclass
class OrthoResult:
    """Decomposed cells; series are (n_epochs, n_cells) arrays in mm, first epoch = 0."""

    cell_size: float
    ix: np.ndarray
    iy: np.ndarray
    epochs: list
    east: np.ndarray
    up: np.ndarray
    stats_east: dict
    stats_up: dict
    propagated_velocity_std_east: np.ndarray
    propagated_velocity_std_up: np.ndarray
    propagated_displacement_std_east: np.ndarray
    propagated_displacement_std_up: np.ndarray
    n_points_asc: np.ndarray
    n_points_desc: np.ndarray
    n_geometries: np.ndarray
    height: np.ndarray
    weight_source: str
    n_cells_one_orbit: int = 0
    n_cells_ill_conditioned: int = 0
    n_empty_cell_epochs: int = 0
    layers: list = field(default_factory=list)

    @property
    def n_cells(self):
        return int(self.ix.size)

    @property
    def easting(self):
        return (self.ix + 0.5) * self.cell_size

    @property
    def northing(self):
        return (self.iy + 0.5) * self.cell_size

    def summary(self) -> str:
        return (f"{self.n_cells} cells of {self.cell_size:g} m decomposed on {len(self.epochs)} epochs "
                f"({self.epochs[0]} … {self.epochs[-1]}); dropped {self.n_cells_one_orbit} cells seen from one orbit "
                f"direction only and {self.n_cells_ill_conditioned} ill-conditioned cells; "
                f"{self.n_empty_cell_epochs} cell-epochs left empty (an orbit direction had no data); "
                f"weights from {self.weight_source}")


class OrthoDecomposer:
    """Accumulate layers one at a time (each can be freed after :meth:`add_layer`), then :meth:`solve`.

    >>> dec = OrthoDecomposer(epochs)                                    # doctest: +SKIP
    >>> dec.add_layer("asc", x, y, le, ln, lu, columns, dates, rmse=r)   # doctest: +SKIP
    >>> result = dec.solve()                                             # doctest: +SKIP
    """

    def __init__(self, epochs, cell_size=DEFAULT_CELL_SIZE, gnss=None, max_condition=DEFAULT_MAX_CONDITION,
                 max_extrapolation_m=None):
        if not cell_size > 0:
            raise InputError(f"cell size must be positive, got {cell_size} m")
        if len(epochs) < MIN_EPOCHS:
            raise InputError(f"{len(epochs)} epochs given, at least {MIN_EPOCHS} are needed")
        self.epochs = list(epochs)
        self.cell_size = float(cell_size)
        self.gnss = gnss
        self.max_condition = float(max_condition)
        self.max_extrapolation_m = max_extrapolation_m
        self.layers: list[_LayerCells] = []
        self.messages: list[str] = []

    # validation of one input layer (fields, LOS, precision, dates), each branch one message (C901)
    def add_layer(self, name, x, y, los_east, los_north, los_up, date_columns, dates, rmse=None,  # noqa: C901
                  mean_velocity_std=None, height=None, orbit=None, progress=None):
        """Average one layer per cell.

        ``x, y`` EPSG:3035 (m); ``los_*`` unit vectors ground → satellite;
        ``date_columns`` one array (mm, NaN = missing) per date of ``dates``
        (any order of dates is accepted; they are sorted).  ``orbit`` is
        checked against the sign of ``los_east`` when given.
        """
        progress = ensure(progress)
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        le, ln, lu = (np.asarray(a, dtype=np.float64) for a in (los_east, los_north, los_up))
        n = x.size
        if n == 0:
            raise InputError(f"{name}: the layer has no points")
        if any(a.size != n for a in (y, le, ln, lu)):
            raise InputError(f"{name}: coordinates and LOS columns differ in length")
        if len(date_columns) != len(dates) or len(dates) < 2:
            raise InputError(f"{name}: needs date fields (YYYYMMDD, DYYYYMMDD or D_YYYYMMDD) with the displacement "
                             f"series, found {len(dates)}")
        order = sorted(range(len(dates)), key=lambda k: dates[k])
        dates = [dates[k] for k in order]
        date_columns = [date_columns[k] for k in order]
        if len(set(dates)) != len(dates):
            raise InputError(f"{name}: a date appears twice among the date fields")
        if dates[0] > self.epochs[0] or dates[-1] < self.epochs[-1]:
            raise InputError(f"{name}: its dates {dates[0]} … {dates[-1]} do not cover the epochs "
                             f"{self.epochs[0]} … {self.epochs[-1]}")
        ok = np.isfinite(x) & np.isfinite(y) & np.isfinite(le) & np.isfinite(lu) & np.isfinite(ln)
        if not ok.any():
            raise InputError(f"{name}: no point has coordinates and a complete LOS vector (los_east, los_north, los_up)")
        detected = orbit_from_los_east(le[ok])
        if orbit is not None and orbit != detected:
            sign = "> 0" if detected == "descending" else "< 0"
            article = "an" if detected == "ascending" else "a"
            raise InputError(f"{name}: given as {orbit} but its LOS vectors (los_east {sign}) are those of {article} "
                             f"{detected} geometry")
        if (~ok).any():
            self.messages.append(f"{name}: {int((~ok).sum())} points without coordinates or LOS vector ignored")
        cell = self.cell_size
        ix = np.floor(x[ok] / cell).astype(np.int64)
        iy = np.floor(y[ok] / cell).astype(np.int64)
        keys = _cell_keys(ix, iy)
        cells, inverse = np.unique(keys, return_inverse=True)
        inverse = inverse.ravel()
        n_cells = cells.size
        counts = np.bincount(inverse, minlength=n_cells).astype(np.int64)

        def cell_mean(values):
            return np.bincount(inverse, weights=values, minlength=n_cells) / counts

        def cell_sigma(sig):
            if sig is None:
                return None
            s = np.maximum(np.asarray(sig, dtype=np.float64)[ok], SIGMA_FLOOR)
            good = np.isfinite(s)
            if not good.any():
                return None
            sum2 = np.bincount(inverse[good], weights=s[good] ** 2, minlength=n_cells)
            n_good = np.bincount(inverse[good], minlength=n_cells)
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.sqrt(sum2 / n_good / counts)  # NaN where no point of the cell has a value

        # north–south removal: cell mean of N·los_north (mm/yr) × t
        north_rate = None
        if self.gnss is not None:
            from ..gnss import MAX_EXTRAPOLATION_M, interpolate

            reach = MAX_EXTRAPOLATION_M if self.max_extrapolation_m is None else self.max_extrapolation_m
            _, north, _ = interpolate(self.gnss, x[ok], y[ok], reach)
            missing = ~np.isfinite(north)
            if missing.any():
                self.messages.append(f"{name}: {int(missing.sum())} points outside the GNSS model: north motion "
                                     "not removed there")
            north_rate = cell_mean(np.where(missing, 0.0, north) * ln[ok])
        t = egms_time(dates)
        series = np.empty((len(dates), n_cells))
        all_ok = bool(ok.all())
        for k, col in enumerate(date_columns):
            v = np.asarray(col, dtype=np.float64)
            if v.size != n:
                raise InputError(f"{name}: date field {dates[k]:%Y%m%d} has {v.size} values for {n} points")
            if not all_ok:
                v = v[ok]
            good = np.isfinite(v)
            if good.all():  # the usual case: no NULL on this date
                series[k] = np.bincount(inverse, weights=v, minlength=n_cells) / counts
            else:
                total = np.bincount(inverse[good], weights=v[good], minlength=n_cells)
                valid = np.bincount(inverse[good], minlength=n_cells)
                with np.errstate(invalid="ignore", divide="ignore"):
                    series[k] = total / valid
            if north_rate is not None:
                series[k] -= north_rate * t[k]
            if k % 16 == 0:
                progress.check()
                progress.update((k + 1) / len(dates))
        heights = None
        if height is not None:
            h = np.asarray(height, dtype=np.float64)[ok]
            good = np.isfinite(h)
            heights = (np.bincount(inverse[good], weights=h[good], minlength=n_cells),
                       np.bincount(inverse[good], minlength=n_cells).astype(np.float64))
        self.layers.append(_LayerCells(name, detected, cells, counts, cell_mean(le[ok]), cell_mean(lu[ok]),
                                       cell_sigma(rmse), cell_sigma(mean_velocity_std), heights, series, dates, n))
        progress.update(1.0)
        return detected

    # ------------------------------------------------------------------ solve
    def solve(self, progress=None) -> OrthoResult:
        """Decompose every cell seen from both orbit directions; frees the layers' cell series."""
        progress = ensure(progress)
        if not self.layers:
            raise InputError("no input layers")
        orbits = {lay.orbit for lay in self.layers}
        if orbits != {"ascending", "descending"}:
            only = orbits.pop()
            names = ", ".join(lay.name for lay in self.layers)
            raise InputError(f"only {only} geometries given ({names}): the decomposition needs at least one ascending "
                             "(los_east < 0) and one descending (los_east > 0) layer")
        weight_source = next((s for s, attr in (("rmse", "sigma_disp"), ("mean_velocity_std", "sigma_vel"))
                              if all(getattr(lay, attr) is not None for lay in self.layers)), "equal")
        # -- join: entries (layer cell rows) grouped by cell key
        keys = np.concatenate([lay.keys for lay in self.layers])
        layer_of = np.concatenate([np.full(lay.keys.size, i, dtype=np.int64) for i, lay in enumerate(self.layers)])
        row_of = np.concatenate([np.arange(lay.keys.size, dtype=np.int64) for lay in self.layers])
        order = np.argsort(keys, kind="stable")
        keys, layer_of, row_of = keys[order], layer_of[order], row_of[order]
        cells, start = np.unique(keys, return_index=True)
        offsets = np.append(start, keys.size).astype(np.int64)
        cell_of_entry = np.repeat(np.arange(cells.size), np.diff(offsets))
        is_asc = np.array([lay.orbit == "ascending" for lay in self.layers])[layer_of]
        n_asc = np.bincount(cell_of_entry, weights=is_asc, minlength=cells.size)
        n_desc = np.bincount(cell_of_entry, weights=~is_asc, minlength=cells.size)
        both = (n_asc > 0) & (n_desc > 0)
        n_one_orbit = int((~both).sum())

        def gather(attr):
            out = np.empty(keys.size)
            for i, lay in enumerate(self.layers):
                sel = layer_of == i
                out[sel] = getattr(lay, attr)[row_of[sel]]
            return out

        ae, au = gather("los_east"), gather("los_up")
        # geometric conditioning of the unweighted design [ae, au] per cell
        p = np.bincount(cell_of_entry, weights=ae * ae, minlength=cells.size)
        q = np.bincount(cell_of_entry, weights=ae * au, minlength=cells.size)
        r = np.bincount(cell_of_entry, weights=au * au, minlength=cells.size)
        half_trace, root = (p + r) / 2.0, np.sqrt(((p - r) / 2.0) ** 2 + q * q)
        with np.errstate(invalid="ignore", divide="ignore"):
            condition = np.sqrt((half_trace + root) / (half_trace - root))
        well = both & (condition <= self.max_condition)
        n_ill = int((both & ~well).sum())
        keep_entry = well[cell_of_entry]
        if not well.any():
            raise InputError(f"no cell of {self.cell_size:g} m holds points of both an ascending and a descending "
                             f"layer ({n_one_orbit} cells seen from one direction only"
                             f"{f', {n_ill} ill-conditioned' if n_ill else ''}): the layers do not overlap")
        progress.update(0.05)
        # -- per-entry precision and weights
        sigma_disp = gather("sigma_disp") if weight_source == "rmse" else None
        sigma_vel = gather("sigma_vel") if all(lay.sigma_vel is not None for lay in self.layers) else None
        if weight_source == "rmse":
            weight_sigma = sigma_disp
        elif weight_source == "mean_velocity_std":
            weight_sigma = sigma_vel
        else:
            weight_sigma = np.ones(keys.size)
        counts_entry = gather("counts")
        # cells whose σ is undefined for an entry (no point with a value) get the layer's median σ
        for arr in (weight_sigma, sigma_disp, sigma_vel):
            if arr is not None and not np.isfinite(arr).all():
                fill = np.nanmedian(arr) if np.isfinite(arr).any() else 1.0
                arr[~np.isfinite(arr)] = fill
        # -- compact to kept entries, resample each layer into one (n_epochs, n_entries) array
        entries = np.flatnonzero(keep_entry)
        out_cells = np.flatnonzero(well)
        new_offsets = np.searchsorted(entries, offsets[out_cells]).astype(np.int64)
        new_offsets = np.append(new_offsets, entries.size).astype(np.int64)
        n_epochs = len(self.epochs)
        stacked = np.empty((n_epochs, entries.size))
        for i, lay in enumerate(self.layers):
            sel = np.flatnonzero(layer_of[entries] == i)
            rows = row_of[entries[sel]]
            j, f = resampling_weights(lay.dates, self.epochs)
            for k in range(n_epochs):
                if f[k] == 0.0:
                    stacked[k, sel] = lay.series[j[k], rows]
                else:
                    stacked[k, sel] = (1.0 - f[k]) * lay.series[j[k], rows] + f[k] * lay.series[j[k] + 1, rows]
            lay.series = None  # free as we go
            progress.check()
            progress.update(0.05 + 0.25 * (i + 1) / len(self.layers))
        weights = 1.0 / weight_sigma[entries] ** 2
        sd = sigma_disp[entries] if sigma_disp is not None else np.full(entries.size, np.nan)
        sv = sigma_vel[entries] if sigma_vel is not None else np.full(entries.size, np.nan)
        east, up, std_disp, std_vel, n_empty = _solve_cells(stacked, new_offsets, ae[entries], au[entries], weights,
                                                            is_asc[entries], sd, sv)
        del stacked
        progress.update(0.5)
        progress.check()
        # the compiled kernel solves every cell on its own: a cell's statistics do not depend on which other cells
        # are in the table (numpy's BLAS products round by block), so tiles decompose as one run, bit for bit
        stats_e = egms_statistics(east.T, self.epochs, progress=progress.span(0.5, 0.75), engine="numba")
        stats_u = egms_statistics(up.T, self.epochs, progress=progress.span(0.75, 1.0), engine="numba")
        kept_cells = cells[out_cells]
        cell_entry = cell_of_entry[entries]
        cnt = counts_entry[entries]
        asc_e = is_asc[entries]
        n_points_asc = np.bincount(np.searchsorted(out_cells, cell_entry), weights=cnt * asc_e,
                                   minlength=out_cells.size).astype(np.int64)
        n_points_desc = np.bincount(np.searchsorted(out_cells, cell_entry), weights=cnt * ~asc_e,
                                    minlength=out_cells.size).astype(np.int64)
        n_geom = np.diff(new_offsets).astype(np.int64)
        height = np.full(out_cells.size, np.nan)
        if all(lay.height_sum is not None for lay in self.layers):
            hs = np.zeros(keys.size)
            hn = np.zeros(keys.size)
            for i, lay in enumerate(self.layers):
                sel = layer_of == i
                hs[sel] = lay.height_sum[0][row_of[sel]]
                hn[sel] = lay.height_sum[1][row_of[sel]]
            idx = np.searchsorted(out_cells, cell_entry)
            tot = np.bincount(idx, weights=hs[entries], minlength=out_cells.size)
            num = np.bincount(idx, weights=hn[entries], minlength=out_cells.size)
            with np.errstate(invalid="ignore", divide="ignore"):
                height = np.where(num > 0, tot / num, np.nan)
        ix, iy = _cell_indices(kept_cells)
        result = OrthoResult(self.cell_size, ix, iy, self.epochs, east, up, stats_e, stats_u, std_vel[:, 0],
                             std_vel[:, 1], std_disp[:, 0], std_disp[:, 1], n_points_asc, n_points_desc, n_geom,
                             height, weight_source, n_one_orbit, n_ill, int(n_empty),
                             [(lay.name, lay.orbit, lay.n_points) for lay in self.layers])
        self.layers = []
        progress.update(1.0)
        return result


# cell keys: 2 × 31-bit signed cell indices packed into one int64 (cells of ≥ 1 mm cover ±2·10⁶ km)
_OFFSET = np.int64(1 << 30)


def _cell_keys(ix, iy):
    if ix.size and (np.abs(ix).max() >= _OFFSET or np.abs(iy).max() >= _OFFSET):
        raise InputError("coordinates too large for the cell grid: are the layers in EPSG:3035 metres?")
    return ((iy + _OFFSET) << np.int64(31)) | (ix + _OFFSET)


def _cell_indices(keys):
    return (keys & np.int64((1 << 31) - 1)) - _OFFSET, (keys >> np.int64(31)) - _OFFSET


def _solve_cells(stacked, offsets, ae, au, weights, is_asc, sigma_disp, sigma_vel):
    """Per-cell per-epoch WLS; returns east, up (n_epochs, n_cells), std_disp, std_vel (n_cells, 2), n_empty."""
    n_epochs = stacked.shape[0]
    n_cells = offsets.size - 1
    east = np.empty((n_epochs, n_cells))
    up = np.empty((n_epochs, n_cells))
    std_disp = np.empty((n_cells, 2))
    std_vel = np.empty((n_cells, 2))
    empty = np.zeros(n_cells, dtype=np.int64)
    from ._wls_kernel import wls_cells  # numba, imported when a decomposition is solved

    wls_cells(np.ascontiguousarray(stacked), offsets, ae, au, weights, is_asc.astype(np.bool_), sigma_disp,
                sigma_vel, east, up, std_disp, std_vel, empty)
    return east, up, std_disp, std_vel, empty.sum()


def decompose(layers, cell_size=DEFAULT_CELL_SIZE, gnss=None, max_condition=DEFAULT_MAX_CONDITION, epochs=None,
              progress=None) -> OrthoResult:
    """Decompose in-memory layers: dicts with keys of :meth:`OrthoDecomposer.add_layer` (``name``, ``x``, ``y``,
    ``los_east``, ``los_north``, ``los_up``, ``date_columns``, ``dates``, optional ``rmse``,
    ``mean_velocity_std``, ``height``, ``orbit``).  ``epochs`` default: the common 6-day grid epochs."""
    progress = ensure(progress)
    if epochs is None:
        epochs = common_epochs([(min(lay["dates"]), max(lay["dates"])) for lay in layers],
                               names=[lay.get("name", f"layer {i + 1}") for i, lay in enumerate(layers)])
    dec = OrthoDecomposer(epochs, cell_size, gnss, max_condition)
    for i, lay in enumerate(layers):
        dec.add_layer(progress=progress.span(0.5 * i / len(layers), 0.5 * (i + 1) / len(layers)), **lay)
    return dec.solve(progress.span(0.5, 1.0))
