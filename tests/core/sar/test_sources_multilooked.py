"""Multilooked / interferogram-derived stacks: candidates by D_A percentile, with a warning (core/sar/amplitude.py)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("osgeo.gdal")

from egms_plugin.core.progress import Progress  # noqa: E402
from egms_plugin.core.sar.amplitude import amplitude_statistics, scan_stack  # noqa: E402
from egms_plugin.core.sar.sources import open_stack  # noqa: E402
from egms_plugin.core.sar.stack import StackFolder  # noqa: E402


class _Warnings(Progress):
    def __init__(self):
        super().__init__()
        self.messages = []

    def warn(self, message):
        self.messages.append(message)


def _multilooked(small_stack, path, looks=5):
    """The small stack multilooked over a sliding looks × looks window as LiCSAR-like products are: amplitude
    √(mean |s|²) (intensity averaged), phase of the complex mean; written as a multi-band GeoTIFF."""
    import rasterio

    plain = StackFolder(small_stack)
    with plain:
        slc = plain.read_block(0, plain.shape[0])
    pad = looks // 2
    padded = np.pad(slc, ((0, 0), (pad, pad), (pad, pad)), mode="edge")
    win = np.lib.stride_tricks.sliding_window_view(padded, (looks, looks), axis=(1, 2))
    amplitude = np.sqrt((np.abs(win) ** 2).mean(axis=(-1, -2)))
    ml = (amplitude * np.exp(1j * np.angle(win.mean(axis=(-1, -2))))).astype(np.complex64)
    with rasterio.open(path, "w", driver="GTiff", width=ml.shape[2], height=ml.shape[1], count=ml.shape[0],
                       dtype="complex64", crs=plain.crs, transform=plain.transform) as ds:
        ds.write(ml)
        for k, d in enumerate(plain.date_strings):
            ds.set_band_description(k + 1, d)
    return ml


def test_plain_stack_keeps_the_threshold(small_stack):
    stack = StackFolder(small_stack)
    with stack:
        _, disp = amplitude_statistics(stack.read_block(0, stack.shape[0]))
    progress = _Warnings()
    cand = scan_stack(stack, 0.25, progress=progress)
    assert cand.selection == "threshold" and not progress.messages
    assert cand.size == int((disp < 0.25).sum()) < 0.5 * cand.n_valid


def test_multilooked_stack_selects_by_percentile(small_stack, tmp_path):
    ml = _multilooked(small_stack, str(tmp_path / "ml.tif"))
    _, disp = amplitude_statistics(ml)
    valid = np.isfinite(disp)
    assert (disp[valid] < 0.25).mean() > 0.5  # the premise: most pixels under 0.25 once multilooked
    progress = _Warnings()
    cand = scan_stack(open_stack(tmp_path / "ml.tif"), 0.25, progress=progress)
    n_valid = int(valid.sum())
    assert cand.n_valid == n_valid and cand.selection == "percentile"
    assert cand.size == int(np.ceil(0.10 * n_valid))  # no ties in float D_A: exactly the lowest 10 %
    cut = np.sort(disp[valid])[cand.size - 1]
    np.testing.assert_array_equal(cand.dispersion, disp[cand.lines, cand.pixels])
    assert cand.dispersion.max() == pytest.approx(cut) and (disp[valid] <= cut).sum() == cand.size
    assert cand.phasors.shape == (cand.size, ml.shape[0])
    assert len(progress.messages) == 1 and "looks multilooked or interferogram-derived" in progress.messages[0]
    assert "10th percentile" in progress.messages[0]
