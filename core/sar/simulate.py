"""Synthetic Sentinel-1 SLC stacks with ground truth, in the stack-folder contract.

:func:`simulate_stack` writes one CFloat32 GeoTIFF per acquisition (projected
CRS), ``baselines.csv``, ``stack.json`` and ``truth/``:

* persistent scatterers — bright, stable amplitude (amplitude dispersion
  0.04–0.18 by default) among fully decorrelating speckle clutter (circular
  Gaussian, D_A ≈ √(4/π − 1) ≈ 0.52);
* recognisable deformation: a subsidence bowl, an uplift area, a sliding slope
  (east-west and down, accelerating), an area of seasonal motion, stable
  ground elsewhere, optionally a patch moving faster than the unwrapping limit;
  3-D motion projected on the LOS vector (``conventions.los_vector``, ARCHITECTURE.md §Conventions);
* height errors (uniform ±20 m) at the scatterers, perpendicular baselines
  uniform in ±150 m, irregular 6/12-day sampling with gaps;
* a spatially correlated (power-law, turbulent) atmospheric delay drawn anew
  for every date, and thermal noise.

All phases follow :mod:`.conventions`: the SLC phase of a scatterer is
``4π/λ · (d_k + B⊥,k·Δh/(R sin θ) + a_k) + φ₀`` (d positive towards the
satellite, a the atmospheric delay), so ``arg(s_ref · conj(s_k))`` is
``−4π/λ · (d_k − d_ref + …)``.

Truth (``truth/``): ``velocity.tif`` (LOS mm/yr: the EGMS linear + seasonal
fit of the true series, the quantity the products report), ``height_error.tif``
(m, NaN off scatterers), ``ps_mask.tif`` (1 = scatterer), ``displacement.tif``
(LOS mm per date relative to the first date, one band per date named
``YYYYMMDD``), ``atmosphere.tif`` (LOS mm per date) and ``simulation.json``.
The same parameters and seed give the same files.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
from dataclasses import asdict, dataclass, field

import numpy as np

from .. import conventions as cv
from ..errors import InputError
from ..io.atomic import folder_on_success
from ..progress import ensure
from .simulate_ds import DS_README, DistributedScatterers

ORBIT_HEADING = {"ascending": -10.0, "descending": 190.0}
"""Typical Sentinel-1 headings (deg clockwise from north)."""

# Revisit steps (days) and their probabilities: 6 and 12 days with occasional gaps.
REVISIT_DAYS = (6, 12, 24, 36)
REVISIT_PROB = (0.2, 0.65, 0.1, 0.05)


@dataclass
class SimulationParameters:
    """Everything that defines a simulated stack (all have defaults)."""

    rows: int = 400
    cols: int = 400
    n_dates: int = 60
    start_date: str = "20190106"
    pixel_size_m: float = 20.0
    crs: str = "EPSG:32632"
    origin_x: float = 500000.0
    origin_y: float = 5000000.0
    ps_density: float = 0.03
    """Fraction of pixels that are persistent scatterers."""
    ps_dispersion: tuple = (0.04, 0.18)
    """Range of the scatterers' amplitude dispersion (sets their signal-to-clutter ratio)."""
    thermal_noise: float = 0.1
    """Thermal noise std relative to the clutter std."""
    atmosphere_mm: float = 3.0
    """Std of the atmospheric delay over the scene per date (LOS mm)."""
    height_error_max_m: float = 20.0
    bperp_max_m: float = 150.0
    orbit: str = "ascending"
    incidence_deg: float = 39.0
    heading_deg: float | None = None
    """None: −10° ascending, 190° descending."""
    slant_range_m: float = 875000.0
    wavelength_m: float = cv.SENTINEL1_WAVELENGTH
    deformation_scale: float = 1.0
    """Multiplies every deformation signal (0 = stable ground everywhere)."""
    fast_patch_velocity: float = 0.0
    """LOS mm/yr of a small patch at the scene centre (0 = none); > λ/4 per revisit tests unwrapping."""
    seed: int = 0
    amplitude_scale: float = 100.0
    """Clutter amplitude (data number) of the written SLCs."""
    noise_free: bool = False
    """Write scatterers without clutter and thermal noise (for convention tests); clutter pixels become 0."""
    ds_areas: int = 0
    """Number of distributed-scatterer areas (0 = none: the stack is the same as without these fields)."""
    ds_radius_m: float = 400.0
    """Radius of every DS area (m)."""
    ds_gamma_inf: float = 0.3
    """Long-term coherence γ∞ of the DS areas: γ(Δt) = γ∞ + (1 − γ∞)·exp(−Δt/τ)."""
    ds_tau_days: float = 45.0
    """Decorrelation time τ of the DS areas (days)."""
    ds_brightness: float = 1.5
    """Amplitude of the DS backscatter relative to the clutter's (fields and slopes brighter than shadow)."""
    extra: dict = field(default_factory=dict)

    def validate(self):
        if self.rows < 8 or self.cols < 8:
            raise InputError(f"size {self.cols} × {self.rows}: at least 8 × 8 pixels are needed.")
        if self.n_dates < 3:
            raise InputError(f"{self.n_dates} dates: at least 3 are needed.")
        if not 0.0 < self.ps_density <= 0.5:
            raise InputError(f"scatterer density {self.ps_density}: expected a fraction in (0, 0.5].")
        lo, hi = self.ps_dispersion
        if not 0.0 < lo <= hi < 0.5:
            raise InputError(f"scatterer dispersion range {self.ps_dispersion}: expected 0 < low ≤ high < 0.5.")
        if self.orbit not in ORBIT_HEADING:
            raise InputError(f"orbit {self.orbit!r}: expected 'ascending' or 'descending'.")
        if not 0.0 < self.incidence_deg < 90.0:
            raise InputError(f"incidence {self.incidence_deg}°: expected 0–90°.")
        for name in ("thermal_noise", "atmosphere_mm", "height_error_max_m", "bperp_max_m"):
            if getattr(self, name) < 0:
                raise InputError(f"{name} = {getattr(self, name)} must not be negative.")
        if self.ds_areas < 0 or self.ds_radius_m <= 0 or self.ds_tau_days <= 0 or self.ds_brightness <= 0:
            raise InputError("DS areas: expected a non-negative count and a positive radius, τ and brightness.")
        if not 0.0 <= self.ds_gamma_inf <= 1.0:
            raise InputError(f"DS long-term coherence γ∞ = {self.ds_gamma_inf}: expected 0–1.")
        try:
            cv.parse_date(self.start_date)
        except ValueError:
            raise InputError(f"start date {self.start_date!r} is not YYYYMMDD.") from None

    @property
    def heading(self):
        return ORBIT_HEADING[self.orbit] if self.heading_deg is None else float(self.heading_deg)


def acquisition_dates(n_dates, start_date, rng):
    """Irregular acquisition dates: 6/12-day revisits with occasional 24/36-day gaps."""
    steps = rng.choice(REVISIT_DAYS, size=n_dates - 1, p=REVISIT_PROB)
    offsets = np.concatenate([[0], np.cumsum(steps)])
    return [start_date + _dt.timedelta(days=int(d)) for d in offsets]


def _gaussian(u, v, cu, cv_, sigma):
    return np.exp(-((u - cu) ** 2 + (v - cv_) ** 2) / (2.0 * sigma**2))


def deformation_components(rows, cols, scale=1.0):
    """Spatial fields (float64, rows × cols) of the 3-D motion model.

    Returns a dict of east/north/up velocities (mm/yr), east/up accelerations
    (mm/yr²) and the up seasonal amplitude (mm).  Positions are relative to the
    scene so the pattern scales with its size.
    """
    v, u = np.meshgrid((np.arange(rows) + 0.5) / rows, (np.arange(cols) + 0.5) / cols, indexing="ij")
    bowl = _gaussian(u, v, 0.30, 0.35, 0.12)
    uplift = _gaussian(u, v, 0.78, 0.22, 0.08)
    # sliding slope: an elongated, tapered region
    du, dv = (u - 0.70) / 0.14, (v - 0.72) / 0.08
    slide = np.clip(1.0 - (du**2 + dv**2), 0.0, None) ** 1.5
    season = _gaussian(u, v, 0.22, 0.78, 0.10)
    return {
        "east_velocity": scale * (-12.0 * slide),
        "north_velocity": np.zeros_like(u),
        "up_velocity": scale * (-25.0 * bowl + 8.0 * uplift - 4.0 * slide),
        "east_acceleration": scale * (-6.0 * slide),
        "up_acceleration": scale * (-2.0 * slide),
        "up_seasonal": scale * (6.0 * season),
    }


def _seasonal(dates):
    """Annual cycle (unit amplitude) peaking in late January (aquifer/soil moisture-like)."""
    doy = np.array([d.timetuple().tm_yday for d in dates], dtype=np.float64)
    return np.cos(2.0 * np.pi * (doy - 25.0) / cv.DAYS_PER_YEAR)


class _Atmosphere:
    """Turbulent delay generator: power-law (k^-8/3) random fields, zero mean, given std (mm).

    The spectral filter is computed once; each call draws one date's field on a
    grid padded 2× (to soften the periodic wrap) with single-precision FFTs.
    """

    def __init__(self, rows, cols, pixel_m, std_mm):
        self.rows, self.cols, self.std_mm = rows, cols, std_mm
        self.ny, self.nx = 2 * rows, 2 * cols
        ky = np.fft.fftfreq(self.ny, d=pixel_m)
        kx = np.fft.rfftfreq(self.nx, d=pixel_m)
        k = np.hypot(ky[:, None], kx[None, :])
        k[0, 0] = np.inf
        self.filter = (k ** (-8.0 / 6.0)).astype(np.float32)  # sqrt of the k^-8/3 power spectrum

    def draw(self, rng):
        if self.std_mm == 0:
            return np.zeros((self.rows, self.cols), dtype=np.float32)
        from scipy import fft

        shape = self.filter.shape
        noise = np.empty(shape, dtype=np.complex64)
        noise.real = rng.standard_normal(shape, dtype=np.float32)
        noise.imag = rng.standard_normal(shape, dtype=np.float32)
        noise *= self.filter
        field = fft.irfft2(noise, s=(self.ny, self.nx), workers=-1)[: self.rows, : self.cols]
        field -= field.mean()
        field *= np.float32(self.std_mm / field.std())
        return field


def _truth_velocity(comp, los, dates):
    """EGMS mean velocity (linear + seasonal fit) of the noise-free LOS series, per pixel."""
    from ..egms.stats import design_matrix, egms_time

    t = cv.years_since_first(dates)
    t_egms = egms_time(dates)
    g1 = design_matrix(t_egms, "linear")
    slope = np.linalg.pinv(g1)[0]  # row giving the velocity coefficient
    seasonal = _seasonal(dates)
    seasonal = seasonal - seasonal[0]
    # slope of each temporal basis function under the EGMS fit
    s_lin, s_quad, s_seas = slope @ t, slope @ (0.5 * t * t), slope @ seasonal
    le, ln, lu = los
    v_los = le * comp["east_velocity"] + ln * comp["north_velocity"] + lu * comp["up_velocity"]
    a_los = le * comp["east_acceleration"] + lu * comp["up_acceleration"]
    s_los = lu * comp["up_seasonal"]
    return v_los * s_lin + a_los * s_quad + s_los * s_seas


BYTES_PER_PIXEL_DATE = 16
"""Disk per pixel and date: the CFloat32 SLC (8) and the float32 truth displacement and atmosphere (4 + 4)."""
BYTES_PER_PIXEL_TRUTH = 9
"""Disk per pixel of the single-band truth rasters (velocity 4, height error 4, scatterer mask 1)."""
MEMORY_BYTES_PER_PIXEL = 160
"""Peak memory per pixel of :func:`simulate_stack` (full-scene float64 deformation fields, atmosphere FFT, one
SLC), measured: 1000 × 1000 pixels peak 160 MB above the interpreter."""


def available_memory():
    """Bytes of memory available to a new allocation (Linux MemAvailable), or None when unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _size(n_bytes):
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.3g} {unit}"
    return f"{n_bytes:.0f} B"


def _check_resources(folder, p):
    """InputError before any work when the stack cannot fit on the disk or in memory (a mistyped size)."""
    pixels = p.rows * p.cols
    existing = os.path.dirname(folder)
    while not os.path.exists(existing) and os.path.dirname(existing) != existing:
        existing = os.path.dirname(existing)
    disk = pixels * (BYTES_PER_PIXEL_DATE * p.n_dates + BYTES_PER_PIXEL_TRUTH)
    try:
        free = shutil.disk_usage(existing).free
    except OSError:
        free = None
    if free is not None and disk > free:
        raise InputError(f"{folder}: needs about {_size(disk)} of disk space, {_size(free)} free there; reduce the "
                         "size or the number of acquisitions, or choose another disk.")
    memory = pixels * MEMORY_BYTES_PER_PIXEL
    available = available_memory()
    if available is not None and memory > available:
        raise InputError(f"{p.cols} × {p.rows} pixels need about {memory / 1e9:.1f} GB of memory, "
                         f"{available / 1e9:.1f} GB available; reduce the width and height.")


def simulate_stack(folder, params: SimulationParameters | None = None, progress=None):
    """Write a simulated stack into ``folder`` (created; must not hold files yet).

    Returns a dict describing what was written (paths, dates, counts).  Output
    is written into a temporary sibling folder and moved into place at the end,
    so a failed or cancelled run leaves nothing behind.
    """
    import rasterio
    from rasterio.transform import from_origin

    p = params or SimulationParameters()
    p.validate()
    progress = ensure(progress)
    folder = os.path.abspath(os.fspath(folder))
    if os.path.exists(folder) and (not os.path.isdir(folder) or os.listdir(folder)):
        raise InputError(f"{folder}: exists and is not an empty folder; choose a new or empty output folder.")
    _check_resources(folder, p)
    with folder_on_success(folder) as work:
        return _write(work, folder, p, progress, rasterio, from_origin)


def _write(work, final, p, progress, rasterio, from_origin):
    seed_seq = np.random.SeedSequence(p.seed)
    static_seed, *date_seeds = seed_seq.spawn(p.n_dates + 1)
    rng = np.random.default_rng(static_seed)
    rows, cols = p.rows, p.cols
    dates = acquisition_dates(p.n_dates, cv.parse_date(p.start_date), rng)
    bperp = rng.uniform(-p.bperp_max_m, p.bperp_max_m, size=p.n_dates)
    los = tuple(float(c) for c in cv.los_vector(p.incidence_deg, p.heading))

    # scatterers
    mask = rng.random((rows, cols)) < p.ps_density
    n_ps = int(mask.sum())
    dispersion = rng.uniform(*p.ps_dispersion, size=n_ps)
    clutter_std = 1.0
    noise_std = clutter_std * np.hypot(1.0, p.thermal_noise)
    ps_amplitude = noise_std / (np.sqrt(2.0) * dispersion)  # D_A ≈ σ/(√2 A)
    height_error = np.full((rows, cols), np.nan, dtype=np.float32)
    dh = rng.uniform(-p.height_error_max_m, p.height_error_max_m, size=n_ps)
    height_error[mask] = dh
    phase0 = rng.uniform(-np.pi, np.pi, size=n_ps)

    ds = None
    if p.ds_areas:
        ds = DistributedScatterers(p, rows, cols, mask, [(d - dates[0]).days for d in dates])
        height_error[ds.mask] = ds.height_error

    comp = deformation_components(rows, cols, p.deformation_scale)
    le, ln, lu = los
    v_los = le * comp["east_velocity"] + ln * comp["north_velocity"] + lu * comp["up_velocity"]
    a_los = le * comp["east_acceleration"] + lu * comp["up_acceleration"]
    s_los = lu * comp["up_seasonal"]
    fast = None
    if p.fast_patch_velocity:
        v, u = np.meshgrid((np.arange(rows) + 0.5) / rows, (np.arange(cols) + 0.5) / cols, indexing="ij")
        fast = np.hypot(u - 0.5, v - 0.5) < 0.04
        v_los = v_los + np.where(fast, p.fast_patch_velocity, 0.0)
    truth_velocity = _truth_velocity(comp, los, dates)
    if fast is not None:
        truth_velocity = truth_velocity + np.where(fast, p.fast_patch_velocity * _linear_fit_gain(dates), 0.0)

    t = cv.years_since_first(dates)
    seasonal = _seasonal(dates)
    seasonal = seasonal - seasonal[0]
    k_rad_per_mm = cv.rad_per_mm(p.wavelength_m)
    height_factor = cv.height_error_factor_mm_per_m(bperp, p.slant_range_m, p.incidence_deg)  # absolute B⊥

    transform = from_origin(p.origin_x, p.origin_y, p.pixel_size_m, p.pixel_size_m)
    profile = dict(driver="GTiff", width=cols, height=rows, count=1, crs=p.crs, transform=transform)
    truth_dir = os.path.join(work, "truth")
    os.makedirs(truth_dir)
    date_strings = [cv.format_date(d) for d in dates]
    # band-interleaved so writing one date is one contiguous write; uncompressed (noise-like data)
    multi = {**profile, "count": p.n_dates, "dtype": "float32", "interleave": "band", "tiled": False}
    disp_ds = rasterio.open(os.path.join(truth_dir, "displacement.tif"), "w", **multi)
    atm_ds = rasterio.open(os.path.join(truth_dir, "atmosphere.tif"), "w", **multi)
    atmosphere = _Atmosphere(rows, cols, p.pixel_size_m, p.atmosphere_mm)
    # clutter and thermal noise are independent circular Gaussians: one draw of the summed variance
    speckle_std = np.float32(clutter_std * np.hypot(1.0, p.thermal_noise) / np.sqrt(2))
    try:
        for k in range(p.n_dates):
            progress.check()
            rng_k = np.random.default_rng(date_seeds[k])
            disp = (v_los * t[k] + 0.5 * a_los * t[k] ** 2 + s_los * seasonal[k]).astype(np.float32)  # mm
            atm = atmosphere.draw(rng_k)
            slc = np.empty((rows, cols), dtype=np.complex64)
            if p.noise_free:
                slc[:] = 0
            else:
                slc.real = rng_k.standard_normal((rows, cols), dtype=np.float32)
                slc.imag = rng_k.standard_normal((rows, cols), dtype=np.float32)
                slc *= speckle_std
            ps_phase = k_rad_per_mm * (disp[mask] + atm[mask] + height_factor[k] * dh) + phase0
            slc[mask] += (ps_amplitude * np.exp(1j * ps_phase)).astype(np.complex64)
            if ds is not None:
                dm = ds.mask
                slc[dm] = ds.draw(k, k_rad_per_mm * (disp[dm] + atm[dm] + height_factor[k] * ds.height_error))
            slc *= np.float32(p.amplitude_scale)
            with rasterio.open(os.path.join(work, f"{date_strings[k]}.tif"), "w",
                               **{**profile, "dtype": "complex64"}) as dst:
                dst.write(slc, 1)
            disp_ds.write(disp, 1 + k)
            disp_ds.set_band_description(k + 1, date_strings[k])
            atm_ds.write(atm, 1 + k)
            atm_ds.set_band_description(k + 1, date_strings[k])
            progress.update((k + 1) / (p.n_dates + 1))
    finally:
        disp_ds.close()
        atm_ds.close()

    single = {**profile, "compress": "deflate", "tiled": True}
    with rasterio.open(os.path.join(truth_dir, "velocity.tif"), "w", **single, dtype="float32", nodata=None) as dst:
        dst.write(truth_velocity.astype(np.float32), 1)
        dst.set_band_description(1, "LOS velocity mm/yr (EGMS linear+seasonal fit of the true series)")
    with rasterio.open(os.path.join(truth_dir, "height_error.tif"), "w", **single, dtype="float32") as dst:
        dst.write(height_error, 1)
        dst.set_band_description(1, "height error m (true minus DEM), NaN off scatterers")
    with rasterio.open(os.path.join(truth_dir, "ps_mask.tif"), "w", **single, dtype="uint8") as dst:
        dst.write(mask.astype(np.uint8), 1)
        dst.set_band_description(1, "1 = persistent scatterer")
    if ds is not None:
        with rasterio.open(os.path.join(truth_dir, "ds_mask.tif"), "w", **single, dtype="uint8") as dst:
            dst.write(ds.mask.astype(np.uint8), 1)
            dst.set_band_description(1, "1 = distributed scatterer")

    with open(os.path.join(work, "baselines.csv"), "w", encoding="utf-8") as fh:
        fh.write("date,bperp\n")
        for d, b in zip(date_strings, bperp):
            fh.write(f"{d},{b:.3f}\n")
    stack_json = {"wavelength_m": p.wavelength_m, "incidence_deg": p.incidence_deg, "heading_deg": p.heading,
                  "slant_range_m": p.slant_range_m, "orbit": p.orbit, "sensor": "simulated Sentinel-1"}
    with open(os.path.join(work, "stack.json"), "w", encoding="utf-8") as fh:
        json.dump(stack_json, fh, indent=2)
    params_json = asdict(p)
    if not p.ds_areas:  # the file of a stack without DS areas is the one written before they existed
        for name in [n for n in params_json if n.startswith("ds_")]:
            del params_json[name]
    else:
        params_json["n_ds_pixels"] = int(ds.mask.sum())
    params_json.update(heading_deg=p.heading, n_scatterers=n_ps, los_vector=los, dates=date_strings,
                       bperp=[round(float(b), 3) for b in bperp])
    with open(os.path.join(truth_dir, "simulation.json"), "w", encoding="utf-8") as fh:
        json.dump(params_json, fh, indent=2)
    with open(os.path.join(truth_dir, "README.txt"), "w", encoding="utf-8") as fh:
        fh.write(__doc__ + (DS_README if ds is not None else ""))
    progress.update(1.0)
    return {
        "folder": final,
        "dates": date_strings,
        "n_scatterers": n_ps,
        "n_ds_pixels": 0 if ds is None else int(ds.mask.sum()),
        "shape": (rows, cols),
        "bperp": bperp,
        "los": los,
        "files": sorted(os.listdir(work)),
    }


def _linear_fit_gain(dates):
    """EGMS fitted velocity of a unit-rate linear series (≈ 365/365.25)."""
    from ..egms.stats import design_matrix, egms_time

    return float(np.linalg.pinv(design_matrix(egms_time(dates), "linear"))[0] @ cv.years_since_first(dates))


def read_truth(folder):
    """Ground truth of a simulated stack: dict of arrays (velocity, height_error, ps_mask, displacement, dates;
    ds_mask when the stack has DS areas)."""
    import rasterio

    truth = os.path.join(os.fspath(folder), "truth")
    if not os.path.isdir(truth):
        raise InputError(f"{folder}: no truth/ folder — not a simulated stack.")
    out = {}
    for name in ("velocity", "height_error", "ps_mask", "ds_mask"):
        path = os.path.join(truth, f"{name}.tif")
        if name == "ds_mask" and not os.path.exists(path):
            continue  # a stack without DS areas
        with rasterio.open(path) as ds:
            out[name] = ds.read(1)
    with rasterio.open(os.path.join(truth, "displacement.tif")) as ds:
        out["displacement"] = ds.read()
        out["dates"] = list(ds.descriptions)
    with open(os.path.join(truth, "simulation.json"), encoding="utf-8") as fh:
        out["parameters"] = json.load(fh)
    return out
