"""Arc estimation: arcs per second of the numba search next to vectorised numpy versions of the same search.

60 dates over ~2 years, baselines ±150 m, the default search (±60 mm/yr, ±60 m: a 39 × 11 grid with the
data-derived steps, searched coarse to fine with the exhaustive grid's result) and up to 2 Gauss–Newton
refinements.  Two sets of arcs: coherent ones (model phases of random velocities and heights + 0.4 rad noise) and random phases
(incoherent, where the coarse-to-fine search cannot prune and scans the whole grid).  Baselines, both
measured in this run on the same arcs:

* "numpy direct" — the same search written the plain vectorised way (``testing/psi_reference.py``): the
  model phase of every grid point evaluated with ``np.exp`` for chunks of arcs;
* "numpy tables" — numpy with the numba kernel's own trick (precomputed exponential tables, one complex
  matrix product per height step through BLAS), for an honest view of what clever numpy can do.
"""

import time

import numpy as np


def _geometry(n_dates=60, seed=0):
    from egms_plugin.core import conventions as cv

    rng = np.random.default_rng(seed)
    days = np.concatenate([[0], np.cumsum(rng.choice([6, 12, 24, 36], n_dates - 1, p=[0.2, 0.65, 0.1, 0.05]))])
    bperp = rng.uniform(-150, 150, n_dates)
    return days / 365.25, cv.height_error_factor_mm_per_m(bperp - bperp[0], 875000.0, 39.0)


def _phasors(n_points, t, f, rng):
    from egms_plugin.core import conventions as cv

    v = rng.normal(0, 10, n_points)
    h = rng.uniform(-20, 20, n_points)
    phase = cv.mm_to_phase(v[:, None] * t + h[:, None] * f) + rng.normal(0, 0.4, (n_points, t.size))
    return np.exp(1j * phase).astype(np.complex64)


def _numpy_tables(z, arcs, search):
    """Grid search with precomputed tables and BLAS (argmax only, no refinement: a lower bound on its time)."""
    n = search.t.size
    ev = (search.ev_re + 1j * search.ev_im)[:, :n]
    eh = (search.eh_re + 1j * search.eh_im)[:, :n]
    best = np.full(len(arcs), -1.0)
    for start in range(0, len(arcs), 4096):
        a = arcs[start:start + 4096]
        w = z[a[:, 1]] * np.conj(z[a[:, 0]])
        for j in range(eh.shape[0]):
            p = np.abs((w * eh[j]) @ ev.T).max(axis=1)
            np.maximum(best[start:start + 4096], p, out=best[start:start + 4096])
    return best


def run(record):
    from egms_plugin.core.psi.arcs import estimate_arc_parameters, make_search
    from egms_plugin.core.psi.network import build_network
    from egms_plugin.testing.psi_reference import estimate_arc_parameters_numpy

    rng = np.random.default_rng(1)
    t, f = _geometry()
    n_points = 40000
    x, y = rng.uniform(0, 20000, n_points), rng.uniform(0, 20000, n_points)
    arcs, _ = build_network(x, y, 1000.0, 8)
    z = _phasors(n_points, t, f, rng)
    search = make_search(t, f, max_velocity=60.0, max_height=60.0)
    estimate_arc_parameters(z, arcs[:100], None, search=search)  # compile / load the cache

    t0 = time.perf_counter()
    est = estimate_arc_parameters(z, arcs, None, search=search)
    t_numba = time.perf_counter() - t0
    rate_numba = len(arcs) / t_numba

    sub = arcs[:600]
    t0 = time.perf_counter()
    v, h, g = estimate_arc_parameters_numpy(z, sub, search)
    rate_direct = len(sub) / (time.perf_counter() - t0)
    assert np.allclose(v, est.velocity[:600], atol=1e-5) and np.allclose(g, est.coherence[:600], atol=1e-8)

    sub = arcs[:40000]
    t0 = time.perf_counter()
    _numpy_tables(z, sub, search)
    rate_tables = len(sub) / (time.perf_counter() - t0)

    import numba

    zr = np.exp(1j * rng.uniform(-np.pi, np.pi, z.shape)).astype(np.complex64)
    t0 = time.perf_counter()
    estimate_arc_parameters(zr, arcs, None, search=search)
    rate_random = len(arcs) / (time.perf_counter() - t0)

    note = (f"{len(arcs)} arcs, {t.size} dates, grid {search.velocities.size}×{search.heights.size}, "
            f"{numba.get_num_threads()} threads")
    record("arc estimation (numba)", rate_numba, "arcs/s", rate_direct, "numpy direct (same search)",
           target="≥ 20× the numpy direct rate", note=note)
    record("arc estimation (numba)", rate_numba, "arcs/s", rate_tables, "numpy tables + BLAS (grid only)",
           note="the tables trick in numpy, without the refinement")
    record("arc estimation, random phases (numba)", rate_random, "arcs/s", rate_direct, "numpy direct (same search)",
           note="incoherent arcs: the whole grid is scanned")
