"""Decompose two 1 000 000-point layers (asc + desc, 210 dates): time and peak memory next to reading the inputs once.

The inputs are synthetic GeoPackages (a burst footprint of 85 km × 20 km, ~6 points per 100 m cell and layer,
the 210 dates of the real 2020–2024 file, the ascending track 2 days later) generated once with numpy +
``core.io.points.write_points`` and cached in ``.build/bench-data/``.  Each measurement runs in its own
subprocess, so its peak memory is the child's maximum RSS (``os.wait4``):

* decompose — the ``egms:decompose`` pipeline without QGIS: read each layer (the columns needed),
  average per cell, free it; resample, solve, statistics; write the U and E GeoPackages and GeoTIFFs;
* baseline — reading both inputs once with ``core.io.points.read_points`` (the same columns), the floor any
  implementation pays.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DATA = os.path.join(ROOT, ".build", "bench-data")
N_POINTS = 1_000_000
SAMPLE_DATES = os.path.join(os.path.dirname(ROOT), "shared", "data", "egms", "EGMS_L2b_022_0845_IW2_VV_2020_2024_1.zip")


def _dates():
    """The 210 dates of the real 2020–2024 file (fallback: 6/12-day dates over the same span)."""
    import zipfile

    if os.path.exists(SAMPLE_DATES):
        with zipfile.ZipFile(SAMPLE_DATES) as zf:
            member = next(n for n in zf.namelist() if n.endswith(".csv"))
            header = zf.open(member).readline().decode().strip().split(",")
        return [dt.datetime.strptime(h, "%Y%m%d").date() for h in header if len(h) == 8 and h.isdigit()]
    out, d = [], dt.date(2020, 1, 3)
    while len(out) < 210:
        out.append(d)
        d += dt.timedelta(days=6 if len(out) % 3 else 12)
    return out


def _paths():
    return [os.path.join(DATA, f"decompose_{orbit}_{N_POINTS}.gpkg") for orbit in ("asc", "desc")]


def generate():
    """Write the two cached input layers (skipped when present)."""
    import numpy as np

    from egms_plugin.core import conventions as cv
    from egms_plugin.core.egms.stats import egms_time
    from egms_plugin.core.io.points import PointTable, write_points

    os.makedirs(DATA, exist_ok=True)
    for seed, (path, orbit) in enumerate(zip(_paths(), ("ascending", "descending"))):
        if os.path.exists(path):
            continue
        t0 = time.perf_counter()
        rng = np.random.default_rng(seed)
        dates = _dates()
        if orbit == "ascending":
            dates = [d + dt.timedelta(days=2) for d in dates]
        x = 4_560_000 + rng.uniform(0, 85_000, N_POINTS)
        y = 1_720_000 + rng.uniform(0, 20_000, N_POINTS)
        incidence = 30.0 + 15.0 * (x - 4_560_000) / 85_000
        le, ln, lu = cv.los_vector(incidence, -10.0 if orbit == "ascending" else 190.0)
        east = 1.5 * np.sin(2 * np.pi * x / 30_000)
        up = -2.0 + 6.0 * np.cos(2 * np.pi * y / 15_000)
        rate = cv.project_to_los(east, 0.0, up, le, ln, lu)
        rmse = rng.uniform(1.0, 4.0, N_POINTS)
        t = egms_time(dates)
        columns = {"pid": np.array([f"B{i:09d}" for i in range(N_POINTS)], dtype=object),
                   "easting": x, "northing": y, "height": rng.uniform(0, 300, N_POINTS),
                   "rmse": rmse, "los_east": le, "los_north": ln, "los_up": lu, "mean_velocity": rate,
                   "mean_velocity_std": rmse * 0.1}
        for k, d in enumerate(dates):
            columns[f"{d:%Y%m%d}"] = np.round(rate * t[k] + rng.normal(0, 1, N_POINTS) * rmse, 1)
        write_points(path, PointTable(columns, x, y, "EPSG:3035"))
        print(f"   generated {os.path.basename(path)} in {time.perf_counter() - t0:.0f} s", flush=True)


def _needed_columns(path):
    from osgeo import ogr

    from egms_plugin.core.io.points import date_fields

    ds = ogr.Open(path)
    defn = ds.GetLayer(0).GetLayerDefn()
    names = [defn.GetFieldDefn(i).GetName() for i in range(defn.GetFieldCount())]
    dates = date_fields(names)
    return ["los_east", "los_north", "los_up", "rmse", "mean_velocity_std", "height"] + [n for n, _ in dates], dates


def child_read(paths):
    from egms_plugin.core.io.points import read_points

    timings = {}
    t0 = time.perf_counter()
    for path in paths:
        columns, _ = _needed_columns(path)
        table = read_points(path, columns=columns)
        del table
    timings["read"] = time.perf_counter() - t0
    return timings


def child_decompose(paths, out_dir):
    from egms_plugin.core.io.points import read_points, write_points
    from egms_plugin.core.products import ortho

    timings = {}
    t0 = time.perf_counter()
    plans = [_needed_columns(p) for p in paths]
    epochs = ortho.common_epochs([(d[0][1], d[-1][1]) for _, d in plans])
    dec = ortho.OrthoDecomposer(epochs)
    t_read = 0.0
    for path, (columns, dates) in zip(paths, plans):
        t1 = time.perf_counter()
        table = read_points(path, columns=columns)
        t_read += time.perf_counter() - t1
        dec.add_layer(os.path.basename(path), table.x, table.y, table.columns["los_east"], table.columns["los_north"],
                      table.columns["los_up"], [table.columns[n] for n, _ in dates], [d for _, d in dates],
                      rmse=table.columns["rmse"], mean_velocity_std=table.columns["mean_velocity_std"],
                      height=table.columns["height"])
        del table
    timings["read"] = t_read
    timings["average"] = time.perf_counter() - t0 - t_read
    t1 = time.perf_counter()
    result = dec.solve()
    timings["solve"] = time.perf_counter() - t1
    t1 = time.perf_counter()
    for component in ("up", "east"):
        write_points(os.path.join(out_dir, f"{component}.gpkg"), ortho.l3_table(result, component))
        ortho.write_velocity_geotiff(os.path.join(out_dir, f"{component}.tif"), result, component)
    timings["write"] = time.perf_counter() - t1
    timings["n_cells"] = result.n_cells
    timings["n_epochs"] = len(result.epochs)
    return timings


def _run_child(mode, *args):
    """(seconds, max RSS in MB, timings dict) of ``python bench_decompose.py --child mode args``."""
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, ".build", "plugins"))
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-P", os.path.abspath(__file__), "--child", mode, *args],
                            stdout=subprocess.PIPE, env=env)
    out = proc.stdout.read()
    _, status, _usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child {mode} failed with code {proc.returncode}")
    result = json.loads(out.decode().strip().splitlines()[-1])
    return seconds, result["hwm_mb"], result


def _warm_numba_cache():
    import numpy as np

    from egms_plugin.core.products import ortho

    dates = [dt.date(2020, 1, 8) + dt.timedelta(days=6 * k) for k in range(10)]
    layers = [dict(name=o, x=np.array([50.0]), y=np.array([50.0]), los_east=np.array([s * 0.6]),
                   los_north=np.array([-0.1]), los_up=np.array([0.79]), date_columns=[np.zeros(1)] * 10, dates=dates)
              for o, s in (("a", -1), ("d", 1))]
    ortho.decompose(layers)


def run(record):
    generate()
    paths = _paths()
    size_mb = sum(os.path.getsize(p) for p in paths) / 1e6
    # warm the numba cache (a tiny decomposition) and the file cache so neither run pays a one-off cost
    _warm_numba_cache()
    _run_child("read", *paths)
    t_read, rss_read, _ = _run_child("read", *paths)
    with tempfile.TemporaryDirectory(prefix="bench-decompose-", dir=os.path.join(ROOT, ".build")) as out:
        t_dec, rss_dec, parts = _run_child("decompose", out, *paths)
    note = (f"2 × {N_POINTS:,} points × 210 dates ({size_mb:,.0f} MB of GeoPackage) → {parts['n_cells']:,} cells × "
            f"{parts['n_epochs']} epochs; read {parts['read']:.1f} s, average {parts['average']:.1f} s, "
            f"solve+stats {parts['solve']:.1f} s, write {parts['write']:.1f} s")
    record("decompose total time", t_dec, "s", t_read, "read both inputs once (read_points)", note=note)
    record("decompose peak memory", rss_dec, "MB", rss_read, "read both inputs once (read_points)",
           note="peak resident memory (VmHWM) of the subprocess")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        mode = sys.argv[2]
        if mode == "read":
            result = child_read(sys.argv[3:])
        else:
            result = child_decompose(sys.argv[4:], sys.argv[3])
        with open("/proc/self/status") as fh:  # peak of this process image (ru_maxrss carries a parent's over exec)
            result["hwm_mb"] = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:")) / 1024.0
        print(json.dumps(result))
