"""Amplitude dispersion, calibration and the one-pass candidate scan against plain numpy."""

import os
import warnings

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from egms_plugin.core.errors import Cancelled, InputError
from egms_plugin.core.progress import Progress
from egms_plugin.core.sar.amplitude import amplitude_statistics, calibration_factors, scan_stack
from egms_plugin.core.sar.simulate import read_truth
from egms_plugin.core.sar.stack import StackFolder


def numpy_dispersion(block, calibration=None):
    amp = np.abs(block.astype(np.complex128))
    if calibration is not None:
        amp = amp / np.asarray(calibration)[:, None, None]
    with np.errstate(invalid="ignore"):
        return amp.mean(axis=0), amp.std(axis=0) / amp.mean(axis=0)  # population std (ddof = 0)


def test_dispersion_equals_numpy():
    rng = np.random.default_rng(1)
    block = (rng.normal(size=(37, 21, 33)) + 1j * rng.normal(size=(37, 21, 33))).astype(np.complex64)
    block[:, 3, 4] = 5 + 0.01j * np.arange(37)          # nearly constant amplitude: D_A ≈ 1e-4
    block[:, 0, 0] = 0                                   # zero amplitude: NaN dispersion, not a crash
    mean, disp = amplitude_statistics(block)
    ref_mean, ref_disp = numpy_dispersion(block)
    # float64 accumulation then float32 storage: agreement to float32 precision
    np.testing.assert_allclose(mean, ref_mean, rtol=2e-7 * 4)
    ok = np.isfinite(ref_disp)
    np.testing.assert_allclose(disp[ok], ref_disp[ok], rtol=1e-6)
    assert np.isnan(disp[0, 0]) and not ok[0, 0]
    # numpy's own float32 computation agrees to its float32 rounding
    a32 = np.abs(block[:, 1:, 1:])
    np.testing.assert_allclose(disp[1:, 1:], a32.std(axis=0) / a32.mean(axis=0), rtol=2e-5)


def test_calibrated_dispersion_equals_numpy_and_removes_gain():
    rng = np.random.default_rng(2)
    n = 40
    ps = 10.0 * np.exp(1j * rng.uniform(-np.pi, np.pi, (n, 8, 8)))
    block = (ps + 0.3 * (rng.normal(size=(n, 8, 8)) + 1j * rng.normal(size=(n, 8, 8)))).astype(np.complex64)
    gain = np.where(np.arange(n) % 3 == 0, 2.5, 1.0)     # every third image 2.5× brighter
    raw = (block * gain[:, None, None]).astype(np.complex64)
    cal = gain / gain.mean()
    _, disp = amplitude_statistics(raw, cal)
    np.testing.assert_allclose(disp, numpy_dispersion(raw, cal)[1], rtol=1e-6)
    _, uncal = amplitude_statistics(raw)
    _, clean = amplitude_statistics(block)
    assert uncal.min() > 0.3 and np.abs(disp - clean).max() < 1e-6  # gain wrecks D_A, calibration restores it


def test_amplitude_statistics_rejects_real_input():
    with pytest.raises(ValueError, match="complex"):
        amplitude_statistics(np.ones((3, 4, 4), dtype=np.float32))


def test_scan_stack_matches_numpy_over_several_blocks(small_stack, tmp_path):
    stack = StackFolder(small_stack)
    slc = stack.read_block(0, stack.shape[0])
    ref_mean, ref_disp = numpy_dispersion(slc)
    # 0.3 MB blocks: 100 rows of 120 × 30 complex64 need 2.9 MB, so about 10 blocks
    cand = scan_stack(stack, 0.25, block_mb=0.3, dispersion_path=tmp_path / "da.tif",
                      mean_amplitude_path=tmp_path / "ma.tif")
    rows, cols = np.nonzero(ref_disp < 0.25)
    np.testing.assert_array_equal(cand.lines, rows)
    np.testing.assert_array_equal(cand.pixels, cols)
    np.testing.assert_allclose(cand.dispersion, ref_disp[rows, cols], rtol=1e-6)
    # candidates are the simulator's scatterers (D_A 0.04–0.18 against speckle's 0.52)
    mask = read_truth(small_stack)["ps_mask"].astype(bool)
    assert mask[rows, cols].all() and len(rows) == mask.sum()
    ifg = slc[0, rows, cols][:, None] * np.conj(slc[:, rows, cols].T)
    np.testing.assert_allclose(cand.phasors, ifg / np.abs(ifg), atol=2e-6)  # unit phasors of s_first·conj(s_k)
    with rasterio.open(tmp_path / "da.tif") as ds:
        np.testing.assert_allclose(ds.read(1), ref_disp, rtol=1e-6)
        assert ds.crs == stack.crs and ds.transform == stack.transform
    with rasterio.open(tmp_path / "ma.tif") as ds:
        np.testing.assert_allclose(ds.read(1), ref_mean, rtol=1e-6)
    assert sorted(os.listdir(tmp_path)) == ["da.tif", "ma.tif"]  # no temporary file left


def test_calibration_factors_of_a_gain_changed_stack(tmp_path):
    rng = np.random.default_rng(3)
    gains = [1.0, 2.0, 0.5, 1.0]
    profile = dict(driver="GTiff", width=16, height=12, count=1, dtype="complex64", crs="EPSG:32632",
                   transform=from_origin(500000, 5000000, 20, 20))
    for k, g in enumerate(gains):
        z = (rng.normal(size=(12, 16)) + 1j * rng.normal(size=(12, 16))) * g
        with rasterio.open(tmp_path / f"2020010{k + 1}.tif", "w", **profile) as ds:
            ds.write(z.astype(np.complex64), 1)
    factors = calibration_factors(StackFolder(tmp_path))
    assert factors.mean() == pytest.approx(1.0)
    # every row is sampled on a 12-row stack; speckle means differ by chance, ±15 % for 192 pixels
    np.testing.assert_allclose(factors / factors[0], gains, rtol=0.15)


def test_scan_stack_cancelled_leaves_no_raster(small_stack, tmp_path):
    class CancelAfterFirstBlock(Progress):
        calls = 0

        def update(self, fraction):
            self.calls += 1

        def is_cancelled(self):
            return self.calls >= 1

    with pytest.raises(Cancelled):
        scan_stack(StackFolder(small_stack), 0.25, block_mb=0.3, dispersion_path=tmp_path / "da.tif",
                   progress=CancelAfterFirstBlock())
    assert os.listdir(tmp_path) == []


def test_scan_stack_rejects_bad_threshold(small_stack):
    with pytest.raises(InputError, match="dispersion threshold -1: expected a positive number"):
        scan_stack(StackFolder(small_stack), -1)


def test_radar_geometry_raster_has_no_georeferencing(tmp_path):
    rng = np.random.default_rng(4)
    for d in ("20200101", "20200113", "20200125"):
        z = (rng.normal(size=(6, 7)) + 1j * rng.normal(size=(6, 7))).astype(np.complex64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with rasterio.open(tmp_path / f"{d}.tif", "w", driver="GTiff", width=7, height=6, count=1,
                               dtype="complex64") as ds:
                ds.write(z, 1)
    out = tmp_path / "out"
    scan_stack(StackFolder(tmp_path), 0.25, dispersion_path=out / "da.tif")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(out / "da.tif") as ds:
            assert ds.crs is None and ds.shape == (6, 7)
