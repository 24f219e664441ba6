"""Active areas: egms:activeareas' core path (read, find, write) on 1 000 000 points × 30 dates next to reading the
layer once."""

import datetime as dt
import os
import tempfile
import time

import numpy as np


def _layer(path, n_side=1000, n_dates=30, seed=0):
    """A jittered 20 m grid, 1.5 mm/yr noise, 20 discs moving at ±5 … ±25 mm/yr, series with 2 mm noise."""
    from egms_plugin.core.io.points import PointTable, write_points

    rng = np.random.default_rng(seed)
    gx, gy = np.meshgrid(np.arange(n_side) * 20.0, np.arange(n_side) * 20.0)
    x, y = gx.ravel() + rng.uniform(-2, 2, gx.size), gy.ravel() + rng.uniform(-2, 2, gx.size)
    v = rng.normal(0, 1.5, x.size)
    for k in range(20):
        cx, cy, r = rng.uniform(1000, 19000), rng.uniform(1000, 19000), rng.uniform(40, 300)
        v[np.hypot(x - cx, y - cy) < r] = (-1) ** k * rng.uniform(5, 25)
    dates = [dt.date(2020, 1, 1) + dt.timedelta(days=12 * j) for j in range(n_dates)]
    years = np.array([(d - dates[0]).days for d in dates]) / 365.25
    cols = {"mean_velocity": v, "acceleration": rng.normal(0, 0.3, x.size)}
    for j, d in enumerate(dates):
        cols[f"{d:%Y%m%d}"] = np.round(v * years[j] + rng.normal(0, 2, x.size), 1).astype(np.float32)
    write_points(path, PointTable(cols, x + 4.3e6, y + 3.2e6, "EPSG:3035"))


def run(record):
    from egms_plugin.core.analysis.ada import find_active_areas
    from egms_plugin.core.analysis.output import write_areas
    from egms_plugin.core.io.points import read_points

    with tempfile.TemporaryDirectory(prefix="bench-ada-") as tmp:
        src = os.path.join(tmp, "points.gpkg")
        _layer(src)
        t0 = time.perf_counter()
        table = read_points(src)
        read = time.perf_counter() - t0
        del table
        t0 = time.perf_counter()
        table = read_points(src)
        series, dates = table.displacement()
        years = np.array([(d - dates[0]).days for d in dates]) / 365.25
        t1 = time.perf_counter()
        areas = find_active_areas(table.x, table.y, table.columns["mean_velocity"],
                                  acceleration=table.columns["acceleration"], series=series, years=years)
        t2 = time.perf_counter()
        write_areas(os.path.join(tmp, "areas.gpkg"), areas, table.crs, [n for n, _d in table.date_fields()])
        total = time.perf_counter() - t0
    record("activeareas 1e6 points × 30 dates (read + find + write)", total, "s", read, "reading the layer once",
           target="seconds", note=f"find {t2 - t1:.2f} s, {len(areas)} areas, {areas.n_active} active points")
