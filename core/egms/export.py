"""Write measurement points as an EGMS product: a zip holding ``<name>.csv`` and ``<name>.xml``.

The CSV follows the EGMS files (ARCHITECTURE.md, EGMS format: files and columns): comma separated, one header line, no
quoting, LF line ends; attribute columns first in the specification's order
(under the layer's own release naming unless another naming is asked for),
then other attribute columns, then one column per date named ``yyyymmdd`` in
date order; values rounded to the decimals of the specification
(:func:`~.format.column_decimals`) and written the way EGMS files are
(correctly rounded like Python's ``round``, shortest form, at least one
decimal, ``-0.0`` kept, empty cell for NULL).
Columns the specification does not know are written at full precision, so
the file re-imports to the same numbers.

What cannot travel in that format is mended and counted in the log (a warning each): a field name holding a
comma, quote or line break is written with ``_`` instead (the format has no quoting, so RFC 4180 quotes would
not re-import as a name); ``±inf`` is written as an empty cell (like NULL); a ``pid`` seen before in the
layer is dropped, the first point kept; a text cell starting with ``=``, ``+``, ``-``, ``@`` or a tab (what
a spreadsheet runs as a formula) gets a leading ``'`` (the OWASP CSV-injection guard), plain numbers such
as ``-1.5`` excepted.

Text is produced by a numba kernel (:func:`format_csv_rows`) shared with the
synthetic EGMS writer, in blocks, straight into the zip member.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import zipfile

import numba
import numpy as np

from ..errors import InputError
from ..io.atomic import replaced_on_success
from ..progress import ensure
from .format import (
    ALIASES,
    INTEGER_COLUMNS,
    NAMINGS,
    canonical_name,
    column_decimals,
    export_order,
    parse_date_column,
)
from .product import ProductInfo, detect_level, make_xml_header

_MAX_EXACT = 2.0**53
_UNSAFE_NAME = re.compile(r'[,"\r\n]')
_FORMULA_START = ("=", "+", "-", "@", "\t")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)")


# ------------------------------------------------------------------ numba kernels
@numba.njit(nogil=True, cache=True, inline="always")
def _write_uint(out, row, pos, value):
    """Decimal digits of a non-negative int64 at ``out[row, pos:]``; returns the new position."""
    if value == 0:
        out[row, pos] = 48
        return pos + 1
    n = 0
    v = value
    while v > 0:
        n += 1
        v //= 10
    v = value
    for k in range(n - 1, -1, -1):
        out[row, pos + k] = 48 + v % 10
        v //= 10
    return pos + n


@numba.njit(nogil=True, cache=True, inline="always")
def _round_scaled(x, scale):
    """``round(x · scale)`` of the exact product (as Python's ``round(x, d)`` does): ties of the
    floating-point product are settled by its rounding error (Dekker's two-product), exact ties to even."""
    s = x * scale
    q = np.floor(s)
    frac = s - q  # exact for |s| < 2**52
    if frac > 0.5:
        return q + 1.0
    if frac < 0.5:
        return q
    split = 134217729.0  # 2**27 + 1
    c = split * x
    xh = c - (c - x)
    xl = x - xh
    c = split * scale
    sh = c - (c - scale)
    sl = scale - sh
    err = ((xh * sh - s) + xh * sl + xl * sh) + xl * sl
    if err > 0 or (err == 0 and q % 2 != 0):
        return q + 1.0
    return q


@numba.njit(nogil=True, parallel=True, cache=True)
def _format_rows(values, decimals, text, text_len, kinds, index, out, row_len):
    """One CSV line per row into ``out[i, :row_len[i]]``: column c is ``values[:, index[c]]`` rounded to
    ``decimals[index[c]]`` (kind 0) or the bytes ``text[:, index[c]]`` (kind 1)."""
    n = out.shape[0]
    ncol = kinds.shape[0]
    for i in numba.prange(n):
        pos = 0
        for c in range(ncol):
            if c > 0:
                out[i, pos] = 44  # ','
                pos += 1
            j = index[c]
            if kinds[c] == 1:
                for k in range(text_len[i, j]):
                    out[i, pos + k] = text[i, j, k]
                pos += text_len[i, j]
                continue
            x = values[i, j]
            if x != x:  # NaN → empty cell
                continue
            d = decimals[j]
            scale = 1.0
            for _ in range(d):
                scale *= 10.0
            q = _round_scaled(x, scale)
            if q < 0 or (q == 0 and math.copysign(1.0, x) < 0 and d > 0):  # "-0.0" as Python writes it
                out[i, pos] = 45  # '-'
                pos += 1
            qi = np.int64(abs(q))
            if d == 0:
                pos = _write_uint(out, i, pos, qi)
                continue
            p10 = np.int64(1)
            for _ in range(d):
                p10 *= 10
            pos = _write_uint(out, i, pos, qi // p10)
            out[i, pos] = 46  # '.'
            pos += 1
            frac = qi % p10
            keep = d
            while keep > 1 and frac % 10 == 0:  # strip trailing zeros, keep one decimal
                frac //= 10
                keep -= 1
            p = np.int64(1)
            for _ in range(keep - 1):
                p *= 10
            for k in range(keep):
                out[i, pos + k] = 48 + (frac // p) % 10
                p //= 10
            pos += keep
        out[i, pos] = 10  # '\n'
        row_len[i] = pos + 1


@numba.njit(nogil=True, parallel=True, cache=True)
def _compact(out, row_len, offsets, result):
    for i in numba.prange(out.shape[0]):
        start = offsets[i]
        for k in range(row_len[i]):
            result[start + k] = out[i, k]


def text_matrix(strings):
    """``(bytes (n, w) uint8, lengths (n,) int64)`` of a sequence of str (None → empty)."""
    encoded = [b"" if s is None else str(s).encode("utf-8") for s in strings]
    n = len(encoded)
    width = max((len(e) for e in encoded), default=0)
    lengths = np.fromiter((len(e) for e in encoded), dtype=np.int64, count=n)
    if width == 0:
        return np.zeros((n, 1), np.uint8), lengths
    fixed = np.array(encoded, dtype=f"S{width}")  # pads with NUL; lengths keep the true size
    return fixed.view(np.uint8).reshape(n, width), lengths


def format_csv_rows(columns, decimals):
    """CSV text (bytes, LF line ends, no header) of equally long columns.

    ``columns``: list of float arrays (written with ``decimals[i]`` decimals,
    NaN → empty cell; decimals 0 → integer) or sequences of str (written as is).
    ``decimals[i]`` None for a float column means full precision (Python ``repr``).
    """
    if not columns:
        return b""
    n = len(columns[0])
    num, num_dec, texts, kinds, index = [], [], [], [], []
    for col, dec in zip(columns, decimals):
        arr = col if isinstance(col, np.ndarray) else None
        if arr is not None and arr.dtype.kind in "fiub":
            values = arr.astype(np.float64, copy=False)
            finite = values[np.isfinite(values)]
            big = finite.size and float(np.max(np.abs(finite))) * 10.0 ** (dec or 0) >= _MAX_EXACT
            if dec is None or big:
                texts.append(["" if v != v else repr(float(v)) for v in values.tolist()])
                kinds.append(1)
                index.append(len(texts) - 1)
            else:
                num.append(values)
                num_dec.append(int(dec))
                kinds.append(0)
                index.append(len(num) - 1)
        else:
            texts.append(["" if v is None else str(v) for v in col])
            kinds.append(1)
            index.append(len(texts) - 1)
    values = np.column_stack(num) if num else np.zeros((n, 0))
    if texts:
        mats = [text_matrix(t) for t in texts]
        width = max(m[0].shape[1] for m in mats)
        text = np.zeros((n, len(mats), width), np.uint8)
        text_len = np.zeros((n, len(mats)), np.int64)
        for j, (mat, lengths) in enumerate(mats):
            text[:, j, : mat.shape[1]] = mat
            text_len[:, j] = lengths
    else:
        text = np.zeros((n, 0, 1), np.uint8)
        text_len = np.zeros((n, 0), np.int64)
    slot = len(columns) + 1 + int(text_len.max(axis=0).sum() if texts else 0)
    for j, d in enumerate(num_dec):
        col = values[:, j]
        finite = col[np.isfinite(col)]
        biggest = float(np.max(np.abs(finite))) if finite.size else 0.0
        slot += 2 + len(str(int(biggest))) + 1 + d
    out = np.empty((n, slot), np.uint8)
    row_len = np.zeros(n, np.int64)
    _format_rows(np.ascontiguousarray(values), np.asarray(num_dec, np.int64), text, text_len,
                np.asarray(kinds, np.int8), np.asarray(index, np.int64), out, row_len)
    offsets = np.zeros(n, np.int64)
    np.cumsum(row_len[:-1], out=offsets[1:])
    result = np.empty(int(row_len.sum()), np.uint8)
    _compact(out, row_len, offsets, result)
    return result.tobytes()


# ------------------------------------------------------------------ export of a point table
def _renamed(name, naming):
    if naming == "specification":
        return canonical_name(name)
    if naming == "2020_2024":
        canon = canonical_name(name)
        return ALIASES[canon][0] if canon in ALIASES else name
    return name


def export_columns(table, level=None, naming="input"):
    """``[(csv name, layer field or None, decimals)]`` of the file written for ``table``.

    Date fields (``yyyymmdd``, ``Dyyyymmdd``, ``D_yyyymmdd``) become ``yyyymmdd``;
    ``easting``/``northing`` (and ``latitude``/``longitude`` for L2) are taken from
    the geometry when the layer lacks them (field None).
    """
    if naming not in NAMINGS:
        raise ValueError(f"naming must be one of {NAMINGS}")
    fields = list(table.columns)
    dates = {}
    for name in fields:
        day = _field_date(name)
        if day is not None and parse_date_column(name) is None:
            dates[name] = day.strftime("%Y%m%d")
    level = level or detect_level(fields)
    csv_names = {}
    safe = {n for n in fields if not _UNSAFE_NAME.search(n)}  # names that keep theirs; a renamed one avoids them
    for name in fields:
        csv = dates.get(name, name)
        if parse_date_column(csv) is None:
            csv = _renamed(csv, naming)
        if _UNSAFE_NAME.search(csv):
            csv = _UNSAFE_NAME.sub("_", csv)
            while csv in csv_names or csv in safe:
                csv += "_"
        csv_names.setdefault(csv, name)  # first field wins on a clash
    for coord in ("easting", "northing") + (("latitude", "longitude") if level != "L3" else ()):
        csv_names.setdefault(coord, None)
    if "pid" not in csv_names:
        csv_names["pid"] = None
    order = export_order(list(csv_names), level)
    return [(c, csv_names[c], column_decimals(c, level)) for c in order]


def _field_date(name):
    """Date of a field named ``yyyymmdd``, ``Dyyyymmdd`` or ``D_yyyymmdd``, else None."""
    from ..io.points import date_fields

    found = date_fields([name])
    return found[0][1] if found else None


def _coordinates(table):
    """easting/northing (EPSG:3035) and lon/lat (WGS84) of the table's points."""
    x, y = np.asarray(table.x, np.float64), np.asarray(table.y, np.float64)
    from pyproj import CRS, Transformer

    crs = CRS.from_user_input(table.crs)
    laea = CRS.from_epsg(3035)
    if crs != laea:
        x, y = Transformer.from_crs(crs, laea, always_xy=True).transform(x, y)
    lon, lat = Transformer.from_crs(laea, CRS.from_epsg(4326), always_xy=True).transform(x, y)
    return {"easting": np.asarray(x), "northing": np.asarray(y), "longitude": np.asarray(lon),
            "latitude": np.asarray(lat)}


def _pids(table, level, coords):
    from . import pid as pidmod

    n = len(table.x)
    if level == "L3":
        return pidmod.l3_pid(coords["easting"], coords["northing"])
    cols = table.columns
    if "line" in cols and "pixel" in cols:
        line = np.nan_to_num(np.asarray(cols["line"], np.float64)).astype(np.int64)
        pixel = np.nan_to_num(np.asarray(cols["pixel"], np.float64)).astype(np.int64)
        ids = pidmod.l2_pid(line, pixel)
        if len(set(ids.tolist())) == n:
            return ids
    # no usable line/pixel: number the points (line = index // 65536, pixel = index % 65536)
    k = np.arange(n, dtype=np.int64)
    return pidmod.l2_pid(k >> 16, k & 0xFFFF)


def _column_data(table, field, csv_name, coords, pids):
    """The values written for one CSV column: a float array, or a list of str."""
    if field is None:
        return [str(p) for p in pids] if csv_name == "pid" else coords[csv_name]
    arr = np.asarray(table.columns[field])
    if arr.dtype.kind in "biuf":
        return arr.astype(np.float64, copy=False)
    # text: EGMS CSV has no quoting, so commas and line breaks cannot travel
    return [None if v is None else str(v).replace(",", ";").replace("\n", " ").replace("\r", " ") for v in arr]


def _guard_formulas(values):
    """``(values, how many guarded)``: a ``'`` before a cell a spreadsheet would run as a formula (OWASP)."""
    count = 0
    out = []
    for v in values:
        if v and v.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(v):
            v = "'" + v
            count += 1
        out.append(v)
    return out, count


def _first_of_each_pid(pids):
    """Indices of the first point of each pid (None or empty pids all kept), in order."""
    seen = set()
    keep = []
    for i, p in enumerate(pids):
        if p:
            if p in seen:
                continue
            seen.add(p)
        keep.append(i)
    return np.asarray(keep, np.int64)


def _mend(spec, data, progress):
    """The columns as the format can hold them (see the module text); each mend is counted in a warning."""
    for c, f, _ in spec:
        if f is not None and f != c and _UNSAFE_NAME.search(f):
            progress.warn(f"field {f!r} is written as {c!r}: an EGMS CSV header has no quoting, so a comma, "
                          "quote or line break cannot be part of a name")
    infinite = {}
    for k, (c, _f, _d) in enumerate(spec):
        col = data[k]
        if isinstance(col, np.ndarray):
            bad = np.isinf(col)
            if bad.any():
                infinite[c] = int(bad.sum())
                data[k] = np.where(bad, np.nan, col)
        else:
            data[k], guarded = _guard_formulas(col)
            if guarded:
                progress.warn(f"{guarded} value(s) of {c!r} start like a spreadsheet formula (= + - @); written "
                              "with a leading ' so that a spreadsheet shows them as text")
    if infinite:
        listed = ", ".join(f"{c} ({k})" for c, k in list(infinite.items())[:5]) + (" …" if len(infinite) > 5 else "")
        progress.warn(f"{sum(infinite.values())} infinite value(s) written as empty cells: {listed}")
    names = [c for c, _, _ in spec]
    if "pid" in names:
        pids = data[names.index("pid")]
        keep = _first_of_each_pid(pids)
        if keep.size < len(pids):
            progress.warn(f"{len(pids) - keep.size} point(s) whose pid an earlier point has were dropped "
                          "(the first one of each pid is kept)")
            data = [col[keep] if isinstance(col, np.ndarray) else [col[i] for i in keep.tolist()] for col in data]
    return data


def export_egms(table, path, level=None, naming="input", product=None, block_rows=20000, progress=None):
    """Write ``table`` (a :class:`~..io.points.PointTable`) as an EGMS zip at ``path``.

    ``level`` defaults to the layer metadata's level or the one the columns
    imply; ``product`` (:class:`~.product.ProductInfo`) defaults to the
    table's metadata items.  The zip holds ``<stem>.csv`` and ``<stem>.xml``
    (the original XML header when the layer came from an EGMS file, else a
    minimal one); it is written to a temporary file and renamed, so a failure
    or cancel leaves nothing.  Returns ``path``.
    """
    progress = ensure(progress)
    n = len(table.x)
    if n == 0:
        raise InputError("layer: has no points to export")
    info = product or ProductInfo.from_metadata(getattr(table, "metadata", {}) or {})
    level = level or info.level or detect_level(list(table.columns))
    info.level = level
    spec = export_columns(table, level, naming)
    if not any(parse_date_column(c) for c, _, _ in spec):
        raise InputError("layer: has no date fields (yyyymmdd, Dyyyymmdd or D_yyyymmdd) — nothing to export as "
                         "an EGMS time series")
    need_geo = any(f is None and c != "pid" for c, f, _ in spec)
    coords = _coordinates(table) if need_geo else {}
    pids = _pids(table, level, coords or _coordinates(table)) if any(c == "pid" and f is None for c, f, _ in spec) \
        else None
    for c, f, _ in spec:
        if f is not None and canonical_name(c) in INTEGER_COLUMNS:
            vals = np.asarray(table.columns[f], np.float64)
            if np.any(np.isfinite(vals) & (vals != np.round(vals))):
                raise InputError(f"layer: field {f!r} must hold integers in an EGMS file")
    stem = os.path.splitext(os.path.basename(path))[0]
    xml = info.xml or make_xml_header(info, dt.date.today())
    with replaced_on_success(path, ".zip") as tmp, \
            zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6, allowZip64=True) as zf:
        with zf.open(f"{stem}.csv", "w", force_zip64=True) as out:
            out.write((",".join(c for c, _, _ in spec) + "\n").encode("utf-8"))
            data = _mend(spec, [_column_data(table, f, c, coords, pids) for c, f, _ in spec], progress)
            decimals = [d for _, _, d in spec]
            n = len(data[0])
            for start in range(0, n, block_rows):
                stop = min(start + block_rows, n)
                out.write(format_csv_rows([col[start:stop] for col in data], decimals))
                progress.check()
                progress.update(stop / n)
        zf.writestr(f"{stem}.xml", xml)
    return path
