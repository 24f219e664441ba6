"""Stack reads: a row block from SNAP i/q ENVI pairs (big-endian float32) next to the same pixels from complex GeoTIFFs."""

import os
import shutil
import tempfile
import time

import numpy as np


def best_of(fn, repeat):
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def run(record, rows=1000, cols=1000, n_dates=20, block_rows=256, repeat=5):
    from egms_plugin.core.sar.simulate import SimulationParameters, simulate_stack
    from egms_plugin.core.sar.sources import open_stack
    from egms_plugin.core.sar.stack import StackFolder
    from egms_plugin.testing import stack_layouts as sl

    tmp = tempfile.mkdtemp(prefix="bench-stack-read-")
    try:
        plain_dir = os.path.join(tmp, "plain")
        simulate_stack(plain_dir, SimulationParameters(rows=rows, cols=cols, n_dates=n_dates, seed=1))
        dim = sl.write_snap_dimap(plain_dir, os.path.join(tmp, "snap"))
        tops = sl.write_isce2_topsstack(plain_dir, os.path.join(tmp, "tops"))
        plain, snap, isce = StackFolder(plain_dir), open_stack(dim), open_stack(tops)
        r0, r1 = rows // 2 - block_rows // 2, rows // 2 + block_rows // 2
        with plain, snap, isce:
            want = plain.read_block(r0, r1)
            assert np.array_equal(snap.read_block(r0, r1), want) and np.array_equal(isce.read_block(r0, r1), want)
            t_tif = best_of(lambda: plain.read_block(r0, r1), repeat)
            t_snap = best_of(lambda: snap.read_block(r0, r1), repeat)
            t_isce = best_of(lambda: isce.read_block(r0, r1), repeat)
        mb = n_dates * block_rows * cols * 8 / 2**20
        note = f"{n_dates} dates × {block_rows} rows × {cols} columns ({mb:.0f} MB complex64), best of {repeat}"
        record("SNAP i/q block read", t_snap, "s", t_tif, "complex GeoTIFF folder", target="ratio ≤ 2", note=note)
        record("ISCE2 .slc.full.vrt block read", t_isce, "s", t_tif, "complex GeoTIFF folder", note=note)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
