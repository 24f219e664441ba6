"""The CSV tokeniser of the EGMS import: lines of a block split at commas into numpy columns (numba).

Private to :mod:`.importer`; importing it imports numba.  :func:`parse_lines`
fills preallocated arrays from the lines of one block of CSV text: numeric
columns as float64 (parsed exactly — correctly rounded — for the plain decimals
EGMS files hold; a status flag marks the cells Python must parse: exponents,
``nan``, spaces, more than 15 significant digits), text columns as byte spans.
"""

from __future__ import annotations

import numba
import numpy as np

KIND_NUMERIC, KIND_TEXT, KIND_SKIP = 0, 1, 2
"""What :func:`parse_lines` does with a column: parse a number, record a text span, or skip it."""
_POW10 = np.array([10.0**k for k in range(23)])  # exact doubles


@numba.njit(nogil=True, cache=True, inline="always")
def _number(buf, a, b):
    # Exact for ≤ 15 significant digits and ≤ 22 decimals (one correctly rounded division of exact
    # doubles); anything else (exponents, nan, spaces, long mantissas) is left to Python (status 1).
    if a == b:
        return np.nan, 0
    i = a
    negative = False
    if buf[i] == 45:
        negative = True
        i += 1
    elif buf[i] == 43:
        i += 1
    mantissa = 0
    digits = 0
    decimals = 0
    dot = False
    seen = False
    while i < b:
        c = buf[i]
        if 48 <= c <= 57:
            seen = True
            if dot:
                decimals += 1
            if mantissa != 0 or c != 48:
                mantissa = mantissa * 10 + (c - 48)
                digits += 1
                if digits > 15:
                    return np.nan, 1
        elif c == 46 and not dot:
            dot = True
        else:
            return np.nan, 1
        i += 1
    if not seen or decimals > 22:
        return np.nan, 1
    value = float(mantissa)
    if decimals > 0:
        value = value / _POW10[decimals]
    return (-value if negative else value), 0


@numba.njit(nogil=True, parallel=True, cache=True)
def parse_lines(buf, starts, ends, kinds, slots, values, spans, status, n_fields):
    """Split lines ``buf[starts[r]:ends[r]]`` at commas: numeric columns (kind 0) into ``values``
    (NaN for empty cells, ``status`` 1 where Python must parse), text columns (kind 1) as byte spans."""
    ncol = kinds.shape[0]
    for r in numba.prange(starts.shape[0]):
        pos = starts[r]
        end = ends[r]
        c = 0
        while True:
            q = pos
            while q < end and buf[q] != 44:
                q += 1
            if c < ncol:
                k = kinds[c]
                j = slots[c]
                if k == 0:
                    v, s = _number(buf, pos, q)
                    values[r, j] = v
                    status[r, j] = s
                elif k == 1:
                    spans[r, j, 0] = pos
                    spans[r, j, 1] = q
            c += 1
            if q >= end:
                break
            pos = q + 1
        n_fields[r] = c


def line_bounds(arr):
    """(starts, ends) of the non-empty lines of a block (uint8 array; ends exclude ``\\r\\n``)."""
    nl = np.flatnonzero(arr == 10)
    starts = np.empty(nl.size, np.int64)
    starts[0:1] = 0
    starts[1:] = nl[:-1] + 1
    ends = nl.astype(np.int64)
    cr = (ends > starts) & (arr[np.maximum(ends - 1, 0)] == 13)
    ends[cr] -= 1
    keep = ends > starts
    return starts[keep], ends[keep]
