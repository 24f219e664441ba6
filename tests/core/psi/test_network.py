"""Arc networks: Delaunay + neighbours, maximum length, components, spanning tree, local coordinates."""

import numpy as np
import pytest

from egms_plugin.core.psi.network import (
    build_network,
    connected_components,
    delaunay_arcs,
    largest_component,
    local_metric_coordinates,
    subset_arcs,
)
from egms_plugin.testing.psi_reference import minimum_spanning_arcs


def test_delaunay_of_a_square_grid_with_neighbours_and_max_length():
    gx, gy = np.meshgrid(np.arange(5) * 100.0, np.arange(4) * 100.0)
    x, y = gx.ravel(), gy.ravel()
    arcs, length = build_network(x, y, max_arc_length=101.0, n_neighbours=4)
    # only the 4-neighbour grid edges are ≤ 101 m: 4·4 horizontal + 5·3 vertical
    assert len(arcs) == 31 and np.allclose(length, 100.0)
    assert (arcs[:, 0] < arcs[:, 1]).all() and len(np.unique(arcs, axis=0)) == len(arcs)
    arcs2, _ = build_network(x, y, max_arc_length=150.0, n_neighbours=0)
    # Delaunay adds one diagonal per cell (12 cells)
    assert len(arcs2) == 31 + 12


def test_neighbours_add_redundancy_beyond_delaunay():
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 1000, 300), rng.uniform(0, 1000, 300)
    d, _ = build_network(x, y, 1e9, n_neighbours=0)
    dn, _ = build_network(x, y, 1e9, n_neighbours=8)
    assert len(dn) > len(d) and set(map(tuple, d)) <= set(map(tuple, dn))
    degree = np.bincount(dn.ravel(), minlength=300)
    assert degree.min() >= 8


def test_degenerate_inputs():
    assert delaunay_arcs(np.array([0.0]), np.array([0.0])).shape == (0, 2)
    collinear = np.arange(5.0)
    arcs, _ = build_network(collinear, collinear, 10.0, n_neighbours=0)
    assert len(arcs) == 10  # few collinear points: all pairs within the maximum length
    with pytest.raises(ValueError, match="maximum arc length must be positive"):
        build_network(collinear, collinear, 0.0)


def test_components_and_largest():
    arcs = np.array([[0, 1], [1, 2], [3, 4]])
    labels, count = connected_components(6, arcs)
    assert count == 3 and labels[0] == labels[2] != labels[3]
    np.testing.assert_array_equal(largest_component(6, arcs), [True, True, True, False, False, False])


def test_minimum_spanning_arcs_prefers_coherent_arcs():
    arcs = np.array([[0, 1], [1, 2], [0, 2], [2, 3]])
    cost = 1 - np.array([0.9, 0.95, 0.3, 0.8])  # 1 − γ
    np.testing.assert_array_equal(minimum_spanning_arcs(4, arcs, cost), [0, 1, 3])


def test_subset_arcs_reindexes():
    arcs = np.array([[0, 1], [1, 3], [2, 3]])
    local, idx = subset_arcs(arcs, np.array([True, True, False, True]))
    np.testing.assert_array_equal(local, [[0, 1], [1, 2]])
    np.testing.assert_array_equal(idx, [0, 1])


def test_local_metric_coordinates_are_metres():
    # 0.01° of latitude is 1112 m (WGS84 at 45°: 111132 m per degree); reference: pyproj geodesic
    from pyproj import Geod

    lon = np.array([9.0, 9.0, 9.01])
    lat = np.array([45.0, 45.01, 45.0])
    x, y = local_metric_coordinates(lon, lat)
    geod = Geod(ellps="WGS84")
    assert np.hypot(x[1] - x[0], y[1] - y[0]) == pytest.approx(geod.inv(9, 45, 9, 45.01)[2], rel=1e-5)
    assert np.hypot(x[2] - x[0], y[2] - y[0]) == pytest.approx(geod.inv(9, 45, 9.01, 45)[2], rel=1e-5)


def test_work_overlapping_the_triangulation_gets_the_neighbour_arcs():
    rng = np.random.default_rng(3)
    x, y = rng.uniform(0, 2000, 500), rng.uniform(0, 2000, 500)
    seen = []
    arcs, length = build_network(x, y, 150.0, 4, while_triangulating=seen.append)
    plain, plain_length = build_network(x, y, 150.0, 4)
    np.testing.assert_array_equal(arcs, plain)  # the same network either way
    np.testing.assert_array_equal(length, plain_length)
    near = seen[0]
    assert len(seen) == 1 and 0 < len(near) < len(arcs)
    assert set(map(tuple, near)) <= set(map(tuple, arcs))  # a subset of the result, within the maximum length
