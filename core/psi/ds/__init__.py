"""Distributed scatterers (DS): homogeneous neighbours, coherence matrices, phase linking, DS selection.

* :mod:`._shp_kernel` — statistically homogeneous pixels (the GLRT of the power means for Rayleigh amplitudes,
  or the two-sample Kolmogorov–Smirnov test of the amplitude series; connected to the centre): :func:`find_shps`,
  :func:`check_window`; :mod:`._shp_at` — the same for a sparse set of centres: :func:`find_shps_at`;
* :mod:`._linking_kernel` — sample coherence matrices over the SHPs and phase linking (EMI, EVD fallback),
  the phase-linking temporal coherence: :func:`coherence_matrices`, :func:`link_matrices`,
  :func:`link_pixels`;
* :mod:`.linked` — interferograms of a pair network from the linked phases (``egms:interferograms`` with
  ``PHASE_LINKING``): :func:`linked_interferograms`;
* :mod:`.scan` — the chain's DS pass and the row-block reader with a halo shared by both passes.

The names of ``__all__`` are imported on first use: importing the package loads neither numba nor scipy.
"""

SHP_TESTS = ("glrt", "ks")
"""The SHP tests (``method`` of :func:`find_shps`, ``DsParameters.test``), in the order of the ``DS_SHP_TEST`` enum."""
SHP_TEST_NAMES = {"glrt": "GLRT of Rayleigh amplitudes", "ks": "Kolmogorov–Smirnov"}
DEFAULT_SHP_TEST = "glrt"
"""The SHP test of the DS pass and the linked interferograms unless chosen otherwise (README, Distributed scatterers:
measured accuracy and cost of both)."""

_EXPORTS = {
    "check_window": "_shp_kernel",
    "coherence_matrices": "_linking_kernel",
    "find_shps": "_shp_kernel",
    "find_shps_at": "_shp_at",
    "glrt_cutoff": "_shp_kernel",
    "interferogram_phasors": "_linking_kernel",
    "ks_critical_value": "_shp_kernel",
    "link_matrices": "_linking_kernel",
    "link_pixels": "_linking_kernel",
    "linked_interferograms": "linked",
    "log_powers": "_shp_kernel",
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
