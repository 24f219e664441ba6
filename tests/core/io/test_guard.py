"""Output locks, the sweep of killed runs' temporaries, SIGTERM as a cancel (core/io/guard.py)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import pytest

from egms_plugin.core.errors import InputError
from egms_plugin.core.io.guard import OutputLocks, cancel_on_sigterm, lock_path, sweep_partials


def test_a_live_writer_lock_refuses_a_second_run_and_is_removed_after(tmp_path):
    out = str(tmp_path / "v.gpkg")
    with OutputLocks([("OUTPUT", out)]):
        assert open(lock_path(out)).read().split() == [str(os.getpid()), socket.gethostname()]
        busy = rf"OUTPUT: another run \(process {os.getpid()}\) is writing {out} now"
        with pytest.raises(InputError, match=busy), OutputLocks([("OUTPUT", out)]):
            pass
    assert os.listdir(tmp_path) == []


def test_a_dead_writers_lock_is_taken_over_and_its_temporaries_swept(tmp_path):
    out = tmp_path / "v.gpkg"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / ".v.gpkg.lock").write_text(f"{dead.stdout.strip()} {socket.gethostname()}\n")
    for name in (".v.gpkg.0123abcd.partial.gpkg", ".v.gpkg.0123abcd.partial.gpkg-journal", ".v.gpkg.89abcdef.partial"):
        (tmp_path / name).write_bytes(b"x")
    keep = (".w.gpkg.0123abcd.partial.gpkg", "v.gpkg.0123abcd.partial", ".v.gpkg.notahex.partial", "v.gpkg")
    for name in keep:
        (tmp_path / name).write_bytes(b"x")
    with OutputLocks([("OUTPUT", str(out))]):
        pass
    assert sorted(os.listdir(tmp_path)) == sorted(keep)


def test_another_hosts_lock_is_respected(tmp_path):
    out = tmp_path / "v.gpkg"
    (tmp_path / ".v.gpkg.lock").write_text("1 some-other-node\n")
    with pytest.raises(InputError, match="process 1 on some-other-node"), OutputLocks([("OUTPUT", str(out))]):
        pass


def test_sweep_removes_partial_folders(tmp_path):
    (tmp_path / ".ifg.0123abcd.partial").mkdir()
    (tmp_path / ".ifg.0123abcd.partial" / "a.tif").write_bytes(b"x")
    assert sweep_partials(tmp_path / "ifg") == [".ifg.0123abcd.partial"]
    assert os.listdir(tmp_path) == []


def test_sigterm_calls_cancel_once_and_the_previous_handler_comes_back():
    calls = []
    before = signal.getsignal(signal.SIGTERM)
    with cancel_on_sigterm(lambda: calls.append(1)):
        os.kill(os.getpid(), signal.SIGTERM)  # Python runs the handler before the next statement
        assert calls == [1]
    assert calls == [1]
    assert signal.getsignal(signal.SIGTERM) == before
