"""OPERA CSLC-S1 bursts (core/sar/sources/opera.py): the fixture stack and the real files of ../shared/data/opera."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

pytest.importorskip("h5py")
gdal = pytest.importorskip("osgeo.gdal")

from egms_plugin.core.errors import InputError  # noqa: E402
from egms_plugin.core.sar.sources import detect_layout, open_stack  # noqa: E402
from egms_plugin.core.sar.stack import StackFolder  # noqa: E402
from egms_plugin.testing import stack_layouts as sl  # noqa: E402

gdal.UseExceptions()
HERE = os.path.dirname(os.path.abspath(__file__))
OPERA_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(HERE)))), "shared", "data",
                         "opera")
REAL = "OPERA_L2_CSLC-S1_T087-185683-IW2_20221228T161651Z_20240504T181714Z_S1A_VV_v1.1.h5"
REAL_STATIC = "OPERA_L2_CSLC-S1-STATIC_T087-185683-IW2_20140403_S1A_v1.0.repacked.h5"
META_ONLY = ("OPERA_L2_CSLC-S1_T042-088905-IW1_20231021T140757Z_20231023T003801Z_S1A_VV_v1.0.h5",
             "OPERA_L2_CSLC-S1_T042-088905-IW2_20231009T140758Z_20231010T204936Z_S1A_VV_v1.0.h5")


@pytest.fixture(scope="module")
def plain(small_stack):
    return StackFolder(small_stack)


@pytest.fixture(scope="module")
def opera(small_stack, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("opera"))
    sl.write_opera_cslc(small_stack, out)
    return out


def _real(name):
    path = os.path.join(OPERA_DIR, name)
    if not os.path.exists(path):
        pytest.skip(f"real OPERA sample not found at {path}")
    return path


def test_fixture_stack_equals_the_plain_folder(opera, plain):
    assert detect_layout(opera) == "opera"
    stack = open_stack(opera)
    assert stack.dates == plain.dates and stack.shape == plain.shape
    # B⊥ from the state vectors at the scene centre: the stack's baselines relative to the reference within 1e-5 m
    np.testing.assert_allclose(stack.bperp - stack.bperp[0], plain.bperp - plain.bperp[0], atol=1e-5)
    assert stack.bperp[15] == 0.0
    assert stack.crs == plain.crs and stack.transform == plain.transform
    g = stack.geometry
    assert g.wavelength_m == plain.geometry.wavelength_m and g.orbit == "ascending"
    assert g.slant_range_m == pytest.approx(875000.0, abs=1e-6)
    # los_east/los_north are float32: incidence and heading within 1e-5°
    assert g.incidence_deg == pytest.approx(39.0, abs=1e-5) and g.heading_deg == pytest.approx(-10.0, abs=1e-5)
    with stack, plain:
        for r0, r1 in stack.row_blocks(40):
            np.testing.assert_array_equal(stack.read_block(r0, r1, 7, 95), plain.read_block(r0, r1, 7, 95))
    assert "baselines from: the files' /metadata/orbit state vectors (scene centre, reference 20190717)" in \
        stack.describe()


def test_no_orbit_no_baselines(opera, tmp_path):
    import h5py

    folder = tmp_path / "o"
    shutil.copytree(opera, folder)
    name = next(n for n in sorted(os.listdir(folder)) if "_20190118T" in n)
    with h5py.File(folder / name, "r+") as f:
        del f["metadata/orbit"]
    stack = open_stack(folder)
    assert stack.bperp is None
    assert f"baselines from: none — {folder / name} has no /metadata/orbit and there is no baselines.csv: height " \
           "errors are not estimated" in stack.describe()


def test_baselines_csv_beside_the_files(opera, plain, small_stack, tmp_path):
    folder = tmp_path / "o"
    shutil.copytree(opera, folder)
    shutil.copyfile(os.path.join(small_stack, "baselines.csv"), folder / "baselines.csv")
    np.testing.assert_array_equal(open_stack(folder).bperp, plain.bperp)


def test_real_cslc_grid_as_gdal_reports_it(tmp_path):
    real = _real(REAL)
    folder = tmp_path / "real"
    folder.mkdir()
    for d in ("20221228", "20230109", "20230121"):  # the one real burst three times: a stack of three "dates"
        os.symlink(real, folder / REAL.replace("20221228T", f"{d}T"))
    os.symlink(_real(REAL_STATIC), folder / REAL_STATIC)
    stack = open_stack(folder)
    assert stack.shape == (4917, 20622) and stack.crs.to_epsg() == 32605
    ds = gdal.Open(f'NETCDF:"{real}":/data/VV')  # COMPASS's way to the geotransform and projection
    np.testing.assert_allclose(tuple(stack.transform)[:6], (5.0, 0.0, 157320.0, 0.0, -10.0, 2172300.0))
    gt = ds.GetGeoTransform()
    np.testing.assert_allclose((stack.transform.a, stack.transform.c, stack.transform.e, stack.transform.f),
                               (gt[1], gt[0], gt[5], gt[3]))
    sub = gdal.Open(f'HDF5:"{real}"://data/VV')
    want = sub.GetRasterBand(1).ReadAsArray(1000, 2000, 64, 16)
    with stack:
        got = stack.read_block(2000, 2016, 1000, 1064)
    np.testing.assert_array_equal(got[0], want)
    np.testing.assert_array_equal(stack.bperp, 0.0)  # one orbit three times
    g = stack.geometry
    assert g.wavelength_m == pytest.approx(0.05546576, abs=1e-8) and g.orbit == "descending"
    # S1 IW2 descending (track 87, 16:16 UTC over UTM 5N): heading ≈ 190°, incidence 30–46°
    assert g.incidence_deg == pytest.approx(39.513, abs=1e-3) and g.heading_deg % 360 == pytest.approx(190.79, abs=1e-2)
    assert g.slant_range_m == pytest.approx(874143.79, abs=0.01)


def test_several_bursts_listed(tmp_path):
    for name in META_ONLY:
        os.symlink(_real(name), tmp_path / name)
    with pytest.raises(InputError, match=r"CSLCs of 2 bursts \(T042-088905-IW1, T042-088905-IW2\)"):
        open_stack(tmp_path)


def test_dates_repeated_within_a_burst(opera, tmp_path):
    folder = tmp_path / "o"
    shutil.copytree(opera, folder)
    name = next(n for n in os.listdir(folder) if "_20190106T" in n)
    shutil.copyfile(folder / name, folder / name.replace("20240504T181714Z", "20250101T000000Z"))
    with pytest.raises(InputError, match=r"dates repeated across files of one burst \(2019-01-06: "):
        open_stack(folder)


def test_polarisation_absent(opera):
    with pytest.raises(InputError, match=r"_VV_v1.1.h5: no /data/VH \(the file holds VV\)"):
        open_stack(opera, polarisation="VH")
