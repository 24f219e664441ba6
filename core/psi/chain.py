"""The persistent-scatterer chain: stack folder → measurement points in the EGMS schema (DESIGN §8).

:func:`compute_velocities` strings the steps together and returns numpy
columns; writing them is the caller's business (``egms:computevelocities``
writes a GeoPackage).  Memory is bounded by the block size: the stack is read
once in row blocks (amplitude statistics and the candidates' phasors in the
same pass), everything after works on the candidates only.

Steps and where they live:

1. candidates — :func:`.amplitude.scan_stack` (D_A below the threshold);
2. arcs — :func:`.network.build_network` (Delaunay + nearest neighbours, maximum length);
3. arc parameters — :func:`.arcs.estimate_arc_parameters` (γ maximisation over Δv, Δh);
4. cleaning — candidates without a coherent arc out, the network rebuilt on
   the rest, rejected candidates re-admitted when they have two coherent arcs
   to accepted points (densification), the largest coherent component kept;
   after integration, arcs whose coherence with the integrated parameters is
   low are dropped and the integration repeated — points isolated by that are
   dropped, never tied in by an incoherent arc (a patch moving faster than the
   unwrapping limit is a separate component and is dropped);
5. integration — :class:`.integration.NetworkSolver` (γ-weighted least squares);
6. time series — residual phases unwrapped on the network date by date, each
   point's own phase then taken with the ambiguity of the network solution;
7. atmosphere — :func:`.aps.estimate_aps` (smooth in space, random in time)
   removed; height error re-estimated on the corrected series;
8. selection — temporal coherence of every point's phase against its model
   and the spatially smooth signal of its neighbours (StaMPS-style), then the
   EGMS statistics (:func:`.stats.egms_statistics`), the RMSE cap and the
   spatial reference (median of all points, or the point nearest to a given
   position).

Signs and units follow :mod:`.conventions`: interferometric phase
``arg(s_first · conj(s_k))``, LOS displacement in mm positive towards the
satellite, first date 0.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .. import conventions as cv
from ..errors import InputError
from ..progress import Progress, ensure

# -------------------------------------------------------------------------- parameters
MIN_POINTS = 3
MIN_APS_FILTER_M = 100.0
BYTES_PER_CANDIDATE_DATE = 160
"""Peak working memory of the chain per candidate and date (measured: 1127 MB for 120 272 candidates × 60
dates, including the read buffer and the interpreter)."""
PATCH_OVERLAP = 0.15
"""Overlap of neighbouring patches, as a fraction of the patch size on each side."""
MIN_PATCH_OVERLAP_PX = 16
MIN_PATCH_CANDIDATES = 500
"""Fewest candidates a patch is made for, whatever the memory budget (a network needs room)."""
MIN_COMMON_POINTS = 20
"""Points two patches must share for one to be tied to the other."""


@dataclass
class PsiParameters:
    """Parameters of :func:`compute_velocities` (defaults are the EGMS-like settings)."""

    dispersion_threshold: float = 0.25
    """Candidates have amplitude dispersion below this (EGMS: 0.25)."""
    coherence_threshold: float = 0.7
    """Final selection on temporal coherence (EGMS quotes 0.7; with ≥ 24 dates a random phase
    reaches it with probability < 1e−5, the EGMS false-alarm target)."""
    max_rmse_mm: float = 5.0
    """Final selection: RMSE of the cubic + seasonal fit (mm); 0 disables."""
    max_arc_length_m: float = 1000.0
    neighbours: int = 6
    """Nearest neighbours added to the Delaunay arcs of every point (redundancy; 4, 6 and 8 give the same
    accuracy on the simulated stacks, 6 costs 18 % fewer arcs than 8)."""
    max_velocity_diff: float = 60.0
    """mm/yr searched on an arc (±)."""
    max_height_diff: float = 60.0
    """m of height-error difference searched on an arc (±)."""
    arc_coherence_threshold: float = 0.5
    """Arcs below this temporal coherence are not used (raised automatically for short stacks)."""
    aps_filter_m: float = 0.0
    """σ of the spatial Gaussian of the atmospheric filter (m); 0: automatic, twice the median
    distance between neighbouring points, at least 100 m."""
    height_filter_m: float = 400.0
    """σ of the spatial Gaussian separating smooth atmosphere from scatterers' height errors (m)."""
    aps_window_days: float = 90.0
    """σ of the temporal Gaussian that separates non-linear motion from atmosphere (days)."""
    calibrate_amplitude: bool = False
    block_size_mb: float = 256.0
    """Memory for one block of rows of every date while reading the stack (MB)."""
    memory_mb: float = 2048.0
    """Memory for the candidates measured at once (MB): when their phases and working arrays would need
    more (about :data:`BYTES_PER_CANDIDATE_DATE` per candidate and date), the scene is measured in
    overlapping patches that are tied together on their common points."""
    reference_lonlat: tuple | None = None
    """(lon, lat) WGS84 of the reference position; None: median of all points."""
    estimate_height: bool = True
    """Estimate height errors when the stack has baselines and the geometry is known."""


@dataclass
class PsiResult:
    """Columns of the measurement points in the schema order of DESIGN §6, and what happened."""

    columns: dict
    lon: np.ndarray
    lat: np.ndarray
    dates: list
    date_fields: list
    timings: dict = field(default_factory=dict)
    counts: dict = field(default_factory=dict)
    messages: list = field(default_factory=list)
    reference: dict = field(default_factory=dict)

    @property
    def n_points(self):
        return int(self.lon.size)


ATTRIBUTE_FIELDS = (
    "pid", "mp_type", "latitude", "longitude", "easting", "northing", "height", "line", "pixel", "rmse",
    "temporal_coherence", "amplitude_dispersion", "incidence_angle", "track_angle", "los_east", "los_north",
    "los_up", "mean_velocity", "mean_velocity_std", "acceleration", "acceleration_std", "seasonality",
    "seasonality_std", "height_error",
)
"""Attribute fields of the output, in order; the date fields (YYYYMMDD, LOS mm) follow."""


def _l2_pid(lines, pixels, folder):
    from ..egms.pid import l2_pid

    try:
        return l2_pid(lines, pixels, ipe=0)
    except ValueError as exc:
        raise InputError(f"{folder}: {exc}; EGMS point ids hold pixels < 65536 and lines < 13977.") from None


class _Stages:
    """Progress spans and wall-clock timings of the stages."""

    WEIGHTS = (("read stack, amplitude statistics, candidates", 0.55), ("network and arc estimation", 0.2),
               ("network cleaning and integration", 0.08), ("time series and atmosphere", 0.1),
               ("statistics and products", 0.07))

    def __init__(self, progress):
        self.progress = progress
        self.timings = {}
        self._start = 0.0
        self._bounds = {}
        acc = 0.0
        for name, w in self.WEIGHTS:
            self._bounds[name] = (acc, acc + w)
            acc += w

    def begin(self, name):
        self.progress.check()
        self.progress.info(f"{name} …")
        self._name, self._t0 = name, time.perf_counter()
        a, b = self._bounds[name]
        self.progress.update(a)
        return self.progress.span(a, b)

    def end(self):
        self.timings[self._name] = time.perf_counter() - self._t0
        self.progress.update(self._bounds[self._name][1])
        self.progress.check()


STAGES = _Stages.WEIGHTS
"""The chain's stages and their shares of the progress bar, in order."""


class _Monotonic(Progress):
    """Forwards progress that never goes back (several passes share one stage's span)."""

    def __init__(self, parent):
        self._parent, self._last = parent, 0.0

    def update(self, fraction):
        self._last = max(self._last, fraction)
        self._parent.update(self._last)

    def is_cancelled(self):
        return self._parent.is_cancelled()

    def info(self, message):
        self._parent.info(message)

    def warn(self, message):
        self._parent.warn(message)


# -------------------------------------------------------------------------- geometry
@dataclass
class _Geometry:
    t: np.ndarray            # years since first date
    days: np.ndarray
    f0: np.ndarray | None    # mm per m of height error at the reference incidence (B⊥ relative to the first date)
    incidence: np.ndarray | None   # per candidate (deg) or None
    heading: float | None
    height_scale: np.ndarray | None  # h = u · height_scale per point (per-pixel incidence)


def _geometry(stack, lines, pixels, params, progress):
    g = stack.geometry
    days = cv.days_since_first(stack.dates)
    t = cv.years_since_first(stack.dates)
    incidence = stack.incidence_at(lines, pixels)
    f0 = scale = None
    if params.estimate_height and stack.bperp is not None:
        missing = [n for n, v in (("slant range (SLANT_RANGE)", g.slant_range_m),
                                  ("incidence angle (INCIDENCE_ANGLE)", g.incidence_deg if incidence is None else 1.0))
                   if v is None]
        if missing:
            progress.warn(f"{stack.folder}: baselines.csv is present but the {' and '.join(missing)} is unknown "
                          "(stack.json or the parameters); height errors are not estimated.")
        elif np.ptp(stack.bperp) <= 0:
            progress.warn(f"{stack.folder}: all perpendicular baselines are equal; height errors are not estimated.")
        else:
            inc_ref = float(g.incidence_deg) if g.incidence_deg is not None else float(np.median(incidence))
            f0 = cv.height_error_factor_mm_per_m(stack.bperp - stack.bperp[0], g.slant_range_m, inc_ref)
            f0 = np.asarray(f0, dtype=np.float64)
            if incidence is not None:
                scale = np.sin(np.deg2rad(incidence)) / np.sin(np.deg2rad(inc_ref))
    elif params.estimate_height:
        progress.info(f"{stack.folder}: no baselines.csv — height errors are not estimated.")
    return _Geometry(t=t, days=days, f0=f0, incidence=incidence, heading=g.heading_deg, height_scale=scale)


# -------------------------------------------------------------------------- network cleaning
class _ArcCache:
    """Arc estimates keyed by (p, q), so rebuilt networks only estimate new arcs."""

    def __init__(self, phasors, geometry, params, wavelength_m):
        from .arcs import make_search

        self.z = phasors
        self.n = phasors.shape[0]
        self.search = make_search(geometry.t, geometry.f0, wavelength_m, params.max_velocity_diff,
                                  params.max_height_diff if geometry.f0 is not None else 0.0)
        self.keys = np.zeros(0, dtype=np.int64)
        self.v = np.zeros(0)
        self.h = np.zeros(0)
        self.g = np.zeros(0)
        self.n_estimated = 0

    def estimate(self, arcs, progress=None):
        from .arcs import estimate_arc_parameters

        keys = arcs[:, 0] * self.n + arcs[:, 1]
        pos = np.searchsorted(self.keys, keys)
        known = (pos < self.keys.size) & (self.keys[np.minimum(pos, max(self.keys.size - 1, 0))] == keys) \
            if self.keys.size else np.zeros(keys.size, dtype=bool)
        new = ~known
        if new.any():
            est = estimate_arc_parameters(self.z, arcs[new], None, search=self.search, progress=progress)
            self.n_estimated += int(new.sum())
            keys_all = np.concatenate([self.keys, keys[new]])
            order = np.argsort(keys_all, kind="stable")
            self.keys = keys_all[order]
            self.v = np.concatenate([self.v, est.velocity])[order]
            self.h = np.concatenate([self.h, est.height])[order]
            self.g = np.concatenate([self.g, est.coherence])[order]
            pos = np.searchsorted(self.keys, keys)
        return self.v[pos], self.h[pos], self.g[pos]


def _good_degree(n, arcs, good):
    return np.bincount(arcs[good].ravel(), minlength=n)


def _clean_network(x, y, cache, params, arc_threshold, progress):
    """Points and arcs of the coherent network: (point mask, arcs, Δv, Δh, γ) over all candidates."""
    from .network import build_network, largest_component

    n = x.size
    active = np.ones(n, dtype=bool)
    built_for = None
    for attempt in range(3):
        idx = np.flatnonzero(active)
        # first network: the nearest-neighbour arcs are estimated while the triangulation runs
        overlap = (lambda near, idx=idx: cache.estimate(idx[near], progress)) if attempt == 0 else None
        local, _len = build_network(x[idx], y[idx], params.max_arc_length_m, params.neighbours, overlap)
        arcs, built_for = idx[local], active.copy()
        _, _, g = cache.estimate(arcs, progress)
        degree = _good_degree(n, arcs, g >= arc_threshold)
        drop = active & (degree == 0)
        if not drop.any():
            break
        active &= ~drop
    # densification: re-admit rejected candidates with two coherent arcs to accepted points
    rejected = np.flatnonzero(~active)
    if rejected.size and active.sum() >= 2:
        acc = np.flatnonzero(active)
        k = min(params.neighbours, acc.size)
        from scipy.spatial import cKDTree

        dist, nn = cKDTree(np.column_stack([x[acc], y[acc]])).query(
            np.column_stack([x[rejected], y[rejected]]), k=k, distance_upper_bound=params.max_arc_length_m)
        dist, nn = dist.reshape(rejected.size, k), nn.reshape(rejected.size, k)
        ok = np.isfinite(dist)
        src = np.repeat(rejected, k).reshape(rejected.size, k)[ok]
        dst = acc[nn[ok]]
        if src.size:
            pairs = np.sort(np.column_stack([src, dst]), axis=1)
            _, _, g = cache.estimate(pairs, progress)
            readmit = _good_degree(n, pairs, g >= arc_threshold) >= 2
            active |= readmit & ~active
    if not np.array_equal(active, built_for):  # the network changed: rebuild it on the accepted points
        idx = np.flatnonzero(active)
        local, _len = build_network(x[idx], y[idx], params.max_arc_length_m, params.neighbours)
        arcs = idx[local]
    v, h, g = cache.estimate(arcs, progress)
    good = g >= arc_threshold
    arcs, v, h, g = arcs[good], v[good], h[good], g[good]
    keep = largest_component(n, arcs)
    inside = keep[arcs[:, 0]] & keep[arcs[:, 1]]
    return keep, arcs[inside], v[inside], h[inside], g[inside]


def _integrate(n, arcs, dv, dh, g, phasors, geometry, arc_threshold, wavelength_m, progress):
    """Integrate arcs to points; drop arcs inconsistent with the solution and repeat. Returns a dict."""
    from .arcs import arc_coherence
    from .integration import NetworkSolver, network_weights
    from .network import largest_component, subset_arcs

    points = np.flatnonzero(largest_component(n, arcs))
    for _ in range(5):
        progress.check()
        keep = np.zeros(n, dtype=bool)
        keep[points] = True
        arcs_l, sel = subset_arcs(arcs, keep)
        dv_l, dh_l, g_l = dv[sel], dh[sel], g[sel]
        if points.size < 2 or len(arcs_l) == 0:
            return None
        # reference for the integration: the point with the most coherent arcs
        score = np.bincount(arcs_l.ravel(), weights=np.repeat(g_l, 2), minlength=points.size)
        ref = int(np.argmax(score))
        solver = NetworkSolver(points.size, arcs_l, network_weights(g_l), ref)
        vel = solver.solve(dv_l)
        hgt = solver.solve(dh_l) if geometry.f0 is not None else np.zeros(points.size)
        g_int, offset = arc_coherence(phasors[points], arcs_l, geometry.t, geometry.f0, solver.arc_differences(vel),
                                      solver.arc_differences(hgt), wavelength_m)
        ok = g_int >= arc_threshold
        if ok.all():
            break
        # arcs the solution does not explain (ambiguous arc estimates, unwrapping errors) go out;
        # points they isolated go with them, they are never tied in by an incoherent arc
        keep_l = largest_component(points.size, arcs_l[ok])
        arcs, dv, dh, g = points[arcs_l[ok]], dv_l[ok], dh_l[ok], g_l[ok]
        points = points[keep_l]
    else:
        return None
    return dict(points=points, solver=solver, velocity=vel, height=hgt, arc_coherence=g_int, offset=offset,
                reference=ref)



# -------------------------------------------------------------------------- patches
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


class _PatchStages:
    """The chain's middle stages inside one patch's share of the progress bar; timings add up."""

    NAMES = ("network and arc estimation", "network cleaning and integration", "time series and atmosphere")

    def __init__(self, stages, span):
        self._stages, self._span = stages, span
        w = dict(_Stages.WEIGHTS)
        total = sum(w[n] for n in self.NAMES)
        acc, self._bounds = 0.0, {}
        for name in self.NAMES:
            self._bounds[name] = (acc / total, (acc + w[name]) / total)
            acc += w[name]

    def begin(self, name):
        self._span.check()
        self._name, self._t0 = name, time.perf_counter()
        a, b = self._bounds[name]
        self._span.update(a)
        return self._span.span(a, b)

    def end(self):
        t = self._stages.timings
        t[self._name] = t.get(self._name, 0.0) + time.perf_counter() - self._t0
        self._span.update(self._bounds[self._name][1])
        self._span.check()


class _WithoutInfo(Progress):
    """Forwards progress, cancellation and warnings, not notes."""

    def __init__(self, parent):
        self._parent = parent

    def update(self, fraction):
        self._parent.update(fraction)

    def is_cancelled(self):
        return self._parent.is_cancelled()

    def info(self, message):
        pass

    def warn(self, message):
        self._parent.warn(message)


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


def _measure_patches(stack, cand, x, y, geometry, p, wavelength, stages, counts, progress, limit):
    """Steps 2–7 in overlapping patches of at most about ``limit`` candidates, tied on common points.

    Patches are measured in the order of :func:`patch_windows` (each overlaps one measured before it).
    A patch's series and heights are brought onto the points already measured by its neighbours with
    one offset per date (and one for the height term): the median difference over the points both
    measured (at least :data:`MIN_COMMON_POINTS`).  A point keeps the values of the patch whose core
    holds it.  Memory: one patch's working set plus the measured
    series (4 bytes per point and date).
    """
    windows = patch_windows(cand.lines, cand.pixels, tuple(int(v) for v in stack.shape), limit)
    progress.info(f"{cand.size} candidates are more than the memory for candidates ({p.memory_mb:g} MB, about "
                  f"{limit} candidates × {stack.n_dates} dates) allows: measuring {len(windows)} overlapping patches.")
    # progress: the shares of the three middle stages of _Stages, split between the patches
    w = dict(_Stages.WEIGHTS)
    read_stage = "read stack, amplitude statistics, candidates"
    a = w[read_stage]
    b = a + sum(w[n] for n in _PatchStages.NAMES)
    whole = progress.span(a, b)
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
            pts, series, u = _measure(stack, phasors, x[members], y[members], geometry, p, wavelength,
                                      _PatchStages(stages, span.span(0.3, 1.0)), counts,
                                      span if store.n == 0 else _WithoutInfo(span))
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
        _count(counts, "patches_measured", 1)
    counts["patches"] = len(windows)
    if unconnected:
        progress.warn(f"{unconnected} patch(es) share fewer than {MIN_COMMON_POINTS} points with the patches "
                      "measured before them; their values are tied to the rest only through the common reference.")
    if store.n < MIN_POINTS:
        raise InputError(f"{stack.folder}: no coherent point in any of the {len(windows)} patches; nothing is written.")
    order = np.argsort(store.index[:store.n], kind="stable")
    idx = store.index[:store.n][order]
    series = store.series[:store.n][order].astype(np.float64)
    u = store.u[:store.n][order] if has_u else None
    return idx, series, u


# -------------------------------------------------------------------------- time series
def _with_aps_filter(p, x, y, progress):
    """``p`` with the automatic atmospheric filter length resolved."""
    if p.aps_filter_m > 0:
        return p
    from dataclasses import replace

    from scipy.spatial import cKDTree

    dist, _ = cKDTree(np.column_stack([x, y])).query(np.column_stack([x, y]), k=2)
    sigma = max(MIN_APS_FILTER_M, 2.0 * float(np.median(dist[:, 1])))
    progress.info(f"atmospheric filter: σ = {sigma:.0f} m in space, {p.aps_window_days:g} days in time")
    return replace(p, aps_filter_m=sigma)


def _heights_and_screen(observed, vel, x, y, geometry, p, progress, neighbours=None):
    """Height-error term u (m) and atmospheric screen (mm) of unwrapped series ``observed`` (mm).

    A per-date atmosphere projects on the baseline pattern like a height error
    does; they differ only in space: the atmosphere is smooth, height errors of
    scatterers are not.  The per-point fit ``u0`` of ``observed`` is split into
    its spatially smooth part (Gaussian of σ = ``height_filter_m``, the point
    itself excluded), attributed to the atmosphere, and the rest, the height
    error.  The screen is then estimated from the residual without that height
    error, and the height error is re-fitted on the corrected series.
    """
    from .atmosphere import estimate_aps, gaussian_smooth_points

    u0 = _refine_heights(observed, geometry)
    smooth = gaussian_smooth_points(x, y, u0, p.height_filter_m)
    u1 = u0 - smooth
    progress.check()
    residual = observed - vel[:, None] * geometry.t[None, :] - u1[:, None] * geometry.f0[None, :]
    aps_mm, _ = estimate_aps(x, y, residual, geometry.days, p.aps_filter_m, p.aps_window_days, neighbours=neighbours)
    return _refine_heights(observed - aps_mm, geometry), aps_mm


def _refine_heights(series_mm, geometry):
    """Height-error term u (m) per point of APS-corrected series, with a cubic + annual model."""
    from ..egms.stats import design_matrix

    t = geometry.t
    g = np.column_stack([design_matrix(t, "cubic"), geometry.f0])
    coef = series_mm @ np.linalg.pinv(g).T
    return coef[:, -1]


def _reference_series(d, lonlat_ref, x, y, centre, progress):
    """Subtract the spatial reference; returns (referenced series, reference info)."""
    if lonlat_ref is None:
        return d - np.median(d, axis=0, keepdims=True), {"mode": "median of all points"}
    from .network import local_metric_coordinates

    rx, ry = local_metric_coordinates(np.array([lonlat_ref[0]]), np.array([lonlat_ref[1]]), centre)
    dist = np.hypot(x - rx[0], y - ry[0])
    i = int(np.argmin(dist))
    if dist[i] > 1000.0:
        progress.warn(f"the nearest measurement point to the reference position is {dist[i]:.0f} m away.")
    return d - d[i:i + 1], {"mode": "point", "index": i, "distance_m": float(dist[i])}


# -------------------------------------------------------------------------- the chain
def _count(counts, key, value):
    counts[key] = counts.get(key, 0) + value


def _measure(stack, phasors, x, y, geometry, p, wavelength, stages, counts, progress):
    """Steps 2–7 of the chain on one set of candidates (all of them, or one patch).

    ``phasors`` (n, n_dates) and local metric ``x``, ``y`` (n,) of the candidates.  Returns
    ``(points, series, u)``: indices into the candidates of the measured points, their LOS series (mm,
    first date 0, atmosphere removed, relative to the network's reference) and height-error terms (m, or
    None without baselines).  Raises :class:`InputError` when nothing coherent is found.
    """
    from ..egms.stats import first_date_reference
    from .atmosphere import estimate_aps, neighbour_weights, phase_coherence
    from .integration import own_phases, unwrap_residual_phases

    n_cand, n_dates = phasors.shape
    rad_per_mm = float(cv.mm_to_phase(1.0, wavelength))
    # 2–3. network and arcs ------------------------------------------------------------------
    span = stages.begin("network and arc estimation")
    # a random phase maximised over the grid reaches γ ≈ sqrt(ln(grid / 1e-3) / N): stay above it
    cache = _ArcCache(phasors, geometry, p, wavelength)
    noise_level = float(np.sqrt(np.log(cache.search.size / 1e-3) / n_dates))
    arc_threshold = max(p.arc_coherence_threshold, noise_level)
    if arc_threshold > p.arc_coherence_threshold + 1e-9:
        progress.info(f"arc coherence threshold raised to {arc_threshold:.2f} for {n_dates} acquisitions")
    keep, arcs, dv, dh, g = _clean_network(x, y, cache, p, arc_threshold, _Monotonic(span))
    _count(counts, "arcs_estimated", cache.n_estimated)
    stages.end()
    if keep.sum() < MIN_POINTS:
        raise InputError(f"{stack.folder}: no coherent network — of {n_cand} candidates, {int(keep.sum())} have "
                         f"arcs with temporal coherence ≥ {arc_threshold:.2f}. Nothing is coherent enough to measure "
                         "(check the stack's coregistration, or raise MAX_ARC_LENGTH).")

    # 4–5. cleaning and integration ------------------------------------------------------------
    stages.begin("network cleaning and integration")
    net = _integrate(n_cand, arcs, dv, dh, g, phasors, geometry, arc_threshold, wavelength, progress)
    if net is None:
        raise InputError(f"{stack.folder}: the arc network could not be made consistent (the integrated solution "
                         "contradicts its arcs); nothing is coherent enough to measure.")
    pts = net["points"]
    solver = net["solver"]
    _count(counts, "network_points", int(pts.size))
    _count(counts, "network_arcs", int(len(solver.arcs)))
    stages.end()
    if pts.size < MIN_POINTS:
        raise InputError(f"{stack.folder}: the coherent network holds only {pts.size} point(s); nothing to measure.")

    # 6–7. time series and atmosphere ---------------------------------------------------------
    stages.begin("time series and atmosphere")
    z = phasors[pts]
    vel, hgt = net["velocity"], net["height"]
    unwrapped = unwrap_residual_phases(solver, z, geometry.t, geometry.f0, solver.arc_differences(vel),
                                       solver.arc_differences(hgt), net["offset"], rad_per_mm, progress=progress)
    progress.check()
    own = own_phases(z, net["reference"], geometry.t, geometry.f0, vel, hgt, unwrapped, rad_per_mm)
    del unwrapped
    xs, ys = x[pts], y[pts]
    p = _with_aps_filter(p, xs, ys, progress)
    neighbours = neighbour_weights(xs, ys, p.aps_filter_m)  # for every screen on all network points
    selected = np.ones(pts.size, dtype=bool)
    for iteration in range(3):
        progress.check()
        aps, smooth = estimate_aps(xs[selected], ys[selected], own[selected], geometry.days, p.aps_filter_m,
                                   p.aps_window_days, neighbours=neighbours if selected.all() else None)
        gamma = phase_coherence(own[selected], smooth)
        good = gamma >= p.coherence_threshold
        if good.all() or iteration == 2 or good.sum() < MIN_POINTS:
            break
        selected[np.flatnonzero(selected)[~good]] = False  # incoherent points out, screen re-estimated without them
    sel = np.flatnonzero(selected)[good]
    aps = aps[good]
    _count(counts, "coherent_points", int(sel.size))
    if sel.size < MIN_POINTS:
        stages.end()
        raise InputError(f"{stack.folder}: no coherent point — {sel.size} of {pts.size} network points "
                         f"reach temporal coherence {p.coherence_threshold:g}. Nothing is written.")
    # unwrapped LOS series (mm, relative to the integration reference) before the atmosphere is removed
    model_mm = vel[sel, None] * geometry.t[None, :]
    if geometry.f0 is not None:
        model_mm = model_mm + hgt[sel, None] * geometry.f0[None, :]
    observed = model_mm + cv.phase_to_mm(own[sel], wavelength)
    aps_mm = cv.phase_to_mm(aps, wavelength)
    del own, aps, smooth
    u = None
    if geometry.f0 is not None:
        u, aps_mm = _heights_and_screen(observed, vel[sel], xs[sel], ys[sel], geometry, p, progress,
                                        neighbours if sel.size == pts.size else None)
        series = observed - aps_mm - u[:, None] * geometry.f0[None, :]
    else:
        series = observed - aps_mm
    del observed, aps_mm, model_mm
    series = first_date_reference(series, stack.dates)
    stages.end()
    return pts[sel], series, u


def compute_velocities(stack, params: PsiParameters | None = None, progress=None):
    """Run the PSI chain on a :class:`~.stack.StackFolder`; returns a :class:`PsiResult`.

    Raises :class:`~.errors.InputError` when nothing can be measured (no
    candidate, no coherent network, no coherent point), naming the stack and
    the threshold to change; :class:`~.errors.Cancelled` when cancelled.
    """
    from ..egms.stats import egms_statistics
    from ..sar.amplitude import scan_stack
    from .network import local_metric_coordinates

    p = params or PsiParameters()
    progress = ensure(progress)
    stages = _Stages(progress)
    wavelength = float(stack.geometry.wavelength_m)
    messages = list(stack.warnings)
    for w in stack.warnings:
        progress.warn(w)
    if not stack.georeferenced:
        raise InputError(f"{stack.folder}: cannot georeference — the SLCs carry no CRS/geotransform and the folder "
                         "has no lat*/lon* rasters (WGS84 degrees per pixel).")
    n_dates = stack.n_dates
    counts = {}

    # 1. one pass over the stack --------------------------------------------------------------
    span = stages.begin("read stack, amplitude statistics, candidates")
    limit = max(MIN_PATCH_CANDIDATES, int(p.memory_mb * 2**20 / (BYTES_PER_CANDIDATE_DATE * n_dates)))
    cand = scan_stack(stack, p.dispersion_threshold, p.calibrate_amplitude, p.block_size_mb, keep_phasors=True,
                      phasor_limit=limit, progress=span)
    stages.end()
    counts["pixels"] = cand.n_pixels
    counts["candidates"] = cand.size
    progress.info(f"{cand.size} candidates with amplitude dispersion < {p.dispersion_threshold:g} "
                  f"({100.0 * cand.size / max(cand.n_pixels, 1):.2f} % of {cand.n_pixels} pixels)")
    if cand.size < MIN_POINTS:
        raise InputError(f"{stack.folder}: only {cand.size} pixel(s) have an amplitude dispersion below "
                         f"{p.dispersion_threshold:g}; nothing to measure. Raise DISPERSION_THRESHOLD or check the stack.")

    # 2–7. network, arcs, integration, time series, atmosphere: at once, or patch by patch ------
    lon, lat = stack.lonlat(cand.lines, cand.pixels)
    lon, lat = np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    centre = (float(np.median(lon)), float(np.median(lat)))
    x, y = local_metric_coordinates(lon, lat, centre)
    geometry = _geometry(stack, cand.lines, cand.pixels, p, progress)
    if cand.phasors is not None:
        idx, series, u = _measure(stack, cand.phasors, x, y, geometry, p, wavelength, stages, counts, progress)
        cand.phasors = None
    else:
        idx, series, u = _measure_patches(stack, cand, x, y, geometry, p, wavelength, stages, counts, progress,
                                          limit)

    # 8. products -------------------------------------------------------------------------------
    span = stages.begin("statistics and products")
    xs, ys = x[idx], y[idx]
    d, ref_info = _reference_series(series, p.reference_lonlat, xs, ys, centre, progress)
    stats = egms_statistics(d, stack.dates, wavelength)
    final = stats["temporal_coherence"] >= p.coherence_threshold
    if p.max_rmse_mm and p.max_rmse_mm > 0:
        final &= stats["rmse"] <= p.max_rmse_mm
    counts["rejected_by_statistics"] = int((~final).sum())
    if final.sum() < MIN_POINTS:
        stages.end()
        raise InputError(f"{stack.folder}: no point passes the final selection (temporal coherence ≥ "
                         f"{p.coherence_threshold:g}, RMSE ≤ {p.max_rmse_mm:g} mm); nothing is written.")
    if not final.all():
        series, idx, xs, ys = series[final], idx[final], xs[final], ys[final]
        u = u[final] if u is not None else None
        d, ref_info = _reference_series(series, p.reference_lonlat, xs, ys, centre, progress)
        stats = egms_statistics(d, stack.dates, wavelength, progress=span)
    if ref_info.get("mode") == "point":
        i = ref_info["index"]
        ref_info.update(line=int(cand.lines[idx[i]]), pixel=int(cand.pixels[idx[i]]))
    counts["points"] = int(idx.size)

    columns = _columns(stack, cand, idx, lon, lat, geometry, stats, u, d)
    stages.end()
    progress.update(1.0)
    date_fields = list(stack.date_strings)
    return PsiResult(columns=columns, lon=lon[idx], lat=lat[idx], dates=list(stack.dates), date_fields=date_fields,
                     timings=stages.timings, counts=counts, messages=messages, reference=ref_info)


def _columns(stack, cand, idx, lon, lat, geometry, stats, u, d):
    from pyproj import Transformer

    n = idx.size
    lines, pixels = cand.lines[idx], cand.pixels[idx]
    east, north = Transformer.from_crs("EPSG:4326", "EPSG:3035", always_xy=True).transform(lon[idx], lat[idx])
    inc = geometry.incidence[idx] if geometry.incidence is not None else np.full(n, np.nan)
    heading = np.full(n, np.nan if geometry.heading is None else float(geometry.heading))
    if geometry.incidence is not None and geometry.heading is not None:
        le, ln, lu = cv.los_vector(inc, heading)
    else:
        le = ln = lu = np.full(n, np.nan)
    if u is not None:
        height_error = u * (geometry.height_scale[idx] if geometry.height_scale is not None else 1.0)
        height_error = height_error - np.median(height_error)  # relative, like the velocities: median 0
    else:
        height_error = np.full(n, np.nan)
    cols = {
        "pid": _l2_pid(lines, pixels, stack.folder).astype(object),
        "mp_type": np.zeros(n, dtype=np.int64),
        "latitude": lat[idx].astype(np.float64),
        "longitude": lon[idx].astype(np.float64),
        "easting": np.asarray(east, dtype=np.float64),
        "northing": np.asarray(north, dtype=np.float64),
        "height": np.full(n, np.nan),
        "line": lines.astype(np.int64),
        "pixel": pixels.astype(np.int64),
        "rmse": stats["rmse"],
        "temporal_coherence": stats["temporal_coherence"],
        "amplitude_dispersion": cand.dispersion[idx].astype(np.float64),
        "incidence_angle": np.asarray(inc, dtype=np.float64),
        "track_angle": heading,
        "los_east": np.asarray(le, dtype=np.float64),
        "los_north": np.asarray(ln, dtype=np.float64),
        "los_up": np.asarray(lu, dtype=np.float64),
        "mean_velocity": stats["mean_velocity"],
        "mean_velocity_std": stats["mean_velocity_std"],
        "acceleration": stats["acceleration"],
        "acceleration_std": stats["acceleration_std"],
        "seasonality": stats["seasonality"],
        "seasonality_std": stats["seasonality_std"],
        "height_error": np.asarray(height_error, dtype=np.float64),
    }
    assert tuple(cols) == ATTRIBUTE_FIELDS
    for k, name in enumerate(stack.date_strings):
        cols[name] = d[:, k].astype(np.float64)
    return cols

