"""QA: files written by the core, as other users and other programs meet them.

Outputs must be readable by whoever may read the folder (permissions follow the umask like any other
program's files: a temporary-file helper must not leave them private), and a location that cannot be
written is reported as a user-facing InputError naming it — never as a raw OSError or GDAL RuntimeError.
"""

import datetime as dt
import os
import stat

import numpy as np
import pytest

from egms_plugin.core.errors import InputError
from egms_plugin.core.io.points import PointTable, write_points
from egms_plugin.core.products import ortho
from egms_plugin.core.sar.simulate import SimulationParameters, simulate_stack


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def tiny_result():
    epochs = [dt.date(2020, 1, 2) + dt.timedelta(days=6 * k) for k in range(8)]
    n = 2
    stats = {k: np.zeros(n) for k in ("mean_velocity", "mean_velocity_std", "acceleration", "acceleration_std",
                                      "seasonality", "seasonality_std", "rmse")}
    zeros = np.zeros((len(epochs), n))
    return ortho.OrthoResult(100.0, np.array([0, 1]), np.array([0, 0]), epochs, zeros, zeros, stats, stats,
                             np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n), np.ones(n, dtype=np.int64),
                             np.ones(n, dtype=np.int64), np.full(n, 2), np.zeros(n), "equal")


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_velocity_geotiff_is_readable_by_others(tmp_path, umask_022):
    path = ortho.write_velocity_geotiff(tmp_path / "up.tif", tiny_result(), "up")
    assert mode(path) == 0o644  # as any file created under umask 022 (mkstemp alone gives 0o600)


def test_simulated_stack_folder_is_readable_by_others(tmp_path, umask_022):
    simulate_stack(tmp_path / "stack", SimulationParameters(rows=8, cols=8, n_dates=3))
    assert mode(tmp_path / "stack") == 0o755  # as a folder made with mkdir (mkdtemp alone gives 0o700)
    assert mode(tmp_path / "stack" / "truth") == 0o755


def test_write_points_to_an_unwritable_place_names_it(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    table = PointTable({"v": np.zeros(2)}, [0.0, 1.0], [0.0, 1.0], "EPSG:3035")
    with pytest.raises(InputError, match="notes.txt/out.gpkg: cannot write there"):
        write_points(tmp_path / "notes.txt" / "out.gpkg", table)
    assert os.listdir(tmp_path) == ["notes.txt"]


def test_velocity_geotiff_to_an_unwritable_place_names_it(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InputError, match="notes.txt/up.tif: cannot write there"):
        ortho.write_velocity_geotiff(tmp_path / "notes.txt" / "up.tif", tiny_result(), "up")


def test_simulated_stack_to_an_unwritable_place_names_it(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InputError, match="notes.txt/stack: cannot write there"):
        simulate_stack(tmp_path / "notes.txt" / "stack", SimulationParameters(rows=8, cols=8, n_dates=3))


def test_simulated_stack_larger_than_the_free_disk_is_refused_up_front(tmp_path, monkeypatch):
    import shutil

    from egms_plugin.core.sar import simulate

    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**12, 10**12 - 10**6, 10**6))
    p = SimulationParameters(rows=100, cols=100, n_dates=10)
    # 100 × 100 pixels × (10 dates × 16 B (SLC 8 + displacement 4 + atmosphere 4) + 9 B of truth) = 1.69 MB > 1 MB
    with pytest.raises(InputError, match="stack: needs about 1.69 MB of disk space, 1 MB free there"):
        simulate.simulate_stack(tmp_path / "stack", p)
    assert os.listdir(tmp_path) == []


def test_simulated_stack_larger_than_the_memory_is_refused_up_front(tmp_path, monkeypatch):
    import shutil

    from egms_plugin.core.sar import simulate

    monkeypatch.setattr(simulate, "available_memory", lambda: 200 * 2**20)
    # the disk check comes first and needs ~23 GB free: a machine with less would fail it, not the memory check
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**14, 0, 10**14))
    # 20000 × 20000 pixels: several full-size float64 arrays, tens of GB
    with pytest.raises(InputError, match="20000 × 20000 pixels need about .* GB of memory, 0.2 GB available"):
        simulate.simulate_stack(tmp_path / "stack", SimulationParameters(rows=20000, cols=20000, n_dates=3))
    assert os.listdir(tmp_path) == []
