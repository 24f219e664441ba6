"""`make demo`: run the main job end to end on built-in data and say what was written.

Simulates a Sentinel-1 stack through ``qgis_process`` (private profile), then
reads it back and prints what is there and how to look at it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, ".build", "plugins"))
QGIS_PROCESS = os.path.join(ROOT, "scripts", "qgis_process.sh")
OUT = os.path.join(ROOT, ".build", "demo")


def qgis_process(*args):
    print("$ scripts/qgis_process.sh " + " ".join(args), flush=True)
    run = subprocess.run([QGIS_PROCESS, *args], capture_output=True, text=True)
    if run.returncode != 0:
        print(run.stdout[-3000:], run.stderr[-3000:], sep="\n")
        raise SystemExit(f"qgis_process failed ({run.returncode})")
    return run.stdout


def main():
    if not os.path.lexists(os.path.join(ROOT, ".build", "plugins", "egms_plugin")):
        os.makedirs(os.path.join(ROOT, ".build", "plugins"), exist_ok=True)
        os.symlink(ROOT, os.path.join(ROOT, ".build", "plugins", "egms_plugin"))
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    stack_dir = os.path.join(OUT, "stack")
    qgis_process("run", "egms:simulatestack", "--", f"OUTPUT_FOLDER={stack_dir}", "WIDTH=400", "HEIGHT=400",
                 "N_DATES=60", "SEED=1")

    from egms_plugin.core.simulate import read_truth
    from egms_plugin.core.stack import StackFolder

    stack = StackFolder(stack_dir)
    truth = read_truth(stack_dir)
    print()
    print(stack.describe())
    v = truth["velocity"][truth["ps_mask"] == 1]
    print(f"  truth: {int(truth['ps_mask'].sum())} scatterers, LOS velocity {v.min():.1f} … {v.max():.1f} mm/yr")
    print()
    print("Look at it:")
    print(f"  qgis {os.path.join(stack_dir, 'truth', 'velocity.tif')}   (true LOS velocity, mm/yr)")
    print(f"  gdalinfo {os.path.join(stack_dir, stack.date_strings[0] + '.tif')}   (one complex SLC)")
    print(f"  cat {os.path.join(stack_dir, 'baselines.csv')} {os.path.join(stack_dir, 'stack.json')}")


if __name__ == "__main__":
    main()
