"""The stack-folder reader: discovery, metadata, reading, and one test per bad input."""

import json
import os
import warnings

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from egms_plugin.core.errors import InputError
from egms_plugin.core.sar.stack import StackFolder, parse_date_in_name

DATES = ["20200103", "20200115", "20200127", "20200208", "20200220"]


def write_raster(path, data, dtype=None, crs="EPSG:32632", geo=True):
    data = np.atleast_3d(data) if data.ndim == 2 else data
    arr = data if data.ndim == 3 else data[None]
    if arr.shape[0] not in (1,) and arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0][None]
    profile = dict(driver="GTiff", width=arr.shape[2], height=arr.shape[1], count=arr.shape[0],
                   dtype=dtype or arr.dtype.name)
    if geo:
        profile.update(crs=crs, transform=from_origin(600000, 5100000, 10, 10))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(path, "w", **profile) as ds:
            ds.write(arr)


def make_stack(folder, dates=DATES, shape=(6, 8), dtype="complex64", geo=True, names=None):
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(0)
    values = []
    for i, d in enumerate(dates):
        z = (rng.normal(size=shape) + 1j * rng.normal(size=shape)) * 100
        if dtype == "complex_int16":
            z = np.round(z)
        name = names[i] if names else f"{d}.tif"
        write_raster(os.path.join(folder, name), z.astype(np.complex64)[None], dtype=dtype, geo=geo)
        values.append(z.astype(np.complex64))
    return np.array(values)


def test_parse_date_in_name():
    assert str(parse_date_in_name("S1_20200103_slc.vrt")) == "2020-01-03"
    assert str(parse_date_in_name("20200103.slc.full.vrt")) == "2020-01-03"
    assert str(parse_date_in_name("S1A_IW_SLC__1SDV_20200109T051230_x")) == "2020-01-09"
    assert parse_date_in_name("burst_123456789.tif") is None
    assert str(parse_date_in_name("x_99999999_20210230_20210301.tif")) == "2021-03-01"


def test_reads_blocks_pixels_and_geometry(tmp_path):
    values = make_stack(tmp_path)
    (tmp_path / "baselines.csv").write_text("date,bperp\n" + "\n".join(f"{d},{10.5 * i}" for i, d in enumerate(DATES)))
    (tmp_path / "stack.json").write_text(json.dumps({"incidence_deg": 38.5, "heading_deg": 190, "orbit": "descending",
                                                    "slant_range_m": 880000}))
    (tmp_path / "README.md").write_text("ignored")
    (tmp_path / "notes_20200101.txt").write_text("ignored too")
    stack = StackFolder(tmp_path)
    assert stack.date_strings == DATES
    assert stack.shape == (6, 8) and stack.n_dates == 5
    np.testing.assert_allclose(stack.bperp, [0, 10.5, 21, 31.5, 42])
    assert stack.geometry.incidence_deg == 38.5 and stack.geometry.orbit == "descending"
    assert stack.geometry.los()[0] > 0.6  # descending looks west: LOS east positive
    assert stack.warnings and "unreliable" in stack.warnings[0]
    with stack:
        np.testing.assert_array_equal(stack.read_block(2, 5, 1, 4), values[:, 2:5, 1:4])
        np.testing.assert_array_equal(stack.read_pixels([5, 0, 3], [7, 0, 2], block_rows=2),
                                      values[:, [5, 0, 3], [7, 0, 2]].T)
    assert stack.row_blocks(4) == [(0, 4), (4, 6)]
    x, y = stack.map_coordinates([0], [0])
    assert (x[0], y[0]) == (600005.0, 5099995.0)
    lon, lat = stack.lonlat([0], [0])
    # reference: gdaltransform -s_srs EPSG:32632 -t_srs EPSG:4326 of 600005 5099995
    assert lon[0] == pytest.approx(10.2925955962584, abs=1e-9) and lat[0] == pytest.approx(46.0462197351612, abs=1e-9)
    overridden = StackFolder(tmp_path, incidence_deg=41.0, wavelength_m=0.031)
    assert overridden.geometry.incidence_deg == 41.0 and overridden.geometry.wavelength_m == 0.031


def test_cint16_and_latlon_rasters(tmp_path):
    values = make_stack(tmp_path, dtype="complex_int16", geo=False, names=[f"S1_{d}_slc.tif" for d in DATES])
    lat = np.linspace(45, 45.1, 48).reshape(6, 8)
    lon = np.linspace(7, 7.2, 48).reshape(6, 8)
    write_raster(tmp_path / "lat.rdr.tif", lat[None], geo=False)
    write_raster(tmp_path / "lon.rdr.tif", lon[None], geo=False)
    write_raster(tmp_path / "incidence.tif", np.full((1, 6, 8), 37.5), geo=False)
    stack = StackFolder(tmp_path)
    assert not stack.geocoded and stack.georeferenced and stack.dtype == "complex_int16"
    np.testing.assert_array_equal(stack.read_block(0, 6), values)
    lo, la = stack.lonlat([1, 5], [2, 7])
    np.testing.assert_allclose(la, lat[[1, 5], [2, 7]])
    np.testing.assert_allclose(lo, lon[[1, 5], [2, 7]])
    np.testing.assert_allclose(stack.incidence_at([0, 3], [0, 3]), [37.5, 37.5])


def test_no_georeferencing_is_reported_on_use(tmp_path):
    make_stack(tmp_path, geo=False)
    stack = StackFolder(tmp_path)
    assert not stack.georeferenced
    with pytest.raises(InputError, match="no lat\\*/lon\\* rasters"):
        stack.lonlat([0], [0])


# ---------------------------------------------------------------------------- bad input, one each
def test_not_a_folder(tmp_path):
    with pytest.raises(InputError, match="not a folder"):
        StackFolder(tmp_path / "missing")


def test_no_slcs(tmp_path):
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(InputError, match=f"{tmp_path}: no SLC found"):
        StackFolder(tmp_path)


def test_non_complex_raster(tmp_path):
    make_stack(tmp_path)
    write_raster(tmp_path / "20200303_coherence.tif", np.ones((1, 6, 8), dtype=np.float32))
    with pytest.raises(InputError, match="20200303_coherence.tif: not a complex raster \\(data type float32\\)"):
        StackFolder(tmp_path)


def test_sizes_differ(tmp_path):
    make_stack(tmp_path)
    make_stack(tmp_path, dates=["20200303"], shape=(6, 9))
    with pytest.raises(InputError, match="20200303.tif: 9 × 6 pixels, but .*20200103.tif is 8 × 6"):
        StackFolder(tmp_path)


def test_repeated_date(tmp_path):
    make_stack(tmp_path)
    make_stack(tmp_path, dates=["20200115"], names=["S1_20200115_copy.tif"])
    with pytest.raises(InputError, match="both are dated 2020-01-15"):
        StackFolder(tmp_path)


def test_file_gdal_cannot_open(tmp_path):
    make_stack(tmp_path)
    (tmp_path / "20200303.tif").write_bytes(b"II*\x00 truncated")
    with pytest.raises(InputError, match="20200303.tif: GDAL cannot open it"):
        StackFolder(tmp_path)


def test_half_written_slc(tmp_path):
    make_stack(tmp_path, shape=(64, 64))
    path = tmp_path / "20200220.tif"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="20200220.tif"), StackFolder(tmp_path) as stack:
        stack.read_block(0, 64)


@pytest.mark.parametrize(
    "content, message",
    [
        ("date,bperp\n20200103,0\n20200115,1\n20200127,2\n20200208,3\n", "no baseline for 1 acquisition.*20200220"),
        ("date,bperp\n" + "\n".join(f"{d},1" for d in DATES) + "\n20200303,4\n", "1 date\\(s\\) without an SLC.*20200303"),
        ("date,bperp\n20200103,0\n20200115,abc\n", "line 3: bperp 'abc' is not a number"),
        ("day,baseline\n20200103,0\n", "header must be 'date,bperp'"),
        ("date,bperp\n2020-01-03,0\n", "date '2020-01-03' is not YYYYMMDD"),
        ("date,bperp\n20200103,nan\n", "not a finite number"),
    ],
    ids=["missing-date", "extra-date", "non-numeric", "bad-header", "bad-date", "nan"],
)
def test_bad_baselines(tmp_path, content, message):
    make_stack(tmp_path)
    (tmp_path / "baselines.csv").write_text(content)
    with pytest.raises(InputError, match="baselines.csv.*" + message):
        StackFolder(tmp_path)


def test_fewer_than_three_acquisitions(tmp_path):
    make_stack(tmp_path, dates=DATES[:2])
    with pytest.raises(InputError, match="only 2 acquisition\\(s\\); at least 3"):
        StackFolder(tmp_path)


def test_fewer_than_twenty_is_a_warning(tmp_path):
    make_stack(tmp_path, dates=DATES[:3])
    stack = StackFolder(tmp_path)
    assert len(stack.warnings) == 1 and "3 acquisitions" in stack.warnings[0]


def test_bad_stack_json(tmp_path):
    make_stack(tmp_path)
    (tmp_path / "stack.json").write_text("{not json")
    with pytest.raises(InputError, match="stack.json: not valid JSON"):
        StackFolder(tmp_path)
    (tmp_path / "stack.json").write_text('{"incidence_deg": "steep"}')
    with pytest.raises(InputError, match="incidence_deg = 'steep' is not a number"):
        StackFolder(tmp_path)


def test_lat_without_lon(tmp_path):
    make_stack(tmp_path, geo=False)
    write_raster(tmp_path / "lat.tif", np.zeros((1, 6, 8)), geo=False)
    with pytest.raises(InputError, match="a lat\\* raster but no lon\\* raster"):
        StackFolder(tmp_path)
