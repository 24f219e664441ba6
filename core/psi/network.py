"""Arc networks between measurement-point candidates (step 2 of :mod:`.chain`).

Arcs are the edges of the Delaunay triangulation of the points plus each
point's nearest neighbours (redundancy, so a single bad arc cannot isolate a
point), without arcs longer than a maximum length — the atmosphere
decorrelates with distance, so long arcs carry little information.

Coordinates are metric (x, y in m); :func:`local_metric_coordinates` gives
them from WGS84 longitude/latitude with an azimuthal equidistant projection
centred on the points, so radar-geometry and geocoded stacks are treated alike.

Example
-------
>>> import numpy as np
>>> x = np.array([0.0, 100.0, 0.0, 100.0]); y = np.array([0.0, 0.0, 100.0, 100.0])
>>> arcs, length = build_network(x, y, max_arc_length=150.0, n_neighbours=2)
>>> arcs.tolist()
[[0, 1], [0, 2], [0, 3], [1, 3], [2, 3]]
"""

from __future__ import annotations

import numpy as np

DEFAULT_MAX_ARC_LENGTH_M = 1000.0
DEFAULT_NEIGHBOURS = 8


def local_metric_coordinates(lon, lat, centre=None):
    """(x, y) metres in an azimuthal equidistant projection centred on ``centre`` (lon, lat).

    The default centre is the points' median position.
    """
    from pyproj import Transformer

    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    if lon.size == 0:
        return lon.copy(), lat.copy()
    lon0, lat0 = (float(np.median(lon)), float(np.median(lat))) if centre is None else map(float, centre)
    proj = f"+proj=aeqd +lat_0={lat0:.9f} +lon_0={lon0:.9f} +datum=WGS84 +units=m +no_defs"
    tr = Transformer.from_crs("EPSG:4326", proj, always_xy=True)
    return tr.transform(lon, lat)


def _unique_arcs(pairs):
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    lo, hi = np.minimum(pairs[:, 0], pairs[:, 1]), np.maximum(pairs[:, 0], pairs[:, 1])
    ok = lo != hi
    if not ok.any():
        return np.zeros((0, 2), dtype=np.int64)
    base = int(hi.max()) + 1
    keys = np.unique(lo[ok] * base + hi[ok])  # sorted by (i, j)
    return np.column_stack([keys // base, keys % base])


def delaunay_arcs(x, y):
    """Edges (i < j) of the Delaunay triangulation; all pairs when fewer than 4 points or collinear."""
    n = x.size
    if n < 2:
        return np.zeros((0, 2), dtype=np.int64)
    if n >= 4:
        from scipy.spatial import Delaunay, QhullError

        try:
            tri = Delaunay(np.column_stack([x, y]))
            s = tri.simplices
            return _unique_arcs(np.concatenate([s[:, [0, 1]], s[:, [1, 2]], s[:, [0, 2]]]))
        except QhullError:
            pass  # collinear or degenerate: fall through
    if n <= 64:
        i, j = np.triu_indices(n, 1)
        return np.column_stack([i, j]).astype(np.int64)
    order = np.lexsort((y, x))  # collinear-ish: chain neighbours along the line
    return _unique_arcs(np.column_stack([order[:-1], order[1:]]))


def neighbour_arcs(x, y, n_neighbours=DEFAULT_NEIGHBOURS, max_length=np.inf):
    """Arcs from every point to its ``n_neighbours`` nearest neighbours (within ``max_length``)."""
    from scipy.spatial import cKDTree

    n = x.size
    k = min(int(n_neighbours), n - 1)
    if k < 1:
        return np.zeros((0, 2), dtype=np.int64)
    tree = cKDTree(np.column_stack([x, y]))
    dist, idx = tree.query(np.column_stack([x, y]), k=k + 1, distance_upper_bound=max_length, workers=-1)
    src = np.repeat(np.arange(n), k + 1).reshape(n, k + 1)
    ok = np.isfinite(dist) & (idx < n)
    return _unique_arcs(np.column_stack([src[ok], idx[ok]]))


def _arc_lengths(x, y, arcs):
    return np.hypot(x[arcs[:, 1]] - x[arcs[:, 0]], y[arcs[:, 1]] - y[arcs[:, 0]]) if arcs.size else np.zeros(0)


def build_network(x, y, max_arc_length=DEFAULT_MAX_ARC_LENGTH_M, n_neighbours=DEFAULT_NEIGHBOURS,
                  while_triangulating=None):
    """Delaunay + nearest-neighbour arcs no longer than ``max_arc_length`` (m).

    Returns ``(arcs, length)``: int64 (n_arcs, 2) with i < j, sorted, and float64 lengths (m).

    ``while_triangulating(arcs)``, if given, is called with the nearest-neighbour arcs (already
    within the maximum length; a subset of the result) while the triangulation runs in another thread
    (Qhull releases the GIL): work on those arcs overlaps the single-threaded triangulation.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError("x and y must be 1-D arrays of the same length")
    if not max_arc_length > 0:
        raise ValueError(f"maximum arc length must be positive, got {max_arc_length}")
    if while_triangulating is None or n_neighbours <= 0:
        arcs = delaunay_arcs(x, y)
        if n_neighbours > 0:
            arcs = _unique_arcs(np.concatenate([arcs, neighbour_arcs(x, y, n_neighbours, max_arc_length)]))
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=1) as pool:
            triangulation = pool.submit(delaunay_arcs, x, y)
            near = neighbour_arcs(x, y, n_neighbours, max_arc_length)
            near = near[_arc_lengths(x, y, near) <= max_arc_length]
            while_triangulating(near)
            arcs = _unique_arcs(np.concatenate([triangulation.result(), near]))
    length = _arc_lengths(x, y, arcs)
    keep = length <= max_arc_length
    return arcs[keep], length[keep]


def connected_components(n_points, arcs):
    """Component label of every point (int array) and the number of components."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components as cc

    if n_points == 0:
        return np.zeros(0, dtype=np.int64), 0
    arcs = np.asarray(arcs, dtype=np.int64).reshape(-1, 2)
    graph = coo_matrix((np.ones(len(arcs)), (arcs[:, 0], arcs[:, 1])), shape=(n_points, n_points))
    count, labels = cc(graph, directed=False)
    return labels.astype(np.int64), int(count)


def largest_component(n_points, arcs):
    """Boolean mask of the points in the largest connected component (points without arcs excluded)."""
    labels, count = connected_components(n_points, arcs)
    mask = np.zeros(n_points, dtype=bool)
    if count == 0 or len(arcs) == 0:
        return mask
    sizes = np.bincount(labels, minlength=count)
    has_arc = np.zeros(n_points, dtype=bool)
    has_arc[np.asarray(arcs).ravel()] = True
    sizes_arc = np.bincount(labels[has_arc], minlength=count)
    best = int(np.argmax(np.where(sizes_arc > 0, sizes, -1)))
    mask[labels == best] = True
    return mask & has_arc


def subset_arcs(arcs, keep_points):
    """Arcs between kept points, re-indexed to the kept points' order; plus the kept arcs' indices."""
    keep_points = np.asarray(keep_points, dtype=bool)
    new_index = np.full(keep_points.size, -1, dtype=np.int64)
    new_index[keep_points] = np.arange(int(keep_points.sum()))
    ok = keep_points[arcs[:, 0]] & keep_points[arcs[:, 1]]
    idx = np.flatnonzero(ok)
    return new_index[arcs[idx]], idx
