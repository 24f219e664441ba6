"""Hostile EGMS files (issue 11 defects 6 and 8): an XML bomb, an endless line and thousands of columns end
with a clear InputError naming the file, in bounded memory and time (measured in a subprocess with a cap)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile

import pytest

import egms_plugin
from egms_plugin.core.egms import importer as egms_import
from egms_plugin.core.errors import InputError

PLUGINS = os.path.dirname(os.path.dirname(os.path.abspath(egms_plugin.__file__)))
NAME = "EGMS_L2b_022_0845_IW2_VV_2020_2024_1"
HEADER = "pid,easting,northing,mean_velocity,20200101,20200107\n"
ROW = "1A2B3C4D5E,4321000.5,3210000.5,-1.5,0.0,-0.7\n"

SCRIPT = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from egms_plugin.core.egms.importer import import_egms
from egms_plugin.core.errors import InputError
message = None
try:
    import_egms(sys.argv[2], sys.argv[3])
except InputError as exc:
    message = str(exc)
with open("/proc/self/status") as fh:
    peak = next(int(l.split()[1]) for l in fh if l.startswith("VmHWM:")) * 1024
print(json.dumps({"message": message, "peak": peak}))
"""


def _import_in_subprocess(zip_path, output, timeout=60):
    """Import in a fresh interpreter, killed after ``timeout`` s; its message and peak resident memory."""
    out = subprocess.run([sys.executable, "-c", SCRIPT, PLUGINS, str(zip_path), str(output)],
                         capture_output=True, text=True, timeout=timeout, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _write_run(member, prefix, byte, n, suffix=b""):
    member.write(prefix)
    chunk = byte * (16 << 20)
    for _ in range(n // len(chunk)):
        member.write(chunk)
    member.write(suffix)


@pytest.mark.slow
def test_xml_bomb_is_refused_in_bounded_memory(tmp_path):
    """A ~1 MB zip whose XML member inflates to 1 GB (was read whole: 5.6 GB of memory)."""
    bomb = tmp_path / f"{NAME}.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{NAME}.csv", HEADER + ROW)
        with zf.open(f"{NAME}.xml", "w", force_zip64=True) as member:
            _write_run(member, b"<BURST><note>", b" ", 1 << 30, b"</note></BURST>")
    assert bomb.stat().st_size < 3 << 20
    run = _import_in_subprocess(bomb, tmp_path / "out.gpkg")
    assert run["peak"] < 1 << 30, run
    assert run["message"].startswith(f"{bomb} ({NAME}.xml): the XML metadata is 1024 MiB; at most 16 MiB is read")
    assert "is this an EGMS file?" in run["message"]
    assert not (tmp_path / "out.gpkg").exists()


def test_xml_beside_a_csv_is_capped_too(tmp_path, monkeypatch):
    from egms_plugin.core.egms import sources

    monkeypatch.setattr(sources, "XML_MAX_BYTES", 1000)
    (tmp_path / f"{NAME}.csv").write_text(HEADER + ROW)
    (tmp_path / f"{NAME}.xml").write_text("<BURST>" + " " * 2_000_000 + "</BURST>")
    with pytest.raises(InputError, match=rf"{NAME}\.xml: the XML metadata is 2 MiB"):
        egms_import.find_sources(tmp_path / f"{NAME}.csv")


@pytest.mark.slow
def test_endless_line_stops_at_once_naming_the_line(tmp_path):
    """A ~2 MB zip holding a 2 GB line without a newline (ran > 150 s at 3.3 GB: quadratic append)."""
    endless = tmp_path / f"{NAME}.zip"
    with zipfile.ZipFile(endless, "w", zipfile.ZIP_DEFLATED) as zf, \
            zf.open(f"{NAME}.csv", "w", force_zip64=True) as member:
        _write_run(member, (HEADER + ROW + ROW).encode() + b"1A2B3C4D5F,", b"7", 2 << 30)
    assert endless.stat().st_size < 5 << 20
    run = _import_in_subprocess(endless, tmp_path / "out.gpkg", timeout=60)
    assert run["peak"] < 1 << 30, run
    assert run["message"] == (f"{endless} ({NAME}.csv): line 4 is longer than 1 MiB without a line end "
                              "(an EGMS row is a few kB); the file is damaged or not an EGMS CSV.")
    assert not (tmp_path / "out.gpkg").exists()


@pytest.mark.parametrize("chunk", [64, 300])
def test_long_line_is_named_whatever_the_block_size(tmp_path, monkeypatch, chunk):
    from egms_plugin.core.egms import sources

    monkeypatch.setattr(sources, "LINE_MAX_BYTES", 200)
    path = tmp_path / f"{NAME}.csv"
    path.write_text(HEADER + ROW * 3 + "1A2B3C4D5F," + "7" * 500 + "\n" + ROW)
    source = sources.find_sources(path)[0]
    with pytest.raises(InputError, match=r"line 5 is longer than 0 MiB"):
        list(sources.read_blocks(source, chunk))


def _wide_csv(path, n_dates):
    import datetime as dt

    dates = [(dt.date(2000, 1, 1) + dt.timedelta(days=k)).strftime("%Y%m%d") for k in range(n_dates)]
    with open(path, "w") as fh:
        fh.write("pid,easting,northing," + ",".join(dates) + "\n")
        for i in range(3):
            fh.write(f"1A2B3C4D5{i},4321000.5,3210000.5," + ",".join(f"{k % 7 - 3}.5" for k in range(n_dates)) + "\n")
    return dates


@pytest.mark.parametrize("n_dates", [2500, 5000])
def test_more_columns_than_a_geopackage_holds_are_refused_before_writing(tmp_path, n_dates):
    """Defect 8: > 2000 columns ended in two tracebacks and 'TypeError' (SQLite's 2000-column limit)."""
    path = tmp_path / f"{NAME}.csv"
    _wide_csv(path, n_dates)
    with pytest.raises(InputError) as err:
        egms_import.import_egms(path, tmp_path / "out.gpkg")
    assert str(err.value) == (f"{path}: 3 attribute and {n_dates} date columns; a GeoPackage layer holds at most 1998 "
                              "(SQLite's limit of 2000 columns) — an EGMS product has ~300 dates. Import fewer files "
                              "at once, or split the dates.")
    assert os.listdir(tmp_path) == [path.name]


def test_widest_layer_a_geopackage_holds_is_imported(tmp_path):
    import sqlite3

    path = tmp_path / f"{NAME}.csv"
    dates = _wide_csv(path, 1995)
    result = egms_import.import_egms(path, tmp_path / "out.gpkg")
    assert result.n_points == 3 and len(result.fields) == 1998
    con = sqlite3.connect(tmp_path / "out.gpkg")
    rows = con.execute(f'SELECT pid, "{dates[0]}", "{dates[-1]}" FROM out ORDER BY fid').fetchall()
    con.close()
    assert rows == [(f"1A2B3C4D5{i}", -3.5, 3.5) for i in range(3)]  # k % 7 - 3 + 0.5 for k = 0 and 1994
