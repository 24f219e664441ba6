"""First-run compilation is announced (issue 11 tour item): an empty numba cache → the chain says
"Compiling … first run only" with the number of kernels; the same cache afterwards → nothing said."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import egms_plugin

PLUGINS = os.path.dirname(os.path.dirname(os.path.abspath(egms_plugin.__file__)))

SCRIPT = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from egms_plugin.core.jit import cold_kernels, warm_up
from egms_plugin.core.progress import Progress
from egms_plugin.core.psi.chain import compute_velocities
from egms_plugin.core.sar.stack import StackFolder

class Log(Progress):
    def __init__(self):
        self.lines = []
    def info(self, message):
        self.lines.append(message)

warmed = warm_up() if sys.argv[3] == "warm-up" else None
before = cold_kernels()
log = Log()
compute_velocities(StackFolder(sys.argv[2]), progress=log)
print(json.dumps({"warmed": warmed, "before": before, "after": cold_kernels(),
                  "compiling": [m for m in log.lines if m.startswith("Compiling")]}))
"""


def _run(cache, stack, first="-"):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
    out = subprocess.run([sys.executable, "-c", SCRIPT, PLUGINS, stack, first], env=env, capture_output=True, text=True,
                         timeout=600, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_first_run_says_it_compiles_and_later_runs_do_not(small_stack, tmp_path):
    first = _run(tmp_path / "numba", small_stack)
    cold, total = first["before"]
    assert total >= 10 and cold == total  # every cached kernel of the chain, none compiled yet
    assert len(first["compiling"]) == 1 and f"{cold} of {total} kernels" in first["compiling"][0]
    assert first["after"] == [0, total]  # the run compiled (and cached) every kernel it counted
    second = _run(tmp_path / "numba", small_stack)
    assert second["before"][0] == 0 and second["compiling"] == []


def test_background_warm_up_leaves_nothing_to_compile(small_stack, tmp_path, monkeypatch):
    """What the plugin runs in a separate process at QGIS start-up: afterwards the chain compiles nothing (measured
    on a 400 × 400 × 60 stack: first run 28.7 s cold, 1.37 s after the warm-up, 1.24 s warm)."""
    from egms_plugin.core import jit

    run = _run(tmp_path / "numba", small_stack, first="warm-up")
    assert run["warmed"] >= 10 and run["before"][0] == 0 and run["compiling"] == []
    assert jit.start_background_warmup(sys.executable, []) is None  # EGMS_NO_WARMUP is set for the tests
    # the detached process the plugin starts: with the kernels cached it ends at once, successfully
    monkeypatch.delenv(jit.WARMUP_ENV)
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "numba"))
    assert jit.is_warm()  # the warm-up (in its process) left its stamp beside the cache …
    assert jit.start_background_warmup(sys.executable, [PLUGINS]) is None  # … so a later QGIS start spawns nothing
    os.remove(jit.warm_stamp_path())  # a cache from before the stamps: the detached process ends at once, …
    child = jit.start_background_warmup(sys.executable, [PLUGINS])
    assert child is not None and child.wait(timeout=120) == 0
    assert jit.is_warm()  # … and leaves the stamp


def test_the_warm_stamp_changes_with_numba_and_the_kernel_sources(tmp_path, monkeypatch):
    from importlib import metadata

    from egms_plugin.core import jit

    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    path = jit.warm_stamp_path()
    assert os.path.dirname(path) == str(tmp_path) and not jit.is_warm()
    jit._mark_warm()
    assert jit.is_warm() and jit.warm_stamp_path() == path
    real = metadata.version
    monkeypatch.setattr(metadata, "version", lambda name: "9.99" if name == "numba" else real(name))
    assert jit.warm_stamp_path() != path and not jit.is_warm()  # a numba upgrade: warm up again
    monkeypatch.setattr(metadata, "version", real)
    core = tmp_path / "core"  # a plugin upgrade changes the kernel sources (a copy here, not the real ones)
    (core / "psi").mkdir(parents=True)
    (core / "psi" / "arcs.py").write_text("# kernels\n")
    monkeypatch.setattr(jit, "_core_folder", lambda: str(core))
    monkeypatch.setattr(jit, "WARM_MODULES", ("psi.arcs",))
    jit._mark_warm()
    assert jit.is_warm()
    (core / "psi" / "arcs.py").write_text("# kernels, changed\n")
    assert not jit.is_warm()


def test_the_ds_kernel_modules_are_the_ds_packages_kernel_modules():
    """DS_KERNEL_MODULES (announced by the chain with DS and the phase-linked interferograms) names every module of
    core/psi/ds that defines cached kernels, and each of them has some."""
    import importlib
    import os

    from egms_plugin.core.jit import DS_KERNEL_MODULES, _dispatchers, cold_kernels

    folder = os.path.dirname(importlib.import_module("egms_plugin.core.psi.ds").__file__)
    with_kernels = set()
    for name in sorted(os.listdir(folder)):
        if name.endswith(".py") and name != "__init__.py":
            module = importlib.import_module(f"egms_plugin.core.psi.ds.{name[:-3]}")
            if _dispatchers(module):
                with_kernels.add(f"psi.ds.{name[:-3]}")
    assert with_kernels == set(DS_KERNEL_MODULES)
    assert cold_kernels(DS_KERNEL_MODULES)[1] >= 10
