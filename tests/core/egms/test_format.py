"""EGMS product format: names, columns, releases, XML header, product info."""

import datetime as dt
import zipfile

import pytest

from egms_plugin.core.egms import format as fmt
from egms_plugin.core.egms import names as file_names
from egms_plugin.core.egms import product


def test_parse_real_and_synthetic_names():
    p = file_names.parse_product_name("/data/EGMS_L2b_022_0845_IW2_VV_2020_2024_1.zip")
    assert (p.level, p.track, p.burst, p.swath, p.polarisation) == ("L2b", 22, 845, 2, "VV")
    assert (p.release, p.version, p.stem) == ("2020_2024", 1, "EGMS_L2b_022_0845_IW2_VV_2020_2024_1")
    old = file_names.parse_product_name("EGMS_L2a_146_0296_IW3_VV.csv")  # oldest release: no _yyyy_yyyy_v
    assert (old.level, old.track, old.burst, old.swath, old.release, old.version) == ("L2a", 146, 296, 3, None, None)
    v2 = file_names.parse_product_name("EGMS_L2a_146_0296_IW3_VV_2018_2022_2")  # version _2 replaces _1
    assert v2.version == 2 and v2.release == "2018_2022"
    l3 = file_names.parse_product_name("EGMS_L3_E43N17_100km_U_2019_2023_1.zip")
    assert (l3.level, l3.tile, l3.component, l3.release) == ("L3", "E43N17", "U", "2019_2023")
    assert (l3.tile_east, l3.tile_north) == (43, 17)
    assert file_names.parse_product_name("E43N17_100km_U.tiff") is None
    assert file_names.parse_product_name("my_points.csv") is None


def test_make_product_name_round_trips():
    stem = file_names.make_product_name("L2b", track=22, burst=845, swath=2, start_year=2020, end_year=2024, version=1)
    assert stem == "EGMS_L2b_022_0845_IW2_VV_2020_2024_1"
    assert file_names.make_product_name("L2a", track=1, burst=7, swath=1) == "EGMS_L2a_001_0007_IW1_VV"
    l3 = file_names.make_product_name("L3", tile=(43, 17), component="E", start_year=2019, end_year=2023, version=2)
    assert l3 == "EGMS_L3_E43N17_100km_E_2019_2023_2"
    assert file_names.parse_product_name(l3).component == "E"
    with pytest.raises(ValueError, match="unknown product level"):
        file_names.make_product_name("L4")


def test_release_aliases_and_kinds():
    new = ["pid", "height_ortho", "height_ellipse", "rmse_ts", "gnss_velocity", "20200103"]
    old = ["pid", "height", "height_wgs84", "rmse", "20160101"]
    assert [fmt.canonical_name(n) for n in new[:4]] == ["pid", "height", "height_wgs84", "rmse"]
    assert fmt.uses_new_names(new) and not fmt.uses_new_names(old)
    assert fmt.release_name("rmse", new) == "rmse_ts" and fmt.release_name("rmse", old) == "rmse"
    assert fmt.release_name("rmse_ts", old) == "rmse"  # asked in new naming, table uses the old one
    assert fmt.release_name("rmse", ["pid", "height_ortho"]) == "rmse_ts"  # naming implied by other columns
    assert fmt.release_name("mean_velocity", new) == "mean_velocity"
    kinds = {n: fmt.column_kind(n) for n in ("pid", "mp_type", "cluster_label", "line", "pixel", "rmse_ts",
                                              "20200103", "my_extra")}
    assert kinds == {"pid": "string", "mp_type": "integer", "cluster_label": "integer", "line": "integer",
                     "pixel": "integer", "rmse_ts": "real", "20200103": "real", "my_extra": "real"}


def test_date_columns_by_pattern_not_position():
    names = ["pid", "20200103", "easting", "2020010", "20201340", "D20200109", "20200115"]
    assert fmt.date_columns(names) == [("20200103", dt.date(2020, 1, 3)), ("20200115", dt.date(2020, 1, 15))]
    assert fmt.is_date_column("20241225") and not fmt.is_date_column("20241232")


def test_decimals_and_export_order():
    assert fmt.column_decimals("latitude") == 6 and fmt.column_decimals("easting") == 2
    assert fmt.column_decimals("easting", "L3") == 0  # integer cell centres
    assert fmt.column_decimals("rmse_ts") == 1 and fmt.column_decimals("los_up") == 3
    assert fmt.column_decimals("20200103") == 1 and fmt.column_decimals("height_error") is None
    shuffled = ["20200115", "mean_velocity", "height_error", "pid", "easting", "20200103", "northing", "rmse_ts"]
    assert fmt.export_order(shuffled, "L2b") == ["pid", "easting", "northing", "rmse_ts", "mean_velocity",
                                                 "height_error", "20200103", "20200115"]
    assert fmt.spec_order("L2a")[1] == "cluster_label" and "cluster_label" not in fmt.spec_order("L2b")


def test_real_xml_header(egms_sample):
    with zipfile.ZipFile(egms_sample) as zf:
        text = zf.read("EGMS_L2b_022_0845_IW2_VV_2020_2024_1.xml").decode()
    xml = product.parse_xml_header(text)
    assert xml["root"] == "BURST"
    assert (xml["product_level"], xml["track"], xml["burst_id"], xml["sub_swath"]) == ("L2b", "022", "0845", "2")
    assert (xml["dem/version"], xml["gnss/version"]) == ("COPDEM", "2.0")
    assert (xml["reference/count"], xml["dataset/count"]) == ("3", "606")
    with pytest.raises(ValueError, match="not a readable XML header"):
        product.parse_xml_header("<BURST><track>")


def test_detect_level_and_orbit():
    l2 = ["pid", "latitude", "los_east", "20200103"]
    assert product.detect_level(l2) == "L2b" and product.detect_level(l2 + ["cluster_label"]) == "L2a"
    assert product.detect_level(["pid", "easting", "northing", "height", "20200103"]) == "L3"
    assert product.detect_level(l2, xml={"product_level": "l2a"}) == "L2a"  # the header wins
    assert product.detect_level(l2, product=file_names.parse_product_name("EGMS_L2a_001_0001_IW1_VV")) == "L2a"
    assert product.orbit_direction([-0.61, -0.6, float("nan")]) == "ascending"
    assert product.orbit_direction([0.594, 0.6]) == "descending"
    assert product.orbit_direction([float("nan")]) is None


def test_product_info_metadata_round_trip():
    names = ["pid", "cluster_label", "los_east", "20200103"]
    info = product.ProductInfo.from_sources(names, "EGMS_L2a_022_0845_IW2_VV_2018_2022_1.zip",
                                        "<BURST><product_level>L2a</product_level><burst_id>0846</burst_id></BURST>")
    assert (info.level, info.track, info.burst, info.release) == ("L2a", 22, 846, "2018_2022")  # XML wins
    info.orbit = "ascending"
    items = info.metadata_items()
    assert items["EGMS_TRACK"] == "022" and items["EGMS_BURST"] == "0846" and items["EGMS_ORBIT_DIRECTION"] == "ascending"
    back = product.ProductInfo.from_metadata(items)
    assert (back.level, back.track, back.burst, back.swath, back.release, back.orbit) == \
        ("L2a", 22, 846, 2, "2018_2022", "ascending")
    other = product.ProductInfo.from_sources(names, "EGMS_L2a_022_0847_IW2_VV_2018_2022_1.zip")
    merged = info.merge(other)
    assert merged.bursts == [846, 847] and merged.burst is None and merged.track == 22
    assert product.ProductInfo.from_metadata(merged.metadata_items()).bursts == [846, 847]
    assert "track 022" in merged.describe() and "burst 0846, 0847" in merged.describe()


def test_minimal_xml_header_parses():
    info = product.ProductInfo(level="L2a", track=22, burst=845, swath=2, orbit="descending")
    xml = product.parse_xml_header(product.make_xml_header(info, dt.date(2025, 1, 2)))
    assert (xml["product_level"], xml["track"], xml["burst_id"], xml["sub_swath"]) == ("L2a", "022", "0845", "2")
    assert xml["production_date"] == "02/01/2025"


def test_field_vocabularies_prefer_the_specification_then_the_release_names():
    """One vocabulary per quantity, shared by the dock, the quality checks and the products."""
    assert fmt.RMSE_FIELDS[:2] == ("rmse", "rmse_ts") and "RMSE" in fmt.RMSE_FIELDS
    assert fmt.HEIGHT_FIELDS == ("height", "height_ortho")
    assert fmt.first_present(["RMSE", "rmse_ts"], fmt.RMSE_FIELDS) == "rmse_ts"
    assert fmt.first_present(["Rmse"], fmt.RMSE_FIELDS) is None  # exact names, as QgsFields.indexOf
    assert fmt.first_present(["code", "pid"], fmt.POINT_ID_FIELDS) == "pid"
