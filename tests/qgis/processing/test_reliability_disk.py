"""A full disk, through qgis_process, for every algorithm that writes: a plain message naming the output and the
free space, exit code 1, no traceback, nothing left on the disk (issue: nothing lost, nothing corrupt, defects
1, 2 and 7).  The disk is a real tmpfs of 48 kB (root only; skipped otherwise); the inputs live elsewhere."""

from __future__ import annotations

import os

import pytest

from egms_plugin.core.sar.simulate import SimulationParameters, simulate_stack
from egms_plugin.testing.faults import leftovers, small_tmpfs

from .conftest import gnss_file, make_layer

SAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))), "shared", "data", "egms", "EGMS_L2b_022_0845_IW2_VV_2020_2024_1.zip")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("disk_inputs")
    stack = str(folder / "stack")
    simulate_stack(stack, SimulationParameters(rows=120, cols=120, n_dates=16, seed=4))
    return {"stack": stack, "asc": make_layer(folder / "asc.gpkg", "ascending", seed=1),
            "desc": make_layer(folder / "desc.gpkg", "descending", seed=2),
            "big": make_layer(folder / "big.gpkg", "descending", n=3000, seed=3), "gnss": gnss_file(folder / "gnss.csv")}


CASES = {
    "importegms": lambda i, d: ["INPUT=" + SAMPLE, f"OUTPUT={d}/a.gpkg"],
    "computevelocities": lambda i, d: [f"INPUT={i['stack']}", f"OUTPUT={d}/v.gpkg"],
    "fittimeseries": lambda i, d: [f"INPUT={i['desc']}", f"OUTPUT={d}/f.gpkg"],
    "calibrategnss": lambda i, d: [f"INPUT={i['desc']}", f"GNSS={i['gnss']}", f"OUTPUT={d}/c.gpkg"],
    "decompose": lambda i, d: [f"ASCENDING={i['asc']}", f"DESCENDING={i['desc']}", f"OUTPUT={d}/up.gpkg",
                               f"OUTPUT_EAST={d}/east.gpkg", f"OUTPUT_VERTICAL_RASTER={d}/up.tif",
                               f"OUTPUT_EAST_RASTER={d}/east.tif"],
    "exportegms": lambda i, d: [f"INPUT={i['big']}", f"OUTPUT={d}/e.zip"],
    "interferograms": lambda i, d: [f"INPUT={i['stack']}", f"OUTPUT_FOLDER={d}/ifg"],
    "selectscatterers": lambda i, d: [f"INPUT={i['stack']}", f"OUTPUT={d}/s.gpkg", f"OUTPUT_DISPERSION={d}/d.tif",
                                      f"OUTPUT_MEAN_AMPLITUDE={d}/m.tif"],
}


@pytest.mark.parametrize("alg", sorted(CASES))
def test_a_full_disk_is_a_plain_message_and_leaves_nothing(run_qgis_process, inputs, alg):
    with small_tmpfs(48 * 1024) as disk:
        done = run_qgis_process("run", f"egms:{alg}", "--", *CASES[alg](inputs, disk), timeout=300)
        text = done.stdout + done.stderr
        assert done.returncode != 0, text[-3000:]
        assert "the disk is full" in text and "MB free on " + disk in text, text[-3000:]
        assert "Traceback" not in text and "unexpectedly" not in text, text[-3000:]
        assert os.listdir(disk) == [] and leftovers(disk) == [], os.listdir(disk)
