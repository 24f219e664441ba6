"""The SAR stack: reading, amplitude statistics and candidates, pair networks, interferograms, the simulator.

* :mod:`.stack` — :class:`StackFolder`, the reader of the stack-folder contract (ARCHITECTURE.md);
* :mod:`.amplitude` — amplitude statistics and scatterer candidates in one pass (:func:`scan_stack`, numba);
* :mod:`.pairs` — interferogram pair networks on the acquisition dates (:data:`NETWORKS`, :func:`build_network`);
* :mod:`.interferograms` — multilooked interferograms and coherence (:func:`multilook_interferograms` on one
  block, :func:`form_interferograms` on a stack; the numba kernel is in the private ``_interferogram_kernel``);
* :mod:`.simulate` — synthetic stacks with ground truth (:func:`simulate_stack`, :func:`read_truth`).

Signs and units follow :mod:`egms_plugin.core.conventions` (ARCHITECTURE.md §Conventions).  The names of
``__all__`` are imported on first use: importing the package loads neither numba nor rasterio.
"""

_EXPORTS = {
    "Candidates": "amplitude",
    "NETWORKS": "pairs",
    "SimulationParameters": "simulate",
    "StackFolder": "stack",
    "amplitude_statistics": "amplitude",
    "build_network": "pairs",
    "form_interferograms": "interferograms",
    "multilook_interferograms": "interferograms",
    "read_truth": "simulate",
    "scan_stack": "amplitude",
    "simulate_stack": "simulate",
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
