"""EGMS Ortho (L3): vertical and east motion from ascending + descending LOS layers (EGMS_FORMAT §7).

Method, per input layer ("geometry": one track/burst of one orbit direction):

1. optional north–south removal: the GNSS model's north velocity N at each
   point, as ``N · los_north`` × t, is subtracted from the series (the
   decomposition then assumes N = 0);
2. points are binned into square cells aligned to multiples of ``cell_size``
   in EPSG:3035 (centre at +cell/2); per cell, the layer's series, LOS vector
   and precision are averaged (a date is averaged over the points valid on it);
3. each averaged series is resampled linearly to the regular 6-day grid whose
   origin is 2014-04-03 (:data:`GRID_ORIGIN`), over the span common to all
   layers — never extrapolated;
4. per cell and epoch, weighted least squares for (E, U) with
   ``d_g = E·los_east_g + U·los_up_g``, weights ``1/σ_g²``; cells need at
   least one ascending and one descending geometry, and a design whose
   condition number is at most ``max_condition``; an epoch where a geometry has
   no data is solved from the others (empty when an orbit direction is lost);
5. the E and U series are referred to their first epoch (= 0) and the EGMS
   statistics are recomputed on them (:func:`~.stats.egms_statistics`).

Precision and weights: σ_g of a cell average is ``sqrt(mean σ_i²/n)`` over the
n points (independent errors), each σ_i floored at :data:`SIGMA_FLOOR` (half the
0.1 rounding of published values).  The weights use the points' ``rmse`` (mm,
the per-date scatter — the precision of the displacements decomposed) when
every layer has it, else ``mean_velocity_std`` (mm/yr, proportional for equal
time spans), else equal weights.  Propagated standard deviations:
``propagated_displacement_std`` = sqrt(diag (AᵀWA)⁻¹) with σ from ``rmse`` (mm;
all geometries of the cell present), ``propagated_velocity_std`` = the
``mean_velocity_std`` of the inputs carried through the same linear
combination (mm/yr); NaN when the layers lack those columns.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field

import numba
import numpy as np

from ..conventions import orbit_from_los_east
from ..egms.stats import egms_statistics, egms_time
from ..errors import InputError
from ..io.atomic import replaced_on_success
from ..progress import ensure

GRID_ORIGIN = _dt.date(2014, 4, 3)
"""Origin of the EGMS L3 6-day time grid (first Sentinel-1A acquisitions)."""
GRID_STEP_DAYS = 6
DEFAULT_CELL_SIZE = 100.0
"""m, EGMS L3 cells."""
DEFAULT_MAX_CONDITION = 10.0
"""Largest condition number of the per-cell design [los_east, los_up] accepted (asc + desc ≈ 1.3–2)."""
SIGMA_FLOOR = 0.05
"""mm or mm/yr: smallest precision of a point (published values are rounded to 0.1; 0.0 occurs)."""
MIN_EPOCHS = 7
"""Fewest common epochs: the statistics' cubic + seasonal model needs 7 dates."""
WEIGHT_SOURCES = ("rmse", "mean_velocity_std", "equal")


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
    ordinals = np.array([d.toordinal() for d in dates], dtype=np.float64)
    target = np.array([e.toordinal() for e in epochs], dtype=np.float64)
    if target.size and (target[0] < ordinals[0] or target[-1] > ordinals[-1]):
        raise ValueError("epochs outside the dates: resampling never extrapolates")
    j = np.clip(np.searchsorted(ordinals, target, side="right") - 1, 0, max(ordinals.size - 2, 0))
    if ordinals.size == 1:
        return j, np.zeros(target.size)
    f = (target - ordinals[j]) / (ordinals[j + 1] - ordinals[j])
    return j, f


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

    def add_layer(self, name, x, y, los_east, los_north, los_up, date_columns, dates, rmse=None,
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
            from .gnss import MAX_EXTRAPOLATION_M, interpolate

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
        stats_e = egms_statistics(east.T, self.epochs, progress=progress.span(0.5, 0.75))
        stats_u = egms_statistics(up.T, self.epochs, progress=progress.span(0.75, 1.0))
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
    _wls_kernel(np.ascontiguousarray(stacked), offsets, ae, au, weights, is_asc.astype(np.bool_), sigma_disp,
                sigma_vel, east, up, std_disp, std_vel, empty)
    return east, up, std_disp, std_vel, empty.sum()


@numba.njit(nogil=True, parallel=True, cache=True)
def _wls_kernel(stacked, offsets, ae, au, w, is_asc, sigma_disp, sigma_vel, east, up, std_disp, std_vel, empty):
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


NODATA = -9999.0
"""No-data value of the velocity GeoTIFFs (as EGMS L3)."""


def velocity_grid(result: OrthoResult, component):
    """(array (rows, cols) float32 with :data:`NODATA`, rasterio transform) of a component's mean velocity.

    The grid is aligned to multiples of the cell size in EPSG:3035: the
    raster's top-left corner is (min ix · cell, (max iy + 1) · cell).
    """
    from rasterio.transform import from_origin

    values = {"up": result.stats_up, "east": result.stats_east}[component]["mean_velocity"]
    cell = result.cell_size
    col = result.ix - result.ix.min()
    row = result.iy.max() - result.iy
    grid = np.full((int(row.max()) + 1, int(col.max()) + 1), NODATA, dtype=np.float32)
    finite = np.isfinite(values)
    grid[row[finite], col[finite]] = values[finite].astype(np.float32)
    return grid, from_origin(result.ix.min() * cell, (result.iy.max() + 1) * cell, cell, cell)


def write_velocity_geotiff(path, result: OrthoResult, component):
    """Write the mean velocity (mm/yr) of ``component`` (``"up"`` or ``"east"``) as a Float32 GeoTIFF.

    EPSG:3035, cells aligned to the grid, nodata −9999, deflate-compressed;
    written to a temporary file and renamed, so a failure leaves nothing.
    """
    import rasterio

    grid, transform = velocity_grid(result, component)
    with replaced_on_success(path, ".tif") as tmp:
        profile = dict(driver="GTiff", width=grid.shape[1], height=grid.shape[0], count=1, dtype="float32",
                       crs="EPSG:3035", transform=transform, nodata=NODATA, compress="deflate")
        if grid.shape[0] >= 256 and grid.shape[1] >= 256:
            profile.update(tiled=True, blockxsize=256, blockysize=256)
        with rasterio.open(tmp, "w", **profile) as dst:
            dst.write(grid, 1)
            dst.update_tags(component={"up": "U (vertical, positive up)", "east": "E (east-west, positive east)"}[component],
                            unit="mm/yr", epochs=f"{result.epochs[0]:%Y%m%d}-{result.epochs[-1]:%Y%m%d}")
            dst.set_band_description(1, f"mean_velocity_{component}")
    return path


L3_FIELDS = ("pid", "easting", "northing", "height", "rmse", "mean_velocity", "mean_velocity_std", "acceleration",
             "acceleration_std", "seasonality", "seasonality_std")
"""L3 attribute columns (EGMS_FORMAT §2), before the extra fields and the dates."""
EXTRA_FIELDS = ("propagated_velocity_std", "propagated_displacement_std", "n_points_asc", "n_points_desc",
                "n_geometries")
"""Fields this plugin adds to L3 layers: propagated precision (mm/yr, mm) and per-cell point counts."""


def l3_table(result: OrthoResult, component, metadata=None):
    """The ``"up"`` or ``"east"`` component as an L3-schema :class:`~.mpio.PointTable` (EPSG:3035 cell centres).

    Fields :data:`L3_FIELDS` (``pid`` from :func:`~.pid.l3_pid`; ``easting``/``northing``
    integers when the cell centres are), then :data:`EXTRA_FIELDS`, then one
    field per epoch named ``YYYYMMDD`` (mm, first epoch 0).
    """
    from ..egms.pid import l3_pid
    from ..io.points import PointTable

    stats = {"up": result.stats_up, "east": result.stats_east}[component]
    series = {"up": result.up, "east": result.east}[component]
    e, n = result.easting, result.northing
    integral = np.all(e == np.round(e)) and np.all(n == np.round(n))
    columns = {
        "pid": l3_pid(e, n),
        "easting": e.astype(np.int64) if integral else e,
        "northing": n.astype(np.int64) if integral else n,
        "height": result.height,
    }
    for key in L3_FIELDS[4:]:
        columns[key] = stats[key]
    columns["propagated_velocity_std"] = getattr(result, f"propagated_velocity_std_{component}")
    columns["propagated_displacement_std"] = getattr(result, f"propagated_displacement_std_{component}")
    columns["n_points_asc"] = result.n_points_asc
    columns["n_points_desc"] = result.n_points_desc
    columns["n_geometries"] = result.n_geometries
    for k, epoch in enumerate(result.epochs):
        columns[f"{epoch:%Y%m%d}"] = series[k]
    meta = {
        "egms_product_level": "L3",
        "egms_component": {"up": "U", "east": "E"}[component],
        "egms_cell_size_m": f"{result.cell_size:g}",
        "egms_time_grid": f"{GRID_STEP_DAYS}-day grid from {GRID_ORIGIN:%Y-%m-%d}",
        "egms_weights": result.weight_source,
        "egms_inputs": "; ".join(f"{name} ({orbit}, {count} points)" for name, orbit, count in result.layers),
    }
    meta.update(metadata or {})
    return PointTable(columns, e.astype(np.float64), n.astype(np.float64), "EPSG:3035", meta)
