"""The EGMS files of an import: find the CSVs (on disk or inside zips), stream them, check and type them.

:func:`find_sources` lists the CSV sources of a path — a ``.csv`` file (with
the ``.xml`` header beside it) or every CSV member of a zip (with the XML
member of the same name) — as :class:`CsvSource`; :func:`inspect_source`
reads a source's header and first :data:`SAMPLE_BYTES`, checks that it is an
EGMS time-series product and types its columns (``pid`` text, the integer
columns of :func:`.format.column_kind`, an unknown column text only if its
sample holds text); :func:`read_blocks` streams the CSV text in blocks of whole
lines, decompressing a zip member on the fly (never unpacked to disk).

A damaged or truncated zip is reported as :class:`~..errors.InputError` naming
the file (:func:`zip_error`, :func:`raise_if_damaged`), as are empty files,
headers with empty or repeated names and CSVs that are not EGMS products.
"""

from __future__ import annotations

import io
import os
import zipfile
import zlib
from dataclasses import dataclass, field

from ..errors import InputError
from .format import column_kind, date_columns, is_known_column
from .product import ProductInfo

SAMPLE_BYTES = 1 << 20
"""Bytes read up front from every file to check it and type unknown columns."""

XML_MAX_BYTES = 16 << 20
"""At most this much of an XML header is read (the real 2020–2024 L2b header is 100 kB): a zip member's
declared size can lie, so the read itself stops at this + 1 byte and a larger header is refused."""

LINE_MAX_BYTES = 1 << 20
"""Longest CSV line accepted.  An EGMS row is ~30 attributes (≤ 25 characters each) and one ~7-character
displacement per date — ~5 kB for the ~600 dates of a 10-year 6-day series; 1 MiB is 200 times that."""


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


def zip_error(path, exc):
    """The error of a damaged or truncated zip archive."""
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
                    text = _xml_member(zf, xml, path) if xml is not None else None
                    sources.append(CsvSource(path, info.filename, text, info.file_size))
                return sources
        except InputError:
            raise
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
            raise zip_error(path, exc) from None
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic[:2] == b"PK":
        raise zip_error(path, "no central directory")
    xml_path = os.path.splitext(path)[0] + ".xml"
    text = None
    if os.path.exists(xml_path):
        with open(xml_path, "rb") as fh:
            text = _capped_xml(fh.read(XML_MAX_BYTES + 1), os.path.getsize(xml_path), xml_path)
    return [CsvSource(path, None, text, os.path.getsize(path))]


def _capped_xml(data, declared, label):
    """The XML text of ``data`` (read up to the cap + 1 byte), refused when the header is over the cap."""
    size = max(declared, len(data))
    if size > XML_MAX_BYTES:
        raise InputError(f"{label}: the XML metadata is {size / 2**20:.0f} MiB; at most "
                         f"{XML_MAX_BYTES / 2**20:.0f} MiB is read (an EGMS header is ~100 kB) — is this an EGMS file?")
    return data.decode("utf-8", "replace")


def _xml_member(zf, info, path):
    """A zip's XML member, never more than :data:`XML_MAX_BYTES` + 1 bytes of it decompressed."""
    label = f"{path} ({info.filename})"
    if info.file_size > XML_MAX_BYTES:
        return _capped_xml(b"", info.file_size, label)
    with zf.open(info) as member:
        return _capped_xml(member.read(XML_MAX_BYTES + 1), info.file_size, label)


def _line_too_long(source, line):
    raise_if_damaged(source)  # a damaged zip inflates to garbage without line ends: say it is damaged
    return InputError(f"{source.label}: line {line} is longer than {LINE_MAX_BYTES >> 20} MiB without a line end "
                      "(an EGMS row is a few kB); the file is damaged or not an EGMS CSV.")


def read_blocks(source, chunk_bytes):
    """Blocks of whole lines (bytes) of a source's CSV text, header included.

    A line longer than :data:`LINE_MAX_BYTES` stops the read with an :class:`InputError` naming the line.
    """
    try:
        with source.open() as stream:
            rest = b""
            line = 1
            while True:
                block = stream.read(chunk_bytes)
                if not block:
                    if rest.strip():
                        yield rest + b"\n"
                    return
                data = rest + block if rest else block
                cut = data.rfind(b"\n")
                if cut < 0:
                    if len(data) > LINE_MAX_BYTES:
                        raise _line_too_long(source, line)
                    rest = data
                    continue
                if len(data) - cut - 1 > LINE_MAX_BYTES:
                    raise _line_too_long(source, line + data.count(b"\n", 0, cut + 1))
                line += data.count(b"\n", 0, cut + 1)
                yield data[: cut + 1]
                rest = data[cut + 1:]
    except InputError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise zip_error(source.path, exc) from None


def split_header(block, source):
    """``(column names, rest of the block)`` of the block that starts with the header line."""
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


def inspect_source(source: CsvSource):  # noqa: C901 - sequential checks of one CSV header, each branch one named problem with its own message
    """Read a source's header and first ~1 MB: check that it is an EGMS CSV, type its columns."""
    try:
        blocks = read_blocks(source, SAMPLE_BYTES)
        first = next(blocks, b"")
        blocks.close()
    except InputError:
        raise
    except (OSError, zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise zip_error(source.path, exc) from None
    if not first.strip():
        raise InputError(f"{source.label}: the file is empty.")
    names, body = split_header(first, source)
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


def raise_if_damaged(source):
    """Raise the damaged-zip error when the source's zip member fails its CRC check."""
    if source.member is None:
        return
    try:
        with zipfile.ZipFile(source.path) as zf, zf.open(source.member) as member:
            while member.read(1 << 24):
                pass
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise zip_error(source.path, exc) from None
