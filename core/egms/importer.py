"""EGMS product files (zip or CSV; L2a, L2b, L3; any release) → one GeoPackage point layer.

Streaming: the CSV is read from inside the zip (never unpacked to disk) in
blocks of 8 MB, parsed by a numba kernel into numpy columns in a reader
thread, and bulk-inserted with SQLite into a GeoPackage layer that OGR
created (so the GeoPackage bookkeeping is GDAL's own; 64 KiB pages), with the
R-tree filled from the coordinates.  Memory stays under 500 MB whatever the
file size.  This is twice as fast as ``ogr2ogr`` on the same CSV
(``bench/bench_import.py``: 1 000 000 points × 300 dates in 75 s against
150 s): OGR's CSV reader is the slow part of that route, and typing the
fields (``-oo AUTODETECT_TYPE`` or a VRT) makes it slower still.

What is written
---------------
* Point geometry from ``easting``/``northing``, EPSG:3035; spatial index.
* Every column, in file order, with its type: ``pid`` text; ``mp_type``,
  ``cluster_label``, ``line``, ``pixel`` integer; dates (``yyyymmdd``) and all
  other columns real — an unknown column stays text only if it holds text.
  Empty cells are NULL.  Numbers are parsed exactly (correctly rounded).
* Several files merge into one layer: columns are matched through the release
  alias map (``height``/``height_ortho``, …) under the first file's names,
  missing columns are NULL, date columns end up in date order; points whose
  ``pid`` was already imported (overlapping bursts) are dropped and counted.
* Layer metadata: GDAL items ``EGMS_*`` (level, track, burst(s), swath,
  orbit direction from the sign of ``los_east``, release, version, source
  files, the XML header) and a QGIS metadata document (title, abstract,
  keywords, history) that QGIS shows under Layer Properties → Metadata.

Bad input (missing file, truncated zip, zip without CSV, empty file, CSV
without ``easting``/``northing``, non-EGMS CSV, malformed rows) raises
:class:`~.errors.InputError` naming the file; the output is written under a
temporary name and renamed at the end, so nothing is left behind on errors or
cancel.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import sqlite3
import zipfile
import zlib
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

import numba
import numpy as np

from ..errors import InputError
from ..io.atomic import replaced_on_success
from ..io.gpkg import BulkWriter, create_point_layer, ogr_modules, quote
from ..progress import ensure
from .format import canonical_name, column_kind, date_columns, is_known_column
from .product import META_KEYS, ProductInfo, orbit_direction

CHUNK_BYTES = 8 << 20
"""Decompressed bytes parsed per block (a block holds ~10⁴ rows of a 5-year series)."""
SAMPLE_BYTES = 1 << 20
"""Bytes read up front from every file to check it and type unknown columns."""

_KIND_NUMERIC, _KIND_TEXT, _KIND_SKIP = 0, 1, 2
_POW10 = np.array([10.0**k for k in range(23)])  # exact doubles


# ------------------------------------------------------------------ numba parser
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
def _parse(buf, starts, ends, kinds, slots, values, spans, status, n_fields):
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


# ------------------------------------------------------------------ sources
@dataclass
class CsvSource:
    """One EGMS CSV: a file on disk or a member of a zip."""

    path: str
    member: str | None = None
    xml_text: str | None = None
    size: int = 0
    header: list = field(default_factory=list)
    kinds: dict = field(default_factory=dict)
    info: ProductInfo | None = None

    @property
    def label(self):
        return f"{self.path}" if self.member is None else f"{self.path} ({self.member})"

    @property
    def file_name(self):
        return self.member or os.path.basename(self.path)

    def open(self):
        """A binary stream of the CSV text (decompressed on the fly for a zip member)."""
        if self.member is None:
            return open(self.path, "rb")
        zf = zipfile.ZipFile(self.path)
        stream = zf.open(self.member)
        return _Closing(stream, zf)


class _Closing(io.RawIOBase):
    """A zip member stream that also closes its archive."""

    def __init__(self, stream, archive):
        self._stream, self._archive = stream, archive

    def read(self, size=-1):
        return self._stream.read(size)

    def readable(self):
        return True

    def close(self):
        try:
            self._stream.close()
        finally:
            self._archive.close()
            super().close()


def _zip_error(path, exc):
    return InputError(f"{path}: the zip archive is damaged or truncated ({exc}); download it again.")


def find_sources(path):
    """The CSV sources in ``path`` (a zip may hold several; its XML headers are attached by name)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise InputError(f"{path}: the file does not exist.")
    if os.path.isdir(path):
        raise InputError(f"{path}: is a folder; give the EGMS .zip or .csv files.")
    if os.path.getsize(path) == 0:
        raise InputError(f"{path}: the file is empty.")
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as zf:
                infos = zf.infolist()
                csvs = [i for i in infos if i.filename.lower().endswith(".csv") and not i.is_dir()]
                xmls = {os.path.splitext(i.filename)[0]: i for i in infos if i.filename.lower().endswith(".xml")}
                if not csvs:
                    names = ", ".join(i.filename for i in infos[:5]) or "nothing"
                    raise InputError(f"{path}: the zip holds no .csv file (found {names}); not an EGMS product?")
                sources = []
                for info in csvs:
                    stem = os.path.splitext(info.filename)[0]
                    xml = xmls.get(stem) or (next(iter(xmls.values())) if len(xmls) == 1 and len(csvs) == 1 else None)
                    text = zf.read(xml).decode("utf-8", "replace") if xml is not None else None
                    sources.append(CsvSource(path, info.filename, text, info.file_size))
                return sources
        except InputError:
            raise
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
            raise _zip_error(path, exc) from None
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic[:2] == b"PK":
        raise _zip_error(path, "no central directory")
    xml_path = os.path.splitext(path)[0] + ".xml"
    text = None
    if os.path.exists(xml_path):
        with open(xml_path, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    return [CsvSource(path, None, text, os.path.getsize(path))]


def _read_blocks(source, chunk_bytes):
    """Blocks of whole lines (bytes) of a source's CSV text, header included."""
    try:
        with source.open() as stream:
            rest = b""
            while True:
                block = stream.read(chunk_bytes)
                if not block:
                    if rest.strip():
                        yield rest + b"\n"
                    return
                data = rest + block if rest else block
                cut = data.rfind(b"\n")
                if cut < 0:
                    rest = data
                    continue
                yield data[: cut + 1]
                rest = data[cut + 1:]
    except InputError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise _zip_error(source.path, exc) from None


def _split_header(block, source):
    end = block.find(b"\n")
    line = block[: end if end >= 0 else len(block)].rstrip(b"\r")
    if line.startswith(b"\xef\xbb\xbf"):
        line = line[3:]
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{source.label}: not a text (CSV) file.") from None
    names = [n.strip().strip('"') for n in text.split(",")]
    return names, block[end + 1:] if end >= 0 else b""


def _line_bounds(arr):
    """(starts, ends) of the non-empty lines of a block (ends exclude ``\\r\\n``)."""
    nl = np.flatnonzero(arr == 10)
    starts = np.empty(nl.size, np.int64)
    starts[0:1] = 0
    starts[1:] = nl[:-1] + 1
    ends = nl.astype(np.int64)
    cr = (ends > starts) & (arr[np.maximum(ends - 1, 0)] == 13)
    ends[cr] -= 1
    keep = ends > starts
    return starts[keep], ends[keep]


def _is_number(token: bytes):
    if not token:
        return True
    try:
        float(token)
        return True
    except ValueError:
        return False


def _single_csv(source):
    with zipfile.ZipFile(source.path) as zf:
        return sum(1 for n in zf.namelist() if n.lower().endswith(".csv")) == 1


def inspect_source(source: CsvSource):
    """Read a source's header and first ~1 MB: check that it is an EGMS CSV, type its columns."""
    try:
        blocks = _read_blocks(source, SAMPLE_BYTES)
        first = next(blocks, b"")
        blocks.close()
    except InputError:
        raise
    except (OSError, zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise _zip_error(source.path, exc) from None
    if not first.strip():
        raise InputError(f"{source.label}: the file is empty.")
    names, body = _split_header(first, source)
    seen = set()
    for name in names:
        if not name:
            raise InputError(f"{source.label}: the header has an empty column name; not an EGMS CSV.")
        if name in seen:
            raise InputError(f"{source.label}: column {name!r} appears twice in the header.")
        seen.add(name)
    lowered = {n.lower() for n in names}
    dates = date_columns(names)
    missing = [c for c in ("easting", "northing") if c not in lowered]
    if not dates and ("pid" not in lowered or missing):
        raise InputError(f"{source.label}: not an EGMS product — no pid, easting/northing or yyyymmdd date "
                         f"columns (header starts {', '.join(names[:6])}).")
    if missing:
        raise InputError(f"{source.label}: no {' and '.join(missing)} column — the points have no EPSG:3035 "
                         "coordinates, so they cannot be placed.")
    if not dates:
        raise InputError(f"{source.label}: no displacement columns named yyyymmdd; not an EGMS time-series product.")
    if "pid" not in lowered:
        raise InputError(f"{source.label}: no pid column; not an EGMS product.")
    if not body.strip():
        raise InputError(f"{source.label}: the file has a header but no measurement points.")
    # type unknown columns from the sample: text only if some value is not a number
    rows = [line.split(b",") for line in body.split(b"\n")[:-1] if line.strip()]
    kinds = {}
    for j, name in enumerate(names):
        kind = column_kind(name)
        if kind == "real" and not is_known_column(name):
            tokens = [r[j].strip() for r in rows if j < len(r)]
            if not all(_is_number(t) for t in tokens):
                kind = "string"
        if kind == "integer":
            tokens = [r[j].strip() for r in rows if j < len(r) and r[j].strip()]
            try:
                if any(float(t) != int(float(t)) for t in tokens):
                    kind = "real"
            except ValueError:
                pass
        kinds[name] = kind
    source.header = names
    source.kinds = kinds
    source.info = ProductInfo.from_sources(names, source.file_name, source.xml_text)
    source.info.source = [os.path.basename(source.path) if source.member is None or _single_csv(source)
                          else f"{os.path.basename(source.path)}/{source.member}"]
    return source


# ------------------------------------------------------------------ output schema
@dataclass
class _Field:
    name: str
    kind: str
    canonical: str


def _union_schema(sources):
    """Output fields: attributes in first-seen order (first file's naming), then dates by date."""
    attrs, by_canon, dates = [], {}, {}
    for src in sources:
        for name in src.header:
            day = date_columns([name])
            if day:
                dates.setdefault(name, day[0][1])
                continue
            canon = canonical_name(name)
            if canon in by_canon:
                f = by_canon[canon]
                if f.kind != src.kinds[name]:
                    f.kind = "string" if "string" in (f.kind, src.kinds[name]) else "real"
                continue
            f = _Field(name, src.kinds[name], canon)
            by_canon[canon] = f
            attrs.append(f)
    lowered = [f.name.lower() for f in attrs]
    for reserved in ("fid", "geom"):
        if reserved in lowered:
            raise InputError(f"{sources[0].label}: a column is named {reserved!r}, which the GeoPackage "
                             "layer needs for itself.")
    date_fields = [_Field(n, "real", n) for n, _d in sorted(dates.items(), key=lambda item: item[1])]
    return attrs + date_fields


# ------------------------------------------------------------------ import
@dataclass
class ImportResult:
    """Summary of an import."""

    path: str
    layer: str
    n_points: int
    n_duplicates: int
    fields: list
    info: ProductInfo
    sources: list


class _SourceWriter:
    """Parses the blocks of one source and inserts them into the open GeoPackage."""

    def __init__(self, writer, fields, source):
        self.writer, self.source = writer, source
        by_canon = {f.canonical: f for f in fields}
        self.targets = []  # (output field, kind) per CSV column, None to skip
        for name in source.header:
            target = by_canon.get(name if date_columns([name]) else canonical_name(name))
            self.targets.append(target)
        kinds = np.full(len(source.header), _KIND_SKIP, np.int8)
        slots = np.zeros(len(source.header), np.int64)
        self.numeric, self.text = [], []
        for j, target in enumerate(self.targets):
            if target is None:
                continue
            if target.kind == "string":
                kinds[j], slots[j] = _KIND_TEXT, len(self.text)
                self.text.append(j)
            else:
                kinds[j], slots[j] = _KIND_NUMERIC, len(self.numeric)
                self.numeric.append(j)
        self.kinds, self.slots = kinds, slots
        header = source.header
        self.x_slot = int(slots[header.index(_find(header, "easting"))])
        self.y_slot = int(slots[header.index(_find(header, "northing"))])
        self.integer_slots = [int(slots[j]) for j in self.numeric if self.targets[j].kind == "integer"]
        self.los_slot = int(slots[header.index(_find(header, "los_east"))]) if _find(header, "los_east") else None
        self.order = [j for j in range(len(header)) if self.targets[j] is not None]
        self.sql = writer.insert_statement([self.targets[j].name for j in self.order])
        self.rows = 0
        self.los_sample = []

    def parse(self, block, first_line):
        """Parse and check the rows of ``block`` (whole lines starting at file line ``first_line``).

        Touches no database (it runs ahead in a reader thread); returns ``(block, values, spans)`` or None.
        """
        arr = np.frombuffer(block, dtype=np.uint8)
        starts, ends = _line_bounds(arr)
        n = starts.size
        if n == 0:
            return None
        ncol = len(self.source.header)
        values = np.empty((n, len(self.numeric)), np.float64)
        status = np.zeros((n, len(self.numeric)), np.int8)
        spans = np.zeros((n, max(len(self.text), 1), 2), np.int64)
        n_fields = np.zeros(n, np.int64)
        _parse(arr, starts, ends, self.kinds, self.slots, values, spans, status, n_fields)
        bad = np.flatnonzero(n_fields != ncol)
        if bad.size:
            r = int(bad[0])
            raise InputError(f"{self.source.label}: line {_line_no(block, first_line, starts, r)} has "
                             f"{int(n_fields[r])} values for {ncol} columns; the file is damaged or not an EGMS CSV.")
        if status.any():
            self._fallback(block, starts, ends, values, status, first_line)
        x, y = values[:, self.x_slot], values[:, self.y_slot]
        missing = np.flatnonzero(~(np.isfinite(x) & np.isfinite(y)))
        if missing.size:
            r = int(missing[0])
            raise InputError(f"{self.source.label}: line {_line_no(block, first_line, starts, r)} has no easting/northing; "
                             "every measurement point needs EPSG:3035 coordinates.")
        for s in self.integer_slots:
            col = values[:, s]
            frac = np.flatnonzero(np.isfinite(col) & (col != np.round(col)))
            if frac.size:
                r = int(frac[0])
                name = self.source.header[self.numeric[s]]
                raise InputError(f"{self.source.label}: line {_line_no(block, first_line, starts, r)}: {name} = "
                                 f"{col[r]!r} is not an integer.")
        return block, values, spans

    def insert(self, parsed, next_fid):
        """Insert parsed rows with fids from ``next_fid``; returns the number of rows."""
        block, values, spans = parsed
        n = values.shape[0]
        x, y = values[:, self.x_slot], values[:, self.y_slot]
        if self.los_slot is not None and len(self.los_sample) < 100000:
            self.los_sample.extend(values[:: max(n // 1000, 1), self.los_slot].tolist())
        fids = np.arange(next_fid, next_fid + n, dtype=np.int64)
        columns = []
        for j in self.order:
            if self.kinds[j] == _KIND_TEXT:
                sp = spans[:, self.slots[j]]
                columns.append([block[a:b].decode("utf-8", "replace") if b > a else None for a, b in sp.tolist()])
            else:
                columns.append(values[:, self.slots[j]].tolist())  # NaN binds as NULL
        self.writer.insert(self.sql, fids, x, y, columns)
        self.rows += n
        return n

    def _fallback(self, block, starts, ends, values, status, first_line):
        """Cells the kernel left to Python (exponents, nan, spaces, very long numbers)."""
        rows, cols = np.nonzero(status)
        inverse = {int(s): j for j, s in zip(self.numeric, (self.slots[j] for j in self.numeric))}
        for r, s in zip(rows.tolist(), cols.tolist()):
            j = inverse[s]
            token = block[starts[r]:ends[r]].split(b",")[j].strip()
            try:
                values[r, s] = float(token) if token else np.nan
            except ValueError:
                raise InputError(f"{self.source.label}: line {_line_no(block, first_line, starts, r)}: "
                                 f"{self.source.header[j]} = "
                                 f"{token.decode('utf-8', 'replace')!r} is not a number.") from None


def _line_no(block, first_line, starts, r):
    """1-based line number in the file of row ``r`` of a block starting at line ``first_line``."""
    return first_line + block.count(b"\n", 0, int(starts[r]))


def _find(header, name):
    for h in header:
        if canonical_name(h) == name or h.lower() == name:
            return h
    return None


def _parsed_blocks(writer, source, chunk_bytes):
    """``(parsed rows or None, decompressed bytes so far)`` for each block of a source."""
    consumed, line = 0, 2
    header_seen = False
    for block in _read_blocks(source, chunk_bytes):
        consumed += len(block)
        if not header_seen:
            names, block = _split_header(block, source)
            if names != source.header:
                raise InputError(f"{source.label}: the header changed while reading; is the file being written?")
            header_seen = True
        try:
            parsed = writer.parse(block, line)
        except InputError:
            _raise_if_damaged(source)  # garbage from a damaged zip shows before its CRC check: say so
            raise
        yield parsed, consumed
        line += block.count(b"\n")


def _raise_if_damaged(source):
    """Raise the damaged-zip error when the source's zip member fails its CRC check."""
    if source.member is None:
        return
    try:
        with zipfile.ZipFile(source.path) as zf, zf.open(source.member) as member:
            while member.read(1 << 24):
                pass
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise _zip_error(source.path, exc) from None


def _prefetch(items, depth=2):
    """Iterate ``items`` in a reader thread, ``depth`` items ahead: reading, unzipping and parsing (which
    release the GIL) overlap the SQLite inserts of the caller.  Exceptions are re-raised here, in order;
    leaving the loop early stops the reader."""
    import queue
    import threading

    q = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def reader():
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put((done, None))
        except BaseException as exc:  # handed to the consumer
            q.put((done, exc))

    thread = threading.Thread(target=reader, name="egms-import-reader", daemon=True)
    thread.start()
    try:
        while True:
            item, exc = q.get()
            if exc is not None:
                raise exc
            if item is done:
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                q.get(timeout=0.1)
            except queue.Empty:
                pass
        if hasattr(items, "close"):
            items.close()


def import_egms(paths, output, layer=None, chunk_bytes=CHUNK_BYTES, progress=None):
    """Import EGMS files (zip or CSV) into one GeoPackage point layer at ``output``.

    Parameters
    ----------
    paths : path or list of paths — EGMS ``.zip`` (CSV read inside the zip) or ``.csv`` files.
    output : GeoPackage path (replaced if it exists).
    layer : layer name (default: the output file name without extension).

    Returns an :class:`ImportResult`.  All inputs are checked before anything is written.
    """
    progress = ensure(progress)
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = [os.fspath(p) for p in paths]
    if not paths:
        raise InputError("no EGMS file given.")
    sources = []
    for path in paths:
        for src in find_sources(path):
            sources.append(inspect_source(src))
    output = os.path.abspath(os.fspath(output))
    layer = layer or os.path.splitext(os.path.basename(output))[0]
    fields = _union_schema(sources)
    info = sources[0].info
    for src in sources[1:]:
        info = info.merge(src.info)
    total = sum(max(s.size, 1) for s in sources)
    done = 0
    with replaced_on_success(output, ".gpkg") as tmp:
        create_point_layer(tmp, layer, "EPSG:3035", [(f.name, f.kind) for f in fields])
        with BulkWriter(tmp, layer) as bulk:
            next_fid = 1
            writers = []
            for src in sources:
                writer = _SourceWriter(bulk, fields, src)
                writers.append(writer)
                for parsed, consumed in _prefetch(_parsed_blocks(writer, src, chunk_bytes)):
                    if parsed is not None:
                        next_fid += writer.insert(parsed, next_fid)
                    progress.check()
                    progress.update(0.95 * (done + min(consumed, src.size)) / total)
                done += max(src.size, 1)
                if writer.rows == 0:
                    raise InputError(f"{src.label}: the file has a header but no measurement points.")
            n_points = next_fid - 1
            bulk.restore_triggers()
            n_duplicates = 0
            if len(sources) > 1:
                n_duplicates = _remove_duplicates(bulk.con, layer, fields)
            n_points -= n_duplicates
            orbits = {orbit_direction(w.los_sample) if w.los_sample else None for w in writers}
            info.orbit = orbits.pop() if len(orbits) == 1 else None  # mixed geometries: no single direction
            ext = bulk.extent
            bulk.finish(n_points, description=info.describe())
        progress.update(0.97)
        metadata = info.metadata_items()
        xml_headers = [s.xml_text for s in sources if s.xml_text]
        for k, text in enumerate(xml_headers[1:], start=2):
            metadata[f"{META_KEYS['xml']}_{k}"] = text
        if n_duplicates:
            metadata["EGMS_DUPLICATES_REMOVED"] = str(n_duplicates)
        _write_metadata(tmp, layer, metadata, info, sources, n_points, n_duplicates, ext)
    progress.update(1.0)
    return ImportResult(output, layer, n_points, n_duplicates, [f.name for f in fields], info,
                        [s.label for s in sources])


def _remove_duplicates(con, layer, fields):
    """Delete points whose pid an earlier point already has (overlapping bursts); returns how many."""
    pid = next((f.name for f in fields if f.canonical == "pid"), None)
    if pid is None:
        return 0
    t, p = quote(layer), quote(pid)
    con.execute(f"CREATE INDEX {quote(f'{layer}_{pid}_idx')} ON {t} ({p})")
    cur = con.execute(f"DELETE FROM {t} WHERE fid IN (SELECT a.fid FROM {t} AS a "
                      f"WHERE EXISTS (SELECT 1 FROM {t} AS b WHERE b.{p} = a.{p} AND b.fid < a.fid))")
    return max(cur.rowcount, 0)  # rows of the layer itself; trigger changes are not counted


def _write_metadata(tmp, layer, metadata, info, sources, n_points, n_duplicates, extent):
    """GDAL metadata items on the layer, and a QGIS metadata document QGIS shows for the layer."""
    ogr, _osr = ogr_modules()
    ds = ogr.Open(tmp, update=1)
    lyr = ds.GetLayerByName(layer)
    for key, value in metadata.items():
        lyr.SetMetadataItem(key, value)
    ds = None
    xml = qgis_metadata_xml(info, sources, n_points, n_duplicates, extent)
    con = sqlite3.connect(tmp, isolation_level=None)
    try:
        cur = con.execute("INSERT INTO gpkg_metadata (md_scope, md_standard_uri, mime_type, metadata) "
                          "VALUES ('dataset', 'http://mrcc.com/qgis.dtd', 'text/xml', ?)", (xml,))
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"
        con.execute("INSERT INTO gpkg_metadata_reference (reference_scope, table_name, column_name, row_id_value, "
                    "timestamp, md_file_id, md_parent_id) VALUES ('table', ?, NULL, NULL, ?, ?, NULL)",
                    (layer, stamp, cur.lastrowid))
    finally:
        con.close()


def qgis_metadata_xml(info, sources, n_points, n_duplicates, extent):
    """A QGIS layer-metadata document (the format QGIS stores in GeoPackages) describing the import."""
    title = " + ".join(os.path.splitext(s.file_name)[0] for s in sources[:3]) + (" …" if len(sources) > 3 else "")
    abstract = (f"EGMS {info.describe()}. {n_points} measurement points imported from "
                f"{len(sources)} file(s)" + (f"; {n_duplicates} duplicate points (same pid) of overlapping "
                                             "bursts removed" if n_duplicates else "") +
                ". LOS displacement in mm (positive towards the satellite), velocities in mm/yr, "
                "coordinates EPSG:3035.")
    keywords = [f"EGMS {info.level}" if info.level else "EGMS"]
    for label, value in (("track", info.track and f"{info.track:03d}"), ("orbit", info.orbit),
                         ("release", info.release), ("tile", info.tile)):
        if value:
            keywords.append(f"{label} {value}")
    keywords += [f"burst {b:04d}" for b in info.bursts]
    history = [f"Imported {s.label} with egms:importegms" for s in sources]
    lines = [
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>",
        '<qgis version="3.22">',
        f"  <identifier>{escape(title)}</identifier>",
        "  <parentidentifier></parentidentifier>",
        "  <language>en</language>",
        "  <type>dataset</type>",
        f"  <title>{escape(title)}</title>",
        f"  <abstract>{escape(abstract)}</abstract>",
        '  <keywords vocabulary="EGMS">',
        *[f"    <keyword>{escape(k)}</keyword>" for k in keywords],
        "  </keywords>",
        "  <links/>",
        "  <fees></fees>",
        "  <encoding></encoding>",
        "  <crs>",
        "    <spatialrefsys>",
        "      <authid>EPSG:3035</authid>",
        "    </spatialrefsys>",
        "  </crs>",
        "  <extent>",
        f'    <spatial dimensions="2" crs="EPSG:3035" minx="{extent[0]!r}" miny="{extent[1]!r}" '
        f'maxx="{extent[2]!r}" maxy="{extent[3]!r}" minz="0" maxz="0"/>',
        "  </extent>",
        *[f"  <history>{escape(h)}</history>" for h in history],
        "</qgis>",
    ]
    return "\n".join(lines) + "\n"
