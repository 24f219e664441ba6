"""Distributed scatterers: SHP + coherence matrix + phase linking, pixels per second, next to vectorised numpy.

One block of 60 dates (circular-Gaussian DS with γ(Δt) = 0.3 + 0.7·exp(−Δt/45 d) in its left half, clutter
in its right half), an 11 × 11 window, every centre pixel processed (SHPs by the KS test and connectivity, its
coherence matrix over the SHPs, EMI phase linking and the temporal coherence).  Baseline measured in the same
run on a part of the same block: ``testing/ds_reference.ds_pipeline_numpy`` — the same computation written the
direct vectorised-numpy way (KS distances of all pixels at once per window offset, connectivity by repeated
dilation, coherence by ``einsum``, EMI by batched ``eigh``); the two agree on the linked phases.

The chain links only one pixel per 100 m cell (25 pixels of 20 m), so its DS pass costs the SHP test of every
pixel plus 1/25 of the linking; that figure is recorded too.
"""

import time

import numpy as np


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
