"""Benchmarks: ``make bench`` (all) or ``make bench BENCH="simulate"`` (modules by name).

Each ``bench/bench_<name>.py`` defines ``run(record)``; ``record`` takes one
measured figure next to a baseline measured in the same run, so the ratio
survives a noisy machine.  Results are printed as a table and written to
``.build/bench.json``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PLUGINS = os.path.join(ROOT, ".build", "plugins")
os.makedirs(PLUGINS, exist_ok=True)
if not os.path.lexists(os.path.join(PLUGINS, "egms_plugin")):
    os.symlink(ROOT, os.path.join(PLUGINS, "egms_plugin"))
sys.path.insert(0, PLUGINS)
sys.path.insert(0, HERE)

RESULTS = []


def record(name, value, unit, baseline=None, baseline_name="", target="", note=""):
    """One figure: ``value`` (unit) next to ``baseline`` (same unit) measured in the same run."""
    ratio = None if not baseline else value / baseline
    row = dict(name=name, value=value, unit=unit, baseline=baseline, baseline_name=baseline_name,
               ratio=ratio, target=target, note=note)
    RESULTS.append(row)
    text = f"  {name}: {value:.4g} {unit}"
    if baseline is not None:
        text += f"  | {baseline_name}: {baseline:.4g} {unit}  | ratio {ratio:.3g}"
    if target:
        text += f"  | target {target}"
    if note:
        text += f"  ({note})"
    print(text, flush=True)
    return row


def main(argv):
    names = argv or sorted(f[6:-3] for f in os.listdir(HERE) if f.startswith("bench_") and f.endswith(".py"))
    if len(names) > 1:
        return _each_in_its_own_process(names)
    for name in names:
        path = os.path.join(HERE, f"bench_{name}.py")
        if not os.path.exists(path):
            print(f"no benchmark {name!r} ({path})")
            return 2
        spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        print(f"== {name}: {(module.__doc__ or '').strip().splitlines()[0] if module.__doc__ else ''}", flush=True)
        t0 = time.perf_counter()
        module.run(record)
        print(f"   ({time.perf_counter() - t0:.1f} s)")
    _save(os.environ.get("EGMS_BENCH_JSON") or os.path.join(ROOT, ".build", "bench.json"))
    return 0


def _save(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as fh:
        json.dump(RESULTS, fh, indent=2)


def _each_in_its_own_process(names):
    """One child process per benchmark: a QGIS application started and exited by one benchmark (its
    exitQgis() unregisters the GDAL drivers) or a numba thread pool cannot change the next one's figures."""
    import subprocess
    import tempfile

    failed = []
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        for name in names:
            part = os.path.join(tmp, f"{name}.json")
            env = dict(os.environ, EGMS_BENCH_JSON=part)
            if subprocess.run([sys.executable, os.path.abspath(__file__), name], env=env).returncode != 0:
                failed.append(name)
            elif os.path.exists(part):
                with open(part) as fh:
                    RESULTS.extend(json.load(fh))
    _save(os.path.join(ROOT, ".build", "bench.json"))
    if failed:
        print(f"failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
