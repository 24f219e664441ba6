"""The tiles of a decomposition: squares of the EPSG:3035 grid (EGMS Ortho: 100 km, named ``E<XX>N<YY>``).

A tile's side is a multiple of the cell size, so tile boundaries fall on cell boundaries: a point belongs to the
tile of its cell (``floor(x / cell)`` — the decomposer's own binning — divided by the cells per tile), every cell
lies in exactly one tile and no halo is needed; the union of the tiles' cells is the single run's.

>>> tile_name(40, 17, 100_000.0), tile_name(2300, 870, 2000.0)
('E40N17', 'E4600N1740_2km')
>>> tiles_over((4_001_000.0, 1_700_500.0, 4_003_500.0, 1_701_000.0), 2000.0)
[(2000, 850), (2001, 850)]
"""

from __future__ import annotations

import math

import numpy as np

EGMS_TILE_M = 100_000.0
"""Side of the EGMS Ortho (L3) tiles (m, EPSG:3035)."""


def check_tile_size(tile_m, cell_m):
    """The number of cells per tile side; ValueError unless ``tile_m`` is a positive multiple of ``cell_m``."""
    k = tile_m / cell_m
    if not tile_m > 0 or abs(k - round(k)) > 1e-9 or round(k) < 1:
        raise ValueError(f"the tile size {tile_m:g} m is not a multiple of the cell size {cell_m:g} m")
    return int(round(k))


def tile_name(tx, ty, tile_m=EGMS_TILE_M):
    """``E<XX>N<YY>`` (EGMS: tile corner in units of 100 km); other sizes ``E<km>N<km>_<size>`` (corner in km)."""
    if tile_m == EGMS_TILE_M:
        return f"E{tx:02d}N{ty:02d}"
    size = f"{tile_m / 1000:g}km" if tile_m % 1000 == 0 else f"{tile_m:g}m"
    return f"E{tx * tile_m / 1000:g}N{ty * tile_m / 1000:g}_{size}"


def tiles_over(extent, tile_m=EGMS_TILE_M):
    """``[(tx, ty)]`` of the tiles meeting ``extent`` (min_x, min_y, max_x, max_y), row by row from the south."""
    x0, y0, x1, y1 = extent
    return [(tx, ty) for ty in range(math.floor(y0 / tile_m), math.floor(y1 / tile_m) + 1)
            for tx in range(math.floor(x0 / tile_m), math.floor(x1 / tile_m) + 1)]


def tile_bounds(tx, ty, tile_m=EGMS_TILE_M):
    """(min_x, min_y, max_x, max_y) of a tile (m, EPSG:3035)."""
    return tx * tile_m, ty * tile_m, (tx + 1) * tile_m, (ty + 1) * tile_m


def in_tile(x, y, tx, ty, cell_m, cells_per_tile):
    """Mask of the points whose cell (the decomposer's ``floor(x / cell)``) lies in tile ``(tx, ty)``."""
    ix = np.floor(np.asarray(x, dtype=np.float64) / cell_m).astype(np.int64)
    iy = np.floor(np.asarray(y, dtype=np.float64) / cell_m).astype(np.int64)
    return (np.floor_divide(ix, cells_per_tile) == tx) & (np.floor_divide(iy, cells_per_tile) == ty)


def polygon_wkt(bounds):
    """WKT of the rectangle ``bounds``."""
    x0, y0, x1, y1 = (float(v) for v in bounds)  # numpy 2 scalars would print as np.float64(…)
    return f"POLYGON (({x0!r} {y0!r},{x1!r} {y0!r},{x1!r} {y1!r},{x0!r} {y1!r},{x0!r} {y0!r}))"
