"""Import: EGMS L2b zip of 1 000 000 points × 300 dates → GeoPackage, next to plain ogr2ogr; peak memory.

The synthetic file (about 1.7 GB of CSV, zipped) is generated once and cached in
``.build/bench-data/``.  Every conversion runs in its own process, so the peak
resident memory of each is measured (``os.wait4``); outputs go to
``.build/bench-work/`` and are deleted afterwards.
"""

import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DATA = os.path.join(ROOT, ".build", "bench-data")
WORK = os.path.join(ROOT, ".build", "bench-work")
STEM = "EGMS_L2b_022_0845_IW2_VV_2020_2024_1"

_OURS = """
import sys
sys.path.insert(0, {plugins!r})
from egms_plugin.core.egms.importer import import_egms
r = import_egms({src!r}, {out!r})
print(r.n_points)
"""


def _dataset(n_points, n_dates):
    """The cached synthetic zip (written on first use)."""
    from egms_plugin.testing.synthetic_egms import write_synthetic_egms

    folder = os.path.join(DATA, f"l2b_{n_points}x{n_dates}")
    path = os.path.join(folder, STEM + ".zip")
    if not os.path.exists(path):
        print(f"   generating {n_points} × {n_dates} synthetic L2b file in {folder} (once) …", flush=True)
        t0 = time.perf_counter()
        write_synthetic_egms(folder, level="L2b", n_points=n_points, n_dates=n_dates, block_rows=20000, seed=1)
        print(f"   generated in {time.perf_counter() - t0:.0f} s", flush=True)
    return path


def _run(cmd, env=None):
    """Wall time (s) and peak resident memory (MB) of a subprocess; raises if it fails.

    The peak comes from GNU time, which forks the command from its own small process: a child forked
    straight from this (large) Python process would report this process's memory as its own peak.
    """
    gnu_time = "/usr/bin/time" if os.path.exists("/usr/bin/time") else None
    report = os.path.join(WORK, "time.txt")
    full = [gnu_time, "-f", "%M", "-o", report, *cmd] if gnu_time else cmd
    t0 = time.perf_counter()
    proc = subprocess.run(full, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    if gnu_time:
        with open(report) as fh:
            peak = float(fh.read().split()[-1]) / 1024.0
    else:
        peak = float("nan")
    return elapsed, peak, proc.stdout


def _check_types(path, n_points):
    from osgeo import ogr

    ds = ogr.Open(path)
    lyr = ds.GetLayer(0)
    defn = lyr.GetLayerDefn()
    types = {defn.GetFieldDefn(i).GetName(): defn.GetFieldDefn(i).GetTypeName() for i in range(defn.GetFieldCount())}
    assert lyr.GetFeatureCount() == n_points, lyr.GetFeatureCount()
    assert types.pop("pid") == "String"
    assert {types.pop(c) for c in ("mp_type", "line", "pixel")} == {"Integer"}
    assert set(types.values()) == {"Real"}, set(types.values())
    return defn.GetFieldCount()


def run(record, n_points=1_000_000, n_dates=300):
    src = _dataset(n_points, n_dates)
    os.makedirs(WORK, exist_ok=True)
    plugins = os.path.join(ROOT, ".build", "plugins")
    env = dict(os.environ, NUMBA_CACHE_DIR=os.environ.get("NUMBA_CACHE_DIR", os.path.join(ROOT, ".build", "numba-cache")))
    member = f"/vsizip/{src}/{STEM}.csv"
    ogr = shutil.which("ogr2ogr")
    common = ["-f", "GPKG", None, member, "-oo", "HEADERS=YES", "-oo", "X_POSSIBLE_NAMES=easting",
              "-oo", "Y_POSSIBLE_NAMES=northing", "-a_srs", "EPSG:3035", "-nln", "points"]

    def ogr2ogr(out, *extra):
        cmd = [ogr] + common + list(extra)
        cmd[3] = out
        return _run(cmd)

    # warm the numba cache on a small file so the timing is the conversion, not compilation
    from egms_plugin.testing.synthetic_egms import write_synthetic_egms

    small = write_synthetic_egms(os.path.join(WORK, "warm"), n_points=3000, n_dates=30)
    _run([sys.executable, "-P", "-c", _OURS.format(plugins=plugins, src=small.path, out=os.path.join(WORK, "warm.gpkg"))],
         env)
    results = {}
    try:
        for name in ("plain", "ours", "typed"):
            out = os.path.join(WORK, f"{name}.gpkg")
            if os.path.exists(out):
                os.remove(out)
            if name == "plain":
                results[name] = ogr2ogr(out)
            elif name == "typed":
                results[name] = ogr2ogr(out, "-oo", "AUTODETECT_TYPE=YES")
            else:
                results[name] = _run([sys.executable, "-P", "-c", _OURS.format(plugins=plugins, src=src, out=out)], env)
                n_fields = _check_types(out, n_points)
            print(f"   {name}: {results[name][0]:.1f} s, peak {results[name][1]:.0f} MB", flush=True)
            os.remove(out)
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
    t_ours, mem_ours, _ = results["ours"]
    record("import_egms", t_ours, "s", results["plain"][0], "ogr2ogr, same CSV → GPKG (text fields)",
           target="≤ 1.2×", note=f"{n_points} points × {n_fields} fields, zip read in place, typed fields, R-tree")
    record("import_egms_vs_typed", t_ours, "s", results["typed"][0], "ogr2ogr -oo AUTODETECT_TYPE=YES (typed)",
           note="the typed GDAL route")
    record("import_egms_peak_memory", mem_ours, "MB", results["plain"][1], "ogr2ogr peak", target="≤ 1024 MB")
