"""Interferograms from the phase-linked histories (core.psi.ds.linked, form_interferograms(phase_linking=…)):
equal to the ordinary ones on a noise-free stack, closer to the truth inside DS areas, clear bad-input messages."""

import os

import numpy as np
import pytest
import rasterio

from egms_plugin.core import conventions as cv
from egms_plugin.core.errors import InputError
from egms_plugin.core.psi.ds import find_shps, find_shps_at
from egms_plugin.core.psi.ds.linked import linked_interferograms
from egms_plugin.core.psi.ds.scan import DsParameters
from egms_plugin.core.sar.interferograms import form_interferograms, multilook_interferograms, read_pairs_csv
from egms_plugin.core.sar.simulate import SimulationParameters, read_truth, simulate_stack
from egms_plugin.core.sar.stack import StackFolder

# float32 bound of the comparison: the ordinary phase is within a few ulp(π) of arg Σ s_i·conj(s_k); the linked
# phases agree with the complex128 EMI reference to < 2e-5 rad (test_linking.py); measured here 4e-6 rad.
PHASE_TOL = 2e-5


def _noise_free_block(common_amplitude, n=30, rows=40, cols=44, seed=0):
    """Every pixel has the same phase history φ_k (no speckle phase, no noise): s_k = a_k(r, c)·e^{jφ_k}."""
    rng = np.random.default_rng(seed)
    phi = rng.uniform(-np.pi, np.pi, n)
    if common_amplitude:
        amp = np.broadcast_to(rng.uniform(0.5, 2.0, n)[:, None, None], (n, rows, cols))
    else:
        amp = np.abs(rng.standard_normal((n, rows, cols)) + 1j * rng.standard_normal((n, rows, cols)))
    return (amp * np.exp(1j * phi)[:, None, None]).astype(np.complex64)


@pytest.mark.parametrize("common_amplitude", [False, True])
@pytest.mark.parametrize("looks", [(2, 2), (1, 3), (3, 1)])
def test_noise_free_stack_gives_the_ordinary_interferograms(common_amplitude, looks):
    """Same phase history in every pixel: the linked-phase interferogram equals arg Σ s_i·conj(s_k) (same sign,
    same grid) within float32 precision; with the amplitudes common too, both coherences are 1."""
    slc = _noise_free_block(common_amplitude)
    n = slc.shape[0]
    pairs = np.array([(i, k) for i in range(n) for k in range(i + 1, min(n, i + 4))] + [(5, 2), (7, 7)])
    phase, coherence = multilook_interferograms(slc, pairs, *looks)
    lphase, lcoherence = linked_interferograms(slc, pairs, *looks, DsParameters())
    assert lphase.shape == phase.shape == lcoherence.shape
    assert np.abs(np.angle(np.exp(1j * (lphase - phase)))).max() < PHASE_TOL
    assert lphase.min() > -np.pi and lphase.max() <= np.pi
    assert np.all(lphase[-1] == 0)  # a self pair
    if common_amplitude:
        # float32 sums over up to 121 looks: within n·u ≈ 121 · 6e-8 ≈ 7e-6 (measured 2.3e-6)
        np.testing.assert_allclose(coherence, 1.0, atol=1e-5)
        np.testing.assert_allclose(lcoherence, 1.0, atol=1e-5)


def test_find_shps_at_equals_find_shps():
    rng = np.random.default_rng(4)
    amp = np.abs(rng.standard_normal((24, 20, 23)) + 1j * rng.standard_normal((24, 20, 23))).astype(np.float32)
    amp[:, 4:12, 6:15] *= 1.8
    amp[:, 0, 3] = 0.0  # no data
    masks, counts = find_shps(amp, 3, 4, 0.05)
    rr, cc = np.nonzero(np.ones(amp.shape[1:], bool))
    m, c = find_shps_at(amp, rr, cc, 3, 4, 0.05)
    assert np.array_equal(m, masks.reshape(-1, 7, 9)) and np.array_equal(c, counts.ravel())
    assert c[3] == 0


def _truth_phase(folder):
    """The simulator's LOS phase φ_k (rad) of every pixel: 4π/λ·(d_k + a_k + B⊥,k·Δh/(R sin θ))."""
    truth = read_truth(folder)
    p = truth["parameters"]
    with rasterio.open(os.path.join(folder, "truth", "atmosphere.tif")) as ds:
        atm = ds.read()
    factor = cv.height_error_factor_mm_per_m(np.asarray(p["bperp"]), p["slant_range_m"], p["incidence_deg"])
    mm = truth["displacement"] + atm + factor[:, None, None] * truth["height_error"][None]
    return cv.rad_per_mm(p["wavelength_m"]) * mm, truth


@pytest.fixture(scope="module")
def ds_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("linked")
    folder = str(root / "stack")
    # no atmosphere: its 20 m-scale turbulence would make the truth vary inside an 11 × 11 window
    simulate_stack(folder, SimulationParameters(rows=120, cols=120, n_dates=40, seed=5, ds_areas=2, ds_radius_m=500.0,
                                                ds_gamma_inf=0.3, ds_tau_days=45.0, atmosphere_mm=0.0))
    stack = StackFolder(folder)
    ordinary = form_interferograms(stack, str(root / "ordinary"), network="sequential", neighbours=3)
    linked = form_interferograms(stack, str(root / "linked"), network="sequential", neighbours=3,
                                 phase_linking=DsParameters(), block_mb=4.0)
    linked_ks = form_interferograms(stack, str(root / "linked_ks"), network="sequential", neighbours=3,
                                    phase_linking=DsParameters(test="ks"), block_mb=4.0)
    return folder, ordinary, linked, linked_ks


def test_linked_phases_are_closer_to_the_truth_inside_ds_areas(ds_runs):
    """120 × 120 px of 20 m, 40 dates, 2 DS areas of 500 m radius (γ∞ = 0.3, τ = 45 d), sequential network of 3
    neighbours (114 pairs), default looks 2 × 2 (40 m).  Circular phase RMSE against the truth φ_i − φ_k at the
    output pixels whose window centre is a DS pixel: measured 0.51 rad ordinary (4 looks), linked (EMI over up to
    121 SHPs) 0.35 rad with the GLRT's SHPs (the default), 0.32 rad with the KS test's.  Asserted for both: linked
    ≤ 0.4 rad and ≤ 0.75 × ordinary."""
    folder, ordinary, linked, linked_ks = ds_runs
    phi, truth = _truth_phase(folder)
    rows, cols = ordinary["shape"]
    rl, cl = ordinary["looks"]
    rc, cc = np.arange(rows) * rl + rl // 2, np.arange(cols) * cl + cl // 2
    inside = (truth["ds_mask"].astype(bool) & ~truth["ps_mask"].astype(bool))[np.ix_(rc, cc)]
    assert inside.sum() > 500
    errors = {"ordinary": [], "linked": [], "linked_ks": []}
    for (i, k), name in zip(ordinary["pairs"].tolist(), ordinary["files"]):
        true = (phi[i] - phi[k])[np.ix_(rc, cc)]
        for key, run in (("ordinary", ordinary), ("linked", linked), ("linked_ks", linked_ks)):
            with rasterio.open(os.path.join(run["folder"], name)) as ds:
                errors[key].append(np.angle(np.exp(1j * (ds.read(1) - true)))[inside])
    rmse = {key: float(np.sqrt(np.mean(np.concatenate(e) ** 2))) for key, e in errors.items()}
    print(rmse)
    for key in ("linked", "linked_ks"):
        assert rmse[key] <= 0.4
        assert rmse[key] <= 0.75 * rmse["ordinary"]


def test_linked_output_has_the_ordinary_files_grid_and_pairs(ds_runs):
    _folder, ordinary, linked, _linked_ks = ds_runs
    assert sorted(os.listdir(linked["folder"])) == sorted(os.listdir(ordinary["folder"]))
    assert linked["shape"] == ordinary["shape"] and linked["looks"] == ordinary["looks"]
    assert read_pairs_csv(os.path.join(linked["folder"], "pairs.csv")) == read_pairs_csv(
        os.path.join(ordinary["folder"], "pairs.csv"))
    assert linked["block_rows"] < 120  # several blocks with a halo (block_mb = 4)
    name = linked["files"][0]
    with rasterio.open(os.path.join(linked["folder"], name)) as a, \
            rasterio.open(os.path.join(ordinary["folder"], name)) as b:
        assert a.transform == b.transform and a.crs == b.crs and a.shape == b.shape
        assert "PHASE_LINKING" in a.tags() and "PHASE_LINKING" not in b.tags()
        coherence = a.read(2)
        assert coherence.min() >= 0.0 and coherence.max() <= 1.0


def test_blocks_with_a_halo_give_the_one_block_result(ds_runs, tmp_path):
    """Row blocks of 4 MB (with their halo of 5 rows) give the same values as the whole image in one block."""
    folder, _ordinary, linked, _linked_ks = ds_runs
    stack = StackFolder(folder)
    with stack:
        slc = stack.read_block(0, stack.shape[0])
    pairs = linked["pairs"][:5]
    phase, coherence = linked_interferograms(slc, pairs, *linked["looks"], DsParameters())
    for p, name in enumerate(linked["files"][:5]):
        with rasterio.open(os.path.join(linked["folder"], name)) as ds:
            np.testing.assert_array_equal(ds.read(1), phase[p])
            np.testing.assert_array_equal(ds.read(2), coherence[p])


@pytest.mark.parametrize("case, message", [
    ("few dates", "6 dates are too few for distributed scatterers"),
    ("small stack", "is smaller than the SHP window of 11 × 11"),
    ("even window", "expected odd sizes"),
    ("unknown test", "SHP test 'F': expected one of 'glrt', 'ks'"),
])
def test_bad_input_is_clear_and_writes_nothing(tmp_path, case, message):
    shape = dict(rows=8, cols=40, n_dates=20) if case == "small stack" else dict(rows=30, cols=30, n_dates=6)
    if case in ("even window", "unknown test"):
        shape["n_dates"] = 20
    simulate_stack(tmp_path / "s", SimulationParameters(seed=1, **shape))
    params = {"even window": DsParameters(window_rows=10), "unknown test": DsParameters(test="F")}.get(case,
                                                                                                     DsParameters())
    with pytest.raises(InputError, match=message):
        form_interferograms(str(tmp_path / "s"), str(tmp_path / "out"), row_looks=1, col_looks=1,
                            phase_linking=params)
    assert not (tmp_path / "out").exists()
