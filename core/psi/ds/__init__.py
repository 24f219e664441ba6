"""Distributed scatterers (DS): homogeneous neighbours, coherence matrices, phase linking, DS selection.

* :mod:`._shp_kernel` — statistically homogeneous pixels (two-sample Kolmogorov–Smirnov test on the
  amplitude series, connected to the centre): :func:`find_shps`, :func:`check_window`;
* :mod:`._linking_kernel` — sample coherence matrices over the SHPs and phase linking (EMI, EVD fallback),
  the phase-linking temporal coherence: :func:`coherence_matrices`, :func:`link_matrices`,
  :func:`link_pixels`;
* :mod:`.linked` — interferograms of a pair network from the linked phases (``egms:interferograms`` with
  ``PHASE_LINKING``): :func:`linked_interferograms`;
* :mod:`.scan` — the chain's DS pass and the row-block reader with a halo shared by both passes.

The names of ``__all__`` are imported on first use: importing the package loads neither numba nor scipy.
"""

_EXPORTS = {
    "check_window": "_shp_kernel",
    "coherence_matrices": "_linking_kernel",
    "find_shps": "_shp_kernel",
    "find_shps_at": "_shp_kernel",
    "interferogram_phasors": "_linking_kernel",
    "ks_critical_value": "_shp_kernel",
    "link_matrices": "_linking_kernel",
    "link_pixels": "_linking_kernel",
    "linked_interferograms": "linked",
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
