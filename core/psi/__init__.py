"""The persistent-scatterer (PSI) chain: a coregistered SLC stack → measurement points in the EGMS schema.

:func:`compute_velocities` runs the whole chain with :class:`PsiParameters` and returns a
:class:`PsiResult` (columns in the order of :data:`ATTRIBUTE_FIELDS`, then one LOS mm field per
date); :data:`STAGES` are its progress stages.  The modules, in the order of the chain (the steps are
listed in :mod:`.chain`):

* :mod:`.chain` — parameters, result, stages, :func:`compute_velocities`;
* :mod:`.geometry` — time axis, height-error factor, incidence and heading of the candidates;
* :mod:`.network` — arc networks (Delaunay + neighbours), components, local metric coordinates;
* :mod:`.arcs` — velocity and height-error differences of every arc (numba);
* :mod:`.cleaning` — the coherent network: arc cache, cleaning before and after integration;
* :mod:`.integration` — weighted least squares on the network, residual phases date by date (numba);
* :mod:`.atmosphere` — the atmospheric phase screen (numba);
* :mod:`.heights` — the atmospheric filter length, height errors apart from the screen;
* :mod:`.measure` — steps 2–7 on one set of candidates; :mod:`.patches` — the same patch by patch;
* :mod:`.reference` — the spatial reference; :mod:`.columns` — the output columns;
* :mod:`.phase_kernels` — the numba kernels' phase arithmetic;
* :mod:`.output` — the result written as a GeoPackage (:func:`write_measurement_points`).

The names of ``__all__`` are imported on first use (``from egms_plugin.core.psi import
compute_velocities``): importing the package loads neither numba nor scipy.
"""

_EXPORTS = {
    "ATTRIBUTE_FIELDS": "columns",
    "PsiParameters": "chain",
    "PsiResult": "chain",
    "STAGES": "chain",
    "build_network": "network",
    "compute_velocities": "chain",
    "estimate_arc_parameters": "arcs",
    "make_search": "arcs",
    "write_measurement_points": "output",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
