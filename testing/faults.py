"""Real faults for tests: a file-size limit (any user), a small tmpfs (root only), a process killed mid-write.

* :func:`run_limited` runs Python code in a child whose files cannot grow beyond a size (``RLIMIT_FSIZE``,
  SIGXFSZ ignored): every write past the limit fails with EFBIG inside GDAL, SQLite or Python — the
  same paths a full disk takes, without privileges.
* :func:`small_tmpfs` mounts a tmpfs of a given size (a real ENOSPC) when the tests run as root, and
  skips the test otherwise.
* :func:`leftovers` lists what a failed or killed run left beside its output (temporary names of
  :mod:`core.io.atomic`, SQLite sidecars).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_PRELUDE = """
import resource, signal, sys
sys.path.insert(0, {parent!r})
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
"""
_LIMIT = """
resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
"""


def run_limited(code, limit_bytes, warm="", timeout=300, env=None):
    """Run ``code`` (the plugin importable as ``egms_plugin``) in a child whose files may not grow beyond
    ``limit_bytes``; returns the CompletedProcess (text output).  ``warm`` runs first, without the limit
    (compiles the numba kernels, whose disk cache would otherwise hit the limit first)."""
    with tempfile.TemporaryDirectory() as tmp:
        link = os.path.join(tmp, "egms_plugin")
        os.symlink(ROOT, link)
        script = (_PRELUDE.format(parent=tmp) + textwrap.dedent(warm) + _LIMIT.format(limit=int(limit_bytes))
                  + textwrap.dedent(code))
        return subprocess.run([sys.executable, "-P", "-c", script], capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, **(env or {})}, check=False)


@contextlib.contextmanager
def small_tmpfs(size_bytes):
    """A tmpfs of ``size_bytes`` mounted on a fresh folder (yielded), unmounted after; skips unless root."""
    import pytest

    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    folder = tempfile.mkdtemp(prefix="egms-full-")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={int(size_bytes)}", "tmpfs", folder],
                          capture_output=True, text=True, check=False)
    if done.returncode:
        os.rmdir(folder)
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", folder], check=False)
        os.rmdir(folder)


def fill(folder, leave_bytes):
    """Fill the file system of ``folder`` until about ``leave_bytes`` remain free (a file ``filler``)."""
    st = os.statvfs(folder)
    free = st.f_bavail * st.f_frsize
    with open(os.path.join(folder, "filler"), "wb") as fh:
        fh.write(b"\0" * max(0, free - int(leave_bytes)))


def leftovers(folder):
    """Names in ``folder`` (recursively) that a complete run never leaves: temporaries and SQLite sidecars."""
    found = []
    for base, dirs, files in os.walk(folder):
        found.extend(os.path.relpath(os.path.join(base, name), folder) for name in dirs + files
                     if ".partial" in name or name.endswith(("-wal", "-shm", "-journal")) or name.startswith(".egms-"))
    return sorted(found)
