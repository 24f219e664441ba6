"""SNAP BEAM-DIMAP stacks (core/sar/sources/snap.py) read back what testing/stack_layouts.py wrote."""

from __future__ import annotations

import glob
import os
import shutil
import xml.etree.ElementTree as ET

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
def tc_dim(small_stack, tmp_path_factory):
    return sl.write_snap_dimap(small_stack, str(tmp_path_factory.mktemp("snap_tc")))


@pytest.fixture(scope="module")
def rg_dim(small_stack, tmp_path_factory):
    return sl.write_snap_dimap(small_stack, str(tmp_path_factory.mktemp("snap_rg")), radar_geometry=True,
                               reference_dtype="int16", flavour="s1tbx")


def _copy(dim, tmp_path):
    shutil.copytree(os.path.dirname(dim), tmp_path / "p")
    return str(tmp_path / "p" / os.path.basename(dim))


def test_terrain_corrected_stack_equals_the_plain_folder(tc_dim, plain):
    stack = open_stack(tc_dim)
    assert stack.dates == plain.dates
    assert stack.shape == plain.shape == (100, 120)
    # Perp Baseline is a Java float widened to double: relative B⊥ equal to 1e-5 m
    np.testing.assert_allclose(stack.bperp - stack.bperp[0], plain.bperp - plain.bperp[0], atol=1e-5)
    assert stack.bperp[stack.dates.index(plain.dates[15])] == 0.0  # the mst date is the reference
    assert stack.geometry.wavelength_m == pytest.approx(plain.geometry.wavelength_m, rel=1e-12)
    assert stack.geometry.incidence_deg == 39.0 and stack.geometry.heading_deg == pytest.approx(-10.0)
    assert stack.geometry.slant_range_m == pytest.approx(875000.0, abs=1e-6)
    assert stack.geometry.orbit == "ascending"
    assert stack.crs == plain.crs and stack.transform == plain.transform
    with stack, plain:
        for r0, r1 in stack.row_blocks(37):
            np.testing.assert_array_equal(stack.read_block(r0, r1, 3, 111), plain.read_block(r0, r1, 3, 111))
    text = stack.describe()
    assert "layout: SNAP BEAM-DIMAP" in text and "Baselines/Ref_17Jul2019" in text and "radar_frequency" in text


def test_radar_geometry_int16_reference_and_tie_point_grids(rg_dim, plain):
    stack = open_stack(os.path.dirname(rg_dim) + "/" + os.path.basename(rg_dim)[:-4] + ".data")
    assert not stack.geocoded and stack.georeferenced
    ref = stack.dates.index(plain.dates[15])
    with stack, plain:
        got, want = stack.read_block(0, 100), plain.read_block(0, 100)
    other = [k for k in range(stack.n_dates) if k != ref]
    np.testing.assert_array_equal(got[other], want[other])  # float32 secondaries: exact
    np.testing.assert_array_equal(got[ref], np.round(want[ref].real) + 1j * np.round(want[ref].imag))  # int16
    lon, lat = stack.lonlat([0, 50, 99], [0, 60, 119])
    plon, plat = plain.lonlat([0, 50, 99], [0, 60, 119])
    # tie-point grids (11 × 11, float32) interpolated bilinearly: within 1e-5° (≈ 1 m) of the exact pixels
    np.testing.assert_allclose(lon, plon, atol=1e-5)
    np.testing.assert_allclose(lat, plat, atol=1e-5)
    np.testing.assert_allclose(stack.incidence_at([0, 99], [0, 119]), 39.0, atol=1e-4)
    assert "Baselines/Master: 17Jul2019" in stack.describe()


def test_detection(tc_dim):
    assert detect_layout(tc_dim) == "snap"
    assert detect_layout(tc_dim[:-4] + ".data") == "snap"
    assert detect_layout(os.path.dirname(tc_dim)) == "snap"  # the folder holding one .dim and its .data
    assert open_stack(os.path.dirname(tc_dim)).folder == tc_dim


def test_i_band_without_q(tc_dim, tmp_path):
    dim = _copy(tc_dim, tmp_path)
    tree = ET.parse(dim)
    interp = tree.getroot().find("Image_Interpretation")
    victim = next(i for i in interp.findall("Spectral_Band_Info") if i.findtext("BAND_NAME").startswith("q_IW2_VV_slv3_"))
    interp.remove(victim)
    tree.write(dim)
    with pytest.raises(InputError, match=r"band i_IW2_VV_slv3_24Jan2019 has no q band \(q_IW2_VV_slv3_24Jan2019\)"):
        open_stack(dim)


def test_dim_without_data_folder(tc_dim, tmp_path):
    dim = _copy(tc_dim, tmp_path)
    shutil.rmtree(dim[:-4] + ".data")
    with pytest.raises(InputError, match=r"\.dim: its data folder .*\.data is missing"):
        open_stack(dim)


def test_baselines_not_matching_the_dates(tc_dim, tmp_path):
    dim = _copy(tc_dim, tmp_path)
    tree = ET.parse(dim)
    ref = next(e for e in tree.getroot().iter("MDElem") if e.get("name") == "Ref_17Jul2019")
    ref.remove(next(e for e in ref.findall("MDElem") if e.get("name") == "Secondary_24Jan2019"))
    tree.write(dim)
    with pytest.raises(InputError, match=r"Ref_17Jul2019\): the baselines do not match the dates "
                                         r"\(no baseline for 1 date\(s\) of the stack: 20190124\)"):
        open_stack(dim)


def test_polarisation_absent(tc_dim):
    with pytest.raises(InputError, match=r"\.dim: no VH i/q band pair"):
        open_stack(tc_dim, polarisation="VH")


def test_missing_band_file(tc_dim, tmp_path):
    dim = _copy(tc_dim, tmp_path)
    victim = glob.glob(dim[:-4] + ".data/q_IW2_VV_slv5_*.img")[0]
    os.remove(victim)
    with pytest.raises(InputError, match=r"q_IW2_VV_slv5_01Mar2019\.img: the file of band"):
        open_stack(dim)
