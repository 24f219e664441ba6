"""Which numba kernels still have to be compiled, so a first run can say why it is slow.

Kernels are compiled on first use and cached on disk (``cache=True``: ``__pycache__`` beside the module, or
``NUMBA_CACHE_DIR``); the first run after an installation or an upgrade of the plugin or of numba pays the
compilation (the PSI chain on a 400 × 400 × 60 stack: 28.7 s instead of 1.24 s, measured 2026-12-03 on 2 cores).
:func:`announce_compilation` tells the user so through the run's progress before the work starts.

The check reads numba's cache index (``IndexDataCacheFile._load_index``: empty when missing, written by another
numba version or for a changed source) — a numba internal, so any failure means "cannot tell" and nothing is said.
"""

from __future__ import annotations

import importlib

CHAIN_KERNEL_MODULES = (
    "sar.amplitude",
    "psi.arcs",
    "psi.integration",
    "psi.atmosphere",
    "psi.phase_kernels",
)
"""The modules (relative to ``core``) whose kernels every PSI chain run compiles (the EGMS statistics kernel
runs only from :data:`~egms_plugin.core.egms.stats.NUMBA_MIN_POINTS` points, so it is not counted)."""
DS_KERNEL_MODULES = ("psi.ds._shp_kernel", "psi.ds._shp_at", "psi.ds._linking_kernel")
"""The modules of the distributed-scatterer kernels (the chain with DS, the phase-linked interferograms)."""


def _dispatchers(module):
    """The kernels ``module`` defines and numba caches on their own (not imported ones, not inlined helpers)."""
    from numba.core.registry import CPUDispatcher

    return [(name, obj) for name, obj in vars(module).items()
            if isinstance(obj, CPUDispatcher) and obj.py_func.__module__ == module.__name__
            and obj.targetoptions.get("inline", "never") == "never"]


def _is_cached(dispatcher):
    """True / False whether numba's disk cache holds a compiled version of ``dispatcher``; None: cannot tell."""
    if dispatcher.signatures:
        return True  # compiled in this process already
    cache_file = getattr(getattr(dispatcher, "_cache", None), "_cache_file", None)
    if cache_file is None:
        return None  # not a cached kernel
    try:
        return bool(cache_file._load_index())
    except Exception:  # noqa: BLE001 -- a numba internal; a changed or unreadable index means "cannot tell"
        return None


def cold_kernels(module_names=CHAIN_KERNEL_MODULES):
    """``(cold, total)``: how many cached kernels of the ``core`` modules ``module_names`` are not compiled yet."""
    package = __name__.rsplit(".", 1)[0]
    cold = total = 0
    for name in module_names:
        module = importlib.import_module(f"{package}.{name}")
        for _name, dispatcher in _dispatchers(module):
            state = _is_cached(dispatcher)
            if state is None:
                continue
            total += 1
            cold += not state
    return cold, total


def announce_compilation(progress, module_names=CHAIN_KERNEL_MODULES):
    """Say through ``progress`` that the kernels are compiled on this (first) run; returns the number to compile."""
    try:
        cold, total = cold_kernels(module_names)
    except ImportError:
        return 0
    if cold:
        progress.info(f"Compiling the numerical kernels: first run only ({cold} of {total} kernels; this run takes "
                      "longer — the PSI chain about 20 s —, later runs start at once).")
    return cold


WARMUP_ENV = "EGMS_NO_WARMUP"
"""Set (to anything) to keep the plugin from compiling the kernels in the background at QGIS start-up."""


WARM_MODULES = (*CHAIN_KERNEL_MODULES, "egms._stats_kernel")
"""What :func:`warm_up` compiles."""


def _core_folder():
    import os

    return os.path.dirname(os.path.abspath(__file__))


def warm_stamp_path():
    """The file that says :func:`warm_up` completed for this Python, this numba and these kernel sources: its name
    holds a digest of them (``egms-warm-<sha1>``), so an upgrade of either makes a new name; it lives with numba's
    cache (``NUMBA_CACHE_DIR``, else ``core/__pycache__``), so clearing the cache clears it.  Found without
    importing numba (what the start-up check must avoid)."""
    import hashlib
    import os
    import sys
    from importlib import metadata

    try:
        numba_version = metadata.version("numba")
    except metadata.PackageNotFoundError:
        return None
    parts = [sys.version, numba_version]
    for name in WARM_MODULES:
        path = os.path.join(_core_folder(), *name.split(".")) + ".py"
        try:
            st = os.stat(path)
        except OSError:
            return None
        parts.append(f"{name}:{st.st_size}:{st.st_mtime_ns}")
    digest = hashlib.sha1("|".join(parts).encode("utf-8")).hexdigest()[:16]  # noqa: S324 - a name, not security
    folder = os.environ.get("NUMBA_CACHE_DIR") or os.path.join(_core_folder(), "__pycache__")
    return os.path.join(folder, f"egms-warm-{digest}")


def is_warm():
    """True when :func:`warm_up` completed with this Python, numba and kernel sources (:func:`warm_stamp_path`)."""
    import os

    path = warm_stamp_path()
    return bool(path) and os.path.exists(path)


def _mark_warm():
    import os

    path = warm_stamp_path()
    if not path:
        return
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write("the EGMS plugin's numba kernels are compiled and cached (core/jit.py)\n")
    except OSError:
        pass  # a read-only plugin folder: the warm-up process then runs, and ends at once, at every start


def warm_up():
    """Compile (and cache on disk) the chain's kernels by running it on a small simulated stack; returns the number
    of kernels that were cold (0: nothing to do, returns at once).  Leaves :func:`warm_stamp_path` behind."""
    import tempfile

    cold, _total = cold_kernels(WARM_MODULES)
    if not cold:
        _mark_warm()
        return 0
    import numpy as np

    from .egms.stats import egms_statistics
    from .psi.chain import compute_velocities
    from .sar.simulate import SimulationParameters, simulate_stack
    from .sar.stack import StackFolder

    with tempfile.TemporaryDirectory(prefix="egms-warmup-") as tmp:
        folder = f"{tmp}/stack"
        simulate_stack(folder, SimulationParameters(rows=100, cols=120, n_dates=30, seed=7))
        result = compute_velocities(StackFolder(folder))
    # the statistics kernel runs from NUMBA_MIN_POINTS points on (a larger stack than this one)
    egms_statistics(np.zeros((4, len(result.dates)), dtype=np.float32), result.dates, engine="numba")
    _mark_warm()
    return cold


_CHILD = ("import os, sys; hasattr(os, 'nice') and os.nice(10); sys.path[:0] = sys.argv[1].split(os.pathsep); "
          "from egms_plugin.core.jit import warm_up; warm_up()")


def start_background_warmup(python, path_entries):
    """Run :func:`warm_up` in a separate low-priority process (QGIS' own threads and GIL untouched).

    ``python``: an interpreter of this Python (:func:`~egms_plugin.core.deps.find_python`); ``path_entries``: the
    ``sys.path`` under which it finds ``egms_plugin`` and numba.  Returns the process, or None when not started
    (no interpreter, ``EGMS_NO_WARMUP`` set, a previous warm-up's stamp found: :func:`is_warm`, or the process
    could not start).
    """
    import os
    import subprocess

    if not python or os.environ.get(WARMUP_ENV) or is_warm():
        return None
    options = {}
    if os.name == "nt":
        options["creationflags"] = subprocess.BELOW_NORMAL_PRIORITY_CLASS | subprocess.CREATE_NO_WINDOW
    else:
        options["start_new_session"] = True  # the child lowers its own priority (no preexec_fn in a threaded QGIS)
    try:
        return subprocess.Popen([python, "-c", _CHILD, os.pathsep.join(p for p in path_entries if p)],  # noqa: S603
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                **options)
    except OSError:
        return None
