"""Synthetic EGMS product files (L2a, L2b, L3; any release naming; any size) for tests and benchmarks.

Files look like the real ones (ARCHITECTURE.md, EGMS format: files and columns): a zip named like
``EGMS_L2b_022_0845_IW2_VV_2020_2024_1.zip`` holding ``<name>.csv`` and
``<name>.xml``, or a bare CSV.  Rows are generated and written in blocks,
straight into the zip member, so a 1 000 000 × 300 file never sits in memory.

Each point moves as ``v·t + a·t²/2 + A·cos(2πt − φ)`` (t in years of 365 days
from the first date, the EGMS recipe's axis) plus white noise, referred to
the first date, rounded to 0.1 mm like the real files; the statistics
columns are computed from the written series with the EGMS recipe
(:func:`~..core.egms.stats.egms_statistics`), so a re-fit reproduces them to rounding.
The per-point truth (velocity, acceleration, seasonal amplitude) is returned.

Example: ``write_synthetic_egms(folder, level="L2a", n_points=100, n_dates=40, naming="specification")``
writes ``folder/EGMS_L2a_022_0845_IW2_VV_2018_2022_1.zip``.
"""

from __future__ import annotations

import datetime as dt
import os
import zipfile
from dataclasses import dataclass, field

import numpy as np

from ..core.conventions import los_vector
from ..core.egms.format import ALIASES, STATISTIC_COLUMNS, spec_order
from ..core.egms.names import make_product_name
from ..core.egms.product import ProductInfo, make_xml_header
from ..core.products.ortho.epochs import GRID_ORIGIN as L3_GRID_ORIGIN
from ..core.products.ortho.epochs import GRID_STEP_DAYS
from ..core.progress import ensure

RELEASE_START = {"2015_2020": dt.date(2016, 1, 1), "2015_2021": dt.date(2016, 1, 1),
                 "2018_2022": dt.date(2018, 1, 4), "2019_2023": dt.date(2019, 1, 5),
                 "2020_2024": dt.date(2020, 1, 3)}

# A burst-sized area in Sicily (like the real sample file), EPSG:3035.
_EASTING0, _NORTHING0 = 4_590_000.0, 1_735_000.0


@dataclass
class SyntheticProduct:
    """What :func:`write_synthetic_egms` wrote."""

    path: str
    csv_name: str
    columns: list
    dates: list
    n_points: int
    truth: dict = field(default_factory=dict)
    """``velocity`` (mm/yr), ``acceleration`` (mm/yr²), ``seasonality`` (mm) per point, in file order."""


def synthetic_dates(n_dates, start, regular=False):
    """Acquisition dates: 6 days apart with 12-day steps every fifth date (or regular 6-day steps)."""
    steps = np.full(max(n_dates - 1, 0), 6)
    if not regular:
        steps[4::5] = 12
    offsets = np.concatenate([[0], np.cumsum(steps)]).astype(int)
    return [start + dt.timedelta(days=int(o)) for o in offsets]


def _l3_start(start):
    """First 6-day grid date (from 2014-04-03, as ``core.products.ortho``) on or after ``start``."""
    days = (start - L3_GRID_ORIGIN).days
    return L3_GRID_ORIGIN + dt.timedelta(days=-(-days // GRID_STEP_DAYS) * GRID_STEP_DAYS)


def _column_names(level, naming, extra_columns):
    """(attribute columns, renamed attribute columns) of the synthetic file."""
    spec = [c for c in spec_order(level) if naming == "2020_2024" or c != "gnss_velocity"]
    named = [ALIASES[c][0] if (naming == "2020_2024" and c in ALIASES) else c for c in spec]
    return spec, named + [name for name, _kind in extra_columns]


def write_synthetic_egms(folder, level="L2b", n_points=1000, n_dates=60, naming="2020_2024", release=None,
                         version=1, track=22, burst=845, swath=2, orbit="ascending", seed=0, nan_fraction=0.0,
                         extra_columns=(), zipped=True, with_xml=True, statistics=True, block_rows=50000,
                         file_name=None, progress=None):
    """Write a synthetic EGMS product into ``folder``; returns a :class:`SyntheticProduct`.

    Parameters
    ----------
    level : "L2a", "L2b" or "L3".
    naming : "2020_2024" (``height_ortho``, ``rmse_ts``, ``gnss_velocity`` in L2b) or "specification"
        (``height``, ``height_wgs84``, ``rmse``).
    release : "2020_2024", "2018_2022", …, or "" for the oldest naming without ``_yyyy_yyyy_v``;
        default "2020_2024" with the 2020–2024 naming, else "2018_2022".
    nan_fraction : fraction of empty displacement cells (and of empty ``height`` cells).
    extra_columns : ``[(name, "real" | "text"), …]`` columns the specification does not know, written
        after the attributes.
    zipped, with_xml : write a zip (with the XML header unless ``with_xml`` is False) or a bare CSV.
    """
    if level not in ("L2a", "L2b", "L3"):
        raise ValueError(f"level must be L2a, L2b or L3, not {level!r}")
    progress = ensure(progress)
    if release is None:
        release = "2020_2024" if naming == "2020_2024" else "2018_2022"
    years = dict(start_year=int(release[:4]), end_year=int(release[5:]), version=version) if release else {}
    start = RELEASE_START.get(release, dt.date(2016, 1, 1))
    if level == "L3":
        dates = synthetic_dates(n_dates, _l3_start(start), regular=True)
        stem = make_product_name("L3", tile=(45, 17), component="U", **years)
    else:
        dates = synthetic_dates(n_dates, start)
        stem = make_product_name(level, track=track, burst=burst, swath=swath, **years)
    stem = file_name or stem
    spec, header = _column_names(level, naming, extra_columns)
    date_names = [d.strftime("%Y%m%d") for d in dates]
    header = header + date_names
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(str(folder), stem + (".zip" if zipped else ".csv"))
    info = ProductInfo(level=level, track=track, burst=burst, swath=swath, orbit=orbit)
    truth = {k: np.empty(n_points) for k in ("velocity", "acceleration", "seasonality")}
    tmp = path + ".partial"
    try:
        if zipped:
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1, allowZip64=True) as zf:
                with zf.open(stem + ".csv", "w", force_zip64=True) as out:
                    _write_rows(out, header, spec, extra_columns, level, dates, n_points, seed, nan_fraction,
                                orbit, track, burst, swath, statistics, block_rows, truth, progress)
                if with_xml:
                    zf.writestr(stem + ".xml", make_xml_header(info, dt.date(2025, 1, 1)))
        else:
            with open(tmp, "wb") as out:
                _write_rows(out, header, spec, extra_columns, level, dates, n_points, seed, nan_fraction,
                            orbit, track, burst, swath, statistics, block_rows, truth, progress)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return SyntheticProduct(path, stem + ".csv", header, dates, n_points, truth)


def _write_rows(out, header, spec, extra_columns, level, dates, n_points, seed, nan_fraction, orbit,
                track, burst, swath, statistics, block_rows, truth, progress):
    from ..core.egms.export import format_csv_rows
    from ..core.egms.format import column_decimals
    from ..core.egms.stats import egms_time

    out.write((",".join(header) + "\n").encode("ascii"))
    t = egms_time(dates)
    n_dates = len(dates)
    heading = -10.0 if orbit == "ascending" else 190.0
    for start in range(0, n_points, block_rows):
        stop = min(start + block_rows, n_points)
        n = stop - start
        rng = np.random.default_rng([seed, start])
        idx = np.arange(start, stop)
        v = rng.normal(0.0, 3.0, n)
        v[rng.random(n) < 0.02] *= 6.0  # a few fast movers
        a = rng.normal(0.0, 0.4, n)
        amp = rng.uniform(0.0, 3.0, n)
        phase = rng.uniform(0.0, 2 * np.pi, n)
        model = (v[:, None] * t + a[:, None] * t * t / 2.0
                 + amp[:, None] * (np.cos(2 * np.pi * t[None, :] - phase[:, None]) - np.cos(phase)[:, None]))
        y = np.round(model + rng.normal(0.0, 1.5, (n, n_dates)), 1)
        if nan_fraction > 0:
            y[rng.random((n, n_dates)) < nan_fraction] = np.nan
        truth["velocity"][start:stop] = v
        truth["acceleration"][start:stop] = a
        truth["seasonality"][start:stop] = amp
        cols = _attributes(level, idx, rng, y, dates, orbit, heading, track, burst, swath, nan_fraction, statistics)
        values = [cols[name] for name in spec]
        for _name, kind in extra_columns:
            if kind == "text":
                values.append([f"note {k % 7}" for k in idx])
            else:
                values.append(np.round(rng.uniform(0, 100, n), 3))
        values += [y[:, j] for j in range(n_dates)]
        decimals = [column_decimals(name, level) for name in spec] + [3 if kind != "text" else None
                                                                     for _name, kind in extra_columns]
        decimals += [1] * n_dates
        out.write(format_csv_rows(values, decimals))
        progress.check()
        progress.update(stop / n_points)


def _attributes(level, idx, rng, y, dates, orbit, heading, track, burst, swath, nan_fraction, statistics):
    """Attribute columns (specification names) of a block of points."""
    from ..core.egms import pid as pidmod
    from ..core.egms.stats import egms_statistics

    n = idx.size
    cols = {}
    if level == "L3":
        cell = idx  # 100 m cells of a 100 km tile, row by row
        e = 4_500_000.0 + 50.0 + 100.0 * (cell % 1000)
        nn = 1_700_000.0 + 50.0 + 100.0 * (cell // 1000 % 1000)
        cols["pid"] = [str(p) for p in pidmod.l3_pid(e, nn)]
        cols["easting"], cols["northing"] = e, nn
    else:
        line = idx // 4000
        pixel = (idx % 4000) * 5 + rng.integers(0, 5, n)
        e = _EASTING0 + pixel * 1.0 + rng.uniform(-2, 2, n) + line * 0.3
        nn = _NORTHING0 + line * 14.0 + rng.uniform(-2, 2, n) + pixel * 0.05
        from pyproj import Transformer

        lon, lat = Transformer.from_crs(3035, 4326, always_xy=True).transform(e, nn)
        cols["pid"] = [str(p) for p in pidmod.l2_pid(line, pixel, track=track, burst=burst, swath=swath, ipe=1)]
        cols["cluster_label"] = (pixel > 10000).astype(np.float64)
        cols["mp_type"] = np.where(rng.random(n) < 0.1, rng.integers(100, 2000, n), 0).astype(np.float64)
        cols["latitude"], cols["longitude"] = np.asarray(lat), np.asarray(lon)
        cols["easting"], cols["northing"] = e, nn
        cols["line"], cols["pixel"] = line.astype(np.float64), pixel.astype(np.float64)
        inc = rng.uniform(37.0, 39.0, n)
        le, ln, lu = los_vector(inc, heading)
        cols["incidence_angle"] = inc
        cols["track_angle"] = np.full(n, heading + (0.58 if orbit == "ascending" else 1.42))
        cols["los_east"], cols["los_north"], cols["los_up"] = le, ln, lu
        cols["amplitude_dispersion"] = rng.uniform(0.1, 0.5, n)
        cols["gnss_velocity"] = rng.normal(-1.5, 0.3, n)
    height = rng.uniform(-50.0, 400.0, n)
    if nan_fraction > 0:
        height[rng.random(n) < nan_fraction] = np.nan
    cols["height"] = height
    cols["height_wgs84"] = height + 43.6
    if statistics:
        s = egms_statistics(y, dates)
    else:
        s = {k: np.full(n, np.nan) for k in STATISTIC_COLUMNS}
    cols.update(s)
    return cols


def noise_free_los_columns(orbit, dates, n=300, seed=0, east=1.0, up=-3.0, origin=(4_600_000.0, 1_740_000.0),
                           size_m=1000.0, decimals=None):
    """``(columns, x, y)`` of a noise-free LOS layer in the EGMS schema: ``n`` points uniform over a square of
    ``size_m`` from ``origin`` (EPSG:3035), incidence 35–41°, moving ``east`` and ``up`` mm/yr (no north);
    ``pid``, ``rmse`` (1.5), ``los_*``, ``mean_velocity``, ``mean_velocity_std`` (0.3) and one field per date
    (mm, rounded to ``decimals`` when given — EGMS files have one)."""
    from ..core.conventions import project_to_los
    from ..core.egms.stats import egms_time

    rng = np.random.default_rng(seed)
    x = origin[0] + rng.uniform(0, size_m, n)
    y = origin[1] + rng.uniform(0, size_m, n)
    le, ln, lu = los_vector(rng.uniform(35, 41, n), -10.0 if orbit == "ascending" else 190.0)
    rate = project_to_los(east, 0.0, up, le, ln, lu)
    columns = {"pid": np.array([f"P{i:09d}" for i in range(n)], dtype=object), "rmse": np.full(n, 1.5),
               "los_east": le, "los_north": ln, "los_up": lu, "mean_velocity": rate,
               "mean_velocity_std": np.full(n, 0.3)}
    t = egms_time(dates)
    for k, d in enumerate(dates):
        values = rate * t[k]
        columns[f"{d:%Y%m%d}"] = values if decimals is None else np.round(values, decimals)
    return columns, x, y
