"""Steps 2–7 of the chain on one set of candidates: network, arcs, cleaning, integration, time series,
atmosphere (:mod:`.chain` lists the steps; :mod:`.patches` runs this patch by patch for large scenes).
"""

from __future__ import annotations

import numpy as np

from .. import conventions as cv
from ..errors import InputError
from .cleaning import ArcCache, clean_network, integrate_network
from .heights import heights_and_screen, with_aps_filter

MIN_POINTS = 3
"""Fewest points worth measuring (a network, the statistics and the reference need them)."""
NETWORK_STAGE = "network and arc estimation"
INTEGRATION_STAGE = "network cleaning and integration"
SERIES_STAGE = "time series and atmosphere"
STAGES = (NETWORK_STAGE, INTEGRATION_STAGE, SERIES_STAGE)
"""The stages of :func:`measure_candidates`, in order (among :data:`.chain.STAGES`)."""


def _add(counts, key, value):
    counts[key] = counts.get(key, 0) + value


def measure_candidates(stack, phasors, x, y, geometry, p, wavelength, stages, counts):
    """Steps 2–7 of the chain on one set of candidates (all of them, or one patch).

    ``phasors`` (n, n_dates) and local metric ``x``, ``y`` (n,) of the candidates, their
    :class:`.geometry.Geometry`, the parameters ``p`` (:class:`.chain.PsiParameters`).  ``stages``: a
    :class:`~egms_plugin.core.progress.Stages` holding :data:`STAGES`, also the reporter of notes and
    cancellation; ``counts`` (dict) gets the numbers of estimated arcs, network points and arcs and coherent
    points added.  Returns ``(points, series, u)``: indices into the candidates of the measured points,
    their LOS series (mm, first date 0, atmosphere removed, relative to the network's reference) and
    height-error terms (m, or None without baselines).  Raises :class:`InputError` when nothing coherent
    is found.
    """
    from ..egms.stats import first_date_reference
    from .atmosphere import estimate_aps, neighbour_weights, phase_coherence
    from .integration import own_phases, unwrap_residual_phases

    n_cand, n_dates = phasors.shape
    rad_per_mm = float(cv.mm_to_phase(1.0, wavelength))
    # 2–3. network and arcs ------------------------------------------------------------------
    span = stages.begin(NETWORK_STAGE)
    # a random phase maximised over the grid reaches γ ≈ sqrt(ln(grid / 1e-3) / N): stay above it
    cache = ArcCache(phasors, geometry, p, wavelength)
    noise_level = float(np.sqrt(np.log(cache.search.size / 1e-3) / n_dates))
    arc_threshold = max(p.arc_coherence_threshold, noise_level)
    if arc_threshold > p.arc_coherence_threshold + 1e-9:
        stages.info(f"arc coherence threshold raised to {arc_threshold:.2f} for {n_dates} acquisitions")
    keep, arcs, dv, dh, g = clean_network(x, y, cache, p, arc_threshold, span)
    _add(counts, "arcs_estimated", cache.n_estimated)
    stages.end()
    if keep.sum() < MIN_POINTS:
        raise InputError(f"{stack.folder}: no coherent network — of {n_cand} candidates, {int(keep.sum())} have "
                         f"arcs with temporal coherence ≥ {arc_threshold:.2f}. Nothing is coherent enough to measure "
                         "(check the stack's coregistration, or raise MAX_ARC_LENGTH).")

    # 4–5. cleaning and integration ------------------------------------------------------------
    stages.begin(INTEGRATION_STAGE)
    net = integrate_network(n_cand, arcs, dv, dh, g, phasors, geometry, arc_threshold, wavelength, stages)
    if net is None:
        raise InputError(f"{stack.folder}: the arc network could not be made consistent (the integrated solution "
                         "contradicts its arcs); nothing is coherent enough to measure.")
    pts = net.points
    solver = net.solver
    _add(counts, "network_points", int(pts.size))
    _add(counts, "network_arcs", int(len(solver.arcs)))
    stages.end()
    if pts.size < MIN_POINTS:
        raise InputError(f"{stack.folder}: the coherent network holds only {pts.size} point(s); nothing to measure.")

    # 6–7. time series and atmosphere ---------------------------------------------------------
    stages.begin(SERIES_STAGE)
    z = phasors[pts]
    vel, hgt = net.velocity, net.height
    unwrapped = unwrap_residual_phases(solver, z, geometry.t, geometry.f0, solver.arc_differences(vel),
                                       solver.arc_differences(hgt), net.offset, rad_per_mm, progress=stages)
    stages.check()
    own = own_phases(z, net.reference, geometry.t, geometry.f0, vel, hgt, unwrapped, rad_per_mm)
    del unwrapped
    xs, ys = x[pts], y[pts]
    p = with_aps_filter(p, xs, ys, stages)
    neighbours = neighbour_weights(xs, ys, p.aps_filter_m)  # for every screen on all network points
    selected = np.ones(pts.size, dtype=bool)
    for iteration in range(3):
        stages.check()
        aps, smooth = estimate_aps(xs[selected], ys[selected], own[selected], geometry.days, p.aps_filter_m,
                                   p.aps_window_days, neighbours=neighbours if selected.all() else None)
        gamma = phase_coherence(own[selected], smooth)
        good = gamma >= p.coherence_threshold
        if good.all() or iteration == 2 or good.sum() < MIN_POINTS:
            break
        selected[np.flatnonzero(selected)[~good]] = False  # incoherent points out, screen re-estimated without them
    sel = np.flatnonzero(selected)[good]
    aps = aps[good]
    _add(counts, "coherent_points", int(sel.size))
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
        u, aps_mm = heights_and_screen(observed, vel[sel], xs[sel], ys[sel], geometry, p, stages,
                                       neighbours if sel.size == pts.size else None)
        series = observed - aps_mm - u[:, None] * geometry.f0[None, :]
    else:
        series = observed - aps_mm
    del observed, aps_mm, model_mm
    series = first_date_reference(series, stack.dates)
    stages.end()
    return pts[sel], series, u
