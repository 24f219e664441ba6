"""EGMS point ids: reproduce every pid of the real file from its line/pixel, decode/encode round trip."""

import csv
import io
import zipfile

import numpy as np
import pytest

from egms_plugin.core.egms import pid


def test_documented_example():
    assert pid.decode_l2_pid("166ax5Ofja") == {"ipe": 1, "track": 22, "burst": 845, "swath": 2, "pol": 3,
                                               "line": 1217, "pixel": 4670}
    assert pid.l2_pid(1217, 4670, track=22, burst=845, swath=2, pol="VV", ipe=1)[0] == "166ax5Ofja"


def test_round_trip_and_our_ipe():
    rng = np.random.default_rng(0)
    line, pixel = rng.integers(0, 13900, 500), rng.integers(0, 65536, 500)  # 62^5 caps line at 13 977
    ids = pid.l2_pid(line, pixel, track=117, burst=2000, swath=3)
    assert all(len(p) == 10 and p[0] == "0" for p in ids)
    assert len(set(ids)) == len(set(zip(line.tolist(), pixel.tolist())))
    for p, li, pi in zip(ids[:50], line[:50], pixel[:50]):
        d = pid.decode_l2_pid(p)
        assert (d["line"], d["pixel"], d["track"], d["burst"], d["swath"], d["ipe"]) == (li, pi, 117, 2000, 3, 0)
    with pytest.raises(ValueError):
        pid.l2_pid([0], [70000])
    with pytest.raises(ValueError):
        pid.decode_l2_pid("abc")


def test_l3_pid_cells():
    a = pid.l3_pid([4598650.0, 4598699.9, 4598700.0], [1739750.0, 1739701.0, 1739750.0])
    assert a[0] == a[1] != a[2] and all(len(p) == 10 for p in a)
    code = pid.decode_base62(a[0][1:])
    assert (code >> 32, code & 0xFFFFFFFF) == (17397, 45986)


def test_every_pid_of_the_real_file(egms_sample):
    with zipfile.ZipFile(egms_sample) as z:
        name = next(n for n in z.namelist() if n.endswith(".csv"))
        reader = csv.reader(io.TextIOWrapper(z.open(name), encoding="utf-8"))
        header = next(reader)
        i_pid, i_line, i_pixel = header.index("pid"), header.index("line"), header.index("pixel")
        rows = [(r[i_pid], int(r[i_line]), int(r[i_pixel])) for r in reader]
    ours = pid.l2_pid([r[1] for r in rows], [r[2] for r in rows], track=22, burst=845, swath=2, ipe=1)
    assert len(rows) == 11590
    assert list(ours) == [r[0] for r in rows]
