"""Large scenes in patches: overlapping windows of the scene, measured one by one and tied on common points.

When the candidates' phases and working arrays would need more than the memory budget, the chain
(:mod:`.chain`) measures the scene in windows of at most about ``limit`` candidates
(:func:`patch_windows`), each with :func:`.measure.measure_candidates`, reading each patch's phasors
from the stack again; :func:`measure_patches` ties every patch to the ones measured before it by one
offset per date on their common points.
"""

from __future__ import annotations

import time

import numpy as np

from ..errors import InputError
from .measure import MIN_POINTS, measure_candidates
from .measure import STAGES as MEASURE_STAGES

PATCH_OVERLAP = 0.15
"""Overlap of neighbouring patches, as a fraction of the patch size on each side."""
MIN_PATCH_OVERLAP_PX = 16
MIN_PATCH_CANDIDATES = 500
"""Fewest candidates a patch is made for, whatever the memory budget (a network needs room)."""
MIN_COMMON_POINTS = 20
"""Points two patches must share for one to be tied to the other."""


def patch_windows(lines, pixels, shape, limit):
    """Overlapping windows ``(core, window)`` of ``(row0, row1, col0, col1)`` covering the scene.

    The scene is halved recursively (k-d fashion: the longer side, at the median candidate) until the
    window of every core — the core extended by :data:`PATCH_OVERLAP` of its size on each side, at least
    :data:`MIN_PATCH_OVERLAP_PX` — holds at most ``limit`` candidates, so a dense town gets small patches
    and open country large ones.  Cores partition the scene.  ``lines`` must be sorted.
    """
    rows, cols = shape

    def window(r0, r1, c0, c1):
        orow = max(MIN_PATCH_OVERLAP_PX, int(np.ceil(PATCH_OVERLAP * (r1 - r0))))
        ocol = max(MIN_PATCH_OVERLAP_PX, int(np.ceil(PATCH_OVERLAP * (c1 - c0))))
        return max(0, r0 - orow), min(rows, r1 + orow), max(0, c0 - ocol), min(cols, c1 + ocol)

    def inside(r0, r1, c0, c1):
        lo, hi = np.searchsorted(lines, [r0, r1])
        sel = (pixels[lo:hi] >= c0) & (pixels[lo:hi] < c1)
        return lines[lo:hi][sel], pixels[lo:hi][sel]

    out, todo = [], [(0, rows, 0, cols)]
    while todo:
        core = todo.pop()
        r0, r1, c0, c1 = core
        win = window(*core)
        n = inside(*win)[0].size
        split = None
        if n > limit:
            ll, pp = inside(*core)
            if r1 - r0 >= c1 - c0 and r1 - r0 > 1:
                cut = int(np.clip(np.median(ll) if ll.size else (r0 + r1) // 2, r0 + 1, r1 - 1))
                split = [(r0, cut, c0, c1), (cut, r1, c0, c1)]
            elif c1 - c0 > 1:
                cut = int(np.clip(np.median(pp) if pp.size else (c0 + c1) // 2, c0 + 1, c1 - 1))
                split = [(r0, r1, c0, cut), (r0, r1, cut, c1)]
        if split is None or (r1 - r0 <= MIN_PATCH_OVERLAP_PX and c1 - c0 <= MIN_PATCH_OVERLAP_PX):
            out.append((tuple(int(v) for v in core), tuple(int(v) for v in win)))
        else:
            todo.extend(split[::-1])
    return _connected_order(sorted(out))


def _connected_order(patches):
    """Patches in breadth-first order over "my window overlaps your core", from the first in raster order:
    each patch (but the first of a disconnected group) overlaps one measured before it, so it can be tied."""
    def overlaps(w, c):
        return w[0] < c[1] and c[0] < w[1] and w[2] < c[3] and c[2] < w[3]

    order, seen = [], [False] * len(patches)
    for start in range(len(patches)):
        if seen[start]:
            continue
        seen[start], queue = True, [start]
        while queue:
            i = queue.pop(0)
            order.append(i)
            for j, (core, _w) in enumerate(patches):
                if not seen[j] and overlaps(patches[i][1], core):
                    seen[j] = True
                    queue.append(j)
    return [patches[i] for i in order]


def _read_patch_phasors(stack, lines, pixels, window, block_mb, progress):
    """Unit interferogram phasors (n, n_dates) of the candidates at ``lines``, ``pixels`` inside ``window``."""
    from ..sar.amplitude import small_gdal_cache, unit_interferogram_phasors

    r0, r1, c0, c1 = window
    out = np.empty((lines.size, stack.n_dates), dtype=np.complex64)
    per_row = (c1 - c0) * stack.n_dates * 8
    step = max(1, int(min(block_mb, 64.0) * 2**20 // per_row))
    with small_gdal_cache(), stack:
        for a in range(r0, r1, step):
            progress.check()
            b = min(a + step, r1)
            lo, hi = np.searchsorted(lines, [a, b])  # candidates are sorted by line
            if hi > lo:
                slc = stack.read_block(a, b, c0, c1)
                out[lo:hi] = unit_interferogram_phasors(slc[:, lines[lo:hi] - a, pixels[lo:hi] - c0].T)
    return out


class _GrowingRows:
    """Rows appended patch by patch (float32 series, float64 heights), with room doubled as needed."""

    def __init__(self, n_dates):
        self.n = 0
        self.series = np.empty((1024, n_dates), dtype=np.float32)
        self.u = np.empty(1024)
        self.index = np.empty(1024, dtype=np.int64)

    def append(self, index, series, u):
        need = self.n + index.size
        if need > self.index.size:
            cap = max(need, 2 * self.index.size)
            self.series = np.resize(self.series, (cap, self.series.shape[1]))
            self.u = np.resize(self.u, cap)
            self.index = np.resize(self.index, cap)
        sl = slice(self.n, need)
        self.series[sl], self.u[sl], self.index[sl] = series, u, index
        self.n = need
        return np.arange(sl.start, sl.stop)


def measure_patches(stack, cand, x, y, geometry, p, wavelength, stages, counts, limit, read_stage):
    """Steps 2–7 in overlapping patches of at most about ``limit`` candidates, tied on common points.

    The arguments of :func:`.measure.measure_candidates`, with all candidates ``cand``
    (:class:`~egms_plugin.core.sar.amplitude.Candidates`, without phasors) instead of their phasors:
    ``stages`` holds :data:`.measure.STAGES` and ``read_stage``, whose time the patches' reading is added to.
    Returns what :func:`.measure.measure_candidates` returns, over all patches.

    Patches are measured in the order of :func:`patch_windows` (each overlaps one measured before it).
    A patch's series and heights are brought onto the points already measured by its neighbours with
    one offset per date (and one for the height term): the median difference over the points both
    measured (at least :data:`MIN_COMMON_POINTS`).  A point keeps the values of the patch whose core
    holds it.  Memory: one patch's working set plus the measured
    series (4 bytes per point and date).
    """
    windows = patch_windows(cand.lines, cand.pixels, tuple(int(v) for v in stack.shape), limit)
    stages.info(f"{cand.size} candidates are more than the memory for candidates ({p.memory_mb:g} MB, about "
                f"{limit} candidates × {stack.n_dates} dates) allows: measuring {len(windows)} overlapping patches.")
    # progress: the share of the stages of measure_candidates, split between the patches
    whole = stages.span(*stages.share(MEASURE_STAGES))
    store = _GrowingRows(stack.n_dates)
    where = np.full(cand.size, -1, dtype=np.int64)  # row in the store of each measured candidate
    has_u = geometry.f0 is not None
    unconnected = 0
    for k, (core, window) in enumerate(windows):
        span = whole.span(k / len(windows), (k + 1) / len(windows))
        r0, r1, c0, c1 = window
        lo, hi = np.searchsorted(cand.lines, [r0, r1])
        members = lo + np.flatnonzero((cand.pixels[lo:hi] >= c0) & (cand.pixels[lo:hi] < c1))
        if members.size < MIN_POINTS:
            continue
        t0 = time.perf_counter()
        phasors = _read_patch_phasors(stack, cand.lines[members], cand.pixels[members], window, p.block_size_mb,
                                      span.span(0.0, 0.3))
        stages.timings[read_stage] += time.perf_counter() - t0  # the patches' second read counts as reading
        try:
            # the chain's notes (filter length, thresholds) are the same for every patch: said once
            patch_stages = stages.within(span.span(0.3, 1.0), MEASURE_STAGES, notes=store.n == 0)
            pts, series, u = measure_candidates(stack, phasors, x[members], y[members], geometry, p, wavelength,
                                                patch_stages, counts)
        except InputError as exc:
            span.info(f"patch {k + 1} of {len(windows)} (rows {r0}–{r1}, columns {c0}–{c1}): nothing measured — "
                      f"{str(exc).split(': ', 1)[-1]}")
            continue
        finally:
            del phasors
        gidx = members[pts]
        u = np.zeros(gidx.size) if u is None else u
        loc = where[gidx]
        common = loc >= 0
        tied = common.sum() >= MIN_COMMON_POINTS
        if tied:
            series += np.median(store.series[loc[common]] - series[common], axis=0)
            u += np.median(store.u[loc[common]] - u[common])
        elif store.n:
            unconnected += 1
        in_core = ((cand.lines[gidx] >= core[0]) & (cand.lines[gidx] < core[1])
                   & (cand.pixels[gidx] >= core[2]) & (cand.pixels[gidx] < core[3]))
        # the patch whose core holds a point has its best atmosphere estimate (if it could be tied)
        replace = common & in_core & tied
        store.series[loc[replace]], store.u[loc[replace]] = series[replace], u[replace]
        where[gidx[~common]] = store.append(gidx[~common], series[~common], u[~common])
        counts["patches_measured"] = counts.get("patches_measured", 0) + 1
    counts["patches"] = len(windows)
    if unconnected:
        stages.warn(f"{unconnected} patch(es) share fewer than {MIN_COMMON_POINTS} points with the patches "
                    "measured before them; their values are tied to the rest only through the common reference.")
    if store.n < MIN_POINTS:
        raise InputError(f"{stack.folder}: no coherent point in any of the {len(windows)} patches; nothing is written.")
    order = np.argsort(store.index[:store.n], kind="stable")
    idx = store.index[:store.n][order]
    series = store.series[:store.n][order].astype(np.float64)
    u = store.u[:store.n][order] if has_u else None
    return idx, series, u
