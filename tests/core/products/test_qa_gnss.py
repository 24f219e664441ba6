"""QA: GNSS velocity files as users have them (saved by spreadsheets, with gaps)."""

import pytest

from egms_plugin.core.errors import InputError
from egms_plugin.core.products.gnss import read_aepnd_csv

HEADER = "#Latitude,Longitude,N,E,Up,SigmaN,SigmaE,SigmaUP,easting,northing\n"
ROWS = ["38.0,12.4,3.0,0.5,-1.9,0.3,0.3,0.8,4533284.4,1661138.7",
        "38.0,12.97,3.0,0.5,-1.9,0.3,0.3,0.8,4583676.3,1662906.5",
        "38.45,12.4,3.0,0.5,-1.9,0.3,0.3,0.8,4530000.0,1712000.0"]


def test_latin1_file_is_read(tmp_path):
    """A comment with 'ü' saved in Latin-1 / Windows-1252 (what a spreadsheet writes on Windows)."""
    path = tmp_path / "gnss.csv"
    path.write_bytes(("# Geschwindigkeitsmodell Zürich\n" + HEADER + "\n".join(ROWS) + "\n").encode("cp1252"))
    model = read_aepnd_csv(path)
    assert len(model) == 3 and model.up.tolist() == [-1.9] * 3


def test_binary_file_is_named_as_not_a_text_csv(tmp_path):
    path = tmp_path / "model.gpkg"
    path.write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 4)
    with pytest.raises(InputError, match="model.gpkg: cannot read the GNSS file — a binary file .*not an A-EPND CSV text"):
        read_aepnd_csv(path)


def test_stations_without_values_are_reported(tmp_path):
    path = tmp_path / "gnss.csv"
    rows = ROWS + ["38.45,12.97,NaN,0.5,-1.9,0.3,0.3,0.8,4580000.0,1713000.0"]
    path.write_text(HEADER + "\n".join(rows) + "\n")
    model = read_aepnd_csv(path)
    assert len(model) == 3
    assert "3 stations (1 without finite coordinates or velocities ignored)" in model.describe()


def test_quoted_spreadsheet_export_is_read(tmp_path):
    """LibreOffice/Excel 'Save as CSV' quotes the text cells (the header) or every cell, with CRLF line ends."""
    names = HEADER.lstrip("#").strip().split(",")
    quoted_header = ",".join(f'"{n}"' for n in names)
    for tag, rows in (("header", ROWS), ("all", [",".join(f'"{v}"' for v in r.split(",")) for r in ROWS])):
        path = tmp_path / f"{tag}.csv"
        path.write_bytes(("\r\n".join([quoted_header] + rows) + "\r\n").encode())
        model = read_aepnd_csv(path)
        assert len(model) == 3 and model.east.tolist() == [0.5] * 3, tag


def test_semicolon_file_with_decimal_commas_is_read(tmp_path):
    """A European spreadsheet's CSV: ';' between cells, ',' as the decimal mark."""
    text = HEADER.replace(",", ";") + "\n".join(r.replace(",", ";").replace(".", ",") for r in ROWS) + "\n"
    path = tmp_path / "gnss.csv"
    path.write_text(text)
    model = read_aepnd_csv(path)
    assert model.east.tolist() == [0.5] * 3 and model.up.tolist() == [-1.9] * 3
    assert model.easting[0] == pytest.approx(4533284.4)
