"""Outputs that appear whole or not at all.

Every writer of the plugin writes under a temporary name beside the target and
renames it into place only when complete, so a failed or cancelled run leaves
nothing behind and an existing file is untouched until the new one is ready.
Temporary files get ordinary permissions (the umask), not ``mkstemp``'s private
ones, because products are shared with colleagues and servers.

>>> with replaced_on_success("/tmp/out.csv") as tmp:   # doctest: +SKIP
...     write_csv(tmp)
"""

from __future__ import annotations

import os
import shutil
import uuid
from contextlib import contextmanager

from ..errors import InputError

_SQLITE_SIDECARS = ("-wal", "-shm", "-journal")


def current_umask():
    """The process umask, read without changing it where the OS allows (threads may be writing)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def ordinary_permissions(path):
    """Give a file 0666 (a folder 0777) minus the umask."""
    os.chmod(path, (0o777 if os.path.isdir(path) else 0o666) & ~current_umask())


def _temporary_name(path, suffix=""):
    folder, name = os.path.split(os.path.abspath(os.fspath(path)))
    return os.path.join(folder, f".{name}.{uuid.uuid4().hex[:8]}.partial{suffix}")


def check_writable(path):
    """Create the parent folder of ``path`` if needed and make sure a file can be written there."""
    folder = os.path.dirname(os.path.abspath(os.fspath(path)))
    probe = _temporary_name(path, ".probe")
    try:
        os.makedirs(folder, exist_ok=True)
        open(probe, "wb").close()
        os.remove(probe)
    except OSError as exc:
        raise InputError(f"{path}: cannot write there ({exc.strerror or exc}).") from None


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    for p in (path, *(path + s for s in _SQLITE_SIDECARS)):
        if os.path.lexists(p) and not os.path.isdir(p):
            os.remove(p)


class PendingFile:
    """A temporary file beside ``path`` that replaces ``path`` on :meth:`commit` or vanishes on :meth:`discard`.

    For writers that live across calls (a GeoTIFF written block by block); otherwise use
    :func:`replaced_on_success`.
    """

    def __init__(self, path, suffix=""):
        self.path = os.path.abspath(os.fspath(path))
        check_writable(self.path)
        self.tmp = _temporary_name(self.path, suffix)

    def commit(self):
        for s in _SQLITE_SIDECARS:
            if os.path.exists(self.tmp + s):
                os.remove(self.tmp + s)
        ordinary_permissions(self.tmp)
        os.replace(self.tmp, self.path)
        return self.path

    def discard(self):
        _remove(self.tmp)


@contextmanager
def replaced_on_success(path, suffix=""):
    """Yield a temporary file path beside ``path``; it replaces ``path`` when the block succeeds.

    ``suffix`` is appended to the temporary name when a writer needs a known extension (".gpkg",
    ".tif").  On any exception (cancel included) the temporary file and its SQLite sidecars are removed.
    """
    pending = PendingFile(path, suffix)
    try:
        yield pending.tmp
        pending.commit()
    except BaseException:
        pending.discard()
        raise


@contextmanager
def folder_on_success(path, replace=None):
    """Yield a temporary folder beside ``path``; it becomes ``path`` when the block succeeds.

    ``path`` must not exist or be an empty folder — unless ``replace(path)`` returns True, in which
    case the old folder is removed just before the new one is moved into place.
    """
    path = os.path.abspath(os.fspath(path))
    if os.path.exists(path) and not (os.path.isdir(path) and (not os.listdir(path) or (replace and replace(path)))):
        raise InputError(f"{path}: exists and is not an empty folder; choose a new or empty output folder.")
    check_writable(path)
    work = _temporary_name(path)
    try:
        os.mkdir(work)
        yield work
        ordinary_permissions(work)
        if os.path.isdir(path):
            shutil.rmtree(path)
        os.rename(work, path)
    except BaseException:
        _remove(work)
        raise


class PendingSet:
    """Several outputs of one run written under temporary names and renamed into place together by :meth:`commit`
    (one short step after all of them are complete), or all discarded — never a new file next to the previous
    run's others.  ``paths``: ``{key: (path, suffix)}``; ``companions``: ``{key: (".qml", …)}`` — files QGIS
    keeps beside an output (``<name>.qml``): written beside the temporary (``splitext(tmp) + ext``), they move
    with it, and a previous run's companion that the new set lacks is removed (no stale style).

    >>> with PendingSet({"OUTPUT": ("/tmp/up.gpkg", ".gpkg")}) as outputs:   # doctest: +SKIP
    ...     write(outputs.tmp("OUTPUT"))
    ...     outputs.commit()
    """

    def __init__(self, paths, companions=None):
        self.files = {}
        self.companions = companions or {}
        try:
            for key, (path, suffix) in paths.items():
                self.files[key] = PendingFile(path, suffix)
        except BaseException:
            self.discard()
            raise

    def tmp(self, key):
        return self.files[key].tmp

    def path(self, key):
        return self.files[key].path

    def _companion_moves(self, key):
        pending = self.files[key]
        for ext in self.companions.get(key, ()):
            yield os.path.splitext(pending.tmp)[0] + ext, os.path.splitext(pending.path)[0] + ext

    def commit(self):
        for pending in self.files.values():  # everything checked before the first rename
            if not os.path.exists(pending.tmp):
                raise FileNotFoundError(pending.tmp)
            ordinary_permissions(pending.tmp)
        for key, pending in self.files.items():
            for new, final in self._companion_moves(key):
                if os.path.exists(new):
                    ordinary_permissions(new)
                    os.replace(new, final)
                elif os.path.exists(final):
                    os.remove(final)
            pending.commit()
        committed, self.files = self.files, {}
        return {key: pending.path for key, pending in committed.items()}

    def discard(self):
        for key, pending in self.files.items():
            for new, _final in self._companion_moves(key):
                if os.path.exists(new):
                    os.remove(new)
            pending.discard()
        self.files = {}

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *_):
        self.discard()  # after commit() nothing is left to discard
        return False
