"""The simulator's distributed-scatterer areas: the coherence model, the truth, nothing else changed."""

import json

import numpy as np
import pytest

from egms_plugin.core.errors import InputError
from egms_plugin.core.sar.simulate import SimulationParameters, read_truth, simulate_stack
from egms_plugin.core.sar.stack import StackFolder
from egms_plugin.testing.ds_reference import exponential_coherence

SMALL = dict(rows=60, cols=80, n_dates=30, seed=5, ps_density=0.02)


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    root = tmp_path_factory.mktemp("ds")
    simulate_stack(root / "off", SimulationParameters(**SMALL))
    info = simulate_stack(root / "on", SimulationParameters(**SMALL, ds_areas=2, ds_radius_m=300.0))
    return root / "off", root / "on", info


def test_ds_areas_change_only_their_pixels(pair):
    """The same seed with and without DS areas: SLCs equal outside the DS pixels, the same truth apart from
    the DS mask and the DS pixels' height errors (the DS draws have random streams of their own)."""
    off, on, info = pair
    a, b = StackFolder(off).read_block(0, 60), StackFolder(on).read_block(0, 60)
    t_off, t_on = read_truth(off), read_truth(on)
    ds = t_on["ds_mask"].astype(bool)
    assert "ds_mask" not in t_off and info["n_ds_pixels"] == ds.sum() > 300
    assert not (ds & t_on["ps_mask"].astype(bool)).any()
    assert np.array_equal(a[:, ~ds], b[:, ~ds]) and not np.array_equal(a[:, ds], b[:, ds])
    for name in ("velocity", "ps_mask", "displacement"):
        assert np.array_equal(t_off[name], t_on[name])
    assert np.array_equal(t_off["height_error"][~ds], t_on["height_error"][~ds], equal_nan=True)
    assert np.isfinite(t_on["height_error"][ds]).all()
    assert len(np.unique(t_on["height_error"][ds])) <= 2  # one height error per area
    sim = json.loads((on / "truth" / "simulation.json").read_text())
    assert sim["ds_areas"] == 2 and sim["n_ds_pixels"] == int(ds.sum())
    assert "ds_areas" not in json.loads((off / "truth" / "simulation.json").read_text())
    assert "Distributed scatterers" in (on / "truth" / "README.txt").read_text()


def test_ds_coherence_follows_the_model(tmp_path):
    """Stable ground, no atmosphere: the coherence of every date pair estimated over all the DS pixels
    (~5000 looks, standard error ≈ (1 − γ²)/√L ≈ 0.014) is the model γ∞ + (1 − γ∞)·exp(−Δt/τ) shrunk by
    the thermal noise (SNR 1.5²/0.1² → factor 0.9956), within 0.05."""
    p = SimulationParameters(rows=80, cols=80, n_dates=24, seed=2, ps_density=0.01, ds_areas=1, ds_radius_m=800.0,
                             deformation_scale=0.0, atmosphere_mm=0.0, height_error_max_m=0.0, ds_gamma_inf=0.3,
                             ds_tau_days=40.0)
    simulate_stack(tmp_path / "s", p)
    stack = StackFolder(tmp_path / "s")
    ds = read_truth(tmp_path / "s")["ds_mask"].astype(bool)
    z = stack.read_block(0, 80)[:, ds].astype(np.complex128)
    s = z @ z.conj().T
    pw = np.sqrt(np.diag(s).real)
    coh = np.abs(s / np.outer(pw, pw))
    days = np.array([(d - stack.dates[0]).days for d in stack.dates], dtype=float)
    model = exponential_coherence(days, 0.3, 40.0) / (1.0 + (0.1 / 1.5) ** 2)
    np.fill_diagonal(model, 1.0)
    assert np.abs(coh - model).max() < 0.05
    # brightness: DS amplitude 1.5 × the clutter's
    clutter = ~ds & ~read_truth(tmp_path / "s")["ps_mask"].astype(bool)
    amp = np.abs(stack.read_block(0, 80))
    assert np.sqrt((amp[:, ds] ** 2).mean() / (amp[:, clutter] ** 2).mean()) == pytest.approx(1.5, rel=0.05)


def test_bad_ds_parameters():
    with pytest.raises(InputError, match="γ∞"):
        SimulationParameters(ds_areas=1, ds_gamma_inf=1.5).validate()
    with pytest.raises(InputError, match="DS areas"):
        SimulationParameters(ds_areas=1, ds_tau_days=0.0).validate()
