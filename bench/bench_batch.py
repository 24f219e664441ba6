"""Batch runner on a Dask LocalCluster: four stacks with 1 worker vs 2 workers, and the scheduling overhead per unit.

Four simulated 300 × 300 × 40 stacks (``.build/bench_batch/``, made once) through
``egms_plugin.batch.run_batch("computevelocities", …)`` on a LocalCluster of 1 and of 2 worker processes (one
thread each; the numba kernels use every core in each worker).  Each cluster is started and warmed (a first
run, not timed, compiles nothing but loads the cached kernels in the workers) before the timed run, so the
figures are the runs, not the cluster start.

* speed-up = wall time with 1 worker / wall time with 2 workers (ideal 2× on two cores; the chain's own
  numba parallelism already uses both cores, so less is expected);
* overhead per unit = (wall time with 1 worker − the sum of the units' own compute seconds, as each task
  measured it) / units: submitting, scheduling, moving results, the index — next to a unit's own compute time;
* round trip of a trivial task (``client.submit`` of a no-op) on the same cluster.
"""

import os
import shutil
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CACHE = os.path.join(ROOT, ".build", "bench_batch")
N_UNITS = 4
SIZE = 300
N_DATES = 40


def _stacks():
    from egms_plugin.core.sar.simulate import SimulationParameters, simulate_stack

    paths = []
    for i in range(N_UNITS):
        folder = os.path.join(CACHE, f"burst{i}")
        if not os.path.isdir(folder):
            os.makedirs(CACHE, exist_ok=True)
            simulate_stack(folder, SimulationParameters(rows=SIZE, cols=SIZE, n_dates=N_DATES, seed=40 + i))
        paths.append(folder)
    return paths


def _noop():
    return 0


def _timed_run(workers, units):
    from egms_plugin.batch.runner import run_batch, start_client

    client, cluster = start_client(workers=workers)
    try:
        warm = tempfile.mkdtemp(prefix="bench-batch-warm-")
        run_batch("computevelocities", units[:workers], warm, client=client)  # workers load the kernels
        shutil.rmtree(warm)
        out = tempfile.mkdtemp(prefix="bench-batch-")
        t0 = time.perf_counter()
        results = run_batch("computevelocities", units, out, client=client)
        wall = time.perf_counter() - t0
        shutil.rmtree(out)
        assert all(r.status == "done" for r in results), [(r.name, r.message) for r in results]
        client.submit(_noop, pure=False).result()
        t0 = time.perf_counter()
        for _ in range(20):
            client.submit(_noop, pure=False).result()
        trivial = (time.perf_counter() - t0) / 20
        return wall, [r.seconds for r in results], trivial
    finally:
        client.close()
        cluster.close()


def run(record):
    from egms_plugin.batch.units import plan_units

    units, _ = plan_units("computevelocities", _stacks(), {})
    wall1, seconds1, trivial1 = _timed_run(1, units)
    wall2, seconds2, _trivial2 = _timed_run(2, units)
    unit_compute = sorted(seconds1)[len(seconds1) // 2]
    record("batch: 4 units, 2 workers (wall)", wall2, "s", baseline=wall1, baseline_name="1 worker",
           target="ratio 0.5 (2x)", note=f"speed-up {wall1 / wall2:.2f}x; {SIZE}x{SIZE}x{N_DATES} stacks")
    overhead = (wall1 - sum(seconds1)) / len(units)
    record("batch: scheduling overhead per unit (1 worker)", overhead, "s", baseline=unit_compute,
           baseline_name="a unit's own compute (median)",
           note="(wall - sum of the units' compute) / units: submit, schedule, result, index")
    record("batch: trivial task round trip", trivial1, "s", baseline=unit_compute,
           baseline_name="a unit's own compute (median)")
    record("batch: unit compute with 2 workers (median)", sorted(seconds2)[len(seconds2) // 2], "s",
           baseline=unit_compute, baseline_name="with 1 worker",
           note="two chains share two cores: each unit runs slower, the run faster")
