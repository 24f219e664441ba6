"""EGMS measurement-point ids (ARCHITECTURE.md, EGMS format: point ids), vectorised.

L2 (Basic/Calibrated): ``base62(IPE, 1) + base62(burst_id, 4) + base62(point_id, 5)`` with
``burst_id = pol | swath << 2 | burst << 4 | track << 16`` (VV = 3) and
``point_id = pixel + (line << 16)``.  L3 (Ortho):
``base62(IPE, 1) + base62(floor(N/100)·2³² + floor(E/100), 9)``.  Alphabet
``0-9A-Za-z``; IPE 0 (undefined) for our own products.

>>> decode_l2_pid("166ax5Ofja")["line"], decode_l2_pid("166ax5Ofja")["pixel"]
(1217, 4670)
>>> str(l2_pid(1217, 4670, track=22, burst=845, swath=2, ipe=1)[0])
'166ax5Ofja'
"""

from __future__ import annotations

import numpy as np

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
POL_CODES = {"HH": 0, "HV": 1, "VH": 2, "VV": 3}
_ALPHA = np.frombuffer(ALPHABET.encode("ascii"), dtype=np.uint8)
_INDEX = {c: i for i, c in enumerate(ALPHABET)}


def encode_base62(values, width):
    """Base-62 strings of non-negative integers, left-padded with '0' to ``width`` characters."""
    v = np.atleast_1d(np.asarray(values, dtype=np.uint64)).copy()
    limit = np.uint64(62) ** np.uint64(width) if width < 11 else None
    if limit is not None and v.size and v.max() >= limit:
        raise ValueError(f"value {int(v.max())} does not fit in {width} base-62 characters")
    digits = np.empty((v.size, width), dtype=np.uint8)
    for k in range(width - 1, -1, -1):
        digits[:, k] = _ALPHA[(v % np.uint64(62)).astype(np.intp)]
        v //= np.uint64(62)
    return digits.view(f"S{width}").ravel().astype(f"U{width}")


def decode_base62(text):
    """Integer value of a base-62 string."""
    value = 0
    for c in text:
        value = value * 62 + _INDEX[c]
    return value


def l2_pid(line, pixel, track=0, burst=0, swath=0, pol=3, ipe=0):
    """10-character L2 ids of points at ``line``/``pixel`` (arrays broadcast)."""
    line, pixel = np.broadcast_arrays(np.asarray(line, dtype=np.int64), np.asarray(pixel, dtype=np.int64))
    if line.size and (line.min() < 0 or pixel.min() < 0 or pixel.max() >= 1 << 16):
        raise ValueError("line must be ≥ 0 and pixel in [0, 65535] for an EGMS point id")
    if isinstance(pol, str):
        pol = POL_CODES[pol.upper()]
    burst_id = int(pol) | int(swath) << 2 | int(burst) << 4 | int(track) << 16
    head = encode_base62([ipe], 1)[0] + encode_base62([burst_id], 4)[0]
    point = encode_base62((pixel + (line << 16)).ravel(), 5)
    return np.char.add(head, point).reshape(line.shape) if line.ndim else np.char.add(head, point)


def decode_l2_pid(pid):
    """Fields of an L2 id: ``ipe``, ``track``, ``burst``, ``swath``, ``pol``, ``line``, ``pixel``."""
    if len(pid) != 10 or any(c not in _INDEX for c in pid):
        raise ValueError(f"{pid!r} is not a 10-character base-62 EGMS point id")
    burst_id = decode_base62(pid[1:5])
    point_id = decode_base62(pid[5:])
    return {
        "ipe": decode_base62(pid[0]),
        "track": burst_id >> 16,
        "burst": (burst_id >> 4) & 0xFFF,
        "swath": (burst_id >> 2) & 0x3,
        "pol": burst_id & 0x3,
        "line": point_id >> 16,
        "pixel": point_id & 0xFFFF,
    }


def l3_pid(easting, northing, ipe=0):
    """10-character L3 ids of 100 m cells from EPSG:3035 coordinates (m)."""
    e = np.floor(np.asarray(easting, dtype=np.float64) / 100.0).astype(np.uint64)
    n = np.floor(np.asarray(northing, dtype=np.float64) / 100.0).astype(np.uint64)
    code = (n << np.uint64(32)) + e
    return np.char.add(encode_base62([ipe], 1)[0], encode_base62(code.ravel(), 9))
