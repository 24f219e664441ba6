"""EGMS product files (zip or CSV; L2a, L2b, L3; any release) → one GeoPackage point layer.

Streaming: the CSV is read from inside the zip (never unpacked to disk,
:mod:`.sources`) in blocks of 8 MB, parsed by a numba kernel
(:mod:`._csv_kernel`) into numpy columns in a reader thread, and bulk-inserted
into a GeoPackage layer by the plugin's one GeoPackage writer
(:mod:`..io.gpkg`: the layer created by OGR, 64 KiB pages, the R-tree filled
from the coordinates).  Memory stays under 500 MB whatever the
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
  keywords, history) that QGIS shows under Layer Properties → Metadata
  (:mod:`.metadata`).

Bad input (missing file, truncated zip, zip without CSV, empty file, CSV
without ``easting``/``northing``, non-EGMS CSV, malformed rows) raises
:class:`~..errors.InputError` naming the file; the output is written under a
temporary name and renamed at the end, so nothing is left behind on errors or
cancel.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..io.atomic import replaced_on_success
from ..io.gpkg import BulkWriter, create_point_layer, quote
from ..progress import ensure
from ._csv_kernel import KIND_NUMERIC, KIND_SKIP, KIND_TEXT, line_bounds, parse_lines
from .format import canonical_name, date_columns
from .metadata import write_layer_metadata
from .product import META_KEYS, ProductInfo, orbit_direction
from .sources import find_sources, inspect_source, raise_if_damaged, read_blocks, split_header

MAX_FIELDS = 1998
"""Most fields a GeoPackage layer holds: SQLite's column limit (2000, SQLITE_MAX_COLUMN) less ``fid`` and ``geom``.
An EGMS product has ~30 attributes and ~300 dates (~600 for a 10-year 6-day series)."""

CHUNK_BYTES = 8 << 20
"""Decompressed bytes parsed per block (a block holds ~10⁴ rows of a 5-year series)."""


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
    if len(attrs) + len(date_fields) > MAX_FIELDS:
        names = ", ".join(s.label for s in sources[:3]) + (" …" if len(sources) > 3 else "")
        raise InputError(f"{names}: {len(attrs)} attribute and {len(date_fields)} date columns; a GeoPackage layer "
                         f"holds at most {MAX_FIELDS} (SQLite's limit of 2000 columns) — an EGMS product has ~300 "
                         "dates. Import fewer files at once, or split the dates.")
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
        kinds = np.full(len(source.header), KIND_SKIP, np.int8)
        slots = np.zeros(len(source.header), np.int64)
        self.numeric, self.text = [], []
        for j, target in enumerate(self.targets):
            if target is None:
                continue
            if target.kind == "string":
                kinds[j], slots[j] = KIND_TEXT, len(self.text)
                self.text.append(j)
            else:
                kinds[j], slots[j] = KIND_NUMERIC, len(self.numeric)
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
        starts, ends = line_bounds(arr)
        n = starts.size
        if n == 0:
            return None
        ncol = len(self.source.header)
        values = np.empty((n, len(self.numeric)), np.float64)
        status = np.zeros((n, len(self.numeric)), np.int8)
        spans = np.zeros((n, max(len(self.text), 1), 2), np.int64)
        n_fields = np.zeros(n, np.int64)
        parse_lines(arr, starts, ends, self.kinds, self.slots, values, spans, status, n_fields)
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
            if self.kinds[j] == KIND_TEXT:
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
    for block in read_blocks(source, chunk_bytes):
        consumed += len(block)
        if not header_seen:
            names, block = split_header(block, source)
            if names != source.header:
                raise InputError(f"{source.label}: the header changed while reading; is the file being written?")
            header_seen = True
        try:
            parsed = writer.parse(block, line)
        except InputError:
            raise_if_damaged(source)  # garbage from a damaged zip shows before its CRC check: say so
            raise
        yield parsed, consumed
        line += block.count(b"\n")


def _prefetch(items, depth=2):
    """Iterate ``items`` in a reader thread, ``depth`` items ahead: reading, unzipping and parsing (which
    release the GIL) overlap the SQLite inserts of the caller.  Exceptions are re-raised here, in order;
    leaving the loop early stops the reader."""
    import contextlib
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
        except BaseException as exc:  # noqa: BLE001 - anything (even KeyboardInterrupt) is re-raised by the consumer
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
            with contextlib.suppress(queue.Empty):
                q.get(timeout=0.1)
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
    sources = [inspect_source(src) for path in paths for src in find_sources(path)]
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
        write_layer_metadata(tmp, layer, metadata, info, sources, n_points, n_duplicates, ext)
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
