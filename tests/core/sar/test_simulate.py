"""The simulator: conventions of its phases, amplitude statistics, truth, determinism."""

import hashlib
import json
import os

import numpy as np
import pytest

from egms_plugin.core import conventions as cv
from egms_plugin.core.egms.stats import egms_statistics
from egms_plugin.core.errors import InputError
from egms_plugin.core.sar.simulate import SimulationParameters, read_truth, simulate_stack
from egms_plugin.core.sar.stack import StackFolder


def test_noise_free_phase_convention(tmp_path):
    """arg(s_ref·conj(s_k)) = −4π/λ·(d_k − d_ref + (B_k − B_ref)·Δh/(R sinθ)) at every scatterer."""
    p = SimulationParameters(rows=40, cols=50, n_dates=12, atmosphere_mm=0.0, noise_free=True,
                             ps_density=0.05, seed=3)
    simulate_stack(tmp_path / "s", p)
    stack = StackFolder(tmp_path / "s")
    truth = read_truth(tmp_path / "s")
    mask = truth["ps_mask"].astype(bool)
    slc = stack.read_block(0, 40)[:, mask]  # (dates, n_ps)
    dh = truth["height_error"][mask]
    disp = truth["displacement"][:, mask]
    ref = 0
    ifg_phase = np.angle(slc[ref] * np.conj(slc))
    apparent = disp - disp[ref] + cv.height_error_mm((stack.bperp - stack.bperp[ref])[:, None], dh,
                                                     p.slant_range_m, p.incidence_deg)
    expected = cv.mm_to_phase(apparent)
    wrapped = np.angle(np.exp(1j * (ifg_phase - expected)))
    assert np.abs(wrapped).max() < 2e-3  # float32 SLC storage
    # the height term is really there (non-trivial): up to ±20 m × 150 m baselines ≈ ±5 mm
    assert np.abs(cv.height_error_mm(stack.bperp[:, None] - stack.bperp[ref], dh, p.slant_range_m,
                                     p.incidence_deg)).max() > 2.0


def test_amplitude_dispersion_of_scatterers_and_clutter(small_stack):
    stack = StackFolder(small_stack)
    amp = np.abs(stack.read_block(*stack.shape and (0, stack.shape[0])))
    da = amp.std(axis=0) / amp.mean(axis=0)  # population std (ddof = 0)
    mask = read_truth(small_stack)["ps_mask"].astype(bool)
    assert np.percentile(da[mask], 95) < 0.22 and np.median(da[mask]) < 0.15
    # Rayleigh speckle: D_A = sqrt(4/π − 1) = 0.523; 30 samples bias the estimate slightly low
    assert np.median(da[~mask]) == pytest.approx(np.sqrt(4 / np.pi - 1), abs=0.03)
    assert np.mean(da[~mask] < 0.25) < 0.002


def test_stack_contract_written(small_stack):
    stack = StackFolder(small_stack)
    sim = json.load(open(os.path.join(small_stack, "truth", "simulation.json")))
    assert stack.date_strings == sim["dates"]
    assert stack.n_dates == 30 and stack.shape == (100, 120) and stack.dtype == "complex64"
    np.testing.assert_allclose(stack.bperp, sim["bperp"], atol=1e-3)
    assert np.abs(stack.bperp).max() <= 150
    assert stack.geometry.heading_deg == -10.0 and stack.geometry.orbit == "ascending"
    assert stack.geometry.los() == pytest.approx(tuple(sim["los_vector"]))
    assert stack.geocoded and stack.crs.to_epsg() == 32632
    steps = np.diff([d.toordinal() for d in stack.dates])
    assert set(steps) <= {6, 12, 24, 36} and {6, 12} <= set(steps)


def test_truth_velocity_is_egms_fit_of_truth_series(small_stack):
    truth = read_truth(small_stack)
    stack = StackFolder(small_stack)
    disp = truth["displacement"].reshape(stack.n_dates, -1).T.astype(np.float64)
    s = egms_statistics(disp, stack.dates)
    np.testing.assert_allclose(s["mean_velocity"], truth["velocity"].ravel(), atol=2e-4)
    v = truth["velocity"]
    assert v.min() < -10 and v.max() > 3  # bowl and uplift are there
    assert np.all(truth["displacement"][0] == 0)


def test_same_seed_same_files(tmp_path):
    p = SimulationParameters(rows=20, cols=24, n_dates=5, seed=11)
    simulate_stack(tmp_path / "a", p)
    simulate_stack(tmp_path / "b", SimulationParameters(rows=20, cols=24, n_dates=5, seed=11))
    simulate_stack(tmp_path / "c", SimulationParameters(rows=20, cols=24, n_dates=5, seed=12))

    def digest(folder, name):
        return hashlib.sha256(StackFolder(folder).read_block(0, 20).tobytes()).hexdigest() + name

    assert digest(tmp_path / "a", "") == digest(tmp_path / "b", "")
    assert digest(tmp_path / "a", "") != digest(tmp_path / "c", "")


def test_fast_patch_and_atmosphere(tmp_path):
    p = SimulationParameters(rows=60, cols=60, n_dates=6, fast_patch_velocity=600.0, atmosphere_mm=4.0)
    simulate_stack(tmp_path / "f", p)
    truth = read_truth(tmp_path / "f")
    background = SimulationParameters(rows=60, cols=60, n_dates=6, atmosphere_mm=4.0)
    simulate_stack(tmp_path / "g", background)
    v_bg = read_truth(tmp_path / "g")["velocity"][30, 30]
    # EGMS fit of a unit-rate series on days/365.25 gives 365/365.25
    assert truth["velocity"][30, 30] - v_bg == pytest.approx(600 * 365 / 365.25, rel=1e-5)
    import rasterio

    with rasterio.open(tmp_path / "f" / "truth" / "atmosphere.tif") as ds:
        atm = ds.read()
    assert atm[1].std() == pytest.approx(4.0, rel=1e-3)
    assert abs(np.corrcoef(atm[1].ravel(), atm[2].ravel())[0, 1]) < 0.5  # new draw every date
    # spatially correlated (power law): neighbours nearly equal, correlation falls with distance
    a = atm[1]
    near = np.corrcoef(a[:, :-1].ravel(), a[:, 1:].ravel())[0, 1]
    far = np.corrcoef(a[:, :-30].ravel(), a[:, 30:].ravel())[0, 1]
    assert near > 0.85 and far < near - 0.2


def test_rejects_bad_parameters_and_non_empty_folder(tmp_path):
    with pytest.raises(InputError, match="at least 3"):
        simulate_stack(tmp_path / "x", SimulationParameters(n_dates=2))
    with pytest.raises(InputError, match="YYYYMMDD"):
        simulate_stack(tmp_path / "x", SimulationParameters(start_date="2020-01-01"))
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match="not an empty folder"):
        simulate_stack(tmp_path / "full", SimulationParameters(rows=10, cols=10, n_dates=3))
    assert os.listdir(tmp_path / "full") == ["keep.txt"]
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")]  # no temporary folder left


def test_cancel_leaves_nothing(tmp_path):
    from egms_plugin.core.errors import Cancelled
    from egms_plugin.core.progress import Progress

    class StopAfter(Progress):
        calls = 0

        def is_cancelled(self):
            self.calls += 1
            return self.calls > 3

    with pytest.raises(Cancelled):
        simulate_stack(tmp_path / "c", SimulationParameters(rows=20, cols=20, n_dates=10), StopAfter())
    assert os.listdir(tmp_path) == []
