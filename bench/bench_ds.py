"""Distributed scatterers: SHP + coherence matrix + phase linking, pixels per second, next to vectorised numpy.

One block of 60 dates (circular-Gaussian DS with γ(Δt) = 0.3 + 0.7·exp(−Δt/45 d) in its left half, clutter
in its right half), an 11 × 11 window, every centre pixel processed (SHPs by the SHP test and connectivity, its
coherence matrix over the SHPs, EMI phase linking and the temporal coherence), for both SHP tests — the default
GLRT first, then KS.  Baseline measured in the same run on a part of the same block:
``testing/ds_reference.ds_pipeline_numpy`` with the same test — the same computation written the direct
vectorised-numpy way (GLRT: power ratios of all pixels at once per window offset; KS: KS distances of all pixels
at once per window offset; connectivity by repeated dilation, coherence by ``einsum``, EMI by batched ``eigh``);
the two agree on the SHP counts and the linked phases.

The chain links only one pixel per 100 m cell (25 pixels of 20 m), so its DS pass costs the SHP test of every
pixel plus 1/25 of the linking; that figure is recorded too.

End to end: a simulated ``EGMS_BENCH_DS_SIZE`` (default 1000) square stack of 60 dates with 40 DS areas of
600 m radius (γ∞ = 0.3, τ = 45 d; about 11 % of the scene), the chain with SCATTERERS = PS only and PS and
DS (with each SHP test), each in a fresh subprocess (time, peak resident memory ``VmHWM``, points; the faster of
two runs), next to reading the stack once (the chain's blocks, from the page cache).  Stacks are simulated once
into ``.build/bench_ds/``.
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
result = compute_velocities(StackFolder({folder!r}), PsiParameters(scatterers={scatterers!r}, ds_test={test!r}))
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


def _numba(slc, hr, hc, every=1, method="glrt"):
    from egms_plugin.core.psi.ds import find_shps, link_pixels

    rows, cols = slc.shape[1:]
    masks, counts = find_shps(np.abs(slc), hr, hc, 0.05, rows=(hr, rows - hr), method=method)
    rr, cc = np.meshgrid(np.arange(rows - 2 * hr), np.arange(cols), indexing="ij")
    rr, cc = rr.ravel()[::every], cc.ravel()[::every]
    ph, coh, _ = link_pixels(slc, rr + hr, cc, masks[rr, cc])
    return ph, coh, counts.ravel()


REPEAT = 3
"""Timings in-process are the best of this many runs (numpy baselines: of 2): the machine is shared."""


def _best(repeat, fn, *args, **kwargs):
    """(shortest seconds of ``repeat`` calls ``fn(*args, **kwargs)``, the last result)."""
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        best = min(best, time.perf_counter() - t0)
    return best, out


def _shp_only(slc, hr, hc, method):
    from egms_plugin.core.psi.ds import find_shps

    return find_shps(np.abs(slc), hr, hc, 0.05, rows=(hr, slc.shape[1] - hr), method=method)


def run(record):
    import numba

    from egms_plugin.core.psi.ds import DEFAULT_SHP_TEST, SHP_TESTS
    from egms_plugin.testing.ds_reference import SIMILAR_NUMPY, connect_vectorised, ds_pipeline_numpy

    hr = hc = 5
    slc = _block()
    n_pixels = (slc.shape[1] - 2 * hr) * slc.shape[2]
    methods = (DEFAULT_SHP_TEST,) + tuple(m for m in SHP_TESTS if m != DEFAULT_SHP_TEST)
    for method in methods:
        label = "GLRT" if method == "glrt" else "KS"
        default = " (default)" if method == DEFAULT_SHP_TEST else ""
        _numba(slc[:, :16, :16], hr, hc, method=method)  # compile / load the cache
        t, (ph, coh, counts) = _best(REPEAT, _numba, slc, hr, hc, method=method)
        rate_numba = n_pixels / t
        rate_chain = n_pixels / _best(REPEAT, _numba, slc, hr, hc, every=25, method=method)[0]
        rate_shp = n_pixels / _best(REPEAT, _shp_only, slc, hr, hc, method)[0]
        sub = slc[:, : 2 * hr + 8, :]  # 8 centre rows for the numpy baselines (memory: (P, 60, 60) complex128)

        def numpy_shp(sub=sub, method=method):
            sim = SIMILAR_NUMPY[method](np.abs(sub), hr, hc, 0.05)[hr:hr + 8]
            return connect_vectorised(sim.reshape(-1, 2 * hr + 1, 2 * hc + 1)).sum(axis=(1, 2))

        t, ref_shp = _best(2, numpy_shp)
        rate_shp_numpy = ref_shp.size / t
        assert np.array_equal(ref_shp, counts[:ref_shp.size])
        t, (ref_ph, ref_coh, ref_counts) = _best(2, ds_pipeline_numpy, sub, hr, hc, method=method)
        rate_numpy = ref_ph.shape[0] / t
        p = ref_ph.shape[0]
        assert np.array_equal(ref_counts, counts[:p])
        coherent = ref_coh > 0.5  # in clutter the smallest eigenvalues nearly coincide: phases there are ill-posed
        err = np.abs(np.angle(ph[:p] * np.conj(ref_ph)))[coherent]
        # float32 eigenvectors: the error grows with ε₃₂·‖Γ⁻¹ ∘ C‖ / gap — measured max 1.3e-3 rad (0.006 mm at C
        # band) at a pixel with cond(Γ) = 5e4 (KS), 1.2e-4 with the GLRT; 99th percentile 8e-6–1.0e-5
        assert np.percentile(err, 99) < 5e-5 and err.max() < 5e-3, (np.percentile(err, 99), err.max())
        assert np.abs(coh[:p] - ref_coh).max() < 1e-4

        note = (f"{slc.shape[0]} dates, 11 × 11 window, {numba.get_num_threads()} threads, median "
                f"{int(np.median(counts))} SHPs")
        record(f"DS{default}: SHP ({label}) + coherence + EMI, every pixel (numba)", rate_numba, "pixels/s",
               rate_numpy, f"vectorised numpy (same computation, {label})", target="≥ 20× numpy", note=note)
        record(f"DS pass of the chain{default}: SHP ({label}) of every pixel, EMI of 1 in 25 (numba)", rate_chain,
               "pixels/s", rate_numpy, f"vectorised numpy ({label}), every pixel linked",
               note="the chain links one pixel per 100 m cell")
        record(f"SHP search only ({label}): test + connectivity of every pixel (numba)", rate_shp, "pixels/s",
               rate_shp_numpy, f"vectorised numpy ({label}, connectivity by repeated dilation)", note=note)
    end_to_end(record, methods)


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


def end_to_end(record, methods=("glrt", "ks")):
    size = int(os.environ.get("EGMS_BENCH_DS_SIZE", "1000"))
    folder = _stack(size)
    plugins = os.path.join(ROOT, ".build", "plugins")
    runs = {}
    for scatterers, test in [("ps", methods[0])] + [("ps_ds", m) for m in methods]:
        for _ in range(2):  # the faster of two runs (a shared machine)
            out = subprocess.run([sys.executable, "-P", "-c", CHILD.format(plugins=plugins, folder=folder,
                                                                          scatterers=scatterers, test=test)],
                                 capture_output=True, text=True, check=True)
            run = json.loads(out.stdout.strip().splitlines()[-1])
            if (scatterers, test) not in runs or run["seconds"] < runs[scatterers, test]["seconds"]:
                runs[scatterers, test] = run
    read = min(_read_once(folder) for _ in range(3))
    ps = runs["ps", methods[0]]
    note = f"{size} × {size} × 60, load {os.getloadavg()[0]:.1f}"
    stage = "read stack, amplitude statistics, candidates"
    for k, test in enumerate(methods):
        ds = runs["ps_ds", test]
        label = ("GLRT" if test == "glrt" else "KS") + (" (default)" if k == 0 else "")
        record(f"chain PS and DS, SHP {label}, end to end", ds["seconds"], "s", read, "reading the stack once",
               target="≤ 15×", note=note + f"; DS pass {ds['timings'].get(stage, 0) - ps['timings'].get(stage, 0):.1f} s "
                                           f"(its stage {ds['timings'].get(stage, 0):.1f} s, PS only "
                                           f"{ps['timings'].get(stage, 0):.1f} s)")
        record(f"chain PS and DS, SHP {label}, peak memory", ds["maxrss_mb"], "MB", ps["maxrss_mb"], "PS only",
               target="≤ 1536 MB")
        record(f"points with DS, SHP {label}", ds["n_points"], "points", ps["n_points"], "PS only",
               note=f"{ds['ds']} distributed scatterers")
    record("chain PS only, end to end", ps["seconds"], "s", read, "reading the stack once", note=note)
