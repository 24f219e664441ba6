"""EGMS export of what the format cannot hold (issue 11 defect 12): field names with a comma, quote or line break,
infinite values, duplicate pids and spreadsheet formulas are mended, counted in a warning, and the zip re-imports
to the same numbers."""

from __future__ import annotations

import zipfile

import numpy as np

from egms_plugin.core.egms import export as egms_export
from egms_plugin.core.egms import importer as egms_import
from egms_plugin.core.io.points import PointTable, read_points
from egms_plugin.core.progress import Progress


class Log(Progress):
    def __init__(self):
        self.warnings = []

    def warn(self, message):
        self.warnings.append(message)


def _table(cols):
    n = len(next(iter(cols.values())))
    x, y = np.linspace(4.0e6, 4.001e6, n), np.linspace(3.0e6, 3.001e6, n)
    cols = {"pid": np.array([f"P{k:09d}" for k in range(n)], dtype=object), **cols}
    return PointTable(cols, x, y, "EPSG:3035", {"EGMS_PRODUCT_LEVEL": "L2b"})


def _export_and_import(table, tmp_path):
    out = tmp_path / "EGMS_L2b_001_0002_IW1_VV_2020_2020_1.zip"
    log = Log()
    egms_export.export_egms(table, out, progress=log)
    egms_import.import_egms(out, tmp_path / "back.gpkg")
    with zipfile.ZipFile(out) as zf:
        header = zf.read(f"{out.stem}.csv").decode().split("\n", 1)[0]
    return read_points(tmp_path / "back.gpkg"), header, log.warnings


def test_field_names_with_comma_quote_or_line_break_are_renamed_and_re_import(tmp_path):
    table = _table({"a,b": np.array([1.25, 2.5]), 'say "x"': np.array([3.0, 4.0]), "two\nlines": np.array([5.0, 6.0]),
                    "a_b": np.array([7.0, 8.0]), "20200101": np.array([0.0, -1.5]), "20200113": np.array([0.5, 2.0])})
    back, header, warnings = _export_and_import(table, tmp_path)
    assert header.split(",")[-6:] == ["a_b_", "say _x_", "two_lines", "a_b", "20200101", "20200113"]
    assert back.columns["a_b_"].tolist() == [1.25, 2.5]  # renamed clear of the layer's own a_b …
    assert back.columns["a_b"].tolist() == [7.0, 8.0]  # … which keeps its name and values
    assert back.columns["say _x_"].tolist() == [3.0, 4.0] and back.columns["two_lines"].tolist() == [5.0, 6.0]
    assert back.columns["20200101"].tolist() == [0.0, -1.5] and back.columns["20200113"].tolist() == [0.5, 2.0]
    assert warnings == [
        f"field {old!r} is written as {new!r}: an EGMS CSV header has no quoting, so a comma, quote or line break "
        "cannot be part of a name" for old, new in (("a,b", "a_b_"), ('say "x"', "say _x_"), ("two\nlines", "two_lines"))]


def test_infinite_values_are_written_empty_and_counted(tmp_path):
    table = _table({"mean_velocity": np.array([np.inf, 1.5, 2.5]), "20200101": np.array([-np.inf, 1.0, np.nan]),
                    "20200113": np.array([0.5, np.inf, -2.0])})
    back, _header, warnings = _export_and_import(table, tmp_path)
    np.testing.assert_array_equal(back.columns["mean_velocity"], [np.nan, 1.5, 2.5])
    np.testing.assert_array_equal(back.columns["20200101"], [np.nan, 1.0, np.nan])
    np.testing.assert_array_equal(back.columns["20200113"], [0.5, np.nan, -2.0])
    assert warnings == ["3 infinite value(s) written as empty cells: mean_velocity (1), 20200101 (1), 20200113 (1)"]


def test_duplicate_pids_keep_the_first_point_and_are_counted(tmp_path):
    table = _table({"20200101": np.array([1.0, 2.0, 3.0, 4.0]), "20200113": np.array([5.0, 6.0, 7.0, 8.0])})
    table.columns["pid"] = np.array(["A000000001", "B000000001", "A000000001", "A000000001"], dtype=object)
    back, _header, warnings = _export_and_import(table, tmp_path)
    assert back.columns["pid"].tolist() == ["A000000001", "B000000001"]
    assert back.columns["20200101"].tolist() == [1.0, 2.0] and back.columns["20200113"].tolist() == [5.0, 6.0]
    assert warnings == ["2 point(s) whose pid an earlier point has were dropped (the first one of each pid is kept)"]


def test_spreadsheet_formulas_get_the_owasp_guard(tmp_path):
    notes = ["=HYPERLINK(\"http://x\")", "+SUM(A1)", "-1.5", "-2+3", "@cmd", "\tx", "ok", "+7"]
    table = _table({"note": np.array(notes, dtype=object), "20200101": np.arange(8.0), "20200113": np.ones(8)})
    back, _header, warnings = _export_and_import(table, tmp_path)
    assert back.columns["note"].tolist() == ["'=HYPERLINK(\"http://x\")", "'+SUM(A1)", "-1.5", "'-2+3", "'@cmd",
                                             "'\tx", "ok", "+7"]
    assert back.columns["20200101"].tolist() == list(np.arange(8.0))
    assert warnings == ["5 value(s) of 'note' start like a spreadsheet formula (= + - @); written with a leading ' "
                        "so that a spreadsheet shows them as text"]
