"""Calibrate LOS velocities to a GNSS velocity model (EGMS Calibrated; ARCHITECTURE.md, EGMS format: Calibrated).

1. The GNSS model is interpolated to every point and projected on the point's
   LOS (:func:`~.gnss.los_velocity`) → ``gnss_velocity`` (mm/yr).
2. The residual ``mean_velocity − gnss_velocity`` of the covered points is
   modelled by a smooth surface (:func:`fit_surface`):

   * ``polynomial`` — a 2-D polynomial of total degree ``order`` (0 = constant
     offset, 1 = offset + ramp, …) fitted by least squares;
   * ``gaussian`` — Gaussian-weighted *local plane* regression with cut-off
     wavelength λ (the ISO 16610 Gaussian filter: a sinusoid of wavelength λ
     keeps half its amplitude; kernel σ = λ·√(ln 2 / 2) / π ≈ 0.187 λ).  A
     local plane rather than a local mean reproduces an offset + ramp exactly,
     also at the edges of the data.

   Both fits are robust: two passes drop residuals farther than 3 × 1.4826 ×
   MAD from the surface (local motion such as a subsidence bowl must not bend
   the reference surface).  Fits are unweighted: the residual is dominated by
   real motion and GNSS-model error, not by the InSAR precision.
3. The surface is subtracted from ``mean_velocity`` and, as rate × time, from
   every date, with t = days since the first date / 365 (the EGMS statistics
   time axis, so refitting the corrected series gives the corrected velocity;
   the first date stays 0).  Points the GNSS model does not cover take the
   surface value of the nearest covered point (a polynomial is never
   extrapolated).

Without usable coverage (fewer than :data:`MIN_COVERED_POINTS` covered
points) the layer cannot be calibrated; the zero-mean fallback (EGMS: "islands
without GNSS") instead subtracts the layer's mean velocity, so the corrected
velocities average to zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..egms.stats import egms_time
from ..errors import InputError
from ..progress import ensure
from .gnss import MAX_EXTRAPOLATION_M, GnssModel, los_velocity

METHODS = ("gaussian", "polynomial")
DEFAULT_WAVELENGTH_M = 100_000.0
"""Default cut-off wavelength of the Gaussian surface (m): the scale EGMS implies."""
MIN_COVERED_POINTS = 10
"""Fewest points with GNSS coverage for a calibration surface."""
ROBUST_PASSES = 2
ROBUST_THRESHOLD = 3.0
_GRID_CELLS_PER_SIGMA = 4.0
_MAX_GRID_CELLS = 20_000_000
_RIDGE = 0.01  # slope regularisation of the local plane, in units of Sw·σ² (shrinks slopes where data lie on a line)


def gaussian_sigma(wavelength_m):
    """Kernel σ (m) of the Gaussian filter with 50 % amplitude transmission at ``wavelength_m``."""
    return float(wavelength_m) * np.sqrt(np.log(2.0) / 2.0) / np.pi


# ---------------------------------------------------------------- surfaces
class PolynomialSurface:
    """2-D polynomial of total degree ``order`` in coordinates centred and scaled to the data."""

    def __init__(self, x, y, values, order):
        self.order = int(order)
        self.centre = (float(np.mean(x)), float(np.mean(y)))
        half = 0.5 * max(np.ptp(x), np.ptp(y))
        self.scale = half if half > 0 else 1.0
        g = self._design(x, y)
        self.coefficients, *_ = np.linalg.lstsq(g, values, rcond=None)

    @staticmethod
    def n_terms(order):
        return (order + 1) * (order + 2) // 2

    def _design(self, x, y):
        u = (np.asarray(x, dtype=np.float64) - self.centre[0]) / self.scale
        v = (np.asarray(y, dtype=np.float64) - self.centre[1]) / self.scale
        return np.column_stack([u ** (d - j) * v ** j for d in range(self.order + 1) for j in range(d + 1)])

    def __call__(self, x, y):
        return self._design(x, y) @ self.coefficients


class GaussianSurface:
    """Gaussian-weighted local-plane regression on a grid of σ/4 cells, blended bilinearly between cells.

    For every grid cell centre c the plane ``r ≈ a + b·(X − Xc) + c·(Y − Yc)``
    minimises ``Σ K(p − c)·(r_p − plane(p))²`` with K the Gaussian kernel; the
    kernel-weighted moments of all cells come from nine Gaussian filterings of
    per-cell sums (coordinates X, Y in cell units).  A point's value blends the
    planes of its four nearest cell centres, each evaluated at the point.
    """

    def __init__(self, x, y, values, wavelength_m):
        from scipy.ndimage import gaussian_filter

        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        r = np.asarray(values, dtype=np.float64)
        self.sigma_m = gaussian_sigma(wavelength_m)
        cell = self.sigma_m / _GRID_CELLS_PER_SIGMA
        x0, y0 = float(x.min()), float(y.min())
        while True:
            shape = (int((y.max() - y0) // cell) + 1, int((x.max() - x0) // cell) + 1)
            if shape[0] * shape[1] <= _MAX_GRID_CELLS:
                break
            cell *= 2.0
        self.x0, self.y0, self.cell, self.shape = x0, y0, cell, shape
        sigma_cells = self.sigma_m / cell
        gx, gy = (x - x0) / cell, (y - y0) / cell
        index = np.minimum(gy.astype(np.int64), shape[0] - 1) * shape[1] + np.minimum(gx.astype(np.int64), shape[1] - 1)
        size = shape[0] * shape[1]

        def smoothed(weights):
            grid = np.bincount(index, weights=weights, minlength=size).reshape(shape)
            return gaussian_filter(grid, sigma_cells, mode="constant", cval=0.0, truncate=4.0)

        s1 = smoothed(np.ones_like(r))
        sx, sy, sr = smoothed(gx), smoothed(gy), smoothed(r)
        sxx, sxy, syy = smoothed(gx * gx), smoothed(gx * gy), smoothed(gy * gy)
        srx, sry = smoothed(r * gx), smoothed(r * gy)
        rows, cols = np.indices(shape, dtype=np.float64)
        xc, yc = cols + 0.5, rows + 0.5
        # moments about each cell centre
        cxx = sxx - 2 * xc * sx + xc * xc * s1
        cyy = syy - 2 * yc * sy + yc * yc * s1
        cxy = sxy - xc * sy - yc * sx + xc * yc * s1
        crx, cry = srx - xc * sr, sry - yc * sr
        cx, cy = sx - xc * s1, sy - yc * s1
        ridge = _RIDGE * sigma_cells**2 * s1
        m = np.empty(shape + (3, 3))
        m[..., 0, 0], m[..., 0, 1], m[..., 0, 2] = s1, cx, cy
        m[..., 1, 0], m[..., 1, 1], m[..., 1, 2] = cx, cxx + ridge, cxy
        m[..., 2, 0], m[..., 2, 1], m[..., 2, 2] = cy, cxy, cyy + ridge
        rhs = np.stack([sr, crx, cry], axis=-1)
        live = s1 > 1e-9 * s1.max()
        coef = np.full(shape + (3,), np.nan)
        coef[live] = np.linalg.solve(m[live], rhs[live][..., None])[..., 0]
        self.a, self.b, self.c = coef[..., 0], coef[..., 1], coef[..., 2]

    def __call__(self, x, y):
        gx = (np.asarray(x, dtype=np.float64) - self.x0) / self.cell
        gy = (np.asarray(y, dtype=np.float64) - self.y0) / self.cell
        # the four cell centres around the point (clamped to the grid), bilinear weights
        c0 = np.floor(gx - 0.5).astype(np.int64)
        r0 = np.floor(gy - 0.5).astype(np.int64)
        total = np.zeros(gx.shape)
        weight = np.zeros(gx.shape)
        for dr in (0, 1):
            for dc in (0, 1):
                rr = np.clip(r0 + dr, 0, self.shape[0] - 1)
                cc = np.clip(c0 + dc, 0, self.shape[1] - 1)
                wx = np.clip(1.0 - np.abs(gx - (c0 + dc + 0.5)), 0.0, 1.0)
                wy = np.clip(1.0 - np.abs(gy - (r0 + dr + 0.5)), 0.0, 1.0)
                w = wx * wy
                value = self.a[rr, cc] + self.b[rr, cc] * (gx - cc - 0.5) + self.c[rr, cc] * (gy - rr - 0.5)
                ok = np.isfinite(value) & (w > 0)
                total[ok] += w[ok] * value[ok]
                weight[ok] += w[ok]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(weight > 0, total / weight, np.nan)


def fit_surface(x, y, residual, method="gaussian", order=1, wavelength_m=DEFAULT_WAVELENGTH_M, robust=True):
    """A smooth surface through ``residual`` (mm/yr) at points ``x, y`` (m); callable on coordinates.

    ``method`` ``"polynomial"`` (total degree ``order``) or ``"gaussian"``
    (cut-off ``wavelength_m``).  With ``robust``, :data:`ROBUST_PASSES` refits
    drop points farther than 3 × 1.4826 × MAD from the previous surface.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    r = np.asarray(residual, dtype=np.float64)
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {METHODS}")
    if method == "polynomial" and (order < 0 or int(order) != order):
        raise InputError(f"polynomial order must be a whole number ≥ 0, got {order}")
    if method == "gaussian" and not wavelength_m > 0:
        raise InputError(f"smoothing wavelength must be positive, got {wavelength_m} m")

    def fit(keep):
        if method == "polynomial":
            return PolynomialSurface(x[keep], y[keep], r[keep], int(order))
        return GaussianSurface(x[keep], y[keep], r[keep], wavelength_m)

    keep = np.ones(r.size, dtype=bool)
    surface = fit(keep)
    for _ in range(ROBUST_PASSES if robust else 0):
        misfit = r - surface(x, y)
        mad = 1.4826 * np.median(np.abs(misfit[keep] - np.median(misfit[keep])))
        new_keep = np.abs(misfit) <= ROBUST_THRESHOLD * mad if mad > 0 else np.ones(r.size, dtype=bool)
        if method == "polynomial" and new_keep.sum() < PolynomialSurface.n_terms(int(order)):
            break
        if new_keep.sum() < MIN_COVERED_POINTS or np.array_equal(new_keep, keep):
            break
        keep = new_keep
        surface = fit(keep)
    return surface


@dataclass
class Calibration:
    """Result of :func:`calibrate_velocities`; arrays per point, mm/yr."""

    correction: np.ndarray
    """Subtracted from ``mean_velocity`` (and × t from the dates)."""
    gnss_velocity: np.ndarray
    """GNSS model on the LOS; NaN where the point is not covered."""
    mode: str
    """``"gnss"`` (surface fitted) or ``"zero_mean"`` (fallback)."""
    n_points: int
    n_covered: int
    n_used: int
    """Covered points with a finite velocity that the surface was fitted to."""
    rms_before: float
    """RMS of velocity − gnss_velocity over the covered points, before and after correction."""
    rms_after: float

    def corrected_velocity(self, velocity):
        return np.asarray(velocity, dtype=np.float64) - self.correction

    def correct_series(self, displacement, dates):
        """Subtract correction × t (t = days since the first date / 365) from every date.

        ``displacement`` is an (n_points, n_dates) array or a list of per-date
        columns; the same kind is returned (new arrays, the input is untouched).
        """
        return correct_series(displacement, dates, self.correction)

    def apply(self, table):
        """A copy of ``table`` (a :class:`~..io.points.PointTable` with a float64 ``mean_velocity`` and date fields)
        with corrected ``mean_velocity`` and dates, and ``gnss_velocity`` (replacing one the table has) before the
        first date field, or last without dates; the metadata item ``egms_calibration`` holds :meth:`summary`."""
        from ..io.points import PointTable

        dates = table.date_fields()
        date_names = {n for n, _ in dates}
        corrected = self.correct_series([table.columns[n] for n, _ in dates], [d for _, d in dates])
        by_name = dict(zip((n for n, _ in dates), corrected))
        columns = {}
        for key, values in table.columns.items():
            if key == "gnss_velocity":
                continue
            if key in date_names and "gnss_velocity" not in columns:
                columns["gnss_velocity"] = self.gnss_velocity
            columns[key] = self.corrected_velocity(values) if key == "mean_velocity" else by_name.get(key, values)
        columns.setdefault("gnss_velocity", self.gnss_velocity)
        metadata = dict(table.metadata)
        metadata["egms_calibration"] = self.summary()
        return PointTable(columns, table.x, table.y, table.crs, metadata)

    def summary(self) -> str:
        if self.mode == "zero_mean":
            return (f"zero-mean fallback: subtracted the mean velocity {self.correction[0]:.3f} mm/yr from all "
                    f"{self.n_points} points ({self.n_covered} covered by the GNSS model)")
        corr = self.correction[np.isfinite(self.correction)]
        return (f"GNSS covers {self.n_covered} of {self.n_points} points; surface fitted to {self.n_used}; "
                f"correction {corr.min():.2f} … {corr.max():.2f} mm/yr (mean {corr.mean():.2f}); RMS of InSAR − GNSS "
                f"{self.rms_before:.2f} → {self.rms_after:.2f} mm/yr"
                + (f"; {self.n_points - corr.size} points without coordinates set to NULL" if corr.size < self.n_points
                   else ""))


def correct_series(displacement, dates, rate):
    """Displacements minus ``rate`` (mm/yr per point) × t, t on the EGMS time axis (days / 365 since the first date)."""
    t = egms_time(dates)
    rate = np.asarray(rate, dtype=np.float64)
    if isinstance(displacement, (list, tuple)):
        if len(displacement) != t.size:
            raise ValueError(f"{len(displacement)} date columns for {t.size} dates")
        return [np.asarray(col, dtype=np.float64) - rate * t[k] for k, col in enumerate(displacement)]
    y = np.asarray(displacement, dtype=np.float64)
    if y.ndim != 2 or y.shape[1] != t.size:
        raise ValueError(f"displacement must be (n_points, {t.size}), got {y.shape}")
    return y - rate[:, None] * t[None, :]


def _rms(v):
    v = v[np.isfinite(v)]
    return float(np.sqrt(np.mean(v * v))) if v.size else float("nan")


def calibrate_velocities(x, y, velocity, los_east, los_north, los_up, gnss: GnssModel | None, method="gaussian",
                         order=1, wavelength_m=DEFAULT_WAVELENGTH_M, zero_mean=False,
                         max_extrapolation_m=MAX_EXTRAPOLATION_M, layer="input layer", progress=None) -> Calibration:
    """Correction (mm/yr per point) tying LOS ``velocity`` to the GNSS model; see the module docstring.

    ``x, y`` in EPSG:3035 (m); ``los_*`` unit vectors ground → satellite;
    velocities positive towards the satellite.  Raises :class:`InputError`
    (naming ``layer``) when the model does not cover enough points and
    ``zero_mean`` is off, or when no velocity is finite.
    """
    progress = ensure(progress)
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    v = np.asarray(velocity, dtype=np.float64)
    n = v.size
    finite_v = np.isfinite(v)
    if not finite_v.any():
        raise InputError(f"{layer}: no point has a mean_velocity value")
    if gnss is not None:
        gnss_los, *_ = los_velocity(gnss, x, y, los_east, los_north, los_up, max_extrapolation_m)
    else:
        gnss_los = np.full(n, np.nan)
    progress.update(0.4)
    progress.check()
    covered = np.isfinite(gnss_los)
    use = covered & finite_v & np.isfinite(x) & np.isfinite(y)
    n_use = int(use.sum())
    need = MIN_COVERED_POINTS
    if method == "polynomial":
        need = max(need, PolynomialSurface.n_terms(int(order)) + 1)
    if n_use < need:
        if not zero_mean:
            where = ""
            if gnss is not None and n:
                from scipy.spatial import cKDTree

                dist, _ = cKDTree(np.column_stack([gnss.easting, gnss.northing])).query(
                    [[float(np.nanmedian(x)), float(np.nanmedian(y))]])
                if np.isfinite(dist[0]):
                    where = f"; the nearest station is {dist[0] / 1000:.0f} km from the layer's centre"
            raise InputError(
                f"{layer}: no usable GNSS coverage — the model ({'none given' if gnss is None else gnss.source}) "
                f"covers {int(covered.sum())} of {n} points, at least {need} are needed{where}. Enable the zero-mean "
                "fallback (ZERO_MEAN) to reference the layer to zero mean velocity instead.")
        offset = float(np.mean(v[finite_v]))
        return Calibration(np.full(n, offset), gnss_los, "zero_mean", n, int(covered.sum()), 0,
                           _rms((v - gnss_los)[covered]), _rms((v - offset - gnss_los)[covered]))
    residual = v[use] - gnss_los[use]
    surface = fit_surface(x[use], y[use], residual, method, order, wavelength_m)
    progress.update(0.8)
    progress.check()
    correction = np.full(n, np.nan)
    correction[use] = surface(x[use], y[use])
    missing = ~use & np.isfinite(x) & np.isfinite(y)
    if missing.any():
        from scipy.spatial import cKDTree

        _, nearest = cKDTree(np.column_stack([x[use], y[use]])).query(np.column_stack([x[missing], y[missing]]))
        correction[missing] = correction[np.flatnonzero(use)[nearest]]
    progress.update(1.0)
    return Calibration(correction, gnss_los, "gnss", n, int(covered.sum()), n_use, _rms(residual),
                       _rms(residual - correction[use]))
