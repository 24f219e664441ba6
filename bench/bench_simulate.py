"""Simulator: seconds per 10⁶ pixel-dates next to writing the same SLC bytes with numpy + rasterio."""

import os
import shutil
import tempfile
import time

import numpy as np


def run(record, rows=1000, cols=1000, n_dates=30):
    import rasterio
    from rasterio.transform import from_origin

    from egms_plugin.core.sar.simulate import SimulationParameters, simulate_stack

    work = tempfile.mkdtemp(prefix="bench-sim-")
    try:
        t0 = time.perf_counter()
        simulate_stack(os.path.join(work, "sim"), SimulationParameters(rows=rows, cols=cols, n_dates=n_dates))
        t_sim = time.perf_counter() - t0

        data = (np.random.default_rng(0).standard_normal((rows, cols), dtype=np.float32) * (1 + 1j)).astype(np.complex64)
        profile = dict(driver="GTiff", width=cols, height=rows, count=1, dtype="complex64", crs="EPSG:32632",
                       transform=from_origin(500000, 5000000, 20, 20))
        os.makedirs(os.path.join(work, "plain"))
        t0 = time.perf_counter()
        for k in range(n_dates):
            with rasterio.open(os.path.join(work, "plain", f"{k}.tif"), "w", **profile) as dst:
                dst.write(data, 1)
        t_write = time.perf_counter() - t0
    finally:
        shutil.rmtree(work, ignore_errors=True)
    per = rows * cols * n_dates / 1e6
    record("simulate_stack", t_sim / per, "s per 10⁶ pixel-dates", t_write / per,
           "numpy+rasterio write of the same SLC bytes",
           note=f"{cols}×{rows}×{n_dates}, includes truth rasters and atmosphere")
