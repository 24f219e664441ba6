"""The first run of an algorithm with numba kernels says it compiles them; the next run does not (tour item)."""

from __future__ import annotations

from egms_plugin.core.sar.simulate import SimulationParameters, simulate_stack


def test_interferograms_say_they_compile_on_the_first_run_only(run_qgis_process, tmp_path, monkeypatch):
    stack = str(tmp_path / "stack")
    simulate_stack(stack, SimulationParameters(rows=40, cols=40, n_dates=5, seed=2))
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "numba-cache"))  # an empty cache: a fresh install
    texts = []
    for k in range(2):
        done = run_qgis_process("run", "egms:interferograms", "--", f"INPUT={stack}",
                                f"OUTPUT_FOLDER={tmp_path / f'ifg{k}'}")
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        texts.append(done.stdout)
    assert "Compiling the numerical kernels: first run only (" in texts[0]
    assert "Compiling" not in texts[1]
