"""ISCE2 topsStack/stripmapStack work folders and multi-band rasters (core/sar/sources) read back the fixtures."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

pytest.importorskip("osgeo.gdal")

from egms_plugin.core.errors import InputError  # noqa: E402
from egms_plugin.core.sar.sources import detect_layout, open_stack  # noqa: E402
from egms_plugin.core.sar.stack import StackFolder  # noqa: E402
from egms_plugin.testing import stack_layouts as sl  # noqa: E402


@pytest.fixture(scope="module")
def plain(small_stack):
    return StackFolder(small_stack)


@pytest.fixture(scope="module")
def tops(small_stack, tmp_path_factory):
    return sl.write_isce2_topsstack(small_stack, str(tmp_path_factory.mktemp("tops")))


@pytest.fixture(scope="module")
def strip(small_stack, tmp_path_factory):
    return sl.write_isce2_stripmapstack(small_stack, str(tmp_path_factory.mktemp("strip")), envi_header=False)


def _same_pixels(stack, plain):
    with stack, plain:
        for r0, r1 in stack.row_blocks(33):
            np.testing.assert_array_equal(stack.read_block(r0, r1), plain.read_block(r0, r1))


def _same_geolocation(stack, plain):
    lines, pixels = np.array([0, 41, 99]), np.array([0, 77, 119])
    np.testing.assert_array_equal(np.array(stack.lonlat(lines, pixels)), np.array(plain.lonlat(lines, pixels)))
    np.testing.assert_allclose(stack.incidence_at(lines, pixels), 39.0, atol=1e-4)


@pytest.mark.parametrize("sub", ["", "merged"])
def test_topsstack_equals_the_plain_folder(tops, plain, sub):
    stack = open_stack(os.path.join(tops, sub))
    assert stack.dates == plain.dates and stack.shape == plain.shape
    np.testing.assert_allclose(stack.bperp - stack.bperp[0], plain.bperp - plain.bperp[0], atol=1e-9)
    assert stack.bperp[15] == 0.0  # the reference 20190717
    g = stack.geometry
    assert g.wavelength_m == plain.geometry.wavelength_m
    assert g.incidence_deg == pytest.approx(39.0, abs=1e-4) and g.heading_deg == pytest.approx(-10.0, abs=1e-4)
    assert g.slant_range_m == pytest.approx(875000.0, abs=1e-6) and g.orbit == "ascending"
    _same_pixels(stack, plain)
    _same_geolocation(stack, plain)
    text = stack.describe()
    assert "layout: ISCE2 topsStack" in text and "sign reversed" in text and "IW2.xml radarwavelength" in text


def test_stripmapstack(strip, plain):
    stack = open_stack(strip)
    assert stack.dates == plain.dates
    np.testing.assert_allclose(stack.bperp - stack.bperp[0], plain.bperp - plain.bperp[0], atol=1e-9)
    assert stack.geometry.incidence_deg == pytest.approx(39.0, abs=1e-4)
    assert stack.geometry.slant_range_m is None  # stripmapStack writes no reference swath XML here
    _same_pixels(stack, plain)
    _same_geolocation(stack, plain)
    assert "layout: ISCE2 stripmapStack" in stack.describe()


def test_topsstack_without_merged(tops, tmp_path):
    work = tmp_path / "work"
    shutil.copytree(tops, work, ignore=shutil.ignore_patterns("merged"))
    assert detect_layout(work) == "isce2"
    with pytest.raises(InputError, match=r"work: an ISCE2 work folder without merged/SLC"):
        open_stack(work)


def test_topsstack_baselines_not_matching(tops, tmp_path):
    work = tmp_path / "work"
    shutil.copytree(tops, work)
    shutil.rmtree(work / "baselines" / "20190717_20190124")
    with pytest.raises(InputError, match=r"baselines: the baselines do not match the dates "
                                         r"\(no baseline for 1 date\(s\) of the stack: 20190124\)"):
        open_stack(work)


@pytest.mark.parametrize("name", ["stack.vrt", "stack.tif"])
def test_multiband_equals_the_plain_folder(small_stack, plain, tmp_path, name):
    path = sl.write_multiband(small_stack, str(tmp_path / name))
    assert detect_layout(path) == "multiband"
    stack = open_stack(path)
    assert stack.dates == plain.dates
    np.testing.assert_array_equal(stack.bperp, plain.bperp)
    assert stack.geometry == plain.geometry
    assert stack.crs == plain.crs and stack.transform == plain.transform
    _same_pixels(stack, plain)
    assert "multi-band raster (30 bands)" in stack.describe()


def test_multiband_baselines_not_matching(small_stack, tmp_path):
    path = sl.write_multiband(small_stack, str(tmp_path / "stack.vrt"))
    csv = tmp_path / "baselines.csv"
    lines = csv.read_text().splitlines()
    csv.write_text("\n".join(lines[:5] + lines[6:]) + "\n")
    with pytest.raises(InputError, match=r"baselines.csv: no baseline for 1 acquisition"):
        open_stack(path)


def test_multiband_band_without_date(small_stack, tmp_path):
    from osgeo import gdal

    path = sl.write_multiband(small_stack, str(tmp_path / "stack.tif"))
    ds = gdal.Open(path, gdal.GA_Update)
    ds.GetRasterBand(4).SetDescription("")
    ds = None
    with pytest.raises(InputError, match=r"stack.tif: band 4 has no date in its description"):
        open_stack(path)


def test_plain_folder_unchanged(small_stack, plain):
    assert detect_layout(small_stack) == "folder"
    stack = open_stack(small_stack)
    assert type(stack) is StackFolder and stack.describe() == plain.describe()


def test_missing_input(tmp_path):
    with pytest.raises(InputError, match=r"nothing: not a folder or a stack file \(no such path\)"):
        open_stack(tmp_path / "nothing")
