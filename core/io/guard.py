"""One writer per output at a time, no temporaries outliving their run, and SIGTERM taken as a cancel.

* :class:`OutputLocks` — a lock file ``.NAME.lock`` beside every output of a run (created with O_EXCL, holding
  the writer's pid and host).  A second run writing the same output ends at once with a message instead of
  racing the first (two renames into place, a style saved into a file the other run just replaced).  A lock
  whose pid is dead (a run killed with SIGKILL, a crash) is taken over.
* :func:`sweep_partials` — with the lock held, the temporaries of :mod:`.atomic` left beside the output by a
  killed run (``.NAME.<hex>.partial…``) cannot belong to a live writer: they are removed.
* :func:`cancel_on_sigterm` — while a run lasts, SIGTERM (``kill``, a service stop, a CI timeout) asks it to
  stop as Ctrl-C does: the run ends at its next check, its partial outputs removed; a second SIGTERM ends the
  process at once.  Main thread only (signal handlers cannot be set elsewhere); elsewhere it does nothing.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import threading

from ..errors import InputError

_HELD = set()
_HELD_LOCK = threading.Lock()


def lock_path(path):
    folder, name = os.path.split(os.path.abspath(os.fspath(path)))
    return os.path.join(folder, f".{name}.lock")


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _owner(lock):
    """(pid, host) written in ``lock``, or None when unreadable."""
    try:
        with open(lock, encoding="utf-8") as fh:
            pid, _, host = fh.read().strip().partition(" ")
        return int(pid), host
    except (OSError, ValueError):
        return None


def _stale(lock):
    owner = _owner(lock)
    if owner is None:
        return True  # half-written by a writer killed between create and write
    pid, host = owner
    if host and host != socket.gethostname():
        return False  # another machine's run on a shared disk: cannot tell, so respect it
    if pid == os.getpid():
        with _HELD_LOCK:
            return lock not in _HELD
    return not _pid_alive(pid)


def _take(lock, name, path):
    for _attempt in range(3):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            if _stale(lock):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(lock)
                continue
            pid, host = _owner(lock) or (0, "")
            where = f" on {host}" if host and host != socket.gethostname() else ""
            raise InputError(f"{name}: another run (process {pid}{where}) is writing {path} now; wait for it to "
                             "finish or choose another output.") from None
        except OSError:
            return False  # a read-only or full place: the run's own checks say so plainly
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(f"{os.getpid()} {socket.gethostname()}\n")
        except OSError:
            with contextlib.suppress(OSError):
                os.remove(lock)
            return False
        with _HELD_LOCK:
            _HELD.add(lock)
        return True
    raise InputError(f"{name}: cannot lock {lock} (it keeps reappearing); another run may be starting.")


class OutputLocks:
    """Locks on the outputs ``[(name, path)]`` of one run, taken in path order (no deadlock between two runs)."""

    def __init__(self, outputs):
        self.outputs = sorted({(lock_path(p), n, os.path.abspath(p)) for n, p in outputs if p})
        self.held = []

    def __enter__(self):
        try:
            for lock, name, path in self.outputs:
                if os.path.isdir(os.path.dirname(lock)) and _take(lock, name, path):
                    self.held.append(lock)
                    sweep_partials(path)
        except BaseException:
            self.release()
            raise
        return self

    def release(self):
        for lock in reversed(self.held):
            with _HELD_LOCK:
                _HELD.discard(lock)
            with contextlib.suppress(OSError):
                os.remove(lock)
        self.held = []

    def __exit__(self, *exc):
        self.release()
        return False


def sweep_partials(path):
    """Remove what killed runs left beside ``path``: ``.NAME.<hex>.partial…`` files and folders and their SQLite
    sidecars.  Call only while holding the output's lock.  Returns the names removed."""
    folder, name = os.path.split(os.path.abspath(os.fspath(path)))
    pattern = re.compile(r"\." + re.escape(name) + r"\.[0-9a-f]{8}\.partial")
    removed = []
    try:
        entries = os.listdir(folder)
    except OSError:
        return removed
    for entry in entries:
        if pattern.match(entry):
            full = os.path.join(folder, entry)
            with contextlib.suppress(OSError):
                if os.path.isdir(full) and not os.path.islink(full):
                    shutil.rmtree(full)
                else:
                    os.remove(full)
                removed.append(entry)
    return removed


@contextlib.contextmanager
def cancel_on_sigterm(cancel):
    """While the block runs (main thread only), the first SIGTERM calls ``cancel()``; a second one ends the
    process with the default action.  The previous handler is restored after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    try:
        previous = signal.getsignal(signal.SIGTERM)
    except (ValueError, AttributeError):
        yield
        return
    seen = []

    def handler(signum, _frame):
        if seen:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        seen.append(signum)
        cancel()

    try:
        signal.signal(signal.SIGTERM, handler)
    except ValueError:
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
