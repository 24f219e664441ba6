"""Shared data and helpers of the processing tests (pytest imports a conftest before the modules beside it, so
the modules import from here instead of from each other, in any order or one file at a time)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import time

import pytest
from osgeo import ogr

from egms_plugin.core.io.points import PointTable, write_points
from egms_plugin.testing.synthetic_egms import noise_free_los_columns

from ..conftest import QGIS_PROCESS

QA_DATES = [dt.date(2021, 1, 1) + dt.timedelta(days=12 * k) for k in range(30)]
X0, Y0 = 4_600_000.0, 1_740_000.0


def make_layer(path, orbit, n=300, seed=0):
    """Noise-free LOS layer over 1 km², EGMS schema, written as a GeoPackage."""
    columns, x, y = noise_free_los_columns(orbit, QA_DATES, n, seed, origin=(X0, Y0))
    write_points(str(path), PointTable(columns, x, y, "EPSG:3035"))
    return str(path)


def gnss_file(path, up="-3.0"):
    lines = ["#Latitude,Longitude,N,E,Up,SigmaN,SigmaE,SigmaUP,easting,northing"]
    for gx in (X0 - 50_000, X0 + 50_000):
        for gy in (Y0 - 50_000, Y0 + 50_000):
            lines.append(f"38.7,13.1,0.0,1.0,{up},0.3,0.3,0.8,{gx:.1f},{gy:.1f}")
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.fixture(scope="module")
def layers(tmp_path_factory):
    folder = tmp_path_factory.mktemp("qa_outputs")
    return (make_layer(folder / "asc.gpkg", "ascending", seed=1), make_layer(folder / "desc.gpkg", "descending", seed=2),
            gnss_file(folder / "gnss.csv"), gnss_file(folder / "gnss_nan.csv", up="NaN"))


def fingerprint(path):
    st = os.stat(path)
    return st.st_ino, st.st_size, st.st_mtime_ns


def decompose_outputs(folder):
    return {"OUTPUT": str(folder / "up.gpkg"), "OUTPUT_EAST": str(folder / "east.gpkg"),
            "OUTPUT_VERTICAL_RASTER": str(folder / "up.tif"), "OUTPUT_EAST_RASTER": str(folder / "east.tif")}


RUN_DATES = [dt.date(2021, 1, 1) + dt.timedelta(days=6 * k) for k in range(60)]
N_BIG = 400_000


@pytest.fixture(scope="module")
def big_layer(tmp_path_factory):
    """A layer large enough that fitting and writing it takes seconds (20 write batches)."""
    path = str(tmp_path_factory.mktemp("runs") / "big.gpkg")
    columns, x, y = noise_free_los_columns("descending", RUN_DATES, N_BIG, 5, size_m=20_000.0)
    write_points(path, PointTable(columns, x, y, "EPSG:3035"))
    return path


def start(profile, *args):
    env = dict(os.environ, EGMS_QGIS_PROFILE=str(profile))
    return subprocess.Popen([QGIS_PROCESS, "run", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env, start_new_session=True)


def wait_for_partial(folder, proc, timeout=240):
    """Wait until a temporary output appears in ``folder`` (the run is writing); fail if the run ends first."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if any(".partial" in n for n in os.listdir(folder)):
            return
        if proc.poll() is not None:
            pytest.fail("the run ended before it wrote: " + proc.stdout.read()[-2000:])
        time.sleep(0.02)
    pytest.fail("no temporary output appeared")


def count(path):
    ds = ogr.Open(path)
    return ds.GetLayer(0).GetFeatureCount()
