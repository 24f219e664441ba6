"""Distributed scatterers: SHP + coherence matrix + phase linking, pixels per second, next to vectorised numpy.

One block of 60 dates (circular-Gaussian DS with γ(Δt) = 0.3 + 0.7·exp(−Δt/45 d) in its left half, clutter
in its right half), an 11 × 11 window, every centre pixel processed (SHPs by the KS test and connectivity, its
coherence matrix over the SHPs, EMI phase linking and the temporal coherence).  Baseline measured in the same
run on a part of the same block: ``testing/ds_reference.ds_pipeline_numpy`` — the same computation written the
direct vectorised-numpy way (KS distances of all pixels at once per window offset, connectivity by repeated
dilation, coherence by ``einsum``, EMI by batched ``eigh``); the two agree on the linked phases.

The chain links only one pixel per 100 m cell (25 pixels of 20 m), so its DS pass costs the SHP test of every
pixel plus 1/25 of the linking; that figure is recorded too.

End to end: a simulated ``EGMS_BENCH_DS_SIZE`` (default 1000) square stack of 60 dates with 40 DS areas of
600 m radius (γ∞ = 0.3, τ = 45 d; about 11 % of the scene), the chain with SCATTERERS = PS only and PS and
DS, each in a fresh subprocess (time, peak resident memory ``VmHWM``, points), next to reading the stack once
(the chain's blocks, from the page cache).  Stacks are simulated once into ``.build/bench_ds/``.
"""

import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CACHE = os.path.join(ROOT, ".build", "bench_ds")
CHILD = r"""
import json, sys, time
sys.path.insert(0, {plugins!r})
from egms_plugin.core.psi.chain import PsiParameters, compute_velocities
from egms_plugin.core.sar.stack import StackFolder
t0 = time.perf_counter()
result = compute_velocities(StackFolder({folder!r}), PsiParameters(scatterers={scatterers!r}))
elapsed = time.perf_counter() - t0
with open("/proc/self/status") as fh:
    hwm = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:")) / 1024.0
print(json.dumps({{"seconds": elapsed, "n_points": result.n_points, "ds": result.counts.get("ds_points", 0),
                  "timings": result.timings, "maxrss_mb": hwm}}))
"""


def _block(n_dates=60, rows=58, cols=58, seed=0):
    from egms_plugin.testing.ds_reference import circular_gaussian, exponential_coherence

    rng = np.random.default_rng(seed)
    days = np.concatenate([[0], np.cumsum(rng.choice([6, 12], n_dates - 1))]).astype(float)
    g = exponential_coherence(days, 0.3, 45.0)
    phase = rng.uniform(-np.pi, np.pi, n_dates)
    slc = (rng.standard_normal((n_dates, rows, cols)) + 1j * rng.standard_normal((n_dates, rows, cols))) / np.sqrt(2)
    half = cols // 2
    slc[:, :, :half] = 1.5 * circular_gaussian(g, phase, rows * half, rng).reshape(n_dates, rows, half)
    return slc.astype(np.complex64)


def _numba(slc, hr, hc, every=1):
    from egms_plugin.core.psi.ds import find_shps, link_pixels

    rows, cols = slc.shape[1:]
    masks, counts = find_shps(np.abs(slc), hr, hc, 0.05, rows=(hr, rows - hr))
    rr, cc = np.meshgrid(np.arange(rows - 2 * hr), np.arange(cols), indexing="ij")
    rr, cc = rr.ravel()[::every], cc.ravel()[::every]
    ph, coh, _ = link_pixels(slc, rr + hr, cc, masks[rr, cc])
    return ph, coh, counts.ravel()


def run(record):
    import numba

    from egms_plugin.testing.ds_reference import ds_pipeline_numpy

    hr = hc = 5
    slc = _block()
    _numba(slc[:, :16, :16], hr, hc)  # compile / load the cache
    n_pixels = (slc.shape[1] - 2 * hr) * slc.shape[2]
    t0 = time.perf_counter()
    ph, coh, counts = _numba(slc, hr, hc)
    rate_numba = n_pixels / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    _numba(slc, hr, hc, every=25)
    rate_chain = n_pixels / (time.perf_counter() - t0)

    sub = slc[:, : 2 * hr + 8, :]  # 8 centre rows for the numpy baseline (memory: (P, 60, 60) complex128)
    t0 = time.perf_counter()
    ref_ph, ref_coh, ref_counts = ds_pipeline_numpy(sub, hr, hc)
    rate_numpy = ref_ph.shape[0] / (time.perf_counter() - t0)
    p = ref_ph.shape[0]
    assert np.array_equal(ref_counts, counts[:p])
    coherent = ref_coh > 0.5  # in clutter the smallest eigenvalues nearly coincide: phases there are ill-posed
    assert np.abs(np.angle(ph[:p] * np.conj(ref_ph)))[coherent].max() < 1e-3
    assert np.abs(coh[:p] - ref_coh).max() < 1e-4

    note = f"{slc.shape[0]} dates, 11 × 11 window, {numba.get_num_threads()} threads, median {int(np.median(counts))} SHPs"
    record("DS: SHP + coherence + EMI, every pixel (numba)", rate_numba, "pixels/s", rate_numpy,
           "vectorised numpy (same computation)", target="≥ 20× numpy", note=note)
    record("DS pass of the chain: SHP of every pixel, EMI of 1 in 25 (numba)", rate_chain, "pixels/s", rate_numpy,
           "vectorised numpy, every pixel linked", note="the chain links one pixel per 100 m cell")
    end_to_end(record)


def _stack(size):
    from egms_plugin.core.sar.simulate import SimulationParameters, simulate_stack

    folder = os.path.join(CACHE, f"stack_{size}")
    if not os.path.isdir(folder):
        os.makedirs(CACHE, exist_ok=True)
        print(f"   simulating {size} × {size} × 60 with DS areas into {folder} …", flush=True)
        simulate_stack(folder, SimulationParameters(rows=size, cols=size, n_dates=60, seed=7, ds_areas=40,
                                                    ds_radius_m=600.0, ds_gamma_inf=0.3, ds_tau_days=45.0))
    return folder


def _read_once(folder):
    from egms_plugin.core.sar.amplitude import SCAN_BLOCK_MB, small_gdal_cache
    from egms_plugin.core.sar.stack import StackFolder

    stack = StackFolder(folder)
    rows = stack.block_rows_for(SCAN_BLOCK_MB * 2**20)
    t0 = time.perf_counter()
    with small_gdal_cache(), stack:
        for r0, r1 in stack.row_blocks(rows):
            stack.read_block(r0, r1)
    return time.perf_counter() - t0


def end_to_end(record):
    size = int(os.environ.get("EGMS_BENCH_DS_SIZE", "1000"))
    folder = _stack(size)
    plugins = os.path.join(ROOT, ".build", "plugins")
    runs = {}
    for scatterers in ("ps", "ps_ds"):
        out = subprocess.run([sys.executable, "-P", "-c", CHILD.format(plugins=plugins, folder=folder,
                                                                      scatterers=scatterers)],
                             capture_output=True, text=True, check=True)
        runs[scatterers] = json.loads(out.stdout.strip().splitlines()[-1])
    read = min(_read_once(folder) for _ in range(3))
    ps, ds = runs["ps"], runs["ps_ds"]
    note = f"{size} × {size} × 60, load {os.getloadavg()[0]:.1f}"
    record("chain PS and DS, end to end", ds["seconds"], "s", read, "reading the stack once", target="≤ 15×",
           note=note + f"; DS pass {ds['timings'].get('read stack, amplitude statistics, candidates', 0):.0f} s "
                       "with the PS read")
    record("chain PS only, end to end", ps["seconds"], "s", read, "reading the stack once", note=note)
    record("chain PS and DS, peak memory", ds["maxrss_mb"], "MB", ps["maxrss_mb"], "PS only", target="≤ 1536 MB")
    record("points with DS", ds["n_points"], "points", ps["n_points"], "PS only",
           note=f"{ds['ds']} distributed scatterers")
