"""Shared by the batch tests: four small simulated stacks, one LocalCluster of two worker processes, and the
four stacks run directly (in this process, without Dask) as the reference of every cluster run."""

from __future__ import annotations

import os

import pytest

N_STACKS = 4


@pytest.fixture(scope="session")
def stacks(tmp_path_factory):
    """Four simulated stacks (80 × 80 px, 28 dates, different seeds and orbits): ~0.1 s each."""
    from egms_plugin.core.sar.simulate import SimulationParameters, simulate_stack

    root = tmp_path_factory.mktemp("batch-stacks")
    paths = []
    for i in range(N_STACKS):
        path = str(root / f"burst{i}")
        simulate_stack(path, SimulationParameters(rows=80, cols=80, n_dates=28, seed=20 + i,
                                                  orbit=("ascending", "descending")[i % 2],
                                                  origin_x=500000.0 + 2000.0 * i))
        paths.append(path)
    return paths


@pytest.fixture(scope="session")
def direct(stacks, tmp_path_factory):
    """Each stack run alone, as egms:computevelocities does (the chain, then the core's writer): ~2 s a stack
    once the numba cache (.build/numba-cache) is warm; the first run of a fresh checkout compiles (~75 s)."""
    from egms_plugin.core.psi.chain import PsiParameters, compute_velocities
    from egms_plugin.core.psi.output import write_measurement_points
    from egms_plugin.core.sar.sources import open_stack

    out = tmp_path_factory.mktemp("batch-direct")
    paths = {}
    for path in stacks:
        stack = open_stack(path)
        name = os.path.basename(path)
        paths[name] = write_measurement_points(str(out / f"{name}.gpkg"), compute_velocities(stack, PsiParameters()),
                                               stack)
    return paths


@pytest.fixture(scope="session")
def client():
    """The runner's LocalCluster of 2 worker processes with 1 thread each (~3 s to start; workers import numba
    once)."""
    from egms_plugin.batch.runner import start_client

    c, cluster = start_client(workers=2)
    yield c
    c.close()
    cluster.close()
