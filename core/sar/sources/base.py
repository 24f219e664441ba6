"""The stack interface shared by every layout: :class:`LayoutStack`.

A layout module (``snap``, ``isce2``, ``multiband``, ``opera``) finds the dates, the per-date pixel readers,
the baselines and the geometry of its files and hands them to :class:`LayoutStack`, which behaves as
:class:`~egms_plugin.core.sar.stack.StackFolder` does for the plain folder (same attributes, row-block reads,
geolocation, ``describe``) and records where each item came from (:attr:`LayoutStack.origins`).
"""

from __future__ import annotations

import os
import warnings

import numpy as np

from ...errors import InputError
from ..stack import MIN_DATES, MIN_DATES_RELIABLE, Acquisition, StackFolder, StackGeometry


def open_raster(path):
    """A rasterio dataset, or InputError naming the file."""
    import rasterio

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # NotGeoreferencedWarning for radar-geometry rasters
            return rasterio.open(path)
    except Exception as exc:  # noqa: BLE001 -- GDAL/rasterio raise many types here; the message names the file
        raise InputError(f"{path}: GDAL cannot open it as a raster ({exc}).") from None


class BandReader:
    """One complex band of a raster (a GDAL-readable file), read by windows."""

    def __init__(self, path, band=1):
        self.path, self.band, self._ds = path, band, None
        self.name = path if band == 1 else f"{path} band {band}"

    def open(self):
        if self._ds is None:
            self._ds = open_raster(self.path)

    def close(self):
        if self._ds is not None:
            self._ds.close()
            self._ds = None

    def read(self, window, out):
        self.open()
        self._ds.read(self.band, window=window, out=out, out_dtype=np.complex64)


class PairReader:
    """SLC = i + j·q from two real rasters (SNAP's ``i_…``/``q_…`` ENVI bands, any byte order or type)."""

    def __init__(self, i_path, q_path):
        self.i, self.q = BandReader(i_path), BandReader(q_path)
        self.name = f"{i_path} + j·{q_path}"

    def open(self):
        self.i.open()
        self.q.open()

    def close(self):
        self.i.close()
        self.q.close()

    def read(self, window, out):
        self.open()
        shape = out.shape
        i = self.i._ds.read(1, window=window, out_dtype=np.float32)
        q = self.q._ds.read(1, window=window, out_dtype=np.float32)
        view = out.view(np.float32).reshape(shape[0], shape[1], 2)
        view[..., 0] = i
        view[..., 1] = q


def check_dates(origin, dates):
    """InputError for too few dates; the warning text for fewer than MIN_DATES_RELIABLE (or None)."""
    if len(dates) < MIN_DATES:
        raise InputError(f"{origin}: only {len(dates)} acquisition(s); at least {MIN_DATES} are needed "
                         "(20 or more for reliable amplitude statistics).")
    if len(dates) < MIN_DATES_RELIABLE:
        return (f"{origin}: {len(dates)} acquisitions; amplitude dispersion is unreliable below "
                f"{MIN_DATES_RELIABLE}, expect noisy scatterer selection.")
    return None


def baselines_in_order(origin, dates, values):
    """float64 B⊥ per date from ``{date: bperp}``; InputError naming ``origin`` when they do not match."""
    lacking = [d.strftime("%Y%m%d") for d in dates if d not in values]
    extra = sorted(d.strftime("%Y%m%d") for d in values if d not in set(dates))
    if lacking or extra:
        parts = []
        if lacking:
            parts.append(f"no baseline for {len(lacking)} date(s) of the stack: {', '.join(lacking[:10])}")
        if extra:
            parts.append(f"baselines for {len(extra)} date(s) without an SLC: {', '.join(extra[:10])}")
        raise InputError(f"{origin}: the baselines do not match the dates ({'; '.join(parts)}).")
    return np.array([values[d] for d in dates], dtype=np.float64)


def sidecar_geometry(folder):
    """:class:`StackGeometry` from the ``stack.json`` in ``folder`` (defaults without one), parsed and checked
    by the plain folder's own reader (one parser of the file)."""
    from types import SimpleNamespace

    return StackFolder._read_geometry(SimpleNamespace(folder=folder))


def sidecar_baselines(folder, dates):
    """B⊥ per date from the ``baselines.csv`` in ``folder`` (None without one), by the plain folder's reader."""
    from types import SimpleNamespace

    return StackFolder._read_baselines(SimpleNamespace(folder=folder, dates=list(dates)))


class LayoutStack(StackFolder):
    """A stack of any layout with the :class:`StackFolder` interface.

    ``readers`` holds one reader per date (``open``/``close``/``read(window, out)``), sorted by date;
    ``origins`` maps ``layout``, ``dates``, ``baselines``, ``geometry``, ``georeferencing`` to a sentence each.
    ``lonlat_fn``/``incidence_fn`` (``(lines, pixels) → arrays``) replace the lat/lon and incidence rasters
    where the layout gives them otherwise (tie-point grids).
    """

    def __init__(self, folder, *, dates, readers, shape, dtype, geometry=None, bperp=None, crs=None,
                 transform=None, origins=None, lat_path=None, lon_path=None, incidence_path=None,
                 lonlat_fn=None, incidence_fn=None, overrides=None):
        self.folder = os.path.abspath(os.fspath(folder))
        self.warnings = []
        self._datasets = None
        self.acquisitions = [Acquisition(d, r.name) for d, r in zip(dates, readers)]
        self.readers = list(readers)
        warning = check_dates(self.folder, dates)
        if warning:
            self.warnings.append(warning)
        self.shape, self.dtype = tuple(shape), dtype
        self.crs = crs
        self.transform = transform if crs is not None else None
        self.geometry = geometry if geometry is not None else StackGeometry()
        for key, value in (overrides or {}).items():
            if value is not None:
                setattr(self.geometry, key, value)
        self.bperp = bperp
        self.lat_path, self.lon_path, self.incidence_path = lat_path, lon_path, incidence_path
        self._lonlat_fn, self._incidence_fn = lonlat_fn, incidence_fn
        self.origins = dict(origins or {})

    @property
    def layout(self):
        return self.origins.get("layout", "unknown layout")

    @property
    def georeferenced(self):
        return self.geocoded or self.lat_path is not None or self._lonlat_fn is not None

    def open(self):
        if self._datasets is None:
            for reader in self.readers:
                reader.open()
            self._datasets = self.readers
        return self

    def close(self):
        if self._datasets is not None:
            for reader in self.readers:
                reader.close()
            self._datasets = None

    def read_block(self, row0, row1, col0=0, col1=None, out=None):
        """SLC values of rows [row0, row1) and columns [col0, col1) of every date (complex64)."""
        from rasterio.windows import Window

        col1 = self.shape[1] if col1 is None else col1
        if out is None:
            out = np.empty((self.n_dates, row1 - row0, col1 - col0), dtype=np.complex64)
        self.open()
        window = Window(col0, row0, col1 - col0, row1 - row0)
        for k, reader in enumerate(self.readers):
            try:
                reader.read(window, out[k])
            except InputError:
                raise
            except Exception as exc:  # noqa: BLE001 -- any GDAL/HDF5 read error: name the file and the rows
                raise InputError(f"{reader.name}: read failed at rows {row0}–{row1} ({exc}); "
                                 "is the file complete?") from None
        return out

    def lonlat(self, lines, pixels):
        if self._lonlat_fn is not None and not self.geocoded:
            return self._lonlat_fn(np.asarray(lines, dtype=np.int64), np.asarray(pixels, dtype=np.int64))
        return super().lonlat(lines, pixels)

    def incidence_at(self, lines, pixels):
        if self._incidence_fn is not None:
            return self._incidence_fn(np.asarray(lines, dtype=np.int64), np.asarray(pixels, dtype=np.int64))
        return super().incidence_at(lines, pixels)

    def describe(self):
        head, *rest = super().describe().split("\n")
        lines = [head, f"  layout: {self.layout}"]
        lines += [f"  {key} from: {self.origins[key]}" for key in ("dates", "baselines", "geometry",
                                                                     "georeferencing") if key in self.origins]
        return "\n".join(lines + rest)
