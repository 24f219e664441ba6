"""GNSS velocity models: A-EPND CSV parsing, interpolation rule, projection on the LOS."""

import numpy as np
import pytest

from egms_plugin.core import conventions as cv
from egms_plugin.core.errors import InputError
from egms_plugin.core.products import gnss

AEPND = """#Latitude,Longitude,N,E,Up,SigmaN,SigmaE,SigmaUP,easting,northing
38.70,13.17,15.1,20.3,-1.2,0.3,0.4,0.9,4600000.0,1740000.0
38.70,13.74,15.3,20.9,-0.8,0.3,0.4,0.9,4650000.0,1740000.0
39.15,13.17,16.0,20.0,-1.6,0.3,0.4,0.9,4600000.0,1790000.0
39.15,13.74,16.2,20.6,-1.1,0.3,0.4,0.9,4650000.0,1790000.0
"""


def _write(tmp_path, text, name="EGMS_AEPND_V2023.1.csv"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_reads_aepnd_with_hash_header(tmp_path):
    model = gnss.read_aepnd_csv(_write(tmp_path, AEPND))
    assert len(model) == 4 and model.source == "EGMS_AEPND_V2023.1.csv"
    order = np.lexsort((model.easting, model.northing))  # stations may be reordered when deduplicated
    np.testing.assert_array_equal(model.easting[order], [4600000, 4650000, 4600000, 4650000])
    np.testing.assert_array_equal(model.east[order], [20.3, 20.9, 20.0, 20.6])  # "E" is east, not easting
    np.testing.assert_array_equal(model.north[order], [15.1, 15.3, 16.0, 16.2])
    np.testing.assert_array_equal(model.up[order], [-1.2, -0.8, -1.6, -1.1])
    np.testing.assert_array_equal(model.sigma_up[order], [0.9] * 4)


def test_projects_latitude_longitude_when_no_easting(tmp_path):
    # the EPSG:3035 projection centre (10°E, 52°N) maps to its false easting/northing (4321000, 3210000)
    text = "Latitude; Longitude; N; E; Up\n52.0; 10.0; 1; 2; 3\n52.5; 10.0; 1; 2; 3\n"
    model = gnss.read_aepnd_csv(_write(tmp_path, text))
    i = int(np.argmin(model.northing))
    assert model.easting[i] == pytest.approx(4321000.0, abs=1e-3)
    assert model.northing[i] == pytest.approx(3210000.0, abs=1e-3)
    assert model.northing[1 - i] - model.northing[i] == pytest.approx(55_600, rel=0.01)  # 0.5° of latitude


def test_comment_lines_and_blank_lines_skipped(tmp_path):
    model = gnss.read_aepnd_csv(_write(tmp_path, "# A-EPND model, release 2023.1\n\n" + AEPND + "# end\n\n"))
    assert len(model) == 4


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "not an A-EPND GNSS velocity CSV"),
        ("station,vx,vy\nA,1,2\n", "not an A-EPND GNSS velocity CSV"),
        ("#Latitude,Longitude,N,E,Up\n", "has a header but no data lines"),
        ("#Latitude,Longitude,N,E,Up\n38.7,13.1,1.0,abc,2.0\n", "line 2: 'abc' in column E is not a number"),
        ("#Latitude,Longitude,N,E,Up\n38.7,13.1,1.0,2.0\n", "line 2 has 4 values, the header has 5"),
        ("#N,E,Up\n1,2,3\n", "neither easting/northing (EPSG:3035) nor Latitude/Longitude"),
        ("#Latitude,Longitude,N,E,Up\n138.7,13.1,1.0,2.0,3\n", "outside WGS84 ranges"),
    ],
    ids=["empty", "other-csv", "header-only", "not-a-number", "short-line", "no-coordinates", "bad-latitude"],
)
def test_bad_gnss_file_is_named_with_the_problem(tmp_path, text, message):
    path = _write(tmp_path, text, "bad.csv")
    with pytest.raises(InputError, match="bad.csv") as err:
        gnss.read_aepnd_csv(path)
    assert message in str(err.value)


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(InputError, match="cannot read the GNSS file"):
        gnss.read_aepnd_csv(str(tmp_path / "absent.csv"))
    binary = tmp_path / "model.csv"
    binary.write_bytes(b"PK\x03\x04\xff\xfe\x00\x91")
    with pytest.raises(InputError, match="model.csv: cannot read the GNSS file"):
        gnss.read_aepnd_csv(str(binary))


def test_linear_field_is_reproduced_inside_the_hull():
    rng = np.random.default_rng(3)
    sx, sy = rng.uniform(0, 2e5, 40), rng.uniform(0, 1e5, 40)

    def field(x, y):
        return 1.0 + 2e-5 * x - 3e-5 * y, -0.5 + 1e-5 * y, 4e-6 * x

    model = gnss.gnss_from_arrays(sx + 4.3e6, sy + 2.9e6, *field(sx, sy))
    px, py = rng.uniform(5e4, 1.5e5, 500), rng.uniform(3e4, 7e4, 500)
    from scipy.spatial import Delaunay

    inside = Delaunay(np.column_stack([sx, sy])).find_simplex(np.column_stack([px, py])) >= 0
    e, n, u = gnss.interpolate(model, px + 4.3e6, py + 2.9e6)
    te, tn, tu = field(px, py)
    # piecewise-linear interpolation of a linear field is exact (up to rounding of 1e5-m coordinates)
    for got, want in ((e, te), (n, tn), (u, tu)):
        np.testing.assert_allclose(got[inside], want[inside], atol=1e-9)
    assert inside.sum() > 400


def test_outside_hull_nearest_boundary_value_then_not_covered():
    # a square of stations 0..100 km with east = x/10 km: the boundary x = 100 km carries 10 mm/yr
    sx = np.array([0.0, 1e5, 0.0, 1e5])
    sy = np.array([0.0, 0.0, 1e5, 1e5])
    model = gnss.gnss_from_arrays(sx, sy, sx / 1e4, np.zeros(4), sy / 1e4)
    px = np.array([99_999.0, 100_001.0, 130_000.0, 149_999.0, 150_001.0, 120_000.0])
    py = np.array([50_000.0, 50_000.0, 20_000.0, 50_000.0, 50_000.0, 120_000.0])
    e, _, u = gnss.interpolate(model, px, py, max_extrapolation_m=50_000)
    np.testing.assert_allclose(e[:5], [9.9999, 10.0, 10.0, 10.0, np.nan], atol=1e-9)  # continuous at the hull
    np.testing.assert_allclose(u[:4], [5.0, 5.0, 2.0, 5.0], atol=1e-9)  # value of the nearest boundary point
    # beyond the corner (distance 28.3 km): the corner station's value
    assert (e[5], u[5]) == pytest.approx((10.0, 10.0))


def test_degenerate_station_sets():
    one = gnss.gnss_from_arrays([0.0], [0.0], [1.0], [2.0], [3.0])
    e, n, u = gnss.interpolate(one, [0.0, 30_000.0, 60_000.0], [0.0, 40_000.0, 0.0])
    np.testing.assert_allclose(e, [1.0, 1.0, np.nan])  # 50 km reach: 50 km in, 60 km out
    line = gnss.gnss_from_arrays([0.0, 1e4, 2e4], [0.0, 0.0, 0.0], [0.0, 1.0, 4.0], [0, 0, 0], [0, 0, 0])
    e, _, _ = gnss.interpolate(line, [5_000.0, 15_000.0, 15_000.0], [0.0, 3_000.0, 60_000.0])
    np.testing.assert_allclose(e, [0.5, 2.5, np.nan])  # linear along the polyline, nothing beyond 50 km


def test_duplicates_merged_and_nan_stations_dropped():
    model = gnss.gnss_from_arrays([0, 0, 1e4, 2e4, np.nan], [0, 0, 0, 1e4, 0], [1.0, 3.0, 0.0, 0.0, 9.0],
                                  [0, 0, 0, 0, 0], [0, 0, 0, 0, np.nan])
    assert len(model) == 3
    assert model.east[(model.easting == 0)][0] == pytest.approx(2.0)
    with pytest.raises(InputError, match="stations.csv: no station with finite coordinates"):
        gnss.gnss_from_arrays([np.nan], [0], [1], [1], [1], source="stations.csv")


def test_projection_on_the_los_uses_the_convention():
    model = gnss.gnss_from_arrays([0.0, 1e5, 0.0], [0.0, 0.0, 1e5], [2.0] * 3, [-1.0] * 3, [5.0] * 3)
    le, ln, lu = cv.los_vector(np.array([30.0, 40.0]), np.array([-10.0, 190.0]))
    los, e, n, u = gnss.los_velocity(model, [1e4, 2e4], [1e4, 2e4], le, ln, lu)
    np.testing.assert_allclose(los, 2.0 * le - 1.0 * ln + 5.0 * lu, rtol=1e-12)
    # uplift reads positive on both geometries; eastward motion is negative ascending, positive descending
    up_only = gnss.gnss_from_arrays([0.0, 1e5, 0.0], [0.0, 0.0, 1e5], [0.0] * 3, [0.0] * 3, [5.0] * 3)
    assert (gnss.los_velocity(up_only, [1e4, 2e4], [1e4, 2e4], le, ln, lu)[0] > 0).all()
    assert los[0] < los[1]


def test_velocity_field_names_are_recognised():
    assert gnss.velocity_fields(["id", "VE", "vn", "Vu"]) == {"east": "VE", "north": "vn", "up": "Vu"}
    assert gnss.velocity_fields(["E", "N", "Up", "easting"]) == {"east": "E", "north": "N", "up": "Up"}
    assert gnss.velocity_fields(["easting", "northing"]) == {"east": None, "north": None, "up": None}
