"""The processor-layout fixtures of ``testing/stack_layouts.py`` round-trip through plain GDAL / h5py / XML.

Each layout written from the small simulated stack gives back, read the way the processor's own conventions
say (not with the plugin's future readers), the same complex pixels, dates, baselines and geometry.  The
OPERA fixture is compared with the real CSLC-S1 file in ``../shared/data/opera``.
"""

from __future__ import annotations

import datetime as dt
import glob
import math
import os
import xml.etree.ElementTree as ET

import numpy as np
import pytest

h5py = pytest.importorskip("h5py")
gdal = pytest.importorskip("osgeo.gdal")
osr = pytest.importorskip("osgeo.osr")

from egms_plugin.testing import stack_layouts as sl  # noqa: E402

gdal.UseExceptions()
HERE = os.path.dirname(os.path.abspath(__file__))
OPERA_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(HERE)))), "shared", "data",
                         "opera")
REAL_CSLC = os.path.join(OPERA_DIR, "OPERA_L2_CSLC-S1_T087-185683-IW2_20221228T161651Z_20240504T181714Z_S1A_VV_v1.1.h5")
REAL_STATIC = os.path.join(OPERA_DIR, "OPERA_L2_CSLC-S1-STATIC_T087-185683-IW2_20140403_S1A_v1.0.repacked.h5")


@pytest.fixture(scope="module")
def src(small_stack):
    return sl.read_source_stack(small_stack)


@pytest.fixture(scope="module")
def slcs(src):
    return np.stack([src.read(k) for k in range(len(src.dates))])


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    return tmp_path_factory.mktemp("layouts")


def _ref(src):
    return len(src.dates) // 2


# ------------------------------------------------------------------------------------------------ SNAP
def _mdelem(parent, name):
    hits = [e for e in parent.findall("MDElem") if e.get("name") == name]
    assert len(hits) == 1, f"MDElem {name!r}: {len(hits)} found"
    return hits[0]


def _mdattr(elem, name):
    hits = [a for a in elem.findall("MDATTR") if a.get("name") == name]
    assert len(hits) == 1, f"MDATTR {name!r}: {len(hits)} found"
    return hits[0].text


def _snap_bands(root):
    """{band name: (index, data type, unit, virtual)} from Image_Interpretation."""
    bands = {}
    for info in root.find("Image_Interpretation").findall("Spectral_Band_Info"):
        bands[info.findtext("BAND_NAME")] = (int(info.findtext("BAND_INDEX")), info.findtext("DATA_TYPE"),
                                             info.findtext("PHYSICAL_UNIT"), info.findtext("VIRTUAL_BAND") == "true")
    return bands


def _snap_read(dim_path, root, band):
    """The raster of a band via its Data_File href (ENVI .hdr/.img, big-endian), read with GDAL."""
    index = _snap_bands(root)[band][0]
    files = {int(f.findtext("BAND_INDEX")): f.find("DATA_FILE_PATH").get("href")
             for f in root.find("Data_Access").findall("Data_File")}
    hdr = os.path.join(os.path.dirname(dim_path), files[index])
    with open(hdr, encoding="ascii") as fh:
        header = fh.read()
    assert "byte order = 1" in header and "interleave = bsq" in header
    ds = gdal.Open(hdr[:-4] + ".img")
    return ds.ReadAsArray(), ds, header


def _snap_stack(dim_path, tags=("_mst", "_slv")):
    """Dates (reference first) and complex pixels i + j·q, combining i/q pairs by their names."""
    root = ET.parse(dim_path).getroot()
    bands = _snap_bands(root)
    pairs = []
    for name, (_index, _dtype, unit, virtual) in bands.items():
        if name.startswith("i_") and not virtual:
            assert unit == "real"
            q = "q_" + name[2:]
            assert bands[q][2] == "imaginary"
            tag = name.split("_")[-2]
            date = dt.datetime.strptime(name.split("_")[-1], "%d%b%Y").date()
            is_ref = tag == tags[0][1:]
            i_arr, _, _ = _snap_read(dim_path, root, name)
            q_arr, _, _ = _snap_read(dim_path, root, q)
            pairs.append((not is_ref, date, (i_arr + 1j * q_arr).astype(np.complex64), tag))
    pairs.sort(key=lambda p: (p[0], p[1]))
    return root, pairs


def _snap_baselines(root, prefixes=("Ref_", "Secondary_")):
    meta = _mdelem(root.find("Dataset_Sources"), "metadata")
    absm = _mdelem(meta, "Abstracted_Metadata")
    base = _mdelem(absm, "Baselines")
    out = {}
    for r in base.findall("MDElem"):
        ref = dt.datetime.strptime(r.get("name")[len(prefixes[0]):], "%d%b%Y").date()
        for s in r.findall("MDElem"):
            sec = dt.datetime.strptime(s.get("name")[len(prefixes[1]):], "%d%b%Y").date()
            out[ref, sec] = (float(_mdattr(s, "Perp Baseline")), float(_mdattr(s, "Temp Baseline")))
    return absm, out


@pytest.fixture(scope="module")
def snap_tc(src, out):
    return sl.write_snap_dimap(src.folder, out / "snap_tc")


@pytest.fixture(scope="module")
def snap_rg(src, out):
    return sl.write_snap_dimap(src.folder, out / "snap_rg", radar_geometry=True)


def test_snap_terrain_corrected_round_trip(src, slcs, snap_tc):
    root, pairs = _snap_stack(snap_tc)
    ref = _ref(src)
    assert [p[1] for p in pairs] == [src.dates[ref]] + [d for k, d in enumerate(src.dates) if k != ref]
    assert [p[3] for p in pairs] == ["mst"] + [f"slv{k}" for k in range(1, len(src.dates))]
    for _, date, z, _ in pairs:
        np.testing.assert_array_equal(z, slcs[src.dates.index(date)])
    assert int(root.findtext("Raster_Dimensions/NCOLS")) == src.cols
    assert int(root.findtext("Raster_Dimensions/NROWS")) == src.rows
    absm, base = _snap_baselines(root)
    wavelength = sl.SPEED_OF_LIGHT / (float(_mdattr(absm, "radar_frequency")) * 1e6)
    assert wavelength == pytest.approx(src.wavelength, rel=1e-12)
    assert _mdattr(absm, "PASS") == src.orbit.upper()
    assert _mdattr(absm, "first_line_time").startswith(f"{src.dates[ref]:%d}-{src.dates[ref]:%b}".upper())
    # Ref_<every date> × Secondary_<every date>; the reference's row gives B⊥ relative to it (plugin sign)
    assert len(base) == len(src.dates) ** 2
    rel = src.bperp - src.bperp[ref]
    for k, d in enumerate(src.dates):
        perp, temp = base[src.dates[ref], d]
        assert perp == pytest.approx(rel[k], abs=1e-4)
        assert temp == (src.dates[ref] - d).days  # reference minus secondary
    # geocoding: IMAGE_TO_MODEL_TRANSFORM and the ENVI headers give the source grid
    t = src.transform
    i2m = [float(v) for v in root.findtext("Geoposition/IMAGE_TO_MODEL_TRANSFORM").split(",")]
    assert i2m == [t.a, t.d, t.b, t.e, t.c, t.f]
    _, ds, header = _snap_read(snap_tc, root, f"q_IW2_VV_slv1_{sl.snap_date(src.dates[0])}")
    assert ds.GetGeoTransform() == pytest.approx((t.c, t.a, t.b, t.f, t.d, t.e))
    assert int(ds.GetSpatialRef().GetAuthorityCode(None)) == src.epsg()
    assert "data type = 4" in header
    # secondary metadata: one element per secondary, named <product>_<ddMonYYYY>, with its band names
    meta = _mdelem(root.find("Dataset_Sources"), "metadata")
    slave = _mdelem(meta, "Slave_Metadata")
    assert _mdattr(slave, "Master_bands") == " ".join(f"{c}_IW2_VV_mst_{sl.snap_date(src.dates[ref])}" for c in "iq")
    elems = slave.findall("MDElem")
    assert len(elems) == len(src.dates) - 1
    for pos, elem in enumerate(elems, start=1):
        date = pairs[pos][1]
        assert elem.get("name").endswith("_" + sl.snap_date(date))
        assert _mdattr(elem, "Slave_bands").split() == [f"{c}_IW2_VV_slv{pos}_{sl.snap_date(date)}" for c in "iq"]


def test_snap_radar_geometry_tie_point_grids(src, slcs, snap_rg):
    root, pairs = _snap_stack(snap_rg)
    for _, date, z, _ in pairs:
        np.testing.assert_array_equal(z, slcs[src.dates.index(date)])
    assert root.find("Geoposition/IMAGE_TO_MODEL_TRANSFORM") is None
    grids = {}
    files = {int(f.findtext("TIE_POINT_GRID_INDEX")): f.find("TIE_POINT_GRID_FILE_PATH").get("href")
             for f in root.find("Data_Access").findall("Tie_Point_Grid_File")}
    for info in root.find("Tie_Point_Grids").findall("Tie_Point_Grid_Info"):
        name = info.findtext("TIE_POINT_GRID_NAME")
        index = int(info.findtext("TIE_POINT_GRID_INDEX"))
        nx, ny = int(info.findtext("NCOLS")), int(info.findtext("NROWS"))
        raw = np.fromfile(os.path.join(os.path.dirname(snap_rg), files[index])[:-4] + ".img", dtype=">f4")
        grids[name] = (raw.reshape(ny, nx).astype(np.float64), float(info.findtext("OFFSET_X")),
                       float(info.findtext("OFFSET_Y")), float(info.findtext("STEP_X")),
                       float(info.findtext("STEP_Y")), info.findtext("PHYSICAL_UNIT"))
    assert set(grids) == {"latitude", "longitude", "incident_angle", "elevation_angle", "slant_range_time"}
    assert grids["slant_range_time"][5] == "ns" and grids["incident_angle"][5] == "deg"
    from scipy.ndimage import map_coordinates

    def at_pixels(name):
        g, ox, oy, sx, sy, _ = grids[name]
        jj, ii = np.meshgrid(np.arange(src.cols) + 0.5, np.arange(src.rows) + 0.5)
        return map_coordinates(g, [(ii - oy) / sy, (jj - ox) / sx], order=1, mode="nearest")

    lat, lon = src.latlon()
    np.testing.assert_allclose(at_pixels("latitude"), lat, atol=1e-5)
    np.testing.assert_allclose(at_pixels("longitude"), lon, atol=1e-5)
    np.testing.assert_allclose(at_pixels("incident_angle"), src.incidence(), atol=1e-4)
    mid = at_pixels("slant_range_time")[src.rows // 2, (src.cols - 1) // 2: (src.cols + 2) // 2].mean()
    assert mid * 1e-9 * sl.SPEED_OF_LIGHT / 2 == pytest.approx(src.slant_range, abs=1.0)
    _, ds, header = _snap_read(snap_rg, root, f"i_IW2_VV_mst_{sl.snap_date(pairs[0][1])}")
    assert "map info" not in header and ds.GetSpatialRef() is None


@pytest.mark.parametrize("flavour, tags, prefixes, root_name", [
    ("s1tbx", ("_mst", "_slv"), ("Master: ", "Slave: "), "Slave_Metadata"),
    ("current", ("_ref", "_sec"), ("Ref_", "Secondary_"), "Secondary_Metadata"),
])
def test_snap_flavours(src, slcs, out, flavour, tags, prefixes, root_name):
    dim = sl.write_snap_dimap(src.folder, out / f"snap_{flavour}", flavour=flavour, radar_geometry=True)
    root, pairs = _snap_stack(dim, tags)
    assert pairs[0][3] == tags[0][1:] and pairs[1][3] == tags[1][1:] + "1"
    np.testing.assert_array_equal(pairs[0][2], slcs[_ref(src)])
    _, base = _snap_baselines(root, prefixes)
    assert len(base) == len(src.dates) ** 2
    meta = _mdelem(root.find("Dataset_Sources"), "metadata")
    assert len(_mdelem(meta, root_name).findall("MDElem")) == len(src.dates) - 1


def test_snap_int16_reference_bands(src, slcs, out):
    dim = sl.write_snap_dimap(src.folder, out / "snap_i16", reference_dtype="int16", reference_date=src.date_strings[0])
    root = ET.parse(dim).getroot()
    bands = _snap_bands(root)
    name = f"i_IW2_VV_mst_{sl.snap_date(src.dates[0])}"
    assert bands[name][1] == "int16" and bands[f"i_IW2_VV_slv1_{sl.snap_date(src.dates[1])}"][1] == "float32"
    arr, _, header = _snap_read(dim, root, name)
    assert "data type = 2" in header and arr.dtype == np.int16
    np.testing.assert_array_equal(arr, np.round(slcs[0].real).astype(np.int16))


# ------------------------------------------------------------------------------------------------ ISCE2
def _isce_xml(path):
    root = ET.parse(path).getroot()
    props = {p.get("name"): p.findtext("value") for p in root.findall("property")}
    return props


@pytest.fixture(scope="module")
def tops(src, out):
    return sl.write_isce2_topsstack(src.folder, out / "tops")


def test_isce2_topsstack_round_trip(src, slcs, tops):
    ref = _ref(src)
    dates = sorted(os.listdir(os.path.join(tops, "merged", "SLC")))
    assert dates == src.date_strings
    for k, d in enumerate(dates):
        base = os.path.join(tops, "merged", "SLC", d, f"{d}.slc.full")
        props = _isce_xml(base + ".xml")
        assert (props["width"], props["length"], props["data_type"], props["byte_order"]) == \
            (str(src.cols), str(src.rows), "CFLOAT", "l")
        raw = np.fromfile(base, dtype="<c8").reshape(src.rows, src.cols)
        np.testing.assert_array_equal(raw, slcs[k])
        np.testing.assert_array_equal(gdal.Open(base + ".vrt").ReadAsArray(), slcs[k])
        envi = gdal.Open(base)
        assert envi.GetDriver().ShortName == "ENVI"
        np.testing.assert_array_equal(envi.ReadAsArray(), slcs[k])
    geom = os.path.join(tops, "merged", "geom_reference")
    lat, lon = src.latlon()
    np.testing.assert_array_equal(gdal.Open(os.path.join(geom, "lat.rdr.full.vrt")).ReadAsArray(), lat)
    np.testing.assert_array_equal(gdal.Open(os.path.join(geom, "lon.rdr.full.vrt")).ReadAsArray(), lon)
    assert _isce_xml(os.path.join(geom, "lat.rdr.full.xml"))["data_type"] == "DOUBLE"
    los = gdal.Open(os.path.join(geom, "los.rdr.full.vrt"))
    assert los.RasterCount == 2 and _isce_xml(os.path.join(geom, "los.rdr.full.xml"))["scheme"] == "BIL"
    inc, az = los.ReadAsArray().astype(np.float64)
    np.testing.assert_allclose(inc, src.incidence(), atol=1e-5)
    # band 2: azimuth of the target→satellite vector, from north, counter-clockwise (ISCE topozero, MintPy)
    le, ln, _ = sl.los_vector(src.incidence_deg, src.heading_deg)
    np.testing.assert_allclose(az, math.degrees(math.atan2(-le, ln)), atol=1e-4)
    expected = 102.0 if src.orbit == "ascending" else -102.0
    assert az[0, 0] == pytest.approx(expected, abs=15)
    # baselines: the MintPy reader of topsStack files; no file for the reference; sign opposite to the plugin's
    files = sorted(glob.glob(os.path.join(tops, "baselines", "*", "*.txt")))
    assert len(files) == len(src.dates) - 1
    rel = src.bperp - src.bperp[ref]
    for f in files:
        d1, d2 = os.path.basename(f)[:-4].split("_")
        assert d1 == src.date_strings[ref]
        with open(f, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
        assert lines[0] == "swath: IW2"
        bperp = np.mean([float(line.split(":")[1]) for line in lines if line.split(":")[0] == "Bperp (average)"])
        assert -bperp == pytest.approx(rel[src.date_strings.index(d2)], abs=1e-9)
    # wavelength and pass from reference/IW2.xml (ProductManager dump)
    root = ET.parse(os.path.join(tops, "reference", "IW2.xml")).getroot()
    burst = root.find("component[@name='instance']/component[@name='bursts']/component[@name='burst1']")
    props = {p.get("name"): p.findtext("value") for p in burst.findall("property")}
    assert float(props["radarwavelength"]) == src.wavelength
    assert props["passdirection"] == src.orbit.upper()
    assert props["burststartutc"].startswith(f"{src.dates[ref]:%Y-%m-%d}")
    r_mid = float(props["startingrange"]) + float(props["rangepixelsize"]) * (src.cols - 1) / 2
    assert r_mid == pytest.approx(src.slant_range, abs=1e-6)


def test_isce2_stripmapstack_round_trip(src, slcs, out):
    root = sl.write_isce2_stripmapstack(src.folder, out / "strip")
    ref = _ref(src)
    for k, d in enumerate(src.date_strings):
        base = os.path.join(root, "merged", "SLC", d, f"{d}.slc")
        np.testing.assert_array_equal(gdal.Open(base + ".vrt").ReadAsArray(), slcs[k])
        assert _isce_xml(base + ".xml")["data_type"] == "CFLOAT"
    assert os.path.exists(os.path.join(root, "merged", "geom_reference", "los.rdr.vrt"))
    rel = src.bperp - src.bperp[ref]
    files = sorted(glob.glob(os.path.join(root, "baselines", "*.txt")))
    assert len(files) == len(src.dates) - 1
    for f in files:
        values = dict(line.split() for line in open(f, encoding="utf-8").read().splitlines())
        d2 = os.path.basename(f)[:-4].split("_")[1]
        assert -float(values["PERP_BASELINE_TOP"]) == pytest.approx(rel[src.date_strings.index(d2)])
        assert values["PERP_BASELINE_BOTTOM"] == values["PERP_BASELINE_TOP"]


# ------------------------------------------------------------------------------------------------ OPERA
@pytest.fixture(scope="module")
def opera(src, out):
    return sl.write_opera_cslc(src.folder, out / "opera")


def _gdal_georef(path, layer="VV"):
    """(HDF5-driver geotransform, projection), (netCDF-driver geotransform, EPSG) of a CSLC layer."""
    h = gdal.Open(f'HDF5:"{path}"://data/{layer}')
    n = gdal.Open(f'NETCDF:"{path}":/data/{layer}')
    srs = n.GetSpatialRef()
    return (h.GetGeoTransform(), _epsg_of(h.GetProjection())), (n.GetGeoTransform(), int(srs.GetAuthorityCode(None)))


def _epsg_of(wkt):
    """EPSG code of a WKT (None for none): GDAL ≤ 3.6's HDF5 driver gives no projection for a CSLC, later ones do."""
    if not wkt:
        return None
    srs = osr.SpatialReference()
    srs.ImportFromWkt(wkt)
    return int(srs.GetAuthorityCode(None))


def _expected_gt(f):
    x, y = f["data/x_coordinates"][:], f["data/y_coordinates"][:]
    dx, dy = float(f["data/x_spacing"][()]), float(f["data/y_spacing"][()])
    return (x[0] - dx / 2, dx, 0.0, y[0] - dy / 2, 0.0, dy)


def test_opera_cslc_round_trip(src, slcs, opera):
    cslc = [p for p in opera if "STATIC" not in p]
    assert len(cslc) == len(src.dates)
    t = src.transform
    for k, path in enumerate(cslc):
        name = os.path.basename(path)
        assert name.startswith(f"OPERA_L2_CSLC-S1_T087-185683-IW2_{src.date_strings[k]}T161651Z_")
        assert name.endswith("Z_S1A_VV_v1.1.h5")
        with h5py.File(path, "r") as f:
            np.testing.assert_array_equal(f["data/VV"][...], slcs[k])
            start = f["identification/zero_doppler_start_time"][()].decode()
            assert start.startswith(src.dates[k].strftime("%Y-%m-%d"))
            assert f["metadata/processing_information/input_burst_metadata/wavelength"][()] == src.wavelength
            assert f["identification/orbit_pass_direction"][()].decode() == src.orbit.capitalize()
            assert f["data/projection"].attrs["epsg_code"] == src.epsg()
            np.testing.assert_allclose(f["data/x_coordinates"][:], t.c + (np.arange(src.cols) + 0.5) * t.a)
            gt = _expected_gt(f)
        (hgt, hproj), (ngt, nepsg) = _gdal_georef(path)
        assert ngt == pytest.approx(gt) and ngt == pytest.approx((t.c, t.a, t.b, t.f, t.d, t.e))
        assert nepsg == src.epsg()
        # GDAL's HDF5 driver does not georeference CSLCs (nor the real one, see the structure test below); from
        # some version on (Debian sid's) it gives the projection, still without the geotransform
        assert hgt == (0.0, 1.0, 0.0, 0.0, 0.0, 1.0) or hgt == pytest.approx(gt)
        assert hproj in (None, src.epsg())
        np.testing.assert_array_equal(gdal.Open(f'HDF5:"{path}"://data/VV').ReadAsArray(), slcs[k])
    with h5py.File(opera[-1], "r") as f:
        le, ln, lu = sl.los_vector(src.incidence(), src.heading_deg)
        np.testing.assert_allclose(f["data/los_east"][...], le, atol=1e-6)
        np.testing.assert_allclose(f["data/los_north"][...], ln, atol=1e-6)
        up = np.sqrt(1 - f["data/los_east"][...].astype(float) ** 2 - f["data/los_north"][...].astype(float) ** 2)
        np.testing.assert_allclose(up, lu, atol=1e-6)


def _orbit(f):
    from scipy.interpolate import CubicHermiteSpline

    g = f["metadata/orbit"]
    epoch = dt.datetime.strptime(g["reference_epoch"][()].decode(), "%Y-%m-%d %H:%M:%S.%f")
    t = g["time"][:]
    pos = np.stack([g[f"position_{a}"][:] for a in "xyz"], axis=1)
    vel = np.stack([g[f"velocity_{a}"][:] for a in "xyz"], axis=1)
    return epoch, CubicHermiteSpline(t, pos, vel), CubicHermiteSpline(t, vel, np.gradient(vel, t, axis=0))


def _zero_doppler(target, p, v, t0):
    t = t0
    for _ in range(30):
        f = np.dot(p(t) - target, v(t))
        df = np.dot(v(t), v(t)) + np.dot(p(t) - target, v.derivative()(t))
        t -= f / df
    return p(t), v(t)


def test_opera_orbits_give_the_stack_baselines(src, opera):
    """B⊥ recomputed from the state vectors at the scene centre = baselines.csv relative to the reference."""
    from pyproj import Transformer

    cslc = [p for p in opera if "STATIC" not in p]
    ref = _ref(src)
    with h5py.File(cslc[ref], "r") as f:
        x, y = f["data/x_coordinates"][:], f["data/y_coordinates"][:]
        epsg = int(f["data/projection"][()])
        lon, lat = Transformer.from_crs(epsg, 4326, always_xy=True).transform(x[src.cols // 2], y[src.rows // 2])
        target = sl.geodetic_to_ecef(lat, lon, 0.0)
        epoch, p, v = _orbit(f)
        t_mid = 172800.0 + 0.1
        m, vm = _zero_doppler(target, p, v, t_mid)
    u = (m - target) / np.linalg.norm(m - target)
    east, north, up = sl.enu_basis(lat, lon)
    assert math.degrees(math.acos(np.dot(u, up))) == pytest.approx(src.incidence_deg, abs=0.05)
    heading = math.degrees(math.atan2(np.dot(vm, east), np.dot(vm, north)))
    assert (heading - src.heading_deg + 180) % 360 - 180 == pytest.approx(0, abs=0.5)
    rel = src.bperp - src.bperp[ref]
    for k, path in enumerate(cslc):
        with h5py.File(path, "r") as f:
            _, ps, vs = _orbit(f)
        s, _ = _zero_doppler(target, ps, vs, t_mid)
        bperp = sl.plugin_bperp_sign(target, m, vm, s)
        assert bperp == pytest.approx(rel[k], abs=1e-3)
        # the same geometry through ISCE2 computeBaseline's formula gives the opposite sign
        rng, aa, srng = np.linalg.norm(target - m), np.linalg.norm(s - m), np.linalg.norm(target - s)
        if aa > 1e-6:
            cos = (rng ** 2 + aa ** 2 - srng ** 2) / (2 * rng * aa)
            isce = np.sign(np.dot(np.cross(target - m, s - m), vm)) * aa * math.sqrt(max(0.0, 1 - cos ** 2))
            assert isce == pytest.approx(-rel[k], abs=1e-2)


def test_plugin_bperp_sign_is_the_phase_sign():
    """Flat-Earth check of the convention the fixtures rely on: with SLC phase −4π/λ·range, a height Δh at constant
    reference range gives φ_sec − φ_ref = +4π/λ·B⊥·Δh/(R sinθ) for B⊥ = plugin_bperp_sign (= SNAP/Doris sign)."""
    inc, rng, lam, dh = math.radians(39.0), 875e3, 0.0555, 10.0
    target = np.zeros(3)
    m = target + rng * np.array([-math.sin(inc), 0.0, math.cos(inc)])   # x east, y north (flight), z up
    vel = np.array([0.0, 7500.0, 0.0])
    e = np.array([math.cos(inc), 0.0, math.sin(inc)])
    for shift in (100.0, -60.0):
        s = m + shift * e
        b = sl.plugin_bperp_sign(target, m, vel, s)
        assert b == pytest.approx(shift)
        theta = math.acos((m[2] - dh) / rng)
        raised = m + rng * np.array([math.sin(theta), 0.0, -math.cos(theta)])

        def phase(a, p):
            return -4 * math.pi / lam * np.linalg.norm(a - p)

        dphi = (phase(s, raised) - phase(m, raised)) - (phase(s, target) - phase(m, target))
        assert dphi == pytest.approx(4 * math.pi / lam * b * dh / (rng * math.sin(inc)), rel=1e-4)
        # ISCE2 computeBaseline direction: opposite; jLinda (SNAP) look-angle rule: same
        assert np.sign(np.dot(np.cross(target - m, s - m), vel)) == -np.sign(b)
        look_ref = math.acos(np.dot([0, 0, 1], (m - target) / rng))
        look_sec = math.acos(np.dot([0, 0, 1], (s - target) / np.linalg.norm(s - target)))
        assert (look_ref > look_sec) == (b > 0)


@pytest.mark.skipif(not os.path.exists(REAL_CSLC), reason="real OPERA sample not found")
def test_opera_fixture_has_the_real_files_structure(opera):
    fake = [p for p in opera if "STATIC" not in p][0]

    def walk(path):
        items = {}
        with h5py.File(path, "r") as f:
            def visit(name, obj):
                if isinstance(obj, h5py.Dataset):
                    items[name] = (obj.dtype, obj.ndim, set(obj.attrs))
            f.visititems(visit)
            root = {k: f.attrs.get_id(k).get_type().is_variable_str() for k in f.attrs}
            named = isinstance(f.get("complex64"), h5py.Datatype)
        return items, root, named

    real_items, real_root, real_named = walk(REAL_CSLC)
    fake_items, fake_root, fake_named = walk(fake)
    assert fake_root == real_root and fake_named and real_named
    for name, (dtype, ndim, attrs) in fake_items.items():
        assert name in real_items, name
        rdtype, rndim, rattrs = real_items[name]
        assert (dtype.kind, dtype.names, ndim) == (rdtype.kind, rdtype.names, rndim), name
        assert attrs == rattrs, name
    for group in ("identification", "metadata/orbit", "data"):
        wanted = {n for n in real_items if n.startswith(group + "/") and n.count("/") == group.count("/") + 1}
        assert wanted <= set(fake_items), sorted(wanted - set(fake_items))
    # GDAL sees both the same way: no georeferencing through HDF5, corner-based geotransform through netCDF
    (hgt_r, hproj_r), (ngt_r, epsg_r) = _gdal_georef(REAL_CSLC)
    (hgt_f, hproj_f), (ngt_f, epsg_f) = _gdal_georef(fake)
    assert hgt_r == hgt_f and (hproj_r is None) == (hproj_f is None)
    with h5py.File(REAL_CSLC, "r") as f:
        assert ngt_r == pytest.approx(_expected_gt(f)) and epsg_r == f["data/projection"].attrs["epsg_code"]
        assert hproj_r in (None, epsg_r)
    with h5py.File(fake, "r") as f:
        assert ngt_f == pytest.approx(_expected_gt(f))
        assert hproj_f in (None, epsg_f)


@pytest.mark.skipif(not os.path.exists(REAL_STATIC), reason="real OPERA static sample not found")
def test_opera_static_fixture_matches_the_real_static_layers(opera):
    with h5py.File(REAL_STATIC, "r") as real, h5py.File(opera[-1], "r") as fake:
        for name in ("los_east", "los_north", "local_incidence_angle", "layover_shadow_mask", "x_coordinates",
                     "y_coordinates", "projection"):
            r, f = real["data/" + name], fake["data/" + name]
            assert (r.dtype, r.ndim, set(r.attrs)) == (f.dtype, f.ndim, set(f.attrs)), name
        assert fake["identification/product_type"][()] == real["identification/product_type"][()]


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_lat_lon_rasters_are_the_geolocation_when_present(src, slcs, out):
    """A stack folder with lat*/lon* rasters: radar-geometry layouts carry those values, not the CRS's."""
    import rasterio

    folder = out / "with_latlon"
    folder.mkdir()
    for p in src.paths + [os.path.join(src.folder, "baselines.csv"), os.path.join(src.folder, "stack.json")]:
        os.symlink(p, folder / os.path.basename(p))
    lat, lon = src.latlon()
    profile = dict(driver="GTiff", width=src.cols, height=src.rows, count=1, dtype="float64")
    for name, values in (("lat.tif", lat + 0.01), ("lon.tif", lon - 0.02)):
        with rasterio.open(folder / name, "w", **profile) as dst:
            dst.write(values, 1)
    tops = sl.write_isce2_topsstack(folder, out / "tops_latlon")
    geom = os.path.join(tops, "merged", "geom_reference")
    np.testing.assert_array_equal(gdal.Open(os.path.join(geom, "lat.rdr.full.vrt")).ReadAsArray(), lat + 0.01)
    np.testing.assert_array_equal(gdal.Open(os.path.join(geom, "lon.rdr.full.vrt")).ReadAsArray(), lon - 0.02)
    dim = sl.write_snap_dimap(folder, out / "snap_latlon", radar_geometry=True)
    root = ET.parse(dim).getroot()
    info = [i for i in root.find("Tie_Point_Grids").findall("Tie_Point_Grid_Info")
            if i.findtext("TIE_POINT_GRID_NAME") == "latitude"][0]
    nx, ny = int(info.findtext("NCOLS")), int(info.findtext("NROWS"))
    grid = np.fromfile(dim[:-4] + ".data/tie_point_grids/latitude.img", dtype=">f4").reshape(ny, nx)
    assert grid[0, 0] == pytest.approx(lat[0, 0] + 0.01, abs=1e-5)
    assert grid[-1, -1] == pytest.approx(lat[-1, -1] + 0.01, abs=1e-5)


# ------------------------------------------------------------------------------------------------ multi-band
@pytest.mark.parametrize("name", ["stack.tif", "stack.vrt"])
def test_multiband_round_trip(src, slcs, out, name):
    path = sl.write_multiband(src.folder, out / "multi" / name)
    ds = gdal.Open(path)
    assert ds.RasterCount == len(src.dates)
    for k in range(ds.RasterCount):
        band = ds.GetRasterBand(k + 1)
        assert band.GetDescription() == src.date_strings[k] and band.DataType == gdal.GDT_CFloat32
        np.testing.assert_array_equal(band.ReadAsArray(), slcs[k])
    t = src.transform
    assert ds.GetGeoTransform() == pytest.approx((t.c, t.a, t.b, t.f, t.d, t.e))
    folder = os.path.dirname(path)
    assert os.path.exists(os.path.join(folder, "baselines.csv")) and os.path.exists(os.path.join(folder, "stack.json"))
