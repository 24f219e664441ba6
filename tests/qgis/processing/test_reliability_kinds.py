"""The fault family of test_reliability_runs for the other two kinds of output (issue: nothing lost, nothing
corrupt — "for GeoPackage, GeoTIFF-folder and zip outputs"): an EGMS zip (exportegms) and a folder of GeoTIFFs
(interferograms), each through qgis_process under two writers at once, SIGTERM mid-write and SIGKILL mid-write
followed by a new run: the output is the previous one or the complete new one, no temporary or lock survives,
and no traceback is printed."""

from __future__ import annotations

import os
import signal
import zipfile

import pytest

from egms_plugin.core.sar.simulate import SimulationParameters, simulate_stack
from egms_plugin.testing.faults import leftovers

from .conftest import N_BIG, start, wait_for_partial

N_DATES = 24


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """A stack whose interferograms take seconds to write (23 single-reference pairs of 600 x 600)."""
    folder = str(tmp_path_factory.mktemp("kinds") / "stack")
    simulate_stack(folder, SimulationParameters(rows=600, cols=600, n_dates=N_DATES, seed=3))
    return folder


def _zip_rows(path):
    with zipfile.ZipFile(path) as z:
        name = next(n for n in z.namelist() if n.endswith(".csv"))
        with z.open(name) as f:
            return sum(1 for _ in f) - 1


KINDS = {
    # name: (algorithm, arguments(inputs, out), output name, complete(out) -> bool)
    "zip": ("egms:exportegms", lambda i, out: [f"INPUT={i['layer']}", f"OUTPUT={out}"], "e.zip",
            lambda out: _zip_rows(out) == N_BIG),
    "geotiff-folder": ("egms:interferograms", lambda i, out: [f"INPUT={i['stack']}", f"OUTPUT_FOLDER={out}",
                                                              "NETWORK=0"], "ifg",
                       lambda out: len([n for n in os.listdir(out) if n.endswith(".tif")]) == N_DATES - 1),
}


@pytest.fixture
def inputs(request, big_layer, tmp_path_factory):  # noqa: F811 - the imported fixture
    return {"layer": big_layer, "stack": request.getfixturevalue("stack")}


def _contents(path):
    """The bytes of a file, or of every file of a folder by name."""
    if path.is_dir():
        return {n: (path / n).read_bytes() for n in sorted(os.listdir(path))}
    return path.read_bytes()


def _clean(folder):
    return leftovers(folder) == [] and not [n for n in os.listdir(folder) if n.endswith(".lock")]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_two_writers_both_end_with_one_complete_result(tmp_path, inputs, kind):
    alg, args, name, complete = KINDS[kind]
    out = str(tmp_path / name)
    runs = [start(tmp_path / f"p{k}", alg, "--", *args(inputs, out)) for k in range(2)]
    texts = [p.communicate(timeout=600)[0] for p in runs]
    codes = [p.returncode for p in runs]
    assert 0 in codes, texts
    for code, text in zip(codes, texts):
        assert "Traceback" not in text, text[-2000:]
        if code:
            assert "another run (process" in text, text[-2000:]
    assert complete(out)
    assert _clean(tmp_path), os.listdir(tmp_path)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_sigterm_mid_write_keeps_the_previous_output(tmp_path, inputs, kind):
    alg, args, name, _complete = KINDS[kind]
    out = tmp_path / name
    if kind == "geotiff-folder":  # a previous run's folder (a folder of other files is refused up front)
        first = start(tmp_path / "p", alg, "--", *args(inputs, str(out)))
        assert first.wait(timeout=600) == 0
    else:
        out.write_bytes(b"the previous output")
    before = _contents(out)
    proc = start(tmp_path / "p", alg, "--", *args(inputs, str(out)))
    wait_for_partial(tmp_path, proc)
    os.kill(proc.pid, signal.SIGTERM)
    text = proc.communicate(timeout=120)[0]
    assert proc.returncode != 0 and "Cancelled" in text and "Traceback" not in text, text[-2000:]
    assert _contents(out) == before
    assert _clean(tmp_path), os.listdir(tmp_path)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_after_a_sigkill_mid_write_the_next_run_leaves_no_temporary(tmp_path, inputs, kind):
    alg, args, name, complete = KINDS[kind]
    out = str(tmp_path / name)
    proc = start(tmp_path / "p", alg, "--", *args(inputs, out))
    wait_for_partial(tmp_path, proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    assert leftovers(tmp_path), "the kill came too late to leave a temporary"
    again = start(tmp_path / "p", alg, "--", *args(inputs, out))
    text = again.communicate(timeout=600)[0]
    assert again.returncode == 0 and "Traceback" not in text, text[-2000:]
    assert complete(out)
    assert _clean(tmp_path), os.listdir(tmp_path)
