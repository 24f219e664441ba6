"""Digest of three end-to-end results, to show that a refactoring changed no number.

    .venv/bin/python scripts/results_digest.py WORK_DIR > digest.json

Runs through ``scripts/qgis_process.sh`` (so the Processing layer and core are both exercised):

1. ``egms:simulatestack`` (seed 3, 200 × 200 × 40) then ``egms:computevelocities`` on it;
2. ``egms:importegms`` of the real EGMS sample (``../shared/data/egms``) then ``egms:fittimeseries``;
3. ``egms:decompose`` of the real sample (descending) and a mirrored ascending twin.

Inputs are made once in ``WORK_DIR/inputs`` and reused, so two runs (before and after a
change) read the same files.  Prints, per output layer, the field names, the feature count
and a SHA-256 of every column (floats as float64 with NaN normalised, text as UTF-8).
Two digests are equal exactly when the outputs are equal value for value.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import numpy as np
from osgeo import ogr

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QP = os.path.join(ROOT, "scripts", "qgis_process.sh")
SAMPLE = os.path.join(os.path.dirname(ROOT), "shared", "data", "egms", "EGMS_L2b_022_0845_IW2_VV_2020_2024_1.zip")


def run(alg, **params):
    args = [QP, "run", alg, "--"] + [f"{k}={v}" for k, v in params.items()]
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{alg} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


def mirrored_ascending(src, dst):
    """The descending sample with its LOS east mirrored and its series scaled: an ascending twin."""
    ogr.UseExceptions()
    ds = ogr.Open(src)
    drv = ogr.GetDriverByName("GPKG")
    out = drv.CreateDataSource(dst)
    lyr = ds.GetLayer(0)
    out.CopyLayer(lyr, "asc")
    out = None
    out = ogr.Open(dst, 1)
    lyr = out.GetLayer("asc")
    defn = lyr.GetLayerDefn()
    dates = [defn.GetFieldDefn(k).GetName() for k in range(defn.GetFieldCount())
             if defn.GetFieldDefn(k).GetName().isdigit()]
    scaled = ", ".join(f'"{d}" = 0.6 * "{d}" + 0.01 * fid' for d in dates)
    out.ExecuteSQL(f"UPDATE asc SET los_east = -los_east, mean_velocity = 0.6 * mean_velocity, {scaled}")
    out = None


def column_digests(path):
    ds = ogr.Open(path)
    result = {}
    for i in range(ds.GetLayerCount()):
        lyr = ds.GetLayer(i)
        if lyr.GetName() == "layer_styles":  # holds the time it was written
            continue
        defn = lyr.GetLayerDefn()
        names = [defn.GetFieldDefn(k).GetName() for k in range(defn.GetFieldCount())]
        types = [defn.GetFieldDefn(k).GetType() for k in range(defn.GetFieldCount())]
        cols = {n: [] for n in names}
        xy = []
        lyr.ResetReading()
        for f in lyr:
            for n in names:
                cols[n].append(f.GetField(n))
            g = f.GetGeometryRef()
            xy.append((g.GetX(), g.GetY()) if g is not None else (np.nan, np.nan))
        digest = {}
        for n, t in zip(names, types):
            if t in (ogr.OFTReal, ogr.OFTInteger, ogr.OFTInteger64):
                a = np.array([np.nan if v is None else v for v in cols[n]], dtype=np.float64)
                a[np.isnan(a)] = np.nan
                digest[n] = hashlib.sha256(a.tobytes()).hexdigest()[:16]
            else:
                digest[n] = hashlib.sha256("\x00".join("" if v is None else str(v) for v in cols[n]).encode()).hexdigest()[:16]
        digest["@geometry"] = hashlib.sha256(np.array(xy, dtype=np.float64).tobytes()).hexdigest()[:16]
        result[lyr.GetName()] = {"n": lyr.GetFeatureCount(), "fields": names, "digest": digest}
    return result


def main(work):
    inputs = os.path.join(work, "inputs")
    stack = os.path.join(inputs, "stack")
    imported = os.path.join(inputs, "sample.gpkg")
    asc = os.path.join(inputs, "asc.gpkg")
    if not os.path.exists(os.path.join(inputs, "done")):
        os.makedirs(inputs, exist_ok=True)
        run("egms:simulatestack", OUTPUT_FOLDER=stack, WIDTH=200, HEIGHT=200, N_DATES=40, SEED=3)
        run("egms:importegms", INPUT=SAMPLE, OUTPUT=imported)
        mirrored_ascending(imported, asc)
        open(os.path.join(inputs, "done"), "w").close()
    out = os.path.join(work, "outputs")
    os.makedirs(out, exist_ok=True)
    mp, fit, up, east = (os.path.join(out, n) for n in ("mp.gpkg", "fit.gpkg", "up.gpkg", "east.gpkg"))
    run("egms:computevelocities", INPUT=stack, OUTPUT=mp)
    run("egms:fittimeseries", INPUT=imported, OUTPUT=fit)
    run("egms:decompose", ASCENDING=asc, DESCENDING=imported, OUTPUT=up, OUTPUT_EAST=east,
        OUTPUT_VERTICAL_RASTER=os.path.join(out, "up.tif"), OUTPUT_EAST_RASTER=os.path.join(out, "east.tif"))
    print(json.dumps({n: column_digests(p) for n, p in (("mp", mp), ("fit", fit), ("up", up), ("east", east))},
                     indent=1, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1])
