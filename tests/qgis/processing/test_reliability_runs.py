"""Runs that meet each other or get killed, through qgis_process (issue: nothing lost, nothing corrupt, defects 5
and 9): saving a style never asks; two runs writing one output both end, with one complete result; SIGTERM
cancels like Ctrl-C and keeps the previous output; after a SIGKILL the next run leaves no temporary."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

from egms_plugin.testing.faults import leftovers

from ..conftest import ROOT
from .conftest import N_BIG, count, start, wait_for_partial


def test_saving_a_style_twice_never_asks(tmp_path):
    """QGIS before 3.44 opens a modal "style exists, overwrite?" box; offscreen nobody answers it (a hang)."""
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {os.path.dirname(os.path.join(ROOT, '.build', 'plugins', 'egms_plugin'))!r})
        from qgis.core import QgsApplication, QgsVectorLayer
        app = QgsApplication([], False); app.initQgis()
        import numpy as np
        from egms_plugin.compat import save_style_to_database
        from egms_plugin.core.io.points import PointTable, write_points
        path = {str(tmp_path / 's.gpkg')!r}
        write_points(path, PointTable({{"mean_velocity": np.arange(5.0)}}, np.arange(5.0), np.arange(5.0), "EPSG:3035"))
        for _ in range(2):
            print(repr(save_style_to_database(QgsVectorLayer(path, "s", "ogr"), "velocity", "d", True)), flush=True)
        print("DONE")
        """)
    os.makedirs(os.path.join(ROOT, ".build", "plugins"), exist_ok=True)
    link = os.path.join(ROOT, ".build", "plugins", "egms_plugin")
    if not os.path.lexists(link):
        os.symlink(ROOT, link)
    done = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, QT_QPA_PLATFORM="offscreen"), check=False)
    assert done.stdout.splitlines()[-1] == "DONE", done.stdout + done.stderr[-2000:]
    import sqlite3

    assert sqlite3.connect(tmp_path / "s.gpkg").execute("SELECT count(*) FROM layer_styles").fetchone() == (1,)


def test_two_runs_writing_one_output_both_end_with_one_complete_result(tmp_path, big_layer):
    out = str(tmp_path / "fit.gpkg")
    runs = [start(tmp_path / f"p{k}", "egms:fittimeseries", "--", f"INPUT={big_layer}", f"OUTPUT={out}")
            for k in range(2)]
    texts = [p.communicate(timeout=300)[0] for p in runs]  # both end (was: one blocked forever at 90 %)
    codes = [p.returncode for p in runs]
    assert 0 in codes, texts
    for code, text in zip(codes, texts):
        assert "Traceback" not in text
        if code:
            assert "another run (process" in text and "is writing " + out in text, text[-2000:]
    assert count(out) == N_BIG
    assert leftovers(tmp_path) == [] and not [n for n in os.listdir(tmp_path) if n.endswith(".lock")]


def test_sigterm_cancels_like_ctrl_c_and_keeps_the_previous_output(tmp_path, big_layer):
    out = tmp_path / "fit.gpkg"
    out.write_bytes(b"the previous output")
    proc = start(tmp_path / "p", "egms:fittimeseries", "--", f"INPUT={big_layer}", f"OUTPUT={out}")
    wait_for_partial(tmp_path, proc)
    os.kill(proc.pid, signal.SIGTERM)
    text = proc.communicate(timeout=120)[0]
    assert proc.returncode != 0 and "Cancelled" in text and "Traceback" not in text, text[-2000:]
    assert out.read_bytes() == b"the previous output"
    assert leftovers(tmp_path) == [] and not [n for n in os.listdir(tmp_path) if n.endswith(".lock")]


def test_after_a_sigkill_mid_write_the_next_run_leaves_no_temporary(tmp_path, big_layer):
    out = str(tmp_path / "fit.gpkg")
    proc = start(tmp_path / "p", "egms:fittimeseries", "--", f"INPUT={big_layer}", f"OUTPUT={out}")
    wait_for_partial(tmp_path, proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    assert leftovers(tmp_path), "the kill came too late to leave a temporary"
    assert os.path.exists(os.path.join(tmp_path, ".fit.gpkg.lock"))  # the dead run's lock
    again = start(tmp_path / "p", "egms:fittimeseries", "--", f"INPUT={big_layer}", f"OUTPUT={out}")
    text = again.communicate(timeout=300)[0]
    assert again.returncode == 0, text[-2000:]
    assert count(out) == N_BIG
    assert leftovers(tmp_path) == [] and not [n for n in os.listdir(tmp_path) if n.endswith(".lock")]
