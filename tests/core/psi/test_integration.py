"""Network integration: weighted least squares, reference handling, residual unwrapping date by date."""

import numpy as np
import pytest

from egms_plugin.core import conventions as cv
from egms_plugin.core.psi.integration import NetworkSolver, network_weights, unwrap_residual_phases
from egms_plugin.core.psi.network import build_network


def random_network(n=300, seed=0, max_length=800.0):
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(0, 3000, n), rng.uniform(0, 3000, n)
    arcs, _ = build_network(x, y, max_length, 6)
    return rng, x, y, arcs


def test_exact_arcs_integrate_to_points():
    rng, x, y, arcs = random_network()
    truth = rng.normal(0, 5, x.size)
    solver = NetworkSolver(x.size, arcs, rng.uniform(0.5, 3, len(arcs)), reference=17)
    sol = solver.solve(truth[arcs[:, 1]] - truth[arcs[:, 0]])
    np.testing.assert_allclose(sol, truth - truth[17], atol=1e-9)
    both = solver.solve(np.column_stack([truth[arcs[:, 1]] - truth[arcs[:, 0]]] * 2))
    np.testing.assert_allclose(both[:, 1], truth - truth[17], atol=1e-9)


def test_weighted_solution_equals_dense_least_squares():
    rng, x, y, arcs = random_network(60, seed=1)
    d = rng.normal(size=len(arcs))
    w = rng.uniform(0.2, 4, len(arcs))
    solver = NetworkSolver(x.size, arcs, w, reference=0)
    a = np.zeros((len(arcs), x.size))
    a[np.arange(len(arcs)), arcs[:, 1]] = 1
    a[np.arange(len(arcs)), arcs[:, 0]] = -1
    sw = np.sqrt(w)[:, None]
    ref = np.linalg.lstsq(sw * a[:, 1:], sw[:, 0] * d, rcond=None)[0]  # independent reference: dense lstsq
    np.testing.assert_allclose(solver.solve(d)[1:], ref, atol=1e-10)


def test_network_weights():
    np.testing.assert_allclose(network_weights([0.5, 0.9]), [0.25 / 0.75, 0.81 / 0.19])
    assert np.isfinite(network_weights([1.0])).all()  # capped, not infinite


def test_disconnected_network_is_reported():
    with pytest.raises(Exception, match="not connected"):
        NetworkSolver(4, np.array([[0, 1], [2, 3]]), np.ones(2), reference=0)


def test_residual_phases_unwrap_on_the_network():
    """Points with smooth residual phases up to several cycles across the scene are unwrapped exactly."""
    rng, x, y, arcs = random_network(400, seed=2, max_length=300.0)
    n_dates = 12
    t = np.arange(n_dates) * 12 / 365.25
    # a spatially smooth residual (atmosphere-like ramp + bump), 2 cycles across the scene on the last date,
    # at most 1.3 rad along any 300-m arc: wrapped arc differences are the true differences
    ramp = (x / 3000.0)[:, None] * np.linspace(0, 4 * np.pi, n_dates)[None, :]
    bump = 2.0 * np.exp(-((x - 1500) ** 2 + (y - 1500) ** 2) / 5e5)[:, None] * np.sin(np.arange(n_dates))[None, :]
    residual = ramp + bump
    vel = rng.normal(0, 3, x.size)  # a known model on top, removed before unwrapping
    phase = residual + cv.mm_to_phase(vel[:, None] * t[None, :])
    z = np.exp(1j * phase).astype(np.complex64)
    solver = NetworkSolver(x.size, arcs, np.ones(len(arcs)), reference=0)
    dv = vel[arcs[:, 1]] - vel[arcs[:, 0]]
    out = unwrap_residual_phases(solver, z, t, None, dv, np.zeros(len(arcs)), np.zeros(len(arcs)),
                                 cv.mm_to_phase(1.0))
    expected = residual - residual[0]
    np.testing.assert_allclose(out, expected, atol=1e-4)  # float32 phasors
    assert np.abs(expected).max() > 3 * np.pi  # really more than a cycle


def test_own_phases_equal_the_numpy_formula():
    """Each point's own phase moved by whole cycles onto the network solution: the plain numpy formula."""
    from egms_plugin.core.psi.integration import own_phases

    rng = np.random.default_rng(5)
    n, n_dates = 300, 40
    t = np.arange(n_dates) * 12 / 365.25
    f = rng.uniform(-0.3, 0.3, n_dates)
    vel, hgt = rng.normal(0, 8, n), rng.normal(0, 10, n)
    k = cv.mm_to_phase(1.0)
    unwrapped = np.cumsum(rng.normal(0, 0.6, (n, n_dates)), axis=1)  # several cycles: the ambiguity matters
    z = np.exp(1j * (k * (vel[:, None] * t + hgt[:, None] * f) + unwrapped + rng.normal(0, 0.3, (n, n_dates))))
    z[:, :] *= np.exp(1j * 0.7)  # a constant per point is absorbed
    z = z.astype(np.complex64)
    z[5, 3] = 0  # a pixel without amplitude on one date: phase 0
    ref = 17
    out = own_phases(z, ref, t, f, vel, hgt, unwrapped, k)
    # independent reference: the numpy formula, in complex128
    zz = z.astype(np.complex128)
    e = np.angle(zz * np.conj(zz[ref])) - k * (vel[:, None] * t + hgt[:, None] * f)
    d = e - unwrapped
    c = np.angle(np.exp(1j * d).sum(axis=1))
    expected = unwrapped + np.angle(np.exp(1j * (d - c[:, None])))
    np.testing.assert_allclose(out, expected, atol=1e-9)
    assert np.abs(out - unwrapped).max() < np.pi  # never more than half a cycle from the network solution
