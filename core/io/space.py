"""Free space: checked before a write whose size is known, and a full disk told plainly when it happens.

One place for the three ways a full disk shows itself — ``OSError`` ENOSPC/EDQUOT (Python's own writes,
``os.replace``), SQLite's ``database or disk is full`` (GeoPackage bulk inserts), GDAL's ``No space left
on device`` (GeoTIFF strips and tiles) — and for the message the user reads::

    /data/out/velocities.gpkg: the disk is full (120 MB needed, 3 MB free on /data/out); free some space
    or choose another location.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile

from ..errors import DiskFullError

_FULL_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_FULL_WORDS = ("database or disk is full", "no space left on device", "disk quota exceeded")


def _existing_folder(path):
    folder = os.path.abspath(os.fspath(path))
    while not os.path.isdir(folder) and os.path.dirname(folder) != folder:
        folder = os.path.dirname(folder)
    return folder


def free_bytes(path):
    """Bytes free for an unprivileged writer on the file system that holds ``path`` (or its nearest existing
    parent); None when the system cannot tell."""
    try:
        st = os.statvfs(_existing_folder(path))
        return st.f_bavail * st.f_frsize
    except (OSError, AttributeError):
        try:
            return shutil.disk_usage(_existing_folder(path)).free
        except OSError:
            return None


def _mb(n):
    return f"{n / 2**20:.0f} MB" if n >= 2**20 else f"{n / 2**20:.1f} MB"


def disk_full_error(path, needed=None):
    """The :class:`~..errors.DiskFullError` for ``path``, with the bytes ``needed`` when known and what is free."""
    free = free_bytes(path)
    parts = []
    if needed:
        parts.append(f"{_mb(needed)} needed")
    if free is not None:
        parts.append(f"{_mb(free)} free on {_existing_folder(path)}")
    detail = f" ({', '.join(parts)})" if parts else ""
    return DiskFullError(f"{path}: the disk is full{detail}; free some space or choose another location.")


def check_free_space(path, needed):
    """Raise :class:`~..errors.DiskFullError` before any work when fewer than ``needed`` bytes are free where
    ``path`` will be written.  ``needed`` must be a lower bound of the output's size, so that this never refuses
    an output that would have fitted."""
    free = free_bytes(path)
    if needed and free is not None and free < needed:
        raise disk_full_error(path, needed)


_PROBE_BYTES = 1 << 20


def probe_write(path):
    """Why a write beside ``path`` fails, asked of the operating system: the ``OSError`` of reserving 1 MiB
    in a scratch file of the same folder (ENOSPC on a full disk, EFBIG past a file-size limit), or None
    when that succeeds.  For writers whose own message lost the reason: libtiff 4.7 under GDAL 3.10 says
    only "Write error at scanline N" through the error handler."""
    folder = _existing_folder(os.path.dirname(os.path.abspath(os.fspath(path))))
    try:
        fd, scratch = tempfile.mkstemp(prefix=".egms-probe-", dir=folder)
    except OSError as exc:
        return exc
    try:
        try:
            os.posix_fallocate(fd, 0, _PROBE_BYTES)
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, getattr(errno, "ENOTSUP", errno.EOPNOTSUPP)):
                return exc
            os.write(fd, bytes(_PROBE_BYTES))
            os.fsync(fd)
        return None
    except OSError as exc:
        return exc
    finally:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.remove(scratch)


def is_disk_full(exc):
    """Whether ``exc`` (an OSError, SQLite's OperationalError, GDAL's RuntimeError …) says the disk is full."""
    if isinstance(exc, DiskFullError):
        return True
    if isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS:
        return True
    text = str(exc).lower()
    return any(word in text for word in _FULL_WORDS)
