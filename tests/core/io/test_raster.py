"""The one GeoTIFF writer (core/io/raster.py): what it writes reads back, and a write GDAL cannot complete
fails — for each of its three users — leaving the previous output or nothing, never a corrupt file."""

from __future__ import annotations

import os
import textwrap

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.control import GroundControlPoint

from egms_plugin.core.errors import DiskFullError
from egms_plugin.core.io.raster import GeoTiff, RasterOutput, RasterWriteError, creation_options
from egms_plugin.core.sar.simulate import SimulationParameters, simulate_stack
from egms_plugin.testing.faults import leftovers, run_limited, small_tmpfs


def test_geotiff_reads_back_with_its_georeferencing_tags_and_nodata(tmp_path):
    data = np.arange(300 * 260, dtype=np.float32).reshape(300, 260)
    data[5, 7] = np.nan
    tr = Affine(20.0, 0, 500000.0, 0, -20.0, 5000000.0)
    path = tmp_path / "a.tif"
    with RasterOutput(path, 260, 300, 1, crs="EPSG:32632", transform=tr, nodata=np.nan, descriptions=["d"],
                      tags={"unit": "mm"}, options=creation_options(260, 300, tiled=True, compress="deflate",
                                                                    predictor=3)) as out:
        out.raster.write(data[:128], row0=0)
        out.raster.write(data[128:], row0=128)
    with rasterio.open(path) as ds:
        assert ds.crs.to_epsg() == 32632 and ds.transform == tr
        assert ds.tags()["unit"] == "mm" and ds.descriptions == ("d",) and np.isnan(ds.nodata)
        assert ds.profile["tiled"] and ds.profile["compress"] == "deflate" and ds.block_shapes[0] == (256, 256)
        np.testing.assert_array_equal(ds.read(1), data)
    assert leftovers(tmp_path) == []


def test_geotiff_radar_gcps_round_trip(tmp_path):
    gcps = [GroundControlPoint(row=r, col=c, x=10.0 + c / 100, y=45.0 + r / 100, z=0.0) for r in (0, 9) for c in (0, 9)]
    path = str(tmp_path / "g.tif")
    with GeoTiff(path, 10, 10, 2, gcps=gcps, crs="EPSG:4326") as out:
        out.write(np.ones((10, 10), np.float32), 1)
        out.write(np.zeros((10, 10), np.float32), 2)
    with rasterio.open(path) as ds:
        back, crs = ds.gcps
        assert crs.to_epsg() == 4326
        assert [(g.row, g.col, g.x, g.y) for g in back] == [(g.row, g.col, g.x, g.y) for g in gcps]


def test_a_failed_close_discards_the_temporary_and_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "a.tif"
    path.write_bytes(b"previous")

    def broken(self):
        raise RasterWriteError(f"{self.path}: GDAL could not write the raster (injected).")

    monkeypatch.setattr(GeoTiff, "close", broken)
    with pytest.raises(RasterWriteError, match="injected"), RasterOutput(path, 10, 10) as out:
        out.raster.write(np.ones((10, 10), np.float32))
    assert path.read_bytes() == b"previous"
    assert leftovers(tmp_path) == []


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("stack") / "stack")
    simulate_stack(folder, SimulationParameters(rows=300, cols=280, n_dates=12, seed=1))
    return folder


# Each user of the writer, in a child whose files cannot grow beyond 50 kB (RLIMIT_FSIZE: EFBIG inside
# GDAL, as on a full disk). Before the one writer, all three returned success with truncated GeoTIFFs.
USERS = {
    "interferograms": """
        from egms_plugin.core.sar.interferograms import form_interferograms
        form_interferograms({stack!r}, {out!r} + "/ifg", network="sequential")
        """,
    "dispersion": """
        from egms_plugin.core.sar.amplitude import scan_stack
        from egms_plugin.core.sar.stack import StackFolder
        scan_stack(StackFolder({stack!r}), dispersion_path={out!r} + "/d.tif")
        """,
    "ortho": """
        import datetime as dt, numpy as np
        from egms_plugin.core.products import ortho
        from egms_plugin.core.products.ortho.decomposer import OrthoResult
        n = 600 * 600
        ix, iy = np.meshgrid(np.arange(600), np.arange(600))
        rng = np.random.default_rng(0)
        res = OrthoResult.__new__(OrthoResult)
        res.cell_size, res.ix, res.iy = 100.0, ix.ravel() + 40000, iy.ravel() + 20000
        res.stats_up = res.stats_east = {{"mean_velocity": rng.normal(size=n)}}
        res.epochs = [dt.date(2020, 1, 1), dt.date(2021, 1, 1)]
        ortho.write_velocity_geotiff({out!r} + "/up.tif", res, "up")
        """,
}


@pytest.mark.parametrize("user", sorted(USERS))
def test_a_write_that_does_not_fit_fails_naming_the_file_and_leaves_nothing(tmp_path, stack, user):
    out = str(tmp_path / "out")
    os.makedirs(out)
    code = textwrap.dedent(USERS[user])
    warm = code.format(stack=stack, out=str(tmp_path / "warm"))
    os.makedirs(tmp_path / "warm")
    done = run_limited(code.format(stack=stack, out=out) + "\nprint('RETURNED')\n", 50_000, warm=warm)
    assert "RETURNED" not in done.stdout, f"{user}: the write was reported as successful"
    last = done.stderr.strip().splitlines()[-1]
    assert "GdalWriteError" in last and out in last and "File too large" in last, done.stderr[-2000:]
    assert os.listdir(out) == [], f"{user} left {os.listdir(out)}"


def test_interferograms_on_a_full_disk_are_refused_up_front(stack):
    from egms_plugin.core.sar.interferograms import form_interferograms

    with small_tmpfs(1 << 20) as disk:
        with pytest.raises(DiskFullError, match=r"the disk is full \(\d+ MB needed, [\d.]+ MB free"):
            form_interferograms(stack, os.path.join(disk, "ifg"), network="sequential")
        assert os.listdir(disk) == []


def test_dispersion_on_a_disk_that_fills_during_the_write_is_a_disk_full_error(stack):
    from egms_plugin.core.sar.amplitude import scan_stack
    from egms_plugin.core.sar.stack import StackFolder

    with small_tmpfs(200_000) as disk:
        with pytest.raises(DiskFullError, match="the disk is full"):
            scan_stack(StackFolder(stack), dispersion_path=os.path.join(disk, "d.tif"))
        assert os.listdir(disk) == []


# libtiff 4.7 under GDAL 3.10 reports a full disk to the error handler only as "Write error at scanline N"
# (the system's reason goes to stderr): the writer asks the file system why, with probe_write.
def test_probe_write_tells_a_full_disk_a_size_limit_and_a_healthy_folder_apart(tmp_path):
    import errno

    from egms_plugin.core.io.space import probe_write

    assert probe_write(str(tmp_path / "x.tif")) is None
    assert os.listdir(tmp_path) == []
    done = run_limited(f"""
        from egms_plugin.core.io.space import probe_write
        print("ERRNO", probe_write({str(tmp_path / "x.tif")!r}).errno)
        """, 100_000)
    assert f"ERRNO {errno.EFBIG}" in done.stdout, done.stderr
    assert os.listdir(tmp_path) == []
    with small_tmpfs(200_000) as disk:
        reason = probe_write(os.path.join(disk, "x.tif"))
        assert reason is not None and reason.errno == errno.ENOSPC
        assert os.listdir(disk) == []


# GDAL 3.10 / libtiff 4.7 closed a GeoTIFF whose last strips did not fit without any error (QGIS 3.40: a
# 4 kB, unreadable mean-amplitude raster and success): after the close the writer checks the directory's
# block offsets against the file's size.
def test_a_truncated_geotiff_is_found_by_the_block_check(tmp_path):
    from egms_plugin.core.io.raster import _check_blocks

    path = str(tmp_path / "t.tif")
    with GeoTiff(path, 300, 200, 2, options=creation_options(300, 200)) as ds:
        ds.write(np.random.default_rng(0).random((200, 300), dtype=np.float32), 1)
        ds.write(np.ones((200, 300), np.float32), 2)
    _check_blocks(path)  # complete: no error
    size = os.path.getsize(path)
    with open(path, "r+b") as f:  # the directory is at the start (GDAL writes it first): cut the pixels
        f.truncate(size - 1000)
    with pytest.raises(RuntimeError, match="was not written completely"):
        _check_blocks(path)


def test_both_amplitude_rasters_on_a_disk_that_fills_at_their_close_is_a_disk_full_error(tmp_path):
    from egms_plugin.core.sar.amplitude import scan_stack
    from egms_plugin.core.sar.stack import StackFolder

    small = str(tmp_path / "small")
    simulate_stack(small, SimulationParameters(rows=120, cols=100, n_dates=8, seed=1))
    with small_tmpfs(48 * 1024) as disk:
        with pytest.raises(DiskFullError, match="the disk is full"):
            scan_stack(StackFolder(small), dispersion_path=os.path.join(disk, "d.tif"),
                       mean_amplitude_path=os.path.join(disk, "m.tif"))
        assert os.listdir(disk) == []
